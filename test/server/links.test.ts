import { expect } from 'chai';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { LedgerEvent } from '../../verifier/src/event';
import { startTestService, withWrongCheckChar, type Reply, type TestService } from '../support/service';
import { newResident, type Resident } from '../support/scenario';
import { linkCard, sectorToken } from '../support/services17';

/**
 * Linked cards (issue 17, point 1) through the HTTP API: who may link which card, whose links
 * a resident reaches (only the session's own), how often a resident may ask for one, and that
 * no reference, ID or name reaches an event or the data folder in clear.
 */

const files = (dir: string): string[] =>
  readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? files(join(dir, n)) : [join(dir, n)]));

let refs = 0;
/** A reference no other test uses, so it can be looked for in the ledger and on disk. */
const newRef = (prefix = 'EHC') => `${prefix}-Zq9-${process.pid}-${String(++refs).padStart(4, '0')}`;

describe('linked cards (POST /v1/links, /v1/links/confirm, /v1/residents/me/links, consents)', function () {
  this.timeout(60_000);
  let svc: TestService;
  let health: string;
  let hrss: string;
  let insurance: string;
  let payment: string;
  let auditor: string;
  /** Every reference linked in this file, to be found nowhere in clear. */
  const used: string[] = [];
  /** The ID numbers and names of the residents this file linked cards to. */
  const people: Resident[] = [];

  const id = (r: Resident) => ({ idType: r.body.idType, idNumber: r.body.idNumber });
  const resident = async () => {
    const r = await newResident(svc);
    people.push(r);
    return r;
  };
  const ref = (prefix?: string) => {
    const x = newRef(prefix);
    used.push(x);
    return x;
  };
  const links = (r: Resident) => svc.call('GET', '/v1/residents/me/links', { token: r.token });
  const eventsSince = async (seq: number): Promise<LedgerEvent[]> =>
    (await svc.call('GET', `/v1/log/events?from=${seq + 1}`, { token: auditor })).body.events;

  /** Sends, expects `status` and `code`, and that the ledger did not move. */
  const refused = async (send: () => Promise<Reply>, status: number, code: string): Promise<Reply> => {
    const head = await svc.head();
    const r = await send();
    expect(r.status, JSON.stringify(r.body)).to.equal(status);
    expect(r.body.error.code, JSON.stringify(r.body)).to.equal(code);
    expect(await svc.head(), 'the ledger moved').to.deep.equal(head);
    return r;
  };

  before(async () => {
    svc = await startTestService({ config: { RATE_LINK_REQUEST_PER_RESIDENT: 3 } });
    health = await sectorToken(svc, 'health');
    hrss = await sectorToken(svc, 'hrss');
    insurance = await sectorToken(svc, 'medical-insurance');
    payment = await sectorToken(svc, 'payment');
    auditor = await svc.token('auditor');
  });
  after(async () => {
    await svc?.close();
  });

  describe('an authority links by ID', () => {
    it('links (201 linked), changes (201 changed), and the same reference again is 200 unchanged with nothing written', async () => {
      const r = await resident();
      const first = ref();
      const start = (await svc.head()).seq;
      const linked = await svc.call('POST', '/v1/links', {
        token: health,
        json: { kind: 'health-card', ...id(r), ref: first },
      });
      expect(linked.status, JSON.stringify(linked.body)).to.equal(201);
      expect(linked.body).to.deep.equal({ kind: 'health-card', state: 'linked', refHint: first.slice(-4) });

      const head = await svc.head();
      const again = await svc.call('POST', '/v1/links', {
        token: health,
        json: { kind: 'health-card', ...id(r), ref: first },
      });
      expect(again.status).to.equal(200);
      expect(again.body.state).to.equal('unchanged');
      expect(await svc.head()).to.deep.equal(head);

      const second = ref();
      const changed = await svc.call('POST', '/v1/links', {
        token: health,
        json: { kind: 'health-card', ...id(r), ref: second },
      });
      expect(changed.status).to.equal(201);
      expect(changed.body).to.deep.equal({ kind: 'health-card', state: 'changed', refHint: second.slice(-4) });

      const events = await eventsSince(start);
      expect(events.map((e) => e.type)).to.deep.equal(['card.linked', 'card.changed']);
      for (const e of events) {
        expect(e.subjects).to.deep.equal([`r:${r.pseudonym}`]);
        expect(e.data).to.include({ kind: 'health-card', via: 'authority' });
      }

      const seen = (await links(r)).body;
      const card = seen.links.find((l: { kind: string }) => l.kind === 'health-card');
      expect(card).to.include({ linked: true, refHint: second.slice(-4), purpose: 'registration', paused: false });
      expect(JSON.stringify(seen)).to.not.include(second);
    });

    it('links a payment token with its provider, and each card by its own authority', async () => {
      const r = await resident();
      await linkCard(svc, r, 'payment', ref('PAY'), 'stand-in-pay');
      await linkCard(svc, r, 'social-security-card', ref('SSC'));
      await linkCard(svc, r, 'insurance-voucher', ref('MIV'));
      const seen = (await links(r)).body.links as Array<{ kind: string; linked: boolean; provider: string | null }>;
      expect(
        seen
          .filter((l) => l.linked)
          .map((l) => l.kind)
          .sort(),
      ).to.deep.equal(['insurance-voucher', 'payment', 'social-security-card']);
      expect(seen.find((l) => l.kind === 'payment')!.provider).to.equal('stand-in-pay');
    });

    it('refuses the wrong sector with 403 and writes nothing: hrss an e-health card, a payment provider anything but payment, health a voucher', async () => {
      const r = await resident();
      const tries: Array<[string, string]> = [
        [hrss, 'health-card'],
        [payment, 'health-card'],
        [payment, 'social-security-card'],
        [payment, 'insurance-voucher'],
        [health, 'insurance-voucher'],
        [insurance, 'social-security-card'],
        [await svc.token('health'), 'social-security-card'],
      ];
      for (const [token, kind] of tries) {
        const res = await refused(
          () => svc.call('POST', '/v1/links', { token, json: { kind, ...id(r), ref: newRef() } }),
          403,
          'FORBIDDEN',
        );
        expect(res.body.error.message).to.include('card.link');
      }
      await refused(
        () =>
          svc.call('POST', '/v1/links', {
            token: hrss,
            json: { kind: 'payment', ...id(r), ref: newRef(), provider: 'stand-in-pay' },
          }),
        403,
        'FORBIDDEN',
      );
      await refused(
        () => svc.call('DELETE', '/v1/links', { token: hrss, json: { kind: 'health-card', ...id(r) } }),
        403,
        'FORBIDDEN',
      );
    });

    it('refuses other roles (403) and no token (401) before reading the body', async () => {
      const r = await resident();
      for (const token of [
        await svc.token('operator'),
        auditor,
        r.token,
        await svc.token('feed', { source: 'telecom' }),
      ]) {
        await refused(
          () => svc.call('POST', '/v1/links', { token, json: { kind: 'health-card', ...id(r), ref: newRef() } }),
          403,
          'FORBIDDEN',
        );
      }
      await refused(
        () => svc.call('POST', '/v1/links', { json: { kind: 'health-card', ...id(r), ref: newRef() } }),
        401,
        'UNAUTHENTICATED',
      );
    });

    it('answers 404 NOT_FOUND for an ID with no record, 400 INVALID_ID_NUMBER for a bad one, 400 for a bad body; nothing written', async () => {
      const r = await resident();
      await refused(
        () =>
          svc.call('POST', '/v1/links', {
            token: health,
            json: { kind: 'health-card', idType: 'passport', idNumber: 'E99887766', ref: newRef() },
          }),
        404,
        'NOT_FOUND',
      );
      await refused(
        () =>
          svc.call('POST', '/v1/links', {
            token: health,
            json: {
              kind: 'health-card',
              idType: 'resident-id',
              idNumber: withWrongCheckChar(r.body.idNumber),
              ref: newRef(),
            },
          }),
        400,
        'INVALID_ID_NUMBER',
      );
      const bad: Array<Record<string, unknown>> = [
        { kind: 'health-card', ...id(r), ref: 'abc' },
        { kind: 'health-card', ...id(r), ref: 'has space in it' },
        { kind: 'health-card', ...id(r), ref: 'x'.repeat(65) },
        { kind: 'health-card', ...id(r), ref: newRef(), provider: 'stand-in-pay' },
        { kind: 'passport-card', ...id(r), ref: newRef() },
        { kind: 'health-card', ...id(r), ref: newRef(), extra: 1 },
        { kind: 'health-card', idType: r.body.idType, ref: newRef() },
      ];
      for (const json of bad)
        await refused(() => svc.call('POST', '/v1/links', { token: health, json }), 400, 'VALIDATION_FAILED');
      for (const json of [
        { kind: 'payment', ...id(r), ref: newRef() },
        { kind: 'payment', ...id(r), ref: newRef(), provider: 'Not_A_Provider' },
      ]) {
        await refused(() => svc.call('POST', '/v1/links', { token: payment, json }), 400, 'VALIDATION_FAILED');
      }
      expect((await links(r)).body.links.every((l: { linked: boolean }) => !l.linked)).to.equal(true);
    });

    it('removes a card (card.removed), and a second removal is 404 CARD_NOT_LINKED', async () => {
      const r = await resident();
      await linkCard(svc, r, 'health-card', ref());
      const start = (await svc.head()).seq;
      const removed = await svc.call('DELETE', '/v1/links', { token: health, json: { kind: 'health-card', ...id(r) } });
      expect(removed.status, JSON.stringify(removed.body)).to.equal(200);
      expect(removed.body).to.deep.equal({ kind: 'health-card', removed: true });
      const events = await eventsSince(start);
      expect(events.map((e) => [e.type, e.subjects, (e.data as { kind: string }).kind])).to.deep.equal([
        ['card.removed', [`r:${r.pseudonym}`], 'health-card'],
      ]);
      await refused(
        () => svc.call('DELETE', '/v1/links', { token: health, json: { kind: 'health-card', ...id(r) } }),
        404,
        'CARD_NOT_LINKED',
      );
      expect((await links(r)).body.links.find((l: { kind: string }) => l.kind === 'health-card').linked).to.equal(
        false,
      );
    });
  });

  describe("a resident's request, confirmed by the authority", () => {
    it("links with via: request; the request is used up, and someone else's ID, another kind or an expired request is the same 404 with nothing written", async () => {
      const r = await resident();
      const other = await resident();
      const asked = await svc.call('POST', '/v1/residents/me/links/requests', {
        token: r.token,
        json: { kind: 'insurance-voucher' },
      });
      expect(asked.status, JSON.stringify(asked.body)).to.equal(201);
      expect(asked.body.kind).to.equal('insurance-voucher');
      expect(Date.parse(asked.body.expiresAt)).to.equal(svc.clock.ms + 24 * 3_600_000);
      const { requestId } = asked.body;

      const confirm = (token: string, body: Record<string, unknown>) => () =>
        svc.call('POST', '/v1/links/confirm', {
          token,
          json: { requestId, kind: 'insurance-voucher', ...id(r), ref: newRef(), ...body },
        });
      const wrongPerson = await refused(confirm(insurance, id(other)), 404, 'NOT_FOUND');
      const unknown = await refused(confirm(insurance, { requestId: 'AAAAAAAAAAAAAAAA' }), 404, 'NOT_FOUND');
      expect(wrongPerson.body.error.message).to.equal(unknown.body.error.message);
      // Another kind, by that kind's own authority: the request is for a voucher.
      await refused(confirm(hrss, { kind: 'social-security-card' }), 404, 'NOT_FOUND');
      // The authority of another card is refused before the request is looked at.
      await refused(confirm(health, {}), 403, 'FORBIDDEN');

      const start = (await svc.head()).seq;
      const voucher = ref('MIV');
      const done = await svc.call('POST', '/v1/links/confirm', {
        token: insurance,
        json: { requestId, kind: 'insurance-voucher', ...id(r), ref: voucher },
      });
      expect(done.status, JSON.stringify(done.body)).to.equal(201);
      expect(done.body).to.deep.equal({ kind: 'insurance-voucher', state: 'linked', refHint: voucher.slice(-4) });
      const events = await eventsSince(start);
      expect(events).to.have.length(1);
      expect(events[0].type).to.equal('card.linked');
      expect(events[0].data).to.include({ kind: 'insurance-voucher', via: 'request' });
      expect(events[0].subjects).to.deep.equal([`r:${r.pseudonym}`]);

      await refused(confirm(insurance, {}), 404, 'NOT_FOUND');

      const late = (
        await svc.call('POST', '/v1/residents/me/links/requests', { token: other.token, json: { kind: 'payment' } })
      ).body.requestId;
      svc.clock.advance(24 * 3_600_000 + 1000);
      await refused(
        () =>
          svc.call('POST', '/v1/links/confirm', {
            token: payment,
            json: { requestId: late, kind: 'payment', ...id(other), ref: newRef(), provider: 'stand-in-pay' },
          }),
        404,
        'NOT_FOUND',
      );
    });

    it('keeps one request per resident and kind: a new one replaces the last, whose id then confirms nothing', async () => {
      const r = await resident();
      const ask = async (kind: string) =>
        (await svc.call('POST', '/v1/residents/me/links/requests', { token: r.token, json: { kind } })).body
          .requestId as string;
      const first = await ask('health-card');
      const voucher = await ask('insurance-voucher');
      const second = await ask('health-card');
      expect(second).to.not.equal(first);
      await refused(
        () =>
          svc.call('POST', '/v1/links/confirm', {
            token: health,
            json: { requestId: first, kind: 'health-card', ...id(r), ref: newRef() },
          }),
        404,
        'NOT_FOUND',
      );
      // Another kind's request is untouched by it.
      expect(
        (
          await svc.call('POST', '/v1/links/confirm', {
            token: insurance,
            json: { requestId: voucher, kind: 'insurance-voucher', ...id(r), ref: newRef() },
          })
        ).status,
      ).to.equal(201);
      expect(
        (
          await svc.call('POST', '/v1/links/confirm', {
            token: health,
            json: { requestId: second, kind: 'health-card', ...id(r), ref: newRef() },
          })
        ).status,
      ).to.equal(201);
    });

    it('limits a resident to RATE_LINK_REQUEST_PER_RESIDENT requests a window (429 with Retry-After), per resident', async () => {
      const r = await resident();
      for (let i = 0; i < 3; i++)
        expect(
          (await svc.call('POST', '/v1/residents/me/links/requests', { token: r.token, json: { kind: 'payment' } }))
            .status,
        ).to.equal(201);
      const flood = await svc.call('POST', '/v1/residents/me/links/requests', {
        token: r.token,
        json: { kind: 'payment' },
      });
      expect(flood.status).to.equal(429);
      expect(flood.body.error.code).to.equal('TOO_MANY_REQUESTS');
      expect(Number(flood.headers.get('retry-after'))).to.be.greaterThan(0);
      const other = await resident();
      expect(
        (await svc.call('POST', '/v1/residents/me/links/requests', { token: other.token, json: { kind: 'payment' } }))
          .status,
      ).to.equal(201);
    });

    it('takes requests only from a resident, for a card kind', async () => {
      const r = await resident();
      await refused(
        () => svc.call('POST', '/v1/residents/me/links/requests', { token: health, json: { kind: 'health-card' } }),
        403,
        'FORBIDDEN',
      );
      await refused(
        () => svc.call('POST', '/v1/residents/me/links/requests', { json: { kind: 'health-card' } }),
        401,
        'UNAUTHENTICATED',
      );
      await refused(
        () => svc.call('POST', '/v1/residents/me/links/requests', { token: r.token, json: { kind: 'identity' } }),
        400,
        'VALIDATION_FAILED',
      );
    });
  });

  describe('the resident on /', () => {
    it("reaches only the session's own links: reading, removing and pausing act on that record and no other", async () => {
      const a = await resident();
      const b = await resident();
      const refA = ref();
      const refB = ref();
      await linkCard(svc, a, 'health-card', refA);
      await linkCard(svc, b, 'health-card', refB);
      const seenA = (await links(a)).body;
      expect(seenA.links.find((l: { kind: string }) => l.kind === 'health-card').refHint).to.equal(refA.slice(-4));
      expect(JSON.stringify(seenA)).to.not.include(refB.slice(-4));
      // There is no way to name another resident: no route takes a pseudonym, and an authority token is not a resident.
      expect((await svc.call('GET', `/v1/residents/${b.pseudonym}/links`, { token: a.token })).status).to.equal(404);
      await refused(() => svc.call('GET', '/v1/residents/me/links', { token: health }), 403, 'FORBIDDEN');
      await refused(() => svc.call('GET', '/v1/residents/me/links'), 401, 'UNAUTHENTICATED');

      const removed = await svc.call('DELETE', '/v1/residents/me/links/health-card', { token: a.token });
      expect(removed.status).to.equal(200);
      expect(removed.body).to.deep.equal({ kind: 'health-card', removed: true });
      expect((await links(a)).body.links.find((l: { kind: string }) => l.kind === 'health-card').linked).to.equal(
        false,
      );
      expect((await links(b)).body.links.find((l: { kind: string }) => l.kind === 'health-card').linked).to.equal(true);
      await refused(
        () => svc.call('DELETE', '/v1/residents/me/links/health-card', { token: a.token }),
        404,
        'CARD_NOT_LINKED',
      );
      await refused(
        () => svc.call('DELETE', '/v1/residents/me/links/identity', { token: a.token }),
        400,
        'VALIDATION_FAILED',
      );

      const paused = await svc.call('PUT', '/v1/residents/me/consents/registration', {
        token: a.token,
        json: { paused: true },
      });
      expect(paused.status).to.equal(200);
      const purposeOf = (body: { purposes: Array<{ purpose: string; paused: boolean }> }) =>
        body.purposes.find((p) => p.purpose === 'registration')!.paused;
      expect(purposeOf((await links(a)).body)).to.equal(true);
      expect(purposeOf((await links(b)).body)).to.equal(false);
    });

    it('pauses and allows a purpose: one consent.changed each time it changes, none when it does not; a paused purpose shows on its card', async () => {
      const r = await resident();
      await linkCard(svc, r, 'payment', ref('PAY'), 'stand-in-pay');
      const start = (await svc.head()).seq;
      const put = (paused: unknown) =>
        svc.call('PUT', '/v1/residents/me/consents/fare', { token: r.token, json: { paused } });
      const p1 = await put(true);
      expect(p1.status).to.equal(200);
      expect(p1.body).to.deep.equal({ purpose: 'fare', paused: true });
      const head = await svc.head();
      expect((await put(true)).status).to.equal(200);
      expect(await svc.head(), 'pausing a paused purpose wrote something').to.deep.equal(head);
      const card = (await links(r)).body.links.find((l: { kind: string }) => l.kind === 'payment');
      expect(card).to.include({ linked: true, paused: true, purpose: 'fare' });
      expect((await put(false)).body).to.deep.equal({ purpose: 'fare', paused: false });
      const events = await eventsSince(start);
      expect(
        events.map((e) => [
          e.type,
          e.subjects[0],
          (e.data as { purpose: string }).purpose,
          (e.data as { paused: boolean }).paused,
        ]),
      ).to.deep.equal([
        ['consent.changed', `r:${r.pseudonym}`, 'fare', true],
        ['consent.changed', `r:${r.pseudonym}`, 'fare', false],
      ]);
      await refused(() => put('yes'), 400, 'VALIDATION_FAILED');
      await refused(
        () => svc.call('PUT', '/v1/residents/me/consents/shopping', { token: r.token, json: { paused: true } }),
        400,
        'VALIDATION_FAILED',
      );
      await refused(
        () => svc.call('PUT', '/v1/residents/me/consents/fare', { token: health, json: { paused: true } }),
        403,
        'FORBIDDEN',
      );
    });
  });

  describe('what is kept', () => {
    it('no event names a reference, an ID number or a name', async () => {
      const events: LedgerEvent[] = (await svc.call('GET', '/v1/log/events?from=1', { token: auditor })).body.events;
      const ours = events.filter((e) => e.type.startsWith('card.') || e.type === 'consent.changed');
      expect(ours.length).to.be.greaterThan(10);
      const text = JSON.stringify(events);
      for (const x of used) expect(text, x).to.not.include(x);
      for (const p of people) {
        expect(text).to.not.include(p.body.idNumber);
        expect(text).to.not.include(p.body.name);
      }
    });

    it('keeps no reference in clear in the data folder', async () => {
      await svc.stop();
      const raw = Buffer.concat(files(svc.dir).map((f) => readFileSync(f)));
      // The check can fail: the pseudonyms are there in clear.
      expect(raw.includes(Buffer.from(people[0].pseudonym))).to.equal(true);
      expect(used.length).to.be.greaterThan(8);
      for (const x of used) expect(raw.includes(Buffer.from(x)), x).to.equal(false);
    });
  });
});

