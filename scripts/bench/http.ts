import { randomBytes } from 'node:crypto';
import { closeSync, cpSync, fdatasyncSync, mkdtempSync, openSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServiceProcess, type ServiceProcess } from '../lib/service-process';
import { signIn } from '../lib/sign-in';
import autocannon from 'autocannon';
import { createQr } from '../../verifier/src/qr';
import { signCode, toBeSigned, type ResidentClaims } from '../../verifier/src';
import { outboxFile, startService } from '../../server/bootstrap';
import { configSchema } from '../../server/config';
import { gb11643CheckChar } from '../../server/domain/identity';
import type { VerifiedIdentity } from '../../server/identity/sessions';
import {
  applySchema,
  checkApplication,
  type FullApplication,
  type ResidentRecord,
} from '../../server/services/residents';
import { seedFloorSessions } from './floor-sessions';
import { seedSessions } from './sessions';
import {
  cpuSplit,
  medianSplit,
  printWorkers,
  rolesCpu,
  serviceTotal,
  rolesOf,
  workersFigure,
  WORKER_COUNTS,
  type CpuSplit,
  type ServiceRoles,
  type WorkersFigure,
  type WorkersRow,
} from './workers';
import {
  aim,
  figure,
  fmt,
  fmtRatio,
  heading,
  interleavedRounds,
  median,
  percentile,
  procStat,
  rateAsync,
  rateConcurrent,
  rateSync,
  round,
  table,
  type RateFigure,
} from './util';

export const CONNECTIONS = 64;
const DURATION_S = 10;
const WARMUP_S = 3;
export const ROUNDS = 3;
/** Upper bound on signing requests per refresh round, so a fast machine does not run long. */
const REFRESH_MAX_PER_ROUND = 20_000;
const SIGN_ROUND_MS = 1000;
const IN_PROCESS_RESIDENTS = 256;
const APPS_RATIO_AIM = 0.25;
/** Issue 18: applications at this share of their floor's rate. */
const APPS_OF_FLOOR_AIM = 0.7;
const APPS_ABSOLUTE_AIM = 2000;
/**
 * Applications per second that the seeded sessions last for over the warm-up and the
 * rounds: 2.5 times the ~2,000/s the service reached before sessions, so 165,000 sessions.
 * A faster run fails naming the count (`SessionPool`); raise this then.
 */
const APPS_PER_SECOND_BOUND = 5000;
const APPLY_SESSIONS = APPS_PER_SECOND_BOUND * (WARMUP_S + ROUNDS * DURATION_S);
/** Sign-ins in flight at once, each a person's first (so with a sign-up), for one DURATION_S run. */
const SIGN_IN_CONCURRENCY = 16;

// Districts of Hefei (GB/T 2260); an ID's first six digits and the declared residence.
const DISTRICTS = ['340102', '340103', '340104', '340111'];
const NAMES = ['张三明', '李晓红', '王伟', '陈静怡', '刘洋', '赵志强', '黄丽娟', '周杰', '吴敏', '徐建国'];
const BIRTH_EPOCH = Date.UTC(1960, 0, 1);

export interface AutocannonFigure {
  /** 2xx responses per second of the run. */
  perSecond: number;
  /** CPU time (user + system, all threads) the server process spent per response; undefined off Linux. */
  serverCpuUsPerRequest: number | undefined;
  /** CPU time this process (autocannon, the load generator) spent per response. */
  clientCpuUsPerRequest: number;
  p50ms: number;
  p99ms: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  seconds: number;
  /** CPU µs per response of each of the server's processes (supervisor, writer, workers) and of the load generator. */
  cpuSplit?: CpuSplit;
}

export interface HttpRoundsFigure {
  perSecond: number;
  p50ms: number;
  p99ms: number;
  /** Median of the rounds' server CPU µs per request. */
  serverCpuUsPerRequest: number | undefined;
  /** Median of the rounds' load-generator CPU µs per request. */
  clientCpuUsPerRequest: number;
  /** Median of the rounds' CPU split per process. */
  cpuSplit?: CpuSplit;
  rounds: AutocannonFigure[];
}

/** Complete sign-ins through the embedded provider, one run of SIGN_IN_CONCURRENCY at a time (`benchSignIns`). */
export interface SignInsFigure extends HttpRoundsFigure {
  concurrency: number;
  /** The first failed sign-in's error, when any failed. */
  firstError: string | undefined;
}

export interface HttpBenchResult {
  setup: {
    connections: number;
    durationSeconds: number;
    rounds: number;
    serviceProcess: string;
    baselineProcess: string;
    floorProcess: string;
    floorSpreadProcess: string;
    dataDir: string;
    /** Sessions seeded into the service's DATA_DIR (and how many the application rounds used), and into the floors' folder. */
    seededSessions: { service: number; usedByApplications: number; floors: number };
    /** 1-minute load averages before and after: other work on the machine shows here. */
    loadAverage: { before: number; after: number };
  };
  applications: HttpRoundsFigure;
  baseline: HttpRoundsFigure;
  ratio: number;
  /** scripts/bench/floor.ts: only an application's unavoidable work; bounds any design here. */
  floor: FloorFigure;
  /**
   * The same floor as one process per core with nothing shared between them (FLOOR_WORKERS):
   * what any design that spreads applications over processes could reach at most.
   */
  floorSpread: HttpRoundsFigure & { ratio: number; processes: number };
  /** The floor with its record written as one event of the service's ledger (FLOOR_LEDGER=1): the audit trail's share. */
  ledgerFloor: LedgerFloorFigure;
  /** The ledger floor plus the least of what the project's rules ask of an application (FLOOR_REQUIRED=1). */
  requiredFloor: LedgerFloorFigure;
  /** The service's applications over each floor's, by rate and by server CPU per request; all from the same run. */
  ofFloor: ServiceOfFloor;
  /** The same applications against the service with WORKERS=0, 1 and 2, interleaved with the rest; the CPU split per process. */
  workers: WorkersFigure;
  aims: { ratioAtLeast: number; ratioMet: boolean; appsPerSecondAtLeast: number; appsPerSecondMet: boolean };
  signing: {
    rawSign: RateFigure;
    signCode: RateFigure & { ratio: number };
    ensureCodeSequential: RateFigure;
    ensureCodeConcurrent: RateFigure & { inFlight: number };
    fsyncPerSecond: number;
  };
  refreshOverHttp: HttpRoundsFigure & { requestsPerRound: number };
  currentCodeOverHttp: HttpRoundsFigure;
  /** The same fetches against each WORKERS service (in the order of WORKER_COUNTS), interleaved; the CPU split per process. */
  currentCodeWorkers: Array<{ workers: number; perSecond: number; p99ms: number; split: CpuSplit | undefined }>;
  signIns: SignInsFigure;
  issuedCode: { chars: number; qrVersion: number } | undefined;
}

/** The n-th distinct valid resident ID: district, birth date, sequence, GB 11643 check char. */
export function residentId(n: number): string {
  const district = DISTRICTS[n % DISTRICTS.length];
  const k = Math.floor(n / DISTRICTS.length);
  const birth = new Date(BIRTH_EPOCH + Math.floor(k / 1000) * 86_400_000).toISOString().slice(0, 10).replace(/-/g, '');
  const first17 = `${district}${birth}${String(k % 1000).padStart(3, '0')}`;
  return first17 + gb11643CheckChar(first17);
}

function identityOf(n: number): VerifiedIdentity {
  return { idType: 'resident-id', idNumber: residentId(n), name: NAMES[n % NAMES.length] };
}

/** `count` residents from the n-th on. */
export const people = (first: number, count: number) => Array.from({ length: count }, (_, i) => identityOf(first + i));

/** Distinct for 10,000 consecutive n even masked (first three and last four digits), as sign-in codes are matched. */
const phoneOf = (n: number) => `139${String(n % 1e8).padStart(8, '0')}`;

/** What the n-th resident sends: who applies comes from the session, not the body. */
function applicationBody(n: number) {
  return {
    phone: phoneOf(n),
    district: DISTRICTS[n % DISTRICTS.length],
    declaration: { temperatureC: 36.2 + (n % 5) / 10, symptoms: [], visited: [], contactWithCase: false },
  };
}

export type Child = ServiceProcess;

/**
 * The service child's settings in every bench, and the settings sessions are seeded with.
 * All the load comes from one address, which the per-address abuse limits (the service's and
 * its embedded provider's) would cut to a trickle: they are raised so that they never refuse
 * the bench, and the limiter still runs on every request. Per-resident limits keep their
 * defaults, since every session applies once and every sign-in is a new phone. Access tokens
 * last a day, so that none expires on a slow machine during the run: an app would refresh
 * it, which is not what these benches measure.
 */
export const BENCH_ENV = {
  PORT: '0',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'silent',
  RATE_APPLY_PER_ADDRESS: '1000000',
  RATE_SIGNIN_PER_ADDRESS: '1000000',
  IDP_SENDS_PER_ADDRESS: '1000000',
  IDP_CHECKS_PER_ADDRESS: '1000000',
  IDP_SIGNUPS_PER_ADDRESS: '1000000',
  SESSION_ACCESS_MINUTES: '1440',
};

