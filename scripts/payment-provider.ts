/**
 * `npm run payment-provider`: the ankang STAND-IN payment provider — not a real one; it moves
 * no money. It implements the provider side of 码上支付 (docs/payment-provider.md) so the
 * tests and the demo have a separate process to talk to: it opens accounts (and confirms a
 * resident's link request at Ankang with its feed token), and charges fare requests that a
 * transit operator submits, after checking them with nothing but a JOSE library
 * (scripts/lib/fare-check.ts). Balances are numbers in a JSON file.
 *
 * Settings (environment): PORT (0: the kernel picks), HOST (127.0.0.1), ANKANG_URL (the
 * issuer service), ANKANG_FEED_TOKEN (its feed token, source `payment`), PROVIDER_ID
 * (standin-pay), OPERATOR_KEYS (comma-separated API keys of transit operators), ISSUER_ID
 * (whose fare requests it accepts; default the first issuer of Ankang's trust list, its own),
 * DATA_FILE (accounts, balances and charged jtis as JSON, 0600; in memory without it),
 * TRUST_LIST_MIN_REFRESH_SECONDS (10), TRUST_LIST_MAX_AGE_SECONDS (300).
 * Prints one JSON line `{"msg":"ready","url":…}` when listening; stops on SIGINT or SIGTERM.
 */
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkFareRequest, type FareCheck, type FareTrustList } from './lib/fare-check';

const STAND_IN = 'ankang stand-in payment provider — not a real one; it moves no money';
// HTTP header values are Latin-1: the same words with a plain hyphen.
const SERVER_HEADER = STAND_IN.replace('—', '-');

const MAX_BODY_BYTES = 16 * 1024;
const MAX_BALANCE_FEN = 100_000_000;
const PROVIDER_ID = /^[a-z0-9-]{2,32}$/;

interface Settings {
  port: number;
  host: string;
  ankangUrl: string;
  feedToken: string | undefined;
  providerId: string;
  operatorKeys: Buffer[];
  issuerId: string | undefined;
  dataFile: string | undefined;
  minRefreshSeconds: number;
  maxAgeSeconds: number;
}

