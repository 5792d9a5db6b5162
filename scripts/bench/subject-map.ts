/**
 * The subject heads map's cost (verifier/FORMAT.md §13; issue 14): what keeping it costs the
 * anchorer per appended event (anchor/subject-map-store.ts, in LevelDB), what a witness pays
 * per event it checks (verifier/src/witness.ts, in memory), and how big a subject's proof is.
 * Events are scans (a resident and a venue) with a tenth listing one system subject too,
 * over a map already holding `residents` + `venues` subjects; the map is committed once per
 * checkpoint of `checkpointEvents` events, and, for the worst case, after every event.
 * Runnable alone: npx tsx scripts/bench/subject-map.ts [residents] [events]
 */
import { hash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { SubjectMapStore, type MapDb } from '../../anchor/subject-map-store';
import { GENESIS_HASH, hashEvent, type LedgerEvent } from '../../verifier/src/event';
import { SubjectMap, verifySubjectProof } from '../../verifier/src/subject-map';
import { checkCheckpoint, initialWitnessState, witnessStatement } from '../../verifier/src/witness';
import { CompactRange, hashLeaf } from '../../verifier/src/merkle';
import { toHex } from '../../verifier/src/bytes';

export interface SubjectMapBench {
  subjects: number;
  events: number;
  checkpointEvents: number;
  /** Applying events and committing once per checkpoint, LevelDB writes included. */
  storeMicrosPerEvent: number;
  /** The same with a commit after every event: the worst case, one checkpoint per event. */
  storeMicrosPerEventCommitEach: number;
  /** Node bytes written per event, committing once per checkpoint. */
  storeBytesPerEvent: number;
  /** A witness's whole check per event (hash, links, log, map), in memory. */
  witnessMicrosPerEvent: number;
  /** Of which the map: heads, update and root. */
  witnessMapMicrosPerEvent: number;
  proofSiblings: number;
  proofJsonBytes: number;
  proofBinaryBytes: number;
  verifyProofMicros: number;
  /** One SHA-256 of a 65-byte node, measured here. */
  nanosPerHash: number;
  /** What the depth-256 tree of the original design would cost per subject updated and per proof checked: 256 hashes. */
  depth256MicrosPerSubject: number;
}

const subjectsOf = (i: number, residents: number, venues: number, rand: () => number) => {
  const s = [`r:resident-${Math.floor(rand() * residents)}`, `v:venue-${Math.floor(rand() * venues)}`];
  if (i % 10 === 0) s.push('anchor');
  return s.sort();
};

export async function benchSubjectMap(
  residents = 100_000,
  events = 50_000,
  checkpointEvents = 1000,
): Promise<SubjectMapBench> {
  const venues = Math.max(1, Math.floor(residents / 20));
  let x = 42;
  const rand = () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const hashes = Array.from({ length: 4096 }, () => randomBytes(32).toString('hex'));

  const dir = mkdtempSync(join(tmpdir(), 'ankang-bench-map-'));
  const db = new Level<string, unknown>(dir);
  await db.open();
  try {
    const sub = (name: string) => db.sublevel<string, Uint8Array>(name, { valueEncoding: 'view' }) as unknown as MapDb;
    // Every subject once, then steady state.
    const store = await SubjectMapStore.open(sub('steady'));
    let seq = 0;
    for (let r = 0; r < residents; r++)
      store.apply({ seq: ++seq, subjects: [`r:resident-${r}`], hash: hashes[seq % 4096] });
    for (let v = 0; v < venues; v++) store.apply({ seq: ++seq, subjects: [`v:venue-${v}`], hash: hashes[seq % 4096] });
    await store.commit();

    let bytes = 0;
    let t = performance.now();
    for (let i = 0; i < events; i++) {
      store.apply({ seq: ++seq, subjects: subjectsOf(i, residents, venues, rand), hash: hashes[seq % 4096] });
      if ((i + 1) % checkpointEvents === 0) {
        await store.commit();
        bytes += store.lastCommit.bytes;
      }
    }
    const storeMicrosPerEvent = ((performance.now() - t) * 1000) / events;

    const each = Math.min(5000, events);
    t = performance.now();
    for (let i = 0; i < each; i++) {
      store.apply({ seq: ++seq, subjects: subjectsOf(i, residents, venues, rand), hash: hashes[seq % 4096] });
      await store.commit();
    }
    const storeMicrosPerEventCommitEach = ((performance.now() - t) * 1000) / each;

    const proven = store.proof('r:resident-7', seq);
    const proofJson = JSON.stringify(proven.proof);
    const root = store.mapRootAt(seq)!;
    t = performance.now();
    for (let i = 0; i < 1000; i++) verifySubjectProof(root, 'r:resident-7', proven, proven.proof);
    const verifyProofMicros = ((performance.now() - t) / 1000) * 1000;

    const node = Buffer.alloc(65);
    t = performance.now();
    for (let i = 0; i < 200_000; i++) {
      node[1] = i & 255;
      hash('sha256', node, 'buffer');
    }
    const nanosPerHash = ((performance.now() - t) * 1e6) / 200_000;

    // The witness: the same population, then one checkpoint of real ledger events.
    const witnessEvents = Math.min(10_000, events);
    let map = SubjectMap.empty();
    const heads = new Map<string, { count: number; head: string }>();
    for (let r = 0; r < residents; r++) heads.set(`r:resident-${r}`, { count: 1, head: hashes[r % 4096] });
    for (let v = 0; v < venues; v++) heads.set(`v:venue-${v}`, { count: 1, head: hashes[v % 4096] });
    map = map.with(heads);
    map.root();
    const state = { ...initialWitnessState('340000'), map };
    // A witness state at an arbitrary size: its log range is empty, since only the batch is timed.
    const batch: LedgerEvent[] = [];
    let prev = GENESIS_HASH;
    const at = new Date('2026-03-10T02:00:00.000Z').toISOString();
    const current = new Map(heads);
    for (let i = 0; i < witnessEvents; i++) {
      const subjects = subjectsOf(i, residents, venues, rand);
      const links: Record<string, string | null> = {};
      for (const s of subjects) links[s] = current.get(s)?.head ?? null;
      const body = {
        seq: i + 1,
        type: 'scan.recorded',
        at,
        subjects,
        links,
        prev,
        data: { venue: subjects[subjects.length - 1], decision: 'allow', colour: 'green' },
      };
      const salt = randomBytes(16).toString('hex');
      const h = hashEvent(body, salt);
      batch.push({ ...body, salt, hash: h });
      for (const s of subjects) current.set(s, { count: (current.get(s)?.count ?? 0) + 1, head: h });
      prev = h;
    }
    const range = new CompactRange();
    for (const e of batch) range.append(hashLeaf(Buffer.from(e.hash, 'hex')));
    const changed = new Map<string, { count: number; head: string }>();
    for (const e of batch) for (const s of e.subjects) changed.set(s, current.get(s)!);
    const mapRoot = toHex(map.with(changed).root());
    const cp = { issuer: '340000', treeSize: witnessEvents, root: toHex(range.root()), mapRoot };
    t = performance.now();
    const verdict = checkCheckpoint(state, cp, batch);
    const witnessMicrosPerEvent = ((performance.now() - t) * 1000) / witnessEvents;
    if (!verdict.cosign) throw new Error(`bench: the witness refused: ${verdict.code} ${verdict.message}`);
    if (witnessStatement(verdict.state).mapRoot !== mapRoot) throw new Error('bench: the witness map differs');
    t = performance.now();
    const sim = new Map<string, { count: number; head: string }>();
    for (const e of batch)
      for (const s of e.subjects) sim.set(s, { count: (sim.get(s) ?? map.get(s)).count + 1, head: e.hash });
    map.with(sim).root();
    const witnessMapMicrosPerEvent = ((performance.now() - t) * 1000) / witnessEvents;

    return {
      subjects: residents + venues + 1,
      events,
      checkpointEvents,
      storeMicrosPerEvent: round(storeMicrosPerEvent),
      storeMicrosPerEventCommitEach: round(storeMicrosPerEventCommitEach),
      storeBytesPerEvent: Math.round(bytes / events),
      witnessMicrosPerEvent: round(witnessMicrosPerEvent),
      witnessMapMicrosPerEvent: round(witnessMapMicrosPerEvent),
      proofSiblings: proven.proof.siblings.length,
      proofJsonBytes: proofJson.length,
      proofBinaryBytes: 32 + 32 * proven.proof.siblings.length,
      verifyProofMicros: round(verifyProofMicros),
      nanosPerHash: round(nanosPerHash),
      depth256MicrosPerSubject: round((256 * nanosPerHash) / 1000),
    };
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const round = (n: number) => Math.round(n * 100) / 100;

if (require.main === module) {
  const [residents, events] = process.argv.slice(2).map(Number);
  benchSubjectMap(residents || undefined, events || undefined).then((r) => console.log(JSON.stringify(r, null, 2)));
}
