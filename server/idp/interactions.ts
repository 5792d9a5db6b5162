import { createHmac } from 'node:crypto';
import type Koa from 'koa';
import getRawBody from 'raw-body';
import { validateIdentity, validatePhone } from '../domain/identity';
import { maskPhone } from '../domain/mask';
import type { Logger } from '../http/log';
import { SmsError, type SmsSender } from '../identity/sms';
import { AccountsError, type AccountStore, type Identity } from './accounts';
import { LimitExceeded, type LimitName, type Limits } from './limits';
import { normalizeName } from './name';
import type { OidcModule, OidcProvider } from './oidc-module';
import { checkCode, issueCode, type CodeChallenge } from './one-time-code';
import { pageHeaders, renderErrorPage, renderStep, type PageError, type Step } from './pages';

/**
 * The sign-in interaction: phone → code → (first time: ID form → confirmation code) →
 * back to the authorization endpoint with the account's `sub`.
 *
 * Sign-up stands in, in development, for the province's real-name verification. One ID
 * belongs to one account: a sign-up naming an ID that another account holds is confirmed
 * by a code sent to the phone that account registered, and the ID then moves. So that no
 * answer tells whether an ID is registered, the sign-up step always ends the same way: a
 * code is sent (to the holder's phone, or to this phone when the ID is new) and the same
 * page asks for it; names are compared with nothing before the code is confirmed.
 */

export interface InteractionDeps {
  oidc: OidcModule;
  provider: OidcProvider;
  accounts: AccountStore;
  sms: SmsSender;
  limits: Limits;
  codeKey: Buffer;
  clock: () => Date;
  log: Logger;
  /** The path the provider is mounted at ('' or e.g. '/idp'). */
  mountPath: string;
  /** Origins of the clients' redirect URIs, for the pages' form-action. */
  clientOrigins: string[];
}

/** Where one interaction stands; kept in memory next to oidc-provider's interaction. */
interface Flow {
  step: Step;
  phone?: string;
  challenge?: CodeChallenge;
  pending?: { identity: Identity; holder?: string };
  /** When the interaction expires (ms since the epoch, real time); swept after. */
  expiresAt: number;
}

const ROUTE = /^\/interaction\/([A-Za-z0-9_-]{1,64})(?:\/(phone|code|signup|confirm|restart))?$/;
const BODY_LIMIT = 4096;

const TEXT: Record<string, (detail?: string | number) => string> = {
  PHONE_FORMAT: () =>
    '请输入内地手机号或以 + 开头的国际号码。Enter a mainland mobile number or an international number starting with +.',
  PHONE_NOT_MAINLAND: () => '居民身份证需使用内地手机号登记。A resident ID card needs a mainland mobile number.',
  OTP_INVALID: (n) => `验证码不正确，还可尝试 ${n} 次。The code is wrong; ${n} tries left.`,
  OTP_EXPIRED: () => '验证码已过期，请重新获取。The code has expired; ask for a new one.',
  OTP_LOCKED: () =>
    '错误次数过多，此验证码已失效，请重新获取。Too many wrong codes: this code no longer works; ask for a new one.',
  TOO_MANY_REQUESTS: (s) => `操作过于频繁，请 ${s} 秒后再试。Too many attempts; try again in ${s} seconds.`,
  INVALID_ID_NUMBER: (m) => `证件号码不正确。The ID number is not valid: ${m}.`,
  NAME_INVALID: (m) => `姓名不正确。The name is not valid: ${m}.`,
  CONFIRMATION_STALE: () => '证件登记状态已变化，请重新填写。The ID changed hands meanwhile; fill in the form again.',
  SMS_UNAVAILABLE: () => '短信暂时无法发送，请稍后再试。Text messages cannot be sent right now; try again later.',
  SESSION_NOT_FOUND: () =>
    '登录已过期，或不在发起登录的浏览器中。The sign-in has expired, or this is not the browser it started in.',
  PAYLOAD_TOO_LARGE: () => '提交的内容过长。The form is too large.',
  INTERNAL: () => '服务暂时不可用。Something went wrong on our side.',
};

/** A page answer with an error; thrown inside a step, rendered by the router. */
class PageFailure extends Error {
  constructor(
    readonly status: number,
    readonly error: PageError,
    readonly values: Record<string, string> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(error.message);
  }
}

const fail = (status: number, code: string, detail?: string | number, values?: Record<string, string>) =>
  new PageFailure(status, { code, message: (TEXT[code] ?? TEXT.INTERNAL)(detail) }, values);

