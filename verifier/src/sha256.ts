import { sha256 as nobleSha256 } from '@noble/hashes/sha2';
import { nodeCrypto } from './runtime';

const oneShot = typeof nodeCrypto?.hash === 'function' ? nodeCrypto.hash : undefined;

/** SHA-256 (FIPS 180-4): OpenSSL under Node, @noble/hashes elsewhere; the same bytes either way. */
export function sha256(data: Uint8Array): Uint8Array {
  if (!oneShot) return nobleSha256(data);
  const b = oneShot('sha256', data, 'buffer');
  // A plain Uint8Array view: Buffer#slice shares memory, Uint8Array#slice copies, and callers expect the latter.
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}