function settingsFrom(env: NodeJS.ProcessEnv): Settings {
  const int = (name: string, dflt: number) => {
    const v = env[name] === undefined || env[name] === '' ? dflt : Number(env[name]);
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${name} must be a whole number ≥ 0`);
    return v;
  };
  const providerId = env.PROVIDER_ID || 'standin-pay';
  if (!PROVIDER_ID.test(providerId)) throw new Error('PROVIDER_ID must be 2–32 of a-z, 0-9 and -');
  const operatorKeys = (env.OPERATOR_KEYS ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  if (!operatorKeys.length) throw new Error('OPERATOR_KEYS must name at least one transit operator API key');
  if (!env.ANKANG_URL) throw new Error('ANKANG_URL must name the Ankang service (for its trust list)');
  return {
    port: int('PORT', 8090),
    host: env.HOST || '127.0.0.1',
    ankangUrl: env.ANKANG_URL.replace(/\/+$/, ''),
    feedToken: env.ANKANG_FEED_TOKEN || undefined,
    providerId,
    operatorKeys: operatorKeys.map((k) => Buffer.from(k)),
    issuerId: env.ISSUER_ID || undefined,
    dataFile: env.DATA_FILE || undefined,
    minRefreshSeconds: int('TRUST_LIST_MIN_REFRESH_SECONDS', 10),
    maxAgeSeconds: int('TRUST_LIST_MAX_AGE_SECONDS', 300),
  };
}

interface Charge {
  id: string;
  jti: string;
  amount: number;
  currency: 'CNY';
  paidAt: string;
  desk: string;
  venue: string;
  lookup: number;
}

interface Account {
  balance: number;
  openedAt: string;
  charges: Charge[];
}

interface State {
  accounts: Record<string, Account>;
  /** Charged jtis and their request's exp: kept until a request that old is refused as expired anyway. */
  charged: Record<string, number>;
}

/** The stand-in's state, written whole to DATA_FILE (0600, fsync'd, renamed into place) before any answer that changed it. */
class Store {
  readonly state: State;

  constructor(private readonly file: string | undefined) {
    this.state =
      file && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as State) : { accounts: {}, charged: {} };
  }

  save(nowS: number): void {
    for (const [jti, exp] of Object.entries(this.state.charged)) if (exp <= nowS) delete this.state.charged[jti];
    if (!this.file) return;
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(this.state));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
  }
}

/** Ankang's trust list, fetched at first need, again when older than the max age, and on an unknown kid at most once per min-refresh interval. */
class TrustCache {
  private list: FareTrustList | undefined;
  private fetchedAt = -Infinity;
  private fetching: Promise<FareTrustList> | undefined;

  constructor(private readonly s: Settings) {}

  async get(nowS: number): Promise<FareTrustList> {
    if (this.list && nowS - this.fetchedAt < this.s.maxAgeSeconds) return this.list;
    return this.refresh(nowS);
  }

  /** Fetches again unless it did so within the min-refresh interval; false when it did not. */
  async refreshIfAllowed(nowS: number): Promise<boolean> {
    if (nowS - this.fetchedAt < this.s.minRefreshSeconds) return false;
    await this.refresh(nowS);
    return true;
  }

  private refresh(nowS: number): Promise<FareTrustList> {
    this.fetching ??= (async () => {
      try {
        const res = await fetch(`${this.s.ankangUrl}/v1/trust-list`, { signal: AbortSignal.timeout(5000) });
        if (!res.ok) throw new Error(`trust list: HTTP ${res.status}`);
        const list = (await res.json()) as FareTrustList;
        if (!Array.isArray(list?.issuers)) throw new Error('trust list: no issuers');
        this.list = list;
        this.fetchedAt = nowS;
        return list;
      } finally {
        this.fetching = undefined;
      }
    })();
    return this.fetching;
  }
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const CHECK_STATUS = { FARE_MALFORMED: 400, FARE_SIGNATURE_INVALID: 401, FARE_EXPIRED: 410 } as const;

function send(res: ServerResponse, status: number, body: unknown): void {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': bytes.length,
    'cache-control': 'no-store',
  });
  res.end(bytes);
}

async function readJson(req: IncomingMessage, malformed: string): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES)
      throw new HttpError(413, 'PAYLOAD_TOO_LARGE', `the body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  try {
    const v: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // Answered below.
  }
  throw new HttpError(400, malformed, 'the body must be a JSON object');
}

/** The provider: its HTTP handler and what it needs to stop. */
function createProvider(s: Settings) {
  const store = new Store(s.dataFile);
  const trust = new TrustCache(s);
  const nowS = () => Math.floor(Date.now() / 1000);
  const skew = 60;

  const operatorAllowed = (req: IncomingMessage) => {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    if (!m) return false;
    const given = Buffer.from(m[1]);
    return s.operatorKeys.some((k) => k.length === given.length && timingSafeEqual(k, given));
  };

  /** POST /v1/fares: the contract's one endpoint. */
  async function fare(req: IncomingMessage): Promise<[number, unknown]> {
    if (!operatorAllowed(req))
      throw new HttpError(401, 'UNAUTHENTICATED', 'a transit operator API key is required (Authorization: Bearer)');
    const body = await readJson(req, 'FARE_MALFORMED');
    const check = async (): Promise<FareCheck> => {
      const trustList = await trust.get(nowS());
      const issuers = s.issuerId ? [s.issuerId] : trustList.issuers.slice(0, 1).map((i) => i.id);
      return checkFareRequest(body.fareRequest, {
        trustList,
        issuers,
        provider: s.providerId,
        now: nowS(),
        skewSeconds: skew,
      });
    };
    let r: FareCheck;
    try {
      r = await check();
      if (!r.ok && r.unknownKid && (await trust.refreshIfAllowed(nowS()))) r = await check();
    } catch {
      throw new HttpError(503, 'TRUST_LIST_UNAVAILABLE', 'the issuer trust list cannot be fetched now; try again');
    }
    if (!r.ok) throw new HttpError(CHECK_STATUS[r.code], r.code, r.message);

    // From here to the write nothing awaits, so two submissions of one jti cannot both pass.
    const c = r.claims;
    if (store.state.charged[c.jti] !== undefined)
      throw new HttpError(409, 'FARE_REPLAYED', 'this fare request was already charged');
    const account = store.state.accounts[c.token];
    if (!account) throw new HttpError(404, 'ACCOUNT_UNKNOWN', 'no account holds this token');
    if (account.balance < c.amount)
      throw new HttpError(402, 'INSUFFICIENT_FUNDS', 'the balance does not cover the fare');
    const charge: Charge = {
      id: `rcp_${randomUUID()}`,
      jti: c.jti,
      amount: c.amount,
      currency: c.currency,
      paidAt: new Date().toISOString(),
      desk: c.desk,
      venue: c.venue,
      lookup: c.lookup,
    };
    account.balance -= c.amount;
    account.charges.push(charge);
    store.state.charged[c.jti] = c.exp;
    try {
      store.save(nowS());
    } catch (e) {
      account.balance += c.amount;
      account.charges.pop();
      delete store.state.charged[c.jti];
      throw e;
    }
    const { id, jti, amount, currency, paidAt } = charge;
    return [201, { receipt: { id, jti, amount, currency, paidAt, balance: account.balance } }];
  }

  /** POST /v1/accounts (stand-in only): opens an account; with a requestId, confirms the resident's link at Ankang first. */
  async function openAccount(req: IncomingMessage): Promise<[number, unknown]> {
    const body = await readJson(req, 'MALFORMED_JSON');
    const balance = body.balance ?? 0;
    if (!Number.isSafeInteger(balance) || (balance as number) < 0 || (balance as number) > MAX_BALANCE_FEN) {
      throw new HttpError(400, 'VALIDATION_FAILED', `balance must be whole fen, 0..${MAX_BALANCE_FEN}`);
    }
    const { requestId, idType, idNumber } = body;
    const token = `pay_${randomBytes(24).toString('base64url')}`;
    if (requestId !== undefined) {
      if (typeof requestId !== 'string' || typeof idType !== 'string' || typeof idNumber !== 'string') {
        throw new HttpError(
          400,
          'VALIDATION_FAILED',
          'requestId, idType and idNumber must be strings, all three together',
        );
      }
      if (!s.feedToken)
        throw new HttpError(503, 'LINKING_OFF', 'this provider has no Ankang feed token (ANKANG_FEED_TOKEN)');
      let res: Response;
      try {
        res = await fetch(`${s.ankangUrl}/v1/links/confirm`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${s.feedToken}` },
          body: JSON.stringify({ requestId, kind: 'payment', idType, idNumber, ref: token, provider: s.providerId }),
          signal: AbortSignal.timeout(10_000),
        });
      } catch {
        throw new HttpError(502, 'ANKANG_UNAVAILABLE', 'Ankang cannot be reached to confirm the link');
      }
      // Ankang's refusal is the caller's answer: its status and its error, as Ankang wrote them.
      if (!res.ok) {
        const answer = (await res.json().catch(() => undefined)) as
          { error?: { code?: unknown; message?: unknown } } | undefined;
        const code = typeof answer?.error?.code === 'string' ? answer.error.code : 'ANKANG_REFUSED';
        const message =
          typeof answer?.error?.message === 'string' ? answer.error.message : `Ankang answered ${res.status}`;
        throw new HttpError(res.status >= 500 ? 502 : res.status, code, message);
      }
    }
    store.state.accounts[token] = { balance: balance as number, openedAt: new Date().toISOString(), charges: [] };
    store.save(nowS());
    return [201, { token, balance, ...(requestId !== undefined ? { linked: true } : {}) }];
  }

  function showAccount(token: string): [number, unknown] {
    const a = store.state.accounts[token];
    if (!a) throw new HttpError(404, 'ACCOUNT_UNKNOWN', 'no account holds this token');
    return [200, { token, balance: a.balance, charges: a.charges }];
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('server', SERVER_HEADER);
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const account = /^\/v1\/accounts\/([A-Za-z0-9_-]{1,64})$/.exec(path);
    try {
      let answer: [number, unknown];
      if (path === '/v1/fares' && req.method === 'POST') answer = await fare(req);
      else if (path === '/v1/accounts' && req.method === 'POST') answer = await openAccount(req);
      else if (account && req.method === 'GET') answer = showAccount(account[1]);
      else if (path === '/healthz' && req.method === 'GET')
        answer = [200, { ok: true, provider: s.providerId, server: STAND_IN }];
      else if (['/v1/fares', '/v1/accounts', '/healthz'].includes(path) || account)
        throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed here`);
      else throw new HttpError(404, 'NOT_FOUND', 'no such route');
      send(res, answer[0], answer[1]);
      log({ msg: 'answered', method: req.method, path: account ? '/v1/accounts/:token' : path, status: answer[0] });
    } catch (e) {
      if (e instanceof HttpError) {
        send(res, e.status, { error: { code: e.code, message: e.message } });
        log({
          msg: 'answered',
          method: req.method,
          path: account ? '/v1/accounts/:token' : path,
          status: e.status,
          code: e.code,
        });
      } else {
        send(res, 500, { error: { code: 'INTERNAL', message: 'internal error' } });
        process.stderr.write(`${JSON.stringify({ msg: 'internal error', error: (e as Error).message })}\n`);
      }
    }
  }

  return { handle };
}

// Paths and codes only: never a body, a token or an ID number.
function log(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ at: new Date().toISOString(), ...line })}\n`);
}

async function main(): Promise<void> {
  const s = settingsFrom(process.env);
  const provider = createProvider(s);
  const server = createServer((req, res) => void provider.handle(req, res));
  server.keepAliveTimeout = 5000;
  await new Promise<void>((done, fail) => {
    server.once('listening', done);
    server.once('error', fail);
    server.listen(s.port, s.host);
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${s.host.includes(':') ? `[${s.host}]` : s.host}:${port}`;
  process.stdout.write(
    `${JSON.stringify({ msg: 'ready', url, provider: s.providerId, server: STAND_IN, ankang: s.ankangUrl, persisted: !!s.dataFile })}\n`,
  );

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
