import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDevNode, type DevNode } from '../../anchor/dev-node';
import { until } from '../../scripts/lib/wait';
import type { ProofBundle } from '../../verifier/src/proof-bundle';
import { installedVerifier, runCommand, type InstalledVerifier } from '../support/installed-verifier';
import { currentCode, newResident, type Resident } from '../support/scenario';
import { startTestService, WallClock, type TestService } from '../support/service';
import { linkCard, registerDesk } from '../support/services17';
import { tempDir } from '../support/tmp';

/** What `ankang-verify history --json` prints for one bundle. */
interface Report {
  valid: boolean;
  code: string;
  message: string;
  checked: number;
}

describe("look-ups are provable: `ankang-verify history` on a resident's and a desk's bundles (real Hardhat node)", function () {
  this.timeout(180_000);
  let node: DevNode;
  let svc: TestService;
  let verifier: InstalledVerifier;
  let files: ReturnType<typeof tempDir>;
  let contract: string;
  let auditor: string;
  let alice: Resident;
  let desk: { id: string; token: string };
  /** The look-ups' sequence numbers and outcomes, in order. */
  const lookups: Array<{ seq: number; outcome: string; alice: boolean }> = [];
  let aliceHistory: ProofBundle;
  let deskHistory: ProofBundle;

  const save = (name: string, bundle: unknown): string => {
    const path = join(files.dir, `${name}.json`);
    writeFileSync(path, JSON.stringify(bundle, null, 2));
    return path;
  };
  const verify = (bundle: ProofBundle, name: string) =>
    runCommand(
      verifier.bin,
      ['history', save(name, bundle), '--rpc', node.url, '--contract', contract, '--json'],
      verifier.project,
    );
  const fetchBundle = async (path: string): Promise<ProofBundle> => {
    const r = await svc.call('GET', path, { token: auditor });
    expect(r.status, `${path}: ${JSON.stringify(r.body)}`).to.equal(200);
    return r.body;
  };

  before(async () => {
    files = tempDir('ankang-lookup-history-');
    [node, verifier] = await Promise.all([startDevNode(), installedVerifier()]);
    svc = await startTestService({
      clock: new WallClock(),
      config: { CHAIN_RPC_URL: node.url, CHAIN_DEV: 'true', CHECKPOINT_INTERVAL_SECONDS: '1' },
    });
    auditor = await svc.token('auditor');
    alice = await newResident(svc);
    await linkCard(svc, alice, 'health-card', 'HC-340104-000000099');
    const d = await registerDesk(svc, { kind: 'hospital-desk', name: '门诊挂号 9' });
    desk = { id: d.desk.id, token: d.token };

    const resolve = async (code: string, purpose: string, who: boolean) => {
      const r = await svc.call('POST', '/v1/services/resolve', { token: desk.token, json: { code, purpose } });
      expect(r.status).to.be.oneOf([200, 403, 404, 409, 422]);
      const seq = r.status === 200 ? r.body.seq : r.body.lookup.seq;
      lookups.push({ seq, outcome: r.status === 200 ? 'resolved' : r.body.error.code, alice: who });
    };
    const code = await currentCode(svc, alice);
    await resolve(code, 'registration', true);
    await resolve(code, 'registration', true);
    await resolve(await currentCode(svc, alice, 'printed'), 'registration', true);
    await resolve('AK1:NOT-A-CODE', 'registration', false);
    await resolve(await currentCode(svc, alice), 'identity', true);
    await resolve(await currentCode(svc, alice), 'registration', true);
    expect(lookups.map((l) => l.outcome)).to.deep.equal([
      'resolved',
      'CODE_REPLAYED',
      'CODE_PRINTED',
      'CODE_NOT_VALID',
      'PURPOSE_NOT_ALLOWED',
      'resolved',
    ]);

    const head = (await svc.head()).seq;
    const cp = await until('a checkpoint covering the look-ups', async () => {
      const s = (await svc.call('GET', '/v1/anchor/status')).body;
      return s.checkpoint && s.checkpoint.treeSize >= head ? s.checkpoint : undefined;
    });
    contract = cp.contract;
    aliceHistory = await fetchBundle(`/v1/proofs/subjects/${alice.pseudonym}`);
    deskHistory = await fetchBundle(`/v1/proofs/desks/${desk.id}`);
  });

  after(async () => {
    await svc?.close();
    await node?.stop();
    files?.cleanup();
  });

  it("the desk's bundle holds its registration and every look-up at it, refused or not, and verifies", async () => {
    expect(deskHistory).to.include({ kind: 'history', subject: `d:${desk.id}` });
    expect(deskHistory.events.map((e) => e.event.type)).to.deep.equal([
      'desk.registered',
      ...lookups.map(() => 'service.looked-up'),
    ]);
    expect(deskHistory.events.slice(1).map((e) => [e.event.seq, e.event.data.outcome])).to.deep.equal(
      lookups.map((l) => [l.seq, l.outcome]),
    );
    const r = await verify(deskHistory, 'desk');
    expect(r.status, r.stdout + r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout)).to.include({ valid: true, code: 'VALID', checked: deskHistory.events.length });
  });

  it("the resident's bundle holds each look-up with her code, and verifies", async () => {
    const seqs = aliceHistory.events.filter((e) => e.event.type === 'service.looked-up').map((e) => e.event.seq);
    expect(seqs).to.deep.equal(lookups.filter((l) => l.alice).map((l) => l.seq));
    for (const e of aliceHistory.events.filter((x) => x.event.type === 'service.looked-up')) {
      expect(e.event.subjects).to.have.members([`r:${alice.pseudonym}`, `d:${desk.id}`]);
      expect(JSON.stringify(e.event))
        .to.not.include(alice.body.name)
        .and.not.include(alice.body.idNumber)
        .and.not.include('HC-340104-000000099');
    }
    const r = await verify(aliceHistory, 'alice');
    expect(r.status, r.stdout + r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout)).to.include({ valid: true, code: 'VALID', checked: aliceHistory.events.length });
  });

  it('a bundle with one look-up event removed is refused with HISTORY_GAP', async () => {
    for (const [name, bundle] of [
      ['desk-cut', deskHistory],
      ['alice-cut', aliceHistory],
    ] as const) {
      const cut = structuredClone(bundle);
      const i = cut.events.findIndex((e) => e.event.type === 'service.looked-up');
      expect(i, 'a look-up with an event after it')
        .to.be.greaterThan(0)
        .and.lessThan(cut.events.length - 1);
      cut.events.splice(i, 1);
      const r = await verify(cut, name);
      expect(r.status, r.stdout + r.stderr).to.equal(1);
      const report = JSON.parse(r.stdout) as Report;
      expect(report.code, report.message).to.equal('HISTORY_GAP');
    }
  });
});
