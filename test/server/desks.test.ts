import { expect } from 'chai';
import type { LedgerEvent } from '../../verifier/src/event';
import { startTestService, type Reply, type TestService } from '../support/service';
import { newResident, registerVenue, type Resident, type Venue } from '../support/scenario';
import { registerDesk, sectorToken } from '../support/services17';

/**
 * The desk registry (issue 17, point 2) through the HTTP API: who registers which desk, where
 * it may stand and what it may ask for, and what the desk's own token opens (its desk, and
 * nothing else).
 */

describe('service desks (POST /v1/desks, GET /v1/desks/me, /v1/desks/:id, POST /v1/desks/:id/tokens)', function () {
  this.timeout(60_000);
  let svc: TestService;
  let health: string;
  let insurance: string;
  let transport: string;
  let auditor: string;
  let hospital: Venue;
  let station: Venue;
  let mall: Venue;
  let resident: Resident;

  const post = (token: string | undefined, json: Record<string, unknown>) =>
    svc.call('POST', '/v1/desks', { token, json });
  const refused = async (send: () => Promise<Reply>, status: number, code: string): Promise<Reply> => {
    const head = await svc.head();
    const r = await send();
    expect(r.status, JSON.stringify(r.body)).to.equal(status);
    expect(r.body.error.code, JSON.stringify(r.body)).to.equal(code);
    expect(await svc.head(), 'the ledger moved').to.deep.equal(head);
    return r;
  };

  before(async () => {
    svc = await startTestService();
    health = await sectorToken(svc, 'health');
    insurance = await sectorToken(svc, 'medical-insurance');
    transport = await sectorToken(svc, 'transport');
    auditor = await svc.token('auditor');
    hospital = await registerVenue(svc, svc.adminToken, {
      type: 'public-service',
      subtype: 'hospital',
      name: '省立医院',
      district: '340104',
    });
    station = await registerVenue(svc, svc.adminToken, {
      type: 'transport',
      subtype: 'metro',
      name: '大东门站',
      district: '340102',
    });
    mall = await registerVenue(svc, svc.adminToken, {
      type: 'crowded-place',
      subtype: 'mall',
      name: '万象城',
      district: '340104',
    });
    resident = await newResident(svc);
  });
  after(async () => {
    await svc?.close();
  });

  it('registers a desk with its first token in one transaction: desk.registered on d:<id> and token.issued, no personal data', async () => {
    const start = (await svc.head()).seq;
    const r = await post(health, { kind: 'hospital-desk', name: '门诊挂号 1', venueId: hospital.id });
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    const { desk, token, tokenId, expiresAt } = r.body;
    expect(desk).to.deep.include({ kind: 'hospital-desk', name: '门诊挂号 1', purposes: ['registration'] });
    expect(desk.venue).to.deep.equal({
      id: hospital.id,
      name: '省立医院',
      type: 'public-service',
      subtype: 'hospital',
      district: '340104',
    });
    expect(desk.id).to.match(/^[A-Za-z0-9_-]{16}$/);
    expect(token).to.match(/^ak_desk_/);
    expect(Date.parse(expiresAt)).to.be.greaterThan(svc.clock.ms);

    const events: LedgerEvent[] = (await svc.call('GET', `/v1/log/events?from=${start + 1}`, { token: auditor })).body
      .events;
    expect(events.map((e) => e.type)).to.deep.equal(['desk.registered', 'token.issued']);
    expect(events[0].subjects).to.deep.equal([`d:${desk.id}`]);
    expect(events[0].data).to.deep.include({
      kind: 'hospital-desk',
      purposes: ['registration'],
      venue: hospital.id,
      registeredBy: desk.registeredBy,
    });
    expect(events[1].data).to.deep.include({
      id: tokenId,
      role: 'desk',
      scope: { desk: desk.id },
      by: desk.registeredBy,
    });
    expect(JSON.stringify(events)).to.not.include(token);

    const read = await svc.call('GET', `/v1/desks/${desk.id}`, { token: health });
    expect(read.status).to.equal(200);
    expect(read.body.desk).to.deep.equal(desk);
  });

  it('refuses the wrong sector (403), an operator (403), a resident (403), no token (401); nothing written', async () => {
    const operator = await svc.token('operator');
    const tries: Array<[string, string, Venue]> = [
      [insurance, 'hospital-desk', hospital],
      [health, 'pharmacy', hospital],
      [health, 'transit-reader', station],
      [transport, 'service-hall', hospital],
      [await sectorToken(svc, 'payment'), 'transit-reader', station],
      [operator, 'hospital-desk', hospital],
      [auditor, 'hospital-desk', hospital],
      [resident.token, 'hospital-desk', hospital],
      [await svc.token('grid', { scope: { districts: ['340104'] } }), 'hospital-desk', hospital],
    ];
    for (const [token, kind, venue] of tries) {
      const r = await refused(() => post(token, { kind, name: 'x', venueId: venue.id }), 403, 'FORBIDDEN');
      expect(r.body.error.message).to.include('desk.register');
    }
    await refused(
      () => post(undefined, { kind: 'hospital-desk', name: 'x', venueId: hospital.id }),
      401,
      'UNAUTHENTICATED',
    );
  });

  it('refuses a venue of the wrong type and purposes outside the kind (400 naming the field), an unknown venue (404), a bad body (400); nothing written', async () => {
    const fieldOf = (r: Reply) => r.body.error.fields.map((f: { path: string }) => f.path);
    expect(
      fieldOf(
        await refused(
          () => post(transport, { kind: 'transit-reader', name: '1路', venueId: mall.id }),
          400,
          'VALIDATION_FAILED',
        ),
      ),
    ).to.include('venueId');
    expect(
      fieldOf(
        await refused(
          () => post(health, { kind: 'hospital-desk', name: '挂号', venueId: station.id }),
          400,
          'VALIDATION_FAILED',
        ),
      ),
    ).to.include('venueId');
    expect(
      fieldOf(
        await refused(
          () =>
            post(insurance, {
              kind: 'pharmacy',
              name: '药房',
              venueId: hospital.id,
              purposes: ['insurance-payment', 'identity'],
            }),
          400,
          'VALIDATION_FAILED',
        ),
      ),
    ).to.include('purposes.1');
    expect(
      fieldOf(
        await refused(
          () => post(health, { kind: 'hospital-desk', name: '挂号', venueId: hospital.id, purposes: ['fare'] }),
          400,
          'VALIDATION_FAILED',
        ),
      ),
    ).to.include('purposes.0');
    await refused(
      () => post(health, { kind: 'hospital-desk', name: '挂号', venueId: 'AAAAAAAAAAAAAAAA' }),
      404,
      'NOT_FOUND',
    );
    for (const json of [
      { kind: 'hospital-desk', name: '', venueId: hospital.id },
      { kind: 'hospital-desk', name: 'x'.repeat(33), venueId: hospital.id },
      { kind: 'hospital-desk', name: 'a\u202Eb', venueId: hospital.id },
      { kind: 'hospital-desk', name: '挂号', venueId: hospital.id, purposes: [] },
      { kind: 'hospital-desk', name: '挂号', venueId: hospital.id, extra: true },
      { kind: 'bank-teller', name: '挂号', venueId: hospital.id },
      { kind: 'hospital-desk', name: '挂号' },
    ]) {
      await refused(() => post(health, json), 400, 'VALIDATION_FAILED');
    }
  });

  it('gives a desk token its own desk and nothing else: GET /v1/desks/me and /:id; another desk, its tokens, scans, venues, links and admin 403', async () => {
    const a = await registerDesk(svc, { kind: 'transit-reader', venueId: station.id, name: '1号线闸机' });
    const b = await registerDesk(svc, { kind: 'pharmacy', venueId: mall.id, name: '药房收银' });
    const me = await svc.call('GET', '/v1/desks/me', { token: a.token });
    expect(me.status).to.equal(200);
    expect(me.body.desk).to.deep.equal(a.desk);
    expect((await svc.call('GET', `/v1/desks/${a.desk.id}`, { token: a.token })).body.desk).to.deep.equal(a.desk);
    expect((await svc.call('GET', '/v1/desks/me', { token: b.token })).body.desk.id).to.equal(b.desk.id);

    const forbidden: Array<[string, string, unknown?]> = [
      ['GET', `/v1/desks/${b.desk.id}`],
      ['POST', `/v1/desks/${a.desk.id}/tokens`],
      ['POST', '/v1/desks', { kind: 'transit-reader', name: '2号线', venueId: station.id }],
      ['POST', '/v1/scans', { venueId: station.id, code: resident.code }],
      ['GET', `/v1/venues/${station.id}`],
      ['GET', '/v1/venues'],
      [
        'POST',
        '/v1/links',
        {
          kind: 'payment',
          idType: resident.body.idType,
          idNumber: resident.body.idNumber,
          ref: 'PAY-0001',
          provider: 'stand-in-pay',
        },
      ],
      ['GET', '/v1/residents/me/links'],
      ['GET', '/v1/admin/tokens'],
      ['GET', '/v1/log/events?from=1&to=2'],
    ];
    for (const [method, path, json] of forbidden) {
      const r = await refused(
        () => svc.call(method, path, { token: a.token, ...(json ? { json } : {}) }),
        403,
        'FORBIDDEN',
      );
      expect(r.status, `${method} ${path}`).to.equal(403);
    }
    // Admin and the registering authority see a desk, but /me is a desk token's alone.
    await refused(() => svc.call('GET', '/v1/desks/me', { token: svc.adminToken }), 403, 'FORBIDDEN');
    await refused(() => svc.call('GET', '/v1/desks/me', { token: transport }), 403, 'FORBIDDEN');
    expect((await svc.call('GET', `/v1/desks/${a.desk.id}`, { token: transport })).status).to.equal(200);
    await refused(() => svc.call('GET', `/v1/desks/${a.desk.id}`, { token: health }), 403, 'FORBIDDEN');
    await refused(() => svc.call('GET', `/v1/desks/${b.desk.id}`, { token: transport }), 403, 'FORBIDDEN');
    expect((await svc.call('GET', '/v1/desks/AAAAAAAAAAAAAAAA', { token: svc.adminToken })).status).to.equal(404);
  });

  it('issues more tokens for a desk to its registering authority (token.issued), each working at that desk only; revoked ones stop', async () => {
    const a = await registerDesk(svc, { kind: 'hospital-cashier', venueId: hospital.id, name: '收费窗口 3' });
    await refused(() => svc.call('POST', `/v1/desks/${a.desk.id}/tokens`, { token: health }), 403, 'FORBIDDEN');
    const otherInsurance = await svc.token('feed', {
      source: 'medical-insurance',
      name: 'another insurance authority',
    });
    await refused(() => svc.call('POST', `/v1/desks/${a.desk.id}/tokens`, { token: otherInsurance }), 403, 'FORBIDDEN');
    const more = await svc.call('POST', `/v1/desks/${a.desk.id}/tokens`, { token: insurance });
    expect(more.status, JSON.stringify(more.body)).to.equal(201);
    expect(more.body.desk).to.equal(a.desk.id);
    expect(more.body.token).to.not.equal(a.token);
    const event = (await svc.call('GET', `/v1/log/events?from=${(await svc.head()).seq}`, { token: auditor })).body
      .events[0] as LedgerEvent;
    expect(event.type).to.equal('token.issued');
    expect(event.data).to.deep.include({ id: more.body.tokenId, role: 'desk', scope: { desk: a.desk.id } });
    expect((await svc.call('GET', '/v1/desks/me', { token: more.body.token })).body.desk.id).to.equal(a.desk.id);

    expect(
      (await svc.call('DELETE', `/v1/admin/tokens/${more.body.tokenId}`, { token: svc.adminToken })).status,
    ).to.equal(204);
    expect((await svc.call('GET', '/v1/desks/me', { token: more.body.token })).status).to.equal(401);
    expect((await svc.call('GET', '/v1/desks/me', { token: a.token })).status).to.equal(200);
  });

  it('cannot be had through POST /v1/admin/tokens: a desk token comes only from registering its desk', async () => {
    const r = await refused(
      () =>
        svc.call('POST', '/v1/admin/tokens', {
          token: svc.adminToken,
          json: { role: 'desk', name: 'forged desk', scope: { desk: 'AAAAAAAAAAAAAAAA' } },
        }),
      400,
      'VALIDATION_FAILED',
    );
    expect(r.body.error.fields.map((f: { path: string }) => f.path)).to.include('role');
  });
});
