import { gunzipSync, gzipSync } from 'fflate';
import { decodeCbor, encodeCbor, type CborMap, type CborValue } from './cbor';
import { decodeSign1, encodeSign1, protectedHeader, sigStructure } from './cose';
import { toBase64Url } from './bytes';
import type { Signer } from './code';
import { VerifierError, malformed } from './errors';
import type { PreparedTrustList } from './trust-list';

/** 2-bit status values (FORMAT.md §7): a colour index, or 3 for a suspended code. */
export const STATUS_VALUES = ['green', 'yellow', 'red', 'suspended'] as const;
export type StatusValue = (typeof STATUS_VALUES)[number];
export const STATUS_CLAIM = -65539;
/** 2^26 entries (16 MiB packed) bounds what a verifier will inflate. */
export const MAX_STATUS_ENTRIES = 1 << 26;

/** A status list whose signature has been checked against a trust list. */
export interface StatusList {
  iss: string;
  /** Seconds since the epoch. */
  issuedAt: number;
  size: number;
  kid: string;
  /** The 2-bit value at `index`, or undefined past the end of the list. */
  get(index: number): StatusValue | undefined;
}

/** Packs 2-bit values, index 0 in the two most significant bits of byte 0. */
export function packStatuses(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(Math.ceil(values.length / 4));
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(v >= 0 && v <= 3)) throw malformed(`status value at ${i} must be 0..3`);
    out[i >> 2] |= v << (6 - 2 * (i & 3));
  }
  return out;
}

/** Reads the 2-bit value at `index` of a packed list. */
export function readStatus(packed: Uint8Array, index: number): number {
  return (packed[index >> 2] >> (6 - 2 * (index & 3))) & 3;
}

/**
 * Signs a status list: COSE_Sign1 over `{1: iss, 6: issuedAt, -65539: {1: size, 2: gzip(bits)}}`.
 * @param statuses one 2-bit value (0..3) per status index
 */
export async function signStatusList(
  input: { iss: string; issuedAt: number; statuses: ArrayLike<number> },
  signer: Signer,
): Promise<Uint8Array> {
  if (input.statuses.length > MAX_STATUS_ENTRIES) throw malformed('status list too long');
  const packed = packStatuses(input.statuses);
  const payload = encodeCbor(
    new Map<number, CborValue>([
      [1, input.iss],
      [6, input.issuedAt],
      [
        STATUS_CLAIM,
        new Map<number, CborValue>([
          [1, input.statuses.length],
          [2, gzipSync(packed, { level: 9, mtime: 0 })],
        ]),
      ],
    ]),
  );
  const protectedBytes = protectedHeader(signer.kid);
  const signature = await signer.sign(sigStructure(protectedBytes, payload));
  return encodeSign1({ protectedBytes, payload, signature });
}

export type StatusListResult =
  | { valid: true; code: 'VALID'; message: string; statusList: StatusList }
  | {
      valid: false;
      code: 'MALFORMED' | 'UNKNOWN_ISSUER' | 'KEY_REVOKED' | 'UNKNOWN_KEY' | 'SIGNATURE_INVALID' | 'KEY_NOT_VALID';
      message: string;
    };

/**
 * Checks a status list's envelope and signature against a prepared trust list. Never
 * throws for bad input. Freshness is judged per verification, by `verifyCode`.
 */
export async function loadStatusList(bytes: Uint8Array, trust: PreparedTrustList): Promise<StatusListResult> {
  try {
    const sign1 = decodeSign1(bytes);
    const m = decodeCbor(sign1.payload);
    if (!(m instanceof Map) || m.size !== 3)
      throw malformed('status list payload must be a map of iss, iat and the list');
    const iss = m.get(1);
    const issuedAt = m.get(6);
    const body = m.get(STATUS_CLAIM);
    if (typeof iss !== 'string') throw malformed('status list iss must be text');
    if (typeof issuedAt !== 'number' || issuedAt < 0) throw malformed('status list iat must be an unsigned integer');
    if (!(body instanceof Map) || body.size !== 2) throw malformed('status list claim must be a map of size and bits');
    const size = (body as CborMap).get(1);
    const gz = (body as CborMap).get(2);
    if (typeof size !== 'number' || size < 0 || size > MAX_STATUS_ENTRIES)
      throw malformed('status list size out of range');
    if (!(gz instanceof Uint8Array)) throw malformed('status list bits must be a byte string');
    const issuer = trust.issuers.get(iss);
    if (!issuer) throw new VerifierError('UNKNOWN_ISSUER', `status list issuer ${iss} is not in the trust list`);
    const kid = toBase64Url(sign1.kid);
    if (issuer.revoked.has(kid))
      throw new VerifierError('KEY_REVOKED', `status list key ${kid} of issuer ${iss} is revoked`);
    const key = issuer.keys.get(kid);
    if (!key) throw new VerifierError('UNKNOWN_KEY', `status list key ${kid} is not listed for issuer ${iss}`);
    if (!(await key.verifier.verify(sigStructure(sign1.protectedBytes, sign1.payload), sign1.signature))) {
      throw new VerifierError('SIGNATURE_INVALID', 'status list signature does not verify');
    }
    if (issuedAt < key.notBefore || issuedAt > key.notAfter) {
      throw new VerifierError('KEY_NOT_VALID', 'status list was signed outside its key window');
    }
    const packed = inflate(gz, Math.ceil(size / 4));
    return {
      valid: true,
      code: 'VALID',
      message: `status list of ${iss} with ${size} entries`,
      statusList: {
        iss,
        issuedAt,
        size,
        kid,
        get: (i) => (i < size ? STATUS_VALUES[readStatus(packed, i)] : undefined),
      },
    };
  } catch (e) {
    if (e instanceof VerifierError) return { valid: false, code: e.code as 'MALFORMED', message: e.message };
    return { valid: false, code: 'MALFORMED', message: 'status list could not be read' };
  }
}

function inflate(gz: Uint8Array, expected: number): Uint8Array {
  // The gzip trailer's ISIZE must match before anything is inflated (no gzip bombs).
  if (gz.length < 18) throw malformed('status list bits are not gzip');
  const isize =
    (gz[gz.length - 4] | (gz[gz.length - 3] << 8) | (gz[gz.length - 2] << 16) | (gz[gz.length - 1] << 24)) >>> 0;
  if (isize !== expected) throw malformed('status list bits do not match its size');
  let out: Uint8Array;
  try {
    out = gunzipSync(gz, { out: new Uint8Array(expected) });
  } catch (e) {
    throw malformed('status list bits are not valid gzip', e);
  }
  if (out.length !== expected) throw malformed('status list bits do not match its size');
  return out;
}
