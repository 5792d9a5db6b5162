import { expect } from 'chai';
import {
  DESK_KINDS,
  DESK_PURPOSES,
  PURPOSES,
  type CardKind,
  type DeskKind,
  type Purpose,
} from '../../server/domain/services';
import { currentCode, newResident, registerVenue, type Resident, type Venue } from '../support/scenario';
import { startTestService, type Reply, type TestService } from '../support/service';
import { linkCard, registerDesk, sectorToken } from '../support/services17';

/** The one field each purpose returns, and nothing else. */
const FIELDS: Record<Purpose, string[]> = {
  registration: ['healthCard'],
  'insurance-payment': ['insuranceVoucher'],
  'social-security': ['socialSecurityCard'],
  identity: ['idNumber', 'idType', 'name'],
  fare: ['fareRequest', 'provider', 'token'],
};

const REFS: Record<CardKind, string> = {
  'health-card': 'HC-340104-000000017',
  'social-security-card': 'SSC-34-00000000017',
  'insurance-voucher': 'YB-340100-0000017',
  payment: 'pay_tok_0000000000017',
};

const resolveBody = (code: string, purpose: Purpose) => ({
  code,
  purpose,
  ...(purpose === 'fare' ? { amount: 200 } : {}),
});

describe('the entitlement matrix: every purpose at every kind of desk (POST /v1/services/resolve)', function () {
  this.timeout(120_000);
  let svc: TestService;
  let resident: Resident;
  const desks = {} as Record<DeskKind, { id: string; token: string }>;
  /** Every secret a look-up could hand out: the four references, the name and the ID number. */
  let secrets: string[];

  const resolve = (token: string, body: unknown): Promise<Reply> =>
    svc.call('POST', '/v1/services/resolve', { token, json: body });

  before(async () => {
    svc = await startTestService();
    resident = await newResident(svc);
    for (const [kind, ref] of Object.entries(REFS) as Array<[CardKind, string]>)
      await linkCard(svc, resident, kind, ref, kind === 'payment' ? 'mashang-pay' : undefined);
    for (const kind of DESK_KINDS) {
      const d = await registerDesk(svc, { kind });
      expect(d.desk.purposes).to.deep.equal([...DESK_PURPOSES[kind]]);
      desks[kind] = { id: d.desk.id, token: d.token };
    }
    secrets = [...Object.values(REFS), resident.body.name, resident.body.idNumber];
  });
  after(async () => svc?.close());

  for (const kind of DESK_KINDS) {
    describe(`a ${kind}`, () => {
      for (const purpose of PURPOSES) {
        const entitled = DESK_PURPOSES[kind].includes(purpose);
        it(
          entitled
            ? `resolves ${purpose} with only its own field`
            : `is refused ${purpose} with PURPOSE_NOT_ALLOWED and gets no data`,
          async () => {
            // The previous look-up spent the code on show: the resident's page gets a fresh one.
            const code = await currentCode(svc, resident);
            const head = (await svc.head()).seq;
            const r = await resolve(desks[kind].token, resolveBody(code, purpose));
            const text = JSON.stringify(r.body);
            // Exactly one look-up event, whatever the outcome.
            expect((await svc.head()).seq, 'events written').to.equal(head + 1);
            const event = (await svc.running.app.ledger.getEvent(head + 1))!;
            expect(event.type).to.equal('service.looked-up');
            expect(event.data).to.include({
              desk: desks[kind].id,
              deskKind: kind,
              purpose,
              outcome: entitled ? 'resolved' : 'PURPOSE_NOT_ALLOWED',
            });
            if (!entitled) {
              expect(r.status, text).to.equal(403);
              expect(r.body.error.code).to.equal('PURPOSE_NOT_ALLOWED');
              expect(r.body).to.not.have.property('result');
              expect(r.body.lookup).to.deep.equal({
                seq: event.seq,
                at: event.at,
                outcome: 'PURPOSE_NOT_ALLOWED',
                purpose,
              });
              for (const s of secrets) expect(text, 'no linked data in a refusal').to.not.include(s);
              return;
            }
            expect(r.status, text).to.equal(200);
            expect(r.body).to.include({
              outcome: 'resolved',
              purpose,
              decision: 'admit',
              colour: 'green',
              seq: event.seq,
            });
            expect(Object.keys(r.body.result).sort()).to.deep.equal(FIELDS[purpose]);
            const allowed: string[] = {
              registration: [REFS['health-card']],
              'insurance-payment': [REFS['insurance-voucher']],
              'social-security': [REFS['social-security-card']],
              identity: [resident.body.name, resident.body.idNumber],
              fare: [REFS.payment],
            }[purpose];
            for (const s of allowed) expect(text).to.include(s);
            for (const s of secrets.filter((x) => !allowed.includes(x)))
              expect(text, `a ${kind} never sees ${s}`).to.not.include(s);
            if (purpose === 'identity')
              expect(r.body.result).to.deep.equal({
                name: resident.body.name,
                idType: resident.body.idType,
                idNumber: resident.body.idNumber,
              });
            if (purpose === 'fare') expect(r.body.result).to.include({ provider: 'mashang-pay', token: REFS.payment });
            // The event carries no personal data and no reference.
            for (const s of secrets)
              expect(JSON.stringify(event), 'the event holds no personal data').to.not.include(s);
          },
        );
      }
    });
  }

  describe('anyone but a desk token', () => {
    let venue: Venue;
    let desk: { id: string; token: string };
    const others: Array<[string, () => Promise<string>]> = [];

    before(async () => {
      const operator = await svc.token('operator');
      const health = await svc.token('health');
      // The operator runs the venue the desk stands in, and still gets nothing there.
      venue = await registerVenue(svc, operator, {
        type: 'public-service',
        subtype: 'hospital',
        name: '省立医院',
        district: '340104',
      });
      const d = await registerDesk(svc, { kind: 'hospital-desk', venueId: venue.id, by: health });
      desk = { id: d.desk.id, token: d.token };
      const community = await registerVenue(svc, svc.adminToken, {
        type: 'residential-community',
        name: '翡翠湖小区',
        district: '340104',
      });
      const post = await registerVenue(svc, health, {
        type: 'border',
        subtype: 'port-of-entry',
        name: '新桥机场口岸',
        district: '340123',
      });
      others.push(
        ['the operator of the venue', async () => operator],
        ['health (which registered the desk)', async () => health],
        ['admin', async () => svc.adminToken],
        ['a grid worker', () => svc.token('grid', { scope: { districts: ['340104'], venues: [community.id] } })],
        ['a border officer', () => svc.token('border', { scope: { venues: [post.id] } })],
        ['an auditor', () => svc.token('auditor')],
        ['a resident session', async () => resident.token],
        ['the health feed', () => sectorToken(svc, 'health')],
        ['the payment provider feed', () => sectorToken(svc, 'payment')],
      );
    });

    it('is refused with 403 FORBIDDEN, writes nothing and leaves the code unused', async () => {
      // Tokens first: issuing one writes an event.
      const tokens = await Promise.all(others.map(async ([who, token]) => [who, await token()] as const));
      const code = await currentCode(svc, resident);
      const head = await svc.head();
      for (const [who, token] of tokens) {
        const r = await resolve(token, resolveBody(code, 'registration'));
        expect(r.status, `${who}: ${JSON.stringify(r.body)}`).to.equal(403);
        expect(r.body.error.code, who).to.equal('FORBIDDEN');
        expect(r.body, who).to.not.have.property('result');
        expect(JSON.stringify(r.body), who).to.not.include(REFS['health-card']);
      }
      expect(await svc.head(), 'the ledger head').to.deep.equal(head);
      // Nothing consumed the code: the desk's own look-up with it still resolves.
      const ok = await resolve(desk.token, resolveBody(code, 'registration'));
      expect(ok.status, JSON.stringify(ok.body)).to.equal(200);
      expect(ok.body.result).to.deep.equal({ healthCard: REFS['health-card'] });
    });

    it('refuses a request without a token with 401, writing nothing', async () => {
      const code = await currentCode(svc, resident);
      const head = await svc.head();
      const r = await svc.call('POST', '/v1/services/resolve', { json: resolveBody(code, 'registration') });
      expect(r.status).to.equal(401);
      expect(await svc.head()).to.deep.equal(head);
    });
  });
});
