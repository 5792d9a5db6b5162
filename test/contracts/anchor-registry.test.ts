import hre from 'hardhat';
import { expect } from 'chai';
import type { Contract } from 'ethers';
import type { HardhatEthersSigner } from '@nomicfoundation/hardhat-ethers/signers';
import {
  CompactRange,
  consistencyProofForAppend,
  hashChildren,
  hashLeaf,
  sizeProofForAppend,
} from '../../verifier/src/merkle';
import { MerkleLog } from '../support/merkle-log';

const { ethers } = hre;
const ANHUI = 340000;
const JIANGSU = 320000;
const ZHEJIANG = 330000;

const hx = (b: Uint8Array) => ethers.hexlify(b);
const log = new MerkleLog(70);
const kidOf = (publicKey: string) => ethers.dataSlice(ethers.sha256(publicKey), 0, 8);
const flipBit = (h: string) => ethers.toBeHex(BigInt(h) ^ 1n, 32);
/** A stand-in for the subject heads map root at size n: the contract stores it and checks nothing about it. */
const mapRootAt = (n: number) => ethers.sha256(ethers.toUtf8Bytes(`map root at ${n}`));

async function timestampOf(tx: { wait(): Promise<{ blockNumber: number } | null> }): Promise<number> {
  const receipt = await tx.wait();
  return (await ethers.provider.getBlock(receipt!.blockNumber))!.timestamp;
}

/**
 * The registry's own rules, with a plain account as its governor so that each rule is tested
 * alone; test/contracts/governance.test.ts puts the AnchorCouncil in front of the same functions.
 */
