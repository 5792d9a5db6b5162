import { expect } from 'chai';
import fc from 'fast-check';
import { fromHex, toHex } from '../../verifier/src/bytes';
import { hashEvent } from '../../verifier/src/event';
import {
  MAX_BUNDLE_EVENTS,
  parseProofBundle,
  verifyEventProofs,
  verifyHistory,
  type AnchoredCheckpoint,
  type ProofBundle,
  type ProofCode,
  type ProofResult,
} from '../../verifier/src/proof-bundle';
import * as verifier from '../../verifier/src';
import {
  ALICE,
  BOB,
  FAKE_META,
  buildLog,
  entryFor,
  eventBundle,
  historyBundle,
  rootOf,
  timeOf,
} from '../support/proof-log';
import { oneMemberJunk } from '../support/junk';

const SIZE = 40;
const log = buildLog(SIZE);
const meta = FAKE_META(SIZE);
const chain = (treeSize = SIZE): AnchoredCheckpoint => ({ treeSize, root: fromHex(rootOf(log, treeSize)) });
// Alice's events are the odd seqs; between the events at 10 and 20 minutes she has 11–19.
const RANGE = { from: timeOf(10), to: timeOf(20) };
const aliceHistory = (range = RANGE) => historyBundle(log, ALICE, range, meta);
const flipHex = (h: string) => h.slice(0, -1) + (h.endsWith('0') ? '1' : '0');
const seqs = (b: ProofBundle) => b.events.map((e) => e.event.seq);

const ALL_CODES: ProofCode[] = [
  'VALID',
  'MALFORMED',
  'CHECKPOINT_MISMATCH',
  'EVENT_ALTERED',
  'NOT_INCLUDED',
  'HISTORY_GAP',
  'HISTORY_ORDER',
  'OUT_OF_RANGE',
  'HEAD_NOT_PROVEN',
  'HEAD_MISMATCH',
];

function expectResult(r: ProofResult, code: ProofCode, message?: RegExp | string): void {
  expect(r.code, r.message).to.equal(code);
  expect(r.valid).to.equal(code === 'VALID');
  if (message instanceof RegExp) expect(r.message).to.match(message);
  else if (message !== undefined) expect(r.message).to.include(message);
}

