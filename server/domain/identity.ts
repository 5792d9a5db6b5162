import { provinceOf } from './regions';

/** Identity documents a resident may apply with. */
export const ID_TYPES = ['resident-id', 'passport', 'hk-macao-permit', 'taiwan-permit'] as const;
export type IdType = (typeof ID_TYPES)[number];

export type IdErrorCode = 'ID_TYPE_UNKNOWN' | 'ID_FORMAT' | 'ID_CHECK_DIGIT' | 'ID_REGION' | 'ID_BIRTH_DATE';
export type IdResult =
  { ok: true; type: IdType; normalized: string } | { ok: false; code: IdErrorCode; message: string };

export type PhoneResult = { ok: true; normalized: string } | { ok: false; code: 'PHONE_FORMAT'; message: string };

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS = '10X98765432';
const EIGHTEEN = /^\d{17}[\dX]$/;
const PASSPORT = /^[A-Z0-9]{5,17}$/;
// 港澳居民来往内地通行证 (回乡证): H (Hong Kong) or M (Macao), 8 digits, plus a 2-digit issue count on older cards.
const HOME_RETURN_PERMIT = /^[HM]\d{8}(\d{2})?$/;
// 台湾居民来往大陆通行证 (台胞证), the 8-digit card issued since 2015.
const MTP = /^\d{8}$/;
// 港澳台居民居住证 (2018) carry GB 11643 numbers with these pseudo-region prefixes.
const RESIDENCE_PREFIX: Record<'hk-macao-permit' | 'taiwan-permit', readonly string[]> = {
  'hk-macao-permit': ['810000', '820000'],
  'taiwan-permit': ['830000'],
};

/**
 * The GB 11643-1999 check character for the first 17 digits of an ID number.
 * @throws RangeError when `first17` is not 17 digits.
 * @example gb11643CheckChar('11010519491231002') // 'X'
 */
export function gb11643CheckChar(first17: string): string {
  if (!/^\d{17}$/.test(first17)) throw new RangeError('expected 17 digits');
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * WEIGHTS[i];
  return CHECK_CHARS[sum % 11];
}

/** Date of `now` on the Asia/Shanghai calendar (UTC+8, no DST) as YYYYMMDD. */
function shanghaiYmd(now: Date): string {
  return new Date(now.getTime() + 8 * 3_600_000).toISOString().slice(0, 10).replace(/-/g, '');
}

function fail(code: IdErrorCode, message: string): IdResult {
  return { ok: false, code, message };
}

function checkEighteen(type: IdType, n: string, now: Date, regionOk: (code: string) => boolean): IdResult {
  if (!EIGHTEEN.test(n)) return fail('ID_FORMAT', 'expected 17 digits and a check character 0-9 or X');
  if (gb11643CheckChar(n.slice(0, 17)) !== n[17])
    return fail('ID_CHECK_DIGIT', 'check character does not match (GB 11643-1999)');
  if (!regionOk(n.slice(0, 6))) return fail('ID_REGION', `unknown region code ${n.slice(0, 6)}`);
  const ymd = n.slice(6, 14);
  const [y, m, d] = [Number(ymd.slice(0, 4)), Number(ymd.slice(4, 6)), Number(ymd.slice(6, 8))];
  const date = new Date(Date.UTC(y, m - 1, d));
  const real = date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
  if (!real || y < 1900) return fail('ID_BIRTH_DATE', `birth date ${ymd} is not a date since 1900`);
  if (ymd > shanghaiYmd(now)) return fail('ID_BIRTH_DATE', `birth date ${ymd} is in the future`);
  return { ok: true, type, normalized: n };
}

/**
 * Checks and normalises an identity document number (upper case, spaces removed).
 *
 * - `resident-id`: 18 characters, GB 11643-1999 check character, a birth date from
 *   1900 up to today (Asia/Shanghai), and a region prefix whose province is in the
 *   dataset — any district under it is accepted, since an ID keeps the birthplace
 *   code of its day even after that district was renamed or merged. 15-digit
 *   first-generation numbers are refused.
 * - `passport`: 5–17 of A-Z, 0-9.
 * - `hk-macao-permit`: `^[HM]\d{8}(\d{2})?$`, or an 18-character residence permit
 *   starting 810000 / 820000 checked like a resident ID.
 * - `taiwan-permit`: `^\d{8}$`, or an 18-character residence permit starting 830000.
 *
 * Never throws; `now` only bounds the birth date.
 */
export function validateIdentity(type: string, number: string, now: Date): IdResult {
  if (!(ID_TYPES as readonly string[]).includes(type))
    return fail('ID_TYPE_UNKNOWN', `unknown ID type ${JSON.stringify(type)}`);
  const t = type as IdType;
  const n = String(number).replace(/\s+/g, '').toUpperCase();
  switch (t) {
    case 'resident-id':
      return checkEighteen(t, n, now, (code) => provinceOf(code) !== undefined);
    case 'passport':
      return PASSPORT.test(n)
        ? { ok: true, type: t, normalized: n }
        : fail('ID_FORMAT', 'a passport number is 5 to 17 letters or digits');
    case 'hk-macao-permit':
    case 'taiwan-permit': {
      const short = t === 'hk-macao-permit' ? HOME_RETURN_PERMIT : MTP;
      if (short.test(n)) return { ok: true, type: t, normalized: n };
      if (n.length === 18) return checkEighteen(t, n, now, (code) => RESIDENCE_PREFIX[t].includes(code));
      return fail('ID_FORMAT', t === 'hk-macao-permit' ? 'expected H or M and 8 or 10 digits' : 'expected 8 digits');
    }
  }
}

/**
 * The last four characters of a normalised ID, as carried in the code.
 * @throws RangeError when shorter than 4 characters.
 */
export function idLast4(normalized: string): string {
  if (normalized.length < 4) throw new RangeError('ID shorter than 4 characters');
  return normalized.slice(-4).toUpperCase();
}

const MAINLAND_MOBILE = /^1[3-9]\d{9}$/;
const E164 = /^\+[1-9]\d{6,14}$/;

/**
 * Checks a phone number, ignoring spaces and hyphens. Mainland mobiles
 * (`^1[3-9]\d{9}$`, optionally prefixed +86 or 0086) normalise to 11 digits. Other
 * E.164 numbers (`+` and 7–15 digits) normalise to `+digits` and are accepted only
 * when `idType` is not 'resident-id': passport and permit holders often keep a
 * Hong Kong, Macao, Taiwan or foreign number.
 */
export function validatePhone(phone: string, idType: IdType = 'resident-id'): PhoneResult {
  let p = String(phone).replace(/[\s-]/g, '');
  if (p.startsWith('0086')) p = `+${p.slice(2)}`;
  const national = p.startsWith('+86') ? p.slice(3) : p;
  if (MAINLAND_MOBILE.test(national)) return { ok: true, normalized: national };
  if (p.startsWith('+86'))
    return { ok: false, code: 'PHONE_FORMAT', message: 'a +86 number must be a mainland mobile' };
  if (idType !== 'resident-id' && E164.test(p)) return { ok: true, normalized: p };
  return {
    ok: false,
    code: 'PHONE_FORMAT',
    message:
      idType === 'resident-id' ? 'expected a mainland mobile number' : 'expected a mainland mobile or an E.164 number',
  };
}
