import { sha256 } from './sha256';
import { equalBytes, fromHex, toHex, utf8 } from './bytes';

/**
 * The subject heads map (FORMAT.md §13): for every subject of an issuer's log at tree size N,
 * its head (count, head) — how many of the first N events list it, and the hash of the last
 * of them — in a sparse Merkle tree keyed by SHA-256 of the subject.
 *
 * Hashing: leaf = SHA-256(0x02 ‖ key ‖ uint64be(count) ‖ head), node = SHA-256(0x03 ‖ left ‖
 * right), the empty subtree is 32 zero bytes and a node over two empty children is empty.
 * The bytes 0x02/0x03 keep these apart from RFC 6962's 0x00/0x01. A leaf sits at the root of
 * the largest subtree that holds no other key (depth 0 in a map of one key, else one below
 * where its key's path parts from every other key's), not at depth 256: an update and a
 * proof then cost about log2(subjects) hashes instead of 256.
 */

/** Bits in a key, and so the greatest depth of the tree. */
export const SUBJECT_KEY_BITS = 256;
/** The hash of an empty subtree: 32 zero bytes. */
export const EMPTY_NODE: Uint8Array = new Uint8Array(32);

/** What went wrong: a proof or head that does not have the form of §13, or a proof that leads to another root. */
export type SubjectProofCode = 'MALFORMED' | 'ROOT_MISMATCH';

/** The one error thrown by the map code. For `ROOT_MISMATCH`, `expected` and `calculated` hold the roots in hex. */
export class SubjectMapError extends Error {
  readonly code: SubjectProofCode;
  readonly expected?: string;
  readonly calculated?: string;

  constructor(code: SubjectProofCode, message: string, roots?: { expected: Uint8Array; calculated: Uint8Array }) {
    super(message);
    this.name = 'SubjectMapError';
    this.code = code;
    if (roots) {
      this.expected = toHex(roots.expected);
      this.calculated = toHex(roots.calculated);
    }
  }
}

/** A subject's entry in the map: `count` events list it, the last one's hash is `head` (64 hex); count 0 has head null. */
export interface SubjectHead {
  count: number;
  head: string | null;
}

/**
 * A proof of a subject's head (or of its absence) in the map: `bitmap` (64 hex digits, 256
 * bits, most significant bit of the first byte first) has bit i set when the sibling at
 * depth i + 1 on the key's path is not empty; `siblings` are those non-empty siblings,
 * deepest first. The path ends at depth d = (highest set bit) + 1, or 0 with no bit set.
 * A proof of absence that ends at another subject's leaf names it in `other` (its key, not
 * its name); one that ends in an empty subtree has no `other`.
 */
export interface SubjectProof {
  bitmap: string;
  siblings: string[];
  other?: { key: string; count: number; head: string };
}

/** What `verifySubjectProof` returns: never throws for bad input. */
export type SubjectProofResult =
  { valid: true; code: 'VALID'; message: string } | { valid: false; code: SubjectProofCode; message: string };

const MAX_COUNT = Number.MAX_SAFE_INTEGER;
const HEX64 = /^[0-9a-f]{64}$/;

/**
 * The key of a subject in the map: SHA-256 of its UTF-8 bytes.
 * @example subjectKey('r:QWxpY2UtcHNldWRvbnltMQ')
 */
export function subjectKey(subject: string): Uint8Array {
  return sha256(utf8(subject));
}

/**
 * Leaf hash: SHA-256(0x02 ‖ key ‖ uint64be(count) ‖ head).
 * @throws SubjectMapError MALFORMED for a key or head that is not 32 bytes, or a count that is not a positive safe integer
 */
