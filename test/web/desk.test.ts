import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import type { DeskKind, Purpose } from '../../server/domain/services';
import { renderQrPng } from '../../verifier/src/qr';
import { en, zh } from '../../web/src/i18n/strings';
import { launchPhone, realClock, screenshot, writeY4m, type PhoneBrowser } from '../support/browser';
import { scriptReadable } from '../support/resident-page';
import { currentCode, newResident, registerVenue, type Resident } from '../support/scenario';
import { startTestService, type TestService } from '../support/service';
import { linkCard, registerDesk } from '../support/services17';
import { tempDir } from '../support/tmp';

type Lang = 'zh' | 'en';
const TEXT = { zh, en };

/** The testid of the one field each purpose may show, and what it must hold. */
const FIELD: Record<Purpose, string[]> = {
  registration: ['desk-health-card'],
  'insurance-payment': ['desk-insurance-voucher'],
  'social-security': ['desk-social-security-card'],
  identity: ['desk-real-name', 'desk-id-type', 'desk-id-number'],
  fare: ['desk-provider', 'desk-fare-amount'],
};
const ALL_FIELDS = Object.values(FIELD).flat();

const KIND_OF: Record<Purpose, DeskKind> = {
  registration: 'hospital-desk',
  'insurance-payment': 'pharmacy',
  'social-security': 'social-security-office',
  identity: 'service-hall',
  fare: 'transit-reader',
};

const REFS = {
  'health-card': 'HC-3401-0000-7788',
  'insurance-voucher': 'MIV_34010455556666',
  'social-security-card': 'SSC-9900112233',
  payment: 'pay_tok_4fa9c2e1',
};

async function signInAtDesk(page: Page, url: string, token: string): Promise<void> {
  await page.goto(`${url}/desk`);
  await page.fill('[data-testid=token]', token);
  await page.click('[data-testid=signin]');
  await page.waitForSelector('[data-testid=desk]');
}

async function lookUp(page: Page, code: string): Promise<{ outcome: string; text: string }> {
  // The card of the previous look-up is marked, so that only the new one is read.
  await page.$$eval('[data-testid=desk-result]', (els) => els.forEach((e) => e.setAttribute('data-old', '')));
  await page.fill('[data-testid=code-input]', code);
  await page.press('[data-testid=code-input]', 'Enter');
  const card = await page.waitForSelector('[data-testid=desk-result]:not([data-old])');
  return { outcome: (await card.getAttribute('data-outcome'))!, text: (await card.textContent())! };
}

async function shownFields(page: Page): Promise<string[]> {
  return page.$$eval('[data-testid=desk-result] [data-testid^=desk-]', (els) =>
    els
      .map((e) => (e as HTMLElement).dataset.testid!)
      .filter(
        (id) =>
          id !== 'desk-decision' &&
          id !== 'desk-masked-name' &&
          id !== 'desk-refusal' &&
          id !== 'desk-fare-sent' &&
          id !== 'desk-clears-in' &&
          id !== 'desk-clear',
      ),
  );
}

