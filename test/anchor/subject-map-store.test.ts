import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Level } from 'level';
import { SubjectMapStore, type MapDb, type MapStoreOptions } from '../../anchor/subject-map-store';
import { toHex } from '../../verifier/src/bytes';
import { SubjectMap, verifySubjectProof, type SubjectHead } from '../../verifier/src/subject-map';
import { tempDir } from '../support/tmp';

interface MiniEvent {
  seq: number;
  subjects: string[];
  hash: string;
}

/** A log of `n` events over `pool` subjects: each lists one resident, half of them a venue too, a tenth a system subject. */
function events(n: number, pool = 60, seed = 1): MiniEvent[] {
  let x = seed;
  const rand = (m: number) => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return Math.floor((x / 2 ** 31) * m);
  };
  return Array.from({ length: n }, (_, i) => {
    const seq = i + 1;
    const subjects = new Set([`r:resident-${rand(pool)}`]);
    if (rand(2)) subjects.add(`v:venue-${rand(pool / 4)}`);
    if (rand(10) === 0) subjects.add('anchor');
    return {
      seq,
      subjects: [...subjects].sort(),
      hash: createHash('sha256').update(`event ${seq} ${seed}`).digest('hex'),
    };
  });
}

/** The reference: the verifier's in-memory map with heads counted from the events directly. */
function referenceAt(log: MiniEvent[], size: number): SubjectMap {
  const heads = new Map<string, SubjectHead>();
  for (const e of log.slice(0, size))
    for (const s of e.subjects) heads.set(s, { count: (heads.get(s)?.count ?? 0) + 1, head: e.hash });
  return SubjectMap.empty().with(heads);
}

