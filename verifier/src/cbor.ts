import { fromUtf8, utf8 } from './bytes';
import { malformed } from './errors';

/**
 * The subset of CBOR (RFC 8949) that AK1 objects use: integers that fit in a JS number,
 * byte strings, text strings, arrays, maps with integer or text keys, tags, booleans and
 * null. Encoding is always deterministic (§4.2.1); decoding accepts nothing else.
 */
export type CborKey = number | string;
export type CborValue = number | Uint8Array | string | CborValue[] | CborMap | Tagged | boolean | null;
export type CborMap = Map<CborKey, CborValue>;

export class Tagged {
  constructor(
    readonly tag: number,
    readonly value: CborValue,
  ) {}
}

const MAX_DEPTH = 16;

/**
 * Appends CBOR into one buffer that grows by doubling: an item's head and contents are written
 * in place, instead of each part being its own array joined at every level.
 */
class Writer {
  private buf = new Uint8Array(128);
  len = 0;

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const bigger = new Uint8Array(Math.max(2 * this.buf.length, this.len + n));
    bigger.set(this.buf.subarray(0, this.len));
    this.buf = bigger;
  }

  /** The head of an item of `major` type with argument `n`, in its shortest form. */
  head(major: number, n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) throw malformed(`CBOR argument ${n} out of range`);
    this.room(9);
    const b = this.buf;
    const m = major << 5;
    if (n < 24) b[this.len++] = m | n;
    else if (n < 0x100) {
      b[this.len++] = m | 24;
      b[this.len++] = n;
    } else if (n < 0x10000) {
      b[this.len++] = m | 25;
      b[this.len++] = n >> 8;
      b[this.len++] = n & 0xff;
    } else if (n < 0x100000000) {
      b[this.len++] = m | 26;
      this.u32(n);
    } else {
      b[this.len++] = m | 27;
      this.u32(Math.floor(n / 0x100000000));
      this.u32(n >>> 0);
    }
  }

  private u32(n: number): void {
    const b = this.buf;
    b[this.len++] = n >>> 24;
    b[this.len++] = (n >> 16) & 0xff;
    b[this.len++] = (n >> 8) & 0xff;
    b[this.len++] = n & 0xff;
  }

  bytes(bytes: Uint8Array): void {
    this.room(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.len++] = b;
  }

  /** What was written, in an array of its own. */
  done(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

function write(w: Writer, value: CborValue): void {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw malformed(`CBOR encoder supports integers only, got ${value}`);
    return value >= 0 ? w.head(0, value) : w.head(1, -1 - value);
  }
  if (typeof value === 'string') {
    const b = utf8(value);
    w.head(3, b.length);
    return w.bytes(b);
  }
  if (value instanceof Uint8Array) {
    w.head(2, value.length);
    return w.bytes(value);
  }
  if (Array.isArray(value)) {
    w.head(4, value.length);
    for (const v of value) write(w, v);
    return;
  }
  if (value instanceof Map) {
    // Keys are compared by their encoded bytes (§4.2.1), so each is encoded on its own first.
    const entries: Array<[Uint8Array, CborValue]> = [];
    for (const [k, v] of value) entries.push([keyBytes(k), v]);
    entries.sort((a, b) => compareBytes(a[0], b[0]));
    for (let i = 1; i < entries.length; i++) {
      if (compareBytes(entries[i - 1][0], entries[i][0]) === 0) throw malformed('duplicate CBOR map key');
    }
    w.head(5, entries.length);
    for (const [k, v] of entries) {
      w.bytes(k);
      write(w, v);
    }
    return;
  }
  if (value instanceof Tagged) {
    w.head(6, value.tag);
    return write(w, value.value);
  }
  if (value === false) return w.byte(0xf4);
  if (value === true) return w.byte(0xf5);
  if (value === null) return w.byte(0xf6);
  throw malformed(`cannot CBOR-encode ${typeof value}`);
}

/** Encoded map keys, by key: a format's maps use the same few keys over and over. */
const keyCache = new Map<CborKey, Uint8Array>();
const KEY_CACHE_MAX = 1024;

/** A map key's encoding (never to be written to: it may be shared). */
function keyBytes(k: CborKey): Uint8Array {
  let b = keyCache.get(k);
  if (b) return b;
  b = encodeCbor(k);
  if (keyCache.size < KEY_CACHE_MAX && (typeof k === 'number' || k.length <= 64)) keyCache.set(k, b);
  return b;
}

