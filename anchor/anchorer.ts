import type { Logger } from '../ledger/log';
import type { Ledger, LedgerReader } from '../ledger/ledger';
import { sizeProofPlan } from '../verifier/src/merkle';
import { Backoff, OutageLog } from './backoff';
import type { RegistryClient } from './registry';
import { SubjectMapStore, type MapDb } from './subject-map-store';
import { TreeStore, leafHash, type TreeDb } from './tree-store';

/** What the anchorer uses of the ledger: it follows the log, keeps its tree and map in sublevels of the same LevelDB, and records checkpoints in transactions. */
export type AnchorLedger = LedgerReader & Pick<Ledger, 'db' | 'transact'>;

/** A checkpoint this issuer anchored, as the ledger records it. */
export interface CheckpointRecord {
  index: number;
  treeSize: number;
  root: string;
  txHash: string;
  blockNumber: number;
  chainId: number;
  contract: string;
  anchoredAt: string;
  /**
   * Root of the subject heads map at `treeSize` (verifier/FORMAT.md §13), 64 hex digits: what
   * witnesses cosign with the size and root. Absent in records made before the map was kept.
   */
  mapRoot?: string;
}

export interface AnchorerOptions {
  issuer: string;
  intervalSeconds: number;
  maxEvents: number;
  /** How many of the latest subject map commits keep their proofs (0: all); older ones keep only their roots. */
  mapKeep?: number;
  /** Opens a chain session (in development: deploys and registers when the contract is missing). */
  connect: () => Promise<RegistryClient>;
  log: Logger;
  clock: () => Date;
  /** Told once when the anchorer finds the ledger behind the log or the chain (the service then refuses writes). */
  onDiverge?: (reason: string) => void;
  /** First delay before reconnecting to a chain that is down, in ms (default 1,000); it doubles, with jitter, up to `retryMaxMs`. */
  retryMinMs?: number;
  /** Longest delay between reconnection attempts, in ms (default 60,000). */
  retryMaxMs?: number;
  /** Randomness for the jitter (tests pin it). */
  random?: () => number;
}

export type AnchorState = 'connecting' | 'up' | 'down' | 'suspended' | 'diverged';

const CHECKPOINT_EVENT = 'checkpoint.anchored';
/**
 * A checkpoint's own record is appended after it is anchored, and goes on chain with the next
 * one. It lies among the first events after the checkpoint's tree size (only writes that
 * committed while the anchoring transaction waited come before it), so this many are read.
 */
const RECORD_WINDOW = 64;
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 60_000;
/** An outage is logged when it starts, then each time it has doubled in length, at least every hour-equivalent (60 × the longest delay), and when it ends. */
const STILL_DOWN_EVERY_MAX_DELAYS = 60;
/** While the council has the issuer suspended, ask again this often whether it resumed it. */
const SUSPENDED_RETRY_MS = 5_000;
/** The subject map is committed at every checkpoint, and at least this often while none is anchored. */
const MAP_COMMIT_EVENTS = 4096;

/**
 * Keeps the issuer's RFC 6962 log in step with the ledger (leaf i = SHA-256(0x00 ‖ hash of
 * event i + 1)) and anchors checkpoints on chain every `intervalSeconds` or `maxEvents`
 * events. When the chain is down, events are still accepted; the anchorer retries with
 * exponential backoff and catches up with a single checkpoint. While the council has the
 * issuer suspended the registry refuses its checkpoints: the anchorer says so ('suspended')
 * and catches up once it is resumed. A chain whose checkpoint disagrees with the local log
 * stops anchoring and says so ('diverged').
 */
export class Anchorer {
  private client: RegistryClient | undefined;
  private chainId = 0;
  private latest: CheckpointRecord | undefined;
  private lastSubstantive = 0;
  private lastAnchorAt = 0;
  private readonly backoff: Backoff;
  private readonly outage: OutageLog;
  private retryAt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  state: AnchorState = 'connecting';
  lastError: string | undefined;

