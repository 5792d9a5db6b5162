import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { latestCode } from '../../server/identity/sms';
import { launchPhone, movableClock, realClock, screenshot, zbarimg, type PhoneBrowser } from '../support/browser';
import { codeFromOutbox, cookieValue, fillApplication, scriptReadable, signInOnPage } from '../support/resident-page';
import {
  applicant,
  MINUTE,
  phoneNumber,
  startTestService,
  type Application,
  type TestService,
} from '../support/service';

/** Nothing the page's own script can read holds a token: storage has only the allowed keys, and no value or cookie looks like one. */
async function expectNoReadableToken(page: Page, allowedKeys: string[] = []): Promise<void> {
  const seen = await scriptReadable(page);
  expect(Object.keys(seen.local).filter((k) => k !== 'ankang.lang' && !allowedKeys.includes(k))).to.deep.equal([]);
  expect(seen.session).to.deep.equal({});
  expect(JSON.stringify(seen.local)).not.to.include('ak_');
  expect(seen.cookie).not.to.include('ak_');
}

/** `GET /v1/residents/me` with a bearer token: the status and the error code, if any. */
async function meWith(svc: TestService, token: string): Promise<{ status: number; code?: string }> {
  const r = await svc.call('GET', '/v1/residents/me', { token });
  return { status: r.status, code: r.body?.error?.code };
}

/** Signs `person` in on a fresh `/`, applies with the form and waits for the code. */
async function signedInWithCode(page: Page, svc: TestService, person: Application): Promise<string> {
  await page.goto(`${svc.url}/`);
  await signInOnPage(page, svc.outbox, person);
  await page.waitForSelector('[data-testid=apply-form]');
  await fillApplication(page, person);
  await page.click('[data-testid=apply-submit]');
  return (await (await page.waitForSelector('[data-testid=code-card]')).getAttribute('data-code'))!;
}

/** The API calls a page makes, as `METHOD /path STATUS` (and the error code of a 4xx). */
function recordCalls(page: Page): string[] {
  const calls: string[] = [];
  page.on('response', async (r) => {
    const url = new URL(r.url());
    if (!url.pathname.startsWith('/v1/')) return;
    const code =
      r.status() >= 400
        ? ` ${((await r.json().catch(() => ({}))) as { error?: { code?: string } }).error?.code ?? ''}`
        : '';
    calls.push(`${r.request().method()} ${url.pathname} ${r.status()}${code}`);
  });
  return calls;
}

