import { expect } from 'chai';
import {
  decodeCode,
  loadStatusList,
  prepareTrustList,
  verifyCode,
  type ResidentClaims,
  type StatusList,
} from '../../verifier/src';
import type { LedgerEvent } from '../../verifier/src/event';
import defaultRules from '../../server/rules/default-rules.json';
import {
  applicant,
  apply,
  DAY,
  MINUTE,
  residentIdNumber,
  shanghaiDate,
  startTestService,
  type TestService,
} from '../support/service';

const claimsOf = (code: string) => decodeCode(code).claims as ResidentClaims;

async function currentStatusList(svc: TestService): Promise<{ bytes: Uint8Array; list: StatusList; trust: unknown }> {
  const trust = (await svc.call('GET', '/v1/trust-list')).body;
  const bytes = new Uint8Array((await svc.call('GET', '/v1/status-list')).bytes);
  const r = await loadStatusList(bytes, prepareTrustList(trust));
  if (!r.valid) throw new Error(`status list does not load: ${r.message}`);
  return { bytes, list: r.statusList, trust };
}

async function eventsOf(svc: TestService, type: string): Promise<LedgerEvent[]> {
  const out: LedgerEvent[] = [];
  for await (const e of svc.running.app.ledger.events()) if (e.type === type) out.push(e);
  return out;
}

async function me(svc: TestService, token: string) {
  const r = await svc.call('GET', '/v1/residents/me', { token });
  expect(r.status).to.equal(200);
  return r.body.resident as {
    pseudonym: string;
    statusIndex: number;
    colour: string;
    reasons: Array<{ id: string }>;
    ruleVersion: number;
  };
}

/** The default rules with fever made red: tells versions 1 and 2 apart. */
function strictRules() {
  const set = structuredClone(defaultRules) as typeof defaultRules;
  set.description = { zh: '测试规则：发热赋红码', en: 'Test rules: fever gives red' };
  set.rules.find((r) => r.id === 'fever')!.colour = 'red';
  return set;
}

const person = (idNumber: string) => ({ idType: 'resident-id', idNumber });

