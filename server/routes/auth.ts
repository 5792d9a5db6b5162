import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { Services } from '../app';
import type { AppContext } from '../context';
import { openField, sealField } from '../crypto/pii';
import { maskId, maskName } from '../domain/mask';
import { ServiceError } from '../errors';
import { jsonBody, readJson, parseWith } from '../http/body';
import { COOKIES, isResident, principalsOf, resolveToken, type Principal } from '../http/auth';
import type { PendingSignIn, RelyingParty } from '../identity/relying-party';
import type { OpenedSession } from '../identity/sessions';
import type { RouteDoc } from '../http/openapi';

/** Holds the state, nonce and PKCE verifier of one sign-in between /login and /callback, sealed. */
const LOGIN_COOKIE = 'ak_login';
const LOGIN_TTL_MS = 10 * 60_000;

const tokenText = z.string().regex(/^[A-Za-z0-9_\-.]{16,200}$/, 'a token');
/** The body of POST /v1/auth/refresh from an app (a page sends none: its cookie carries the token). */
export const refreshSchema = z.strictObject({ refreshToken: tokenText });
/** The query of POST /v1/auth/logout. */
export const logoutSchema = z.strictObject({ who: z.enum(['resident', 'staff']).optional() });
/** The body of POST /v1/auth/staff. */
export const staffSignInSchema = z.strictObject({ token: tokenText });

/**
 * Sets a cookie the page's script cannot read (HttpOnly), sent only over HTTPS (Secure;
 * browsers treat http://localhost and 127.0.0.1 as secure) and never on a request another
 * site starts (SameSite=Strict), unless told otherwise.
 */
export function setCookie(
  ctx: Context,
  name: string,
  value: string | null,
  opts: { path?: string; maxAgeMs?: number; sameSite?: 'strict' | 'lax' } = {},
): void {
  // `cookies` refuses Secure over plain HTTP unless told the connection is secure; behind
  // TLS termination it is, and on loopback the browser accepts it.
  ctx.cookies.secure = true;
  ctx.cookies.set(name, value, {
    httpOnly: true,
    secure: true,
    sameSite: opts.sameSite ?? 'strict',
    path: opts.path ?? '/',
    maxAge: value === null ? 0 : opts.maxAgeMs,
    overwrite: true,
  });
}

function setSessionCookies(ctx: Context, s: OpenedSession, now: Date): void {
  const left = Date.parse(s.expiresAt) - now.getTime();
  setCookie(ctx, COOKIES.resident, s.access, { maxAgeMs: left });
  setCookie(ctx, COOKIES.residentRefresh, s.refresh, { path: '/v1/auth', maxAgeMs: left });
}

function clearSessionCookies(ctx: Context): void {
  setCookie(ctx, COOKIES.resident, null);
  setCookie(ctx, COOKIES.residentRefresh, null, { path: '/v1/auth' });
}

function relyingParty(app: AppContext): RelyingParty {
  if (!app.signIn) throw new ServiceError('SIGN_IN_UNAVAILABLE', 'sign-in is not ready yet; try again shortly');
  return app.signIn;
}

/** What the pages may show of a resident session's identity: masked, never the name or the number. */
export interface SessionIdentity {
  maskedName: string;
  maskedId: string;
  idType: string;
}

/** The masked identity a resident session signed in with (fixed for the session's life). */
export async function sessionIdentity(sessions: Services['sessions'], p: Principal): Promise<SessionIdentity> {
  if (!isResident(p) || !p.session) throw new ServiceError('FORBIDDEN', 'this is not a resident session');
  const id = await sessions.identity(p.session);
  return { maskedName: maskName(id.name), maskedId: maskId(id.idNumber), idType: id.idType };
}

/**
 * GET /v1/auth/session: who this browser is signed in as, for the pages: masked, never a token.
 * `identityOf` gives a resident session's masked identity: `sessionIdentity` in one process, a
 * worker's copy of the writer's answer under WORKERS (server/cluster/worker.ts).
 */
export function addSessionRoute(router: Router, identityOf: (p: Principal) => Promise<SessionIdentity>): void {
  router.get('/v1/auth/session', async (ctx) => {
    const all = principalsOf(ctx);
    const r = all.find(isResident);
    const staff = all.find((p) => !isResident(p));
    ctx.body = {
      resident: r ? { ...(await identityOf(r)), record: r.binding, accessExpiresAt: r.expiresAt ?? null } : null,
      staff: staff
        ? { role: staff.role, name: staff.name ?? null, scope: staff.scope ?? [], expiresAt: staff.expiresAt ?? null }
        : null,
      // An expired access token with a live refresh cookie: the page refreshes, then asks again.
      expired: !r && ctx.state.expired !== undefined,
    };
  });
}

/**
 * Sign-in through the identity provider (the province's real-name account platform, or
 * the embedded development provider), resident sessions, and the pages' staff sign-in.
 */
