import hre from 'hardhat';
import { expect } from 'chai';
import fc from 'fast-check';
import { isError, type Contract } from 'ethers';
import type { HardhatEthersSigner } from '@nomicfoundation/hardhat-ethers/signers';
import { fromHex } from '../../verifier/src/bytes';
import {
  hashChildren,
  hashLeaf,
  isMerkleError,
  rootFromInclusionProof,
  verifyCheckpointProofs,
  verifyConsistency,
} from '../../verifier/src/merkle';
import { MerkleLog } from '../support/merkle-log';

const { ethers } = hre;
/** Real tree sizes 1..MAX are anchored; claims go up to CLAIM_MAX, from a longer log with the same first leaves. */
const MAX = 40;
const CLAIM_MAX = 48;
const log = new MerkleLog(CLAIM_MAX);
const FIRST = 600000;
/** The issuer whose last checkpoint has `m` leaves (m = 0: no checkpoint yet). */
const issuerAt = (m: number) => FIRST + m;
const bytes = (hs: string[]) => hs.map((h) => fromHex(h.slice(2)));

type Verdict = 'accepted' | 'AnchorRegistryInvalidSizeProof' | 'AnchorRegistryInvalidConsistencyProof';

/**
 * The review's finding was that `anchor(size + 1, root of size, proof)` got through (14,000 of
 * 54,120 wrong-size claims in a fuzz of sizes 1–40). Here every issuer has anchored a real log
 * of m leaves (m = 0..39), and claims of n' leaves are made with the real root of n leaves and
 * real proofs, those built for n or those built for n' from a longer log.
 */
