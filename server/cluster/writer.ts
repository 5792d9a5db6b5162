import { createServer, type Server, type Socket } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Context } from 'koa';
import { LedgerUnavailableError, type Space, type Tx } from '../../ledger/ledger';
import { ledgerError } from '../app';
import type { RunningService } from '../bootstrap';
import { ServiceError } from '../errors';
import { resolveTokenHash, type Principal } from '../http/auth';
import { authorize } from '../http/permissions';
import { sessionIdentity } from '../routes/auth';
import { applyAs, APPLY_LIMITS, ownRecord } from '../routes/residents';
import {
  readFrames,
  sendFrame,
  WORKER_CLIENT_HEADER,
  WORKER_SECRET_HEADER,
  type CodeAnswer,
  type TrustSnapshot,
  type WireError,
  type WorkerRequest,
  type WriterNotice,
  type WriterReply,
} from './protocol';

/** Whether `given` is the supervisor's secret, in constant time. */
export function isWorkerSecret(secret: string, given: unknown): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(secret);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Headers only a worker may set; anyone else reaching the writer's HTTP port is a plain client of 127.0.0.1. */
const WORKER_ONLY = [WORKER_CLIENT_HEADER, 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host'];

/**
 * The writer's HTTP handler: a request with the supervisor's secret is a worker's, and its
 * client-address header is believed; from anyone else (the service's own sign-in calls to the
 * embedded provider) every forwarding header is dropped.
 */
export function workerRequests(secret: string, handler: RequestListener): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const fromWorker = isWorkerSecret(secret, req.headers[WORKER_SECRET_HEADER]);
    delete req.headers[WORKER_SECRET_HEADER];
    if (!fromWorker) for (const h of WORKER_ONLY) delete req.headers[h];
    handler(req, res);
  };
}

/** A refusal as the worker must answer it (what the writer's own error middleware would have sent). */
function wireError(err: unknown, svc: RunningService): WireError {
  const e = err instanceof ServiceError ? err : err instanceof LedgerUnavailableError ? ledgerError(err) : undefined;
  if (e)
    return {
      status: e.status,
      code: e.code,
      message: e.message,
      fields: e.fields,
      retryAfterSeconds: e.retryAfterSeconds,
    };
  svc.app.log.error('unhandled error', { route: 'writer channel', error: (err as Error).stack ?? String(err) });
  return { status: 500, code: 'INTERNAL', message: 'internal error' };
}

/**
 * What `authorize` and the rate limits read of a request (its principals, the client's address),
 * for a request a worker has already authenticated.
 */
const workerRequest = (p: Principal, ip?: string) =>
  ({ ip, state: { principals: [p] }, set: () => undefined }) as unknown as Context;

const TRUST_POLL_MS = 250;
/** The spaces whose writes reach the workers as `residents` notices (one name per write), keyed by pseudonym. */
const RESIDENT_NOTICES: readonly Space[] = ['residents', 'bindings'];
/** Keys of the `meta` space every resident's code answer depends on: the rules in force, the risk areas, the issuer's keys. */
const CODE_INPUTS = new Set(['rulesCurrent', 'riskAreas', 'issuerKeys']);
/** A connection must send its hello within this, in a frame of at most HELLO_MAX_BYTES. */
const HELLO_TIMEOUT_MS = 5_000;
const HELLO_MAX_BYTES = 1024;
/** A worker's frames: a scan with its code, an application with its body (up to BODY_LIMIT_BYTES), a worker's metrics. */
const workerFrameLimit = (bodyLimit: number) => Math.max(1024 * 1024, 2 * bodyLimit + 64 * 1024);

/**
 * The writer's end of the message channel. Workers authenticate, validate and verify; this
 * process decides what needs the ledger (a token's record, the venue, the status book) and
 * writes. It pushes the trust list whenever it changes, and the token hashes each durable
 * write changed; it answers (here and over HTTP) only once every worker has acknowledged
 * those notices, so no worker's cache outlives a revocation into a client's next request.
 */