describe('SubjectMapStore (subject heads map in LevelDB)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let db: Level<string, unknown>;
  const sub = () => db.sublevel<string, Uint8Array>('subject-map', { valueEncoding: 'view' }) as unknown as MapDb;
  const open = (opts?: MapStoreOptions) => SubjectMapStore.open(sub(), opts);
  const nodeKeys = async () => {
    let n = 0;
    for await (const _ of sub().keys({ gte: 'n/', lt: 'n0' })) n++;
    return n;
  };

  beforeEach(async () => {
    tmp = tempDir();
    db = new Level(join(tmp.dir, 'db'));
    await db.open();
  });
  afterEach(async () => {
    await db.close();
    tmp.cleanup();
  });

  describe('when events arrive with commits at uneven sizes', () => {
    const log = events(700);
    const commits = [1, 2, 3, 50, 51, 300, 512, 699, 700];

    it('has the reference root at every committed size, and proofs exactly like the reference’s', async () => {
      const store = await open();
      for (const e of log) {
        store.apply(e);
        if (commits.includes(e.seq))
          expect(toHex(await store.commit()), `commit at ${e.seq}`).to.equal(toHex(referenceAt(log, e.seq).root()));
      }
      for (const size of commits) {
        const ref = referenceAt(log, size);
        const root = store.mapRootAt(size)!;
        expect(toHex(root), `root at ${size}`).to.equal(toHex(ref.root()));
        for (const s of ['r:resident-0', 'r:resident-7', 'v:venue-3', 'anchor', 'r:never', 'v:venue-99']) {
          const p = store.proof(s, size);
          expect(p, `${s} at ${size}`).to.deep.equal({ ...ref.get(s), proof: ref.prove(s) });
          expect(verifySubjectProof(root, s, p, p.proof).code, `${s} at ${size}`).to.equal('VALID');
        }
      }
    });

    it('counts every event of a subject and names its last one as the head', async () => {
      const store = await open();
      for (const e of log) store.apply(e);
      await store.commit();
      const mine = log.filter((e) => e.subjects.includes('v:venue-3'));
      const { count, head } = store.proof('v:venue-3', 700);
      expect(count).to.equal(mine.length).and.to.be.greaterThan(5);
      expect(head).to.equal(mine[mine.length - 1].hash);
    });
  });

  it('refuses an event that is not the next one, and a proof at a size never committed', async () => {
    const log = events(10);
    const store = await open();
    store.apply(log[0]);
    expect(() => store.apply(log[2])).to.throw(RangeError, /event 3 is not the next/);
    expect(() => store.apply(log[0])).to.throw(RangeError);
    await store.commit();
    store.apply(log[1]);
    expect(store.mapRootAt(2)).to.equal(undefined);
    expect(() => store.proof('anchor', 2)).to.throw(RangeError, /no commit at size 2/);
  });

  it('writes at a commit only the nodes made since the last one', async () => {
    const log = events(200);
    const store = await open();
    for (const e of log.slice(0, 199)) store.apply(e);
    await store.commit();
    const before = await nodeKeys();
    await store.commit();
    expect(await nodeKeys(), 'a commit with nothing new').to.equal(before);
    store.apply(log[199]);
    await store.commit();
    const added = (await nodeKeys()) - before;
    // One new leaf per subject of the event and the branches above it: a path, not the tree.
    expect(added).to.be.within(log[199].subjects.length + 1, log[199].subjects.length * 12);
  });

  describe('after a reopen', () => {
    it('starts at its last commit; replaying the events after it gives the same root', async () => {
      const log = events(500);
      let store = await open();
      for (const e of log.slice(0, 300)) store.apply(e);
      await store.commit();
      for (const e of log.slice(300)) store.apply(e);
      const rootBefore = toHex(store.root());

      store = await open();
      expect([store.size, store.committedSize]).to.deep.equal([300, 300]);
      expect(toHex(store.root())).to.equal(toHex(referenceAt(log, 300).root()));
      for (const e of log.slice(300)) store.apply(e);
      expect(toHex(store.root())).to.equal(rootBefore);
      expect(rootBefore).to.equal(toHex(referenceAt(log, 500).root()));
    });

    it('still serves the proofs of every earlier commit', async () => {
      const log = events(300);
      let store = await open();
      for (const e of log) {
        store.apply(e);
        if (e.seq % 100 === 0) await store.commit();
      }
      store = await open();
      for (const size of [100, 200, 300]) {
        const p = store.proof('r:resident-4', size);
        expect(p.count).to.equal(referenceAt(log, size).get('r:resident-4').count);
        expect(verifySubjectProof(store.mapRootAt(size)!, 'r:resident-4', p, p.proof).code).to.equal('VALID');
      }
    });
  });

  describe('when old versions are pruned', () => {
    it('keeps the proofs of the latest commits and every root, and deletes only what no kept version holds', async () => {
      const log = events(600);
      const store = await open();
      for (const e of log) {
        store.apply(e);
        if (e.seq % 100 === 0) await store.commit();
      }
      const before = await nodeKeys();
      const deleted = await store.prune(2);
      expect(deleted).to.be.greaterThan(0);
      expect(await nodeKeys()).to.equal(before - deleted);
      for (const size of [500, 600]) {
        const ref = referenceAt(log, size);
        for (const s of ['r:resident-1', 'r:resident-30', 'v:venue-2', 'anchor', 'r:never']) {
          expect(store.proof(s, size), `${s} at ${size}`).to.deep.equal({ ...ref.get(s), proof: ref.prove(s) });
        }
      }
      for (const size of [100, 400]) {
        expect(toHex(store.mapRootAt(size)!)).to.equal(toHex(referenceAt(log, size).root()));
        expect(() => store.proof('anchor', size)).to.throw(RangeError, /pruned/);
      }
      expect(await store.prune(2), 'nothing more to prune').to.equal(0);
    });

    it('goes on growing and pruning, across a reopen, with every node of the kept versions there', async () => {
      const log = events(900, 80, 3);
      let store = await open();
      for (const e of log) {
        store.apply(e);
        if (e.seq % 150 === 0) {
          await store.commit();
          await store.prune(1);
        }
        if (e.seq === 450) store = await open();
      }
      // Every node reachable from the latest root is still stored: a proof of every subject reads them all.
      const ref = referenceAt(log, 900);
      for (const s of new Set(log.flatMap((e) => e.subjects)))
        expect(store.proof(s, 900)).to.deep.equal({ ...ref.get(s), proof: ref.prove(s) });
      // And nothing else is: as many records as the tree has nodes (a node wherever two keys or more share a prefix).
      const walk = (keys: Uint8Array[], depth: number): number => {
        if (keys.length <= 1) return keys.length;
        const bitAt = (k: Uint8Array) => (k[depth >> 3] >> (7 - (depth & 7))) & 1;
        return (
          1 +
          walk(
            keys.filter((k) => bitAt(k) === 0),
            depth + 1,
          ) +
          walk(
            keys.filter((k) => bitAt(k) === 1),
            depth + 1,
          )
        );
      };
      const nodes = walk(
        [...new Set(log.flatMap((e) => e.subjects))].map((s) => createHash('sha256').update(s).digest()),
        0,
      );
      expect(await nodeKeys()).to.equal(nodes);
    });
  });

  describe('when memory is tight and deep nodes are let go after each commit', () => {
    it('reads them back as needed and keeps the reference roots and proofs', async () => {
      const log = events(3000, 2000, 7);
      const store = await open({ maxLoaded: 64, keepDepth: 3 });
      for (const e of log) {
        store.apply(e);
        if (e.seq % 250 === 0) {
          const ref = referenceAt(log, e.seq);
          expect(toHex(await store.commit()), `at ${e.seq}`).to.equal(toHex(ref.root()));
          const p = store.proof('r:resident-11', e.seq);
          expect(p).to.deep.equal({ ...ref.get('r:resident-11'), proof: ref.prove('r:resident-11') });
        }
      }
    });
  });
});
