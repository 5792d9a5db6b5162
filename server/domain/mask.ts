/** The longest masked name the code format accepts, in code points. */
export const MASKED_NAME_MAX = 32;

const HAN = /\p{Script=Han}/u;

/**
 * Masks a personal name for display in a code: the result always contains '*' and
 * has at most {@link MASKED_NAME_MAX} code points.
 *
 * Chinese names keep their first and last characters ('张三丰' → '张*丰', '欧阳娜娜' →
 * '欧**娜', '张三' → '张*'); other names keep the first letter of each word
 * ('John Smith' → 'J*** S****').
 * @throws RangeError when the name is empty.
 */
export function maskName(name: string): string {
  const words = String(name).trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) throw new RangeError('name must not be empty');
  let masked: string;
  if (HAN.test(name)) {
    const chars = Array.from(words.join(''));
    const stars = '*'.repeat(Math.min(Math.max(chars.length - 2, 1), MASKED_NAME_MAX - 2));
    masked = chars.length <= 2 ? `${chars[0]}*` : `${chars[0]}${stars}${chars[chars.length - 1]}`;
  } else {
    const mask = (w: string, n: number) => Array.from(w)[0] + '*'.repeat(n);
    masked = words.map((w) => mask(w, Math.max(Array.from(w).length - 1, 1))).join(' ');
    // Long names lose the length hint first, then trailing words.
    if (Array.from(masked).length > MASKED_NAME_MAX) masked = words.map((w) => mask(w, 1)).join(' ');
  }
  const cps = Array.from(masked);
  return cps.length > MASKED_NAME_MAX ? `${cps.slice(0, MASKED_NAME_MAX - 1).join('')}*` : masked;
}

/** Keeps at most `head` leading and `tail` trailing characters, and masks at least half. */
function maskMiddle(s: string, head: number, tail: number, minHidden: number): string {
  const hidden = Math.max(minHidden, Math.ceil(s.length / 2));
  const t = Math.max(0, Math.min(tail, s.length - hidden));
  const h = Math.max(0, Math.min(head, s.length - hidden - t));
  return s.slice(0, h) + '*'.repeat(s.length - h - t) + s.slice(s.length - t);
}

/**
 * Masks a normalised ID number: at most the first 4 and last 4 characters are shown,
 * and never more than half of it ('340104199003071234' → '3401**********1234',
 * passport 'E12345678' → '*****5678').
 */
export function maskId(normalized: string): string {
  return maskMiddle(normalized, 4, 4, 1);
}

/**
 * Masks a normalised phone number: mainland mobiles as '138****5678'; international
 * numbers keep '+', at most 3 leading and 4 trailing digits, with at least half hidden.
 */
export function maskPhone(normalized: string): string {
  if (/^1\d{10}$/.test(normalized)) return `${normalized.slice(0, 3)}****${normalized.slice(7)}`;
  const plus = normalized.startsWith('+') ? '+' : '';
  return plus + maskMiddle(normalized.slice(plus.length), 3, 4, 4);
}
