import { createCookieFetch, type JarFetch } from '../../server/idp/cookie-fetch';
import { driveSignIn, type CodeReader, type SignInIdentity } from '../../server/idp/drive';

/** A resident session as an app holds it: the access token for `Authorization: Bearer`, and the refresh token. */
export interface ResidentSession {
  access: string;
  refresh: string;
}

function cookieValue(res: Response, name: string): string | undefined {
  for (const header of res.headers.getSetCookie()) {
    const [pair] = header.split(';');
    const eq = pair.indexOf('=');
    if (pair.slice(0, eq).trim() === name && pair.slice(eq + 1)) return pair.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Signs a resident in to the service at `baseUrl` the way a browser without JavaScript
 * would: `/v1/auth/login`, the identity provider's pages (phone, texted code, and the
 * sign-up the first time, with codes read from the outbox), then the service's callback,
 * whose cookies hold the session. For tests, `npm run demo`, the federation walk-through and
 * `npm run session`; real HTTP throughout.
 * @throws Error naming the step that failed
 */
export async function signIn(
  baseUrl: string,
  identity: SignInIdentity,
  opts: { codes: string | CodeReader; fetch?: JarFetch },
): Promise<ResidentSession> {
  const f = opts.fetch ?? createCookieFetch();
  const login = await f(`${baseUrl}/v1/auth/login`);
  const to = login.headers.get('location');
  if (login.status !== 302 || !to)
    throw new Error(`GET /v1/auth/login answered ${login.status}: ${await login.text()}`);
  const callback = await driveSignIn(new URL(to, baseUrl).href, identity, { codes: opts.codes, fetch: f });
  const done = await f(callback);
  const landing = done.headers.get('location') ?? '';
  const access = cookieValue(done, 'ak_resident');
  const refresh = cookieValue(done, 'ak_resident_refresh');
  if (done.status !== 302 || landing.includes('signin_error') || !access || !refresh) {
    throw new Error(`the service's sign-in callback answered ${done.status} → ${landing || '(no redirect)'}`);
  }
  return { access, refresh };
}
