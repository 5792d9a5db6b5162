import Koa from 'koa';
import getRawBody from 'raw-body';
import { Level } from 'level';
import cluster from 'node:cluster';
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { cpSync, existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { computeKid, signCode, verifyCode, type ResidentClaims } from '../../verifier/src';
import { openField, pseudonymFor, sealField } from '../../server/crypto/pii';
import { hashToken } from '../../server/http/auth';
import type { VerifiedIdentity } from '../../server/identity/sessions';
import { floorSessionKey, type FloorSession } from './floor-sessions';
import { Ledger } from '../../ledger/ledger';

/**
 * The floors of `npm run bench`: only the work an application or a staff scan cannot skip,
 * on the same HTTP stack as the minimal Koa baseline. No routing, rules, policies, hash
 * chains or indexes; a session is read, as the service reads one, and nothing else about it
 * (no binding, no limits). What these reach bounds what any design of those endpoints could
 * reach on this machine.
 *
 * - `POST /v1/floor-apply`: find the resident's session by the bearer token's hash (one
 *   keyed read) and open the identity sealed in it (AES-GCM), derive the pseudonym (HMAC)
 *   and look it up, seal the name, ID number and phone (AES-GCM), sign a resident code, and
 *   write one record in an fsync'd group commit before answering. Like the service's, the
 *   body is `{ phone, district, declaration }`: who applies comes from the session.
 * - `POST /v1/floor-scan`: verify the scanned code (decode, Ed25519 on libuv's thread pool,
 *   expiry) against FLOOR_TRUST_LIST, and append one record the same way.
 *
 * Run as a child process with FLOOR_DATA_DIR (and FLOOR_TRUST_LIST for scans; for
 * applications FLOOR_SESSIONS_DIR, a LevelDB of sessions from `seedFloorSessions` that is
 * copied into the floor's own folder at start, and FLOOR_ENCRYPTION_KEY, base64, the key
 * they are sealed with); prints one `{"msg":"listening","url":...}` line. Forked by
 * floor-spread.ts as one of several workers, it keeps its own LevelDB (with its own copy of
 * the sessions) under FLOOR_DATA_DIR and reports `listening` to its primary instead.
 */
const trustList = JSON.parse(process.env.FLOOR_TRUST_LIST ?? 'null') as unknown;
const dataDir = process.env.FLOOR_DATA_DIR ?? 'floor-data';
const ownDir = cluster.isWorker ? join(dataDir, `worker-${cluster.worker!.id}`) : dataDir;
if (process.env.FLOOR_SESSIONS_DIR && !existsSync(ownDir))
  cpSync(process.env.FLOOR_SESSIONS_DIR, ownDir, { recursive: true });
const db = new Level<string, unknown>(ownDir, { valueEncoding: 'json' });
const pseudonymKey = randomBytes(32);
const sealKey = process.env.FLOOR_ENCRYPTION_KEY
  ? Buffer.from(process.env.FLOOR_ENCRYPTION_KEY, 'base64')
  : randomBytes(32);
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const signer = {
  kid: computeKid(new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(12))),
  sign: (data: Uint8Array) => new Uint8Array(sign(null, data, privateKey)),
};

/**
 * FLOOR_LEDGER=1: the ledger floor. Each record is one hash-chained event of the service's
 * ledger (ledger/ledger.ts) instead of a bare LevelDB record: sequence, salted hash, a link in
 * each subject's chain and its index entries, in the same fsync'd groups. The audit trail's
 * part of every scan and application, and nothing else of the service.
 */
let ledger: Ledger | undefined;

let seq = 0;
let pending: Array<{ key: string; value: unknown; done: (e?: unknown) => void }> = [];
let writing = false;

/** Writes one record; resolves once a synchronous batch holding it is on disk. */
function append(key: string, value: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    pending.push({ key, value, done: (e) => (e ? reject(e) : resolve()) });
    if (!writing) void flush();
  });
}

async function flush(): Promise<void> {
  writing = true;
  while (pending.length) {
    const group = pending;
    pending = [];
    try {
      await db.batch(
        group.map((w) => ({ type: 'put' as const, key: w.key, value: w.value })),
        { sync: true },
      );
      for (const w of group) w.done();
    } catch (e) {
      for (const w of group) w.done(e);
    }
  }
  writing = false;
}

interface Application {
  phone: string;
  district: string;
}

class Unauthenticated extends Error {}

