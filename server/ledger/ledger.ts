import { randomBytesPooled as randomBytes } from '../crypto/random';
import type { AbstractSublevel } from 'abstract-level';
import { Level } from 'level';
import { GENESIS_HASH, hashEvent, type JsonValue, type LedgerEvent, type LedgerEventBody } from '../../verifier/src/event';

/**
 * The append-only event log and the service's state, in one LevelDB.
 *
 * Every change goes through `transact`: transactions run one at a time against the
 * committed data plus the writes of earlier transactions not yet on disk, and are written
 * in groups, one synchronous (fsync'd) LevelDB batch per group. A transaction's promise
 * settles only once its group is durable, so nothing acknowledged can be lost in a crash;
 * and a group is a single batch, so a crash never leaves half of a request behind.
 */

export const SPACES = [
  'events',
  'subjectEvents',
  'subjectHeads',
  'meta',
  'residents',
  'residentsByIndex',
  'facts',
  'tokens',
  'sessions',
  'bindings',
  'idempotency',
  'rules',
  'policies',
  'reviews',
  'venues',
  'scans',
  'anchor',
  'index',
] as const;
export type Space = (typeof SPACES)[number];

export interface NewEvent {
  type: string;
  /** `r:<pseudonym>`, `v:<venue id>` or a system subject; each gets its own hash chain. */
  subjects?: string[];
  data: { [key: string]: JsonValue };
}

export interface Tx {
  /** The time this transaction runs at (from the injected clock). */
  readonly now: Date;
  get<T>(space: Space, key: string): Promise<T | undefined>;
  put(space: Space, key: string, value: unknown): void;
  del(space: Space, key: string): void;
  /** Adds an event; its sequence number and hash links are fixed here. */
  append(event: NewEvent): Promise<LedgerEvent>;
  /** Runs after the transaction is durable: update in-memory caches here, never before. */
  onCommit(fn: () => void): void;
}

export interface LedgerHead {
  seq: number;
  hash: string;
}

interface Op {
  space: Space;
  key: string;
  value: unknown;
}

interface Group {
  id: number;
  ops: Op[];
  events: LedgerEvent[];
  head: LedgerHead;
  commits: Array<() => void>;
  settle: Array<{ resolve: () => void; reject: (e: unknown) => void }>;
}

const DELETED = Symbol('deleted');
type Sub = AbstractSublevel<Level<string, unknown>, string | Uint8Array | Buffer, string, unknown>;

/** Sequence numbers as fixed-width decimal so that LevelDB's key order is log order. */
export const seqKey = (seq: number) => String(seq).padStart(15, '0');

export class LedgerUnavailableError extends Error {
  readonly code = 'LEDGER_UNAVAILABLE';
}

export class Ledger {
  private head: LedgerHead = { seq: 0, hash: GENESIS_HASH };
  private committedHead: LedgerHead = { seq: 0, hash: GENESIS_HASH };
  /** The `at` of the last event appended ('' before the first). */
  private lastAt = '';
  /** Writes of transactions that ran but are not yet durable, by group. */
  private readonly overlay = new Map<string, { value: unknown; group: number }>();
  private pending: Group | undefined;
  private flushing = false;
  private queue: Promise<unknown> = Promise.resolve();
  private broken: unknown;
  private nextGroupId = 1;
  private readonly listeners: Array<(events: LedgerEvent[]) => void> = [];
  private readonly spaces = new Map<Space, Sub>();

  private constructor(
    readonly db: Level<string, unknown>,
    private readonly clock: () => Date,
  ) {}

  /** Opens (creating if needed) the ledger in `dir`. */
  static async open(dir: string, clock: () => Date = () => new Date()): Promise<Ledger> {
    // A larger write buffer means fewer level-0 compactions stalling the write path under load.
    const db = new Level<string, unknown>(dir, { valueEncoding: 'json', writeBufferSize: 32 * 1024 * 1024, cacheSize: 32 * 1024 * 1024 });
    await db.open();
    const ledger = new Ledger(db, clock);
    // Sublevels open asynchronously; open them all now so synchronous reads work from the start.
    for (const space of SPACES) await ledger.space(space).open();
    const head = await ledger.read<LedgerHead>('meta', 'head');
    if (head) {
      ledger.head = { ...head };
      ledger.committedHead = { ...head };
      ledger.lastAt = (await ledger.getEvent(head.seq))?.at ?? '';
    }
    return ledger;
  }

