import { Point } from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2';
import { concatBytes, equalBytes } from './bytes';
import { nodeCrypto } from './runtime';

/**
 * Ed25519 (RFC 8032 §5.1.7) with one acceptance rule on every backend:
 *  - S must be below the group order L (no S + L malleation);
 *  - the public key must be a canonical encoding (y < p) of a point that is not of small
 *    order (checked once per key by `checkPublicKey`);
 *  - the check is cofactorless and compares R byte for byte with the recomputed
 *    [S]B - [k]A, so a non-canonical R never verifies.
 * Node's OpenSSL (node:crypto, also behind Node's WebCrypto), browsers' WebCrypto and
 * the noble fallback are all held to this rule by the shared pre-checks and the vectors
 * in test/verifier/vectors/ed25519-*.json.
 */
export type Backend = 'node' | 'node-async' | 'webcrypto' | 'noble';

// L = 2^252 + 27742317777372353535851937790883648493, little-endian.
const L_LE = Uint8Array.from([
  0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0x10,
]);
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

/** True when the 32-byte little-endian scalar S is below L. */
export function isCanonicalScalar(s: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    if (s[i] !== L_LE[i]) return s[i] < L_LE[i];
  }
  return false;
}

/**
 * Checks a raw public key once, before it is trusted: 32 bytes, canonical encoding,
 * on the curve, not of small order. Returns a reason when it is unusable.
 */
export function checkPublicKey(publicKey: Uint8Array): string | undefined {
  if (publicKey.length !== 32) return 'Ed25519 public key must be 32 bytes';
  let A: Point;
  try {
    A = Point.fromBytes(publicKey, false);
  } catch {
    return 'Ed25519 public key is not a canonical curve point';
  }
  if (!equalBytes(A.toBytes(), publicKey)) return 'Ed25519 public key is not canonically encoded';
  if (A.isSmallOrder()) return 'Ed25519 public key has small order';
  return undefined;
}

const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

function littleEndianToBigInt(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]);
  return n;
}

function nobleVerify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    const A = Point.fromBytes(publicKey, false);
    const r = signature.subarray(0, 32);
    const s = littleEndianToBigInt(signature.subarray(32));
    const k = littleEndianToBigInt(sha512(concatBytes(r, publicKey, message))) % L;
    const rCheck = Point.BASE.multiply(s, false).subtract(A.multiply(k, false));
    return equalBytes(rCheck.toBytes(), r);
  } catch {
    return false;
  }
}

/** A verifier bound to one public key; keys are imported once and reused. */
export interface KeyVerifier {
  readonly backend: Backend;
  verify(message: Uint8Array, signature: Uint8Array): Promise<boolean>;
}

function hasWebCryptoEd25519(): boolean {
  return typeof globalThis.crypto?.subtle?.importKey === 'function';
}

/**
 * Prepares a verifier for a public key that passed `checkPublicKey`. The backend is the
 * fastest the runtime has unless one is asked for (tests and the benchmark compare them).
 */
export function createKeyVerifier(publicKey: Uint8Array, backend: Backend = defaultBackend()): KeyVerifier {
  const pub = publicKey.slice();
  const guard = (signature: Uint8Array) => signature.length === 64 && isCanonicalScalar(signature.subarray(32));
  if (backend === 'node' || backend === 'node-async') {
    const nc = nodeCrypto;
    if (!nc) throw new Error('node:crypto is not available in this runtime');
    const key = nc.createPublicKey({ key: Buffer.from(concatBytes(SPKI_PREFIX, pub)), format: 'der', type: 'spki' });
    if (backend === 'node')
      return {
        backend,
        verify: async (message, signature) => guard(signature) && nc.verify(null, message, key, signature),
      };
    // The callback form runs the same OpenSSL check on libuv's thread pool: a server
    // verifying many codes at once keeps its event loop for everything else.
    return {
      backend,
      verify: (message, signature) =>
        guard(signature)
          ? new Promise((done) => nc.verify(null, message, key, signature, (err, ok) => done(!err && ok)))
          : Promise.resolve(false),
    };
  }
  if (backend === 'webcrypto') {
    let key: Promise<CryptoKey | undefined> | undefined;
    const fallback = createKeyVerifier(pub, 'noble');
    return {
      backend,
      async verify(message, signature) {
        if (!guard(signature)) return false;
        key ??= globalThis.crypto.subtle
          .importKey('raw', pub as Uint8Array<ArrayBuffer>, { name: 'Ed25519' }, false, ['verify'])
          .catch(() => undefined);
        const k = await key;
        // A browser without Ed25519 in WebCrypto rejects the import: fall back to noble.
        if (!k) return fallback.verify(message, signature);
        return globalThis.crypto.subtle.verify(
          { name: 'Ed25519' },
          k,
          signature as Uint8Array<ArrayBuffer>,
          message as Uint8Array<ArrayBuffer>,
        );
      },
    };
  }
  return {
    backend: 'noble',
    verify: async (message, signature) => guard(signature) && nobleVerify(pub, message, signature),
  };
}

/** node:crypto under Node (same OpenSSL as Node's WebCrypto, without the thread-pool hop), else WebCrypto, else noble. */
export function defaultBackend(): Backend {
  if (nodeCrypto) return 'node';
  if (hasWebCryptoEd25519()) return 'webcrypto';
  return 'noble';
}
