import hre from 'hardhat';
import { expect } from 'chai';
import type { Contract } from 'ethers';
import type { HardhatEthersSigner } from '@nomicfoundation/hardhat-ethers/signers';
import { MerkleLog } from '../support/merkle-log';

const { ethers } = hre;
const ANHUI = 340000;
const ZHEJIANG = 330000;
const DAY = 86_400;
const log = new MerkleLog(40);
/** TimelockController's bitmap of the expected state (Ready) that TimelockUnexpectedOperationState carries. */
const READY = ethers.toBeHex(1n << 2n, 32);

interface Op {
  targets: string[];
  values: bigint[];
  payloads: string[];
  predecessor: string;
  salt: string;
  id: string;
}

async function increaseTime(seconds: number): Promise<void> {
  await ethers.provider.send('evm_increaseTime', [seconds]);
  await ethers.provider.send('evm_mine', []);
}

/**
 * The governance of the registry: an AnchorCouncil of three members, two of whom must approve,
 * with a one-day delay, is the registry's governor. Every path a governed action can take.
 */
describe('governance: AnchorCouncil (2 of 3, one-day timelock) governing the AnchorRegistry', () => {
  let council: Contract;
  let registry: Contract;
  let m1: HardhatEthersSigner;
  let m2: HardhatEthersSigner;
  let m3: HardhatEthersSigner;
  let anchorer: HardhatEthersSigner;
  let stranger: HardhatEthersSigner;
  let newAnchorer: HardhatEthersSigner;
  let PROPOSER_ROLE: string;
  let CANCELLER_ROLE: string;
  let ADMIN_ROLE: string;

  /** An operation running `calls` ([target, payload]) with a fresh salt. */
  async function op(calls: Array<[string, string]>, salt = ethers.hexlify(ethers.randomBytes(32))): Promise<Op> {
    const o = {
      targets: calls.map((c) => c[0]),
      values: calls.map(() => 0n),
      payloads: calls.map((c) => c[1]),
      predecessor: ethers.ZeroHash,
      salt,
    };
    return { ...o, id: await council.hashOperationBatch(o.targets, o.values, o.payloads, o.predecessor, o.salt) };
  }
  const registryCall = (fn: string, args: unknown[]): [string, string] => [
    registry.target as string,
    registry.interface.encodeFunctionData(fn, args),
  ];
  const approve = (member: HardhatEthersSigner, o: Op) =>
    council.connect(member).getFunction('approve')(o.targets, o.values, o.payloads, o.predecessor, o.salt);
  const execute = (caller: HardhatEthersSigner, o: Op) =>
    council.connect(caller).getFunction('executeBatch')(o.targets, o.values, o.payloads, o.predecessor, o.salt);
  /** Approved by two members, a day waited, executed by a stranger: the whole governed path. */
  async function enact(calls: Array<[string, string]>): Promise<Op> {
    const o = await op(calls);
    await approve(m1, o);
    await approve(m2, o);
    await increaseTime(DAY);
    await execute(stranger, o);
    return o;
  }
  const anchorAs = (signer: HardhatEthersSigner, m: number, n: number) =>
    registry.connect(signer).getFunction('anchor')(
      ANHUI,
      n,
      log.root(n),
      ethers.ZeroHash,
      log.consistency(m, n),
      log.sizeProof(m, n),
    );

  beforeEach(async () => {
    [m1, m2, m3, anchorer, stranger, newAnchorer] = await ethers.getSigners();
    council = await ethers.deployContract('AnchorCouncil', [[m1.address, m2.address, m3.address], 2, DAY]);
    registry = await ethers.deployContract('AnchorRegistry', [await council.getAddress()]);
    [PROPOSER_ROLE, CANCELLER_ROLE, ADMIN_ROLE] = await Promise.all([
      council.PROPOSER_ROLE(),
      council.CANCELLER_ROLE(),
      council.DEFAULT_ADMIN_ROLE(),
    ]);
  });

  it("is set up as designed: the council is the registry's governor and its timelock's only proposer and canceller; anyone executes", async () => {
    expect(await registry.owner()).to.equal(await council.getAddress());
    expect(await council.members()).to.deep.equal([m1.address, m2.address, m3.address]);
    expect(await council.threshold()).to.equal(2n);
    expect(await council.getMinDelay()).to.equal(BigInt(DAY));
    expect(await council.hasRole(PROPOSER_ROLE, await council.getAddress())).to.equal(true);
    expect(await council.hasRole(CANCELLER_ROLE, await council.getAddress())).to.equal(true);
    expect(await council.hasRole(await council.EXECUTOR_ROLE(), ethers.ZeroAddress)).to.equal(true);
    for (const m of [m1, m2, m3]) {
      for (const role of [PROPOSER_ROLE, CANCELLER_ROLE, ADMIN_ROLE])
        expect(await council.hasRole(role, m.address)).to.equal(false);
    }
  });

  describe('registering an issuer', () => {
    it("takes two members' approvals, then the delay; then anyone executes it", async () => {
      const o = await op([registryCall('registerIssuer', [ANHUI, '安徽省', 'https://s/340000', anchorer.address])]);
      await expect(approve(m1, o))
        .to.emit(council, 'OperationProposed')
        .withArgs(o.id, m1.address, o.targets, o.values, o.payloads, o.predecessor, o.salt)
        .and.to.emit(council, 'OperationApproved')
        .withArgs(o.id, m1.address, 1, 2);
      expect(await council.isOperation(o.id)).to.equal(false);
      await expect(approve(m2, o))
        .to.emit(council, 'OperationApproved')
        .withArgs(o.id, m2.address, 2, 2)
        .and.to.emit(council, 'CallScheduled');
      expect(await council.isOperationPending(o.id)).to.equal(true);
      await increaseTime(DAY);
      await expect(execute(stranger, o))
        .to.emit(registry, 'IssuerRegistered')
        .withArgs(ANHUI, '安徽省', 'https://s/340000', anchorer.address);
      expect(await council.isOperationDone(o.id)).to.equal(true);
      expect((await registry.getIssuer(ANHUI)).anchorer).to.equal(anchorer.address);
    });

    it('enforces the delay: executing a second early reverts with TimelockUnexpectedOperationState', async () => {
      const o = await op([registryCall('registerIssuer', [ANHUI, '安徽省', '', anchorer.address])]);
      await approve(m1, o);
      await approve(m2, o);
      const scheduledAt = (await ethers.provider.getBlock('latest'))!.timestamp;
      const readyAt = Number(await council.getTimestamp(o.id));
      expect(readyAt - scheduledAt).to.equal(DAY);
      await expect(execute(stranger, o))
        .to.be.revertedWithCustomError(council, 'TimelockUnexpectedOperationState')
        .withArgs(o.id, READY);
      // In a block stamped one second before it is ready: still refused.
      await ethers.provider.send('evm_setNextBlockTimestamp', [readyAt - 1]);
      await expect(execute(stranger, o))
        .to.be.revertedWithCustomError(council, 'TimelockUnexpectedOperationState')
        .withArgs(o.id, READY);
      await ethers.provider.send('evm_setNextBlockTimestamp', [readyAt]);
      await expect(execute(stranger, o)).to.emit(registry, 'IssuerRegistered');
    });

    it('is never scheduled on one approval, however long one waits', async () => {
      const o = await op([registryCall('registerIssuer', [ANHUI, '安徽省', '', anchorer.address])]);
      await approve(m1, o);
      await increaseTime(30 * DAY);
      await expect(execute(stranger, o))
        .to.be.revertedWithCustomError(council, 'TimelockUnexpectedOperationState')
        .withArgs(o.id, READY);
      expect((await council.approvals(o.id, m1.address))[0]).to.equal(1n);
      expect((await registry.getIssuer(ANHUI)).registeredAt).to.equal(0n);
    });
  });

  describe('a single governor key cannot act alone', () => {
    let o: Op;
    beforeEach(async () => {
      o = await op([registryCall('registerIssuer', [ANHUI, '安徽省', '', m1.address])]);
    });

    it('calling the registry directly reverts with OwnableUnauthorizedAccount, for every governed function', async () => {
      const calls: Array<(r: Contract) => Promise<unknown>> = [
        (r) => r.registerIssuer(ANHUI, '安徽省', '', m1.address),
        (r) => r.setAnchorer(ANHUI, m1.address),
        (r) => r.setStatusListUrl(ANHUI, 'https://evil'),
        (r) => r.suspendIssuer(ANHUI),
        (r) => r.resumeIssuer(ANHUI),
        (r) => r.registerKey(ANHUI, '0x0102030405060708', ethers.ZeroHash, 1, 2),
        (r) => r.revokeKey(ANHUI, '0x0102030405060708'),
        (r) => r.transferOwnership(m1.address),
        (r) => r.registerWitness(m1.address, 0, 'x'),
        (r) => r.suspendWitness(m1.address),
        (r) => r.resumeWitness(m1.address),
        (r) => r.revokeWitness(m1.address),
        (r) => r.setWitnessThreshold(1),
      ];
      for (const call of calls) {
        await expect(call(registry.connect(m1) as Contract))
          .to.be.revertedWithCustomError(registry, 'OwnableUnauthorizedAccount')
          .withArgs(m1.address);
      }
    });

    it('scheduling or cancelling on the timelock directly reverts with AccessControlUnauthorizedAccount', async () => {
      await expect(
        council.connect(m1).getFunction('scheduleBatch')(o.targets, o.values, o.payloads, o.predecessor, o.salt, DAY),
      )
        .to.be.revertedWithCustomError(council, 'AccessControlUnauthorizedAccount')
        .withArgs(m1.address, PROPOSER_ROLE);
      await expect(
        council.connect(m1).getFunction('schedule')(o.targets[0], 0, o.payloads[0], o.predecessor, o.salt, DAY),
      )
        .to.be.revertedWithCustomError(council, 'AccessControlUnauthorizedAccount')
        .withArgs(m1.address, PROPOSER_ROLE);
      await approve(m1, o);
      await approve(m2, o);
      await expect(council.connect(m1).getFunction('cancel')(o.id))
        .to.be.revertedWithCustomError(council, 'AccessControlUnauthorizedAccount')
        .withArgs(m1.address, CANCELLER_ROLE);
    });

    it('granting itself a timelock role reverts with AccessControlUnauthorizedAccount', async () => {
      await expect(council.connect(m1).getFunction('grantRole')(PROPOSER_ROLE, m1.address))
        .to.be.revertedWithCustomError(council, 'AccessControlUnauthorizedAccount')
        .withArgs(m1.address, ADMIN_ROLE);
    });

    it('changing the members, the threshold or the delay directly reverts with TimelockUnauthorizedCaller', async () => {
      await expect(council.connect(m1).getFunction('setMembers')([m1.address, m2.address], 2))
        .to.be.revertedWithCustomError(council, 'TimelockUnauthorizedCaller')
        .withArgs(m1.address);
      await expect(council.connect(m1).getFunction('updateDelay')(0))
        .to.be.revertedWithCustomError(council, 'TimelockUnauthorizedCaller')
        .withArgs(m1.address);
    });

    it('approving twice reverts with AnchorCouncilAlreadyApproved', async () => {
      await approve(m1, o);
      await expect(approve(m1, o))
        .to.be.revertedWithCustomError(council, 'AnchorCouncilAlreadyApproved')
        .withArgs(o.id, m1.address);
    });

    it('approving cancellation twice reverts with AnchorCouncilAlreadyApproved, and one approval cancels nothing', async () => {
      await approve(m1, o);
      await approve(m2, o);
      await council.connect(m3).getFunction('approveCancel')(o.id);
      await expect(council.connect(m3).getFunction('approveCancel')(o.id))
        .to.be.revertedWithCustomError(council, 'AnchorCouncilAlreadyApproved')
        .withArgs(o.id, m3.address);
      await increaseTime(DAY);
      await expect(execute(stranger, o)).to.emit(registry, 'IssuerRegistered');
    });
  });

  describe('who may approve', () => {
    it('refuses an outsider and an anchorer with AnchorCouncilNotMember (the wrong proposer)', async () => {
      const o = await op([registryCall('registerIssuer', [ANHUI, '安徽省', '', stranger.address])]);
      for (const caller of [stranger, anchorer]) {
        await expect(approve(caller, o))
          .to.be.revertedWithCustomError(council, 'AnchorCouncilNotMember')
          .withArgs(caller.address);
        await expect(council.connect(caller).getFunction('approveCancel')(o.id))
          .to.be.revertedWithCustomError(council, 'AnchorCouncilNotMember')
          .withArgs(caller.address);
      }
    });

    it('needs every one of three approvals in a 3-of-3 council (insufficient approvals keep it unscheduled)', async () => {
      const strict = await ethers.deployContract('AnchorCouncil', [[m1.address, m2.address, m3.address], 3, 60]);
      const target = await ethers.deployContract('AnchorRegistry', [await strict.getAddress()]);
      const payload = target.interface.encodeFunctionData('registerIssuer', [ANHUI, '安徽省', '', anchorer.address]);
      const args = [[await target.getAddress()], [0n], [payload], ethers.ZeroHash, ethers.ZeroHash] as const;
      const id = await strict.hashOperationBatch(...args);
      await strict.connect(m1).getFunction('approve')(...args);
      await strict.connect(m2).getFunction('approve')(...args);
      await increaseTime(3600);
      await expect(strict.connect(stranger).getFunction('executeBatch')(...args))
        .to.be.revertedWithCustomError(strict, 'TimelockUnexpectedOperationState')
        .withArgs(id, READY);
      await expect(strict.connect(m3).getFunction('approve')(...args)).to.emit(strict, 'CallScheduled');
      await increaseTime(60);
      await expect(strict.connect(stranger).getFunction('executeBatch')(...args)).to.emit(target, 'IssuerRegistered');
    });

    it('refuses approving an operation already scheduled or done: AnchorCouncilAlreadyScheduled', async () => {
      const o = await op([registryCall('registerIssuer', [ANHUI, '安徽省', '', anchorer.address])]);
      await approve(m1, o);
      await approve(m2, o);
      await expect(approve(m3, o))
        .to.be.revertedWithCustomError(council, 'AnchorCouncilAlreadyScheduled')
        .withArgs(o.id);
      await increaseTime(DAY);
      await execute(stranger, o);
      await expect(approve(m3, o))
        .to.be.revertedWithCustomError(council, 'AnchorCouncilAlreadyScheduled')
        .withArgs(o.id);
    });
  });

  describe('cancelling', () => {
    it('two members cancel a scheduled operation for good: it never executes and cannot be approved again', async () => {
      const o = await op([registryCall('registerIssuer', [ANHUI, '安徽省', '', anchorer.address])]);
      await approve(m1, o);
      await approve(m2, o);
      await expect(council.connect(m3).getFunction('approveCancel')(o.id))
        .to.emit(council, 'CancellationApproved')
        .withArgs(o.id, m3.address, 1, 2);
      await expect(council.connect(m1).getFunction('approveCancel')(o.id)).to.emit(council, 'Cancelled').withArgs(o.id);
      await increaseTime(DAY);
      await expect(execute(stranger, o))
        .to.be.revertedWithCustomError(council, 'TimelockUnexpectedOperationState')
        .withArgs(o.id, READY);
      await expect(approve(m3, o))
        .to.be.revertedWithCustomError(council, 'AnchorCouncilOperationCancelled')
        .withArgs(o.id);
      expect(await council.isCancelled(o.id)).to.equal(true);
    });

    it('refuses cancelling what is not scheduled, or already done: AnchorCouncilNotPending', async () => {
      const o = await op([registryCall('registerIssuer', [ANHUI, '安徽省', '', anchorer.address])]);
      await expect(council.connect(m1).getFunction('approveCancel')(o.id))
        .to.be.revertedWithCustomError(council, 'AnchorCouncilNotPending')
        .withArgs(o.id);
      await approve(m1, o);
      await expect(council.connect(m1).getFunction('approveCancel')(o.id))
        .to.be.revertedWithCustomError(council, 'AnchorCouncilNotPending')
        .withArgs(o.id);
      await approve(m2, o);
      await increaseTime(DAY);
      await execute(stranger, o);
      await expect(council.connect(m1).getFunction('approveCancel')(o.id))
        .to.be.revertedWithCustomError(council, 'AnchorCouncilNotPending')
        .withArgs(o.id);
    });
  });

  describe("the council's own settings", () => {
    it('change members and threshold only through an approved, delayed operation, which drops pending approvals', async () => {
      const pending = await op([registryCall('registerIssuer', [ANHUI, '安徽省', '', anchorer.address])]);
      await approve(m1, pending);
      const change = await enact([
        [
          await council.getAddress(),
          council.interface.encodeFunctionData('setMembers', [[m2.address, m3.address, stranger.address], 3]),
        ],
      ]);
      expect(change.id).to.be.a('string');
      expect(await council.members()).to.deep.equal([m2.address, m3.address, stranger.address]);
      expect(await council.threshold()).to.equal(3n);
      expect((await council.approvals(pending.id, m1.address))[0]).to.equal(0n);
      await expect(approve(m1, pending))
        .to.be.revertedWithCustomError(council, 'AnchorCouncilNotMember')
        .withArgs(m1.address);
    });

    it('changes the delay only through an approved, delayed operation', async () => {
      await expect(
        enact([[await council.getAddress(), council.interface.encodeFunctionData('updateDelay', [2 * DAY])]]),
      ).to.not.be.reverted;
      expect(await council.getMinDelay()).to.equal(BigInt(2 * DAY));
    });

    it('refuses a threshold below 2 or above the member count, and zero or repeated members', async () => {
      const Council = await ethers.getContractFactory('AnchorCouncil');
      await expect(Council.deploy([m1.address, m2.address, m3.address], 1, DAY))
        .to.be.revertedWithCustomError(council, 'AnchorCouncilInvalidThreshold')
        .withArgs(1, 3);
      await expect(Council.deploy([m1.address], 1, DAY))
        .to.be.revertedWithCustomError(council, 'AnchorCouncilInvalidThreshold')
        .withArgs(1, 1);
      await expect(Council.deploy([m1.address, m2.address], 3, DAY))
        .to.be.revertedWithCustomError(council, 'AnchorCouncilInvalidThreshold')
        .withArgs(3, 2);
      await expect(Council.deploy([m1.address, ethers.ZeroAddress], 2, DAY))
        .to.be.revertedWithCustomError(council, 'AnchorCouncilInvalidMember')
        .withArgs(ethers.ZeroAddress);
      await expect(Council.deploy([m1.address, m2.address, m1.address], 2, DAY))
        .to.be.revertedWithCustomError(council, 'AnchorCouncilInvalidMember')
        .withArgs(m1.address);
    });
  });

  describe('with an issuer registered through the council', () => {
    beforeEach(async () => {
      await enact([registryCall('registerIssuer', [ANHUI, '安徽省', 'https://s/340000', anchorer.address])]);
    });

    it('refuses the first checkpoint from a stranger, even with honest proofs, and takes it from the registered anchorer', async () => {
      await expect(anchorAs(stranger, 0, 13))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryNotAnchorer')
        .withArgs(ANHUI, stranger.address);
      await expect(anchorAs(m1, 0, 13))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryNotAnchorer')
        .withArgs(ANHUI, m1.address);
      await expect(anchorAs(anchorer, 0, 13))
        .to.emit(registry, 'CheckpointAnchored')
        .withArgs(ANHUI, 0, 13, log.root(13));
    });

    it('refuses a first checkpoint before registration: AnchorRegistryUnknownIssuer, whoever sends it', async () => {
      for (const who of [stranger, anchorer]) {
        await expect(
          registry.connect(who).getFunction('anchor')(
            ZHEJIANG,
            13,
            log.root(13),
            ethers.ZeroHash,
            [],
            log.sizeProof(0, 13),
          ),
        )
          .to.be.revertedWithCustomError(registry, 'AnchorRegistryUnknownIssuer')
          .withArgs(ZHEJIANG);
      }
    });

    it('suspends the issuer: its checkpoints are refused until the council resumes it', async () => {
      await anchorAs(anchorer, 0, 13);
      await enact([registryCall('suspendIssuer', [ANHUI])]);
      const { suspendedAt } = await registry.getIssuer(ANHUI);
      expect(suspendedAt).to.be.greaterThan(0n);
      await expect(anchorAs(anchorer, 13, 21))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryIssuerSuspended')
        .withArgs(ANHUI, suspendedAt);
      await enact([registryCall('resumeIssuer', [ANHUI])]);
      await expect(anchorAs(anchorer, 13, 21))
        .to.emit(registry, 'CheckpointAnchored')
        .withArgs(ANHUI, 1, 21, log.root(21));
    });

    it('replaces the anchorer: the old one is refused, the new one anchors from the last checkpoint on', async () => {
      await anchorAs(anchorer, 0, 13);
      await expect(enact([registryCall('setAnchorer', [ANHUI, newAnchorer.address])])).to.not.be.reverted;
      await expect(anchorAs(anchorer, 13, 21))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryNotAnchorer')
        .withArgs(ANHUI, anchorer.address);
      await expect(anchorAs(newAnchorer, 13, 21))
        .to.emit(registry, 'CheckpointAnchored')
        .withArgs(ANHUI, 1, 21, log.root(21));
    });

    it('registers and revokes keys, several in one batch', async () => {
      const keys = ['a', 'b'].map((s) => ethers.keccak256(ethers.toUtf8Bytes(s)));
      const kids = keys.map((k) => ethers.dataSlice(ethers.sha256(k), 0, 8));
      await enact(keys.map((k, i) => registryCall('registerKey', [ANHUI, kids[i], k, 1000, 2000])));
      expect(await registry.getKeys(ANHUI)).to.have.length(2);
      await enact([registryCall('revokeKey', [ANHUI, kids[0]])]);
      const [first, second] = await registry.getKeys(ANHUI);
      expect(first.revokedAt).to.be.greaterThan(0n);
      expect(second.revokedAt).to.equal(0n);
    });

    it('retires a key through an approved, delayed operation; a member alone is refused like any stranger (AnchorRegistryNotAnchorer)', async () => {
      const key = ethers.keccak256(ethers.toUtf8Bytes('k'));
      const kid = ethers.dataSlice(ethers.sha256(key), 0, 8);
      await enact([registryCall('registerKey', [ANHUI, kid, key, 1000, 2000])]);
      await expect(registry.connect(m1).getFunction('retireKey')(ANHUI, kid, 1500))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryNotAnchorer')
        .withArgs(ANHUI, m1.address);
      const o = await op([registryCall('retireKey', [ANHUI, kid, 1500])]);
      await approve(m1, o);
      await approve(m2, o);
      await increaseTime(DAY);
      await expect(execute(stranger, o)).to.emit(registry, 'KeyRetired').withArgs(ANHUI, kid, 1500);
      expect((await registry.getKeys(ANHUI))[0].notAfter).to.equal(1500n);
    });

    it("lets the issuer's anchorer retire a key with no approval and no delay", async () => {
      const key = ethers.keccak256(ethers.toUtf8Bytes('k'));
      const kid = ethers.dataSlice(ethers.sha256(key), 0, 8);
      await enact([registryCall('registerKey', [ANHUI, kid, key, 1000, 2000])]);
      await expect(registry.connect(anchorer).getFunction('retireKey')(ANHUI, kid, 1500))
        .to.emit(registry, 'KeyRetired')
        .withArgs(ANHUI, kid, 1500);
    });

    it('a batch whose call reverts executes nothing and stays ready (here: registering the issuer twice)', async () => {
      const o = await op([
        registryCall('setStatusListUrl', [ANHUI, 'https://new']),
        registryCall('registerIssuer', [ANHUI, 'again', '', anchorer.address]),
      ]);
      await approve(m1, o);
      await approve(m2, o);
      await increaseTime(DAY);
      await expect(execute(stranger, o))
        .to.be.revertedWithCustomError(registry, 'AnchorRegistryIssuerExists')
        .withArgs(ANHUI);
      expect((await registry.getIssuer(ANHUI)).statusListUrl).to.equal('https://s/340000');
      expect(await council.isOperationReady(o.id)).to.equal(true);
    });

    describe('witnesses', () => {
      const cosign = (witness: HardhatEthersSigner, index: number, n: number) =>
        registry.connect(witness).getFunction('cosign')(ANHUI, index, n, log.root(n), ethers.ZeroHash);
      const attestation = async (index: number) => {
        const [, cosigners, threshold] = (await registry.getAttestation(ANHUI, index)) as [string, bigint, bigint];
        return { cosigners: Number(cosigners), threshold: Number(threshold) };
      };

      it('are registered, given a threshold, suspended, resumed and revoked only through approved, delayed operations', async () => {
        await anchorAs(anchorer, 0, 13);
        // A witness cannot act before the council's operation has waited out its delay.
        const o = await op([
          registryCall('registerWitness', [stranger.address, 0, '审计署']),
          registryCall('setWitnessThreshold', [1]),
        ]);
        await approve(m1, o);
        await approve(m2, o);
        await expect(cosign(stranger, 0, 13))
          .to.be.revertedWithCustomError(registry, 'AnchorRegistryNotWitness')
          .withArgs(stranger.address);
        await increaseTime(DAY);
        await expect(execute(stranger, o))
          .to.emit(registry, 'WitnessRegistered')
          .withArgs(stranger.address, 0, 0, '审计署')
          .and.to.emit(registry, 'WitnessThresholdChanged')
          .withArgs(0, 1);
        await expect(cosign(stranger, 0, 13))
          .to.emit(registry, 'CheckpointCosigned')
          .withArgs(ANHUI, 0, stranger.address);
        expect(await attestation(0)).to.deep.equal({ cosigners: 1, threshold: 1 });

        await enact([registryCall('suspendWitness', [stranger.address])]);
        expect(await attestation(0)).to.deep.equal({ cosigners: 0, threshold: 1 });
        await enact([registryCall('resumeWitness', [stranger.address])]);
        expect(await attestation(0)).to.deep.equal({ cosigners: 1, threshold: 1 });
        await enact([registryCall('revokeWitness', [stranger.address])]);
        expect(await attestation(0)).to.deep.equal({ cosigners: 0, threshold: 1 });
      });

      it('cannot be registered by one member: one approval schedules nothing, however long one waits', async () => {
        const o = await op([registryCall('registerWitness', [m1.address, 0, 'self-appointed'])]);
        await approve(m1, o);
        await increaseTime(DAY * 30);
        await expect(execute(m1, o)).to.be.revertedWithCustomError(council, 'TimelockUnexpectedOperationState');
        expect((await registry.getWitness(m1.address)).registeredAt).to.equal(0n);
      });

      it('a batch that sets a threshold above the witnesses fails whole: AnchorRegistryBadWitnessThreshold, nothing registered', async () => {
        const o = await op([
          registryCall('registerWitness', [stranger.address, 0, 'a']),
          registryCall('setWitnessThreshold', [2]),
        ]);
        await approve(m1, o);
        await approve(m2, o);
        await increaseTime(DAY);
        await expect(execute(stranger, o))
          .to.be.revertedWithCustomError(registry, 'AnchorRegistryBadWitnessThreshold')
          .withArgs(2, 1);
        expect(await registry.witnessAccounts()).to.deep.equal([]);
      });

      it("the issuer's anchorer, registered as a witness through the council, still cannot witness itself", async () => {
        await anchorAs(anchorer, 0, 13);
        await enact([
          registryCall('registerWitness', [anchorer.address, 0, 'not really independent']),
          registryCall('setWitnessThreshold', [1]),
        ]);
        await expect(cosign(anchorer, 0, 13))
          .to.be.revertedWithCustomError(registry, 'AnchorRegistrySelfWitness')
          .withArgs(ANHUI, anchorer.address);
      });
    });

    it('hands governance to another council in two steps, both governed', async () => {
      const next = await ethers.deployContract('AnchorCouncil', [[m3.address, stranger.address], 2, 60]);
      await enact([registryCall('transferOwnership', [await next.getAddress()])]);
      expect(await registry.pendingOwner()).to.equal(await next.getAddress());
      const accept = [
        [registry.target as string],
        [0n],
        [registry.interface.encodeFunctionData('acceptOwnership', [])],
        ethers.ZeroHash,
        ethers.ZeroHash,
      ] as const;
      await next.connect(m3).getFunction('approve')(...accept);
      await next.connect(stranger).getFunction('approve')(...accept);
      await increaseTime(60);
      await next.connect(m1).getFunction('executeBatch')(...accept);
      expect(await registry.owner()).to.equal(await next.getAddress());
      const o = await op([registryCall('suspendIssuer', [ANHUI])]);
      await approve(m1, o);
      await approve(m2, o);
      await increaseTime(DAY);
      await expect(execute(stranger, o))
        .to.be.revertedWithCustomError(registry, 'OwnableUnauthorizedAccount')
        .withArgs(await council.getAddress());
    });
  });
});
