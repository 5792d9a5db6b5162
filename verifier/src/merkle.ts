import { sha256 } from './sha256';
import { equalBytes, fromHex, toHex } from './bytes';

/** Length in bytes of every leaf, node and root hash (SHA-256). */
export const HASH_SIZE = 32;

/** What went wrong: a proof of the wrong length, a root mismatch, an index or sizes out of range, or a hash that is not 32 bytes. */
export type MerkleErrorCode = 'PROOF_SIZE' | 'ROOT_MISMATCH' | 'INDEX_OUT_OF_RANGE' | 'BAD_SIZES' | 'HASH_SIZE';

/**
 * The one error thrown by the Merkle code. For `ROOT_MISMATCH`, `expected` and
 * `calculated` hold the two roots in hex (like transparency-dev/merkle's RootMismatchError).
 */
export class MerkleError extends Error {
  readonly code: MerkleErrorCode;
  readonly expected?: string;
  readonly calculated?: string;

  constructor(code: MerkleErrorCode, message: string, roots?: { expected: Uint8Array; calculated: Uint8Array }) {
    super(message);
    this.name = 'MerkleError';
    this.code = code;
    if (roots) {
      this.expected = toHex(roots.expected);
      this.calculated = toHex(roots.calculated);
    }
  }
}

/** True when `e` is a MerkleError, optionally with the given code. */
export function isMerkleError(e: unknown, code?: MerkleErrorCode): e is MerkleError {
  return e instanceof MerkleError && (code === undefined || e.code === code);
}

/**
 * Leaf hash of RFC 6962 §2.1 (RFC 9162 §2.1.1): SHA-256(0x00 || data).
 * @example hashLeaf(new Uint8Array()) // 6e340b9c…
 */
export function hashLeaf(data: Uint8Array): Uint8Array {
  const buf = new Uint8Array(1 + data.length);
  buf.set(data, 1);
  return sha256(buf);
}

/** Interior node hash of RFC 6962 §2.1 (RFC 9162 §2.1.1): SHA-256(0x01 || left || right). */
export function hashChildren(left: Uint8Array, right: Uint8Array): Uint8Array {
  const buf = new Uint8Array(1 + left.length + right.length);
  buf[0] = 1;
  buf.set(left, 1);
  buf.set(right, 1 + left.length);
  return sha256(buf);
}

/**
 * The Merkle Tree Hash MTH(D[n]) of RFC 6962 §2.1 over already-hashed leaves.
 * The empty tree hashes to SHA-256 of the empty string.
 * @throws MerkleError HASH_SIZE if a leaf hash is not 32 bytes
 * @example rootFromLeafHashes(events.map(hashLeaf))
 */
export function rootFromLeafHashes(leafHashes: readonly Uint8Array[]): Uint8Array {
  leafHashes.forEach((h, i) => checkHash(h, `leaf hash ${i}`));
  if (leafHashes.length === 0) return sha256(new Uint8Array(0));
  return subtreeRoot(leafHashes, 0, leafHashes.length);
}

/**
 * The audit path PATH(m, D[n]) of RFC 6962 §2.1.1 (RFC 9162 §2.1.3.1), leaf level first.
 * A reference generator: O(n) hashing per proof.
 * @throws MerkleError INDEX_OUT_OF_RANGE unless 0 <= index < leafHashes.length, HASH_SIZE
 * @example verifyInclusion(leafHashes[3], 3, leafHashes.length, inclusionProof(leafHashes, 3), root)
 */
export function inclusionProof(leafHashes: readonly Uint8Array[], index: number): Uint8Array[] {
  if (!isSize(index) || index >= leafHashes.length) {
    throw new MerkleError('INDEX_OUT_OF_RANGE', `leaf index ${index} is not in a tree of size ${leafHashes.length}`);
  }
  leafHashes.forEach((h, i) => checkHash(h, `leaf hash ${i}`));
  const path: Uint8Array[] = [];
  let lo = 0;
  let hi = leafHashes.length;
  // Walk down from the root, collecting the sibling of each subtree holding the leaf.
  while (hi - lo > 1) {
    const k = lo + splitPoint(hi - lo);
    if (index < k) {
      path.push(subtreeRoot(leafHashes, k, hi));
      hi = k;
    } else {
      path.push(subtreeRoot(leafHashes, lo, k));
      lo = k;
    }
  }
  return path.reverse();
}

