import { fromBase64Url, equalBytes, toBase64Url } from './bytes';
import { computeKid } from './cose';
import { checkPublicKey, createKeyVerifier, type Backend, type KeyVerifier } from './ed25519';
import { malformed } from './errors';
import { parseRfc3339 } from './time';

export const TRUST_LIST_FORMAT = 'ankang-trust-list/1';

/** The JSON a verifier is given (FORMAT.md §5). */
export interface TrustListJson {
  format: typeof TRUST_LIST_FORMAT;
  issuedAt: string;
  issuers: Array<{
    id: string;
    name: string;
    /** Where this issuer's signed status list can be fetched, when known. */
    statusListUrl?: string;
    keys: TrustListKeyJson[];
    /** Keys withdrawn by revocation: every code they signed is refused (KEY_REVOKED), whatever its iat. */
    revokedKeys?: RevokedKeyJson[];
  }>;
}

/** A revoked key in a trust list (FORMAT.md §5): its kid, and when it was revoked. */
export interface RevokedKeyJson {
  kid: string;
  /** RFC 3339 with an offset. */
  revokedAt: string;
}

export interface TrustListKeyJson {
  kid: string;
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  notBefore: string;
  notAfter: string;
}

export interface TrustedKey {
  kid: string;
  publicKey: Uint8Array;
  notBefore: number;
  notAfter: number;
  verifier: KeyVerifier;
}

export interface TrustedIssuer {
  id: string;
  name: string;
  statusListUrl?: string;
  keys: Map<string, TrustedKey>;
  /** Revoked kids (base64url) and when they were revoked, in seconds since the epoch. */
  revoked: Map<string, number>;
}

/** A validated trust list with keys ready to verify; build it with `prepareTrustList`. */
export interface PreparedTrustList {
  issuedAt: number;
  issuers: Map<string, TrustedIssuer>;
}

const REGION = /^[1-9][0-9]{5}$/;
/** Prepared lists per JSON object and backend ('' for the runtime's default). */
const cache = new WeakMap<object, Map<string, PreparedTrustList>>();

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Validates a trust list and imports its keys. Results are cached per object (and
 * backend), so pass the same object to every `verifyCode` call.
 * @throws VerifierError MALFORMED naming the first problem found
 */
export function prepareTrustList(json: unknown, backend?: Backend): PreparedTrustList {
  const byBackend = isObject(json) ? cache.get(json) : undefined;
  const hit = byBackend?.get(backend ?? '');
  if (hit) return hit;
  if (!isObject(json)) throw malformed('trust list must be a JSON object');
  if (json.format !== TRUST_LIST_FORMAT) throw malformed(`trust list format must be ${TRUST_LIST_FORMAT}`);
  const issuedAt = parseRfc3339(json.issuedAt, 'trust list issuedAt');
  if (!Array.isArray(json.issuers)) throw malformed('trust list issuers must be an array');
  const issuers = new Map<string, TrustedIssuer>();
  for (const [i, iss] of json.issuers.entries()) {
    const where = `trust list issuers[${i}]`;
    if (!isObject(iss)) throw malformed(`${where} must be an object`);
    if (typeof iss.id !== 'string' || !REGION.test(iss.id))
      throw malformed(`${where}.id must be a 6-digit region code`);
    if (issuers.has(iss.id)) throw malformed(`${where}.id ${iss.id} appears twice`);
    if (typeof iss.name !== 'string' || !iss.name) throw malformed(`${where}.name must be text`);
    if (iss.statusListUrl !== undefined && typeof iss.statusListUrl !== 'string')
      throw malformed(`${where}.statusListUrl must be text`);
    if (!Array.isArray(iss.keys)) throw malformed(`${where}.keys must be an array`);
    const keys = new Map<string, TrustedKey>();
    for (const [j, k] of iss.keys.entries()) {
      const key = prepareKey(k, `${where}.keys[${j}]`, backend);
      if (keys.has(key.kid)) throw malformed(`${where}.keys[${j}] repeats kid ${key.kid}`);
      keys.set(key.kid, key);
    }
    const revoked = prepareRevoked(iss.revokedKeys, where, keys);
    issuers.set(iss.id, {
      id: iss.id,
      name: iss.name,
      statusListUrl: iss.statusListUrl as string | undefined,
      keys,
      revoked,
    });
  }
  const prepared = { issuedAt, issuers };
  if (byBackend) byBackend.set(backend ?? '', prepared);
  else cache.set(json, new Map([[backend ?? '', prepared]]));
  return prepared;
}

function prepareRevoked(list: unknown, where: string, keys: Map<string, TrustedKey>): Map<string, number> {
  const revoked = new Map<string, number>();
  if (list === undefined) return revoked;
  if (!Array.isArray(list)) throw malformed(`${where}.revokedKeys must be an array`);
  for (const [j, r] of list.entries()) {
    const at = `${where}.revokedKeys[${j}]`;
    if (!isObject(r)) throw malformed(`${at} must be an object`);
    if (fromBase64Url(r.kid as string, `${at}.kid`).length !== 8)
      throw malformed(`${at}.kid must be base64url of 8 bytes`);
    const kid = r.kid as string;
    // A list that both trusts and revokes a key cannot be followed either way.
    if (keys.has(kid)) throw malformed(`${at}.kid ${kid} is also among the keys`);
    if (revoked.has(kid)) throw malformed(`${at} repeats kid ${kid}`);
    revoked.set(kid, parseRfc3339(r.revokedAt, `${at}.revokedAt`));
  }
  return revoked;
}

function prepareKey(k: unknown, where: string, backend?: Backend): TrustedKey {
  if (!isObject(k)) throw malformed(`${where} must be an object`);
  if (k.kty !== 'OKP' || k.crv !== 'Ed25519') throw malformed(`${where} must be an OKP Ed25519 key`);
  const publicKey = fromBase64Url(k.x as string, `${where}.x`);
  const problem = checkPublicKey(publicKey);
  if (problem) throw malformed(`${where}: ${problem}`);
  const kid = fromBase64Url(k.kid as string, `${where}.kid`);
  if (!equalBytes(kid, computeKid(publicKey))) throw malformed(`${where}.kid is not the first 8 bytes of SHA-256(x)`);
  const notBefore = parseRfc3339(k.notBefore, `${where}.notBefore`);
  const notAfter = parseRfc3339(k.notAfter, `${where}.notAfter`);
  if (notAfter <= notBefore) throw malformed(`${where}.notAfter must be after notBefore`);
  return { kid: k.kid as string, publicKey, notBefore, notAfter, verifier: createKeyVerifier(publicKey, backend) };
}

/** The trust-list entry for a raw public key (what an issuer publishes). */
export function trustListKey(publicKey: Uint8Array, notBefore: string, notAfter: string): TrustListKeyJson {
  return {
    kid: toBase64Url(computeKid(publicKey)),
    kty: 'OKP',
    crv: 'Ed25519',
    x: toBase64Url(publicKey),
    notBefore,
    notAfter,
  };
}