/** The child processes by URL, so a load run can read the CPU time of the server it loads. */
const children = new Map<string, Child>();
/** Which of a child's processes is which (a WORKERS service: supervisor, writer, workers), by URL. */
const roles = new Map<string, ServiceRoles>();

/** Starts `entry` under tsx in its own process and waits for its `{"msg":"listening"}` line. */
export async function startChild(entry: string, env: Record<string, string>): Promise<Child> {
  const started = await startServiceProcess(env, entry);
  // A child that dies mid-run would only show as refused connections: say so, with what it said last.
  let stderr = '';
  started.child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  let stopping = false;
  void started.exited.then(({ code, signal }) => {
    if (!stopping) console.error(`\n${entry} (${started.url}) exited during the bench (${signal ?? code}): ${stderr}`);
  });
  const child: Child = {
    ...started,
    stop: (signal) => {
      stopping = true;
      return started.stop(signal);
    },
  };
  children.set(child.url, child);
  if (child.child.pid !== undefined) roles.set(child.url, rolesOf(child.child.pid, child));
  return child;
}

/**
 * Seeds a session for each of `residents` into a new DATA_DIR (`seedSessions`: what a real
 * sign-in leaves behind), then starts the service on it. Returns the sessions' access tokens
 * in the order of `residents`.
 */
export async function startSeededService(
  dataDir: string,
  residents: VerifiedIdentity[],
  env: Record<string, string> = {},
  entry = 'server/main.ts',
): Promise<{ service: Child; tokens: string[]; outbox: string }> {
  const settings = { ...BENCH_ENV, ...env, DATA_DIR: dataDir };
  const config = configSchema.parse(settings);
  const tokens = await seedSessions(config, residents);
  return { service: await startChild(entry, settings), tokens, outbox: outboxFile(config) };
}

/**
 * Seeded sessions handed out one per request, as phones that each signed in once would
 * send them. A load that asks for more than there are sends the rest without one, and
 * `check` then fails the bench naming how many there were; with `cycle`, the pool starts
 * over instead.
 */
export class SessionPool {
  private next = 0;
  private short = 0;

  constructor(
    private readonly tokens: string[],
    /** The resident the first token belongs to (`identityOf`). */
    private readonly first: number,
    private readonly what: string,
    private readonly opts: { cycle?: boolean } = {},
  ) {}

  /** Sessions handed out so far. */
  get used(): number {
    return this.next - this.short;
  }

  take(): { token: string; n: number } | undefined {
    const k = this.opts.cycle ? this.next++ % this.tokens.length : this.next++;
    if (k < this.tokens.length) return { token: this.tokens[k], n: this.first + k };
    this.short++;
    return undefined;
  }

  check(): void {
    if (this.short > 0)
      throw new Error(
        `${this.what} used up all ${fmt(this.tokens.length)} seeded sessions (${fmt(this.short)} more requests went without one): the service is faster than the seeding allowed for; raise the count`,
      );
  }
}

/**
 * User + system CPU seconds used by a process and all its live descendants (a server that
 * forks workers counts as a whole); undefined off Linux.
 */
function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  const root = procStat(pid);
  if (!root) return undefined;
  const stats = new Map<number, { ppid: number; seconds: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = procStat(Number(name));
    if (s) stats.set(Number(name), s);
  }
  const inTree = (p: number): boolean => {
    for (let cur = p, hops = 0; cur > 1 && hops < 64; cur = stats.get(cur)?.ppid ?? 0, hops++)
      if (cur === pid) return true;
    return false;
  };
  let total = 0;
  for (const [p, s] of stats) if (p !== pid && inTree(p)) total += s.seconds;
  return root.seconds + total;
}

/** Runs autocannon against one of the child servers, also measuring the CPU time that server spent. */
export async function cannon(opts: autocannon.Options): Promise<AutocannonFigure> {
  const server = children.get(String(opts.url));
  const serverRoles = roles.get(String(opts.url));
  const cpuBefore = cpuSeconds(server?.child.pid);
  const rolesBefore = serverRoles && rolesCpu(serverRoles);
  const clientBefore = process.cpuUsage();
  // A run of a set number of requests ends only at autocannon's next one-second tick, and its
  // duration counts whole seconds: the rate is timed from the start to the last response.
  const started = performance.now();
  let lastResponse = started;
  const r = await new Promise<autocannon.Result>((resolve, reject) => {
    const run = autocannon({ connections: CONNECTIONS, pipelining: 1, timeout: 30, ...opts }, (err, result) =>
      err ? reject(err) : resolve(result),
    );
    run.on('response', () => (lastResponse = performance.now()));
  });
  const seconds = (lastResponse - started) / 1000;
  const client = process.cpuUsage(clientBefore);
  const rolesAfter = serverRoles && rolesCpu(serverRoles);
  const cpuAfter = cpuSeconds(server?.child.pid);
  const served = r['2xx'] + r.non2xx;
  const split =
    rolesBefore && rolesAfter
      ? cpuSplit(
          rolesBefore,
          rolesAfter,
          cpuBefore !== undefined && cpuAfter !== undefined ? cpuAfter - cpuBefore : undefined,
          client.user + client.system,
          served,
        )
      : undefined;
  return {
    serverCpuUsPerRequest:
      cpuBefore !== undefined && cpuAfter !== undefined && served > 0
        ? round(((cpuAfter - cpuBefore) * 1e6) / served)
        : undefined,
    clientCpuUsPerRequest: served > 0 ? round((client.user + client.system) / served) : 0,
    perSecond: seconds > 0 ? round(r['2xx'] / seconds) : 0,
    p50ms: r.latency.p50,
    p99ms: r.latency.p99,
    ok: r['2xx'],
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    seconds: round(seconds, 2),
    ...(split ? { cpuSplit: split } : {}),
  };
}

export function summarise(rounds: AutocannonFigure[]): HttpRoundsFigure {
  const cpu = rounds.map((r) => r.serverCpuUsPerRequest).filter((x): x is number => x !== undefined);
  return {
    perSecond: round(median(rounds.map((r) => r.perSecond))),
    p50ms: median(rounds.map((r) => r.p50ms)),
    p99ms: median(rounds.map((r) => r.p99ms)),
    serverCpuUsPerRequest: cpu.length === rounds.length ? round(median(cpu)) : undefined,
    clientCpuUsPerRequest: round(median(rounds.map((r) => r.clientCpuUsPerRequest))),
    cpuSplit: medianSplit(rounds.map((r) => r.cpuSplit)),
    rounds,
  };
}

export const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type Load = (opts: { duration?: number; amount?: number; connections?: number }) => Promise<AutocannonFigure>;

/** One JSON POST with a bearer token, for a bench's setup; a non-2xx answer throws, naming the path. */
export type SetupPost = (path: string, token: string, body: unknown) => Promise<Record<string, any>>;

