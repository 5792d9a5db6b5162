import { api, ApiError } from './api';
import { h } from './dom';
import { clearFieldErrors, showFieldErrors } from './fields';
import { t } from './i18n';
import { field } from './layout';

export interface StaffSignIn<T> {
  title: string;
  hint: string;
  /**
   * The first call the page needs with this token anyway, which also refuses a token of the
   * wrong role (403) before it becomes a cookie.
   */
  check: (token: string) => Promise<T>;
  /** The page takes over, signed in, with what `check` returned. */
  signedIn: (checked: T) => void;
  /** A page's own title for a 403 from `check` (the error code is added). */
  forbiddenTitle?: () => string;
}

/**
 * The sign-in form of the staff pages (/scan, /desk, /admin): a pasted token, checked with
 * the page's first call, then kept in the HttpOnly staff cookie (POST /v1/auth/staff); the
 * page keeps no copy of it.
 */
export function staffSignInForm<T>(opts: StaffSignIn<T>): HTMLElement {
  const token = h('input', {
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    dataset: { testid: 'token' },
  });
  const summary = h('div', { class: 'form-error notice notice-error', hidden: true, role: 'alert' });
  const form = h(
    'form',
    { class: 'card form', novalidate: true, dataset: { testid: 'signin-form' } },
    h('h2', {}, opts.title),
    h('p', { class: 'hint' }, opts.hint),
    h('p', { class: 'hint' }, t('common.tokenKept')),
    summary,
    field(t('common.token'), token, { field: 'token' }),
    h(
      'button',
      { type: 'submit', class: 'btn btn-primary btn-block', dataset: { testid: 'signin' } },
      t('common.signIn'),
    ),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFieldErrors(form);
    const value = token.value.trim();
    try {
      const checked = await opts.check(value);
      await api('POST', '/v1/auth/staff', { json: { token: value } });
      token.value = '';
      opts.signedIn(checked);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      showFieldErrors(form, err);
      if (err.status === 403 && opts.forbiddenTitle) {
        const title = form.querySelector('.form-error strong');
        if (title) title.textContent = `${opts.forbiddenTitle()} (${err.code})`;
      }
    }
  });
  return form;
}
