import { pathToFileURL } from 'node:url';
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { outboxFile, startService, type RunningService } from '../../server/bootstrap';
import type { SignInIdentity } from '../../server/idp/drive';
import { signIn, type ResidentSession } from '../../scripts/lib/sign-in';
import { configSchema } from '../../server/config';
import { gb11643CheckChar } from '../../server/domain/identity';
import { createLogger } from '../../server/http/log';
import { tempDir } from './tmp';

/** The repository root, for child processes. */
export const ROOT = resolve(__dirname, '..', '..');

/** 2026-03-10T02:00:00Z (10:00 in Shanghai): where test clocks start. */
export const START = Date.parse('2026-03-10T02:00:00Z');
export const MINUTE = 60_000;
export const DAY = 86_400_000;

/** A clock that stands still until a test moves it. */
export class TestClock {
  constructor(public ms = START) {}
  readonly now = (): Date => new Date(this.ms);
  advance(ms: number): void {
    this.ms += ms;
  }
  get seconds(): number {
    return Math.floor(this.ms / 1000);
  }
}

/** The wall clock in TestClock's shape: for a service whose anchorer paces checkpoints by real time. */
export class WallClock extends TestClock {
  override readonly now = (): Date => new Date();
}

export interface TestServiceOptions {
  /** Reuse a data folder (a restart); a fresh temp folder otherwise. */
  dir?: string;
  clock?: TestClock;
  /** Extra configuration, as environment strings or values. */
  config?: Record<string, unknown>;
  /** Capture the server's log lines at this level into `logs`. */
  captureLog?: 'debug' | 'info';
}

export interface Reply<T = any> {
  status: number;
  headers: Headers;
  /** Parsed JSON when the response is JSON, else undefined. */
  body: T;
  bytes: Buffer;
}

export interface CallOptions {
  token?: string;
  /** A JSON value, sent as application/json. */
  json?: unknown;
  /** Raw bytes or text, sent as is (set content-type in headers). */
  raw?: string | Buffer;
  headers?: Record<string, string>;
}

/** A service on an ephemeral port with a real LevelDB in a temp folder. */
export interface TestService {
  running: RunningService;
  url: string;
  dir: string;
  clock: TestClock;
  adminToken: string;
  /** Log lines written by the server (when `captureLog` was set). */
  logs: string[];
  call<T = any>(method: string, path: string, opts?: CallOptions): Promise<Reply<T>>;
  /** The development SMS outbox the embedded identity provider and re-binds write codes to. */
  outbox: string;
  /**
   * Signs a person in through the embedded identity provider over real HTTP (phone, texted
   * code, sign-up the first time) and returns the session's tokens.
   */
  signIn(person: SignInIdentity): Promise<ResidentSession>;
  /** Creates an authority token through POST /v1/admin/tokens (an operator without a scope gets the service's default one). */
  token(role: string, extra?: { source?: string; name?: string; scope?: Record<string, string[]> }): Promise<string>;
  head(): Promise<{ seq: number; hash: string }>;
  /** Stops the service, keeping the data folder. */
  stop(): Promise<void>;
  /** Stops the service and removes its data folder (unless it was passed in). */
  close(): Promise<void>;
}

/**
 * Tests sign in hundreds of people from one address and move their clocks by weeks: the
 * abuse limits are raised and sessions and tokens outlive the clock's moves, unless a test
 * sets its own. The defaults themselves are tested where limits and expiry are.
 */
const TEST_DEFAULTS = {
  SESSION_ACCESS_MINUTES: 43_200,
  SESSION_DAYS: 365,
  STAFF_TOKEN_TTL_DAYS: 365,
  IDP_SENDS_PER_PHONE: 1_000,
  IDP_SENDS_PER_ADDRESS: 1_000_000,
  IDP_CHECKS_PER_ADDRESS: 1_000_000,
  IDP_SIGNUPS_PER_ADDRESS: 1_000_000,
  RATE_APPLY_PER_ADDRESS: 1_000_000,
  RATE_APPLY_PER_RESIDENT: 1_000_000,
  RATE_SIGNIN_PER_ADDRESS: 1_000_000,
};

