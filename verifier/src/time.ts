import { malformed } from './errors';

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Parses an RFC 3339 timestamp with an explicit offset to whole seconds since the epoch.
 * @throws VerifierError MALFORMED
 */
export function parseRfc3339(text: unknown, what: string): number {
  if (typeof text !== 'string' || !RFC3339.test(text))
    throw malformed(`${what} must be an RFC 3339 time with an offset`);
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw malformed(`${what} is not a real time`);
  return Math.floor(ms / 1000);
}

/** Seconds since the epoch as RFC 3339 UTC without fractions. */
export function toRfc3339(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** `now` as callers give it (Date, epoch milliseconds or RFC 3339) to whole seconds. */
export function toSeconds(now: Date | number | string | undefined): number {
  if (now === undefined) return Math.floor(Date.now() / 1000);
  if (now instanceof Date) return Math.floor(now.getTime() / 1000);
  if (typeof now === 'number') return Math.floor(now / 1000);
  return parseRfc3339(now, 'now');
}
