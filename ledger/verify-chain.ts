import {
  ERASURE_EVENT,
  GENESIS_HASH,
  erasureDigest,
  hashEvent,
  isErased,
  type ErasedEvent,
  type LedgerEvent,
} from '../verifier/src/event';
import type { Ledger } from './ledger';

export interface ChainReport {
  ok: boolean;
  events: number;
  subjects: number;
  /** Events erased by retention: linked through, but their hashes cannot be recomputed. */
  erased: number;
  head: { seq: number; hash: string };
  /** The first broken link, when there is one. */
  broken?: { seq: number; reason: string };
}

/**
 * Re-walks the whole log: sequence numbers without gaps, each event's hash recomputed,
 * each `prev` equal to the previous event's hash, each subject link equal to that
 * subject's previous event, and the stored head equal to the last event.
 *
 * An erased event (FORMAT.md §12.1) has no body or salt left, so its hash is taken as it is:
 * its `prev` is still checked, and it must be named by the `retention.erased` event its
 * `erased.by` gives (a later one, whose count, range and digest cover exactly the events
 * that name it). Its subjects are gone, so a subject's link to it is accepted when it names
 * an erased event after that subject's last kept one.
 */
export async function verifyChain(ledger: Ledger): Promise<ChainReport> {
  let prev = GENESIS_HASH;
  let expected = 1;
  let erased = 0;
  const subjectHeads = new Map<string, { hash: string; seq: number }>();
  /** Erased events by hash (their seq), and by the erasure that names them. */
  const erasedSeq = new Map<string, number>();
  const byErasure = new Map<number, number[]>();
  const erasures = new Map<number, { count: number; from: number; to: number; digest: string }>();
  const fail = (seq: number, reason: string): ChainReport => ({
    ok: false,
    events: expected - 1,
    subjects: subjectHeads.size,
    erased,
    head: { seq: expected - 1, hash: prev },
    broken: { seq, reason },
  });
  for await (const stored of ledger.events()) {
    const x = stored as LedgerEvent | ErasedEvent;
    if (x.seq !== expected) return fail(expected, `event ${expected} is missing (next is ${x.seq})`);
    if (x.prev !== prev) return fail(x.seq, 'prev does not equal the previous event hash');
    if (isErased(x)) {
      if (!Number.isSafeInteger(x.erased.by) || x.erased.by <= x.seq)
        return fail(x.seq, `the event is erased by event ${x.erased.by}, which is not a later event`);
      if (!/^[0-9a-f]{64}$/.test(x.hash)) return fail(x.seq, 'the erased event has no hash');
      erasedSeq.set(x.hash, x.seq);
      const named = byErasure.get(x.erased.by);
      if (named) named.push(x.seq);
      else byErasure.set(x.erased.by, [x.seq]);
      erased++;
    } else {
      const e = x;
      if (hashEvent(e, e.salt) !== e.hash) return fail(e.seq, 'the event does not match its hash');
      for (const s of e.subjects) {
        const last = subjectHeads.get(s);
        const want = last?.hash ?? null;
        const link = e.links[s];
        const throughErased = link !== want && link !== null && (erasedSeq.get(link) ?? 0) > (last?.seq ?? 0);
        if (link !== want && !throughErased) return fail(e.seq, `the link for subject ${s} skips or repeats an event`);
        subjectHeads.set(s, { hash: e.hash, seq: e.seq });
      }
      if (Object.keys(e.links).length !== e.subjects.length) return fail(e.seq, 'links and subjects disagree');
      if (e.type === ERASURE_EVENT)
        erasures.set(e.seq, e.data as { count: number; from: number; to: number; digest: string });
    }
    prev = x.hash;
    expected++;
  }
  for (const [by, seqs] of byErasure) {
    const r = erasures.get(by);
    if (!r)
      return fail(
        seqs[0],
        `the event is erased, but event ${by} is not a ${ERASURE_EVENT} event: no erasure covers it`,
      );
    if (
      r.count !== seqs.length ||
      r.from !== seqs[0] ||
      r.to !== seqs[seqs.length - 1] ||
      r.digest !== erasureDigest(seqs)
    ) {
      return fail(
        by,
        `the ${ERASURE_EVENT} event names ${r.count} events ${r.from}–${r.to}, but ${seqs.length} erased events (${seqs[0]}–${seqs[seqs.length - 1]}) name it`,
      );
    }
  }
  for (const [by, r] of erasures) {
    if (!byErasure.has(by) && r.count > 0)
      return fail(by, `the ${ERASURE_EVENT} event names ${r.count} events, but none is erased`);
  }
  const head = ledger.getHead();
  if (head.seq !== expected - 1 || head.hash !== prev)
    return fail(expected, `the stored head (${head.seq}) is not the last event (${expected - 1})`);
  return { ok: true, events: expected - 1, subjects: subjectHeads.size, erased, head };
}
