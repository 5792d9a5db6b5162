import { createHash } from 'node:crypto';
import { runInNewContext } from 'node:vm';
import { expect } from 'chai';
import { build } from 'esbuild';
import { MerkleTree } from 'merkletreejs';
import {
  CompactRange,
  MerkleError,
  consistencyProof,
  consistencyProofForAppend,
  hashChildren,
  hashLeaf,
  inclusionProof,
  rootFromInclusionProof,
  rootFromLeafHashes,
  sizeProofForAppend,
  sizeProofPlan,
  verifyCheckpointProofs,
  verifyConsistency,
  verifyInclusion,
  type MerkleErrorCode,
} from '../../verifier/src/merkle';
import { fromHex, toHex } from '../../verifier/src/bytes';
import inclusionVectors from './vectors/merkle-inclusion.json';
import consistencyVectors from './vectors/merkle-consistency.json';

const hex = (list: Uint8Array[]) => list.map(toHex);
const nodeSha256 = (data: Uint8Array) => createHash('sha256').update(data).digest();
const leafHashesOf = (n: number) => Array.from({ length: n }, (_, i) => hashLeaf(Uint8Array.of(i >> 8, i & 0xff)));

function thrown(f: () => unknown): MerkleError {
  try {
    f();
  } catch (e) {
    expect(e).to.be.instanceOf(MerkleError);
    return e as MerkleError;
  }
  expect.fail('expected a MerkleError');
}

function expectCode(f: () => unknown, code: MerkleErrorCode): MerkleError {
  const e = thrown(f);
  expect(e.code, e.message).to.equal(code);
  return e;
}

