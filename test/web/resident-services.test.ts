import { expect } from 'chai';
import type { Page } from 'playwright-core';
import type { Purpose } from '../../server/domain/services';
import { en, zh } from '../../web/src/i18n/strings';
import { launchPhone, realClock, screenshot, type PhoneBrowser } from '../support/browser';
import { signInOnPage } from '../support/resident-page';
import { currentCode, newResident, registerVenue, type Resident } from '../support/scenario';
import { startTestService, type TestService } from '../support/service';
import { linkCard, registerDesk, sectorToken } from '../support/services17';

const TEXT = { zh, en };

/** POST /v1/services/resolve by a desk with the resident's current code. */
async function resolve(
  svc: TestService,
  deskToken: string,
  resident: Resident,
  purpose: Purpose,
): Promise<{ status: number; outcome: string }> {
  const r = await svc.call('POST', '/v1/services/resolve', {
    token: deskToken,
    json: { code: await currentCode(svc, resident), purpose },
  });
  return { status: r.status, outcome: r.status === 200 ? r.body.outcome : r.body.error?.code };
}

const row = (kind: string) => `[data-testid=link-${kind}]`;

async function linkState(page: Page, kind: string): Promise<{ linked: string; paused: string }> {
  const el = await page.waitForSelector(row(kind));
  return { linked: (await el.getAttribute('data-linked'))!, paused: (await el.getAttribute('data-paused'))! };
}

