import hre from 'hardhat';
import { expect } from 'chai';
import type { Contract } from 'ethers';
import type { HardhatEthersSigner } from '@nomicfoundation/hardhat-ethers/signers';
import { MerkleLog } from '../support/merkle-log';

const { ethers } = hre;
const ANHUI = 340000;
const JIANGSU = 320000;
const SHANGHAI = 310000;
const ZHEJIANG = 330000;
const log = new MerkleLog(30);
const mapRootAt = (n: number) => ethers.sha256(ethers.toUtf8Bytes(`map root at ${n}`));
const flipBit = (h: string) => ethers.toBeHex(BigInt(h) ^ 1n, 32);

async function timestampOf(tx: { wait(): Promise<{ blockNumber: number } | null> }): Promise<number> {
  const receipt = await tx.wait();
  return (await ethers.provider.getBlock(receipt!.blockNumber))!.timestamp;
}

/**
 * Checkpoints commit to their subject heads map root, and witnesses cosign them on chain
 * (FORMAT.md §11.7, §13.6). A plain account governs here so that each rule is tested alone;
 * test/contracts/governance.test.ts registers witnesses and sets the threshold through the council.
 */
describe('AnchorRegistry: map roots and witnesses', () => {
  let registry: Contract;
  let governor: HardhatEthersSigner;
  let anhui: HardhatEthersSigner;
  let jiangsu: HardhatEthersSigner;
  let shanghai: HardhatEthersSigner;
  let auditor: HardhatEthersSigner;
  let outsider: HardhatEthersSigner;

  /** Anchors `n` leaves for Anhui after a checkpoint of `m`, with the map root of `n`. */
  const anchorAnhui = (m: number, n: number, mapRoot = mapRootAt(n)) =>
    registry.connect(anhui).getFunction('anchor')(
      ANHUI,
      n,
      log.root(n),
      mapRoot,
      log.consistency(m, n),
      log.sizeProof(m, n),
    );
  /** `witness` cosigns Anhui's checkpoint `index` of `n` leaves with the honest statement unless told otherwise. */
  const cosign = (
    witness: HardhatEthersSigner,
    index: number,
    n: number,
    over: { issuer?: number; treeSize?: number; root?: string; mapRoot?: string } = {},
  ) =>
    registry.connect(witness).getFunction('cosign')(
      over.issuer ?? ANHUI,
      index,
      over.treeSize ?? n,
      over.root ?? log.root(n),
      over.mapRoot ?? mapRootAt(n),
    );
  const attestation = async (index: number, issuer = ANHUI) => {
    const [mapRoot, cosigners, threshold] = (await registry.getAttestation(issuer, index)) as [string, bigint, bigint];
    return { mapRoot, cosigners: Number(cosigners), threshold: Number(threshold) };
  };

  beforeEach(async () => {
    [governor, anhui, jiangsu, shanghai, auditor, outsider] = await ethers.getSigners();
    registry = await ethers.deployContract('AnchorRegistry', [governor.address]);
    await registry.registerIssuer(ANHUI, '安徽省', 'https://s/340000', anhui.address);
    await registry.registerIssuer(JIANGSU, '江苏省', 'https://s/320000', jiangsu.address);
    await registry.registerIssuer(SHANGHAI, '上海市', 'https://s/310000', shanghai.address);
    // Each province's anchorer is also its witness; the auditor is nobody's.
    await registry.registerWitness(jiangsu.address, JIANGSU, '江苏省');
    await registry.registerWitness(shanghai.address, SHANGHAI, '上海市');
    await registry.registerWitness(auditor.address, 0, '审计署');
    await anchorAnhui(0, 13);
  });

  describe('the map root', () => {
    it('is stored with the checkpoint and returned by getAttestation, while getCheckpoint keeps its three fields', async () => {
      await anchorAnhui(13, 21);
      expect((await attestation(0)).mapRoot).to.equal(mapRootAt(13));
      expect((await attestation(1)).mapRoot).to.equal(mapRootAt(21));
      const cp = await registry.getCheckpoint(ANHUI, 1);
      expect([cp.treeSize, cp.root]).to.deep.equal([21n, log.root(21)]);
      expect(cp.toArray()).to.have.length(3);
      expect((await registry.latestCheckpoint(ANHUI)).toArray()).to.have.length(3);
    });

    it("is any 32 bytes, the empty map's zeros included: only witnesses can check it", async () => {
      await anchorAnhui(13, 21, ethers.ZeroHash);
      expect((await attestation(1)).mapRoot).to.equal(ethers.ZeroHash);
    });

    it('leaves the size and consistency checks as they were', async () => {
      await expect(
        registry.connect(anhui).getFunction('anchor')(
          ANHUI,
          21,
          log.root(21),
          mapRootAt(21),
          log.consistency(13, 21),
          log.sizeProof(0, 21),
        ),
      )
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryInvalidSizeProof')
        .withArgs(ANHUI, 21);
      await expect(
        registry.connect(anhui).getFunction('anchor')(
          ANHUI,
          21,
          log.root(20),
          mapRootAt(21),
          log.consistency(13, 21),
          log.sizeProof(13, 21),
        ),
      )
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryInvalidConsistencyProof')
        .withArgs(ANHUI, 13, 21);
    });

    it('getAttestation reverts like getCheckpoint for an unknown issuer or checkpoint', async () => {
      await expect(registry.getAttestation(ZHEJIANG, 0))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryUnknownIssuer')
        .withArgs(ZHEJIANG);
      await expect(registry.getAttestation(ANHUI, 1))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryUnknownCheckpoint')
        .withArgs(ANHUI, 1);
      await expect(registry.getCosigners(ANHUI, 1))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryUnknownCheckpoint')
        .withArgs(ANHUI, 1);
    });
  });

  describe('registerWitness', () => {
    it('lists the witness with its issuer, number, name and registration time', async () => {
      const tx = await registry.registerWitness(outsider.address, 0, '独立审计');
      const at = await timestampOf(tx);
      await expect(tx).to.emit(registry, 'WitnessRegistered').withArgs(outsider.address, 0, 3, '独立审计');
      expect(await registry.witnessAccounts()).to.deep.equal([
        jiangsu.address,
        shanghai.address,
        auditor.address,
        outsider.address,
      ]);
      const w = await registry.getWitness(outsider.address);
      expect([w.name, w.issuer, w.number, w.registeredAt, w.suspendedAt, w.revokedAt]).to.deep.equal([
        '独立审计',
        0n,
        3n,
        BigInt(at),
        0n,
        0n,
      ]);
    });

    it('reports an account that is not a witness as all zeros', async () => {
      const w = await registry.getWitness(outsider.address);
      expect([w.name, w.issuer, w.number, w.registeredAt]).to.deep.equal(['', 0n, 0n, 0n]);
    });

    it('reverts with AnchorRegistryZeroWitness for the zero address', async () => {
      await expect(registry.registerWitness(ethers.ZeroAddress, 0, 'x')).to.be.revertedWithCustomError(
        registry,
        'AnchorRegistryZeroWitness',
      );
    });

    it('reverts with AnchorRegistryWitnessExists for a witness, and for a revoked one', async () => {
      await expect(registry.registerWitness(jiangsu.address, JIANGSU, 'again'))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryWitnessExists')
        .withArgs(jiangsu.address);
      await registry.revokeWitness(auditor.address);
      await expect(registry.registerWitness(auditor.address, 0, 'back'))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryWitnessExists')
        .withArgs(auditor.address);
    });

    it('reverts with AnchorRegistryUnknownIssuer for an issuer that is not registered', async () => {
      await expect(registry.registerWitness(outsider.address, ZHEJIANG, 'x'))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryUnknownIssuer')
        .withArgs(ZHEJIANG);
    });

    it('numbers at most MAX_WITNESSES witnesses ever: then AnchorRegistryTooManyWitnesses', async () => {
      const max = Number(await registry.MAX_WITNESSES());
      expect(max).to.equal(128);
      for (let i = 3; i < max; i++) await registry.registerWitness(ethers.Wallet.createRandom().address, 0, `w${i}`);
      await expect(registry.registerWitness(outsider.address, 0, 'one too many'))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryTooManyWitnesses')
        .withArgs(max);
    });

    it('counts the last number, 127, like the first', async () => {
      for (let i = 3; i < 127; i++) await registry.registerWitness(ethers.Wallet.createRandom().address, 0, `w${i}`);
      await registry.registerWitness(outsider.address, 0, 'the last');
      expect((await registry.getWitness(outsider.address)).number).to.equal(127n);
      await registry.setWitnessThreshold(1);
      await cosign(outsider, 0, 13);
      expect(await attestation(0)).to.include({ cosigners: 1, threshold: 1 });
      expect(await registry.getCosigners(ANHUI, 0)).to.deep.equal([outsider.address]);
    });
  });

  describe('cosign', () => {
    beforeEach(async () => {
      await registry.setWitnessThreshold(2);
    });

    it('records the cosignature, emits CheckpointCosigned, and makes the checkpoint cosigned at the threshold', async () => {
      expect(await attestation(0)).to.deep.equal({ mapRoot: mapRootAt(13), cosigners: 0, threshold: 2 });
      await expect(cosign(jiangsu, 0, 13))
        .to.emit(registry, 'CheckpointCosigned')
        .withArgs(ANHUI, 0, jiangsu.address);
      expect(await attestation(0)).to.include({ cosigners: 1, threshold: 2 });
      await expect(cosign(auditor, 0, 13))
        .to.emit(registry, 'CheckpointCosigned')
        .withArgs(ANHUI, 0, auditor.address);
      expect(await attestation(0)).to.include({ cosigners: 2, threshold: 2 });
      expect(await registry.getCosigners(ANHUI, 0)).to.deep.equal([jiangsu.address, auditor.address]);
    });

    it('keeps cosignatures per checkpoint and per issuer', async () => {
      await anchorAnhui(13, 21);
      await registry.connect(jiangsu).getFunction('anchor')(
        JIANGSU,
        5,
        log.root(5),
        mapRootAt(5),
        [],
        log.sizeProof(0, 5),
      );
      await cosign(jiangsu, 1, 21);
      await cosign(shanghai, 0, 5, { issuer: JIANGSU });
      expect((await attestation(0)).cosigners).to.equal(0);
      expect((await attestation(1)).cosigners).to.equal(1);
      expect((await attestation(0, JIANGSU)).cosigners).to.equal(1);
      expect(await registry.getCosigners(JIANGSU, 0)).to.deep.equal([shanghai.address]);
    });

    it('takes a checkpoint out of order: an older one can still be cosigned', async () => {
      await anchorAnhui(13, 21);
      await cosign(jiangsu, 1, 21);
      await cosign(jiangsu, 0, 13);
      expect((await attestation(0)).cosigners).to.equal(1);
    });

    it('reverts with AnchorRegistryAlreadyCosigned for a second cosignature by the same witness', async () => {
      await cosign(jiangsu, 0, 13);
      await expect(cosign(jiangsu, 0, 13))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryAlreadyCosigned')
        .withArgs(ANHUI, 0, jiangsu.address);
      expect((await attestation(0)).cosigners).to.equal(1);
    });

    const wrong: Array<[string, { treeSize?: number; root?: string; mapRoot?: string }]> = [
      ['another tree size', { treeSize: 12 }],
      ['another root', { root: log.root(12) }],
      ['a root one bit off', { root: flipBit(log.root(13)) }],
      ['another map root', { mapRoot: mapRootAt(12) }],
      ['a map root one bit off', { mapRoot: flipBit(mapRootAt(13)) }],
      ['the zero map root', { mapRoot: ethers.ZeroHash }],
    ];
    for (const [what, over] of wrong) {
      it(`reverts with AnchorRegistryStatementMismatch for ${what}`, async () => {
        await expect(cosign(jiangsu, 0, 13, over))
          .to.be.revertedWithCustomError(registry, 'AnchorRegistryStatementMismatch')
          .withArgs(ANHUI, 0);
      });
    }

    it("reverts with AnchorRegistrySelfWitness for the issuer's own anchorer, even if registered as a witness of another issuer", async () => {
      await registry.registerWitness(anhui.address, JIANGSU, "Anhui's anchorer, filed under Jiangsu");
      await expect(cosign(anhui, 0, 13))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistrySelfWitness')
        .withArgs(ANHUI, anhui.address);
    });

    it("reverts with AnchorRegistrySelfWitness for a witness of the issuer's own that is not its anchorer", async () => {
      await registry.registerWitness(outsider.address, ANHUI, '安徽省 second account');
      await expect(cosign(outsider, 0, 13))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistrySelfWitness')
        .withArgs(ANHUI, outsider.address);
    });

    it('reverts with AnchorRegistryNotWitness for an account that is not a witness, the governor included', async () => {
      for (const who of [outsider, governor]) {
        await expect(cosign(who, 0, 13))
          .to.be.revertedWithCustomError(registry, 'AnchorRegistryNotWitness')
          .withArgs(who.address);
      }
    });

    it('reverts with AnchorRegistryNotWitness for a revoked witness', async () => {
      await registry.revokeWitness(auditor.address);
      await expect(cosign(auditor, 0, 13))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryNotWitness')
        .withArgs(auditor.address);
    });

    it('reverts with AnchorRegistryWitnessSuspended for a suspended witness, and takes it again once resumed', async () => {
      const at = await timestampOf(await registry.suspendWitness(auditor.address));
      await expect(cosign(auditor, 0, 13))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryWitnessSuspended')
        .withArgs(auditor.address, at);
      await registry.resumeWitness(auditor.address);
      await expect(cosign(auditor, 0, 13)).to.emit(registry, 'CheckpointCosigned');
    });

    it('reverts with AnchorRegistryWitnessSuspended for the witness of a suspended issuer', async () => {
      const at = await timestampOf(await registry.suspendIssuer(JIANGSU));
      await expect(cosign(jiangsu, 0, 13))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryWitnessSuspended')
        .withArgs(jiangsu.address, at);
    });

    it("takes cosignatures of a suspended issuer's checkpoints: they stay readable and verifiable", async () => {
      await registry.suspendIssuer(ANHUI);
      await expect(cosign(jiangsu, 0, 13))
        .to.emit(registry, 'CheckpointCosigned')
        .withArgs(ANHUI, 0, jiangsu.address);
    });

    it('reverts with AnchorRegistryUnknownCheckpoint and AnchorRegistryUnknownIssuer before asking who the caller is', async () => {
      await expect(cosign(outsider, 1, 21))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryUnknownCheckpoint')
        .withArgs(ANHUI, 1);
      await expect(cosign(outsider, 0, 13, { issuer: ZHEJIANG }))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryUnknownIssuer')
        .withArgs(ZHEJIANG);
    });
  });

  describe('what counts towards the threshold', () => {
    beforeEach(async () => {
      await registry.setWitnessThreshold(2);
      await cosign(jiangsu, 0, 13);
      await cosign(auditor, 0, 13);
    });

    it("a revoked witness's past cosignatures count for nothing, and it stays listed", async () => {
      const at = await timestampOf(await registry.revokeWitness(auditor.address));
      expect((await registry.getWitness(auditor.address)).revokedAt).to.equal(BigInt(at));
      expect(await attestation(0)).to.include({ cosigners: 1, threshold: 2 });
      expect(await registry.getCosigners(ANHUI, 0)).to.deep.equal([jiangsu.address, auditor.address]);
    });

    it("a suspended witness's cosignatures count for nothing until it is resumed", async () => {
      await registry.suspendWitness(jiangsu.address);
      expect((await attestation(0)).cosigners).to.equal(1);
      await registry.resumeWitness(jiangsu.address);
      expect((await attestation(0)).cosigners).to.equal(2);
    });

    it("the cosignatures of a suspended issuer's witness count for nothing until the issuer is resumed", async () => {
      await registry.suspendIssuer(JIANGSU);
      expect((await attestation(0)).cosigners).to.equal(1);
      await registry.resumeIssuer(JIANGSU);
      expect((await attestation(0)).cosigners).to.equal(2);
    });

    it("a witness that becomes the issuer's anchorer no longer counts for that issuer", async () => {
      await registry.setAnchorer(ANHUI, auditor.address);
      expect((await attestation(0)).cosigners).to.equal(1);
    });

    it('the threshold is read when asked: raising it above the cosigners leaves the checkpoint not cosigned', async () => {
      await expect(registry.setWitnessThreshold(3)).to.emit(registry, 'WitnessThresholdChanged').withArgs(2, 3);
      expect(await attestation(0)).to.include({ cosigners: 2, threshold: 3 });
    });
  });

  describe('governing witnesses', () => {
    it('the threshold starts at 0 (nothing is cosigned) and is set between 1 and the witnesses not revoked', async () => {
      expect(await registry.witnessThreshold()).to.equal(0n);
      expect(await attestation(0)).to.include({ cosigners: 0, threshold: 0 });
      await expect(registry.setWitnessThreshold(0))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryBadWitnessThreshold')
        .withArgs(0, 3);
      await expect(registry.setWitnessThreshold(4))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryBadWitnessThreshold')
        .withArgs(4, 3);
      await expect(registry.setWitnessThreshold(3)).to.emit(registry, 'WitnessThresholdChanged').withArgs(0, 3);
      await registry.revokeWitness(auditor.address);
      expect(await registry.witnessThreshold()).to.equal(3n);
      await expect(registry.setWitnessThreshold(3))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryBadWitnessThreshold')
        .withArgs(3, 2);
    });

    it('suspendWitness and resumeWitness record the block time and emit', async () => {
      const tx = await registry.suspendWitness(auditor.address);
      const at = await timestampOf(tx);
      await expect(tx).to.emit(registry, 'WitnessSuspended').withArgs(auditor.address, at);
      expect((await registry.getWitness(auditor.address)).suspendedAt).to.equal(BigInt(at));
      await expect(registry.suspendWitness(auditor.address))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryWitnessSuspended')
        .withArgs(auditor.address, at);
      const resumed = await registry.resumeWitness(auditor.address);
      await expect(resumed)
        .to.emit(registry, 'WitnessResumed')
        .withArgs(auditor.address, await timestampOf(resumed));
      await expect(registry.resumeWitness(auditor.address))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryWitnessNotSuspended')
        .withArgs(auditor.address);
    });

    it('revokeWitness emits WitnessRevoked; a revoked witness cannot be suspended, resumed or revoked again', async () => {
      const tx = await registry.revokeWitness(auditor.address);
      await expect(tx)
        .to.emit(registry, 'WitnessRevoked')
        .withArgs(auditor.address, await timestampOf(tx));
      for (const fn of ['suspendWitness', 'resumeWitness', 'revokeWitness']) {
        await expect(registry.getFunction(fn)(auditor.address))
          .to.be.revertedWithCustomError(registry, 'AnchorRegistryNotWitness')
          .withArgs(auditor.address);
      }
      await expect(registry.suspendWitness(outsider.address))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryNotWitness')
        .withArgs(outsider.address);
    });

    it("is the governor's alone: OwnableUnauthorizedAccount for an outsider, a witness and an anchorer", async () => {
      const calls: Array<(r: Contract) => Promise<unknown>> = [
        (r) => r.registerWitness(ethers.Wallet.createRandom().address, 0, 'x'),
        (r) => r.suspendWitness(auditor.address),
        (r) => r.resumeWitness(auditor.address),
        (r) => r.revokeWitness(auditor.address),
        (r) => r.setWitnessThreshold(1),
      ];
      for (const call of calls) {
        for (const caller of [outsider, auditor, anhui]) {
          await expect(call(registry.connect(caller) as Contract))
            .to.be.revertedWithCustomError(registry, 'OwnableUnauthorizedAccount')
            .withArgs(caller.address);
        }
      }
    });
  });
});