export function authRoutes(router: Router, app: AppContext, { sessions, limits }: Services): void {
  const { encryptionKey } = app.secrets;

  /** Starts a sign-in: the browser goes to the provider with a fresh state, nonce and PKCE challenge. */
  router.get('/v1/auth/login', limits.limit('signin-address'), async (ctx) => {
    const { url, pending } = await relyingParty(app).start();
    const sealed = sealField(
      encryptionKey,
      JSON.stringify({ ...pending, until: app.clock().getTime() + LOGIN_TTL_MS }),
      'sign-in',
    );
    // Lax, not Strict: the browser comes back to the callback from the provider's site.
    setCookie(ctx, LOGIN_COOKIE, sealed, { path: '/v1/auth/callback', maxAgeMs: LOGIN_TTL_MS, sameSite: 'lax' });
    ctx.set('Cache-Control', 'no-store');
    ctx.redirect(url);
  });

  /**
   * The provider sends the browser back here with a code; the service exchanges it for an
   * ID token, opens a session and sends the browser to `/`. A failure goes to
   * `/?signin_error=<CODE>` and opens nothing.
   */
  router.get('/v1/auth/callback', limits.limit('signin-address'), async (ctx) => {
    const sealed = ctx.cookies.get(LOGIN_COOKIE);
    setCookie(ctx, LOGIN_COOKIE, null, { path: '/v1/auth/callback', sameSite: 'lax' });
    ctx.set('Cache-Control', 'no-store');
    try {
      let pending: PendingSignIn & { until: number };
      try {
        pending = JSON.parse(openField(encryptionKey, sealed ?? '', 'sign-in')) as PendingSignIn & { until: number };
      } catch {
        throw new ServiceError('UNAUTHENTICATED', 'this sign-in was not started here, or took too long; start again');
      }
      if (pending.until < app.clock().getTime())
        throw new ServiceError('UNAUTHENTICATED', 'this sign-in took too long; start again');
      const done = await relyingParty(app).finish(new URL(ctx.href), pending);
      const account = sessions.accountKey(done.issuer, done.subject);
      const opened = await app.ledger.transact((tx) => sessions.open(tx, done.identity, account));
      setSessionCookies(ctx, opened, app.clock());
      app.metrics.inc('ankang_sign_ins_total', 'Resident sign-ins', { outcome: 'ok' });
      ctx.redirect('/');
    } catch (e) {
      if (!(e instanceof ServiceError)) throw e;
      app.metrics.inc('ankang_sign_ins_total', 'Resident sign-ins', { outcome: e.code });
      ctx.redirect(`/?signin_error=${encodeURIComponent(e.code)}`);
    }
  });

  /**
   * A new access token for a refresh token (from the page's cookie, or `{ refreshToken }`
   * for an app); both old tokens stop working. The session's end does not move.
   */
  router.post('/v1/auth/refresh', limits.limit('refresh-address'), async (ctx) => {
    const fromCookie = ctx.cookies.get(COOKIES.residentRefresh);
    const hasBody = Number(ctx.get('content-length') || 0) > 0 || ctx.get('transfer-encoding') !== '';
    const token = hasBody
      ? parseWith(refreshSchema, await readJson(ctx, app.config.BODY_LIMIT_BYTES)).refreshToken
      : fromCookie;
    if (!token) throw new ServiceError('UNAUTHENTICATED', 'no refresh token: sign in again');
    let s: OpenedSession;
    try {
      s = await app.ledger.transact((tx) => sessions.refresh(tx, token));
    } catch (e) {
      if (!hasBody && e instanceof ServiceError) clearSessionCookies(ctx);
      throw e;
    }
    if (hasBody) {
      ctx.body = {
        accessToken: s.access,
        refreshToken: s.refresh,
        accessExpiresAt: s.accessExpiresAt,
        expiresAt: s.expiresAt,
      };
    } else {
      setSessionCookies(ctx, s, app.clock());
      ctx.body = { accessExpiresAt: s.accessExpiresAt, expiresAt: s.expiresAt };
    }
  });

  /** Ends the resident session this request carries (both tokens stop working) and clears the pages' cookies. */
  router.post('/v1/auth/logout', async (ctx) => {
    // `?who=resident` (the resident page) or `?who=staff` (the staff pages) signs out one of them; no `who`, both.
    const who = parseWith(logoutSchema, { ...ctx.query }).who;
    if (who !== 'staff') {
      const resident = principalsOf(ctx).find(isResident);
      // An expired access token opens nothing, but its session must end all the same: the
      // page's refresh cookie (sent here, under /v1/auth) names it.
      const refresh = ctx.cookies.get(COOKIES.residentRefresh);
      const session =
        resident?.session ??
        (refresh && tokenText.safeParse(refresh).success ? await sessions.sessionOfRefresh(refresh) : undefined);
      if (session) await app.ledger.transact((tx) => sessions.close(tx, session));
      clearSessionCookies(ctx);
    }
    if (who !== 'resident') setCookie(ctx, COOKIES.staff, null);
    ctx.status = 204;
  });

  addSessionRoute(router, (p) => sessionIdentity(sessions, p));

  /**
   * The staff pages (/scan, /admin) sign in with an authority token once; it is kept in an
   * HttpOnly cookie until it expires, so no script on the page can read it.
   */
  router.post('/v1/auth/staff', limits.limit('signin-address'), async (ctx) => {
    const { token } = await jsonBody(ctx, staffSignInSchema, app.config.BODY_LIMIT_BYTES);
    const p = await resolveToken(
      token,
      app.ledger,
      app.secrets.adminToken,
      app.clock(),
      app.config.STAFF_TOKEN_TTL_DAYS * 86_400_000,
    );
    if (isResident(p)) throw new ServiceError('FORBIDDEN', 'this is a resident token; residents sign in on /');
    const left = p.expiresAt
      ? Date.parse(p.expiresAt) - app.clock().getTime()
      : app.config.STAFF_TOKEN_TTL_DAYS * 86_400_000;
    setCookie(ctx, COOKIES.staff, token, { maxAgeMs: left });
    ctx.body = { role: p.role, name: p.name ?? null, scope: p.scope ?? [], expiresAt: p.expiresAt ?? null };
  });
}

