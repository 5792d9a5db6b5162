import { GENESIS_HASH, hashEvent } from '../../verifier/src/event';
import type { Ledger } from './ledger';

export interface ChainReport {
  ok: boolean;
  events: number;
  subjects: number;
  head: { seq: number; hash: string };
  /** The first broken link, when there is one. */
  broken?: { seq: number; reason: string };
}

/**
 * Re-walks the whole log: sequence numbers without gaps, each event's hash recomputed,
 * each `prev` equal to the previous event's hash, each subject link equal to that
 * subject's previous event, and the stored head equal to the last event.
 */
export async function verifyChain(ledger: Ledger): Promise<ChainReport> {
  let prev = GENESIS_HASH;
  let expected = 1;
  const subjectHeads = new Map<string, string>();
  const fail = (seq: number, reason: string): ChainReport => ({
    ok: false,
    events: expected - 1,
    subjects: subjectHeads.size,
    head: { seq: expected - 1, hash: prev },
    broken: { seq, reason },
  });
  for await (const e of ledger.events()) {
    if (e.seq !== expected) return fail(expected, `event ${expected} is missing (next is ${e.seq})`);
    if (hashEvent(e, e.salt) !== e.hash) return fail(e.seq, 'the event does not match its hash');
    if (e.prev !== prev) return fail(e.seq, 'prev does not equal the previous event hash');
    for (const s of e.subjects) {
      const want = subjectHeads.get(s) ?? null;
      if (e.links[s] !== want) return fail(e.seq, `the link for subject ${s} skips or repeats an event`);
      subjectHeads.set(s, e.hash);
    }
    if (Object.keys(e.links).length !== e.subjects.length) return fail(e.seq, 'links and subjects disagree');
    prev = e.hash;
    expected++;
  }
  const head = ledger.getHead();
  if (head.seq !== expected - 1 || head.hash !== prev) return fail(expected, `the stored head (${head.seq}) is not the last event (${expected - 1})`);
  return { ok: true, events: expected - 1, subjects: subjectHeads.size, head };
}