async function readForm(ctx: Koa.Context): Promise<Record<string, string>> {
  if (!ctx.is('application/x-www-form-urlencoded')) return {};
  let raw: string;
  try {
    raw = await getRawBody(ctx.req, { limit: BODY_LIMIT, encoding: 'utf8' });
  } catch {
    throw fail(413, 'PAYLOAD_TOO_LARGE');
  }
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(raw)) out[k] ??= v;
  return out;
}

/** Koa middleware for the interaction pages, to run inside the provider (`provider.use`). */
export function interactionPages(deps: InteractionDeps): { middleware: Koa.Middleware; close(): void } {
  const { provider, accounts, sms, limits, codeKey, clock, log } = deps;
  const flows = new Map<string, Flow>();
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [uid, f] of flows) if (f.expiresAt < now) flows.delete(uid);
  }, 60_000);
  sweep.unref();

  const headers = pageHeaders(deps.clientOrigins);
  const phoneKey = (phone: string) => createHmac('sha256', codeKey).update(`limit\0${phone}`).digest('base64url');

  async function limit(name: LimitName, key: string, values?: Record<string, string>): Promise<void> {
    try {
      await limits.consume(name, key);
    } catch (e) {
      if (!(e instanceof LimitExceeded)) throw e;
      const f = fail(429, 'TOO_MANY_REQUESTS', e.retryAfterSeconds, values);
      f.headers['Retry-After'] = String(e.retryAfterSeconds);
      throw f;
    }
  }

  async function send(to: string, purpose: string): Promise<CodeChallenge> {
    const { code, challenge } = issueCode(codeKey, clock());
    try {
      await sms.send({ to, purpose, code });
    } catch (e) {
      if (!(e instanceof SmsError)) throw e;
      log.warn('idp: one-time code not sent', { purpose, error: e.code });
      throw fail(503, 'SMS_UNAVAILABLE');
    }
    return challenge;
  }

  function check(flow: Flow, answer: string): void {
    if (!flow.challenge) throw fail(400, 'OTP_EXPIRED');
    const r = checkCode(codeKey, flow.challenge, answer, clock());
    if (r.ok) {
      flow.challenge = undefined;
      return;
    }
    throw fail(400, r.code, r.code === 'OTP_INVALID' ? r.remaining : undefined);
  }

  /** The forms' handlers: 'redirect' shows the flow's (new) step after a 303; `{ login }` signs that account in. */
  const steps: Record<
    Step | 'restart',
    (ctx: Koa.Context, flow: Flow, form: Record<string, string>) => Promise<'redirect' | { login: string }>
  > = {
    async phone(ctx, flow, form) {
      const values = { phone: form.phone ?? '' };
      const checked = validatePhone(form.phone ?? '', 'passport');
      if (!checked.ok) throw fail(400, 'PHONE_FORMAT', undefined, values);
      await limit('sendsPerAddress', ctx.ip, values);
      await limit('sendsPerPhone', phoneKey(checked.normalized), values);
      flow.challenge = await send(checked.normalized, 'login');
      flow.phone = checked.normalized;
      flow.step = 'code';
      return 'redirect';
    },

    async code(ctx, flow, form) {
      await limit('checksPerAddress', ctx.ip);
      check(flow, form.code ?? '');
      const account = await accounts.findByPhone(flow.phone!);
      if (account?.identity) return { login: account.sub };
      flow.step = 'signup';
      return 'redirect';
    },

    async signup(ctx, flow, form) {
      const values = { idType: form.idType ?? '', idNumber: form.idNumber ?? '', name: form.name ?? '' };
      await limit('signupsPerAddress', ctx.ip, values);
      const id = validateIdentity(values.idType, values.idNumber, clock());
      if (!id.ok) throw fail(400, 'INVALID_ID_NUMBER', id.message, values);
      const name = normalizeName(values.name);
      if (!name.ok) throw fail(400, 'NAME_INVALID', name.message, values);
      const phone = flow.phone!;
      if (!validatePhone(phone, id.type).ok)
        throw new PageFailure(400, { code: 'PHONE_FORMAT', message: TEXT.PHONE_NOT_MAINLAND() }, values);
      // Counted against this phone and address whoever receives the code, so the answer
      // depends only on what the person signing in controls.
      await limit('sendsPerAddress', ctx.ip, values);
      await limit('sendsPerPhone', phoneKey(phone), values);
      const holder = await accounts.findByIdentity(id.type, id.normalized);
      const other = holder && holder.phone !== phone ? holder : undefined;
      let challenge: CodeChallenge;
      if (other) {
        let over = false;
        try {
          await limits.consume('sendsPerPhone', phoneKey(other.phone));
        } catch (e) {
          if (!(e instanceof LimitExceeded)) throw e;
          over = true;
        }
        if (over) {
          // The holder's phone has had its share of texts: answer as if sent (an error here
          // would say the ID is registered) and send nothing, so nobody can flood it.
          log.warn('idp: transfer code not sent, the holder phone is over its limit', { holder: other.sub });
          challenge = issueCode(codeKey, clock()).challenge;
        } else {
          challenge = await send(other.phone, 'id-transfer');
        }
      } else {
        challenge = await send(phone, 'id-confirm');
      }
      flow.pending = {
        identity: { idType: id.type, idNumber: id.normalized, name: name.name },
        ...(other ? { holder: other.sub } : {}),
      };
      flow.challenge = challenge;
      flow.step = 'confirm';
      return 'redirect';
    },

    async confirm(ctx, flow, form) {
      await limit('checksPerAddress', ctx.ip);
      check(flow, form.code ?? '');
      const { identity, holder } = flow.pending!;
      try {
        const { account, movedFrom } = await accounts.bindIdentity(flow.phone!, identity, holder);
        log.info('idp: identity registered', { sub: account.sub, ...(movedFrom ? { movedFrom } : {}) });
        return { login: account.sub };
      } catch (e) {
        if (!(e instanceof AccountsError)) throw e;
        flow.step = 'signup';
        flow.pending = undefined;
        throw fail(409, 'CONFIRMATION_STALE');
      }
    },

    async restart(_ctx, flow) {
      flow.challenge = undefined;
      flow.pending = undefined;
      if (flow.step === 'code') flow.step = 'phone';
      if (flow.step === 'confirm') flow.step = 'signup';
      return 'redirect';
    },
  };

  function show(ctx: Koa.Context, status: number, html: string, extra: Record<string, string> = {}): void {
    ctx.status = status;
    ctx.set({ ...headers, ...extra });
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = html;
  }

  const middleware: Koa.Middleware = async (ctx, next) => {
    const m = ROUTE.exec(ctx.path);
    if (!m) return next();
    const [, uid, action] = m;
    const isPost = ctx.method === 'POST';
    if ((isPost && !action) || (!isPost && action) || (ctx.method !== 'GET' && ctx.method !== 'POST')) return next();
    const base = `${deps.mountPath}/interaction/${uid}`;
    let flow: Flow | undefined;
    try {
      let interaction;
      try {
        interaction = await provider.interactionDetails(ctx.req, ctx.res);
      } catch (e) {
        if (e instanceof deps.oidc.errors.SessionNotFound) throw fail(400, 'SESSION_NOT_FOUND');
        throw e;
      }
      if (interaction.uid !== uid) throw fail(400, 'SESSION_NOT_FOUND');
      // Kept only once a form is sent, so merely opening pages stores nothing.
      flow = flows.get(uid) ?? { step: 'phone', expiresAt: interaction.exp * 1000 };
      if (isPost) flows.set(uid, flow);
      if (!isPost) {
        const hint = typeof interaction.params.login_hint === 'string' ? interaction.params.login_hint : '';
        show(
          ctx,
          200,
          renderStep(flow.step, {
            base,
            maskedPhone: flow.phone && maskPhone(flow.phone),
            values: flow.step === 'phone' ? { phone: flow.phone ?? hint } : {},
          }),
        );
        return;
      }
      // A form from another step (the back button, a second tab): show where the flow is.
      if (action !== 'restart' && action !== flow.step) {
        ctx.status = 303;
        ctx.redirect(base);
        return;
      }
      const form = await readForm(ctx);
      const outcome = await steps[action as Step | 'restart'](ctx, flow, form);
      if (outcome === 'redirect') {
        ctx.status = 303;
        ctx.redirect(base);
        return;
      }
      flows.delete(uid);
      // Each authorization asks for a fresh sign-in (see the login prompt in provider.ts),
      // so the session cookie need not outlive the browser session.
      await provider.interactionFinished(
        ctx.req,
        ctx.res,
        { login: { accountId: outcome.login, amr: ['sms'], remember: false } },
        { mergeWithLastSubmission: false },
      );
      ctx.respond = false;
    } catch (e) {
      if (!(e instanceof PageFailure)) {
        log.error('idp: interaction failed', { step: flow?.step, error: (e as Error).stack ?? String(e) });
        show(ctx, 500, renderErrorPage({ code: 'INTERNAL', message: TEXT.INTERNAL() }));
        return;
      }
      if (!flow || e.error.code === 'SESSION_NOT_FOUND') {
        show(ctx, e.status, renderErrorPage(e.error), e.headers);
        return;
      }
      const shown = flow.step;
      show(
        ctx,
        e.status,
        renderStep(shown, { base, error: e.error, values: e.values, maskedPhone: flow.phone && maskPhone(flow.phone) }),
        e.headers,
      );
    }
  };

  return {
    middleware,
    close() {
      clearInterval(sweep);
      flows.clear();
    },
  };
}
