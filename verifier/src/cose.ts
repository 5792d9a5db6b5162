import { sha256 } from './sha256';
import { Tagged, decodeCbor, encodeCbor, type CborValue } from './cbor';
import { malformed } from './errors';

/** COSE_Sign1 tag (RFC 9052 §4.2). */
export const COSE_SIGN1_TAG = 18;
/** EdDSA (RFC 9053 §2.2); the only algorithm AK1 allows. */
export const ALG_EDDSA = -8;
const HDR_ALG = 1;
const HDR_KID = 4;

export interface Sign1 {
  kid: Uint8Array;
  protectedBytes: Uint8Array;
  payload: Uint8Array;
  signature: Uint8Array;
}

/** kid = the first 8 bytes of SHA-256 over the raw 32-byte Ed25519 public key. */
export function computeKid(publicKey: Uint8Array): Uint8Array {
  return sha256(publicKey).slice(0, 8);
}

/** The protected header `{1: -8, 4: kid}` in deterministic CBOR. */
export function protectedHeader(kid: Uint8Array): Uint8Array {
  if (kid.length !== 8) throw malformed('kid must be 8 bytes');
  return encodeCbor(
    new Map<number, CborValue>([
      [HDR_ALG, ALG_EDDSA],
      [HDR_KID, kid],
    ]),
  );
}

/** The bytes an issuer signs: Sig_structure `["Signature1", protected, h'', payload]` (RFC 9052 §4.4). */
export function sigStructure(protectedBytes: Uint8Array, payload: Uint8Array): Uint8Array {
  return encodeCbor(['Signature1', protectedBytes, new Uint8Array(0), payload]);
}

/** Tagged COSE_Sign1 with an empty unprotected header. */
export function encodeSign1(s: Omit<Sign1, 'kid'>): Uint8Array {
  return encodeCbor(new Tagged(COSE_SIGN1_TAG, [s.protectedBytes, new Map(), s.payload, s.signature]));
}

/**
 * Decodes a tagged COSE_Sign1 as AK1 restricts it: protected header exactly
 * `{1: -8, 4: kid(8 bytes)}`, unprotected header empty, a 64-byte signature.
 * @throws VerifierError MALFORMED
 */
export function decodeSign1(bytes: Uint8Array): Sign1 {
  const top = decodeCbor(bytes);
  if (!(top instanceof Tagged) || top.tag !== COSE_SIGN1_TAG) throw malformed('not a tagged COSE_Sign1 (tag 18)');
  const arr = top.value;
  if (!Array.isArray(arr) || arr.length !== 4) throw malformed('COSE_Sign1 must be an array of four items');
  const [protectedBytes, unprotected, payload, signature] = arr;
  if (!(protectedBytes instanceof Uint8Array)) throw malformed('COSE protected header must be a byte string');
  if (!(unprotected instanceof Map) || unprotected.size !== 0)
    throw malformed('COSE unprotected header must be an empty map');
  if (!(payload instanceof Uint8Array)) throw malformed('COSE payload must be a byte string');
  if (!(signature instanceof Uint8Array) || signature.length !== 64) throw malformed('COSE signature must be 64 bytes');
  const hdr = decodeCbor(protectedBytes);
  if (!(hdr instanceof Map) || hdr.size !== 2 || !hdr.has(HDR_ALG) || !hdr.has(HDR_KID)) {
    throw malformed('COSE protected header must hold exactly alg (1) and kid (4)');
  }
  if (hdr.get(HDR_ALG) !== ALG_EDDSA) throw malformed(`COSE alg must be -8 (EdDSA), got ${String(hdr.get(HDR_ALG))}`);
  const kid = hdr.get(HDR_KID);
  if (!(kid instanceof Uint8Array) || kid.length !== 8) throw malformed('COSE kid must be an 8-byte string');
  return { kid, protectedBytes, payload, signature };
}
