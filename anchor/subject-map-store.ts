import { hash } from 'node:crypto';
import type { AbstractSublevel } from 'abstract-level';
import type { Level } from 'level';
import type { LedgerEvent } from '../verifier/src/event';
import type { SubjectHead, SubjectProof } from '../verifier/src/subject-map';

/**
 * The issuer's subject heads map (verifier/FORMAT.md §13) kept in LevelDB beside the RFC 6962
 * log, growing with it one event at a time.
 *
 * Nodes are stored by their hash (a leaf as key ‖ count ‖ head, a branch as left ‖ right), so
 * a version is just a root and versions share every unchanged subtree: `commit` writes the
 * nodes made since the last commit and the root under the current size, and every committed
 * size (each checkpoint's, at least) keeps its root and proofs. Between commits the changes
 * live in memory: an event updates only the paths of its subjects' keys, and nothing is
 * hashed until a root is asked for, so a subject changed by many events in one checkpoint
 * is hashed once. The top of the tree stays loaded; deeper nodes are read back on demand.
 *
 * A node replaced at a commit is in no later version (counts only grow, so no subtree's
 * content comes back), so each commit also lists the nodes it replaced, and `prune` deletes
 * those of commits older than the ones kept: the store stays the size of the map plus what
 * the kept versions changed, and every version keeps its root.
 *
 * After a crash the store reopens at its last commit; the caller replays the ledger's events
 * after `size` (the map is a function of the log, so it can always be rebuilt from it).
 * Hashing uses node:crypto; test/anchor checks it against verifier/src/subject-map.
 */

export type MapDb = AbstractSublevel<Level<string, unknown>, string | Uint8Array | Buffer, string, Uint8Array>;

const HASH = 32;
const EMPTY = Buffer.alloc(HASH);
const LEAF_RECORD = HASH + 8 + HASH;
const BRANCH_RECORD = 2 * HASH;
export interface MapStoreOptions {
  /** Nodes held in memory before the deeper ones are let go after a commit (about 150 bytes each); default 2^18. */
  maxLoaded?: number;
  /** Depth above which nodes stay in memory when the rest are let go; default 16 (2^16 subtrees below it). */
  keepDepth?: number;
}

const leafScratch = Buffer.alloc(1 + LEAF_RECORD);
leafScratch[0] = 2;
const nodeScratch = Buffer.alloc(1 + BRANCH_RECORD);
nodeScratch[0] = 3;

/** SHA-256(0x02 ‖ key ‖ uint64be(count) ‖ head). */
function leafHashOf(key: Buffer, count: number, head: Buffer): Buffer {
  key.copy(leafScratch, 1);
  leafScratch.writeUInt32BE(Math.floor(count / 2 ** 32), 1 + HASH);
  leafScratch.writeUInt32BE(count >>> 0, 1 + HASH + 4);
  head.copy(leafScratch, 1 + HASH + 8);
  return hash('sha256', leafScratch, 'buffer');
}

/** SHA-256(0x03 ‖ left ‖ right); two empty children give the empty node. */
function nodeHashOf(left: Buffer, right: Buffer): Buffer {
  if (left === EMPTY && right === EMPTY) return EMPTY;
  left.copy(nodeScratch, 1);
  right.copy(nodeScratch, 1 + HASH);
  return hash('sha256', nodeScratch, 'buffer');
}

const bit = (key: Uint8Array, i: number) => (key[i >> 3] >> (7 - (i & 7))) & 1;
const versionKey = (size: number) => `v/${String(size).padStart(15, '0')}`;
/** The nodes a commit replaced: in the versions before it only. */
const staleKey = (size: number) => `s/${String(size).padStart(15, '0')}`;
const nodeKey = (h: Buffer) => `n/${h.toString('hex')}`;
/** Per-write options: values are raw bytes, whatever the root database's encoding. */
const AS_BYTES = { valueEncoding: 'view' };

interface Leaf {
  leaf: true;
  key: Buffer;
  count: number;
  head: Buffer;
  /** Null while changed and not yet hashed. */
  hash: Buffer | null;
  /** Whether its record is in the database (a changed node is not, until the next commit). */
  stored: boolean;
}

interface Branch {
  leaf: false;
  left: Ref;
  right: Ref;
  hash: Buffer | null;
  stored: boolean;
}

