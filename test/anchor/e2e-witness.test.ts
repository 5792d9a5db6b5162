import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DevGovernance } from '../../anchor/council';
import { startDevNode, type DevNode } from '../../anchor/dev-node';
import { RegistryClient } from '../../anchor/registry';
import type { CheckpointRecord } from '../../anchor/anchorer';
import type { WitnessIssuerStatus } from '../../anchor/witness-runner';
import type { LedgerEvent } from '../../verifier/src/event';
import type { ProofBundle } from '../../verifier/src/proof-bundle';
import { installedVerifier, runCommand, type InstalledVerifier } from '../support/installed-verifier';
import { checkin, newResident, registerVenue, type Resident, type Venue } from '../support/scenario';
import { startTestService, type TestService, WallClock } from '../support/service';
import { tempDir } from '../support/tmp';
import { until } from '../../scripts/lib/wait';

const ANHUI = '340000';
const JIANGSU = '320000';
/** Jiangsu's anchorer on the development node, which the council registers as its witness. */
const JIANGSU_ACCOUNT = 2;

/** What `ankang-verify history --json` prints for one bundle. */
interface Report {
  valid: boolean;
  code: string;
  message: string;
  complete: boolean;
  completeness: { code: string; reason: string };
  checkpoint: { index: number; treeSize: number; root: string; mapRoot: string | null; cosigned: unknown } | null;
}

/**
 * Issue 14 end to end, on a real Hardhat node, with the on-chain half: Anhui's service anchors
 * its log, with each checkpoint's map root; Jiangsu's service witnesses Anhui (WITNESS_FOR),
 * fetching Anhui's events over HTTP with a witness token Anhui issued, and cosigns each honest
 * checkpoint on chain from its anchorer account, which the development council registered as
 * a witness. Then Anhui's operator, holding only what runs the service (its ledger and its
 * anchorer key), forks Alice's chain straight in the ledger, and the anchorer anchors it. The
 * witness service refuses that checkpoint and cosigns nothing more of Anhui's; the installed
 * ankang-verify, reading the chain, calls a history under the forged checkpoint not complete,
 * and the honest history under the cosigned checkpoint complete.
 */
