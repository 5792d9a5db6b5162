import { toBase64Url } from './bytes';
import { RESIDENT_SUB_CUTOVER, subNotAllowed, type CodeClaims } from './claims';
import { decodeCode } from './code';
import { lifetimeKind, lifetimeWithinCap, MAX_CODE_LIFETIME_SECONDS } from './lifetime';
import type { Backend } from './ed25519';
import { VerifierError, type ResultCode } from './errors';
import { loadStatusList, type StatusList, type StatusListResult } from './status-list';
import { toRfc3339, toSeconds } from './time';
import { prepareTrustList, type PreparedTrustList } from './trust-list';

export interface VerifyOptions {
  /** Trust list JSON (FORMAT.md §5). Pass the same object each time: its keys are imported once. */
  trustList: unknown;
  /** Signed status lists (FORMAT.md §7) as raw bytes; each is checked against the trust list. */
  statusLists?: Uint8Array[];
  /** The verifier's clock; defaults to the system clock. */
  now?: Date | number | string;
  /** Tolerance for clocks that disagree, in seconds (default 60). */
  maxClockSkewSeconds?: number;
  /** How old a status list may be before it stops counting, in seconds (default 900). */
  statusMaxAgeSeconds?: number;
  /**
   * Which Ed25519 implementation checks signatures (default: the fastest the runtime has).
   * A server verifying many codes at once passes 'node-async' to keep its event loop free.
   */
  backend?: Backend;
}

export interface VerifyResult {
  valid: boolean;
  code: ResultCode;
  message: string;
  /** Present once the signature has verified, so unsigned claims are never shown as facts. */
  claims?: CodeClaims;
  /** Age of the status list used, in seconds, when one was used. */
  statusAgeSeconds?: number;
}

export const DEFAULT_CLOCK_SKEW_SECONDS = 60;
export const DEFAULT_STATUS_MAX_AGE_SECONDS = 15 * 60;

const statusCache = new WeakMap<Uint8Array, { trust: PreparedTrustList; result: Promise<StatusListResult> }>();

function loadCached(bytes: Uint8Array, trust: PreparedTrustList): Promise<StatusListResult> {
  const hit = statusCache.get(bytes);
  if (hit && hit.trust === trust) return hit.result;
  const result = loadStatusList(bytes, trust);
  statusCache.set(bytes, { trust, result });
  return result;
}

function fail(code: ResultCode, message: string, claims?: CodeClaims): VerifyResult {
  return claims ? { valid: false, code, message, claims } : { valid: false, code, message };
}

/**
 * Verifies an `AK1:` code offline, in the order FORMAT.md §6 gives. Never throws for bad
 * input: every failure is a result with a machine-readable `code`.
 * @example
 * const r = await verifyCode(text, { trustList, statusLists: [bytes] });
 * if (r.valid) show(r.claims.health.colour);
 */
export async function verifyCode(text: unknown, options: VerifyOptions): Promise<VerifyResult> {
  try {
    return await verify(text, options);
  } catch (e) {
    if (e instanceof VerifierError) return fail(e.code, e.message);
    return fail('MALFORMED', 'the code could not be read');
  }
}

