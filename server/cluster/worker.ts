import { Agent, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import Koa from 'koa';
import Router from '@koa/router';
import { LedgerUnavailableError } from '../../ledger/ledger';
import type { CodeMode } from '../../verifier/src';
import { errorResponses, ledgerError, refuseCrossSite, requestLog } from '../app';
import type { Config } from '../config';
import { ServiceError, type ErrorCode } from '../errors';
import { jsonBody } from '../http/body';
import { hashToken, principalsFrom, requireSession, type Principal } from '../http/auth';
import { apiHeaders } from '../http/headers';
import { createLogger, type Logger } from '../http/log';
import { addressKey } from '../http/address';
import { UnknownTokens } from '../http/rate-limit';
import { Metrics } from '../http/metrics';
import { requireGrant } from '../http/permissions';
import { createHttpServer, drainHttpServer } from '../http/server';
import { sendStatusList, sendTrustList } from '../routes/issuer';
import { addSessionRoute, type SessionIdentity } from '../routes/auth';
import { addCodeRoutes, addRecordRoute } from '../routes/residents';
import { addPages } from '../routes/pages';
import { Idempotency } from '../services/idempotency';
import { applySchema, type IssuedCode } from '../services/residents';
import { staffScanSchema, verifyShownCode } from '../services/scans';
import {
  readFrames,
  sendFrame,
  WORKER_CLIENT_HEADER,
  METRICS_PUSH_MS,
  WORKER_SECRET_HEADER,
  type CodeAnswer,
  type NoticeFrame,
  type SupervisorMessage,
  type TrustSnapshot,
  type WorkerRequest,
  type WriterReply,
} from './protocol';

/** How long a worker trusts a token's record without asking the writer again (a revocation is pushed at once anyway). */
const TOKEN_CACHE_MS = 60_000;
const TOKEN_CACHE_MAX = 10_000;
/** How soon a worker links again after the writer closed its channel (it had not acknowledged a notice in time). */
const RELINK_MS = 200;
/** The largest frame a worker takes from the writer (which it trusts): room for a province's status list. */
const WRITER_FRAME_MAX = 256 * 1024 * 1024;

/** The writer is down: the answer a refused ledger write gets (503, Retry-After). */
const unavailable = () => ledgerError(new LedgerUnavailableError('the ledger writer is not connected'));

/** A resident's own record and current code (as JSON, PNG or SVG): `addRecordRoute`, `addCodeRoutes`. */
const ownPath = (path: string) => path === '/v1/residents/me' || path.startsWith('/v1/residents/me/code');
/** Who the browser is (addSessionRoute): every page asks it when it opens. */
const SESSION_PATH = '/v1/auth/session';
/** Routes a worker authenticates for as the writer's `authenticate` would (bearer header, or each page cookie). */
const authenticatedHere = (path: string) => ownPath(path) || path === SESSION_PATH;
/** How long a worker keeps a resident's record without asking again (every write to it is pushed anyway). */
const RECORD_CACHE_MS = 60_000;
/** Code answers a worker keeps (a resident has two: dynamic and printed), and records. */
const CODE_CACHE_MAX = 20_000;
/** Changes remembered one by one before they are forgotten wholesale (then every answer in flight counts as crossed). */
const CHANGES_MAX = 50_000;

/** Changes remembered per key; a key changed more often since a question counts as crossed however many. */
const CHANGES_PER_KEY = 8;

/**
 * Which cached keys the writer has said changed, and when (a running count of notices): an
 * answer asked for before a change to its key crossed that change, so it is used once and
 * never cached, unless the answer's own transaction made that change. Per key, so a busy
 * ledger's other writes do not keep every answer uncached.
 */
export class ChangeLog {
  private seq = 0;
  /** Answers asked for before this count may have crossed a change no longer remembered. */
  private floor = 0;
  /** Per key, the counts at its last CHANGES_PER_KEY changes, oldest first. */
  private readonly changed = new Map<string, number[]>();

  /** The count to ask a question at. */
  now(): number {
    return this.seq;
  }

  change(key: string): void {
    const at = this.changed.get(key);
    if (at) {
      at.push(++this.seq);
      if (at.length > CHANGES_PER_KEY) at.shift();
    } else this.changed.set(key, [++this.seq]);
    if (this.changed.size > CHANGES_MAX) this.changeAll();
  }

  changeAll(): void {
    this.changed.clear();
    this.floor = ++this.seq;
  }

  /** How many changes to `key` were announced after `since`; Infinity when the log can no longer tell. */
  changesSince(since: number, key: string): number {
    if (since < this.floor) return Infinity;
    const at = this.changed.get(key) ?? [];
    // Older changes were let go: one of them may also have come after `since`.
    if (at.length === CHANGES_PER_KEY && at[0] > since) return Infinity;
    return at.filter((n) => n > since).length;
  }

  /** Whether nothing said `key` changed after `since`. */
  unchangedSince(since: number, ...keys: string[]): boolean {
    return keys.every((k) => this.changesSince(since, k) === 0);
  }
}

/** Answers a worker keeps, each until its own time; past CODE_CACHE_MAX of them, all go at once. */
class Kept<V> {
  private readonly answers = new Map<string, { value: V; until: number }>();

  /** The answer kept under `key`, while its time lasts. */
  get(key: string): V | undefined {
    const hit = this.answers.get(key);
    return hit && hit.until > Date.now() ? hit.value : undefined;
  }

  set(key: string, value: V, until: number): void {
    if (this.answers.size >= CODE_CACHE_MAX) this.answers.clear();
    this.answers.set(key, { value, until });
  }

  delete(key: string): void {
    this.answers.delete(key);
  }

  clear(): void {
    this.answers.clear();
  }
}

/** Distributes Omit over a union, so each request keeps its own fields. */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/**
 * A worker's connection to the writer's message channel: calls with replies, the trust list
 * it pushes, and a cache of token records it keeps current by the hashes it pushes.
 */
class WriterLink {
  private socket: Socket | undefined;
  /** The writer's channel while the supervisor says the writer is up: the link is made again if it breaks. */
  private port: number | undefined;
  private relink: NodeJS.Timeout | undefined;
  private ready = false;
  /** The last notice applied, and whether its acknowledgement is on its way (one per turn of the event loop). */
  private applied = 0;
  private ackQueued = false;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  private readonly tokens = new Map<string, { p: Principal; until: number }>();
  /** The cached tokens of each resident, by pseudonym: a new binding makes their principals stale. */
  private readonly tokensOf = new Map<string, string[]>();
  /** Resident code answers by `<pseudonym>/<mode>`, each until the writer said it stays. */
  private readonly codes = new Kept<IssuedCode>();
  /** Residents' own records (GET /v1/residents/me) by pseudonym, until the writer names them. */
  private readonly records = new Kept<unknown>();
  /** Resident sessions' masked identities by session id, each for at most RECORD_CACHE_MS. */
  private readonly identities = new Kept<SessionIdentity>();
  /** Keys the writer said changed: `t:<token hash>` and `p:<pseudonym>` (a record or its binding). */
  private readonly changes = new ChangeLog();
  trust: TrustSnapshot | undefined;
  /** The writer's signed status list, until a status changes or it ages. */
  private statusList: { bytes: Uint8Array; issuedAt: number } | undefined;
  private statusGeneration = 0;

  constructor(
    private readonly secret: string,
    private readonly log: Logger,
    /** Counts the tokens the writer did not know, by client address, and stops asking for a flooding one's. */
    private readonly unknown: UnknownTokens,
  ) {}

  get up(): boolean {
    return this.ready && this.trust !== undefined;
  }

  connect(port: number): void {
    clearTimeout(this.relink);
    this.reset();
    this.port = port;
    const socket = connect(port, '127.0.0.1');
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (this.socket !== socket) return;
      // Requests in flight get 503 LEDGER_UNAVAILABLE. A writer that died is the supervisor's to
      // report (writer-down, then the next writer's ports); one that closed this worker's channel
      // for an unacknowledged notice is linked to again, with every cache emptied meanwhile.
      if (this.ready) this.log.warn('the ledger writer closed the channel', {});
      this.reset();
      this.relink = setTimeout(() => this.port === port && this.connect(port), RELINK_MS);
    });
    // The writer's frames include the signed status list: 2 bits a resident, 32 MB for 128 million entries.
    readFrames(
      socket,
      (value) => this.onFrame(value as WriterReply | NoticeFrame),
      () => WRITER_FRAME_MAX,
    );
    const hello = this.nextId++;
    this.pending.set(hello, {
      resolve: () => (this.ready = true),
      reject: () => undefined,
    });
    sendFrame(socket, { id: hello, op: 'hello', secret: this.secret } satisfies WorkerRequest);
  }

  /**
   * The signed status list: the copy this worker holds while no status has changed and it is
   * younger than `maxAgeSeconds`, else the writer's (kept unless a status changed meanwhile).
   */
  async signedStatusList(maxAgeSeconds: number): Promise<{ bytes: Uint8Array; issuedAt: number }> {
    const held = this.statusList;
    if (held && Date.now() / 1000 - held.issuedAt < maxAgeSeconds) return held;
    const generation = this.statusGeneration;
    const list = await this.call<{ bytes: Uint8Array; issuedAt: number }>({ op: 'status-list' });
    if (generation === this.statusGeneration) this.statusList = list;
    return list;
  }

  /** The writer is gone (the supervisor says so): every call waiting on it fails as the ledger being unavailable. */
  drop(): void {
    this.port = undefined;
    clearTimeout(this.relink);
    this.reset();
  }

  /** Unlinked: nothing cached is current any more, and calls in flight fail. */
  private reset(): void {
    const s = this.socket;
    this.socket = undefined;
    this.ready = false;
    this.applied = 0;
    this.trust = undefined;
    this.statusList = undefined;
    this.statusGeneration++;
    this.tokens.clear();
    this.tokensOf.clear();
    this.codes.clear();
    this.records.clear();
    this.changes.changeAll();
    s?.destroy();
    for (const p of this.pending.values()) p.reject(unavailable());
    this.pending.clear();
  }

  private onFrame(msg: WriterReply | NoticeFrame): void {
    if ('op' in msg) {
      this.apply(msg);
      // Applied: the writer may answer what it held for this notice (server/cluster/notices.ts).
      this.applied = msg.seq;
      if (!this.ackQueued) {
        this.ackQueued = true;
        process.nextTick(() => {
          this.ackQueued = false;
          this.notify({ op: 'ack', seq: this.applied });
        });
      }
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.value);
    else {
      const e = new ServiceError(msg.error.code as ErrorCode, msg.error.message, msg.error.fields);
      e.retryAfterSeconds = msg.error.retryAfterSeconds;
      p.reject(e);
    }
  }

  /** Brings the caches in line with a notice. */
  private apply(msg: NoticeFrame): void {
    if (msg.op === 'trust') this.trust = msg.trust;
    else if (msg.op === 'statuses') {
      this.statusList = undefined;
      this.statusGeneration++;
    } else if (msg.op === 'tokens') {
      for (const h of msg.hashes) {
        this.tokens.delete(h);
        this.changes.change(`t:${h}`);
      }
    } else if (msg.op === 'residents') {
      for (const p of msg.pseudonyms) {
        this.codes.delete(`${p}/dynamic`);
        this.codes.delete(`${p}/printed`);
        this.records.delete(p);
        this.changes.change(`p:${p}`);
        // A principal carries its account's binding to the record: a new binding makes it stale.
        for (const h of this.tokensOf.get(p) ?? []) this.tokens.delete(h);
        this.tokensOf.delete(p);
      }
    } else {
      // New rules or keys change codes, not records; a record's reasons change only when it is written.
      this.codes.clear();
      this.changes.changeAll();
    }
  }

  call<T>(req: WithoutId<WorkerRequest>): Promise<T> {
    if (!this.socket || !this.ready) return Promise.reject(unavailable());
    const id = this.nextId++;
    const socket = this.socket;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      sendFrame(socket, { ...req, id } as WorkerRequest);
    });
  }

  /** Sends a message that needs no answer (dropped while the writer is down). */
  notify(req: WithoutId<WorkerRequest>): void {
    if (this.socket && this.ready) sendFrame(this.socket, { ...req, id: this.nextId++ } as WorkerRequest);
  }

  /**
   * A token's principal: from the cache while it holds, else the writer's answer (cached unless
   * a token changed meanwhile), unless the client's `address` (an `addressKey`) is over its
   * limit of unknown tokens.
   */
  async principal(token: string, address: string | undefined): Promise<Principal> {
    const hash = hashToken(token);
    const now = Date.now();
    const hit = this.tokens.get(hash);
    let p: Principal;
    if (hit && hit.until > now) p = hit.p;
    else {
      const asked = this.changes.now();
      p = await this.unknown.lookUp(address, () => this.call<Principal>({ op: 'auth', hash }));
      const keys = [`t:${hash}`, ...(p.pseudonym ? [`p:${p.pseudonym}`] : [])];
      if (this.changes.unchangedSince(asked, ...keys)) {
        if (this.tokens.size >= TOKEN_CACHE_MAX) {
          this.tokens.clear();
          this.tokensOf.clear();
        }
        this.tokens.set(hash, { p, until: now + TOKEN_CACHE_MS });
        if (p.pseudonym) this.tokensOf.set(p.pseudonym, [...(this.tokensOf.get(p.pseudonym) ?? []), hash]);
      }
    }
    if (p.expiresAt && Date.parse(p.expiresAt) <= Date.now())
      throw new ServiceError('TOKEN_EXPIRED', 'the token has expired');
    return p;
  }

  /**
   * A resident's current code of a mode: the writer's last answer while it stays (its refresh
   * time, the record's next review, no notice since), else the writer's new one.
   */
  async code(p: Principal, mode: CodeMode): Promise<IssuedCode> {
    const key = `${p.pseudonym}/${mode}`;
    const hit = this.codes.get(key);
    if (hit) return hit;
    const asked = this.changes.now();
    const answer = await this.call<CodeAnswer>({ op: 'code', principal: p, mode });
    // The changes its own transaction made (a new code written into the record) were announced before it came.
    if (this.changes.changesSince(asked, `p:${p.pseudonym}`) === answer.wrote)
      this.codes.set(key, answer.code, answer.until);
    return answer.code;
  }

  /**
   * A resident session's masked identity: the writer's answer, kept for at most
   * RECORD_CACHE_MS (a session's identity never changes; a closed session's tokens stop
   * opening anything, so its entry is never reached again).
   */
  async sessionIdentity(p: Principal): Promise<SessionIdentity> {
    const hit = this.identities.get(p.session!);
    if (hit) return hit;
    const identity = await this.call<SessionIdentity>({ op: 'session', principal: p });
    this.identities.set(p.session!, identity, Date.now() + RECORD_CACHE_MS);
    return identity;
  }

  /** A resident's own record: the writer's last answer until it names the resident (at most RECORD_CACHE_MS), else its new one. */
  async record(p: Principal): Promise<unknown> {
    const hit = this.records.get(p.pseudonym!);
    if (hit !== undefined) return hit;
    const asked = this.changes.now();
    const body = await this.call<unknown>({ op: 'record', principal: p });
    if (this.changes.unchangedSince(asked, `p:${p.pseudonym}`))
      this.records.set(p.pseudonym!, body, Date.now() + RECORD_CACHE_MS);
    return body;
  }

  close(): void {
    this.port = undefined;
    clearTimeout(this.relink);
    this.socket?.end();
  }
}

