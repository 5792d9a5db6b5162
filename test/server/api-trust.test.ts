import { expect } from 'chai';
import { createPrivateKey } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Level } from 'level';
import {
  decodeCode,
  loadStatusList,
  prepareTrustList,
  signCode,
  toBase64Url,
  toRfc3339,
  verifyCode,
  type ResidentClaims,
  type TrustListJson,
} from '../../verifier/src';
import { openContext } from '../../server/bootstrap';
import { configSchema, loadConfig } from '../../server/config';
import type { LedgerEvent } from '../../verifier/src/event';
import { Ledger, seqKey } from '../../ledger/ledger';
import { verifyChain } from '../../ledger/verify-chain';
import defaultRules from '../../server/rules/default-rules.json';
import { startKeyScenario, type KeyScenario } from '../support/key-scenario';
import { checkin, registerVenue, staffScan, type Venue } from '../support/scenario';
import {
  applicant,
  apply,
  MINUTE,
  runLedgerVerify,
  startTestService,
  TestClock,
  type TestService,
} from '../support/service';
import { tempDir } from '../support/tmp';

const kidOf = (code: string) => toBase64Url(decodeCode(code).kid);

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)],
  );
}

/**
 * The files under `dir` holding any form of a private key: its PEM text, its PKCS#8 DER or
 * its raw 32-byte seed (RFC 8410), the way LevelDB or a copied file would hold it.
 */
function filesHoldingKey(dir: string, pem: string): string[] {
  const der = createPrivateKey(pem).export({ format: 'der', type: 'pkcs8' });
  const forms = [Buffer.from(pem.replace(/-----[A-Z ]+-----|\s/g, '')), der, der.subarray(der.length - 32)];
  return filesUnder(dir).filter((f) => statSync(f).isFile() && forms.some((form) => readFileSync(f).includes(form)));
}

async function allEvents(ledger: Ledger): Promise<LedgerEvent[]> {
  const out: LedgerEvent[] = [];
  for await (const e of ledger.events()) out.push(e);
  return out;
}