export function leafHash(key: Uint8Array, count: number, head: Uint8Array): Uint8Array {
  if (key.length !== 32) throw new SubjectMapError('MALFORMED', 'a subject key is 32 bytes');
  if (head.length !== 32) throw new SubjectMapError('MALFORMED', 'a head is 32 bytes');
  if (!Number.isSafeInteger(count) || count < 1)
    throw new SubjectMapError('MALFORMED', 'a leaf has a count of at least 1');
  const buf = new Uint8Array(1 + 32 + 8 + 32);
  buf[0] = 2;
  buf.set(key, 1);
  const view = new DataView(buf.buffer);
  view.setUint32(33, Math.floor(count / 2 ** 32));
  view.setUint32(37, count >>> 0);
  buf.set(head, 41);
  return sha256(buf);
}

/** Node hash: SHA-256(0x03 ‖ left ‖ right), except that two empty children give the empty node. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  if (isEmpty(left) && isEmpty(right)) return EMPTY_NODE;
  const buf = new Uint8Array(1 + 64);
  buf[0] = 3;
  buf.set(left, 1);
  buf.set(right, 33);
  return sha256(buf);
}

/** Bit `i` of a key, most significant bit of byte 0 first: 0 goes left, 1 right. */
export function keyBit(key: Uint8Array, i: number): number {
  return (key[i >> 3] >> (7 - (i & 7))) & 1;
}

function isEmpty(h: Uint8Array): boolean {
  for (let i = 0; i < h.length; i++) if (h[i] !== 0) return false;
  return true;
}

function hex32(value: unknown, what: string): Uint8Array {
  if (typeof value !== 'string' || !HEX64.test(value))
    throw new SubjectMapError('MALFORMED', `${what} must be 64 lower-case hex digits`);
  return fromHex(value);
}

/**
 * The root a subject proof leads to for `key` with the given head; count 0 (head null) is a
 * proof of absence. Checks the proof's form: every sibling 32 non-zero bytes, as many as the
 * bitmap has bits set, an `other` only in a proof of absence, whose key differs from `key`
 * and shares the path's first d bits with it.
 * @throws SubjectMapError MALFORMED
 * @example equalBytes(rootFromSubjectProof(subjectKey(s), { count: 3, head }, proof), mapRoot)
 */
export function rootFromSubjectProof(key: Uint8Array, head: SubjectHead, proof: SubjectProof): Uint8Array {
  if (!(key instanceof Uint8Array) || key.length !== 32)
    throw new SubjectMapError('MALFORMED', 'a subject key is 32 bytes');
  if (typeof head !== 'object' || head === null)
    throw new SubjectMapError('MALFORMED', 'the head must be { count, head }');
  if (!Number.isSafeInteger(head.count) || head.count < 0 || head.count > MAX_COUNT) {
    throw new SubjectMapError('MALFORMED', 'count must be a non-negative integer');
  }
  if (head.count === 0 && head.head !== null) throw new SubjectMapError('MALFORMED', 'a count of 0 has head null');
  const headBytes = head.count === 0 ? null : hex32(head.head, 'head');
  if (typeof proof !== 'object' || proof === null)
    throw new SubjectMapError('MALFORMED', 'the proof must be an object');
  const bitmap = hex32(proof.bitmap, 'proof.bitmap');
  if (!Array.isArray(proof.siblings)) throw new SubjectMapError('MALFORMED', 'proof.siblings must be an array');
  const siblings = proof.siblings.map((s, i) => hex32(s, `proof.siblings[${i}]`));
  if (siblings.some(isEmpty))
    throw new SubjectMapError('MALFORMED', 'an empty sibling is left out of proof.siblings, not listed');

  let depth = 0;
  let set = 0;
  for (let i = 0; i < SUBJECT_KEY_BITS; i++) {
    if (keyBit(bitmap, i)) {
      depth = i + 1;
      set++;
    }
  }
  if (set !== siblings.length) {
    throw new SubjectMapError(
      'MALFORMED',
      `proof.bitmap has ${set} bits set but proof.siblings has ${siblings.length} hashes`,
    );
  }

  let node: Uint8Array;
  if (headBytes) {
    if (proof.other !== undefined) throw new SubjectMapError('MALFORMED', 'a proof of a head has no other leaf');
    node = leafHash(key, head.count, headBytes);
  } else if (proof.other === undefined) {
    node = EMPTY_NODE;
  } else {
    const o = proof.other;
    if (typeof o !== 'object' || o === null)
      throw new SubjectMapError('MALFORMED', 'proof.other must be { key, count, head }');
    const otherKey = hex32(o.key, 'proof.other.key');
    if (equalBytes(otherKey, key))
      throw new SubjectMapError('MALFORMED', 'proof.other is the subject itself: the subject is in the map');
    for (let i = 0; i < depth; i++) {
      if (keyBit(otherKey, i) !== keyBit(key, i))
        throw new SubjectMapError('MALFORMED', `proof.other's key leaves the subject's path at depth ${i}`);
    }
    if (!Number.isSafeInteger(o.count) || o.count < 1)
      throw new SubjectMapError('MALFORMED', 'proof.other.count must be a positive integer');
    node = leafHash(otherKey, o.count, hex32(o.head, 'proof.other.head'));
  }

  let next = 0;
  for (let i = depth - 1; i >= 0; i--) {
    const sibling = keyBit(bitmap, i) ? siblings[next++] : EMPTY_NODE;
    node = keyBit(key, i) ? nodeHash(sibling, node) : nodeHash(node, sibling);
  }
  return node;
}