export function setupPost(url: string): SetupPost {
  return async (path, token, body) => {
    const res = await fetch(url + path, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, any>;
    if (res.status >= 300) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
}

/** The scan benches' gate: an operator token and the mall it registered. */
export async function benchGate(post: SetupPost, adminToken: string): Promise<{ operator: string; venueId: string }> {
  const operator = (await post('/v1/admin/tokens', adminToken, { role: 'operator', name: 'bench gate' }))
    .token as string;
  const venue = await post('/v1/venues', operator, {
    type: 'crowded-place',
    subtype: 'mall',
    name: '淮河路步行街百货大楼',
    district: '340103',
  });
  return { operator, venueId: venue.id as string };
}

/** A load of JSON POSTs to `url + path`, the i-th request carrying `body(i)`. */
export function posting(
  url: string,
  path: string,
  body: (i: number) => string,
  extra: { headers?: Record<string, string>; onResponse?: (status: number, body: string) => void } = {},
): Load {
  let i = 0;
  return (opts) =>
    cannon({
      url,
      ...opts,
      requests: [
        {
          method: 'POST',
          path,
          headers: { 'content-type': 'application/json', ...extra.headers },
          setupRequest: (req) => ({ ...req, body: body(i++) }),
          ...(extra.onResponse ? { onResponse: extra.onResponse } : {}),
        },
      ],
    });
}

/**
 * A load of applications, `POST url + path` with `{ phone, district, declaration }`, each
 * carrying the next session of `pool` as `Authorization: Bearer`, as the resident's phone
 * would after signing in; `onApplied` hears the token of each 201. Checks the pool after
 * every run.
 */
export function applying(
  url: string,
  path: string,
  pool: SessionPool,
  onApplied?: (token: string, body: string) => void,
): Load {
  const load: Load = (opts) =>
    cannon({
      url,
      ...opts,
      requests: [
        {
          method: 'POST',
          path,
          // With one request in flight per connection, the context set here is the one its response comes back with.
          setupRequest: (req, context: { token?: string }) => {
            const s = pool.take();
            context.token = s?.token;
            const headers: Record<string, string> = {
              'content-type': 'application/json',
              ...(s ? { authorization: `Bearer ${s.token}` } : {}),
            };
            return { ...req, headers, body: JSON.stringify(applicationBody(s?.n ?? 0)) };
          },
          onResponse: (status, body, context: { token?: string }) => {
            if (status === 201 && context.token) onApplied?.(context.token, body);
          },
        },
      ],
    });
  return async (opts) => {
    const r = await load(opts);
    pool.check();
    return r;
  };
}

/** A load of `GET /v1/residents/me/code?mode=…`, each request with the next resident token of `pool`. */
export function fetchingCodes(
  url: string,
  mode: 'printed' | 'dynamic',
  pool: string[],
  onResponse?: (status: number, body: string) => void,
): Load {
  let i = 0;
  return (opts) =>
    cannon({
      url,
      ...opts,
      requests: [
        {
          method: 'GET',
          path: `/v1/residents/me/code?mode=${mode}`,
          setupRequest: (req) => ({
            ...req,
            headers: { ...req.headers, authorization: `Bearer ${pool[i++ % pool.length]}` },
          }),
          ...(onResponse ? { onResponse } : {}),
        },
      ],
    });
}

/**
 * Warms each load up, then runs ROUNDS rounds of DURATION_S each, rotating which goes first
 * and letting each server drain before the next is loaded. Returns the rounds per load.
 */
async function rotatedRounds(loads: Load[]): Promise<AutocannonFigure[][]> {
  for (const load of loads) await load({ duration: WARMUP_S });
  const out: AutocannonFigure[][] = loads.map(() => []);
  for (let r = 0; r < ROUNDS; r++) {
    // Round r starts with load r (mod n), so no load always runs first or last.
    for (let k = 0; k < loads.length; k++) {
      const which = (r + k) % loads.length;
      await pause(500);
      out[which].push(await loads[which]({ duration: DURATION_S }));
    }
  }
  return out;
}

/** fdatasync'd 4 KiB appends per second on the DATA_DIR disk: what bounds one durable write at a time. */
function fsyncRate(dir: string): number {
  const fd = openSync(join(dir, 'fsync-probe'), 'w');
  const block = Buffer.alloc(4096, 1);
  try {
    return rateSync(() => {
      writeSync(fd, block);
      fdatasyncSync(fd);
    }, 1000);
  } finally {
    closeSync(fd);
  }
}

/**
 * Signing measured inside one process against a service started with `startService`:
 * the raw Ed25519 sign, `signCode` with the service's active signer, and `ensureCode` in a
 * ledger transaction for a record whose printed code is due (so it signs and durably writes).
 */
async function benchSigning(dir: string): Promise<HttpBenchResult['signing']> {
  const config = configSchema.parse({ PORT: 0, DATA_DIR: join(dir, 'in-process'), LOG_LEVEL: 'silent' });
  const svc = await startService(config);
  try {
    const { ledger } = svc.app;
    const { residents } = svc.services;
    const records: ResidentRecord[] = [];
    for (let n = 0; n < IN_PROCESS_RESIDENTS; n++) {
      const input: FullApplication = {
        ...applySchema.parse(applicationBody(50_000_000 + n)),
        ...identityOf(50_000_000 + n),
      };
      const r = await ledger.transact((tx) => residents.apply(tx, input, checkApplication(input, tx.now)));
      records.push(r.record);
    }
    const { signer } = svc.app.keys.active();
    const now = Math.floor(Date.now() / 1000);
    const claims: ResidentClaims[] = records.map((r, i) => ({
      kind: 'resident',
      iss: config.ISSUER_ID,
      iat: now,
      exp: now + config.PRINTED_CODE_TTL_DAYS * 86400,
      cti: (i + 1).toString(16).padStart(16, '0'),
      health: {
        colour: r.colour,
        ruleVersion: r.ruleVersion,
        statusIndex: r.statusIndex,
        maskedName: r.maskedName,
        idLast4: r.idLast4,
        mode: 'printed',
      },
    }));
    const tbs = claims.map((c) => toBeSigned(c, signer.kid));
    const n = records.length;
    const due = (i: number) => ({ ...records[i % n], codes: {} });
    const ensure = (i: number) => ledger.transact((tx) => residents.ensureCode(tx, due(i), 'printed'));
    const variants = {
      rawSign: () => rateSync((i) => signer.sign(tbs[i % n]), SIGN_ROUND_MS),
      signCode: () => rateAsync((i) => signCode(claims[i % n], signer), SIGN_ROUND_MS),
      ensureSequential: () => rateAsync(ensure, SIGN_ROUND_MS),
      ensureConcurrent: () => rateConcurrent(ensure, SIGN_ROUND_MS, CONNECTIONS),
    };
    const rounds = await interleavedRounds(variants, { rounds: ROUNDS, warmup: variants });
    const rawSign = figure(rounds.rawSign);
    const sc = figure(rounds.signCode);
    return {
      rawSign,
      signCode: { ...sc, ratio: round(sc.perSecond / rawSign.perSecond, 3) },
      ensureCodeSequential: figure(rounds.ensureSequential),
      ensureCodeConcurrent: { ...figure(rounds.ensureConcurrent), inFlight: CONNECTIONS },
      fsyncPerSecond: round(fsyncRate(dir)),
    };
  } finally {
    await svc.close();
  }
}

/**
 * Issue 3: the real service in a child process under autocannon from this process —
 * applications (POST /v1/residents, each by a distinct resident with a session of their
 * own, fsync'd ledger) against a minimal Koa app in another child with the same settings;
 * then code signing, in process and over HTTP; then sign-ins through the embedded provider.
 */
export async function benchHttp(): Promise<HttpBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'ankang-bench-'));
  const loadBefore = round(loadavg()[0], 2);
  let service: Child | undefined;
  let baseline: Child | undefined;
  let floor: Child | undefined;
  let floorSpread: Child | undefined;
  let ledgerFloor: Child | undefined;
  let requiredFloor: Child | undefined;
  const workerServices = new Map<number, Child>();
  const processes = cpus().length;
  try {
    // Sessions are seeded, not signed in (see seedSessions): one per application the rounds can send.
    // The services with WORKERS start on copies of the seeded folder: the same keys and sessions.
    const settings = { ...BENCH_ENV, DATA_DIR: join(dir, 'service') };
    const serviceConfig = configSchema.parse(settings);
    const seeded = {
      tokens: await seedSessions(serviceConfig, people(0, APPLY_SESSIONS)),
      outbox: outboxFile(serviceConfig),
    };
    for (const n of WORKER_COUNTS) {
      if (n > 0) cpSync(join(dir, 'service'), join(dir, `service-w${n}`), { recursive: true });
    }
    for (const n of WORKER_COUNTS) {
      const child = await startChild('server/main.ts', {
        ...settings,
        DATA_DIR: join(dir, n > 0 ? `service-w${n}` : 'service'),
        WORKERS: String(n),
      });
      if (n === 0) service = child;
      else workerServices.set(n, child);
    }
    if (!service) throw new Error('WORKER_COUNTS has no 0: the one-process service is the reference');
    const applyPool = new SessionPool(seeded.tokens, 0, 'the application rounds');
    // The floors read sessions too: as many as the service has, sealed under the floors' key. A floor
    // outruns the service, so it cycles through them; a session seen again is a resident applying
    // again, the same work for a floor.
    const floorKey = randomBytes(32);
    const floorTokens = await seedFloorSessions(
      join(dir, 'floor-sessions'),
      floorKey,
      people(70_000_000, APPLY_SESSIONS),
      Number(BENCH_ENV.SESSION_ACCESS_MINUTES) * 60_000,
    );
    const floorEnv = {
      PORT: '0',
      HOST: '127.0.0.1',
      FLOOR_SESSIONS_DIR: join(dir, 'floor-sessions'),
      FLOOR_ENCRYPTION_KEY: floorKey.toString('base64'),
    };
    baseline = await startChild('scripts/bench/minimal-koa.ts', { PORT: '0', HOST: '127.0.0.1' });
    floor = await startChild('scripts/bench/floor.ts', { ...floorEnv, FLOOR_DATA_DIR: join(dir, 'floor') });
    floorSpread = await startChild('scripts/bench/floor-spread.ts', {
      ...floorEnv,
      FLOOR_DATA_DIR: join(dir, 'floor-spread'),
      FLOOR_WORKERS: String(processes),
    });
    ledgerFloor = await startChild('scripts/bench/floor.ts', {
      ...floorEnv,
      FLOOR_DATA_DIR: join(dir, 'ledger-floor'),
      FLOOR_LEDGER: '1',
    });
    requiredFloor = await startChild('scripts/bench/floor.ts', {
      ...floorEnv,
      FLOOR_DATA_DIR: join(dir, 'required-floor'),
      FLOOR_LEDGER: '1',
      FLOOR_REQUIRED: '1',
    });

    const tokens: string[] = [];
    let issuedCode: string | undefined;
    const apply = applying(service.url, '/v1/residents', applyPool, (token, body) => {
      tokens.push(token);
      issuedCode ??= /"code":"(AK1:[^"]+)"/.exec(body)?.[1];
    });
    // The baseline reads a request of the same size: the same body and a bearer token of the same length.
    const echoBody = JSON.stringify(applicationBody(0));
    const echo = posting(baseline.url, '/v1/echo', () => echoBody, {
      headers: { authorization: `Bearer ${seeded.tokens[0].replace(/./g, 'x')}` },
    });
    const floorApply = applying(
      floor.url,
      '/v1/floor-apply',
      new SessionPool(floorTokens, 70_000_000, 'the floor', { cycle: true }),
    );
    const floorSpreadApply = applying(
      floorSpread.url,
      '/v1/floor-apply',
      new SessionPool(floorTokens, 70_000_000, 'the spread floor', { cycle: true }),
    );
    const ledgerFloorApply = applying(
      ledgerFloor.url,
      '/v1/floor-apply',
      new SessionPool(floorTokens, 70_000_000, 'the ledger floor', { cycle: true }),
    );
    const requiredFloorApply = applying(
      requiredFloor.url,
      '/v1/floor-apply',
      new SessionPool(floorTokens, 70_000_000, 'the required floor', { cycle: true }),
    );
    // Who applied to each WORKERS service: their code fetches come later.
    const workerTokens = new Map<number, string[]>();
    const workerApplies = [...workerServices].map(([n, child]) => {
      const applied: string[] = [];
      workerTokens.set(n, applied);
      return applying(
        child.url,
        '/v1/residents',
        new SessionPool(seeded.tokens, 0, `the application rounds, WORKERS=${n}`),
        (token) => applied.push(token),
      );
    });
    const [
      appRounds,
      baseRounds,
      floorRounds,
      floorSpreadRounds,
      ledgerFloorRounds,
      requiredFloorRounds,
      ...workerRounds
    ] = await rotatedRounds([
      apply,
      echo,
      floorApply,
      floorSpreadApply,
      ledgerFloorApply,
      requiredFloorApply,
      ...workerApplies,
    ]);
    await baseline.stop();
    baseline = undefined;
    await floor.stop();
    floor = undefined;
    await floorSpread.stop();
    floorSpread = undefined;
    await ledgerFloor.stop();
    ledgerFloor = undefined;
    await requiredFloor.stop();
    requiredFloor = undefined;

    const signing = await benchSigning(dir);

    // Each token is used once: its first printed-code request has to sign a code.
    const perRound = Math.min(REFRESH_MAX_PER_ROUND, Math.floor(tokens.length / ROUNDS) - 2 * CONNECTIONS);
    if (perRound < CONNECTIONS * 4)
      throw new Error(`only ${tokens.length} residents applied; too few for the refresh rounds`);
    const refreshRounds: AutocannonFigure[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      await pause(500);
      refreshRounds.push(
        await fetchingCodes(
          service.url,
          'printed',
          tokens.slice(r * (perRound + 2 * CONNECTIONS), (r + 1) * (perRound + 2 * CONNECTIONS)),
        )({ amount: perRound }),
      );
    }
    // The same fetches of a still-current code from each WORKERS service, interleaved: the workers answer them.
    const [currentRounds, ...workerCurrentRounds] = await rotatedRounds([
      fetchingCodes(service.url, 'dynamic', tokens),
      ...[...workerServices].map(([n, child]) => fetchingCodes(child.url, 'dynamic', workerTokens.get(n)!)),
    ]);
    for (const child of workerServices.values()) await child.stop();
    workerServices.clear();

    await pause(500);
    const signIns = await benchSignIns(service, seeded.outbox);

    const applications = summarise(appRounds);
    const base = summarise(baseRounds);
    const ratio = round(applications.perSecond / base.perSecond, 3);
    const floorFigure = summarise(floorRounds);
    const floorSpreadFigure = summarise(floorSpreadRounds);
    const result: HttpBenchResult = {
      setup: {
        connections: CONNECTIONS,
        durationSeconds: DURATION_S,
        rounds: ROUNDS,
        serviceProcess: 'node --import tsx server/main.ts (child)',
        baselineProcess: 'node --import tsx scripts/bench/minimal-koa.ts (child)',
        floorProcess: 'node --import tsx scripts/bench/floor.ts (child)',
        floorSpreadProcess: `node --import tsx scripts/bench/floor-spread.ts (child, ${processes} workers)`,
        dataDir: dir,
        seededSessions: { service: APPLY_SESSIONS, usedByApplications: applyPool.used, floors: floorTokens.length },
        loadAverage: { before: loadBefore, after: round(loadavg()[0], 2) },
      },
      applications,
      baseline: base,
      ratio,
      floor: withCeiling(floorFigure, base, APPS_RATIO_AIM),
      floorSpread: { ...floorSpreadFigure, ratio: round(floorSpreadFigure.perSecond / base.perSecond, 3), processes },
      ledgerFloor: ledgerFloorFigure(summarise(ledgerFloorRounds), floorFigure, APPS_OF_FLOOR_AIM),
      requiredFloor: ledgerFloorFigure(summarise(requiredFloorRounds), floorFigure, APPS_OF_FLOOR_AIM),
      ofFloor: ofFloor(applications, floorFigure, floorSpreadFigure),
      workers: workersComparison([applications, ...workerRounds.map(summarise)], floorFigure, floorSpreadFigure),
      aims: {
        ratioAtLeast: APPS_RATIO_AIM,
        ratioMet: ratio >= APPS_RATIO_AIM,
        appsPerSecondAtLeast: APPS_ABSOLUTE_AIM,
        appsPerSecondMet: applications.perSecond >= APPS_ABSOLUTE_AIM,
      },
      signing,
      refreshOverHttp: { ...summarise(refreshRounds), requestsPerRound: perRound },
      currentCodeOverHttp: summarise(currentRounds),
      currentCodeWorkers: [currentRounds, ...workerCurrentRounds].map((rounds, i) => {
        const f = summarise(rounds);
        return { workers: WORKER_COUNTS[i], perSecond: f.perSecond, p99ms: f.p99ms, split: f.cpuSplit };
      }),
      signIns,
      issuedCode: issuedCode ? { chars: issuedCode.length, qrVersion: createQr(issuedCode).version } : undefined,
    };
    printHttp(result);
    return result;
  } finally {
    await requiredFloor?.stop();
    await ledgerFloor?.stop();
    await floorSpread?.stop();
    await floor?.stop();
    await baseline?.stop();
    await service?.stop();
    for (const child of workerServices.values()) await child.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Complete sign-ins per second through the embedded provider, `signIn` as tests and the demo
 * use it (every page over real HTTP, codes read from the outbox), SIGN_IN_CONCURRENCY at a
 * time for DURATION_S after one untimed batch. Each is a person's first, so it includes
 * the sign-up; the callback opens the session as `seedSessions` does. One run, as one round.
 */
async function benchSignIns(service: Child, outbox: string): Promise<SignInsFigure> {
  let n = 90_000_000;
  const once = () => {
    const k = n++;
    return signIn(service.url, { ...identityOf(k), phone: phoneOf(k) }, { codes: outbox });
  };
  await Promise.all(Array.from({ length: SIGN_IN_CONCURRENCY }, once));
  const cpuBefore = cpuSeconds(service.child.pid);
  const clientBefore = process.cpuUsage();
  const latencies: number[] = [];
  let failed = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const end = started + DURATION_S * 1000;
  let last = started;
  const worker = async () => {
    while (performance.now() < end) {
      const t = performance.now();
      try {
        await once();
        latencies.push(performance.now() - t);
      } catch (e) {
        failed++;
        firstError ??= (e as Error).message;
      }
      last = performance.now();
    }
  };
  await Promise.all(Array.from({ length: SIGN_IN_CONCURRENCY }, worker));
  const seconds = (last - started) / 1000;
  const client = process.cpuUsage(clientBefore);
  const cpuAfter = cpuSeconds(service.child.pid);
  const done = latencies.length + failed;
  const run: AutocannonFigure = {
    perSecond: round(latencies.length / seconds),
    serverCpuUsPerRequest:
      cpuBefore !== undefined && cpuAfter !== undefined && done > 0
        ? round(((cpuAfter - cpuBefore) * 1e6) / done)
        : undefined,
    clientCpuUsPerRequest: done > 0 ? round((client.user + client.system) / done) : 0,
    p50ms: round(percentile(latencies, 50), 1),
    p99ms: round(percentile(latencies, 99), 1),
    ok: latencies.length,
    non2xx: 0,
    errors: failed,
    timeouts: 0,
    seconds: round(seconds, 2),
  };
  return { ...summarise([run]), concurrency: SIGN_IN_CONCURRENCY, firstError };
}

export const cpuText = (f: HttpRoundsFigure) =>
  f.serverCpuUsPerRequest === undefined ? 'n/a' : fmt(f.serverCpuUsPerRequest);

/**
 * What one request costs the server in CPU against the baseline's: with the cores shared by
 * the load generator, this is what bounds the ratio of their rates.
 */
export function cpuComparison(what: string, f: HttpRoundsFigure, base: HttpRoundsFigure): string {
  if (f.serverCpuUsPerRequest === undefined || !base.serverCpuUsPerRequest) return '';
  const times = f.serverCpuUsPerRequest / base.serverCpuUsPerRequest;
  return `Server CPU for ${what}: ${fmt(f.serverCpuUsPerRequest)} µs, ${fmt(times, 1)}× the minimal handler's ${fmt(base.serverCpuUsPerRequest)} µs (all threads of the process: HTTP, crypto, LevelDB, GC).`;
}

export interface FloorFigure extends HttpRoundsFigure {
  /** Of the baseline's rate. */
  ratio: number;
  /**
   * The most per second this machine could serve if every core did nothing but the floor's
   * work and the load generator's: cores ÷ (server + load-generator CPU per request). Null off Linux.
   */
  ceiling: { perSecond: number; ratio: number } | null;
  /**
   * The server CPU µs one request may cost for the aim's rate (aim × baseline) to fit on all
   * cores next to the load generator: cores ÷ (aim × baseline) − load-generator CPU per request.
   */
  aimBudgetUs: number;
}

function withCeiling(f: HttpRoundsFigure, base: HttpRoundsFigure, aimRatio: number): FloorFigure {
  const ratio = round(f.perSecond / base.perSecond, 3);
  const aimBudgetUs = round((cpus().length * 1e6) / (aimRatio * base.perSecond) - f.clientCpuUsPerRequest);
  if (f.serverCpuUsPerRequest === undefined) return { ...f, ratio, ceiling: null, aimBudgetUs };
  const perSecond = round((cpus().length * 1e6) / (f.serverCpuUsPerRequest + f.clientCpuUsPerRequest));
  return { ...f, ratio, ceiling: { perSecond, ratio: round(perSecond / base.perSecond, 3) }, aimBudgetUs };
}

/**
 * The service against its floors, measured in the same run: rates as service ÷ floor (1 is
 * the most any design on this stack reaches) and server CPU per request as floor ÷ service
 * (the share of the service's CPU that is work no design can skip).
 */
export interface ServiceOfFloor {
  rate: number;
  rateOfSpread: number;
  cpuShareUnavoidable: number | null;
  cpuShareUnavoidableSpread: number | null;
}

function ofFloor(service: HttpRoundsFigure, floor: HttpRoundsFigure, spread: HttpRoundsFigure): ServiceOfFloor {
  const share = (f: HttpRoundsFigure) =>
    f.serverCpuUsPerRequest !== undefined && service.serverCpuUsPerRequest
      ? round(f.serverCpuUsPerRequest / service.serverCpuUsPerRequest, 3)
      : null;
  return {
    rate: round(service.perSecond / floor.perSecond, 3),
    rateOfSpread: round(service.perSecond / spread.perSecond, 3),
    cpuShareUnavoidable: share(floor),
    cpuShareUnavoidableSpread: share(spread),
  };
}

/** One line for a person reading the run: the service ÷ its floors, by rate and by CPU. */
function ofFloorText(what: string, o: ServiceOfFloor, processes: number): string {
  const share = (x: number | null) => (x === null ? 'n/a' : fmtRatio(x));
  return (
    `Service ÷ floor for ${what}, same run: ${fmtRatio(o.rate)} of the floor's rate in one process, ${fmtRatio(o.rateOfSpread)} of the floor's in ${processes} processes; ` +
    `the floor's server CPU per request is ${share(o.cpuShareUnavoidable)} of the service's (${share(o.cpuShareUnavoidableSpread)} spread): the rest is work a design could still cut.`
  );
}

/**
 * The floor whose one record is an event of the service's own ledger (floor.ts with
 * FLOOR_LEDGER=1): sequence, salted hash, a link in each subject's chain and its index
 * entries. Every application and scan must leave that audit record, so this is the floor any
 * design of the service pays; with it, the server CPU the aim leaves for everything else.
 */
export interface LedgerFloorFigure extends HttpRoundsFigure {
  /** Its rate over the floor's. */
  ofFloor: number;
  /** The aim, as a share of the floor's rate. */
  aim: number;
  /**
   * The server CPU µs a request may cost for the aim's rate (aim × floor) to fit on all cores
   * next to the load generator: cores ÷ (aim × floor rate) − load-generator CPU per request.
   */
  aimBudgetUs: number;
}

function ledgerFloorFigure(f: HttpRoundsFigure, floor: HttpRoundsFigure, aim: number): LedgerFloorFigure {
  return {
    ...f,
    ofFloor: round(f.perSecond / floor.perSecond, 3),
    aim,
    aimBudgetUs: round((cpus().length * 1e6) / (aim * floor.perSecond) - floor.clientCpuUsPerRequest),
  };
}

/** What the audit record alone costs against the floor, and what the aim leaves for the rest of the service. */
function ledgerFloorText(
  what: string,
  l: LedgerFloorFigure,
  floor: HttpRoundsFigure,
  service: HttpRoundsFigure,
): string {
  const left = l.serverCpuUsPerRequest === undefined ? NaN : l.aimBudgetUs - l.serverCpuUsPerRequest;
  return (
    `Ledger floor (${what}): the floor with its record as one hash-chained event of the service's ledger reaches ${fmt(l.perSecond)}/s, ${fmtRatio(l.ofFloor)} of the floor, at ${cpuText(l)} µs server CPU. ` +
    `For the aim of ${fmtRatio(l.aim)} of the floor (${fmt(l.aim * floor.perSecond)}/s), all ${cpus().length} cores next to the load generator allow ${fmt(l.aimBudgetUs)} µs of server CPU per request; ` +
    (left > 0
      ? `the audit record leaves ${fmt(left)} µs for everything else the service does (the service spends ${fmt((service.serverCpuUsPerRequest ?? NaN) - (l.serverCpuUsPerRequest ?? NaN))} µs on it).`
      : `the audit record alone uses all of it, so no design that keeps the ledger reaches the aim on this machine.`) +
    (l.ofFloor < l.aim
      ? ` Measured directly: the ledger floor itself reaches ${fmtRatio(l.ofFloor)} of the floor, below the aim of ${fmtRatio(l.aim)}, so in this run no design that writes the audit record reached it.`
      : '')
  );
}

/**
 * The required floor (floor.ts with FLOOR_REQUIRED=1): the ledger floor plus the least of what
 * the project's rules ask of every such request (who may call, on whose data, how often, bad
 * input, the authority's rules or policy, the indexes the service must keep), each the
 * cheapest way we know. Below the aim, it shows no design that keeps those rules reaches it.
 */
function requiredFloorText(what: string, r: LedgerFloorFigure, service: HttpRoundsFigure): string {
  const over = (service.serverCpuUsPerRequest ?? NaN) - (r.serverCpuUsPerRequest ?? NaN);
  return (
    `Required floor (${what}): the ledger floor with the least of what the project's rules ask of each request reaches ${fmt(r.perSecond)}/s, ${fmtRatio(r.ofFloor)} of the floor, at ${cpuText(r)} µs server CPU; the service spends ${fmt(over)} µs more. ` +
    (r.ofFloor < r.aim
      ? `Below the aim of ${fmtRatio(r.aim)}: in this run no design that keeps those rules reached it on this machine.`
      : `At or above the aim of ${fmtRatio(r.aim)}: a design doing only that would meet it.`)
  );
}

/** How the floor compares with the baseline, the ceiling its CPU cost sets, and the service against the floor. */
function floorText(floor: FloorFigure, service: HttpRoundsFigure, aimRatio: number): string {
  const c = floor.ceiling;
  return (
    `The floor (the unavoidable work only) reaches ${fmt(floor.perSecond)}/s, ${fmtRatio(floor.ratio)} of the baseline, at ${cpuText(floor)} µs server CPU per request. ` +
    (c
      ? `With the load generator's ${fmt(floor.clientCpuUsPerRequest)} µs, all ${cpus().length} cores doing nothing else could serve at most ${fmt(c.perSecond)}/s, ${fmtRatio(c.ratio)} of the baseline` +
        (c.ratio < aimRatio
          ? `: below the aim of ${aimRatio}, so no design of this endpoint reaches it on this machine. `
          : '. ')
      : '') +
    `The service reaches ${fmt((service.perSecond / floor.perSecond) * 100)}% of the floor. ` +
    `For the aim's rate, every request may cost at most ${fmt(floor.aimBudgetUs)} µs of server CPU with all ${cpus().length} cores busy; the floor alone costs ${cpuText(floor)} µs, the service ${cpuText(service)} µs.`
  );
}

/** What the floor reaches spread over every core with no coordination cost at all. */
function spreadText(f: HttpBenchResult['floorSpread'], aimRatio: number): string {
  return (
    `Spread over ${f.processes} processes that share nothing, the floor reaches ${fmt(f.perSecond)}/s, ${fmtRatio(f.ratio)} of the baseline, at ${cpuText(f)} µs server CPU per request (all processes). ` +
    `A real multi-process service also pays for one ledger writer and the hand-over to it, so this bounds every such design` +
    (f.ratio < aimRatio
      ? `: below the aim of ${aimRatio}, no design of this endpoint reaches it on this machine.`
      : '.')
  );
}

function printHttp(r: HttpBenchResult): void {
  const roundsText = (f: HttpRoundsFigure) => f.rounds.map((x) => fmt(x.perSecond)).join(' / ');
  const failures = (f: HttpRoundsFigure) => {
    const bad = f.rounds.reduce((n, x) => n + x.non2xx + x.errors + x.timeouts, 0);
    return bad ? `${fmt(bad)} failed` : 'all 2xx';
  };
  const httpRow = (what: string, f: HttpRoundsFigure, ratio: string, note: string) => [
    what,
    fmt(f.perSecond),
    ratio,
    fmt(f.p50ms),
    fmt(f.p99ms),
    cpuText(f),
    roundsText(f),
    `${failures(f)}; ${note}`,
  ];
  console.log(heading('http (issue 3): the service in a child process, autocannon in this one, loopback'));
  console.log(
    `${r.setup.connections} connections, ${r.setup.durationSeconds} s per round, median of ${r.setup.rounds} rounds (applications, baseline and both floors interleaved); ledger writes are fsync'd.`,
  );
  console.log(
    table(
      ['what', 'per second', '÷ baseline', 'p50 ms', 'p99 ms', 'server CPU µs/req', 'rounds', 'note'],
      [
        httpRow('minimal Koa POST, JSON body read (baseline)', r.baseline, '', 'scripts/bench/minimal-koa.ts'),
        httpRow(
          'applications: POST /v1/residents',
          r.applications,
          fmtRatio(r.ratio),
          `ratio ${aim(r.ratio, r.aims.ratioAtLeast)}; absolute ${aim(r.applications.perSecond, r.aims.appsPerSecondAtLeast)}; a seeded session each`,
        ),
        httpRow(
          "floor: session read + seal + sign + one fsync'd append only",
          r.floor,
          fmtRatio(r.floor.ratio),
          'scripts/bench/floor.ts: what no design of an application can skip',
        ),
        httpRow(
          `floor in ${r.floorSpread.processes} processes, nothing shared`,
          r.floorSpread,
          fmtRatio(r.floorSpread.ratio),
          'FLOOR_WORKERS: one LevelDB each, no single writer, no hand-over',
        ),
        httpRow(
          'ledger floor: the floor, its record one ledger event',
          r.ledgerFloor,
          '',
          `FLOOR_LEDGER=1: ${fmtRatio(r.ledgerFloor.ofFloor)} of the floor; sequence, hash chain, subject chain`,
        ),
        httpRow(
          "required floor: the ledger floor and the project's rules",
          r.requiredFloor,
          '',
          `FLOOR_REQUIRED=1: ${fmtRatio(r.requiredFloor.ofFloor)} of the floor; checks, limits, rules, bound record with sealed facts, code index`,
        ),
        httpRow(
          'code refresh over HTTP: GET /me/code?mode=printed',
          r.refreshOverHttp,
          '',
          `first printed code of each resident, so each request signs; ${fmt(r.refreshOverHttp.requestsPerRound)} per round`,
        ),
        httpRow(
          'current code over HTTP: GET /me/code?mode=dynamic',
          r.currentCodeOverHttp,
          '',
          'code still current: re-evaluated, no signing and nothing written',
        ),
        httpRow(
          `sign-ins through the embedded provider, ${r.signIns.concurrency} at a time`,
          r.signIns,
          '',
          'scripts/lib/sign-in.ts: each a first sign-in (with sign-up), every page over HTTP; one run; ms and CPU per sign-in',
        ),
      ],
    ),
  );
  const seeded = r.setup.seededSessions;
  console.log(
    `Sessions: ${fmt(seeded.service)} seeded into the service's data folder before it started (SessionService.open, as a sign-in's callback does; not signed in), ${fmt(seeded.usedByApplications)} of them used by the application rounds; the floors cycle through ${fmt(seeded.floors)} of their own.`,
  );
  if (r.signIns.firstError) console.log(`First failed sign-in: ${r.signIns.firstError}`);
  console.log(cpuComparison('an application', r.applications, r.baseline));
  console.log(floorText(r.floor, r.applications, r.aims.ratioAtLeast));
  console.log(spreadText(r.floorSpread, r.aims.ratioAtLeast));
  console.log(ofFloorText('applications', r.ofFloor, r.floorSpread.processes));
  console.log(ledgerFloorText('applications', r.ledgerFloor, r.floor, r.applications));
  console.log(requiredFloorText('applications', r.requiredFloor, r.applications));
  printWorkers('Applications', r.workers, r.setup.connections, r.floorSpread.processes);
  console.log(`\nCurrent code (GET /me/code?mode=dynamic, the code still current) with WORKERS, interleaved:`);
  console.log(
    table(
      ['service', 'per second', 'p99 ms', 'service CPU µs/req', 'writer µs/req', 'workers µs/req'],
      r.currentCodeWorkers.map((w) => {
        const total = w.split ? serviceTotal(w.split) : null;
        return [
          w.workers === 0 ? 'WORKERS=0 (one process)' : `WORKERS=${w.workers}`,
          fmt(w.perSecond),
          fmt(w.p99ms),
          total === null ? 'n/a' : fmt(total),
          w.split?.writer == null ? '–' : fmt(w.split.writer),
          w.split && w.split.workers.length
            ? w.split.workers.map((x) => (x === null ? 'n/a' : fmt(x))).join(' + ')
            : '–',
        ];
      }),
    ),
  );
  const s = r.signing;
  const row = (what: string, f: RateFigure, ratio: string, note: string) => [
    what,
    fmt(f.perSecond),
    ratio,
    `${fmt(f.spread * 100)}%`,
    note,
  ];
  console.log('\nCode signing in one process (startService in this process, sequential unless noted):');
  console.log(
    table(
      ['what', 'per second', '÷ raw sign', 'spread', 'note'],
      [
        row('raw Ed25519 sign (service signer.sign)', s.rawSign, '', 'prebuilt Sig_structure bytes'),
        row(
          'signing only: signCode(claims, active signer)',
          s.signCode,
          fmtRatio(s.signCode.ratio),
          'CBOR + claim checks + sign + base45',
        ),
        row(
          'ensureCode in ledger.transact, 1 in flight',
          s.ensureCodeSequential,
          '',
          "signs, then waits for its own durable (fsync'd) write",
        ),
        row(
          `ensureCode in ledger.transact, ${s.ensureCodeConcurrent.inFlight} in flight`,
          s.ensureCodeConcurrent,
          '',
          'group commit: many per fsync',
        ),
      ],
    ),
  );
  console.log(`fsync'd 4 KiB writes per second on the data disk: ${fmt(s.fsyncPerSecond)}`);
  if (r.issuedCode)
    console.log(
      `a code the service issued: ${r.issuedCode.chars} characters, QR version ${r.issuedCode.qrVersion} (level M)`,
    );
  console.log(
    `Load average (1 min) before ${r.setup.loadAverage.before}, after ${r.setup.loadAverage.after} on ${cpus().length} cores: anything else running skews these figures.`,
  );
}

const SCANS_RESIDENTS = 2000;
const SCANS_RATIO_AIM = 0.3;
/** Issue 18: staff scans at this share of their floor's rate. */
const SCANS_OF_FLOOR_AIM = 0.8;
const SCANS_P99_AIM_MS = 50;
/** Connection counts tried, highest first, when 64 connections give a p99 above the aim. */
const SCANS_LOWER_CONNECTIONS = [48, 32, 24, 16, 12, 8, 4, 2, 1];
const SCANS_PROBE_S = 5;

export interface ScansFigure extends HttpRoundsFigure {
  connections: number;
  ratio: number;
}

export interface ScansBenchResult {
  setup: {
    connections: number;
    durationSeconds: number;
    rounds: number;
    residents: number;
    serviceProcess: string;
    baselineProcess: string;
    floorProcess: string;
    floorSpreadProcess: string;
    request: string;
    /** 1-minute load averages before and after: other work on the machine shows here. */
    loadAverage: { before: number; after: number };
  };
  scans: ScansFigure;
  baseline: HttpRoundsFigure;
  /** scripts/bench/floor.ts: only a scan's unavoidable work (verify, one fsync'd append); bounds any design here. */
  floor: FloorFigure;
  /**
   * The same scan floor as one process per core with nothing shared between them (floor-spread.ts,
   * FLOOR_WORKERS): what any design that spreads scans over processes could reach at most.
   */
  floorSpread: HttpRoundsFigure & { ratio: number; processes: number };
  /** The scan floor with its record written as one event of the service's ledger (FLOOR_LEDGER=1): the audit trail's share. */
  ledgerFloor: LedgerFloorFigure;
  /** The ledger floor plus the least of what the project's rules ask of a staff scan (FLOOR_REQUIRED=1). */
  requiredFloor: LedgerFloorFigure;
  /** The service's scans at 64 connections over each floor's, and its server CPU per scan over each floor's; all from the same run. */
  ofFloor: ServiceOfFloor;
  /** The same scans against the service with WORKERS=0, 1 and 2, interleaved with the rest; the CPU split per process. */
  workers: WorkersFigure;
  /** Decisions of the scans sent to the WORKERS services. */
  workerDecisions: Record<string, Record<string, number>>;
  /** The highest connection count whose p99 is under the aim, measured like `scans`; null when 64 already is. */
  underP99Aim: ScansFigure | null;
  /** The probes that found it: one SCANS_PROBE_S run per connection count. */
  probes: Array<{ connections: number; perSecond: number; p50ms: number; p99ms: number }>;
  decisions: Record<string, number>;
  aims: {
    ratioAtLeast: number;
    p99BelowMs: number;
    at64: { ratioMet: boolean; p99Met: boolean };
    met: boolean;
    metAt: number | null;
  };
}

/**
 * Issue 5: staff scans per second over HTTP — POST /v1/scans, which verifies the
 * resident's code (signature, expiry, status) and appends one fsync'd ledger event — against
 * the minimal Koa handler in the same run. Residents apply and fetch their dynamic codes
 * beforehand; autocannon cycles through the codes at one venue with an operator token.
 */
export async function benchScans(): Promise<ScansBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'ankang-bench-scans-'));
  const loadBefore = round(loadavg()[0], 2);
  let service: Child | undefined;
  let baseline: Child | undefined;
  let floor: Child | undefined;
  let floorSpread: Child | undefined;
  let ledgerFloor: Child | undefined;
  let requiredFloor: Child | undefined;
  const workerServices = new Map<number, Child>();
  const processes = cpus().length;
  try {
    const adminToken = `ak_admin_bench_${randomBytes(16).toString('hex')}`;
    // The rounds with WORKERS take longer than the default 10 minutes a dynamic code lasts.
    const serviceEnv = { ADMIN_TOKEN: adminToken, CODE_TTL_MINUTES: '30' };
    // Each resident has a session, seeded as in benchHttp (see seedSessions), and applies with it once.
    const seeded = await startSeededService(join(dir, 'service'), people(80_000_000, SCANS_RESIDENTS), serviceEnv);
    service = seeded.service;
    baseline = await startChild('scripts/bench/minimal-koa.ts', { PORT: '0', HOST: '127.0.0.1' });
    let url = service.url;
    const post = setupPost(url);
    const { operator, venueId } = await benchGate(post, adminToken);

    // Residents apply, then fetch their current dynamic codes (GET /me/code), as phones would before a gate.
    const tokens: string[] = [];
    await applying(
      url,
      '/v1/residents',
      new SessionPool(seeded.tokens, 80_000_000, "the scans bench's applications"),
      (token) => tokens.push(token),
    )({ amount: SCANS_RESIDENTS });
    const codes: string[] = [];
    await fetchingCodes(url, 'dynamic', tokens, (status, body) => {
      const m = status === 200 ? /"code":"(AK1:[^"]+)"/.exec(body) : null;
      if (m) codes.push(m[1]);
    })({ amount: tokens.length });
    if (codes.length < SCANS_RESIDENTS * 0.9)
      throw new Error(`only ${codes.length} of ${SCANS_RESIDENTS} residents have a code`);

    // The same service with WORKERS: copies of its data folder (keys, residents, gate), each started
    // on its own, so every configuration verifies the same codes at the same gate.
    await service.stop();
    service = undefined;
    for (const n of WORKER_COUNTS) {
      if (n > 0) cpSync(join(dir, 'service'), join(dir, `service-w${n}`), { recursive: true });
    }
    for (const n of WORKER_COUNTS) {
      const child = await startChild('server/main.ts', {
        ...BENCH_ENV,
        ...serviceEnv,
        DATA_DIR: join(dir, n > 0 ? `service-w${n}` : 'service'),
        WORKERS: String(n),
      });
      if (n === 0) service = child;
      else workerServices.set(n, child);
    }
    url = service!.url;

    const scanBody = (code: string) => JSON.stringify({ venueId, code, temperatureC: 36.5 });
    const decisions: Record<string, number> = {};
    const scanning = (at: string, counts: Record<string, number>) =>
      posting(at, '/v1/scans', (i) => scanBody(codes[i % codes.length]), {
        headers: { authorization: `Bearer ${operator}` },
        onResponse: (status, body) => {
          const d = status === 201 ? (/"decision":"(\w+)"/.exec(body)?.[1] ?? 'unknown') : `http-${status}`;
          counts[d] = (counts[d] ?? 0) + 1;
        },
      });
    const scan = scanning(url, decisions);
    const workerDecisions: Record<string, Record<string, number>> = {};
    const workerScans = [...workerServices].map(([n, child]) =>
      scanning(child.url, (workerDecisions[`WORKERS=${n}`] = {})),
    );
    // The baseline reads and parses a body of the same shape and size.
    const echoBody = scanBody(codes[0]);
    const echo = posting(baseline.url, '/v1/echo', () => echoBody);
    // The floor does only what no scan can skip: verify the same codes, append one fsync'd record.
    const trustList = await (await fetch(`${url}/v1/trust-list`)).text();
    floor = await startChild('scripts/bench/floor.ts', {
      PORT: '0',
      HOST: '127.0.0.1',
      FLOOR_DATA_DIR: join(dir, 'floor'),
      FLOOR_TRUST_LIST: trustList,
    });
    const floorResults: Record<string, number> = {};
    // Every floor's scans of the same codes, their code results counted together.
    const floorScanning = (url: string, headers: Record<string, string> = {}) =>
      posting(url, '/v1/floor-scan', (i) => scanBody(codes[i % codes.length]), {
        headers,
        onResponse: (status, body) => {
          const k = status === 201 ? (/"codeResult":"(\w+)"/.exec(body)?.[1] ?? 'unknown') : `http-${status}`;
          floorResults[k] = (floorResults[k] ?? 0) + 1;
        },
      });
    const floorScan = floorScanning(floor.url);
    // The same floor in one process per core, sharing nothing: each worker its own keys and LevelDB.
    floorSpread = await startChild('scripts/bench/floor-spread.ts', {
      PORT: '0',
      HOST: '127.0.0.1',
      FLOOR_DATA_DIR: join(dir, 'floor-spread'),
      FLOOR_TRUST_LIST: trustList,
      FLOOR_WORKERS: String(processes),
    });
    const floorSpreadScan = floorScanning(floorSpread.url);
    // The floor again, its record one event of the service's ledger on the venue's and the code's chains.
    ledgerFloor = await startChild('scripts/bench/floor.ts', {
      PORT: '0',
      HOST: '127.0.0.1',
      FLOOR_DATA_DIR: join(dir, 'ledger-floor'),
      FLOOR_TRUST_LIST: trustList,
      FLOOR_LEDGER: '1',
    });
    const ledgerFloorScan = floorScanning(ledgerFloor.url);
    // The ledger floor again, with what the project's rules ask of a scan: its own gate token for the same venue.
    const floorGate = `ak_bench_gate_${randomBytes(16).toString('hex')}`;
    requiredFloor = await startChild('scripts/bench/floor.ts', {
      PORT: '0',
      HOST: '127.0.0.1',
      FLOOR_DATA_DIR: join(dir, 'required-floor'),
      FLOOR_TRUST_LIST: trustList,
      FLOOR_LEDGER: '1',
      FLOOR_REQUIRED: '1',
      FLOOR_STAFF: JSON.stringify({ token: floorGate, venueId, type: 'crowded-place', district: '340103' }),
    });
    const requiredFloorScan = floorScanning(requiredFloor.url, { authorization: `Bearer ${floorGate}` });
    const [
      scanRounds,
      baseRounds,
      floorRounds,
      floorSpreadRounds,
      ledgerFloorRounds,
      requiredFloorRounds,
      ...workerRounds
    ] = await rotatedRounds([
      scan,
      echo,
      floorScan,
      floorSpreadScan,
      ledgerFloorScan,
      requiredFloorScan,
      ...workerScans,
    ]);
    for (const child of workerServices.values()) await child.stop();
    workerServices.clear();
    await floor.stop();
    floor = undefined;
    await floorSpread.stop();
    floorSpread = undefined;
    await ledgerFloor.stop();
    ledgerFloor = undefined;
    await requiredFloor.stop();
    requiredFloor = undefined;
    // Codes expire only after the run; every one the floors saw must have verified, or they skipped work.
    if (Object.keys(floorResults).some((k) => k !== 'VALID'))
      throw new Error(`the floor handlers refused codes: ${JSON.stringify(floorResults)}`);
    const base = summarise(baseRounds);
    const at64 = summarise(scanRounds);
    const ratioOf = (f: { perSecond: number }) => round(f.perSecond / base.perSecond, 3);
    const scans: ScansFigure = { ...at64, connections: CONNECTIONS, ratio: ratioOf(at64) };
    const floorFigure = summarise(floorRounds);
    const floorSpreadFigure = summarise(floorSpreadRounds);
    const workers = workersComparison([scans, ...workerRounds.map(summarise)], floorFigure, floorSpreadFigure);

    // Above the p99 aim at 64 connections: find the most connections that stay under it (a short
    // probe, then full rounds to confirm; a probe that does not confirm moves on to fewer).
    const probes: ScansBenchResult['probes'] = [];
    let underP99Aim: ScansFigure | null = null;
    if (scans.p99ms >= SCANS_P99_AIM_MS) {
      for (const connections of SCANS_LOWER_CONNECTIONS) {
        await pause(500);
        const p = await scan({ duration: SCANS_PROBE_S, connections });
        probes.push({ connections, perSecond: p.perSecond, p50ms: p.p50ms, p99ms: p.p99ms });
        if (p.p99ms >= SCANS_P99_AIM_MS) continue;
        const rounds: AutocannonFigure[] = [];
        for (let r = 0; r < ROUNDS; r++) {
          await pause(500);
          rounds.push(await scan({ duration: DURATION_S, connections }));
        }
        const f = summarise(rounds);
        underP99Aim = { ...f, connections, ratio: ratioOf(f) };
        if (f.p99ms < SCANS_P99_AIM_MS) break;
      }
    }

    const p99Met64 = scans.p99ms < SCANS_P99_AIM_MS;
    const ratioMet64 = scans.ratio >= SCANS_RATIO_AIM;
    const metAt =
      p99Met64 && ratioMet64
        ? CONNECTIONS
        : underP99Aim && underP99Aim.p99ms < SCANS_P99_AIM_MS && underP99Aim.ratio >= SCANS_RATIO_AIM
          ? underP99Aim.connections
          : null;
    const result: ScansBenchResult = {
      setup: {
        connections: CONNECTIONS,
        durationSeconds: DURATION_S,
        rounds: ROUNDS,
        residents: codes.length,
        serviceProcess: 'node --import tsx server/main.ts (child)',
        baselineProcess: 'node --import tsx scripts/bench/minimal-koa.ts (child)',
        floorProcess: 'node --import tsx scripts/bench/floor.ts (child)',
        floorSpreadProcess: `node --import tsx scripts/bench/floor-spread.ts (child, ${processes} workers)`,
        request: 'POST /v1/scans { venueId, code, temperatureC } with an operator token, codes cycled',
        loadAverage: { before: loadBefore, after: round(loadavg()[0], 2) },
      },
      scans,
      baseline: base,
      floor: withCeiling(floorFigure, base, SCANS_RATIO_AIM),
      floorSpread: { ...floorSpreadFigure, ratio: round(floorSpreadFigure.perSecond / base.perSecond, 3), processes },
      ledgerFloor: ledgerFloorFigure(summarise(ledgerFloorRounds), floorFigure, SCANS_OF_FLOOR_AIM),
      requiredFloor: ledgerFloorFigure(summarise(requiredFloorRounds), floorFigure, SCANS_OF_FLOOR_AIM),
      ofFloor: ofFloor(scans, floorFigure, floorSpreadFigure),
      workers,
      underP99Aim,
      probes,
      decisions,
      workerDecisions,
      aims: {
        ratioAtLeast: SCANS_RATIO_AIM,
        p99BelowMs: SCANS_P99_AIM_MS,
        at64: { ratioMet: ratioMet64, p99Met: p99Met64 },
        met: metAt !== null,
        metAt,
      },
    };
    printScans(result);
    return result;
  } finally {
    await requiredFloor?.stop();
    await ledgerFloor?.stop();
    await floorSpread?.stop();
    await floor?.stop();
    await baseline?.stop();
    await service?.stop();
    for (const child of workerServices.values()) await child.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * One row per WORKERS count (`figures` in the order of WORKER_COUNTS) against the floors
 * measured in the same run, with the CPU split per process.
 */
function workersComparison(
  figures: HttpRoundsFigure[],
  floor: HttpRoundsFigure,
  spread: HttpRoundsFigure,
): WorkersFigure {
  const rows: WorkersRow[] = figures.map((f, i) => ({
    workers: WORKER_COUNTS[i],
    perSecond: f.perSecond,
    p99ms: f.p99ms,
    ofFloor: round(f.perSecond / floor.perSecond, 3),
    ofSpreadFloor: round(f.perSecond / spread.perSecond, 3),
    split: f.cpuSplit,
  }));
  return workersFigure(rows);
}

function printScans(r: ScansBenchResult): void {
  const rounds = (f: HttpRoundsFigure) => f.rounds.map((x) => fmt(x.perSecond)).join(' / ');
  const failed = (f: HttpRoundsFigure) => f.rounds.reduce((n, x) => n + x.non2xx + x.errors + x.timeouts, 0);
  const row = (what: string, f: HttpRoundsFigure, connections: number, ratio: string, note: string) => [
    what,
    String(connections),
    fmt(f.perSecond),
    ratio,
    fmt(f.p50ms),
    fmt(f.p99ms),
    cpuText(f),
    rounds(f),
    `${failed(f) ? `${fmt(failed(f))} failed` : 'all 2xx'}; ${note}`,
  ];
  const p99 = (ms: number) =>
    ms < r.aims.p99BelowMs ? `p99 met (< ${r.aims.p99BelowMs} ms)` : `p99 NOT MET (aim < ${r.aims.p99BelowMs} ms)`;
  console.log(heading('scans (issue 5): staff scans over HTTP with code verification and durable ledger writes'));
  console.log(
    `The service in a child process, autocannon in this one, loopback; ${r.setup.residents} residents' dynamic codes cycled at one venue; ${r.setup.durationSeconds} s per round, median of ${r.setup.rounds} rounds (scans, baseline and floor interleaved at ${r.setup.connections} connections).`,
  );
  const rows = [
    row(
      'minimal Koa POST, same-size JSON body (baseline)',
      r.baseline,
      r.setup.connections,
      '',
      'scripts/bench/minimal-koa.ts',
    ),
    row(
      'scans: POST /v1/scans',
      r.scans,
      r.scans.connections,
      fmtRatio(r.scans.ratio),
      `ratio ${aim(r.scans.ratio, r.aims.ratioAtLeast)}; ${p99(r.scans.p99ms)}`,
    ),
    row(
      "floor: verify + one fsync'd append only",
      r.floor,
      r.setup.connections,
      fmtRatio(r.floor.ratio),
      'scripts/bench/floor.ts: what no design of a scan can skip',
    ),
    row(
      `floor in ${r.floorSpread.processes} processes, nothing shared`,
      r.floorSpread,
      r.setup.connections,
      fmtRatio(r.floorSpread.ratio),
      'FLOOR_WORKERS: one LevelDB each, no single writer, no hand-over',
    ),
    row(
      'ledger floor: the floor, its record one ledger event',
      r.ledgerFloor,
      r.setup.connections,
      '',
      `FLOOR_LEDGER=1: ${fmtRatio(r.ledgerFloor.ofFloor)} of the floor; sequence, hash chain, two subject chains`,
    ),
    row(
      "required floor: the ledger floor and the project's rules",
      r.requiredFloor,
      r.setup.connections,
      '',
      `FLOOR_REQUIRED=1: ${fmtRatio(r.requiredFloor.ofFloor)} of the floor; staff token, venue, checks, policy, owner, retention index`,
    ),
  ];
  if (r.underP99Aim) {
    rows.push(
      row(
        'scans: POST /v1/scans, fewer connections',
        r.underP99Aim,
        r.underP99Aim.connections,
        fmtRatio(r.underP99Aim.ratio),
        `ratio ${aim(r.underP99Aim.ratio, r.aims.ratioAtLeast)}; ${p99(r.underP99Aim.p99ms)}`,
      ),
    );
  }
  console.log(
    table(
      ['what', 'conns', 'per second', '÷ baseline', 'p50 ms', 'p99 ms', 'server CPU µs/req', 'rounds', 'note'],
      rows,
    ),
  );
  console.log(cpuComparison('a scan', r.scans, r.baseline));
  console.log(floorText(r.floor, r.scans, r.aims.ratioAtLeast));
  console.log(spreadText(r.floorSpread, r.aims.ratioAtLeast));
  console.log(ofFloorText('staff scans', r.ofFloor, r.floorSpread.processes));
  console.log(ledgerFloorText('staff scans', r.ledgerFloor, r.floor, r.scans));
  console.log(requiredFloorText('staff scans', r.requiredFloor, r.scans));
  printWorkers('Staff scans', r.workers, r.setup.connections, r.floorSpread.processes);
  console.log(
    `Decisions with WORKERS: ${Object.entries(r.workerDecisions)
      .map(
        ([n, d]) =>
          `${n}: ${Object.entries(d)
            .map(([k, v]) => `${k} ${fmt(v)}`)
            .join(', ')}`,
      )
      .join('; ')}`,
  );
  if (r.probes.length) {
    console.log(
      `\nProbes for p99 < ${r.aims.p99BelowMs} ms (${SCANS_PROBE_S} s each): ${r.probes.map((p) => `${p.connections} conns ${fmt(p.perSecond)}/s p99 ${fmt(p.p99ms)} ms`).join('; ')}`,
    );
  }
  console.log(
    `Decisions: ${Object.entries(r.decisions)
      .map(([k, v]) => `${k} ${fmt(v)}`)
      .join(', ')}`,
  );
  console.log(
    `Aim (ratio ≥ ${r.aims.ratioAtLeast} with p99 < ${r.aims.p99BelowMs} ms): ${r.aims.met ? `met at ${r.aims.metAt} connections` : 'NOT MET'}`,
  );
  console.log(
    `Load average (1 min) before ${r.setup.loadAverage.before}, after ${r.setup.loadAverage.after} on ${cpus().length} cores: anything else running skews these figures.`,
  );
}
