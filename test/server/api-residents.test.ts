import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  decodeCode,
  loadStatusList,
  prepareTrustList,
  toBase64Url,
  verifyCode,
  type ResidentClaims,
  type TrustListJson,
} from '../../verifier/src';
import { canonicalJson, type LedgerEvent } from '../../verifier/src/event';
import { applySchema } from '../../server/services/residents';
import { tempDir } from '../support/tmp';
import {
  applicant,
  apply,
  MINUTE,
  startTestService,
  type IdType,
  type Reply,
  type TestService,
} from '../support/service';

const ID_TYPES: IdType[] = ['resident-id', 'passport', 'hk-macao-permit', 'taiwan-permit'];

async function trustList(svc: TestService): Promise<TrustListJson> {
  return (await svc.call('GET', '/v1/trust-list')).body;
}

async function statusList(svc: TestService): Promise<Uint8Array> {
  return new Uint8Array((await svc.call('GET', '/v1/status-list')).bytes);
}

function claimsOf(code: string): ResidentClaims {
  return decodeCode(code).claims as ResidentClaims;
}

async function allEvents(svc: TestService): Promise<LedgerEvent[]> {
  const out: LedgerEvent[] = [];
  for await (const e of svc.running.app.ledger.events()) out.push(e);
  return out;
}