/** The identity the bearer token's session signed in as. @throws Unauthenticated */
function signedIn(authorization: string | undefined): VerifiedIdentity {
  const token = /^Bearer (\S+)$/.exec(authorization ?? '')?.[1];
  // The store keeps only tokens' hashes, so that a copy of it opens no session.
  const h = token ? hashToken(token) : undefined;
  const session = h ? (db.getSync(floorSessionKey(h)) as FloorSession | undefined) : undefined;
  if (!h || !session || session.expiresAt <= Date.now()) throw new Unauthenticated();
  return JSON.parse(openField(sealKey, session.identitySealed, h)) as VerifiedIdentity;
}

async function apply(body: Application, authorization: string | undefined) {
  const identity = signedIn(authorization);
  const pseudonym = pseudonymFor(pseudonymKey, identity.idType, identity.idNumber);
  // One person, one record: an application has to look its pseudonym up first.
  const existing = db.getSync(`r/${pseudonym}`) as { cti: string } | undefined;
  const sealed = {
    name: sealField(sealKey, identity.name, pseudonym),
    idNumber: sealField(sealKey, identity.idNumber, pseudonym),
    phone: sealField(sealKey, body.phone, pseudonym),
  };
  const now = Math.floor(Date.now() / 1000);
  const claims: ResidentClaims = {
    kind: 'resident',
    iss: '340000',
    iat: now,
    exp: now + 600,
    cti: randomBytes(8).toString('hex'),
    health: {
      colour: 'green',
      ruleVersion: 1,
      statusIndex: ++seq,
      maskedName: `${identity.name[0]}*`,
      idLast4: identity.idNumber.slice(-4),
      mode: 'dynamic',
    },
  };
  const code = await signCode(claims, signer);
  const record = { sealed, district: body.district, cti: claims.cti, colour: 'green', previous: existing?.cti ?? null };
  if (ledger) {
    await ledger.transact(async (tx) => {
      tx.put('residents', pseudonym, record);
      await tx.append({
        type: 'resident.applied',
        subjects: [`r:${pseudonym}`],
        data: { district: body.district, colour: 'green', cti: claims.cti },
      });
    });
  } else await append(`r/${pseudonym}`, record);
  return { colour: 'green', code };
}

async function scan(body: { venueId: string; code: string }) {
  const r = await verifyCode(body.code, { trustList, backend: 'node-async' });
  const at = new Date().toISOString();
  const record = { venue: body.venueId, cti: r.claims?.cti ?? null, result: r.code, at };
  if (ledger) {
    const holder = r.claims ? [`f:${r.claims.iss}:${r.claims.cti}`] : [];
    await ledger.transact((tx) =>
      tx.append({ type: 'scan.recorded', subjects: [`v:${body.venueId}`, ...holder], data: record }),
    );
  } else await append(`s/${String(++seq).padStart(15, '0')}`, record);
  return { decision: r.valid ? 'admit' : 'deny', codeResult: r.code, at };
}

const app = new Koa({ proxy: false });
app.use(async (ctx) => {
  const handler =
    ctx.method === 'POST'
      ? (
          { '/v1/floor-apply': apply, '/v1/floor-scan': scan } as Record<
            string,
            (b: never, authorization: string | undefined) => Promise<unknown>
          >
        )[ctx.path]
      : undefined;
  if (!handler) {
    ctx.status = 404;
    ctx.body = { error: { code: 'NOT_FOUND', message: 'no route' } };
    return;
  }
  const body = JSON.parse(await getRawBody(ctx.req, { limit: 65536, encoding: 'utf8' })) as never;
  try {
    ctx.body = await handler(body, ctx.get('authorization') || undefined);
    ctx.status = 201;
  } catch (e) {
    if (!(e instanceof Unauthenticated)) throw e;
    ctx.status = 401;
    ctx.body = { error: { code: 'UNAUTHENTICATED', message: 'no session for this token' } };
  }
});

void db.open().then(async () => {
  if (process.env.FLOOR_LEDGER === '1') ledger = await Ledger.open(join(ownDir, 'ledger'));
  const server = app.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
    const { address, port } = server.address() as AddressInfo;
    const listening = { msg: 'listening', url: `http://${address}:${port}` };
    if (cluster.isWorker) process.send!(listening);
    else process.stdout.write(JSON.stringify(listening) + '\n');
  });
  server.keepAliveTimeout = 5000;
  const stop = () => {
    server.close(() => void Promise.all([db.close(), ledger?.close()]).then(() => process.exit(0)));
    server.closeAllConnections();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // A worker whose primary is gone (killed, say) must not keep serving on its own.
  if (cluster.isWorker) process.on('disconnect', stop);
});
