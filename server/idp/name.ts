export type NameResult = { ok: true; name: string } | { ok: false; code: 'NAME_INVALID'; message: string };

/** The longest name accepted, in code points after NFC normalisation. */
export const NAME_MAX = 64;

// C0/C1 controls (NUL included), line and paragraph separators, the bidi embeddings,
// overrides and isolates (U+202A–U+202E, U+2066–U+2069), LRM, RLM and ALM (U+200E, U+200F,
// U+061C), and zero-width characters (U+200B–U+200D, U+2060, U+FEFF). Names reach ID tokens,
// pages and other systems' screens, where these can hide or reorder what is displayed.
const FORBIDDEN = /[\p{Cc}\u2028\u2029\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C\u200B-\u200D\u2060\uFEFF]/u;

/**
 * Checks and normalises a personal name: trimmed, NFC, 1–{@link NAME_MAX} code points,
 * none of the characters above anywhere in the input (checked before trimming, since
 * `trim` would silently drop a U+FEFF at either end). Never throws.
 */
export function normalizeName(input: string): NameResult {
  const raw = String(input);
  if (FORBIDDEN.test(raw))
    return {
      ok: false,
      code: 'NAME_INVALID',
      message: 'the name contains control, direction or zero-width characters',
    };
  const name = raw.trim().normalize('NFC');
  const length = Array.from(name).length;
  if (length === 0) return { ok: false, code: 'NAME_INVALID', message: 'the name is empty' };
  if (length > NAME_MAX)
    return { ok: false, code: 'NAME_INVALID', message: `the name is longer than ${NAME_MAX} characters` };
  return { ok: true, name };
}
