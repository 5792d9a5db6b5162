import { ApiError, type FieldError } from './api';
import { h } from './dom';
import { hasKey, lang, tIn, type Key, type Lang } from './i18n';

/**
 * The API's messages are English, written for integrators: the pages show their own words
 * for each error and field code in the page's language, with the code itself for support.
 */
const FIELD_TEXT: Record<string, Key> = {
  ID_FORMAT: 'err.ID_FORMAT',
  ID_CHECK_DIGIT: 'err.ID_CHECK_DIGIT',
  ID_REGION: 'err.ID_REGION',
  ID_BIRTH_DATE: 'err.ID_BIRTH_DATE',
  ID_TYPE_UNKNOWN: 'err.ID_TYPE_UNKNOWN',
  PHONE_FORMAT: 'err.PHONE_FORMAT',
  REGION_UNKNOWN: 'err.REGION_UNKNOWN',
  DATE_OUT_OF_RANGE: 'err.DATE_OUT_OF_RANGE',
  too_small: 'err.too_small',
  too_big: 'err.too_big',
  invalid_type: 'err.invalid_type',
  invalid_format: 'err.invalid_format',
  invalid_value: 'err.invalid_value',
  invalid: 'err.invalid_value',
  invalid_union: 'err.invalid_value',
  invalid_key: 'err.invalid_value',
  invalid_element: 'err.invalid_value',
  not_multiple_of: 'err.invalid_value',
  unrecognized_keys: 'err.unrecognized_keys',
  custom: 'err.custom',
  required: 'err.required',
};

/**
 * zod's size messages carry the bound ("Too small: expected string to have >=11 characters",
 * "Too big: expected number to be <=43"): the bound is worth saying in the page's words.
 */
function boundText(f: FieldError, l: Lang): string | undefined {
  if (f.code !== 'too_small' && f.code !== 'too_big') return undefined;
  const m = /expected (string|array|set|number|int|bigint|date)\b.*?(>=|<=|>|<)\s*(-?[\d.]+)/.exec(f.message);
  if (!m) return undefined;
  const [, type, op, n] = m;
  if (type === 'string') {
    if (op === '>=' && n === '1') return tIn(l, 'err.required');
    return tIn(l, op.startsWith('>') ? 'err.minChars' : 'err.maxChars', {
      n: op === '>' ? Number(n) + 1 : op === '<' ? Number(n) - 1 : n,
    });
  }
  if (type === 'array' || type === 'set') return tIn(l, op.startsWith('>') ? 'err.minItems' : 'err.maxItems', { n });
  if (type === 'date') return undefined;
  const key: Key =
    op === '>=' ? 'err.minNumber' : op === '<=' ? 'err.maxNumber' : op === '>' ? 'err.aboveNumber' : 'err.belowNumber';
  return tIn(l, key, { n });
}

/** One field error as shown next to its field, in the page's language (never the API's English message on the Chinese page). */
export function fieldText(f: FieldError, l: Lang = lang()): string {
  const bound = boundText(f, l);
  if (bound) return bound;
  const key = FIELD_TEXT[f.code];
  if (key) return tIn(l, key);
  // A code the pages do not know yet: English readers get the API's words, others a general one.
  return l === 'en' ? f.message : tIn(l, 'err.custom');
}

/**
 * Puts each of the API's `error.fields` next to the control whose `data-field` is the
 * longest prefix of the field's path (`declaration.visited.0.date` lands on that row's
 * date input); what matches nothing is listed in the form's summary box.
 */
export function showFieldErrors(form: HTMLElement, error: ApiError): void {
  clearFieldErrors(form);
  const targets = Array.from(form.querySelectorAll<HTMLElement>('[data-field]'));
  const unplaced: FieldError[] = [];
  for (const f of error.fields) {
    let best: HTMLElement | undefined;
    for (const el of targets) {
      const name = el.dataset.field!;
      if ((f.path === name || f.path.startsWith(`${name}.`)) && (!best || name.length > best.dataset.field!.length))
        best = el;
    }
    if (!best) {
      unplaced.push(f);
      continue;
    }
    best.setAttribute('aria-invalid', 'true');
    const holder = best.closest('.field') ?? best.parentElement!;
    holder.appendChild(h('p', { class: 'field-error', role: 'alert', dataset: { errorFor: f.path } }, fieldText(f)));
  }
  const summary = form.querySelector<HTMLElement>('.form-error');
  if (summary) {
    summary.hidden = false;
    summary.replaceChildren(
      h('strong', {}, errorTitle(error)),
      ...(unplaced.length
        ? [
            h(
              'ul',
              {},
              unplaced.map((f) => h('li', {}, h('code', {}, f.path), ` ${fieldText(f)}`)),
            ),
          ]
        : []),
    );
  }
}

export function clearFieldErrors(form: HTMLElement): void {
  form.querySelectorAll('.field-error').forEach((e) => e.remove());
  form.querySelectorAll('[aria-invalid]').forEach((e) => e.removeAttribute('aria-invalid'));
  const summary = form.querySelector<HTMLElement>('.form-error');
  if (summary) {
    summary.hidden = true;
    summary.replaceChildren();
  }
}

/**
 * A one-line account of a failed call in the page's language (or `l`), with its code:
 * "操作与当前状态冲突……（CONFLICT）". The API's own message is shown only on the English
 * page, and only for a code the pages have no words for.
 */
export function errorTitle(error: ApiError, l: Lang = lang()): string {
  if (error.code === 'NETWORK') return tIn(l, 'err.network');
  const key = `api.${error.code}`;
  if (error.fields.length && (error.code === 'VALIDATION_FAILED' || !hasKey(key)))
    return `${tIn(l, 'err.fields', { n: error.fields.length })} (${error.code})`;
  if (hasKey(key)) return `${tIn(l, key)} (${error.code})`;
  if (error.status === 401) return `${tIn(l, 'err.unauthenticated')} (${error.code})`;
  if (error.status === 403) return `${tIn(l, 'err.forbidden')} (${error.code})`;
  return l === 'en' ? `${error.message} (${error.code})` : tIn(l, 'err.generic', { code: error.code });
}

/** What went wrong with a call or in the page, for a message line: `errorTitle` for an API error. */
export function failureText(e: unknown, l: Lang = lang()): string {
  if (e instanceof ApiError) return errorTitle(e, l);
  return l === 'en' ? String(e) : tIn(l, 'err.generic', { code: e instanceof Error ? e.name : 'ERROR' });
}

/** `failureText` in both languages. */
export function failureTexts(e: unknown): { zh: string; en: string } {
  return { zh: failureText(e, 'zh'), en: failureText(e, 'en') };
}
