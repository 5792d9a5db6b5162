import { createCipheriv, createHmac } from 'node:crypto';
import { MAX_STATUS_ENTRIES, signStatusList, type Signer } from '../../verifier/src';

/**
 * The status list's smallest size (FORMAT.md §7). W3C Bitstring Status List asks for at least
 * 131,072 entries; at most half of a list is ever in use, so 2^17 would hold only 65,536
 * residents and a province of 100,000 would already publish a bigger list than one of 10.
 * 2^18 keeps every issuer up to 131,072 residents on the same size.
 */
export const MIN_STATUS_LIST_SIZE = 1 << 18;

/** The public range each secret cover rate is drawn from, once per issuer (share of unused entries). */
export const COVER_RATE_RANGE = { yellow: [0.01, 0.06], red: [0.01, 0.06] } as const;

/**
 * The list size for `used` issued indexes: a power of two, at least MIN_STATUS_LIST_SIZE, with
 * at most half of it in use, so a random draw needs two tries on average and unused entries
 * (cover) stay the majority. Capped at what a verifier will read (MAX_STATUS_ENTRIES).
 */
export function statusListSizeFor(used: number): number {
  let size = MIN_STATUS_LIST_SIZE;
  while (size < MAX_STATUS_ENTRIES && used > size / 2) size *= 2;
  return size;
}

/** The secret cover rates of one issuer: stable for its key, never published. */
export interface CoverRates {
  yellow: number;
  red: number;
}

/**
 * Cover values for the entries no resident holds. Each is a keyed pseudo-random function of
 * (the issuer's cover key, index): AES-256-CTR's keystream at the index (a PRF under the key),
 * 4 bytes per entry read as a uniform fraction and mapped through the issuer's secret rates.
 * The same index always gets the same value, so an unused entry never changes between
 * signings; the rates are drawn once per key from COVER_RATE_RANGE, so counting colours in
 * the list gives neither the population nor its split. Suspended (3) never appears: the
 * issuer never suspends an index today, so a 3 would mark its entry as cover.
 */
export class StatusCover {
  readonly rates: CoverRates;
  private readonly streamKey: Buffer;

  /** @param rates only to measure a chosen rate (bench, tests); an issuer's come from its key */
  constructor(key: Uint8Array, rates?: CoverRates) {
    if (key.length !== 32) throw new Error('the status cover key must be 32 bytes');
    const rateBytes = createHmac('sha256', key).update('ankang status cover rates').digest();
    const draw = (offset: number, [lo, hi]: readonly [number, number]) =>
      lo + (rateBytes.readUInt32BE(offset) / 2 ** 32) * (hi - lo);
    this.rates = rates ?? { yellow: draw(0, COVER_RATE_RANGE.yellow), red: draw(4, COVER_RATE_RANGE.red) };
    this.streamKey = createHmac('sha256', key).update('ankang status cover stream').digest();
  }

  /** Writes the cover values of entries [from, to) into `out` at the same indexes. */
  fill(out: Uint8Array, from: number, to: number): void {
    const CHUNK = 1 << 20;
    for (let start = from - (from & 3); start < to; start += CHUNK) {
      const end = Math.min(to, start + CHUNK);
      const stream = this.keystream(start, end);
      for (let i = Math.max(start, from); i < end; i++) out[i] = this.valueOf(stream.readUInt32BE(4 * (i - start)));
    }
  }

  /** The cover value of one entry. */
  valueAt(index: number): number {
    const start = index - (index & 3);
    return this.valueOf(this.keystream(start, start + 4).readUInt32BE(4 * (index & 3)));
  }

  private valueOf(u: number): number {
    const red = this.rates.red * 2 ** 32;
    return u < red ? 2 : u < red + this.rates.yellow * 2 ** 32 ? 1 : 0;
  }

  /** Keystream bytes for entries [start, end); `start` is a multiple of 4 (one AES block holds four entries). */
  private keystream(start: number, end: number): Buffer {
    const iv = Buffer.alloc(16);
    iv.writeUInt32BE(start / 4, 12);
    const cipher = createCipheriv('aes-256-ctr', this.streamKey, iv);
    return cipher.update(Buffer.alloc(4 * (end - start)));
  }
}

const UNISSUED = 0;
const ISSUED = 1;

/**
 * Every resident's current status (2 bits per status index) in memory, and the signed
 * status list built from it. Indexes no resident holds carry cover values (`StatusCover`),
 * so the list reads the same whether 10 or 100,000 residents stand behind it. A change
 * marks the list stale, so the next request re-signs it and a verifier sees the change at
 * once; an unchanged list is re-signed once it is older than `maxAgeSeconds`, so verifiers
 * always find a fresh one.
 */
