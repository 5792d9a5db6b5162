import type { Logger } from '../ledger/log';

/**
 * Delays between attempts to reach something that is down: exponential from `minMs`, capped
 * at `maxMs`, with "equal jitter" (half the step fixed, half random) so that many services
 * cut off by the same outage do not retry in lockstep, while each keeps a floor of half the
 * step: at the cap, at most one attempt per `maxMs / 2`.
 */
export class Backoff {
  private attempts = 0;

  constructor(
    readonly minMs: number,
    readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {
    if (!(minMs > 0) || !(maxMs >= minMs)) throw new Error(`backoff needs 0 < min (${minMs}) <= max (${maxMs})`);
  }

  /** Failed attempts since the last success. */
  get failures(): number {
    return this.attempts;
  }

  /** The delay before the next attempt, after one more failure. */
  next(): number {
    // 2^attempts overflows nothing below the cap: stop doubling once there.
    const step = Math.min(this.maxMs, this.minMs * 2 ** Math.min(this.attempts, 52));
    this.attempts++;
    return Math.round(step / 2 + this.random() * (step / 2));
  }

  /** A success: the next failure starts again from `minMs`. */
  reset(): void {
    this.attempts = 0;
  }
}

/**
 * The log of one outage, bounded whatever its length: a warning when it starts (with the
 * cause), a "still down" line each time the outage has doubled in length since the last one
 * (the first once it has lasted `firstReportMs`; never more than `maxReportEveryMs` apart), and
 * one line when it is over. Attempts in between are counted, not logged.
 */
export class OutageLog {
  private since: number | undefined;
  private attempts = 0;
  private nextReportAt = 0;
  private lastCause = '';

  constructor(
    private readonly log: Logger,
    private readonly what: { down: string; stillDown: string; up: string },
    private readonly firstReportMs: number,
    private readonly maxReportEveryMs: number,
  ) {}

  /** Whether an outage is going on. */
  get down(): boolean {
    return this.since !== undefined;
  }

  /** One failed attempt at `now` (ms); `fields` go on the lines logged. */
  failed(now: number, cause: string, fields: Record<string, unknown> = {}): void {
    this.attempts++;
    this.lastCause = cause;
    if (this.since === undefined) {
      this.since = now;
      this.nextReportAt = now + this.firstReportMs;
      this.log.warn(this.what.down, { error: cause, ...fields });
      return;
    }
    if (now < this.nextReportAt) return;
    const lasted = now - this.since;
    this.log.warn(this.what.stillDown, {
      error: cause,
      downForMs: lasted,
      attempts: this.attempts,
      since: new Date(this.since).toISOString(),
      ...fields,
    });
    this.nextReportAt = now + Math.min(Math.max(lasted, this.firstReportMs), this.maxReportEveryMs);
  }

  /** A success at `now`: ends the outage, if there was one, with one line. */
  recovered(now: number, fields: Record<string, unknown> = {}): void {
    if (this.since === undefined) return;
    this.log.info(this.what.up, {
      downForMs: now - this.since,
      attempts: this.attempts,
      lastError: this.lastCause,
      ...fields,
    });
    this.since = undefined;
    this.attempts = 0;
  }
}
