import type { BrowserContext, Page } from 'playwright-core';
import type { SignInIdentity } from '../../server/idp/drive';
import { latestCode } from '../../server/identity/sms';
import type { Application } from './service';

/**
 * Driving the resident page (`/`) in Chromium as a person would: signing in through the
 * identity provider's pages with codes read from the development outbox, and filling forms.
 */

/** What `/` shows once it has asked who is signed in: one of these is on the page. */
export const RESIDENT_SETTLED = ['sign-in-card', 'apply-form', 'rebind-form', 'code-card']
  .map((id) => `[data-testid=${id}]`)
  .join(', ');

/**
 * The newest code the development outbox holds for `phone` and `purpose`, written at or
 * after `after` (ms); waits up to `timeoutMs` for it to appear.
 */
export async function codeFromOutbox(
  outbox: string,
  phone: string,
  purpose: string,
  after: number,
  timeoutMs = 5000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const code = await latestCode(outbox, { phone, purpose, after });
    if (code) return code;
    if (Date.now() > deadline) throw new Error(`no ${purpose} code for ${phone} in the outbox within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Signs `person` in from `/` the way they would in the browser: the page's sign-in link,
 * the provider's phone page, the texted code, and the first time the ID form and its
 * confirmation code (sent to `ownerPhone` when another account holds the ID). Resolves
 * once `/` has loaded again and shows what the session opens.
 */
export async function signInOnPage(page: Page, outbox: string, person: SignInIdentity): Promise<void> {
  await page.click('[data-testid=sign-in]');
  await page.waitForSelector('main[data-step=phone]');
  await page.fill('[data-testid=phone]', person.phone);
  let sentAt = Date.now();
  await page.click('[data-testid=submit]');
  await page.waitForSelector('main[data-step=code]');
  await page.fill('[data-testid=code]', await codeFromOutbox(outbox, person.phone, 'login', sentAt));
  await page.click('[data-testid=submit]');
  const next = await page.waitForSelector(`main[data-step=signup], ${RESIDENT_SETTLED}`);
  if ((await next.getAttribute('data-step')) === 'signup') {
    await page.selectOption('[data-testid=idType]', person.idType);
    await page.fill('[data-testid=idNumber]', person.idNumber);
    await page.fill('[data-testid=name]', person.name);
    sentAt = Date.now();
    await page.click('[data-testid=submit]');
    await page.waitForSelector('main[data-step=confirm]');
    const code = await codeFromOutbox(
      outbox,
      person.ownerPhone ?? person.phone,
      person.ownerPhone ? 'id-transfer' : 'id-confirm',
      sentAt,
    );
    await page.fill('[data-testid=code]', code);
    await page.click('[data-testid=submit]');
  }
  await page.waitForSelector(RESIDENT_SETTLED);
}

/** Fills the apply form on `/`: who applies comes from the sign-in, so the form has no ID fields. */
export async function fillApplication(
  page: Page,
  a: Pick<Application, 'phone' | 'district'> & { declaration: { temperatureC: number } },
): Promise<void> {
  await page.fill('input[name=phone]', a.phone);
  await page.fill('input[name=district]', a.district);
  await page.fill('input[name=temperatureC]', String(a.declaration.temperatureC));
}

/** The value of one of the service's cookies in a browser context (HttpOnly ones included), if set. */
export async function cookieValue(context: BrowserContext, name: string): Promise<string | undefined> {
  return (await context.cookies()).find((c) => c.name === name)?.value;
}

/**
 * Everything the page's own script can read that could hold a credential: localStorage and
 * sessionStorage (keys and values) and `document.cookie`.
 */
export function scriptReadable(
  page: Page,
): Promise<{ local: Record<string, string>; session: Record<string, string>; cookie: string }> {
  // No named functions inside: tsx would wrap them in a helper the page does not have.
  return page.evaluate(() => {
    const [local, session] = [localStorage, sessionStorage].map((s) =>
      Object.fromEntries(Object.keys(s).map((k) => [k, s.getItem(k) ?? ''])),
    );
    return { local, session, cookie: document.cookie };
  });
}