describe('AnchorRegistry', () => {
  let registry: Contract;
  let governor: HardhatEthersSigner;
  let anhuiAnchorer: HardhatEthersSigner;
  let jiangsuAnchorer: HardhatEthersSigner;
  let outsider: HardhatEthersSigner;

  const anchorAs = (
    signer: HardhatEthersSigner,
    issuer: number,
    size: number,
    root: string,
    proof: string[],
    sizeProof: string[],
  ) => registry.connect(signer).getFunction('anchor')(issuer, size, root, mapRootAt(size), proof, sizeProof);
  /** Anchors `n` leaves of `log` for Anhui after a checkpoint of `m` (0: the first), with honest proofs. */
  const anchorAnhui = (m: number, n: number) =>
    anchorAs(anhuiAnchorer, ANHUI, n, log.root(n), log.consistency(m, n), log.sizeProof(m, n));

  beforeEach(async () => {
    [governor, anhuiAnchorer, jiangsuAnchorer, outsider] = await ethers.getSigners();
    registry = await ethers.deployContract('AnchorRegistry', [governor.address]);
    await registry.registerIssuer(ANHUI, '安徽省', 'https://status.example/340000', anhuiAnchorer.address);
    await registry.registerIssuer(JIANGSU, '江苏省', 'https://status.example/320000', jiangsuAnchorer.address);
  });

  describe('governor', () => {
    it('is the account the registry was deployed with', async () => {
      expect(await registry.owner()).to.equal(governor.address);
    });

    it('cannot be the zero address', async () => {
      const factory = await ethers.getContractFactory('AnchorRegistry');
      await expect(factory.deploy(ethers.ZeroAddress))
        .to.be.revertedWithCustomError(registry, 'OwnableInvalidOwner')
        .withArgs(ethers.ZeroAddress);
    });

    describe('when someone other than the governor calls a governed function', () => {
      const calls: Array<[string, (r: Contract) => Promise<unknown>]> = [
        [
          'registerIssuer',
          (r) => r.registerIssuer(ZHEJIANG, '浙江省', 'https://s', ethers.Wallet.createRandom().address),
        ],
        ['setStatusListUrl', (r) => r.setStatusListUrl(ANHUI, 'https://evil')],
        ['setAnchorer', (r) => r.setAnchorer(ANHUI, ethers.Wallet.createRandom().address)],
        ['suspendIssuer', (r) => r.suspendIssuer(ANHUI)],
        ['resumeIssuer', (r) => r.resumeIssuer(ANHUI)],
        ['registerKey', (r) => r.registerKey(ANHUI, kidOf(ethers.ZeroHash), ethers.ZeroHash, 1, 2)],
        ['revokeKey', (r) => r.revokeKey(ANHUI, '0x0102030405060708')],
        ['transferOwnership', (r) => r.transferOwnership(ethers.Wallet.createRandom().address)],
        ['renounceOwnership', (r) => r.renounceOwnership()],
      ];
      for (const [name, call] of calls) {
        it(`${name} reverts with OwnableUnauthorizedAccount for an outsider and for an anchorer`, async () => {
          for (const caller of [outsider, anhuiAnchorer]) {
            await expect(call(registry.connect(caller) as Contract))
              .to.be.revertedWithCustomError(registry, 'OwnableUnauthorizedAccount')
              .withArgs(caller.address);
          }
        });
      }
    });

    it('can never renounce: AnchorRegistryRenounceDisabled', async () => {
      await expect(registry.renounceOwnership()).to.be.revertedWithCustomError(
        registry,
        'AnchorRegistryRenounceDisabled',
      );
      expect(await registry.owner()).to.equal(governor.address);
    });

    it('hands over in two steps: only once the new governor accepts does it govern, and the old one no longer does', async () => {
      await registry.transferOwnership(outsider.address);
      expect(await registry.owner()).to.equal(governor.address);
      await expect(registry.connect(outsider).getFunction('suspendIssuer')(ANHUI))
        .to.be.revertedWithCustomError(registry, 'OwnableUnauthorizedAccount')
        .withArgs(outsider.address);
      await registry.connect(outsider).getFunction('acceptOwnership')();
      expect(await registry.owner()).to.equal(outsider.address);
      await registry.connect(outsider).getFunction('suspendIssuer')(ANHUI);
      await expect(registry.resumeIssuer(ANHUI))
        .to.be.revertedWithCustomError(registry, 'OwnableUnauthorizedAccount')
        .withArgs(governor.address);
    });
  });

  describe('registerIssuer', () => {
    it('lists the issuer with its name, status list URL, anchorer and registration time', async () => {
      const anchorer = ethers.Wallet.createRandom().address;
      const tx = await registry.registerIssuer(ZHEJIANG, '浙江省', 'https://status.example/330000', anchorer);
      const at = await timestampOf(tx);
      await expect(tx)
        .to.emit(registry, 'IssuerRegistered')
        .withArgs(ZHEJIANG, '浙江省', 'https://status.example/330000', anchorer);
      expect(await registry.issuerIds()).to.deep.equal([BigInt(ANHUI), BigInt(JIANGSU), BigInt(ZHEJIANG)]);
      const issuer = await registry.getIssuer(ZHEJIANG);
      expect([
        issuer.name,
        issuer.statusListUrl,
        issuer.anchorer,
        issuer.registeredAt,
        issuer.suspendedAt,
      ]).to.deep.equal(['浙江省', 'https://status.example/330000', anchorer, BigInt(at), 0n]);
    });

    it('reports an unknown issuer as all zeros', async () => {
      const issuer = await registry.getIssuer(ZHEJIANG);
      expect([
        issuer.name,
        issuer.statusListUrl,
        issuer.anchorer,
        issuer.registeredAt,
        issuer.suspendedAt,
      ]).to.deep.equal(['', '', ethers.ZeroAddress, 0n, 0n]);
    });

    for (const code of [0, 99999, 1000000, 4294967295]) {
      it(`reverts with AnchorRegistryBadRegionCode for ${code}`, async () => {
        await expect(registry.registerIssuer(code, 'x', 'https://s', outsider.address))
          .to.be.revertedWithCustomError(registry, 'AnchorRegistryBadRegionCode')
          .withArgs(code);
      });
    }

    it('accepts the bounds of the six-digit range', async () => {
      await registry.registerIssuer(100000, 'low', '', outsider.address);
      await registry.registerIssuer(999999, 'high', '', outsider.address);
      expect((await registry.getIssuer(999999)).registeredAt).to.be.greaterThan(0n);
    });

    it('reverts with AnchorRegistryIssuerExists for a second registration', async () => {
      await expect(registry.registerIssuer(ANHUI, 'again', 'https://s', outsider.address))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryIssuerExists')
        .withArgs(ANHUI);
    });

    it('reverts with AnchorRegistryZeroAnchorer for the zero address', async () => {
      await expect(registry.registerIssuer(ZHEJIANG, 'x', 'https://s', ethers.ZeroAddress))
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

  describe('setAnchorer', () => {
    it('replaces the anchorer: the new one anchors, the old one is refused from then on', async () => {
      await anchorAnhui(0, 13);
      await expect(registry.setAnchorer(ANHUI, outsider.address))
        .to.emit(registry, 'AnchorerChanged')
        .withArgs(ANHUI, anhuiAnchorer.address, outsider.address);
      expect((await registry.getIssuer(ANHUI)).anchorer).to.equal(outsider.address);
      await expect(anchorAnhui(13, 21))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryNotAnchorer')
        .withArgs(ANHUI, anhuiAnchorer.address);
      await expect(anchorAs(outsider, ANHUI, 21, log.root(21), log.consistency(13, 21), log.sizeProof(13, 21)))
        .to.emit(registry, 'CheckpointAnchored')
        .withArgs(ANHUI, 1, 21, log.root(21));
    });

    it('reverts with AnchorRegistryAnchorerUnchanged for the current anchorer', async () => {
      await expect(registry.setAnchorer(ANHUI, anhuiAnchorer.address))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryAnchorerUnchanged')
        .withArgs(ANHUI, anhuiAnchorer.address);
    });

    it('reverts with AnchorRegistryZeroAnchorer for the zero address', async () => {
      await expect(registry.setAnchorer(ANHUI, ethers.ZeroAddress))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryZeroAnchorer')
        .withArgs(ANHUI);
    });

    it('reverts with AnchorRegistryUnknownIssuer for an unregistered issuer', async () => {
      await expect(registry.setAnchorer(ZHEJIANG, outsider.address))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryUnknownIssuer')
        .withArgs(ZHEJIANG);
    });
  });

  describe('suspendIssuer and resumeIssuer', () => {
    beforeEach(async () => {
      await anchorAnhui(0, 13);
    });

    it("records the block time, refuses the issuer's checkpoints while suspended, and takes them again from the last one once resumed", async () => {
      const tx = await registry.suspendIssuer(ANHUI);
      const at = await timestampOf(tx);
      await expect(tx).to.emit(registry, 'IssuerSuspended').withArgs(ANHUI, at);
      expect((await registry.getIssuer(ANHUI)).suspendedAt).to.equal(BigInt(at));
      await expect(anchorAnhui(13, 21))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryIssuerSuspended')
        .withArgs(ANHUI, at);

      const resumed = await registry.resumeIssuer(ANHUI);
      await expect(resumed)
        .to.emit(registry, 'IssuerResumed')
        .withArgs(ANHUI, await timestampOf(resumed));
      expect((await registry.getIssuer(ANHUI)).suspendedAt).to.equal(0n);
      await expect(anchorAnhui(13, 21)).to.emit(registry, 'CheckpointAnchored').withArgs(ANHUI, 1, 21, log.root(21));
    });

    it("keeps a suspended issuer's record, keys, checkpoints and inclusion proofs readable", async () => {
      const publicKey = ethers.keccak256(ethers.toUtf8Bytes('k'));
      await registry.registerKey(ANHUI, kidOf(publicKey), publicKey, 1000, 2000);
      await registry.suspendIssuer(ANHUI);
      expect(await registry.issuerIds()).to.include(BigInt(ANHUI));
      expect(await registry.getKeys(ANHUI)).to.have.length(1);
      expect((await registry.latestCheckpoint(ANHUI)).root).to.equal(log.root(13));
      expect(await registry.verifyInclusion(ANHUI, 0, 5, log.leafHash(5), log.inclusion(5, 13))).to.equal(true);
    });

    it('refuses a stranger with AnchorRegistryNotAnchorer before saying the issuer is suspended', async () => {
      await registry.suspendIssuer(ANHUI);
      await expect(anchorAs(outsider, ANHUI, 21, log.root(21), log.consistency(13, 21), log.sizeProof(13, 21)))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryNotAnchorer')
        .withArgs(ANHUI, outsider.address);
    });

    it('leaves other issuers anchoring', async () => {
      await registry.suspendIssuer(ANHUI);
      await expect(anchorAs(jiangsuAnchorer, JIANGSU, 5, log.root(5), [], log.sizeProof(0, 5))).to.emit(
        registry,
        'CheckpointAnchored',
      );
    });

    it('reverts with AnchorRegistryIssuerSuspended when already suspended, keeping the first time', async () => {
      const at = await timestampOf(await registry.suspendIssuer(ANHUI));
      await expect(registry.suspendIssuer(ANHUI))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryIssuerSuspended')
        .withArgs(ANHUI, at);
    });

    it('reverts with AnchorRegistryIssuerNotSuspended when resuming an issuer that is not suspended', async () => {
      await expect(registry.resumeIssuer(ANHUI))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryIssuerNotSuspended')
        .withArgs(ANHUI);
    });

    it('reverts with AnchorRegistryUnknownIssuer for an unregistered issuer', async () => {
      await expect(registry.suspendIssuer(ZHEJIANG))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryUnknownIssuer')
        .withArgs(ZHEJIANG);
      await expect(registry.resumeIssuer(ZHEJIANG))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryUnknownIssuer')
        .withArgs(ZHEJIANG);
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
      expect([keys[0].kid, keys[0].publicKey, keys[0].notBefore, keys[0].notAfter, keys[0].revokedAt]).to.deep.equal([
        kid,
        publicKey,
        1000n,
        2000n,
        0n,
      ]);
      expect(await registry.getKeys(JIANGSU)).to.have.length(0);
    });

    it('reverts with AnchorRegistryKidMismatch when the kid is not derived from the key', async () => {
      const wrong = kidOf(flipBit(publicKey));
      await expect(registry.registerKey(ANHUI, wrong, publicKey, 1000, 2000))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryKidMismatch')
        .withArgs(wrong, kid);
    });

    it('reverts with AnchorRegistryBadKeyWindow unless notBefore < notAfter', async () => {
      for (const [from, to] of [
        [2000, 2000],
        [2001, 2000],
      ]) {
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
      await expect(registry.getKeys(ZHEJIANG))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryUnknownIssuer')
        .withArgs(ZHEJIANG);
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

  describe('retireKey', () => {
    const publicKey = ethers.keccak256(ethers.toUtf8Bytes('a key about to retire'));
    const kid = kidOf(publicKey);
    const retire = (caller: HardhatEthersSigner, notAfter: number, issuer = ANHUI) =>
      registry.connect(caller).getFunction('retireKey')(issuer, kid, notAfter);
    const window = async () => {
      const [key] = await registry.getKeys(ANHUI);
      return [Number(key.notBefore), Number(key.notAfter)];
    };

    beforeEach(async () => {
      await registry.registerKey(ANHUI, kid, publicKey, 1000, 2000);
    });

    it("lets the issuer's anchorer shorten its key at once, emitting KeyRetired, and again later, never back", async () => {
      await expect(retire(anhuiAnchorer, 1500)).to.emit(registry, 'KeyRetired').withArgs(ANHUI, kid, 1500);
      expect(await window()).to.deep.equal([1000, 1500]);
      await expect(retire(anhuiAnchorer, 1400)).to.emit(registry, 'KeyRetired').withArgs(ANHUI, kid, 1400);
      await expect(retire(anhuiAnchorer, 1500))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryKeyNotShortened')
        .withArgs(ANHUI, kid, 1400, 1500);
      expect(await window()).to.deep.equal([1000, 1400]);
    });

    it('puts the indexed issuer and kid in the topics and the new notAfter in the data', async () => {
      const receipt = await (await retire(anhuiAnchorer, 1500)).wait();
      const [logEntry] = receipt.logs;
      expect(logEntry.topics).to.deep.equal([
        registry.interface.getEvent('KeyRetired')!.topicHash,
        ethers.zeroPadValue(ethers.toBeHex(ANHUI), 32),
        ethers.zeroPadBytes(kid, 32),
      ]);
      expect(logEntry.data).to.equal(ethers.zeroPadValue(ethers.toBeHex(1500), 32));
    });

    it('lets the governor retire it too', async () => {
      await expect(retire(governor, 1200)).to.emit(registry, 'KeyRetired').withArgs(ANHUI, kid, 1200);
      expect(await window()).to.deep.equal([1000, 1200]);
    });

    it('lets the anchorer retire a key while the issuer is suspended: shortening withdraws trust, never grants it', async () => {
      await registry.suspendIssuer(ANHUI);
      await expect(retire(anhuiAnchorer, 1500)).to.emit(registry, 'KeyRetired').withArgs(ANHUI, kid, 1500);
    });

    it("reverts with AnchorRegistryNotAnchorer for a stranger and for another issuer's anchorer, leaving the key as it was", async () => {
      for (const caller of [outsider, jiangsuAnchorer]) {
        await expect(retire(caller, 1500))
          .to.be.revertedWithCustomError(registry, 'AnchorRegistryNotAnchorer')
          .withArgs(ANHUI, caller.address);
      }
      expect(await window()).to.deep.equal([1000, 2000]);
    });

    it('reverts with AnchorRegistryKeyNotShortened for a notAfter later than or equal to the current one', async () => {
      for (const notAfter of [2000, 2001, 2 ** 40]) {
        await expect(retire(anhuiAnchorer, notAfter))
          .to.be.revertedWithCustomError(registry, 'AnchorRegistryKeyNotShortened')
          .withArgs(ANHUI, kid, 2000, notAfter);
      }
      await expect(retire(governor, 2001)).to.be.revertedWithCustomError(registry, 'AnchorRegistryKeyNotShortened');
    });

    it('reverts with AnchorRegistryBadKeyWindow for a notAfter at or below notBefore', async () => {
      for (const notAfter of [1000, 999, 0]) {
        await expect(retire(anhuiAnchorer, notAfter))
          .to.be.revertedWithCustomError(registry, 'AnchorRegistryBadKeyWindow')
          .withArgs(1000, notAfter);
      }
      await expect(retire(anhuiAnchorer, 1001)).to.emit(registry, 'KeyRetired').withArgs(ANHUI, kid, 1001);
    });

    it('reverts with AnchorRegistryKeyAlreadyRevoked for a revoked key, for the anchorer and the governor alike', async () => {
      const at = await timestampOf(await registry.revokeKey(ANHUI, kid));
      for (const caller of [anhuiAnchorer, governor]) {
        await expect(retire(caller, 1500))
          .to.be.revertedWithCustomError(registry, 'AnchorRegistryKeyAlreadyRevoked')
          .withArgs(ANHUI, kid, at);
      }
      expect(await window()).to.deep.equal([1000, 2000]);
    });

    it('reverts with AnchorRegistryUnknownKey for a kid not registered for that issuer, and AnchorRegistryUnknownIssuer for an unregistered issuer', async () => {
      await expect(retire(jiangsuAnchorer, 1500, JIANGSU))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryUnknownKey')
        .withArgs(JIANGSU, kid);
      await expect(retire(governor, 1500, ZHEJIANG))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryUnknownIssuer')
        .withArgs(ZHEJIANG);
    });
  });

  describe('anchor', () => {
    describe('the first checkpoint', () => {
      it('stores size, root and block time and emits CheckpointAnchored with index 0', async () => {
        const tx = await anchorAnhui(0, 13);
        const at = await timestampOf(tx);
        await expect(tx).to.emit(registry, 'CheckpointAnchored').withArgs(ANHUI, 0, 13, log.root(13));
        expect(await registry.checkpointCount(ANHUI)).to.equal(1n);
        const cp = await registry.getCheckpoint(ANHUI, 0);
        expect([cp.treeSize, cp.root, cp.anchoredAt]).to.deep.equal([13n, log.root(13), BigInt(at)]);
        expect((await registry.latestCheckpoint(ANHUI)).root).to.equal(log.root(13));
      });

      it('is accepted for a single leaf, whose size proof is its data', async () => {
        await expect(anchorAs(anhuiAnchorer, ANHUI, 1, log.leafHash(0), [], [log.leafData(0)]))
          .to.emit(registry, 'CheckpointAnchored')
          .withArgs(ANHUI, 0, 1, log.leafHash(0));
      });

      it("reverts with AnchorRegistryNotAnchorer for a stranger, the governor and another issuer's anchorer, with honest proofs", async () => {
        for (const signer of [outsider, governor, jiangsuAnchorer]) {
          await expect(anchorAs(signer, ANHUI, 13, log.root(13), [], log.sizeProof(0, 13)))
            .to.be.revertedWithCustomError(registry, 'AnchorRegistryNotAnchorer')
            .withArgs(ANHUI, signer.address);
        }
        expect(await registry.checkpointCount(ANHUI)).to.equal(0n);
      });

      it('reverts with AnchorRegistryUnexpectedProof when a consistency proof is given', async () => {
        await expect(anchorAs(anhuiAnchorer, ANHUI, 13, log.root(13), [log.root(1)], log.sizeProof(0, 13)))
          .to.be.revertedWithCustomError(registry, 'AnchorRegistryUnexpectedProof')
          .withArgs(ANHUI);
      });

      it('reverts with AnchorRegistryStaleCheckpoint for an empty tree', async () => {
        await expect(anchorAs(anhuiAnchorer, ANHUI, 0, log.root(0), [], []))
          .to.be.revertedWithCustomError(registry, 'AnchorRegistryStaleCheckpoint')
          .withArgs(ANHUI, 0, 0);
      });

      const mangled: Array<[string, (p: string[]) => string[]]> = [
        ['an empty size proof', () => []],
        ['a size proof one hash short', (p) => p.slice(0, -1)],
        ['a size proof one hash too long', (p) => [...p, log.root(13)]],
        ['a flipped bit in the last leaf', (p) => [flipBit(p[0]), ...p.slice(1)]],
        ['a flipped bit in a subtree', (p) => [...p.slice(0, -1), flipBit(p[p.length - 1])]],
        ["the last leaf's hash instead of its data", (p) => [log.leafHash(12), ...p.slice(1)]],
        ['the size proof of another size', () => log.sizeProof(0, 14)],
      ];
      for (const [what, mangle] of mangled) {
        it(`reverts with AnchorRegistryInvalidSizeProof for ${what}`, async () => {
          await expect(anchorAs(anhuiAnchorer, ANHUI, 13, log.root(13), [], mangle(log.sizeProof(0, 13))))
            .to.be.revertedWithCustomError(registry, 'AnchorRegistryInvalidSizeProof')
            .withArgs(ANHUI, 13);
        });
      }
    });

    describe('a later checkpoint', () => {
      beforeEach(async () => {
        await anchorAnhui(0, 13);
      });

      it('is accepted along a chain of sizes with valid proofs, including powers of two', async () => {
        const sizes = [13, 16, 17, 21, 32, 33, 34, 55, 64, 70];
        for (let i = 1; i < sizes.length; i++) {
          await expect(anchorAnhui(sizes[i - 1], sizes[i]))
            .to.emit(registry, 'CheckpointAnchored')
            .withArgs(ANHUI, i, sizes[i], log.root(sizes[i]));
        }
        expect(await registry.checkpointCount(ANHUI)).to.equal(BigInt(sizes.length));
        expect((await registry.getCheckpoint(ANHUI, 4)).treeSize).to.equal(32n);
        expect((await registry.latestCheckpoint(ANHUI)).root).to.equal(log.root(70));
      });

      it('accepts a root and proofs built from the compact range and the appended leaves alone', async () => {
        const range = new CompactRange();
        log.leaves.slice(0, 13).forEach((l) => range.append(l));
        const proof = consistencyProofForAppend(range, log.leaves.slice(13)).map(hx);
        const sizeProof = sizeProofForAppend(13, log.data.slice(13)).map(hx);
        log.leaves.slice(13).forEach((l) => range.append(l));
        await anchorAs(anhuiAnchorer, ANHUI, 70, hx(range.root()), proof, sizeProof);
        expect((await registry.latestCheckpoint(ANHUI)).treeSize).to.equal(70n);
      });

      it('reverts with AnchorRegistryInvalidConsistencyProof for a rewritten history', async () => {
        const forged = new MerkleLog(21);
        forged.data[2] = hashLeaf(ethers.toUtf8Bytes('a different event 2'));
        forged.leaves[2] = hashLeaf(forged.data[2]);
        await expect(
          anchorAs(anhuiAnchorer, ANHUI, 21, forged.root(21), forged.consistency(13, 21), forged.sizeProof(13, 21)),
        )
          .to.be.revertedWithCustomError(registry, 'AnchorRegistryInvalidConsistencyProof')
          .withArgs(ANHUI, 13, 21);
      });

      it('reverts with AnchorRegistryInvalidConsistencyProof for a root the proof does not lead to', async () => {
        await expect(anchorAs(anhuiAnchorer, ANHUI, 21, log.root(20), log.consistency(13, 21), log.sizeProof(13, 21)))
          .to.be.revertedWithCustomError(registry, 'AnchorRegistryInvalidConsistencyProof')
          .withArgs(ANHUI, 13, 21);
      });

      const mangled: Array<[string, (p: string[]) => string[]]> = [
        ['an empty proof', () => []],
        ['a proof one hash short', (p) => p.slice(0, -1)],
        ['a proof one hash too long', (p) => [...p, log.root(21)]],
        ['a flipped bit', (p) => [flipBit(p[0]), ...p.slice(1)]],
        ['swapped hashes', (p) => [p[1], p[0], ...p.slice(2)]],
        ['a proof from another old size', () => log.consistency(12, 21)],
      ];
      for (const [what, mangle] of mangled) {
        it(`reverts with AnchorRegistryInvalidConsistencyProof for ${what}`, async () => {
          await expect(
            anchorAs(anhuiAnchorer, ANHUI, 21, log.root(21), mangle(log.consistency(13, 21)), log.sizeProof(13, 21)),
          )
            .to.be.revertedWithCustomError(registry, 'AnchorRegistryInvalidConsistencyProof')
            .withArgs(ANHUI, 13, 21);
        });
      }

      const mangledSize: Array<[string, (p: string[]) => string[]]> = [
        ['an empty size proof', () => []],
        ['a size proof one hash short', (p) => p.slice(0, -1)],
        ['a flipped bit in the last leaf', (p) => [flipBit(p[0]), ...p.slice(1)]],
        ['a flipped bit in a subtree', (p) => [...p.slice(0, -1), flipBit(p[p.length - 1])]],
        ["the first checkpoint's size proof of that size", () => log.sizeProof(0, 21)],
      ];
      for (const [what, mangle] of mangledSize) {
        it(`reverts with AnchorRegistryInvalidSizeProof for ${what}`, async () => {
          await expect(
            anchorAs(anhuiAnchorer, ANHUI, 21, log.root(21), log.consistency(13, 21), mangle(log.sizeProof(13, 21))),
          )
            .to.be.revertedWithCustomError(registry, 'AnchorRegistryInvalidSizeProof')
            .withArgs(ANHUI, 21);
        });
      }

      it('reverts with AnchorRegistryStaleCheckpoint for a shrinking tree', async () => {
        await expect(anchorAs(anhuiAnchorer, ANHUI, 8, log.root(8), [], log.sizeProof(0, 8)))
          .to.be.revertedWithCustomError(registry, 'AnchorRegistryStaleCheckpoint')
          .withArgs(ANHUI, 13, 8);
      });

      it('reverts with AnchorRegistryStaleCheckpoint for the same size again, even with the same root', async () => {
        await expect(anchorAs(anhuiAnchorer, ANHUI, 13, log.root(13), [], log.sizeProof(0, 13)))
          .to.be.revertedWithCustomError(registry, 'AnchorRegistryStaleCheckpoint')
          .withArgs(ANHUI, 13, 13);
      });

      it("reverts with AnchorRegistryNotAnchorer for an outsider, the governor and another issuer's anchorer", async () => {
        for (const signer of [outsider, governor, jiangsuAnchorer]) {
          await expect(anchorAs(signer, ANHUI, 21, log.root(21), log.consistency(13, 21), log.sizeProof(13, 21)))
            .to.be.revertedWithCustomError(registry, 'AnchorRegistryNotAnchorer')
            .withArgs(ANHUI, signer.address);
        }
      });

      it('keeps each issuer on its own log and index', async () => {
        await expect(anchorAs(jiangsuAnchorer, JIANGSU, 5, log.root(5), [], log.sizeProof(0, 5)))
          .to.emit(registry, 'CheckpointAnchored')
          .withArgs(JIANGSU, 0, 5, log.root(5));
        expect(await registry.checkpointCount(ANHUI)).to.equal(1n);
        expect((await registry.latestCheckpoint(JIANGSU)).treeSize).to.equal(5n);
      });
    });

    it('reverts with AnchorRegistryUnknownIssuer for an unregistered issuer', async () => {
      await expect(anchorAs(anhuiAnchorer, ZHEJIANG, 1, log.leafHash(0), [], [log.leafData(0)]))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryUnknownIssuer')
        .withArgs(ZHEJIANG);
    });
  });

  describe('verifyInclusion', () => {
    beforeEach(async () => {
      await anchorAnhui(0, 13);
      await anchorAnhui(13, 21);
    });

    it('returns true for every leaf of both stored checkpoints', async () => {
      for (const [checkpoint, n] of [
        [0, 13],
        [1, 21],
      ]) {
        for (let i = 0; i < n; i++) {
          expect(
            await registry.verifyInclusion(ANHUI, checkpoint, i, log.leafHash(i), log.inclusion(i, n)),
            `leaf ${i} of ${n}`,
          ).to.equal(true);
        }
      }
    });

    it('returns false for a proof valid for another tree size, since the size comes from storage', async () => {
      expect(await registry.verifyInclusion(ANHUI, 0, 5, log.leafHash(5), log.inclusion(5, 12))).to.equal(false);
      expect(await registry.verifyInclusion(ANHUI, 0, 5, log.leafHash(5), log.inclusion(5, 21))).to.equal(false);
      expect(await registry.verifyInclusion(ANHUI, 1, 12, log.leafHash(12), log.inclusion(12, 13))).to.equal(false);
    });

    it('returns false for an interior node passed off as a leaf with the rest of a real path', async () => {
      // N45 sits at index 2 of level 1; the leaf-4 path minus its first hash leads from it to the real root.
      const n45 = hx(hashChildren(log.leaves[4], log.leaves[5]));
      expect(await registry.verifyInclusion(ANHUI, 0, 2, n45, log.inclusion(4, 13).slice(1))).to.equal(false);
    });

    const wrong: Array<[string, (p: string[]) => [number, string, string[]]]> = [
      ['a flipped bit', (p) => [5, log.leafHash(5), [p[0], flipBit(p[1]), ...p.slice(2)]]],
      ['the wrong leaf', (p) => [5, log.leafHash(6), p]],
      ['the wrong index', (p) => [4, log.leafHash(5), p]],
      ['a proof one hash short', (p) => [5, log.leafHash(5), p.slice(0, -1)]],
      ['a proof one hash too long', (p) => [5, log.leafHash(5), [...p, log.root(13)]]],
      ['an empty proof', () => [5, log.leafHash(5), []]],
    ];
    for (const [what, mangle] of wrong) {
      it(`returns false for ${what}`, async () => {
        const [index, leaf, proof] = mangle(log.inclusion(5, 13));
        expect(await registry.verifyInclusion(ANHUI, 0, index, leaf, proof)).to.equal(false);
      });
    }

    it('reverts with AnchorRegistryLeafIndexOutOfRange for leafIndex >= the stored size', async () => {
      await expect(registry.verifyInclusion(ANHUI, 0, 13, log.leafHash(13), log.inclusion(13, 21)))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryLeafIndexOutOfRange')
        .withArgs(ANHUI, 0, 13, 13);
    });

    it('reverts with AnchorRegistryUnknownCheckpoint for a checkpoint not yet anchored', async () => {
      await expect(registry.verifyInclusion(ANHUI, 2, 0, log.leafHash(0), []))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryUnknownCheckpoint')
        .withArgs(ANHUI, 2);
    });

    it('reverts with AnchorRegistryUnknownIssuer for an unregistered issuer', async () => {
      await expect(registry.verifyInclusion(ZHEJIANG, 0, 0, log.leafHash(0), []))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryUnknownIssuer')
        .withArgs(ZHEJIANG);
    });
  });

  describe('checkpoint views', () => {
    it('revert with AnchorRegistryNoCheckpoint / AnchorRegistryUnknownCheckpoint before anything is anchored', async () => {
      expect(await registry.checkpointCount(ANHUI)).to.equal(0n);
      await expect(registry.latestCheckpoint(ANHUI))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryNoCheckpoint')
        .withArgs(ANHUI);
      await expect(registry.getCheckpoint(ANHUI, 0))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryUnknownCheckpoint')
        .withArgs(ANHUI, 0);
    });

    it('revert with AnchorRegistryUnknownIssuer for an unregistered issuer', async () => {
      const calls = [
        () => registry.checkpointCount(ZHEJIANG),
        () => registry.latestCheckpoint(ZHEJIANG),
        () => registry.getCheckpoint(ZHEJIANG, 0),
      ];
      for (const call of calls) {
        await expect(call()).to.be.revertedWithCustomError(registry, 'AnchorRegistryUnknownIssuer').withArgs(ZHEJIANG);
      }
    });
  });
});
