import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { signIn, type ResidentSession } from '../../scripts/lib/sign-in';
import { sweepSessions } from '../../server/identity/sessions';
import { latestCode } from '../../server/identity/sms';
import { createCookieFetch } from '../../server/idp/cookie-fetch';
import { driveSignIn } from '../../server/idp/drive';
import {
  applicant,
  apply,
  MINUTE,
  DAY,
  ROOT,
  startTestService,
  type Application,
  type TestService,
} from '../support/service';
import { eventsAfter, headSeq } from '../support/scenario';
import { tempDir } from '../support/tmp';

const person = (a: Application) => ({ idType: a.idType, idNumber: a.idNumber, name: a.name, phone: a.phone });

/** The Set-Cookie header for `name`, attributes and all. */
function setCookie(res: Response, name: string): string | undefined {
  return res.headers.getSetCookie().find((c) => c.startsWith(`${name}=`));
}

describe('sign-in through the identity provider, sessions and tokens', function () {
  this.timeout(60_000);
  let svc: TestService;

  before(async () => {
    svc = await startTestService({
      config: { SESSION_ACCESS_MINUTES: 15, SESSION_DAYS: 30, STAFF_TOKEN_TTL_DAYS: 30 },
    });
  });
  after(async () => {
    await svc?.close();
  });

  describe('a first sign-in', () => {
    const a = applicant();
    let landing: Response;
    let jar: ReturnType<typeof createCookieFetch>;

    before(async () => {
      jar = createCookieFetch();
      const login = await jar(`${svc.url}/v1/auth/login`);
      expect(login.status).to.equal(302);
      const to = new URL(login.headers.get('location')!);
      expect(to.pathname).to.equal('/idp/auth');
      expect(to.searchParams.get('code_challenge_method')).to.equal('S256');
      expect(to.searchParams.get('scope')).to.equal('openid phone identity');
      const callback = await driveSignIn(to.href, person(a), { codes: svc.outbox, fetch: jar });
      landing = await jar(callback);
    });

    it('lands on / with the session in HttpOnly, Secure, SameSite=Strict cookies, the refresh token only for /v1/auth', () => {
      expect(landing.status).to.equal(302);
      expect(landing.headers.get('location')).to.equal('/');
      const access = setCookie(landing, 'ak_resident')!;
      expect(access)
        .to.match(/; path=\//i)
        .and.match(/; secure/i)
        .and.match(/; httponly/i)
        .and.match(/; samesite=strict/i);
      const refresh = setCookie(landing, 'ak_resident_refresh')!;
      expect(refresh)
        .to.match(/; path=\/v1\/auth/i)
        .and.match(/; httponly/i)
        .and.match(/; samesite=strict/i);
    });

    it('shows the page who is signed in, masked, and that there is no record yet; /me answers 404 until the person applies', async () => {
      const s = await jar(`${svc.url}/v1/auth/session`);
      const body = (await s.json()) as { resident: Record<string, string> };
      expect(body.resident).to.deep.include({ idType: a.idType, record: 'none' });
      expect(body.resident.maskedId.slice(-4)).to.equal(a.idNumber.slice(-4));
      expect(JSON.stringify(body)).to.not.include(a.idNumber).and.not.include(a.name);
      expect((await jar(`${svc.url}/v1/residents/me`)).status).to.equal(404);
    });

    it('applies with the session cookie alone, and the record is then reachable through it', async () => {
      const { idType: _t, idNumber: _n, name: _m, ...details } = a;
      const r = await jar(`${svc.url}/v1/residents`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(details),
      });
      expect(r.status).to.equal(201);
      const me = await jar(`${svc.url}/v1/residents/me`);
      expect(me.status).to.equal(200);
      expect(
        ((await jar(`${svc.url}/v1/auth/session`).then((x) => x.json())) as { resident: { record: string } }).resident
          .record,
      ).to.equal('bound');
    });

    it('refuses a write that another site starts with this browser’s cookies, writing nothing', async () => {
      const head = await svc.head();
      const r = await jar(`${svc.url}/v1/residents`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' },
        body: JSON.stringify({ phone: a.phone, district: '340104', declaration: { temperatureC: 38.5 } }),
      });
      expect(r.status).to.equal(403);
      expect(await svc.head()).to.deep.equal(head);
    });

    it('ends the session at sign-out: the cookies are cleared and the old access token is refused', async () => {
      const access = [...jar.jar.get(new URL(svc.url).origin)!.values()].find((c) => c.name === 'ak_resident')!.value;
      const out = await jar(`${svc.url}/v1/auth/logout`, { method: 'POST' });
      expect(out.status).to.equal(204);
      expect(setCookie(out, 'ak_resident')).to.match(/expires=Thu, 01 Jan 1970/i);
      expect((await svc.call('GET', '/v1/residents/me', { token: access })).status).to.equal(401);
    });
  });

  describe('a sign-in that did not start here', () => {
    it('goes back to / with an error and opens no session', async () => {
      const a = applicant();
      const jar = createCookieFetch();
      const login = await jar(`${svc.url}/v1/auth/login`);
      const callback = await driveSignIn(login.headers.get('location')!, person(a), { codes: svc.outbox, fetch: jar });
      // Another browser (no ak_login cookie) brings the code back.
      const stranger = await fetch(callback, { redirect: 'manual' });
      expect(stranger.status).to.equal(302);
      expect(stranger.headers.get('location')).to.equal('/?signin_error=UNAUTHENTICATED');
      expect(setCookie(stranger, 'ak_resident')).to.equal(undefined);
      // A forged state in this browser fails too.
      const forged = new URL(callback);
      forged.searchParams.set('state', 'not-the-state');
      const wrong = await jar(forged.href);
      expect(wrong.headers.get('location')).to.equal('/?signin_error=UNAUTHENTICATED');
      expect(setCookie(wrong, 'ak_resident')).to.equal(undefined);
    });
  });

  describe('the attack of the last review: anyone who knows a person’s ID number and name', () => {
    let victim: Application;
    let victimSession: ResidentSession;
    let attacker: ResidentSession;
    let attackerApp: Application;

    before(async () => {
      victim = applicant({ district: '340104' });
      const r = await apply(svc, victim);
      expect(r.status).to.equal(201);
      victimSession = r.session;
      attackerApp = applicant();
      attacker = await svc.signIn(person(attackerApp));
    });

    it('cannot apply without signing in: 401 before the body is read, nothing written', async () => {
      const head = await svc.head();
      const r = await svc.call('POST', '/v1/residents', {
        json: { ...victim, declaration: { temperatureC: 38.6, symptoms: ['cough'] } },
      });
      expect(r.status).to.equal(401);
      expect(r.body).to.not.have.property('token');
      expect(await svc.head()).to.deep.equal(head);
    });

    it('cannot apply for, or change, another person’s record: the same 403 whether that person is registered or not, nothing written', async () => {
      const head = await svc.head();
      const stranger = applicant();
      const forVictim = await apply(
        svc,
        { ...victim, phone: '13800000000', declaration: { temperatureC: 38.6, symptoms: ['cough'] } },
        { session: attacker },
      );
      const forNobody = await apply(
        svc,
        { ...stranger, declaration: { temperatureC: 38.6, symptoms: ['cough'] } },
        { session: attacker },
      );
      for (const r of [forVictim, forNobody]) {
        expect(r.status).to.equal(403);
        expect(r.body.error.code).to.equal('IDENTITY_NOT_YOURS');
      }
      // Nothing in the answer tells a registered ID from an unknown one.
      expect(forVictim.body).to.deep.equal(forNobody.body);
      expect(await svc.head()).to.deep.equal(head);
      const me = await svc.call('GET', '/v1/residents/me', { token: victimSession.access });
      expect(me.body.resident).to.include({ colour: 'green', district: '340104' });
      expect(me.body.resident.maskedPhone.slice(-4)).to.equal(victim.phone.slice(-4));
    });

    it('reads only its own identity: every /me route of the attacker’s session answers for the attacker, who has no record', async () => {
      for (const path of [
        '/v1/residents/me',
        '/v1/residents/me/code',
        '/v1/residents/me/scans',
        '/v1/residents/me/appeals',
      ]) {
        const r = await svc.call('GET', path, { token: attacker.access });
        expect(r.status, path).to.equal(404);
        expect(JSON.stringify(r.body), path).to.not.include(victim.idNumber.slice(-4));
      }
    });

    it('cannot take the ID over at the provider without the code sent to the phone the ID was registered with', async () => {
      const jar = createCookieFetch();
      const login = await jar(`${svc.url}/v1/auth/login`);
      // The attacker's own phone, the victim's ID and name: the transfer code goes to the victim's phone, which the attacker cannot read.
      const attempt = driveSignIn(
        login.headers.get('location')!,
        { ...person(victim), phone: attackerApp.phone },
        { codes: async () => undefined, fetch: jar, codeTimeoutMs: 300 },
      );
      await attempt.then(
        () => expect.fail('the sign-in completed without the transfer code'),
        (e: Error) => expect(e.message).to.match(/code/i),
      );
      // The victim's session still reads the victim's record.
      expect((await svc.call('GET', '/v1/residents/me', { token: victimSession.access })).status).to.equal(200);
    });
  });

  describe('the same person with a new account (换绑)', () => {
    let first: Application;
    let pseudonym: string;
    let old: ResidentSession;
    let fresh: ResidentSession;
    const recordPhone = '13712345678';

    before(async () => {
      first = applicant();
      // Signed in with one phone, with another one on record.
      const r = await apply(svc, { ...first, phone: recordPhone }, { session: await svc.signIn(person(first)) });
      expect(r.status).to.equal(201);
      pseudonym = r.body.resident.pseudonym;
      old = r.session;
      const newPhone = applicant().phone;
      fresh = await svc.signIn({ ...person(first), phone: newPhone, ownerPhone: first.phone });
    });

    it('finds the record held by the old account: 409 REBIND_REQUIRED on /me and on applying, nothing written', async () => {
      const head = await svc.head();
      const me = await svc.call('GET', '/v1/residents/me', { token: fresh.access });
      expect(me.status).to.equal(409);
      expect(me.body.error.code).to.equal('REBIND_REQUIRED');
      const r = await apply(svc, first, { session: fresh });
      expect(r.status).to.equal(409);
      expect(r.body.error.code).to.equal('REBIND_REQUIRED');
      expect(await svc.head()).to.deep.equal(head);
      expect((await svc.call('GET', '/v1/residents/me', { token: old.access })).status).to.equal(200);
    });

    it('sends a code to the phone on record, refuses wrong codes, and locks after five', async () => {
      const sent = await svc.call('POST', '/v1/residents/me/rebind', { token: fresh.access });
      expect(sent.status).to.equal(202);
      expect(sent.body.sentTo).to.equal('137****5678');
      const code = await latestCode(svc.outbox, { phone: recordPhone, purpose: 'rebind' });
      expect(code).to.match(/^\d{6}$/);
      const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
      const head = await svc.head();
      for (let i = 0; i < 4; i++)
        expect(
          (await svc.call('POST', '/v1/residents/me/rebind/confirm', { token: fresh.access, json: { code: wrong } }))
            .body.error.code,
        ).to.equal('OTP_INVALID');
      expect(
        (await svc.call('POST', '/v1/residents/me/rebind/confirm', { token: fresh.access, json: { code: wrong } })).body
          .error.code,
      ).to.equal('OTP_EXPIRED');
      // Locked: even the right code no longer works.
      const late = await svc.call('POST', '/v1/residents/me/rebind/confirm', { token: fresh.access, json: { code } });
      expect(late.status).to.equal(400);
      expect(await svc.head()).to.deep.equal(head);
      // A new code only after a minute.
      const soon = await svc.call('POST', '/v1/residents/me/rebind', { token: fresh.access });
      expect(soon.status).to.equal(429);
      expect(Number(soon.headers.get('retry-after'))).to.be.within(1, 60);
    });

    it('moves the record with the right code: the old account’s sessions end, and the move is an event in the resident’s own history', async () => {
      svc.clock.advance(MINUTE + 1000);
      const head = headSeq(svc);
      expect((await svc.call('POST', '/v1/residents/me/rebind', { token: fresh.access })).status).to.equal(202);
      const code = await latestCode(svc.outbox, { phone: recordPhone, purpose: 'rebind' });
      const done = await svc.call('POST', '/v1/residents/me/rebind/confirm', { token: fresh.access, json: { code } });
      expect(done.status, JSON.stringify(done.body)).to.equal(200);
      expect(done.body.resident.pseudonym).to.equal(pseudonym);
      expect((await svc.call('GET', '/v1/residents/me', { token: fresh.access })).status).to.equal(200);
      expect((await svc.call('GET', '/v1/residents/me', { token: old.access })).status).to.equal(401);
      expect((await svc.call('POST', '/v1/auth/refresh', { json: { refreshToken: old.refresh } })).status).to.equal(
        401,
      );
      const events = await eventsAfter(svc, head);
      expect(events.map((e) => [e.type, e.subjects, e.data])).to.deep.equal([
        ['account.rebound', [`r:${pseudonym}`], { via: 'rebind', sessionsRevoked: 1 }],
      ]);
      expect(JSON.stringify(events)).to.not.include(recordPhone).and.not.include(first.idNumber);
    });
  });

  describe('token lifetimes', () => {
    it('expires a resident’s access token after SESSION_ACCESS_MINUTES; the refresh token buys a new pair once, until the session ends', async () => {
      const a = applicant();
      const s = (await apply(svc, a)).session;
      svc.clock.advance(15 * MINUTE + 1000);
      const expired = await svc.call('GET', '/v1/residents/me', { token: s.access });
      expect(expired.status).to.equal(401);
      expect(expired.body.error.code).to.equal('TOKEN_EXPIRED');
      const r = await svc.call('POST', '/v1/auth/refresh', { json: { refreshToken: s.refresh } });
      expect(r.status).to.equal(200);
      expect((await svc.call('GET', '/v1/residents/me', { token: r.body.accessToken })).status).to.equal(200);
      // The old refresh token was used up.
      expect((await svc.call('POST', '/v1/auth/refresh', { json: { refreshToken: s.refresh } })).status).to.equal(401);
      svc.clock.advance(30 * DAY);
      const ended = await svc.call('POST', '/v1/auth/refresh', { json: { refreshToken: r.body.refreshToken } });
      expect(ended.status).to.equal(401);
      expect(ended.body.error.code).to.equal('TOKEN_EXPIRED');
    });

    it('expires an authority token after its days (STAFF_TOKEN_TTL_DAYS by default)', async () => {
      const made = await svc.call('POST', '/v1/admin/tokens', {
        token: svc.adminToken,
        json: { role: 'health', name: 'one day', ttlDays: 1 },
      });
      expect(Date.parse(made.body.expiresAt) - svc.clock.ms).to.equal(DAY);
      const dflt = await svc.call('POST', '/v1/admin/tokens', {
        token: svc.adminToken,
        json: { role: 'auditor', name: 'default life' },
      });
      expect(Date.parse(dflt.body.expiresAt) - svc.clock.ms).to.equal(30 * DAY);
      expect((await svc.call('GET', '/v1/stats/colours', { token: made.body.token })).status).to.equal(200);
      svc.clock.advance(DAY);
      const late = await svc.call('GET', '/v1/stats/colours', { token: made.body.token });
      expect(late.status).to.equal(401);
      expect(late.body.error.code).to.equal('TOKEN_EXPIRED');
    });

    it('gives tokens from before expiry existed the default life, and opens nothing with a resident token from before sign-in', async () => {
      const { ledger } = svc.running.app;
      const legacy = (role: string, ageDays: number, extra: Record<string, unknown> = {}) =>
        ledger.transact((tx) => {
          const hash = createHash('sha256').update(`legacy-${role}-${ageDays}`).digest('hex');
          // A record as an older version wrote it: no expiresAt, no account.
          tx.put('tokens', hash, {
            role,
            name: 'from an older version',
            createdAt: new Date(svc.clock.ms - ageDays * DAY).toISOString(),
            ...extra,
          });
          return `legacy-${role}-${ageDays}`;
        });
      const fresh = await legacy('health', 29);
      const old = await legacy('health', 31);
      const resident = await legacy('resident', 1, { pseudonym: 'AAAAAAAAAAAAAAAA' });
      expect((await svc.call('GET', '/v1/stats/colours', { token: fresh })).status).to.equal(200);
      const late = await svc.call('GET', '/v1/stats/colours', { token: old });
      expect([late.status, late.body.error.code]).to.deep.equal([401, 'TOKEN_EXPIRED']);
      const r = await svc.call('GET', '/v1/residents/me', { token: resident });
      expect([r.status, r.body.error.code]).to.deep.equal([401, 'UNAUTHENTICATED']);
    });

    it('deletes expired tokens and ended sessions when it sweeps (nothing about a sign-in is kept past its end)', async () => {
      const s = await svc.signIn(person(applicant()));
      const { ledger } = svc.running.app;
      const count = async (space: 'tokens' | 'sessions') => {
        let n = 0;
        for await (const _ of ledger.space(space).keys()) n++;
        return n;
      };
      expect(await count('sessions')).to.be.above(0);
      svc.clock.advance(31 * DAY);
      const removed = await sweepSessions(ledger, svc.clock.now());
      expect(removed).to.be.above(0);
      expect(await count('sessions')).to.equal(0);
      expect((await svc.call('POST', '/v1/auth/refresh', { json: { refreshToken: s.refresh } })).status).to.equal(401);
    });
  });

  describe('the admin’s list of tokens and sessions', () => {
    it('lists authority tokens without the token itself and revokes one at once, as an event', async () => {
      const made = await svc.call('POST', '/v1/admin/tokens', {
        token: svc.adminToken,
        json: { role: 'operator', name: '万达广场 gate' },
      });
      const list = await svc.call('GET', '/v1/admin/tokens?role=operator', { token: svc.adminToken });
      expect(list.status).to.equal(200);
      const row = list.body.tokens.find((t: { id: string }) => t.id === made.body.id);
      expect(row).to.include({ role: 'operator', name: '万达广场 gate', expired: false });
      expect(JSON.stringify(list.body)).to.not.include(made.body.token);
      const head = headSeq(svc);
      expect((await svc.call('DELETE', `/v1/admin/tokens/${made.body.id}`, { token: svc.adminToken })).status).to.equal(
        204,
      );
      expect((await svc.call('GET', '/v1/venues', { token: made.body.token })).status).to.equal(401);
      const [revoked] = await eventsAfter(svc, head);
      expect(revoked).to.deep.include({ type: 'token.revoked', subjects: ['access'] });
      expect(revoked.data).to.include({ id: made.body.id, role: 'operator', by: 'admin' });
      expect((await svc.call('DELETE', `/v1/admin/tokens/${made.body.id}`, { token: svc.adminToken })).status).to.equal(
        404,
      );
    });

    it('lists resident sessions and ends one: both its tokens are refused', async () => {
      const a = applicant();
      const r = await apply(svc, a);
      const list = await svc.call('GET', '/v1/admin/tokens?role=resident&limit=1000', { token: svc.adminToken });
      const row = list.body.tokens.find((t: { pseudonym: string }) => t.pseudonym === r.body.resident.pseudonym);
      expect(row).to.include({ role: 'resident', expired: false });
      expect(JSON.stringify(list.body)).to.not.include(r.session.access).and.not.include(a.idNumber);
      expect((await svc.call('DELETE', `/v1/admin/tokens/${row.id}`, { token: svc.adminToken })).status).to.equal(204);
      expect((await svc.call('GET', '/v1/residents/me', { token: r.session.access })).status).to.equal(401);
      expect(
        (await svc.call('POST', '/v1/auth/refresh', { json: { refreshToken: r.session.refresh } })).status,
      ).to.equal(401);
    });

    it('is the admin’s alone', async () => {
      const health = await svc.token('health');
      expect((await svc.call('GET', '/v1/admin/tokens', { token: health })).status).to.equal(403);
      expect((await svc.call('DELETE', '/v1/admin/tokens/0123456789abcdef', { token: health })).status).to.equal(403);
      expect((await svc.call('GET', '/v1/admin/tokens')).status).to.equal(401);
    });
  });

  describe('the staff pages’ cookie', () => {
    it('takes an authority token once and keeps it HttpOnly; a resident token is refused', async () => {
      const operator = await svc.token('operator');
      const jar = createCookieFetch();
      const r = await jar(`${svc.url}/v1/auth/staff`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token: operator }),
      });
      expect(r.status).to.equal(200);
      expect(setCookie(r, 'ak_staff'))
        .to.match(/; httponly/i)
        .and.match(/; samesite=strict/i);
      expect((await jar(`${svc.url}/v1/venues`)).status).to.equal(200);
      const resident = (await apply(svc, applicant())).token;
      const refused = await fetch(`${svc.url}/v1/auth/staff`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token: resident }),
      });
      expect(refused.status).to.equal(403);
      expect(refused.headers.getSetCookie()).to.deep.equal([]);
    });

    it('lives beside a resident session in one browser: each page signs out its own, and an expired staff cookie is a 401', async () => {
      const made = await svc.call('POST', '/v1/admin/tokens', {
        token: svc.adminToken,
        json: { role: 'health', name: 'shared phone', ttlDays: 1 },
      });
      const a = applicant();
      const jar = createCookieFetch();
      const login = await jar(`${svc.url}/v1/auth/login`);
      await jar(await driveSignIn(login.headers.get('location')!, person(a), { codes: svc.outbox, fetch: jar }));
      await jar(`${svc.url}/v1/auth/staff`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token: made.body.token }),
      });
      const session = async () =>
        (await (await jar(`${svc.url}/v1/auth/session`)).json()) as { resident: unknown; staff: unknown };
      expect(await session()).to.satisfy(
        (x: { resident: unknown; staff: unknown }) => x.resident !== null && x.staff !== null,
      );
      svc.clock.advance(DAY);
      const stale = await jar(`${svc.url}/v1/stats/colours`);
      expect(stale.status).to.equal(401);
      expect(((await stale.json()) as { error: { code: string } }).error.code).to.equal('TOKEN_EXPIRED');
      expect((await jar(`${svc.url}/v1/auth/logout?who=staff`, { method: 'POST' })).status).to.equal(204);
      // The resident's access token expired with the day too; its session lives on and refreshes.
      expect(
        (await jar(`${svc.url}/v1/auth/refresh`, { method: 'POST' })).status,
        'the resident is still signed in',
      ).to.equal(200);
      expect(await session()).to.satisfy(
        (x: { resident: unknown; staff: unknown }) => x.resident !== null && x.staff === null,
      );
      expect((await jar(`${svc.url}/v1/auth/logout?who=resident`, { method: 'POST' })).status).to.equal(204);
      expect((await session()).resident).to.equal(null);
      expect((await jar(`${svc.url}/v1/auth/refresh`, { method: 'POST' })).status).to.equal(401);
    });
  });
});

