/**
 * Issue 17: what a look-up costs next to a staff scan, on the same service in the same run.
 * A look-up (POST /v1/services/resolve) verifies the code as a staff scan does, then in one
 * transaction marks the code used, reads the desk, the venue's policy, the consent and the
 * linked card, and appends one event; a staff scan (POST /v1/scans) verifies and appends one
 * event. Every request of both carries a fresh dynamic code of its own, since a look-up
 * refuses a code used before: the service runs with CODE_REFRESH_MARGIN_SECONDS equal to the
 * code's lifetime, so every GET /v1/residents/me/code issues a new one, and each round's codes
 * are fetched (untimed) right before it. Figures are medians of ROUNDS rounds, the three loads
 * interleaved, and every figure is read as a ratio to the staff scan's.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  applying,
  cannon,
  CONNECTIONS,
  cpuText,
  fetchingCodes,
  pause,
  people,
  residentId,
  ROUNDS,
  SessionPool,
  startSeededService,
  summarise,
  type AutocannonFigure,
  type Child,
  type HttpRoundsFigure,
  type Load,
  setupPost,
} from './http';
import { fmt, fmtRatio, heading, round, table } from './util';

const RESIDENTS = 1000;
/**
 * Requests per round of each load (about 3 s of staff scans on 2 cores); BENCH_LOOKUPS_REQUESTS
 * sets it (a quick look: 1000). Every request needs a code fetched before its round.
 */
const REQUESTS = Number(process.env.BENCH_LOOKUPS_REQUESTS ?? 10_000);
const WARMUP_REQUESTS = Math.min(1000, REQUESTS);
/** Codes live an hour and are reissued on every fetch: the bench's pools stay valid and never repeat. */
const CODE_ENV = { CODE_TTL_MINUTES: '60', CODE_REFRESH_MARGIN_SECONDS: '3600', RATE_RESOLVE_PER_TOKEN: '1000000' };

export interface LookupFigure extends HttpRoundsFigure {
  /** This load ÷ the staff scans: throughput, latencies and server CPU per request. */
  vsScan: { perSecond: number; p50: number; p99: number; serverCpu: number | null };
}

export interface LookupsBenchResult {
  setup: {
    connections: number;
    rounds: number;
    requestsPerRound: number;
    residents: number;
    serviceProcess: string;
    requests: Record<'scan' | 'identity' | 'registration', string>;
    /** 1-minute load averages before and after: other work on the machine shows here. */
    loadAverage: { before: number; after: number };
  };
  scans: HttpRoundsFigure;
  identity: LookupFigure;
  registration: LookupFigure;
  /** What each load's answers were: a scan's decision, a look-up's outcome, or the HTTP status. */
  outcomes: Record<'scan' | 'identity' | 'registration', Record<string, number>>;
}

/** A load of JSON POSTs, each taking the next code of the queue `codes()` holds; a request with none left is counted. */
function withFreshCodes(
  url: string,
  path: string,
  token: string,
  body: (code: string) => unknown,
  tally: Record<string, number>,
  outcome: (status: number, body: string) => string,
) {
  let queue: string[] = [];
  let short = 0;
  const load: Load = (opts) =>
    cannon({
      url,
      ...opts,
      requests: [
        {
          method: 'POST',
          path,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          setupRequest: (req) => {
            const code = queue.pop();
            if (code === undefined) short++;
            return { ...req, body: JSON.stringify(body(code ?? 'AK1:none')) };
          },
          onResponse: (status, text) => {
            const k = outcome(status, text);
            tally[k] = (tally[k] ?? 0) + 1;
          },
        },
      ],
    });
  return {
    fill: (codes: string[]) => {
      queue = codes;
    },
    run: async (amount: number): Promise<AutocannonFigure> => {
      const r = await load({ amount });
      if (short) throw new Error(`${path}: ${short} requests went without a fresh code; fetch more before each round`);
      return r;
    },
  };
}

