import { expect } from 'chai';
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { toHex } from '../../verifier/src/bytes';
import { hashEvent, type LedgerEvent } from '../../verifier/src/event';
import {
  checkCheckpoint,
  initialWitnessState,
  witnessStatement,
  type CheckpointStatement,
  type WitnessRefusalCode,
  type WitnessState,
  type WitnessVerdict,
} from '../../verifier/src/witness';
import * as verifier from '../../verifier/src';
import {
  ALICE,
  BOB,
  GATE,
  ISSUER,
  buildEvents,
  buildLog,
  logSpecs,
  mapOf,
  rootOf,
  timeOf,
  type EventSpec,
} from '../support/proof-log';

/** The checkpoint an issuer anchors for the first `size` events of `log`, with its honest map root. */
const checkpointOf = (log: readonly LedgerEvent[], size: number): CheckpointStatement => ({
  issuer: ISSUER,
  treeSize: size,
  root: rootOf(log, size),
  mapRoot: toHex(mapOf(log, size).root()),
});

/** A witness that has cosigned the first `size` events of `log`. */
function witnessAt(log: readonly LedgerEvent[], size: number): WitnessState {
  const v = checkCheckpoint(initialWitnessState(ISSUER), checkpointOf(log, size), log.slice(0, size));
  if (!v.cosign) throw new Error(`setup: ${v.code} ${v.message}`);
  return v.state;
}

function expectRefusal(v: WitnessVerdict, code: WitnessRefusalCode, seq?: number, message?: string): void {
  expect(v.cosign, JSON.stringify(v)).to.equal(false);
  if (v.cosign) return;
  expect(v.code, v.message).to.equal(code);
  expect(v.seq).to.equal(seq);
  if (message) expect(v.message).to.include(message);
}

/** The log with one event's body changed and its hash recomputed, so only the checks after the hash see it. */
function rehashed(log: LedgerEvent[], seq: number, change: (e: LedgerEvent) => void): LedgerEvent[] {
  const copy = structuredClone(log);
  const e = copy[seq - 1];
  change(e);
  e.hash = hashEvent(e, e.salt);
  return copy;
}

