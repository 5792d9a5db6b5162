import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

/** Abuse limits of the sign-in pages; each counts events per key in a window that starts at the key's first event. */
export interface IdpLimits {
  /** The window every limit counts over, in seconds (default 600). */
  windowSeconds: number;
  /** One-time codes sent to one phone number per window (default 5). */
  sendsPerPhone: number;
  /** One-time codes sent at the request of one client address per window (default 60). */
  sendsPerAddress: number;
  /** One-time codes checked from one client address per window (default 100). */
  checksPerAddress: number;
  /** Sign-up forms sent from one client address per window (default 20). */
  signupsPerAddress: number;
}

export const DEFAULT_LIMITS: IdpLimits = {
  windowSeconds: 600,
  sendsPerPhone: 5,
  sendsPerAddress: 60,
  checksPerAddress: 100,
  signupsPerAddress: 20,
};

export type LimitName = Exclude<keyof IdpLimits, 'windowSeconds'>;

/** Over a limit: how long until the next attempt may succeed. */
export class LimitExceeded extends Error {
  constructor(
    readonly limit: LimitName,
    readonly retryAfterSeconds: number,
  ) {
    super(`limit ${limit} reached; retry after ${retryAfterSeconds} s`);
    this.name = 'LimitExceeded';
  }
}

/**
 * In-memory counters (rate-limiter-flexible's RateLimiterMemory): one process, lost on
 * restart, which suits a development provider. Keys are HMACs or addresses, never numbers.
 */
export class Limits {
  readonly config: IdpLimits;
  private readonly limiters: Record<LimitName, RateLimiterMemory>;

  constructor(overrides: Partial<IdpLimits> = {}) {
    this.config = { ...DEFAULT_LIMITS, ...overrides };
    const make = (points: number) => new RateLimiterMemory({ points, duration: this.config.windowSeconds });
    this.limiters = {
      sendsPerPhone: make(this.config.sendsPerPhone),
      sendsPerAddress: make(this.config.sendsPerAddress),
      checksPerAddress: make(this.config.checksPerAddress),
      signupsPerAddress: make(this.config.signupsPerAddress),
    };
  }

  /** Counts one event against `limit` for `key`. @throws LimitExceeded */
  async consume(limit: LimitName, key: string): Promise<void> {
    try {
      await this.limiters[limit].consume(key);
    } catch (e) {
      if (e instanceof RateLimiterRes) throw new LimitExceeded(limit, Math.max(1, Math.ceil(e.msBeforeNext / 1000)));
      throw e;
    }
  }
}
