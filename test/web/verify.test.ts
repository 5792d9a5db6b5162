import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Page } from 'playwright-core';
import { CODE_PREFIX, decodeBase45, encodeBase45, verifyCode } from '../../verifier/src';
import { launchPhone, realClock, screenshot, type PhoneBrowser } from '../support/browser';
import { startKeyScenario, type KeyScenario } from '../support/key-scenario';
import { applicant, apply, startTestService, type TestService } from '../support/service';
import { tempDir } from '../support/tmp';

const STANDALONE = resolve(__dirname, '..', '..', 'web', 'dist', 'verify-standalone.html');

/** The same code with the last byte of its signature flipped: still well-formed, no longer signed. */
function tamper(code: string): string {
  const bytes = decodeBase45(code.slice(CODE_PREFIX.length));
  bytes[bytes.length - 1] ^= 0x01;
  return CODE_PREFIX + encodeBase45(bytes);
}

async function check(page: Page, text: string): Promise<{ code: string; valid: string; colour: string; text: string }> {
  await page.fill('[data-testid=verify-input]', text);
  await page.click('[data-testid=verify]');
  // The page removes the previous result as the check starts, so this is the answer to `text`.
  const el = await page.waitForSelector('[data-testid=result]');
  return {
    code: (await el.getAttribute('data-code'))!,
    valid: (await el.getAttribute('data-valid'))!,
    colour: (await el.getAttribute('data-colour'))!,
    text: (await el.textContent())!,
  };
}

