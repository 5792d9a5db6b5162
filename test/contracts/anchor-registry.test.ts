import hre from 'hardhat';
import { expect } from 'chai';
import type { Contract } from 'ethers';
import type { HardhatEthersSigner } from '@nomicfoundation/hardhat-ethers/signers';
import { CompactRange, consistencyProof, consistencyProofForAppend, hashChildren, hashLeaf, inclusionProof, rootFromLeafHashes } from '../../verifier/src/merkle';

const { ethers } = hre;
const ANHUI = 340000;
const JIANGSU = 320000;
const ZHEJIANG = 330000;

const hx = (b: Uint8Array) => ethers.hexlify(b);
const leaves = Array.from({ length: 70 }, (_, i) => hashLeaf(ethers.toUtf8Bytes(`event ${i}`)));
const rootOf = (n: number, from = leaves) => hx(rootFromLeafHashes(from.slice(0, n)));
const proofFrom = (m: number, n: number, from = leaves) => consistencyProof(from.slice(0, n), m).map(hx);
const kidOf = (publicKey: string) => ethers.dataSlice(ethers.sha256(publicKey), 0, 8);
const flipBit = (h: string) => ethers.toBeHex(BigInt(h) ^ 1n, 32);

async function timestampOf(tx: { wait(): Promise<{ blockNumber: number } | null> }): Promise<number> {
  const receipt = await tx.wait();
  return (await ethers.provider.getBlock(receipt!.blockNumber))!.timestamp;
}

