import type { CodeClaims, VerifyResult } from '../src';

const SHANGHAI = new Intl.DateTimeFormat('en-US', {
  timeZone: 'Asia/Shanghai',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
  timeZoneName: 'longOffset',
});

/** Seconds since the epoch as Asia/Shanghai wall time with its offset: `2026-11-28 19:30:00 +08:00`. */
export function formatShanghaiTime(seconds: number): string {
  const p: Record<string, string> = {};
  for (const { type, value } of SHANGHAI.formatToParts(new Date(seconds * 1000))) p[type] = value;
  const offset = p.timeZoneName === 'GMT' ? '+00:00' : p.timeZoneName.replace(/^GMT/, '');
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second} ${offset}`;
}

function describeClaims(claims: CodeClaims, issuerName: string | undefined, now: number): string {
  const what =
    claims.kind === 'resident'
      ? `${claims.health.colour} code`
      : `venue code ${claims.venue.name} (${claims.venue.type})`;
  const issuer = issuerName ? `${issuerName} (${claims.iss})` : claims.iss;
  const expiry = `${now > claims.exp ? 'expired' : 'expires'} ${formatShanghaiTime(claims.exp)}`;
  return `${what} from ${issuer}, ${expiry}`;
}

/**
 * The one line a person at a gate reads, e.g.
 * `valid: green code from 安徽省 (340000), expires 2026-11-28 19:30:00 +08:00` or
 * `invalid (EXPIRED): the code has expired; green code from ...`.
 * Claims appear only when `verifyCode` returned them, i.e. after the signature verified.
 */
export function describeResult(result: VerifyResult, issuerName: string | undefined, now: number): string {
  const claims = result.claims ? describeClaims(result.claims, issuerName, now) : undefined;
  if (result.valid) return `valid: ${claims ?? result.message}`;
  return `invalid (${result.code}): ${result.message}${claims ? `; ${claims}` : ''}`;
}

/**
 * Whether the code's revocation was checked against its issuer's status list. Null when it
 * does not apply: a venue code (venue codes have no status), or a code whose signature did
 * not verify. Otherwise `checked` is false with the reason when no status list of the
 * code's issuer was used: the colour shown is then the colour at issuance, which a status
 * change since may have superseded.
 */
export type RevocationCheck =
  { checked: true; statusListAgeSeconds: number } | { checked: false; reason: string } | null;

/** What `verifyCode` did about revocation, given how many status lists it was handed. */
export function revocationCheck(result: VerifyResult, statusListsGiven: number): RevocationCheck {
  if (!result.claims || result.claims.kind !== 'resident') return null;
  if (result.statusAgeSeconds !== undefined) return { checked: true, statusListAgeSeconds: result.statusAgeSeconds };
  const reason =
    statusListsGiven === 0 ? 'no status list given' : `no valid status list of issuer ${result.claims.iss} given`;
  return { checked: false, reason };
}

/** The line printed under a valid verdict when revocation was not checked, else undefined. */
export function describeRevocation(result: VerifyResult, revocation: RevocationCheck): string | undefined {
  if (!result.valid || !revocation || revocation.checked) return undefined;
  return `  revocation not checked: ${revocation.reason} (the colour is the one issued; pass --status-list to check it is current)`;
}

/** The `--json` shape: exactly these five keys, `claims` null until the signature verified. */
export function resultJson(
  result: VerifyResult,
  revocation: RevocationCheck,
): { valid: boolean; code: string; message: string; claims: CodeClaims | null; revocation: RevocationCheck } {
  return { valid: result.valid, code: result.code, message: result.message, claims: result.claims ?? null, revocation };
}
