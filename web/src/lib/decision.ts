import { h } from './dom';
import { both, t } from './i18n';

export type Decision = 'admit' | 'deny' | 'refer' | 'error';

export interface DecisionView {
  decision: Decision;
  /** The policy's reason in both languages: guard and visitor may read different ones. */
  reason: { zh: string; en: string };
  /** Short facts under the reason: who, which code colour, which venue, when. */
  details?: string[];
}

const WORD = {
  admit: 'decision.admit',
  deny: 'decision.deny',
  refer: 'decision.refer',
  error: 'decision.error',
} as const;
const MARK: Record<Decision, string> = { admit: '✓', deny: '✕', refer: '!', error: '?' };

/**
 * A full-screen panel in the decision's colour, readable at a glance from a step away:
 * mark, word and reason in Chinese and English. Tapping it (or `autoCloseMs`) closes it.
 */
export function showDecision(
  view: DecisionView,
  opts: { autoCloseMs?: number; onClose?: () => void } = {},
): { close(): void } {
  const word = both(WORD[view.decision]);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const panel = h(
    'div',
    {
      class: `decision decision-${view.decision}`,
      role: 'alertdialog',
      'aria-live': 'assertive',
      'aria-label': t(WORD[view.decision]),
      tabindex: '-1',
      dataset: { testid: 'decision', decision: view.decision },
      onclick: () => close(),
      onkeydown: (e: KeyboardEvent) => {
        if (e.key === 'Escape' || e.key === 'Enter' || e.key === ' ') close();
      },
    },
    h('div', { class: 'decision-mark', 'aria-hidden': 'true' }, MARK[view.decision]),
    h('p', { class: 'decision-word', lang: 'zh-CN' }, word.zh),
    h('p', { class: 'decision-word-en', lang: 'en' }, word.en),
    h('p', { class: 'decision-reason', lang: 'zh-CN', dataset: { testid: 'decision-reason-zh' } }, view.reason.zh),
    h('p', { class: 'decision-reason-en', lang: 'en', dataset: { testid: 'decision-reason-en' } }, view.reason.en),
    view.details?.length
      ? h(
          'ul',
          { class: 'decision-details' },
          view.details.map((d) => h('li', {}, d)),
        )
      : null,
    h('p', { class: 'decision-dismiss' }, t('decision.dismiss')),
    opts.autoCloseMs ? h('div', { class: 'decision-timer', style: `animation-duration:${opts.autoCloseMs}ms` }) : null,
  );
  function close() {
    if (!panel.isConnected) return;
    if (timer) clearTimeout(timer);
    panel.remove();
    document.body.classList.remove('has-overlay');
    opts.onClose?.();
  }
  document.body.appendChild(panel);
  document.body.classList.add('has-overlay');
  panel.focus();
  if (opts.autoCloseMs) timer = setTimeout(close, opts.autoCloseMs);
  return { close };
}
