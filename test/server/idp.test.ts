import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { createPublicKey, verify as verifySignature } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import Koa from 'koa';
import * as client from 'openid-client';
import { chromium } from 'playwright-core';
import { maskPhone } from '../../server/domain/mask';
import { createLogger } from '../../server/http/log';
import {
  GatewaySmsSender,
  latestCode,
  OutboxSmsSender,
  readOutbox,
  SmsError,
  type SmsSender,
} from '../../server/identity/sms';
import { createCookieFetch, type JarFetch } from '../../server/idp/cookie-fetch';
import { driveSignIn, DriveError, type DriveStep, type SignInIdentity } from '../../server/idp/drive';
import { loadIdpSecrets } from '../../server/idp/keys';
import { normalizeName } from '../../server/idp/name';
import {
  createIdentityProvider,
  mountIdentityProvider,
  type IdentityProvider,
  type IdpLimits,
} from '../../server/idp/provider';
import { CHROMIUM, screenshot } from '../support/browser';
import { MINUTE, personName, phoneNumber, residentIdNumber, ROOT, TestClock } from '../support/service';
import { tempDir } from '../support/tmp';

const CLIENT_ID = 'ankang-test';
const CLIENT_SECRET = 'test-secret-0123456789';
const SCOPE = 'openid phone identity';

/** A bare Koa application on an ephemeral port with the provider mounted at /idp and a client callback at /cb. */
interface Harness {
  base: string;
  issuer: string;
  dir: string;
  dataDir: string;
  outbox: string;
  clock: TestClock;
  idp: IdentityProvider;
  redirectUri: string;
  oidc: client.Configuration;
  /** A fresh authorization request with PKCE (S256) and state. */
  authorization(extra?: Record<string, string>): Promise<{ url: string; verifier: string; state: string }>;
  /** Exchanges the redirect for tokens and returns the ID token's claims. */
  exchange(
    redirect: string,
    auth: { verifier: string; state: string },
  ): Promise<{ claims: Record<string, unknown>; idToken: string }>;
  signIn(identity: SignInIdentity, onStep?: (s: DriveStep) => void): Promise<Record<string, unknown>>;
  /** Stops the server and the provider, keeping the folder. */
  stop(): Promise<void>;
  close(): Promise<void>;
}

async function startHarness(
  opts: { dir?: string; limits?: Partial<IdpLimits>; sms?: SmsSender; clientHost?: string } = {},
): Promise<Harness> {
  const tmp = opts.dir ? undefined : tempDir('ankang-idp-');
  const dir = opts.dir ?? tmp!.dir;
  const dataDir = join(dir, 'idp');
  const outbox = join(dir, 'sms-outbox.jsonl');
  const clock = new TestClock(Date.now());
  // Mounted before the provider exists, as an application listening on port 0 must.
  let idp: IdentityProvider | undefined;
  const koa = new Koa();
  mountIdentityProvider(koa, '/idp', () => idp);
  koa.use((ctx) => {
    ctx.type = 'text/html';
    ctx.body =
      ctx.path === '/cb' ? '<!doctype html><title>client</title><p id="client">signed in</p>' : `app ${ctx.path}`;
  });
  const server: Server = koa.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // A client host other than the provider's puts the client on another origin.
  const redirectUri = `http://${opts.clientHost ?? '127.0.0.1'}:${(server.address() as AddressInfo).port}/cb`;
  idp = await createIdentityProvider({
    issuer: `${base}/idp`,
    dataDir,
    clients: [{ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uris: [redirectUri] }],
    sms: opts.sms ?? new OutboxSmsSender(outbox),
    log: createLogger('silent'),
    clock: clock.now,
    limits: opts.limits,
  });
  const oidc = await client.discovery(
    new URL(`${base}/idp`),
    CLIENT_ID,
    undefined,
    client.ClientSecretBasic(CLIENT_SECRET),
    { execute: [client.allowInsecureRequests] },
  );
  let stopped = false;
  const h: Harness = {
    base,
    issuer: `${base}/idp`,
    dir,
    dataDir,
    outbox,
    clock,
    idp: idp!,
    redirectUri,
    oidc,
    async authorization(extra = {}) {
      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const url = client.buildAuthorizationUrl(oidc, {
        redirect_uri: redirectUri,
        scope: SCOPE,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        ...extra,
      });
      return { url: url.href, verifier, state };
    },
    async exchange(redirect, auth) {
      const tokens = await client.authorizationCodeGrant(oidc, new URL(redirect), {
        pkceCodeVerifier: auth.verifier,
        expectedState: auth.state,
      });
      return { claims: tokens.claims() as Record<string, unknown>, idToken: tokens.id_token! };
    },
    async signIn(identity, onStep) {
      const auth = await h.authorization();
      const redirect = await driveSignIn(auth.url, identity, { codes: outbox, onStep });
      return (await h.exchange(redirect, auth)).claims;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      });
      await idp!.close();
    },
    async close() {
      await h.stop();
      tmp?.cleanup();
    },
  };
  return h;
}

/** One interaction driven by hand: a cookie jar, the interaction page's URL and its uid. */
interface Manual {
  f: JarFetch;
  page: URL;
  uid: string;
  auth: { url: string; verifier: string; state: string };
}

async function begin(h: Harness): Promise<Manual> {
  const f = createCookieFetch();
  const auth = await h.authorization();
  const res = await f(auth.url);
  expect(res.status).to.equal(303);
  const page = new URL(res.headers.get('location')!, auth.url);
  expect(page.pathname).to.match(/^\/idp\/interaction\/[A-Za-z0-9_-]+$/);
  return { f, page, uid: page.pathname.split('/').pop()!, auth };
}

