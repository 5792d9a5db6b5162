import type { CodeMode } from '../../verifier/src';
import type { Ledger, Tx } from '../../ledger/ledger';
import { startPeriodic } from '../periodic';

/**
 * The issuer's index of the resident codes it issued (space `codes`). A resident code carries
 * no stable identifier (FORMAT.md §4): the issuer alone can tell whose a code is, from its cti.
 *
 * - `c/<cti>` → `{ p, exp, mode }`: whose code this is, for our own gates. Kept until the code
 *   has expired plus `CODE_INDEX_MARGIN_SECONDS` (verifiers allow a minute of clock skew), then
 *   deleted: an expired code names nobody any more.
 * - `r/<pseudonym>/<iat ISO>/<cti>` → `{ exp, mode }`: the codes a resident was issued, for
 *   tracing, which asks other provinces for the scans they recorded under these ctis. Kept for
 *   `CODE_HISTORY_DAYS` after the code's exp, as far back as a tracing window reaches.
 * - `u/<cti>` → `{ at, desk }`: the code was used for a service look-up (server/services/lookups.ts),
 *   which each code serves once; kept, like `c/<cti>`, until exp plus the margin.
 * - `d/<delete-at ISO>/<key>` → 1: when each entry above goes, read by the sweep in time order.
 *
 * Every entry is written in the transaction that issues the code.
 */

export const CODE_INDEX_MARGIN_SECONDS = 600;
/** A tracing window spans at most 31 days (MAX_TRACING_WINDOW_DAYS): a code older than that past its expiry is never asked about. */
export const CODE_HISTORY_DAYS = 31;
const SWEEP_CHUNK = 500;
/** The longest-lived resident code (a printed one, FORMAT.md §4.3): a code scanned in a window was issued at most this long before it. */
const LONGEST_RESIDENT_CODE_MS = 30 * 86_400_000;

export interface CodeIndexEntry {
  /** The resident's pseudonym. */
  p: string;
  exp: number;
  mode: CodeMode;
}

export interface IssuedCti {
  cti: string;
  iat: number;
  exp: number;
  mode: CodeMode;
}

const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

/** Records a freshly issued resident code in the index; call it in the transaction that issues the code. */
export function indexCode(
  tx: Tx,
  code: { cti: string; iat: number; exp: number; mode: CodeMode },
  pseudonym: string,
): void {
  const own = `c/${code.cti}`;
  const history = `r/${pseudonym}/${iso(code.iat)}/${code.cti}`;
  tx.put('codes', own, { p: pseudonym, exp: code.exp, mode: code.mode } satisfies CodeIndexEntry);
  tx.put('codes', history, { exp: code.exp, mode: code.mode });
  tx.put('codes', `d/${iso(code.exp + CODE_INDEX_MARGIN_SECONDS)}/${own}`, 1);
  tx.put('codes', `d/${iso(code.exp + CODE_HISTORY_DAYS * 86_400)}/${history}`, 1);
}

/** Whose code `cti` is, while the index still holds it (until exp + margin); undefined for a code we never issued or one swept. */
export async function codeOwner(tx: Tx, cti: string): Promise<CodeIndexEntry | undefined> {
  const e = await tx.get<CodeIndexEntry>('codes', `c/${cti}`);
  // Not swept yet, but past its time all the same.
  return e && tx.now.getTime() <= (e.exp + CODE_INDEX_MARGIN_SECONDS) * 1000 ? e : undefined;
}

/** Marks the code `cti` (expiring at `exp`) as used for a look-up at `desk`; swept with the code's index entry. */
export function markCodeUsed(tx: Tx, cti: string, exp: number, desk: string): void {
  tx.put('codes', `u/${cti}`, { at: tx.now.toISOString(), desk });
  tx.put('codes', `d/${iso(exp + CODE_INDEX_MARGIN_SECONDS)}/u/${cti}`, 1);
}

/** Whether the code `cti` was already used for a look-up. */
export async function codeUsed(tx: Pick<Tx, 'get'>, cti: string): Promise<boolean> {
  return (await tx.get('codes', `u/${cti}`)) !== undefined;
}

/**
 * The ctis of a resident's codes that were live at some point in [from, to]: issued by `to`
 * and not expired before `from`. Reads committed data.
 */
export async function ctisLiveIn(ledger: Ledger, pseudonym: string, from: Date, to: Date): Promise<IssuedCti[]> {
  const prefix = `r/${pseudonym}/`;
  const lo = new Date(from.getTime() - LONGEST_RESIDENT_CODE_MS).toISOString();
  const out: IssuedCti[] = [];
  for await (const [key, value] of ledger
    .space('codes')
    .iterator({ gte: prefix + lo, lte: `${prefix}${to.toISOString()}/~` })) {
    const rest = (key as string).slice(prefix.length);
    const slash = rest.lastIndexOf('/');
    const v = value as { exp: number; mode: CodeMode };
    if (v.exp * 1000 < from.getTime()) continue;
    out.push({ cti: rest.slice(slash + 1), iat: Date.parse(rest.slice(0, slash)) / 1000, exp: v.exp, mode: v.mode });
  }
  return out;
}

/** Deletes the index entries whose time has come (`d/` keys up to `now`); returns how many entries went. */
export async function sweepCodeIndex(ledger: Ledger, now: Date): Promise<number> {
  const hi = `d/${now.toISOString()}/~`;
  let removed = 0;
  for (;;) {
    const keys: string[] = [];
    for await (const k of ledger.space('codes').keys({ gt: 'd/', lte: hi, limit: SWEEP_CHUNK })) keys.push(k as string);
    if (!keys.length) return removed;
    await ledger.transact((tx) => {
      for (const k of keys) {
        // `d/<24-character ISO time>/<key>`
        tx.del('codes', k.slice(2 + 24 + 1));
        tx.del('codes', k);
      }
    });
    removed += keys.length;
  }
}

/** Runs `sweepCodeIndex` every `intervalMs`; `stop` waits for a sweep under way. */
export function startCodeIndexSweep(
  ledger: Ledger,
  clock: () => Date,
  intervalMs: number,
  onError: (e: Error) => void,
): { stop(): Promise<void> } {
  return startPeriodic(intervalMs, () => sweepCodeIndex(ledger, clock()), onError);
}