/**
 * Verifies a subject's head (count 0 and head null: its absence) against a map root.
 * Never throws: bad input is a `MALFORMED` result.
 * @example
 * const r = verifySubjectProof(fromHex(bundle.checkpoint.mapRoot), bundle.subject, { count, head }, proof);
 * if (!r.valid) console.log(r.code, r.message);
 */
export function verifySubjectProof(
  root: Uint8Array,
  subject: string,
  head: SubjectHead,
  proof: SubjectProof,
): SubjectProofResult {
  try {
    if (!(root instanceof Uint8Array) || root.length !== 32)
      throw new SubjectMapError('MALFORMED', 'the map root is 32 bytes');
    if (typeof subject !== 'string') throw new SubjectMapError('MALFORMED', 'the subject must be a string');
    const calculated = rootFromSubjectProof(subjectKey(subject), head, proof);
    if (!equalBytes(calculated, root)) {
      return {
        valid: false,
        code: 'ROOT_MISMATCH',
        message: `the proof of ${subject} leads to map root ${toHex(calculated)}, not ${toHex(root)}`,
      };
    }
    const what =
      head.count === 0
        ? `${subject} has no event in the map`
        : `${subject} has ${head.count} ${head.count === 1 ? 'event' : 'events'}, the last ${head.head}`;
    return { valid: true, code: 'VALID', message: what };
  } catch (e) {
    if (e instanceof SubjectMapError) return { valid: false, code: e.code, message: e.message };
    return { valid: false, code: 'MALFORMED', message: 'the proof could not be read' };
  }
}

class Leaf {
  #hash: Uint8Array | undefined;
  constructor(
    readonly key: Uint8Array,
    readonly count: number,
    readonly head: Uint8Array,
  ) {}

  get hash(): Uint8Array {
    return (this.#hash ??= leafHash(this.key, this.count, this.head));
  }
}

class Branch {
  #hash: Uint8Array | undefined;
  constructor(
    readonly left: MapNode | null,
    readonly right: MapNode | null,
  ) {}

  get hash(): Uint8Array {
    return (this.#hash ??= nodeHash(this.left?.hash ?? EMPTY_NODE, this.right?.hash ?? EMPTY_NODE));
  }
}

type MapNode = Leaf | Branch;

/**
 * An immutable subject heads map held in memory: `with` returns a new map that shares every
 * untouched subtree with this one, and hashes are computed once, when first asked for. The
 * witness (witness.ts) keeps one per issuer; tests use it as the reference for the store.
 * @example
 * const next = SubjectMap.empty().with([['r:alice', { count: 1, head: e.hash }]]);
 * next.root(); next.prove('r:alice');
 */
export class SubjectMap {
  private constructor(
    private readonly top: MapNode | null,
    /** Number of subjects in the map. */
    readonly size: number,
  ) {}