type MapNode = Leaf | Branch;
/** A child: a node in memory, a stored node not loaded (its hash), or the empty subtree. */
type Ref = MapNode | Buffer | null;

/** A subject's head with the proof of it (or of its absence) at one size: what a history bundle carries. */
export interface ProvenHead extends SubjectHead {
  proof: SubjectProof;
}

/** The stored record of a node, parsed. */
type NodeRecord =
  { leaf: true; key: Buffer; count: number; head: Buffer } | { leaf: false; left: Buffer; right: Buffer };

export class SubjectMapStore {
  private top: Ref = null;
  private applied = 0;
  private committed = 0;
  private loaded = 0;
  /** Hashes of stored nodes changed since the last commit: the next commit replaces them. */
  private stale: Buffer[] = [];
  /** Versions below this size were pruned: their roots remain, their proofs do not. */
  private prunedBelow = 0;
  /** Set while a commit writes: the nodes it collected must not change under it. */
  private committing = false;
  /** What the last commit wrote: node records and their bytes (for metrics and the bench). */
  lastCommit = { nodes: 0, bytes: 0 };

  private readonly maxLoaded: number;
  private readonly keepDepth: number;

  private constructor(
    private readonly db: MapDb,
    opts: MapStoreOptions,
  ) {
    this.maxLoaded = opts.maxLoaded ?? 1 << 18;
    this.keepDepth = opts.keepDepth ?? 16;
  }

  /** Opens the store at its last commit (empty at size 0 when new). */
  static async open(db: MapDb, opts: MapStoreOptions = {}): Promise<SubjectMapStore> {
    await db.open();
    const s = new SubjectMapStore(db, opts);
    const size = await db.get('size');
    if (size) {
      s.applied = s.committed = Number(Buffer.from(size).toString());
      const root = Buffer.from((await db.get(versionKey(s.committed)))!);
      s.top = root.equals(EMPTY) ? null : root;
    }
    const pruned = await db.get('pruned');
    if (pruned) s.prunedBelow = Number(Buffer.from(pruned).toString());
    return s;
  }

  /** How many events of the log the map holds. */
  get size(): number {
    return this.applied;
  }

  /** The size of the last commit: where a reopened store starts. */
  get committedSize(): number {
    return this.committed;
  }

  /**
   * Adds the next event of the log: each of its subjects' count goes up by one and its head
   * becomes the event's hash.
   * @throws RangeError unless `event.seq` is size + 1; Error while a commit is being written
   */
  apply(event: Pick<LedgerEvent, 'seq' | 'subjects' | 'hash'>): void {
    if (this.committing) throw new Error('the subject map is being committed; apply events after the commit');
    if (event.seq !== this.applied + 1)
      throw new RangeError(`the map holds ${this.applied} events; event ${event.seq} is not the next`);
    const head = Buffer.from(event.hash, 'hex');
    for (const s of event.subjects) this.top = this.insert(this.top, 0, hash('sha256', s, 'buffer'), head);
    this.applied++;
  }

  /** The root of the map at its current size (hashing what changed since it was last asked). */
  root(): Buffer {
    return this.hashOf(this.top);
  }

  /**
   * Writes what changed since the last commit and records the root under the current size,
   * in one batch; returns the root.
   */
  async commit(): Promise<Buffer> {
    const root = this.root();
    const fresh: MapNode[] = [];
    const collect = (ref: Ref) => {
      if (ref === null || Buffer.isBuffer(ref) || ref.stored) return;
      if (!ref.leaf) {
        collect(ref.left);
        collect(ref.right);
      }
      fresh.push(ref);
    };
    collect(this.top);
    // Through the root database with the sublevel's prefix spelled out (as the ledger writes):
    // the same keys, at a third of the cost of the sublevel's encoding layers.
    const batch = this.db.db.batch();
    const put = (key: string, value: Buffer) => batch.put(this.db.prefix + key, value as never, AS_BYTES as never);
    // One allocation for every record of the commit.
    const records = Buffer.allocUnsafe(fresh.reduce((n, x) => n + (x.leaf ? LEAF_RECORD : BRANCH_RECORD), 0));
    let at = 0;
    for (const n of fresh) {
      const end = writeRecord(n, records, at);
      put(nodeKey(n.hash!), records.subarray(at, end));
      at = end;
    }
    const bytes = at;
    put(versionKey(this.applied), root);
    const stale = this.stale;
    if (stale.length) put(staleKey(this.applied), Buffer.concat(stale));
    put('size', Buffer.from(String(this.applied)));
    this.committing = true;
    try {
      await batch.write();
    } finally {
      this.committing = false;
    }
    // Marked only once written: a failed write leaves them to the next commit.
    for (const n of fresh) n.stored = true;
    this.stale = [];
    this.committed = this.applied;
    this.lastCommit = { nodes: fresh.length, bytes };
    if (this.loaded > this.maxLoaded) this.letGo();
    return root;
  }