async function submit(
  m: Manual,
  step: string,
  form: Record<string, string>,
): Promise<{ status: number; html: string; headers: Headers }> {
  const res = await m.f(new URL(`${m.page.pathname}/${step}`, m.page), {
    method: 'POST',
    body: new URLSearchParams(form),
  });
  return { status: res.status, html: await res.text(), headers: res.headers };
}

async function show(m: Manual): Promise<{ status: number; html: string; step?: string; headers: Headers }> {
  const res = await m.f(m.page);
  const html = await res.text();
  return { status: res.status, html, step: /<main data-step="([a-z]+)"/.exec(html)?.[1], headers: res.headers };
}

/** Follows redirects from the last interaction answer to the client's redirect URI. */
async function follow(m: Manual, h: Harness, location: string): Promise<string> {
  let url = new URL(location, m.page);
  for (let i = 0; i < 5; i++) {
    if (url.href.startsWith(h.redirectUri)) return url.href;
    const res = await m.f(url);
    await res.body?.cancel();
    expect(res.status, url.pathname).to.be.within(300, 399);
    url = new URL(res.headers.get('location')!, url);
  }
  throw new Error('no redirect to the client');
}

const dataError = (html: string) => /data-error="([^"]*)"/.exec(html)?.[1];

async function codeFor(h: Harness, phone: string, purpose: string, after: number): Promise<string> {
  const code = await latestCode(h.outbox, { phone, purpose, after });
  if (!code) throw new Error(`no ${purpose} code for ${maskPhone(phone)}`);
  return code;
}

/** Phone → code for a manual interaction; returns the page reached after the code. */
async function passCode(h: Harness, m: Manual, phone: string): Promise<{ status: number; location: string | null }> {
  const t = Date.now();
  expect((await submit(m, 'phone', { phone })).status).to.equal(303);
  const res = await m.f(new URL(`${m.page.pathname}/code`, m.page), {
    method: 'POST',
    body: new URLSearchParams({ code: await codeFor(h, phone, 'login', t) }),
  });
  await res.body?.cancel();
  return { status: res.status, location: res.headers.get('location') };
}

/** A resident ID number whose check character is X. */
function idEndingInX(): string {
  for (;;) {
    const id = residentIdNumber();
    if (id.endsWith('X')) return id;
  }
}

function person(overrides: Partial<SignInIdentity> = {}): SignInIdentity {
  return {
    phone: phoneNumber(),
    idType: 'resident-id',
    idNumber: residentIdNumber(),
    name: personName(),
    ...overrides,
  };
}

