import { ERASURE_EVENT, erasureDigest, isErased, type ErasedEvent, type LedgerEvent } from '../../verifier/src/event';
import { seqKey, type Ledger, type Space, type Tx } from '../../ledger/ledger';
import { startPeriodic } from '../periodic';
import { evaluateRules, type RawFacts } from '../rules';
import type { AppContext } from '../context';
import { getFacts, putFacts } from './facts-store';
import { lookupIndexKeys } from './lookups';

/**
 * Retention (数据留存期限): scan events, check-ins and health facts older than
 * RETENTION_DAYS are erased from the service's state, and the ledger crypto-shreds their
 * events (verifier/FORMAT.md §12.1): an erased event keeps its sequence number, hash, `prev`,
 * type and time, and loses its subjects, links, data and salt. The anchor log is a tree over
 * event hashes, which stay, so every checkpoint and every proof of a kept event still
 * verifies. Each batch of erased events is recorded by a `retention.erased` event written in
 * the same transaction (how many, which sequence numbers, the window; no personal data).
 *
 * Erased from the state, for events older than the window:
 * - the `scans` index (`t/<time>/<seq>` and `v/<venue>/<time>/<seq>`);
 * - `subjectEvents` keys `<subject>/<seq>` of each erased event (they pair a resident with it);
 * - `desks` `l/<desk>/<time>/<seq>` and `r/<pseudonym>/<time>/<seq>` of each erased look-up
 *   (they pair a resident with a desk, a purpose and a time);
 * - `index` `daily/<pseudonym>/<day>` (a daily check-in) and `selfscan/<pseudonym>/<venue>`
 *   (a self check-in's replay answer) whose own time is past the window;
 * - in `facts/<pseudonym>`, each part whose own time is past the window (the declaration by
 *   its `at`, a case by its `at`, a contact by `exposedAt`, an inbound record by `arrivedAt`),
 *   unless removing it would change what the current rules decide for that resident (a
 *   confirmed case stays red however old it is, so it stays).
 * Then the affected LevelDB ranges are compacted, so no copy of an erased value stays on disk.
 */

/** Events whose bodies are personal movement or health data, and are erased past the window. */
export const ERASABLE_TYPES: ReadonlySet<string> = new Set([
  'scan.recorded',
  'checkin.daily',
  'declaration.submitted',
  'border.entry',
  'service.looked-up',
]);

/** How many events, scan index entries or fact records one transaction of the job handles. */
export const RETENTION_BATCH = 500;
/** Fact records per transaction: each old one runs the rules two or more times. */
const FACT_BATCH = 100;
const CURSOR_KEY = 'retention';
const HOUR = 3_600_000;
const DAY = 86_400_000;
const COMPACTED: readonly Space[] = ['events', 'subjectEvents', 'scans', 'index', 'facts', 'desks'];

export interface RetentionReport {
  /** Events at or after this instant are kept (the window's start, on a whole hour). */
  before: string;
  erasedEvents: number;
  /** The `retention.erased` events written, one per batch. */
  erasureEvents: number[];
  scanEntries: number;
  factRecords: number;
  indexEntries: number;
  compactedMs: number;
  ms: number;
}

/** The window's start at `now`: RETENTION_DAYS earlier, down to the whole hour (so hourly aggregates are whole). */
export function retentionCutoff(now: Date, days: number): Date {
  return new Date(Math.floor((now.getTime() - days * DAY) / HOUR) * HOUR);
}

/**
 * The facts with each part older than `cutoff` removed, unless removing it changes the
 * decision (`decide` returns the colour and the matched rule ids); undefined when nothing
 * changes. Pure: the job calls it inside the transaction that writes the result.
 */
export function pruneFacts(facts: RawFacts, cutoff: Date, decide: (f: RawFacts) => string): RawFacts | undefined {
  const old = (iso: string | undefined) => iso !== undefined && Date.parse(iso) < cutoff.getTime();
  const parts: Array<[keyof RawFacts, string | undefined]> = [
    ['declaration', facts.declaration?.at],
    ['case', facts.case?.at],
    ['contact', facts.contact?.exposedAt],
    ['inbound', facts.inbound?.arrivedAt],
  ];
  // Most records have nothing old: decide nothing for them (the rules are the costly part).
  if (!parts.some(([, at]) => old(at))) return undefined;
  let next = facts;
  let changed = false;
  const decision = decide(facts);
  for (const [part, at] of parts) {
    if (!old(at)) continue;
    const without = { ...next };
    delete without[part];
    if (decide(without) !== decision) continue;
    next = without;
    changed = true;
  }
  return changed ? next : undefined;
}

const pause = () => new Promise<void>((r) => setImmediate(r));