describe('trust material', function () {
  this.timeout(30_000);
  let svc: TestService;

  before(async () => {
    svc = await startTestService();
  });
  after(async () => {
    await svc?.close();
  });

  describe('GET /v1/trust-list', () => {
    it('lists this issuer with its active key and a status list URL that serves the status list', async () => {
      const r = await svc.call('GET', '/v1/trust-list');
      expect(r.status).to.equal(200);
      const list = r.body as TrustListJson;
      expect(list.format).to.equal('ankang-trust-list/1');
      expect(list.issuers).to.have.length(1);
      const [issuer] = list.issuers;
      expect(issuer).to.include({ id: '340000', name: '安徽省' });
      expect(issuer.keys).to.have.length(1);
      expect(issuer.keys[0].kid).to.equal(svc.running.app.keys.active().record.kid);
      expect(issuer.statusListUrl).to.equal(`${svc.url}/v1/status-list`);
      const bytes = new Uint8Array(await (await fetch(issuer.statusListUrl!)).arrayBuffer());
      const status = await loadStatusList(bytes, prepareTrustList(list));
      expect(status.valid, status.message).to.equal(true);
    });
  });

  describe('POST /v1/admin/keys/rotate', () => {
    let before: { code: string; printed: string; token: string; kid: string; pem: string; venue: Venue };
    let rotated: { kid: string; keys: Array<{ kid: string; listedUntil: string | null }> };

    it('answers 401 without a token and 403 to a health token, moving nothing', async () => {
      const head = await svc.head();
      expect((await svc.call('POST', '/v1/admin/keys/rotate')).status).to.equal(401);
      const r = await svc.call('POST', '/v1/admin/keys/rotate', { token: await svc.token('health') });
      expect(r.status).to.equal(403);
      expect(r.body.error.code).to.equal('FORBIDDEN');
      const after = await svc.head();
      expect(after.seq).to.equal(head.seq + 1); // the token.issued event only
    });

    it('adds a new key with an admin token; the trust list lists both', async () => {
      const applied = await apply(svc, applicant());
      const printed = await svc.call('GET', '/v1/residents/me/code?mode=printed', { token: applied.token });
      const kid = kidOf(applied.body.code.code);
      const venue = await registerVenue(svc, await svc.token('operator'), {
        type: 'enterprise',
        name: '合肥某工厂',
        district: '340104',
      });
      const pem = readFileSync(join(svc.dir, 'keys', `${kid}.pem`), 'utf8');
      before = { code: applied.body.code.code, printed: printed.body.code, token: applied.token, kid, pem, venue };
      expect(kidOf(before.printed)).to.equal(before.kid);
      expect(kidOf(venue.code)).to.equal(before.kid);

      svc.clock.advance(MINUTE);
      const r = await svc.call('POST', '/v1/admin/keys/rotate', { token: svc.adminToken });
      expect(r.status).to.equal(201);
      rotated = r.body;
      expect(rotated.kid).to.not.equal(before.kid);
      // Listed until its longest resident code (a printed one, PRINTED_CODE_TTL_DAYS = 7) has expired, plus the verifiers' minute of clock skew.
      expect(r.body.keys).to.deep.equal([
        {
          kid: before.kid,
          retiredAt: toRfc3339(svc.clock.seconds),
          listedUntil: toRfc3339(svc.clock.seconds + 7 * 86400 + 60),
          revokedAt: null,
        },
        { kid: rotated.kid, retiredAt: null, listedUntil: null, revokedAt: null },
      ]);

      const list = (await svc.call('GET', '/v1/trust-list')).body as TrustListJson;
      expect(list.issuers[0].keys.map((k) => k.kid)).to.deep.equal([before.kid, rotated.kid]);
    });

    it('still verifies a code signed before the rotation', async () => {
      const trust = (await svc.call('GET', '/v1/trust-list')).body;
      const statusBytes = new Uint8Array((await svc.call('GET', '/v1/status-list')).bytes);
      const now = svc.clock.now();
      const dynamic = await verifyCode(before.code, { trustList: trust, statusLists: [statusBytes], now });
      expect(dynamic, dynamic.message).to.include({ valid: true, code: 'VALID' });
      const printed = await verifyCode(before.printed, { trustList: trust, statusLists: [statusBytes], now });
      expect(printed, printed.message).to.include({ valid: true, code: 'VALID' });
    });

    it('signs new codes and the status list with the new key', async () => {
      const trust = (await svc.call('GET', '/v1/trust-list')).body;
      const fresh = await apply(svc, applicant());
      expect(kidOf(fresh.body.code.code)).to.equal(rotated.kid);
      // An existing resident's next code is re-issued under the new key.
      const again = await svc.call('GET', '/v1/residents/me/code', { token: before.token });
      expect(again.body.code).to.not.equal(before.code);
      expect(kidOf(again.body.code)).to.equal(rotated.kid);

      const statusBytes = new Uint8Array((await svc.call('GET', '/v1/status-list')).bytes);
      const status = await loadStatusList(statusBytes, prepareTrustList(trust));
      expect(status.valid && status.statusList.kid).to.equal(rotated.kid);
      const v = await verifyCode(again.body.code, {
        trustList: trust,
        statusLists: [statusBytes],
        now: svc.clock.now(),
      });
      expect(v.code).to.equal('VALID');
    });

    it('records the new key as a key.added event and the old one as key.retired', async () => {
      const events = await allEvents(svc.running.app.ledger);
      expect(events.filter((e) => e.type === 'key.added').map((e) => e.data.kid)).to.deep.equal([
        before.kid,
        rotated.kid,
      ]);
      const retired = events.filter((e) => e.type === 'key.retired');
      expect(retired.map((e) => e.data)).to.deep.equal([
        { kid: before.kid, retiredAt: svc.clock.seconds, acceptedUntil: svc.clock.seconds + 7 * 86400 },
      ]);
    });

    it('destroys the retired private key: no file of it is left in DATA_DIR, in any form', () => {
      expect(existsSync(join(svc.dir, 'keys', `${before.kid}.pem`))).to.equal(false);
      expect(filesHoldingKey(svc.dir, before.pem)).to.deep.equal([]);
      // The check finds a key that is there: the new one, whose file it reads.
      const current = readFileSync(join(svc.dir, 'keys', `${rotated.kid}.pem`), 'utf8');
      expect(filesHoldingKey(svc.dir, current)).to.deep.equal([join(svc.dir, 'keys', `${rotated.kid}.pem`)]);
    });

    it('re-signs a venue code with the new key when the venue is next read; the printed old one checks in until its key leaves the list', async () => {
      const r = await svc.call('GET', `/v1/venues/${before.venue.id}`, { token: svc.adminToken });
      expect(r.status).to.equal(200);
      expect(kidOf(r.body.code)).to.equal(rotated.kid);
      expect(r.body.code).to.not.equal(before.venue.code);
      const reissued = (await allEvents(svc.running.app.ledger)).filter((e) => e.type === 'venue.code.issued');
      expect(reissued.map((e) => e.data)).to.deep.include({
        cti: decodeCode(r.body.code).claims.cti,
        kid: rotated.kid,
        exp: decodeCode(r.body.code).claims.exp,
        replaces: decodeCode(before.venue.code).claims.cti,
      });
      // Read again: the same code, nothing re-signed.
      expect((await svc.call('GET', `/v1/venues/${before.venue.id}`, { token: svc.adminToken })).body.code).to.equal(
        r.body.code,
      );

      const resident = { token: before.token } as Parameters<typeof checkin>[1];
      const old = await checkin(svc, resident, before.venue);
      expect(old.status, JSON.stringify(old.body)).to.equal(201);
      svc.clock.advance(2 * MINUTE);
      const fresh = await checkin(svc, resident, { ...before.venue, code: r.body.code });
      expect(fresh.status, JSON.stringify(fresh.body)).to.equal(201);
    });

    it('keeps the retired key listed until the last resident code it signed has expired, then drops it, and its venue code with it', async () => {
      const retiredAt = svc.running.app.keys.all()[0].retiredAt!;
      const kids = async () =>
        ((await svc.call('GET', '/v1/trust-list')).body as TrustListJson).issuers[0].keys.map((k) => k.kid);
      const listedUntil = Date.parse(rotated.keys[0].listedUntil!) / 1000;
      expect(listedUntil).to.equal(retiredAt + 7 * 86400 + 60);
      svc.clock.ms = listedUntil * 1000;
      expect(await kids()).to.deep.equal([before.kid, rotated.kid]);
      svc.clock.ms = (listedUntil + 1) * 1000;
      expect(await kids()).to.deep.equal([rotated.kid]);

      const resident = { token: before.token } as Parameters<typeof checkin>[1];
      const old = await checkin(svc, resident, before.venue);
      expect(old.status).to.equal(422);
      expect(old.body.error).to.include({ code: 'CODE_REJECTED' });
      expect(old.body.error.fields[0].code).to.equal('UNKNOWN_KEY');
      const current = (await svc.call('GET', `/v1/venues/${before.venue.id}`, { token: svc.adminToken })).body.code;
      expect((await checkin(svc, resident, { ...before.venue, code: current })).status).to.equal(201);
    });
  });
});