/** The API document's entries for these routes (server/http/openapi.ts). */
export const authDocs: RouteDoc[] = [
  {
    method: 'get',
    path: '/v1/auth/login',
    tag: 'sign-in',
    auth: 'none',
    limited: true,
    errors: ['SIGN_IN_UNAVAILABLE'],
    summary: 'Start a sign-in through the identity provider',
    description:
      'For a browser: redirects to the provider with a fresh state, nonce and PKCE challenge, kept sealed in a cookie for ten minutes.',
    ok: {
      status: 302,
      description: 'To the identity provider',
      headers: { Location: "The provider's authorization URL" },
    },
  },
  {
    method: 'get',
    path: '/v1/auth/callback',
    tag: 'sign-in',
    auth: 'none',
    limited: true,
    summary: 'The identity provider sends the browser back here',
    description:
      'Exchanges the code for an ID token, opens a resident session (cookies `ak_resident`, `ak_resident_refresh`) and redirects to `/`. A failure redirects to `/?signin_error=<CODE>` and opens nothing.',
    ok: {
      status: 302,
      description: 'To `/`, or to `/?signin_error=<CODE>`',
      headers: { Location: '`/` or `/?signin_error=<CODE>`' },
    },
  },
  {
    method: 'post',
    path: '/v1/auth/refresh',
    tag: 'sign-in',
    auth: 'refresh',
    limited: true,
    body: refreshSchema,
    errors: ['TOKEN_EXPIRED'],
    example: { refreshToken: 'ak_resident_AbCdEfGhIjKlMnOpQrStUvWx' },
    summary: 'A new access and refresh token for a refresh token',
    description:
      "An app sends `{ refreshToken }` and gets `{ accessToken, refreshToken, accessExpiresAt, expiresAt }`; a page sends no body, its refresh cookie is used and the new tokens are set as cookies (`{ accessExpiresAt, expiresAt }`). Both old tokens stop working; the session's end does not move.",
    ok: {
      status: 200,
      description: 'The new pair (in the body for an app, as cookies for a page) and when they expire',
    },
  },
  {
    method: 'post',
    path: '/v1/auth/logout',
    tag: 'sign-in',
    auth: 'optional',
    query: logoutSchema,
    summary: "End this browser's session and clear its cookies",
    description: '`who=resident` ends the resident session, `who=staff` clears the staff cookie; without `who`, both.',
    ok: { status: 204, description: 'Signed out' },
  },
  {
    method: 'get',
    path: '/v1/auth/session',
    tag: 'sign-in',
    auth: 'optional',
    summary: 'Who this browser is signed in as',
    description:
      'Masked, never a token. `expired`: an expired access token beside a live refresh cookie (refresh, then ask again).',
    ok: {
      status: 200,
      description: 'The session, masked',
      schema: z.object({
        resident: z
          .object({
            maskedName: z.string(),
            maskedId: z.string(),
            idType: z.string(),
            record: z.enum(['bound', 'other', 'none']),
            accessExpiresAt: z.string().nullable(),
          })
          .nullable(),
        staff: z
          .object({
            role: z.string(),
            name: z.string().nullable(),
            scope: z.unknown(),
            expiresAt: z.string().nullable(),
          })
          .nullable(),
        expired: z.boolean(),
      }),
    },
  },
  {
    method: 'post',
    path: '/v1/auth/staff',
    tag: 'sign-in',
    auth: 'none',
    limited: true,
    body: staffSignInSchema,
    errors: ['TOKEN_EXPIRED', 'FORBIDDEN'],
    example: { token: 'ak_health_AbCdEfGhIjKlMnOpQrStUvWx' },
    summary: 'Staff pages: keep an authority token in an HttpOnly cookie',
    description:
      'The token is checked, then set as the `ak_staff` cookie until it expires. A resident token is refused (403).',
    ok: { status: 200, description: '`{ role, name, scope, expiresAt }`' },
  },
];