describe('rules API', function () {
  this.timeout(30_000);
  let svc: TestService;
  let health: string;

  before(async () => {
    svc = await startTestService({ config: { REVIEW_INTERVAL_SECONDS: 3600 } });
    health = await svc.token('health');
  });
  after(async () => {
    await svc?.close();
  });

  it('GET /v1/rules shows the default set as version 1', async () => {
    const r = await svc.call('GET', '/v1/rules');
    expect(r.status).to.equal(200);
    expect(r.body.version).to.equal(1);
    expect(r.body.publishedBy).to.equal('system');
    expect(r.body.ruleSet).to.deep.equal(defaultRules);
  });

  describe('PUT /v1/rules with a health token', () => {
    let fevered: { token: string; code: string };

    before(async () => {
      const r = await apply(svc, applicant({ declaration: { temperatureC: 38.1 } }));
      expect(r.body.resident.colour).to.equal('yellow');
      fevered = { token: r.token, code: r.body.code.code };
    });

    it('publishes version 2, which takes effect at once', async () => {
      const put = await svc.call('PUT', '/v1/rules', { token: health, json: strictRules() });
      expect(put.status).to.equal(201);
      expect(put.body.version).to.equal(2);
      expect(put.body.digest).to.match(/^[0-9a-f]{64}$/);

      const current = await svc.call('GET', '/v1/rules');
      expect(current.body.version).to.equal(2);
      expect(current.body.ruleSet.description.en).to.equal('Test rules: fever gives red');

      // A new application is judged by version 2 and its code says so.
      const fresh = await apply(svc, applicant({ declaration: { temperatureC: 38.1 } }));
      expect(fresh.body.resident).to.include({ colour: 'red', ruleVersion: 2 });
      expect(claimsOf(fresh.body.code.code).health).to.include({ colour: 'red', ruleVersion: 2 });

      // An existing resident's next code is too, without re-applying.
      const code = await svc.call('GET', '/v1/residents/me/code', { token: fevered.token });
      expect(code.body).to.include({ colour: 'red', ruleVersion: 2 });
      expect(claimsOf(code.body.code).health.ruleVersion).to.equal(2);
      expect(claimsOf(fevered.code).health.ruleVersion).to.equal(1);
    });

    it('keeps version 1 readable at /v1/rules/1 and lists both versions', async () => {
      const v1 = await svc.call('GET', '/v1/rules/1');
      expect(v1.status).to.equal(200);
      expect(v1.body.version).to.equal(1);
      expect(v1.body.ruleSet).to.deep.equal(defaultRules);
      const versions = await svc.call('GET', '/v1/rules/versions');
      expect(versions.body.current).to.equal(2);
      expect(versions.body.versions.map((v: { version: number }) => v.version)).to.deep.equal([1, 2]);
      expect((await svc.call('GET', '/v1/rules/3')).status).to.equal(404);
      expect((await svc.call('GET', '/v1/rules/zero')).status).to.equal(400);
    });

    it('records the whole rule set in a rules.published event', async () => {
      const published = await eventsOf(svc, 'rules.published');
      expect(published.map((e) => e.data.version)).to.deep.equal([1, 2]);
      // The whole document goes into the event, so an auditor can replay any decision.
      const doc = published[1].data.doc ?? published[1].data.ruleSet;
      expect(doc).to.deep.equal(strictRules());
      expect(published[1].data.digest).to.equal((await svc.call('GET', '/v1/rules/2')).body.digest);
    });

    it('brings the status list along once the sweep has run', async () => {
      await svc.running.services.reevaluator.sweepAll('test');
      const { list } = await currentStatusList(svc);
      const resident = await me(svc, fevered.token);
      expect(resident.colour).to.equal('red');
      expect(list.get(resident.statusIndex)).to.equal('red');
    });
  });

  describe('when a rule set does not parse', () => {
    it('answers 400 INVALID_RULE_SET naming the fields, and writes nothing', async () => {
      const head = await svc.head();
      const bad = {
        ...strictRules(),
        horizonDays: 0,
        rules: [
          { id: 'Not Kebab', colour: 'purple', reason: { zh: '坏', en: 'bad' }, when: { method: ['x', 'toString'] } },
        ],
      };
      const r = await svc.call('PUT', '/v1/rules', { token: health, json: bad });
      expect(r.status).to.equal(400);
      expect(r.body.error.code).to.equal('INVALID_RULE_SET');
      const paths = r.body.error.fields.map((f: { path: string }) => f.path);
      expect(paths).to.include.members(['horizonDays', 'rules.0.id', 'rules.0.colour']);
      for (const f of r.body.error.fields) expect(f).to.have.keys(['path', 'code', 'message']);
      expect(await svc.head()).to.deep.equal(head);
      expect((await svc.call('GET', '/v1/rules')).body.version).to.equal(2);
    });

    it('refuses an operator outside the allowed list', async () => {
      const set = strictRules() as unknown as { rules: Array<{ when: unknown }> };
      set.rules[0].when = { method: [{ var: 'symptoms' }, 'join'] };
      const r = await svc.call('PUT', '/v1/rules', { token: health, json: set });
      expect(r.status).to.equal(400);
      expect(r.body.error.code).to.equal('INVALID_RULE_SET');
      expect(r.body.error.fields[0].path).to.match(/^rules\.0\.when/);
    });
  });

  describe('who may publish', () => {
    it('answers 403 to a resident token and to feed tokens, 401 without a token, and writes nothing', async () => {
      const head = await svc.head();
      const resident = (await apply(svc, applicant())).token;
      const afterApply = await svc.head();
      expect(afterApply.seq).to.be.greaterThan(head.seq);
      const tokens = [
        resident,
        await svc.token('feed', { source: 'health' }),
        await svc.token('feed', { source: 'telecom' }),
        await svc.token('auditor'),
      ];
      const before = await svc.head();
      for (const token of tokens) {
        const r = await svc.call('PUT', '/v1/rules', { token, json: strictRules() });
        expect(r.status).to.equal(403);
        expect(r.body.error.code).to.equal('FORBIDDEN');
      }
      const anon = await svc.call('PUT', '/v1/rules', { json: strictRules() });
      expect(anon.status).to.equal(401);
      expect(await svc.head()).to.deep.equal(before);
      expect((await svc.call('GET', '/v1/rules')).body.version).to.equal(2);
    });
  });
});