describe("a retired key's window across restarts", function () {
  this.timeout(60_000);

  it('is the longest resident-code lifetime the key was ever set to sign: raising PRINTED_CODE_TTL_DAYS widens it, lowering it again does not narrow it', async () => {
    const tmp = tempDir('ankang-key-window-');
    try {
      const clock = new TestClock();
      const first = await startTestService({ dir: tmp.dir, clock, config: { PRINTED_CODE_TTL_DAYS: 7 } });
      const kid = first.running.app.keys.active().record.kid;
      expect(first.running.app.keys.active().record.longestCodeSeconds).to.equal(7 * 86400);
      await first.stop();
      const second = await startTestService({ dir: tmp.dir, clock, config: { PRINTED_CODE_TTL_DAYS: 30 } });
      expect(second.running.app.keys.active().record).to.include({ kid, longestCodeSeconds: 30 * 86400 });
      const widened = (await allEvents(second.running.app.ledger)).filter((e) => e.type === 'key.lifetime.widened');
      expect(widened.map((e) => e.data)).to.deep.equal([{ kid, longestCodeSeconds: 30 * 86400 }]);
      await second.stop();
      // Printed codes of 30 days may be out: a week's setting now must not cut them short.
      const third = await startTestService({ dir: tmp.dir, clock, config: { PRINTED_CODE_TTL_DAYS: 7 } });
      try {
        clock.advance(MINUTE);
        const r = await third.call('POST', '/v1/admin/keys/rotate', { token: third.adminToken });
        expect(r.body.keys[0]).to.deep.equal({
          kid,
          retiredAt: toRfc3339(clock.seconds),
          listedUntil: toRfc3339(clock.seconds + 30 * 86400 + 60),
          revokedAt: null,
        });
        expect(third.running.app.keys.active().record.longestCodeSeconds).to.equal(7 * 86400);
      } finally {
        await third.stop();
      }
    } finally {
      tmp.cleanup();
    }
  });
});