/**
 * The consistency proof PROOF(m, D[n]) of RFC 6962 §2.1.2 (RFC 9162 §2.1.4.1) from the
 * tree of the first `oldSize` leaves to the tree of all `leafHashes`. Empty when the sizes are equal.
 * @throws MerkleError BAD_SIZES unless 0 < oldSize <= leafHashes.length, HASH_SIZE
 * @example verifyConsistency(m, leafHashes.length, oldRoot, newRoot, consistencyProof(leafHashes, m))
 */
export function consistencyProof(leafHashes: readonly Uint8Array[], oldSize: number): Uint8Array[] {
  leafHashes.forEach((h, i) => checkHash(h, `leaf hash ${i}`));
  return consistencyProofFromSubtrees(oldSize, leafHashes.length, (lo, hi) => subtreeRoot(leafHashes, lo, hi));
}

/**
 * The consistency proof from a log of `oldRange.size` leaves to the log after appending
 * `appended`, computed without the old leaves: every proof node either lies wholly in the
 * old tree, where it is one of the compact range's subtrees, or wholly in the appended part.
 * @throws MerkleError BAD_SIZES if the old log is empty, HASH_SIZE
 * @example
 * const proof = consistencyProofForAppend(range, batch); // before appending the batch
 * batch.forEach((h) => range.append(h));
 */
export function consistencyProofForAppend(oldRange: CompactRange, appended: readonly Uint8Array[]): Uint8Array[] {
  appended.forEach((h, i) => checkHash(h, `appended leaf hash ${i}`));
  const m = oldRange.size;
  const olds = oldRange.subtrees();
  return consistencyProofFromSubtrees(m, m + appended.length, (lo, hi) => {
    if (lo >= m) return subtreeRoot(appended, lo - m, hi - m);
    const hit = olds.find((s) => s.start === lo && s.end === hi);
    if (!hit) throw new Error(`internal: subtree [${lo}, ${hi}) is not in the compact range`);
    return hit.hash;
  });
}

/**
 * Calculates the root that an RFC 6962 inclusion proof leads to, following the
 * verification algorithm of RFC 9162 §2.1.3.2.
 * @throws MerkleError INDEX_OUT_OF_RANGE, PROOF_SIZE, BAD_SIZES or HASH_SIZE
 * @example equalBytes(rootFromInclusionProof(leafHash, 3, 8, proof), root)
 */
export function rootFromInclusionProof(
  leafHash: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
): Uint8Array {
  if (!isSize(treeSize)) throw new MerkleError('BAD_SIZES', `tree size ${treeSize} is not a non-negative integer`);
  if (!isSize(index) || index >= treeSize) {
    throw new MerkleError('INDEX_OUT_OF_RANGE', `leaf index ${index} is not in a tree of size ${treeSize}`);
  }
  checkHash(leafHash, 'leaf hash');
  proof.forEach((h, i) => checkHash(h, `proof[${i}]`));
  const want = inclusionProofSize(index, treeSize);
  if (proof.length !== want) {
    throw new MerkleError('PROOF_SIZE', `inclusion proof has ${proof.length} hashes, want ${want}`);
  }
  let fn = index;
  let sn = treeSize - 1;
  let r = leafHash;
  for (const p of proof) {
    if (isOdd(fn) || fn === sn) {
      r = hashChildren(p, r);
      while (!isOdd(fn) && fn !== 0) [fn, sn] = [half(fn), half(sn)];
    } else {
      r = hashChildren(r, p);
    }
    [fn, sn] = [half(fn), half(sn)];
  }
  return r;
}

/**
 * Verifies an RFC 6962 inclusion proof (RFC 9162 §2.1.3.2) of `leafHash` at `index` in the
 * tree of `treeSize` leaves whose root is `root`.
 * @throws MerkleError ROOT_MISMATCH (with `expected` and `calculated`), PROOF_SIZE,
 *   INDEX_OUT_OF_RANGE, BAD_SIZES or HASH_SIZE
 * @example verifyInclusion(hashLeaf(event), 3, checkpoint.treeSize, proof, checkpoint.root)
 */
