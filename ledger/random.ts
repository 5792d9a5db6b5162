import { randomFillSync } from 'node:crypto';

// Each randomBytes call costs a few microseconds of fixed overhead; a request needs about
// eight small values (salts, ids, IVs, tokens), so they are cut from a pooled buffer.
const POOL_SIZE = 16 * 1024;
let pool = Buffer.alloc(0);
let offset = 0;

/** `n` cryptographically random bytes (a fresh copy, never shared). */
export function randomBytesPooled(n: number): Buffer {
  if (n > POOL_SIZE / 4) return randomFillSync(Buffer.alloc(n));
  if (offset + n > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafe(POOL_SIZE));
    offset = 0;
  }
  const out = Buffer.from(pool.subarray(offset, offset + n));
  // Zero what was handed out, so a later heap read of the pool cannot see issued values.
  pool.fill(0, offset, offset + n);
  offset += n;
  return out;
}