describe('code lifetime settings', () => {
  it('accept lifetimes up to the caps of FORMAT.md §4.3 (60 minutes, 30 days, 366 days)', () => {
    const c = loadConfig({ CODE_TTL_MINUTES: '60', PRINTED_CODE_TTL_DAYS: '30', VENUE_CODE_TTL_DAYS: '366' });
    expect(c).to.include({ CODE_TTL_MINUTES: 60, PRINTED_CODE_TTL_DAYS: 30, VENUE_CODE_TTL_DAYS: 366 });
  });

  it('refuse a lifetime over its cap at start-up, naming the cap and the result verifiers would give', () => {
    expect(() =>
      loadConfig({ CODE_TTL_MINUTES: '61', PRINTED_CODE_TTL_DAYS: '31', VENUE_CODE_TTL_DAYS: '367' }),
    ).to.throw(
      [
        'invalid configuration:',
        '  CODE_TTL_MINUTES: at most 60 minutes: verifiers refuse longer-lived codes (LIFETIME_TOO_LONG, FORMAT.md §4.3)',
        '  PRINTED_CODE_TTL_DAYS: at most 30 days: verifiers refuse longer-lived codes (LIFETIME_TOO_LONG, FORMAT.md §4.3)',
        '  VENUE_CODE_TTL_DAYS: at most 366 days: verifiers refuse longer-lived codes (LIFETIME_TOO_LONG, FORMAT.md §4.3)',
      ].join('\n'),
    );
  });
});

