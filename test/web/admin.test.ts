import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { seedDemo, type DemoResult } from '../../scripts/demo/seed';
import { dayClock } from '../../scripts/demo/day-clock';
import { demoDayClock, launchPhone, realClock, screenshot, type PhoneBrowser } from '../support/browser';
import { startTestService, type TestService } from '../support/service';

/** Pixels of a chart's canvases that carry a series colour (not white, grey or transparent). */
function colouredPixels(page: Page, testid: string): Promise<number> {
  return page.$eval(`[data-testid=${testid}]`, (el) => {
    let n = 0;
    for (const canvas of Array.from(el.querySelectorAll('canvas'))) {
      const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      for (let i = 0; i < data.length; i += 4) {
        const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
        if (a > 200 && Math.max(r, g, b) - Math.min(r, g, b) > 60) n++;
      }
    }
    return n;
  });
}

describe('the authority dashboard (/admin)', function () {
  this.timeout(180_000);
  let svc: TestService;
  let demo: DemoResult;
  let browser: PhoneBrowser;
  let page: Page;

  before(async () => {
    // As `npm run demo` on a fresh folder: the story runs through today, so the charts show a day.
    const day = dayClock(Date.now());
    svc = await startTestService({ clock: day ? demoDayClock(day) : realClock() });
    demo = await seedDemo({
      url: svc.url,
      adminToken: svc.adminToken,
      codes: svc.outbox,
      residents: 40,
      seed: 1,
      advanceTo: day?.advanceTo,
      endOfStory: day?.release,
    });
    browser = await launchPhone();
    page = browser.page;
  });

  after(async () => {
    await browser?.close();
    await svc?.close();
  });

  it('refuses a token that is not an authority token, with the API error', async () => {
    await page.goto(`${svc.url}/admin`);
    await page.fill('[data-testid=token]', demo.sample.resident.access);
    await page.click('[data-testid=signin]');
    await page.waitForSelector('[data-testid=signin-form] .form-error:not([hidden])');
    expect(await page.textContent('[data-testid=signin-form] .form-error')).to.include('FORBIDDEN');
  });

  it('keeps the sign-in error and the typed token when the window is resized', async () => {
    const size = page.viewportSize()!;
    await page.setViewportSize({ width: size.width + 40, height: size.height });
    // Longer than the page's 200 ms resize debounce.
    await page.waitForTimeout(400);
    await page.setViewportSize(size);
    await page.waitForTimeout(400);
    expect(await page.textContent('[data-testid=signin-form] .form-error')).to.include('FORBIDDEN');
    expect(await page.inputValue('[data-testid=token]')).to.equal(demo.sample.resident.access);
  });

  describe('signed in with a health token, on the statistics tab', () => {
    before(async () => {
      await page.fill('[data-testid=token]', demo.tokens.health);
      await page.click('[data-testid=signin]');
      await page.waitForSelector('[data-testid=chart-hourly] canvas', { timeout: 30_000 });
    });

    it('shows the counts by colour the API gives', async () => {
      const api = (await svc.call('GET', '/v1/stats/colours', { token: demo.tokens.health })).body.total;
      const tiles = await page.$$eval('[data-testid=colour-totals] .tile-n', (els) =>
        els.map((e) => Number(e.textContent)),
      );
      expect(tiles).to.deep.equal([api.green, api.yellow, api.red, api.total]);
      expect(api.total).to.be.greaterThan(30);
    });

    for (const chart of ['districts', 'daily', 'scans', 'hourly']) {
      it(`draws the ${chart} chart with uPlot on a canvas that is not blank`, async () => {
        expect(await page.$$(`[data-testid=chart-${chart}] .uplot canvas`)).to.have.length(1);
        expect(await colouredPixels(page, `chart-${chart}`)).to.be.greaterThan(150);
      });
    }

    it('regroups the scan chart by venue type', async () => {
      await page.selectOption('[data-testid=scan-by]', 'venue-type');
      await page.waitForFunction(() =>
        document.querySelector('[data-testid=chart-scans]')?.getAttribute('aria-label')?.includes('人员密集场所'),
      );
      expect(await colouredPixels(page, 'chart-scans')).to.be.greaterThan(150);
      await screenshot(page, 'admin-stats', { fullPage: true });
      await screenshot(page, 'admin-stats-top');
    });
  });

  describe('on the rules tab', () => {
    before(async () => {
      await page.click('[data-testid=tab-rules]');
      await page.waitForSelector('[data-testid=rules-editor]');
    });

    it("lists the API's validation errors for a rule set that does not parse", async () => {
      const doc = JSON.parse(await page.inputValue('[data-testid=rules-editor]'));
      doc.rules[0].colour = 'purple';
      delete doc.horizonDays;
      await page.fill('[data-testid=rules-editor]', JSON.stringify(doc, null, 2));
      await page.click('[data-testid=publish]');
      await page.waitForSelector('[data-testid=rules-errors]:not([hidden])');
      const shown = await page.$$eval('[data-testid=rules-errors] li', (els) =>
        els.map((e) => (e as HTMLElement).dataset.path),
      );
      const direct = await svc.call('PUT', '/v1/rules', { token: demo.tokens.health, json: doc });
      expect(direct.status).to.equal(400);
      expect(shown).to.deep.equal(direct.body.error.fields.map((f: { path: string }) => f.path));
      expect(shown).to.include('rules.0.colour').and.include('horizonDays');
      expect(await page.textContent('[data-testid=rules-errors]')).to.include('INVALID_RULE_SET');
    });

    it('publishes a new version and lists it as the one in force', async () => {
      const before = (await svc.call('GET', '/v1/rules/versions')).body.current as number;
      const doc = (await svc.call('GET', '/v1/rules')).body.ruleSet;
      doc.description = {
        zh: '演示：第二次修订（网页发布）',
        en: 'Demo: second revision (published from the web page)',
      };
      await page.fill('[data-testid=rules-editor]', JSON.stringify(doc, null, 2));
      await page.click('[data-testid=publish]');
      await page.waitForSelector(`[data-testid=rule-version][data-version="${before + 1}"]`);
      expect(await page.textContent('[data-testid=page-message]')).to.include(`v${before + 1}`);
      expect(await page.getAttribute(`[data-testid=rule-version][data-version="${before + 1}"]`, 'class')).to.equal(
        'current',
      );
      expect(await page.textContent('main')).to.include('演示：第二次修订（网页发布）');
      const now = await svc.call('GET', '/v1/rules');
      expect(now.body.version).to.equal(before + 1);
      expect(now.body.ruleSet.description.en).to.equal('Demo: second revision (published from the web page)');
      await page.$eval('[data-testid=rule-versions]', (e) => e.closest('section')!.scrollIntoView());
      await page.evaluate(() => window.scrollBy(0, -70));
      await screenshot(page, 'admin-rules');
    });
  });

  describe('on the appeals tab', () => {
    it('decides an open appeal, showing the API field error when the reason is missing', async () => {
      await page.click('[data-testid=tab-appeals]');
      const card = await page.waitForSelector('[data-testid=appeal]');
      const id = (await card.getAttribute('data-id'))!;
      await screenshot(page, 'admin-appeals');
      await page.click(`[data-testid=appeal][data-id="${id}"] [data-testid=override]`);
      await page.waitForSelector(`[data-testid=appeal][data-id="${id}"] .field-error[data-error-for=reason]`);
      await page.fill(`[data-testid=appeal][data-id="${id}"] input[type=text]`, '经核实仅途经，未停留');
      await page.click(`[data-testid=appeal][data-id="${id}"] [data-testid=override]`);
      await page.waitForSelector(`[data-testid=appeal][data-id="${id}"]`, { state: 'detached' });
      const decided = await svc.call('GET', '/v1/appeals?status=decided', { token: demo.tokens.health });
      const mine = decided.body.appeals.find((a: { id: string }) => a.id === id);
      expect(mine.decision).to.include({ decision: 'override', colour: 'green', reason: '经核实仅途经，未停留' });
    });
  });

  describe('on the grid tab', () => {
    it('lists the red and yellow residents to visit', async () => {
      await page.click('[data-testid=tab-grid]');
      await page.waitForSelector('[data-testid=grid-resident]');
      const api = (await svc.call('GET', '/v1/grid/residents', { token: demo.tokens.health })).body;
      expect(await page.$$('[data-testid=grid-resident]')).to.have.length(api.residents.length);
      await screenshot(page, 'admin-grid');
    });
  });
});
