import { readdirSync } from 'node:fs';
import { randomBytesPooled as randomBytes } from './random';
import type { AbstractSublevel } from 'abstract-level';
import { Level } from 'level';
import type { Logger } from './log';
import { GENESIS_HASH, hashEvent, type JsonValue, type LedgerEvent, type LedgerEventBody } from '../verifier/src/event';

/**
 * The append-only event log and the service's state, in one LevelDB.
 *
 * Every change goes through `transact`: transactions run one at a time against the
 * committed data plus the writes of earlier transactions not yet on disk, and are written
 * in groups, one synchronous (fsync'd) LevelDB batch per group. A transaction's promise
 * settles only once its group is durable, so nothing acknowledged can be lost in a crash;
 * and a group is a single batch, so a crash never leaves half of a request behind.
 *
 * A failed write (a full disk) rejects its group and every group built on it, puts the
 * in-memory head back to the committed one and refuses writes; a probe write every second
 * finds when the cause is gone, and the ledger takes writes again without a restart. A
 * ledger found inconsistent (its head is not its last event, or the chain has anchored events
 * it lacks) refuses writes until an operator has checked it; reads go on in both cases.
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
  /** The issuer's index of resident codes by cti (server/services/code-index.ts). */
  'codes',
  /** Linked cards (sealed references), consents per purpose and link requests, by pseudonym (server/services/links.ts). */
  'links',
  /** Service desks and their look-up log (server/services/desks.ts). */
  'desks',
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
  /** `k(space, key)`: the key in the overlay and the cache, and LevelDB's own key for it. */
  k: string;
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

/**
 * Spaces whose committed values the ledger keeps in memory once read: a request reads the
 * same few keys over and over (a gate's venue and its chain head, an operator's token, the
 * hour's counters), and a LevelDB point read with its JSON decoding costs more than the
 * lookup. Each durable group updates the entries it wrote, so the cache never serves what is
 * not committed. Cached values are frozen: whoever wants another value puts a new one.
 */
const CACHED_SPACES: ReadonlySet<Space> = new Set<Space>(['subjectHeads', 'venues', 'tokens', 'bindings', 'index']);
/** Entries kept; the oldest inserted goes first. */
const CACHE_ENTRIES = 100_000;

/** Freezes a value and everything in it; a typed array (which cannot be frozen) is left as it is. */
function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v) && !ArrayBuffer.isView(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}
type Sub = AbstractSublevel<Level<string, unknown>, string | Uint8Array | Buffer, string, unknown>;

/** Sequence numbers as fixed-width decimal so that LevelDB's key order is log order. */
export const seqKey = (seq: number) => String(seq).padStart(15, '0');

export type LedgerErrorCode = 'LEDGER_UNAVAILABLE' | 'LEDGER_DIVERGED';

/** A transaction the ledger could not make durable, or refused: nothing of it was kept. */
export class LedgerUnavailableError extends Error {
  readonly code: LedgerErrorCode = 'LEDGER_UNAVAILABLE';
}

/** Writes are refused because the ledger disagrees with itself or with the chain; an operator must check it. */
export class LedgerDivergedError extends LedgerUnavailableError {
  override readonly code: LedgerErrorCode = 'LEDGER_DIVERGED';
}

/** Where the ledger reports a failed write, its recovery and a refusal (a subset of the service's logger). */
export type LedgerLog = Pick<Logger, 'error' | 'info'>;

export interface LedgerOptions {
  log?: LedgerLog;
  /** While writes fail, how often a probe write checks whether the cause is gone (ms, default 1000). */
  probeIntervalMs?: number;
  /** Told once when the ledger starts refusing writes as diverged (the service logs what to run). */
  onDiverged?: (reason: string) => void;
}

/** What /readyz shows of the ledger. */
export interface LedgerHealth {
  ok: boolean;
  /** Why writes are refused, for operators: a cause such as "ENOSPC: no space left on device", never a path. */
  reason?: string;
  /** 'failing' after a failed write until a probe succeeds; 'diverged' until a restart; 'held' while start-up checks run. */
  state: 'ok' | 'failing' | 'diverged' | 'held';
  /** When the current failure episode began. */
  since?: string;
  /** Group writes that failed since the ledger opened. */
  writeFailures: number;
}

