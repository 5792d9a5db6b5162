import { expect } from 'chai';
import fc from 'fast-check';
import { fromHex, toHex } from '../../verifier/src/bytes';
import type { LedgerEvent } from '../../verifier/src/event';
import {
  verifyEventProofs,
  verifyHistory,
  type AnchoredCheckpoint,
  type ProofBundle,
  type ProofCode,
  type ProofResult,
} from '../../verifier/src/proof-bundle';
import {
  ALICE,
  BOB,
  FAKE_META,
  GATE,
  buildEvents,
  buildLog,
  eventBundle,
  historyBundle,
  logSpecs,
  mapOf,
  rootOf,
  timeOf,
} from '../support/proof-log';
import { oneMemberJunk } from '../support/junk';

/**
 * History bundles of format 2 (FORMAT.md §13.4–11.5): the subject's head in the checkpoint's
 * subject map, what it lets a verifier refuse on its own, and when a valid history is complete.
 */

const SIZE = 40;
const log = buildLog(SIZE);
const meta = FAKE_META(SIZE);
const ALL = { from: timeOf(1, -60), to: timeOf(SIZE, 60) };
const RANGE = { from: timeOf(10), to: timeOf(20) };
const flipHex = (h: string) => h.slice(0, -1) + (h.endsWith('0') ? '1' : '0');

/** The checkpoint as a chain would report it: size and root, and, when given, map root and cosigning. */
function chain(l: readonly LedgerEvent[] = log, extra: Partial<AnchoredCheckpoint> = {}): AnchoredCheckpoint {
  return { treeSize: SIZE, root: fromHex(rootOf(l, SIZE)), ...extra };
}
const cosigned = (l: readonly LedgerEvent[] = log) => chain(l, { cosigned: true });
const history = (subject = ALICE, range = ALL, l: readonly LedgerEvent[] = log, m = meta) =>
  historyBundle(l, subject, range, m, 2);

function expectResult(r: ProofResult, code: ProofCode, message?: RegExp | string): void {
  expect(r.code, r.message).to.equal(code);
  expect(r.valid).to.equal(code === 'VALID');
  if (message instanceof RegExp) expect(r.message).to.match(message);
  else if (message !== undefined) expect(r.message).to.include(message);
}