describe('the witness’s check (verifier/src/witness.ts)', () => {
  const log = buildLog(60);

  it('is exported from the package index', () => {
    expect(verifier.checkCheckpoint).to.equal(checkCheckpoint);
  });

  describe('when the issuer extends its log honestly', () => {
    it('cosigns (size, root, mapRoot) from the first event, and again for each later checkpoint', () => {
      let state = initialWitnessState(ISSUER);
      for (const size of [1, 17, 40, 40, 60]) {
        const cp = checkpointOf(log, size);
        const v = checkCheckpoint(state, cp, log.slice(state.treeSize, size));
        expect(v.cosign, JSON.stringify(v)).to.equal(true);
        if (!v.cosign) return;
        expect(v.statement).to.deep.equal(cp);
        expect(witnessStatement(v.state)).to.deep.equal(cp);
        state = v.state;
      }
      expect(state.map.get(ALICE)).to.deep.equal({ count: 30, head: log[58].hash });
      expect(state.lastHash).to.equal(log[59].hash);
    });

    it('leaves the state it was given unchanged, whatever the verdict', () => {
      const state = witnessAt(log, 20);
      const before = witnessStatement(state);
      expect(checkCheckpoint(state, checkpointOf(log, 40), log.slice(20, 40)).cosign).to.equal(true);
      const wrong = { ...checkpointOf(log, 40), mapRoot: '00'.repeat(32) };
      expect(checkCheckpoint(state, wrong, log.slice(20, 40)).cosign).to.equal(false);
      expect(witnessStatement(state)).to.deep.equal(before);
      expect(state.map.get(ALICE).count).to.equal(10);
    });
  });

  describe('the attack of issue 14', () => {
    // After 40 honest events (cosigned), the operator appends ordinary-looking events and
    // anchors a valid checkpoint of 45 with the anchorer key; the witness fetches 41–45.
    const attack = (forged: EventSpec) => {
      const specs = logSpecs(45);
      specs[42] = forged; // seq 43
      const forgedLog = buildEvents(specs);
      return {
        forgedLog,
        verdict: checkCheckpoint(witnessAt(forgedLog, 40), checkpointOf(forgedLog, 45), forgedLog.slice(40, 45)),
      };
    };

    it('refuses an event linking a resident back to an early event: FORKED_SUBJECT at its seq', () => {
      const { forgedLog, verdict } = attack({ subjects: [ALICE, GATE], type: 'scan.recorded', links: { [ALICE]: 5 } });
      expectRefusal(
        verdict,
        'FORKED_SUBJECT',
        43,
        `event seq 43 links ${ALICE} to ${forgedLog[4].hash}, not to its head ${forgedLog[40].hash} (event 21 of ${ALICE}): a fork`,
      );
      expect(verdict.cosign || verdict.subject).to.equal(ALICE);
    });

    it("refuses a venue's second null link: FORKED_SUBJECT at its seq", () => {
      const { verdict } = attack({ subjects: [ALICE, GATE], type: 'scan.recorded', links: { [GATE]: null } });
      expectRefusal(
        verdict,
        'FORKED_SUBJECT',
        43,
        `event seq 43 gives ${GATE} a null link (a first event), but ${GATE} already has 18 events`,
      );
      expect(verdict.cosign || verdict.subject).to.equal(GATE);
    });

    it('refuses a link to an event of another subject, and a first event that claims a predecessor', () => {
      expectRefusal(
        attack({ subjects: [ALICE], type: 'scan.recorded', links: { [ALICE]: 42 } }).verdict,
        'FORKED_SUBJECT',
        43,
      );
      expectRefusal(
        attack({ subjects: [ALICE, 'v:new-venue'], type: 'scan.recorded', links: { 'v:new-venue': 41 } }).verdict,
        'FORKED_SUBJECT',
        43,
        'but v:new-venue has no event before it',
      );
    });

    it('catches the fork in the batch it is in, even when later events build on it', () => {
      const specs = logSpecs(60);
      specs[44] = { subjects: [BOB], type: 'scan.recorded', links: { [BOB]: 2 } };
      const forgedLog = buildEvents(specs);
      expectRefusal(
        checkCheckpoint(witnessAt(forgedLog, 40), checkpointOf(forgedLog, 60), forgedLog.slice(40, 60)),
        'FORKED_SUBJECT',
        45,
      );
    });
  });

  describe('when the checkpoint or the events are not what the log says', () => {
    const state = witnessAt(log, 40);
    const batch = () => structuredClone(log.slice(40, 50));
    const cp = checkpointOf(log, 50);

    it('refuses a root that is not the extended log’s: ROOT_MISMATCH', () => {
      expectRefusal(
        checkCheckpoint(state, { ...cp, root: rootOf(log, 49) }, batch()),
        'ROOT_MISMATCH',
        undefined,
        `not the checkpoint's ${rootOf(log, 49)}`,
      );
    });

    it('refuses a map root that is not the map after the events: MAP_MISMATCH', () => {
      const stale = toHex(mapOf(log, 49).root());
      expectRefusal(
        checkCheckpoint(state, { ...cp, mapRoot: stale }, batch()),
        'MAP_MISMATCH',
        undefined,
        `not the checkpoint's ${stale}`,
      );
    });

    it('refuses an altered event: EVENT_ALTERED at its seq', () => {
      const b = batch();
      b[3].data = { colour: 'green' };
      expectRefusal(checkCheckpoint(state, cp, b), 'EVENT_ALTERED', 44);
    });

    it('refuses an event that does not follow the one before: PREV_MISMATCH', () => {
      const b = rehashed(log, 46, (e) => (e.prev = log[43].hash)).slice(40, 50);
      expectRefusal(checkCheckpoint(state, cp, b), 'PREV_MISMATCH', 46);
    });

    it('refuses an event older than the one before: TIME_REVERSED', () => {
      const b = rehashed(log, 47, (e) => (e.at = timeOf(45))).slice(40, 50);
      expectRefusal(checkCheckpoint(state, cp, b), 'TIME_REVERSED', 47, `at ${timeOf(45)} is earlier than seq 46`);
    });

    it('refuses a subject without a link, and subjects out of order: MALFORMED at the seq', () => {
      const noLink = rehashed(log, 42, (e) => (e.links = {})).slice(40, 50);
      expectRefusal(checkCheckpoint(state, cp, noLink), 'MALFORMED', 42, 'one entry per subject');
      const unsorted = rehashed(log, 43, (e) => e.subjects.reverse()).slice(40, 50);
      expectRefusal(checkCheckpoint(state, cp, unsorted), 'MALFORMED', 43, 'sorted and unique');
    });

    it('refuses a batch with an event missing, one too many, or out of order: EVENTS_MISSING', () => {
      const missing = batch();
      missing.splice(4, 1);
      expectRefusal(checkCheckpoint(state, cp, missing), 'EVENTS_MISSING', 45);
      expectRefusal(
        checkCheckpoint(state, cp, log.slice(40, 51)),
        'EVENTS_MISSING',
        undefined,
        '(10 events), but 11 were given',
      );
      const swapped = batch();
      [swapped[0], swapped[1]] = [swapped[1], swapped[0]];
      expectRefusal(checkCheckpoint(state, cp, swapped), 'EVENTS_MISSING', 41);
    });

    it('refuses a checkpoint smaller than the last cosigned, or of another issuer', () => {
      expectRefusal(checkCheckpoint(state, checkpointOf(log, 39), []), 'SIZE_REGRESSED');
      expectRefusal(checkCheckpoint(state, { ...cp, issuer: '320000' }, batch()), 'WRONG_ISSUER');
    });

    it('refuses to cosign the same size again under another root', () => {
      expect(checkCheckpoint(state, checkpointOf(log, 40), []).cosign).to.equal(true);
      expectRefusal(checkCheckpoint(state, { ...checkpointOf(log, 40), root: rootOf(log, 39) }, []), 'ROOT_MISMATCH');
    });

    it('never throws, whatever it is given (fast-check)', () => {
      fc.assert(
        fc.property(fc.anything(), fc.anything(), (checkpoint, events) => {
          const v = checkCheckpoint(state, checkpoint as CheckpointStatement, events as LedgerEvent[]);
          expect(v.cosign).to.equal(false);
        }),
        { numRuns: 300 },
      );
      fc.assert(
        fc.property(
          fc.nat(9),
          fc.constantFrom('seq', 'type', 'at', 'subjects', 'links', 'prev', 'data', 'salt', 'hash'),
          fc.anything(),
          (i, member, junk) => {
            const b = batch() as unknown as Array<Record<string, unknown>>;
            fc.pre(!isDeepStrictEqual(b[i][member], junk));
            b[i][member] = junk;
            const v = checkCheckpoint(state, cp, b as unknown as LedgerEvent[]);
            expect(v.cosign, `${member} = ${fc.stringify(junk)}`).to.equal(false);
          },
        ),
        { numRuns: 500 },
      );
    });
  });
});
