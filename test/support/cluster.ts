import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { request, type Agent } from 'node:http';
import { join } from 'node:path';
import { openContext } from '../../server/bootstrap';
import { configSchema } from '../../server/config';
import { issueToken } from '../../server/http/auth';
import { SessionService, type VerifiedIdentity } from '../../server/identity/sessions';
import { ENV } from '../../server/cluster/protocol';
import { startServiceProcess, type ServiceProcess } from '../../scripts/lib/service-process';
import { until } from '../../scripts/lib/wait';
import { residentIdNumber } from './service';

/** A service started by `startCluster` (its listening line names the writer and workers). */
export type ClusterProcess = ServiceProcess;

/** Starts `server/main.ts` in its own process with `env` (WORKERS as given) on `dataDir`. */
export function startCluster(dataDir: string, env: Record<string, string>): Promise<ClusterProcess> {
  return startServiceProcess({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...env, DATA_DIR: dataDir });
}

/** What `seedDataDir` left in the folder, for the service started on it afterwards. */
export interface Seeded {
  admin: string;
  /** Resident sessions' access tokens, one per person. */
  residents: string[];
  /** An operator token that expired a day ago. */
  expiredOperator: string;
}

/**
 * Prepares a data folder before its service starts (which must then run with the same `env`):
 * resident sessions as a sign-in through the provider leaves them (`SessionService.open`, as
 * scripts/bench/sessions.ts does), and an operator token issued two days ago for one day,
 * which no API can make (the shortest life is a day).
 */
export async function seedDataDir(dataDir: string, env: Record<string, string>, people: number): Promise<Seeded> {
  const config = configSchema.parse({ ...env, DATA_DIR: dataDir });
  let now = () => new Date(Date.now() - 2 * 86_400_000);
  const app = await openContext(config, { env: {}, clock: () => now() });
  try {
    const expiredOperator = await app.ledger.transact(async (tx) => {
      const t = issueToken(tx, { role: 'operator', name: 'expired gate' }, 86_400_000);
      await tx.append({
        type: 'token.issued',
        subjects: ['access'],
        data: { id: t.id, role: 'operator', source: null, scope: null, by: 'admin', expiresAt: t.expiresAt },
      });
      return t.token;
    });
    now = () => new Date();
    const sessions = new SessionService(app);
    const residents = await app.ledger.transact(async (tx) => {
      const out: string[] = [];
      for (let i = 0; i < people; i++) {
        const identity: VerifiedIdentity = { idType: 'resident-id', idNumber: residentIdNumber(), name: '王小明' };
        const account = sessions.accountKey('test:seeded', `${identity.idType}:${identity.idNumber}`);
        out.push((await sessions.open(tx, identity, account)).access);
      }
      return out;
    });
    return { admin: app.secrets.adminToken, residents, expiredOperator };
  } finally {
    await app.ledger.close();
  }
}

/** What a resident applies with (who applies comes from the session). */
export const applicationBody = (i: number) => ({
  phone: `139${String(10_000_000 + i).padStart(8, '0')}`,
  district: '340104',
  declaration: { temperatureC: 36.5, symptoms: [], visited: [], contactWithCase: false },
});

export interface Answer<T = any> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
}

/**
 * One request on a connection of its own (so that the kernel, or the cluster's primary,
 * hands each to a worker anew rather than reusing a kept-alive one); the body is parsed as
 * JSON when it is. A connection error rejects.
 */
export function call(
  url: string,
  method: string,
  path: string,
  opts: {
    token?: string;
    body?: unknown;
    raw?: string;
    headers?: Record<string, string>;
    timeoutMs?: number;
    /** A keep-alive agent with one socket sends every call through the same worker; by default each call has its own connection. */
    agent?: Agent;
  } = {},
): Promise<Answer> {
  const payload = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (payload !== undefined) headers['content-type'] ??= 'application/json';
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method, headers, agent: opts.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // Not JSON: kept as text.
        }
        resolve({ status: res.statusCode!, headers: res.headers, body });
      });
    });
    req.on('error', reject);
    req.setTimeout(opts.timeoutMs ?? 20_000, () => req.destroy(new Error('timed out')));
    req.end(payload);
  });
}

/** A JSON POST that must succeed (2xx), for a test's setup. */
export async function setup(url: string, path: string, token: string, body: unknown): Promise<any> {
  const r = await call(url, 'POST', path, { token, body });
  if (r.status >= 300) throw new Error(`${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** An operator token (from the admin token) and the venue it registered. */
export async function gate(url: string, admin: string, name = '淮河路步行街百货大楼') {
  const t = await setup(url, '/v1/admin/tokens', admin, { role: 'operator', name: 'gate' });
  const venue = await setup(url, '/v1/venues', t.token as string, {
    type: 'crowded-place',
    subtype: 'mall',
    name,
    district: '340103',
  });
  return { operator: t.token as string, operatorId: t.id as string, venueId: venue.id as string };
}

/** Each resident applies with their session, then fetches their current dynamic code; resolves with the codes in order. */
export async function residentCodes(url: string, tokens: string[], first = 0): Promise<string[]> {
  const codes: string[] = new Array(tokens.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < tokens.length) {
        const i = next++;
        await setup(url, '/v1/residents', tokens[i], applicationBody(first + i));
        const r = await call(url, 'GET', '/v1/residents/me/code?mode=dynamic', { token: tokens[i] });
        if (r.status !== 200) throw new Error(`GET /v1/residents/me/code: ${r.status} ${JSON.stringify(r.body)}`);
        codes[i] = r.body.code as string;
      }
    }),
  );
  return codes;
}

/** Whether a process exists and is not a zombie waiting for its parent. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** The live children of `parent` that run as `role` (ANKANG_PROCESS: worker or writer), by /proc. */
export function childrenOf(parent: number, role: 'worker' | 'writer'): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) !== parent || state === 'Z') continue;
      const env = readFileSync(`/proc/${name}/environ`, 'utf8').split('\0');
      if (env.includes(`${ENV.role}=${role}`)) out.push(Number(name));
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return out;
}

/** The 127.0.0.1 TCP ports `pid` listens on: its sockets' inodes matched in /proc/net/tcp. */
export function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(join(`/proc/${pid}/fd`, fd)));
      if (m) inodes.add(m[1]);
    } catch {
      // Closed meanwhile.
    }
  }
  const ports: number[] = [];
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // local_address is HEXIP:HEXPORT; st 0A is LISTEN; the inode is the tenth field.
    if (f.length < 10 || f[3] !== '0A' || !inodes.has(f[9])) continue;
    const [ip, port] = f[1].split(':');
    if (ip === '0100007F') ports.push(parseInt(port, 16));
  }
  return ports;
}

/** Waits until none of `pids` is alive. */
export const allGone = (pids: number[], timeoutMs = 20_000) =>
  until(`pids ${pids.join(', ')} to exit`, () => pids.every((p) => !alive(p)), timeoutMs, 100);
