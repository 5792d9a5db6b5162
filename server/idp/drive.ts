import type { IdType } from '../domain/identity';
import { maskPhone } from '../domain/mask';
import { latestCode } from '../identity/sms';
import { createCookieFetch, type JarFetch } from './cookie-fetch';

/**
 * Drives a sign-in on this identity provider's pages over plain HTTP, the way a browser
 * without JavaScript would: real requests, redirects followed one by one, cookies kept per
 * origin. For test helpers, `npm run demo` and the bench.
 */

export interface SignInIdentity {
  phone: string;
  idType: IdType;
  idNumber: string;
  name: string;
  /**
   * The phone of the account that holds this ID, when it is another account's: the
   * confirmation code goes there. Leave out for a new ID or the account's own.
   */
  ownerPhone?: string;
}

/** Finds the newest code sent to `phone` for `purpose` at or after `after` (ms since the epoch). */
export type CodeReader = (query: { phone: string; purpose: string; after: number }) => Promise<string | undefined>;

export interface DriveOptions {
  /** A cookie-keeping fetch that does not follow redirects (default: a fresh `createCookieFetch()`). */
  fetch?: JarFetch;
  /** Where codes are read: the SMS outbox file, or a function. */
  codes: string | CodeReader;
  /** How long to wait for a code to appear, in ms (default 2000). */
  codeTimeoutMs?: number;
  /** Called with each page reached (for progress and timings). */
  onStep?: (step: DriveStep) => void;
}

export type DriveStep = 'authorize' | 'phone' | 'code' | 'signup' | 'confirm';

/** A sign-in that did not reach the client's redirect URI; `code` is the page's `data-error` or the OAuth error. */
export class DriveError extends Error {
  constructor(
    readonly step: DriveStep,
    readonly code: string,
    message: string,
    readonly status?: number,
  ) {
    super(`sign-in failed at step ${step}: ${code}${status ? ` (HTTP ${status})` : ''}: ${message}`);
    this.name = 'DriveError';
  }
}

const STEPS = new Set<string>(['phone', 'code', 'signup', 'confirm']);
const MAX_HOPS = 30;

function decode(s: string): string {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

function pageError(html: string): { code: string; message: string } | undefined {
  const m = /data-error="([^"]*)">([\s\S]*?)<\/p>/.exec(html);
  return m ? { code: decode(m[1]), message: decode(m[2].replace(/<[^>]+>/g, '')) } : undefined;
}

function formAction(html: string, testid: string, page: URL, step: DriveStep): URL {
  const m = new RegExp(`<form method="post" action="([^"]+)" data-testid="${testid}">`).exec(html);
  if (!m) throw new DriveError(step, 'FORM_NOT_FOUND', `the ${step} page has no ${testid}`);
  return new URL(decode(m[1]), page);
}

/**
 * Signs in from `authorizationUrl` (an authorization request to this provider, built by
 * the client with its PKCE challenge and state) as `identity`: phone → code → (sign-up →
 * confirmation code, when the account has no ID yet) and returns the URL the provider
 * finally redirects to, the client's `redirect_uri` with `code`, `state` and `iss`.
 * @throws DriveError naming the step that failed and the page's error code
 */
export async function driveSignIn(
  authorizationUrl: string,
  identity: SignInIdentity,
  opts: DriveOptions,
): Promise<string> {
  const f = opts.fetch ?? createCookieFetch();
  const redirectUri = new URL(authorizationUrl).searchParams.get('redirect_uri') ?? undefined;
  const readCode: CodeReader =
    typeof opts.codes === 'string'
      ? (
          (file) => (q) =>
            latestCode(file, q)
        )(opts.codes)
      : opts.codes;
  const timeout = opts.codeTimeoutMs ?? 2000;
  let step: DriveStep = 'authorize';
  let sentAt = Date.now();

  const waitForCode = async (phone: string, purpose: string): Promise<string> => {
    const deadline = Date.now() + timeout;
    for (;;) {
      const code = await readCode({ phone, purpose, after: sentAt });
      if (code) return code;
      if (Date.now() > deadline) {
        const hint =
          step === 'confirm' && !identity.ownerPhone ? '; if another account holds this ID, pass ownerPhone' : '';
        throw new DriveError(
          step,
          'CODE_NOT_FOUND',
          `no ${purpose} code for ${maskPhone(phone)} within ${timeout} ms${hint}`,
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  let url = new URL(authorizationUrl);
  let res = await f(url);
  for (let hop = 0; hop < MAX_HOPS; hop++) {
    if (res.status >= 300 && res.status < 400) {
      await res.body?.cancel();
      const location = res.headers.get('location');
      if (!location) throw new DriveError(step, 'NO_LOCATION', `a ${res.status} without Location`, res.status);
      const next = new URL(location, url);
      if (redirectUri && next.href.startsWith(redirectUri)) {
        const error = next.searchParams.get('error');
        if (error) throw new DriveError(step, error, next.searchParams.get('error_description') ?? error);
        return next.href;
      }
      url = next;
      res = await f(url);
      continue;
    }
    const html = await res.text();
    const shown = /<main data-step="([a-z]+)"/.exec(html)?.[1];
    if (res.status >= 400 || !shown || !STEPS.has(shown)) {
      const e = pageError(html);
      throw new DriveError(
        step,
        e?.code ?? `HTTP_${res.status}`,
        e?.message ?? `unexpected page at ${url.pathname}`,
        res.status,
      );
    }
    step = shown as DriveStep;
    opts.onStep?.(step);
    let form: Record<string, string>;
    switch (step) {
      case 'phone':
        form = { phone: identity.phone };
        break;
      case 'code':
        form = { code: await waitForCode(identity.phone, 'login') };
        break;
      case 'signup':
        form = { idType: identity.idType, idNumber: identity.idNumber, name: identity.name };
        break;
      default:
        form = {
          code: await waitForCode(
            identity.ownerPhone ?? identity.phone,
            identity.ownerPhone ? 'id-transfer' : 'id-confirm',
          ),
        };
    }
    const action = formAction(html, `${step}-form`, url, step);
    if (step === 'phone' || step === 'signup') sentAt = Date.now();
    url = action;
    res = await f(action, { method: 'POST', body: new URLSearchParams(form) });
  }
  throw new DriveError(step, 'TOO_MANY_HOPS', `no redirect to the client after ${MAX_HOPS} requests`);
}