export async function startWriterChannel(
  svc: RunningService,
  secret: string,
): Promise<{ port: number; close(): Promise<void> }> {
  const { app, services } = svc;
  const notices = svc.workerNotices;
  if (!notices) throw new Error('the writer channel needs a service started for workers');
  const authed = new Set<Socket>();
  const maxFrame = workerFrameLimit(app.config.BODY_LIMIT_BYTES);
  /** Each connected worker's latest series, added into the writer's at every scrape of /metrics. */
  const workerSeries = new Map<Socket, Extract<WorkerRequest, { op: 'metrics' }>['series']>();
  app.metrics.addSource(() => [...workerSeries.values()]);
  let trust: TrustSnapshot = {
    version: 0,
    trustList: app.trust.current(),
    statusLists: app.trust.foreignStatusLists(),
  };
  let foreignAt = app.trust.foreignUpdatedAt;

  const notify = (notice: WriterNotice) => notices.send(notice);
  /** The current trust version, bumped (and pushed) when either list changed. */
  const trustNow = (): TrustSnapshot => {
    const list = app.trust.current();
    if (list !== trust.trustList || app.trust.foreignUpdatedAt !== foreignAt) {
      foreignAt = app.trust.foreignUpdatedAt;
      trust = { version: trust.version + 1, trustList: list, statusLists: app.trust.foreignStatusLists() };
      notify({ op: 'trust', trust });
    }
    return trust;
  };
  const poll = setInterval(trustNow, TRUST_POLL_MS);
  app.ledger.onKeysWritten('tokens', (hashes) => notify({ op: 'tokens', hashes }));
  app.statusBook.onChange(() => notify({ op: 'statuses' }));
  // What a worker's copy of a code answer rests on: the resident's record and binding, and the rules, risk areas and keys.
  const residentsChanged = (pseudonyms: string[]) => notify({ op: 'residents', pseudonyms });
  for (const space of RESIDENT_NOTICES) app.ledger.onKeysWritten(space, residentsChanged);
  app.ledger.onKeysWritten('meta', (keys) => {
    if (keys.some((k) => CODE_INPUTS.has(k))) notify({ op: 'codes' });
    // A rotation changes the trust list the workers verify with and publish: push it now, not at the next poll.
    if (keys.includes('issuerKeys')) trustNow();
  });

  const handle = async (msg: WorkerRequest): Promise<unknown> => {
    switch (msg.op) {
      case 'auth':
        return resolveTokenHash(
          msg.hash,
          app.ledger,
          app.secrets.adminToken,
          app.clock(),
          app.config.STAFF_TOKEN_TTL_DAYS * 86_400_000,
        );
      case 'metrics':
      case 'ack':
        return null;
      case 'apply': {
        // The route's limits, counted for the client the worker saw.
        await services.limits.limit(...APPLY_LIMITS)(workerRequest(msg.principal, msg.address), () =>
          Promise.resolve(),
        );
        return applyAs(app, services, msg.principal, msg.key, msg.input);
      }
      case 'record':
        return ownRecord(app, msg.principal);
      case 'session':
        return sessionIdentity(services.sessions, msg.principal);
      case 'code': {
        const { residents } = services;
        const pseudonym = msg.principal.pseudonym!;
        let wrote = 0;
        const { record, code } = await app.ledger.transact((tx) => {
          // Counts the writes its `residents` notices will name (RESIDENT_NOTICES), so the worker can tell them from others'.
          const count = (space: Space, key: string) => {
            if (key === pseudonym && RESIDENT_NOTICES.includes(space)) wrote++;
          };
          const counted: Tx = {
            ...tx,
            put: (space, key, value) => (count(space, key), tx.put(space, key, value)),
            del: (space, key) => (count(space, key), tx.del(space, key)),
          };
          return residents.currentCode(counted, pseudonym, msg.mode);
        });
        // The worker keeps this answer: it must rest on nothing a failed write could still take back.
        await app.ledger.whenDurable();
        return { code, until: residents.codeStaysUntil(record, code, msg.mode), wrote } satisfies CodeAnswer;
      }
      case 'status-list':
        return app.statusBook.current(Math.floor(app.clock().getTime() / 1000), app.keys.active().signer);
      case 'scan': {
        // Validated by the worker with staffScanSchema.
        const { input } = msg;
        const venue = await services.venues.get(input.venueId);
        await authorize(workerRequest(msg.principal), 'venue.scan', venue);
        const current = trustNow();
        // Verified by the worker with the trust list of this version; otherwise verified again here.
        const verdict = !input.code
          ? undefined
          : msg.trustVersion === current.version && msg.verdict
            ? services.scans.ownStatus(msg.verdict)
            : await services.scans.verifyResidentCode(input.code);
        return app.ledger.transact((tx) => services.scans.staffScan(tx, input, venue, verdict));
      }
      default:
        throw new Error(`unknown op ${(msg as { op: string }).op}`);
    }
  };

  const server: Server = createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('error', () => socket.destroy());
    // Until it has proven itself, a connection gets a few seconds and one small frame.
    const proof = setTimeout(() => authed.has(socket) || socket.destroy(), HELLO_TIMEOUT_MS);
    socket.once('close', () => clearTimeout(proof));
    socket.on('close', () => {
      authed.delete(socket);
      notices.unlink(socket);
      workerSeries.delete(socket);
    });
    /** Answers once every other worker holds every notice sent so far (the answer's own write's included). */
    const answer = (reply: WriterReply) =>
      notices.whenSettled(() => socket.destroyed || sendFrame(socket, reply), socket);
    readFrames(
      socket,
      (value) => {
        const msg = value as WorkerRequest;
        if (!authed.has(socket)) {
          // The first frame proves the worker; anything else ends the connection.
          if (msg?.op !== 'hello' || !isWorkerSecret(secret, msg.secret)) return socket.destroy();
          authed.add(socket);
          sendFrame(socket, { id: msg.id, ok: true, value: null } satisfies WriterReply);
          notices.link(socket, { op: 'trust', trust: trustNow() });
          return;
        }
        if (msg.op === 'metrics') return void workerSeries.set(socket, msg.series);
        if (msg.op === 'ack') return notices.ack(socket, msg.seq);
        handle(msg).then(
          (v) => answer({ id: msg.id, ok: true, value: v }),
          (e: unknown) => answer({ id: msg.id, ok: false, error: wireError(e, svc) }),
        );
      },
      () => (authed.has(socket) ? maxFrame : HELLO_MAX_BYTES),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    port: (server.address() as { port: number }).port,
    async close() {
      clearInterval(poll);
      notices.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of authed) s.end();
      });
    },
  };
}