export class StatusBook {
  private values: Uint8Array;
  private issued: Uint8Array;
  private issuedCount = 0;
  private readonly cover: StatusCover;
  private signed: { bytes: Uint8Array; issuedAt: number } | undefined;
  private signing: Promise<void> | undefined;
  private version = 0;
  private readonly changeListeners: Array<() => void> = [];
  private changeScheduled = false;
  private signedVersion = -1;
  private signedKid = '';

  /** @param cover the issuer's secret status cover key (32 bytes, `Secrets.statusCoverKey`), or a cover built from it */
  constructor(
    private readonly iss: string,
    private readonly maxAgeSeconds: number,
    cover: Uint8Array | StatusCover,
  ) {
    this.cover = cover instanceof StatusCover ? cover : new StatusCover(cover);
    this.values = new Uint8Array(MIN_STATUS_LIST_SIZE);
    this.issued = new Uint8Array(MIN_STATUS_LIST_SIZE);
    this.cover.fill(this.values, 0, MIN_STATUS_LIST_SIZE);
  }

  /** How many status indexes residents hold (one per resident), not the list's length. */
  get size(): number {
    return this.issuedCount;
  }

  /** The number of entries in the signed list. */
  get listSize(): number {
    return this.values.length;
  }

  /** The range a new index is drawn from when `adding` more indexes are about to be held. */
  drawSpace(adding: number): number {
    return Math.max(this.values.length, statusListSizeFor(this.issuedCount + adding));
  }

  /** Whether a resident holds `index`: cover entries were never put in a code. */
  isIssued(index: number): boolean {
    return index >= 0 && index < this.issued.length && this.issued[index] === ISSUED;
  }

  /** The status at a held index; undefined for a cover entry or one past the end. */
  get(index: number): number | undefined {
    return this.isIssued(index) ? this.values[index] : undefined;
  }

  /** Sets the status at `index` and marks it held (growing the list when more than half is held). */
  set(index: number, value: number): void {
    if (!(value >= 0 && value <= 3)) throw new Error(`status value ${value} is not 0..3`);
    if (!this.isIssued(index)) {
      this.grow(Math.max(statusListSizeFor(this.issuedCount + 1), index + 1));
      this.issued[index] = ISSUED;
      this.issuedCount++;
    }
    this.values[index] = value;
    this.changed();
  }

  /** Frees `index`: its entry returns to its cover value. */
  release(index: number): void {
    if (!this.isIssued(index)) return;
    this.issued[index] = UNISSUED;
    this.issuedCount--;
    this.values[index] = this.cover.valueAt(index);
    this.changed();
  }

  /**
   * Called once after any number of changes made in one turn of the event loop (a writer tells
   * its HTTP workers that the signed list they hold is out of date).
   */
  onChange(fn: () => void): void {
    this.changeListeners.push(fn);
  }

  private changed(): void {
    this.version++;
    if (this.changeScheduled || !this.changeListeners.length) return;
    this.changeScheduled = true;
    // Before any request can see the new statuses (they are set in a transaction's commit), not a tick later.
    queueMicrotask(() => {
      this.changeScheduled = false;
      for (const f of this.changeListeners) f();
    });
  }

  private grow(needed: number): void {
    if (needed <= this.values.length) return;
    let size = this.values.length;
    while (size < needed) size *= 2;
    if (size > MAX_STATUS_ENTRIES) throw new Error(`a status list cannot hold index ${needed - 1}`);
    const values = new Uint8Array(size);
    values.set(this.values);
    this.cover.fill(values, this.values.length, size);
    const issued = new Uint8Array(size);
    issued.set(this.issued);
    this.values = values;
    this.issued = issued;
  }

  /** The signed list, re-signed when something changed since it was signed or it has aged. */
  async current(now: number, signer: Signer): Promise<{ bytes: Uint8Array; issuedAt: number }> {
    const wanted = this.version;
    const kid = Buffer.from(signer.kid).toString('hex');
    for (;;) {
      // Re-sign after a change, when aged, and when the signing key changed (rotation or revocation).
      if (
        this.signed &&
        this.signedVersion >= wanted &&
        this.signedKid === kid &&
        now - this.signed.issuedAt < this.maxAgeSeconds
      )
        return this.signed;
      if (this.signing) {
        await this.signing;
        continue;
      }
      const version = this.version;
      this.signing = signStatusList({ iss: this.iss, issuedAt: now, statuses: this.values }, signer)
        .then((bytes) => {
          this.signed = { bytes, issuedAt: now };
          this.signedVersion = version;
          this.signedKid = kid;
        })
        .finally(() => {
          this.signing = undefined;
        });
    }
  }
}