describe('the service desk page (/desk)', function () {
  this.timeout(300_000);
  let svc: TestService;
  let resident: Resident;
  const desks = {} as Record<Purpose, { token: string; id: string; name: string; venue: string }>;
  let browser: PhoneBrowser | undefined;

  before(async () => {
    svc = await startTestService({ clock: realClock() });
    resident = await newResident(svc, { name: '赵明远' });
    for (const kind of ['health-card', 'insurance-voucher', 'social-security-card'] as const)
      await linkCard(svc, resident, kind, REFS[kind]);
    await linkCard(svc, resident, 'payment', REFS.payment, 'stand-in-pay');
    const hall = await registerVenue(svc, svc.adminToken, {
      type: 'public-service',
      subtype: 'hospital',
      name: '省立医院',
      district: '340104',
    });
    const shop = await registerVenue(svc, svc.adminToken, {
      type: 'crowded-place',
      subtype: 'mall',
      name: '百姓大药房',
      district: '340104',
    });
    const gov = await registerVenue(svc, svc.adminToken, {
      type: 'public-service',
      subtype: 'government-hall',
      name: '政务服务中心',
      district: '340104',
    });
    const bus = await registerVenue(svc, svc.adminToken, {
      type: 'transport',
      subtype: 'bus',
      name: '1路公交',
      district: '340104',
    });
    const where: Record<Purpose, { id: string; name: string }> = {
      registration: hall,
      'insurance-payment': shop,
      'social-security': gov,
      identity: gov,
      fare: bus,
    };
    const names: Record<Purpose, string> = {
      registration: '门诊挂号一号窗',
      'insurance-payment': '药房收银台',
      'social-security': '社保二号窗',
      identity: '综合受理窗',
      fare: '前门读卡器',
    };
    for (const purpose of Object.keys(KIND_OF) as Purpose[]) {
      const d = await registerDesk(svc, { kind: KIND_OF[purpose], venueId: where[purpose].id, name: names[purpose] });
      desks[purpose] = { token: d.token, id: d.desk.id, name: names[purpose], venue: where[purpose].name };
    }
  });

  afterEach(async () => {
    await browser?.close();
    browser = undefined;
  });

  after(async () => svc?.close());

  async function openIn(l: Lang): Promise<Page> {
    browser = await launchPhone();
    await browser.context.addInitScript({
      content: `try { localStorage.setItem('ankang.lang', ${JSON.stringify(JSON.stringify(l))}); } catch (e) {}`,
    });
    return browser.page;
  }

  for (const l of ['zh', 'en'] as const) {
    const T = TEXT[l];
    describe(`in ${l === 'zh' ? 'Chinese' : 'English'}`, () => {
      it('each desk resolves a fresh code for its one purpose and shows only the field that purpose entitles', async () => {
        const page = await openIn(l);
        for (const purpose of Object.keys(KIND_OF) as Purpose[]) {
          const desk = desks[purpose];
          await signInAtDesk(page, svc.url, desk.token);
          expect(await page.textContent('[data-testid=desk-name]')).to.equal(desk.name);
          expect(await page.textContent('[data-testid=desk-kind]')).to.equal(T[`deskKind.${KIND_OF[purpose]}`]);
          expect(await page.textContent('[data-testid=desk-venue]')).to.include(desk.venue);
          // The picker offers the desk's own purposes and nothing else; an amount only at a fare reader.
          expect(
            await page.$$eval('[data-testid=purpose] option', (os) => os.map((o) => (o as HTMLOptionElement).value)),
          ).to.deep.equal([purpose]);
          expect(!!(await page.$('[data-testid=amount]'))).to.equal(purpose === 'fare');
          if (purpose === 'fare') await page.fill('[data-testid=amount]', '2.5');

          const code = await currentCode(svc, resident);
          const r = await lookUp(page, code);
          expect(r.outcome, r.text).to.equal('resolved');
          expect(await page.getAttribute('[data-testid=desk-decision]', 'data-decision')).to.equal('admit');
          expect(await page.textContent('[data-testid=desk-masked-name]')).to.equal('赵*远');
          expect((await shownFields(page)).sort()).to.deep.equal([...FIELD[purpose]].sort());
          for (const id of ALL_FIELDS.filter((f) => !FIELD[purpose].includes(f)))
            expect(await page.$(`[data-testid=${id}]`)).to.equal(null);
          const html = await page.content();
          // Nothing of another purpose, and never the fare request itself or the payment token.
          for (const [kind, ref] of Object.entries(REFS)) {
            const mine =
              (purpose === 'registration' && kind === 'health-card') ||
              (purpose === 'insurance-payment' && kind === 'insurance-voucher') ||
              (purpose === 'social-security' && kind === 'social-security-card');
            expect(html.includes(ref), `${purpose} shows ${kind}`).to.equal(mine);
          }
          if (purpose !== 'identity') {
            expect(html).not.to.include('赵明远');
            expect(html).not.to.include(resident.body.idNumber);
          }
          if (purpose === 'registration')
            expect(await page.textContent('[data-testid=desk-health-card]')).to.equal(REFS['health-card']);
          if (purpose === 'insurance-payment')
            expect(await page.textContent('[data-testid=desk-insurance-voucher]')).to.equal(REFS['insurance-voucher']);
          if (purpose === 'social-security')
            expect(await page.textContent('[data-testid=desk-social-security-card]')).to.equal(
              REFS['social-security-card'],
            );
          if (purpose === 'identity') {
            expect(await page.textContent('[data-testid=desk-real-name]')).to.equal('赵明远');
            expect(await page.textContent('[data-testid=desk-id-number]')).to.equal(resident.body.idNumber);
            expect(await page.textContent('[data-testid=desk-id-type]')).to.equal(T['idType.resident-id']);
          }
          if (purpose === 'fare') {
            expect(await page.textContent('[data-testid=desk-provider]')).to.equal('stand-in-pay');
            expect(await page.textContent('[data-testid=desk-fare-amount]')).to.equal(
              T['desk.fareYuan'].replace('{yuan}', '2.50'),
            );
            expect(await page.textContent('[data-testid=desk-fare-sent]')).to.equal(T['desk.fareSent']);
            expect(html).not.to.match(/eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/);
          }
          await screenshot(page, `desk-${l}-${purpose}`, { fullPage: true });

          // The desk's own list has the look-up, read back from the service.
          await page.waitForSelector('[data-testid=desk-lookups] li[data-outcome=resolved]');
          const list = await svc.call('GET', `/v1/desks/${desk.id}/lookups`, { token: desk.token });
          expect(list.status).to.equal(200);
          expect(await page.$$eval('[data-testid=desk-lookups] li', (els) => els.length)).to.equal(
            list.body.lookups.length,
          );

          // The token rides in an HttpOnly cookie only.
          expect(JSON.stringify(await scriptReadable(page))).not.to.include(desk.token);
          await page.click('[data-testid=sign-out]');
          await page.waitForSelector('[data-testid=signin-form]');
        }
      });

      it('sends a fare in fen, and refuses an amount outside 0.01–1000 yuan before sending anything', async () => {
        const page = await openIn(l);
        await signInAtDesk(page, svc.url, desks.fare.token);
        let sent: unknown;
        page.on('request', (r) => {
          if (new URL(r.url()).pathname === '/v1/services/resolve') sent = r.postDataJSON();
        });
        await page.fill('[data-testid=amount]', '1000.01');
        await page.fill('[data-testid=code-input]', await currentCode(svc, resident));
        await page.press('[data-testid=code-input]', 'Enter');
        await page.waitForSelector('[data-error-for=amount]');
        expect(await page.textContent('[data-error-for=amount]')).to.equal(T['desk.amountInvalid']);
        expect(sent).to.equal(undefined);
        await page.fill('[data-testid=amount]', '3');
        const r = await lookUp(page, await currentCode(svc, resident));
        expect(r.outcome).to.equal('resolved');
        expect(sent).to.deep.include({ purpose: 'fare', amount: 300 });
      });

      it('refuses a printed code and a paused purpose in its own words, showing no linked data', async () => {
        const page = await openIn(l);
        await signInAtDesk(page, svc.url, desks.registration.token);
        const printed = await currentCode(svc, resident, 'printed');
        let r = await lookUp(page, printed);
        expect(r.outcome).to.equal('CODE_PRINTED');
        expect(await page.textContent('[data-testid=desk-refusal]')).to.equal(
          `${T['api.CODE_PRINTED']} (CODE_PRINTED)`,
        );
        expect(await shownFields(page)).to.deep.equal([]);
        expect(r.text).not.to.include(REFS['health-card']);
        await screenshot(page, `desk-${l}-printed`);

        const paused = await svc.call('PUT', '/v1/residents/me/consents/registration', {
          token: resident.token,
          json: { paused: true },
        });
        expect(paused.status).to.equal(200);
        try {
          r = await lookUp(page, await currentCode(svc, resident));
          expect(r.outcome).to.equal('CONSENT_PAUSED');
          expect(await page.textContent('[data-testid=desk-refusal]')).to.equal(
            `${T['api.CONSENT_PAUSED']} (CONSENT_PAUSED)`,
          );
          expect(r.text).not.to.include(REFS['health-card']);
          expect(await shownFields(page)).to.deep.equal([]);
        } finally {
          await svc.call('PUT', '/v1/residents/me/consents/registration', {
            token: resident.token,
            json: { paused: false },
          });
        }
        // Both refusals are on the desk's list, newest first.
        await page.waitForFunction(() => document.querySelectorAll('[data-testid=desk-lookups] li').length >= 2);
        const outcomes = await page.$$eval('[data-testid=desk-lookups] li', (els) =>
          els.slice(0, 2).map((e) => (e as HTMLElement).dataset.outcome),
        );
        expect(outcomes).to.deep.equal(['CONSENT_PAUSED', 'CODE_PRINTED']);
        expect(await page.textContent('[data-testid=desk-lookups] li')).to.include(T['outcome.CONSENT_PAUSED']);
      });

      it('clears a real name and ID number at the next look-up, and by itself after 30 seconds', async () => {
        const page = await openIn(l);
        await page.clock.install();
        await signInAtDesk(page, svc.url, desks.identity.token);
        let r = await lookUp(page, await currentCode(svc, resident));
        expect(r.outcome).to.equal('resolved');
        expect(await page.textContent('[data-testid=desk-id-number]')).to.equal(resident.body.idNumber);
        // The next look-up (here refused: a code already used) starts from a clean screen.
        r = await lookUp(page, resident.code);
        expect(r.outcome).to.be.oneOf(['CODE_REPLAYED', 'CODE_NOT_VALID', 'CODE_EXPIRED']);
        expect(await page.$('[data-testid=desk-id-number]')).to.equal(null);
        expect(await page.content()).not.to.include(resident.body.idNumber);

        r = await lookUp(page, await currentCode(svc, resident));
        expect(r.outcome).to.equal('resolved');
        expect(await page.textContent('[data-testid=desk-clears-in]')).to.equal(
          T['desk.clearsIn'].replace('{s}', '30'),
        );
        await page.clock.fastForward(29_000);
        expect(await page.$('[data-testid=desk-id-number]')).not.to.equal(null);
        await page.clock.fastForward(2_000);
        await page.waitForSelector('[data-testid=desk-result]', { state: 'detached' });
        expect(await page.content()).not.to.include(resident.body.idNumber);
        expect(await page.content()).not.to.include('赵明远');
      });
    });
  }

  it('looks up the code its camera films once, even when the code leaves the view and comes back', async () => {
    const code = await currentCode(svc, resident);
    const dir = tempDir('ankang-desk-camera-');
    try {
      const video = join(dir.dir, 'code.y4m');
      writeY4m(await renderQrPng(code), video, { width: 640, height: 640, frames: 10 });
      // One second of the code, then five of nothing, in a loop: the code leaves the view and comes back.
      const file = readFileSync(video);
      const header = file.subarray(0, file.indexOf(0x0a) + 1);
      const blank = Buffer.concat([
        Buffer.from('FRAME\n'),
        Buffer.alloc(640 * 640, 255),
        Buffer.alloc(320 * 320 * 2, 128),
      ]);
      writeFileSync(
        video,
        Buffer.concat([header, file.subarray(header.length), ...Array.from({ length: 50 }, () => blank)]),
      );
      browser = await launchPhone({ fakeVideo: video });
      const { page } = browser;
      await signInAtDesk(page, svc.url, desks['social-security'].token);
      const calls: number[] = [];
      page.on('request', (r) => {
        if (new URL(r.url()).pathname === '/v1/services/resolve') calls.push(Date.now());
      });
      await page.click('[data-testid=start-camera]');
      const card = await page.waitForSelector('[data-testid=desk-result]', { timeout: 30_000 });
      expect(await card.getAttribute('data-outcome')).to.equal('resolved');
      expect(await page.textContent('[data-testid=desk-social-security-card]')).to.equal(REFS['social-security-card']);
      // The camera films the same (now used) code again after it was out of view: no second look-up replaces the result.
      await page.waitForTimeout(13_000);
      expect(calls).to.have.length(1);
      expect(await page.getAttribute('[data-testid=desk-result]', 'data-outcome')).to.equal('resolved');
    } finally {
      dir.cleanup();
    }
  });

  it('keeps a signed-in desk across a reload (the cookie alone), and refuses a token that is not a desk token', async () => {
    browser = await launchPhone();
    const { page, context } = browser;
    await signInAtDesk(page, svc.url, desks.registration.token);
    const cookie = (await context.cookies()).find((c) => c.name === 'ak_staff');
    expect(cookie).to.include({
      value: desks.registration.token,
      httpOnly: true,
      secure: true,
      sameSite: 'Strict',
      path: '/',
    });
    await page.reload();
    await page.waitForSelector('[data-testid=desk]');
    expect(await page.$('[data-testid=signin-form]')).to.equal(null);
    await page.click('[data-testid=sign-out]');
    await page.waitForSelector('[data-testid=signin-form]');
    expect((await context.cookies()).map((c) => c.name)).not.to.include('ak_staff');

    // An operator's token has no desk: refused before it becomes a cookie.
    await page.fill('[data-testid=token]', await svc.token('operator'));
    await page.click('[data-testid=signin]');
    await page.waitForSelector('[data-testid=signin-form] .form-error:not([hidden])');
    expect(await page.textContent('[data-testid=signin-form] .form-error')).to.include(zh['desk.notDesk']);
    expect((await context.cookies()).map((c) => c.name)).not.to.include('ak_staff');
  });
});
