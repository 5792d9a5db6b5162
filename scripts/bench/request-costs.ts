import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { seedFloorSessions } from './floor-sessions';
import {
  applying,
  BENCH_ENV,
  fetchingCodes,
  pause,
  people,
  posting,
  SessionPool,
  startChild,
  startSeededService,
  summarise,
  type AutocannonFigure,
  type Child,
  type Load,
  setupPost,
  benchGate,
} from './http';
import { fmt, fmtRatio, round, table } from './util';

/**
 * A short, narrow run for working on the request paths: the server CPU µs per application and
 * per staff scan of the service against the floor's (scripts/bench/floor.ts), interleaved in
 * the same run, so a change shows as a ratio even on a busy machine. Not part of `npm run bench`.
 *
 *   npx tsx scripts/bench/request-costs.ts
 *
 * COSTS_ROUNDS (default 3), COSTS_SECONDS per scan round (default 5), COSTS_APPS per
 * application round (default 4000). With COSTS_PROFILE_DIR the service runs under
 * the V8 profiler (profiled-service.ts) and writes a .cpuprofile there when it stops.
 * COSTS_ONLY picks loads (`apply,floorApply`, say); COSTS_WORKERS starts the service with
 * that many HTTP workers.
 */
const ROUNDS = Number(process.env.COSTS_ROUNDS ?? 3);
const SECONDS = Number(process.env.COSTS_SECONDS ?? 5);
const APPS = Number(process.env.COSTS_APPS ?? 4000);
const PROFILE_DIR = process.env.COSTS_PROFILE_DIR;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ankang-costs-'));
  const started: Child[] = [];
  const load1 = round(loadavg()[0], 2);
  try {
    const adminToken = `ak_admin_bench_${randomBytes(16).toString('hex')}`;
    const sessions = APPS * (ROUNDS + 2);
    const env: Record<string, string> = { ADMIN_TOKEN: adminToken };
    // COSTS_WORKERS=N: the service with N HTTP workers (with COSTS_PROFILE_DIR, the writer is profiled too).
    if (process.env.COSTS_WORKERS) env.WORKERS = process.env.COSTS_WORKERS;
    if (PROFILE_DIR) env.COSTS_PROFILE_DIR = PROFILE_DIR;
    const seeded = await startSeededService(
      join(dir, 'service'),
      people(0, sessions),
      env,
      PROFILE_DIR ? 'scripts/bench/profiled-service.ts' : 'server/main.ts',
    );
    started.push(seeded.service);
    const url = seeded.service.url;
    const floorKey = randomBytes(32);
    const floorTokens = await seedFloorSessions(
      join(dir, 'floor-sessions'),
      floorKey,
      people(70_000_000, APPS),
      Number(BENCH_ENV.SESSION_ACCESS_MINUTES) * 60_000,
    );
    const post = setupPost(url);
    const { operator, venueId } = await benchGate(post, adminToken);

    const pool = new SessionPool(seeded.tokens, 0, 'the application rounds');
    const tokens: string[] = [];
    const apply = applying(url, '/v1/residents', pool, (token) => tokens.push(token));
    await apply({ amount: APPS });
    const codes: string[] = [];
    await fetchingCodes(url, 'dynamic', tokens.slice(0, 2000), (status, body) => {
      const m = status === 200 ? /"code":"(AK1:[^"]+)"/.exec(body) : null;
      if (m) codes.push(m[1]);
    })({ amount: Math.min(2000, tokens.length) });
    const trustList = await (await fetch(`${url}/v1/trust-list`)).text();
    /** The floor in its own folder; with `extra`, the ledger floor (FLOOR_LEDGER). */
    const startFloor = async (folder: string, extra: Record<string, string> = {}) => {
      const child = await startChild('scripts/bench/floor.ts', {
        PORT: '0',
        HOST: '127.0.0.1',
        FLOOR_DATA_DIR: join(dir, folder),
        FLOOR_TRUST_LIST: trustList,
        FLOOR_SESSIONS_DIR: join(dir, 'floor-sessions'),
        FLOOR_ENCRYPTION_KEY: floorKey.toString('base64'),
        ...extra,
      });
      started.push(child);
      return child;
    };
    const floor = await startFloor('floor');
    const ledgerFloor = await startFloor('ledger-floor', { FLOOR_LEDGER: '1' });
    // The required floor's gate: its own staff token for the same venue.
    const floorGate = `ak_bench_gate_${randomBytes(16).toString('hex')}`;
    const requiredFloor = await startFloor('required-floor', {
      FLOOR_LEDGER: '1',
      FLOOR_REQUIRED: '1',
      FLOOR_STAFF: JSON.stringify({ token: floorGate, venueId, type: 'crowded-place', district: '340103' }),
    });

    const scanBody = (code: string) => JSON.stringify({ venueId, code, temperatureC: 36.5 });
    const bad: Record<string, number> = {};
    const tally = (what: string) => (status: number, body: string) => {
      if (status !== 201)
        bad[`${what} ${status} ${body.slice(0, 80)}`] = (bad[`${what} ${status} ${body.slice(0, 80)}`] ?? 0) + 1;
    };
    const scan = posting(url, '/v1/scans', (i) => scanBody(codes[i % codes.length]), {
      headers: { authorization: `Bearer ${operator}` },
      onResponse: tally('scan'),
    });
    /** A floor's two loads: scans of the same codes, and applications cycling through the floor's sessions. */
    const floorLoads = (at: Child, what: string, headers: Record<string, string> = {}): [Load, Load] => [
      posting(at.url, '/v1/floor-scan', (i) => scanBody(codes[i % codes.length]), {
        headers,
        onResponse: tally(`${what} scan`),
      }),
      applying(at.url, '/v1/floor-apply', new SessionPool(floorTokens, 70_000_000, what, { cycle: true })),
    ];
    const [floorScan, floorApply] = floorLoads(floor, 'the floor');
    const [ledgerFloorScan, ledgerFloorApply] = floorLoads(ledgerFloor, 'the ledger floor');
    const [requiredFloorScan, requiredFloorApply] = floorLoads(requiredFloor, 'the required floor', {
      authorization: `Bearer ${floorGate}`,
    });
    const loads: Record<string, Load> = {
      apply,
      floorApply,
      ledgerFloorApply,
      requiredFloorApply,
      scan,
      floorScan,
      ledgerFloorScan,
      requiredFloorScan,
    };
    const opts = (name: string) => (name.toLowerCase().includes('apply') ? { amount: APPS } : { duration: SECONDS });
    // COSTS_ONLY=scan,floorScan (say): only those loads' rounds, e.g. for a profile of one path.
    const only = process.env.COSTS_ONLY?.split(',');
    const names = Object.keys(loads).filter((n) => !only || only.includes(n));
    for (const name of names.filter((n) => n !== 'apply')) await loads[name]({ duration: 2 });
    const rounds: Record<string, AutocannonFigure[]> = Object.fromEntries(Object.keys(loads).map((n) => [n, []]));
    for (let r = 0; r < ROUNDS; r++) {
      for (let k = 0; k < names.length; k++) {
        const name = names[(r + k) % names.length];
        await pause(300);
        rounds[name].push(await loads[name](opts(name)));
      }
    }
    const f = Object.fromEntries(names.map((n) => [n, summarise(rounds[n])]));
    const row = (what: string, s: ReturnType<typeof summarise>, floorOf: ReturnType<typeof summarise>) => [
      what,
      fmt(s.perSecond),
      fmtRatio(s.perSecond / floorOf.perSecond),
      fmt(s.serverCpuUsPerRequest ?? NaN),
      fmtRatio((s.serverCpuUsPerRequest ?? NaN) / (floorOf.serverCpuUsPerRequest ?? NaN)),
      fmt(s.p99ms),
      rounds[Object.keys(f).find((k) => f[k] === s)!].map((x) => fmt(x.serverCpuUsPerRequest ?? NaN)).join(' / '),
    ];
    console.log(
      table(
        ['what', 'per second', '÷ floor', 'server CPU µs', '÷ floor', 'p99 ms', 'CPU µs rounds'],
        (
          [
            ['application', 'apply', 'floorApply'],
            ['floor application', 'floorApply', 'floorApply'],
            ['ledger floor application', 'ledgerFloorApply', 'floorApply'],
            ['required floor application', 'requiredFloorApply', 'floorApply'],
            ['staff scan', 'scan', 'floorScan'],
            ['floor scan', 'floorScan', 'floorScan'],
            ['ledger floor scan', 'ledgerFloorScan', 'floorScan'],
            ['required floor scan', 'requiredFloorScan', 'floorScan'],
          ] as const
        )
          .filter(([, n, of]) => f[n] && f[of])
          .map(([what, n, of]) => row(what, f[n], f[of])),
      ),
    );
    if (Object.keys(bad).length) console.log('not 201:', bad);
    console.log(`load average (1 min) before ${load1}, after ${round(loadavg()[0], 2)}`);
  } finally {
    for (const c of started.reverse()) await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

void main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
