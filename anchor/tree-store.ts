import { hash } from 'node:crypto';
import type { AbstractSublevel } from 'abstract-level';
import type { Level } from 'level';

/**
 * One growing RFC 6962 Merkle log kept in LevelDB as its complete subtrees: level L holds
 * the hash of every aligned run of 2^L leaves, packed 256 hashes to a block. Appending
 * touches only the right edge (one partial block per level, kept in memory), and any root,
 * inclusion proof or consistency proof for any size up to the current one is assembled
 * from O(log² n) stored nodes — nothing proportional to the tree is ever held in memory.
 *
 * Hashing uses node:crypto (OpenSSL); test/anchor checks it against verifier/src/merkle.
 */

const BLOCK = 256;
const HASH = 32;
const EMPTY_ROOT = hash('sha256', Buffer.alloc(0), 'buffer');
// Scratch buffers: hashing is the hot path of extending the log, so nothing is allocated
// per hash except the digest itself.
const leafScratch = Buffer.alloc(1 + HASH);
const nodeScratch = Buffer.alloc(1 + 2 * HASH);
nodeScratch[0] = 1;

export type TreeDb = AbstractSublevel<Level<string, unknown>, string | Uint8Array | Buffer, string, Uint8Array>;

/** RFC 6962 leaf hash: SHA-256(0x00 ‖ data). */
export function leafHash(data: Uint8Array): Buffer {
  if (data.length !== HASH) return hash('sha256', Buffer.concat([Buffer.from([0]), data]), 'buffer');
  leafScratch.set(data, 1);
  return hash('sha256', leafScratch, 'buffer');
}

/** RFC 6962 interior node: SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  nodeScratch.set(left, 1);
  nodeScratch.set(right, 1 + HASH);
  return hash('sha256', nodeScratch, 'buffer');
}

/** Largest power of two strictly below n (n ≥ 2). */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

const blockKey = (level: number, block: number) =>
  `b/${String(level).padStart(2, '0')}/${String(block).padStart(12, '0')}`;

interface EdgeBlock {
  level: number;
  block: number;
  data: Buffer;
  /** Hashes filled in this block. */
  count: number;
  dirty: boolean;
}

export class TreeStore {
  private size = 0;
  private readonly edge: EdgeBlock[] = [];
  /** Blocks that filled up since the last flush (the edge blocks are flushed too). */
  private full: EdgeBlock[] = [];
  private readonly cache = new Map<string, Buffer>();

  private constructor(private readonly db: TreeDb) {}

  static async open(db: TreeDb): Promise<TreeStore> {
    const t = new TreeStore(db);
    const meta = await db.get('size');
    t.size = meta ? Number(Buffer.from(meta).toString()) : 0;
    // Reload the partial right-edge block of every level.
    for (let level = 0, count = t.size; count > 0; level++, count = Math.floor(count / 2)) {
      const block = Math.floor((count - 1) / BLOCK);
      const stored = await db.get(blockKey(level, block));
      const data = Buffer.alloc(BLOCK * HASH);
      if (stored) Buffer.from(stored).copy(data);
      t.edge[level] = { level, block, data, count: count - block * BLOCK, dirty: false };
    }
    return t;
  }

  get treeSize(): number {
    return this.size;
  }

  private setNode(level: number, index: number, h: Uint8Array): void {
    const block = Math.floor(index / BLOCK);
    let e = this.edge[level];
    if (!e || e.block !== block) {
      if (e?.dirty) this.full.push(e);
      e = { level, block, data: Buffer.alloc(BLOCK * HASH), count: 0, dirty: false };
      this.edge[level] = e;
    }
    e.data.set(h, (index % BLOCK) * HASH);
    e.count = (index % BLOCK) + 1;
    e.dirty = true;
  }

  private edgeNode(level: number, index: number): Buffer | undefined {
    const e = this.edge[level];
    if (e && e.block === Math.floor(index / BLOCK) && index % BLOCK < e.count) {
      const o = (index % BLOCK) * HASH;
      return e.data.subarray(o, o + HASH);
    }
    return undefined;
  }

  /**
   * Appends leaves (already leaf-hashed) and persists every changed block and the new
   * size in one batch per ~64 blocks; the size is written last, so a crash between batches
   * leaves a consistent shorter tree that the caller re-extends from the ledger.
   */
  async append(leafHashes: readonly Uint8Array[]): Promise<void> {
    for (const h of leafHashes) {
      let index = this.size;
      let level = 0;
      let node: Uint8Array = h;
      this.setNode(0, index, node);
      // A right child completes its parent; siblings of an odd index share its block.
      while (index % 2 === 1) {
        const left = this.edgeNode(level, index - 1)!;
        node = nodeHash(left, node);
        level++;
        index = (index - 1) / 2;
        this.setNode(level, index, node);
      }
      this.size++;
      if (this.full.length >= 64) await this.flush(false);
    }
    await this.flush(true);
  }