describe("key lifetimes at the gate, with the chain's revocations (a real Hardhat node)", function () {
  this.timeout(180_000);
  let sc: KeyScenario;
  let scan: (code: string) => Promise<{ decision: string; codeResult: string }>;
  let checkIn: (code: string) => Promise<{ status: number; body: any }>;

  before(async () => {
    sc = await startKeyScenario();
    scan = async (code) => {
      const r = await staffScan(sc.svc, sc.operator, { venueId: sc.venue.id, code });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      return r.body;
    };
    // A new minute each time, so that no check-in is a replay of the one before.
    checkIn = async (code) => {
      sc.svc.clock.advance(2 * MINUTE);
      return checkin(sc.svc, sc.resident, { ...sc.venue, code });
    };
  });
  after(async () => {
    await sc?.close();
  });

  describe('once the governor has revoked the key the service signed with', () => {
    it('publishes it under revokedKeys with the block time of the revocation, and among no keys', async () => {
      const [own] = (await sc.trustList()).issuers;
      expect(own.keys.map((k) => k.kid)).to.deep.equal([sc.a.kid, sc.c.kid]);
      expect(own.revokedKeys).to.deep.equal([{ kid: sc.b.kid, revokedAt: toRfc3339(sc.revokedAt) }]);
      expect(sc.svc.running.app.keys.all().find((k) => k.kid === sc.b.kid)).to.include({ revokedAt: sc.revokedAt });
    });

    it('signs nothing more with it: resident codes, venue codes and the status list are signed with the next key', async () => {
      const code = await sc.svc.call('GET', '/v1/residents/me/code', { token: sc.resident.token });
      expect(kidOf(code.body.code)).to.equal(sc.c.kid);
      const venue = await sc.svc.call('GET', `/v1/venues/${sc.venue.id}`, { token: sc.operator });
      expect(kidOf(venue.body.code)).to.equal(sc.c.kid);
      const status = await loadStatusList(
        new Uint8Array(await sc.statusList()),
        prepareTrustList(await sc.trustList()),
      );
      expect(status.valid && status.statusList.kid).to.equal(sc.c.kid);
    });

    it('leaves no private key of it, or of the retired key, in DATA_DIR', () => {
      expect(readdirSync(join(sc.svc.dir, 'keys'))).to.deep.equal([`${sc.c.kid}.pem`]);
      expect(filesHoldingKey(sc.svc.dir, sc.a.pem)).to.deep.equal([]);
      expect(filesHoldingKey(sc.svc.dir, sc.b.pem)).to.deep.equal([]);
    });

    it('denies its codes at a staff scan, including one dated before the revocation (KEY_REVOKED)', async () => {
      expect(await scan(sc.forged.revokedPrinted)).to.include({ decision: 'deny', codeResult: 'KEY_REVOKED' });
      expect(await scan(sc.forged.revoked2036)).to.include({ decision: 'deny', codeResult: 'KEY_REVOKED' });
    });

    it('refuses its venue code at check-in (CODE_REJECTED, KEY_REVOKED)', async () => {
      const r = await checkIn(sc.forged.revokedVenue);
      expect(r.status).to.equal(422);
      expect(r.body.error.code).to.equal('CODE_REJECTED');
      expect(r.body.error.fields[0]).to.include({ path: 'venueCode', code: 'KEY_REVOKED' });
    });
  });

  describe('codes over their lifetime cap', () => {
    it('are denied at a staff scan with LIFETIME_TOO_LONG, even under a trusted key', async () => {
      expect(await scan(sc.forged.overCapDynamic)).to.include({ decision: 'deny', codeResult: 'LIFETIME_TOO_LONG' });
      expect(await scan(sc.forged.overCapPrinted)).to.include({ decision: 'deny', codeResult: 'LIFETIME_TOO_LONG' });
      // The retired key is still listed: only the cap stops its code that runs to 2036.
      expect(await scan(sc.forged.retired2036)).to.include({ decision: 'deny', codeResult: 'LIFETIME_TOO_LONG' });
    });

    it('are refused at check-in with LIFETIME_TOO_LONG', async () => {
      const r = await checkIn(sc.forged.overCapVenue);
      expect(r.status).to.equal(422);
      expect(r.body.error.fields[0]).to.include({ code: 'LIFETIME_TOO_LONG' });
    });
  });

  describe('a code of this issuer naming a status index it never gave out', () => {
    it('is denied at a staff scan with STATUS_INDEX_UNKNOWN, naming the index', async () => {
      // 999 lies inside the status list (cover), but no resident holds it.
      expect((decodeCode(sc.forged.unknownIndex).claims as ResidentClaims).health.statusIndex).to.be.below(
        sc.svc.running.app.statusBook.listSize,
      );
      expect(sc.svc.running.app.statusBook.isIssued(999)).to.equal(false);
      const r = await staffScan(sc.svc, sc.operator, { venueId: sc.venue.id, code: sc.forged.unknownIndex });
      expect(r.body).to.include({ decision: 'deny', codeResult: 'STATUS_INDEX_UNKNOWN' });
      const seq = r.body.seq as number;
      const event = await sc.svc.running.app.ledger.getEvent(seq);
      expect(event!.data).to.include({ codeResult: 'STATUS_INDEX_UNKNOWN', decision: 'deny' });
      const verdict = await sc.svc.running.services.scans.verifyResidentCode(sc.forged.unknownIndex);
      expect(verdict.message).to.equal('status index 999 is not held by any resident of this issuer');
    });

    it("is admitted with the same claims and key once the index is the resident's own", async () => {
      const claims = decodeCode(sc.forged.unknownIndex).claims as ResidentClaims;
      const statusIndex = (await sc.svc.call('GET', '/v1/residents/me', { token: sc.resident.token })).body.resident
        .statusIndex as number;
      const code = await signCode(
        { ...claims, cti: 'c0000000000000ff', health: { ...claims.health, statusIndex } },
        sc.svc.running.app.keys.active().signer,
      );
      await sc.indexAsIssued(code);
      expect(await scan(code)).to.include({ decision: 'admit', codeResult: 'VALID' });
    });
  });

  describe('the retired key', () => {
    it('is trusted only inside its window: a code forged with it before it retired is admitted until the window closes', async () => {
      const r = await scan(sc.forged.retiredPrinted);
      expect(r, JSON.stringify(r)).to.include({ decision: 'admit', codeResult: 'VALID' });
      expect((await checkIn(sc.forged.retiredVenue)).status).to.equal(201);
    });

    describe('after its last code has expired', () => {
      before(() => sc.passRetirementWindow());

      it('is gone from the trust list; the revoked key is still named', async () => {
        const [own] = (await sc.trustList()).issuers;
        expect(own.keys.map((k) => k.kid)).to.deep.equal([sc.c.kid]);
        expect(own.revokedKeys!.map((k) => k.kid)).to.deep.equal([sc.b.kid]);
      });

      it('has its codes denied at a staff scan though they have not expired (UNKNOWN_KEY)', async () => {
        const printed = decodeCode(sc.forged.retiredPrinted).claims;
        expect(printed.exp * 1000).to.be.greaterThan(sc.svc.clock.now().getTime());
        expect(await scan(sc.forged.retiredPrinted)).to.include({ decision: 'deny', codeResult: 'UNKNOWN_KEY' });
        expect(await scan(sc.forged.retired2036)).to.include({ decision: 'deny', codeResult: 'UNKNOWN_KEY' });
        expect(await scan(sc.forged.revokedPrinted)).to.include({ decision: 'deny', codeResult: 'KEY_REVOKED' });
      });

      it('has its venue code refused at check-in (UNKNOWN_KEY)', async () => {
        const r = await checkIn(sc.forged.retiredVenue);
        expect(r.status).to.equal(422);
        expect(r.body.error.fields[0]).to.include({ code: 'UNKNOWN_KEY' });
      });
    });
  });

  describe('ANKANG_SIGNING_KEY', () => {
    it('holding a retired or a revoked key stops start-up with a message naming the key and when it stopped signing', async () => {
      await sc.svc.stop();
      const config = configSchema.parse({ PORT: 0, DATA_DIR: sc.svc.dir, LOG_LEVEL: 'silent' });
      const retired = sc.svc.running.app.keys.all().find((k) => k.kid === sc.a.kid)!;
      await openContext(config, { env: { ANKANG_SIGNING_KEY: sc.a.pem } }).then(
        () => expect.fail('started with a retired key'),
        (e: Error) =>
          expect(e.message).to.equal(
            `ANKANG_SIGNING_KEY holds key ${sc.a.kid}, which was retired at ${toRfc3339(retired.retiredAt!)} and signs nothing more: give a new key, or unset it to have one generated`,
          ),
      );
      await openContext(config, { env: { ANKANG_SIGNING_KEY: sc.b.pem } }).then(
        () => expect.fail('started with a revoked key'),
        (e: Error) =>
          expect(e.message).to.match(
            new RegExp(`^ANKANG_SIGNING_KEY holds key ${sc.b.kid}, which was revoked at ${toRfc3339(sc.revokedAt)} `),
          ),
      );
    });
  });

  describe('a private key of a retired key found on disk at start-up (a crash before it was destroyed)', () => {
    it('is destroyed before the service signs anything', async () => {
      await sc.svc.stop();
      const path = join(sc.svc.dir, 'keys', `${sc.a.kid}.pem`);
      writeFileSync(path, sc.a.pem, { mode: 0o600 });
      const config = configSchema.parse({ PORT: 0, DATA_DIR: sc.svc.dir, LOG_LEVEL: 'silent' });
      const app = await openContext(config, { env: {} });
      try {
        expect(existsSync(path)).to.equal(false);
        expect(filesHoldingKey(sc.svc.dir, sc.a.pem)).to.deep.equal([]);
        expect(app.keys.active().record.kid).to.equal(sc.c.kid);
      } finally {
        await app.ledger.close();
      }
    });
  });
});