async function countResidents(svc: TestService): Promise<number> {
  let n = 0;
  for await (const _ of svc.running.app.ledger.space('residents').keys()) n++;
  return n;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

describe('residents API', function () {
  this.timeout(30_000);
  let svc: TestService;

  before(async () => {
    svc = await startTestService();
  });
  after(async () => {
    await svc?.close();
  });

  describe('POST /v1/residents', () => {
    const issued: Array<{ type: IdType; statusIndex: number; pseudonym: string }> = [];

    for (const type of ID_TYPES) {
      describe(`with a ${type}`, () => {
        it('answers 201 with a status index, a colour and a code the verifier accepts, for the signed-in identity', async () => {
          const body = applicant({ idType: type });
          const r = await apply(svc, body);
          expect(r.status).to.equal(201);
          const { resident, code } = r.body;
          const token = r.token;
          // No token in the answer: the session the resident signed in with is the only way to the record.
          expect(r.body).to.not.have.property('token');
          expect(resident.statusIndex).to.be.a('number');
          expect(resident.colour).to.equal('green');
          expect(resident.idType).to.equal(type);
          expect(resident.pseudonym).to.match(/^[A-Za-z0-9_-]{16}$/);
          expect(token).to.match(/^ak_resident_/);
          expect(code.code).to.match(/^AK1:/);
          expect(code.colour).to.equal('green');
          expect(code.mode).to.equal('dynamic');

          const trust = await trustList(svc);
          const v = await verifyCode(code.code, {
            trustList: trust,
            statusLists: [await statusList(svc)],
            now: svc.clock.now(),
          });
          expect(v, v.message).to.include({ valid: true, code: 'VALID' });
          const claims = v.claims as ResidentClaims;
          expect(claims.iss).to.equal('340000');
          // No stable identifier in a resident code (FORMAT.md §4): the issuer finds the resident by cti.
          expect(claims).to.not.have.property('sub');
          expect(claims.health).to.include({
            colour: 'green',
            statusIndex: resident.statusIndex,
            ruleVersion: 1,
            mode: 'dynamic',
            maskedName: resident.maskedName,
          });
          expect(claims.health.idLast4).to.equal(body.idNumber.slice(-4));

          // The session reads the resident it applied for.
          const me = await svc.call('GET', '/v1/residents/me', { token });
          expect(me.status).to.equal(200);
          expect(me.body.resident.pseudonym).to.equal(resident.pseudonym);
          issued.push({ type, statusIndex: resident.statusIndex, pseudonym: resident.pseudonym });
        });
      });
    }

    it('writes two events for a new resident: the application with its first colour, and the code', async () => {
      const before = (await svc.head()).seq;
      const r = await apply(svc, applicant());
      expect(r.status).to.equal(201);
      const events = (await allEvents(svc)).filter((e) => e.seq > before);
      expect(events.map((e) => e.type)).to.deep.equal(['resident.applied', 'code.issued']);
      const [applied, issuedCode] = events;
      expect(applied.subjects).to.deep.equal([`r:${r.body.resident.pseudonym}`]);
      expect(applied.data).to.include({ colour: 'green', ruleVersion: 1, statusIndex: r.body.resident.statusIndex });
      expect(applied.data.rules).to.deep.equal([]);
      expect(issuedCode.data).to.include({ cti: claimsOf(r.body.code.code).cti, colour: 'green' });
    });

    describe('across the four ID types', () => {
      it('gives every person their own status index and pseudonym', () => {
        expect(issued).to.have.length(ID_TYPES.length);
        expect(new Set(issued.map((i) => i.statusIndex)).size).to.equal(issued.length);
        expect(new Set(issued.map((i) => i.pseudonym)).size).to.equal(issued.length);
      });
    });

    describe('when the same person applies again', () => {
      it('answers 200 with the same pseudonym and status index, applies the new declaration and keeps one record', async () => {
        const body = applicant();
        const first = await apply(svc, body);
        expect(first.status).to.equal(201);
        const residentsBefore = await countResidents(svc);

        svc.clock.advance(5 * MINUTE);
        const again = await apply(svc, { ...body, declaration: { ...body.declaration, temperatureC: 38.2 } });
        expect(again.status).to.equal(200);
        expect(again.body.resident.pseudonym).to.equal(first.body.resident.pseudonym);
        expect(again.body.resident.statusIndex).to.equal(first.body.resident.statusIndex);
        expect(again.body.resident.colour).to.equal('yellow');
        expect(again.body.resident.reasons.map((x: { id: string }) => x.id)).to.deep.equal(['fever']);
        expect(again.body.code.colour).to.equal('yellow');
        expect(claimsOf(again.body.code.code).health.colour).to.equal('yellow');
        expect(await countResidents(svc)).to.equal(residentsBefore);

        const subject = `r:${first.body.resident.pseudonym}`;
        const types = (await allEvents(svc)).filter((e) => e.subjects.includes(subject)).map((e) => e.type);
        expect(types.filter((t) => t === 'resident.applied')).to.have.length(1);
        expect(types.filter((t) => t === 'declaration.submitted')).to.have.length(1);
        // Green came with the application itself; the declaration's fever is the one change.
        expect(types.filter((t) => t === 'status.changed')).to.have.length(1);
        const events = (await allEvents(svc)).filter((e) => e.subjects.includes(subject));
        expect(events.find((e) => e.type === 'resident.applied')!.data).to.include({ colour: 'green' });
        expect(events.find((e) => e.type === 'status.changed')!.data).to.include({ from: 'green', to: 'yellow' });

        // Both tokens stay valid and name the same record.
        const me = await svc.call('GET', '/v1/residents/me', { token: first.token });
        expect(me.body.resident.colour).to.equal('yellow');
      });

      it('keeps a new phone and home district even when the colour and the code stay the same', async () => {
        const body = applicant({ phone: '13800001111', district: '340104' });
        const first = await apply(svc, body);
        svc.clock.advance(MINUTE);
        const again = await apply(svc, { ...body, phone: '13900002222', district: '340102' });
        expect(again.status).to.equal(200);
        expect(again.body.code.code, 'the code was still current').to.equal(first.body.code.code);
        expect(again.body.resident).to.include({ district: '340102', colour: 'green' });
        expect(again.body.resident.maskedPhone).to.match(/2222$/);
        const me = await svc.call('GET', '/v1/residents/me', { token: first.token });
        expect(me.body.resident).to.include({ district: '340102', maskedPhone: again.body.resident.maskedPhone });
      });

      it('refuses a body naming another name than the signed-in one with 403 IDENTITY_NOT_YOURS and writes nothing', async () => {
        const body = applicant();
        const first = await apply(svc, body);
        expect(first.status).to.equal(201);
        const head = await svc.head();
        const r = await apply(svc, { ...body, name: '欧阳冒名' }, { session: first.session });
        expect(r.status).to.equal(403);
        expect(r.body.error.code).to.equal('IDENTITY_NOT_YOURS');
        expect(await svc.head()).to.deep.equal(head);
      });

      it('takes the identity from the sign-in alone: a body without ID fields applies for the signed-in person', async () => {
        const body = applicant();
        const session = await svc.signIn(body);
        const { idType: _t, idNumber: _n, name: _name, ...rest } = body;
        const r = await apply(svc, rest, { session });
        expect(r.status, JSON.stringify(r.body)).to.equal(201);
        expect(r.body.resident.maskedId.slice(-4)).to.equal(body.idNumber.slice(-4));
        expect(r.body.resident.maskedName[0]).to.equal(body.name[0]);
      });

      it('treats spaces and lower case in the ID number as the same person', async () => {
        const body = applicant({ idType: 'passport' });
        const first = await apply(svc, body);
        const again = await apply(svc, { ...body, idNumber: ` ${body.idNumber.toLowerCase()} ` });
        expect(again.status).to.equal(200);
        expect(again.body.resident.pseudonym).to.equal(first.body.resident.pseudonym);
      });
    });

    describe('with an Idempotency-Key', () => {
      it('answers a retry with the same body with the identical response and does not move the ledger', async () => {
        const body = applicant();
        const key = 'retry-key-0001';
        const first = await apply(svc, body, { idempotencyKey: key });
        expect(first.status).to.equal(201);
        const head = await svc.head();
        svc.clock.advance(MINUTE);
        const retry = await apply(svc, body, { idempotencyKey: key });
        expect(retry.status).to.equal(201);
        expect(retry.body).to.deep.equal(first.body);
        expect(await svc.head()).to.deep.equal(head);
      });

      it('answers 422 IDEMPOTENCY_KEY_REUSED when the key comes back with another body', async () => {
        const body = applicant();
        const key = 'retry-key-0002';
        expect((await apply(svc, body, { idempotencyKey: key })).status).to.equal(201);
        const head = await svc.head();
        const r = await apply(
          svc,
          { ...body, declaration: { ...body.declaration, temperatureC: 37.9 } },
          { idempotencyKey: key },
        );
        expect(r.status).to.equal(422);
        expect(r.body.error.code).to.equal('IDEMPOTENCY_KEY_REUSED');
        expect(await svc.head()).to.deep.equal(head);
      });

      it('forgets a key after IDEMPOTENCY_TTL_HOURS: the sweep deletes it and the key can carry a new request', async () => {
        const body = applicant();
        const key = 'retry-key-0003';
        const first = await apply(svc, body, { idempotencyKey: key });
        expect(first.status).to.equal(201);
        const stored = async () => {
          const keys: string[] = [];
          for await (const k of svc.running.app.ledger.space('idempotency').keys()) if (k.includes(key)) keys.push(k);
          return keys;
        };
        expect(await stored()).to.have.length(2);
        const { idempotency } = svc.running.services;
        svc.clock.advance(23 * 60 * MINUTE);
        expect(await idempotency.sweep(svc.running.app.ledger, svc.clock.now())).to.equal(0);
        expect(
          (await apply(svc, { ...body, phone: '13912345678' }, { idempotencyKey: key })).status,
          'still remembered at 23 h',
        ).to.equal(422);

        svc.clock.advance(2 * 60 * MINUTE);
        expect(await idempotency.sweep(svc.running.app.ledger, svc.clock.now())).to.be.at.least(1);
        expect(await stored()).to.deep.equal([]);
        const again = await apply(svc, { ...body, phone: '13912345678' }, { idempotencyKey: key });
        expect(again.status, 'a new request under the old key').to.equal(200);
        expect(again.body.resident.maskedPhone).to.match(/5678$/);
      });

      it('treats an expired key as unused even before the sweep has run, and the sweep keeps the newer entry', async () => {
        const body = applicant();
        const key = 'retry-key-0004';
        expect((await apply(svc, body, { idempotencyKey: key })).status).to.equal(201);
        svc.clock.advance(25 * 60 * MINUTE);
        const reuse = await apply(svc, { ...body, phone: '13987654321' }, { idempotencyKey: key });
        expect(reuse.status).to.equal(200);
        await svc.running.services.idempotency.sweep(svc.running.app.ledger, svc.clock.now());
        const retry = await apply(svc, { ...body, phone: '13987654321' }, { idempotencyKey: key });
        expect(retry.body, 'the second use is still remembered').to.deep.equal(reuse.body);
      });

      it('answers 400 IDEMPOTENCY_KEY_INVALID for a key outside the allowed characters', async () => {
        const head = await svc.head();
        const r = await apply(svc, applicant(), { idempotencyKey: 'no spaces allowed' });
        expect(r.status).to.equal(400);
        expect(r.body.error.code).to.equal('IDEMPOTENCY_KEY_INVALID');
        expect(await svc.head()).to.deep.equal(head);
      });
    });
  });

  describe('GET /v1/residents/me/code', () => {
    let token: string;
    let pseudonym: string;

    before(async () => {
      const r = await apply(svc, applicant());
      token = r.token;
      pseudonym = r.body.resident.pseudonym;
    });

    it('returns a dynamic code that lives 10 minutes', async () => {
      const r = await svc.call('GET', '/v1/residents/me/code', { token });
      expect(r.status).to.equal(200);
      expect(r.headers.get('cache-control')).to.equal('no-store');
      expect(r.body).to.include({ mode: 'dynamic', colour: 'green', issuer: '340000', ruleVersion: 1 });
      const c = claimsOf(r.body.code);
      expect(c).to.not.have.property('sub');
      expect(JSON.stringify(c)).to.not.include(pseudonym);
      expect(c.health.mode).to.equal('dynamic');
      expect(c.exp - c.iat).to.equal(600);
      expect(r.body.expiresAt).to.equal(new Date(c.exp * 1000).toISOString());
    });

    it('returns a printed code that lives 7 days and needs a status list to verify', async () => {
      const r = await svc.call('GET', '/v1/residents/me/code?mode=printed', { token });
      expect(r.status).to.equal(200);
      expect(r.body.mode).to.equal('printed');
      const c = claimsOf(r.body.code);
      expect(c.health.mode).to.equal('printed');
      expect(c.exp - c.iat).to.equal(7 * 86400);
      const trust = await trustList(svc);
      const now = svc.clock.now();
      expect((await verifyCode(r.body.code, { trustList: trust, now })).code).to.equal('STATUS_STALE');
      expect(
        (await verifyCode(r.body.code, { trustList: trust, statusLists: [await statusList(svc)], now })).code,
      ).to.equal('VALID');
    });

    it('refuses a mode other than dynamic or printed', async () => {
      const r = await svc.call('GET', '/v1/residents/me/code?mode=forever', { token });
      expect(r.status).to.equal(400);
      expect(r.body.error.code).to.equal('VALIDATION_FAILED');
    });

    it('renders the same code as a PNG that zbarimg reads back exactly', async () => {
      const json = await svc.call('GET', '/v1/residents/me/code', { token });
      const png = await svc.call('GET', '/v1/residents/me/code.png', { token });
      expect(png.status).to.equal(200);
      expect(png.headers.get('content-type')).to.equal('image/png');
      const tmp = tempDir('ankang-png-');
      try {
        const file = join(tmp.dir, 'code.png');
        writeFileSync(file, png.bytes);
        const text = execFileSync('/usr/bin/zbarimg', ['--raw', '-q', file], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'ignore'],
        });
        expect(text.replace(/\n$/, '')).to.equal(json.body.code);
      } finally {
        tmp.cleanup();
      }
    });

    it('renders the code as an SVG', async () => {
      const svg = await svc.call('GET', '/v1/residents/me/code.svg', { token });
      expect(svg.status).to.equal(200);
      expect(svg.headers.get('content-type')).to.match(/^image\/svg\+xml/);
      const text = svg.bytes.toString('utf8');
      expect(text).to.match(/^<svg [^>]*viewBox="0 0 \d+ \d+"/);
      expect(text).to.contain('<path');
    });

    it('returns the same code within the refresh margin and a new one (new cti) past it', async () => {
      const first = await svc.call('GET', '/v1/residents/me/code', { token });
      svc.clock.advance(5 * MINUTE);
      const within = await svc.call('GET', '/v1/residents/me/code', { token });
      expect(within.body.code).to.equal(first.body.code);

      // Refresh margin is 120 s of a 600 s code: 8 minutes after issuance it is re-issued.
      const c1 = claimsOf(first.body.code);
      svc.clock.ms = (c1.exp - 120 + 1) * 1000;
      const renewed = await svc.call('GET', '/v1/residents/me/code', { token });
      expect(renewed.body.code).to.not.equal(first.body.code);
      const c2 = claimsOf(renewed.body.code);
      expect(c2.cti).to.not.equal(c1.cti);
      expect(c2.iat).to.equal(svc.clock.seconds);
      expect(c2.health.statusIndex).to.equal(c1.health.statusIndex);
      const v = await verifyCode(renewed.body.code, {
        trustList: await trustList(svc),
        statusLists: [await statusList(svc)],
        now: svc.clock.now(),
      });
      expect(v.code).to.equal('VALID');
    });

    it('records every issuance as a code.issued event of the resident', async () => {
      const r = await svc.call('GET', '/v1/residents/me/code', { token });
      const cti = claimsOf(r.body.code).cti;
      const issuedEvents = (await allEvents(svc)).filter(
        (e) => e.type === 'code.issued' && e.subjects.includes(`r:${pseudonym}`),
      );
      expect(issuedEvents.map((e) => e.data.cti)).to.include(cti);
    });

    it('answers 401 without a token and 403 to authority tokens', async () => {
      const none = await svc.call('GET', '/v1/residents/me/code');
      expect(none.status).to.equal(401);
      expect(none.body.error.code).to.equal('UNAUTHENTICATED');
      const bogus = await svc.call('GET', '/v1/residents/me', { token: 'ak_resident_not-a-real-token-at-all' });
      expect(bogus.status).to.equal(401);
      for (const t of [await svc.token('health'), svc.adminToken]) {
        for (const path of ['/v1/residents/me', '/v1/residents/me/code']) {
          const r = await svc.call('GET', path, { token: t });
          expect(r.status, path).to.equal(403);
          expect(r.body.error.code).to.equal('FORBIDDEN');
        }
      }
    });

    it('lets a resident token read only its own resident (there is no route by pseudonym)', async () => {
      const other = await apply(svc, applicant());
      const mine = await svc.call('GET', '/v1/residents/me', { token });
      const theirs = await svc.call('GET', '/v1/residents/me', { token: other.token });
      expect(mine.body.resident.pseudonym).to.equal(pseudonym);
      expect(theirs.body.resident.pseudonym).to.equal(other.body.resident.pseudonym);
      const byId = await svc.call('GET', `/v1/residents/${other.body.resident.pseudonym}`, { token });
      expect(byId.status).to.equal(404);
      expect(byId.body.error.code).to.equal('NOT_FOUND');
    });
  });

  describe('personal data', () => {
    let own: TestService;
    const people = [
      applicant(),
      applicant({ idType: 'passport', name: 'Zhang Sanfeng', phone: '+852 6123 4567' }),
      applicant({ idType: 'hk-macao-permit' }),
    ];
    const replies: Array<Reply & { token?: string }> = [];
    const plaintexts = people.flatMap((p) => [p.name, p.idNumber, p.phone.replace(/\s/g, ''), p.phone]);

    before(async () => {
      own = await startTestService({ captureLog: 'debug' });
      for (const [i, p] of people.entries()) {
        replies.push(await apply(own, p, { idempotencyKey: `pii-key-${i}` }));
        replies.push(await apply(own, p, { idempotencyKey: `pii-key-${i}` }));
        replies.push(await apply(own, { ...p, declaration: { ...p.declaration, temperatureC: 38 } }));
        replies.push(await apply(own, { ...p, name: `${p.name}x` }));
        const token = replies[replies.length - 2].token;
        for (const path of ['/v1/residents/me', '/v1/residents/me/code', '/v1/residents/me/code?mode=printed'])
          replies.push(await own.call('GET', path, { token }));
      }
      await own.call('POST', '/v1/feeds/close-contacts', {
        token: own.adminToken,
        json: {
          records: people.map((p) => ({
            idType: p.idType,
            idNumber: p.idNumber,
            degree: 1,
            exposedAt: own.clock.now().toISOString(),
          })),
        },
      });
      replies.push(await own.call('GET', '/v1/trust-list'));
    });
    after(async () => {
      await own?.close();
    });

    it('shows them only masked in responses', () => {
      expect(replies.filter((r) => r.status >= 500)).to.have.length(0);
      const created = replies.find((r) => r.status === 201)!;
      expect(created.body.resident.maskedName).to.contain('*');
      expect(created.body.resident.maskedId).to.contain('*');
      expect(created.body.resident.maskedPhone).to.contain('*');
      for (const r of replies) {
        const text = r.bytes.toString('utf8');
        for (const s of plaintexts) expect(text, `a response holds ${s}`).to.not.contain(s);
      }
    });

    it('keeps them out of every ledger event', async () => {
      const events = await allEvents(own);
      expect(events.length).to.be.greaterThan(20);
      for (const e of events) {
        const text = JSON.stringify(e);
        for (const s of plaintexts) expect(text, `event ${e.seq} (${e.type}) holds ${s}`).to.not.contain(s);
      }
    });

    it('stores no unkeyed digest of a body that could confirm a guessed ID', async () => {
      const digests = new Set(
        people.flatMap((p) =>
          [p, applySchema.parse(p)].map((b) => createHash('sha256').update(canonicalJson(b)).digest('hex')),
        ),
      );
      let entries = 0;
      for await (const [k, v] of own.running.app.ledger.db.iterator({ valueEncoding: 'utf8' })) {
        if (k.startsWith('!idempotency!') && !k.startsWith('!idempotency!~at/')) entries++;
        for (const d of digests) expect(v, `entry ${k} holds the SHA-256 of an application`).to.not.contain(d);
      }
      expect(entries).to.equal(people.length);
    });

    it('keeps them out of every LevelDB entry and out of the files on disk', async () => {
      let entries = 0;
      for await (const [k, v] of own.running.app.ledger.db.iterator({ valueEncoding: 'utf8' })) {
        entries++;
        for (const s of plaintexts) expect(`${k} ${v}`, `entry ${k} holds ${s}`).to.not.contain(s);
      }
      expect(entries).to.be.greaterThan(50);
      await own.stop();
      const files = filesUnder(own.dir);
      expect(files.some((f) => /\.(log|ldb)$/.test(f))).to.equal(true);
      for (const f of files) {
        const bytes = readFileSync(f);
        for (const s of plaintexts) expect(bytes.includes(Buffer.from(s, 'utf8')), `${f} holds ${s}`).to.equal(false);
      }
      // The check would see them: the masked forms are on disk in plain text.
      const all = Buffer.concat(files.map((f) => readFileSync(f)));
      expect(all.includes(Buffer.from(replies[0].body.resident.maskedPhone))).to.equal(true);
    });

    it('keeps them out of the server log, even at debug level', () => {
      expect(own.logs.length).to.be.greaterThan(10);
      for (const line of own.logs) for (const s of plaintexts) expect(line, `log line holds ${s}`).to.not.contain(s);
    });
  });

  describe('status list', () => {
    it('is signed by a key of the trust list and names every status index', async () => {
      const trust = await trustList(svc);
      const bytes = await statusList(svc);
      const r = await loadStatusList(bytes, prepareTrustList(trust));
      expect(r.valid).to.equal(true);
      if (!r.valid) return;
      expect(r.statusList.iss).to.equal('340000');
      // Herd privacy (FORMAT.md §7): the list has its minimum size whatever the population, and each resident's index holds their colour.
      expect(r.statusList.size).to.equal(262_144);
      expect(await countResidents(svc)).to.be.above(0);
      for await (const rec of svc.running.app.ledger.space('residents').values()) {
        const { statusIndex, colour } = rec as { statusIndex: number; colour: string };
        expect(r.statusList.get(statusIndex)).to.equal(colour);
      }
      expect(r.statusList.kid).to.equal(toBase64Url(decodeCode((await apply(svc, applicant())).body.code.code).kid));
    });
  });
});
