import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { startDevNode, type DevNode } from '../../anchor/dev-node';
import { until } from '../../scripts/lib/wait';
import { decodeBase45, decodeCode, fromBase64Url, signCode, type ResidentClaims } from '../../verifier/src';
import { sweepCodeIndex, CODE_INDEX_MARGIN_SECONDS, CODE_HISTORY_DAYS } from '../../server/services/code-index';
import { FEDERATION_MAX_CTIS } from '../../server/services/federation-peers';
import { loadConfig } from '../../server/config';
import {
  currentCode,
  eventAt,
  newResident,
  registerVenue,
  staffScan,
  type Resident,
  type Venue,
} from '../support/scenario';
import { DAY, MINUTE, startTestService, TestClock, type TestService } from '../support/service';

const ANHUI = '340000';
const JIANGSU = '320000';

const claimsOf = (code: string) => decodeCode(code).claims as ResidentClaims;

/** Every claim of a resident code as one flat record, so that two codes can be compared claim by claim. */
function flat(c: ResidentClaims): Record<string, unknown> {
  const { health, kind: _kind, ...top } = c;
  return { ...top, ...Object.fromEntries(Object.entries(health).map(([k, v]) => [`health.${k}`, v])) };
}

/**
 * Which claims two codes of one person have in common. Allowed: the issuer, the printed text
 * (masked name, ID tail) and values shared by every resident of the same colour and rules.
 */
const SHARED_BY_MANY = [
  'iss',
  'health.colour',
  'health.ruleVersion',
  'health.mode',
  'health.maskedName',
  'health.idLast4',
];

function sharedIdentifying(a: ResidentClaims, b: ResidentClaims): string[] {
  const fa = flat(a);
  const fb = flat(b);
  const keys = new Set([...Object.keys(fa), ...Object.keys(fb)]);
  return [...keys].filter((k) => fa[k] !== undefined && fa[k] === fb[k] && !SHARED_BY_MANY.includes(k));
}

const contains = (hay: Uint8Array, needle: Uint8Array) => Buffer.from(hay).includes(Buffer.from(needle));

describe('FEDERATION_PEERS', () => {
  const TOKEN = 'ak_federation_abcdefghijklmnop';
  it('reads <region>=<token>[@<url>] entries', () => {
    expect(
      loadConfig({ FEDERATION_PEERS: `320000=${TOKEN}@http://10.0.0.2:8080/, 310000=${TOKEN}` }).FEDERATION_PEERS,
    ).to.deep.equal([
      { issuer: '320000', token: TOKEN, url: 'http://10.0.0.2:8080' },
      { issuer: '310000', token: TOKEN },
    ]);
    expect(loadConfig({}).FEDERATION_PEERS).to.deep.equal([]);
  });
  it("refuses the service's own issuer, a province twice and a malformed entry, never echoing a token", () => {
    expect(() => loadConfig({ ISSUER_ID: '340000', FEDERATION_PEERS: `340000=${TOKEN}` })).to.throw(
      /FEDERATION_PEERS: a province does not ask itself/,
    );
    expect(() => loadConfig({ FEDERATION_PEERS: `320000=${TOKEN},320000=${TOKEN}` })).to.throw(/listed twice/);
    let message = '';
    try {
      loadConfig({ FEDERATION_PEERS: `32000=${TOKEN}` });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).to.match(/is not <region code>=<federation token>/);
    expect(message).to.not.include(TOKEN);
  });
});

