import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { loadStatusList, prepareTrustList, type StatusList } from '../../verifier/src';
import type { LedgerEvent } from '../../verifier/src/event';
import { applicant, apply, MINUTE, START, startTestService, TestClock, type TestService } from '../support/service';

const HOUR_MS = 60 * MINUTE;

interface Person {
  token: string;
  pseudonym: string;
  statusIndex: number;
  district: string;
}

async function statusListOf(svc: TestService): Promise<StatusList> {
  const trust = (await svc.call('GET', '/v1/trust-list')).body;
  const bytes = new Uint8Array((await svc.call('GET', '/v1/status-list')).bytes);
  const r = await loadStatusList(bytes, prepareTrustList(trust));
  if (!r.valid) throw new Error(`status list does not load: ${r.message}`);
  return r.statusList;
}

async function eventsOf(svc: TestService, type: string): Promise<LedgerEvent[]> {
  const out: LedgerEvent[] = [];
  for await (const e of svc.running.app.ledger.events()) if (e.type === type) out.push(e);
  return out;
}

const pseudonyms = (list: Array<{ pseudonym: string }>) => list.map((r) => r.pseudonym);

describe('authority API: grid follow-up, appeals, statistics', function () {
  this.timeout(60_000);
  const clock = new TestClock(START);
  let svc: TestService;
  let health: string;
  let operator1: string;
  let operator2: string;
  const people: Person[] = [];

  const resident = async (
    district: string,
    declaration: { temperatureC: number; contactWithCase?: boolean },
    colour: string,
  ): Promise<Person> => {
    const r = await apply(svc, applicant({ district, declaration }));
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    expect(r.body.resident.colour).to.equal(colour);
    const p = {
      token: r.token,
      pseudonym: r.body.resident.pseudonym,
      statusIndex: r.body.resident.statusIndex,
      district,
    };
    people.push(p);
    return p;
  };
  const gridToken = async (scope: { districts?: string[]; venues?: string[] }) => {
    const r = await svc.call('POST', '/v1/admin/tokens', {
      token: svc.adminToken,
      json: { role: 'grid', name: `grid ${Object.values(scope).join(',')}`, scope },
    });
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    return r.body.token as string;
  };
  const venue = async (token: string, json: Record<string, unknown>) => {
    const r = await svc.call('POST', '/v1/venues', { token, json });
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    return { id: r.body.id as string, code: r.body.code as string };
  };
  const colourOf = async (p: Person) =>
    (await svc.call('GET', '/v1/residents/me/code', { token: p.token })).body.colour as string;

  before(async () => {
    svc = await startTestService({ clock, config: { REVIEW_INTERVAL_SECONDS: 3600 } });
    health = await svc.token('health');
    operator1 = await svc.token('operator');
    operator2 = await svc.token('operator');
  });
  after(async () => {
    await svc?.close();
  });

  describe('grid follow-up (网格化)', () => {
    let redShushan: Person;
    let yellowShushan: Person;
    let greenShushan: Person;
    let redYaohai: Person;
    let rosterMember: Person;
    let community: { id: string; code: string };
    let grid104: string;
    let gridCity: string;
    let gridCommunity: string;

    before(async () => {
      redShushan = await resident('340104', { temperatureC: 36.5, contactWithCase: true }, 'red');
      yellowShushan = await resident('340104', { temperatureC: 38.2 }, 'yellow');
      greenShushan = await resident('340104', { temperatureC: 36.5 }, 'green');
      redYaohai = await resident('340102', { temperatureC: 36.5, contactWithCase: true }, 'red');
      rosterMember = await resident('340102', { temperatureC: 36.5, contactWithCase: true }, 'red');
      community = await venue(operator2, { type: 'residential-community', name: '瑶海花园', district: '340102' });
      const joined = await svc.call('POST', `/v1/venues/${community.id}/roster`, {
        token: rosterMember.token,
        json: { venueCode: community.code },
      });
      expect(joined.status).to.equal(201);
      grid104 = await gridToken({ districts: ['340104'] });
      gridCity = await gridToken({ districts: ['340100'] });
      gridCommunity = await gridToken({ venues: [community.id] });
    });

    it('a grid worker for 340104 sees the red and yellow residents of 340104, and nobody of 340102', async () => {
      const r = await svc.call('GET', '/v1/grid/residents', { token: grid104 });
      expect(r.status).to.equal(200);
      const seen = pseudonyms(r.body.residents);
      expect(seen).to.include.members([redShushan.pseudonym, yellowShushan.pseudonym]);
      expect(seen).to.not.include(redYaohai.pseudonym);
      expect(seen).to.not.include(rosterMember.pseudonym);
      expect(seen).to.not.include(greenShushan.pseudonym);
      expect(r.body.residents[0].colour).to.equal('red');
      const row = r.body.residents.find((x: { pseudonym: string }) => x.pseudonym === redShushan.pseudonym);
      expect(row).to.have.keys(
        'pseudonym',
        'maskedName',
        'idLast4',
        'district',
        'colour',
        'reasons',
        'evaluatedAt',
        'lastVisit',
      );
      expect(row).to.deep.include({ district: '340104', colour: 'red', lastVisit: null });
      expect(JSON.stringify(r.body)).to.not.match(/maskedPhone|phone/i);
    });

    it('filters by colour', async () => {
      const r = await svc.call('GET', '/v1/grid/residents?colour=yellow', { token: grid104 });
      expect(pseudonyms(r.body.residents)).to.deep.equal([yellowShushan.pseudonym]);
      expect(r.body.counts).to.deep.equal({ red: 0, yellow: 1 });
    });

    it('a city code covers its districts; a community venue covers its roster', async () => {
      const city = await svc.call('GET', '/v1/grid/residents', { token: gridCity });
      expect(pseudonyms(city.body.residents)).to.include.members([
        redShushan.pseudonym,
        yellowShushan.pseudonym,
        redYaohai.pseudonym,
        rosterMember.pseudonym,
      ]);
      const roster = await svc.call('GET', '/v1/grid/residents', { token: gridCommunity });
      expect(pseudonyms(roster.body.residents)).to.deep.equal([rosterMember.pseudonym]);
    });

    it('health sees every district', async () => {
      const r = await svc.call('GET', '/v1/grid/residents', { token: health });
      expect(pseudonyms(r.body.residents)).to.include.members([
        redShushan.pseudonym,
        yellowShushan.pseudonym,
        redYaohai.pseudonym,
        rosterMember.pseudonym,
      ]);
    });

    it('is not for operators or residents', async () => {
      expect((await svc.call('GET', '/v1/grid/residents', { token: operator1 })).status).to.equal(403);
      expect((await svc.call('GET', '/v1/grid/residents', { token: redShushan.token })).status).to.equal(403);
    });

    it('records a visit: a grid.visited event without the note, and the latest outcome on the list', async () => {
      const note = '本人在家，已告知居家隔离要求';
      const r = await svc.call('POST', '/v1/grid/visits', {
        token: grid104,
        json: { pseudonym: redShushan.pseudonym, outcome: 'home-quarantine', note },
      });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      expect(r.body.visit).to.include({ outcome: 'home-quarantine', note });
      const event = (await svc.running.app.ledger.getEvent(r.body.visit.seq))!;
      expect(event.type).to.equal('grid.visited');
      expect(event.subjects).to.deep.equal([`r:${redShushan.pseudonym}`]);
      expect(Object.keys(event.data).sort()).to.deep.equal(['by', 'outcome']);
      expect(event.data.outcome).to.equal('home-quarantine');
      expect(JSON.stringify(event)).to.not.contain(note);
      // The note is sealed at rest.
      for await (const [key, value] of svc.running.app.ledger
        .space('index')
        .iterator({ gt: 'grid-visit/', lt: 'grid-visit/~' })) {
        expect(JSON.stringify(value), key).to.not.contain(note);
      }
      const list = await svc.call('GET', '/v1/grid/residents', { token: grid104 });
      const row = list.body.residents.find((x: { pseudonym: string }) => x.pseudonym === redShushan.pseudonym);
      expect(row.lastVisit).to.include({ outcome: 'home-quarantine', seq: event.seq });

      const second = await svc.call('POST', '/v1/grid/visits', {
        token: grid104,
        json: { pseudonym: redShushan.pseudonym, outcome: 'verified' },
      });
      expect(second.status).to.equal(201);
      const history = await svc.call('GET', `/v1/grid/residents/${redShushan.pseudonym}/visits`, { token: grid104 });
      expect(history.status).to.equal(200);
      expect(
        history.body.visits.map((v: { outcome: string; note: string | null }) => [v.outcome, v.note]),
      ).to.deep.equal([
        ['verified', null],
        ['home-quarantine', note],
      ]);
      expect(history.body.resident.lastVisit.outcome).to.equal('verified');
    });

    it('refuses a visit to a resident outside the worker’s scope with 403, writing nothing', async () => {
      const before = await svc.head();
      const r = await svc.call('POST', '/v1/grid/visits', {
        token: grid104,
        json: { pseudonym: redYaohai.pseudonym, outcome: 'verified' },
      });
      expect(r.status).to.equal(403);
      expect(r.body.error.code).to.equal('FORBIDDEN');
      expect(
        (await svc.call('GET', `/v1/grid/residents/${redYaohai.pseudonym}/visits`, { token: grid104 })).status,
      ).to.equal(403);
      expect(await svc.head()).to.deep.equal(before);
      // The community worker covers the roster member even though 340102 is not in its scope.
      const ok = await svc.call('POST', '/v1/grid/visits', {
        token: gridCommunity,
        json: { pseudonym: rosterMember.pseudonym, outcome: 'sent-to-facility' },
      });
      expect(ok.status).to.equal(201);
      expect(
        (
          await svc.call('POST', '/v1/grid/visits', {
            token: gridCommunity,
            json: { pseudonym: redYaohai.pseudonym, outcome: 'verified' },
          })
        ).status,
      ).to.equal(403);
    });

    for (const [what, body, status] of [
      ['an unknown outcome', { outcome: 'gone-fishing' }, 400],
      ['a note of 201 characters', { outcome: 'verified', note: '字'.repeat(201) }, 400],
      ['an unknown field', { outcome: 'verified', phone: '13900000000' }, 400],
      ['a pseudonym nobody has', { outcome: 'verified', pseudonym: 'AAAAAAAAAAAAAAAA' }, 404],
    ] as const) {
      it(`answers ${status} for ${what}, writing nothing`, async () => {
        const before = await svc.head();
        const r = await svc.call('POST', '/v1/grid/visits', {
          token: grid104,
          json: { pseudonym: redShushan.pseudonym, ...body },
        });
        expect(r.status).to.equal(status);
        expect(r.body.error.code).to.be.a('string');
        expect(await svc.head()).to.deep.equal(before);
      });
    }
  });

  describe('appeals (12345 热线)', () => {
    let appellant: Person;
    let appealId: string;
    const reasonText = '我已于三天前核酸检测阴性，申报接触有误';
    const until = () => new Date(clock.ms + 2 * HOUR_MS).toISOString();

    before(async () => {
      appellant = await resident('340104', { temperatureC: 36.6, contactWithCase: true }, 'red');
    });

    it('a resident files an appeal; the event carries no reason text', async () => {
      const r = await svc.call('POST', '/v1/appeals', {
        token: appellant.token,
        json: { reason: reasonText, requestedColour: 'green' },
      });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      expect(r.body).to.include({
        status: 'open',
        reason: reasonText,
        requestedColour: 'green',
        colourAtFiling: 'red',
      });
      appealId = r.body.id;
      const event = (await svc.running.app.ledger.getEvent(r.body.seq))!;
      expect(event.type).to.equal('appeal.filed');
      expect(event.subjects).to.deep.equal([`r:${appellant.pseudonym}`]);
      expect(event.data).to.deep.equal({ appealId, requestedColour: 'green' });
      const stored = await svc.running.app.ledger.read('index', `appeal/${appealId}`);
      expect(JSON.stringify(stored)).to.not.contain(reasonText);
    });

    it('a second open appeal is refused with 409 CONFLICT, writing nothing', async () => {
      const before = await svc.head();
      const r = await svc.call('POST', '/v1/appeals', { token: appellant.token, json: { reason: '再次申诉' } });
      expect(r.status).to.equal(409);
      expect(r.body.error.code).to.equal('CONFLICT');
      expect(await svc.head()).to.deep.equal(before);
    });

    it('refuses bad appeals with 400: an empty or 501-character reason, an unknown colour', async () => {
      const before = await svc.head();
      for (const json of [{ reason: '' }, { reason: 'x'.repeat(501) }, { reason: 'ok', requestedColour: 'blue' }, {}]) {
        const r = await svc.call('POST', '/v1/appeals', { token: appellant.token, json });
        expect(r.status, JSON.stringify(json)).to.equal(400);
        expect(r.body.error.code).to.equal('VALIDATION_FAILED');
      }
      expect((await svc.call('POST', '/v1/appeals', { token: health, json: { reason: 'x' } })).status).to.equal(403);
      expect(await svc.head()).to.deep.equal(before);
    });

    it('the resident sees their own appeal', async () => {
      const r = await svc.call('GET', '/v1/residents/me/appeals', { token: appellant.token });
      expect(r.status).to.equal(200);
      expect(r.body.appeals).to.have.length(1);
      expect(r.body.appeals[0]).to.include({ id: appealId, status: 'open', reason: reasonText, decision: null });
    });

    it('health sees the open queue with the masked resident, colour, reasons and the reason text', async () => {
      const r = await svc.call('GET', '/v1/appeals?status=open', { token: health });
      expect(r.status).to.equal(200);
      const a = r.body.appeals.find((x: { id: string }) => x.id === appealId);
      expect(a).to.include({ reason: reasonText, status: 'open' });
      expect(a.resident).to.include({ pseudonym: appellant.pseudonym, colour: 'red', district: '340104' });
      expect(a.resident.maskedName).to.contain('*');
      expect(a.resident.reasons.map((x: { id: string }) => x.id)).to.deep.equal(['declared-case-contact']);
      expect((await svc.call('GET', '/v1/appeals', { token: appellant.token })).status).to.equal(403);
      expect((await svc.call('GET', '/v1/appeals?status=closed', { token: health })).status).to.equal(400);
    });

    for (const [what, body] of [
      ['an override without a colour', () => ({ decision: 'override', reason: '核实无误' })],
      ['a rejection with a colour', () => ({ decision: 'reject', colour: 'green', reason: '不予支持' })],
      [
        'an end in the past',
        () => ({
          decision: 'override',
          colour: 'green',
          until: new Date(clock.ms - MINUTE).toISOString(),
          reason: '核实无误',
        }),
      ],
      ['no reason', () => ({ decision: 'override', colour: 'green' })],
      ['an unknown decision', () => ({ decision: 'maybe', reason: 'x' })],
      [
        'an ID number in its reason (it would stay in the ledger)',
        () => ({ decision: 'reject', reason: '经核实 340104199001011234 不符' }),
      ],
      ['a phone number in its reason', () => ({ decision: 'reject', reason: '已电话联系 138-0000-1111' })],
    ] as const) {
      it(`refuses a decision with ${what} (400), writing nothing`, async () => {
        const before = await svc.head();
        const r = await svc.call('POST', `/v1/appeals/${appealId}/decision`, { token: health, json: body() });
        expect(r.status, JSON.stringify(r.body)).to.equal(400);
        expect(r.body.error.fields).to.be.an('array').that.is.not.empty;
        expect(await svc.head()).to.deep.equal(before);
      });
    }

    it('answers 404 for an appeal that does not exist', async () => {
      const r = await svc.call('POST', '/v1/appeals/AAAAAAAAAAAA/decision', {
        token: health,
        json: { decision: 'reject', reason: 'x' },
      });
      expect(r.status).to.equal(404);
    });

    it('health overrides to green until a time: the code and the status list turn green', async () => {
      const end = until();
      const r = await svc.call('POST', `/v1/appeals/${appealId}/decision`, {
        token: health,
        json: {
          decision: 'override',
          colour: 'green',
          until: end,
          reason: '经核实，2026-11-20 至 2026-11-27 未与病例接触',
        },
      });
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      expect(r.body.decision).to.include({ decision: 'override', colour: 'green', until: end });
      expect(r.body.resident).to.include({ colour: 'green', reviewAt: end });
      expect(await colourOf(appellant)).to.equal('green');
      expect((await statusListOf(svc)).get(appellant.statusIndex)).to.equal('green');
      const me = await svc.call('GET', '/v1/residents/me', { token: appellant.token });
      expect(me.body.resident.override).to.deep.equal({
        colour: 'green',
        reason: '经核实，2026-11-20 至 2026-11-27 未与病例接触',
        until: end,
      });
      expect(me.body.resident.reasons.map((x: { id: string }) => x.id)).to.deep.equal(['authority-override']);

      // The ledger commits to the reviewer's free text without carrying it; the salt opens it.
      const decided = (await eventsOf(svc, 'appeal.decided')).at(-1)!;
      expect(decided.subjects).to.deep.equal([`r:${appellant.pseudonym}`]);
      expect(decided.seq).to.equal(r.body.decision.seq);
      expect(decided.data).to.deep.include({ appealId, decision: 'override', colour: 'green', until: end });
      expect(decided.data).to.not.have.property('reason');
      expect(JSON.stringify(decided)).to.not.contain('未与病例接触');
      expect(r.body.decision.reasonSalt).to.match(/^[0-9a-f]{32}$/);
      const opened = createHash('sha256')
        .update(Buffer.from(r.body.decision.reasonSalt, 'hex'))
        .update('经核实，2026-11-20 至 2026-11-27 未与病例接触', 'utf8')
        .digest('hex');
      expect(decided.data.reasonDigest).to.equal(opened);
      expect(decided.data.reviewer).to.match(/^[0-9a-f]{16}$/);
      const change = (await eventsOf(svc, 'status.changed')).at(-1)!;
      expect(change.data).to.include({ from: 'red', to: 'green', cause: `appeal:${appealId}` });
      expect(change.seq).to.be.greaterThan(decided.seq);
    });

    it('moves the appeal to the decided queue and shows the decision to the resident; it cannot be decided twice', async () => {
      const open = await svc.call('GET', '/v1/appeals', { token: health });
      expect(open.body.appeals.map((a: { id: string }) => a.id)).to.not.include(appealId);
      const decided = await svc.call('GET', '/v1/appeals?status=decided', { token: health });
      expect(decided.body.appeals[0]).to.deep.include({ id: appealId, status: 'decided' });
      const mine = await svc.call('GET', '/v1/residents/me/appeals', { token: appellant.token });
      expect(mine.body.appeals[0].decision).to.include({ decision: 'override', colour: 'green' });
      const before = await svc.head();
      const again = await svc.call('POST', `/v1/appeals/${appealId}/decision`, {
        token: health,
        json: { decision: 'reject', reason: 'x' },
      });
      expect(again.status).to.equal(409);
      expect(await svc.head()).to.deep.equal(before);
    });

    it('a rejected appeal leaves the colour as it is', async () => {
      const filed = await svc.call('POST', '/v1/appeals', { token: appellant.token, json: { reason: '请延长绿码' } });
      expect(filed.status).to.equal(201);
      const r = await svc.call('POST', `/v1/appeals/${filed.body.id}/decision`, {
        token: health,
        json: { decision: 'reject', reason: '不予支持' },
      });
      expect(r.status).to.equal(200);
      expect(r.body.resident.colour).to.equal('green');
      expect(await colourOf(appellant)).to.equal('green');
    });

    it('after `until` passes, the review job returns the resident to the rules’ colour', async () => {
      clock.advance(3 * HOUR_MS);
      const n = await svc.running.services.reevaluator.reviewDue();
      expect(n).to.be.greaterThan(0);
      expect(await colourOf(appellant)).to.equal('red');
      const me = await svc.call('GET', '/v1/residents/me', { token: appellant.token });
      // Its codes expired hours ago: the change landed on a newly drawn status index (FORMAT.md §7).
      expect(me.body.resident.statusIndex).to.not.equal(appellant.statusIndex);
      expect((await statusListOf(svc)).get(me.body.resident.statusIndex)).to.equal('red');
      expect(me.body.resident.override).to.equal(undefined);
      expect(me.body.resident.reasons.map((x: { id: string }) => x.id)).to.deep.equal(['declared-case-contact']);
      const change = (await eventsOf(svc, 'status.changed')).at(-1)!;
      expect(change.data).to.include({ from: 'green', to: 'red', cause: 'time-window' });
    });
  });

  describe('statistics (数据分析)', () => {
    let mall: { id: string; code: string };
    let station: { id: string; code: string };
    let scanFrom: string;
    const day = () => new Date(clock.ms + 8 * HOUR_MS).toISOString().slice(0, 10);

    before(async () => {
      mall = await venue(operator1, { type: 'crowded-place', subtype: 'mall', name: '之心城', district: '340104' });
      station = await venue(operator2, { type: 'transport', subtype: 'station', name: '合肥南站', district: '340111' });
      const green1 = await resident('340104', { temperatureC: 36.4 }, 'green');
      const green2 = await resident('340111', { temperatureC: 36.4 }, 'green');
      const yellow = await resident('340111', { temperatureC: 38.0 }, 'yellow');
      const red = await resident('340104', { temperatureC: 36.4, contactWithCase: true }, 'red');
      // The clock is at 13:00 Shanghai after the appeals; the scans fall at 13:05 … 14:30.
      scanFrom = new Date(clock.ms).toISOString();
      const checkIn = async (p: Person, v: { code: string }, minutes: number) => {
        clock.ms = Date.parse(scanFrom) + minutes * MINUTE;
        const r = await svc.call('POST', '/v1/checkins', { token: p.token, json: { venueCode: v.code } });
        expect(r.status, JSON.stringify(r.body)).to.equal(201);
        return r.body.decision as string;
      };
      expect(await checkIn(green1, mall, 5)).to.equal('admit');
      expect(await checkIn(red, mall, 20)).to.equal('deny');
      expect(await checkIn(green2, mall, 40)).to.equal('admit');
      expect(await checkIn(green1, mall, 90)).to.equal('admit');
      expect(await checkIn(yellow, station, 70)).to.equal('refer');
      clock.ms = Date.parse(scanFrom) + 120 * MINUTE;
    });

    it('counts colours overall and by district, matching every resident created here', async () => {
      const expected: Record<string, Record<string, number>> = {};
      const total: Record<string, number> = { green: 0, yellow: 0, red: 0, total: 0 };
      for (const p of people) {
        const colour = (await svc.call('GET', '/v1/residents/me', { token: p.token })).body.resident.colour as string;
        expected[p.district] ??= { green: 0, yellow: 0, red: 0, total: 0 };
        expected[p.district][colour]++;
        expected[p.district].total++;
        total[colour]++;
        total.total++;
      }
      const r = await svc.call('GET', '/v1/stats/colours?by=district', { token: health });
      expect(r.status).to.equal(200);
      expect(r.body.total).to.deep.equal(total);
      const groups = Object.fromEntries(r.body.groups.map((g: { code: string; name: string }) => [g.code, g]));
      expect(Object.keys(groups).sort()).to.deep.equal(Object.keys(expected).sort());
      for (const [code, counts] of Object.entries(expected)) expect(groups[code]).to.deep.include(counts);
      expect(groups['340104'].name).to.equal('蜀山区');

      const city = await svc.call('GET', '/v1/stats/colours?by=city', { token: health });
      expect(city.body.groups).to.have.length(1);
      expect(city.body.groups[0]).to.deep.include({ code: '340100', name: '合肥市', ...total });
    });

    it('counts scans in a time range by venue type, subtype, district, decision and day', async () => {
      const to = new Date(clock.ms).toISOString();
      const q = (by: string) =>
        svc.call('GET', `/v1/stats/scans?from=${encodeURIComponent(scanFrom)}&to=${encodeURIComponent(to)}&by=${by}`, {
          token: health,
        });
      const groups = async (by: string) => {
        const r = await q(by);
        expect(r.status, JSON.stringify(r.body)).to.equal(200);
        expect(r.body.total).to.equal(5);
        return Object.fromEntries(r.body.groups.map((g: { key: string; count: number }) => [g.key, g.count]));
      };
      expect(await groups('venue-type')).to.deep.equal({ 'crowded-place': 4, transport: 1 });
      expect(await groups('subtype')).to.deep.equal({ mall: 4, station: 1 });
      expect(await groups('district')).to.deep.equal({ '340104': 4, '340111': 1 });
      expect(await groups('decision')).to.deep.equal({ admit: 3, deny: 1, refer: 1 });
      expect(await groups('day')).to.deep.equal({ [day()]: 5 });
      // The default range is the last 24 hours, grouped by day.
      const dflt = await svc.call('GET', '/v1/stats/scans', { token: health });
      expect(dflt.body).to.include({ by: 'day', total: 5 });
      // A range that ends before the scans finds none.
      const none = await svc.call(
        'GET',
        `/v1/stats/scans?from=${encodeURIComponent(new Date(Date.parse(scanFrom) - HOUR_MS).toISOString())}&to=${encodeURIComponent(scanFrom)}`,
        { token: health },
      );
      expect(none.body.total).to.equal(0);
    });

    it('refuses bad statistics queries with 400', async () => {
      for (const path of [
        '/v1/stats/scans?by=colour',
        `/v1/stats/scans?from=${encodeURIComponent(scanFrom)}&to=${encodeURIComponent(scanFrom)}`,
        '/v1/stats/scans?from=yesterday',
        '/v1/stats/colours?by=province',
        '/v1/stats/colours?foo=1',
        '/v1/stats/colours/daily?days=0',
        '/v1/stats/colours/daily?days=91',
        '/v1/stats/scans?by=day&by=decision',
      ]) {
        const r = await svc.call('GET', path, { token: health });
        expect(r.status, path).to.equal(400);
        expect(r.body.error.code).to.equal('VALIDATION_FAILED');
      }
      expect((await svc.call('GET', '/v1/stats/colours', { token: operator1 })).status).to.equal(403);
    });

    it("counts a venue's scans per Asia/Shanghai hour for its operator", async () => {
      const r = await svc.call('GET', `/v1/stats/venues/${mall.id}/hourly?date=${day()}`, { token: operator1 });
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      expect(r.body.total).to.equal(4);
      const startHour = new Date(Date.parse(scanFrom) + 8 * HOUR_MS).getUTCHours();
      const busy = r.body.hours.filter((h: { count: number }) => h.count > 0);
      expect(busy).to.deep.equal([
        { hour: startHour, count: 3, admit: 2, refer: 0, deny: 1 },
        { hour: startHour + 1, count: 1, admit: 1, refer: 0, deny: 0 },
      ]);
      expect(r.body.hours).to.have.length(24);
      expect((await svc.call('GET', `/v1/stats/venues/${mall.id}/hourly`, { token: health })).body.total).to.equal(4);
      expect(
        (await svc.call('GET', `/v1/stats/venues/${mall.id}/hourly?date=2026-02-30`, { token: operator1 })).status,
      ).to.equal(400);
    });

    it("refuses another operator's venue with 403", async () => {
      const r = await svc.call('GET', `/v1/stats/venues/${mall.id}/hourly`, { token: operator2 });
      expect(r.status).to.equal(403);
      expect(r.body.error.code).to.equal('FORBIDDEN');
      expect(
        (await svc.call('GET', `/v1/stats/venues/${station.id}/hourly`, { token: operator2 })).body.total,
      ).to.equal(1);
    });

    it("counts status changes per day by the colour changed to, with each application's first colour", async () => {
      const expected = { green: 0, yellow: 0, red: 0, total: 0, initial: 0 };
      for (const e of await eventsOf(svc, 'status.changed')) {
        expected[e.data.to as 'green']++;
        expected.total++;
      }
      // A new resident's first colour is in the application's event, not in a status.changed.
      for (const e of await eventsOf(svc, 'resident.applied')) {
        expected[e.data.colour as 'green']++;
        expected.total++;
        expected.initial++;
      }
      const r = await svc.call('GET', '/v1/stats/colours/daily?days=3', { token: health });
      expect(r.status).to.equal(200);
      expect(r.body.days).to.have.length(3);
      expect(r.body.days[2]).to.deep.equal({ day: day(), ...expected });
      expect(r.body.days[0]).to.include({ total: 0 });
      // Every resident got one first colour; the appellant went red → green → red.
      expect(expected.initial).to.equal(people.length);
      expect(expected.total).to.equal(people.length + 2);
    });
  });
});
