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
import { Ledger, seqKey } from '../../ledger/ledger';
import defaultRules from '../../server/rules/default-rules.json';
import defaultPolicies from '../../server/scenarios/default-policies.json';
import { evaluateRules } from '../../server/rules/engine';
import { parseRuleSet } from '../../server/rules/schema';
import { evaluatePolicy, parsePolicySet, type ScanFacts } from '../../server/scenarios/policy';
import type { VenueType } from '../../verifier/src/claims';

/**
 * The floors of `npm run bench`: only the work an application or a staff scan cannot skip,
 * on the same HTTP stack as the minimal Koa baseline. No routing, rules, policies, hash
 * chains or indexes; a session is read, as the service reads one, and nothing else about it
 * (no binding, no limits). What these reach bounds what any design of those endpoints could
 * reach on this machine. FLOOR_LEDGER and FLOOR_REQUIRED (below) add back, in turn, the
 * audit record and the least of what the project's rules ask of each request.
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

/**
 * FLOOR_REQUIRED=1 (with FLOOR_LEDGER=1): the required floor. The ledger floor, plus the least
 * of what the project's rules ask of every such request, each the cheapest way we know (in
 * memory wherever the service could keep it there):
 * - a scan: who may call (a staff bearer token, found by its hash: FLOOR_STAFF names the
 *   token and its one venue), on whose data (that venue only), bad input refused with a code,
 *   the authority's venue policy (the default policies, `evaluatePolicy`, with the resident's
 *   daily check-in read), and the scan's entry in the time index that retention erases by;
 * - an application: bad input refused with a code, the per-resident and per-address limits
 *   (fixed windows in a Map), the authority's rules (the default rule set, `evaluateRules`),
 *   the record read in the transaction and bound to the signed-in account (whose record),
 *   with the health facts sealed into it for later re-evaluation (one write), and the code
 *   index's entry.
 * What it reaches bounds what any design of those endpoints that keeps the project's rules
 * could reach on this machine.
 */
const required = process.env.FLOOR_REQUIRED === '1';
const staff = JSON.parse(process.env.FLOOR_STAFF ?? 'null') as {
  token: string;
  venueId: string;
  type: VenueType;
  district: string;
} | null;
const staffHash = staff ? hashToken(staff.token) : undefined;
const rules = (() => {
  const r = parseRuleSet(defaultRules);
  if (!r.ok) throw new Error('the default rules do not parse');
  return r.ruleSet;
})();
const policies = (() => {
  const r = parsePolicySet(defaultPolicies);
  if (!r.ok) throw new Error('the default policies do not parse');
  return r.policySet;
})();
/** Fixed windows of the required floor's limits, by key: [window start ms, count]. */
const windows = new Map<string, [number, number]>();
/** Counts one request against a limit of `points` per minute; false once it is used up. */
function withinLimit(key: string, points: number): boolean {
  const now = Date.now();
  const w = windows.get(key);
  if (!w || now - w[0] >= 60_000) {
    windows.set(key, [now, 1]);
    return true;
  }
  return ++w[1] <= points;
}

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

/** A request the required floor refuses: its status and error code. */
class Refused extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
  ) {
    super(code);
  }
}

/** The required floor's checks of an application's body (the service's own bounds). */
function checkApplication(body: Application & { declaration?: unknown }): void {
  const d = body.declaration as
    { temperatureC?: unknown; symptoms?: unknown; visited?: unknown; contactWithCase?: unknown } | undefined;
  const ok =
    typeof body.phone === 'string' &&
    body.phone.length >= 5 &&
    body.phone.length <= 32 &&
    typeof body.district === 'string' &&
    /^\d{6}$/.test(body.district) &&
    !!d &&
    typeof d.temperatureC === 'number' &&
    d.temperatureC >= 34 &&
    d.temperatureC <= 43 &&
    Array.isArray(d.symptoms) &&
    d.symptoms.length <= 20 &&
    d.symptoms.every((x) => typeof x === 'string' && /^[a-z][a-z0-9-]{0,31}$/.test(x)) &&
    Array.isArray(d.visited) &&
    d.visited.length <= 50 &&
    typeof d.contactWithCase === 'boolean';
  if (!ok) throw new Refused(400, 'BAD_REQUEST');
}

/** The identity the bearer token's session signed in as, and the session (its token's hash). @throws Unauthenticated */
function signedIn(authorization: string | undefined): { identity: VerifiedIdentity; session: string } {
  const token = /^Bearer (\S+)$/.exec(authorization ?? '')?.[1];
  // The store keeps only tokens' hashes, so that a copy of it opens no session.
  const h = token ? hashToken(token) : undefined;
  const session = h ? (db.getSync(floorSessionKey(h)) as FloorSession | undefined) : undefined;
  if (!h || !session || session.expiresAt <= Date.now()) throw new Unauthenticated();
  return { identity: JSON.parse(openField(sealKey, session.identitySealed, h)) as VerifiedIdentity, session: h };
}

