import { expect } from 'chai';
import { Level } from 'level';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { TreeStore, leafHash, type TreeDb } from '../../anchor/tree-store';
import { consistencyProof, hashLeaf, inclusionProof, rootFromLeafHashes } from '../../verifier/src/merkle';
import { tempDir } from '../support/tmp';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('TreeStore (RFC 6962 log in LevelDB)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let db: Level<string, unknown>;
  const sub = () => db.sublevel<string, Uint8Array>('tree', { valueEncoding: 'view' }) as unknown as TreeDb;

  beforeEach(async () => {
    tmp = tempDir();
    db = new Level(join(tmp.dir, 'db'));
    await db.open();
  });
  afterEach(async () => {
    await db.close();
    tmp.cleanup();
  });

  const leaves = (n: number) =>
    Array.from({ length: n }, (_, i) => leafHash(createHash('sha256').update(`event ${i}`).digest()));

  it('hashes leaves exactly as the verifier does', () => {
    const data = createHash('sha256').update('x').digest();
    expect(hex(leafHash(data))).to.equal(hex(hashLeaf(data)));
  });

  describe('when leaves arrive in uneven batches across block boundaries', () => {
    it('gives the reference root, inclusion and consistency proofs for every size', async () => {
      const all = leaves(600);
      const t = await TreeStore.open(sub());
      const batches = [1, 2, 5, 120, 127, 1, 1, 200, 143];
      let at = 0;
      for (const b of batches) {
        await t.append(all.slice(at, at + b));
        at += b;
      }
      expect(t.treeSize).to.equal(600);
      for (const size of [1, 2, 3, 7, 8, 9, 255, 256, 257, 511, 512, 513, 599, 600]) {
        const ref = all.slice(0, size);
        expect(hex(await t.root(size)), `root ${size}`).to.equal(hex(rootFromLeafHashes(ref)));
        for (const i of [0, Math.floor(size / 3), size - 1]) {
          expect((await t.inclusionProof(i, size)).map(hex), `path ${i}/${size}`).to.deep.equal(
            inclusionProof(ref, i).map(hex),
          );
        }
        for (const m of [1, Math.ceil(size / 2), size]) {
          if (m > size) continue;
          expect((await t.consistencyProof(m, size)).map(hex), `proof ${m}→${size}`).to.deep.equal(
            consistencyProof(ref, m).map(hex),
          );
        }
      }
    });
  });

  describe('after a reopen', () => {
    it('continues the same tree from its stored right edge', async () => {
      const all = leaves(700);
      let t = await TreeStore.open(sub());
      await t.append(all.slice(0, 333));
      t = await TreeStore.open(sub());
      expect(t.treeSize).to.equal(333);
      await t.append(all.slice(333));
      expect(hex(await t.root())).to.equal(hex(rootFromLeafHashes(all)));
      expect((await t.inclusionProof(5, 700)).map(hex)).to.deep.equal(inclusionProof(all, 5).map(hex));
    });
  });

  describe('perfectSubtree (the subtrees size proofs hold)', () => {
    it('gives the reference root of every aligned power-of-two range, across block boundaries', async () => {
      const all = leaves(600);
      const t = await TreeStore.open(sub());
      await t.append(all);
      for (const width of [1, 2, 4, 64, 256, 512]) {
        for (const start of [0, width, 2 * width, Math.floor(600 / width - 1) * width]) {
          if (start + width > 600) continue;
          expect(hex(await t.perfectSubtree(start, start + width)), `[${start}, ${start + width})`).to.equal(
            hex(rootFromLeafHashes(all.slice(start, start + width))),
          );
        }
      }
    });

    it('refuses ranges that are not aligned powers of two inside the tree', async () => {
      const t = await TreeStore.open(sub());
      await t.append(leaves(16));
      for (const [a, b] of [
        [1, 3],
        [0, 3],
        [2, 6],
        [8, 24],
        [4, 4],
      ]) {
        let err: unknown;
        await t.perfectSubtree(a, b).catch((e) => (err = e));
        expect(err, `[${a}, ${b})`).to.be.instanceOf(RangeError);
      }
    });
  });

  it('refuses sizes beyond the tree and leaves outside it', async () => {
    const t = await TreeStore.open(sub());
    await t.append(leaves(4));
    let err: unknown;
    await t.root(5).catch((e) => (err = e));
    expect(err).to.be.instanceOf(RangeError);
    err = undefined;
    await t.inclusionProof(4, 4).catch((e) => (err = e));
    expect(err).to.be.instanceOf(RangeError);
    err = undefined;
    await t.consistencyProof(0, 4).catch((e) => (err = e));
    expect(err).to.be.instanceOf(RangeError);
  });
});