const PROBE_KEY = 'ledger-probe';
const FLUSH_HINT =
  ' (LevelDB could not flush its memory table after the failure: once space is free, restart the service)';

/**
 * An operator's view of a LevelDB write error: the errno name where one is recognised and
 * the message without the file path (`IO error: /data/ledger/000012.log: No space left on device`).
 */
export function describeWriteError(err: unknown): string {
  const message = String((err as Error)?.message ?? err);
  const known: Array<[RegExp, string]> = [
    [/no space left on device/i, 'ENOSPC: no space left on device'],
    [/disk quota exceeded/i, 'EDQUOT: disk quota exceeded'],
    [/read-only file system/i, 'EROFS: read-only file system'],
    [/input\/output error/i, 'EIO: input/output error'],
    [/permission denied/i, 'EACCES: permission denied'],
  ];
  for (const [re, text] of known) if (re.test(message)) return text;
  return message
    .replace(/(^|\s)\/[^\s:]+:?/g, '$1')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 200);
}

/** Why the ledger would not open: another process holds it, the folder is not writable, or another cause. */
export class LedgerOpenError extends Error {
  constructor(
    readonly code: 'LEDGER_IN_USE' | 'LEDGER_NOT_WRITABLE' | 'LEDGER_OPEN_FAILED',
    message: string,
    options: { cause: unknown },
  ) {
    super(message, options);
  }
}

/**
 * LevelDB says only "Database failed to open"; the cause says why. The two an operator meets
 * (a second service on the same DATA_DIR, a folder it may not write) are named with the fix.
 */
function openError(dir: string, e: unknown): LedgerOpenError {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  const why = cause?.message ?? (e as Error).message;
  if (cause?.code === 'LEVEL_LOCKED') {
    return new LedgerOpenError(
      'LEDGER_IN_USE',
      `the ledger in ${dir} is open in another process (another Ankang on the same DATA_DIR?): stop that one, or give this one its own DATA_DIR`,
      { cause: e },
    );
  }
  if (/permission denied|EACCES|read-only/i.test(why)) {
    return new LedgerOpenError(
      'LEDGER_NOT_WRITABLE',
      `the ledger in ${dir} cannot be opened for writing (${why}): the service's user must own DATA_DIR and be able to write it`,
      { cause: e },
    );
  }
  return new LedgerOpenError('LEDGER_OPEN_FAILED', `the ledger in ${dir} failed to open: ${why}`, { cause: e });
}

/**
 * The ledger as a reader sees it: the durable event log and its head, new events as they
 * become durable, and committed values by space (read here; every write goes through
 * `transact`). anchor/ follows the log through this, and `transact` for its own records.
 */
export type LedgerReader = Pick<Ledger, 'getHead' | 'onEvents' | 'events' | 'getEvent' | 'read' | 'space'>;

export class Ledger {
  private head: LedgerHead = { seq: 0, hash: GENESIS_HASH };
  private committedHead: LedgerHead = { seq: 0, hash: GENESIS_HASH };
  /** The `at` of the last event appended ('' before the first). */
  private lastAt = '';
  /** Writes of transactions that ran but are not yet durable, by group. */
  private readonly overlay = new Map<string, { value: unknown; group: number }>();
  private pending: Group | undefined;
  /** The group whose batch is being written now. */
  private writing: Group | undefined;
  private flushing = false;
  private queue: Promise<unknown> = Promise.resolve();
  /** The current failure episode: set by a failed write, cleared by a successful probe. */
  private failure: { cause: string; since: string; flushFailed?: boolean } | undefined;
  /** Bumped by every failed write: a transaction that ran across one read state that was rolled back. */
  private epoch = 0;
  private failures = 0;
  private probeTimer: NodeJS.Timeout | undefined;
  private divergence: string | undefined;
  private held: { reason: string; holding: () => boolean } | undefined;
  private committedLastAt = '';
  private closed = false;
  private nextGroupId = 1;
  private readonly listeners: Array<(events: LedgerEvent[]) => void> = [];
  private readonly keyWatchers: Array<{ space: Space; fn: (keys: string[]) => void }> = [];
  private readonly derivers: Array<(events: LedgerEvent[], tx: Tx) => Promise<void> | void> = [];
  private readonly spaces = new Map<Space, Sub>();
  /** Committed values of CACHED_SPACES by `k(space, key)`, `undefined` for a key known absent. */
  private readonly cache = new Map<string, unknown>();

