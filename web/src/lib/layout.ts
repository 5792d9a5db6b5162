import { h, type Child } from './dom';
import { langSwitch, t, type Key } from './i18n';

export type PageName = 'resident' | 'scan' | 'desk' | 'verify' | 'admin';

const NAV: Array<[PageName, string, Key]> = [
  ['resident', '/', 'nav.resident'],
  ['scan', '/scan', 'nav.scan'],
  ['desk', '/desk', 'nav.desk'],
  ['verify', '/verify', 'nav.verify'],
  ['admin', '/admin', 'nav.admin'],
];

/** The page header: brand, the other pages (left out in the standalone verifier) and the language switch. */
export function header(page: PageName, opts: { nav?: boolean } = {}): HTMLElement {
  const own = NAV.find(([name]) => name === page)!;
  document.title = page === 'resident' ? t('brand') : `${t(own[2])} · ${t('brand')}`;
  return h(
    'header',
    { class: opts.nav === false ? 'topbar solo' : 'topbar' },
    h(
      'div',
      { class: 'brand' },
      h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, '安'),
      h('span', {}, t('brand')),
    ),
    opts.nav === false
      ? null
      : h(
          'nav',
          { class: 'nav', 'aria-label': t('nav.label') },
          NAV.map(([name, href, key]) =>
            h(
              'a',
              { href, class: name === page ? 'active' : undefined, 'aria-current': name === page ? 'page' : undefined },
              t(key),
            ),
          ),
        ),
    langSwitch(),
  );
}

/** A titled card section. */
export function section(title: string, ...children: Child[]): HTMLElement {
  return h('section', { class: 'card' }, h('h2', {}, title), ...children);
}

/** A short message box: info, ok or error. */
export function notice(kind: 'info' | 'ok' | 'error', text: string, testid?: string): HTMLElement {
  return h(
    'p',
    {
      class: `notice notice-${kind}`,
      role: kind === 'error' ? 'alert' : 'status',
      dataset: testid ? { testid } : undefined,
    },
    text,
  );
}

/** A labelled form control with its `data-field` (the API's field path) for error placement. */
export function field(label: string, control: HTMLElement, opts: { field?: string; hint?: string } = {}): HTMLElement {
  if (opts.field) control.dataset.field = opts.field;
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    control,
    opts.hint ? h('p', { class: 'hint' }, opts.hint) : null,
  );
}

/** A random Idempotency-Key (8–128 of A-Z a-z 0-9 _ - : .). */
export function newKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
