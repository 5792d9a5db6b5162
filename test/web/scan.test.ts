import { expect } from 'chai';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { renderQrPng } from '../../verifier/src/qr';
import { launchPhone, realClock, screenshot, writeY4m, type PhoneBrowser } from '../support/browser';
import { signInOnPage } from '../support/resident-page';
import { applicant, apply, startTestService, type Application, type TestService } from '../support/service';
import { tempDir } from '../support/tmp';

/** A fake camera that films `text` as a QR code. */
async function cameraFilming(dir: string, name: string, text: string): Promise<string> {
  const file = join(dir, `${name}.y4m`);
  writeY4m(await renderQrPng(text), file, { frames: 20 });
  return file;
}

async function signInAtGate(page: Page, url: string, token: string, venueId: string): Promise<void> {
  await page.goto(`${url}/scan`);
  await page.fill('[data-testid=token]', token);
  await page.click('[data-testid=signin]');
  await page.waitForSelector('[data-testid=venue-select]');
  await page.selectOption('[data-testid=venue-select]', venueId);
}

async function decisionShown(page: Page): Promise<{ decision: string; zh: string; en: string; text: string }> {
  const panel = await page.waitForSelector('[data-testid=decision]', { timeout: 30_000 });
  return {
    decision: (await panel.getAttribute('data-decision'))!,
    zh: (await page.textContent('[data-testid=decision-reason-zh]'))!,
    en: (await page.textContent('[data-testid=decision-reason-en]'))!,
    text: (await panel.textContent())!,
  };
}