describe('the offline verifier', function () {
  this.timeout(180_000);
  let svc: TestService;
  let tmp: { dir: string; cleanup: () => void };
  let code: string;
  let printed: string;
  let tampered: string;
  let trustFile: string;
  let statusFile: string;
  let browser: PhoneBrowser | undefined;

  before(async () => {
    tmp = tempDir('ankang-verify-web-');
    svc = await startTestService({ clock: realClock() });
    const person = applicant({ name: '李四光' });
    const r = await apply(svc, person);
    code = r.body.code.code;
    printed = (await svc.call('GET', '/v1/residents/me/code?mode=printed', { token: r.token })).body.code;
    tampered = tamper(code);
    const trust = (await svc.call('GET', '/v1/trust-list')).body;
    expect((await verifyCode(tampered, { trustList: trust })).code).to.equal('SIGNATURE_INVALID');
    trustFile = join(tmp.dir, 'trust-list.json');
    writeFileSync(trustFile, JSON.stringify(trust));
    statusFile = join(tmp.dir, 'status.cose');
    writeFileSync(statusFile, (await svc.call('GET', '/v1/status-list')).bytes);
  });

  afterEach(async () => {
    await browser?.close();
    browser = undefined;
  });

  after(async () => {
    await svc?.close();
    tmp?.cleanup();
  });

  describe('at /verify, with the network cut after the first visit', () => {
    it('verifies a valid code and a tampered one in the browser, and still opens with the server gone', async () => {
      browser = await launchPhone();
      const { page, context } = browser;
      await page.goto(`${svc.url}/verify`);
      await page.waitForSelector('[data-testid=trust-status][data-state=ok]');
      await page.waitForSelector('[data-testid=status-status][data-iss="340000"]');
      await page.waitForFunction(() => navigator.serviceWorker.controller !== null, undefined, { timeout: 20_000 });
      expect(await page.textContent('[data-testid=trust-status]')).to.include('来自本站');

      await context.setOffline(true);
      await page.waitForSelector('[data-testid=net].net-off');
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));

      const ok = await check(page, code);
      expect(ok).to.include({ code: 'VALID', valid: 'true', colour: 'green' });
      expect(ok.text)
        .to.include('有效 · 绿码')
        .and.include('安徽省 (340000)')
        .and.include('李*光')
        .and.include('状态列表');
      await screenshot(page, 'verify-valid');

      const bad = await check(page, tampered);
      expect(bad).to.include({ code: 'SIGNATURE_INVALID', valid: 'false' });
      expect(bad.text).to.include('签名无效').and.include('被篡改或伪造').and.include('altered or forged');
      await screenshot(page, 'verify-tampered');
      expect(requests, 'verification makes no request').to.deep.equal([]);

      // Offline, then with the server itself stopped: the service worker serves the page and its assets.
      await page.reload();
      await page.waitForSelector('[data-testid=trust-status][data-state=ok]');
      expect((await check(page, code)).code).to.equal('VALID');
      await svc.stop();
      await context.setOffline(false);
      await page.reload();
      await page.waitForSelector('[data-testid=trust-status][data-state=ok]');
      expect((await check(page, code)).code).to.equal('VALID');
      expect((await check(page, tampered)).code).to.equal('SIGNATURE_INVALID');
      expect((await check(page, 'HELLO')).code).to.equal('MALFORMED');
    });
  });

  describe('the standalone file, opened from file://', () => {
    it('verifies with a trust list and a status list loaded from files, making no requests', async () => {
      browser = await launchPhone();
      const { page } = browser;
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(pathToFileURL(STANDALONE).href);
      await page.waitForSelector('[data-testid=trust-status][data-state=missing]');
      expect(await page.$('nav.nav')).to.equal(null);

      await page.setInputFiles('[data-testid=trust-file]', trustFile);
      await page.waitForSelector('[data-testid=trust-status][data-state=ok]');
      expect(await page.textContent('[data-testid=trust-status]')).to.include('trust-list.json');

      expect(await check(page, code)).to.include({ code: 'VALID', colour: 'green' });
      expect((await check(page, tampered)).code).to.equal('SIGNATURE_INVALID');
      // A printed code lives for days: without a status list it is not taken as valid.
      const stale = await check(page, printed);
      expect(stale.code).to.equal('STATUS_STALE');
      expect(stale.text).to.include('状态列表太旧或未覆盖此码');

      await page.setInputFiles('[data-testid=status-file]', statusFile);
      await page.waitForSelector('[data-testid=status-status][data-iss="340000"]');
      expect(await check(page, printed)).to.include({ code: 'VALID', colour: 'green' });
      await page.click('[data-testid=lang-switch]');
      const en = await check(page, tampered);
      expect(en.text).to.include('Signature invalid').and.include('altered or forged');
      await screenshot(page, 'verify-standalone-en');
      await page.click('[data-testid=lang-switch]');
      await check(page, code);
      await screenshot(page, 'verify-standalone', { fullPage: true });
      expect(
        requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:')),
        'requests beyond the file itself',
      ).to.deep.equal([]);
    });
  });

  describe('at /verify of a service that rotated a key and had another revoked on chain', () => {
    let sc: KeyScenario;

    before(async () => {
      sc = await startKeyScenario();
    });
    after(async () => {
      await sc?.close();
    });

    /** A fresh browser whose clock reads the service's, on the service's /verify page with its lists loaded. */
    async function openVerifier(): Promise<Page> {
      await browser?.close();
      browser = await launchPhone();
      await browser.page.clock.setFixedTime(sc.svc.clock.now());
      await browser.page.goto(`${sc.svc.url}/verify`);
      await browser.page.waitForSelector('[data-testid=trust-status][data-state=ok]');
      await browser.page.waitForSelector('[data-testid=status-status][data-iss="340000"]');
      return browser.page;
    }

    it('refuses codes of the revoked key (KEY_REVOKED) and codes over their lifetime cap (LIFETIME_TOO_LONG), naming why in both languages', async () => {
      const page = await openVerifier();
      const revoked = await check(page, sc.forged.revokedPrinted);
      expect(revoked).to.include({ code: 'KEY_REVOKED', valid: 'false' });
      expect(revoked.text).to.include('密钥已吊销').and.include('has been revoked');
      // Which key and since when, as facts in the page's language (the verifier's English message is for the English page).
      expect(revoked.text).to.include(`密钥编号${sc.b.kid}`).and.include('吊销于').and.not.include('was revoked at');
      await screenshot(page, 'verify-key-revoked');
      expect((await check(page, sc.forged.revoked2036)).code).to.equal('KEY_REVOKED');

      for (const code of [
        sc.forged.overCapDynamic,
        sc.forged.overCapPrinted,
        sc.forged.overCapVenue,
        sc.forged.retired2036,
      ]) {
        expect(await check(page, code)).to.include({ code: 'LIFETIME_TOO_LONG', valid: 'false' });
      }
      const capped = await check(page, sc.forged.overCapDynamic);
      expect(capped.text).to.include('有效期超限').and.include('live longer than its kind may');
      // The same page accepts the code the service issues now.
      const current = (await sc.svc.call('GET', '/v1/residents/me/code', { token: sc.resident.token })).body
        .code as string;
      expect(await check(page, current)).to.include({ code: 'VALID', valid: 'true' });
    });

    it('refuses codes of the retired key once the trust list has dropped it (UNKNOWN_KEY)', async () => {
      sc.passRetirementWindow();
      const page = await openVerifier();
      for (const code of [sc.forged.retiredPrinted, sc.forged.retired2036, sc.forged.retiredVenue]) {
        expect(await check(page, code)).to.include({ code: 'UNKNOWN_KEY', valid: 'false' });
      }
      expect((await check(page, sc.forged.revokedPrinted)).code).to.equal('KEY_REVOKED');
    });
  });

  describe("another province's lists, read from this page's origin", () => {
    it("are readable cross-origin (CORS), the status list with its issued-at header; a resident's own record is not", async () => {
      // The first test stops the shared service; this one runs its own pair.
      const here = await startTestService({ clock: realClock() });
      const other = await startTestService({ clock: realClock(), config: { ISSUER_ID: '320000' } });
      try {
        const applied = await apply(other, applicant({ name: '王小明' }));
        browser = await launchPhone();
        const { page } = browser;
        await page.goto(`${here.url}/verify`);
        const read = await page.evaluate(
          async ({ base, token }) => {
            const trust = await (await fetch(`${base}/v1/trust-list`, { cache: 'no-store' })).json();
            const status = await fetch(`${base}/v1/status-list`, { cache: 'no-store' });
            const bytes = (await status.arrayBuffer()).byteLength;
            let own: string;
            try {
              own = String(
                (await fetch(`${base}/v1/residents/me`, { headers: { authorization: `Bearer ${token}` } })).status,
              );
            } catch (e) {
              own = `blocked: ${(e as Error).name}`;
            }
            return {
              issuers: trust.issuers.map((i: { id: string }) => i.id),
              issuedAt: status.headers.get('x-status-list-issued-at'),
              bytes,
              own,
            };
          },
          { base: other.url, token: applied.token as string },
        );
        expect(new URL(other.url).origin).to.not.equal(new URL(here.url).origin);
        expect(read.issuers).to.deep.equal(['320000']);
        expect(read.issuedAt).to.match(/^\d{4}-\d{2}-\d{2}T/);
        expect(read.bytes).to.be.greaterThan(64);
        expect(read.own).to.equal('blocked: TypeError');
      } finally {
        await other.close();
        await here.close();
      }
    });
  });
});