describe('AnchorRegistry', () => {
  let registry: Contract;
  let governor: HardhatEthersSigner;
  let anhuiAnchorer: HardhatEthersSigner;
  let jiangsuAnchorer: HardhatEthersSigner;
  let outsider: HardhatEthersSigner;
  let GOVERNOR_ROLE: string;

  beforeEach(async () => {
    [governor, anhuiAnchorer, jiangsuAnchorer, outsider] = await ethers.getSigners();
    registry = await ethers.deployContract('AnchorRegistry');
    GOVERNOR_ROLE = await registry.GOVERNOR_ROLE();
    await registry.registerIssuer(ANHUI, '安徽省', 'https://status.example/340000', [anhuiAnchorer.address]);
    await registry.registerIssuer(JIANGSU, '江苏省', 'https://status.example/320000', [jiangsuAnchorer.address]);
  });

  describe('roles', () => {
    it('makes the deployer governor and admin of the governor role', async () => {
      expect(await registry.hasRole(GOVERNOR_ROLE, governor.address)).to.equal(true);
      expect(await registry.hasRole(ethers.ZeroHash, governor.address)).to.equal(true);
      expect(await registry.hasRole(GOVERNOR_ROLE, outsider.address)).to.equal(false);
    });

    it('derives the anchorer role as keccak256(abi.encode("ANCHORER", issuer)), administered by the governor role', async () => {
      const expected = ethers.keccak256(ethers.AbiCoder.defaultAbiCoder().encode(['string', 'uint32'], ['ANCHORER', ANHUI]));
      expect(await registry.anchorerRole(ANHUI)).to.equal(expected);
      expect(await registry.getRoleAdmin(expected)).to.equal(GOVERNOR_ROLE);
      expect(await registry.hasRole(expected, anhuiAnchorer.address)).to.equal(true);
      expect(await registry.hasRole(expected, jiangsuAnchorer.address)).to.equal(false);
    });

    describe('when someone other than a governor calls a governor function', () => {
      const calls: Array<[string, (r: Contract) => Promise<unknown>]> = [
        ['registerIssuer', (r) => r.registerIssuer(ZHEJIANG, '浙江省', 'https://s', [])],
        ['setStatusListUrl', (r) => r.setStatusListUrl(ANHUI, 'https://evil')],
        ['addAnchorer', (r) => r.addAnchorer(ANHUI, ethers.Wallet.createRandom().address)],
        ['removeAnchorer', (r) => r.removeAnchorer(ANHUI, ethers.Wallet.createRandom().address)],
        ['registerKey', (r) => r.registerKey(ANHUI, kidOf(ethers.ZeroHash), ethers.ZeroHash, 1, 2)],
        ['revokeKey', (r) => r.revokeKey(ANHUI, '0x0102030405060708')],
      ];
      for (const [name, call] of calls) {
        it(`${name} reverts with AccessControlUnauthorizedAccount for an outsider and for an anchorer`, async () => {
          for (const caller of [outsider, anhuiAnchorer]) {
            await expect(call(registry.connect(caller) as Contract))
              .to.be.revertedWithCustomError(registry, 'AccessControlUnauthorizedAccount')
              .withArgs(caller.address, GOVERNOR_ROLE);
          }
        });
      }
    });
  });

  describe('registerIssuer', () => {
    it('lists the issuer with its name and status list URL and appoints its anchorers', async () => {
      const [a, b] = [ethers.Wallet.createRandom().address, ethers.Wallet.createRandom().address];
      await expect(registry.registerIssuer(ZHEJIANG, '浙江省', 'https://status.example/330000', [a, b]))
        .to.emit(registry, 'IssuerRegistered')
        .withArgs(ZHEJIANG, '浙江省', 'https://status.example/330000')
        .and.to.emit(registry, 'AnchorerAdded')
        .withArgs(ZHEJIANG, b);
      expect(await registry.issuerIds()).to.deep.equal([BigInt(ANHUI), BigInt(JIANGSU), BigInt(ZHEJIANG)]);
      const issuer = await registry.getIssuer(ZHEJIANG);
      expect([issuer.name, issuer.statusListUrl, issuer.registered]).to.deep.equal(['浙江省', 'https://status.example/330000', true]);
      const role = await registry.anchorerRole(ZHEJIANG);
      expect(await registry.hasRole(role, a)).to.equal(true);
      expect(await registry.hasRole(role, b)).to.equal(true);
    });

    it('reports an unknown issuer as not registered', async () => {
      const issuer = await registry.getIssuer(ZHEJIANG);
      expect([issuer.name, issuer.statusListUrl, issuer.registered]).to.deep.equal(['', '', false]);
    });

    for (const code of [0, 99999, 1000000, 4294967295]) {
      it(`reverts with AnchorRegistryBadRegionCode for ${code}`, async () => {
        await expect(registry.registerIssuer(code, 'x', 'https://s', []))
          .to.be.revertedWithCustomError(registry, 'AnchorRegistryBadRegionCode')
          .withArgs(code);
      });
    }

    it('accepts the bounds of the six-digit range', async () => {
      await registry.registerIssuer(100000, 'low', '', []);
      await registry.registerIssuer(999999, 'high', '', []);
      expect((await registry.getIssuer(999999)).registered).to.equal(true);
    });

    it('reverts with AnchorRegistryIssuerExists for a second registration', async () => {
      await expect(registry.registerIssuer(ANHUI, 'again', 'https://s', []))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryIssuerExists')
        .withArgs(ANHUI);
    });

    it('reverts with AnchorRegistryZeroAnchorer for the zero address', async () => {
      await expect(registry.registerIssuer(ZHEJIANG, 'x', 'https://s', [ethers.ZeroAddress]))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryZeroAnchorer')
        .withArgs(ZHEJIANG);
    });
  });

  describe('setStatusListUrl', () => {
    it('changes the URL and emits StatusListUrlChanged', async () => {
      await expect(registry.setStatusListUrl(ANHUI, 'https://new.example/340000'))
        .to.emit(registry, 'StatusListUrlChanged')
        .withArgs(ANHUI, 'https://new.example/340000');
      expect((await registry.getIssuer(ANHUI)).statusListUrl).to.equal('https://new.example/340000');
    });

    it('reverts with AnchorRegistryUnknownIssuer for an unregistered issuer', async () => {
      await expect(registry.setStatusListUrl(ZHEJIANG, 'https://s'))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryUnknownIssuer')
        .withArgs(ZHEJIANG);
    });
  });

  describe('addAnchorer and removeAnchorer', () => {
    it('lets an added anchorer anchor, and stops a removed one', async () => {
      await expect(registry.addAnchorer(ANHUI, outsider.address)).to.emit(registry, 'AnchorerAdded').withArgs(ANHUI, outsider.address);
      await registry.connect(outsider).getFunction('anchor')(ANHUI, 1, rootOf(1), []);
      await expect(registry.removeAnchorer(ANHUI, outsider.address)).to.emit(registry, 'AnchorerRemoved').withArgs(ANHUI, outsider.address);
      await expect(registry.connect(outsider).getFunction('anchor')(ANHUI, 2, rootOf(2), proofFrom(1, 2)))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryNotAnchorer')
        .withArgs(ANHUI, outsider.address);
    });

    it('emits nothing when adding an existing anchorer or removing a non-anchorer', async () => {
      await expect(registry.addAnchorer(ANHUI, anhuiAnchorer.address)).not.to.emit(registry, 'AnchorerAdded');
      await expect(registry.removeAnchorer(ANHUI, outsider.address)).not.to.emit(registry, 'AnchorerRemoved');
    });

    it('reverts with AnchorRegistryUnknownIssuer for an unregistered issuer', async () => {
      await expect(registry.addAnchorer(ZHEJIANG, outsider.address))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryUnknownIssuer')
        .withArgs(ZHEJIANG);
      await expect(registry.removeAnchorer(ZHEJIANG, outsider.address))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryUnknownIssuer')
        .withArgs(ZHEJIANG);
    });

    it('reverts with AnchorRegistryZeroAnchorer for the zero address', async () => {
      await expect(registry.addAnchorer(ANHUI, ethers.ZeroAddress))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryZeroAnchorer')
        .withArgs(ANHUI);
    });
  });

  describe('keys', () => {
    const publicKey = ethers.keccak256(ethers.toUtf8Bytes('an Ed25519 public key'));
    const kid = kidOf(publicKey);

    it('registers a key whose kid is the first 8 bytes of SHA-256 of the public key', async () => {
      await expect(registry.registerKey(ANHUI, kid, publicKey, 1000, 2000))
        .to.emit(registry, 'KeyRegistered')
        .withArgs(ANHUI, kid, publicKey, 1000, 2000);
      const keys = await registry.getKeys(ANHUI);
      expect(keys).to.have.length(1);
      expect([keys[0].kid, keys[0].publicKey, keys[0].notBefore, keys[0].notAfter, keys[0].revokedAt]).to.deep.equal([kid, publicKey, 1000n, 2000n, 0n]);
      expect(await registry.getKeys(JIANGSU)).to.have.length(0);
    });

    it('reverts with AnchorRegistryKidMismatch when the kid is not derived from the key', async () => {
      const wrong = kidOf(flipBit(publicKey));
      await expect(registry.registerKey(ANHUI, wrong, publicKey, 1000, 2000))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryKidMismatch')
        .withArgs(wrong, kid);
    });

    it('reverts with AnchorRegistryBadKeyWindow unless notBefore < notAfter', async () => {
      for (const [from, to] of [[2000, 2000], [2001, 2000]]) {
        await expect(registry.registerKey(ANHUI, kid, publicKey, from, to))
          .to.be.revertedWithCustomError(registry, 'AnchorRegistryBadKeyWindow')
          .withArgs(from, to);
      }
    });

    it('reverts with AnchorRegistryKeyExists for a kid already registered for that issuer only', async () => {
      await registry.registerKey(ANHUI, kid, publicKey, 1000, 2000);
      await expect(registry.registerKey(ANHUI, kid, publicKey, 3000, 4000))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryKeyExists')
        .withArgs(ANHUI, kid);
      await registry.registerKey(JIANGSU, kid, publicKey, 1000, 2000);
    });

    it('reverts with AnchorRegistryUnknownIssuer for an unregistered issuer', async () => {
      await expect(registry.registerKey(ZHEJIANG, kid, publicKey, 1000, 2000))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryUnknownIssuer')
        .withArgs(ZHEJIANG);
      await expect(registry.getKeys(ZHEJIANG)).to.be.revertedWithCustomError(registry, 'AnchorRegistryUnknownIssuer').withArgs(ZHEJIANG);
    });

    describe('revokeKey', () => {
      beforeEach(async () => {
        await registry.registerKey(ANHUI, kid, publicKey, 1000, 2000);
      });

      it('records the block time as revokedAt and keeps the key listed', async () => {
        const tx = await registry.revokeKey(ANHUI, kid);
        const at = await timestampOf(tx);
        await expect(tx).to.emit(registry, 'KeyRevoked').withArgs(ANHUI, kid, at);
        const [key] = await registry.getKeys(ANHUI);
        expect(key.revokedAt).to.equal(BigInt(at));
        expect(key.publicKey).to.equal(publicKey);
      });

      it('reverts with AnchorRegistryKeyAlreadyRevoked for a revoked key, keeping the first revocation time', async () => {
        const at = await timestampOf(await registry.revokeKey(ANHUI, kid));
        await expect(registry.revokeKey(ANHUI, kid))
          .to.be.revertedWithCustomError(registry, 'AnchorRegistryKeyAlreadyRevoked')
          .withArgs(ANHUI, kid, at);
      });

      it('never lets a revoked kid be registered again', async () => {
        await registry.revokeKey(ANHUI, kid);
        await expect(registry.registerKey(ANHUI, kid, publicKey, 3000, 4000))
          .to.be.revertedWithCustomError(registry, 'AnchorRegistryKeyExists')
          .withArgs(ANHUI, kid);
      });

      it('reverts with AnchorRegistryUnknownKey for a kid not registered for that issuer', async () => {
        await expect(registry.revokeKey(JIANGSU, kid))
          .to.be.revertedWithCustomError(registry, 'AnchorRegistryUnknownKey')
          .withArgs(JIANGSU, kid);
      });

      it('reverts with AnchorRegistryUnknownIssuer for an unregistered issuer', async () => {
        await expect(registry.revokeKey(ZHEJIANG, kid))
          .to.be.revertedWithCustomError(registry, 'AnchorRegistryUnknownIssuer')
          .withArgs(ZHEJIANG);
      });
    });
  });

  describe('anchor', () => {
    const anchorAs = (signer: HardhatEthersSigner, issuer: number, size: number, root: string, proof: string[]) =>
      registry.connect(signer).getFunction('anchor')(issuer, size, root, proof);
    const anchorAnhui = (size: number, root: string, proof: string[]) => anchorAs(anhuiAnchorer, ANHUI, size, root, proof);

    describe('the first checkpoint', () => {
      it('stores size, root and block time and emits CheckpointAnchored with index 0', async () => {
        const tx = await anchorAnhui(13, rootOf(13), []);
        const at = await timestampOf(tx);
        await expect(tx).to.emit(registry, 'CheckpointAnchored').withArgs(ANHUI, 0, 13, rootOf(13));
        expect(await registry.checkpointCount(ANHUI)).to.equal(1n);
        const cp = await registry.getCheckpoint(ANHUI, 0);
        expect([cp.treeSize, cp.root, cp.anchoredAt]).to.deep.equal([13n, rootOf(13), BigInt(at)]);
        expect((await registry.latestCheckpoint(ANHUI)).root).to.equal(rootOf(13));
      });

      it('reverts with AnchorRegistryUnexpectedProof when a proof is given', async () => {
        await expect(anchorAnhui(13, rootOf(13), [rootOf(1)]))
          .to.be.revertedWithCustomError(registry, 'AnchorRegistryUnexpectedProof')
          .withArgs(ANHUI);
      });

      it('reverts with AnchorRegistryStaleCheckpoint for an empty tree', async () => {
        await expect(anchorAnhui(0, rootOf(0), []))
          .to.be.revertedWithCustomError(registry, 'AnchorRegistryStaleCheckpoint')
          .withArgs(ANHUI, 0, 0);
      });
    });

    describe('a later checkpoint', () => {
      beforeEach(async () => {
        await anchorAnhui(13, rootOf(13), []);
      });

      it('is accepted along a chain of sizes with valid consistency proofs, including powers of two', async () => {
        const sizes = [13, 16, 17, 21, 32, 33, 34, 55, 64, 70];
        for (let i = 1; i < sizes.length; i++) {
          await expect(anchorAnhui(sizes[i], rootOf(sizes[i]), proofFrom(sizes[i - 1], sizes[i])))
            .to.emit(registry, 'CheckpointAnchored')
            .withArgs(ANHUI, i, sizes[i], rootOf(sizes[i]));
        }
        expect(await registry.checkpointCount(ANHUI)).to.equal(BigInt(sizes.length));
        expect((await registry.getCheckpoint(ANHUI, 4)).treeSize).to.equal(32n);
        expect((await registry.latestCheckpoint(ANHUI)).root).to.equal(rootOf(70));
      });

      it('accepts a root and proof built from the compact range and the appended leaves alone', async () => {
        const range = new CompactRange();
        leaves.slice(0, 13).forEach((l) => range.append(l));
        const proof = consistencyProofForAppend(range, leaves.slice(13)).map(hx);
        leaves.slice(13).forEach((l) => range.append(l));
        await anchorAnhui(70, hx(range.root()), proof);
        expect((await registry.latestCheckpoint(ANHUI)).treeSize).to.equal(70n);
      });

      it('reverts with AnchorRegistryInvalidConsistencyProof for a rewritten history', async () => {
        const forged = [...leaves];
        forged[2] = hashLeaf(ethers.toUtf8Bytes('a different event 2'));
        await expect(anchorAnhui(21, rootOf(21, forged), proofFrom(13, 21, forged)))
          .to.be.revertedWithCustomError(registry, 'AnchorRegistryInvalidConsistencyProof')
          .withArgs(ANHUI, 13, 21);
      });

      it('reverts with AnchorRegistryInvalidConsistencyProof for a root the proof does not lead to', async () => {
        await expect(anchorAnhui(21, rootOf(20), proofFrom(13, 21)))
          .to.be.revertedWithCustomError(registry, 'AnchorRegistryInvalidConsistencyProof')
          .withArgs(ANHUI, 13, 21);
      });

      const mangled: Array<[string, (p: string[]) => string[]]> = [
        ['an empty proof', () => []],
        ['a proof one hash short', (p) => p.slice(0, -1)],
        ['a proof one hash too long', (p) => [...p, rootOf(21)]],
        ['a flipped bit', (p) => [flipBit(p[0]), ...p.slice(1)]],
        ['swapped hashes', (p) => [p[1], p[0], ...p.slice(2)]],
        ['a proof from another old size', () => proofFrom(12, 21)],
      ];
      for (const [what, mangle] of mangled) {
        it(`reverts with AnchorRegistryInvalidConsistencyProof for ${what}`, async () => {
          await expect(anchorAnhui(21, rootOf(21), mangle(proofFrom(13, 21))))
            .to.be.revertedWithCustomError(registry, 'AnchorRegistryInvalidConsistencyProof')
            .withArgs(ANHUI, 13, 21);
        });
      }

      it('reverts with AnchorRegistryInvalidConsistencyProof for a proof too short for the claimed size, though both roots match', async () => {
        const anchor = registry.connect(jiangsuAnchorer).getFunction('anchor');
        await anchor(JIANGSU, 2, rootOf(2), []);
        await expect(anchor(JIANGSU, 5, rootOf(4), proofFrom(2, 4)))
          .to.be.revertedWithCustomError(registry, 'AnchorRegistryInvalidConsistencyProof')
          .withArgs(JIANGSU, 2, 5);
      });

      it('reverts with AnchorRegistryStaleCheckpoint for a shrinking tree', async () => {
        await expect(anchorAnhui(8, rootOf(8), []))
          .to.be.revertedWithCustomError(registry, 'AnchorRegistryStaleCheckpoint')
          .withArgs(ANHUI, 13, 8);
      });

      it('reverts with AnchorRegistryStaleCheckpoint for the same size again, even with the same root', async () => {
        await expect(anchorAnhui(13, rootOf(13), []))
          .to.be.revertedWithCustomError(registry, 'AnchorRegistryStaleCheckpoint')
          .withArgs(ANHUI, 13, 13);
      });

      it("reverts with AnchorRegistryNotAnchorer for an outsider, the governor and another issuer's anchorer", async () => {
        for (const signer of [outsider, governor, jiangsuAnchorer]) {
          await expect(anchorAs(signer, ANHUI, 21, rootOf(21), proofFrom(13, 21)))
            .to.be.revertedWithCustomError(registry, 'AnchorRegistryNotAnchorer')
            .withArgs(ANHUI, signer.address);
        }
      });

      it('keeps each issuer on its own log and index', async () => {
        await expect(anchorAs(jiangsuAnchorer, JIANGSU, 5, rootOf(5), []))
          .to.emit(registry, 'CheckpointAnchored')
          .withArgs(JIANGSU, 0, 5, rootOf(5));
        expect(await registry.checkpointCount(ANHUI)).to.equal(1n);
        expect((await registry.latestCheckpoint(JIANGSU)).treeSize).to.equal(5n);
      });
    });

    it('reverts with AnchorRegistryUnknownIssuer for an unregistered issuer', async () => {
      await expect(anchorAs(anhuiAnchorer, ZHEJIANG, 1, rootOf(1), []))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryUnknownIssuer')
        .withArgs(ZHEJIANG);
    });

    it('agrees with merkle.ts on every pair of sizes 1 <= m < n <= 24', async () => {
      for (let m = 1; m < 24; m++) {
        const issuer = 500000 + m;
        await registry.registerIssuer(issuer, `t${m}`, '', [anhuiAnchorer.address]);
        await anchorAs(anhuiAnchorer, issuer, m, rootOf(m), []);
        const anchor = registry.connect(anhuiAnchorer).getFunction('anchor');
        for (let n = m + 1; n <= 24; n++) {
          await anchor.staticCall(issuer, n, rootOf(n), proofFrom(m, n));
          await expect(anchor.staticCall(issuer, n, rootOf(n - 1), proofFrom(m, n)), `${m} to ${n}`)
            .to.be.revertedWithCustomError(registry, 'AnchorRegistryInvalidConsistencyProof')
            .withArgs(issuer, m, n);
        }
      }
    });
  });

  describe('verifyInclusion', () => {
    beforeEach(async () => {
      const anchor = registry.connect(anhuiAnchorer).getFunction('anchor');
      await anchor(ANHUI, 13, rootOf(13), []);
      await anchor(ANHUI, 21, rootOf(21), proofFrom(13, 21));
    });
    const proofOf = (i: number, n: number) => inclusionProof(leaves.slice(0, n), i).map(hx);

    it('returns true for every leaf of both stored checkpoints', async () => {
      for (const [checkpoint, n] of [[0, 13], [1, 21]]) {
        for (let i = 0; i < n; i++) {
          expect(await registry.verifyInclusion(ANHUI, checkpoint, i, hx(leaves[i]), proofOf(i, n)), `leaf ${i} of ${n}`).to.equal(true);
        }
      }
    });

    it('returns false for a proof valid for another tree size, since the size comes from storage', async () => {
      expect(await registry.verifyInclusion(ANHUI, 0, 5, hx(leaves[5]), proofOf(5, 12))).to.equal(false);
      expect(await registry.verifyInclusion(ANHUI, 0, 5, hx(leaves[5]), proofOf(5, 21))).to.equal(false);
      expect(await registry.verifyInclusion(ANHUI, 1, 12, hx(leaves[12]), proofOf(12, 13))).to.equal(false);
    });

    it('returns false for an interior node passed off as a leaf with the rest of a real path', async () => {
      // N45 sits at index 2 of level 1; the leaf-4 path minus its first hash leads from it to the real root.
      const n45 = hx(hashChildren(leaves[4], leaves[5]));
      expect(await registry.verifyInclusion(ANHUI, 0, 2, n45, proofOf(4, 13).slice(1))).to.equal(false);
    });

    const wrong: Array<[string, (p: string[]) => [number, string, string[]]]> = [
      ['a flipped bit', (p) => [5, hx(leaves[5]), [p[0], flipBit(p[1]), ...p.slice(2)]]],
      ['the wrong leaf', (p) => [5, hx(leaves[6]), p]],
      ['the wrong index', (p) => [4, hx(leaves[5]), p]],
      ['a proof one hash short', (p) => [5, hx(leaves[5]), p.slice(0, -1)]],
      ['a proof one hash too long', (p) => [5, hx(leaves[5]), [...p, rootOf(13)]]],
      ['an empty proof', () => [5, hx(leaves[5]), []]],
    ];
    for (const [what, mangle] of wrong) {
      it(`returns false for ${what}`, async () => {
        const [index, leaf, proof] = mangle(proofOf(5, 13));
        expect(await registry.verifyInclusion(ANHUI, 0, index, leaf, proof)).to.equal(false);
      });
    }

    it('reverts with AnchorRegistryLeafIndexOutOfRange for leafIndex >= the stored size', async () => {
      await expect(registry.verifyInclusion(ANHUI, 0, 13, hx(leaves[13]), proofOf(13, 21)))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryLeafIndexOutOfRange')
        .withArgs(ANHUI, 0, 13, 13);
    });

    it('reverts with AnchorRegistryUnknownCheckpoint for a checkpoint not yet anchored', async () => {
      await expect(registry.verifyInclusion(ANHUI, 2, 0, hx(leaves[0]), []))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryUnknownCheckpoint')
        .withArgs(ANHUI, 2);
    });

    it('reverts with AnchorRegistryUnknownIssuer for an unregistered issuer', async () => {
      await expect(registry.verifyInclusion(ZHEJIANG, 0, 0, hx(leaves[0]), []))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryUnknownIssuer')
        .withArgs(ZHEJIANG);
    });
  });

  describe('checkpoint views', () => {
    it('revert with AnchorRegistryNoCheckpoint / AnchorRegistryUnknownCheckpoint before anything is anchored', async () => {
      expect(await registry.checkpointCount(ANHUI)).to.equal(0n);
      await expect(registry.latestCheckpoint(ANHUI)).to.be.revertedWithCustomError(registry, 'AnchorRegistryNoCheckpoint').withArgs(ANHUI);
      await expect(registry.getCheckpoint(ANHUI, 0)).to.be.revertedWithCustomError(registry, 'AnchorRegistryUnknownCheckpoint').withArgs(ANHUI, 0);
    });

    it('revert with AnchorRegistryUnknownIssuer for an unregistered issuer', async () => {
      const calls = [() => registry.checkpointCount(ZHEJIANG), () => registry.latestCheckpoint(ZHEJIANG), () => registry.getCheckpoint(ZHEJIANG, 0)];
      for (const call of calls) {
        await expect(call()).to.be.revertedWithCustomError(registry, 'AnchorRegistryUnknownIssuer').withArgs(ZHEJIANG);
      }
    });
  });
});