/** Hop-by-hop headers: they describe one connection, never the forwarded request or answer. */
const HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer'];
/** What a client may not tell the writer unless a trusted proxy stands in front (TRUST_PROXY). */
const FORWARDING = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host'];

/** The client's address, as Koa would take it with the same TRUST_PROXY settings. */
export function clientAddress(req: IncomingMessage, config: Pick<Config, 'TRUST_PROXY' | 'TRUST_PROXY_HOPS'>): string {
  const socket = req.socket.remoteAddress ?? '';
  if (!config.TRUST_PROXY) return socket;
  const header = req.headers['x-forwarded-for'];
  const ips = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(/\s*,\s*/)
    .filter(Boolean)
    .slice(-config.TRUST_PROXY_HOPS);
  return ips[0] ?? socket;
}

/**
 * An HTTP worker (WORKERS > 0): serves PORT beside its siblings. Staff scans (the gate page's
 * cookie or a device's bearer token) and applications are authenticated, validated and, for a
 * scan, verified here, and reach the writer as one compact message each; the pages are served
 * from their files here, the signed status list from a copy the writer invalidates whenever a
 * status changes, the trust list from the copy the writer pushes, and a resident's own record,
 * current code (JSON, PNG or SVG) and session (GET /v1/auth/session) from the writer's last
 * answer while it stays; every other request is forwarded to the writer's HTTP port as it
 * came, with the client's address.
 */