describe('history completeness with the subject heads map (format 2)', () => {
  describe('when the bundle is Alice’s whole history and the checkpoint is cosigned', () => {
    it('returns VALID, complete, and says her last event is the last the map counts', () => {
      const b = history();
      expect(b.format).to.equal('ankang-proof-bundle/2');
      expect(b.subjectHead).to.include({ count: 20, head: log[38].hash });
      const r = verifyHistory(b, cosigned());
      expectResult(
        r,
        'VALID',
        `no gaps up to seq 39, the last of the 20 events of ${ALICE} in the checkpoint's subject map`,
      );
      expect(r.complete).to.equal(true);
      expect(r.completeness).to.deep.include({ code: 'COMPLETE' });
      expect(r.completeness!.reason).to.equal(
        `every event of ${ALICE} from ${ALL.from} to ${ALL.to} among its first 40 is in the bundle: witnesses cosigned checkpoint 1 (size 40) with the map root the bundle names`,
      );
    });

    it('says the map root came from the chain when the chain gave one', () => {
      const r = verifyHistory(history(), chain(log, { cosigned: true, mapRoot: mapOf(log, SIZE).root() }));
      expect(r.complete).to.equal(true);
      expect(r.completeness!.reason).to.include('with its map root as read from the chain');
    });

    it('is complete for a range in the middle, closed by `next`', () => {
      const b = history(ALICE, RANGE);
      expect(b.previous!.event.seq).to.equal(9);
      expect(b.next!.event.seq).to.equal(21);
      const r = verifyHistory(b, cosigned());
      expectResult(r, 'VALID', 'and the history has no gaps');
      expect(r.complete).to.equal(true);
      expect(r.completeness!.reason).to.include('is in the bundle (seq 21 closes the range)');
    });

    it('is complete for a subject with no event at all: the map proves its absence', () => {
      const b = history('r:Q2Fyb2wtbmV2ZXItc2Vlbg');
      expect(b.subjectHead).to.include({ count: 0, head: null });
      expect([b.previous, b.next, b.events.length]).to.deep.equal([null, null, 0]);
      const r = verifyHistory(b, cosigned());
      expectResult(r, 'VALID', "the checkpoint's subject map holds no event of r:Q2Fyb2wtbmV2ZXItc2Vlbg");
      expect(r.complete).to.equal(true);
    });
  });

  describe('when the checkpoint is not known to be cosigned', () => {
    it('returns VALID but not complete, and says why', () => {
      for (const anchored of [
        chain(),
        chain(log, { cosigned: false }),
        chain(log, { mapRoot: mapOf(log, SIZE).root() }),
      ]) {
        const r = verifyHistory(history(), anchored);
        expectResult(r, 'VALID');
        expect(r.complete).to.equal(false);
        expect(r.completeness!.code).to.equal('NOT_COSIGNED');
        expect(r.completeness!.reason).to.include('is not known to be cosigned by witnesses');
      }
    });
  });

  describe('when the bundle is of format 1', () => {
    it('returns VALID with completeness unknown, cosigned or not', () => {
      const r = verifyHistory(historyBundle(log, ALICE, ALL, meta, 1), cosigned());
      expectResult(r, 'VALID', 'no later event is named');
      expect(r.complete).to.equal(false);
      expect(r.completeness!.code).to.equal('FORMAT_1');
    });
  });

  describe('when the chain holds another map root', () => {
    it('returns CHECKPOINT_MISMATCH before looking at any event', () => {
      const r = verifyHistory(history(), chain(log, { cosigned: true, mapRoot: mapOf(log, SIZE - 1).root() }));
      expectResult(r, 'CHECKPOINT_MISMATCH', "the bundle's map root of checkpoint 1 is not the map root on chain");
      expect(r.checked).to.equal(0);
      expect(r.complete).to.equal(false);
    });
  });

  describe('when events are left out at the open end', () => {
    it('returns HEAD_MISMATCH when the last event was dropped (format 1 cannot tell)', () => {
      const b = history();
      b.events.pop();
      expectResult(verifyHistory(b, cosigned()), 'HEAD_MISMATCH', 'seq 37 is not the last event of');
      const old = historyBundle(log, ALICE, ALL, meta, 1);
      old.events.pop();
      expectResult(verifyHistory(old, cosigned()), 'VALID', 'no gaps up to seq 37; no later event is named');
    });

    it('returns HEAD_MISMATCH when every event was dropped from a subject the map counts', () => {
      const b = history(ALICE, { from: timeOf(2), to: timeOf(2, 30) });
      expect(b.previous!.event.seq).to.equal(1);
      b.previous = null;
      b.next = null;
      expectResult(verifyHistory(b, cosigned()), 'HEAD_MISMATCH', 'the subject map counts 20 events of');
    });

    it('returns HEAD_MISMATCH when the map root is an earlier size’s, whose head is older', () => {
      const b = history();
      const early = mapOf(log, 20);
      b.checkpoint.mapRoot = toHex(early.root());
      b.subjectHead = { ...early.get(ALICE), proof: early.prove(ALICE) };
      expectResult(verifyHistory(b, cosigned()), 'HEAD_MISMATCH', 'the subject map counts 10 events of');
    });
  });

  describe('when the subject head does not prove', () => {
    for (const [what, change] of [
      ['a count one lower', (b: ProofBundle) => (b.subjectHead!.count -= 1)],
      ['an earlier head', (b: ProofBundle) => (b.subjectHead!.head = log[36].hash)],
      [
        'a flipped sibling',
        (b: ProofBundle) => (b.subjectHead!.proof.siblings[0] = flipHex(b.subjectHead!.proof.siblings[0])),
      ],
      ['another subject’s proof', (b: ProofBundle) => (b.subjectHead!.proof = mapOf(log, SIZE).prove(BOB))],
      [
        'a claim of absence',
        (b: ProofBundle) => (b.subjectHead = { count: 0, head: null, proof: b.subjectHead!.proof }),
      ],
    ] as const) {
      it(`returns HEAD_NOT_PROVEN for ${what}`, () => {
        const b = history();
        change(b);
        expectResult(verifyHistory(b, cosigned()), 'HEAD_NOT_PROVEN', `the head of ${ALICE}`);
      });
    }
  });

  describe('the attack of issue 14: the operator forks a chain with only the anchorer key', () => {
    // Seq 41 is one more event of Alice's that links back to her event at seq 5, as if
    // seqs 7–39 had never happened; the operator then anchors seq 41 with a valid checkpoint.
    const forked = buildEvents([
      ...logSpecs(SIZE),
      { subjects: [ALICE], type: 'scan.recorded', links: { [ALICE]: 5 } },
    ]);
    const forkedMeta = FAKE_META(SIZE + 1);
    const forkedChain = (extra: Partial<AnchoredCheckpoint> = {}): AnchoredCheckpoint => ({
      treeSize: SIZE + 1,
      root: fromHex(rootOf(forked, SIZE + 1)),
      ...extra,
    });
    /** The bundle the operator hands over: Alice's first events, then the fork, the real scans left out. */
    const cut = (version: 1 | 2, from = ALL.from) => {
      const b = historyBundle(forked, ALICE, { from, to: timeOf(SIZE + 1, 60) }, forkedMeta, version);
      b.events = b.events.filter((e) => e.event.seq <= 5 || e.event.seq === 41);
      return b;
    };

    it('fooled format 1: the links run unbroken through the fork', () => {
      const r = verifyHistory(cut(1), forkedChain({ cosigned: true }));
      expectResult(r, 'VALID', 'no gaps up to seq 41');
    });

    it('is caught from the subject’s first event on: the map counts events the bundle lacks', () => {
      const r = verifyHistory(cut(2), forkedChain({ cosigned: true }));
      expectResult(
        r,
        'HEAD_MISMATCH',
        `the bundle holds 4 events of ${ALICE} from its first to its head, but the subject map counts 21`,
      );
    });

    it('passes a range after the first event, but never as complete unless cosigned: only a witness refuses the fork (witness.test.ts)', () => {
      const b = cut(2, timeOf(4));
      expect(b.previous!.event.seq).to.equal(3);
      const r = verifyHistory(b, forkedChain());
      expectResult(r, 'VALID');
      expect(r.complete).to.equal(false);
    });

    it("catches a venue's second null link the same way", () => {
      const venueForked = buildEvents([
        ...logSpecs(SIZE),
        { subjects: [BOB, GATE], type: 'scan.recorded', links: { [GATE]: null } },
      ]);
      const b = historyBundle(venueForked, GATE, { from: timeOf(SIZE, 30), to: timeOf(SIZE + 1, 60) }, forkedMeta, 2);
      b.previous = null;
      expect(b.events.map((e) => e.event.seq)).to.deep.equal([41]);
      expect(b.events[0].event.links[GATE]).to.equal(null);
      const anchored = { treeSize: SIZE + 1, root: fromHex(rootOf(venueForked, SIZE + 1)), cosigned: true };
      const old = structuredClone(b) as unknown as Record<string, unknown>;
      old.format = 'ankang-proof-bundle/1';
      expectResult(verifyHistory(old, anchored), 'VALID', 'no gaps up to seq 41');
      expectResult(
        verifyHistory(b, anchored),
        'HEAD_MISMATCH',
        `the bundle holds 1 event of ${GATE} from its first to its head, but the subject map counts 19`,
      );
    });
  });

  describe('malformed format 2 bundles', () => {
    const cases: Array<[string, (b: Record<string, any>) => void, string]> = [
      ['no map root', (b) => delete b.checkpoint.mapRoot, 'checkpoint.mapRoot'],
      [
        'an upper-case map root',
        (b) => (b.checkpoint.mapRoot = b.checkpoint.mapRoot.toUpperCase()),
        'checkpoint.mapRoot',
      ],
      ['no subject head', (b) => delete b.subjectHead, 'subjectHead must be an object'],
      ['a head with a count of 0', (b) => (b.subjectHead.count = 0), 'subjectHead.head'],
      ['a fractional count', (b) => (b.subjectHead.count = 1.5), 'subjectHead.count'],
      ['a bitmap of 63 digits', (b) => (b.subjectHead.proof.bitmap = b.subjectHead.proof.bitmap.slice(1)), 'bitmap'],
      ['257 siblings', (b) => (b.subjectHead.proof.siblings = Array(257).fill('11'.repeat(32))), 'siblings'],
      ['an other without a key', (b) => (b.subjectHead.proof.other = { count: 1, head: '11'.repeat(32) }), 'other'],
    ];
    for (const [what, change, mention] of cases) {
      it(`returns MALFORMED for ${what}`, () => {
        const b = history() as unknown as Record<string, any>;
        change(b);
        const r = verifyHistory(b, cosigned());
        expectResult(r, 'MALFORMED', mention);
        expect(r.completeness!.code).to.equal('NOT_VALID');
      });
    }

    it('returns MALFORMED for an event bundle carrying a subject head', () => {
      const b = eventBundle(log, [3], meta, 2) as ProofBundle;
      expectResult(verifyEventProofs(b, chain()), 'VALID');
      b.subjectHead = history().subjectHead;
      expectResult(verifyEventProofs(b, chain()), 'MALFORMED', 'subjectHead belongs only in a history bundle');
    });

    it('never throws when any member of a valid format 2 history is replaced by junk (fast-check)', () => {
      const base = history(ALICE, RANGE);
      fc.assert(
        fc.property(oneMemberJunk(base), (b) => {
          const r = verifyHistory(b, cosigned());
          expect(r.message).to.be.a('string').and.not.equal('');
          expect(r.complete).to.equal(r.valid && r.completeness!.code === 'COMPLETE');
        }),
        { numRuns: 1000 },
      );
    });
  });
});