export function verifyInclusion(
  leafHash: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): void {
  checkHash(root, 'root');
  matchRoot(rootFromInclusionProof(leafHash, index, treeSize, proof), root, 'root');
}

/**
 * Verifies an RFC 6962 consistency proof (RFC 9162 §2.1.4.2): that the tree of `newSize`
 * leaves with `newRoot` extends the tree of `oldSize` leaves with `oldRoot`. Equal sizes
 * need an empty proof and equal roots; a proof from the empty tree is meaningless and refused.
 * @throws MerkleError BAD_SIZES, PROOF_SIZE, ROOT_MISMATCH (with `expected` and `calculated`) or HASH_SIZE
 * @example verifyConsistency(last.treeSize, next.treeSize, last.root, next.root, proof)
 */
export function verifyConsistency(
  oldSize: number,
  newSize: number,
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
  proof: readonly Uint8Array[],
): void {
  if (!isSize(oldSize) || !isSize(newSize) || oldSize > newSize) {
    throw new MerkleError('BAD_SIZES', `cannot prove size ${oldSize} consistent with size ${newSize}`);
  }
  checkHash(oldRoot, 'old root');
  checkHash(newRoot, 'new root');
  proof.forEach((h, i) => checkHash(h, `proof[${i}]`));
  if (oldSize === newSize) {
    if (proof.length !== 0) throw new MerkleError('PROOF_SIZE', 'equal sizes need an empty consistency proof');
    matchRoot(oldRoot, newRoot, 'new root');
    return;
  }
  if (oldSize === 0) throw new MerkleError('BAD_SIZES', 'a consistency proof from the empty tree is meaningless');
  const want = consistencyProofSize(oldSize, newSize);
  if (proof.length !== want) {
    throw new MerkleError('PROOF_SIZE', `consistency proof has ${proof.length} hashes, want ${want}`);
  }

  const path = isPowerOfTwo(oldSize) ? [oldRoot, ...proof] : proof;
  let fn = oldSize - 1;
  let sn = newSize - 1;
  while (isOdd(fn)) [fn, sn] = [half(fn), half(sn)];
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (isOdd(fn) || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      while (!isOdd(fn) && fn !== 0) [fn, sn] = [half(fn), half(sn)];
    } else {
      sr = hashChildren(sr, c);
    }
    [fn, sn] = [half(fn), half(sn)];
  }
  matchRoot(fr, oldRoot, 'old root');
  matchRoot(sr, newRoot, 'new root');
}

/**
 * One hash of a size proof (FORMAT.md §11.4): the data (not the leaf hash) of leaf `index`, or
 * the root of the perfect subtree over leaves [`start`, `end`).
 */
export type SizeProofItem = { kind: 'leaf'; index: number } | { kind: 'subtree'; start: number; end: number };

/**
 * What a size proof from a checkpoint of `oldSize` leaves (0: the issuer's first) to one of
 * `newSize` leaves holds, in order: the last leaf, then for each set bit b of `newSize − 1`
 * below the level where the paths to the old and the new last leaf part (every set bit for a
 * first checkpoint), lowest first, the leftmost leaf of that bit's perfect subtree and the b
 * right children on its left edge, lowest first. Every item lies at or after `oldSize`.
 * @throws MerkleError BAD_SIZES unless 0 <= oldSize < newSize
 * @example sizeProofPlan(13, 21) // leaf 20, leaf 16, subtree [17, 18), subtree [18, 20)
 */
export function sizeProofPlan(oldSize: number, newSize: number): SizeProofItem[] {
  if (!isSize(oldSize) || !isSize(newSize) || oldSize >= newSize) {
    throw new MerkleError('BAD_SIZES', `no size proof from size ${oldSize} to size ${newSize}`);
  }
  const last = newSize - 1;
  const items: SizeProofItem[] = [{ kind: 'leaf', index: last }];
  for (let b = 0; b < partingLevel(oldSize, newSize); b++) {
    if (!bitAt(last, b)) continue;
    const start = last - (last % 2 ** (b + 1));
    items.push({ kind: 'leaf', index: start });
    for (let j = 0; j < b; j++) items.push({ kind: 'subtree', start: start + 2 ** j, end: start + 2 ** (j + 1) });
  }
  return items;
}

