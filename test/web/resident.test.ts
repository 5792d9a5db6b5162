import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { zh } from '../../web/src/i18n/strings';
import { launchPhone, realClock, screenshot, zbarimg, type PhoneBrowser } from '../support/browser';
import { cookieValue, fillApplication, scriptReadable, signInOnPage } from '../support/resident-page';
import { applicant, type Application, type TestService, startTestService } from '../support/service';

describe('the resident page (/)', function () {
  this.timeout(180_000);
  let svc: TestService;
  let browser: PhoneBrowser;
  let page: Page;
  let person: Application;
  /** The session's access token, from its HttpOnly cookie (the page itself cannot read it). */
  const accessToken = async () => (await cookieValue(browser.context, 'ak_resident'))!;

  before(async () => {
    // A one-minute code refreshed 52 s before expiry: the page must fetch a new one after about 8 s.
    svc = await startTestService({
      clock: realClock(),
      config: { CODE_TTL_MINUTES: 1, CODE_REFRESH_MARGIN_SECONDS: 52 },
    });
    browser = await launchPhone();
    page = browser.page;
    person = applicant({ name: '张三丰' });
  });

  after(async () => {
    await browser?.close();
    await svc?.close();
  });

  describe('before signing in', () => {
    it('shows only the sign-in card, whose button goes to /v1/auth/login', async () => {
      await page.goto(`${svc.url}/`);
      await page.waitForSelector('[data-testid=sign-in-card]');
      expect(await page.getAttribute('[data-testid=sign-in]', 'href')).to.equal('/v1/auth/login');
      expect(await page.$('[data-testid=apply-form]')).to.equal(null);
      expect(await page.$('input[name=idNumber]')).to.equal(null);
      await screenshot(page, 'resident-sign-in');
    });
  });

  describe('signed in, when the form is sent with mistakes', () => {
    const mistakes = { phone: '12345', district: '999999', declaration: { temperatureC: 36.6 } };

    before(async () => {
      await signInOnPage(page, svc.outbox, person);
      await page.waitForSelector('[data-testid=apply-form]');
      await screenshot(page, 'resident-apply', { fullPage: true });
      await fillApplication(page, mistakes);
      await page.click('[data-testid=apply-submit]');
      await page.waitForSelector('.field-error');
    });

    it('asks for no ID, and says who applies from the sign-in, masked', async () => {
      expect(await page.$$('select[name=idType], input[name=idNumber], input[name=name]')).to.have.length(0);
      const who = (await page.textContent('[data-testid=session-who]'))!;
      expect(who).to.include('张*丰').and.include(person.idNumber.slice(-4));
      expect(who).not.to.include('张三丰').and.not.to.include(person.idNumber);
    });

    it("puts each of the API's field errors next to its field, in the page's words for its code", async () => {
      const errors = await page.$$eval('.field-error', (els) =>
        els.map((e) => ({
          path: (e as HTMLElement).dataset.errorFor,
          text: e.textContent ?? '',
          field: e.closest('.field')?.querySelector('[data-field]')?.getAttribute('data-field'),
        })),
      );
      // The same body the page sends, from the same session.
      const body = {
        ...mistakes,
        declaration: { ...mistakes.declaration, symptoms: [], visited: [], contactWithCase: false },
      };
      const direct = await svc.call('POST', '/v1/residents', { token: await accessToken(), json: body });
      expect(direct.status).to.equal(400);
      const apiPaths = (direct.body.error.fields as Array<{ path: string; message: string }>).map((f) => f.path).sort();
      expect(apiPaths).to.deep.equal(['district', 'phone']);
      expect(errors.map((e) => e.path).sort()).to.deep.equal(apiPaths);
      for (const e of errors) expect(e.field).to.equal(e.path);
      // In the page's words for the API's field code, not the API's English message.
      for (const f of direct.body.error.fields as Array<{ path: string; code: string; message: string }>) {
        expect(errors.find((e) => e.path === f.path)!.text)
          .to.equal(zh[`err.${f.code}` as keyof typeof zh])
          .and.not.include(f.message);
      }
      await screenshot(page, 'resident-apply-errors', { fullPage: true });
    });

    it('keeps no token where its script could read it', async () => {
      const seen = await scriptReadable(page);
      expect(Object.keys(seen.local).filter((k) => k !== 'ankang.lang')).to.deep.equal([]);
      expect(seen.session).to.deep.equal({});
      expect(seen.cookie).not.to.include('ak_');
    });
  });

  describe('when a resident applies through the form', () => {
    let code: string;

    before(async () => {
      await page.goto(`${svc.url}/`);
      await page.waitForSelector('[data-testid=apply-form]');
      await fillApplication(page, person);
      await page.click('[data-testid=apply-submit]');
      await page.waitForSelector('[data-testid=code-card]');
      code = (await page.getAttribute('[data-testid=code-card]', 'data-code'))!;
    });

    it('shows a green code', async () => {
      expect(await page.getAttribute('[data-testid=code-card]', 'data-colour')).to.equal('green');
      expect(code).to.match(/^AK1:[0-9A-Z $%*+\-./:]+$/);
    });

    it('keeps the session in HttpOnly, Secure, SameSite=Strict cookies, whose token the API gives the code shown', async () => {
      const cookies = (await browser.context.cookies()).filter((c) => c.name.startsWith('ak_resident'));
      expect(cookies.map((c) => [c.name, c.path, c.httpOnly, c.secure, c.sameSite]).sort()).to.deep.equal([
        ['ak_resident', '/', true, true, 'Strict'],
        ['ak_resident_refresh', '/v1/auth', true, true, 'Strict'],
      ]);
      const r = await svc.call('GET', '/v1/residents/me/code', { token: await accessToken() });
      expect(r.status).to.equal(200);
      expect(r.body.code).to.equal(code);
      expect(await page.evaluate(() => document.cookie)).to.equal('');
    });

    it('draws a QR code that zbarimg reads off a screenshot as the same AK1 text', async () => {
      const file = await screenshot(page, 'resident-code');
      expect(await zbarimg(file)).to.equal(code);
    });

    it('shows the masked name, the ID tail, the issuer, the issue time in Shanghai time and a countdown', async () => {
      const card = (await page.textContent('[data-testid=code-card]'))!;
      expect(card).to.include('张*丰');
      expect(card).not.to.include('张三丰');
      expect(card).to.include(`证件尾号 ${person.idNumber.slice(-4)}`);
      expect(await page.textContent('[data-testid=issuer]')).to.equal('安徽省 (340000)');
      const issuedAt = (await svc.call('GET', '/v1/residents/me/code', { token: await accessToken() })).body
        .issuedAt as string;
      const shanghai = new Date(Date.parse(issuedAt) + 8 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
      expect(card).to.include(`${shanghai} 北京时间`);
      const first = await page.textContent('[data-testid=countdown]');
      await page.waitForFunction((t) => document.querySelector('[data-testid=countdown]')?.textContent !== t, first, {
        timeout: 5000,
      });
    });

    it('fetches a new code by itself once refreshAt has passed', async () => {
      await page.waitForFunction(
        (old) => document.querySelector('[data-testid=code-card]')?.getAttribute('data-code') !== old,
        code,
        { timeout: 30_000 },
      );
      const now = (await page.getAttribute('[data-testid=code-card]', 'data-code'))!;
      expect(now).to.match(/^AK1:/);
      expect((await svc.call('GET', '/v1/residents/me/code', { token: await accessToken() })).body.code).to.equal(now);
    });

    it('switches to English and remembers the choice', async () => {
      await page.click('[data-testid=lang-switch]');
      expect(await page.textContent('h1')).to.equal('My Ankang code');
      expect(await page.getAttribute('html', 'lang')).to.equal('en');
      await page.reload();
      await page.waitForSelector('[data-testid=code-card]');
      expect(await page.textContent('[data-testid=code-card] .code-colour')).to.equal('Green');
      await screenshot(page, 'resident-code-en');
      await page.click('[data-testid=lang-switch]');
      expect(await page.textContent('h1')).to.equal('我的安康码');
    });

    it("lists the resident's own scans", async () => {
      const operator = await svc.token('operator');
      const venue = await svc.call('POST', '/v1/venues', {
        token: operator,
        json: { type: 'crowded-place', subtype: 'mall', name: '银泰城', district: '340104' },
      });
      const shown = (await page.getAttribute('[data-testid=code-card]', 'data-code'))!;
      const scan = await svc.call('POST', '/v1/scans', {
        token: operator,
        json: { venueId: venue.body.id, code: shown },
      });
      expect(scan.status).to.equal(201);
      await page.reload();
      await page.waitForSelector('[data-testid=history] li');
      const rows = await page.$$eval('[data-testid=history] li', (els) => els.map((e) => e.textContent));
      expect(rows).to.have.length(1);
      expect(rows[0]).to.include('银泰城').and.include('通行').and.include('工作人员核验');
    });

    it('files an appeal, showing the API field error for an empty reason first', async () => {
      await page.click('[data-testid=appeal-form] button[type=submit]');
      await page.waitForSelector('[data-testid=appeal-form] .field-error');
      expect(await page.getAttribute('[data-testid=appeal-form] .field-error', 'data-error-for')).to.equal('reason');
      await page.fill('[data-testid=appeal-form] textarea[name=reason]', '我没有去过风险地区');
      await page.selectOption('[data-testid=appeal-form] select[name=requestedColour]', 'green');
      await page.click('[data-testid=appeal-form] button[type=submit]');
      await page.waitForSelector('[data-testid=my-appeals] li');
      expect(await page.textContent('[data-testid=my-appeals]'))
        .to.include('审核中')
        .and.include('我没有去过风险地区');
      const queue = await svc.call('GET', '/v1/appeals', { token: await svc.token('health') });
      expect(queue.body.appeals).to.have.length(1);
      await screenshot(page, 'resident-page', { fullPage: true });
    });

    it('shows the printed version at ?mode=printed, laid out for paper when printed', async () => {
      await page.goto(`${svc.url}/?mode=printed`);
      await page.waitForSelector('[data-testid=code-card][data-mode=printed]');
      const printed = (await page.getAttribute('[data-testid=code-card]', 'data-code'))!;
      expect(printed).not.to.equal(code);
      const file = await screenshot(page, 'resident-printed');
      expect(await zbarimg(file)).to.equal(printed);
      expect((await page.textContent('[data-testid=code-card]'))!).to.include('有效期至');
      await page.emulateMedia({ media: 'print' });
      expect(await page.isVisible('.topbar')).to.equal(false);
      expect(await page.isVisible('.actions')).to.equal(false);
      expect(await page.isVisible('[data-testid=code-card] .qr')).to.equal(true);
      await page.emulateMedia({ media: 'screen' });
    });
  });
});
