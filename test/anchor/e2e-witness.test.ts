import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDevNode, type DevNode } from '../../anchor/dev-node';
import { RegistryClient } from '../../anchor/registry';
import type { CheckpointRecord } from '../../anchor/anchorer';
import type { LedgerEvent } from '../../verifier/src/event';
import type { ProofBundle } from '../../verifier/src/proof-bundle';
import { checkCheckpoint, initialWitnessState, type CheckpointStatement, type WitnessState } from '../../verifier/src/witness';
import { installedVerifier, runCommand, type InstalledVerifier } from '../support/installed-verifier';
import { checkin, newResident, registerVenue, type Resident, type Venue } from '../support/scenario';
import { startTestService, TestClock, type TestService } from '../support/service';
import { tempDir } from '../support/tmp';
import { until } from '../../scripts/lib/wait';

const ISSUER = '340000';

/** The anchorer paces checkpoints by the service's clock, so it runs with the wall clock. */
class WallClock extends TestClock {
  override readonly now = (): Date => new Date();
}

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
 * Issue 14 end to end: the service anchors an honest history on a real Hardhat node and a
 * witness, fetching the log over HTTP, cosigns it; then the operator, holding only what runs
 * the service (its ledger and its anchorer key), forks a resident's chain and lets the
 * anchorer anchor it. The witness refuses that checkpoint, naming the forked event, while the
 * honest history stays provably complete under the checkpoint the witness did cosign.
 */
