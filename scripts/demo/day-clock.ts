const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const SHANGHAI = 8 * HOUR;
/** The story's first and last hours (see seed.ts). */
export const FIRST_HOUR = 6;
export const LAST_HOUR = 19;

export interface DayClock {
  /** The service's clock: real time moved back, by less and less as the story goes on. */
  clock: () => Date;
  /** Jumps forward to the instant that stands for `hour` of the story; never backwards. */
  advanceTo: (hour: number) => void;
  /** Back to real time, for good. */
  release: () => void;
  /** The instants the story's first and last hours map to. */
  from: Date;
  to: Date;
}

/**
 * A clock for the demo's service that runs the story through today (Asia/Shanghai): it
 * starts at 06:00 and jumps forward as the story moves on, then returns to real time, so
 * every time the service records is in order and the day's scans spread over its hours.
 * Before 19:05 the story's hours are squeezed into what has passed of today (up to five
 * minutes ago); with less than an hour of today behind us there is no day clock.
 */
export function dayClock(nowMs: number, realNow: () => number = Date.now): DayClock | undefined {
  const midnight = Math.floor((nowMs + SHANGHAI) / DAY) * DAY - SHANGHAI;
  const end = (nowMs - 5 * MINUTE - midnight) / HOUR;
  const span = LAST_HOUR - FIRST_HOUR;
  // Past the story's end the hours are as written; earlier, they fit in [start, end].
  const start = end >= LAST_HOUR ? FIRST_HOUR : Math.max(0, end - span);
  const length = Math.min(span, end - start);
  if (length < 1) return undefined;
  const scale = length / span;
  const at = (hour: number) =>
    midnight + (start + (Math.min(Math.max(hour, FIRST_HOUR), LAST_HOUR) - FIRST_HOUR) * scale) * HOUR;
  let offset = at(FIRST_HOUR) - realNow();
  return {
    clock: () => new Date(realNow() + offset),
    advanceTo: (hour) => {
      offset = Math.min(0, Math.max(offset, at(hour) - realNow()));
    },
    release: () => {
      offset = 0;
    },
    from: new Date(at(FIRST_HOUR)),
    to: new Date(at(LAST_HOUR)),
  };
}
