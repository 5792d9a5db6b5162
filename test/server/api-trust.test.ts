import { expect } from 'chai';
import { join } from 'node:path';
import { Level } from 'level';
import { decodeCode, loadStatusList, prepareTrustList, toBase64Url, verifyCode, type TrustListJson } from '../../verifier/src';
import type { LedgerEvent } from '../../verifier/src/event';
import { Ledger, seqKey } from '../../server/ledger/ledger';
import { verifyChain } from '../../server/ledger/verify-chain';
import defaultRules from '../../server/rules/default-rules.json';
import { applicant, apply, MINUTE, runLedgerVerify, startTestService, type TestService } from '../support/service';
import { tempDir } from '../support/tmp';

const kidOf = (code: string) => toBase64Url(decodeCode(code).kid);

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
    let before: { code: string; printed: string; token: string; kid: string };
    let rotated: { kid: string };

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
      before = { code: applied.body.code.code, printed: printed.body.code, token: applied.token, kid: kidOf(applied.body.code.code) };
      expect(kidOf(before.printed)).to.equal(before.kid);

      svc.clock.advance(MINUTE);
      const r = await svc.call('POST', '/v1/admin/keys/rotate', { token: svc.adminToken });
      expect(r.status).to.equal(201);
      rotated = r.body;
      expect(rotated.kid).to.not.equal(before.kid);
      expect(r.body.keys).to.deep.equal([
        { kid: before.kid, retiredAt: new Date(svc.clock.seconds * 1000).toISOString().replace('.000', '') },
        { kid: rotated.kid, retiredAt: null },
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
      const v = await verifyCode(again.body.code, { trustList: trust, statusLists: [statusBytes], now: svc.clock.now() });
      expect(v.code).to.equal('VALID');
    });

    it('records the new key as a key.added event', async () => {
      const added = (await allEvents(svc.running.app.ledger)).filter((e) => e.type === 'key.added');
      expect(added.map((e) => e.data.kid)).to.deep.equal([before.kid, rotated.kid]);
    });

    it('keeps the retired key listed until the longest-lived code it signed has expired, then drops it', async () => {
      const config = svc.running.app.config as unknown as Record<string, number | undefined>;
      const longestDays = Math.max(config.PRINTED_CODE_TTL_DAYS ?? 0, config.VENUE_CODE_TTL_DAYS ?? 0);
      const retiredAt = svc.running.app.keys.all()[0].retiredAt!;
      const kids = async () => ((await svc.call('GET', '/v1/trust-list')).body as TrustListJson).issuers[0].keys.map((k) => k.kid);
      svc.clock.ms = (retiredAt + longestDays * 86400) * 1000;
      expect(await kids()).to.deep.equal([before.kid, rotated.kid]);
      svc.clock.ms = (retiredAt + longestDays * 86400 + 2 * 3600) * 1000;
      expect(await kids()).to.deep.equal([rotated.kid]);
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
      json: { records: [{ idType: first.idType, idNumber: first.idNumber, degree: 1, exposedAt: svc.clock.now().toISOString() }] },
    });
    expect(contacts.status).to.equal(201);
    expect((await svc.call('POST', '/v1/feeds/risk-areas', { token: health, json: { areas: [{ region: '420100', level: 'high', since: svc.clock.now().toISOString() }] } })).status).to.equal(201);
    await svc.running.services.reevaluator.sweepAll('test');
    expect((await svc.call('POST', '/v1/admin/keys/rotate', { token: svc.adminToken })).status).to.equal(201);
  });
  after(async () => {
    await svc?.close();
    tmp?.cleanup();
  });

  it('records applications, issuances, status changes, rule versions, feed imports, keys and tokens as events', async () => {
    const types = new Set((await allEvents(svc.running.app.ledger)).map((e) => e.type));
    for (const t of ['resident.applied', 'declaration.submitted', 'code.issued', 'status.changed', 'rules.published', 'feed.imported', 'key.added', 'token.issued']) {
      expect(types, t).to.include(t);
    }
  });

  it('chains every resident event under the subject r:<pseudonym>', async () => {
    const events = await allEvents(svc.running.app.ledger);
    for (const e of events.filter((x) => ['resident.applied', 'declaration.submitted', 'code.issued', 'status.changed'].includes(x.type))) {
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
      expect(r.stdout).to.equal(`broken at event ${target}: the event does not match its hash (${target - 1} events before it are intact)\n`);
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
        const none = await runLedgerVerify([], { DATA_DIR: '' });
        expect(none.code).to.equal(2);
      } finally {
        empty.cleanup();
      }
    });
  });
});
