import { expect } from 'chai';
import { startDevNode, type DevNode } from '../../anchor/dev-node';
import { RegistryClient } from '../../anchor/registry';
import { verifyHistory, type ProofBundle } from '../../verifier/src/proof-bundle';
import { hashLeaf, verifyInclusion } from '../../verifier/src/merkle';
import { startTestService, type TestService, WallClock } from '../support/service';
import { checkin, newResident, registerVenue, staffScan, type Venue } from '../support/scenario';
import { until } from '../../scripts/lib/wait';

const ISSUER = 340000;
const hex = (h: string) => Buffer.from(h, 'hex');

describe('GET /v1/proofs/venues/:id against a real Hardhat node', function () {
  this.timeout(120_000);
  let node: DevNode;
  let svc: TestService;
  let auditor: string;
  let operator: string;
  let gate: Venue;
  let scanSeqs: number[];
  let bundle: ProofBundle;
  let anchored: { treeSize: number; root: Buffer };

  before(async () => {
    node = await startDevNode();
    svc = await startTestService({
      clock: new WallClock(),
      config: { CHAIN_RPC_URL: node.url, CHAIN_DEV: 'true', CHECKPOINT_INTERVAL_SECONDS: '1' },
    });
    auditor = await svc.token('auditor');
    operator = await svc.token('operator');
    gate = await registerVenue(svc, operator, {
      type: 'residential-community',
      name: '翡翠湖小区',
      district: '340104',
    });
    scanSeqs = [];
    for (let i = 0; i < 3; i++) {
      const out = await checkin(svc, await newResident(svc), gate, 36.5);
      expect(out.status).to.equal(201);
      scanSeqs.push(out.body.seq);
    }
    const staff = await staffScan(svc, operator, { venueId: gate.id, code: (await newResident(svc)).code });
    scanSeqs.push(staff.body.seq);
    const last = scanSeqs[scanSeqs.length - 1];
    await until('a checkpoint covering the scans', () => {
      const cp = svc.running.app.anchorer!.checkpoint;
      return cp && cp.treeSize >= last ? cp : undefined;
    });
    const res = await svc.call('GET', `/v1/proofs/venues/${gate.id}`, { token: auditor });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    bundle = res.body;
    // The contract the service anchors to, not the one the bundle names.
    const registry = new RegistryClient(
      RegistryClient.provider(node.url),
      svc.running.app.anchorer!.checkpoint!.contract,
    );
    const onChain = await registry.checkpoint(ISSUER, bundle.checkpoint.index);
    anchored = { treeSize: onChain.treeSize, root: hex(onChain.root) };
  });
  after(async () => {
    await svc?.close();
    await node?.stop();
  });

  it('returns a history bundle of the venue, for a checkpoint that is on chain', () => {
    expect(bundle).to.include({
      format: 'ankang-proof-bundle/2',
      kind: 'history',
      issuer: '340000',
      subject: `v:${gate.id}`,
    });
    expect(bundle.chain.contract).to.equal(svc.running.app.anchorer!.checkpoint!.contract);
    expect(bundle.checkpoint.treeSize).to.equal(anchored.treeSize);
    expect(bundle.checkpoint.root).to.equal(anchored.root.toString('hex'));
    expect(bundle.previous).to.equal(null);
  });

  it('holds the registration and every scan at the venue, in order', () => {
    const events = bundle.events.map((e) => e.event);
    expect(events[0].type).to.equal('venue.registered');
    expect(events.filter((e) => e.type === 'scan.recorded').map((e) => e.seq)).to.deep.equal(scanSeqs);
    for (const e of events) expect(e.subjects).to.include(`v:${gate.id}`);
  });

  it("chains the events: each one links to the hash of the venue's event before it", () => {
    const subject = `v:${gate.id}`;
    let before: string | null = null;
    for (const { event } of bundle.events) {
      expect(event.links[subject], `seq ${event.seq}`).to.equal(before);
      before = event.hash;
    }
  });

  it('proves every event included in the root read from the chain', () => {
    for (const entry of bundle.events) {
      expect(entry.leafIndex).to.equal(entry.event.seq - 1);
      verifyInclusion(
        hashLeaf(hex(entry.event.hash)),
        entry.leafIndex,
        anchored.treeSize,
        entry.proof.map(hex),
        anchored.root,
      );
    }
  });

  it("passes verifyHistory against the chain's checkpoint", () => {
    const r = verifyHistory(bundle, anchored);
    expect(r, r.message).to.include({ valid: true, code: 'VALID', checked: bundle.events.length });
  });

  it('fails verifyHistory with HISTORY_GAP when a scan is left out', () => {
    const cut = { ...bundle, events: bundle.events.filter((_, i) => i !== 2) };
    expect(verifyHistory(cut, anchored).code).to.equal('HISTORY_GAP');
  });

  it('fails verifyHistory with EVENT_ALTERED when a decision is rewritten', () => {
    const altered = JSON.parse(JSON.stringify(bundle)) as ProofBundle;
    const scan = altered.events.find((e) => e.event.type === 'scan.recorded')!;
    scan.event.data.decision = 'deny';
    expect(verifyHistory(altered, anchored).code).to.equal('EVENT_ALTERED');
  });

  it('fails verifyHistory with CHECKPOINT_MISMATCH against another root', () => {
    expect(verifyHistory(bundle, { treeSize: anchored.treeSize, root: Buffer.alloc(32, 7) }).code).to.equal(
      'CHECKPOINT_MISMATCH',
    );
  });

  it("narrows to a time range, naming the venue's event just before it", async () => {
    const events = bundle.events.map((e) => e.event);
    const from = events[2].at;
    const res = await svc.call('GET', `/v1/proofs/venues/${gate.id}?from=${encodeURIComponent(from)}`, {
      token: auditor,
    });
    expect(res.status).to.equal(200);
    const part = res.body as ProofBundle;
    expect(part.previous!.event.seq).to.equal(events[1].seq);
    expect(part.events.map((e) => e.event.seq)).to.deep.equal(events.slice(2).map((e) => e.seq));
    const r = verifyHistory(part, anchored);
    expect(r, r.message).to.include({ valid: true });
  });

  it('answers 404 for an unknown venue', async () => {
    const res = await svc.call('GET', '/v1/proofs/venues/AAAAAAAAAAAAAAAA', { token: auditor });
    expect(res.status).to.equal(404);
    expect(res.body.error.code).to.equal('NOT_FOUND');
  });

  it("is for auditors: 403 for the venue's operator, 401 without a token", async () => {
    expect((await svc.call('GET', `/v1/proofs/venues/${gate.id}`, { token: operator })).status).to.equal(403);
    expect((await svc.call('GET', `/v1/proofs/venues/${gate.id}`)).status).to.equal(401);
  });

  it('refuses a range that ends before it starts with 400', async () => {
    const res = await svc.call(
      'GET',
      `/v1/proofs/venues/${gate.id}?from=2026-03-10T00:00:00Z&to=2026-03-09T00:00:00Z`,
      { token: auditor },
    );
    expect(res.status).to.equal(400);
  });
});

describe('GET /v1/proofs/venues/:id without a chain', function () {
  this.timeout(30_000);
  let svc: TestService;

  before(async () => {
    svc = await startTestService();
  });
  after(async () => {
    await svc?.close();
  });

  it('answers 503 ANCHORING_OFF for a known venue and 404 for an unknown one', async () => {
    const auditor = await svc.token('auditor');
    const gate = await registerVenue(svc, await svc.token('operator'), {
      type: 'school',
      name: '琥珀小学',
      district: '340104',
    });
    const known = await svc.call('GET', `/v1/proofs/venues/${gate.id}`, { token: auditor });
    expect(known.status).to.equal(503);
    expect(known.body.error.code).to.equal('ANCHORING_OFF');
    expect((await svc.call('GET', '/v1/proofs/venues/not-a-venue', { token: auditor })).status).to.equal(404);
  });
});