  private constructor(
    readonly db: Level<string, unknown>,
    private readonly clock: () => Date,
    private readonly opts: LedgerOptions,
  ) {}

  /**
   * Opens (creating if needed) the ledger in `dir`, and checks that its stored head is its
   * last event: when not, it opens refusing writes (`health()` says why).
   */
  static async open(dir: string, clock: () => Date = () => new Date(), opts: LedgerOptions = {}): Promise<Ledger> {
    // A larger write buffer means fewer level-0 compactions stalling the write path under load.
    const db = new Level<string, unknown>(dir, {
      valueEncoding: 'json',
      writeBufferSize: 32 * 1024 * 1024,
      cacheSize: 32 * 1024 * 1024,
    });
    await db.open().catch((e: unknown) => {
      throw openError(dir, e);
    });
    const ledger = new Ledger(db, clock, opts);
    // Sublevels open asynchronously; open them all now so synchronous reads work from the start.
    for (const space of SPACES) await ledger.space(space).open();
    const head = await ledger.read<LedgerHead>('meta', 'head');
    if (head) {
      ledger.head = { ...head };
      ledger.committedHead = { ...head };
      ledger.lastAt = ledger.committedLastAt = (await ledger.getEvent(head.seq))?.at ?? '';
    }
    let last: LedgerEvent | undefined;
    for await (const e of ledger.space('events').values({ reverse: true, limit: 1 })) last = e as LedgerEvent;
    const stored = head ?? { seq: 0, hash: GENESIS_HASH };
    if ((last?.seq ?? 0) !== stored.seq || (last && last.hash !== stored.hash)) {
      ledger.refuseWrites(
        `the stored head is event ${stored.seq} but the last event stored is ${last?.seq ?? 'none'}${last && last.seq === stored.seq ? ' with another hash' : ''}`,
      );
    }
    return ledger;
  }

  /** Waits for queued transactions and writes, then closes the database. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.probeTimer) clearTimeout(this.probeTimer);
    await this.queue.catch(() => undefined);
    while (this.pending || this.flushing) await new Promise((r) => setTimeout(r, 1));
    await this.db.close();
  }

  /** Group writes that failed since the ledger opened (each rejected all the transactions in its group). */
  get writeFailures(): number {
    return this.failures;
  }

  /** Whether the ledger takes writes, and if not why. */
  health(): LedgerHealth {
    const writeFailures = this.failures;
    if (this.divergence) return { ok: false, state: 'diverged', reason: this.divergence, writeFailures };
    if (this.failure)
      return { ok: false, state: 'failing', reason: this.failure.cause, since: this.failure.since, writeFailures };
    const held = this.holdReason();
    if (held) return { ok: false, state: 'held', reason: held, writeFailures };
    return { ok: true, state: 'ok', writeFailures };
  }

  /**
   * Refuses every later write with LEDGER_DIVERGED until a restart: the ledger disagrees
   * with itself or with what the chain anchored, and writing on would bury the evidence.
   */
  refuseWrites(reason: string): void {
    if (this.divergence) return;
    this.divergence = reason;
    this.opts.onDiverged?.(reason);
  }

  /**
   * Refuses writes with LEDGER_UNAVAILABLE for as long as `holding()` says (asked at each
   * write, so the hold ends the moment its condition does): start-up checks that must
   * finish before anything is written.
   */
  holdWrites(reason: string, holding: () => boolean): void {
    this.held = { reason, holding };
  }

