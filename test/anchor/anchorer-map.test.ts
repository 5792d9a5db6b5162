import { expect } from 'chai';
import { join } from 'node:path';
import { Anchorer, type CheckpointRecord } from '../../anchor/anchorer';
import { Ledger } from '../../ledger/ledger';
import { createLogger } from '../../server/http/log';
import { toHex } from '../../verifier/src/bytes';
import type { LedgerEvent } from '../../verifier/src/event';
import { SubjectMap, verifySubjectProof, type SubjectHead } from '../../verifier/src/subject-map';
import { tempDir } from '../support/tmp';

/** The map of the ledger's first `size` events, counted straight from them. */
function reference(events: LedgerEvent[], size: number): SubjectMap {
  const heads = new Map<string, SubjectHead>();
  for (const e of events.slice(0, size))
    for (const s of e.subjects) heads.set(s, { count: (heads.get(s)?.count ?? 0) + 1, head: e.hash });
  return SubjectMap.empty().with(heads);
}

/**
 * The anchorer's subject map without a chain: it follows the ledger in `sync`, and on open
 * it catches up with the log — after a restart, or for a ledger written before the map was
 * kept — committing at the size of every checkpoint the ledger recorded.
 */
describe('the anchorer’s subject heads map (anchor/anchorer.ts)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let ledger: Ledger;
  const open = () =>
    Anchorer.open(ledger, {
      issuer: '340000',
      intervalSeconds: 3600,
      maxEvents: 1_000_000,
      connect: () => Promise.reject(new Error('no chain in this test')),
      log: createLogger('silent'),
      clock: () => new Date(),
    });
  const append = async (n: number) => {
    for (let i = 0; i < n; i++) {
      await ledger.transact((tx) =>
        tx.append({ type: 'scan.recorded', subjects: [`r:resident-${i % 7}`, `v:venue-${i % 3}`], data: { i } }),
      );
    }
  };
  const all = async () => {
    const out: LedgerEvent[] = [];
    for await (const e of ledger.events()) out.push(e);
    return out;
  };
  /** A checkpoint record as the anchorer writes one after anchoring. */
  const recordCheckpoint = (index: number, treeSize: number) =>
    ledger.transact((tx) => {
      const cp: CheckpointRecord = {
        index,
        treeSize,
        root: '00'.repeat(32),
        txHash: '',
        blockNumber: 0,
        chainId: 31337,
        contract: '0xabc',
        anchoredAt: new Date().toISOString(),
      };
      tx.put('anchor', `cp/31337/0xabc/${String(index).padStart(10, '0')}`, cp);
    });

  beforeEach(async () => {
    tmp = tempDir();
    ledger = await Ledger.open(join(tmp.dir, 'db'));
  });
  afterEach(async () => {
    await ledger.close();
    tmp.cleanup();
  });

  it('keeps the map at the size of the log as the log grows', async () => {
    const a = await open();
    await append(12);
    expect(await a.sync()).to.equal(12);
    await append(5);
    await a.sync();
    expect([a.tree.treeSize, a.map.size]).to.deep.equal([17, 17]);
    expect(toHex(a.map.root())).to.equal(toHex(reference(await all(), 17).root()));
  });

  it('after a restart, replays what it had not committed and commits at every recorded checkpoint size', async () => {
    await append(30);
    const a = await open();
    await a.sync();
    expect(a.map.committedSize, 'nothing committed yet').to.equal(0);
    await recordCheckpoint(0, 10);
    await recordCheckpoint(1, 20);

    const b = await open();
    const events = await all();
    expect([b.map.size, b.map.committedSize]).to.deep.equal([30, 30]);
    for (const size of [10, 20, 30]) {
      const ref = reference(events, size);
      expect(toHex(b.map.mapRootAt(size)!), `root at ${size}`).to.equal(toHex(ref.root()));
      const p = b.map.proof('r:resident-3', size);
      expect(verifySubjectProof(ref.root(), 'r:resident-3', p, p.proof).code).to.equal('VALID');
      expect(p.count).to.equal(ref.get('r:resident-3').count);
    }
    expect(b.map.mapRootAt(15)).to.equal(undefined);
  });

  it('rebuilds the whole map from the ledger when its data is gone', async () => {
    await append(25);
    await recordCheckpoint(0, 25);
    const a = await open();
    await a.sync();
    const before = await open();
    const root = toHex(before.map.mapRootAt(25)!);
    await ledger.db.sublevel('subject-map').clear();

    const rebuilt = await open();
    expect(toHex(rebuilt.map.mapRootAt(25)!)).to.equal(root);
    expect(root).to.equal(toHex(reference(await all(), 25).root()));
  });
});