describe("the resident page's linked cards and who used my code", function () {
  this.timeout(300_000);
  let svc: TestService;
  let hospital: { token: string; name: string };
  let hall: { token: string; name: string };
  let browser: PhoneBrowser | undefined;

  before(async () => {
    svc = await startTestService({ clock: realClock() });
    const h = await registerVenue(svc, svc.adminToken, {
      type: 'public-service',
      subtype: 'hospital',
      name: '省立医院',
      district: '340104',
    });
    const g = await registerVenue(svc, svc.adminToken, {
      type: 'public-service',
      subtype: 'government-hall',
      name: '政务服务中心',
      district: '340104',
    });
    hospital = {
      token: (await registerDesk(svc, { kind: 'hospital-desk', venueId: h.id, name: '门诊挂号一号窗' })).token,
      name: '门诊挂号一号窗',
    };
    hall = {
      token: (await registerDesk(svc, { kind: 'service-hall', venueId: g.id, name: '综合受理窗' })).token,
      name: '综合受理窗',
    };
  });

  afterEach(async () => {
    await browser?.close();
    browser = undefined;
  });

  after(async () => svc?.close());

  for (const l of ['zh', 'en'] as const) {
    const T = TEXT[l];
    it(`in ${l === 'zh' ? 'Chinese' : 'English'}: shows the links, pauses one (the desk is then refused), removes one, requests one, and lists the look-ups`, async () => {
      const resident = await newResident(svc, { name: '钱晓春' });
      await linkCard(svc, resident, 'health-card', 'HC-3401-0000-1234');
      await linkCard(svc, resident, 'social-security-card', 'SSC-77665544');
      await linkCard(svc, resident, 'payment', 'pay_tok_beef', 'stand-in-pay');
      expect((await resolve(svc, hospital.token, resident, 'registration')).outcome).to.equal('resolved');

      browser = await launchPhone();
      const { page, context } = browser;
      await context.addInitScript({
        content: `try { localStorage.setItem('ankang.lang', ${JSON.stringify(JSON.stringify(l))}); } catch (e) {}`,
      });
      await page.goto(`${svc.url}/`);
      await signInOnPage(page, svc.outbox, resident.body);
      await page.waitForSelector('[data-testid=links]');

      // Each kind, linked or not, with the last four characters only and the provider of a payment account.
      expect(await linkState(page, 'health-card')).to.deep.equal({ linked: 'true', paused: 'false' });
      expect(await linkState(page, 'insurance-voucher')).to.deep.equal({ linked: 'false', paused: 'false' });
      expect(await page.textContent(`${row('health-card')} [data-testid=ref-hint]`)).to.equal('····1234');
      expect(await page.textContent(`${row('social-security-card')} [data-testid=ref-hint]`)).to.equal('····5544');
      expect(await page.textContent(`${row('payment')} [data-testid=provider]`)).to.equal('stand-in-pay');
      expect(await page.textContent(`${row('health-card')}`))
        .to.include(T['card.health-card'])
        .and.include(T['links.linked']);
      expect(await page.textContent(`${row('insurance-voucher')}`)).to.include(T['links.notLinked']);
      const html = await page.content();
      for (const ref of ['HC-3401-0000-1234', 'SSC-77665544', 'pay_tok_beef']) expect(html).not.to.include(ref);

      // Who used my code: the look-up before sign-in.
      await page.waitForSelector('[data-testid=lookups] li');
      let rows = await page.$$eval('[data-testid=lookups] li', (els) =>
        els.map((e) => ({ outcome: (e as HTMLElement).dataset.outcome, text: e.textContent ?? '' })),
      );
      expect(rows).to.have.length(1);
      expect(rows[0].outcome).to.equal('resolved');
      expect(rows[0].text)
        .to.include(hospital.name)
        .and.include('省立医院')
        .and.include(T['deskKind.hospital-desk'])
        .and.include(T['purpose.registration'])
        .and.include(T['outcome.resolved']);

      // Pausing the health card pauses registration: the desk's next look-up is refused.
      await page.click(`${row('health-card')} [data-testid=pause]`);
      await page.waitForSelector(`${row('health-card')}[data-paused=true]`);
      expect(await page.textContent(row('health-card'))).to.include(T['links.paused']);
      const links = await svc.call('GET', '/v1/residents/me/links', { token: resident.token });
      expect(links.body.purposes.find((p: { purpose: string }) => p.purpose === 'registration').paused).to.equal(true);
      expect(await resolve(svc, hospital.token, resident, 'registration')).to.deep.equal({
        status: 403,
        outcome: 'CONSENT_PAUSED',
      });

      // The identity purpose's toggle: paused, the service hall is refused; allowed again, it resolves.
      await page.click('[data-testid=identity-consent] [data-testid=pause]');
      await page.waitForSelector('[data-testid=identity-consent][data-paused=true]');
      expect((await resolve(svc, hall.token, resident, 'identity')).outcome).to.equal('CONSENT_PAUSED');
      await page.click('[data-testid=identity-consent] [data-testid=allow]');
      await page.waitForSelector('[data-testid=identity-consent][data-paused=false]');
      expect((await resolve(svc, hall.token, resident, 'identity')).outcome).to.equal('resolved');

      // Allowed again: registration resolves.
      await page.click(`${row('health-card')} [data-testid=allow]`);
      await page.waitForSelector(`${row('health-card')}[data-paused=false]`);
      expect((await resolve(svc, hospital.token, resident, 'registration')).outcome).to.equal('resolved');

      // Removing asks first; cancelled, nothing happens; confirmed, the link is gone.
      await page.click(`${row('social-security-card')} [data-testid=remove]`);
      expect(await page.textContent(`${row('social-security-card')} [data-testid=remove-confirm]`)).to.include(
        T['card.social-security-card'],
      );
      await page.click(`${row('social-security-card')} [data-testid=remove-yes]`);
      await page.waitForSelector(`${row('social-security-card')}[data-linked=false]`);
      expect(
        (await svc.call('GET', '/v1/residents/me/links', { token: resident.token })).body.links.find(
          (x: { kind: string }) => x.kind === 'social-security-card',
        ).linked,
      ).to.equal(false);

      // A link request: the number shown is the one the authority confirms.
      await page.click(`${row('insurance-voucher')} [data-testid=request]`);
      await page.waitForSelector(`${row('insurance-voucher')} [data-testid=request-id] code`);
      const requestId = (await page.textContent(`${row('insurance-voucher')} [data-testid=request-id] code`))!;
      const confirm = await svc.call('POST', '/v1/links/confirm', {
        token: await sectorToken(svc, 'medical-insurance'),
        json: {
          requestId,
          kind: 'insurance-voucher',
          idType: resident.body.idType,
          idNumber: resident.body.idNumber,
          ref: 'MIV-000111222',
        },
      });
      expect(confirm.status, JSON.stringify(confirm.body)).to.equal(201);

      // The refresh button: the code the look-ups used up is replaced, and the lists are read again.
      const before = (await page.getAttribute('[data-testid=code-card]', 'data-code'))!;
      await page.click('[data-testid=refresh-code]');
      await page.waitForFunction(
        (old) => document.querySelector('[data-testid=code-card]')?.getAttribute('data-code') !== old,
        before,
      );
      expect((await page.getAttribute('[data-testid=code-card]', 'data-code'))!).to.equal(
        await currentCode(svc, resident),
      );
      await page.waitForSelector(`${row('insurance-voucher')}[data-linked=true]`);
      expect(await page.textContent(`${row('insurance-voucher')} [data-testid=ref-hint]`)).to.equal('····1222');

      await page.waitForFunction(() => document.querySelectorAll('[data-testid=lookups] li').length === 5);
      rows = await page.$$eval('[data-testid=lookups] li', (els) =>
        els.map((e) => ({ outcome: (e as HTMLElement).dataset.outcome, text: e.textContent ?? '' })),
      );
      // Newest first, as the service lists them.
      expect(rows.map((r) => r.outcome)).to.deep.equal([
        'resolved',
        'resolved',
        'CONSENT_PAUSED',
        'CONSENT_PAUSED',
        'resolved',
      ]);
      expect(rows[1].text)
        .to.include(hall.name)
        .and.include(T['deskKind.service-hall'])
        .and.include(T['purpose.identity']);
      expect(rows[2].text).to.include(T['outcome.CONSENT_PAUSED']);
      const mine = await svc.call('GET', '/v1/residents/me/lookups', { token: resident.token });
      expect(mine.body.lookups.map((x: { seq: number }) => String(x.seq))).to.deep.equal(
        await page.$$eval('[data-testid=lookups] li', (els) => els.map((e) => (e as HTMLElement).dataset.seq)),
      );
      await screenshot(page, `resident-services-${l}`, { fullPage: true });
    });
  }

  it('fetches the code again when the page regains focus after a look-up used it up', async () => {
    const resident = await newResident(svc, { name: '孙立新' });
    browser = await launchPhone();
    const { page } = browser;
    await page.goto(`${svc.url}/`);
    await signInOnPage(page, svc.outbox, resident.body);
    await page.waitForSelector('[data-testid=code-card]');
    const shown = (await page.getAttribute('[data-testid=code-card]', 'data-code'))!;
    const r = await svc.call('POST', '/v1/services/resolve', {
      token: hall.token,
      json: { code: shown, purpose: 'identity' },
    });
    expect(r.status).to.equal(200);
    // As when the phone comes back from showing the desk the code.
    await page.evaluate(() => window.dispatchEvent(new Event('focus')));
    await page.waitForFunction(
      (old) => document.querySelector('[data-testid=code-card]')?.getAttribute('data-code') !== old,
      shown,
    );
    await page.waitForSelector('[data-testid=lookups] li[data-outcome=resolved]');
  });
});
