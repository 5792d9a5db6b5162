import type { ApiError, FieldError } from './api';
import { h } from './dom';
import { lang, t, type Key } from './i18n';

/** Chinese wording for the API's field error codes; the API's own (English) message is always shown too. */
const ZH_BY_CODE: Record<string, Key> = {
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
  unrecognized_keys: 'err.unrecognized_keys',
  custom: 'err.custom',
  required: 'err.required',
};

/** One field error as shown next to its field: the API message, with Chinese wording first in zh. */
export function fieldText(f: FieldError): string {
  const key = ZH_BY_CODE[f.code];
  if (lang() === 'zh' && key) return `${t(key)}（${f.message}）`;
  return f.message;
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
      if ((f.path === name || f.path.startsWith(`${name}.`)) && (!best || name.length > best.dataset.field!.length)) best = el;
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
      ...(unplaced.length ? [h('ul', {}, unplaced.map((f) => h('li', {}, `${f.path}: ${fieldText(f)}`)))] : []),
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

/** A one-line account of a failed call: "请求有误（VALIDATION_FAILED）: message". */
export function errorTitle(error: ApiError): string {
  if (error.code === 'NETWORK') return t('err.network');
  if (error.status === 401) return `${t('err.unauthenticated')} (${error.code})`;
  if (error.status === 403) return `${t('err.forbidden')} (${error.code})`;
  if (error.fields.length) return `${t('err.fields', { n: error.fields.length })} (${error.code})`;
  return `${error.message} (${error.code})`;
}
