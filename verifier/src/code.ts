import { decodeBase45, encodeBase45 } from './base45';
import { decodeClaims, encodeClaims, type CodeClaims } from './claims';
import { decodeSign1, encodeSign1, protectedHeader, sigStructure } from './cose';
import { malformed } from './errors';

/** Every Ankang code's text form starts with this (FORMAT.md §1). */
export const CODE_PREFIX = 'AK1:';

// Real codes are under 300 characters; the cap keeps hostile input cheap to refuse.
const MAX_CODE_CHARS = 2048;

/** Anything that can sign with an Ed25519 key whose kid is `kid`. */
export interface Signer {
  kid: Uint8Array;
  sign(data: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

export interface DecodedCode {
  kid: Uint8Array;
  claims: CodeClaims;
  signature: Uint8Array;
  /** The Sig_structure bytes the signature covers. */
  toBeSigned: Uint8Array;
}

/**
 * The exact bytes an issuer must sign for these claims under `kid`.
 * @throws VerifierError MALFORMED when a claim is invalid
 */
export function toBeSigned(claims: CodeClaims, kid: Uint8Array): Uint8Array {
  return sigStructure(protectedHeader(kid), encodeClaims(claims));
}

/**
 * Assembles the `AK1:` text from claims and a signature made elsewhere over `toBeSigned`.
 * @throws VerifierError MALFORMED when a claim is invalid or the signature is not 64 bytes
 */
export function encodeCode(parts: { kid: Uint8Array; claims: CodeClaims; signature: Uint8Array }): string {
  if (parts.signature.length !== 64) throw malformed('signature must be 64 bytes');
  const bytes = encodeSign1({
    protectedBytes: protectedHeader(parts.kid),
    payload: encodeClaims(parts.claims),
    signature: parts.signature,
  });
  return CODE_PREFIX + encodeBase45(bytes);
}

/**
 * Signs claims and returns the `AK1:` text.
 * @throws VerifierError MALFORMED when a claim is invalid
 * @example
 * const text = await signCode(claims, { kid, sign: (m) => crypto.sign(null, m, privateKey) });
 */
export async function signCode(claims: CodeClaims, signer: Signer): Promise<string> {
  const protectedBytes = protectedHeader(signer.kid);
  const payload = encodeClaims(claims);
  const signature = await signer.sign(sigStructure(protectedBytes, payload));
  return CODE_PREFIX + encodeBase45(encodeSign1({ protectedBytes, payload, signature }));
}

/**
 * Parses the `AK1:` text down to validated claims, without checking the signature.
 * @throws VerifierError MALFORMED for a wrong prefix, bad base45, non-deterministic
 * CBOR, a bad COSE envelope or a missing, extra or mistyped claim
 */
export function decodeCode(text: string): DecodedCode {
  if (typeof text !== 'string') throw malformed('code must be text');
  if (text.length > MAX_CODE_CHARS) throw malformed(`code is longer than ${MAX_CODE_CHARS} characters`);
  if (!text.startsWith(CODE_PREFIX)) throw malformed(`code must start with ${CODE_PREFIX}`);
  const sign1 = decodeSign1(decodeBase45(text.slice(CODE_PREFIX.length)));
  return {
    kid: sign1.kid,
    claims: decodeClaims(sign1.payload),
    signature: sign1.signature,
    toBeSigned: sigStructure(sign1.protectedBytes, sign1.payload),
  };
}