export async function benchLookups(): Promise<LookupsBenchResult> {
  if (!Number.isSafeInteger(REQUESTS) || REQUESTS < 100)
    throw new Error('BENCH_LOOKUPS_REQUESTS takes a whole number of at least 100');
  const dir = mkdtempSync(join(tmpdir(), 'ankang-bench-lookups-'));
  const loadBefore = round(loadavg()[0], 2);
  let service: Child | undefined;
  try {
    const adminToken = `ak_admin_bench_${randomBytes(16).toString('hex')}`;
    const first = 60_000_000;
    const seeded = await startSeededService(join(dir, 'service'), people(first, RESIDENTS), {
      ADMIN_TOKEN: adminToken,
      ...CODE_ENV,
    });
    service = seeded.service;
    const url = service.url;
    const post = setupPost(url);
    const mint = async (body: unknown) => (await post('/v1/admin/tokens', adminToken, body)).token as string;
    const operator = await mint({ role: 'operator', name: 'bench hospital gate' });
    const health = await mint({ role: 'feed', name: 'bench health commission', source: 'health' });
    const hall = await mint({ role: 'feed', name: 'bench government services', source: 'government-services' });
    // One venue for all three: the same admission policy decides every request.
    const venueId = (
      await post('/v1/venues', operator, {
        type: 'public-service',
        subtype: 'hospital',
        name: '安徽省立医院门诊楼',
        district: '340103',
      })
    ).id as string;
    const registrationDesk = (await post('/v1/desks', health, { kind: 'hospital-desk', name: '门诊挂号窗口', venueId }))
      .token as string;
    const identityDesk = (await post('/v1/desks', hall, { kind: 'service-hall', name: '综合受理窗口', venueId }))
      .token as string;

    // Residents apply with seeded sessions, and the health commission links each one's e-health card.
    const tokens: string[] = [];
    await applying(
      url,
      '/v1/residents',
      new SessionPool(seeded.tokens, first, "the look-up bench's applications"),
      (token) => tokens.push(token),
    )({ amount: RESIDENTS });
    if (tokens.length < RESIDENTS * 0.99) throw new Error(`only ${tokens.length} of ${RESIDENTS} residents applied`);
    const numberOf = new Map(seeded.tokens.map((t, k) => [t, first + k]));
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < tokens.length) {
          const n = numberOf.get(tokens[next++])!;
          await post('/v1/links', health, {
            kind: 'health-card',
            idType: 'resident-id',
            idNumber: residentId(n),
            ref: `EHC34${String(n).padStart(24, '0')}`,
          });
        }
      }),
    );

    const fresh = async (count: number) => {
      const codes: string[] = [];
      await fetchingCodes(url, 'dynamic', tokens, (status, body) => {
        const m = status === 200 ? /"code":"(AK1:[^"]+)"/.exec(body) : null;
        if (m) codes.push(m[1]);
      })({ amount: count });
      if (new Set(codes).size !== codes.length)
        throw new Error(
          'GET /me/code handed out a code twice: the service did not reissue on every fetch (CODE_REFRESH_MARGIN_SECONDS)',
        );
      return codes;
    };

    const outcomes = {
      scan: {} as Record<string, number>,
      identity: {} as Record<string, number>,
      registration: {} as Record<string, number>,
    };
    const errorCode = (status: number, text: string) => /"code":"([A-Z_]+)"/.exec(text)?.[1] ?? `http-${status}`;
    const scanOutcome = (status: number, text: string) =>
      status === 201 ? (/"decision":"(\w+)"/.exec(text)?.[1] ?? 'unknown') : errorCode(status, text);
    const lookupOutcome = (status: number, text: string) =>
      status === 200 ? (/"outcome":"(\w+)"/.exec(text)?.[1] ?? 'unknown') : errorCode(status, text);
    const loads = {
      scan: withFreshCodes(
        url,
        '/v1/scans',
        operator,
        (code) => ({ venueId, code, temperatureC: 36.5 }),
        outcomes.scan,
        scanOutcome,
      ),
      identity: withFreshCodes(
        url,
        '/v1/services/resolve',
        identityDesk,
        (code) => ({ code, purpose: 'identity' }),
        outcomes.identity,
        lookupOutcome,
      ),
      registration: withFreshCodes(
        url,
        '/v1/services/resolve',
        registrationDesk,
        (code) => ({ code, purpose: 'registration' }),
        outcomes.registration,
        lookupOutcome,
      ),
    };
    const names = ['scan', 'identity', 'registration'] as const;
    // autocannon may set up a request per connection beyond `amount`: fetch a few more than it sends.
    const run = async (name: (typeof names)[number], amount: number) => {
      loads[name].fill(await fresh(amount + 2 * CONNECTIONS));
      await pause(500);
      return loads[name].run(amount);
    };
    for (const name of names) await run(name, WARMUP_REQUESTS);
    for (const o of Object.values(outcomes)) for (const k of Object.keys(o)) delete o[k];
    const rounds: Record<(typeof names)[number], AutocannonFigure[]> = { scan: [], identity: [], registration: [] };
    for (let r = 0; r < ROUNDS; r++) {
      for (let k = 0; k < names.length; k++) {
        const name = names[(r + k) % names.length];
        rounds[name].push(await run(name, REQUESTS));
      }
    }

    const scans = summarise(rounds.scan);
    const vs = (f: HttpRoundsFigure): LookupFigure => ({
      ...f,
      vsScan: {
        perSecond: round(f.perSecond / scans.perSecond, 3),
        p50: round(f.p50ms / scans.p50ms, 3),
        p99: round(f.p99ms / scans.p99ms, 3),
        serverCpu:
          f.serverCpuUsPerRequest !== undefined && scans.serverCpuUsPerRequest
            ? round(f.serverCpuUsPerRequest / scans.serverCpuUsPerRequest, 3)
            : null,
      },
    });
    const result: LookupsBenchResult = {
      setup: {
        connections: CONNECTIONS,
        rounds: ROUNDS,
        requestsPerRound: REQUESTS,
        residents: tokens.length,
        serviceProcess: 'node --import tsx server/main.ts (child)',
        requests: {
          scan: 'POST /v1/scans { venueId, code, temperatureC } with an operator token',
          identity: "POST /v1/services/resolve { code, purpose: 'identity' } with a service-hall desk token",
          registration:
            "POST /v1/services/resolve { code, purpose: 'registration' } with a hospital-desk token (every resident has a health card)",
        },
        loadAverage: { before: loadBefore, after: round(loadavg()[0], 2) },
      },
      scans,
      identity: vs(summarise(rounds.identity)),
      registration: vs(summarise(rounds.registration)),
      outcomes,
    };
    printLookups(result);
    return result;
  } finally {
    await service?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function printLookups(r: LookupsBenchResult): void {
  const roundsText = (f: HttpRoundsFigure) => f.rounds.map((x) => fmt(x.perSecond)).join(' / ');
  const failed = (f: HttpRoundsFigure) => f.rounds.reduce((n, x) => n + x.non2xx + x.errors + x.timeouts, 0);
  const note = (f: HttpRoundsFigure, what: string) => `${failed(f) ? `${fmt(failed(f))} not 2xx` : 'all 2xx'}; ${what}`;
  const cpuRatio = (x: number | null) => (x === null ? 'n/a' : fmtRatio(x));
  const row = (what: string, f: HttpRoundsFigure, v: LookupFigure['vsScan'] | undefined, n: string) => [
    what,
    fmt(f.perSecond),
    v ? fmtRatio(v.perSecond) : '1.00',
    fmt(f.p50ms),
    v ? fmtRatio(v.p50) : '1.00',
    fmt(f.p99ms),
    v ? fmtRatio(v.p99) : '1.00',
    cpuText(f),
    v ? cpuRatio(v.serverCpu) : '1.00',
    roundsText(f),
    n,
  ];
  console.log(heading('lookups (issue 17): a desk look-up next to a staff scan, the same service in the same run'));
  console.log(
    `The service in a child process, autocannon in this one, loopback; ${fmt(r.setup.residents)} residents, every request with a fresh dynamic code of its own (fetched, untimed, before each round); ` +
      `${fmt(r.setup.requestsPerRound)} requests per round at ${r.setup.connections} connections, median of ${r.setup.rounds} rounds, the three loads interleaved.`,
  );
  console.log(
    table(
      [
        'what',
        'per second',
        '÷ scan',
        'p50 ms',
        '÷ scan',
        'p99 ms',
        '÷ scan',
        'server CPU µs/req',
        '÷ scan',
        'rounds',
        'note',
      ],
      [
        row('staff scan: POST /v1/scans', r.scans, undefined, note(r.scans, 'verify + one event')),
        row(
          'look-up, identity: POST /v1/services/resolve',
          r.identity,
          r.identity.vsScan,
          note(r.identity, 'verify + code marked used + policy + consent + name and ID opened + one event'),
        ),
        row(
          'look-up, registration: POST /v1/services/resolve',
          r.registration,
          r.registration.vsScan,
          note(r.registration, 'as identity, with the health card reference opened instead'),
        ),
      ],
    ),
  );
  const cpu = (what: string, f: LookupFigure) =>
    f.vsScan.serverCpu === null ? '' : `${what} ${cpuText(f)} µs (${fmtRatio(f.vsScan.serverCpu)}×)`;
  const cpuLine = [cpu('identity', r.identity), cpu('registration', r.registration)].filter(Boolean).join(', ');
  if (cpuLine)
    console.log(
      `Server CPU per request (all threads: HTTP, crypto, LevelDB, GC): staff scan ${cpuText(r.scans)} µs; look-up ${cpuLine}.`,
    );
  const outcome = (o: Record<string, number>) =>
    Object.entries(o)
      .map(([k, v]) => `${k} ${fmt(v)}`)
      .join(', ');
  console.log(
    `Answers: scans ${outcome(r.outcomes.scan)}; identity ${outcome(r.outcomes.identity)}; registration ${outcome(r.outcomes.registration)}`,
  );
  console.log(
    `Load average (1 min) before ${r.setup.loadAverage.before}, after ${r.setup.loadAverage.after}: anything else running skews these figures.`,
  );
}