describe('unlinkable codes: no stable identifier in a code; the issuer resolves its codes by cti, at home and in other provinces (real Hardhat node)', function () {
  this.timeout(180_000);
  let node: DevNode;
  let anhui: TestService;
  let jiangsu: TestService;
  const anhuiClock = new TestClock();
  const jiangsuClock = new TestClock();
  let mall: Venue;
  /** A federation token Anhui's admin issued Jiangsu (the one in Jiangsu's FEDERATION_PEERS), and a second one for the flood. */
  let jiangsuToken: string;
  let floodToken: string;
  let shanghaiToken: string;

  const federationToken = async (issuer: string) => {
    const r = await anhui.call('POST', '/v1/admin/tokens', {
      token: anhui.adminToken,
      json: { role: 'federation', name: `${issuer} tracing`, scope: { issuer } },
    });
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    expect(r.body.scope).to.deep.equal({ issuer });
    return r.body.token as string;
  };
  const ask = (token: string | undefined, json: unknown) => anhui.call('POST', '/v1/federation/scans', { token, json });
  const window = () => ({ from: new Date(anhuiClock.ms - DAY).toISOString(), to: anhuiClock.now().toISOString() });
  const advanceBoth = (ms: number) => {
    anhuiClock.advance(ms);
    jiangsuClock.advance(ms);
  };

  before(async () => {
    node = await startDevNode();
    anhui = await startTestService({
      clock: anhuiClock,
      config: {
        ISSUER_ID: ANHUI,
        CHAIN_RPC_URL: node.url,
        CHAIN_DEV: 'true',
        CHECKPOINT_INTERVAL_SECONDS: 3600,
        FEDERATION_REFRESH_SECONDS: 3600,
        RATE_FEDERATION_PER_TOKEN: 3,
        RATE_FEDERATION_PER_TOKEN_SECONDS: 3600,
      },
    });
    await newResident(anhui);
    const contract = await until(
      'Anhui to be on chain',
      async () => (await anhui.call('GET', '/v1/anchor/status')).body.checkpoint?.contract as string | undefined,
    );
    jiangsuToken = await federationToken(JIANGSU);
    floodToken = await federationToken(JIANGSU);
    shanghaiToken = await federationToken('310000');
    jiangsu = await startTestService({
      clock: jiangsuClock,
      config: {
        ISSUER_ID: JIANGSU,
        CHAIN_RPC_URL: node.url,
        CHAIN_DEV: 'true',
        ANCHOR_CONTRACT: contract,
        CHAIN_DEV_ANCHORER_ACCOUNT: 2,
        CHECKPOINT_INTERVAL_SECONDS: 3600,
        // Shanghai's service is not there: its failure is reported, not fatal.
        FEDERATION_PEERS: `${ANHUI}=${jiangsuToken}@${anhui.url},310000=${'s'.repeat(24)}@http://127.0.0.1:1`,
      },
    });
    const federation = anhui.running.app.federation!;
    await until("Anhui to trust Jiangsu's codes", async () => {
      await federation.refresh();
      return federation.lastRefresh?.statusLists.includes(JIANGSU);
    });
    mall = await registerVenue(anhui, anhui.adminToken, {
      type: 'crowded-place',
      subtype: 'mall',
      name: '银泰中心',
      district: '340104',
    });
  });

  after(async () => {
    await jiangsu?.close();
    await anhui?.close();
    await node?.stop();
  });

  describe('two codes of one resident', () => {
    let resident: Resident;
    let first: string;
    let printed: string;
    let later: string;

    before(async () => {
      resident = await newResident(anhui);
      first = resident.code;
      // iat is a time every code issued in that second shares; the test clock stands still, so move it as a person's would.
      advanceBoth(MINUTE);
      printed = await currentCode(anhui, resident, 'printed');
      advanceBoth(9 * MINUTE);
      later = await currentCode(anhui, resident);
      expect(later).to.not.equal(first);
    });

    it('carry no sub, nor the pseudonym anywhere in their bytes', () => {
      const pseudonym = fromBase64Url(resident.pseudonym);
      for (const code of [first, printed, later]) {
        expect(claimsOf(code)).to.not.have.property('sub');
        expect(contains(decodeBase45(code.slice(4)), pseudonym), 'the pseudonym in the code').to.equal(false);
      }
    });

    // Codes whose lifetimes overlap share the status index, so that a status list answers for
    // each of them; the index is re-drawn once every code on it has expired (issue 16).
    it('a dynamic and a printed one share no identifying claim but the status index: only the issuer, the masked name and the ID tail', () => {
      const [a, b] = [claimsOf(first), claimsOf(printed)];
      expect(sharedIdentifying(a, b)).to.deep.equal(['health.statusIndex']);
      expect(a.cti).to.not.equal(b.cti);
      expect(a.exp).to.not.equal(b.exp);
      expect(a.health).to.include({ maskedName: b.health.maskedName, idLast4: b.health.idLast4 });
    });

    it('two dynamic ones issued at different times share none either, but the status index while their lifetimes overlap', () => {
      const [a, b] = [claimsOf(first), claimsOf(later)];
      expect(sharedIdentifying(a, b)).to.deep.equal(['health.statusIndex']);
      expect([a.cti, a.iat, a.exp]).to.not.have.members([b.cti, b.iat, b.exp]);
    });

    it('the comparison can fail: a code is linked to itself by its cti', () => {
      expect(sharedIdentifying(claimsOf(first), claimsOf(first))).to.include.members(['cti', 'iat', 'exp']);
    });

    it('a staff scan of either finds the resident by cti: the scan is in their own history', async () => {
      const scanned = [];
      for (const code of [later, printed]) {
        const r = await staffScan(anhui, anhui.adminToken, { venueId: mall.id, code, temperatureC: 36.5 });
        expect(r.status, JSON.stringify(r.body)).to.equal(201);
        expect(r.body).to.include({ decision: 'admit', codeResult: 'VALID' });
        expect((await eventAt(anhui, r.body.seq)).subjects).to.deep.equal([`r:${resident.pseudonym}`, `v:${mall.id}`]);
        scanned.push(r.body.seq);
      }
      const history = await anhui.call('GET', '/v1/residents/me/scans', { token: resident.token });
      expect(history.body.scans.map((s: { seq: number }) => s.seq)).to.include.members(scanned);
    });

    it('a code issued once every earlier one has expired shares nothing that identifies, not even the status index', async () => {
      // The printed code lives 7 days (the test's PRINTED_CODE_TTL_DAYS default); a week and a day later all three have expired.
      advanceBoth(8 * DAY);
      const next = claimsOf(await currentCode(anhui, resident));
      for (const old of [first, printed, later]) expect(sharedIdentifying(claimsOf(old), next)).to.deep.equal([]);
      expect(next.health.statusIndex).to.not.equal(claimsOf(first).health.statusIndex);
    });
  });

  describe('a code signed with our key whose cti we never issued', () => {
    it('is denied at a staff scan with CODE_UNKNOWN and recorded under the venue alone', async () => {
      const resident = await newResident(anhui);
      const real = claimsOf(resident.code);
      const forged = await signCode(
        { ...real, cti: randomBytes(8).toString('hex') },
        anhui.running.app.keys.active().signer,
      );
      const r = await staffScan(anhui, anhui.adminToken, { venueId: mall.id, code: forged });
      expect(r.body).to.include({ decision: 'deny', codeResult: 'CODE_UNKNOWN' });
      expect((await eventAt(anhui, r.body.seq)).subjects).to.deep.equal([`v:${mall.id}`]);
      // The real code, same claims but its own cti, is the resident's.
      expect((await staffScan(anhui, anhui.adminToken, { venueId: mall.id, code: resident.code })).body).to.include({
        decision: 'admit',
        codeResult: 'VALID',
      });
    });
  });

  describe("a Jiangsu resident scanned at an Anhui mall, and Jiangsu's tracing of that resident", () => {
    let traveller: Resident;
    let codes: string[];
    let scans: Array<{ seq: number; at: string }>;
    let tracing: any;

    before(async () => {
      traveller = await newResident(jiangsu, { district: '320102' });
      codes = [traveller.code];
      scans = [];
      for (let i = 0; i < 2; i++) {
        // A fresh copy of Jiangsu's status list, as the periodic refresh would fetch.
        await anhui.running.app.federation!.refresh();
        const r = await staffScan(anhui, anhui.adminToken, { venueId: mall.id, code: codes[i], temperatureC: 36.4 });
        expect(r.body, JSON.stringify(r.body)).to.include({ decision: 'admit', codeResult: 'VALID', issuer: JIANGSU });
        scans.push(r.body);
        advanceBoth(9 * MINUTE);
        if (i === 0) codes.push(await currentCode(jiangsu, traveller));
      }
      const t = await jiangsu.call('POST', '/v1/tracing', {
        token: jiangsu.adminToken,
        json: {
          pseudonym: traveller.pseudonym,
          from: new Date(jiangsuClock.ms - DAY).toISOString(),
          to: jiangsuClock.now().toISOString(),
        },
      });
      expect(t.status, JSON.stringify(t.body)).to.equal(201);
      tracing = t.body;
    });

    it("Anhui records each scan under Jiangsu and the code's cti only: two codes, two subjects nobody can link", async () => {
      const subjects = [];
      for (const [i, s] of scans.entries()) {
        const e = await eventAt(anhui, s.seq);
        const cti = claimsOf(codes[i]).cti;
        expect(e.subjects).to.deep.equal([`f:${JIANGSU}:${cti}`, `v:${mall.id}`]);
        expect(JSON.stringify(e)).to.not.include(traveller.pseudonym);
        subjects.push(e.subjects[0]);
      }
      expect(subjects[0]).to.not.equal(subjects[1]);
    });

    it("finds both visits through Anhui's federation endpoint, marked foreign with Anhui as their issuer", () => {
      const foreign = tracing.venues.filter((v: { foreign: boolean }) => v.foreign);
      expect(foreign).to.have.length(2);
      for (const [i, v] of foreign.entries()) {
        expect(v).to.deep.include({
          issuer: ANHUI,
          at: scans[i].at,
          seq: scans[i].seq,
          decision: 'admit',
          contacts: 0,
        });
        expect(v.venue).to.include({ id: mall.id, type: 'crowded-place', district: '340104' });
      }
      expect(tracing.federation.ctis).to.equal(2);
    });

    it('reports the province that did not answer, and still answers', () => {
      expect(tracing.federation.peers).to.have.length(2);
      expect(tracing.federation.peers[0]).to.deep.equal({ issuer: ANHUI, ok: true, visits: 2 });
      expect(tracing.federation.peers[1]).to.deep.include({ issuer: '310000', ok: false });
      expect(tracing.federation.peers[1].error.code).to.equal('PEER_UNREACHABLE');
    });

    it('Anhui records that it answered, naming who asked and how much, not the ctis', async () => {
      const answered = [];
      for await (const e of anhui.running.app.ledger.events(1)) if (e.type === 'federation.answered') answered.push(e);
      expect(answered.length).to.be.at.least(1);
      const last = answered[answered.length - 1];
      expect(last.data).to.include({ issuer: JIANGSU, ctis: 2, scans: 2 });
      expect(JSON.stringify(last.data)).to.not.include(claimsOf(codes[0]).cti);
    });

    describe('the federation endpoint', () => {
      const question = () => ({ issuer: JIANGSU, ctis: codes.map((c) => claimsOf(c).cti), ...window() });

      it("answers Jiangsu's token with venue, type, district, time and decision, nothing about the person", async () => {
        const r = await ask(floodToken, question());
        expect(r.status, JSON.stringify(r.body)).to.equal(200);
        expect(r.body).to.include({ scannedBy: ANHUI, issuer: JIANGSU });
        expect(r.body.scans).to.have.length(2);
        expect(Object.keys(r.body.scans[0]).sort()).to.deep.equal(['at', 'cti', 'decision', 'seq', 'venue']);
        expect(Object.keys(r.body.scans[0].venue).sort()).to.deep.equal(['district', 'id', 'type']);
      });

      it('refuses a token of another role (403), and none (401)', async () => {
        const health = await anhui.token('health');
        const r = await ask(health, question());
        expect(r.status).to.equal(403);
        expect(r.body.error).to.include({ code: 'FORBIDDEN' });
        expect(r.body.error.message).to.include('federation.scans');
        expect((await ask(undefined, question())).status).to.equal(401);
      });

      it("refuses a federation token of another issuer asking about Jiangsu's codes (403)", async () => {
        const r = await ask(shanghaiToken, question());
        expect(r.status).to.equal(403);
        expect(r.body.error.message).to.include('the codes of the issuer its token was issued for');
      });

      it(`refuses more than ${FEDERATION_MAX_CTIS} ctis, and a window over 31 days (400)`, async () => {
        const many = Array.from({ length: FEDERATION_MAX_CTIS + 1 }, () => randomBytes(8).toString('hex'));
        const r = await ask(shanghaiToken, { issuer: '310000', ctis: many, ...window() });
        expect(r.status).to.equal(400);
        expect(r.body.error.fields.map((f: { path: string }) => f.path)).to.include('ctis');
        const wide = await ask(shanghaiToken, {
          issuer: '310000',
          ctis: many.slice(0, 1),
          from: new Date(anhuiClock.ms - 32 * DAY).toISOString(),
          to: anhuiClock.now().toISOString(),
        });
        expect(wide.status).to.equal(400);
        expect(wide.body.error.fields.map((f: { path: string }) => f.path)).to.include('to');
      });

      it('refuses a flood with 429 and Retry-After (RATE_FEDERATION_PER_TOKEN is 3 here), before reading it', async () => {
        // The first question above used one of the flood token's 3.
        const statuses = [];
        for (let i = 0; i < 3; i++) statuses.push((await ask(floodToken, question())).status);
        expect(statuses).to.deep.equal([200, 200, 429]);
        const head = await anhui.head();
        const r = await ask(floodToken, question());
        expect(r.status).to.equal(429);
        expect(r.body.error.code).to.equal('TOO_MANY_REQUESTS');
        expect(Number(r.headers.get('retry-after'))).to.be.greaterThan(0);
        expect(await anhui.head()).to.deep.equal(head);
      });
    });
  });

  describe('the code index, once codes expire', () => {
    it("drops a code's cti entry 10 minutes after it expired and its tracing entry 31 days after; a scan of it is then EXPIRED, under the venue alone", async () => {
      const resident = await newResident(anhui);
      const c = claimsOf(resident.code);
      const ledger = anhui.running.app.ledger;
      const key = `c/${c.cti}`;
      const history = `r/${resident.pseudonym}/${new Date(c.iat * 1000).toISOString()}/${c.cti}`;
      expect(await ledger.read('codes', key)).to.deep.include({ p: resident.pseudonym, exp: c.exp, mode: 'dynamic' });
      anhuiClock.ms = (c.exp + CODE_INDEX_MARGIN_SECONDS) * 1000 - 1000;
      await sweepCodeIndex(ledger, anhuiClock.now());
      expect(await ledger.read('codes', key), 'kept until exp + margin').to.not.equal(undefined);
      anhuiClock.advance(2000);
      await sweepCodeIndex(ledger, anhuiClock.now());
      expect(await ledger.read('codes', key)).to.equal(undefined);
      expect(await ledger.read('codes', history)).to.not.equal(undefined);
      const r = await staffScan(anhui, anhui.adminToken, { venueId: mall.id, code: resident.code });
      expect(r.body).to.include({ decision: 'deny', codeResult: 'EXPIRED' });
      expect((await eventAt(anhui, r.body.seq)).subjects).to.deep.equal([`v:${mall.id}`]);
      anhuiClock.ms = (c.exp + CODE_HISTORY_DAYS * 86_400) * 1000 + 1000;
      await sweepCodeIndex(ledger, anhuiClock.now());
      expect(await ledger.read('codes', history)).to.equal(undefined);
      const left = [];
      for await (const k of ledger.space('codes').keys({ gte: 'd/', lt: `d/${anhuiClock.now().toISOString()}` }))
        left.push(k);
      expect(left, 'no deletion left due').to.deep.equal([]);
    });
  });
});