export async function runWorker(config: Config, secret: string): Promise<void> {
  const log = createLogger(config.LOG_LEVEL);
  const metrics = new Metrics();
  const link = new WriterLink(secret, log, new UnknownTokens(config, metrics));
  /** The request's principals as the writer's `authenticate` would give them, each token asked of the link. */
  const principals = (ctx: Koa.Context) =>
    principalsFrom(ctx, (token) => link.principal(token, addressKey(clientAddress(ctx.req, config))));
  let writerHttp: number | undefined;
  const agent = new Agent({ keepAlive: true, maxSockets: 256, timeout: 30_000 });

  const koa = new Koa();
  const router = new Router();
  koa.use(requestLog({ metrics, log }));
  koa.use(apiHeaders);
  koa.use(errorResponses({ log }));
  // A resident's own routes (record, code) and the session read their principals as the writer's `authenticate` leaves them.
  koa.use(async (ctx, next) => {
    if (authenticatedHere(ctx.path)) ctx.state.principals = await principals(ctx);
    await next();
  });
  router.post('/v1/scans', async (ctx) => {
    // As the writer authenticates: a bearer token, or the gate page's cookie (with its cross-site check).
    ctx.state.principals = await principals(ctx);
    refuseCrossSite(ctx);
    const principal = requireGrant(ctx, 'venue.scan');
    const input = await jsonBody(ctx, staffScanSchema, config.BODY_LIMIT_BYTES);
    const trust = link.trust;
    if (!trust) throw unavailable();
    const verdict = input.code
      ? await verifyShownCode(input.code, {
          trustList: trust.trustList,
          statusLists: trust.statusLists,
          now: new Date(),
          issuerId: config.ISSUER_ID,
        })
      : undefined;
    const body = await link.call({ op: 'scan', principal, input, verdict, trustVersion: trust.version });
    ctx.status = 201;
    ctx.body = body;
  });
  // 申领: everything but the limits and the transaction here (see README: Every core).
  router.post('/v1/residents', async (ctx) => {
    ctx.state.principals = await principals(ctx);
    refuseCrossSite(ctx);
    const principal = requireSession(ctx);
    const key = Idempotency.validate(ctx.get('idempotency-key'));
    const input = await jsonBody(ctx, applySchema, config.BODY_LIMIT_BYTES);
    const address = clientAddress(ctx.req, config);
    const answer = await link.call<{ status: number; body: unknown }>({ op: 'apply', principal, address, key, input });
    ctx.status = answer.status;
    ctx.body = answer.body;
  });
  // A phone asks for its code (and its record) each time the page shows: answered here while the writer's last answer stays.
  addCodeRoutes(router, config, (p, mode) => link.code(p, mode));
  addRecordRoute(router, (p) => link.record(p));
  addSessionRoute(router, (p) => link.sessionIdentity(p));
  // Other provinces' verifiers fetch it often, and it grows with the residents (2 bits each).
  router.get('/v1/status-list', async (ctx) =>
    sendStatusList(ctx, await link.signedStatusList(config.STATUS_LIST_MAX_AGE_SECONDS)),
  );
  // Verifiers fetch it before they check codes: the writer pushes each change (a rotation at once, a key's expiry within TRUST_POLL_MS).
  router.get('/v1/trust-list', (ctx) => {
    const trust = link.trust;
    if (!trust) throw unavailable();
    sendTrustList(ctx, trust.trustList, Math.floor(Date.now() / 1000));
  });
  // The pages are files: a worker serves them itself.
  addPages(router);
  koa.use(router.routes());
  const fast = koa.callback();
  /**
   * Whether this worker answers the request itself: a page; while the writer is up, a staff
   * scan, an application, the trust and status lists, and a resident's own record, code and session.
   */
  const servesItself = (req: IncomingMessage): boolean => {
    if (req.method === 'POST' && (req.url === '/v1/scans' || req.url === '/v1/residents')) return link.up;
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const path = (req.url ?? '/').split('?')[0];
    if ((path === '/v1/status-list' || path === '/v1/trust-list' || authenticatedHere(path)) && !link.up) return false;
    return router.match(path, req.method).route;
  };

  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const refuse = () => {
      if (res.headersSent) return res.destroy();
      const e = unavailable();
      res.writeHead(e.status, {
        'Content-Type': 'application/json; charset=utf-8',
        'Retry-After': String(e.retryAfterSeconds),
        'Cache-Control': 'no-store',
      });
      res.end(JSON.stringify({ error: { code: e.code, message: e.message } }));
    };
    if (writerHttp === undefined) return refuse();
    const headers: Record<string, string | string[] | undefined> = { ...req.headers };
    for (const h of [...HOP, WORKER_CLIENT_HEADER, WORKER_SECRET_HEADER]) delete headers[h];
    if (!config.TRUST_PROXY) for (const h of FORWARDING) delete headers[h];
    headers[WORKER_CLIENT_HEADER] = clientAddress(req, config);
    headers[WORKER_SECRET_HEADER] = secret;
    const out = request({ host: '127.0.0.1', port: writerHttp, method: req.method, path: req.url, headers, agent });
    out.on('response', (answer) => {
      const back = { ...answer.headers };
      for (const h of HOP) delete back[h];
      res.writeHead(answer.statusCode ?? 502, back);
      answer.pipe(res);
    });
    out.on('error', refuse);
    res.on('close', () => {
      if (!res.writableFinished) out.destroy();
    });
    req.pipe(out);
  };

  const server = createHttpServer(
    config,
    (req, res) => (servesItself(req) ? void fast(req, res) : forward(req, res)),
    metrics,
  );

  // The writer's /metrics adds these: requests the worker answered itself, its connections.
  const pushMetrics = setInterval(() => {
    if (!link.up) return;
    void metrics.registry.getMetricsAsJSON().then((all) =>
      link.notify({
        op: 'metrics',
        // Data only: a series may carry its collect function, which does not cross processes.
        series: all.map(({ name, help, type, aggregator, values }) => ({ name, help, type, aggregator, values })),
      }),
    );
  }, METRICS_PUSH_MS);
  pushMetrics.unref();

  process.on('message', (msg: SupervisorMessage) => {
    if (msg.op === 'writer') {
      writerHttp = msg.http;
      link.connect(msg.channel);
    } else if (msg.op === 'writer-down') {
      writerHttp = undefined;
      link.drop();
    } else if (msg.op === 'stop') void stop();
  });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await drainHttpServer(server, config.DRAIN_TIMEOUT_MS);
    link.close();
    clearInterval(pushMetrics);
    agent.destroy();
    process.exit(0);
  };
  // The supervisor stops its workers; a Ctrl-C reaches the whole group, and is its to handle.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => void stop());
  // The supervisor gone (even SIGKILLed): node:cluster ends a worker whose primary is gone at once,
  // without draining; this handler is for a worker started otherwise.
  process.on('disconnect', () => void stop());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.PORT, config.HOST, resolve);
  });
  process.send!({ op: 'listening', port: (server.address() as { port: number }).port } satisfies SupervisorMessage);
}
