import { malformed } from './errors';

// RFC 9285 §4: the 45-character alphabet is exactly the QR alphanumeric set.
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:';
const VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) VALUE[ALPHABET.charCodeAt(i)] = i;

/** Encodes bytes as base45 (RFC 9285 §4.2). */
export function encodeBase45(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 1 < bytes.length; i += 2) {
    let n = bytes[i] * 256 + bytes[i + 1];
    const c = n % 45;
    n = (n - c) / 45;
    const d = n % 45;
    out += ALPHABET[c] + ALPHABET[d] + ALPHABET[(n - d) / 45];
  }
  if (i < bytes.length) {
    const n = bytes[i];
    out += ALPHABET[n % 45] + ALPHABET[Math.floor(n / 45)];
  }
  return out;
}

/**
 * Decodes base45 (RFC 9285 §4.3). Rejects characters outside the alphabet, a dangling
 * single character and triplets or pairs whose value does not fit their byte count.
 * @throws VerifierError MALFORMED
 */
export function decodeBase45(text: string): Uint8Array {
  if (text.length % 3 === 1) throw malformed('base45 text has a dangling character');
  const out = new Uint8Array(Math.floor(text.length / 3) * 2 + (text.length % 3 === 2 ? 1 : 0));
  let o = 0;
  for (let i = 0; i < text.length; i += 3) {
    const c = digit(text, i);
    const d = digit(text, i + 1);
    if (i + 2 < text.length) {
      const n = c + d * 45 + digit(text, i + 2) * 2025;
      if (n > 0xffff) throw malformed('base45 triplet out of range');
      out[o++] = n >> 8;
      out[o++] = n & 0xff;
    } else {
      const n = c + d * 45;
      if (n > 0xff) throw malformed('base45 pair out of range');
      out[o++] = n;
    }
  }
  return out;
}

function digit(text: string, i: number): number {
  const code = text.charCodeAt(i);
  const v = code < 128 ? VALUE[code] : -1;
  if (v < 0) throw malformed(`character ${JSON.stringify(text[i])} is not base45`);
  return v;
}
