import type { Context, Middleware } from 'koa';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from '../config';
import { ServiceError } from '../errors';
import { addressKey } from './address';
import { isResident, principalsOf } from './auth';
import type { Metrics } from './metrics';

/** Whose requests a limit counts together; undefined when the limit does not apply to the request. */
export type LimitKey = (ctx: Context) => string | undefined;

/** The client's address: the socket's, or with TRUST_PROXY the forwarded one; an IPv6 /64 counts as one. */
export const byAddress: LimitKey = (ctx) => addressKey(ctx.ip);

/** The resident's pseudonym, when the request carries a resident's credentials. */
/** The identity a resident session signed in as (its pseudonym), whatever the request carried it in. */
export const byResident: LimitKey = (ctx) => principalsOf(ctx).find(isResident)?.pseudonym;

/** The authority token a request carries (its id): a province's federation token, say. */
export const byToken: LimitKey = (ctx) => principalsOf(ctx).find((p) => !isResident(p))?.id;

/** A setting holding a limit's requests per window; the window is the setting of the same name with `_SECONDS`. */
type RateSetting = {
  [K in keyof Config]: K extends `RATE_${string}_SECONDS` ? never : K extends `RATE_${string}` ? K : never;
}[keyof Config];

interface LimitSpec {
  setting: RateSetting;
  key: LimitKey;
  /** What is counted, for the refusal's message: "too many <what>". */
  what: string;
}

/**
 * Every abuse limit the service knows. Routes name the limits they are under
 * (`limits.limit('checkin-address', 'checkin-resident')`); the numbers come from the
 * configuration (README "Configuration" says why the defaults are what they are).
 * Per-address limits are flood guards only: a carrier-grade NAT puts thousands of
 * people behind one address, so the per-resident limits do the fine work.
 */
export const LIMITS = {
  'apply-address': { setting: 'RATE_APPLY_PER_ADDRESS', key: byAddress, what: 'applications from this address' },
  'apply-resident': { setting: 'RATE_APPLY_PER_RESIDENT', key: byResident, what: 'applications for this resident' },
  'checkin-address': { setting: 'RATE_CHECKIN_PER_ADDRESS', key: byAddress, what: 'check-ins from this address' },
  'checkin-resident': { setting: 'RATE_CHECKIN_PER_RESIDENT', key: byResident, what: 'check-ins by this resident' },
  'appeal-resident': { setting: 'RATE_APPEAL_PER_RESIDENT', key: byResident, what: 'appeals by this resident' },
  // Sign-in (/v1/auth/login, /v1/auth/callback, /v1/auth/staff) and one-time codes (/v1/residents/me/rebind).
  'signin-address': { setting: 'RATE_SIGNIN_PER_ADDRESS', key: byAddress, what: 'sign-ins from this address' },
  'otp-address': { setting: 'RATE_OTP_PER_ADDRESS', key: byAddress, what: 'one-time codes from this address' },
  'otp-resident': { setting: 'RATE_OTP_PER_RESIDENT', key: byResident, what: 'one-time codes for this resident' },
  // Every signed-in phone refreshes its session every SESSION_ACCESS_MINUTES: as common as check-ins.
  'refresh-address': {
    setting: 'RATE_REFRESH_PER_ADDRESS',
    key: byAddress,
    what: 'session refreshes from this address',
  },
  // Other provinces' tracing asks for their codes' scans (POST /v1/federation/scans): a few per case traced.
  'federation-token': {
    setting: 'RATE_FEDERATION_PER_TOKEN',
    key: byToken,
    what: 'federation requests with this token',
  },
  // A resident asks an authority to link a card (POST /v1/residents/me/links/requests): a few in a lifetime.
  'link-request-resident': {
    setting: 'RATE_LINK_REQUEST_PER_RESIDENT',
    key: byResident,
    what: 'link requests by this resident',
  },
  // A resident removing cards and pausing or allowing purposes on /: each is an event, and a person does it a few times a year.
  'links-resident': {
    setting: 'RATE_LINK_CHANGE_PER_RESIDENT',
    key: byResident,
    what: 'card and consent changes by this resident',
  },
  // A sector authority's writes (links, confirmations, desks, desk tokens): a flood guard for a runaway client, set for bulk linking.
  'sector-token': { setting: 'RATE_SECTOR_PER_TOKEN', key: byToken, what: 'link and desk writes with this token' },
  // A witness or auditor reading the log (GET /v1/log/events): a page per checkpoint, or a backlog's pages when catching up.
  'log-token': { setting: 'RATE_LOG_PER_TOKEN', key: byToken, what: 'log pages read with this token' },
  // A desk's look-ups (POST /v1/services/resolve): a busy fare reader sees a rider every second or so.
  'resolve-token': { setting: 'RATE_RESOLVE_PER_TOKEN', key: byToken, what: 'look-ups with this desk token' },
} as const satisfies Record<string, LimitSpec>;

export type LimitName = keyof typeof LIMITS;