describe('proof bundles', () => {
  describe('the synthetic log', () => {
    it('interleaves two residents with per-subject hash links', () => {
      const b = aliceHistory();
      expect(seqs(b)).to.deep.equal([11, 13, 15, 17, 19]);
      expect(b.previous!.event.seq).to.equal(9);
      expect(b.next!.event.seq).to.equal(21);
      expect(historyBundle(log, BOB, RANGE, meta).events.map((e) => e.event.seq)).to.deep.equal([12, 14, 16, 18]);
    });

    it('is exported from the package index', () => {
      expect(verifier.verifyHistory).to.equal(verifyHistory);
      expect(verifier.PROOF_BUNDLE_FORMAT).to.equal('ankang-proof-bundle/2');
      expect(verifier.PROOF_BUNDLE_FORMAT_1).to.equal('ankang-proof-bundle/1');
    });
  });

  describe('verifyEventProofs', () => {
    describe('when every event is in the anchored tree', () => {
      it('returns VALID and counts the events', () => {
        const r = verifyEventProofs(eventBundle(log, [1, 17, 40], meta), chain());
        expectResult(r, 'VALID', '3 events of issuer 340000 are included in checkpoint 1 (size 40)');
        expect(r.checked).to.equal(3);
      });

      it('proves an event against an earlier, smaller checkpoint', () => {
        const small = { ...meta, index: 0, treeSize: 25 };
        expectResult(
          verifyEventProofs(eventBundle(log, [25], small), chain(25)),
          'VALID',
          '1 event of issuer 340000 is included',
        );
      });

      it('also checks the events of a history bundle, previous and next included', () => {
        expectResult(verifyEventProofs(aliceHistory(), chain()), 'VALID');
        const b = aliceHistory();
        b.next!.proof[0] = flipHex(b.next!.proof[0]);
        expectResult(verifyEventProofs(b, chain()), 'NOT_INCLUDED', 'seq 21');
      });
    });

    describe('when the chain says another size or root than the bundle', () => {
      it('returns CHECKPOINT_MISMATCH for another size', () => {
        expectResult(
          verifyEventProofs(eventBundle(log, [1], meta), { ...chain(), treeSize: 41 }),
          'CHECKPOINT_MISMATCH',
          'the chain says 41',
        );
      });

      it('returns CHECKPOINT_MISMATCH for another root, before looking at any event', () => {
        const b = eventBundle(log, [1], meta);
        b.events[0].event.data = { altered: true };
        const r = verifyEventProofs(b, { treeSize: SIZE, root: fromHex(rootOf(log, 39)) });
        expectResult(r, 'CHECKPOINT_MISMATCH', 'not the root on chain');
        expect(r.checked).to.equal(0);
      });

      it('returns CHECKPOINT_MISMATCH when only the bundle was rewritten to another tree', () => {
        const b = eventBundle(log, [1], meta);
        b.checkpoint.root = rootOf(log, 39);
        expectResult(verifyEventProofs(b, chain()), 'CHECKPOINT_MISMATCH');
      });
    });

    describe('when an event was altered', () => {
      it('returns EVENT_ALTERED naming its seq', () => {
        const b = eventBundle(log, [3, 17], meta);
        b.events[1].event.data = { ...b.events[1].event.data, colour: 'green', n: 999 };
        expectResult(verifyEventProofs(b, chain()), 'EVENT_ALTERED', 'event seq 17');
      });

      it('returns EVENT_ALTERED for a changed salt, time or link', () => {
        for (const change of [
          (b: ProofBundle) => (b.events[0].event.salt = flipHex(b.events[0].event.salt)),
          (b: ProofBundle) => (b.events[0].event.at = timeOf(6)),
          (b: ProofBundle) => (b.events[0].event.links[ALICE] = null),
        ]) {
          const b = eventBundle(log, [5], meta);
          change(b);
          expectResult(verifyEventProofs(b, chain()), 'EVENT_ALTERED', 'seq 5');
        }
      });

      it('returns NOT_INCLUDED when its hash was recomputed to match the altered body', () => {
        const b = eventBundle(log, [17], meta);
        const e = b.events[0].event;
        e.data = { n: 999 };
        e.hash = hashEvent(e, e.salt);
        expectResult(verifyEventProofs(b, chain()), 'NOT_INCLUDED', 'event seq 17');
      });
    });

    describe('when an inclusion proof is wrong', () => {
      it('returns NOT_INCLUDED for a flipped proof hash and counts the events checked before it', () => {
        const b = eventBundle(log, [1, 2, 3], meta);
        b.events[2].proof[3] = flipHex(b.events[2].proof[3]);
        const r = verifyEventProofs(b, chain());
        expectResult(
          r,
          'NOT_INCLUDED',
          'event seq 3: the inclusion proof does not lead to the anchored root of size 40',
        );
        expect(r.checked).to.equal(2);
      });

      it('returns NOT_INCLUDED for a proof with a hash missing or one too many', () => {
        for (const change of [(p: string[]) => p.pop(), (p: string[]) => p.push('00'.repeat(32))]) {
          const b = eventBundle(log, [9], meta);
          change(b.events[0].proof);
          expectResult(verifyEventProofs(b, chain()), 'NOT_INCLUDED', 'seq 9');
        }
      });

      it('returns NOT_INCLUDED when leafIndex is off by one, either way', () => {
        for (const delta of [1, -1]) {
          const b = eventBundle(log, [9], meta);
          b.events[0].leafIndex += delta;
          expectResult(verifyEventProofs(b, chain()), 'NOT_INCLUDED', `leafIndex is ${8 + delta}, but seq 9 is leaf 8`);
        }
      });

      it('returns NOT_INCLUDED for an event beyond the anchored size', () => {
        const b = eventBundle(log, [25], { ...meta, treeSize: 30 });
        b.events[0] = entryFor(log, 35, SIZE);
        expectResult(verifyEventProofs(b, chain(30)), 'NOT_INCLUDED', "leaf 34 is beyond the checkpoint's 30 leaves");
      });

      it('returns NOT_INCLUDED for another event’s proof', () => {
        const b = eventBundle(log, [9], meta);
        b.events[0].proof = entryFor(log, 10, SIZE).proof;
        expectResult(verifyEventProofs(b, chain()), 'NOT_INCLUDED', 'seq 9');
      });
    });
  });

  describe('verifyHistory', () => {
    describe('when the bundle is the complete history', () => {
      it('returns VALID, checks every event and says the history has no gaps', () => {
        const r = verifyHistory(aliceHistory(), chain());
        expectResult(
          r,
          'VALID',
          `5 events of ${ALICE} from ${RANGE.from} to ${RANGE.to} are included in checkpoint 1 (size 40) and the history has no gaps`,
        );
        expect(r.checked).to.equal(5);
      });

      it('returns VALID from the subject’s first event, with no previous event', () => {
        const b = aliceHistory({ from: timeOf(1, -1), to: timeOf(6) });
        expect(b.previous).to.equal(null);
        expectResult(verifyHistory(b, chain()), 'VALID', 'no gaps');
      });

      it('returns VALID for a range without events when previous links straight to next', () => {
        const b = aliceHistory({ from: timeOf(11, 10), to: timeOf(11, 50) });
        expect(b.events).to.deep.equal([]);
        expectResult(verifyHistory(b, chain()), 'VALID', '0 events');
      });

      it("returns VALID and names the seal when `next` is the issuer's seal of the subject", () => {
        // Seq 37 is one of Alice's events; here it is the seal an auditor asked for.
        const sealedLog = buildLog(SIZE, { 37: 'audit.sealed' });
        const b = historyBundle(sealedLog, ALICE, { from: timeOf(30), to: timeOf(36) }, meta);
        expect(b.next?.event).to.include({ seq: 37, type: 'audit.sealed' });
        const r = verifyHistory(b, { treeSize: SIZE, root: fromHex(rootOf(sealedLog, SIZE)) });
        expectResult(r, 'VALID', `and the history has no gaps; no event of ${ALICE} follows until its seal at seq 37`);
      });

      it('returns VALID but says the end is open when there is no next event', () => {
        const b = aliceHistory({ from: timeOf(30), to: timeOf(60) });
        expect(b.next).to.equal(null);
        expectResult(verifyHistory(b, chain()), 'VALID', /no gaps up to seq 39; no later event is named/);
      });
    });

    describe('when an event was removed', () => {
      for (const [position, gap] of [
        [0, 'event seq 13 does not link to seq 9'],
        [2, 'event seq 17 does not link to seq 13'],
        [4, 'next event seq 21 does not link to seq 17'],
      ] as const) {
        it(`returns HISTORY_GAP when event ${position + 1} of 5 is missing`, () => {
          const b = aliceHistory();
          b.events.splice(position, 1);
          expectResult(verifyHistory(b, chain()), 'HISTORY_GAP', gap);
        });
      }

      it('returns HISTORY_GAP for a range claimed empty that hides an event', () => {
        const b = aliceHistory({ from: timeOf(12), to: timeOf(14) });
        b.events = [];
        expectResult(verifyHistory(b, chain()), 'HISTORY_GAP', 'next event seq 15 does not link to seq 11');
      });
    });

    describe('when two events are swapped', () => {
      it('returns HISTORY_ORDER naming them', () => {
        const b = aliceHistory();
        [b.events[1], b.events[2]] = [b.events[2], b.events[1]];
        expectResult(verifyHistory(b, chain()), 'HISTORY_ORDER', 'event seq 13 comes after seq 15');
      });

      it('returns HISTORY_ORDER for an event listed twice', () => {
        const b = aliceHistory();
        b.events.splice(1, 0, b.events[1]);
        expectResult(verifyHistory(b, chain()), 'HISTORY_ORDER', 'seq 13');
      });
    });

    describe('when an event does not belong', () => {
      it('returns OUT_OF_RANGE for an event of another subject slipped in', () => {
        const b = aliceHistory();
        b.events.splice(2, 0, entryFor(log, 14, SIZE));
        expectResult(verifyHistory(b, chain()), 'OUT_OF_RANGE', `event seq 14 is not about ${ALICE}`);
      });

      it('returns OUT_OF_RANGE for an event outside the range', () => {
        const b = aliceHistory();
        b.range = { ...RANGE, to: timeOf(18) };
        expectResult(verifyHistory(b, chain()), 'OUT_OF_RANGE', `event seq 19 at ${timeOf(19)} is outside`);
      });

      it('returns OUT_OF_RANGE for a rules event (no resident at all)', () => {
        const b = aliceHistory();
        b.events.push(entryFor(log, 20, SIZE));
        expectResult(verifyHistory(b, chain()), 'OUT_OF_RANGE', 'event seq 20 is not about');
      });
    });

    describe('when the boundaries were tampered with', () => {
      it('returns HISTORY_GAP when previous is an earlier event than the last before the range', () => {
        const b = aliceHistory();
        b.previous = entryFor(log, 7, SIZE);
        expectResult(verifyHistory(b, chain()), 'HISTORY_GAP', 'event seq 11 does not link to seq 7');
      });

      it('returns HISTORY_GAP when previous is dropped', () => {
        const b = aliceHistory();
        b.previous = null;
        expectResult(verifyHistory(b, chain()), 'HISTORY_GAP', 'event seq 11 links to an earlier event');
      });

      it('returns HISTORY_GAP when next is a later event than the first after the range', () => {
        const b = aliceHistory();
        b.next = entryFor(log, 23, SIZE);
        expectResult(verifyHistory(b, chain()), 'HISTORY_GAP', 'next event seq 23 does not link to seq 19');
      });

      it('returns OUT_OF_RANGE when previous is not before the range', () => {
        const b = aliceHistory();
        b.range = { ...RANGE, from: timeOf(9) };
        expectResult(verifyHistory(b, chain()), 'OUT_OF_RANGE', 'previous event seq 9');
      });

      it('returns OUT_OF_RANGE when next is inside the range (its event was left out)', () => {
        const b = aliceHistory();
        b.range = { ...RANGE, to: timeOf(21) };
        expectResult(verifyHistory(b, chain()), 'OUT_OF_RANGE', 'next event seq 21');
      });

      it('returns OUT_OF_RANGE when previous is about another subject', () => {
        const b = aliceHistory();
        b.previous = entryFor(log, 8, SIZE);
        expectResult(verifyHistory(b, chain()), 'OUT_OF_RANGE', 'event seq 8 is not about');
      });

      it('returns EVENT_ALTERED when previous was altered to link elsewhere', () => {
        const b = aliceHistory();
        b.previous!.event.seq = 10;
        expectResult(verifyHistory(b, chain()), 'EVENT_ALTERED', 'seq 10');
      });
    });

    describe('check order', () => {
      it('reports an altered event before a gap or an order problem', () => {
        const b = aliceHistory();
        b.events.splice(0, 1);
        [b.events[0], b.events[1]] = [b.events[1], b.events[0]];
        b.events[3].event.type = 'forged';
        expectResult(verifyHistory(b, chain()), 'EVENT_ALTERED', 'seq 19');
      });

      it('reports a foreign subject before an order problem', () => {
        const b = aliceHistory();
        b.events.push(entryFor(log, 2, SIZE));
        expectResult(verifyHistory(b, chain()), 'OUT_OF_RANGE', 'seq 2');
      });
    });

    it('returns MALFORMED for an event bundle', () => {
      expectResult(verifyHistory(eventBundle(log, [1], meta), chain()), 'MALFORMED', 'kind must be "history"');
    });
  });

  describe('malformed input', () => {
    const malformedCases: Array<[string, (b: Record<string, any>) => void, string]> = [
      ['a wrong format', (b) => (b.format = 'ankang-proof-bundle/3'), 'format'],
      ['an unknown kind', (b) => (b.kind = 'events'), 'kind'],
      ['an issuer that is not a region code', (b) => (b.issuer = 340000), 'issuer'],
      ['a chain id of zero', (b) => (b.chain.chainId = 0), 'chainId'],
      ['a short contract address', (b) => (b.chain.contract = '0x1234'), 'contract'],
      ['an upper-case root', (b) => (b.checkpoint.root = b.checkpoint.root.toUpperCase()), 'root'],
      ['a fractional tree size', (b) => (b.checkpoint.treeSize = 40.5), 'treeSize'],
      ['a txHash without 0x', (b) => (b.checkpoint.txHash = 'ab'.repeat(32)), 'txHash'],
      ['events that are not an array', (b) => (b.events = {}), 'events'],
      ['a member the hash does not cover', (b) => (b.events[0].event.note = 'trust me'), '"note"'],
      ['a negative leafIndex', (b) => (b.events[0].leafIndex = -1), 'leafIndex'],
      ['a proof of 65 hashes', (b) => (b.events[0].proof = Array(65).fill('00'.repeat(32))), 'more than 64'],
      ['a proof hash of 63 digits', (b) => (b.events[0].proof[0] = '0'.repeat(63)), 'proof hash'],
      ['a 15-byte salt', (b) => (b.events[0].event.salt = '00'.repeat(15)), 'salt'],
      ['a time without offset', (b) => (b.events[0].event.at = '2026-11-28T00:00:00'), 'at'],
      ['a non-finite number in data', (b) => (b.events[0].event.data = { x: Infinity }), 'data'],
      ['a function in data', (b) => (b.events[0].event.data = { x: () => 1 }), 'data'],
      [
        'data nested 40 deep',
        (b) => (b.events[0].event.data = { x: JSON.parse('['.repeat(40) + ']'.repeat(40)) }),
        'nested',
      ],
      ['a link that is not a hash', (b) => (b.events[0].event.links[ALICE] = 'abc'), 'links'],
      [
        'more than 100,000 events',
        (b) => (b.events = Array(MAX_BUNDLE_EVENTS + 1).fill(b.events[0])),
        'more than 100000',
      ],
      ['no events in an event bundle', (b) => (b.events = []), 'at least one event'],
      ['a subject in an event bundle', (b) => (b.subject = ALICE), 'only in a history bundle'],
    ];
    for (const [what, change, mention] of malformedCases) {
      it(`returns MALFORMED for ${what}`, () => {
        const b = structuredClone(eventBundle(log, [1], meta)) as unknown as Record<string, any>;
        change(b);
        expectResult(verifyEventProofs(b, chain()), 'MALFORMED', mention);
      });
    }

    const historyCases: Array<[string, (b: Record<string, any>) => void, string]> = [
      ['a subject without r: or v:', (b) => (b.subject = 'alice'), 'subject'],
      [
        'a range that ends before it starts',
        (b) => (b.range = { from: RANGE.to, to: RANGE.from }),
        'range.from is after',
      ],
      ['no next member at all', (b) => delete b.next, 'next is required'],
      ['a previous that is not an entry', (b) => (b.previous = 'seq 9'), 'previous'],
    ];
    for (const [what, change, mention] of historyCases) {
      it(`returns MALFORMED for a history with ${what}`, () => {
        const b = aliceHistory() as unknown as Record<string, any>;
        change(b);
        expectResult(verifyHistory(b, chain()), 'MALFORMED', mention);
      });
    }

    it('returns MALFORMED for a bad anchored checkpoint rather than throwing', () => {
      const b = eventBundle(log, [1], meta);
      for (const anchored of [
        undefined,
        null,
        { treeSize: 0, root: new Uint8Array(32) },
        { treeSize: SIZE, root: new Uint8Array(31) },
      ]) {
        expectResult(verifyEventProofs(b, anchored as unknown as AnchoredCheckpoint), 'MALFORMED');
        expectResult(verifyHistory(aliceHistory(), anchored as unknown as AnchoredCheckpoint), 'MALFORMED');
      }
    });

    it('parseProofBundle throws a ProofError with code MALFORMED', () => {
      expect(() => parseProofBundle({}))
        .to.throw(verifier.ProofError)
        .with.property('code', 'MALFORMED');
    });

    it('never throws and returns MALFORMED for any value that is not a bundle (fast-check)', () => {
      fc.assert(
        fc.property(
          fc.anything({
            withBigInt: true,
            withDate: true,
            withMap: true,
            withTypedArray: true,
            withNullPrototype: true,
          }),
          (value) => {
            for (const verify of [verifyEventProofs, verifyHistory]) {
              const r = verify(value, chain());
              expect(r.code).to.equal('MALFORMED');
              expect(r.valid).to.equal(false);
            }
          },
        ),
        { numRuns: 500 },
      );
    });

    it('never throws when any member of a valid history is replaced by junk (fast-check)', () => {
      const base = aliceHistory();
      fc.assert(
        fc.property(oneMemberJunk(base), (b) => {
          for (const verify of [verifyEventProofs, verifyHistory]) {
            const r = verify(b, chain());
            expect(ALL_CODES).to.include(r.code);
            expect(r.message).to.be.a('string').and.not.equal('');
          }
        }),
        { numRuns: 1000 },
      );
    });
  });

  it('uses SHA-256(0x00 ‖ event hash) as the leaf (FORMAT.md §10)', () => {
    const e = log[4];
    const leaf = verifier.eventLeafHash(e);
    const manual = verifier.hashLeaf(fromHex(e.hash));
    expect(toHex(leaf)).to.equal(toHex(manual));
    expect(leaf.length).to.equal(32);
  });
});