/** Deterministic encoding (RFC 8949 §4.2.1): shortest heads, definite lengths, sorted keys. */
export function encodeCbor(value: CborValue): Uint8Array {
  const w = new Writer();
  write(w, value);
  return w.done();
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/**
 * Decodes exactly one deterministically encoded CBOR item filling all of `bytes`.
 * Rejects indefinite lengths, non-shortest heads, floats and other simple values,
 * unsorted or duplicate map keys, keys other than integers and text, invalid UTF-8,
 * integers beyond 2^53 - 1, nesting deeper than 16 and trailing bytes.
 * @throws VerifierError MALFORMED
 */
export function decodeCbor(bytes: Uint8Array): CborValue {
  const r = new Reader(bytes);
  const v = r.item(0);
  if (r.pos !== bytes.length) throw malformed(`${bytes.length - r.pos} trailing bytes after CBOR item`);
  return v;
}

class Reader {
  pos = 0;
  constructor(private readonly b: Uint8Array) {}

  private byte(): number {
    if (this.pos >= this.b.length) throw malformed('CBOR ends early');
    return this.b[this.pos++];
  }

  private argument(ai: number): number {
    if (ai < 24) return ai;
    let n = 0;
    let len: number;
    if (ai === 24) len = 1;
    else if (ai === 25) len = 2;
    else if (ai === 26) len = 4;
    else if (ai === 27) len = 8;
    else if (ai === 31) throw malformed('indefinite-length CBOR is not allowed');
    else throw malformed(`reserved CBOR additional info ${ai}`);
    for (let i = 0; i < len; i++) n = n * 256 + this.byte();
    if (!Number.isSafeInteger(n)) throw malformed('CBOR integer beyond 2^53 - 1');
    const min = len === 1 ? 24 : len === 2 ? 0x100 : len === 4 ? 0x10000 : 0x100000000;
    if (n < min) throw malformed('CBOR head is not in its shortest form');
    return n;
  }

  private take(n: number): Uint8Array {
    if (n > this.b.length - this.pos) throw malformed('CBOR string runs past the end');
    const out = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  item(depth: number): CborValue {
    if (depth > MAX_DEPTH) throw malformed('CBOR nested too deeply');
    const start = this.pos;
    const ib = this.byte();
    const major = ib >> 5;
    const ai = ib & 0x1f;
    if (major === 7) {
      if (ai === 20) return false;
      if (ai === 21) return true;
      if (ai === 22) return null;
      throw malformed(`CBOR simple value or float (0x${ib.toString(16)}) is not allowed`);
    }
    const n = this.argument(ai);
    switch (major) {
      case 0:
        return n;
      case 1:
        if (n >= Number.MAX_SAFE_INTEGER) throw malformed('CBOR integer beyond -2^53');
        return -1 - n;
      case 2:
        return this.take(n).slice();
      case 3:
        return fromUtf8(this.take(n));
      case 4: {
        if (n > this.b.length - this.pos) throw malformed('CBOR array longer than its input');
        const out: CborValue[] = [];
        for (let i = 0; i < n; i++) out.push(this.item(depth + 1));
        return out;
      }
      case 5: {
        if (2 * n > this.b.length - this.pos) throw malformed('CBOR map longer than its input');
        const out: CborMap = new Map();
        let prevKey: Uint8Array | undefined;
        for (let i = 0; i < n; i++) {
          const keyStart = this.pos;
          const key = this.item(depth + 1);
          if (typeof key !== 'number' && typeof key !== 'string')
            throw malformed('CBOR map key must be an integer or text');
          const keyBytes = this.b.subarray(keyStart, this.pos);
          if (prevKey) {
            const c = compareBytes(prevKey, keyBytes);
            if (c === 0) throw malformed(`duplicate CBOR map key ${JSON.stringify(key)}`);
            if (c > 0) throw malformed('CBOR map keys are not in deterministic order');
          }
          prevKey = keyBytes;
          out.set(key, this.item(depth + 1));
        }
        return out;
      }
      case 6:
        return new Tagged(n, this.item(depth + 1));
      default:
        throw malformed(`unexpected CBOR major type ${major} at ${start}`);
    }
  }
}