async function verify(text: unknown, options: VerifyOptions): Promise<VerifyResult> {
  const skew = options.maxClockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS;
  const maxAge = options.statusMaxAgeSeconds ?? DEFAULT_STATUS_MAX_AGE_SECONDS;
  const now = toSeconds(options.now);
  const decoded = decodeCode(text as string);
  let trust: PreparedTrustList;
  try {
    trust = prepareTrustList(options.trustList, options.backend);
  } catch (e) {
    return fail('MALFORMED', `trust list: ${(e as Error).message}`);
  }
  if (now + skew < trust.issuedAt) {
    return fail('CLOCK_UNTRUSTED', 'the clock is earlier than the trust list was issued; set the time and retry');
  }
  const { claims } = decoded;
  const issuer = trust.issuers.get(claims.iss);
  if (!issuer) return fail('UNKNOWN_ISSUER', `issuer ${claims.iss} is not in the trust list`);
  const kid = toBase64Url(decoded.kid);
  // A revoked key may be in other hands: no code of it counts, whatever iat it claims.
  const revokedAt = issuer.revoked.get(kid);
  if (revokedAt !== undefined)
    return fail('KEY_REVOKED', `key ${kid} of issuer ${claims.iss} was revoked at ${toRfc3339(revokedAt)}`);
  const key = issuer.keys.get(kid);
  if (!key) return fail('UNKNOWN_KEY', `key ${kid} is not listed for issuer ${claims.iss}`);
  if (!(await key.verifier.verify(decoded.toBeSigned, decoded.signature))) {
    return fail('SIGNATURE_INVALID', 'the signature does not verify');
  }
  if (claims.iat < key.notBefore || claims.iat > key.notAfter) {
    return fail('KEY_NOT_VALID', `key ${kid} was not valid when the code was issued`, claims);
  }
  // Signed, so the issuer put it there: an issuer still on the first revision of the format, past its cut-over.
  if (subNotAllowed(claims)) {
    return fail(
      'SUB_NOT_ALLOWED',
      `a resident code issued from ${toRfc3339(RESIDENT_SUB_CUTOVER)} on carries no sub; this one was issued at ${toRfc3339(claims.iat)}`,
      claims,
    );
  }
  // However it is signed, a code may not outlive its kind's cap: a stolen key's codes die with the cap.
  if (!lifetimeWithinCap(claims)) {
    const kind = lifetimeKind(claims);
    const message = `the code lives ${claims.exp - claims.iat} s; a ${kind} code may live at most ${MAX_CODE_LIFETIME_SECONDS[kind]} s`;
    return fail('LIFETIME_TOO_LONG', message, claims);
  }
  if (claims.iat > now + skew) return fail('NOT_YET_VALID', 'the code was issued in the future', claims);
  if (now > claims.exp + skew) return fail('EXPIRED', 'the code has expired', claims);
  if (claims.kind === 'venue')
    return { valid: true, code: 'VALID', message: `venue code of ${claims.venue.name}`, claims };

  let list: StatusList | undefined;
  for (const bytes of options.statusLists ?? []) {
    const r = await loadCached(bytes, trust);
    if (r.valid && r.statusList.iss === claims.iss && (!list || r.statusList.issuedAt > list.issuedAt))
      list = r.statusList;
  }
  if (!list) {
    // Printed codes live for days: only a status list can say they still hold.
    if (claims.health.mode === 'printed') {
      return fail('STATUS_STALE', `a printed code needs a current status list of issuer ${claims.iss}`, claims);
    }
    return { valid: true, code: 'VALID', message: `${claims.health.colour} code of issuer ${claims.iss}`, claims };
  }
  const statusAgeSeconds = now - list.issuedAt;
  if (list.issuedAt > now + skew) {
    return fail('CLOCK_UNTRUSTED', 'the clock is earlier than the status list was issued; set the time and retry');
  }
  if (statusAgeSeconds > maxAge) {
    return {
      ...fail('STATUS_STALE', `the status list is ${statusAgeSeconds} s old (limit ${maxAge} s)`, claims),
      statusAgeSeconds,
    };
  }
  const status = list.get(claims.health.statusIndex);
  if (status === undefined) {
    // A resident who joined after the list was signed (or in the same second): the list
    // cannot speak for them yet.
    if (list.issuedAt <= claims.iat)
      return {
        valid: true,
        code: 'VALID',
        message: `${claims.health.colour} code of issuer ${claims.iss} (newer than its status list)`,
        claims,
        statusAgeSeconds,
      };
    return { ...fail('STATUS_STALE', 'the status list does not cover this code', claims), statusAgeSeconds };
  }
  if (status === 'suspended') return { ...fail('REVOKED', 'the code has been suspended', claims), statusAgeSeconds };
  // A list older than the code cannot supersede it: the code carries the newer colour.
  if (list.issuedAt >= claims.iat && status !== claims.health.colour) {
    return {
      ...fail('REVOKED', `the colour is now ${status}; this ${claims.health.colour} code is superseded`, claims),
      statusAgeSeconds,
    };
  }
  return {
    valid: true,
    code: 'VALID',
    message: `${claims.health.colour} code of issuer ${claims.iss}`,
    claims,
    statusAgeSeconds,
  };
}
