import { createHash } from 'node:crypto';
import { compactVerify, decodeProtectedHeader, importJWK } from 'jose';

/**
 * How a payment provider checks an Ankang fare request (docs/payment-provider.md, "Verifying
 * a fare request"), with nothing but a JOSE library: no Ankang code is imported, so this file
 * is what a real provider would write. The checks run in the document's order; each failure
 * is a named early return with the contract's error code. Replay (jti), the account and its
 * balance are the caller's: they need the provider's own state.
 */

/** The fare request's header `typ` (server/services/fare.ts FARE_REQUEST_TYPE). */
export const FARE_TYPE = 'ankang-fare+jwt';

/** The claims of a fare request, as docs/payment-provider.md lists them. */
export interface FareRequestClaims {
  iss: string;
  jti: string;
  iat: number;
  exp: number;
  provider: string;
  token: string;
  amount: number;
  currency: 'CNY';
  desk: string;
  venue: string;
  lookup: number;
}

/** The part of an Ankang trust list (`GET /v1/trust-list`) a provider reads. */
export interface FareTrustList {
  issuers: Array<{
    id: string;
    keys: Array<{ kid: string; kty: string; crv: string; x: string; notBefore: string; notAfter: string }>;
    revokedKeys?: Array<{ kid: string; revokedAt: string }>;
  }>;
}

export type FareCheckCode = 'FARE_MALFORMED' | 'FARE_SIGNATURE_INVALID' | 'FARE_EXPIRED';

export type FareCheck =
  | { ok: true; claims: FareRequestClaims; kid: string }
  /** `unknownKid`: the issuer is trusted but the list names no such key; a fresher trust list may. */
  | { ok: false; code: FareCheckCode; message: string; unknownKid?: boolean };

export interface FareCheckOptions {
  /** The trust list fetched from the issuer. */
  trustList: FareTrustList;
  /** Issuer ids (region codes) whose fare requests this provider accepts. */
  issuers: readonly string[];
  /** This provider's id: a request addressed to another provider is refused. */
  provider: string;
  /** The provider's clock, seconds since the epoch. */
  now: number;
  /** Tolerated clock difference with the issuer for `iat` and the key's notBefore, seconds (default 60); none past `exp`. */
  skewSeconds?: number;
  /** Longest accepted `exp − iat`, seconds (default 300, Ankang's FARE_REQUEST_TTL_SECONDS). */
  maxLifetimeSeconds?: number;
}

const COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const MAX_LENGTH = 4096;
const MAX_AMOUNT_FEN = 100_000;

const fail = (code: FareCheckCode, message: string, unknownKid = false): FareCheck => ({
  ok: false,
  code,
  message,
  ...(unknownKid ? { unknownKid } : {}),
});

const text = (v: unknown, max = 128): v is string => typeof v === 'string' && v.length > 0 && v.length <= max;
const seconds = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** The claims if `v` has every claim with its type, else the name of the first that does not. */
function claimsOf(v: unknown): FareRequestClaims | string {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'payload';
  const c = v as Record<string, unknown>;
  for (const k of ['iss', 'jti', 'provider', 'token', 'desk', 'venue'] as const) if (!text(c[k])) return k;
  for (const k of ['iat', 'exp', 'lookup'] as const) if (!seconds(c[k])) return k;
  if (!Number.isSafeInteger(c.amount) || (c.amount as number) < 1 || (c.amount as number) > MAX_AMOUNT_FEN)
    return 'amount';
  if (c.currency !== 'CNY') return 'currency';
  return c as unknown as FareRequestClaims;
}

function decodePayload(jws: string): unknown {
  try {
    return JSON.parse(Buffer.from(jws.split('.')[1], 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Checks a fare request's form, header, issuer, key, signature and times, and that it is
 * addressed to this provider. Never throws for bad input.
 * @example
 * const r = await checkFareRequest(jws, { trustList, issuers: ['340000'], provider: 'standin-pay', now: Date.now() / 1000 | 0 });
 * if (!r.ok) answer(r.code);
 */
export async function checkFareRequest(jws: unknown, opts: FareCheckOptions): Promise<FareCheck> {
  const skew = opts.skewSeconds ?? 60;
  const maxLifetime = opts.maxLifetimeSeconds ?? 300;
  if (typeof jws !== 'string' || jws.length > MAX_LENGTH || !COMPACT.test(jws))
    return fail('FARE_MALFORMED', 'fareRequest is not a compact JWS');

  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(jws);
  } catch {
    return fail('FARE_MALFORMED', 'the JWS header is not JSON');
  }
  if (header.alg !== 'EdDSA') return fail('FARE_MALFORMED', 'alg must be EdDSA');
  if (header.typ !== FARE_TYPE) return fail('FARE_MALFORMED', `typ must be ${FARE_TYPE}`);
  if (!text(header.kid, 64)) return fail('FARE_MALFORMED', 'kid is missing');
  if (header.crit !== undefined) return fail('FARE_MALFORMED', 'crit is not understood');

  // Read before the signature is checked, only to know which issuer's key to check it with.
  const claims = claimsOf(decodePayload(jws));
  if (typeof claims === 'string') return fail('FARE_MALFORMED', `claim ${claims} is missing or of the wrong type`);

  const issuer = opts.issuers.includes(claims.iss)
    ? opts.trustList.issuers.find((i) => i.id === claims.iss)
    : undefined;
  if (!issuer) return fail('FARE_SIGNATURE_INVALID', 'the issuer is not one this provider trusts');
  if (issuer.revokedKeys?.some((k) => k.kid === header.kid))
    return fail('FARE_SIGNATURE_INVALID', 'the key was revoked');
  const key = issuer.keys.find((k) => k.kid === header.kid);
  if (!key) return fail('FARE_SIGNATURE_INVALID', 'the trust list has no such key', true);
  // verifier/FORMAT.md §5: a kid is the first 8 bytes of SHA-256 over the raw key.
  if (
    key.kty !== 'OKP' ||
    key.crv !== 'Ed25519' ||
    createHash('sha256').update(Buffer.from(key.x, 'base64url')).digest().subarray(0, 8).toString('base64url') !==
      key.kid
  ) {
    return fail('FARE_SIGNATURE_INVALID', "the trust list's key does not match its kid");
  }
  // A retired key's notAfter is its retirement: it signs no fare request after it.
  const from = Date.parse(key.notBefore) / 1000;
  const to = Date.parse(key.notAfter) / 1000;
  if (!(claims.iat >= from - skew && claims.iat <= to))
    return fail('FARE_SIGNATURE_INVALID', 'the key was not valid when the request was signed');

  try {
    const publicKey = await importJWK({ kty: key.kty, crv: key.crv, x: key.x }, 'EdDSA');
    await compactVerify(jws, publicKey, { algorithms: ['EdDSA'] });
  } catch {
    return fail('FARE_SIGNATURE_INVALID', 'the signature does not verify');
  }

  if (claims.iat > opts.now + skew) return fail('FARE_MALFORMED', 'iat is in the future');
  if (claims.exp <= claims.iat || claims.exp - claims.iat > maxLifetime)
    return fail('FARE_MALFORMED', `exp must be after iat, by at most ${maxLifetime} s`);
  // No tolerance past exp (RFC 7519 §4.1.4): the issuer already gave the request its whole lifetime.
  if (opts.now >= claims.exp) return fail('FARE_EXPIRED', 'the fare request has expired');
  if (claims.provider !== opts.provider)
    return fail('FARE_MALFORMED', 'the fare request is addressed to another provider');
  return { ok: true, claims, kid: header.kid };
}
