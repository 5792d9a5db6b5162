import { expect } from 'chai';
import { decodeCode, type ResidentClaims } from '../../verifier/src';
import {
  applicant,
  apply,
  DAY,
  MINUTE,
  residentIdNumber,
  START,
  startTestService,
  withWrongCheckChar,
  type TestService,
} from '../support/service';
import { eventsAfter, headSeq, registerVenue, staffScan, type Venue } from '../support/scenario';

let passport = 0;
/** A fresh passport number. */
const passportNo = () => `E${String(70_000_000 + passport++)}`;

function traveller(venueId: string, over: Record<string, unknown> = {}) {
  const n = passport;
  return {
    venueId,
    idType: 'passport',
    idNumber: passportNo(),
    name: 'Li Hua',
    phone: `+4477009${String(n % 100_000).padStart(5, '0')}`,
    from: 'GB',
    destination: '340104',
    temperatureC: 36.6,
    ...over,
  };
}

/** The traveller signs in with their own account, whose provider vouches for the passport the officer typed. */
async function signInAs(svc: TestService, t: ReturnType<typeof traveller>): Promise<string> {
  return (await svc.signIn({ idType: t.idType as 'passport', idNumber: t.idNumber, name: t.name, phone: t.phone }))
    .access;
}

async function countResidents(svc: TestService): Promise<number> {
  let n = 0;
  for await (const _ of svc.running.app.ledger.space('residents').keys()) n++;
  return n;
}

