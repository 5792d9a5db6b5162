import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DevGovernance } from '../../anchor/council';
import { startDevNode, type DevNode } from '../../anchor/dev-node';
import { RegistryClient } from '../../anchor/registry';
import { startService, type RunningService } from '../../server/bootstrap';
import { configSchema } from '../../server/config';
import { hashLeaf, verifyInclusion } from '../../verifier/src/merkle';
import { applyAsNewResident } from '../support/running-service';
import { tempDir } from '../support/tmp';
import { until } from '../../scripts/lib/wait';

const ISSUER = 340000;
describe('the anchorer against a real Hardhat node', function () {
  this.timeout(120_000);
  let tmp: ReturnType<typeof tempDir>;
  let node: DevNode;
  let svc: RunningService | undefined;

  const start = async (rpc: string, extra: Record<string, string> = {}) => {
    const config = configSchema.parse({
      PORT: '0',
      DATA_DIR: tmp.dir,
      LOG_LEVEL: 'silent',
      CHAIN_RPC_URL: rpc,
      CHAIN_DEV: 'true',
      CHECKPOINT_INTERVAL_SECONDS: '1',
      ...extra,
    });
    svc = await startService(config);
    return svc;
  };
  const registry = (s: RunningService) => {
    const cp = s.app.anchorer!.checkpoint!;
    return new RegistryClient(RegistryClient.provider(s.app.config.CHAIN_RPC_URL!), cp.contract);
  };
  const anchoredAll = (s: RunningService) =>
    until('a checkpoint covering the ledger', async () => {
      const cp = s.app.anchorer!.checkpoint;
      // Checkpoint records are themselves events: everything before the last one must be covered.
      return cp && cp.treeSize >= s.app.ledger.getHead().seq - 1 ? cp : undefined;
    });

  beforeEach(async () => {
    tmp = tempDir();
    node = await startDevNode();
  });
  afterEach(async () => {
    await svc?.close();
    svc = undefined;
    try {
      process.kill(-node.pid, 'SIGCONT');
    } catch {
      /* not paused */
    }
    await node.stop();
    tmp.cleanup();
  });

  describe('when residents apply', () => {
    it('anchors a checkpoint whose root on chain matches the log, and proofs check against it', async () => {
      const s = await start(node.url);
      for (let i = 0; i < 5; i++) expect(await applyAsNewResident(s)).to.equal(201);
      const cp = await anchoredAll(s);
      const onChain = await registry(s).latestCheckpoint(ISSUER);
      expect(onChain).to.include({ treeSize: cp.treeSize, root: cp.root });
      const ev = (await s.app.ledger.getEvent(3))!;
      const proof = await s.app.anchorer!.tree.inclusionProof(2, cp.treeSize);
      verifyInclusion(
        hashLeaf(Buffer.from(ev.hash, 'hex')),
        2,
        onChain!.treeSize,
        proof,
        Buffer.from(onChain!.root, 'hex'),
      );
    });
  });

  describe('when the chain stops answering', () => {
    it('keeps accepting events, backs off, and catches up in one checkpoint when the chain returns', async () => {
      const s = await start(node.url);
      expect(await applyAsNewResident(s)).to.equal(201);
      const before = await anchoredAll(s);
      const countBefore = Number(await registry(s).contract.checkpointCount(ISSUER));

      process.kill(-node.pid, 'SIGSTOP');
      for (let i = 0; i < 6; i++) expect(await applyAsNewResident(s)).to.equal(201);
      await until('the anchorer to notice the chain is down', async () => s.app.anchorer!.state === 'down', 60_000);
      expect(s.app.anchorer!.status().lastError).to.be.a('string');
      const headWhileDown = s.app.ledger.getHead().seq;
      expect(headWhileDown).to.be.greaterThan(before.treeSize + 6);

      process.kill(-node.pid, 'SIGCONT');
      const after = await until(
        'a checkpoint after the outage',
        async () => {
          const cp = s.app.anchorer!.checkpoint;
          return cp && cp.treeSize >= headWhileDown ? cp : undefined;
        },
        90_000,
      );
      const countAfter = Number(await registry(s).contract.checkpointCount(ISSUER));
      expect(countAfter).to.equal(countBefore + 1);
      expect(after.index).to.equal(before.index + 1);
    });
  });

  describe('on a fresh development chain', () => {
    it('redeploys the registry and re-anchors the whole ledger from its first event', async () => {
      let s = await start(node.url);
      for (let i = 0; i < 3; i++) expect(await applyAsNewResident(s)).to.equal(201);
      await anchoredAll(s);
      // The whole ledger as it was, whatever the restart writes after it (its first checkpoint
      // may be anchored, and recorded, before start() returns).
      const head = s.app.ledger.getHead().seq;
      await s.close();
      svc = undefined;
      await node.stop();

      node = await startDevNode();
      s = await start(node.url);
      const cp = await until('the first checkpoint on the new chain', async () => {
        const c = s.app.anchorer!.checkpoint;
        return c && c.index === 0 && c.treeSize >= head ? c : undefined;
      });
      const onChain = await registry(s).checkpoint(ISSUER, 0);
      expect(onChain.treeSize).to.equal(cp.treeSize);
      expect(onChain.root).to.equal((await s.app.anchorer!.tree.root(cp.treeSize)).toString('hex'));
    });
  });

  describe('on a development chain whose remembered contract is not a registry the development council governs', () => {
    it('deploys a new council and registry, remembers them and anchors there', async () => {
      const provider = RegistryClient.provider(node.url);
      const other = await DevGovernance.deploy(provider);
      // The council's address stands for a registry of an older layout: it has code but no owner().
      const chainId = Number((await provider.getNetwork()).chainId);
      writeFileSync(join(tmp.dir, 'chain.json'), JSON.stringify({ contract: other.council, chainId }));
      const s = await start(node.url);
      expect(await applyAsNewResident(s)).to.equal(201);
      const cp = await anchoredAll(s);
      expect(cp.contract).to.not.equal(other.council);
      expect(JSON.parse(readFileSync(join(tmp.dir, 'chain.json'), 'utf8')).contract).to.equal(cp.contract);
      expect((await registry(s).latestCheckpoint(ISSUER))!.root).to.equal(cp.root);
    });
  });

  describe('when the chain holds a different history for this issuer', () => {
    it('stops anchoring, reports the divergence and refuses writes', async () => {
      const provider = RegistryClient.provider(node.url);
      const anchorer = await provider.getSigner(1);
      const governance = await DevGovernance.deploy(provider);
      const address = governance.registry;
      const forged = new RegistryClient(provider, address, anchorer);
      await governance.enact([
        forged.calls.registerIssuer(ISSUER, '安徽省', 'http://example.invalid/status', await anchorer.getAddress()),
      ]);
      // A one-event log whose only event the ledger never had: the size proof is that event's hash.
      const foreignEvent = 'ab'.repeat(32);
      await forged.anchor(
        ISSUER,
        1,
        Buffer.from(hashLeaf(Buffer.from(foreignEvent, 'hex'))).toString('hex'),
        '00'.repeat(32),
        [],
        [foreignEvent],
      );

      const s = await start(node.url, { ANCHOR_CONTRACT: address });
      await until('the divergence', async () => s.app.anchorer!.state === 'diverged');
      expect(s.app.anchorer!.status().lastError).to.match(/differs from the ledger/);
      // The ledger takes no writes on top of a history the chain disagrees with (test/server/readiness.test.ts).
      expect(s.app.ledger.health()).to.include({ ok: false, state: 'diverged' });
      expect(Number(await forged.contract.checkpointCount(ISSUER))).to.equal(1);
    });
  });
});