describe('signing in on / through the identity provider', function () {
  this.timeout(180_000);
  let svc: TestService;
  let first: PhoneBrowser;
  let second: PhoneBrowser | undefined;
  const person = applicant({ name: '欧阳修' });
  const newPhone = phoneNumber();
  const masked = (phone: string) => `${phone.slice(0, 3)}****${phone.slice(-4)}`;
  let firstSession: { access: string; refresh: string };

  before(async () => {
    svc = await startTestService({ clock: realClock() });
    first = await launchPhone();
  });

  after(async () => {
    await second?.close();
    await first?.close();
    await svc?.close();
  });

  describe('the first time', () => {
    it("goes from the sign-in card through the provider's phone, code, ID and confirmation pages back to /, which asks for the declaration", async () => {
      const { page } = first;
      await page.goto(`${svc.url}/`);
      await page.click('[data-testid=sign-in]');
      await page.waitForSelector('main[data-step=phone]');
      expect(new URL(page.url()).pathname).to.match(/^\/idp\/interaction\//);
      await page.fill('[data-testid=phone]', person.phone);
      let sentAt = Date.now();
      await page.click('[data-testid=submit]');
      await page.waitForSelector('main[data-step=code]');
      expect(await page.textContent('main')).to.include(masked(person.phone));
      await page.fill('[data-testid=code]', await codeFromOutbox(svc.outbox, person.phone, 'login', sentAt));
      await page.click('[data-testid=submit]');
      await page.waitForSelector('main[data-step=signup]');
      await page.selectOption('[data-testid=idType]', person.idType);
      await page.fill('[data-testid=idNumber]', person.idNumber);
      await page.fill('[data-testid=name]', person.name);
      sentAt = Date.now();
      await page.click('[data-testid=submit]');
      await page.waitForSelector('main[data-step=confirm]');
      await page.fill('[data-testid=code]', await codeFromOutbox(svc.outbox, person.phone, 'id-confirm', sentAt));
      await page.click('[data-testid=submit]');
      await page.waitForSelector('[data-testid=apply-form]');
      expect(page.url()).to.equal(`${svc.url}/`);
      const who = (await page.textContent('[data-testid=session-who]'))!;
      expect(who).to.include('欧*修').and.include(person.idNumber.slice(-4));
    });

    it('applies with the declaration form and shows the code, which zbarimg reads off a screenshot', async () => {
      const { page, context } = first;
      await fillApplication(page, person);
      await page.click('[data-testid=apply-submit]');
      const card = await page.waitForSelector('[data-testid=code-card]');
      const code = (await card.getAttribute('data-code'))!;
      expect(code).to.match(/^AK1:/);
      expect(await zbarimg(await screenshot(page, 'sign-in-first-code'))).to.equal(code);
      firstSession = {
        access: (await cookieValue(context, 'ak_resident'))!,
        refresh: (await cookieValue(context, 'ak_resident_refresh'))!,
      };
      const api = await svc.call('GET', '/v1/residents/me/code', { token: firstSession.access });
      expect(api.body.code).to.equal(code);
    });

    it('leaves no token anywhere the page can read: not in localStorage or sessionStorage, not in document.cookie', async () => {
      expect(firstSession.access).to.match(/^ak_resident_/);
      await expectNoReadableToken(first.page);
    });
  });

  describe('again, with a new phone in a second browser', () => {
    before(async () => {
      second = await launchPhone();
    });

    it('signs up with the same ID, confirmed by the transfer code the provider sends to the first phone, and lands on the re-bind card', async () => {
      const { page } = second!;
      await page.goto(`${svc.url}/`);
      const sentAt = Date.now();
      // `ownerPhone`: the confirmation code is read from the first phone's messages.
      await signInOnPage(page, svc.outbox, { ...person, phone: newPhone, ownerPhone: person.phone });
      await page.waitForSelector('[data-testid=rebind-form]');
      expect(await latestCode(svc.outbox, { phone: newPhone, purpose: 'id-confirm', after: sentAt })).to.equal(
        undefined,
      );
      expect(await page.textContent('[data-testid=session-who]')).to.include('欧*修');
      expect(await page.$('[data-testid=rebind-code]')).to.equal(null);
      expect(await page.$('[data-testid=code-card]')).to.equal(null);
    });

    it('asks for the re-bind code, which goes to the phone on record, refuses a wrong one and shows the code for the right one', async () => {
      const { page, context } = second!;
      const sentAt = Date.now();
      await page.click('[data-testid=rebind-send]');
      await page.waitForSelector('[data-testid=rebind-sent]');
      expect(await page.textContent('[data-testid=rebind-sent]')).to.include(masked(person.phone));
      const code = await codeFromOutbox(svc.outbox, person.phone, 'rebind', sentAt);
      expect(await latestCode(svc.outbox, { phone: newPhone, purpose: 'rebind', after: sentAt })).to.equal(undefined);
      await screenshot(page, 'resident-rebind');

      await page.fill('[data-testid=rebind-code]', code === '000000' ? '111111' : '000000');
      await page.click('[data-testid=rebind-confirm]');
      await page.waitForSelector('[data-testid=rebind-form] .form-error:not([hidden])');
      expect(await page.textContent('[data-testid=rebind-form] .form-error'))
        .to.include('验证码不正确')
        .and.include('OTP_INVALID');

      await page.fill('[data-testid=rebind-code]', code);
      await page.click('[data-testid=rebind-confirm]');
      const card = await page.waitForSelector('[data-testid=code-card]');
      expect(await page.textContent('[data-testid=page-message]')).to.equal('已换绑到当前账号');
      const shown = (await card.getAttribute('data-code'))!;
      const api = await svc.call('GET', '/v1/residents/me/code', {
        token: (await cookieValue(context, 'ak_resident'))!,
      });
      expect(api.body.code).to.equal(shown);
      expect(await zbarimg(await screenshot(page, 'sign-in-rebound-code'))).to.equal(shown);
      await expectNoReadableToken(page);
    });

    it("has ended the first browser's session: a reload there shows the sign-in card, and its old tokens get 401", async () => {
      await first.page.reload();
      await first.page.waitForSelector('[data-testid=sign-in-card]');
      expect(await first.page.$('[data-testid=code-card]')).to.equal(null);
      expect(await meWith(svc, firstSession.access)).to.deep.equal({ status: 401, code: 'UNAUTHENTICATED' });
      const refresh = await svc.call('POST', '/v1/auth/refresh', { json: { refreshToken: firstSession.refresh } });
      expect(refresh.status).to.equal(401);
    });
  });
});

describe('an expired access token on /', function () {
  this.timeout(180_000);
  let svc: TestService;
  const clock = movableClock();
  let browser: PhoneBrowser;
  let page: Page;
  let calls: string[];

  before(async () => {
    // One-minute access tokens; a one-minute code the page refetches about 8 s after it is issued.
    svc = await startTestService({
      clock,
      config: { SESSION_ACCESS_MINUTES: 1, CODE_TTL_MINUTES: 1, CODE_REFRESH_MARGIN_SECONDS: 52 },
    });
    browser = await launchPhone();
    page = browser.page;
    calls = recordCalls(page);
  });

  after(async () => {
    await browser?.close();
    await svc?.close();
  });

  it('is refreshed once when the next calls fail with TOKEN_EXPIRED, and the calls repeated: the new code shows', async () => {
    const code = await signedInWithCode(page, svc, applicant());
    // The history is loaded once the code is shown; wait for it so no call is in flight as the clock moves.
    await page.waitForSelector('[data-testid=history-empty]');
    const old = (await cookieValue(browser.context, 'ak_resident'))!;
    // The page refetches the code about 8 s after it was issued, two calls at once; by then
    // the token has expired. The code call's answer is held until the other call's refresh
    // is done, as a slow network might: it must not start a second refresh.
    let held = false;
    await page.route('**/v1/residents/me/code*', async (route) => {
      if (held) return route.continue();
      held = true;
      const response = await route.fetch();
      await new Promise((r) => setTimeout(r, 1000));
      await route.fulfill({ response });
    });
    clock.advance(2 * MINUTE);
    expect(await meWith(svc, old)).to.deep.equal({ status: 401, code: 'TOKEN_EXPIRED' });
    calls.length = 0;
    await page.waitForFunction(
      (c) =>
        [c, undefined, null].indexOf(document.querySelector('[data-testid=code-card]')?.getAttribute('data-code')) < 0,
      code,
      { timeout: 30_000 },
    );
    await page.unroute('**/v1/residents/me/code*');
    expect(held).to.equal(true);
    const fresh = (await cookieValue(browser.context, 'ak_resident'))!;
    expect(fresh).not.to.equal(old);
    expect(calls.filter((c) => c.startsWith('POST /v1/auth/refresh'))).to.deep.equal(['POST /v1/auth/refresh 200']);
    expect(calls.filter((c) => c.includes('TOKEN_EXPIRED')).sort()).to.deep.equal([
      'GET /v1/residents/me 401 TOKEN_EXPIRED',
      'GET /v1/residents/me/code 401 TOKEN_EXPIRED',
    ]);
    expect(calls).to.include('GET /v1/residents/me/code 200');
    expect(await page.$('[data-testid=sign-in-card]')).to.equal(null);
    expect((await svc.call('GET', '/v1/residents/me/code', { token: fresh })).body.code).to.equal(
      await page.getAttribute('[data-testid=code-card]', 'data-code'),
    );
  });

  it('is refreshed as the page loads, which then shows the code', async () => {
    const old = (await cookieValue(browser.context, 'ak_resident'))!;
    clock.advance(2 * MINUTE);
    calls.length = 0;
    await page.reload();
    await page.waitForSelector('[data-testid=code-card]');
    expect(calls.filter((c) => c.includes('/v1/auth/')).slice(0, 3)).to.deep.equal([
      'GET /v1/auth/session 200',
      'POST /v1/auth/refresh 200',
      'GET /v1/auth/session 200',
    ]);
    const fresh = (await cookieValue(browser.context, 'ak_resident'))!;
    expect(fresh).not.to.equal(old);
    expect(await meWith(svc, old)).to.deep.equal({ status: 401, code: 'UNAUTHENTICATED' });
    expect((await meWith(svc, fresh)).status).to.equal(200);
  });

  it('does not keep the session alive past a sign-out: the refresh token stops working too', async () => {
    const refresh = (await cookieValue(browser.context, 'ak_resident_refresh'))!;
    clock.advance(2 * MINUTE);
    page.once('dialog', (d) => void d.accept());
    await page.click('[data-testid=sign-out]');
    await page.waitForSelector('[data-testid=sign-in-card]');
    expect((await browser.context.cookies()).filter((c) => c.name.startsWith('ak_'))).to.deep.equal([]);
    const r = await svc.call('POST', '/v1/auth/refresh', { json: { refreshToken: refresh } });
    expect([r.status, r.body.error?.code]).to.deep.equal([401, 'UNAUTHENTICATED']);
  });
});

describe('a resident session on /', function () {
  this.timeout(180_000);
  let svc: TestService;
  let browser: PhoneBrowser | undefined;

  before(async () => {
    svc = await startTestService({ clock: realClock() });
  });

  afterEach(async () => {
    await browser?.close();
    browser = undefined;
  });

  after(async () => {
    await svc?.close();
  });

  describe('when the admin ends the session', () => {
    it('shows the sign-in card: at the next call, saying why, and after a reload; the token gets 401', async () => {
      browser = await launchPhone();
      const { page, context } = browser;
      const person = applicant();
      await signedInWithCode(page, svc, person);
      const token = (await cookieValue(context, 'ak_resident'))!;
      const { pseudonym } = (await svc.call('GET', '/v1/residents/me', { token })).body.resident;
      const list = await svc.call('GET', '/v1/admin/tokens?role=resident', { token: svc.adminToken });
      const mine = (list.body.tokens as Array<{ id: string; pseudonym: string }>).filter(
        (s) => s.pseudonym === pseudonym,
      );
      expect(mine).to.have.length(1);
      expect((await svc.call('DELETE', `/v1/admin/tokens/${mine[0].id}`, { token: svc.adminToken })).status).to.equal(
        204,
      );

      await page.click('[data-testid=update]');
      await fillApplication(page, person);
      await page.click('[data-testid=apply-submit]');
      await page.waitForSelector('[data-testid=sign-in-card]');
      expect(await page.textContent('[data-testid=page-message]')).to.equal('登录已失效，请重新登录');
      await page.reload();
      await page.waitForSelector('[data-testid=sign-in-card]');
      expect(await page.$('[data-testid=page-message]')).to.equal(null);
      expect(await meWith(svc, token)).to.deep.equal({ status: 401, code: 'UNAUTHENTICATED' });
    });
  });

  describe('when the person signs out', () => {
    it('asks first, then ends the session on the server and removes its cookies', async () => {
      browser = await launchPhone();
      const { page, context } = browser;
      await signedInWithCode(page, svc, applicant());
      const token = (await cookieValue(context, 'ak_resident'))!;

      page.once('dialog', (d) => void d.dismiss());
      await page.click('[data-testid=sign-out]');
      expect(await page.isVisible('[data-testid=code-card]')).to.equal(true);
      expect((await meWith(svc, token)).status).to.equal(200);

      page.once('dialog', (d) => void d.accept());
      await page.click('[data-testid=sign-out]');
      await page.waitForSelector('[data-testid=sign-in-card]');
      expect((await context.cookies()).filter((c) => c.name.startsWith('ak_'))).to.deep.equal([]);
      expect(await meWith(svc, token)).to.deep.equal({ status: 401, code: 'UNAUTHENTICATED' });
      await page.reload();
      await page.waitForSelector('[data-testid=sign-in-card]');
    });
  });

  describe('when a sign-in fails', () => {
    it('comes back to / with the error shown and dropped from the address', async () => {
      browser = await launchPhone();
      const { page } = browser;
      // A callback this browser never started a sign-in for: the service refuses it and opens nothing.
      await page.goto(`${svc.url}/v1/auth/callback?code=not-a-code&state=not-a-state`);
      await page.waitForSelector('[data-testid=sign-in-card]');
      expect(await page.textContent('[data-testid=page-message]')).to.equal('登录未完成（UNAUTHENTICATED），请重试。');
      expect(page.url()).to.equal(`${svc.url}/`);
      expect((await browser.context.cookies()).filter((c) => c.name === 'ak_resident')).to.deep.equal([]);
      await page.click('[data-testid=lang-switch]');
      expect(await page.textContent('[data-testid=page-message]')).to.equal(
        'The sign-in did not complete (UNAUTHENTICATED); please try again.',
      );
    });
  });

  describe('with a token an earlier version of the page kept in localStorage', () => {
    it('removes it', async () => {
      browser = await launchPhone();
      const { page } = browser;
      await page.goto(`${svc.url}/`);
      await page.evaluate(() => {
        localStorage.setItem('ankang.residentToken', JSON.stringify('ak_resident_left-from-before'));
        localStorage.setItem('ankang.operatorToken', JSON.stringify('ak_operator_left-from-before'));
      });
      await page.reload();
      await page.waitForSelector('[data-testid=sign-in-card]');
      await expectNoReadableToken(page);
    });
  });
});

describe('the staff pages sign in with a token once', function () {
  this.timeout(180_000);
  let svc: TestService;
  let browser: PhoneBrowser | undefined;

  before(async () => {
    svc = await startTestService({ clock: realClock() });
  });

  afterEach(async () => {
    await browser?.close();
    browser = undefined;
  });

  after(async () => {
    await svc?.close();
  });

  /** A token of `role` with a venue to work at (operators register theirs; a border post is registered by health). */
  async function staffToken(role: string): Promise<string> {
    if (role === 'operator') {
      const token = await svc.token(role);
      expect(
        (
          await svc.call('POST', '/v1/venues', {
            token,
            json: { type: 'crowded-place', subtype: 'mall', name: '万象城', district: '340104' },
          })
        ).status,
      ).to.equal(201);
      return token;
    }
    if (role === 'border') {
      const post = await svc.call('POST', '/v1/venues', {
        token: await svc.token('health'),
        json: { type: 'border', subtype: 'port-of-entry', name: '新桥机场口岸', district: '340123' },
      });
      expect(post.status).to.equal(201);
      return svc.token(role, { scope: { venues: [post.body.id] } });
    }
    return svc.token(role);
  }

  const pages = [
    { path: '/scan', role: 'operator', signedIn: '[data-testid=venue-select]', storage: ['ankang.venueId'] },
    { path: '/scan', role: 'border', signedIn: '[data-testid=venue-select]', storage: ['ankang.venueId'] },
    { path: '/admin', role: 'health', signedIn: '[data-testid=colour-totals]', storage: [] },
  ];

  for (const p of pages) {
    it(`${p.path}: keeps the ${p.role} token in an HttpOnly cookie only, stays signed in across a reload, and sign-out removes the cookie`, async () => {
      const token = await staffToken(p.role);
      browser = await launchPhone();
      const { page, context } = browser;
      await page.goto(`${svc.url}${p.path}`);
      await page.fill('[data-testid=token]', token);
      await page.click('[data-testid=signin]');
      await page.waitForSelector(p.signedIn);
      const cookie = (await context.cookies()).find((c) => c.name === 'ak_staff');
      expect(cookie).to.include({ value: token, httpOnly: true, secure: true, sameSite: 'Strict', path: '/' });
      await expectNoReadableToken(page, p.storage);
      expect(JSON.stringify(await scriptReadable(page))).not.to.include(token);

      await page.reload();
      await page.waitForSelector(p.signedIn);
      expect(await page.$('[data-testid=signin-form]')).to.equal(null);
      if (p.path === '/scan') {
        // The gate scans with the cookie alone.
        await page.fill('[data-testid=code-input]', 'AK1:NOT A CODE');
        await page.press('[data-testid=code-input]', 'Enter');
        expect(await (await page.waitForSelector('[data-testid=decision]')).getAttribute('data-decision')).to.equal(
          'deny',
        );
        await page.click('[data-testid=decision]');
        await page.waitForSelector('[data-testid=decision]', { state: 'detached' });
      }

      await page.click('[data-testid=sign-out]');
      await page.waitForSelector('[data-testid=signin-form]');
      expect((await context.cookies()).map((c) => c.name)).not.to.include('ak_staff');
      const session = page.waitForResponse((r) => new URL(r.url()).pathname === '/v1/auth/session');
      await page.reload();
      expect((await (await session).json()).staff).to.equal(null);
      await page.waitForSelector('[data-testid=signin-form]');
      expect(await page.$(p.signedIn)).to.equal(null);
    });
  }
});
