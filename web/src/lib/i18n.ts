import { en, zh, type Key } from '../i18n/strings';
import { h } from './dom';
import { load, save } from './store';

export type Lang = 'zh' | 'en';
export type { Key };

const TABLES: Record<Lang, Record<Key, string>> = { zh, en };
const listeners: Array<() => void> = [];
let current: Lang = load<Lang>('lang') === 'en' ? 'en' : 'zh';

/** The page language: Chinese unless English was chosen on this device. */
export function lang(): Lang {
  return current;
}

/** The text for `key`, with `{name}` placeholders filled from `vars`. */
export function t(key: Key, vars: Record<string, string | number> = {}): string {
  return tIn(current, key, vars);
}

/** The text for a key built at run time (a venue type from the API), or `fallback` when there is none. */
export function tOr(key: string, fallback: string): string {
  return (TABLES[current] as Record<string, string>)[key] ?? fallback;
}

/** The text for `key` in a given language, with `{name}` placeholders filled from `vars`. */
export function tIn(l: Lang, key: Key, vars: Record<string, string | number> = {}): string {
  return TABLES[l][key].replace(/\{(\w+)\}/g, (m, name: string) => (name in vars ? String(vars[name]) : m));
}

/** Whether `key` has a text (keys built at run time from an API's codes may not). */
export function hasKey(key: string): key is Key {
  return key in TABLES.zh;
}

/** Both languages at once, for what a guard and a visitor read together (decisions, reasons). */
export function both(key: Key, vars: Record<string, string | number> = {}): { zh: string; en: string } {
  const fill = (s: string) => s.replace(/\{(\w+)\}/g, (m, name: string) => (name in vars ? String(vars[name]) : m));
  return { zh: fill(zh[key]), en: fill(en[key]) };
}

/** Picks the current language's side of a `{zh, en}` text from the API. */
export function pick(text: { zh: string; en: string } | undefined | null): string {
  return text ? text[current] : '';
}

export function setLang(next: Lang): void {
  current = next;
  save('lang', next);
  applyDocumentLang();
  for (const fn of listeners) fn();
}

/** Runs `fn` after every language switch (pages re-render their text). */
export function onLangChange(fn: () => void): void {
  listeners.push(fn);
}

function applyDocumentLang(): void {
  document.documentElement.lang = current === 'zh' ? 'zh-CN' : 'en';
}

/** The "English / 中文" switch shown in every page header. */
export function langSwitch(): HTMLButtonElement {
  return h(
    'button',
    {
      type: 'button',
      class: 'lang-switch',
      dataset: { testid: 'lang-switch' },
      'aria-label': current === 'zh' ? 'Switch to English' : '切换到中文',
      onclick: () => setLang(current === 'zh' ? 'en' : 'zh'),
    },
    current === 'zh' ? 'English' : '中文',
  );
}

applyDocumentLang();