  /** The root committed at `size` (every checkpoint's size is); undefined for a size never committed. */
  mapRootAt(size: number): Buffer | undefined {
    const v = this.db.getSync(versionKey(size));
    return v ? Buffer.from(v) : undefined;
  }

  /**
   * Deletes the nodes that only versions older than the `keep` latest commits hold; their
   * roots stay (`mapRootAt`), their proofs go. Returns how many node records it deleted.
   */
  async prune(keep: number): Promise<number> {
    const sizes: number[] = [];
    for await (const k of this.db.keys({ gte: 'v/', lt: 'v0', reverse: true, limit: keep }))
      sizes.push(Number(k.slice(2)));
    if (sizes.length < keep) return 0;
    const oldestKept = sizes[sizes.length - 1];
    if (oldestKept <= this.prunedBelow) return 0;
    const batch = this.db.db.batch();
    let deleted = 0;
    // A node listed at commit v is in versions before v only: all pruned when v ≤ oldestKept.
    for await (const [k, v] of this.db.iterator({ gte: 's/', lte: staleKey(oldestKept) })) {
      const hashes = Buffer.from(v);
      for (let o = 0; o < hashes.length; o += HASH) batch.del(this.db.prefix + nodeKey(hashes.subarray(o, o + HASH)));
      deleted += hashes.length / HASH;
      batch.del(this.db.prefix + k);
    }
    batch.put(this.db.prefix + 'pruned', Buffer.from(String(oldestKept)) as never, AS_BYTES as never);
    await batch.write();
    this.prunedBelow = oldestKept;
    return deleted;
  }

  /**
   * The subject's head at a committed size, with its proof (FORMAT.md §13.2) against that
   * size's root; count 0 and a proof of absence for a subject with no event by then.
   * @throws RangeError for a size never committed, or one whose proofs were pruned
   */
  proof(subject: string, size: number): ProvenHead {
    const v = this.db.getSync(versionKey(size));
    if (!v) throw new RangeError(`the subject map has no commit at size ${size}`);
    if (size < this.prunedBelow)
      throw new RangeError(`the subject map's proofs at size ${size} were pruned (kept from size ${this.prunedBelow})`);
    const key = hash('sha256', subject, 'buffer');
    const bitmap = Buffer.alloc(HASH);
    const siblings: string[] = [];
    let at: Buffer = Buffer.from(v);
    let depth = 0;
    for (;;) {
      if (at.equals(EMPTY)) break;
      const n = this.read(at);
      if (n.leaf) {
        if (n.key.equals(key))
          return {
            count: n.count,
            head: n.head.toString('hex'),
            proof: { bitmap: bitmap.toString('hex'), siblings: siblings.reverse() },
          };
        const proof: SubjectProof = {
          bitmap: bitmap.toString('hex'),
          siblings: siblings.reverse(),
          other: { key: n.key.toString('hex'), count: n.count, head: n.head.toString('hex') },
        };
        return { count: 0, head: null, proof };
      }
      const [next, sibling] = bit(key, depth) ? [n.right, n.left] : [n.left, n.right];
      if (!sibling.equals(EMPTY)) {
        bitmap[depth >> 3] |= 0x80 >> (depth & 7);
        siblings.push(sibling.toString('hex'));
      }
      at = next;
      depth++;
    }
    return { count: 0, head: null, proof: { bitmap: bitmap.toString('hex'), siblings: siblings.reverse() } };
  }