  static empty(): SubjectMap {
    return new SubjectMap(null, 0);
  }

  /** The map root: EMPTY_NODE for an empty map. */
  root(): Uint8Array {
    return this.top?.hash ?? EMPTY_NODE;
  }

  /** The subject's head; count 0 and head null when the map does not hold it. */
  get(subject: string): SubjectHead {
    return this.getByKey(subjectKey(subject));
  }

  /** Like `get`, by key. */
  getByKey(key: Uint8Array): SubjectHead {
    const leaf = find(this.top, key);
    return leaf ? { count: leaf.count, head: toHex(leaf.head) } : { count: 0, head: null };
  }

  /**
   * A map with these subjects' heads set (a count of 0 cannot be set: subjects are never removed).
   * @throws SubjectMapError MALFORMED for a count below 1 or a head that is not 64 hex digits
   */
  with(updates: Iterable<readonly [string, SubjectHead]>): SubjectMap {
    let top = this.top;
    let size = this.size;
    for (const [subject, h] of updates) {
      if (!Number.isSafeInteger(h.count) || h.count < 1)
        throw new SubjectMapError('MALFORMED', `${subject}: a head in the map has a count of at least 1`);
      const leaf = new Leaf(subjectKey(subject), h.count, hex32(h.head, `${subject}: head`));
      if (!find(top, leaf.key)) size++;
      top = insert(top, 0, leaf);
    }
    return new SubjectMap(top, size);
  }

  /** The proof of the subject's head, or of its absence, in this map (FORMAT.md §13). */
  prove(subject: string): SubjectProof {
    const key = subjectKey(subject);
    const siblings: Uint8Array[] = [];
    const bitmap = new Uint8Array(32);
    let node = this.top;
    let depth = 0;
    for (; node instanceof Branch; depth++) {
      const right = keyBit(key, depth) === 1;
      const sibling = right ? node.left : node.right;
      if (sibling) {
        bitmap[depth >> 3] |= 0x80 >> (depth & 7);
        siblings.push(sibling.hash);
      }
      node = right ? node.right : node.left;
    }
    const proof: SubjectProof = { bitmap: toHex(bitmap), siblings: siblings.reverse().map(toHex) };
    if (node && !equalBytes(node.key, key))
      proof.other = { key: toHex(node.key), count: node.count, head: toHex(node.head) };
    return proof;
  }
}

/** The leaf of `key`, if the subtree holds it. */
function find(top: MapNode | null, key: Uint8Array): Leaf | undefined {
  let node = top;
  for (let depth = 0; node instanceof Branch; depth++) node = keyBit(key, depth) ? node.right : node.left;
  return node && equalBytes(node.key, key) ? node : undefined;
}

function insert(node: MapNode | null, depth: number, leaf: Leaf): MapNode {
  if (node === null) return leaf;
  if (node instanceof Branch) {
    return keyBit(leaf.key, depth)
      ? new Branch(node.left, insert(node.right, depth + 1, leaf))
      : new Branch(insert(node.left, depth + 1, leaf), node.right);
  }
  if (equalBytes(node.key, leaf.key)) return leaf;
  return split(node, leaf, depth);
}

/** The subtree at `depth` holding exactly two leaves: a chain of one-child nodes down to where their keys part. */
function split(a: Leaf, b: Leaf, depth: number): Branch {
  const bitA = keyBit(a.key, depth);
  if (bitA !== keyBit(b.key, depth)) return bitA ? new Branch(b, a) : new Branch(a, b);
  const below = split(a, b, depth + 1);
  return bitA ? new Branch(null, below) : new Branch(below, null);
}