describe("witnesses end to end: Jiangsu's service witnesses Anhui on chain; Anhui's operator forks a chain", function () {
  this.timeout(240_000);
  let node: DevNode;
  let anhui: TestService;
  let jiangsu: TestService;
  let jiangsuConfig: Record<string, unknown>;
  let verifier: InstalledVerifier;
  let files: ReturnType<typeof tempDir>;
  let registry: RegistryClient;
  let witnessToken: string;
  let auditor: string;
  let gate: Venue;
  let alice: Resident;
  let honest: CheckpointRecord;
  let honestHistory: ProofBundle;
  let forged: LedgerEvent;
  /** Alice's last event before her first scan: where the operator's fork links her back to. */
  let base: LedgerEvent;
  let forkedCheckpoint: CheckpointRecord;

  const call = (method: string, path: string, token?: string) => anhui.call(method, path, { token });
  const status = async () => (await call('GET', '/v1/anchor/status')).body as { checkpoint: CheckpointRecord | null };
  const checkpointCovering = (seq: number) =>
    until(`a checkpoint of Anhui covering seq ${seq}`, async () => {
      const cp = (await status()).checkpoint;
      return cp && cp.treeSize >= seq ? cp : undefined;
    });
  const witnessing = async (): Promise<WitnessIssuerStatus> => {
    const r = await jiangsu.call('GET', '/v1/federation/status');
    return (r.body.witness.issuers as WitnessIssuerStatus[]).find((i) => i.issuer === ANHUI)!;
  };
  const attestation = (index: number) => registry.attestation(Number(ANHUI), index);

  const save = (name: string, bundle: unknown) => {
    const path = join(files.dir, `${name}.json`);
    writeFileSync(path, JSON.stringify(bundle, null, 2));
    return path;
  };
  /** The installed ankang-verify, reading the chain. */
  const history = async (path: string, ...extra: string[]) => {
    const r = await runCommand(
      verifier.bin,
      ['history', path, '--rpc', node.url, '--contract', registry.address, '--json', ...extra],
      verifier.project,
    );
    return { status: r.status, report: JSON.parse(r.stdout || 'null') as Report, stderr: r.stderr };
  };

  before(async () => {
    files = tempDir('ankang-e2e-witness-');
    [node, verifier] = await Promise.all([startDevNode(), installedVerifier()]);
    // Alice checks in at the gate again and again: no replay window to answer with the first.
    // Only the latest checkpoint keeps its map proofs.
    anhui = await startTestService({
      clock: new WallClock(),
      config: {
        ISSUER_ID: ANHUI,
        CHAIN_RPC_URL: node.url,
        CHAIN_DEV: 'true',
        CHECKPOINT_INTERVAL_SECONDS: '1',
        CHECKIN_REPLAY_SECONDS: 0,
        SUBJECT_MAP_KEEP: 1,
      },
    });
    const operator = await anhui.token('operator');
    [witnessToken, auditor] = await Promise.all([
      anhui.token('witness', { name: '江苏省 witness of 340000' }),
      anhui.token('auditor'),
    ]);
    gate = await registerVenue(anhui, operator, {
      type: 'residential-community',
      name: '翡翠湖小区',
      district: '340104',
    });
    const first = await checkpointCovering((await anhui.head()).seq);
    registry = new RegistryClient(RegistryClient.provider(node.url), first.contract);

    // Jiangsu finds Anhui's service from the status list URL Anhui registered on chain.
    jiangsuConfig = {
      ISSUER_ID: JIANGSU,
      CHAIN_RPC_URL: node.url,
      CHAIN_DEV: 'true',
      ANCHOR_CONTRACT: first.contract,
      CHAIN_DEV_ANCHORER_ACCOUNT: JIANGSU_ACCOUNT,
      CHECKPOINT_INTERVAL_SECONDS: '1',
      WITNESS_FOR: `${ANHUI}=${witnessToken}`,
      WITNESS_INTERVAL_SECONDS: 1,
    };
    jiangsu = await startTestService({ clock: new WallClock(), config: jiangsuConfig });
    const account = await (await registry.provider.getSigner(JIANGSU_ACCOUNT)).getAddress();
    await until(
      "Jiangsu's anchorer registered as a witness",
      async () => (await registry.witness(account)).issuer === Number(JIANGSU),
    );
    const governance = await DevGovernance.attach(registry.provider, registry.address);
    await governance.enact([registry.calls.setWitnessThreshold(1)]);

    alice = await newResident(anhui);
    const bob = await newResident(anhui);
    // Her scans come at least a millisecond after her application, so a range can start between them.
    await new Promise((r) => setTimeout(r, 5));
    for (const who of [alice, bob, alice, alice, bob])
      expect((await checkin(anhui, who, gate, 36.5)).status).to.equal(201);
    honest = await checkpointCovering((await anhui.head()).seq);
    const r = await call('GET', `/v1/proofs/subjects/${alice.pseudonym}`, auditor);
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    honestHistory = r.body;
  });

  after(async () => {
    await jiangsu?.close();
    await anhui?.close();
    await node?.stop();
    files?.cleanup();
  });

  describe('the honest checkpoint', () => {
    it('is on chain with the root the service reports and the map root it committed to', async () => {
      const onChain = await registry.checkpoint(Number(ANHUI), honest.index);
      expect(onChain).to.include({ treeSize: honest.treeSize, root: honest.root });
      expect(honest.mapRoot).to.match(/^[0-9a-f]{64}$/);
      expect((await attestation(honest.index)).mapRoot).to.equal(honest.mapRoot);
      expect(honestHistory.checkpoint).to.include({
        index: honest.index,
        treeSize: honest.treeSize,
        mapRoot: honest.mapRoot,
      });
    });

    it("is cosigned on chain by Jiangsu's witness service, which checked every event from the first", async () => {
      const a = await until('the honest checkpoint cosigned', async () => {
        const got = await attestation(honest.index);
        return got.cosigners >= 1 ? got : undefined;
      });
      expect(a).to.deep.equal({ mapRoot: honest.mapRoot, cosigners: 1, threshold: 1 });
      const jiangsuAnchorer = await (await registry.provider.getSigner(JIANGSU_ACCOUNT)).getAddress();
      expect(await registry.cosigners(Number(ANHUI), honest.index)).to.deep.equal([jiangsuAnchorer]);
      const s = await witnessing();
      expect(s.state).to.equal('witnessing');
      expect(s.cosignedCheckpoint).to.be.at.least(honest.index);
      expect(s.treeSize).to.be.at.least(honest.treeSize);
      expect(s.refusal).to.equal(null);
    });

    it("gives Alice's history complete: true from the chain alone, with no --cosigned", async () => {
      const r = await history(save('alice-honest', honestHistory));
      expect(r.status, r.stderr).to.equal(0);
      expect(r.report).to.include({ valid: true, code: 'VALID', complete: true });
      expect(r.report.completeness.code).to.equal('COMPLETE');
      expect(r.report.checkpoint).to.deep.include({
        index: honest.index,
        mapRoot: honest.mapRoot,
        cosigned: { by: 'chain', cosigners: 1, threshold: 1 },
      });
    });

    it('a restart of the witness carries on from what it had checked, not from the first event', async () => {
      const before = await witnessing();
      await jiangsu.stop();
      jiangsu = await startTestService({ clock: new WallClock(), dir: jiangsu.dir, config: jiangsuConfig });
      // Read before its first round: what it had checked and cosigned came back from its LevelDB.
      const after = jiangsu.running.app.witness!.status().issuers[0];
      expect(after).to.deep.include({
        issuer: ANHUI,
        treeSize: before.treeSize,
        checkedCheckpoint: before.checkedCheckpoint,
        cosignedCheckpoint: before.cosignedCheckpoint,
      });
      expect(after.treeSize).to.be.greaterThan(0);
    });
  });

  describe('while the council has the witness suspended', () => {
    it('it keeps checking, its cosignatures count for nothing and a new one waits; once resumed, the waiting one is sent', async () => {
      const governance = await DevGovernance.attach(registry.provider, registry.address);
      const account = await (await registry.provider.getSigner(JIANGSU_ACCOUNT)).getAddress();
      await governance.enact([registry.calls.suspendWitness(account)]);
      expect((await attestation(honest.index)).cosigners).to.equal(0);
      expect((await checkin(anhui, alice, gate, 36.7)).status).to.equal(201);
      const cp = await checkpointCovering((await anhui.head()).seq);
      const waiting = await until('the witness to check the new checkpoint and hold its cosignature', async () => {
        const s = await witnessing();
        return s.pending.includes(cp.index) && s.state === 'waiting' ? s : undefined;
      });
      expect(waiting.lastError).to.include('AnchorRegistryWitnessSuspended');
      expect(waiting.checkedCheckpoint).to.be.at.least(cp.index);
      expect((await attestation(cp.index)).cosigners).to.equal(0);

      await governance.enact([registry.calls.resumeWitness(account)]);
      await until('the waiting cosignature to be sent', async () => (await attestation(cp.index)).cosigners === 1);
      expect((await attestation(honest.index)).cosigners).to.equal(1);
      const s = await until('the witness to say so', async () => {
        const got = await witnessing();
        return got.state === 'witnessing' && got.pending.length === 0 ? got : undefined;
      });
      expect(s.cosignedCheckpoint).to.be.at.least(cp.index);
    });
  });

  describe('when the operator forks Alice’s chain with only the anchorer key', () => {
    /** Her head when the operator forks: what her next event should have linked to. */
    let headBeforeFork: string;
    before(async () => {
      const subject = `r:${alice.pseudonym}`;
      const firstScan = honestHistory.events.findIndex((e) => e.event.type === 'scan.recorded');
      expect(firstScan).to.be.greaterThan(0);
      base = honestHistory.events[firstScan - 1].event;
      const realScan = honestHistory.events[firstScan].event;
      headBeforeFork = (await anhui.running.app.ledger.read<string>('subjectHeads', subject))!;
      // Straight into the ledger: the subject's head set back to her last event before her
      // scans, then an ordinary-looking scan, which the ledger links to it. Nothing on chain is touched.
      forged = await anhui.running.app.ledger.transact(async (tx) => {
        tx.put('subjectHeads', subject, base.hash);
        return tx.append({ type: 'scan.recorded', subjects: [subject, `v:${gate.id}`], data: realScan.data });
      });
      forkedCheckpoint = await checkpointCovering(forged.seq);
    });

    it('the forked event links her back to before her scans, and the service anchors it', async () => {
      expect(forged.links[`r:${alice.pseudonym}`]).to.equal(base.hash);
      expect(forkedCheckpoint.index).to.be.greaterThan(honest.index);
      const onChain = await registry.checkpoint(Number(ANHUI), forkedCheckpoint.index);
      expect(onChain).to.include({ treeSize: forkedCheckpoint.treeSize, root: forkedCheckpoint.root });
    });

    it('the witness service refuses it: FORKED_SUBJECT at the forged seq, naming Alice, in /v1/federation/status and the metric', async () => {
      const s = await until('the witness to refuse the forged checkpoint', async () => {
        const got = await witnessing();
        return got.state === 'refused' ? got : undefined;
      });
      expect(s.refusal).to.deep.include({
        code: 'FORKED_SUBJECT',
        seq: forged.seq,
        subject: `r:${alice.pseudonym}`,
        index: forkedCheckpoint.index,
        treeSize: forkedCheckpoint.treeSize,
      });
      expect(s.refusal!.message).to.include(`not to its head ${headBeforeFork}`);
      const metrics = (await jiangsu.call('GET', '/metrics')).bytes.toString('utf8');
      expect(metrics).to.include('ankang_witness_refused{code="FORKED_SUBJECT",issuer="340000"} 1');
    });

    it('the forged checkpoint, and every later one, is never cosigned on chain', async () => {
      // More of Anhui's life: further checkpoints, which the witness, having refused, leaves alone.
      expect((await checkin(anhui, alice, gate, 36.6)).status).to.equal(201);
      const later = await checkpointCovering((await anhui.head()).seq);
      expect(later.index).to.be.greaterThan(forkedCheckpoint.index);
      await jiangsu.running.app.witness!.tick();
      await jiangsu.running.app.witness!.tick();
      for (let i = forkedCheckpoint.index; i <= later.index; i++) {
        expect(await attestation(i), `checkpoint ${i}`).to.include({ cosigners: 0, threshold: 1 });
        expect(await registry.cosigners(Number(ANHUI), i)).to.deep.equal([]);
      }
      expect((await witnessing()).cosignedCheckpoint).to.be.below(forkedCheckpoint.index);
    });

    it("the operator's history that skips her real scans verifies under the forged checkpoint, but the installed ankang-verify reports complete: false, --cosigned or not", async () => {
      // From just after the event the fork links back to: [forged] looks like all she did since.
      const from = new Date(Date.parse(base.at) + 1).toISOString();
      const r = await call(
        'GET',
        `/v1/proofs/subjects/${alice.pseudonym}?from=${encodeURIComponent(from)}&to=${encodeURIComponent(forged.at)}`,
        auditor,
      );
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      const cut = r.body as ProofBundle;
      expect(cut.checkpoint.index).to.be.at.least(forkedCheckpoint.index);
      expect(cut.previous!.event.seq).to.equal(base.seq);
      expect(cut.events.map((e) => e.event.type)).to.include('scan.recorded');
      cut.events = cut.events.filter((e) => e.event.seq === forged.seq);
      expect(cut.events).to.have.length(1);
      const path = save('alice-cut', cut);
      for (const extra of [[], ['--cosigned']]) {
        const v = await history(path, ...extra);
        expect(v.status, v.stderr).to.equal(0);
        expect(v.report, extra.join(' ')).to.include({ valid: true, code: 'VALID', complete: false });
        expect(v.report.completeness.code).to.equal('NOT_COSIGNED');
        expect(v.report.checkpoint!.cosigned).to.equal(null);
      }
    });

    it('the cut that leaves out her last events as well fails format 2 with HEAD_MISMATCH', async () => {
      const r = await call('GET', `/v1/proofs/subjects/${alice.pseudonym}`, auditor);
      const cut = r.body as ProofBundle;
      cut.events = cut.events.filter((e) => e.event.seq <= base.seq || e.event.seq === forged.seq);
      const caught = await history(save('alice-cut-head', cut));
      expect(caught.status).to.equal(1);
      expect(caught.report).to.include({ code: 'HEAD_MISMATCH', complete: false });
    });

    it('the honest history still proves complete under the checkpoint the witness cosigned', async () => {
      const again = await history(save('alice-honest-again', honestHistory));
      expect(again.status).to.equal(0);
      expect(again.report).to.include({ complete: true });
    });

    it("a restart of the witness keeps the refusal, and it still cosigns nothing of Anhui's", async () => {
      await jiangsu.stop();
      jiangsu = await startTestService({ clock: new WallClock(), dir: jiangsu.dir, config: jiangsuConfig });
      await jiangsu.running.app.witness!.tick();
      const s = await witnessing();
      expect(s.state).to.equal('refused');
      expect(s.refusal).to.include({ code: 'FORKED_SUBJECT', seq: forged.seq });
      expect((await attestation(forkedCheckpoint.index)).cosigners).to.equal(0);
    });
  });

  describe('GET /v1/log/events', () => {
    it('pages at most 1,000 events, from and to included, and says where the next page starts', async () => {
      const head = (await anhui.head()).seq;
      const r = await call('GET', '/v1/log/events?from=2&to=4', witnessToken);
      expect(r.body).to.include({ from: 2, to: 4, head, next: null });
      expect(r.body.events.map((e: LedgerEvent) => e.seq)).to.deep.equal([2, 3, 4]);
      const paged = await call('GET', `/v1/log/events?from=1&limit=5000`, witnessToken);
      expect(paged.body.events).to.have.length(Math.min(head, 1000));
      const beyond = await call('GET', `/v1/log/events?from=${head + 1}`, witnessToken);
      expect(beyond.body).to.include({ next: null });
      expect(beyond.body.events).to.deep.equal([]);
      const two = await call('GET', '/v1/log/events?from=1&to=10&limit=2', witnessToken);
      expect(two.body).to.include({ next: 3 });
    });

    it('answers 400 for a range that ends before it starts or a seq that is not a positive integer', async () => {
      for (const q of ['from=5&to=4', 'from=0', 'to=-1', 'limit=x', 'from=1.5']) {
        const r = await call('GET', `/v1/log/events?${q}`, witnessToken);
        expect(r.status, q).to.equal(400);
        expect(r.body.error.code).to.equal('VALIDATION_FAILED');
      }
    });

    it('gives a witness token nothing else: no proof bundles, no seals', async () => {
      expect((await call('GET', `/v1/proofs/subjects/${alice.pseudonym}`, witnessToken)).status).to.equal(403);
      expect((await call('POST', `/v1/proofs/subjects/${alice.pseudonym}/seal`, witnessToken)).status).to.equal(403);
    });
  });
});