export async function startTestService(opts: TestServiceOptions = {}): Promise<TestService> {
  const tmp = opts.dir ? undefined : tempDir('ankang-svc-');
  const dir = opts.dir ?? tmp!.dir;
  const clock = opts.clock ?? new TestClock();
  const logs: string[] = [];
  const config = configSchema.parse({
    PORT: 0,
    DATA_DIR: dir,
    LOG_LEVEL: opts.captureLog ?? 'silent',
    ...TEST_DEFAULTS,
    ...opts.config,
  });
  const running = await startService(config, {
    clock: clock.now,
    // Secrets come from DATA_DIR, never from the environment the tests run in.
    env: {},
    ...(opts.captureLog ? { log: createLogger(opts.captureLog, (l) => logs.push(l)) } : {}),
  });
  let stopped = false;
  const call = async <T = any>(method: string, path: string, o: CallOptions = {}): Promise<Reply<T>> => {
    const headers: Record<string, string> = { ...o.headers };
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    let body: string | Uint8Array<ArrayBuffer> | undefined =
      typeof o.raw === 'string' || o.raw === undefined ? o.raw : new Uint8Array(o.raw);
    if (o.json !== undefined) {
      body = JSON.stringify(o.json);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(running.url + path, { method, headers, body });
    const bytes = Buffer.from(await res.arrayBuffer());
    const type = res.headers.get('content-type') ?? '';
    return {
      status: res.status,
      headers: res.headers,
      bytes,
      body: (type.includes('json') ? JSON.parse(bytes.toString('utf8')) : undefined) as T,
    };
  };
  const svc: TestService = {
    running,
    url: running.url,
    dir,
    clock,
    adminToken: running.app.secrets.adminToken,
    logs,
    call,
    outbox: outboxFile(config),
    signIn: (person) => signIn(running.url, person, { codes: outboxFile(config) }),
    async token(role, extra = {}) {
      const json = {
        role,
        name: extra.name ?? `${role} test`,
        ...(extra.source ? { source: extra.source } : {}),
        ...(extra.scope ? { scope: extra.scope } : {}),
      };
      const r = await call('POST', '/v1/admin/tokens', { token: svc.adminToken, json });
      if (r.status !== 201) throw new Error(`token for ${role}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.token as string;
    },
    async head() {
      return (await call('GET', '/v1/ledger/head')).body;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await running.close();
    },
    async close() {
      await svc.stop();
      tmp?.cleanup();
    },
  };
  return svc;
}

let serial = 0;
const HAN = '安康和平春夏秋冬梅兰竹菊松柏山河云海明月星辰金玉晨曦';

function nextSerial(): number {
  return serial++;
}

/** The date `n` days after 1950-01-01 as YYYYMMDD. */
function birthDate(n: number): string {
  return new Date(Date.UTC(1950, 0, 1) + (n % 20000) * DAY).toISOString().slice(0, 10).replace(/-/g, '');
}

/** A resident ID number (GB 11643) with a correct check character, different on every call. */
export function residentIdNumber(region = '340104'): string {
  const n = nextSerial();
  const first17 = `${region}${birthDate(n * 37)}${String(n % 1000).padStart(3, '0')}`;
  return first17 + gb11643CheckChar(first17);
}

/** The same number with a check character that does not match. */
export function withWrongCheckChar(id: string): string {
  const right = id[17];
  const wrong = right === '0' ? '1' : '0';
  return id.slice(0, 17) + wrong;
}

export type IdType = 'resident-id' | 'passport' | 'hk-macao-permit' | 'taiwan-permit';

/** A valid, fresh ID number of the given type. */
export function idNumberOf(type: IdType): string {
  switch (type) {
    case 'resident-id':
      return residentIdNumber();
    case 'passport':
      return `E${String(10_000_000 + nextSerial()).slice(-8)}`;
    case 'hk-macao-permit':
      return `H${String(20_000_000 + nextSerial()).slice(-8)}`;
    case 'taiwan-permit':
      return String(30_000_000 + nextSerial());
  }
}

/** A distinctive three-character Chinese name. */
export function personName(): string {
  const n = nextSerial();
  return `欧${HAN[n % HAN.length]}${HAN[Math.floor(n / HAN.length) % HAN.length]}${HAN[(n * 7 + 3) % HAN.length]}`;
}

export function phoneNumber(): string {
  return `139${String(10_000_000 + nextSerial()).slice(-8)}`;
}

export interface Declaration {
  temperatureC: number;
  symptoms?: string[];
  visited?: Array<{ region: string; date: string }>;
  contactWithCase?: boolean;
}

export interface Application {
  idType: IdType;
  idNumber: string;
  name: string;
  phone: string;
  district: string;
  declaration: Declaration;
}

/** A valid application body for a new person (a healthy one unless told otherwise). */
export function applicant(overrides: Partial<Application> = {}): Application {
  const idType = overrides.idType ?? 'resident-id';
  return {
    idType,
    idNumber: idNumberOf(idType),
    name: personName(),
    phone: phoneNumber(),
    district: '340104',
    declaration: { temperatureC: 36.6, symptoms: [], visited: [], contactWithCase: false },
    ...overrides,
  };
}

export type Applied = Reply & { token: string; session: ResidentSession };

const sessions = new WeakMap<TestService, Map<string, ResidentSession>>();

/**
 * A session for the person an application body names, signed in through the embedded
 * provider the first time and reused after that (per service, per ID).
 */
export async function sessionFor(
  svc: TestService,
  person: Pick<Application, 'idType' | 'idNumber' | 'name' | 'phone'>,
): Promise<ResidentSession> {
  const known = sessions.get(svc) ?? new Map<string, ResidentSession>();
  sessions.set(svc, known);
  const key = `${person.idType}:${person.idNumber}`;
  const s =
    known.get(key) ??
    (await svc.signIn({ idType: person.idType, idNumber: person.idNumber, name: person.name, phone: person.phone }));
  known.set(key, s);
  return s;
}

/**
 * POST /v1/residents as the person the body names: signed in first (see `sessionFor`), then
 * the body sent as is (an ID in the body must be the signed-in one). The reply carries the
 * session's access token as `token`.
 */
export async function apply(
  svc: TestService,
  body: Application | Record<string, unknown>,
  opts: { idempotencyKey?: string; session?: ResidentSession } = {},
): Promise<Applied> {
  const session = opts.session ?? (await sessionFor(svc, body as Application));
  const r = await svc.call('POST', '/v1/residents', {
    token: session.access,
    json: body,
    headers: opts.idempotencyKey ? { 'idempotency-key': opts.idempotencyKey } : {},
  });
  return Object.assign(r, { token: session.access, session });
}

/** A YYYY-MM-DD date (Asia/Shanghai calendar) `daysAgo` days before the clock. */
export function shanghaiDate(clock: TestClock, daysAgo: number): string {
  return new Date(clock.ms - daysAgo * DAY + 8 * 3_600_000).toISOString().slice(0, 10);
}

/** Runs `npx tsx scripts/ledger-verify.ts` and collects its output. */
/** tsx by absolute URL, so a script can run with any folder as its working directory. */
const TSX = pathToFileURL(require.resolve('tsx')).href;

/** Runs `npm run ledger:verify` (scripts/ledger-verify.ts) in `cwd` (the repository unless given); undefined values in `env` unset a setting. */
export function runLedgerVerify(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  cwd = ROOT,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runChild(process.execPath, ['--import', TSX, join(ROOT, 'scripts', 'ledger-verify.ts'), ...args], env, cwd);
}

export function runChild(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  cwd = ROOT,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    const child: ChildProcess = spawn(cmd, args, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolveRun({ code, stdout, stderr }));
  });
}