describe('feeds API', function () {
  this.timeout(30_000);
  let svc: TestService;
  let health: string;

  before(async () => {
    svc = await startTestService({ config: { REVIEW_INTERVAL_SECONDS: 3600 } });
    health = await svc.token('health');
  });
  after(async () => {
    await svc?.close();
  });

  describe('who may import what', () => {
    const FEEDS = ['cases', 'close-contacts', 'inbound-travellers', 'risk-areas'] as const;
    const ALLOWED: Record<string, readonly string[]> = {
      'feed:health': FEEDS,
      'feed:telecom': ['close-contacts'],
      'feed:public-security': ['inbound-travellers'],
      'feed:transport': ['inbound-travellers'],
      health: FEEDS,
      admin: FEEDS,
      resident: [],
      auditor: [],
      operator: [],
      grid: [],
    };
    const bodyFor = (feed: (typeof FEEDS)[number], now: string) => {
      switch (feed) {
        case 'cases':
          return { records: [{ ...person(residentIdNumber()), status: 'recovered', at: now }] };
        case 'close-contacts':
          return { records: [{ ...person(residentIdNumber()), degree: 2, exposedAt: now }] };
        case 'inbound-travellers':
          return { records: [{ ...person(residentIdNumber()), arrivedAt: now, from: 'SG' }] };
        case 'risk-areas':
          return { areas: [] };
      }
    };

    for (const [who, allowed] of Object.entries(ALLOWED)) {
      it(`lets ${who} import ${allowed.length ? allowed.join(', ') : 'nothing'} and answers 403 otherwise`, async () => {
        let token: string;
        if (who === 'admin') token = svc.adminToken;
        else if (who === 'resident') token = (await apply(svc, applicant())).token;
        else if (who.startsWith('feed:')) token = await svc.token('feed', { source: who.slice(5) });
        else token = await svc.token(who, who === 'grid' ? { scope: { districts: ['340104'] } } : {});
        for (const feed of FEEDS) {
          const head = await svc.head();
          const r = await svc.call('POST', `/v1/feeds/${feed}`, {
            token,
            json: bodyFor(feed, svc.clock.now().toISOString()),
          });
          if (allowed.includes(feed)) {
            expect(r.status, `${who} → ${feed}`).to.equal(201);
            expect(r.body).to.include({ feed, count: feed === 'risk-areas' ? 0 : 1 });
            expect(r.body.seq).to.equal(head.seq + 1);
          } else {
            expect(r.status, `${who} → ${feed}`).to.equal(403);
            expect(r.body.error.code).to.equal('FORBIDDEN');
            expect(await svc.head()).to.deep.equal(head);
          }
        }
      });
    }

    it('answers 401 without a token', async () => {
      const r = await svc.call('POST', '/v1/feeds/cases', { json: bodyFor('cases', svc.clock.now().toISOString()) });
      expect(r.status).to.equal(401);
    });

    it('refuses a feed token without a source when it is created', async () => {
      const r = await svc.call('POST', '/v1/admin/tokens', {
        token: svc.adminToken,
        json: { role: 'feed', name: 'no source' },
      });
      expect(r.status).to.equal(400);
      expect(r.body.error.fields[0].path).to.equal('source');
    });
  });

  describe('a close-contact import', () => {
    it('turns an applied resident red at once and revokes their earlier green code through the status list', async () => {
      const body = applicant();
      const applied = await apply(svc, body);
      const { resident } = applied.body;
      const token = applied.token;
      const greenCode = applied.body.code.code;
      const before = await currentStatusList(svc);
      expect(before.list.get(resident.statusIndex)).to.equal('green');
      expect(
        (await verifyCode(greenCode, { trustList: before.trust, statusLists: [before.bytes], now: svc.clock.now() }))
          .code,
      ).to.equal('VALID');

      svc.clock.advance(MINUTE);
      const telecom = await svc.token('feed', { source: 'telecom' });
      const r = await svc.call('POST', '/v1/feeds/close-contacts', {
        token: telecom,
        json: {
          records: [
            {
              idType: body.idType,
              idNumber: body.idNumber,
              degree: 1,
              exposedAt: new Date(svc.clock.ms - 3_600_000).toISOString(),
            },
          ],
        },
      });
      expect(r.status).to.equal(201);
      expect(r.body).to.include({ feed: 'close-contacts', count: 1, affected: 1, changed: 1 });

      const now = await me(svc, token);
      expect(now.colour).to.equal('red');
      expect(now.reasons.map((x) => x.id)).to.deep.equal(['close-contact']);

      const after = await currentStatusList(svc);
      expect(after.list.get(resident.statusIndex)).to.equal('red');
      const old = await verifyCode(greenCode, {
        trustList: after.trust,
        statusLists: [after.bytes],
        now: svc.clock.now(),
      });
      expect(old.valid).to.equal(false);
      expect(old.code).to.equal('REVOKED');

      const fresh = await svc.call('GET', '/v1/residents/me/code', { token });
      expect(fresh.body.colour).to.equal('red');
      expect(
        (
          await verifyCode(fresh.body.code, {
            trustList: after.trust,
            statusLists: [after.bytes],
            now: svc.clock.now(),
          })
        ).code,
      ).to.equal('VALID');

      const changes = (await eventsOf(svc, 'status.changed')).filter((e) =>
        e.subjects.includes(`r:${resident.pseudonym}`),
      );
      expect(changes.at(-1)!.data).to.include({ from: 'green', to: 'red', statusIndex: resident.statusIndex });
      expect(String(changes.at(-1)!.data.cause)).to.equal(`feed:close-contacts#${r.body.seq}`);
    });

    it('refuses the whole batch when one ID number is invalid', async () => {
      const good = applicant();
      const { token } = await apply(svc, good);
      const head = await svc.head();
      const bad = residentIdNumber();
      const r = await svc.call('POST', '/v1/feeds/close-contacts', {
        token: health,
        json: {
          records: [
            { ...person(good.idNumber), degree: 1, exposedAt: svc.clock.now().toISOString() },
            {
              ...person(bad.slice(0, 17) + (bad[17] === '0' ? '1' : '0')),
              degree: 1,
              exposedAt: svc.clock.now().toISOString(),
            },
          ],
        },
      });
      expect(r.status).to.equal(400);
      expect(r.body.error.code).to.equal('INVALID_ID_NUMBER');
      expect(r.body.error.fields[0].path).to.equal('records.1.idNumber');
      expect(await svc.head()).to.deep.equal(head);
      expect((await me(svc, token)).colour).to.equal('green');
    });

    it('makes a person it names red from their first code when they apply later', async () => {
      const body = applicant();
      const r = await svc.call('POST', '/v1/feeds/close-contacts', {
        token: health,
        json: { records: [{ ...person(body.idNumber), degree: 1, exposedAt: svc.clock.now().toISOString() }] },
      });
      expect(r.body).to.include({ count: 1, affected: 0 });
      const applied = await apply(svc, body);
      expect(applied.status).to.equal(201);
      expect(applied.body.resident.colour).to.equal('red');
      expect(claimsOf(applied.body.code.code).health.colour).to.equal('red');
    });

    it('answers a retry with the same Idempotency-Key with the first response and imports nothing twice', async () => {
      const body = {
        records: [{ ...person(residentIdNumber()), degree: 2, exposedAt: svc.clock.now().toISOString() }],
      };
      const headers = { 'idempotency-key': 'feed-import-0001' };
      const first = await svc.call('POST', '/v1/feeds/close-contacts', { token: health, json: body, headers });
      expect(first.status).to.equal(201);
      const head = await svc.head();
      const retry = await svc.call('POST', '/v1/feeds/close-contacts', { token: health, json: body, headers });
      expect(retry.status).to.equal(201);
      expect(retry.body).to.deep.equal(first.body);
      expect(await svc.head()).to.deep.equal(head);
      const other = await svc.call('POST', '/v1/feeds/close-contacts', {
        token: health,
        json: { records: [{ ...body.records[0], degree: 1 }] },
        headers,
      });
      expect(other.status).to.equal(422);
      expect(other.body.error.code).to.equal('IDEMPOTENCY_KEY_REUSED');
      expect(await svc.head()).to.deep.equal(head);
    });

    it('refuses an exposure in the future, so a mistyped year cannot hold anyone red', async () => {
      const body = applicant();
      const { token } = await apply(svc, body);
      const head = await svc.head();
      const r = await svc.call('POST', '/v1/feeds/close-contacts', {
        token: health,
        json: { records: [{ ...person(body.idNumber), degree: 1, exposedAt: '2062-03-01T00:00:00Z' }] },
      });
      expect(r.status).to.equal(400);
      expect(r.body.error.code).to.equal('VALIDATION_FAILED');
      expect(r.body.error.fields[0]).to.include({ path: 'records.0.exposedAt', code: 'DATE_IN_FUTURE' });
      expect(await svc.head()).to.deep.equal(head);
      expect((await me(svc, token)).colour).to.equal('green');
      // A few seconds ahead (a sender's clock running fast) is accepted.
      const soon = await svc.call('POST', '/v1/feeds/close-contacts', {
        token: health,
        json: {
          records: [{ ...person(body.idNumber), degree: 1, exposedAt: new Date(svc.clock.ms + 30_000).toISOString() }],
        },
      });
      expect(soon.status).to.equal(201);
    });
  });

  describe('a risk-area import', () => {
    it('re-evaluates the residents who declared a visit there', async () => {
      const date = shanghaiDate(svc.clock, 2);
      const wuhan = await apply(
        svc,
        applicant({ declaration: { temperatureC: 36.5, visited: [{ region: '420106', date }] } }),
      );
      const shanghai = await apply(
        svc,
        applicant({ declaration: { temperatureC: 36.5, visited: [{ region: '310101', date }] } }),
      );
      const stayed = await apply(
        svc,
        applicant({ declaration: { temperatureC: 36.5, visited: [{ region: '340104', date }] } }),
      );
      for (const r of [wuhan, shanghai, stayed]) expect(r.body.resident.colour).to.equal('green');

      const r = await svc.call('POST', '/v1/feeds/risk-areas', {
        token: health,
        json: {
          areas: [
            { region: '420100', level: 'high', since: svc.clock.now().toISOString() },
            { region: '310101', level: 'medium', since: svc.clock.now().toISOString() },
          ],
        },
      });
      expect(r.status).to.equal(201);
      expect(r.body).to.include({ feed: 'risk-areas', count: 2, reevaluation: 'scheduled' });
      await svc.running.services.reevaluator.sweepAll('test');

      const w = await me(svc, wuhan.token);
      expect(w.colour).to.equal('red');
      expect(w.reasons.map((x) => x.id)).to.include('high-risk-area-visit');
      const s = await me(svc, shanghai.token);
      expect(s.colour).to.equal('yellow');
      expect(s.reasons.map((x) => x.id)).to.include('medium-risk-area-visit');
      expect((await me(svc, stayed.token)).colour).to.equal('green');

      const { list } = await currentStatusList(svc);
      expect(list.get(w.statusIndex)).to.equal('red');
      expect(list.get(s.statusIndex)).to.equal('yellow');
    });

    it('answers 400 UNKNOWN_REGION for a code not in GB/T 2260', async () => {
      const head = await svc.head();
      const r = await svc.call('POST', '/v1/feeds/risk-areas', {
        token: health,
        json: { areas: [{ region: '999999', level: 'high', since: svc.clock.now().toISOString() }] },
      });
      expect(r.status).to.equal(400);
      expect(r.body.error.code).to.equal('UNKNOWN_REGION');
      expect(await svc.head()).to.deep.equal(head);
    });
  });

  describe('cases and inbound travellers', () => {
    it('turn a confirmed case and a traveller in quarantine red', async () => {
      const a = applicant();
      const b = applicant({ idType: 'passport' });
      const ra = await apply(svc, a);
      const rb = await apply(svc, b);
      const now = svc.clock.now().toISOString();
      expect(
        (
          await svc.call('POST', '/v1/feeds/cases', {
            token: health,
            json: { records: [{ idType: a.idType, idNumber: a.idNumber, status: 'confirmed', at: now }] },
          })
        ).status,
      ).to.equal(201);
      const transport = await svc.token('feed', { source: 'transport' });
      expect(
        (
          await svc.call('POST', '/v1/feeds/inbound-travellers', {
            token: transport,
            json: { records: [{ idType: b.idType, idNumber: b.idNumber, arrivedAt: now, from: 'JP' }] },
          })
        ).status,
      ).to.equal(201);
      expect((await me(svc, ra.token)).reasons.map((x) => x.id)).to.include('confirmed-or-suspected-case');
      expect((await me(svc, rb.token)).reasons.map((x) => x.id)).to.deep.equal(['inbound-quarantine']);
    });

    it('records each import as a feed.imported event naming the source, not the people', async () => {
      const imports = await eventsOf(svc, 'feed.imported');
      expect(imports.length).to.be.greaterThan(10);
      for (const e of imports) {
        expect(e.subjects).to.deep.equal(['feeds']);
        expect(e.data).to.have.keys(['feed', 'source', 'by', 'count', 'digest']);
      }
      expect(imports.map((e) => e.data.source)).to.include.members([
        'health',
        'telecom',
        'transport',
        'public-security',
        'admin',
      ]);
    });
  });

  describe('time windows', () => {
    let own: TestService;
    before(async () => {
      own = await startTestService({ config: { REVIEW_INTERVAL_SECONDS: 3600 } });
    });
    after(async () => {
      await own?.close();
    });

    it('ends a close contact’s red code after 14 days without anyone touching the record', async () => {
      const svc = own;
      const health = svc.adminToken;
      const body = applicant();
      const applied = await apply(svc, body);
      const { token } = applied;
      const { resident } = applied.body;
      const start = svc.clock.ms;
      const r = await svc.call('POST', '/v1/feeds/close-contacts', {
        token: health,
        json: {
          records: [{ ...person(body.idNumber), degree: 1, exposedAt: new Date(start - 13 * DAY).toISOString() }],
        },
      });
      expect(r.body.changed).to.equal(1);
      expect((await me(svc, token)).colour).to.equal('red');
      // A printed code outlives the red period; the status list must supersede it.
      const redCode = (await svc.call('GET', '/v1/residents/me/code?mode=printed', { token })).body.code;
      const headAtRed = await svc.head();

      // Day 13 still: nothing is due and the code stays red.
      svc.clock.ms = start + DAY - MINUTE;
      expect(await svc.running.services.reevaluator.reviewDue()).to.equal(0);
      expect((await me(svc, token)).colour).to.equal('red');
      expect(await svc.head()).to.deep.equal(headAtRed);

      // Day 14: the review job turns it green and the status list follows.
      svc.clock.ms = start + DAY + MINUTE;
      expect(await svc.running.services.reevaluator.reviewDue()).to.equal(1);
      const after = await me(svc, token);
      expect(after.colour).to.equal('green');
      expect(after.reasons).to.deep.equal([]);
      const { list, bytes, trust } = await currentStatusList(svc);
      expect(list.get(resident.statusIndex)).to.equal('green');
      expect(
        (await verifyCode(redCode, { trustList: trust, statusLists: [bytes], now: svc.clock.now() })).code,
      ).to.equal('REVOKED');

      const change = (await eventsOf(svc, 'status.changed'))
        .filter((e) => e.subjects.includes(`r:${resident.pseudonym}`))
        .at(-1)!;
      expect(change.data).to.include({ from: 'red', to: 'green', cause: 'time-window' });
    });

    it('keeps the later of two exposures even when the feeds write them with different UTC offsets', async () => {
      const svc = own;
      const body = applicant();
      const { token } = await apply(svc, body);
      const start = svc.clock.ms;
      const later = new Date(start - 13 * DAY).toISOString();
      // Six hours earlier, written in Beijing time: as text it sorts after the later one.
      const earlier = new Date(start - 13 * DAY - 6 * 3_600_000 + 8 * 3_600_000)
        .toISOString()
        .replace('.000Z', '+08:00');
      expect(earlier > later).to.equal(true);
      for (const exposedAt of [later, earlier]) {
        const r = await svc.call('POST', '/v1/feeds/close-contacts', {
          token: svc.adminToken,
          json: { records: [{ ...person(body.idNumber), degree: 1, exposedAt }] },
        });
        expect(r.status).to.equal(201);
      }
      svc.clock.ms = start + 20 * 3_600_000;
      await svc.running.services.reevaluator.reviewDue();
      expect((await me(svc, token)).colour).to.equal('red');
      svc.clock.ms = start + DAY + MINUTE;
      await svc.running.services.reevaluator.reviewDue();
      expect((await me(svc, token)).colour).to.equal('green');
    });
  });
});