  private holdReason(): string | undefined {
    if (this.held && !this.held.holding()) this.held = undefined;
    return this.held?.reason;
  }

  private refusal(): LedgerUnavailableError | undefined {
    if (this.divergence) return new LedgerDivergedError(`the ledger refuses writes: ${this.divergence}`);
    if (this.failure)
      return new LedgerUnavailableError(`the ledger refuses writes after a failed write: ${this.failure.cause}`);
    const held = this.holdReason();
    if (held) return new LedgerUnavailableError(`the ledger refuses writes: ${held}`);
    return undefined;
  }

  /** The last durable event's sequence number and hash. */
  getHead(): LedgerHead {
    return { ...this.committedHead };
  }

  /** Called with each durable group's events, in order (the anchorer and metrics listen). */
  onEvents(fn: (events: LedgerEvent[]) => void): void {
    this.listeners.push(fn);
  }

  /**
   * Called after each durable group that wrote or deleted keys of `space`, with those keys,
   * one name per write (a key written twice is named twice: the writer's workers count a
   * code answer's own writes by them; server/cluster/writer.ts).
   */
  onKeysWritten(space: Space, fn: (keys: string[]) => void): void {
    this.keyWatchers.push({ space, fn });
  }

  /**
   * Runs `fn` inside every transaction that appended events, after its body and with its
   * view (what the body wrote included), so derived state such as aggregate counters is
   * written in the same batch as the events it counts and is exactly as durable.
   */
  derive(fn: (events: LedgerEvent[], tx: Tx) => Promise<void> | void): void {
    this.derivers.push(fn);
  }

  /**
   * Compacts the whole key range of each space (flushing the memory table first), so that
   * LevelDB rewrites its files without the values deleted or overwritten there: after an
   * erasure, no copy of an erased body stays in a .log or .ldb file.
   */
  async compact(spaces: readonly Space[]): Promise<{ obsoleteFiles: number }> {
    for (const space of spaces) await this.compactRange(`!${space}!`, `!${space}!\uffff`);
    // A file the compaction replaced is deleted only when no reader (an open iterator, such as
    // the anchorer's) still holds the version it belongs to, and then only at LevelDB's next
    // flush or compaction: wait for the readers to finish, and flush again until it is gone.
    let left = this.obsoleteFiles();
    for (let i = 0; left.length && i < 100 && !this.closed; i++) {
      await new Promise((r) => setTimeout(r, 20));
      await this.flushMemory();
      left = this.obsoleteFiles();
    }
    return { obsoleteFiles: left.length };
  }

  /** Writes LevelDB's memory table out to a table file (and starts a new .log). */
  async flushMemory(): Promise<void> {
    await this.compactRange(PROBE_KEY, PROBE_KEY);
  }

  /** `level` is classic-level on Node, whose compactRange (not in the abstract-level types) flushes the memory table first. */
  private compactRange(start: string, end: string): Promise<void> {
    return (this.db as unknown as { compactRange(start: string, end: string): Promise<void> }).compactRange(start, end);
  }