  private constructor(
    private readonly ledger: AnchorLedger,
    readonly tree: TreeStore,
    /** The subject heads map, kept at the same size as the tree. */
    readonly map: SubjectMapStore,
    private readonly opts: AnchorerOptions,
  ) {
    const max = opts.retryMaxMs ?? RETRY_MAX_MS;
    this.backoff = new Backoff(Math.min(opts.retryMinMs ?? RETRY_MIN_MS, max), max, opts.random);
    this.outage = new OutageLog(
      opts.log,
      {
        down: 'anchor: chain unavailable, will retry',
        stillDown: 'anchor: chain still unavailable',
        up: 'anchor: chain reachable again',
      },
      max,
      max * STILL_DOWN_EVERY_MAX_DELAYS,
    );
  }

  static async open(ledger: AnchorLedger, opts: AnchorerOptions): Promise<Anchorer> {
    const db = ledger.db.sublevel<string, Uint8Array>('tree', { valueEncoding: 'view' }) as unknown as TreeDb;
    const mapDb = ledger.db.sublevel<string, Uint8Array>('subject-map', { valueEncoding: 'view' }) as unknown as MapDb;
    const a = new Anchorer(ledger, await TreeStore.open(db), await SubjectMapStore.open(mapDb), opts);
    a.latest = await ledger.read<CheckpointRecord>('anchor', 'latest');
    await a.catchUpMap();
    // Whether anything but checkpoint records arrived since the last checkpoint.
    for await (const e of ledger.events((a.latest?.treeSize ?? 0) + 1, a.tree.treeSize)) {
      if (e.type !== CHECKPOINT_EVENT) a.lastSubstantive = e.seq;
    }
    // The log and the checkpoint records are written after the events they cover: ahead of the ledger, events were lost.
    const head = ledger.getHead().seq;
    if (a.tree.treeSize > head)
      a.diverge(
        `the anchor log holds ${a.tree.treeSize} events but the ledger has ${head}: events ${head + 1}–${a.tree.treeSize} are missing`,
      );
    else if (a.latest && a.latest.treeSize > head)
      a.diverge(
        `checkpoint ${a.latest.index} covers ${a.latest.treeSize} events but the ledger has ${head}: events ${head + 1}–${a.latest.treeSize} are missing`,
      );
    return a;
  }

  /** The chain session, with this service's anchorer account, while connected (the witness runner cosigns through it). */
  get registry(): RegistryClient | undefined {
    return this.client;
  }

  /** The latest checkpoint anchored on the chain this service now uses. */
  get checkpoint(): CheckpointRecord | undefined {
    return this.latest;
  }

  status() {
    return {
      state: this.state,
      treeSize: this.tree.treeSize,
      checkpoint: this.latest ?? null,
      lastError: this.lastError ?? null,
      retryAt: this.state === 'down' || this.state === 'suspended' ? new Date(this.retryAt).toISOString() : null,
    };
  }

  /**
   * The events no anchored checkpoint covers yet, not counting checkpoint records (an idle
   * service has nothing to anchor), and the oldest of them: what /readyz and /metrics call lag.
   */
  async unanchored(): Promise<{ events: number; oldest: { seq: number; at: string } | undefined }> {
    const head = this.ledger.getHead().seq;
    const anchored = this.latest?.treeSize ?? 0;
    let records = 0;
    let oldest: { seq: number; at: string } | undefined;
    let read = 0;
    for await (const e of this.ledger.events(anchored + 1, head)) {
      if (e.type === CHECKPOINT_EVENT) records++;
      else oldest ??= { seq: e.seq, at: e.at };
      if (++read >= RECORD_WINDOW) break;
    }
    return { events: Math.max(0, head - anchored - records), oldest };
  }

  start(): void {
    this.ledger.onEvents(() => void this.tick());
    this.timer = setInterval(() => void this.tick(), 1000);
    this.timer.unref();
    void this.tick();
  }