  private async flush(withSize: boolean): Promise<void> {
    const batch = this.db.batch();
    for (const e of this.full) batch.put(blockKey(e.level, e.block), e.data);
    this.full = [];
    if (withSize) {
      for (const e of this.edge) {
        // A copy: the edge block keeps changing after the batch is queued.
        if (e?.dirty) batch.put(blockKey(e.level, e.block), Buffer.from(e.data.subarray(0, e.count * HASH)));
        if (e) e.dirty = false;
      }
      batch.put('size', Buffer.from(String(this.size)));
    }
    await batch.write();
  }

  /** The stored hash of the complete subtree at (level, index). */
  private async node(level: number, index: number): Promise<Buffer> {
    const fromEdge = this.edgeNode(level, index);
    if (fromEdge) return fromEdge;
    const b = Math.floor(index / BLOCK);
    const o = (index % BLOCK) * HASH;
    const pending = this.full.find((e) => e.level === level && e.block === b);
    if (pending) return pending.data.subarray(o, o + HASH);
    const key = blockKey(level, b);
    let block = this.cache.get(key);
    if (!block) {
      const stored = await this.db.get(key);
      if (!stored || stored.length < o + HASH) throw new Error(`tree node ${level}/${index} is missing`);
      block = Buffer.from(stored);
      // Only full blocks are cached: a stored partial block would go stale as it fills.
      if (block.length === BLOCK * HASH) {
        if (this.cache.size > 512) this.cache.delete(this.cache.keys().next().value!);
        this.cache.set(key, block);
      }
    }
    return block.subarray(o, o + HASH);
  }

  /** MTH of leaves [lo, hi); lo is always aligned to the largest power of two in the range. */
  private async subtree(lo: number, hi: number): Promise<Buffer> {
    const n = hi - lo;
    if ((n & (n - 1)) === 0) return this.node(Math.log2(n), lo / n);
    const k = split(n);
    return nodeHash(await this.subtree(lo, lo + k), await this.subtree(lo + k, hi));
  }

  private check(size: number) {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.size)
      throw new RangeError(`tree size ${size} is not in 0..${this.size}`);
  }

  /** The root of the first `size` leaves (RFC 6962 MTH). */
  async root(size = this.size): Promise<Buffer> {
    this.check(size);
    return size === 0 ? EMPTY_ROOT : this.subtree(0, size);
  }

  /**
   * The root of the perfect subtree over leaves [start, end): end − start a power of two and
   * start a multiple of it (what size proofs hold, FORMAT.md §11.4).
   */
  async perfectSubtree(start: number, end: number): Promise<Buffer> {
    const n = end - start;
    if (
      !Number.isSafeInteger(start) ||
      start < 0 ||
      end > this.size ||
      n < 1 ||
      (n & (n - 1)) !== 0 ||
      start % n !== 0
    ) {
      throw new RangeError(`[${start}, ${end}) is not an aligned perfect subtree of a tree of size ${this.size}`);
    }
    return this.node(Math.log2(n), start / n);
  }

  /** The leaf hash at `index`. */
  async leaf(index: number): Promise<Buffer> {
    if (index >= this.size) throw new RangeError(`leaf ${index} is not in a tree of size ${this.size}`);
    return this.node(0, index);
  }

  /** RFC 6962 §2.1.1 PATH(index, D[size]), leaf level first. */
  async inclusionProof(index: number, size = this.size): Promise<Buffer[]> {
    this.check(size);
    if (!Number.isSafeInteger(index) || index < 0 || index >= size)
      throw new RangeError(`leaf ${index} is not in a tree of size ${size}`);
    const path: Buffer[] = [];
    let lo = 0;
    let hi = size;
    while (hi - lo > 1) {
      const k = lo + split(hi - lo);
      if (index < k) {
        path.push(await this.subtree(k, hi));
        hi = k;
      } else {
        path.push(await this.subtree(lo, k));
        lo = k;
      }
    }
    return path.reverse();
  }

  /** RFC 6962 §2.1.2 PROOF(oldSize, D[newSize]). */
  async consistencyProof(oldSize: number, newSize = this.size): Promise<Buffer[]> {
    this.check(newSize);
    if (!Number.isSafeInteger(oldSize) || oldSize < 1 || oldSize > newSize)
      throw new RangeError(`cannot prove ${oldSize} → ${newSize}`);
    const proof: Buffer[] = [];
    // SUBPROOF(m, D[lo:hi], b), unrolled: the recursion only ever descends one side.
    let m = oldSize;
    let lo = 0;
    let hi = newSize;
    let complete = true;
    while (m !== hi - lo) {
      const k = split(hi - lo);
      if (m <= k) {
        proof.push(await this.subtree(lo + k, hi));
        hi = lo + k;
      } else {
        proof.push(await this.subtree(lo, lo + k));
        lo += k;
        m -= k;
        complete = false;
      }
    }
    if (!complete) proof.push(await this.subtree(lo, hi));
    return proof.reverse();
  }
}