  /** Table files in the folder that are no longer part of the database (replaced by a compaction, not yet deleted). */
  private obsoleteFiles(): string[] {
    const db = this.db as unknown as { location: string; getProperty(name: string): string };
    // Listed before the live set is read: a file a flush adds in between is then in both.
    const files = readdirSync(db.location).filter((f) => /^\d+\.(ldb|sst)$/.test(f));
    const live = new Set([...db.getProperty('leveldb.sstables').matchAll(/^\s*(\d+):/gm)].map((m) => Number(m[1])));
    return files.filter((f) => !live.has(Number(f.split('.')[0])));
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
    if (!CACHED_SPACES.has(space)) return this.space(space).getSync(key) as T | undefined;
    const k = this.k(space, key);
    if (this.cache.has(k)) return this.cache.get(k) as T | undefined;
    const v = deepFreeze(this.space(space).getSync(key) as T | undefined);
    if (this.cache.size >= CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(k, v);
    return v;
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
    for await (const key of this.space('subjectEvents').keys({
      gte: prefix + seqKey(from),
      lte: prefix + seqKey(to),
    })) {
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

  /**
   * Settles once every write of the transactions that have run so far is durable, and rejects
   * if one of them fails: what a read-only transaction read of writes not yet durable (which
   * `transact` does not wait for) is then kept. At once when nothing is waiting to be written.
   */
  whenDurable(): Promise<void> {
    const last = this.pending ?? this.writing;
    if (!last) return Promise.resolve();
    return new Promise((resolve, reject) => last.settle.push({ resolve, reject }));
  }

  /**
   * A value's key across spaces, as LevelDB stores it: a sublevel's prefix spelled out
   * (`!space!key`), so the same string keys the overlay and the cache and goes into the batch.
   */
  private k(space: Space, key: string) {
    return `!${space}!${key}`;
  }

  private async run<T>(fn: (tx: Tx) => Promise<T> | T): Promise<{ result: T; durable: Promise<void> }> {
    const epoch = this.epoch;
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
      const v = local.has(k)
        ? local.get(k)
        : this.overlay.has(k)
          ? this.overlay.get(k)!.value
          : this.readSync(space, key);
      return (v === DELETED ? undefined : v) as V | undefined;
    };
    const put = (space: Space, key: string, value: unknown) => {
      const k = this.k(space, key);
      ops.push({ space, key, k, value });
      local.set(k, value);
    };
    const appendOne = (e: NewEvent): LedgerEvent => {
      const subjects = e.subjects && e.subjects.length > 1 ? [...new Set(e.subjects)].sort() : (e.subjects ?? []);
      const links: Record<string, string | null> = {};
      for (const s of subjects) links[s] = read<string>('subjectHeads', s) ?? null;
      const body: LedgerEventBody = {
        seq: this.head.seq + 1,
        type: e.type,
        at,
        subjects,
        links,
        prev: this.head.hash,
        data: e.data,
      };
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
        const k = this.k(space, key);
        ops.push({ space, key, k, value: DELETED });
        local.set(k, DELETED);
      },
      append: async (e) => appendOne(e),
      onCommit: (f) => commits.push(f),
    };

    let result: T;
    try {
      result = await fn(tx);
      if (events.length) for (const d of this.derivers) await d(events, tx);
    } catch (err) {
      // After a failed write the head is already back at the committed one.
      if (epoch === this.epoch) {
        this.head = headBefore;
        this.lastAt = lastAtBefore;
      }
      throw err;
    }
    // A write failed while this ran: what it read of earlier groups was never kept.
    if (epoch !== this.epoch)
      throw new LedgerUnavailableError(
        `the ledger refuses writes after a failed write: ${this.failure?.cause ?? 'unknown'}`,
      );
    if (ops.length === 0) return { result, durable: Promise.resolve() };
    // Checked here, not before: a transaction that only reads still answers while writes are refused.
    const refused = this.refusal();
    if (refused) {
      this.head = headBefore;
      this.lastAt = lastAtBefore;
      throw refused;
    }

    const group = (this.pending ??= {
      id: this.nextGroupId++,
      ops: [],
      events: [],
      head: this.head,
      commits: [],
      settle: [],
    });
    group.ops.push(...ops);
    group.events.push(...events);
    group.commits.push(...commits);
    group.head = { ...this.head };
    for (const op of ops) this.overlay.set(op.k, { value: op.value, group: group.id });
    const durable = new Promise<void>((resolve, reject) => group.settle.push({ resolve, reject }));
    if (!this.flushing) void this.flush();
    return { result, durable };
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    while (this.pending) {
      const group = this.pending;
      this.pending = undefined;
      this.writing = group;
      const batch = this.db.batch();
      // A group often writes one key several times (a record, a subject head): keep the last.
      const last = new Map<string, Op>();
      for (const op of group.ops) {
        last.delete(op.k);
        last.set(op.k, op);
      }
      // Written through the root with the sublevel prefix spelled out (op.k): the same keys,
      // but without the sublevel encoding layers, which cost more than the JSON itself.
      for (const op of last.values()) {
        if (op.value === DELETED) batch.del(op.k);
        else batch.put(op.k, op.value);
      }
      batch.put('!meta!head', group.head);
      try {
        await batch.write({ sync: true });
      } catch (err) {
        this.writing = undefined;
        this.writeFailed(err, group);
        break;
      }
      this.writing = undefined;
      this.committedHead = { ...group.head };
      if (group.events.length) this.committedLastAt = group.events[group.events.length - 1].at;
      for (const [k, op] of last) {
        if (this.cache.has(k)) this.cache.set(k, op.value === DELETED ? undefined : deepFreeze(op.value));
      }
      for (const op of group.ops) if (this.overlay.get(op.k)?.group === group.id) this.overlay.delete(op.k);
      for (const f of group.commits) f();
      if (group.events.length) for (const l of this.listeners) l(group.events);
      for (const w of this.keyWatchers) {
        const keys = group.ops.filter((op) => op.space === w.space).map((op) => op.key);
        if (keys.length) w.fn(keys);
      }
      for (const s of group.settle) s.resolve();
    }
    this.flushing = false;
  }

  /**
   * A group's write failed: it and every later group (built on its state) are rejected to
   * their callers, the in-memory state goes back to the committed state, and writes are
   * refused until a probe write succeeds.
   */
  private writeFailed(err: unknown, group: Group): void {
    const failed = [group, ...(this.pending ? [this.pending] : [])];
    this.pending = undefined;
    this.failures++;
    this.epoch++;
    this.head = { ...this.committedHead };
    this.lastAt = this.committedLastAt;
    this.overlay.clear();
    const cause = describeWriteError(err);
    const first = !this.failure;
    this.failure ??= { cause, since: this.clock().toISOString() };
    const rejected = failed.reduce((n, g) => n + g.settle.length, 0);
    for (const g of failed)
      for (const s of g.settle) s.reject(new LedgerUnavailableError(`ledger write failed: ${cause}`));
    if (first) {
      this.opts.log?.error('ledger: a write failed; writes are refused until a probe write succeeds', {
        cause,
        error: (err as Error)?.message,
        rejectedTransactions: rejected,
        committedSeq: this.committedHead.seq,
      });
      this.scheduleProbe();
    }
  }

  private scheduleProbe(): void {
    if (this.closed) return;
    this.probeTimer = setTimeout(() => void this.probe(), this.opts.probeIntervalMs ?? 1000);
    this.probeTimer.unref();
  }

  /**
   * One small synchronous write outside every space. When it succeeds the memtable is
   * flushed and LevelDB starts a new log file: a failed write can leave a partial record in
   * the log, and records appended after it in the same file may be unreadable at the next
   * start (seen here: every write acknowledged after such a failure was gone after a crash).
   */
  private async probe(): Promise<void> {
    if (this.closed || !this.failure) return;
    try {
      await this.db.put(PROBE_KEY, this.clock().toISOString(), { sync: true });
    } catch (err) {
      this.failure.cause = describeWriteError(err) + (this.failure.flushFailed ? FLUSH_HINT : '');
      this.scheduleProbe();
      return;
    }
    try {
      await this.flushMemory();
    } catch (err) {
      // LevelDB keeps a failed flush as a background error and refuses every write after it until reopened.
      const first = !this.failure.flushFailed;
      this.failure.flushFailed = true;
      this.failure.cause = describeWriteError(err) + FLUSH_HINT;
      if (first)
        this.opts.log?.error(
          'ledger: flushing the memory table failed; writes stay refused until the service restarts',
          { cause: this.failure.cause, error: (err as Error)?.message },
        );
      this.scheduleProbe();
      return;
    }
    const { since } = this.failure;
    this.failure = undefined;
    this.opts.log?.info('ledger: writes accepted again', {
      failingSince: since,
      writeFailures: this.failures,
      committedSeq: this.committedHead.seq,
    });
  }
}