/**
 * The size proof for anchoring the log after appending `appendedData` (leaf data, 32 bytes
 * each: event hashes) to a log of `oldSize` leaves, computed from the appended leaves alone.
 * @throws MerkleError BAD_SIZES if nothing is appended, HASH_SIZE
 * @example contract.anchor(issuer, m + batch.length, root, consistency, sizeProofForAppend(m, batch))
 */
export function sizeProofForAppend(oldSize: number, appendedData: readonly Uint8Array[]): Uint8Array[] {
  appendedData.forEach((d, i) => checkHash(d, `appended leaf data ${i}`));
  const hashed = appendedData.map(hashLeaf);
  return sizeProofPlan(oldSize, oldSize + appendedData.length).map((item) =>
    item.kind === 'leaf'
      ? appendedData[item.index - oldSize]
      : subtreeRoot(hashed, item.start - oldSize, item.end - oldSize),
  );
}

/**
 * Checks a checkpoint the way the AnchorRegistry's `anchor` does (FORMAT.md §11.4): that
 * `sizeProof` binds `next.root` to `next.treeSize` and, unless `previous` is null (a first
 * checkpoint, which takes no consistency proof), that `consistencyProof` shows the new tree
 * extends `previous`. Leaf data in the size proof is hashed here, never taken as a hash.
 * @throws MerkleError BAD_SIZES unless the size grows, PROOF_SIZE for a proof of the wrong
 *   length, ROOT_MISMATCH (message naming the consistency or the size proof), HASH_SIZE
 * @example verifyCheckpointProofs(last, { treeSize, root }, consistency, sizeProof)
 */
export function verifyCheckpointProofs(
  previous: { treeSize: number; root: Uint8Array } | null,
  next: { treeSize: number; root: Uint8Array },
  consistency: readonly Uint8Array[],
  sizeProof: readonly Uint8Array[],
): void {
  const oldSize = previous?.treeSize ?? 0;
  if (!isSize(next.treeSize) || !isSize(oldSize) || next.treeSize <= oldSize) {
    throw new MerkleError('BAD_SIZES', `a checkpoint of ${next.treeSize} leaves does not grow the log from ${oldSize}`);
  }
  checkHash(next.root, 'new root');
  [...consistency, ...sizeProof].forEach((h, i) => checkHash(h, `proof hash ${i}`));
  const last = next.treeSize - 1;
  const level = partingLevel(oldSize, next.treeSize);
  const want = sizeProofPlan(oldSize, next.treeSize).length;
  if (sizeProof.length !== want)
    throw new MerkleError('PROOF_SIZE', `size proof has ${sizeProof.length} hashes, want ${want}`);
  let i = 0;
  let low = hashLeaf(sizeProof[i++]);
  for (let b = 0; b < level; b++) {
    if (!bitAt(last, b)) continue;
    let node = hashLeaf(sizeProof[i++]);
    for (let j = 0; j < b; j++) node = hashChildren(node, sizeProof[i++]);
    low = hashChildren(node, low);
  }
  if (!previous) {
    if (consistency.length) throw new MerkleError('PROOF_SIZE', 'a first checkpoint takes no consistency proof');
    matchRoot(low, next.root, 'root (size proof)');
    return;
  }
  checkHash(previous.root, 'old root');
  verifyConsistency(oldSize, next.treeSize, previous.root, next.root, consistency);
  // The new root again along the path to the last leaf: the subtree at `level` holding the old
  // last leaf comes from the consistency proof, the left siblings above it too (FORMAT.md §11.4).
  const path = isPowerOfTwo(oldSize) ? [previous.root, ...consistency] : consistency;
  let fn = oldSize - 1;
  let sn = last;
  let at = 0;
  let sr = path[0];
  let lr: Uint8Array | undefined;
  while (isOdd(fn)) [fn, sn, at] = [half(fn), half(sn), at + 1];
  if (at === level) lr = hashChildren(sr, low);
  for (const c of path.slice(1)) {
    if (isOdd(fn) || fn === sn) {
      sr = hashChildren(c, sr);
      if (at > level) lr = hashChildren(c, lr!);
      while (!isOdd(fn) && fn !== 0) [fn, sn, at] = [half(fn), half(sn), at + 1];
    } else {
      sr = hashChildren(sr, c);
    }
    [fn, sn, at] = [half(fn), half(sn), at + 1];
    if (at === level) lr = hashChildren(sr, low);
  }
  matchRoot(lr!, next.root, 'root (size proof)');
}

