import { expect } from 'chai';
import { runFederation, type FederationRun } from '../../scripts/federation/flow';

describe('federation: three provinces on one chain (real processes)', function () {
  this.timeout(240_000);
  let run: FederationRun;

  before(async () => {
    run = await runFederation();
  });
  after(async () => {
    await run?.stop();
  });

  it('registers every issuer on chain and each service recognises the other two', () => {
    const o = run.outcome;
    expect(o.registered).to.deep.equal([310000, 320000, 340000]);
    expect(o.recognised).to.deep.equal({
      '340000': ['310000', '320000'],
      '320000': ['310000', '340000'],
      '310000': ['320000', '340000'],
    });
  });

  it("signs the Jiangsu resident in at Jiangsu's own service, whose record is bound to that session; Anhui does not know the token", () => {
    expect(run.outcome.session.home).to.include({ maskedName: '李*华', idType: 'resident-id', record: 'bound' });
    expect(run.outcome.session.elsewhereStatus).to.equal(401);
  });

  it("admits a Jiangsu code at an Anhui venue and records the scan in Anhui's ledger, anchored", async () => {
    const { crossScan, crossScanAnchoredAt, crossScanSubject } = run.outcome;
    expect(crossScan).to.include({ decision: 'admit', codeResult: 'VALID', issuer: '320000' });
    expect(crossScanAnchoredAt).to.be.a('number');
    const anhui = run.issuers['340000'];
    const auditor = await fetch(`${anhui.url}/v1/admin/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${anhui.admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ role: 'auditor', name: 'test auditor' }),
    }).then((r) => r.json());
    const bundle = await fetch(`${anhui.url}/v1/proofs/events/${crossScan.seq}`, {
      headers: { authorization: `Bearer ${auditor.token}` },
    }).then((r) => r.json());
    expect(bundle.events[0].event.subjects).to.include(crossScanSubject);
    expect(bundle.events[0].event.data).to.include({ issuer: '320000', decision: 'admit' });
  });

  it('denies the old green code once Jiangsu turns the resident red (REVOKED)', () => {
    expect(run.outcome.afterJiangsuRed).to.include({ decision: 'deny', codeResult: 'REVOKED' });
  });

  it('rejects a forged issuer and a forged key', () => {
    expect(run.outcome.forgedIssuer).to.include({ decision: 'deny', codeResult: 'UNKNOWN_ISSUER' });
    expect(run.outcome.forgedKey).to.include({ decision: 'deny', codeResult: 'UNKNOWN_KEY' });
  });

  it('keeps accepting codes of a rotated-out key and accepts the new key once it is on chain', () => {
    const r = run.outcome.rotation;
    expect(r.newKid).to.not.equal(r.oldKid);
    expect(r.chainKeys).to.equal(2);
    expect(r.oldCode.codeResult).to.equal('VALID');
    expect(r.newCode.codeResult).to.equal('VALID');
  });

  it('stops accepting a revoked key within one refresh, and the issuer moves to a new key', () => {
    const r = run.outcome.revocation;
    expect(r.revokedCode.codeResult).to.equal('KEY_REVOKED');
    expect(r.jiangsuNowSignsWith).to.not.equal(r.revokedKid);
    expect(r.freshCode.codeResult).to.equal('VALID');
  });

  it('stops accepting a province the council suspends within one refresh, refuses its checkpoints, and takes it back once resumed', () => {
    const s = run.outcome.suspension;
    expect(s.whileSuspended).to.include({ decision: 'deny', codeResult: 'UNKNOWN_ISSUER' });
    expect(s.federationSuspended).to.deep.equal(['310000']);
    expect(s.anchorWhileSuspended.state).to.equal('suspended');
    expect(s.anchorWhileSuspended.lastError).to.match(/^issuer 310000 is suspended on chain since \d{4}-/);
    expect(s.issuersInTrustList).to.equal(2);
    expect(s.syncOutput).to.match(/310000 上海市: suspended on chain since .*; left out/);
    expect(s.afterResume).to.include({ decision: 'admit', codeResult: 'VALID', issuer: '310000' });
    expect(s.checkpointAfterResume.treeSize).to.be.a('number');
  });

  it('lets a verifier work offline from a trust list and status lists synced from the chain', () => {
    const o = run.outcome.offline;
    expect(o.syncExit, o.syncOutput).to.equal(0);
    expect(o.syncOutput).to.match(/320000 江苏省: 2 key\(s\), status list of \d+ entries/);
    expect(o.issuersInTrustList).to.equal(3);
    expect(o.codeExit).to.equal(0);
    expect(o.codeOutput).to.match(/^valid: green code from 上海市 \(310000\)/);
    expect(o.codeOutput).to.match(/trust list issued \d+ s ago; status list issued \d+ s ago/);
  });
  it('has each province witness the other two, and an Anhui history reported complete from the chain under a checkpoint both cosigned', () => {
    const w = run.outcome.witnessing;
    expect(w.witnesses.map((x) => x.issuer).sort()).to.deep.equal([310000, 320000, 340000]);
    expect(w.threshold).to.equal(2);
    expect(w.checkpoint.attestation).to.deep.equal({ cosigners: 2, threshold: 2 });
    const anhuiAnchorer = w.witnesses.find((x) => x.issuer === 340000)!.account;
    expect(w.checkpoint.cosigners).to.have.length(2).and.not.include(anhuiAnchorer);
    expect(w.historyExit).to.equal(0);
    expect(w.history).to.deep.include({ valid: true, complete: true });
    expect(w.history.completeness.code).to.equal('COMPLETE');
    expect(w.history.checkpoint.cosigned).to.deep.equal({ by: 'chain', cosigners: 2, threshold: 2 });
    for (const [own, watched] of Object.entries(w.statuses)) {
      expect(watched.map((x) => x.issuer).sort(), own).to.deep.equal(
        ['310000', '320000', '340000'].filter((id) => id !== own),
      );
      for (const x of watched) expect(x, `${own} witnessing ${x.issuer}`).to.deep.include({ refusal: null });
    }
    expect(w.statuses['320000'].find((x) => x.issuer === '340000')!.cosignedCheckpoint).to.be.at.least(
      w.checkpoint.index,
    );
  });
});