async function apply(body: Application, authorization: string | undefined, address: string) {
  const { identity, session } = signedIn(authorization);
  if (required) {
    checkApplication(body);
    if (!withinLimit(`a/${address}`, 1e9)) throw new Refused(429, 'TOO_MANY_REQUESTS');
  }
  const pseudonym = pseudonymFor(pseudonymKey, identity.idType, identity.idNumber);
  if (required && !withinLimit(`r/${pseudonym}`, 1e9)) throw new Refused(429, 'TOO_MANY_REQUESTS');
  // One person, one record: an application has to look its pseudonym up first (in the ledger, in its transaction).
  const existing = ledger ? undefined : (db.getSync(`r/${pseudonym}`) as { cti: string } | undefined);
  const sealed = {
    name: sealField(sealKey, identity.name, pseudonym),
    idNumber: sealField(sealKey, identity.idNumber, pseudonym),
    phone: sealField(sealKey, body.phone, pseudonym),
  };
  const now = Math.floor(Date.now() / 1000);
  const declaration = (body as { declaration?: Record<string, unknown> }).declaration ?? {};
  // The authority's rules decide the colour (the floors without them issue green).
  const colour = required
    ? evaluateRules(
        { declaration: { at: new Date(now * 1000).toISOString(), ...declaration } } as never,
        [],
        rules,
        new Date(),
      ).colour
    : 'green';
  const claims: ResidentClaims = {
    kind: 'resident',
    iss: '340000',
    iat: now,
    exp: now + 600,
    cti: randomBytes(8).toString('hex'),
    health: {
      colour,
      ruleVersion: 1,
      statusIndex: ++seq,
      maskedName: `${identity.name[0]}*`,
      idLast4: identity.idNumber.slice(-4),
      mode: 'dynamic',
    },
  };
  const code = await signCode(claims, signer);
  const record = { sealed, district: body.district, cti: claims.cti, colour, previous: existing?.cti ?? null };
  if (ledger) {
    await ledger.transact(async (tx) => {
      const prior = await tx.get<{ account?: string; cti: string }>('residents', pseudonym);
      if (required) {
        // One person, one record, bound to the account that first applied for it (here the
        // session stands for the account: one each), with its health facts sealed in it for
        // the rules to read again when they change; and the code index entry scans find it by.
        if (prior && prior.account !== session) throw new Refused(409, 'REBIND_REQUIRED');
        const facts = sealField(sealKey, JSON.stringify(declaration), pseudonym);
        tx.put('residents', pseudonym, { ...record, previous: prior?.cti ?? null, account: session, facts });
        tx.put('codes', claims.cti, { pseudonym, exp: claims.exp });
      } else tx.put('residents', pseudonym, { ...record, previous: prior?.cti ?? null });
      await tx.append({
        type: 'resident.applied',
        subjects: [`r:${pseudonym}`],
        data: { district: body.district, colour, cti: claims.cti },
      });
    });
  } else await append(`r/${pseudonym}`, record);
  return { colour, code };
}

async function scan(body: { venueId: string; code: string; temperatureC?: unknown }, authorization?: string) {
  if (required) {
    // Who may call, on whose data, and bad input, before anything else is done.
    const token = /^Bearer (\S+)$/.exec(authorization ?? '')?.[1];
    if (!token || !staff || hashToken(token) !== staffHash) throw new Unauthenticated();
    const t = body.temperatureC;
    if (
      typeof body.venueId !== 'string' ||
      typeof body.code !== 'string' ||
      body.code.length > 4096 ||
      (t !== undefined && !(typeof t === 'number' && t >= 30 && t <= 45))
    )
      throw new Refused(400, 'BAD_REQUEST');
    if (body.venueId !== staff.venueId) throw new Refused(403, 'FORBIDDEN');
  }
  const r = await verifyCode(body.code, { trustList, backend: 'node-async' });
  const at = new Date().toISOString();
  const record: Record<string, string | null> = { venue: body.venueId, cti: r.claims?.cti ?? null, result: r.code, at };
  let decision = r.valid ? 'admit' : 'deny';
  if (ledger) {
    const holder = r.claims ? [`f:${r.claims.iss}:${r.claims.cti}`] : [];
    await ledger.transact(async (tx) => {
      if (required && staff) {
        const claims = r.valid && r.claims?.kind === 'resident' ? r.claims : undefined;
        // Whose code: the issuer's code index names the resident, whose own chain the scan joins.
        const owner = claims ? await tx.get<{ pseudonym: string }>('codes', claims.cti) : undefined;
        if (owner) holder[0] = `r:${owner.pseudonym}`;
        const temperatureC = typeof body.temperatureC === 'number' ? body.temperatureC : null;
        const facts: ScanFacts = {
          colour: claims?.health.colour ?? 'none',
          codeResult: r.code,
          codeValid: r.valid,
          foreign: false,
          printed: claims?.health.mode === 'printed',
          temperatureTaken: temperatureC !== null,
          temperatureC,
          hasFever: temperatureC !== null && temperatureC >= 37.3,
          checkedInToday: !!(holder[0] && (await tx.get('index', `daily/${holder[0]}/${at.slice(0, 10)}`))),
          certificate: false,
          method: 'staff',
        };
        decision = evaluatePolicy(policies, { type: staff.type, district: staff.district }, facts).decision;
        record.decision = decision;
      }
      const e = await tx.append({ type: 'scan.recorded', subjects: [`v:${body.venueId}`, ...holder], data: record });
      // The time index retention erases scan bodies by.
      if (required) tx.put('scans', `t/${at}/${seqKey(e.seq)}`, { seq: e.seq, venue: body.venueId, decision, at });
    });
  } else await append(`s/${String(++seq).padStart(15, '0')}`, record);
  return { decision, codeResult: r.code, at };
}

const app = new Koa({ proxy: false });
app.use(async (ctx) => {
  const handler =
    ctx.method === 'POST'
      ? (
          { '/v1/floor-apply': apply, '/v1/floor-scan': scan } as Record<
            string,
            (b: never, authorization: string | undefined, address: string) => Promise<unknown>
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
    ctx.body = await handler(body, ctx.get('authorization') || undefined, ctx.ip);
    ctx.status = 201;
  } catch (e) {
    if (e instanceof Refused) {
      ctx.status = e.status;
      ctx.body = { error: { code: e.code, message: 'refused' } };
      return;
    }
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