/** A port the kernel just handed out, for a process that must know its address before it starts. */
function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => done(port));
    });
  });
}

describe('the embedded provider after a restart on another port', function () {
  this.timeout(60_000);
  const tmp = tempDir('ankang-restart-port-');
  let svc: TestService | undefined;
  const a = applicant();
  let pseudonym: string;
  let firstUrl: string;

  before(async () => {
    const first = await startTestService({ dir: tmp.dir });
    firstUrl = first.url;
    const r = await apply(first, a, { session: await first.signIn(person(a)) });
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    pseudonym = r.body.resident.pseudonym;
    await first.stop();
    // PORT=0 again: the kernel picks another port, so the provider's issuer URL is another one.
    svc = await startTestService({ dir: tmp.dir });
  });
  after(async () => {
    await svc?.stop();
    tmp.cleanup();
  });

  it('signs the person in to the same account: the record is theirs, no re-bind', async () => {
    expect(svc!.url).to.not.equal(firstUrl);
    const s = await svc!.signIn(person(a));
    const who = await svc!.call('GET', '/v1/auth/session', { token: s.access });
    expect(who.body.resident).to.include({ record: 'bound' });
    const me = await svc!.call('GET', '/v1/residents/me', { token: s.access });
    expect(me.status, JSON.stringify(me.body)).to.equal(200);
    expect(me.body.resident.pseudonym).to.equal(pseudonym);
  });
});