describe('identity provider (server/idp)', function () {
  this.timeout(60_000);
  let h: Harness;
  const phonesUsed: string[] = [];
  const track = (p: SignInIdentity) => {
    phonesUsed.push(p.phone);
    return p;
  };

  before(async () => {
    // Generous limits here; the default limits are tested on harnesses of their own.
    h = await startHarness({
      limits: { sendsPerPhone: 100, sendsPerAddress: 10_000, checksPerAddress: 10_000, signupsPerAddress: 10_000 },
    });
  });

  after(async () => {
    await h?.close();
  });

  describe('mounted under /idp in a Koa application', () => {
    it('serves discovery with every endpoint under the prefix', async () => {
      const res = await fetch(`${h.issuer}/.well-known/openid-configuration`);
      expect(res.status).to.equal(200);
      const d = (await res.json()) as Record<string, unknown>;
      expect(d.issuer).to.equal(h.issuer);
      expect(d.authorization_endpoint).to.equal(`${h.issuer}/auth`);
      expect(d.token_endpoint).to.equal(`${h.issuer}/token`);
      expect(d.jwks_uri).to.equal(`${h.issuer}/jwks`);
      expect(d.response_types_supported).to.deep.equal(['code']);
      expect(d.code_challenge_methods_supported).to.deep.equal(['S256']);
      expect(d.token_endpoint_auth_methods_supported).to.deep.equal(['client_secret_basic']);
      expect(d.id_token_signing_alg_values_supported).to.deep.equal(['EdDSA']);
      expect(d.scopes_supported).to.include.members(['openid', 'phone', 'identity']);
      expect(d.claims_supported).to.include.members([
        'phone_number',
        'phone_number_verified',
        'name',
        'id_type',
        'id_number',
      ]);
    });

    it('answers the RFC 8414 metadata URL of the issuer path', async () => {
      const res = await fetch(`${h.base}/.well-known/oauth-authorization-server/idp`);
      expect(res.status).to.equal(200);
      expect(((await res.json()) as { issuer: string }).issuer).to.equal(h.issuer);
    });

    it('publishes one Ed25519 public key and no private part', async () => {
      const { keys } = (await (await fetch(`${h.issuer}/jwks`)).json()) as { keys: Array<Record<string, string>> };
      expect(keys).to.have.length(1);
      expect(keys[0]).to.include({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
      expect(keys[0]).to.not.have.property('d');
    });

    it('leaves every other path to the application', async () => {
      const res = await fetch(`${h.base}/idpx`);
      expect(await res.text()).to.equal('app /idpx');
    });

    it('refuses an authorization request without PKCE, back at the client', async () => {
      const url = new URL(`${h.issuer}/auth`);
      url.search = new URLSearchParams({
        client_id: CLIENT_ID,
        response_type: 'code',
        redirect_uri: h.redirectUri,
        scope: SCOPE,
        state: 's1',
      }).toString();
      const res = await fetch(url, { redirect: 'manual' });
      const location = new URL(res.headers.get('location')!);
      expect(location.href.startsWith(h.redirectUri)).to.equal(true);
      expect(location.searchParams.get('error')).to.equal('invalid_request');
      expect(location.searchParams.get('error_description')).to.match(/PKCE/);
    });

    it('shows an unknown client an error page with a machine-readable code, not a redirect', async () => {
      const res = await fetch(
        `${h.issuer}/auth?client_id=nobody&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(h.redirectUri)}`,
        { redirect: 'manual', headers: { accept: 'text/html' } },
      );
      expect(res.status).to.equal(400);
      expect(dataError(await res.text())).to.equal('invalid_client');
      expect(res.headers.get('content-security-policy')).to.include("default-src 'none'");
    });

    it('refuses to be mounted at another path than the issuer path', () => {
      expect(() => mountIdentityProvider(new Koa(), '/other', h.idp)).to.throw(/mounted at "\/idp"/);
    });

    it('answers 503 under the prefix until a provider mounted by reference exists', async () => {
      const koa = new Koa();
      mountIdentityProvider(koa, '/idp', () => undefined);
      koa.use((ctx) => {
        ctx.body = 'app';
      });
      const server = koa.listen(0, '127.0.0.1');
      await once(server, 'listening');
      try {
        const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        const res = await fetch(`${base}/idp/.well-known/openid-configuration`);
        expect(res.status).to.equal(503);
        expect(((await res.json()) as { error: { code: string } }).error.code).to.equal('IDP_STARTING');
        expect(await (await fetch(`${base}/`)).text()).to.equal('app');
      } finally {
        server.closeAllConnections();
        server.close();
      }
    });
  });

  describe('a first sign-in, with openid-client and PKCE', () => {
    // A number whose check character is X, typed in lower case, and a name with spaces around it.
    const who = track(person({ idNumber: idEndingInX().toLowerCase(), name: '  欧阳娜娜 ' }));
    let claims: Record<string, unknown>;
    let idToken: string;
    const steps: DriveStep[] = [];

    const jar = createCookieFetch();

    before(async () => {
      const auth = await h.authorization();
      const redirect = await driveSignIn(auth.url, who, { codes: h.outbox, onStep: (s) => steps.push(s), fetch: jar });
      const url = new URL(redirect);
      expect(url.searchParams.get('state')).to.equal(auth.state);
      expect(url.searchParams.get('iss')).to.equal(h.issuer);
      ({ claims, idToken } = await h.exchange(redirect, auth));
    });

    it('goes through phone, code, sign-up and confirmation', () => {
      expect(steps).to.deep.equal(['phone', 'code', 'signup', 'confirm']);
    });

    it('keeps its cookies to names of its own under /idp, beside the application', () => {
      const cookies = [...jar.jar.get(h.base)!.values()];
      expect(cookies.map((c) => c.name)).to.include('idp_session');
      for (const c of cookies) {
        expect(c.name).to.match(/^idp_/);
        expect(c.path).to.match(/^\/idp(\/|$)/);
      }
    });

    it('returns an ID token carrying the phone and the identity', () => {
      expect(claims.iss).to.equal(h.issuer);
      expect(claims.aud).to.equal(CLIENT_ID);
      expect(claims.sub).to.be.a('string').with.length.above(16);
      expect(claims.phone_number).to.equal(`+86${who.phone}`);
      expect(claims.phone_number_verified).to.equal(true);
      expect(claims.id_type).to.equal('resident-id');
      expect(claims.id_number).to.equal(who.idNumber.toUpperCase());
      expect(claims.name).to.equal('欧阳娜娜');
    });

    it('uses a sub that is not derived from the phone or the ID', () => {
      const sub = String(claims.sub);
      for (const s of [who.phone, who.idNumber.toUpperCase(), who.idNumber.slice(-4)]) expect(sub).to.not.include(s);
    });

    it('signs the ID token with EdDSA under the published key', async () => {
      const [header, payload, signature] = idToken.split('.');
      const { alg, kid } = JSON.parse(Buffer.from(header, 'base64url').toString()) as { alg: string; kid: string };
      expect(alg).to.equal('EdDSA');
      const { keys } = (await (await fetch(`${h.issuer}/jwks`)).json()) as { keys: Array<{ kid: string }> };
      const jwk = keys.find((k) => k.kid === kid)!;
      const key = createPublicKey({ key: jwk as unknown as import('node:crypto').JsonWebKey, format: 'jwk' });
      expect(
        verifySignature(null, Buffer.from(`${header}.${payload}`), key, Buffer.from(signature, 'base64url')),
      ).to.equal(true);
      expect(
        verifySignature(null, Buffer.from(`${header}.${payload}x`), key, Buffer.from(signature, 'base64url')),
      ).to.equal(false);
    });

    it('signs in again with phone and code only, as the same sub', async () => {
      const again: DriveStep[] = [];
      const second = await h.signIn(who, (s) => again.push(s));
      expect(again).to.deep.equal(['phone', 'code']);
      expect(second.sub).to.equal(claims.sub);
      expect(second.id_number).to.equal(claims.id_number);
    });
  });

  describe('one-time codes', () => {
    it('locks the challenge after five wrong codes, then refuses even the right one', async () => {
      const who = track(person());
      const m = await begin(h);
      const t = Date.now();
      expect((await submit(m, 'phone', { phone: who.phone })).status).to.equal(303);
      const right = await codeFor(h, who.phone, 'login', t);
      const wrong = right === '000000' ? '111111' : '000000';
      const answers: Array<[number, string | undefined]> = [];
      for (let i = 0; i < 5; i++) {
        const r = await submit(m, 'code', { code: wrong });
        answers.push([r.status, dataError(r.html)]);
      }
      expect(answers).to.deep.equal([
        [400, 'OTP_INVALID'],
        [400, 'OTP_INVALID'],
        [400, 'OTP_INVALID'],
        [400, 'OTP_INVALID'],
        [400, 'OTP_LOCKED'],
      ]);
      const r = await submit(m, 'code', { code: right });
      expect([r.status, dataError(r.html)]).to.deep.equal([400, 'OTP_LOCKED']);
      expect((await show(m)).step).to.equal('code');
    });

    it('refuses a code after five minutes and takes a new one within them', async () => {
      const who = track(person());
      const m = await begin(h);
      let t = Date.now();
      await submit(m, 'phone', { phone: who.phone });
      const stale = await codeFor(h, who.phone, 'login', t);
      h.clock.advance(5 * MINUTE + 1000);
      const r = await submit(m, 'code', { code: stale });
      expect([r.status, dataError(r.html)]).to.deep.equal([400, 'OTP_EXPIRED']);
      expect((await submit(m, 'restart', {})).status).to.equal(303);
      t = Date.now();
      await submit(m, 'phone', { phone: who.phone });
      const fresh = await codeFor(h, who.phone, 'login', t);
      h.clock.advance(5 * MINUTE - 1000);
      const ok = await submit(m, 'code', { code: fresh });
      expect(ok.status).to.equal(303);
      expect((await show(m)).step).to.equal('signup');
    });

    it('sends at most five codes to one phone in ten minutes (the default), then answers 429 with Retry-After', async () => {
      const g = await startHarness();
      try {
        const phone = phoneNumber();
        const m = await begin(g);
        for (let i = 0; i < 5; i++) {
          expect((await submit(m, 'phone', { phone })).status, `send ${i + 1}`).to.equal(303);
          expect((await submit(m, 'restart', {})).status).to.equal(303);
        }
        const r = await submit(m, 'phone', { phone });
        expect(r.status).to.equal(429);
        expect(dataError(r.html)).to.equal('TOO_MANY_REQUESTS');
        expect(Number(r.headers.get('retry-after'))).to.be.within(1, 600);
        expect((await readOutbox(g.outbox)).length).to.equal(5);
        // The limit follows the number, however it is written, not the interaction.
        const other = await begin(g);
        expect((await submit(other, 'phone', { phone: `+86 ${phone}` })).status).to.equal(429);
        expect((await submit(other, 'phone', { phone: phoneNumber() })).status).to.equal(303);
      } finally {
        await g.close();
      }
    });

    it('refuses a malformed phone number with PHONE_FORMAT and keeps what was typed', async () => {
      const m = await begin(h);
      const r = await submit(m, 'phone', { phone: '12345"<x>' });
      expect(r.status).to.equal(400);
      expect(dataError(r.html)).to.equal('PHONE_FORMAT');
      expect(r.html).to.include('value="12345&quot;&lt;x&gt;"');
    });
  });

  describe('sign-up: one account per ID', () => {
    const owner = track(person());
    const taker = track(person({ idNumber: owner.idNumber, name: personName() }));
    const newcomer = track(person());
    const sameName = track(person({ idNumber: owner.idNumber, name: owner.name }));
    let ownerSub: string;
    const attempts: Record<
      string,
      {
        m: Manual;
        post: { status: number; html: string; headers: Headers };
        page: { status: number; html: string; headers: Headers };
        after: number;
      }
    > = {};

    before(async () => {
      ownerSub = String((await h.signIn(owner)).sub);
      for (const [label, p] of Object.entries({ taker, newcomer, sameName })) {
        const m = await begin(h);
        const passed = await passCode(h, m, p.phone);
        expect(passed.status).to.equal(303);
        expect((await show(m)).step).to.equal('signup');
        const after = Date.now();
        const post = await submit(m, 'signup', { idType: p.idType, idNumber: p.idNumber, name: p.name });
        attempts[label] = { m, post, page: await show(m), after };
      }
    });

    const normalised = (a: (typeof attempts)[string], which: 'post' | 'page') => {
      const r = a[which];
      const strip = (s: string) => s.split(a.m.uid).join('<uid>');
      const headers: string[] = [];
      r.headers.forEach((v, k) => {
        if (!['date', 'keep-alive', 'connection'].includes(k)) headers.push(`${k}: ${strip(v)}`);
      });
      return { status: r.status, headers, body: strip(r.html) };
    };

    it('answers a new ID and an ID another account holds alike, apart from the interaction id', () => {
      expect(attempts.taker.post.status).to.equal(303);
      expect(normalised(attempts.taker, 'post')).to.deep.equal(normalised(attempts.newcomer, 'post'));
      expect(attempts.taker.page.status).to.equal(200);
      expect(/<main data-step="([a-z]+)"/.exec(attempts.taker.page.html)?.[1]).to.equal('confirm');
      expect(normalised(attempts.taker, 'page')).to.deep.equal(normalised(attempts.newcomer, 'page'));
    });

    it('answers alike whether or not the name matches the holder’s', () => {
      expect(normalised(attempts.taker, 'post')).to.deep.equal(normalised(attempts.sameName, 'post'));
      expect(normalised(attempts.taker, 'page')).to.deep.equal(normalised(attempts.sameName, 'page'));
    });

    it('shows no phone number, masked or not, on the confirmation page', () => {
      const html = attempts.taker.page.html;
      for (const p of [owner.phone, taker.phone]) {
        expect(html).to.not.include(maskPhone(p));
        expect(html).to.not.include(p.slice(-4));
      }
      expect(html).to.include(
        'Enter the confirmation code sent to the phone registered for this ID, or to this phone if the ID is new.',
      );
    });

    it('sends the confirmation code to the phone the holder registered, and none to the new phone', async () => {
      const after = attempts.taker.after;
      expect(await latestCode(h.outbox, { phone: owner.phone, purpose: 'id-transfer', after })).to.match(/^\d{6}$/);
      const toTaker = (await readOutbox(h.outbox)).filter(
        (e) => e.to === maskPhone(taker.phone) && Date.parse(e.at) >= after,
      );
      expect(toTaker).to.deep.equal([]);
      expect(
        await latestCode(h.outbox, { phone: newcomer.phone, purpose: 'id-confirm', after: attempts.newcomer.after }),
      ).to.match(/^\d{6}$/);
    });

    it('moves the ID to the new account, with its own sub, once the holder’s code is confirmed', async () => {
      const a = attempts.taker;
      // The owner's phone got two transfer codes, the taker's and then the same-name attempt's.
      const code = (await readOutbox(h.outbox)).find(
        (e) => e.to === maskPhone(owner.phone) && e.purpose === 'id-transfer' && Date.parse(e.at) >= a.after,
      )!.code;
      const res = await a.m.f(new URL(`${a.m.page.pathname}/confirm`, a.m.page), {
        method: 'POST',
        body: new URLSearchParams({ code }),
      });
      await res.body?.cancel();
      expect(res.status).to.equal(303);
      const redirect = await follow(a.m, h, res.headers.get('location')!);
      const { claims } = await h.exchange(redirect, a.m.auth);
      expect(claims.sub).to.not.equal(ownerSub);
      expect(claims.phone_number).to.equal(`+86${taker.phone}`);
      expect(claims.id_number).to.equal(owner.idNumber);
      // A different name confirmed by the holder's phone replaces the recorded one.
      expect(claims.name).to.equal(taker.name);
    });

    it('leaves the old account without the ID: it signs up again, keeping its sub', async () => {
      const steps: DriveStep[] = [];
      const again = await h.signIn({ ...owner, idNumber: residentIdNumber() }, (s) => steps.push(s));
      expect(steps).to.deep.equal(['phone', 'code', 'signup', 'confirm']);
      expect(again.sub).to.equal(ownerSub);
    });

    it('refuses a confirmation whose ID changed hands after the code was sent', async () => {
      // The same-name attempt's code went to the owner; the ID has since moved to the taker.
      const a = attempts.sameName;
      const code = (await readOutbox(h.outbox))
        .filter((e) => e.to === maskPhone(owner.phone) && e.purpose === 'id-transfer' && Date.parse(e.at) >= a.after)
        .at(-1)!.code;
      const r = await submit(a.m, 'confirm', { code });
      expect([r.status, dataError(r.html)]).to.deep.equal([409, 'CONFIRMATION_STALE']);
      expect(/<main data-step="([a-z]+)"/.exec(r.html)?.[1]).to.equal('signup');
    });

    it('answers alike when the holder’s phone has had its share of codes, and sends it no more', async () => {
      const g = await startHarness();
      try {
        const holder = person();
        await g.signIn(holder);
        const attempt = async (p: SignInIdentity) => {
          const m = await begin(g);
          expect((await passCode(g, m, p.phone)).status).to.equal(303);
          const post = await submit(m, 'signup', { idType: p.idType, idNumber: p.idNumber, name: p.name });
          const page = await show(m);
          return { status: [post.status, page.status], body: page.html.split(m.uid).join('<uid>') };
        };
        // The holder's sign-in took two of its five codes; three takers use up the rest.
        for (let i = 0; i < 3; i++) await attempt(person({ idNumber: holder.idNumber }));
        const before = (await readOutbox(g.outbox)).filter((e) => e.to === maskPhone(holder.phone)).length;
        const over = await attempt(person({ idNumber: holder.idNumber }));
        expect(over).to.deep.equal(await attempt(person()));
        expect(over.status).to.deep.equal([303, 200]);
        expect((await readOutbox(g.outbox)).filter((e) => e.to === maskPhone(holder.phone)).length).to.equal(before);
        expect(before).to.equal(5);
      } finally {
        await g.close();
      }
    });

    it('lets the driver take an ID from another phone with ownerPhone', async () => {
      const held = track(person());
      const first = await h.signIn(held);
      const next = track(person({ idNumber: held.idNumber, ownerPhone: held.phone }));
      const claims = await h.signIn(next);
      expect(claims.id_number).to.equal(held.idNumber);
      expect(claims.sub).to.not.equal(first.sub);
    });

    it('names the failing step when the driver cannot find a confirmation code', async () => {
      const held = track(person());
      await h.signIn(held);
      const next = track(person({ idNumber: held.idNumber }));
      const auth = await h.authorization();
      const err = await driveSignIn(auth.url, next, { codes: h.outbox, codeTimeoutMs: 100 }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(DriveError);
      expect(err).to.include({ step: 'confirm', code: 'CODE_NOT_FOUND' });
      expect((err as Error).message).to.include('ownerPhone');
    });
  });

  describe('the sign-up form', () => {
    let m: Manual;
    const who = track(person());

    before(async () => {
      m = await begin(h);
      expect((await passCode(h, m, who.phone)).status).to.equal(303);
    });

    it('refuses an ID number with a wrong check character with INVALID_ID_NUMBER', async () => {
      const bad = who.idNumber.slice(0, 17) + (who.idNumber[17] === '0' ? '1' : '0');
      const r = await submit(m, 'signup', { idType: 'resident-id', idNumber: bad, name: who.name });
      expect([r.status, dataError(r.html)]).to.deep.equal([400, 'INVALID_ID_NUMBER']);
    });

    it('refuses a name with a direction override with NAME_INVALID, and escapes what it shows back', async () => {
      const r = await submit(m, 'signup', { idType: 'resident-id', idNumber: who.idNumber, name: '<b>张\u202E三</b>' });
      expect([r.status, dataError(r.html)]).to.deep.equal([400, 'NAME_INVALID']);
      expect(r.html).to.include('value="&lt;b&gt;张\u202E三&lt;/b&gt;"');
      expect(r.html).to.not.include('<b>张');
    });

    it('asks a resident ID holder for a mainland mobile number', async () => {
      const abroad = track(person({ phone: '+85291234567' }));
      const other = await begin(h);
      expect((await passCode(h, other, abroad.phone)).status).to.equal(303);
      const r = await submit(other, 'signup', { idType: 'resident-id', idNumber: abroad.idNumber, name: abroad.name });
      expect([r.status, dataError(r.html)]).to.deep.equal([400, 'PHONE_FORMAT']);
      const passport = await submit(other, 'signup', {
        idType: 'passport',
        idNumber: `E${Date.now() % 100_000_000}`,
        name: 'Jane Doe',
      });
      expect(passport.status).to.equal(303);
    });

    it('sends pages that run no script, cannot be framed, and post only to the provider and the client', async () => {
      const page = await show(m);
      const csp = page.headers.get('content-security-policy')!;
      expect(csp).to.include("default-src 'none'");
      expect(csp).to.not.match(/script-src/);
      expect(csp).to.include(`form-action 'self' ${h.base}`);
      expect(csp).to.include("frame-ancestors 'none'");
      expect(page.html).to.not.match(/<script/i);
      expect(page.headers.get('cache-control')).to.equal('no-store');
    });
  });

  describe('names', () => {
    const forbidden = [
      '\u0000',
      '\u0007',
      '\u007F',
      '\u0085',
      '\u202A',
      '\u202B',
      '\u202C',
      '\u202D',
      '\u202E',
      '\u2066',
      '\u2067',
      '\u2068',
      '\u2069',
      '\u200E',
      '\u200F',
      '\u061C',
      '\u200B',
      '\u200C',
      '\u200D',
      '\u2060',
      '\uFEFF',
      '\n',
    ];
    for (const c of forbidden) {
      it(`refuses U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')} anywhere, ends included`, () => {
        expect(normalizeName(`张${c}三`)).to.include({ ok: false, code: 'NAME_INVALID' });
        expect(normalizeName(`${c}张三`)).to.include({ ok: false, code: 'NAME_INVALID' });
      });
    }

    it('trims and NFC-normalises', () => {
      expect(normalizeName('  Jose\u0301 Li ')).to.deep.equal({ ok: true, name: 'José Li' });
    });

    it('takes 1 to 64 characters, counted in code points', () => {
      expect(normalizeName('   ').ok).to.equal(false);
      expect(normalizeName('𠀀'.repeat(64)).ok).to.equal(true);
      expect(normalizeName('𠀀'.repeat(65)).ok).to.equal(false);
    });
  });

  describe('data at rest', () => {
    it('creates the data folder 0700 and its key files 0600', () => {
      expect(statSync(h.dataDir).mode & 0o777).to.equal(0o700);
      for (const f of ['secrets.json', 'jwks.json', 'cookie-keys.json'])
        expect(statSync(join(h.dataDir, f)).mode & 0o777, f).to.equal(0o600);
    });

    it('keeps no phone number, ID number or name in plain text in the accounts database', async () => {
      const who = track(person({ name: '司马相如' }));
      await h.signIn(who);
      const dir = join(h.dataDir, 'accounts');
      const bytes = Buffer.concat(readdirSync(dir).map((f) => readFileSync(join(dir, f))));
      expect(bytes.length).to.be.above(0);
      for (const s of [who.phone, who.idNumber, who.name]) expect(bytes.includes(Buffer.from(s)), s).to.equal(false);
    });

    it('refuses a folder holding the service’s own secrets.json', () => {
      const tmp = tempDir('ankang-idp-svc-');
      try {
        writeFileSync(
          join(tmp.dir, 'secrets.json'),
          JSON.stringify({ pseudonymKey: 'x', encryptionKey: 'y', adminToken: 'z' }),
        );
        expect(() => loadIdpSecrets(tmp.dir)).to.throw(/not the identity provider's/);
      } finally {
        tmp.cleanup();
      }
    });
  });

  describe('after a restart on the same folder', () => {
    let first: Harness;
    let r: Harness;
    const who = person();
    let before1: { sub: unknown; kid: string };

    before(async () => {
      first = await startHarness();
      const claims = await first.signIn(who);
      const { keys } = (await (await fetch(`${first.issuer}/jwks`)).json()) as { keys: Array<{ kid: string }> };
      before1 = { sub: claims.sub, kid: keys[0].kid };
      await first.stop();
      r = await startHarness({ dir: first.dir });
    });

    after(async () => {
      await r?.close();
      // Removes the folder both used.
      await first?.close();
    });

    it('signs with the same key', async () => {
      const { keys } = (await (await fetch(`${r.issuer}/jwks`)).json()) as { keys: Array<{ kid: string }> };
      expect(keys.map((k) => k.kid)).to.deep.equal([before1.kid]);
    });

    it('knows the account: phone and code only, same sub and identity', async () => {
      const steps: DriveStep[] = [];
      const claims = await r.signIn(who, (s) => steps.push(s));
      expect(steps).to.deep.equal(['phone', 'code']);
      expect(claims.sub).to.equal(before1.sub);
      expect(claims.id_number).to.equal(who.idNumber);
    });
  });

  describe('the SMS outbox', () => {
    it('holds masked numbers only, in a file only its owner can read', () => {
      const raw = readFileSync(h.outbox, 'utf8');
      expect(phonesUsed.length).to.be.above(5);
      for (const p of phonesUsed) {
        const digits = p.replace(/\D/g, '');
        expect(raw, p).to.not.include(digits);
        expect(raw).to.not.include(digits.slice(-9));
      }
      for (const line of raw.trim().split('\n')) expect((JSON.parse(line) as { to: string }).to).to.include('****');
      expect(statSync(h.outbox).mode & 0o777).to.equal(0o600);
    });

    it('drops messages older than an hour when it writes the next', async () => {
      const tmp = tempDir('ankang-outbox-');
      try {
        const clock = new TestClock(Date.parse('2026-03-10T02:00:00Z'));
        const file = join(tmp.dir, 'outbox.jsonl');
        const sms = new OutboxSmsSender(file, clock.now);
        await sms.send({ to: '13800001111', purpose: 'login', code: '111111' });
        clock.advance(30 * MINUTE);
        await sms.send({ to: '13800002222', purpose: 'login', code: '222222' });
        clock.advance(31 * MINUTE);
        await sms.send({ to: '13800003333', purpose: 'rebind', code: '333333' });
        expect((await readOutbox(file)).map((e) => e.code)).to.deep.equal(['222222', '333333']);
        expect(await latestCode(file, { phone: '13800003333', purpose: 'rebind' })).to.equal('333333');
        expect(await latestCode(file, { phone: '+86 138 0000 2222', after: clock.ms })).to.equal(undefined);
        expect(statSync(file).mode & 0o777).to.equal(0o600);
      } finally {
        tmp.cleanup();
      }
    });
  });

  describe('the SMS gateway', () => {
    let gateway: Server;
    let url: string;
    const received: Array<{ body: unknown; type?: string }> = [];
    let mode: 'ok' | 'fail' | 'hang' = 'ok';

    before(async () => {
      gateway = createServer((req, res) => {
        let body = '';
        req.on('data', (d) => (body += d));
        req.on('end', () => {
          received.push({ body: JSON.parse(body), type: req.headers['content-type'] });
          if (mode === 'hang') return;
          res.statusCode = mode === 'ok' ? 202 : 502;
          res.end(mode === 'ok' ? '' : `bad number ${(JSON.parse(body) as { to: string }).to}`);
        });
      });
      await new Promise<void>((done) => gateway.listen(0, '127.0.0.1', done));
      url = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}/send`;
    });

    after(async () => {
      gateway.closeAllConnections();
      await new Promise((done) => gateway.close(done));
    });

    it('posts the full number and the text as JSON', async () => {
      mode = 'ok';
      await new GatewaySmsSender(url).send({ to: '13812345678', purpose: 'login', code: '123456' });
      expect(received.at(-1)!.type).to.equal('application/json');
      const body = received.at(-1)!.body as { to: string; text: string };
      expect(body.to).to.equal('13812345678');
      expect(body.text).to.include('123456');
    });

    it('throws SMS_GATEWAY_REFUSED on an error answer, without the number', async () => {
      mode = 'fail';
      const err = await new GatewaySmsSender(url)
        .send({ to: '13812345678', purpose: 'login', code: '123456' })
        .catch((e: unknown) => e);
      expect(err).to.be.instanceOf(SmsError).and.include({ code: 'SMS_GATEWAY_REFUSED' });
      expect((err as Error).message).to.not.include('5678');
    });

    it('throws SMS_GATEWAY_TIMEOUT when the gateway does not answer in time', async () => {
      mode = 'hang';
      const err = await new GatewaySmsSender(url, 200)
        .send({ to: '13812345678', purpose: 'login', code: '123456' })
        .catch((e: unknown) => e);
      expect(err).to.be.instanceOf(SmsError).and.include({ code: 'SMS_GATEWAY_TIMEOUT' });
    });

    it('makes the sign-in page answer 503 SMS_UNAVAILABLE', async () => {
      mode = 'fail';
      const g = await startHarness({ sms: new GatewaySmsSender(url) });
      try {
        const m = await begin(g);
        const r = await submit(m, 'phone', { phone: phoneNumber() });
        expect([r.status, dataError(r.html)]).to.deep.equal([503, 'SMS_UNAVAILABLE']);
      } finally {
        await g.close();
      }
    });
  });

  describe('per-address limits', () => {
    it('answers 429 once one address asked for more codes than its limit, whatever the numbers', async () => {
      const g = await startHarness({ limits: { sendsPerAddress: 2 } });
      try {
        const m = await begin(g);
        const statuses: number[] = [];
        for (let i = 0; i < 3; i++) {
          statuses.push((await submit(m, 'phone', { phone: phoneNumber() })).status);
          await submit(m, 'restart', {});
        }
        expect(statuses).to.deep.equal([303, 303, 429]);
      } finally {
        await g.close();
      }
    });
  });

  describe('in Chromium without JavaScript, the client on another origin', () => {
    it('signs up and lands on the client with a code the client can redeem', async function () {
      if (!existsSync(CHROMIUM)) this.skip();
      const g = await startHarness({ clientHost: 'localhost' });
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
      });
      try {
        const context = await browser.newContext({
          javaScriptEnabled: false,
          viewport: { width: 390, height: 844 },
          deviceScaleFactor: 2,
          isMobile: true,
          hasTouch: true,
          locale: 'zh-CN',
        });
        const page = await context.newPage();
        const blocked: string[] = [];
        page.on('console', (msg) => {
          if (/Content Security Policy/i.test(msg.text())) blocked.push(msg.text());
        });
        const who = person({ idType: 'passport', idNumber: `G${Date.now() % 100_000_000}`, name: 'Zhang San' });
        const auth = await g.authorization();
        await page.goto(auth.url);
        await page.fill('[data-testid=phone]', who.phone);
        let t = Date.now();
        await page.click('[data-testid=submit]');
        await page.waitForSelector('[data-testid=code-form]');
        await page.fill('[data-testid=code]', '000000');
        await page.click('[data-testid=submit]');
        await page.waitForSelector('[data-error]');
        expect(await page.getAttribute('[data-testid=error]', 'data-error')).to.be.oneOf(['OTP_INVALID']);
        await page.fill('[data-testid=code]', await codeFor(g, who.phone, 'login', t));
        await page.click('[data-testid=submit]');
        await page.waitForSelector('[data-testid=signup-form]');
        await screenshot(page, 'idp-signup', { fullPage: true });
        await page.selectOption('[data-testid=idType]', who.idType);
        await page.fill('[data-testid=idNumber]', who.idNumber);
        await page.fill('[data-testid=name]', who.name);
        t = Date.now();
        await page.click('[data-testid=submit]');
        await page.waitForSelector('[data-testid=confirm-form]');
        await screenshot(page, 'idp-confirm', { fullPage: true });
        await page.fill('[data-testid=code]', await codeFor(g, who.phone, 'id-confirm', t));
        await page.click('[data-testid=submit]');
        await page.waitForURL((u) => u.href.startsWith(g.redirectUri), { timeout: 10_000 });
        expect(await page.textContent('#client')).to.equal('signed in');
        expect(blocked).to.deep.equal([]);
        const { claims } = await g.exchange(page.url(), auth);
        expect(claims).to.include({
          id_type: 'passport',
          id_number: who.idNumber,
          name: 'Zhang San',
          phone_number: `+86${who.phone}`,
        });
      } finally {
        await browser.close();
        await g.close();
      }
    });
  });

  describe('standalone (npm run idp)', () => {
    it('starts, serves discovery and a sign-in, says nothing on stderr and stops on SIGTERM', async () => {
      const tmp = tempDir('ankang-idp-proc-');
      try {
        const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'idp.ts')], {
          cwd: ROOT,
          env: {
            ...process.env,
            IDP_PORT: '0',
            IDP_HOST: '127.0.0.1',
            IDP_DATA_DIR: join(tmp.dir, 'idp'),
            IDP_CLIENT_ID: 'other-rp',
            IDP_CLIENT_SECRET: CLIENT_SECRET,
            IDP_REDIRECT_URIS: 'http://127.0.0.1:9/cb, http://127.0.0.1:9/cb2',
            LOG_LEVEL: 'info',
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stderr = '';
        child.stderr!.on('data', (d) => (stderr += d));
        const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
          child.once('exit', (code, signal) => done({ code, signal })),
        );
        try {
          const line = await new Promise<{ msg: string; issuer: string }>((resolveLine, reject) => {
            const timer = setTimeout(() => reject(new Error(`no listening line: ${stderr}`)), 30_000);
            createInterface({ input: child.stdout! }).on('line', (l) => {
              clearTimeout(timer);
              resolveLine(JSON.parse(l) as { msg: string; issuer: string });
            });
            void exited.then(() => reject(new Error(`exited early: ${stderr}`)));
          });
          expect(line.msg).to.equal('identity provider listening');
          expect(line.issuer).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
          const d = (await (await fetch(`${line.issuer}/.well-known/openid-configuration`)).json()) as {
            issuer: string;
            authorization_endpoint: string;
          };
          expect(d.issuer).to.equal(line.issuer);
          expect(d.authorization_endpoint).to.equal(`${line.issuer}/auth`);
          // A whole sign-in against it, codes read from its default outbox.
          const rp = await client.discovery(
            new URL(line.issuer),
            'other-rp',
            undefined,
            client.ClientSecretBasic(CLIENT_SECRET),
            { execute: [client.allowInsecureRequests] },
          );
          const verifier = client.randomPKCECodeVerifier();
          const state = client.randomState();
          const url = client.buildAuthorizationUrl(rp, {
            redirect_uri: 'http://127.0.0.1:9/cb2',
            scope: SCOPE,
            code_challenge: await client.calculatePKCECodeChallenge(verifier),
            code_challenge_method: 'S256',
            state,
          });
          const who = person();
          const redirect = await driveSignIn(url.href, who, { codes: join(tmp.dir, 'idp', 'sms-outbox.jsonl') });
          const tokens = await client.authorizationCodeGrant(rp, new URL(redirect), {
            pkceCodeVerifier: verifier,
            expectedState: state,
          });
          expect(tokens.claims()).to.include({ iss: line.issuer, aud: 'other-rp', id_number: who.idNumber });
        } finally {
          child.kill('SIGTERM');
        }
        expect(await exited).to.deep.equal({ code: 0, signal: null });
        expect(stderr).to.equal('');
        expect(existsSync(join(tmp.dir, 'idp', 'jwks.json'))).to.equal(true);
      } finally {
        tmp.cleanup();
      }
    });
  });
});
