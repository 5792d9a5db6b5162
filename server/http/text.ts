import { z } from 'zod';

/**
 * Characters a name or free text must not hold, checked in this order. Bidi controls
 * reorder what a reader sees (a name shown to a gate officer, a reason to a reviewer:
 * "Trojan Source", CVE-2021-42574); zero-width characters make two different stored
 * strings look the same; control characters and lone surrogates do not survive every
 * display, log or UTF-8 round trip.
 */
const FORBIDDEN: Array<{ re: RegExp; what: string }> = [
  { re: /\p{Cs}/u, what: 'a lone surrogate (not Unicode text)' },
  { re: /[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/u, what: 'a bidirectional control character' },
  { re: /[\u200B-\u200D\u2060\uFEFF]/u, what: 'a zero-width character' },
  { re: /[\p{Cc}\u2028\u2029]/u, what: 'a control character' },
];

const codePoint = (c: string) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

/**
 * A zod string for a name or free text the API keeps: refused (one field error naming the
 * character) when it holds a control character, a lone surrogate, a bidi control or a
 * zero-width character; otherwise NFC-normalised and trimmed, then held to `min`..`max`
 * UTF-16 units. `multiline` text (reasons, notes, descriptions) may hold line breaks and
 * tabs; its CR LF and CR become LF.
 * @example z.strictObject({ name: safeText(1, 64) })
 */
export function safeText(min: number, max: number, opts: { multiline?: boolean } = {}) {
  const allowed = opts.multiline ? /[\t\n\r]/gu : undefined;
  return z
    .string()
    .superRefine((s, ctx) => {
      const checked = allowed ? s.replace(allowed, ' ') : s;
      for (const { re, what } of FORBIDDEN) {
        const hit = re.exec(checked);
        if (hit)
          return ctx.addIssue({
            code: 'custom',
            message: `${codePoint(hit[0])} is ${what} and is not allowed here`,
            continue: false,
          });
      }
    })
    .overwrite((s) => (opts.multiline ? s.replace(/\r\n?/g, '\n') : s).normalize('NFC').trim())
    .min(min)
    .max(max);
}