describe('sign-in against a provider in its own process (OIDC_ISSUER, as in production)', function () {
  this.timeout(60_000);
  let idp: ChildProcess | undefined;
  let svc: TestService | undefined;
  const tmp = tempDir('ankang-idp-process-');
  const outbox = join(tmp.dir, 'outbox.jsonl');

  before(async () => {
    const port = await freePort();
    const secret = 'a-client-secret-of-32-characters!';
    idp = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/idp.ts')], {
      cwd: ROOT,
      env: {
        ...process.env,
        IDP_PORT: '0',
        IDP_DATA_DIR: join(tmp.dir, 'idp'),
        IDP_CLIENT_ID: 'anhui',
        IDP_CLIENT_SECRET: secret,
        IDP_REDIRECT_URIS: `http://127.0.0.1:${port}/v1/auth/callback`,
        SMS_OUTBOX: outbox,
        LOG_LEVEL: 'silent',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const issuer = await new Promise<string>((done, fail) => {
      idp!.once('exit', (code) => fail(new Error(`the provider exited (${code})`)));
      createInterface({ input: idp!.stdout! }).on('line', (line) => {
        const m = JSON.parse(line) as { msg: string; issuer: string };
        if (m.msg === 'identity provider listening') done(m.issuer);
      });
    });
    svc = await startTestService({
      config: { PORT: port, OIDC_ISSUER: issuer, OIDC_CLIENT_ID: 'anhui', OIDC_CLIENT_SECRET: secret },
    });
  });
  after(async () => {
    await svc?.close();
    idp?.kill('SIGTERM');
    tmp.cleanup();
  });

  it('mounts no provider of its own and signs residents in at the configured one', async () => {
    expect((await svc!.call('GET', '/idp/.well-known/openid-configuration')).status).to.equal(404);
    const a = applicant();
    const s = await signIn(svc!.url, person(a), { codes: outbox });
    const r = await apply(svc!, a, { session: s });
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    expect((await svc!.call('GET', '/v1/residents/me', { token: s.access })).body.resident.pseudonym).to.equal(
      r.body.resident.pseudonym,
    );
  });

  it('refuses to start with OIDC_ISSUER but no client credentials, before creating anything', async () => {
    const dir = tempDir('ankang-oidc-config-');
    try {
      await startTestService({ dir: dir.dir, config: { OIDC_ISSUER: 'https://idp.example.gov.cn' } }).then(
        () => expect.fail('started without OIDC_CLIENT_ID and OIDC_CLIENT_SECRET'),
        (e: Error) => expect(e.message).to.match(/OIDC_CLIENT_ID and OIDC_CLIENT_SECRET/),
      );
    } finally {
      dir.cleanup();
    }
  });
});

describe('abuse limits on sign-in, refresh and one-time codes', function () {
  this.timeout(60_000);
  const services: TestService[] = [];
  const start = async (config: Record<string, unknown>) => {
    const svc = await startTestService({ config });
    services.push(svc);
    return svc;
  };
  after(async () => {
    for (const svc of services) await svc.close();
  });

  const expect429 = (r: { status: number; headers: Headers; body: any }, what: RegExp) => {
    expect(r.status).to.equal(429);
    expect(r.body.error.code).to.equal('TOO_MANY_REQUESTS');
    expect(r.body.error.message).to.match(what);
    expect(Number(r.headers.get('retry-after'))).to.be.above(0);
  };

  it('cuts sign-ins from one address to the configured number, before the provider is asked', async () => {
    const svc = await start({ RATE_SIGNIN_PER_ADDRESS: 4 });
    const replies = [];
    for (let i = 0; i < 6; i++) replies.push(await fetch(`${svc.url}/v1/auth/login`, { redirect: 'manual' }));
    expect(replies.map((r) => r.status)).to.deep.equal([302, 302, 302, 302, 429, 429]);
    expect429(
      { status: 429, headers: replies[5].headers, body: await replies[5].json() },
      /sign-ins from this address/,
    );
  });

  it('cuts refreshes from one address, whatever the token', async () => {
    const svc = await start({ RATE_REFRESH_PER_ADDRESS: 2 });
    const session = await svc.signIn(person(applicant()));
    for (let i = 0; i < 2; i++)
      expect(
        (await svc.call('POST', '/v1/auth/refresh', { json: { refreshToken: 'ak_resident_not-a-real-refresh-token' } }))
          .status,
      ).to.equal(401);
    expect429(
      await svc.call('POST', '/v1/auth/refresh', { json: { refreshToken: session.refresh } }),
      /session refreshes from this address/,
    );
  });

  it('cuts one-time codes for one resident, writing nothing for the refused', async () => {
    const svc = await start({ RATE_OTP_PER_RESIDENT: 2 });
    const a = applicant();
    expect((await apply(svc, a)).status).to.equal(201);
    // A second account of the same person asks for re-bind codes, a minute apart.
    const second = await svc.signIn({ ...person(a), phone: applicant().phone, ownerPhone: a.phone });
    for (let i = 0; i < 2; i++) {
      expect((await svc.call('POST', '/v1/residents/me/rebind', { token: second.access })).status).to.equal(202);
      svc.clock.advance(MINUTE + 1000);
    }
    const head = await svc.head();
    expect429(
      await svc.call('POST', '/v1/residents/me/rebind', { token: second.access }),
      /one-time codes for this resident/,
    );
    expect(await svc.head()).to.deep.equal(head);
  });
});