describe('scanning with the camera', function () {
  this.timeout(180_000);
  let svc: TestService;
  let tmp: { dir: string; cleanup: () => void };
  let operator: string;
  let venue: { id: string; name: string; code: string };
  let green: { person: Application; code: string; token: string; idLast4: string };
  let red: { code: string };
  let browser: PhoneBrowser | undefined;

  before(async () => {
    tmp = tempDir('ankang-camera-');
    svc = await startTestService({ clock: realClock() });
    operator = await svc.token('operator');
    venue = (
      await svc.call('POST', '/v1/venues', {
        token: operator,
        json: { type: 'crowded-place', subtype: 'mall', name: '万达广场', district: '340104' },
      })
    ).body;

    const g = applicant();
    const gr = await apply(svc, g);
    green = { person: g, code: gr.body.code.code, token: gr.token, idLast4: g.idNumber.slice(-4) };

    // Red through a close-contact feed, then the re-issued red code.
    const r = applicant();
    const rr = await apply(svc, r);
    const feed = await svc.call('POST', '/v1/feeds/close-contacts', {
      token: await svc.token('health'),
      json: {
        records: [
          {
            idType: r.idType,
            idNumber: r.idNumber,
            degree: 1,
            exposedAt: new Date(Date.now() - 3_600_000).toISOString(),
          },
        ],
      },
    });
    expect(feed.status).to.equal(201);
    const redCode = await svc.call('GET', '/v1/residents/me/code', { token: rr.token });
    expect(redCode.body.colour).to.equal('red');
    red = { code: redCode.body.code };
  });

  afterEach(async () => {
    await browser?.close();
    browser = undefined;
  });

  after(async () => {
    await svc?.close();
    tmp?.cleanup();
  });

  describe('at the gate (/scan), a green resident in front of the camera', () => {
    it('shows a full-screen admit decision with its reason in Chinese and English, then returns to scanning', async () => {
      browser = await launchPhone({ fakeVideo: await cameraFilming(tmp.dir, 'green', green.code) });
      const { page } = browser;
      await signInAtGate(page, svc.url, operator, venue.id);
      await page.click('[data-testid=start-camera]');
      const d = await decisionShown(page);
      expect(d.decision).to.equal('admit');
      expect(d.zh).to.equal('绿码，体温正常，准予通行');
      expect(d.en).to.equal('Green code, normal temperature: admitted');
      expect(d.text).to.include('通行').and.include('ADMIT').and.include(green.idLast4);
      const colour = await page.$eval('[data-testid=decision]', (e) => getComputedStyle(e).backgroundColor);
      expect(colour).to.equal('rgb(18, 161, 80)');
      const box = (await page.$eval('[data-testid=decision]', (e) => e.getBoundingClientRect().toJSON())) as DOMRect;
      expect([box.width, box.height]).to.deep.equal([390, 844]);
      await screenshot(page, 'scan-admit');

      const log = await svc.call('GET', `/v1/venues/${venue.id}/scans`, { token: operator });
      expect(log.body.scans).to.have.length(1);
      expect(log.body.scans[0]).to.include({ decision: 'admit', method: 'staff', colour: 'green' });

      // The panel closes by itself, the camera keeps running, and the same code held in view is not scanned twice.
      await page.waitForSelector('[data-testid=decision]', { state: 'detached', timeout: 10_000 });
      expect(await page.isVisible('[data-testid=stop-camera]')).to.equal(true);
      await page.waitForTimeout(2000);
      expect(await page.$('[data-testid=decision]')).to.equal(null);
      expect((await svc.call('GET', `/v1/venues/${venue.id}/scans`, { token: operator })).body.scans).to.have.length(1);
      await screenshot(page, 'scan-gate');
    });

    it('also takes a USB scanner or pasted text, submitted with Enter', async () => {
      browser = await launchPhone();
      const { page } = browser;
      await signInAtGate(page, svc.url, operator, venue.id);
      await page.fill('[data-testid=code-input]', red.code);
      await page.press('[data-testid=code-input]', 'Enter');
      const d = await decisionShown(page);
      expect(d.decision).to.equal('deny');
      await page.click('[data-testid=decision]');
      await page.waitForSelector('[data-testid=decision]', { state: 'detached' });
      await page.fill('[data-testid=code-input]', 'AK1:NOT A CODE');
      await page.press('[data-testid=code-input]', 'Enter');
      const bad = await decisionShown(page);
      expect(bad.decision).to.equal('deny');
      expect(bad.zh).to.equal('健康码无效或已失效');
      expect(bad.text).to.include('MALFORMED');
    });
  });

  describe('at the gate, a red resident in front of the camera', () => {
    it('shows a full-screen deny decision', async () => {
      browser = await launchPhone({ fakeVideo: await cameraFilming(tmp.dir, 'red', red.code) });
      const { page } = browser;
      await signInAtGate(page, svc.url, operator, venue.id);
      await page.click('[data-testid=start-camera]');
      const d = await decisionShown(page);
      expect(d.decision).to.equal('deny');
      expect(d.zh).to.equal('红码，禁止通行');
      expect(d.en).to.equal('Red code: no entry');
      expect(d.text).to.include('禁止通行').and.include('DENY');
      expect(await page.$eval('[data-testid=decision]', (e) => getComputedStyle(e).backgroundColor)).to.equal(
        'rgb(217, 48, 37)',
      );
      await screenshot(page, 'scan-deny');
    });
  });

  describe("on the resident page, the resident's camera filming a venue code", () => {
    it('checks in with POST /v1/checkins and shows the decision the same way', async () => {
      browser = await launchPhone({ fakeVideo: await cameraFilming(tmp.dir, 'venue', venue.code) });
      const { page } = browser;
      await page.goto(`${svc.url}/`);
      // The account already has the ID: the phone and its code are the whole sign-in.
      await signInOnPage(page, svc.outbox, green.person);
      await page.waitForSelector('[data-testid=code-card]');
      await page.click('[data-testid=self-scan]');
      await page.waitForSelector('[data-testid=scan-overlay]');
      const d = await decisionShown(page);
      expect(d.decision).to.equal('admit');
      expect(d.text).to.include('万达广场');
      expect(await page.$('[data-testid=scan-overlay]')).to.equal(null);
      await screenshot(page, 'resident-self-scan');
      const mine = await svc.call('GET', '/v1/residents/me/scans', { token: green.token });
      expect(mine.body.scans.map((s: { method: string }) => s.method)).to.include('self');
    });
  });
});