describe('witnesses end to end: the service anchors, a witness checks the log, the operator forks a chain', function () {
  this.timeout(180_000);
  let node: DevNode;
  let svc: TestService;
  let verifier: InstalledVerifier;
  let files: ReturnType<typeof tempDir>;
  let witnessToken: string;
  let auditor: string;
  let gate: Venue;
  let alice: Resident;
  /** The honest checkpoint, its Alice history bundle, and the witness's state once it cosigned it. */
  let honest: CheckpointRecord;
  let honestHistory: ProofBundle;
  let cosigned: WitnessState;
  /** The operator's forked event and the checkpoint that covers it. */
  let forged: LedgerEvent;
  let forkedCheckpoint: CheckpointRecord;

  const call = (method: string, path: string, token?: string) => svc.call(method, path, { token });
  const status = async () => (await call('GET', '/v1/anchor/status')).body as { checkpoint: CheckpointRecord | null };
  const checkpointCovering = (seq: number) =>
    until(`a checkpoint covering seq ${seq}`, async () => {
      const cp = (await status()).checkpoint;
      return cp && cp.treeSize >= seq ? cp : undefined;
    });
  const statement = (cp: CheckpointRecord): CheckpointStatement => ({ issuer: ISSUER, treeSize: cp.treeSize, root: cp.root, mapRoot: cp.mapRoot! });

  /** What a witness does: fetches events (after, upTo] page by page with its token. */
  async function fetchEvents(after: number, upTo: number, limit = 1000): Promise<LedgerEvent[]> {
    const out: LedgerEvent[] = [];
    let from: number | null = after + 1;
    while (from !== null && from <= upTo) {
      const r = await call('GET', `/v1/log/events?from=${from}&to=${upTo}&limit=${limit}`, witnessToken);
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      expect(r.body.events.length).to.be.at.most(limit);
      out.push(...r.body.events);
      from = r.body.next;
    }
    return out;
  }

  const save = (name: string, bundle: unknown) => {
    const path = join(files.dir, `${name}.json`);
    writeFileSync(path, JSON.stringify(bundle, null, 2));
    return path;
  };
  const history = async (path: string, ...extra: string[]) => {
    const contract = svc.running.app.anchorer!.checkpoint!.contract;
    const r = await runCommand(verifier.bin, ['history', path, '--rpc', node.url, '--contract', contract, '--json', ...extra], verifier.project);
    return { status: r.status, report: JSON.parse(r.stdout || 'null') as Report, stderr: r.stderr };
  };

  before(async () => {
    files = tempDir('ankang-e2e-witness-');
    [node, verifier] = await Promise.all([startDevNode(), installedVerifier()]);
    // Alice checks in at the gate again and again: no replay window to answer with the first.
    // Only the latest checkpoint keeps its map proofs.
    svc = await startTestService({
      clock: new WallClock(),
      config: { CHAIN_RPC_URL: node.url, CHAIN_DEV: 'true', CHECKPOINT_INTERVAL_SECONDS: '1', CHECKIN_REPLAY_SECONDS: 0, SUBJECT_MAP_KEEP: 1 },
    });
    const operator = await svc.token('operator');
    [witnessToken, auditor] = await Promise.all([svc.token('witness', { name: '江苏省 witness of 340000' }), svc.token('auditor')]);

    gate = await registerVenue(svc, operator, { type: 'residential-community', name: '翡翠湖小区', district: '340104' });
    alice = await newResident(svc);
    const bob = await newResident(svc);
    for (const who of [alice, bob, alice, alice, bob]) expect((await checkin(svc, who, gate, 36.5)).status).to.equal(201);

    honest = await checkpointCovering((await svc.head()).seq);
    const r = await call('GET', `/v1/proofs/subjects/${alice.pseudonym}`, auditor);
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    honestHistory = r.body;
  });

  after(async () => {
    await svc?.close();
    await node?.stop();
    files?.cleanup();
  });

  describe('the honest checkpoint', () => {
    it('is on chain with the root the service reports, and a map root in its record', async () => {
      const onChain = await new RegistryClient(RegistryClient.provider(node.url), honest.contract).checkpoint(Number(ISSUER), honest.index);
      expect(onChain).to.include({ treeSize: honest.treeSize, root: honest.root });
      expect(honest.mapRoot).to.match(/^[0-9a-f]{64}$/);
      expect(honestHistory).to.deep.include({ format: 'ankang-proof-bundle/2' });
      expect(honestHistory.checkpoint).to.include({ index: honest.index, treeSize: honest.treeSize, mapRoot: honest.mapRoot });
      expect(honestHistory.subjectHead).to.include({ count: honestHistory.events.length, head: honestHistory.events[honestHistory.events.length - 1].event.hash });
    });

    it('is cosigned by a witness that fetched every event from the first, 7 a page', async () => {
      const events = await fetchEvents(0, honest.treeSize, 7);
      expect(events.map((e) => e.seq)).to.deep.equal(Array.from({ length: honest.treeSize }, (_, i) => i + 1));
      const v = checkCheckpoint(initialWitnessState(ISSUER), statement(honest), events);
      expect(v.cosign, JSON.stringify(v)).to.equal(true);
      if (!v.cosign) return;
      expect(v.statement).to.deep.equal(statement(honest));
      cosigned = v.state;
    });

    it("gives Alice's history complete: true once marked cosigned, and complete: false until then", async () => {
      const path = save('alice-honest', honestHistory);
      const marked = await history(path, '--cosigned');
      expect(marked.status, marked.stderr).to.equal(0);
      expect(marked.report).to.include({ valid: true, code: 'VALID', complete: true });
      expect(marked.report.completeness.code).to.equal('COMPLETE');
      expect(marked.report.checkpoint).to.deep.include({ mapRoot: honest.mapRoot, cosigned: { by: '--cosigned' } });
      const unmarked = await history(path);
      expect(unmarked.status).to.equal(0);
      expect(unmarked.report).to.include({ valid: true, complete: false });
      expect(unmarked.report.completeness.code).to.equal('NOT_COSIGNED');
    });
  });

  describe('when the operator forks Alice’s chain with only the anchorer key', () => {
    before(async () => {
      const subject = `r:${alice.pseudonym}`;
      const first = honestHistory.events[0].event;
      const realScan = honestHistory.events.find((e) => e.event.type === 'scan.recorded')!.event;
      // Straight into the ledger: the subject's head set back to her first event, then an
      // ordinary-looking scan, which the ledger links to it. Nothing on chain is touched.
      forged = await svc.running.app.ledger.transact(async (tx) => {
        tx.put('subjectHeads', subject, first.hash);
        return tx.append({ type: 'scan.recorded', subjects: [subject, `v:${gate.id}`], data: realScan.data });
      });
      forkedCheckpoint = await checkpointCovering(forged.seq);
    });

    it('the forked event links her back to her first event, and the service anchors it', async () => {
      expect(forged.links[`r:${alice.pseudonym}`]).to.equal(honestHistory.events[0].event.hash);
      expect(forkedCheckpoint.index).to.be.greaterThan(honest.index);
      const onChain = await new RegistryClient(RegistryClient.provider(node.url), forkedCheckpoint.contract).checkpoint(Number(ISSUER), forkedCheckpoint.index);
      expect(onChain).to.include({ treeSize: forkedCheckpoint.treeSize, root: forkedCheckpoint.root });
    });

    it('the witness refuses that checkpoint: FORKED_SUBJECT at the forged seq, naming Alice', async () => {
      const events = await fetchEvents(honest.treeSize, forkedCheckpoint.treeSize);
      expect(events[0].seq).to.equal(honest.treeSize + 1);
      const v = checkCheckpoint(cosigned, statement(forkedCheckpoint), events);
      expect(v.cosign).to.equal(false);
      if (v.cosign) return;
      expect(v).to.include({ code: 'FORKED_SUBJECT', seq: forged.seq, subject: `r:${alice.pseudonym}` });
      expect(v.message).to.include(`not to its head ${honestHistory.subjectHead!.head}`);
    });

    it("the operator's history that leaves out her real scans fools format 1, and fails format 2 with HEAD_MISMATCH", async () => {
      const r = await call('GET', `/v1/proofs/subjects/${alice.pseudonym}`, auditor);
      expect(r.status).to.equal(200);
      const full = r.body as ProofBundle;
      expect(full.checkpoint.index).to.equal(forkedCheckpoint.index);
      const cut = structuredClone(full);
      cut.events = cut.events.filter((e) => e.event.seq === honestHistory.events[0].event.seq || e.event.seq === forged.seq);
      expect(cut.events).to.have.length(2);

      const old = structuredClone(cut) as unknown as Record<string, any>;
      old.format = 'ankang-proof-bundle/1';
      delete old.subjectHead;
      delete old.checkpoint.mapRoot;
      const fooled = await history(save('alice-cut-1', old), '--cosigned');
      expect(fooled.status).to.equal(0);
      expect(fooled.report.message).to.include(`no gaps up to seq ${forged.seq}`);
      expect(fooled.report.complete).to.equal(false);

      const caught = await history(save('alice-cut-2', cut));
      expect(caught.status).to.equal(1);
      expect(caught.report.code, caught.report.message).to.equal('HEAD_MISMATCH');
      expect(caught.report.message).to.include(`the subject map counts ${honestHistory.events.length + 1}`);
    });

    it('the honest history still proves complete under the checkpoint the witness cosigned', async () => {
      const again = await history(save('alice-honest-again', honestHistory), '--cosigned');
      expect(again.status).to.equal(0);
      expect(again.report).to.include({ complete: true });
    });

    it('the service kept the honest checkpoint’s map root but pruned its proofs (SUBJECT_MAP_KEEP=1)', () => {
      const map = svc.running.app.anchorer!.map;
      expect(map.mapRootAt(honest.treeSize)!.toString('hex')).to.equal(honest.mapRoot);
      expect(() => map.proof(`r:${alice.pseudonym}`, honest.treeSize)).to.throw(RangeError, /pruned/);
      expect(map.proof(`r:${alice.pseudonym}`, forkedCheckpoint.treeSize).count).to.equal(honestHistory.events.length + 1);
    });
  });

  describe('GET /v1/log/events', () => {
    it('pages at most 1,000 events, from and to included, and says where the next page starts', async () => {
      const head = (await svc.head()).seq;
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
