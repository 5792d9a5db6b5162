import { expect } from 'chai';
import { decodeCode, verifyCode, type ResidentClaims } from '../../verifier/src';
import { MINUTE, startTestService, type TestService } from '../support/service';
import {
  checkin,
  currentCode,
  eventAt,
  expectScanEvent,
  headSeq,
  newResident,
  registerVenue,
  reportCloseContact,
  staffScan,
  tamper,
  type Resident,
  type Venue,
} from '../support/scenario';

const r = (x: Resident) => `r:${x.pseudonym}`;
const v = (x: Venue) => `v:${x.id}`;

describe('scenarios through the HTTP API', function () {
  this.timeout(30_000);
  let svc: TestService;
  let feedToken: string;

  before(async () => {
    svc = await startTestService();
    feedToken = await svc.token('feed', { source: 'telecom' });
  });
  after(async () => {
    await svc?.close();
  });

  describe('residential-community (小区门口自助扫码)', () => {
    let operator: string;
    let gate: Venue;

    before(async () => {
      operator = await svc.token('operator');
      gate = await registerVenue(svc, operator, {
        type: 'residential-community',
        name: '翡翠湖小区东门',
        district: '340104',
      });
    });

    it('admits a green resident with a normal temperature and records the scan on both chains', async () => {
      const res = await newResident(svc);
      const out = await checkin(svc, res, gate, 36.5);
      expect(out.status).to.equal(201);
      expect(out.body).to.include({
        decision: 'admit',
        rule: 'default/green-code',
        policyVersion: 1,
        colour: 'green',
        codeResult: 'VALID',
      });
      expect(out.body.venue).to.deep.equal({ id: gate.id, name: gate.name, type: 'residential-community' });
      const e = await expectScanEvent(svc, out.body, [r(res), v(gate)]);
      expect(e.data).to.include({ method: 'self', venue: gate.id, temperatureBand: 'normal' });
    });

    it('refers a green resident with a fever of 37.8 °C', async () => {
      const res = await newResident(svc);
      const out = await checkin(svc, res, gate, 37.8);
      expect(out.status).to.equal(201);
      expect(out.body).to.include({ decision: 'refer', rule: 'default/fever', colour: 'green' });
      const e = await expectScanEvent(svc, out.body, [r(res), v(gate)]);
      expect(e.data.temperatureBand).to.equal('fever');
    });

    it('refers a yellow resident (declared symptoms)', async () => {
      const res = await newResident(svc, { declaration: { temperatureC: 36.8, symptoms: ['cough'] } });
      expect(res.colour).to.equal('yellow');
      const out = await checkin(svc, res, gate, 36.8);
      expect(out.body).to.include({ decision: 'refer', rule: 'default/yellow-code', colour: 'yellow' });
      await expectScanEvent(svc, out.body, [r(res), v(gate)]);
    });

    it('denies a red resident (a close contact from the telecom feed)', async () => {
      const res = await newResident(svc);
      await reportCloseContact(svc, feedToken, res);
      const out = await checkin(svc, res, gate, 36.5);
      expect(out.status).to.equal(201);
      expect(out.body).to.include({ decision: 'deny', rule: 'default/red-code', colour: 'red' });
      await expectScanEvent(svc, out.body, [r(res), v(gate)]);
    });

    it('answers a replayed self-scan within CHECKIN_REPLAY_SECONDS with the same decision, 200 and no new event', async () => {
      const res = await newResident(svc);
      const first = await checkin(svc, res, gate, 36.5);
      expect(first.status).to.equal(201);
      const head = headSeq(svc);
      svc.clock.advance((svc.running.app.config.CHECKIN_REPLAY_SECONDS - 1) * 1000);
      const again = await checkin(svc, res, gate, 36.5);
      expect(again.status).to.equal(200);
      expect(again.body).to.include({
        decision: first.body.decision,
        rule: first.body.rule,
        seq: first.body.seq,
        replayed: true,
      });
      expect(headSeq(svc)).to.equal(head);
    });

    it('records a new scan once the replay window has passed', async () => {
      const res = await newResident(svc);
      const first = await checkin(svc, res, gate, 36.5);
      svc.clock.advance(svc.running.app.config.CHECKIN_REPLAY_SECONDS * 1000 + 1000);
      const later = await checkin(svc, res, gate, 36.5);
      expect(later.status).to.equal(201);
      expect(later.body.seq).to.be.greaterThan(first.body.seq);
    });

    it('refuses a code that is not a venue code with 422 and writes nothing', async () => {
      const res = await newResident(svc);
      const head = headSeq(svc);
      const out = await svc.call('POST', '/v1/checkins', { token: res.token, json: { venueCode: res.code } });
      expect(out.status).to.equal(422);
      expect(out.body.error.code).to.equal('CODE_REJECTED');
      expect(headSeq(svc)).to.equal(head);
    });
  });

  describe('enterprise (企业凭码上岗)', () => {
    let operator: string;
    let works: Venue;
    let worker: Resident;
    let coughing: Resident;
    let absent: Resident;

    before(async () => {
      operator = await svc.token('operator');
      works = await registerVenue(svc, operator, {
        type: 'enterprise',
        subtype: 'worksite',
        name: '高新区三号厂房',
        district: '340104',
      });
      worker = await newResident(svc);
      coughing = await newResident(svc, { declaration: { temperatureC: 36.9, symptoms: ['cough'] } });
      absent = await newResident(svc);
      for (const m of [worker, coughing, absent]) {
        const j = await svc.call('POST', `/v1/venues/${works.id}/roster`, {
          token: m.token,
          json: { venueCode: works.code },
        });
        expect(j.status, JSON.stringify(j.body)).to.equal(201);
      }
    });

    it("denies a green worker who has not done today's health check-in", async () => {
      const out = await checkin(svc, worker, works, 36.4);
      expect(out.status).to.equal(201);
      expect(out.body).to.include({ decision: 'deny', rule: 'default/no-daily-checkin', colour: 'green' });
      await expectScanEvent(svc, out.body, [r(worker), v(works)]);
    });

    it('admits the same worker after the daily check-in', async () => {
      const daily = await svc.call('POST', '/v1/checkins/daily', { token: worker.token, json: { temperatureC: 36.4 } });
      expect(daily.status).to.equal(201);
      expect(daily.body.colour).to.equal('green');
      svc.clock.advance(2 * MINUTE); // past the replay window of the refused scan
      const out = await checkin(svc, worker, works, 36.4);
      expect(out.body).to.include({ decision: 'admit', rule: 'default/green-checked-in' });
      await expectScanEvent(svc, out.body, [r(worker), v(works)]);
    });

    it("also admits at a staff scan of the worker's code", async () => {
      const out = await staffScan(svc, operator, {
        venueId: works.id,
        code: await currentCode(svc, worker),
        temperatureC: 36.4,
      });
      expect(out.status).to.equal(201);
      expect(out.body).to.include({ decision: 'admit', rule: 'default/green-checked-in', codeResult: 'VALID' });
    });

    it('shows the operator a roster of who has and has not checked in today and who is not green', async () => {
      const out = await svc.call('GET', `/v1/venues/${works.id}/roster`, { token: operator });
      expect(out.status).to.equal(200);
      const byId = (m: Resident) =>
        out.body.members.find((x: { idLast4: string }) => x.idLast4 === m.body.idNumber.slice(-4));
      expect(byId(worker)).to.include({ colour: 'green', checkedInToday: true });
      expect(byId(coughing)).to.include({ colour: 'yellow', checkedInToday: false });
      expect(byId(absent)).to.include({ colour: 'green', checkedInToday: false });
      expect(out.body.summary).to.deep.equal({ total: 3, checkedIn: 1, notGreen: 1 });
      expect(JSON.stringify(out.body)).to.not.include(worker.body.name);
    });

    it('refuses the roster to another operator', async () => {
      const other = await svc.token('operator');
      const out = await svc.call('GET', `/v1/venues/${works.id}/roster`, { token: other });
      expect(out.status).to.equal(403);
    });
  });

  for (const [type, subtype, name] of [
    ['crowded-place', 'mall', '万达广场'],
    ['public-service', 'government-hall', '蜀山区政务服务中心'],
  ] as const) {
    describe(`${type} (${subtype}: staff scan 核验)`, () => {
      let operator: string;
      let venue: Venue;

      before(async () => {
        operator = await svc.token('operator');
        venue = await registerVenue(svc, operator, { type, subtype, name, district: '340104' });
      });

      it('admits a green code', async () => {
        const res = await newResident(svc);
        const out = await staffScan(svc, operator, { venueId: venue.id, code: res.code, temperatureC: 36.3 });
        expect(out.status).to.equal(201);
        expect(out.body).to.include({
          decision: 'admit',
          rule: 'default/green-code',
          codeResult: 'VALID',
          colour: 'green',
          issuer: '340000',
          idLast4: res.body.idNumber.slice(-4),
        });
        const e = await expectScanEvent(svc, out.body, [r(res), v(venue)]);
        expect(e.data).to.include({ method: 'staff', venueType: type });
      });

      it("admits a green printed code (纸质码) checked against the issuer's current statuses", async () => {
        const res = await newResident(svc);
        const out = await staffScan(svc, operator, { venueId: venue.id, code: await currentCode(svc, res, 'printed') });
        expect(out.body).to.include({ decision: 'admit', rule: 'default/green-code', codeResult: 'VALID' });
      });

      it('denies a tampered code with codeResult SIGNATURE_INVALID', async () => {
        const res = await newResident(svc, { declaration: { temperatureC: 36.5, symptoms: ['cough'] } });
        const forged = tamper(res.code, (c) => ({ ...c, health: { ...c.health, colour: 'green' } }));
        const out = await staffScan(svc, operator, { venueId: venue.id, code: forged });
        expect(out.status).to.equal(201);
        expect(out.body).to.include({
          decision: 'deny',
          rule: 'default/invalid-code',
          codeResult: 'SIGNATURE_INVALID',
          colour: 'none',
          maskedName: null,
        });
        // Unsigned claims are not believed: the scan is filed under the venue alone.
        await expectScanEvent(svc, out.body, [v(venue)]);
      });

      it('denies an expired code with codeResult EXPIRED', async () => {
        const res = await newResident(svc);
        // 10 minutes of life plus the verifier's 60 s of clock skew, and a minute more.
        svc.clock.advance(12 * MINUTE);
        const out = await staffScan(svc, operator, { venueId: venue.id, code: res.code });
        expect(out.body).to.include({ decision: 'deny', rule: 'default/invalid-code', codeResult: 'EXPIRED' });
        await expectScanEvent(svc, out.body, [r(res), v(venue)]);
      });

      it('denies a code superseded by a colour change with codeResult REVOKED', async () => {
        const res = await newResident(svc);
        await reportCloseContact(svc, feedToken, res);
        const out = await staffScan(svc, operator, { venueId: venue.id, code: res.code });
        expect(out.body).to.include({ decision: 'deny', rule: 'default/invalid-code', codeResult: 'REVOKED' });
        const fresh = await staffScan(svc, operator, { venueId: venue.id, code: await currentCode(svc, res) });
        expect(fresh.body).to.include({
          decision: 'deny',
          rule: 'default/red-code',
          codeResult: 'VALID',
          colour: 'red',
        });
      });
    });
  }

  describe('transport (公交、出租车乘车扫码)', () => {
    let operator: string;
    let bus: Venue;
    let taxi: Venue;

    before(async () => {
      operator = await svc.token('operator');
      bus = await registerVenue(svc, operator, {
        type: 'transport',
        subtype: 'bus',
        name: '1路公交',
        district: '340104',
        vehicle: { plate: '皖A·12345', route: '1路' },
      });
      taxi = await registerVenue(svc, operator, {
        type: 'transport',
        subtype: 'taxi',
        name: '出租车',
        district: '340104',
        vehicle: { plate: '皖A·D8888' },
      });
    });

    it('registers a bus and a taxi with their vehicles', () => {
      expect(bus).to.include({ type: 'transport', subtype: 'bus' });
      expect(bus.vehicle).to.deep.equal({ plate: '皖A·12345', route: '1路' });
      expect(taxi.vehicle).to.deep.equal({ plate: '皖A·D8888' });
      const claims = decodeCode(bus.code).claims;
      expect(claims.kind).to.equal('venue');
    });

    it("records every rider who scans in, on the vehicle's log and the rider's own history", async () => {
      const riders = [await newResident(svc), await newResident(svc)];
      const seqs: number[] = [];
      for (const rider of riders) {
        const out = await checkin(svc, rider, bus);
        expect(out.status).to.equal(201);
        expect(out.body).to.include({ decision: 'admit', rule: 'default/green-code' });
        await expectScanEvent(svc, out.body, [r(rider), v(bus)]);
        seqs.push(out.body.seq);
      }
      const cab = await checkin(svc, riders[0], taxi);
      expect(cab.body.decision).to.equal('admit');

      const log = await svc.call('GET', `/v1/venues/${bus.id}/scans`, { token: operator });
      expect(log.status).to.equal(200);
      expect(log.body.venue.vehicle).to.deep.equal(bus.vehicle);
      expect(log.body.scans.map((s: { seq: number }) => s.seq)).to.have.members(seqs);
      for (const s of log.body.scans)
        expect(s).to.include({ method: 'self', venueType: 'transport', decision: 'admit' });

      const mine = await svc.call('GET', '/v1/residents/me/scans', { token: riders[0].token });
      expect(mine.body.scans.map((s: { venue: { name: string } }) => s.venue.name)).to.deep.equal([
        '出租车',
        '1路公交',
      ]);
    });

    it('refuses a vehicle on a venue that is not transport with 400 and writes nothing', async () => {
      const head = headSeq(svc);
      const out = await svc.call('POST', '/v1/venues', {
        token: operator,
        json: { type: 'crowded-place', name: '商场', district: '340104', vehicle: { plate: '皖A·00001' } },
      });
      expect(out.status).to.equal(400);
      expect(out.body.error.code).to.equal('VALIDATION_FAILED');
      expect(out.body.error.fields.map((f: { path: string }) => f.path)).to.include('vehicle');
      expect(headSeq(svc)).to.equal(head);
    });
  });

  describe('school (有码认码，有单认单)', () => {
    let operator: string;
    let school: Venue;

    before(async () => {
      operator = await svc.token('operator');
      school = await registerVenue(svc, operator, {
        type: 'school',
        subtype: 'primary-school',
        name: '琥珀小学',
        district: '340104',
      });
    });

    it('admits a pupil with a green code', async () => {
      const pupil = await newResident(svc);
      const out = await staffScan(svc, operator, { venueId: school.id, code: pupil.code, temperatureC: 36.6 });
      expect(out.body).to.include({ decision: 'admit', rule: 'default/green-code' });
      await expectScanEvent(svc, out.body, [r(pupil), v(school)]);
    });

    it('admits a pupil without a code whose paper certificate the school registered beforehand', async () => {
      const reg = await svc.call('POST', `/v1/venues/${school.id}/certificates`, {
        token: operator,
        json: { certificateNo: 'JK-2026-0001', validUntil: '2026-03-31' },
      });
      expect(reg.status).to.equal(201);
      expect(reg.body.certificate).to.match(/^[0-9a-f]{16}$/);
      const out = await staffScan(svc, operator, { venueId: school.id, certificateNo: 'jk-2026-0001' });
      expect(out.status).to.equal(201);
      expect(out.body).to.include({
        decision: 'admit',
        rule: 'default/paper-certificate',
        codeResult: 'NONE',
        colour: 'none',
      });
      const e = await eventAt(svc, out.body.seq);
      expect(e).to.include({ type: 'scan.recorded' });
      expect(e.data).to.include({
        decision: 'admit',
        rule: 'default/paper-certificate',
        policyVersion: 1,
        certificate: reg.body.certificate,
      });
      // The pupil is known to the ledger only by a keyed hash of the certificate number.
      expect(e.subjects).to.have.length(2).and.include(v(school));
      expect(e.subjects.find((s) => s !== v(school))).to.match(new RegExp(`^c:${school.id}:[0-9a-f]{16}$`));
      expect(JSON.stringify(e)).to.not.include('JK-2026-0001');
    });

    it('denies a pupil without a code whose certificate is not registered', async () => {
      const out = await staffScan(svc, operator, { venueId: school.id, certificateNo: 'JK-2026-9999' });
      expect(out.body).to.include({ decision: 'deny', rule: 'default/no-code-no-certificate' });
    });

    it('denies a certificate that is no longer valid', async () => {
      await svc.call('POST', `/v1/venues/${school.id}/certificates`, {
        token: operator,
        json: { certificateNo: 'JK-2026-0002', validUntil: '2026-03-01' },
      });
      const out = await staffScan(svc, operator, { venueId: school.id, certificateNo: 'JK-2026-0002' });
      expect(out.body).to.include({ decision: 'deny', rule: 'default/no-code-no-certificate' });
    });

    it('refuses certificates at a venue that is not a school with 400', async () => {
      const mall = await registerVenue(svc, operator, { type: 'crowded-place', name: '银泰城', district: '340104' });
      const out = await svc.call('POST', `/v1/venues/${mall.id}/certificates`, {
        token: operator,
        json: { certificateNo: 'JK-2026-0003', validUntil: '2026-03-31' },
      });
      expect(out.status).to.equal(400);
    });
  });

  describe('border (入境发码)', () => {
    let officer: string;
    let post: Venue;
    let gateOperator: string;
    let gate: Venue;
    let entry: { status: number; body: any };

    before(async () => {
      // A health authority registers the port; the officers there hold a border token for it.
      post = await registerVenue(svc, await svc.token('health'), {
        type: 'border',
        subtype: 'port-of-entry',
        name: '新桥机场口岸',
        district: '340123',
      });
      officer = await svc.token('border', { scope: { venues: [post.id] } });
      gateOperator = await svc.token('operator');
      gate = await registerVenue(svc, gateOperator, {
        type: 'residential-community',
        name: '天鹅湖小区',
        district: '340104',
      });
      entry = await svc.call('POST', '/v1/border/entries', {
        token: officer,
        json: {
          venueId: post.id,
          idType: 'passport',
          idNumber: 'E12345678',
          name: 'Li Hua',
          phone: '+447700900123',
          from: 'GB',
          destination: '340104',
          temperatureC: 36.6,
        },
      });
    });

    it('issues a red printed code that verifyCode accepts with the status list, valid for 7 days', async () => {
      expect(entry.status, JSON.stringify(entry.body)).to.equal(201);
      expect(entry.body.resident).to.include({ colour: 'red', idType: 'passport' });
      expect(entry.body.printedCode).to.include({ mode: 'printed', colour: 'red' });
      const trustList = (await svc.call('GET', '/v1/trust-list')).body;
      const statusList = new Uint8Array((await svc.call('GET', '/v1/status-list')).bytes);
      const result = await verifyCode(entry.body.printedCode.code, {
        trustList,
        statusLists: [statusList],
        now: svc.clock.now(),
      });
      expect(result, result.message).to.include({ valid: true, code: 'VALID' });
      const claims = result.claims as ResidentClaims;
      expect(claims.health).to.include({ colour: 'red', mode: 'printed', idLast4: '5678' });
      expect(claims.exp - claims.iat).to.equal(7 * 86_400);
    });

    it('is denied at a community gate', async () => {
      const out = await staffScan(svc, gateOperator, { venueId: gate.id, code: entry.body.printedCode.code });
      expect(out.body).to.include({ decision: 'deny', rule: 'default/red-code', codeResult: 'VALID', colour: 'red' });
      const phone = await staffScan(svc, gateOperator, { venueId: gate.id, code: entry.body.code.code });
      expect(phone.body).to.include({ decision: 'deny', rule: 'default/red-code' });
      await expectScanEvent(svc, out.body, [`r:${entry.body.resident.pseudonym}`, v(gate)]);
    });
  });

  describe('who sees which scans', () => {
    let opA: string;
    let opB: string;
    let a: Venue;
    let resident: Resident;
    let seq: number;

    before(async () => {
      opA = await svc.token('operator');
      opB = await svc.token('operator');
      a = await registerVenue(svc, opA, {
        type: 'crowded-place',
        subtype: 'restaurant',
        name: '老乡鸡',
        district: '340104',
      });
      await registerVenue(svc, opB, { type: 'crowded-place', subtype: 'market', name: '农贸市场', district: '340104' });
      resident = await newResident(svc);
      seq = (await checkin(svc, resident, a)).body.seq;
    });

    it("refuses venue A's log to the operator of venue B with 403", async () => {
      const out = await svc.call('GET', `/v1/venues/${a.id}/scans`, { token: opB });
      expect(out.status).to.equal(403);
      expect(out.body.error.code).to.equal('FORBIDDEN');
    });

    it('refuses staff scans at venue A by the operator of venue B with 403', async () => {
      const out = await staffScan(svc, opB, { venueId: a.id, code: resident.code });
      expect(out.status).to.equal(403);
    });

    it("shows venue A's log to its own operator", async () => {
      const out = await svc.call('GET', `/v1/venues/${a.id}/scans`, { token: opA });
      expect(out.status).to.equal(200);
      expect(out.body.scans.map((s: { seq: number }) => s.seq)).to.include(seq);
    });

    it('refuses a venue log to residents', async () => {
      const out = await svc.call('GET', `/v1/venues/${a.id}/scans`, { token: resident.token });
      expect(out.status).to.equal(403);
    });

    it("shows a resident their own scan history and nobody else's", async () => {
      const mine = await svc.call('GET', '/v1/residents/me/scans', { token: resident.token });
      expect(mine.status).to.equal(200);
      expect(mine.body.scans).to.have.length(1);
      expect(mine.body.scans[0]).to.deep.include({ seq, decision: 'admit', colour: 'green', method: 'self' });
      expect(mine.body.scans[0].venue).to.deep.equal({ id: a.id, name: '老乡鸡', type: 'crowded-place' });
      const stranger = await newResident(svc);
      const theirs = await svc.call('GET', '/v1/residents/me/scans', { token: stranger.token });
      expect(theirs.body.scans).to.deep.equal([]);
    });
  });
});
