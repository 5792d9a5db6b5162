import { expect } from 'chai';
import { compactVerify, decodeProtectedHeader, importJWK } from 'jose';
import { startDevNode, type DevNode } from '../../anchor/dev-node';
import { until } from '../../scripts/lib/wait';
import { decodeCode, type ResidentClaims } from '../../verifier/src';
import type { ErasedEvent, LedgerEvent } from '../../verifier/src/event';
import { RetentionService } from '../../server/services/retention';
import { FARE_REQUEST_TTL_SECONDS, FARE_REQUEST_TYPE, type FareClaims } from '../../server/services/fare';
import { currentCode, newResident, staffScan, registerVenue, tamper, type Resident } from '../support/scenario';
import { DAY, MINUTE, startTestService, TestClock, type Reply, type TestService } from '../support/service';
import { linkCard, registerDesk } from '../support/services17';

const claimsOf = (code: string) => decodeCode(code).claims as ResidentClaims;
const HEALTH_CARD = 'HC-340104-000000042';
const PAY_TOKEN = 'pay_tok_alice_0000042';

interface Desk {
  id: string;
  token: string;
  name: string;
  venueName: string;
}

describe('service look-ups (POST /v1/services/resolve): refusals, the look-up lists, the limit and fares', function () {
  this.timeout(120_000);
  const clock = new TestClock();
  let svc: TestService;
  let alice: Resident;
  let bob: Resident;
  let hospital: Desk;
  let otherHospital: Desk;
  let hall: Desk;
  let reader: Desk;

  const resolve = (desk: Desk, body: unknown): Promise<Reply> =>
    svc.call('POST', '/v1/services/resolve', { token: desk.token, json: body });
  const desk = async (kind: 'hospital-desk' | 'service-hall' | 'transit-reader', name: string): Promise<Desk> => {
    const d = await registerDesk(svc, { kind, name });
    return { id: d.desk.id, token: d.token, name, venueName: d.desk.venue.name };
  };

  /**
   * A look-up that the service refuses with `code`: one event (head + 1) of type
   * service.looked-up with `subjects` and the refusal as its outcome, no result, no personal
   * data in the answer or the event.
   */
  async function expectRefusal(
    d: Desk,
    body: Record<string, unknown>,
    code: string,
    status: number,
    subjects: string[],
    who?: Resident,
  ): Promise<LedgerEvent> {
    const head = (await svc.head()).seq;
    const r = await resolve(d, body);
    expect(r.status, JSON.stringify(r.body)).to.equal(status);
    expect(r.body.error.code).to.equal(code);
    expect(r.body).to.not.have.property('result');
    expect((await svc.head()).seq, 'exactly one event').to.equal(head + 1);
    const e = (await svc.running.app.ledger.getEvent(head + 1))!;
    expect(e.type).to.equal('service.looked-up');
    expect(e.subjects).to.have.members(subjects);
    expect(e.subjects).to.have.length(subjects.length);
    expect(e.data).to.include({ desk: d.id, purpose: body.purpose, outcome: code });
    expect(r.body.lookup).to.deep.equal({ seq: e.seq, at: e.at, outcome: code, purpose: body.purpose });
    for (const secret of [HEALTH_CARD, PAY_TOKEN, ...(who ? [who.body.name, who.body.idNumber, who.body.phone] : [])]) {
      expect(JSON.stringify(r.body), 'the answer').to.not.include(secret);
      expect(JSON.stringify(e), 'the event').to.not.include(secret);
    }
    return e;
  }

  before(async () => {
    svc = await startTestService({ clock });
    alice = await newResident(svc);
    bob = await newResident(svc);
    await linkCard(svc, alice, 'health-card', HEALTH_CARD);
    await linkCard(svc, alice, 'payment', PAY_TOKEN, 'mashang-pay');
    hospital = await desk('hospital-desk', '门诊挂号 1');
    otherHospital = await desk('hospital-desk', '门诊挂号 2');
    hall = await desk('service-hall', '政务大厅 3 号窗');
    reader = await desk('transit-reader', '1 路公交 读卡器');
  });
  after(async () => svc?.close());

  describe('refusals: each answers its code, writes one event and returns no linked data', () => {
    it('a printed code: CODE_PRINTED (the person must show a live one)', async () => {
      const printed = await currentCode(svc, alice, 'printed');
      expect(claimsOf(printed).health.mode).to.equal('printed');
      await expectRefusal(
        hospital,
        { code: printed, purpose: 'registration' },
        'CODE_PRINTED',
        422,
        [`r:${alice.pseudonym}`, `d:${hospital.id}`],
        alice,
      );
    });

    it('an expired code: CODE_EXPIRED', async () => {
      const code = await currentCode(svc, alice);
      clock.advance((claimsOf(code).exp - clock.seconds) * 1000 + 2 * MINUTE);
      await expectRefusal(
        hospital,
        { code, purpose: 'registration' },
        'CODE_EXPIRED',
        422,
        [`r:${alice.pseudonym}`, `d:${hospital.id}`],
        alice,
      );
    });

    it("another province's code that no trust list vouches for: CODE_FOREIGN, recorded under the desk only", async () => {
      const foreign = tamper(await currentCode(svc, alice), (c) => ({ ...c, iss: '320000' }));
      await expectRefusal(
        hospital,
        { code: foreign, purpose: 'registration' },
        'CODE_FOREIGN',
        422,
        [`d:${hospital.id}`],
        alice,
      );
    });

    it('a code that is not one (or is forged): CODE_NOT_VALID, recorded under the desk only', async () => {
      await expectRefusal(hospital, { code: 'AK1:NOT-A-CODE', purpose: 'registration' }, 'CODE_NOT_VALID', 422, [
        `d:${hospital.id}`,
      ]);
      const forged = tamper(await currentCode(svc, alice), (c) => ({
        ...c,
        health: { ...c.health, colour: 'green', maskedName: '*某' },
      }));
      await expectRefusal(
        hospital,
        { code: forged, purpose: 'registration' },
        'CODE_NOT_VALID',
        422,
        [`d:${hospital.id}`],
        alice,
      );
    });

    it('a replayed code: the first look-up resolves, the second is CODE_REPLAYED, even at another desk', async () => {
      const code = await currentCode(svc, alice);
      const first = await resolve(hospital, { code, purpose: 'registration' });
      expect(first.status, JSON.stringify(first.body)).to.equal(200);
      expect(first.body.result).to.deep.equal({ healthCard: HEALTH_CARD });
      await expectRefusal(
        hospital,
        { code, purpose: 'registration' },
        'CODE_REPLAYED',
        409,
        [`r:${alice.pseudonym}`, `d:${hospital.id}`],
        alice,
      );
      await expectRefusal(
        otherHospital,
        { code, purpose: 'registration' },
        'CODE_REPLAYED',
        409,
        [`r:${alice.pseudonym}`, `d:${otherHospital.id}`],
        alice,
      );
    });

    it('a code spent on a refused purpose is spent too: PURPOSE_NOT_ALLOWED, then CODE_REPLAYED', async () => {
      const code = await currentCode(svc, alice);
      await expectRefusal(
        hospital,
        { code, purpose: 'identity' },
        'PURPOSE_NOT_ALLOWED',
        403,
        [`r:${alice.pseudonym}`, `d:${hospital.id}`],
        alice,
      );
      await expectRefusal(
        hospital,
        { code, purpose: 'registration' },
        'CODE_REPLAYED',
        409,
        [`r:${alice.pseudonym}`, `d:${hospital.id}`],
        alice,
      );
    });

    it('a paused consent: CONSENT_PAUSED until the resident allows the purpose again', async () => {
      const pause = (paused: boolean) =>
        svc.call('PUT', '/v1/residents/me/consents/registration', { token: alice.token, json: { paused } });
      expect((await pause(true)).status).to.equal(200);
      await expectRefusal(
        hospital,
        { code: await currentCode(svc, alice), purpose: 'registration' },
        'CONSENT_PAUSED',
        403,
        [`r:${alice.pseudonym}`, `d:${hospital.id}`],
        alice,
      );
      expect((await pause(false)).status).to.equal(200);
      const r = await resolve(hospital, { code: await currentCode(svc, alice), purpose: 'registration' });
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
    });

    it('a missing card: CARD_NOT_LINKED', async () => {
      await expectRefusal(
        hospital,
        { code: await currentCode(svc, bob), purpose: 'registration' },
        'CARD_NOT_LINKED',
        404,
        [`r:${bob.pseudonym}`, `d:${hospital.id}`],
        bob,
      );
    });

    it('a red code at a venue whose policy denies red: ADMISSION_DENIED, with the decision in the event', async () => {
      const red = await newResident(svc, {
        declaration: { temperatureC: 36.5, symptoms: [], visited: [], contactWithCase: true },
      });
      expect(red.colour).to.equal('red');
      await linkCard(svc, red, 'health-card', 'HC-RED-0000001');
      const e = await expectRefusal(
        hospital,
        { code: red.code, purpose: 'registration' },
        'ADMISSION_DENIED',
        403,
        [`r:${red.pseudonym}`, `d:${hospital.id}`],
        red,
      );
      expect(e.data.decision).to.equal('deny');
      expect(JSON.stringify(e)).to.not.include('HC-RED-0000001');
    });

    it('a yellow code is resolved with the policy\'s "refer", for the desk to check by hand', async () => {
      const yellow = await newResident(svc, {
        declaration: { temperatureC: 38.2, symptoms: [], visited: [], contactWithCase: false },
      });
      expect(yellow.colour).to.equal('yellow');
      const r = await resolve(hall, { code: yellow.code, purpose: 'identity' });
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      expect(r.body).to.include({ outcome: 'resolved', decision: 'refer', colour: 'yellow' });
      expect(r.body.result).to.deep.equal({
        name: yellow.body.name,
        idType: yellow.body.idType,
        idNumber: yellow.body.idNumber,
      });
    });
  });

  describe('a code used for a look-up', () => {
    it("is not shown again: the resident's next code is a fresh one (a staff scan does not spend it)", async () => {
      const operator = await svc.token('operator');
      const gate = await registerVenue(svc, operator, {
        type: 'crowded-place',
        subtype: 'mall',
        name: '银泰中心',
        district: '340104',
      });
      const code = await currentCode(svc, alice);
      expect((await staffScan(svc, operator, { venueId: gate.id, code })).status).to.equal(201);
      expect(await currentCode(svc, alice), 'after a staff scan').to.equal(code);
      expect((await resolve(hospital, { code, purpose: 'registration' })).status).to.equal(200);
      const next = await currentCode(svc, alice);
      expect(next).to.not.equal(code);
      expect(claimsOf(next).cti).to.not.equal(claimsOf(code).cti);
      expect((await resolve(hospital, { code: next, purpose: 'registration' })).status).to.equal(200);
    });
  });

  describe('bodies', () => {
    it('refuses a fare without an amount, an amount for another purpose and an unknown purpose with 400, writing nothing', async () => {
      const code = await currentCode(svc, alice);
      const head = await svc.head();
      for (const [d, body] of [
        [reader, { code, purpose: 'fare' }],
        [hospital, { code, purpose: 'registration', amount: 200 }],
        [reader, { code, purpose: 'fare', amount: 0 }],
        [reader, { code, purpose: 'fare', amount: 100_001 }],
        [hospital, { code, purpose: 'everything' }],
        [hospital, { code, purpose: 'registration', desk: otherHospital.id }],
      ] as Array<[Desk, unknown]>) {
        const r = await resolve(d, body);
        expect(r.status, JSON.stringify(body)).to.equal(400);
        expect(r.body.error.code).to.equal('VALIDATION_FAILED');
      }
      expect(await svc.head()).to.deep.equal(head);
      // The code was not spent by any of them.
      expect((await resolve(hospital, { code, purpose: 'registration' })).status).to.equal(200);
    });
  });

  describe('a fare (码上支付)', () => {
    it("returns the payment token and a fare request the issuer signed, which verifies against the trust list's key", async () => {
      const r = await resolve(reader, { code: await currentCode(svc, alice), purpose: 'fare', amount: 200 });
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      expect(Object.keys(r.body.result).sort()).to.deep.equal(['fareRequest', 'provider', 'token']);
      expect(r.body.result).to.include({ provider: 'mashang-pay', token: PAY_TOKEN });
      const jws = r.body.result.fareRequest as string;
      const header = decodeProtectedHeader(jws);
      expect(header).to.include({ alg: 'EdDSA', typ: FARE_REQUEST_TYPE });
      const trust = (await svc.call('GET', '/v1/trust-list')).body;
      const key = trust.issuers
        .find((i: { id: string }) => i.id === '340000')
        .keys.find((k: { kid: string }) => k.kid === header.kid);
      expect(key, 'the fare request names a key of the trust list').to.not.equal(undefined);
      const { payload } = await compactVerify(jws, await importJWK({ kty: key.kty, crv: key.crv, x: key.x }, 'EdDSA'));
      const claims = JSON.parse(new TextDecoder().decode(payload)) as FareClaims;
      expect(claims).to.include({
        iss: '340000',
        amount: 200,
        currency: 'CNY',
        desk: reader.id,
        provider: 'mashang-pay',
        token: PAY_TOKEN,
        lookup: r.body.seq,
      });
      expect(claims.exp - claims.iat).to.equal(FARE_REQUEST_TTL_SECONDS);
      expect(claims.jti).to.match(/^[A-Za-z0-9_-]{22}$/);
      // A changed amount breaks the signature.
      const [h, , s] = jws.split('.');
      const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, amount: 1 })).toString('base64url')}.${s}`;
      let refused = false;
      await compactVerify(forged, await importJWK({ kty: key.kty, crv: key.crv, x: key.x }, 'EdDSA')).catch(
        () => (refused = true),
      );
      expect(refused, 'a forged amount does not verify').to.equal(true);
      // The event names neither the amount nor the token.
      const e = (await svc.running.app.ledger.getEvent(r.body.seq))!;
      expect(e.data).to.include({ purpose: 'fare', outcome: 'resolved' });
      expect(JSON.stringify(e)).to.not.include(PAY_TOKEN);
      expect(e.data).to.not.have.property('amount');
    });
  });

  describe('the look-up lists', () => {
    it("GET /v1/residents/me/lookups lists the session's own look-ups, newest first, and nobody else's", async () => {
      const mine = await svc.call('GET', '/v1/residents/me/lookups', { token: alice.token });
      expect(mine.status).to.equal(200);
      const lookups = mine.body.lookups as Array<{
        seq: number;
        at: string;
        desk: { id: string; name: string; kind: string };
        venue: { name: string };
        purpose: string;
        outcome: string;
      }>;
      expect(lookups.length).to.be.at.least(10);
      const seqs = lookups.map((l) => l.seq);
      expect(seqs).to.deep.equal([...seqs].sort((a, b) => b - a));
      for (const l of lookups) {
        const e = (await svc.running.app.ledger.getEvent(l.seq))!;
        expect(e.subjects, "each is one of Alice's events").to.include(`r:${alice.pseudonym}`);
        expect(l).to.deep.include({ at: e.at, purpose: e.data.purpose, outcome: e.data.outcome });
      }
      expect(lookups.find((l) => l.outcome === 'CODE_PRINTED')).to.deep.include({
        desk: { id: hospital.id, name: hospital.name, kind: 'hospital-desk' },
        venue: { name: hospital.venueName },
      });
      expect(lookups.some((l) => l.desk.id === reader.id && l.purpose === 'fare')).to.equal(true);
      const bobs = await svc.call('GET', '/v1/residents/me/lookups', { token: bob.token });
      expect(bobs.body.lookups.map((l: { outcome: string }) => l.outcome)).to.deep.equal(['CARD_NOT_LINKED']);
      const two = await svc.call('GET', '/v1/residents/me/lookups?limit=2', { token: alice.token });
      expect(two.body.lookups.map((l: { seq: number }) => l.seq)).to.deep.equal(seqs.slice(0, 2));
      expect((await svc.call('GET', '/v1/residents/me/lookups')).status).to.equal(401);
      // A desk that looked her code up, or an authority, cannot read her list.
      for (const token of [hospital.token, await svc.token('health')]) {
        const r = await svc.call('GET', '/v1/residents/me/lookups', { token });
        expect(r.status, JSON.stringify(r.body)).to.equal(403);
        expect(r.body).to.not.have.property('lookups');
      }
    });

    it("GET /v1/desks/:id/lookups lists only that desk's look-ups, with no personal data; another desk's token gets 403", async () => {
      const r = await svc.call('GET', `/v1/desks/${hospital.id}/lookups`, { token: hospital.token });
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      expect(r.body.desk.id).to.equal(hospital.id);
      const lookups = r.body.lookups as Array<{
        seq: number;
        at: string;
        purpose: string;
        outcome: string;
        decision: string | null;
      }>;
      expect(lookups.length).to.be.at.least(10);
      for (const l of lookups) {
        expect(Object.keys(l).sort()).to.deep.equal(['at', 'decision', 'outcome', 'purpose', 'seq']);
        const e = (await svc.running.app.ledger.getEvent(l.seq))!;
        expect(e.data.desk).to.equal(hospital.id);
      }
      for (const secret of [alice.pseudonym, alice.body.name, HEALTH_CARD])
        expect(JSON.stringify(r.body)).to.not.include(secret);
      const seqs = lookups.map((l) => l.seq);
      expect(seqs).to.deep.equal([...seqs].sort((a, b) => b - a));

      const other = await svc.call('GET', `/v1/desks/${hospital.id}/lookups`, { token: otherHospital.token });
      expect(other.status).to.equal(403);
      expect(other.body.error.code).to.equal('FORBIDDEN');
      const own = await svc.call('GET', `/v1/desks/${otherHospital.id}/lookups`, { token: otherHospital.token });
      expect(own.body.lookups.every((l: { seq: number }) => !seqs.includes(l.seq))).to.equal(true);
      // The authority that registered the desk reads it; a resident does not.
      expect((await svc.call('GET', `/v1/desks/${hospital.id}/lookups`, { token: svc.adminToken })).status).to.equal(
        200,
      );
      expect((await svc.call('GET', `/v1/desks/${hospital.id}/lookups`, { token: alice.token })).status).to.equal(403);
    });
  });
});

describe('the look-up limit per desk token (RATE_RESOLVE_PER_TOKEN)', function () {
  this.timeout(60_000);
  let svc: TestService;
  after(async () => svc?.close());

  it('answers 429 once a desk token has made its look-ups for the window, and writes nothing for those', async () => {
    svc = await startTestService({ config: { RATE_RESOLVE_PER_TOKEN: 3, RATE_RESOLVE_PER_TOKEN_SECONDS: 3600 } });
    const resident = await newResident(svc);
    const d = await registerDesk(svc, { kind: 'service-hall' });
    const second = await registerDesk(svc, { kind: 'service-hall' });
    const head = (await svc.head()).seq;
    const flood = await Promise.all(
      Array.from({ length: 12 }, () =>
        svc.call('POST', '/v1/services/resolve', {
          token: d.token,
          json: { code: resident.code, purpose: 'identity' },
        }),
      ),
    );
    const statuses = flood.map((r) => r.status);
    expect(statuses.filter((s) => s === 429)).to.have.length(9);
    // The first admitted look-up resolves; the other two find the code spent.
    expect(statuses.filter((s) => s !== 429).sort()).to.deep.equal([200, 409, 409]);
    for (const r of flood.filter((x) => x.status === 429)) {
      expect(r.body.error.code).to.equal('TOO_MANY_REQUESTS');
      expect(r.body).to.not.have.property('lookup');
    }
    expect((await svc.head()).seq, 'one event for each admitted look-up only').to.equal(head + 3);
    // The limit is per token: another desk's token is not held back.
    const other = await svc.call('POST', '/v1/services/resolve', {
      token: second.token,
      json: { code: 'AK1:X', purpose: 'identity' },
    });
    expect(other.status).to.equal(422);
  });
});

describe('a foreign code that this province trusts (two issuers on a real Hardhat node)', function () {
  this.timeout(180_000);
  let node: DevNode;
  let anhui: TestService;
  let jiangsu: TestService;

  before(async () => {
    node = await startDevNode();
    anhui = await startTestService({
      config: {
        ISSUER_ID: '340000',
        CHAIN_RPC_URL: node.url,
        CHAIN_DEV: 'true',
        CHECKPOINT_INTERVAL_SECONDS: 3600,
        FEDERATION_REFRESH_SECONDS: 3600,
      },
    });
    await newResident(anhui);
    const contract = await until(
      'Anhui to be on chain',
      async () => (await anhui.call('GET', '/v1/anchor/status')).body.checkpoint?.contract as string | undefined,
    );
    jiangsu = await startTestService({
      config: {
        ISSUER_ID: '320000',
        CHAIN_RPC_URL: node.url,
        CHAIN_DEV: 'true',
        ANCHOR_CONTRACT: contract,
        CHAIN_DEV_ANCHORER_ACCOUNT: 2,
        CHECKPOINT_INTERVAL_SECONDS: 3600,
      },
    });
    await newResident(jiangsu, { district: '320102' });
    const federation = anhui.running.app.federation!;
    await until("Anhui to trust Jiangsu's codes", async () => {
      await federation.refresh();
      return federation.lastRefresh?.statusLists.includes('320000');
    });
  });
  after(async () => {
    await jiangsu?.close();
    await anhui?.close();
    await node?.stop();
  });

  it('is refused with CODE_FOREIGN, recorded under the code (f:<iss>:<cti>) and the desk, with no data', async () => {
    const traveller = await newResident(jiangsu, { district: '320102' });
    const d = await registerDesk(anhui, { kind: 'service-hall' });
    expect(
      ((await anhui.running.app.trust.current()) as { issuers: Array<{ id: string }> }).issuers.map((i) => i.id),
    ).to.include('320000');
    const head = (await anhui.head()).seq;
    const r = await anhui.call('POST', '/v1/services/resolve', {
      token: d.token,
      json: { code: traveller.code, purpose: 'identity' },
    });
    expect(r.status, JSON.stringify(r.body)).to.equal(422);
    expect(r.body.error.code).to.equal('CODE_FOREIGN');
    expect(r.body).to.not.have.property('result');
    expect(JSON.stringify(r.body)).to.not.include(traveller.body.name);
    expect((await anhui.head()).seq).to.equal(head + 1);
    const e = (await anhui.running.app.ledger.getEvent(head + 1))!;
    expect(e.type).to.equal('service.looked-up');
    expect(e.subjects).to.have.members([`f:320000:${claimsOf(traveller.code).cti}`, `d:${d.desk.id}`]);
    // The signature verified (the subject names the cti). codeResult is VALID, or REVOKED when Jiangsu's status list was signed in the second the code was issued, before it.
    expect(e.data).to.include({ outcome: 'CODE_FOREIGN', cti: claimsOf(traveller.code).cti });
  });
});

describe('retention of look-ups (RETENTION_DAYS)', function () {
  this.timeout(60_000);
  let svc: TestService;
  after(async () => svc?.close());

  it('erases look-up events past the window with their entries in both lists, and keeps a recent one', async () => {
    const clock = new TestClock();
    svc = await startTestService({ clock, config: { RETENTION_DAYS: 28 } });
    const resident = await newResident(svc);
    await linkCard(svc, resident, 'health-card', HEALTH_CARD);
    const d = await registerDesk(svc, { kind: 'hospital-desk' });
    const resolve = (code: string) =>
      svc.call('POST', '/v1/services/resolve', { token: d.token, json: { code, purpose: 'registration' } });
    const mine = async () =>
      (await svc.call('GET', '/v1/residents/me/lookups', { token: resident.token })).body.lookups as Array<{
        seq: number;
      }>;
    const desks = async () =>
      (await svc.call('GET', `/v1/desks/${d.desk.id}/lookups`, { token: d.token })).body.lookups as Array<{
        seq: number;
      }>;

    const resolved = await resolve(resident.code);
    const replayed = await resolve(resident.code);
    const foreign = await resolve('AK1:NOT-A-CODE');
    expect([resolved.status, replayed.status, foreign.status]).to.deep.equal([200, 409, 422]);
    const old = [resolved.body.seq, replayed.body.lookup.seq, foreign.body.lookup.seq] as number[];
    expect((await mine()).map((l) => l.seq)).to.deep.equal(old.slice(0, 2).reverse());
    expect((await desks()).map((l) => l.seq)).to.deep.equal([...old].reverse());

    clock.advance(29 * DAY);
    const recent = await resolve(await currentCode(svc, resident));
    expect(recent.status, JSON.stringify(recent.body)).to.equal(200);
    const report = await new RetentionService(svc.running.app).run();
    expect(report.erasedEvents).to.be.at.least(3);
    // Two list entries for each of Alice's look-ups, one for the look-up under the desk only.
    expect(report.indexEntries).to.be.at.least(5);

    for (const seq of old) {
      const e = (await svc.running.app.ledger.getEvent(seq)) as unknown as ErasedEvent;
      expect(e.type).to.equal('service.looked-up');
      expect(e).to.have.property('erased');
      expect(e).to.not.have.property('subjects');
      expect(e).to.not.have.property('data');
    }
    expect((await mine()).map((l) => l.seq)).to.deep.equal([recent.body.seq]);
    expect((await desks()).map((l) => l.seq)).to.deep.equal([recent.body.seq]);
    const left: string[] = [];
    for await (const k of svc.running.app.ledger.space('desks').keys({ gt: 'l/', lt: 's/' })) left.push(k as string);
    expect(left.filter((k) => k.startsWith('l/') || k.startsWith('r/'))).to.have.length(2);
    expect(left.every((k) => k.endsWith(String(recent.body.seq).padStart(15, '0')))).to.equal(true);
  });
});