  private read(h: Buffer): NodeRecord {
    const r = this.db.getSync(nodeKey(h));
    if (!r) throw new Error(`subject map node ${h.toString('hex')} is missing`);
    const b = Buffer.from(r);
    if (b.length === LEAF_RECORD)
      return {
        leaf: true,
        key: b.subarray(0, HASH),
        count: b.readUInt32BE(HASH) * 2 ** 32 + b.readUInt32BE(HASH + 4),
        head: b.subarray(HASH + 8),
      };
    if (b.length === BRANCH_RECORD) return { leaf: false, left: b.subarray(0, HASH), right: b.subarray(HASH) };
    throw new Error(`subject map node ${h.toString('hex')} has a record of ${b.length} bytes`);
  }

  private load(h: Buffer): MapNode {
    const n = this.read(h);
    this.loaded++;
    if (n.leaf) return { leaf: true, key: n.key, count: n.count, head: n.head, hash: h, stored: true };
    return {
      leaf: false,
      left: n.left.equals(EMPTY) ? null : n.left,
      right: n.right.equals(EMPTY) ? null : n.right,
      hash: h,
      stored: true,
    };
  }

  private insert(ref: Ref, depth: number, key: Buffer, head: Buffer): MapNode {
    if (ref === null) return this.leaf(key, 1, head);
    const node = Buffer.isBuffer(ref) ? this.load(ref) : ref;
    if (node.leaf) {
      // A leaf that moves down keeps its hash: it is in the next version too.
      if (!node.key.equals(key)) return this.split(node, this.leaf(key, 1, head), depth);
      node.count++;
      node.head = head;
    } else if (bit(key, depth)) {
      node.right = this.insert(node.right, depth + 1, key, head);
    } else {
      node.left = this.insert(node.left, depth + 1, key, head);
    }
    if (node.stored) this.stale.push(node.hash!);
    node.hash = null;
    node.stored = false;
    return node;
  }

  private leaf(key: Buffer, count: number, head: Buffer): Leaf {
    this.loaded++;
    return { leaf: true, key, count, head, hash: null, stored: false };
  }

  /** Two leaves that shared one subtree: branches down to the first bit where their keys differ. */
  private split(a: Leaf, b: Leaf, depth: number): Branch {
    this.loaded++;
    const bitA = bit(a.key, depth);
    if (bitA !== bit(b.key, depth)) {
      return bitA
        ? { leaf: false, left: b, right: a, hash: null, stored: false }
        : { leaf: false, left: a, right: b, hash: null, stored: false };
    }
    const below = this.split(a, b, depth + 1);
    return bitA
      ? { leaf: false, left: null, right: below, hash: null, stored: false }
      : { leaf: false, left: below, right: null, hash: null, stored: false };
  }

  private hashOf(ref: Ref): Buffer {
    if (ref === null) return EMPTY;
    if (Buffer.isBuffer(ref)) return ref;
    if (ref.hash) return ref.hash;
    ref.hash = ref.leaf
      ? leafHashOf(ref.key, ref.count, ref.head)
      : nodeHashOf(this.hashOf(ref.left), this.hashOf(ref.right));
    return ref.hash;
  }

  /** Replaces every stored subtree below keepDepth by its hash, to be read back when next needed. */
  private letGo(): void {
    let kept = 0;
    const walk = (ref: Ref, depth: number): Ref => {
      if (ref === null || Buffer.isBuffer(ref)) return ref;
      if (depth >= this.keepDepth && ref.stored) return ref.hash!;
      kept++;
      if (!ref.leaf) {
        ref.left = walk(ref.left, depth + 1);
        ref.right = walk(ref.right, depth + 1);
      }
      return ref;
    };
    this.top = walk(this.top, 0);
    this.loaded = kept;
  }
}

/** Writes the node's record (a leaf: key ‖ uint64be(count) ‖ head; a branch: left ‖ right) at `at`; returns where it ends. */
function writeRecord(n: MapNode, b: Buffer, at: number): number {
  if (n.leaf) {
    n.key.copy(b, at);
    b.writeUInt32BE(Math.floor(n.count / 2 ** 32), at + HASH);
    b.writeUInt32BE(n.count >>> 0, at + HASH + 4);
    n.head.copy(b, at + HASH + 8);
    return at + LEAF_RECORD;
  }
  const child = (c: Ref) => (c === null ? EMPTY : Buffer.isBuffer(c) ? c : c.hash!);
  child(n.left).copy(b, at);
  child(n.right).copy(b, at + HASH);
  return at + BRANCH_RECORD;
}