  /** Waits for queued transactions and writes, then closes the database. */
  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    while (this.pending || this.flushing) await new Promise((r) => setTimeout(r, 1));
    await this.db.close();
  }

  /** The last durable event's sequence number and hash. */
  getHead(): LedgerHead {
    return { ...this.committedHead };
  }

  /** Called with each durable group's events, in order (the anchorer and metrics listen). */
  onEvents(fn: (events: LedgerEvent[]) => void): void {
    this.listeners.push(fn);
  }

  space(space: Space): Sub {
    let s = this.spaces.get(space);
    if (!s) {
      s = this.db.sublevel<string, unknown>(space, { valueEncoding: 'json' });
      this.spaces.set(space, s);
    }
    return s;
  }

  /** Reads committed state (outside any transaction). */
  async read<T>(space: Space, key: string): Promise<T | undefined> {
    return this.readSync<T>(space, key);
  }

  // LevelDB serves point reads from its caches in microseconds; the synchronous read skips
  // the thread-pool round trip, which matters inside the one-at-a-time transaction section.
  private readSync<T>(space: Space, key: string): T | undefined {
    return this.space(space).getSync(key) as T | undefined;
  }

  async getEvent(seq: number): Promise<LedgerEvent | undefined> {
    return this.read<LedgerEvent>('events', seqKey(seq));
  }

  /** Committed events with from ≤ seq ≤ to, in order. */
  async *events(from = 1, to = Number.MAX_SAFE_INTEGER): AsyncGenerator<LedgerEvent> {
    for await (const value of this.space('events').values({ gte: seqKey(from), lte: seqKey(to) })) {
      yield value as LedgerEvent;
    }
  }

  /** Sequence numbers of a subject's committed events with from ≤ seq ≤ to, in order. */
  async subjectSeqs(subject: string, from = 1, to = Number.MAX_SAFE_INTEGER): Promise<number[]> {
    const out: number[] = [];
    const prefix = `${subject}/`;
    for await (const key of this.space('subjectEvents').keys({ gte: prefix + seqKey(from), lte: prefix + seqKey(to) })) {
      out.push(Number(key.slice(prefix.length)));
    }
    return out;
  }

  /**
   * Runs `fn` as one atomic transaction and resolves with its result once its writes
   * and events are durable. If `fn` throws, nothing it wrote is kept.
   */
  transact<T>(fn: (tx: Tx) => Promise<T> | T): Promise<T> {
    const ran = this.queue.then(() => this.run(fn));
    this.queue = ran.catch(() => undefined);
    return ran.then(async ({ result, durable }) => {
      await durable;
      return result;
    });
  }

  private k(space: Space, key: string) {
    return `${space}\u0000${key}`;
  }

  private async run<T>(fn: (tx: Tx) => Promise<T> | T): Promise<{ result: T; durable: Promise<void> }> {
    if (this.broken) throw new LedgerUnavailableError('the ledger stopped after a failed write; restart the service');
    const ops: Op[] = [];
    const events: LedgerEvent[] = [];
    const commits: Array<() => void> = [];
    const local = new Map<string, unknown>();
    const headBefore = { ...this.head };
    const lastAtBefore = this.lastAt;
    const now = this.clock();
    // Event times never go backwards, even when the clock does: witnesses refuse a log whose
    // times do (verifier/FORMAT.md §13.3), since a history over a time range relies on them.
    const nowIso = now.toISOString();
    const at = nowIso < this.lastAt ? this.lastAt : nowIso;

    // Reads are synchronous (LevelDB's cache, then this group's and earlier groups' writes),
    // so an append fixes its sequence number and links in one step and needs no ordering.
    const read = <V>(space: Space, key: string): V | undefined => {
      const k = this.k(space, key);
      const v = local.has(k) ? local.get(k) : this.overlay.has(k) ? this.overlay.get(k)!.value : this.readSync(space, key);
      return (v === DELETED ? undefined : v) as V | undefined;
    };
    const put = (space: Space, key: string, value: unknown) => {
      ops.push({ space, key, value });
      local.set(this.k(space, key), value);
    };
    const appendOne = (e: NewEvent): LedgerEvent => {
      const subjects = e.subjects && e.subjects.length > 1 ? [...new Set(e.subjects)].sort() : (e.subjects ?? []);
      const links: Record<string, string | null> = {};
      for (const s of subjects) links[s] = read<string>('subjectHeads', s) ?? null;
      const body: LedgerEventBody = { seq: this.head.seq + 1, type: e.type, at, subjects, links, prev: this.head.hash, data: e.data };
      const salt = randomBytes(16).toString('hex');
      const event: LedgerEvent = { ...body, salt, hash: hashEvent(body, salt) };
      this.head = { seq: event.seq, hash: event.hash };
      this.lastAt = at;
      put('events', seqKey(event.seq), event);
      for (const s of subjects) {
        put('subjectHeads', s, event.hash);
        put('subjectEvents', `${s}/${seqKey(event.seq)}`, 1);
      }
      events.push(event);
      return event;
    };
    const tx: Tx = {
      now,
      get: async (space, key) => read(space, key),
      put,
      del: (space, key) => {
        ops.push({ space, key, value: DELETED });
        local.set(this.k(space, key), DELETED);
      },
      append: async (e) => appendOne(e),
      onCommit: (f) => commits.push(f),
    };

    let result: T;
    try {
      result = await fn(tx);
    } catch (err) {
      this.head = headBefore;
      this.lastAt = lastAtBefore;
      throw err;
    }
    if (ops.length === 0) return { result, durable: Promise.resolve() };

    const group = (this.pending ??= { id: this.nextGroupId++, ops: [], events: [], head: this.head, commits: [], settle: [] });
    group.ops.push(...ops);
    group.events.push(...events);
    group.commits.push(...commits);
    group.head = { ...this.head };
    for (const op of ops) this.overlay.set(this.k(op.space, op.key), { value: op.value, group: group.id });
    const durable = new Promise<void>((resolve, reject) => group.settle.push({ resolve, reject }));
    if (!this.flushing) void this.flush();
    return { result, durable };
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    while (this.pending) {
      const group = this.pending;
      this.pending = undefined;
      const batch = this.db.batch();
      // A group often writes one key several times (a record, a subject head): keep the last.
      const last = new Map<string, Op>();
      for (const op of group.ops) {
        const k = this.k(op.space, op.key);
        last.delete(k);
        last.set(k, op);
      }
      // Written through the root with the sublevel prefix spelled out: the same keys, but
      // without the sublevel encoding layers, which cost more than the JSON itself.
      for (const op of last.values()) {
        if (op.value === DELETED) batch.del(`!${op.space}!${op.key}`);
        else batch.put(`!${op.space}!${op.key}`, op.value);
      }
      batch.put('!meta!head', group.head);
      try {
        await batch.write({ sync: true });
      } catch (err) {
        // Later groups were built on this one's state: none of them can be kept either.
        this.broken = err;
        const failed = [group, ...(this.pending ? [this.pending] : [])];
        this.pending = undefined;
        for (const g of failed) for (const s of g.settle) s.reject(new LedgerUnavailableError(`ledger write failed: ${(err as Error).message}`));
        this.overlay.clear();
        break;
      }
      this.committedHead = { ...group.head };
      for (const op of group.ops) {
        const k = this.k(op.space, op.key);
        if (this.overlay.get(k)?.group === group.id) this.overlay.delete(k);
      }
      for (const f of group.commits) f();
      if (group.events.length) for (const l of this.listeners) l(group.events);
      for (const s of group.settle) s.resolve();
    }
    this.flushing = false;
  }
}
