import { expect } from 'chai';
import { join } from 'node:path';
import { Ledger, seqKey } from '../../ledger/ledger';
import { verifyChain } from '../../ledger/verify-chain';
import { tempDir } from '../support/tmp';

describe('Ledger', () => {
  let tmp: ReturnType<typeof tempDir>;
  let ledger: Ledger;

  beforeEach(async () => {
    tmp = tempDir();
    ledger = await Ledger.open(join(tmp.dir, 'db'));
  });
  afterEach(async () => {
    await ledger.close().catch(() => undefined);
    tmp.cleanup();
  });

  describe('when many transactions run at once', () => {
    it('gives every event its own sequence number and keeps both hash chains intact', async () => {
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          ledger.transact(async (tx) => {
            const e = await tx.append({ type: 'test.event', subjects: [`r:${i % 7}`, 'v:gate'], data: { i } });
            tx.put('index', `test/${i}`, { seq: e.seq });
            return e.seq;
          }),
        ),
      );
      expect(new Set(results).size).to.equal(200);
      expect(Math.max(...results)).to.equal(200);
      const report = await verifyChain(ledger);
      expect(report).to.include({ ok: true, events: 200, subjects: 8 });
      expect((await ledger.subjectSeqs('r:3')).length).to.equal(Math.ceil((200 - 3) / 7));
      expect((await ledger.subjectSeqs('v:gate')).length).to.equal(200);
    });

    it('lets a transaction read what an earlier, not yet durable transaction wrote', async () => {
      const first = ledger.transact((tx) => tx.put('meta', 'counter', 1));
      const second = ledger.transact(async (tx) => {
        const n = (await tx.get<number>('meta', 'counter')) ?? 0;
        tx.put('meta', 'counter', n + 1);
        return n + 1;
      });
      await first;
      expect(await second).to.equal(2);
      expect(await ledger.read('meta', 'counter')).to.equal(2);
    });
  });

  describe('when a transaction throws', () => {
    it('keeps none of its writes or events and the next transaction continues the chain', async () => {
      await ledger.transact((tx) => tx.append({ type: 'a', data: {} }));
      const failed = ledger.transact(async (tx) => {
        await tx.append({ type: 'b', subjects: ['r:x'], data: {} });
        tx.put('meta', 'half', true);
        throw new Error('validation failed halfway');
      });
      const err = await failed.then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.message).to.equal('validation failed halfway');
      const e = await ledger.transact((tx) => tx.append({ type: 'c', subjects: ['r:x'], data: {} }));
      expect(e.seq).to.equal(2);
      expect(e.links['r:x']).to.equal(null);
      expect(await ledger.read('meta', 'half')).to.equal(undefined);
      expect((await verifyChain(ledger)).ok).to.equal(true);
    });
  });

  describe('the committed values it keeps in memory', () => {
    it('answers each read with what is committed: a write, a delete and a thrown transaction included', async () => {
      // Read first, so that the key is kept (as absent), then written, changed and deleted.
      expect(await ledger.read('venues', 'v1')).to.equal(undefined);
      await ledger.transact((tx) => tx.put('venues', 'v1', { name: 'gate', tags: ['a'], bytes: Buffer.from('x') }));
      const first = (await ledger.read<{ name: string; tags: string[] }>('venues', 'v1'))!;
      expect(first).to.include({ name: 'gate' });
      // Frozen all the way down: a value read is never changed in place.
      expect(Object.isFrozen(first) && Object.isFrozen(first.tags)).to.equal(true);
      expect(() => first.tags.push('b')).to.throw(TypeError);
      await ledger.transact((tx) => tx.put('venues', 'v1', { ...first, name: 'gate 2' }));
      expect(await ledger.read('venues', 'v1')).to.include({ name: 'gate 2' });
      await ledger
        .transact((tx) => {
          tx.put('venues', 'v1', { name: 'never' });
          throw new Error('refused');
        })
        .catch(() => undefined);
      expect(await ledger.read('venues', 'v1')).to.include({ name: 'gate 2' });
      await ledger.transact((tx) => tx.del('venues', 'v1'));
      expect(await ledger.read('venues', 'v1')).to.equal(undefined);
      // What another reader of the database sees is the same.
      await ledger.close();
      ledger = await Ledger.open(join(tmp.dir, 'db'));
      expect(await ledger.read('venues', 'v1')).to.equal(undefined);
    });
  });

  describe('whenDurable', () => {
    it('settles at once when nothing waits to be written, and otherwise only once the writes before it are durable', async () => {
      await ledger.whenDurable();
      const write = ledger.transact(async (tx) => {
        tx.put('meta', 'w', 1);
        await tx.append({ type: 'w', data: {} });
      });
      // A read-only transaction sees the write before it is durable, and answers at once.
      expect(await ledger.transact((tx) => tx.get('meta', 'w'))).to.equal(1);
      expect(ledger.getHead().seq, 'not yet durable').to.equal(0);
      await ledger.whenDurable();
      expect(ledger.getHead().seq, 'durable').to.equal(1);
      await write;
    });
  });

  describe('onKeysWritten', () => {
    it('names a key once per write, after the group is durable: a worker counts the writes an answer made by it', async () => {
      const named: string[][] = [];
      ledger.onKeysWritten('residents', (keys) => named.push([...keys]));
      await ledger.transact((tx) => {
        tx.put('residents', 'p1', { v: 1 });
        tx.put('residents', 'p1', { v: 2 });
        tx.del('residents', 'p2');
        tx.put('meta', 'other', 1);
      });
      // Twice for p1, though LevelDB keeps only its last value; once for the deleted p2; nothing of another space.
      expect(named.flat().sort()).to.deep.equal(['p1', 'p1', 'p2']);
      await ledger.transact((tx) => tx.get('residents', 'p1'));
      expect(named.flat()).to.have.length(3);
    });
  });

  describe('after a reopen', () => {
    it('continues from the durable head', async () => {
      await ledger.transact((tx) => tx.append({ type: 'a', subjects: ['r:1'], data: {} }));
      await ledger.close();
      ledger = await Ledger.open(join(tmp.dir, 'db'));
      const e = await ledger.transact((tx) => tx.append({ type: 'b', subjects: ['r:1'], data: {} }));
      expect(e.seq).to.equal(2);
      expect(e.links['r:1']).to.equal((await ledger.getEvent(1))!.hash);
    });
  });

  describe('when the clock goes back', () => {
    it('gives events the time of the last event until the clock catches up, across a reopen', async () => {
      let ms = Date.parse('2026-03-10T02:00:00.000Z');
      await ledger.close();
      ledger = await Ledger.open(join(tmp.dir, 'db'), () => new Date(ms));
      const at = async () => (await ledger.transact((tx) => tx.append({ type: 't', subjects: ['r:a'], data: {} }))).at;
      expect(await at()).to.equal('2026-03-10T02:00:00.000Z');
      ms -= 60_000;
      expect(await at(), 'a minute back').to.equal('2026-03-10T02:00:00.000Z');
      await ledger.close();
      ledger = await Ledger.open(join(tmp.dir, 'db'), () => new Date(ms));
      expect(await at(), 'after a reopen').to.equal('2026-03-10T02:00:00.000Z');
      // A transaction that fails leaves no time behind.
      ms += 120_000;
      await ledger
        .transact(async (tx) => {
          await tx.append({ type: 't', data: {} });
          throw new Error('no');
        })
        .catch(() => undefined);
      ms -= 30_000;
      expect(await at(), 'forward again').to.equal('2026-03-10T02:00:30.000Z');
    });
  });

  describe('verifyChain', () => {
    beforeEach(async () => {
      for (let i = 0; i < 5; i++)
        await ledger.transact((tx) => tx.append({ type: 't', subjects: ['r:a'], data: { i } }));
    });
    it('reports the first altered event', async () => {
      const e = (await ledger.getEvent(3))!;
      await ledger.space('events').put(seqKey(3), { ...e, data: { i: 99 } });
      expect((await verifyChain(ledger)).broken).to.deep.equal({ seq: 3, reason: 'the event does not match its hash' });
    });
    it('reports a removed event', async () => {
      await ledger.space('events').del(seqKey(4));
      expect((await verifyChain(ledger)).broken?.seq).to.equal(4);
    });
  });
});
