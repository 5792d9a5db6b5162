import { expect } from 'chai';
import { startTestService, type TestService } from '../support/service';
import {
  expectScanEvent,
  headSeq,
  newResident,
  registerVenue,
  staffScan,
  type Resident,
  type Venue,
} from '../support/scenario';

const DENY_YELLOW = {
  id: 'hefei-crowded-yellow',
  venueType: 'crowded-place',
  district: '340100',
  rules: [
    {
      id: 'deny-yellow',
      decision: 'deny',
      reason: { zh: '合肥市人员密集场所：黄码禁止进入', en: 'Crowded places in Hefei: no entry on a yellow code' },
      when: { '==': [{ var: 'colour' }, 'yellow'] },
    },
  ],
};

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x));

describe('admission policies (PUT /v1/policies)', function () {
  this.timeout(30_000);
  let svc: TestService;
  let health: string;
  let operator: string;
  let hefeiMall: Venue;
  let wuhuMall: Venue;
  let hefeiGate: Venue;
  let yellow: Resident;
  let v1: any;

  before(async () => {
    svc = await startTestService();
    health = await svc.token('health');
    operator = await svc.token('operator');
    hefeiMall = await registerVenue(svc, operator, {
      type: 'crowded-place',
      subtype: 'mall',
      name: '蜀山万达',
      district: '340104',
    });
    wuhuMall = await registerVenue(svc, operator, {
      type: 'crowded-place',
      subtype: 'mall',
      name: '镜湖万达',
      district: '340202',
    });
    hefeiGate = await registerVenue(svc, operator, {
      type: 'residential-community',
      name: '蜀山小区',
      district: '340104',
    });
    yellow = await newResident(svc, { declaration: { temperatureC: 36.7, symptoms: ['cough'] } });
    expect(yellow.colour).to.equal('yellow');
    v1 = (await svc.call('GET', '/v1/policies')).body;
  });
  after(async () => {
    await svc?.close();
  });

  describe('before any change', () => {
    it('serves the built-in policy set as version 1', () => {
      expect(v1.version).to.equal(1);
      expect(v1.policySet.overrides).to.deep.equal([]);
    });

    it('refers a yellow code at a Hefei mall', async () => {
      const out = await staffScan(svc, operator, { venueId: hefeiMall.id, code: yellow.code });
      expect(out.body).to.include({ decision: 'refer', rule: 'default/yellow-code', policyVersion: 1 });
    });
  });

  describe('when the authority adds an override for district 340100 (Hefei) that denies yellow at crowded places', () => {
    let published: any;

    before(async () => {
      const doc = { ...clone(v1.policySet), overrides: [DENY_YELLOW] };
      published = await svc.call('PUT', '/v1/policies', { token: health, json: doc });
    });

    it('publishes version 2', async () => {
      expect(published.status, JSON.stringify(published.body)).to.equal(201);
      expect(published.body.version).to.equal(2);
      expect(published.body.digest).to.match(/^[0-9a-f]{64}$/);
      const current = (await svc.call('GET', '/v1/policies')).body;
      expect(current.version).to.equal(2);
      expect(current.policySet.overrides).to.deep.equal([DENY_YELLOW]);
    });

    it('denies a yellow resident at a mall in 340104 (inside 340100) by the override rule, under version 2', async () => {
      const out = await staffScan(svc, operator, { venueId: hefeiMall.id, code: yellow.code });
      expect(out.status).to.equal(201);
      expect(out.body).to.include({ decision: 'deny', rule: 'hefei-crowded-yellow/deny-yellow', policyVersion: 2 });
      expect(out.body.reason.zh).to.equal(DENY_YELLOW.rules[0].reason.zh);
      await expectScanEvent(svc, out.body, [`r:${yellow.pseudonym}`, `v:${hefeiMall.id}`]);
    });

    it('still refers the same resident at a mall in 340202 (Wuhu), by the default rule under version 2', async () => {
      const out = await staffScan(svc, operator, { venueId: wuhuMall.id, code: yellow.code });
      expect(out.body).to.include({ decision: 'refer', rule: 'default/yellow-code', policyVersion: 2 });
    });

    it('still refers them at a residential community in 340104: the override names crowded places only', async () => {
      const out = await staffScan(svc, operator, { venueId: hefeiGate.id, code: yellow.code });
      expect(out.body).to.include({ decision: 'refer', rule: 'default/yellow-code', policyVersion: 2 });
    });

    it('still admits a green resident at the Hefei mall by the default rule', async () => {
      const green = await newResident(svc);
      const out = await staffScan(svc, operator, { venueId: hefeiMall.id, code: green.code });
      expect(out.body).to.include({ decision: 'admit', rule: 'default/green-code', policyVersion: 2 });
    });

    it('keeps version 1 unchanged at GET /v1/policies/1', async () => {
      const old = await svc.call('GET', '/v1/policies/1');
      expect(old.status).to.equal(200);
      expect(old.body).to.include({ version: 1, digest: v1.digest });
      expect(old.body.policySet).to.deep.equal(v1.policySet);
      const versions = await svc.call('GET', '/v1/policies/versions');
      expect(versions.body.current).to.equal(2);
      expect(versions.body.versions.map((v: { version: number }) => v.version)).to.deep.equal([1, 2]);
    });

    it('records the publication, with the whole document, in the ledger', async () => {
      let found: any;
      for await (const e of svc.running.app.ledger.events())
        if (e.type === 'policies.published' && e.data.version === 2) found = e;
      expect(found.data.doc.overrides).to.deep.equal([DENY_YELLOW]);
      expect(found.data.digest).to.equal(published.body.digest);
    });
  });

  describe('an invalid policy set', () => {
    const cases: Array<[string, (doc: any) => void, RegExp]> = [
      [
        'a rule reading an unknown fact',
        (d) =>
          d.defaults['crowded-place'].unshift({
            id: 'blood',
            decision: 'deny',
            reason: { zh: '血型', en: 'blood type' },
            when: { '==': [{ var: 'bloodType' }, 'O'] },
          }),
        /^defaults\.crowded-place\.0\.when/,
      ],
      [
        'a rule with an unknown operator',
        (d) =>
          d.defaults.transport.unshift({
            id: 'odd',
            decision: 'deny',
            reason: { zh: '未知', en: 'unknown' },
            when: { frobnicate: [{ var: 'colour' }] },
          }),
        /^defaults\.transport\.0\.when/,
      ],
      ['a missing venue type', (d) => delete d.defaults.school, /^defaults\.school$/],
      [
        'an override naming neither a venue type nor a district',
        (d) => d.overrides.push({ id: 'nowhere', rules: DENY_YELLOW.rules }),
        /^overrides\.\d+$/,
      ],
      [
        'an override for an unknown district',
        (d) => d.overrides.push({ ...DENY_YELLOW, id: 'nowhere', district: '349999' }),
        /^overrides\.\d+\.district$/,
      ],
    ];

    for (const [what, spoil, path] of cases) {
      it(`is refused with 400 INVALID_RULE_SET naming the field, and nothing is written: ${what}`, async () => {
        const doc = clone((await svc.call('GET', '/v1/policies')).body.policySet);
        spoil(doc);
        const head = headSeq(svc);
        const out = await svc.call('PUT', '/v1/policies', { token: health, json: doc });
        expect(out.status).to.equal(400);
        expect(out.body.error.code).to.equal('INVALID_RULE_SET');
        expect(
          out.body.error.fields.map((f: { path: string }) => f.path).some((p: string) => path.test(p)),
          JSON.stringify(out.body.error.fields),
        ).to.equal(true);
        expect(headSeq(svc)).to.equal(head);
        expect((await svc.call('GET', '/v1/policies')).body.version).to.equal(2);
      });
    }

    it('leaves GET /v1/policies/1 and the version list as they were', async () => {
      const old = await svc.call('GET', '/v1/policies/1');
      expect(old.body.policySet).to.deep.equal(v1.policySet);
      expect((await svc.call('GET', '/v1/policies/versions')).body.versions).to.have.length(2);
      expect((await svc.call('GET', '/v1/policies/3')).status).to.equal(404);
    });
  });

  describe('who may publish', () => {
    it('refuses an operator with 403 and an anonymous caller with 401', async () => {
      const doc = (await svc.call('GET', '/v1/policies')).body.policySet;
      expect((await svc.call('PUT', '/v1/policies', { token: operator, json: doc })).status).to.equal(403);
      expect((await svc.call('PUT', '/v1/policies', { json: doc })).status).to.equal(401);
    });
  });
});