describe('merkle (RFC 6962 / RFC 9162)', () => {
  const refLeaves = inclusionVectors.leafInputs.map((h) => hashLeaf(fromHex(h)));

  describe('hashing', () => {
    it('hashes a leaf as SHA-256(0x00 || data) and a node as SHA-256(0x01 || left || right)', () => {
      const data = Uint8Array.of(1, 2, 3);
      expect(toHex(hashLeaf(data))).to.equal(toHex(nodeSha256(Uint8Array.of(0, 1, 2, 3))));
      const [l, r] = [refLeaves[0], refLeaves[1]];
      expect(toHex(hashChildren(l, r))).to.equal(toHex(nodeSha256(Uint8Array.from([1, ...l, ...r]))));
    });

    it('gives the RFC 6962 reference roots for every prefix of the 8-leaf tree', () => {
      inclusionVectors.rootsBySize.forEach((root, n) => {
        expect(toHex(rootFromLeafHashes(refLeaves.slice(0, n))), `size ${n}`).to.equal(root);
      });
      expect(toHex(rootFromLeafHashes(refLeaves))).to.equal(
        '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
      );
      expect(toHex(rootFromLeafHashes([]))).to.equal(
        'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      );
    });
  });

  describe('inclusion vectors', () => {
    for (const v of inclusionVectors.cases) {
      const args = [fromHex(v.leafHash), v.leafIndex, v.treeSize, v.proof.map(fromHex), fromHex(v.root)] as const;
      if (!v.wantErr) {
        it(`verifies ${v.desc}`, () => {
          verifyInclusion(...args);
          expect(toHex(rootFromInclusionProof(args[0], v.leafIndex, v.treeSize, args[3]))).to.equal(v.root);
          expect(hex(inclusionProof(refLeaves.slice(0, v.treeSize), v.leafIndex))).to.deep.equal(v.proof);
        });
      } else {
        it(`rejects ${v.desc} with ${v.errCode}`, () => {
          expectCode(() => verifyInclusion(...args), v.errCode as MerkleErrorCode);
        });
      }
    }
  });

  describe('consistency vectors', () => {
    for (const v of consistencyVectors.cases) {
      const args = [v.size1, v.size2, fromHex(v.root1), fromHex(v.root2), v.proof.map(fromHex)] as const;
      if (!v.wantErr) {
        it(`verifies ${v.desc}`, () => {
          verifyConsistency(...args);
          if (v.size1 > 0) expect(hex(consistencyProof(refLeaves.slice(0, v.size2), v.size1))).to.deep.equal(v.proof);
        });
      } else {
        it(`rejects ${v.desc} with ${v.errCode}`, () => {
          expectCode(() => verifyConsistency(...args), v.errCode as MerkleErrorCode);
        });
      }
    }
  });

  describe('against merkletreejs (RFC 6962 hashing, default options) for every size 1..70', () => {
    const leaves = leafHashesOf(70);
    const nodeHash = (x: Buffer) => nodeSha256(Buffer.concat([Buffer.of(1), x]));
    const trees = [
      undefined,
      ...Array.from(
        { length: 70 },
        (_, i) =>
          new MerkleTree(
            leaves.slice(0, i + 1).map((h) => Buffer.from(h)),
            nodeHash,
          ),
      ),
    ];

    it('computes the same roots', () => {
      for (let n = 1; n <= 70; n++) {
        expect(toHex(rootFromLeafHashes(leaves.slice(0, n))), `size ${n}`).to.equal(
          trees[n]!.getRoot().toString('hex'),
        );
      }
    });

    it('generates the same inclusion proofs, which verify against its roots', () => {
      for (let n = 1; n <= 70; n++) {
        const tree = trees[n]!;
        for (let i = 0; i < n; i++) {
          const theirs = tree.getProof(Buffer.from(leaves[i]), i).map((p) => p.data.toString('hex'));
          const ours = inclusionProof(leaves.slice(0, n), i);
          expect(hex(ours), `leaf ${i} of ${n}`).to.deep.equal(theirs);
          verifyInclusion(leaves[i], i, n, ours, tree.getRoot());
        }
      }
    });

    it('generates consistency proofs between every pair of sizes that verify against its roots', () => {
      for (let n = 1; n <= 70; n++) {
        for (let m = 1; m <= n; m++) {
          verifyConsistency(m, n, trees[m]!.getRoot(), trees[n]!.getRoot(), consistencyProof(leaves.slice(0, n), m));
        }
      }
    });
  });

  describe('verifyInclusion errors', () => {
    const leaves = leafHashesOf(13);
    const root = rootFromLeafHashes(leaves);
    const proof = inclusionProof(leaves, 5);

    it('accepts the untouched proof', () => {
      expect(() => verifyInclusion(leaves[5], 5, 13, proof, root)).not.to.throw();
    });

    it('throws PROOF_SIZE for a proof one hash short', () => {
      expectCode(() => verifyInclusion(leaves[5], 5, 13, proof.slice(0, -1), root), 'PROOF_SIZE');
    });

    it('throws PROOF_SIZE for a proof one hash too long', () => {
      expectCode(() => verifyInclusion(leaves[5], 5, 13, [...proof, root], root), 'PROOF_SIZE');
    });

    it('throws ROOT_MISMATCH with both roots in hex for a flipped bit', () => {
      const bad = proof.map((p) => p.slice());
      bad[1][31] ^= 1;
      const e = expectCode(() => verifyInclusion(leaves[5], 5, 13, bad, root), 'ROOT_MISMATCH');
      expect(e.expected).to.equal(toHex(root));
      expect(e.calculated).to.equal(toHex(rootFromInclusionProof(leaves[5], 5, 13, bad)));
      expect(e.calculated).to.not.equal(e.expected);
    });

    it('throws ROOT_MISMATCH for the wrong index', () => {
      expectCode(() => verifyInclusion(leaves[5], 4, 13, proof, root), 'ROOT_MISMATCH');
    });

    it('throws ROOT_MISMATCH for the right leaf and proof checked against a tree of another size', () => {
      const other = inclusionProof(leaves.slice(0, 12), 5);
      expect(other.length).to.equal(proof.length);
      expectCode(
        () => verifyInclusion(leaves[5], 5, 12, proof, rootFromLeafHashes(leaves.slice(0, 12))),
        'ROOT_MISMATCH',
      );
    });

    it('throws PROOF_SIZE for an interior node passed off as a leaf with the rest of a real path', () => {
      const n45 = hashChildren(leaves[4], leaves[5]);
      expect(toHex(rootFromLeafHashes(leaves))).to.equal(
        toHex(
          hashChildren(hashChildren(rootFromLeafHashes(leaves.slice(0, 4)), hashChildren(n45, proof[1])), proof[3]),
        ),
      );
      expectCode(() => verifyInclusion(n45, 2, 13, inclusionProof(leaves, 4).slice(1), root), 'PROOF_SIZE');
    });

    it('throws INDEX_OUT_OF_RANGE for index >= size, a negative or a fractional index', () => {
      for (const index of [13, 14, -1, 1.5, Number.NaN]) {
        expectCode(() => verifyInclusion(leaves[5], index, 13, proof, root), 'INDEX_OUT_OF_RANGE');
      }
      expectCode(() => inclusionProof(leaves, 13), 'INDEX_OUT_OF_RANGE');
      expectCode(() => inclusionProof([], 0), 'INDEX_OUT_OF_RANGE');
    });

    it('throws BAD_SIZES for a tree size that is not a safe integer', () => {
      expectCode(() => verifyInclusion(leaves[5], 5, 2 ** 53, proof, root), 'BAD_SIZES');
    });

    it('throws HASH_SIZE for a leaf, proof element or root that is not 32 bytes', () => {
      expectCode(() => verifyInclusion(leaves[5].slice(1), 5, 13, proof, root), 'HASH_SIZE');
      expectCode(() => verifyInclusion(leaves[5], 5, 13, [proof[0].slice(1), ...proof.slice(1)], root), 'HASH_SIZE');
      expectCode(() => verifyInclusion(leaves[5], 5, 13, proof, root.slice(1)), 'HASH_SIZE');
    });

    it('works above 2^32 leaves, where 32-bit bitwise arithmetic would break', () => {
      const [left, leaf] = [leaves[0], leaves[1]];
      const size = 2 ** 33 + 1;
      verifyInclusion(leaf, 2 ** 33, size, [left], hashChildren(left, leaf));
      expectCode(() => verifyInclusion(leaf, 2 ** 33, size, [left, left], hashChildren(left, leaf)), 'PROOF_SIZE');
    });
  });

  describe('verifyConsistency errors', () => {
    const leaves = leafHashesOf(21);
    const [oldRoot, newRoot] = [rootFromLeafHashes(leaves.slice(0, 13)), rootFromLeafHashes(leaves)];
    const proof = consistencyProof(leaves, 13);

    it('accepts the untouched proof', () => {
      expect(() => verifyConsistency(13, 21, oldRoot, newRoot, proof)).not.to.throw();
    });

    it('throws BAD_SIZES when the old size exceeds the new size', () => {
      expectCode(() => verifyConsistency(21, 13, newRoot, oldRoot, proof), 'BAD_SIZES');
      expectCode(() => consistencyProof(leaves, 22), 'BAD_SIZES');
    });

    it('throws BAD_SIZES for a proof from the empty tree', () => {
      expectCode(() => verifyConsistency(0, 21, rootFromLeafHashes([]), newRoot, []), 'BAD_SIZES');
      expectCode(() => consistencyProof(leaves, 0), 'BAD_SIZES');
    });

    it('throws PROOF_SIZE for a proof too short for the claimed new size, though both roots match', () => {
      const r = (n: number) => rootFromLeafHashes(leaves.slice(0, n));
      expectCode(() => verifyConsistency(2, 5, r(2), r(4), consistencyProof(leaves.slice(0, 4), 2)), 'PROOF_SIZE');
    });

    it('throws PROOF_SIZE for a proof one hash short or one too long', () => {
      expectCode(() => verifyConsistency(13, 21, oldRoot, newRoot, proof.slice(0, -1)), 'PROOF_SIZE');
      expectCode(() => verifyConsistency(13, 21, oldRoot, newRoot, [...proof, newRoot]), 'PROOF_SIZE');
    });

    it('throws ROOT_MISMATCH for a flipped bit', () => {
      const bad = proof.map((p) => p.slice());
      bad[0][0] ^= 0x80;
      const e = expectCode(() => verifyConsistency(13, 21, oldRoot, newRoot, bad), 'ROOT_MISMATCH');
      expect(e.expected).to.match(/^[0-9a-f]{64}$/);
      expect(e.calculated)
        .to.match(/^[0-9a-f]{64}$/)
        .and.not.equal(e.expected);
    });

    it('throws ROOT_MISMATCH when the new tree rewrote an earlier leaf', () => {
      const forged = [...leaves];
      forged[2] = hashLeaf(Uint8Array.of(0xff));
      const e = expectCode(
        () => verifyConsistency(13, 21, oldRoot, rootFromLeafHashes(forged), consistencyProof(forged, 13)),
        'ROOT_MISMATCH',
      );
      expect(e.expected).to.equal(toHex(oldRoot));
    });

    it('throws ROOT_MISMATCH for equal sizes with different roots, PROOF_SIZE with a non-empty proof', () => {
      verifyConsistency(13, 13, oldRoot, oldRoot, []);
      expectCode(() => verifyConsistency(13, 13, oldRoot, newRoot, []), 'ROOT_MISMATCH');
      expectCode(() => verifyConsistency(13, 13, oldRoot, oldRoot, [oldRoot]), 'PROOF_SIZE');
    });
  });

  describe('CompactRange', () => {
    const leaves = leafHashesOf(70);

    it('matches the full-tree root at every size while keeping one hash per set bit of the size', () => {
      const range = new CompactRange();
      expect(toHex(range.root())).to.equal(toHex(rootFromLeafHashes([])));
      leaves.forEach((leaf, i) => {
        range.append(leaf);
        expect(range.size).to.equal(i + 1);
        expect(toHex(range.root()), `size ${i + 1}`).to.equal(toHex(rootFromLeafHashes(leaves.slice(0, i + 1))));
        expect(range.toJSON().hashes).to.have.length((i + 1).toString(2).replace(/0/g, '').length);
      });
    });

    it('round-trips through JSON and keeps growing from the restored state', () => {
      const range = new CompactRange();
      leaves.slice(0, 37).forEach((l) => range.append(l));
      const restored = CompactRange.fromJSON(JSON.parse(JSON.stringify(range)));
      expect(restored.toJSON()).to.deep.equal(range.toJSON());
      leaves.slice(37).forEach((l) => restored.append(l));
      expect(toHex(restored.root())).to.equal(toHex(rootFromLeafHashes(leaves)));
      expect(range.size).to.equal(37);
    });

    it('keeps a clone independent of the original', () => {
      const range = new CompactRange();
      leaves.slice(0, 5).forEach((l) => range.append(l));
      const copy = range.clone();
      range.append(leaves[5]);
      expect(copy.size).to.equal(5);
      expect(toHex(copy.root())).to.equal(toHex(rootFromLeafHashes(leaves.slice(0, 5))));
    });

    it('lists its subtrees left to right with their leaf ranges', () => {
      const range = new CompactRange();
      leaves.slice(0, 13).forEach((l) => range.append(l));
      const subtrees = range.subtrees();
      expect(subtrees.map((s) => [s.start, s.end])).to.deep.equal([
        [0, 8],
        [8, 12],
        [12, 13],
      ]);
      for (const s of subtrees) expect(toHex(s.hash)).to.equal(toHex(rootFromLeafHashes(leaves.slice(s.start, s.end))));
    });

    it('rejects a state whose hash count does not match its size, or hashes that are not 32-byte hex', () => {
      const h = toHex(leaves[0]);
      expectCode(() => CompactRange.fromJSON({ size: 3, hashes: [h] }), 'BAD_SIZES');
      expectCode(() => CompactRange.fromJSON({ size: -1, hashes: [] }), 'BAD_SIZES');
      expectCode(() => CompactRange.fromJSON({ size: 1, hashes: [h.slice(2)] }), 'HASH_SIZE');
      expectCode(() => CompactRange.fromJSON({ size: 1, hashes: ['zz' + h.slice(2)] }), 'HASH_SIZE');
    });

    it('rejects a leaf hash that is not 32 bytes', () => {
      expectCode(() => new CompactRange().append(new Uint8Array(31)), 'HASH_SIZE');
    });

    it('appends past 2^33 leaves without 32-bit truncation', () => {
      const [a, b, c] = leaves;
      const range = CompactRange.fromJSON({ size: 2 ** 33 + 1, hashes: [toHex(a), toHex(b)] });
      range.append(c);
      expect(range.size).to.equal(2 ** 33 + 2);
      expect(range.toJSON().hashes).to.deep.equal([toHex(a), toHex(hashChildren(b, c))]);
      expect(toHex(range.root())).to.equal(toHex(hashChildren(a, hashChildren(b, c))));
    });
  });

  describe('consistencyProofForAppend', () => {
    it('equals the full-tree consistency proof for every old size 1..40 and batch 0..24', () => {
      const leaves = leafHashesOf(64);
      for (let m = 1; m <= 40; m++) {
        const old = new CompactRange();
        leaves.slice(0, m).forEach((l) => old.append(l));
        for (let n = m; n <= m + 24; n++) {
          expect(hex(consistencyProofForAppend(old, leaves.slice(m, n))), `${m} to ${n}`).to.deep.equal(
            hex(consistencyProof(leaves.slice(0, n), m)),
          );
        }
      }
    });

    it('throws HASH_SIZE for an appended leaf hash that is not 32 bytes, as the other generators do', () => {
      const range = new CompactRange();
      range.append(leafHashesOf(1)[0]);
      expectCode(() => consistencyProofForAppend(range, [new Uint8Array(33)]), 'HASH_SIZE');
      expectCode(() => consistencyProof([...leafHashesOf(2), new Uint8Array(31)], 1), 'HASH_SIZE');
      expectCode(() => inclusionProof([new Uint8Array(0)], 0), 'HASH_SIZE');
    });

    it('throws BAD_SIZES from an empty log', () => {
      expectCode(() => consistencyProofForAppend(new CompactRange(), leafHashesOf(3)), 'BAD_SIZES');
    });
  });

  describe('size proofs (FORMAT.md §11.4)', () => {
    const data = Array.from({ length: 64 }, (_, i) => nodeSha256(Uint8Array.of(i)));
    const leaves = data.map((d) => hashLeaf(d));
    const cp = (n: number) => ({ treeSize: n, root: rootFromLeafHashes(leaves.slice(0, n)) });

    it('plans the last leaf, then each new left subtree of its path by its leftmost leaf and left edge', () => {
      // 13 → 21: the paths to leaves 12 and 20 part at level 4; below it 20 = 10100b has bit 2 set: subtree [16, 20).
      expect(sizeProofPlan(13, 21)).to.deep.equal([
        { kind: 'leaf', index: 20 },
        { kind: 'leaf', index: 16 },
        { kind: 'subtree', start: 17, end: 18 },
        { kind: 'subtree', start: 18, end: 20 },
      ]);
      // A first checkpoint proves every level: 5 → 100b, the subtree [0, 4).
      expect(sizeProofPlan(0, 5)).to.deep.equal([
        { kind: 'leaf', index: 4 },
        { kind: 'leaf', index: 0 },
        { kind: 'subtree', start: 1, end: 2 },
        { kind: 'subtree', start: 2, end: 4 },
      ]);
      expect(sizeProofPlan(0, 1)).to.deep.equal([{ kind: 'leaf', index: 0 }]);
      // 1000 → 2000 crosses 1024: every set bit of 1999 below 10 (9, 8, 7, 6, 3, 2, 1, 0) is new.
      expect(sizeProofPlan(1000, 2000)).to.have.length(1 + [9, 8, 7, 6, 3, 2, 1, 0].reduce((a, b) => a + b + 1, 0));
    });

    it('holds items at or after the old size only, and sizes beyond 2^32 plan without truncation', () => {
      for (let m = 0; m < 40; m++) {
        for (let n = m + 1; n <= 48; n++) {
          for (const item of sizeProofPlan(m, n))
            expect(item.kind === 'leaf' ? item.index : item.start, `${m} → ${n}`).to.be.at.least(m);
        }
      }
      const big = sizeProofPlan(2 ** 33, 2 ** 33 + 6);
      expect(big[0]).to.deep.equal({ kind: 'leaf', index: 2 ** 33 + 5 });
      expect(big[1]).to.deep.equal({ kind: 'leaf', index: 2 ** 33 + 4 });
    });

    it('verifies every honest checkpoint of n <= 48 leaves after one of m < n', () => {
      for (let n = 1; n <= 48; n++) {
        for (let m = 0; m < n; m++) {
          verifyCheckpointProofs(
            m ? cp(m) : null,
            cp(n),
            m ? consistencyProof(leaves.slice(0, n), m) : [],
            sizeProofForAppend(m, data.slice(m, n)),
          );
        }
      }
    });

    it('throws PROOF_SIZE for a size proof of the wrong length, and for a consistency proof on a first checkpoint', () => {
      expectCode(
        () => verifyCheckpointProofs(null, cp(13), [], sizeProofForAppend(0, data.slice(0, 13)).slice(1)),
        'PROOF_SIZE',
      );
      expectCode(
        () => verifyCheckpointProofs(null, cp(13), [leaves[0]], sizeProofForAppend(0, data.slice(0, 13))),
        'PROOF_SIZE',
      );
    });

    it('throws ROOT_MISMATCH naming the size proof for a root claimed at the wrong size', () => {
      const e = expectCode(
        () =>
          verifyCheckpointProofs(
            cp(4),
            { treeSize: 7, root: cp(6).root },
            consistencyProof(leaves.slice(0, 6), 4),
            sizeProofForAppend(4, data.slice(4, 7)),
          ),
        'ROOT_MISMATCH',
      );
      expect(e.message).to.include('size proof');
    });

    it('throws BAD_SIZES unless the log grows', () => {
      expectCode(() => verifyCheckpointProofs(cp(5), cp(5), [], []), 'BAD_SIZES');
      expectCode(() => sizeProofPlan(5, 5), 'BAD_SIZES');
      expectCode(() => sizeProofForAppend(3, []), 'BAD_SIZES');
    });

    it('throws HASH_SIZE for leaf data that is not 32 bytes', () => {
      expectCode(() => sizeProofForAppend(0, [new Uint8Array(31)]), 'HASH_SIZE');
    });
  });

  describe('in a browser bundle', () => {
    it('bundles with esbuild for the browser and computes the reference root without Node built-ins', async () => {
      const out = await build({
        entryPoints: [require.resolve('../../verifier/src/merkle')],
        bundle: true,
        platform: 'browser',
        format: 'iife',
        globalName: 'merkle',
        write: false,
        logLevel: 'silent',
      });
      const code = `${out.outputFiles[0].text};
        const hx = (s) => Uint8Array.from(s.match(/../g) || [], (b) => parseInt(b, 16));
        const leaves = inputs.map((h) => merkle.hashLeaf(hx(h)));
        Array.from(merkle.rootFromLeafHashes(leaves), (b) => b.toString(16).padStart(2, '0')).join('');`;
      // Only globals every browser has; no require, process or Buffer.
      const root = runInNewContext(code, { inputs: inclusionVectors.leafInputs, TextEncoder, TextDecoder, atob, btoa });
      expect(root).to.equal('5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328');
    });
  });
});