describe('POST /v1/border/entries (入境发码)', function () {
  this.timeout(30_000);
  let svc: TestService;
  let health: string;
  let operator: string;
  let officer: string;
  let post: Venue;

  const enter = (body: unknown, token = officer, headers: Record<string, string> = {}) =>
    svc.call('POST', '/v1/border/entries', { token, json: body, headers });

  before(async () => {
    svc = await startTestService();
    health = await svc.token('health');
    operator = await svc.token('operator');
    post = await registerVenue(svc, health, {
      type: 'border',
      subtype: 'port-of-entry',
      name: '新桥机场口岸',
      district: '340123',
    });
    officer = await svc.token('border', { scope: { venues: [post.id] } });
  });
  after(async () => {
    await svc?.close();
  });

  describe('for a passport holder arriving from abroad', () => {
    let body: ReturnType<typeof traveller>;
    let out: { status: number; body: any };
    let headBefore: number;

    before(async () => {
      headBefore = headSeq(svc);
      body = traveller(post.id);
      out = await enter(body);
    });

    it("answers 201 with the resident, a printed code and a dynamic code, and no token: only the traveller's own sign-in reaches the record", () => {
      expect(out.status, JSON.stringify(out.body)).to.equal(201);
      expect(Object.keys(out.body)).to.have.members(['resident', 'printedCode', 'code', 'entry']);
      expect(out.body.entry).to.deep.equal({
        venue: post.id,
        from: 'GB',
        destination: '340104',
        arrivedAt: svc.clock.now().toISOString(),
      });
    });

    it('makes the traveller red for centralised quarantine', () => {
      const { resident } = out.body;
      expect(resident).to.include({ colour: 'red', idType: 'passport', district: '340104' });
      expect(resident.maskedId)
        .to.match(new RegExp(`${body.idNumber.slice(-4)}$`))
        .and.not.equal(body.idNumber);
      expect(resident.reasons.map((x: { id: string }) => x.id)).to.deep.equal(['inbound-quarantine']);
    });

    it('issues a printed code that lives PRINTED_CODE_TTL_DAYS (7) days and a dynamic one of 10 minutes, both red', () => {
      const printed = out.body.printedCode;
      expect(printed).to.include({ mode: 'printed', colour: 'red', issuer: '340000' });
      expect(Date.parse(printed.expiresAt) - svc.clock.ms).to.equal(7 * DAY);
      const claims = decodeCode(printed.code).claims as ResidentClaims;
      expect(claims.health).to.include({
        mode: 'printed',
        colour: 'red',
        statusIndex: out.body.resident.statusIndex,
        idLast4: body.idNumber.slice(-4),
      });
      expect(claims).to.not.have.property('sub');
      const dynamic = out.body.code;
      expect(dynamic).to.include({ mode: 'dynamic', colour: 'red' });
      expect(Date.parse(dynamic.expiresAt) - svc.clock.ms).to.equal(10 * MINUTE);
    });

    it("records the entry on the traveller's and the post's chains, and never issues a code of another colour", async () => {
      const events = await eventsAfter(svc, headBefore);
      expect(events.map((e) => e.type)).to.deep.equal([
        'resident.applied',
        'code.issued',
        'border.entry',
        'code.issued',
      ]);
      const entry = events.find((e) => e.type === 'border.entry')!;
      expect(entry.subjects).to.have.members([`r:${out.body.resident.pseudonym}`, `v:${post.id}`]);
      expect(entry.data).to.include({ from: 'GB', venue: post.id });
      // The first colour is the application's own: no status.changed beside it.
      const applied = events.find((e) => e.type === 'resident.applied')!;
      expect(applied.data).to.include({ colour: 'red' });
      expect(applied.data.rules).to.deep.equal(['inbound-quarantine']);
      expect(events.filter((e) => e.type === 'code.issued').map((e) => [e.data.mode, e.data.colour])).to.deep.equal([
        ['dynamic', 'red'],
        ['printed', 'red'],
      ]);
    });

    it('keeps the passport number, name and phone out of every event', async () => {
      const text = JSON.stringify(await eventsAfter(svc, headBefore));
      for (const secret of [body.idNumber, body.name, body.phone]) expect(text).to.not.include(secret);
    });

    it("binds the record to the traveller's account when they sign in, as an event in their history, and shows them the same printed code", async () => {
      const head = headSeq(svc);
      const token = await signInAs(svc, body);
      const me = await svc.call('GET', '/v1/residents/me', { token });
      expect(me.body.resident).to.include({ pseudonym: out.body.resident.pseudonym, colour: 'red' });
      const printed = await svc.call('GET', '/v1/residents/me/code?mode=printed', { token });
      expect(printed.body.code).to.equal(out.body.printedCode.code);
      const bound = (await eventsAfter(svc, head)).filter((e) => e.type === 'account.bound');
      expect(bound.map((e) => [e.subjects, e.data])).to.deep.equal([
        [[`r:${out.body.resident.pseudonym}`], { via: 'sign-in' }],
      ]);
    });

    it('has the traveller denied when the code is scanned at a mall', async () => {
      const mall = await registerVenue(svc, operator, { type: 'crowded-place', name: '银泰中心', district: '340104' });
      const scan = await staffScan(svc, operator, { venueId: mall.id, code: out.body.printedCode.code });
      expect(scan.body).to.include({ decision: 'deny', rule: 'default/red-code', codeResult: 'VALID', colour: 'red' });
    });
  });

  describe('with each kind of identity document', () => {
    for (const [idType, idNumber, from, phone] of [
      ['hk-macao-permit', 'H87654321', 'HK', '+85291234567'],
      ['taiwan-permit', '87654321', 'TW', '+886912345678'],
      ['resident-id', residentIdNumber('340104'), 'JP', '13912345678'],
    ] as const) {
      it(`issues a red code to a ${idType} holder arriving from ${from}`, async () => {
        const out = await enter(traveller(post.id, { idType, idNumber, from, phone }));
        expect(out.status, JSON.stringify(out.body)).to.equal(201);
        expect(out.body.resident).to.include({ colour: 'red', idType });
        expect(out.body.printedCode.colour).to.equal('red');
      });
    }
  });

  describe('for a resident who already holds a code', () => {
    it('turns the same record red, with the entry as a declaration', async () => {
      const person = applicant();
      const first = await apply(svc, person);
      expect(first.body.resident.colour).to.equal('green');
      const out = await enter(
        traveller(post.id, {
          idType: 'resident-id',
          idNumber: person.idNumber,
          name: person.name,
          phone: person.phone,
          from: 'SG',
        }),
      );
      expect(out.status).to.equal(201);
      expect(out.body.resident).to.include({
        pseudonym: first.body.resident.pseudonym,
        statusIndex: first.body.resident.statusIndex,
        colour: 'red',
      });
      // The old green code is superseded.
      const scan = await staffScan(svc, operator, {
        venueId: (await registerVenue(svc, operator, { type: 'public-service', name: '政务中心', district: '340104' }))
          .id,
        code: first.body.code.code,
      });
      expect(scan.body).to.include({ codeResult: 'REVOKED', decision: 'deny' });
    });

    it('refuses another name for the same ID with 409 and writes nothing', async () => {
      const person = applicant();
      await apply(svc, person);
      const head = headSeq(svc);
      const out = await enter(
        traveller(post.id, { idType: 'resident-id', idNumber: person.idNumber, name: '冒名', phone: person.phone }),
      );
      expect(out.status).to.equal(409);
      expect(out.body.error.code).to.equal('IDENTITY_MISMATCH');
      expect(headSeq(svc)).to.equal(head);
    });
  });

  describe('with an Idempotency-Key', () => {
    it('answers a retry with the first response and writes nothing more', async () => {
      const body = traveller(post.id);
      const first = await enter(body, officer, { 'idempotency-key': 'border-retry-0001' });
      expect(first.status).to.equal(201);
      const head = headSeq(svc);
      const again = await enter(body, officer, { 'idempotency-key': 'border-retry-0001' });
      expect(again.status).to.equal(201);
      expect(again.body).to.deep.equal(first.body);
      expect(headSeq(svc)).to.equal(head);
      const other = await enter({ ...body, temperatureC: 36.9 }, officer, { 'idempotency-key': 'border-retry-0001' });
      expect(other.status).to.equal(422);
    });
  });

  describe('who may register an entry', () => {
    it('lets a health authority register at any border post', async () => {
      expect((await enter(traveller(post.id), health)).status).to.equal(201);
    });

    const otherPostOfficer = async () => {
      const other = await registerVenue(svc, health, {
        type: 'border',
        subtype: 'provincial-checkpoint',
        name: '皖苏界检查站',
        district: '341302',
      });
      return svc.token('border', { scope: { venues: [other.id] } });
    };
    for (const [what, token, status] of [
      ['an anonymous caller', () => undefined, 401],
      ['a resident', async () => (await apply(svc, applicant())).token, 403],
      ['an operator', () => svc.token('operator'), 403],
      ['the officer of another border post', otherPostOfficer, 403],
      ['an auditor', () => svc.token('auditor'), 403],
    ] as const) {
      it(`refuses ${what} with ${status} and writes nothing`, async () => {
        const t = await token();
        const head = headSeq(svc);
        const out = await svc.call('POST', '/v1/border/entries', { token: t, json: traveller(post.id) });
        expect(out.status).to.equal(status);
        expect(headSeq(svc)).to.equal(head);
      });
    }
  });

  describe('with bad input, it answers 4xx and writes nothing', () => {
    let community: Venue;

    before(async () => {
      community = await registerVenue(svc, operator, {
        type: 'residential-community',
        name: '天鹅湖小区',
        district: '340104',
      });
    });

    const cases: Array<[string, () => Record<string, unknown>, number, string, string[], (() => string)?]> = [
      // Health may name any venue, so the venue's type is checked; a border officer's scope holds border posts only (403).
      [
        'a venue that is not a border post, from a health authority',
        () => traveller(community.id),
        400,
        'VALIDATION_FAILED',
        ['venueId'],
        () => health,
      ],
      ['an unknown venue', () => traveller('AAAAAAAAAAAAAAAA'), 404, 'NOT_FOUND', []],
      [
        'a malformed passport number',
        () => traveller(post.id, { idNumber: 'E-1' }),
        400,
        'INVALID_ID_NUMBER',
        ['idNumber'],
      ],
      [
        'a resident ID with a wrong check character',
        () =>
          traveller(post.id, {
            idType: 'resident-id',
            idNumber: withWrongCheckChar(residentIdNumber()),
            phone: '13912345678',
          }),
        400,
        'INVALID_ID_NUMBER',
        ['idNumber'],
      ],
      [
        'an unknown destination',
        () => traveller(post.id, { destination: '349999' }),
        400,
        'UNKNOWN_REGION',
        ['destination'],
      ],
      ['an unassigned country code', () => traveller(post.id, { from: 'XX' }), 400, 'VALIDATION_FAILED', ['from']],
      ['a grouping, not a country', () => traveller(post.id, { from: 'EU' }), 400, 'VALIDATION_FAILED', ['from']],
      ['the mainland itself', () => traveller(post.id, { from: 'CN' }), 400, 'VALIDATION_FAILED', ['from']],
      ['a country code in lower case', () => traveller(post.id, { from: 'gb' }), 400, 'VALIDATION_FAILED', ['from']],
      [
        'a foreign phone for a resident-ID holder',
        () => traveller(post.id, { idType: 'resident-id', idNumber: residentIdNumber() }),
        400,
        'VALIDATION_FAILED',
        ['phone'],
      ],
      [
        'a temperature that is not a body temperature',
        () => traveller(post.id, { temperatureC: 45 }),
        400,
        'VALIDATION_FAILED',
        ['temperatureC'],
      ],
      ['an unknown member', () => traveller(post.id, { district: '340104' }), 400, 'VALIDATION_FAILED', []],
      [
        'a missing member',
        () => {
          const b: Record<string, unknown> = traveller(post.id);
          delete b.from;
          return b;
        },
        400,
        'VALIDATION_FAILED',
        ['from'],
      ],
      [
        'several problems at once',
        () => traveller(post.id, { idNumber: 'E-1', destination: '349999', from: 'XX' }),
        400,
        'INVALID_ID_NUMBER',
        ['idNumber', 'destination', 'from'],
      ],
    ];

    for (const [what, body, status, code, paths, token] of cases) {
      it(`refuses ${what}: ${status} ${code}`, async () => {
        const head = headSeq(svc);
        const residents = await countResidents(svc);
        const out = await enter(body(), token?.());
        expect(out.status, JSON.stringify(out.body)).to.equal(status);
        expect(out.body.error.code).to.equal(code);
        const named = (out.body.error.fields ?? []).map((f: { path: string }) => f.path);
        expect(named).to.include.members(paths);
        expect(headSeq(svc)).to.equal(head);
        expect(await countResidents(svc)).to.equal(residents);
      });
    }
  });
});

describe('the quarantine rules after a border entry', function () {
  this.timeout(30_000);
  let svc: TestService;
  let token: string;

  before(async () => {
    svc = await startTestService();
    const post = await registerVenue(svc, await svc.token('health'), {
      type: 'border',
      subtype: 'provincial-checkpoint',
      name: '皖苏界检查站',
      district: '340104',
    });
    const officer = await svc.token('border', { scope: { venues: [post.id] } });
    const t = traveller(post.id, { from: 'KR' });
    const out = await svc.call('POST', '/v1/border/entries', { token: officer, json: t });
    expect(out.status).to.equal(201);
    token = await signInAs(svc, t);
  });
  after(async () => {
    await svc?.close();
  });

  for (const [day, colour] of [
    [13, 'red'],
    [14, 'yellow'],
    [20, 'yellow'],
    [21, 'green'],
  ] as const) {
    it(`shows ${colour} on day ${day} after arrival`, async () => {
      svc.clock.ms = START + day * DAY;
      const code = await svc.call('GET', '/v1/residents/me/code', { token });
      expect(code.status).to.equal(200);
      expect(code.body.colour).to.equal(colour);
    });
  }
});