/** The periodic erasure job; `run` erases everything past the window in bounded batches. */
export class RetentionService {
  private stopped = false;
  /** Every key this run erased or rewrote, for the second compaction pass. */
  private touched: Array<[Space, string]> = [];
  private running: Promise<RetentionReport> | undefined;

  constructor(private readonly app: AppContext) {}

  /** Runs once now and then every `intervalMs` (hourly in service), on an unref'd timer. */
  start(intervalMs: number, onError: (e: Error) => void): { stop(): Promise<void> } {
    const first = this.run().catch(onError);
    const periodic = startPeriodic(intervalMs, () => this.run(), onError);
    return {
      stop: async () => {
        this.stopped = true;
        await periodic.stop();
        await first;
        await this.running?.catch(() => undefined);
      },
    };
  }

  /** Erases what is past the window at the clock's now; a run already under way is joined, not repeated. */
  run(): Promise<RetentionReport> {
    this.running ??= this.erase().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async erase(): Promise<RetentionReport> {
    const started = performance.now();
    const { ledger, config } = this.app;
    const cutoff = retentionCutoff(this.app.clock(), config.RETENTION_DAYS);
    const report: RetentionReport = {
      before: cutoff.toISOString(),
      erasedEvents: 0,
      erasureEvents: [],
      scanEntries: 0,
      factRecords: 0,
      indexEntries: 0,
      compactedMs: 0,
      ms: 0,
    };
    this.touched = [];
    // Old values still in the memory table would be flushed into one table file together with
    // what replaces them, and LevelDB never rewrites a file of the deepest level on its own:
    // flush first, so the erasure's writes land in a file of their own and a compaction merges them.
    await ledger.flushMemory();
    await this.eraseEvents(ledger, cutoff, report);
    await this.eraseScanIndex(ledger, cutoff, report);
    await this.pruneAllFacts(ledger, cutoff, report);
    if (report.erasedEvents + report.scanEntries + report.factRecords + report.indexEntries > 0 && !this.stopped) {
      const t = performance.now();
      await ledger.compact(COMPACTED);
      // A reader's snapshot during that compaction keeps the old value beside the new one in
      // its output: write every touched key again (its current value, or its deletion while it
      // is still absent) and compact once more, which merges the two and keeps only the last.
      await new Promise((r) => setTimeout(r, 50));
      for (let i = 0; i < this.touched.length && !this.stopped; i += RETENTION_BATCH * 2) {
        const keys = this.touched.slice(i, i + RETENTION_BATCH * 2);
        await ledger.transact(async (tx) => {
          for (const [space, key] of keys) {
            const v = await tx.get(space, key);
            if (v === undefined) tx.del(space, key);
            else tx.put(space, key, v);
          }
        });
        await pause();
      }
      const { obsoleteFiles } = await ledger.compact(COMPACTED);
      report.compactedMs = Math.round(performance.now() - t);
      if (obsoleteFiles)
        this.app.log.warn(
          'retention: replaced LevelDB files are still held by a reader; they go at the next run or restart',
          { obsoleteFiles },
        );
    }
    report.ms = Math.round(performance.now() - started);
    if (report.erasedEvents || report.scanEntries || report.factRecords) {
      this.app.log.info('retention: erased data past the window', {
        ...report,
        erasureEvents: report.erasureEvents.length,
        days: config.RETENTION_DAYS,
      });
    }
    return report;
  }

  /** Walks the log from the cursor while events are older than the cutoff; shreds the erasable ones, a batch per transaction. */
  private async eraseEvents(ledger: Ledger, cutoff: Date, report: RetentionReport): Promise<void> {
    const before = cutoff.toISOString();
    while (!this.stopped) {
      const cursor = (await ledger.read<{ next: number }>('meta', CURSOR_KEY))?.next ?? 1;
      const head = ledger.getHead().seq;
      if (cursor > head) return;
      const batch: LedgerEvent[] = [];
      let last = cursor - 1;
      for await (const e of ledger.events(cursor, Math.min(head, cursor + RETENTION_BATCH - 1))) {
        if (e.at >= before) break;
        last = e.seq;
        if (ERASABLE_TYPES.has(e.type) && !isErased(e as LedgerEvent | ErasedEvent)) batch.push(e);
      }
      if (last < cursor) return;
      const erased = await ledger.transact(async (tx) => {
        tx.put('meta', CURSOR_KEY, { next: last + 1 });
        if (!batch.length) return 0;
        const seqs = batch.map((e) => e.seq);
        const erasure = await tx.append({
          type: ERASURE_EVENT,
          subjects: ['retention'],
          data: {
            count: seqs.length,
            from: seqs[0],
            to: seqs[seqs.length - 1],
            digest: erasureDigest(seqs),
            days: this.app.config.RETENTION_DAYS,
            before,
          },
        });
        for (const e of batch) {
          const stub: ErasedEvent = {
            seq: e.seq,
            type: e.type,
            at: e.at,
            prev: e.prev,
            hash: e.hash,
            erased: { by: erasure.seq },
          };
          tx.put('events', seqKey(e.seq), stub);
          tx.put('index', `erased/${e.hash}`, e.seq);
          this.touched.push(['events', seqKey(e.seq)]);
          for (const s of e.subjects) {
            tx.del('subjectEvents', `${s}/${seqKey(e.seq)}`);
            this.touched.push(['subjectEvents', `${s}/${seqKey(e.seq)}`]);
          }
          report.indexEntries += await this.eraseEventIndexes(tx, e, cutoff);
        }
        report.erasureEvents.push(erasure.seq);
        return seqs.length;
      });
      report.erasedEvents += erased;
      await pause();
    }
  }

  /**
   * A look-up's entries in its desk's and resident's lists; a daily check-in's `daily/` entry
   * and a self check-in's replay answer, when they are this event's and past the window.
   */
  private async eraseEventIndexes(tx: Tx, e: LedgerEvent, cutoff: Date): Promise<number> {
    if (e.type === 'service.looked-up') {
      const keys = lookupIndexKeys(e);
      for (const k of keys) {
        tx.del('desks', k);
        this.touched.push(['desks', k]);
      }
      return keys.length;
    }
    const resident = e.subjects.find((s) => s.startsWith('r:'))?.slice(2);
    if (!resident) return 0;
    const old = (v: { at?: string } | undefined) => v?.at !== undefined && Date.parse(v.at) < cutoff.getTime();
    let key: string | undefined;
    if (e.type === 'checkin.daily') key = `daily/${resident}/${e.data.day as string}`;
    else if (e.type === 'scan.recorded' && e.data.method === 'self')
      key = `selfscan/${resident}/${e.data.venue as string}`;
    if (!key) return 0;
    const v = await tx.get<{ at?: string; seq?: number }>('index', key);
    if (!old(v) || (e.type === 'scan.recorded' && v!.seq !== e.seq)) return 0;
    tx.del('index', key);
    this.touched.push(['index', key]);
    return 1;
  }

  /** The `scans` index by time: every `t/` entry before the cutoff, and the venue's entry for the same scan. */
  private async eraseScanIndex(ledger: Ledger, cutoff: Date, report: RetentionReport): Promise<void> {
    const lt = `t/${cutoff.toISOString()}`;
    while (!this.stopped) {
      const entries: Array<[string, { seq: number; at: string; venue: string }]> = [];
      for await (const [k, v] of ledger.space('scans').iterator({ gte: 't/', lt, limit: RETENTION_BATCH }))
        entries.push([k, v as { seq: number; at: string; venue: string }]);
      if (!entries.length) return;
      await ledger.transact((tx) => {
        for (const [k, v] of entries) {
          tx.del('scans', k);
          tx.del('scans', `v/${v.venue}/${v.at}/${seqKey(v.seq)}`);
          this.touched.push(['scans', k], ['scans', `v/${v.venue}/${v.at}/${seqKey(v.seq)}`]);
        }
      });
      report.scanEntries += entries.length;
      await pause();
    }
  }

  /** Every resident's facts, a batch per transaction, each read and written inside it (services write facts concurrently). */
  private async pruneAllFacts(ledger: Ledger, cutoff: Date, report: RetentionReport): Promise<void> {
    const decide = (now: Date) => (f: RawFacts) => {
      const ev = evaluateRules(f, this.app.rules.riskAreas, this.app.rules.current.doc, now);
      return `${ev.colour}:${ev.matched.map((m) => m.id).join(',')}`;
    };
    const key = this.app.secrets.encryptionKey;
    let after = '';
    while (!this.stopped) {
      const keys: string[] = [];
      for await (const k of ledger.space('facts').keys({ gt: after, limit: FACT_BATCH })) keys.push(k);
      if (!keys.length) return;
      after = keys[keys.length - 1];
      report.factRecords += await ledger.transact(async (tx) => {
        let n = 0;
        for (const p of keys) {
          // Facts are sealed at rest (facts-store): open, prune, seal again.
          const facts = await getFacts(tx, key, p);
          const pruned = facts && pruneFacts(facts, cutoff, decide(tx.now));
          if (!pruned) continue;
          if (Object.keys(pruned).length) putFacts(tx, key, p, pruned);
          else tx.del('facts', p);
          this.touched.push(['facts', p]);
          n++;
        }
        return n;
      });
      await pause();
    }
  }
}