describe('AnchorRegistry: the tree size is bound to the root', function () {
  this.timeout(300_000);
  let registry: Contract;
  let anchorer: HardhatEthersSigner;

  before(async () => {
    const [governor, a] = await ethers.getSigners();
    anchorer = a;
    registry = await ethers.deployContract('AnchorRegistry', [governor.address]);
    for (let m = 0; m < MAX; m++) {
      await registry.registerIssuer(issuerAt(m), `m=${m}`, '', anchorer.address);
      if (m > 0)
        await registry.connect(anchorer).getFunction('anchor')(
          issuerAt(m),
          m,
          log.root(m),
          ethers.ZeroHash,
          [],
          log.sizeProof(0, m),
        );
    }
  });

  /** The custom error a static call reverted with (Hardhat's in-process node hands back the revert data). */
  function revertName(e: unknown): string | undefined {
    const data = (e as { data?: unknown }).data;
    if (typeof data === 'string' && data.length >= 10) return registry.interface.parseError(data)?.name;
    return isError(e, 'CALL_EXCEPTION') ? e.revert?.name : undefined;
  }

  /** What `anchor` (as a static call) says to the claim, and what the TypeScript reference says. */
  async function claim(
    m: number,
    claimed: number,
    root: string,
    consistency: string[],
    sizeProof: string[],
  ): Promise<{ chain: Verdict; reference: boolean }> {
    let chain: Verdict = 'accepted';
    try {
      await registry
        .connect(anchorer)
        .getFunction('anchor')
        .staticCall(issuerAt(m), claimed, root, ethers.ZeroHash, consistency, sizeProof);
    } catch (e) {
      const name = revertName(e);
      if (name !== 'AnchorRegistryInvalidSizeProof' && name !== 'AnchorRegistryInvalidConsistencyProof') throw e;
      chain = name;
    }
    let reference = true;
    try {
      verifyCheckpointProofs(
        m ? { treeSize: m, root: fromHex(log.root(m).slice(2)) } : null,
        { treeSize: claimed, root: fromHex(root.slice(2)) },
        bytes(consistency),
        bytes(sizeProof),
      );
    } catch (e) {
      if (!isMerkleError(e)) throw e;
      reference = false;
    }
    return { chain, reference };
  }

  it(`accepts every right size: all ${(MAX * (MAX + 1)) / 2} checkpoints of n <= ${MAX} leaves after one of m < n`, async () => {
    for (let n = 1; n <= MAX; n++) {
      for (let m = 0; m < n; m++) {
        const r = await claim(m, n, log.root(n), log.consistency(m, n), log.sizeProof(m, n));
        expect(r, `${m} → ${n}`).to.deep.equal({ chain: 'accepted', reference: true });
      }
    }
  });

  it("refuses size + 1 and size − 1 for every real size up to 40 after every earlier checkpoint (the review's claim), with either size's proofs", async () => {
    let claims = 0;
    for (let n = 1; n <= MAX; n++) {
      for (let m = 0; m < n; m++) {
        for (const wrong of [n + 1, n - 1]) {
          if (wrong <= m) continue;
          for (const [consistency, size] of [
            [log.consistency(m, n), log.sizeProof(m, n)],
            [log.consistency(m, wrong), log.sizeProof(m, wrong)],
          ]) {
            const r = await claim(m, wrong, log.root(n), consistency, size);
            expect(r.chain, `${wrong} leaves claimed for the root of ${n}, after ${m}`).to.not.equal('accepted');
            expect(r.reference, `the reference on ${wrong} for ${n} after ${m}`).to.equal(false);
            claims++;
          }
        }
      }
    }
    expect(claims).to.be.greaterThan(3000);
  });

  it('refuses every wrong size fast-check tries: real roots, real proofs of either size, or the two mixed', async () => {
    let claims = 0;
    await fc.assert(
      fc.asyncProperty(
        fc
          .record({
            m: fc.integer({ min: 0, max: MAX - 1 }),
            n: fc.integer({ min: 1, max: MAX }),
            claimed: fc.integer({ min: 1, max: CLAIM_MAX }),
            proofs: fc.constantFrom('real', 'claimed', 'mixed-1', 'mixed-2'),
          })
          .filter(({ m, n, claimed }) => m < n && m < claimed && claimed !== n),
        async ({ m, n, claimed, proofs }) => {
          const real = [log.consistency(m, n), log.sizeProof(m, n)];
          const forClaimed = [log.consistency(m, claimed), log.sizeProof(m, claimed)];
          const [consistency, size] = {
            real,
            claimed: forClaimed,
            'mixed-1': [real[0], forClaimed[1]],
            'mixed-2': [forClaimed[0], real[1]],
          }[proofs];
          const r = await claim(m, claimed, log.root(n), consistency, size);
          claims++;
          return r.chain !== 'accepted' && r.reference === false;
        },
      ),
      { numRuns: 3000, seed: 20261130 },
    );
    expect(claims).to.equal(3000);
  });

  describe('what the RFC 9162 proofs alone let through', () => {
    it('an inclusion proof of the last leaf at index size − 1 would let 443 of 1,880 wrong sizes through (real sizes 1–40, claims 1–48)', () => {
      let accepted = 0;
      let claims = 0;
      for (let n = 1; n <= MAX; n++) {
        const lastLeafPath = bytes(log.inclusion(n - 1, n));
        for (let claimed = 1; claimed <= CLAIM_MAX; claimed++) {
          if (claimed === n) continue;
          claims++;
          try {
            if (
              ethers.hexlify(rootFromInclusionProof(log.leaves[n - 1], claimed - 1, claimed, lastLeafPath)) ===
              log.root(n)
            )
              accepted++;
          } catch (e) {
            if (!isMerkleError(e)) throw e;
          }
        }
      }
      expect([accepted, claims]).to.deep.equal([443, 1880]);
    });

    it('an inclusion proof of the last leaf does not bind: [hash(0, 1)] leads from leaf 2 to the root of 3 at index 4 of 5, but the size proof refuses 5', async () => {
      const n01 = hashChildren(log.leaves[0], log.leaves[1]);
      const naive = rootFromInclusionProof(log.leaves[2], 4, 5, [n01]);
      expect(ethers.hexlify(naive)).to.equal(log.root(3));
      // The size proof for 5 asks for the height of the subtree left of the last leaf: two levels down to a leaf.
      const attempts = [
        [log.leafData(2), log.leafData(0), log.leafHash(1), log.leafHash(2)],
        [log.leafData(2), log.leafData(0), log.leafHash(1), ethers.hexlify(hashChildren(log.leaves[2], log.leaves[2]))],
        log.sizeProof(0, 5),
      ];
      for (const sizeProof of attempts) {
        await expect(
          registry
            .connect(anchorer)
            .getFunction('anchor')
            .staticCall(issuerAt(0), 5, log.root(3), ethers.ZeroHash, [], sizeProof),
        )
          .to.be.revertedWithCustomError(registry, 'AnchorRegistryInvalidSizeProof')
          .withArgs(issuerAt(0), 5);
      }
    });

    it('a consistency proof does not bind: 4 → 7 checks with the proof of 4 → 6 and the root of 6, but anchoring 7 is refused', async () => {
      verifyConsistency(
        4,
        7,
        fromHex(log.root(4).slice(2)),
        fromHex(log.root(6).slice(2)),
        bytes(log.consistency(4, 6)),
      );
      await expect(
        registry
          .connect(anchorer)
          .getFunction('anchor')
          .staticCall(issuerAt(4), 7, log.root(6), ethers.ZeroHash, log.consistency(4, 6), log.sizeProof(4, 7)),
      )
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryInvalidSizeProof')
        .withArgs(issuerAt(4), 7);
    });

    it('an interior node cannot stand in for a leaf: the size proof takes leaf data and hashes it with 0x00', async () => {
      // The root of 2 leaves is hash(L0, L1): claimed as one leaf, its "data" would have to hash to it.
      const n01 = ethers.hexlify(hashChildren(log.leaves[0], log.leaves[1]));
      await expect(
        registry.connect(anchorer).getFunction('anchor').staticCall(issuerAt(0), 1, n01, ethers.ZeroHash, [], [n01]),
      )
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryInvalidSizeProof')
        .withArgs(issuerAt(0), 1);
      expect(ethers.hexlify(hashLeaf(fromHex(n01.slice(2))))).to.not.equal(n01);
    });
  });
});