/** The help of `ankang_rate_limited_total`. */
export const RATE_LIMITED_HELP = 'Requests refused by an abuse limit (429)';

/** The 429 of a used-up limit (`too many <what>`, Retry-After in whole seconds), counted in `ankang_rate_limited_total{limit}`. */
function tooMany(metrics: Pick<Metrics, 'inc'> | undefined, limit: string, what: string, msBeforeNext: number) {
  const seconds = Math.max(1, Math.ceil(msBeforeNext / 1000));
  metrics?.inc('ankang_rate_limited_total', RATE_LIMITED_HELP, { limit });
  const refused = new ServiceError('TOO_MANY_REQUESTS', `too many ${what}; retry in ${seconds} s`);
  refused.retryAfterSeconds = seconds;
  return refused;
}

/** The requests per window and the window of a limit, as configured. */
export function limitOf(config: Config, name: LimitName): { points: number; seconds: number } {
  const { setting } = LIMITS[name];
  return { points: config[setting], seconds: config[`${setting}_SECONDS`] };
}

/**
 * The abuse limits of one running service: fixed windows counted in memory, so they are
 * per process and start afresh on a restart.
 */
export class RateLimits {
  private readonly limiters = new Map<LimitName, RateLimiterMemory>();

  constructor(
    config: Config,
    private readonly metrics: Metrics,
  ) {
    for (const name of Object.keys(LIMITS) as LimitName[]) {
      const { points, seconds } = limitOf(config, name);
      this.limiters.set(name, new RateLimiterMemory({ keyPrefix: name, points, duration: seconds }));
    }
  }

  /**
   * Middleware counting a request against each named limit before anything else is done
   * with it: no body read, nothing written. Once a limit is used up it answers
   * 429 TOO_MANY_REQUESTS with `Retry-After` (whole seconds until the window ends).
   * A limit whose key is undefined for the request (no resident credentials) skips it.
   * @example router.post('/v1/auth/login', limits.limit('signin-address'), handler)
   */
  limit(...names: LimitName[]): Middleware {
    return async (ctx, next) => {
      for (const name of names) await this.consume(ctx, name);
      await next();
    };
  }

  private async consume(ctx: Context, name: LimitName): Promise<void> {
    const key = LIMITS[name].key(ctx);
    if (key === undefined) return;
    try {
      await this.limiters.get(name)!.consume(key);
    } catch (e) {
      if (!(e instanceof RateLimiterRes)) throw e;
      const refused = tooMany(this.metrics, name, LIMITS[name].what, e.msBeforeNext);
      ctx.set('Retry-After', String(refused.retryAfterSeconds));
      throw refused;
    }
  }
}

/** The metric label of the unknown-token limit (`ankang_rate_limited_total{limit}`). */
export const UNKNOWN_TOKEN_LIMIT = 'unknown-token-address';

/**
 * Unknown tokens (one that names nobody: mistyped, forged, or a closed session's) from one
 * client address. Each costs a look-up, and in an HTTP worker a round trip to the ledger
 * writer; a flood of made-up tokens would cost that without end. Once an address has shown
 * RATE_UNKNOWN_TOKEN_PER_ADDRESS of them in a window, a token from it that has to be looked
 * up is refused with 429 TOO_MANY_REQUESTS (`Retry-After`) until the window ends, without the
 * look-up. A flood guard, set high like the other per-address limits: for the rest of the
 * window it also refuses a neighbour's new session behind the same carrier-grade NAT (a
 * worker still takes the tokens it already knows).
 */
export class UnknownTokens {
  private readonly limiter: RateLimiterMemory;
  private readonly points: number;

  constructor(
    config: Pick<Config, 'RATE_UNKNOWN_TOKEN_PER_ADDRESS' | 'RATE_UNKNOWN_TOKEN_PER_ADDRESS_SECONDS'>,
    private readonly metrics?: Pick<Metrics, 'inc'>,
  ) {
    this.points = config.RATE_UNKNOWN_TOKEN_PER_ADDRESS;
    this.limiter = new RateLimiterMemory({
      keyPrefix: UNKNOWN_TOKEN_LIMIT,
      points: this.points,
      duration: config.RATE_UNKNOWN_TOKEN_PER_ADDRESS_SECONDS,
    });
  }

  /**
   * Looks a token up for a client at `address` (an `addressKey`; none, no limit), counting it
   * against the address when it names nobody (UNAUTHENTICATED).
   * @throws ServiceError TOO_MANY_REQUESTS, without looking, once the address is over the limit
   */
  async lookUp<T>(address: string | undefined, look: () => Promise<T>): Promise<T> {
    if (address === undefined) return look();
    const used = await this.limiter.get(address);
    if (used && used.consumedPoints >= this.points)
      throw tooMany(this.metrics, UNKNOWN_TOKEN_LIMIT, 'unknown tokens from this address', used.msBeforeNext);
    try {
      return await look();
    } catch (e) {
      if (e instanceof ServiceError && e.code === 'UNAUTHENTICATED') await this.limiter.penalty(address, 1);
      throw e;
    }
  }
}