  /** Drops the chain session so the next step reconnects (and re-registers in development). */
  reconnectSoon(): void {
    const old = this.client;
    this.client = undefined;
    this.retryAt = 0;
    // A step may be anchoring through it: end it once that step is over.
    if (old) void (this.running ?? Promise.resolve()).then(() => old.close());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    clearTimeout(this.retryTimer);
    await this.running;
    this.drop();
  }

  /** One step: extend the log, connect if needed, anchor if due. Never runs twice at once. */
  tick(): Promise<void> {
    this.running ??= this.step().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /**
   * Brings the subject map up to the tree after a restart (or, for a ledger older than the
   * map, from the first event), committing it at the size of every checkpoint recorded in the
   * ledger so that each has its map root and proofs.
   */
  private async catchUpMap(): Promise<void> {
    const target = this.tree.treeSize;
    if (this.map.size >= target) return;
    const sizes = new Set<number>();
    for await (const cp of this.ledger.space('anchor').values({ gte: 'cp/', lt: 'cp0' }))
      sizes.add((cp as CheckpointRecord).treeSize);
    for await (const e of this.ledger.events(this.map.size + 1, target)) {
      this.map.apply(e);
      if (sizes.has(e.seq) || this.map.size - this.map.committedSize >= MAP_COMMIT_EVENTS) await this.map.commit();
    }
    await this.map.commit();
  }

  /** Extends the log and the subject map to the ledger head; returns the new size. */
  async sync(): Promise<number> {
    const head = this.ledger.getHead().seq;
    const from = Math.min(this.tree.treeSize, this.map.size) + 1;
    if (from > head) return this.tree.treeSize;
    const batch: Uint8Array[] = [];
    for await (const e of this.ledger.events(from, head)) {
      if (e.seq === this.tree.treeSize + batch.length + 1) {
        batch.push(leafHash(Buffer.from(e.hash, 'hex')));
        if (e.type !== CHECKPOINT_EVENT) this.lastSubstantive = e.seq;
      }
      if (e.seq === this.map.size + 1) this.map.apply(e);
      if (batch.length === 4096) await this.tree.append(batch.splice(0));
    }
    await this.tree.append(batch);
    // Bounds what a long chain outage keeps in memory, and what a restart replays.
    if (this.map.size - this.map.committedSize >= MAP_COMMIT_EVENTS) await this.map.commit();
    return this.tree.treeSize;
  }

  /** Prunes the map's old versions; a failure costs only disk, so it is logged and anchoring goes on. */
  private async pruneMap(keep: number): Promise<void> {
    try {
      await this.map.prune(keep);
    } catch (e) {
      this.opts.log.warn('anchor: pruning the subject map failed', { error: (e as Error).message });
    }
  }

  /** Commits the subject map at the tree's size and returns its root, for the checkpoint about to be anchored. */
  private async commitMap(size: number): Promise<string> {
    if (this.map.size !== size)
      throw new Error(`internal: the subject map holds ${this.map.size} events, the tree ${size}`);
    return (await this.map.commit()).toString('hex');
  }

  private async step(): Promise<void> {
    if (this.stopped || this.state === 'diverged') return;
    try {
      await this.sync();
    } catch (e) {
      this.opts.log.error('anchor: extending the log failed', { error: (e as Error).message });
      return;
    }
    const now = this.opts.clock().getTime();
    if (!this.client) {
      if (now < this.retryAt) return;
      try {
        await this.reconnect();
      } catch (e) {
        this.fail(e, now);
        return;
      }
      if (!this.client) return;
    }
    const anchoredSize = this.latest?.treeSize ?? 0;
    const due =
      this.lastSubstantive > anchoredSize &&
      (now - this.lastAnchorAt >= this.opts.intervalSeconds * 1000 ||
        this.tree.treeSize - anchoredSize >= this.opts.maxEvents);
    if (now < this.retryAt) return;
    if (!due) {
      if (this.state === 'suspended') await this.checkResumed(now);
      return;
    }
    try {
      await this.anchorNow();
    } catch (e) {
      const revert = (e as { revert?: { name: string; args: unknown[] } }).revert;
      if (revert?.name === 'AnchorRegistryIssuerSuspended') this.suspended(Number(revert.args[1]), now);
      else this.fail(e, now);
    }
  }

  /** The registry refuses our checkpoints until the council resumes us: not an outage, so no backoff. */
  private suspended(sinceSeconds: number, now: number): void {
    if (this.state !== 'suspended')
      this.opts.log.error(
        'anchor: the council suspended this issuer; its checkpoints are refused until it is resumed',
        { since: new Date(sinceSeconds * 1000).toISOString() },
      );
    this.state = 'suspended';
    this.lastError = `issuer ${this.opts.issuer} is suspended on chain since ${new Date(sinceSeconds * 1000).toISOString()}`;
    this.retryAt = now + SUSPENDED_RETRY_MS;
  }

  /** With nothing to anchor, asks the registry whether the council has resumed us. */
  private async checkResumed(now: number): Promise<void> {
    try {
      const { suspendedAt } = await this.client!.issuer(Number(this.opts.issuer));
      if (suspendedAt) {
        this.retryAt = now + SUSPENDED_RETRY_MS;
        return;
      }
      this.state = 'up';
      this.lastError = undefined;
      this.opts.log.info('anchor: the council resumed this issuer');
    } catch (e) {
      this.fail(e, now);
    }
  }

  /**
   * The chain failed us: drop (and destroy) the session and retry after the next backoff
   * delay. Logged when the outage starts, then sparsely (OutageLog), never once per attempt.
   */
  private fail(e: unknown, now: number): void {
    this.drop();
    this.state = 'down';
    this.lastError = (e as Error).message?.slice(0, 300);
    const delay = this.backoff.next();
    this.retryAt = now + delay;
    // The step timer runs every second; a shorter delay (CHAIN_RETRY_MIN_MS) gets its own.
    clearTimeout(this.retryTimer);
    if (delay < 1000 && !this.stopped) {
      this.retryTimer = setTimeout(() => void this.tick(), delay);
      this.retryTimer.unref();
    }
    this.outage.failed(now, this.lastError ?? String(e), { retryInMs: delay });
  }

  /** Ends the chain session, if any, so its provider sends nothing more. */
  private drop(): void {
    const client = this.client;
    this.client = undefined;
    client?.close();
  }

  /** Connects, then checks the chain's latest checkpoint against the local log. */
  private async reconnect(): Promise<void> {
    const client = await this.opts.connect();
    try {
      await this.check(client);
    } finally {
      // A session that failed its checks, or found the chain diverged, is not kept: end it.
      // One kept and failing later is ended by fail().
      if (this.client !== client) client.close();
    }
  }

  private async check(client: RegistryClient): Promise<void> {
    const issuer = Number(this.opts.issuer);
    const chainId = await client.chainId();
    const onChain = await client.latestCheckpoint(issuer);
    const sameChain =
      this.latest &&
      this.latest.contract.toLowerCase() === client.address.toLowerCase() &&
      this.latest.chainId === chainId;
    if (!onChain) {
      // A registry with no checkpoint of ours (a fresh development chain): start over on it,
      // with the whole log still to anchor.
      this.latest = undefined;
      this.lastSubstantive = this.tree.treeSize;
    } else {
      if (onChain.treeSize > this.tree.treeSize)
        return this.diverge(
          `the chain has a checkpoint of ${onChain.treeSize} events but the ledger has ${this.tree.treeSize}`,
        );
      const local = (await this.tree.root(onChain.treeSize)).toString('hex');
      if (local !== onChain.root)
        return this.diverge(`the chain's root for ${onChain.treeSize} events differs from the ledger's`);
      const { mapRoot } = await client.attestation(issuer, onChain.index);
      const localMap = this.map.mapRootAt(onChain.treeSize)?.toString('hex');
      // Witnesses refuse a checkpoint whose map root is not the log's: anchoring on from one would be in vain.
      if (localMap !== undefined && localMap !== mapRoot)
        return this.diverge(`the chain's map root for ${onChain.treeSize} events differs from the ledger's`);
      if (!sameChain || this.latest!.index !== onChain.index) {
        this.latest = {
          index: onChain.index,
          treeSize: onChain.treeSize,
          root: onChain.root,
          txHash: '',
          blockNumber: 0,
          chainId,
          contract: client.address,
          anchoredAt: new Date(onChain.anchoredAt * 1000).toISOString(),
          mapRoot,
        };
      }
    }
    this.client = client;
    this.chainId = chainId;
    this.state = 'up';
    this.backoff.reset();
    this.retryAt = 0;
    this.lastError = undefined;
    this.outage.recovered(this.opts.clock().getTime());
    this.opts.log.info('anchor: connected', {
      contract: client.address,
      chainId,
      checkpoint: this.latest?.treeSize ?? 0,
    });
    const { suspendedAt } = await client.issuer(issuer);
    if (suspendedAt) this.suspended(suspendedAt, this.opts.clock().getTime());
  }

  private diverge(reason: string): void {
    if (this.state === 'diverged') return;
    this.state = 'diverged';
    this.lastError = reason;
    this.opts.log.error('anchor: the chain disagrees with the ledger; anchoring stopped', { reason });
    this.opts.onDiverge?.(reason);
  }

  private async anchorNow(): Promise<void> {
    const client = this.client!;
    const size = this.tree.treeSize;
    const root = (await this.tree.root(size)).toString('hex');
    const mapRoot = await this.commitMap(size);
    const proof = this.latest
      ? (await this.tree.consistencyProof(this.latest.treeSize, size)).map((h) => h.toString('hex'))
      : [];
    const r = await client.anchor(
      Number(this.opts.issuer),
      size,
      root,
      mapRoot,
      proof,
      await this.sizeProof(this.latest?.treeSize ?? 0, size),
    );
    const record: CheckpointRecord = {
      index: r.index,
      treeSize: size,
      root,
      txHash: r.txHash,
      blockNumber: r.blockNumber,
      chainId: this.chainId,
      contract: client.address,
      anchoredAt: this.opts.clock().toISOString(),
      mapRoot,
    };
    await this.ledger.transact(async (tx) => {
      tx.put('anchor', `cp/${record.chainId}/${record.contract}/${String(record.index).padStart(10, '0')}`, record);
      tx.put('anchor', 'latest', record);
      await tx.append({ type: CHECKPOINT_EVENT, subjects: ['anchor'], data: { ...record, gasUsed: r.gasUsed } });
    });
    this.latest = record;
    this.state = 'up';
    this.lastError = undefined;
    this.lastAnchorAt = this.opts.clock().getTime();
    if (this.opts.mapKeep) await this.pruneMap(this.opts.mapKeep);
    this.opts.log.info('anchor: checkpoint anchored', {
      index: record.index,
      treeSize: size,
      block: record.blockNumber,
      gasUsed: r.gasUsed,
    });
  }

  /**
   * The size proof binding the root of `size` leaves to its size (FORMAT.md §11.4): leaves by
   * their data, the event hashes (the contract hashes them itself), subtrees from the log.
   */
  private async sizeProof(anchoredSize: number, size: number): Promise<string[]> {
    const out: string[] = [];
    for (const item of sizeProofPlan(anchoredSize, size)) {
      if (item.kind === 'subtree') {
        out.push((await this.tree.perfectSubtree(item.start, item.end)).toString('hex'));
        continue;
      }
      const event = await this.ledger.getEvent(item.index + 1);
      if (!event) throw new Error(`ledger event ${item.index + 1} is missing`);
      out.push(event.hash);
    }
    return out;
  }
}