describe('ledger', function () {
  this.timeout(60_000);
  let svc: TestService;
  let tmp: ReturnType<typeof tempDir>;

  before(async () => {
    tmp = tempDir('ankang-ledger-');
    svc = await startTestService({ dir: tmp.dir });
    const health = await svc.token('health');
    const first = applicant();
    const a = await apply(svc, first);
    await apply(svc, { ...first, declaration: { temperatureC: 38 } });
    await apply(svc, applicant({ idType: 'taiwan-permit' }));
    await svc.call('GET', '/v1/residents/me/code?mode=printed', { token: a.token });
    const rules = structuredClone(defaultRules);
    rules.description.en = 'second version';
    expect((await svc.call('PUT', '/v1/rules', { token: health, json: rules })).status).to.equal(201);
    await svc.running.services.reevaluator.sweepAll('test');
    const contacts = await svc.call('POST', '/v1/feeds/close-contacts', {
      token: health,
      json: {
        records: [
          { idType: first.idType, idNumber: first.idNumber, degree: 1, exposedAt: svc.clock.now().toISOString() },
        ],
      },
    });
    expect(contacts.status).to.equal(201);
    expect(
      (
        await svc.call('POST', '/v1/feeds/risk-areas', {
          token: health,
          json: { areas: [{ region: '420100', level: 'high', since: svc.clock.now().toISOString() }] },
        })
      ).status,
    ).to.equal(201);
    await svc.running.services.reevaluator.sweepAll('test');
    expect((await svc.call('POST', '/v1/admin/keys/rotate', { token: svc.adminToken })).status).to.equal(201);
  });
  after(async () => {
    await svc?.close();
    tmp?.cleanup();
  });

  it('records applications, issuances, status changes, rule versions, feed imports, keys and tokens as events', async () => {
    const types = new Set((await allEvents(svc.running.app.ledger)).map((e) => e.type));
    for (const t of [
      'resident.applied',
      'declaration.submitted',
      'code.issued',
      'status.changed',
      'rules.published',
      'feed.imported',
      'key.added',
      'token.issued',
    ]) {
      expect(types, t).to.include(t);
    }
  });

  it('chains every resident event under the subject r:<pseudonym>', async () => {
    const events = await allEvents(svc.running.app.ledger);
    for (const e of events.filter((x) =>
      ['resident.applied', 'declaration.submitted', 'code.issued', 'status.changed'].includes(x.type),
    )) {
      expect(e.subjects).to.have.length(1);
      expect(e.subjects[0]).to.match(/^r:[A-Za-z0-9_-]{16}$/);
    }
  });

  it('GET /v1/ledger/head names the last event', async () => {
    const head = await svc.head();
    const last = await svc.running.app.ledger.getEvent(head.seq);
    expect(last!.hash).to.equal(head.hash);
    expect(await svc.running.app.ledger.getEvent(head.seq + 1)).to.equal(undefined);
  });

  it('verifyChain is ok after all of it', async () => {
    const report = await verifyChain(svc.running.app.ledger);
    expect(report.ok, JSON.stringify(report.broken)).to.equal(true);
    expect(report.head).to.deep.equal(await svc.head());
    expect(report.events).to.equal(report.head.seq);
  });

  describe('scripts/ledger-verify.ts', () => {
    it('exits 2 while the service holds the database', async () => {
      const r = await runLedgerVerify(['--data-dir', tmp.dir]);
      expect(r.code, r.stderr).to.equal(2);
      expect(r.stderr).to.match(/in use/);
    });

    it('exits 0 with a one-line report on an intact data folder (from --data-dir or DATA_DIR)', async () => {
      const head = await svc.head();
      await svc.stop();
      const byArg = await runLedgerVerify(['--data-dir', tmp.dir]);
      expect(byArg.code, byArg.stderr).to.equal(0);
      expect(byArg.stdout).to.match(/^ok: \d+ events, \d+ subjects, head \d+ [0-9a-f]{64}\n$/);
      expect(byArg.stdout).to.contain(`${head.seq} events`);
      expect(byArg.stdout).to.contain(`head ${head.seq} ${head.hash}`);
      const byEnv = await runLedgerVerify([], { DATA_DIR: tmp.dir });
      expect(byEnv.code).to.equal(0);
      expect(byEnv.stdout).to.equal(byArg.stdout);
    });

    it('exits 1 naming the first broken link once an event was altered in LevelDB', async () => {
      const db = new Level<string, unknown>(join(tmp.dir, 'ledger'), { valueEncoding: 'json' });
      const events = db.sublevel<string, unknown>('events', { valueEncoding: 'json' });
      const target = 5;
      const e = (await events.get(seqKey(target))) as LedgerEvent;
      expect(e.seq).to.equal(target);
      await events.put(seqKey(target), { ...e, data: { ...e.data, tampered: true } });
      await db.close();

      const r = await runLedgerVerify(['--data-dir', tmp.dir]);
      expect(r.code).to.equal(1);
      expect(r.stdout).to.equal(
        `broken at event ${target}: the event does not match its hash (${target - 1} events before it are intact)\n`,
      );
    });

    it('exits 1 when an event was removed', async () => {
      const db = new Level<string, unknown>(join(tmp.dir, 'ledger'), { valueEncoding: 'json' });
      const events = db.sublevel<string, unknown>('events', { valueEncoding: 'json' });
      await events.del(seqKey(3));
      await db.close();
      const r = await runLedgerVerify(['--data-dir', tmp.dir]);
      expect(r.code).to.equal(1);
      expect(r.stdout).to.match(/^broken at event 3: event 3 is missing/);
    });

    it('exits 2 when there is no ledger in the folder, without creating one', async () => {
      const empty = tempDir('ankang-empty-');
      try {
        const r = await runLedgerVerify(['--data-dir', empty.dir]);
        expect(r.code).to.equal(2);
        expect(r.stderr).to.match(/no ledger/);
      } finally {
        empty.cleanup();
      }
    });
  });
});
