import { expect } from 'chai';
import { loadStatusList, prepareTrustList, type StatusList } from '../../verifier/src';
import type { LedgerEvent } from '../../verifier/src/event';
import { readFacts } from '../../server/services/facts-store';
import { applicant, apply, MINUTE, START, startTestService, TestClock, type TestService } from '../support/service';

interface Person {
  idNumber: string;
  token: string;
  pseudonym: string;
  statusIndex: number;
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

/** 10:00 Shanghai on the test day plus `minutes`. */
const at = (minutes: number) => new Date(START + minutes * MINUTE).toISOString();

describe('contact tracing (POST /v1/tracing)', function () {
  this.timeout(60_000);
  const clock = new TestClock(START - 60 * MINUTE);
  let svc: TestService;
  let health: string;
  let operator: string;
  let venueA: { id: string; code: string };
  let venueB: { id: string; code: string };
  let people: Person[];
  /** people[0] is the case; 1..4 overlap with it; 5 was at venue A two hours after it and at venue B 35 minutes before it. */
  let theCase: Person;
  let contacts: Person[];
  let bystander: Person;

  const checkIn = async (p: Person, venue: { code: string }, minutes: number) => {
    clock.ms = START + minutes * MINUTE;
    const r = await svc.call('POST', '/v1/checkins', { token: p.token, json: { venueCode: venue.code } });
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    expect(r.body.decision).to.equal('admit');
  };
  const trace = (json: unknown, token = health) => svc.call('POST', '/v1/tracing', { token, json });

  before(async () => {
    svc = await startTestService({ clock, config: { REVIEW_INTERVAL_SECONDS: 3600 } });
    health = await svc.token('health');
    operator = await svc.token('operator');
    const venue = async (name: string, subtype: string) => {
      const r = await svc.call('POST', '/v1/venues', {
        token: operator,
        json: { type: 'crowded-place', subtype, name, district: '340104' },
      });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      return { id: r.body.id as string, code: r.body.code as string };
    };
    venueA = await venue('天鹅湖商场', 'mall');
    venueB = await venue('庐州小馆', 'restaurant');
    people = [];
    for (let i = 0; i < 6; i++) {
      const body = applicant();
      const r = await apply(svc, body);
      expect(r.status).to.equal(201);
      expect(r.body.resident.colour).to.equal('green');
      people.push({
        idNumber: body.idNumber,
        token: r.token,
        pseudonym: r.body.resident.pseudonym,
        statusIndex: r.body.resident.statusIndex,
      });
    }
    [theCase, ...contacts] = people;
    bystander = contacts.pop()!;

    await checkIn(theCase, venueA, 0); // A 10:00
    clock.ms = START + 5 * MINUTE; // A 10:05: a code that does not decode is recorded against the venue only
    const garbled = await svc.call('POST', '/v1/scans', {
      token: operator,
      json: { venueId: venueA.id, code: 'AK1:NOT-A-CODE' },
    });
    expect(garbled.status, JSON.stringify(garbled.body)).to.equal(201);
    await checkIn(contacts[0], venueA, 10); // A 10:10
    await checkIn(contacts[1], venueA, 20); // A 10:20
    await checkIn(bystander, venueA, 120); // A 12:00, 120 min after the case
    await checkIn(bystander, venueB, 205); // B 13:25, 35 min before the case
    await checkIn(contacts[3], venueB, 230); // B 13:50
    await checkIn(theCase, venueB, 240); // B 14:00
    await checkIn(contacts[2], venueB, 245); // B 14:05

    clock.ms = START + 300 * MINUTE; // 15:00: the case is confirmed
    const confirmed = await svc.call('POST', '/v1/feeds/cases', {
      token: health,
      json: { records: [{ idType: 'resident-id', idNumber: theCase.idNumber, status: 'confirmed', at: at(290) }] },
    });
    expect(confirmed.status, JSON.stringify(confirmed.body)).to.equal(201);
  });
  after(async () => {
    await svc?.close();
  });

  describe('with a bad request', () => {
    const good = () => ({ pseudonym: theCase.pseudonym, from: at(-24 * 60), to: at(300), markCloseContacts: true });
    const bad: Array<[string, () => unknown, number, string]> = [
      ['no pseudonym', () => ({ ...good(), pseudonym: undefined }), 400, 'VALIDATION_FAILED'],
      ['a malformed pseudonym', () => ({ ...good(), pseudonym: 'not/a/pseudonym!' }), 400, 'VALIDATION_FAILED'],
      ['an interval of 0 minutes', () => ({ ...good(), intervalMinutes: 0 }), 400, 'VALIDATION_FAILED'],
      ['an interval of 241 minutes', () => ({ ...good(), intervalMinutes: 241 }), 400, 'VALIDATION_FAILED'],
      ['a fractional interval', () => ({ ...good(), intervalMinutes: 12.5 }), 400, 'VALIDATION_FAILED'],
      ['to before from', () => ({ ...good(), from: at(300), to: at(0) }), 400, 'VALIDATION_FAILED'],
      ['a window of 40 days', () => ({ ...good(), from: at(-40 * 24 * 60) }), 400, 'VALIDATION_FAILED'],
      ['a time without an offset', () => ({ ...good(), from: '2026-03-10 08:00' }), 400, 'VALIDATION_FAILED'],
      ['an unknown field', () => ({ ...good(), degree: 2 }), 400, 'VALIDATION_FAILED'],
      ['markCloseContacts as a string', () => ({ ...good(), markCloseContacts: 'yes' }), 400, 'VALIDATION_FAILED'],
      ['a pseudonym nobody has', () => ({ ...good(), pseudonym: 'AAAAAAAAAAAAAAAA' }), 404, 'NOT_FOUND'],
    ];
    for (const [what, body, status, code] of bad) {
      it(`answers ${status} ${code} for ${what}, and the ledger head does not move`, async () => {
        const before = await svc.head();
        const r = await trace(body());
        expect(r.status).to.equal(status);
        expect(r.body.error.code).to.equal(code);
        if (status === 400) expect(r.body.error.fields).to.be.an('array').that.is.not.empty;
        expect(await svc.head()).to.deep.equal(before);
      });
    }

    it('answers 400 MALFORMED_JSON for a body that is not JSON, and writes nothing', async () => {
      const before = await svc.head();
      const r = await svc.call('POST', '/v1/tracing', {
        token: health,
        raw: '{"pseudonym":',
        headers: { 'content-type': 'application/json' },
      });
      expect(r.status).to.equal(400);
      expect(r.body.error.code).to.equal('MALFORMED_JSON');
      expect(await svc.head()).to.deep.equal(before);
    });

    it('is for health tokens only: 403 for an operator, 401 without a token', async () => {
      const before = await svc.head();
      expect((await trace(good(), operator)).status).to.equal(403);
      expect((await svc.call('POST', '/v1/tracing', { json: good() })).status).to.equal(401);
      expect((await trace(good(), theCase.token)).status).to.equal(403);
      expect(await svc.head()).to.deep.equal(before);
    });
  });

  describe('without marking', () => {
    it('lists the visits and contacts, records the look-up, and changes no colour', async () => {
      const r = await trace({ pseudonym: theCase.pseudonym, from: at(-60), to: at(300) });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      expect(r.body.marked).to.equal(false);
      expect(r.body.contacts.map((c: { pseudonym: string }) => c.pseudonym).sort()).to.deep.equal(
        contacts.map((c) => c.pseudonym).sort(),
      );
      for (const c of r.body.contacts) expect(c.colour).to.equal('green');
      const event = (await svc.running.app.ledger.getEvent(r.body.seq))!;
      expect(event.type).to.equal('tracing.completed');
      expect(event.data.marked).to.equal(false);
    });

    it('widens with the interval: at 40 minutes the 13:25 visitor at B overlaps too', async () => {
      const r = await trace({ pseudonym: theCase.pseudonym, from: at(-60), to: at(300), intervalMinutes: 40 });
      expect(r.status).to.equal(201);
      const c = r.body.contacts.find((x: { pseudonym: string }) => x.pseudonym === bystander.pseudonym);
      expect(c).to.deep.include({
        at: at(205),
        caseAt: at(240),
        exposedAt: at(240),
        minutesApart: 35,
        overlapMinutes: 5,
      });
    });

    it('widens with the interval: at 150 minutes the 12:00 visitor overlaps too', async () => {
      const r = await trace({ pseudonym: theCase.pseudonym, from: at(-60), to: at(300), intervalMinutes: 150 });
      expect(r.status).to.equal(201);
      expect(r.body.contacts.map((c: { pseudonym: string }) => c.pseudonym))
        .to.include(bystander.pseudonym)
        .and.have.length(5);
    });

    it('looks only at visits inside the window: from 13:00 it finds venue B alone', async () => {
      const r = await trace({ pseudonym: theCase.pseudonym, from: at(180), to: at(300) });
      expect(r.body.venues.map((v: { venue: { id: string } }) => v.venue.id)).to.deep.equal([venueB.id]);
      expect(r.body.contacts.map((c: { pseudonym: string }) => c.pseudonym).sort()).to.deep.equal(
        [contacts[2].pseudonym, contacts[3].pseudonym].sort(),
      );
    });
  });

  describe('a case visits two venues, four others overlap, one does not', () => {
    let result: any;
    before(async () => {
      clock.ms = START + 310 * MINUTE;
      const r = await trace({ pseudonym: theCase.pseudonym, from: at(-24 * 60), to: at(300), markCloseContacts: true });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      result = r.body;
    });

    it('lists both venues the case visited, in order', () => {
      expect(result.case).to.include({ pseudonym: theCase.pseudonym, colour: 'red', caseStatus: 'confirmed' });
      expect(result.venues).to.have.length(2);
      expect(result.venues[0]).to.deep.include({
        venue: { id: venueA.id, name: '天鹅湖商场', type: 'crowded-place' },
        at: at(0),
        contacts: 2,
      });
      expect(result.venues[1]).to.deep.include({
        venue: { id: venueB.id, name: '庐州小馆', type: 'crowded-place' },
        at: at(240),
        contacts: 2,
      });
    });

    it('finds exactly the four who overlapped, with when and where', () => {
      expect(result.contacts).to.have.length(4);
      const by = new Map(result.contacts.map((c: { pseudonym: string }) => [c.pseudonym, c]));
      expect(by.has(bystander.pseudonym)).to.equal(false);
      expect(by.has(theCase.pseudonym)).to.equal(false);
      const expectContact = (p: Person, venue: string, contactAt: number, caseAt: number, overlap: number) => {
        const c = by.get(p.pseudonym) as Record<string, unknown>;
        expect(c, p.pseudonym).to.exist;
        expect(c).to.deep.include({
          at: at(contactAt),
          caseAt: at(caseAt),
          exposedAt: at(Math.max(contactAt, caseAt)),
          overlapMinutes: overlap,
          encounters: 1,
          colour: 'red',
        });
        expect((c.venue as { id: string }).id).to.equal(venue);
        expect(c.maskedName).to.match(/\*/);
        expect(c.idLast4).to.equal(p.idNumber.slice(-4));
      };
      expectContact(contacts[0], venueA.id, 10, 0, 20);
      expectContact(contacts[1], venueA.id, 20, 0, 10);
      expectContact(contacts[2], venueB.id, 245, 240, 25);
      expectContact(contacts[3], venueB.id, 230, 240, 20);
      expect(result.notTraceable).to.deep.equal({ foreign: 0, certificate: 0, unidentified: 1 });
    });

    // Their codes of the morning have expired, so the new codes carry newly drawn status indexes (FORMAT.md §7): read the index after the code.
    it('turns the four codes red: their own code and the status list say so', async () => {
      for (const p of contacts) {
        const code = await svc.call('GET', '/v1/residents/me/code', { token: p.token });
        expect(code.status).to.equal(200);
        expect(code.body.colour).to.equal('red');
        const me = await svc.call('GET', '/v1/residents/me', { token: p.token });
        expect(me.body.resident.reasons.map((r: { id: string }) => r.id)).to.include('close-contact');
        expect((await statusListOf(svc)).get(me.body.resident.statusIndex)).to.equal('red');
      }
    });

    it('leaves the fifth, who came 35 minutes before at B and two hours after at A, green', async () => {
      const code = await svc.call('GET', '/v1/residents/me/code', { token: bystander.token });
      expect(code.body.colour).to.equal('green');
      const me = await svc.call('GET', '/v1/residents/me', { token: bystander.token });
      expect((await statusListOf(svc)).get(me.body.resident.statusIndex)).to.equal('green');
    });

    it('writes one tracing.completed event, before the status changes it causes', async () => {
      const events = (await eventsOf(svc, 'tracing.completed')).filter((e) => e.data.marked === true);
      expect(events).to.have.length(1);
      const e = events[0];
      expect(e.seq).to.equal(result.seq);
      expect(e.subjects).to.deep.equal(['tracing']);
      expect(e.data).to.deep.include({
        case: theCase.pseudonym,
        from: at(-24 * 60),
        to: at(300),
        intervalMinutes: 30,
        venues: 2,
        contacts: 4,
        marked: true,
      });
      const changes = (await eventsOf(svc, 'status.changed')).filter((c) => c.data.cause === `tracing#${e.seq}`);
      expect(changes.map((c) => c.subjects[0]).sort()).to.deep.equal(contacts.map((c) => `r:${c.pseudonym}`).sort());
      for (const c of changes) expect(c.data).to.include({ from: 'green', to: 'red' });
    });

    it('stores the exposure as a degree-1 contact fact and, like the feed, keeps a later exposure', async () => {
      const factOf = async (p: Person) =>
        (await readFacts(svc.running.app.ledger, svc.running.app.secrets.encryptionKey, p.pseudonym))?.contact;
      expect(await factOf(contacts[3])).to.deep.equal({ degree: 1, exposedAt: at(240) });
      // The feed reports a later exposure of contact 3; tracing the case again must not move it back.
      const feed = await svc.call('POST', '/v1/feeds/close-contacts', {
        token: health,
        json: { records: [{ idType: 'resident-id', idNumber: contacts[3].idNumber, degree: 1, exposedAt: at(280) }] },
      });
      expect(feed.status, JSON.stringify(feed.body)).to.equal(201);
      const r = await trace({ pseudonym: theCase.pseudonym, from: at(-60), to: at(300), markCloseContacts: true });
      expect(r.status).to.equal(201);
      expect(await factOf(contacts[3])).to.deep.equal({ degree: 1, exposedAt: at(280) });
      expect(await factOf(contacts[2])).to.deep.equal({ degree: 1, exposedAt: at(245) });
      // Already red: no second status change.
      expect(
        (await eventsOf(svc, 'status.changed')).filter((c) => c.data.cause === `tracing#${r.body.seq}`),
      ).to.have.length(0);
    });
  });
});