/** A perfect subtree of a compact range: hash of leaves [start, end). */
export interface Subtree {
  start: number;
  end: number;
  hash: Uint8Array;
}

/** JSON form of a CompactRange: the size and the right-edge subtree hashes in hex, largest first. */
export interface CompactRangeJSON {
  size: number;
  hashes: string[];
}

/**
 * The right edge of an append-only RFC 6962 log: one perfect subtree hash per set bit of
 * the size, largest (leftmost) first. Appending and computing the root are O(log n), so
 * a log can grow without its leaves being held in memory.
 */
export class CompactRange {
  #size: number;
  readonly #hashes: Uint8Array[];

  constructor() {
    this.#size = 0;
    this.#hashes = [];
  }

  /** Number of leaves appended so far. */
  get size(): number {
    return this.#size;
  }

  /**
   * Appends one leaf hash (already `hashLeaf`ed).
   * @throws MerkleError HASH_SIZE if it is not 32 bytes
   */
  append(leafHash: Uint8Array): void {
    checkHash(leafHash, 'leaf hash');
    let node = leafHash;
    // Each trailing 1 bit of the old size is a subtree of the new leaf's size: merge them.
    for (let s = this.#size; isOdd(s); s = half(s)) node = hashChildren(this.#hashes.pop()!, node);
    this.#hashes.push(node);
    this.#size += 1;
  }

  /** MTH of all leaves appended so far (RFC 6962 §2.1); SHA-256("") while empty. */
  root(): Uint8Array {
    if (this.#hashes.length === 0) return sha256(new Uint8Array(0));
    let r = this.#hashes[this.#hashes.length - 1];
    for (let i = this.#hashes.length - 2; i >= 0; i--) r = hashChildren(this.#hashes[i], r);
    return r;
  }

  /** The perfect subtrees covering [0, size), left to right. */
  subtrees(): Subtree[] {
    const out: Subtree[] = [];
    let start = 0;
    let width = highestPowerOfTwoAtMost(this.#size);
    for (const hash of this.#hashes) {
      while (start + width > this.#size) width /= 2;
      out.push({ start, end: start + width, hash });
      start += width;
      width /= 2;
    }
    return out;
  }

  /** An independent copy, e.g. to keep the state of the last anchored checkpoint. */
  clone(): CompactRange {
    return CompactRange.fromJSON(this.toJSON());
  }

  /** The state to persist between runs, e.g. next to the last anchored checkpoint. */
  toJSON(): CompactRangeJSON {
    return { size: this.#size, hashes: this.#hashes.map(toHex) };
  }

  /**
   * Restores a range saved with `toJSON`.
   * @throws MerkleError BAD_SIZES if the number of hashes does not match the size,
   *   HASH_SIZE if a hash is not 64 hex digits
   */
  static fromJSON(json: CompactRangeJSON): CompactRange {
    if (!isSize(json?.size) || !Array.isArray(json.hashes) || json.hashes.length !== popCount(json.size)) {
      throw new MerkleError('BAD_SIZES', 'compact range: the number of hashes does not match the size');
    }
    const range = new CompactRange();
    for (const [i, h] of json.hashes.entries()) {
      if (typeof h !== 'string' || !/^[0-9a-fA-F]{64}$/.test(h)) {
        throw new MerkleError('HASH_SIZE', `compact range: hash ${i} is not 64 hex digits`);
      }
      range.#hashes.push(fromHex(h));
    }
    range.#size = json.size;
    return range;
  }
}

/** Hash of the subtree over leaves [lo, hi), hi > lo: MTH of RFC 6962 §2.1. */
function subtreeRoot(leafHashes: readonly Uint8Array[], lo: number, hi: number): Uint8Array {
  if (hi - lo === 1) return leafHashes[lo];
  const k = lo + splitPoint(hi - lo);
  return hashChildren(subtreeRoot(leafHashes, lo, k), subtreeRoot(leafHashes, k, hi));
}

/** SUBPROOF of RFC 6962 §2.1.2, iterative, with subtree hashes supplied by `node(lo, hi)`. */
function consistencyProofFromSubtrees(
  oldSize: number,
  newSize: number,
  node: (lo: number, hi: number) => Uint8Array,
): Uint8Array[] {
  if (!isSize(oldSize) || !isSize(newSize) || oldSize === 0 || oldSize > newSize) {
    throw new MerkleError('BAD_SIZES', `cannot prove size ${oldSize} consistent with size ${newSize}`);
  }
  const proof: Uint8Array[] = [];
  let lo = 0;
  let hi = newSize;
  let whole = true;
  while (oldSize !== hi) {
    const k = lo + splitPoint(hi - lo);
    if (oldSize <= k) {
      proof.push(node(k, hi));
      hi = k;
    } else {
      proof.push(node(lo, k));
      lo = k;
      whole = false;
    }
  }
  // The old tree itself is a subtree here; the verifier knows its root unless only part of it is.
  if (!whole) proof.push(node(lo, hi));
  return proof.reverse();
}

/** Expected inclusion proof length: the path splits where leaves index and size-1 diverge. */
function inclusionProofSize(index: number, size: number): number {
  const inner = bitLength(xor(index, size - 1));
  return inner + popCount(Math.floor(index / 2 ** inner));
}

function consistencyProofSize(oldSize: number, newSize: number): number {
  const shift = trailingZeros(oldSize);
  const inner = bitLength(xor(oldSize - 1, newSize - 1)) - shift;
  const border = popCount(Math.floor((oldSize - 1) / 2 ** (inner + shift)));
  return (isPowerOfTwo(oldSize) ? 0 : 1) + inner + border;
}

function matchRoot(calculated: Uint8Array, expected: Uint8Array, what: string): void {
  if (!equalBytes(calculated, expected)) {
    throw new MerkleError('ROOT_MISMATCH', `calculated ${what} does not match the expected ${what}`, {
      expected,
      calculated,
    });
  }
}

function checkHash(h: Uint8Array, what: string): void {
  if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE) {
    throw new MerkleError('HASH_SIZE', `${what} is not a ${HASH_SIZE}-byte hash`);
  }
}

// Sizes may exceed 2^32, so no JavaScript bitwise operators (they truncate to 32 bits).
function isSize(n: unknown): n is number {
  return Number.isSafeInteger(n) && (n as number) >= 0;
}

function isOdd(n: number): boolean {
  return n % 2 === 1;
}

function half(n: number): number {
  return Math.floor(n / 2);
}

/** Largest power of two strictly less than n (n >= 2): the split point k of RFC 6962 §2.1. */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function highestPowerOfTwoAtMost(n: number): number {
  let k = 1;
  while (k * 2 <= n) k *= 2;
  return k;
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && highestPowerOfTwoAtMost(n) === n;
}

function popCount(n: number): number {
  let c = 0;
  for (; n > 0; n = half(n)) c += n % 2;
  return c;
}

function bitLength(n: number): number {
  let b = 0;
  for (; n > 0; n = half(n)) b++;
  return b;
}

function trailingZeros(n: number): number {
  let z = 0;
  for (; n > 0 && !isOdd(n); n = half(n)) z++;
  return z;
}

/** Bit `b` of `n` (n may exceed 2^32). */
function bitAt(n: number, b: number): boolean {
  return Math.floor(n / 2 ** b) % 2 === 1;
}

/**
 * Below this level a size proof proves subtree heights itself: the highest bit where
 * `oldSize − 1` and `newSize − 1` differ, or the whole height of the tree for a first checkpoint.
 */
function partingLevel(oldSize: number, newSize: number): number {
  return oldSize === 0 ? bitLength(newSize - 1) : bitLength(xor(oldSize - 1, newSize - 1)) - 1;
}

function xor(a: number, b: number): number {
  let out = 0;
  for (let bit = 1; a > 0 || b > 0; bit *= 2, a = half(a), b = half(b)) {
    if (a % 2 !== b % 2) out += bit;
  }
  return out;
}