describe('how often: the sector authorities and residents (RATE_SECTOR_PER_TOKEN, RATE_LINK_CHANGE_PER_RESIDENT)', function () {
  this.timeout(60_000);
  let svc: TestService;
  before(async () => {
    svc = await startTestService({ config: { RATE_SECTOR_PER_TOKEN: 3, RATE_LINK_CHANGE_PER_RESIDENT: 3 } });
  });
  after(async () => svc?.close());

  it("counts an authority's link and desk writes together per token: over the limit 429 with Retry-After and nothing written; another token goes on", async () => {
    const health = await sectorToken(svc, 'health');
    const other = await svc.token('feed', { source: 'health', name: 'another health feed' });
    const people = [await newResident(svc), await newResident(svc), await newResident(svc)];
    const venue = (
      await svc.call('POST', '/v1/venues', {
        token: svc.adminToken,
        json: { type: 'public-service', subtype: 'hospital', name: '省立医院', district: '340104' },
      })
    ).body;
    for (const p of people.slice(0, 2))
      expect((await linkCard(svc, p, 'health-card', newRef(), undefined, { token: health })).state).to.equal('linked');
    const desk = await svc.call('POST', '/v1/desks', {
      token: health,
      json: { kind: 'hospital-desk', name: '挂号 1', venueId: venue.id },
    });
    expect(desk.status, JSON.stringify(desk.body)).to.equal(201);
    const head = await svc.head();
    const flood = await Promise.all([
      svc.call('POST', '/v1/links', {
        token: health,
        json: { kind: 'health-card', idType: people[2].body.idType, idNumber: people[2].body.idNumber, ref: newRef() },
      }),
      svc.call('POST', '/v1/desks', {
        token: health,
        json: { kind: 'hospital-desk', name: '挂号 2', venueId: venue.id },
      }),
      svc.call('POST', `/v1/desks/${desk.body.desk.id}/tokens`, { token: health }),
    ]);
    for (const r of flood) {
      expect(r.status, JSON.stringify(r.body)).to.equal(429);
      expect(r.body.error.code).to.equal('TOO_MANY_REQUESTS');
      expect(Number(r.headers.get('retry-after'))).to.be.greaterThan(0);
    }
    expect(await svc.head(), 'nothing written').to.deep.equal(head);
    expect((await linkCard(svc, people[2], 'health-card', newRef(), undefined, { token: other })).state).to.equal(
      'linked',
    );
  });

  it("counts a resident's removals and consent changes together: over the limit 429 and nothing written; another resident goes on", async () => {
    const r = await newResident(svc);
    const put = (who: Resident, paused: boolean) =>
      svc.call('PUT', '/v1/residents/me/consents/identity', { token: who.token, json: { paused } });
    expect((await put(r, true)).status).to.equal(200);
    expect((await put(r, false)).status).to.equal(200);
    expect((await put(r, true)).status).to.equal(200);
    const head = await svc.head();
    const over = await put(r, false);
    expect(over.status).to.equal(429);
    const removal = await svc.call('DELETE', '/v1/residents/me/links/health-card', { token: r.token });
    expect(removal.status).to.equal(429);
    expect(await svc.head(), 'nothing written').to.deep.equal(head);
    expect(
      (await svc.call('GET', '/v1/residents/me/links', { token: r.token })).body.purposes.find(
        (p: { purpose: string }) => p.purpose === 'identity',
      ).paused,
    ).to.equal(true);
    expect((await put(await newResident(svc), true)).status).to.equal(200);
  });
});
