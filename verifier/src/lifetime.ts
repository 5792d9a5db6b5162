import type { CodeClaims } from './claims';

/**
 * The longest a code may live, `exp − iat` in seconds, by kind (FORMAT.md §4.3): a dynamic
 * resident code one hour, a printed one 30 days, a venue code 366 days. The caps bound how
 * long any code of a key can outlive the key's last day of signing.
 */
export const MAX_CODE_LIFETIME_SECONDS = {
  dynamic: 3600,
  printed: 30 * 86_400,
  venue: 366 * 86_400,
} as const;

/** The longest of the caps (a venue code's): no code of a key outlives the key's `notAfter` by more. */
export const LONGEST_CODE_LIFETIME_SECONDS = Math.max(...Object.values(MAX_CODE_LIFETIME_SECONDS));

/** Which cap of `MAX_CODE_LIFETIME_SECONDS` a code falls under. */
export type LifetimeKind = keyof typeof MAX_CODE_LIFETIME_SECONDS;

/** The kind of lifetime cap a code's claims fall under: its mode for a resident code, `venue` for a venue code. */
export function lifetimeKind(claims: CodeClaims): LifetimeKind {
  return claims.kind === 'venue' ? 'venue' : claims.health.mode;
}

/**
 * Whether `exp − iat` is within the cap of the code's kind.
 * @example lifetimeWithinCap(claims) // false for a dynamic code that lives 61 minutes
 */
export function lifetimeWithinCap(claims: CodeClaims): boolean {
  return claims.exp - claims.iat <= MAX_CODE_LIFETIME_SECONDS[lifetimeKind(claims)];
}
