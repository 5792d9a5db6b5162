import '../styles/app.css';
import { api, ApiError } from '../lib/api';
import { destroyDetached, drawChart, type ChartSpec } from '../lib/chart';
import { byId, h, mount } from '../lib/dom';
import { clearFieldErrors, errorTitle, failureText, fieldText, showFieldErrors } from '../lib/fields';
import { lang, onLangChange, pick, t, tOr, type Key } from '../lib/i18n';
import { field, header, notice, section } from '../lib/layout';
import { staffSignInForm } from '../lib/staff-sign-in';
import { dateTime, zoneLabel } from '../lib/time';

type Colour = 'green' | 'yellow' | 'red';
type Tab = 'stats' | 'rules' | 'appeals' | 'grid';
type Counts = Record<Colour, number> & { total: number };

interface ColourStats {
  at: string;
  total: Counts;
  groups: Array<Counts & { code: string; name: string | null }>;
}
interface DailyColours {
  days: Array<Counts & { day: string; initial: number }>;
}
interface ScanStats {
  from: string;
  to: string;
  total: number;
  decisions: Record<string, number>;
  groups: Array<{ key: string; count: number }>;
}
interface Hourly {
  date: string;
  total: number;
  hours: Array<{ hour: number; count: number; admit: number; refer: number; deny: number }>;
}
interface Venue {
  id: string;
  name: string;
  type: string;
}
interface RuleVersionMeta {
  version: number;
  digest: string;
  publishedAt: string;
  publishedBy: string;
}
interface RuleSet {
  description: { zh: string; en: string };
  horizonDays: number;
  rules: Array<{ id: string; colour: Colour; reason: { zh: string; en: string } }>;
}
interface Appeal {
  id: string;
  status: 'open' | 'decided';
  reason: string;
  requestedColour: Colour | null;
  colourAtFiling: Colour;
  filedAt: string;
  decision: {
    decision: 'override' | 'reject';
    colour: Colour | null;
    until: string | null;
    reason: string;
    at: string;
  } | null;
  resident: {
    pseudonym: string;
    maskedName: string;
    idLast4: string;
    district: string;
    colour: Colour;
    reasons: Array<{ reason: { zh: string; en: string } }>;
  } | null;
}
interface GridResident {
  pseudonym: string;
  maskedName: string;
  idLast4: string;
  district: string;
  colour: Colour;
  reasons: Array<{ reason: { zh: string; en: string } }>;
  evaluatedAt: string;
  lastVisit: { outcome: string; at: string } | null;
}

const COLOURS: Record<Colour, string> = { green: '#1a9d5b', yellow: '#e0a100', red: '#d93025' };
const DECISION_COLOURS = { admit: '#1a9d5b', refer: '#e0a100', deny: '#d93025' };
const SCAN_GROUPS = ['day', 'venue-type', 'subtype', 'district', 'decision'] as const;
const VISIT_OUTCOMES = ['verified', 'home-quarantine', 'sent-to-facility', 'data-wrong'] as const;
const TABS: Tab[] = ['stats', 'rules', 'appeals', 'grid'];

const state: {
  /** The authority token lives in an HttpOnly cookie (POST /v1/auth/staff); the page only knows whether it has one. */
  signedIn: boolean;
  tab: Tab;
  /** A function, so that the message follows a switch of language. */
  message?: { kind: 'info' | 'ok' | 'error'; text: () => string };
  colours?: ColourStats;
  daily?: DailyColours;
  scans?: ScanStats;
  scanBy: (typeof SCAN_GROUPS)[number];
  venues?: Venue[];
  venueId?: string;
  hourly?: Hourly;
  rules?: { current: RuleVersionMeta & { ruleSet: RuleSet }; versions: RuleVersionMeta[] };
  draft?: string;
  appeals?: Appeal[];
  appealStatus: 'open' | 'decided';
  grid?: { total: number; counts: { red: number; yellow: number }; residents: GridResident[] };
} = {
  signedIn: false,
  tab: tabFromHash(),
  scanBy: 'day',
  appealStatus: 'open',
};

const app = byId('app');

function tabFromHash(): Tab {
  const h = location.hash.slice(1) as Tab;
  return TABS.includes(h) ? h : 'stats';
}

function authed<T>(method: string, path: string, opts: Parameters<typeof api>[2] = {}): Promise<T> {
  return api<T>(method, path, opts).catch((e) => {
    if (e instanceof ApiError && e.status === 401) {
      state.signedIn = false;
      state.message = { kind: 'error', text: () => t('admin.tokenUnknown') };
      render();
    }
    throw e;
  });
}

function render(): void {
  const body: Array<HTMLElement | null> = [];
  if (state.message) body.push(notice(state.message.kind, state.message.text(), 'page-message'));
  if (!state.signedIn) body.push(signIn());
  else {
    body.push(
      h(
        'nav',
        { class: 'tabs', role: 'tablist' },
        TABS.map((tab) =>
          h(
            'a',
            {
              href: `#${tab}`,
              role: 'tab',
              class: tab === state.tab ? 'active' : undefined,
              'aria-selected': String(tab === state.tab),
              dataset: { testid: `tab-${tab}` },
            },
            t(`admin.tab.${tab}` as Key),
          ),
        ),
      ),
    );
    if (state.tab === 'stats') body.push(...statsView());
    if (state.tab === 'rules') body.push(rulesView());
    if (state.tab === 'appeals') body.push(appealsView());
    if (state.tab === 'grid') body.push(gridView());
    body.push(
      h(
        'p',
        { class: 'signout' },
        h(
          'button',
          { type: 'button', class: 'btn btn-ghost', onclick: () => void signOut(), dataset: { testid: 'sign-out' } },
          t('admin.signOut'),
        ),
      ),
    );
  }
  mount(
    app,
    header('admin'),
    h('main', { class: 'page page-wide' }, h('h1', { class: 'page-title' }, t('admin.title')), ...body),
  );
  destroyDetached();
  if (state.signedIn && state.tab === 'stats') drawCharts();
}

function signIn(): HTMLElement {
  return staffSignInForm({
    title: t('admin.signInTitle'),
    hint: t('admin.signInHint'),
    // Statistics need the health role, so this call both checks the token and loads the first tab.
    check: (token) => api<ColourStats>('GET', '/v1/stats/colours', { token }),
    signedIn: (colours) => {
      state.colours = colours;
      state.signedIn = true;
      state.message = undefined;
      render();
      void loadTab();
    },
  });
}

async function signOut(): Promise<void> {
  await api('POST', '/v1/auth/logout', { query: { who: 'staff' } }).catch(() => undefined);
  state.signedIn = false;
  render();
}

async function loadTab(): Promise<void> {
  if (!state.signedIn) return;
  try {
    // District names for the appeal and grid lists come from the colour statistics.
    if (!state.colours && state.tab !== 'stats') state.colours = await authed<ColourStats>('GET', '/v1/stats/colours');
    if (state.tab === 'stats') await loadStats();
    if (state.tab === 'rules') await loadRules();
    if (state.tab === 'appeals') await loadAppeals();
    if (state.tab === 'grid') state.grid = await authed('GET', '/v1/grid/residents', { query: { limit: 200 } });
  } catch (e) {
    if (state.signedIn) state.message = { kind: 'error', text: () => failureText(e) };
  }
  render();
}

// ---- statistics ---------------------------------------------------------------------

async function loadStats(): Promise<void> {
  const to = new Date();
  const from = new Date(to.getTime() - 14 * 86_400_000);
  const [colours, daily, scans, venues] = await Promise.all([
    authed<ColourStats>('GET', '/v1/stats/colours', { query: { by: 'district' } }),
    authed<DailyColours>('GET', '/v1/stats/colours/daily', { query: { days: 14 } }),
    authed<ScanStats>('GET', '/v1/stats/scans', {
      query: { by: state.scanBy, from: from.toISOString(), to: to.toISOString() },
    }),
    authed<{ venues: Venue[] }>('GET', '/v1/venues'),
  ]);
  Object.assign(state, { colours, daily, scans, venues: venues.venues });
  await loadHourly();
}

async function loadHourly(): Promise<void> {
  if (!state.venues?.length) return;
  if (!state.venueId || !state.venues.some((v) => v.id === state.venueId))
    state.venueId = (await busiestVenue()) ?? state.venues[0].id;
  state.hourly = await authed<Hourly>('GET', `/v1/stats/venues/${encodeURIComponent(state.venueId)}/hourly`);
}

/** Opens on the venue with the most scans today, so the chart has something to say. */
async function busiestVenue(): Promise<string | undefined> {
  const r = await authed<ScanStats & { groups: Array<{ key: string; count: number }> }>('GET', '/v1/stats/scans', {
    query: { by: 'day' },
  }).catch(() => undefined);
  if (!r?.total) return undefined;
  let best: { id: string; total: number } | undefined;
  for (const v of state.venues!.slice(0, 30)) {
    const hr = await authed<Hourly>('GET', `/v1/stats/venues/${encodeURIComponent(v.id)}/hourly`).catch(
      () => undefined,
    );
    if (hr && (!best || hr.total > best.total)) best = { id: v.id, total: hr.total };
  }
  return best?.id;
}

/** A district's name from the colour statistics (which cover every resident's district), else its code. */
function districtName(code: string): string {
  const name = state.colours?.groups.find((g) => g.code === code)?.name;
  return name ? (lang() === 'zh' ? `${name}（${code}）` : `${name} (${code})`) : code;
}

function groupLabel(by: string, key: string): string {
  if (by === 'venue-type') return tOr(`venueType.${key}`, key);
  if (by === 'decision') return tOr(`decision.${key}`, key);
  if (by === 'day') return key.slice(5);
  if (by === 'subtype') return tOr(`subtype.${key}`, key);
  if (by === 'district') return state.colours?.groups.find((g) => g.code === key)?.name ?? key;
  return key;
}

const chartSlots = new Map<string, { el: HTMLElement; spec: () => ChartSpec | undefined }>();

function chartSlot(id: string, spec: () => ChartSpec | undefined): HTMLElement {
  const el = h('div', { class: 'chart', dataset: { testid: `chart-${id}` } });
  chartSlots.set(id, { el, spec });
  return el;
}

function drawCharts(): void {
  for (const [id, slot] of chartSlots) {
    if (!slot.el.isConnected) {
      chartSlots.delete(id);
      continue;
    }
    const spec = slot.spec();
    if (spec && spec.labels.length) drawChart(slot.el, spec);
    else slot.el.replaceChildren(h('p', { class: 'hint' }, state.colours ? t('admin.noData') : t('common.loading')));
  }
}

function statsView(): HTMLElement[] {
  const c = state.colours;
  const tiles = h(
    'div',
    { class: 'tiles', dataset: { testid: 'colour-totals' } },
    (['green', 'yellow', 'red'] as const).map((k) =>
      h(
        'div',
        { class: `tile tile-${k}` },
        h('span', { class: 'tile-n' }, c ? String(c.total[k]) : '–'),
        h('span', {}, t(`colour.${k}`)),
      ),
    ),
    h(
      'div',
      { class: 'tile' },
      h('span', { class: 'tile-n' }, c ? String(c.total.total) : '–'),
      h('span', {}, t('admin.total')),
    ),
  );
  const byDistrict = chartSlot(
    'districts',
    () =>
      state.colours && {
        kind: 'bars',
        stacked: true,
        labels: state.colours.groups.map((g) => g.name ?? g.code),
        series: (['green', 'yellow', 'red'] as const).map((k) => ({
          label: t(`colour.${k}`),
          colour: COLOURS[k],
          values: state.colours!.groups.map((g) => g[k]),
        })),
      },
  );
  const daily = chartSlot(
    'daily',
    () =>
      state.daily && {
        kind: 'lines',
        labels: state.daily.days.map((d) => d.day.slice(5)),
        series: (['green', 'yellow', 'red'] as const).map((k) => ({
          label: t(`colour.${k}`),
          colour: COLOURS[k],
          values: state.daily!.days.map((d) => d[k]),
        })),
      },
  );
  const scans = chartSlot(
    'scans',
    () =>
      state.scans && {
        kind: 'bars',
        labels: state.scans.groups.map((g) => groupLabel(state.scanBy, g.key)),
        series: [{ label: t('admin.scans'), colour: '#2f6fde', values: state.scans.groups.map((g) => g.count) }],
      },
  );
  const hourly = chartSlot(
    'hourly',
    () =>
      state.hourly && {
        kind: 'bars',
        stacked: true,
        labelEvery: 3,
        labels: state.hourly.hours.map((x) => String(x.hour).padStart(2, '0')),
        series: (['admit', 'refer', 'deny'] as const).map((k) => ({
          label: t(`decision.${k}`),
          colour: DECISION_COLOURS[k],
          values: state.hourly!.hours.map((x) => x[k]),
        })),
      },
  );
  const by = h(
    'select',
    {
      value: state.scanBy,
      dataset: { testid: 'scan-by' },
      onchange: async () => {
        state.scanBy = by.value as ScanStatsBy;
        const to = new Date();
        state.scans = await authed<ScanStats>('GET', '/v1/stats/scans', {
          query: {
            by: state.scanBy,
            from: new Date(to.getTime() - 14 * 86_400_000).toISOString(),
            to: to.toISOString(),
          },
        });
        render();
      },
    },
    SCAN_GROUPS.map((g) => h('option', { value: g }, t(`admin.by.${g}` as Key))),
  );
  const venue = h(
    'select',
    {
      value: state.venueId ?? '',
      dataset: { testid: 'venue-select' },
      onchange: async () => {
        state.venueId = venue.value;
        await loadHourly();
        render();
      },
    },
    (state.venues ?? []).map((v) => h('option', { value: v.id }, v.name)),
  );
  const decisions = state.scans
    ? Object.entries(state.scans.decisions)
        .map(([k, n]) => `${tOr(`decision.${k}`, k)} ${n}`)
        .join(' · ')
    : '';
  return [
    section(
      t('admin.colourNow'),
      tiles,
      c ? h('p', { class: 'hint' }, `${t('admin.asOf')} ${dateTime(c.at)} ${zoneLabel()}`) : null,
    ),
    section(t('admin.byDistrict'), byDistrict),
    section(t('admin.daily'), h('p', { class: 'hint' }, t('admin.dailyHint')), daily),
    section(
      t('admin.scansTitle'),
      field(t('admin.groupBy'), by),
      scans,
      state.scans ? h('p', { class: 'hint' }, `${t('admin.total')} ${state.scans.total} · ${decisions}`) : null,
    ),
    section(
      t('admin.hourly'),
      state.venues?.length ? field(t('admin.venue'), venue) : h('p', { class: 'hint' }, t('admin.noVenues')),
      hourly,
      state.hourly
        ? h('p', { class: 'hint' }, `${state.hourly.date} · ${t('admin.total')} ${state.hourly.total}`)
        : null,
    ),
  ];
}
type ScanStatsBy = (typeof SCAN_GROUPS)[number];

// ---- rules ---------------------------------------------------------------------------

async function loadRules(): Promise<void> {
  const [current, versions] = await Promise.all([
    authed<RuleVersionMeta & { ruleSet: RuleSet }>('GET', '/v1/rules'),
    authed<{ current: number; versions: RuleVersionMeta[] }>('GET', '/v1/rules/versions'),
  ]);
  state.rules = { current, versions: versions.versions };
  state.draft ??= JSON.stringify(current.ruleSet, null, 2);
}

function rulesView(): HTMLElement {
  const r = state.rules;
  if (!r) return notice('info', t('common.loading'));
  const editor = h('textarea', {
    class: 'json-editor',
    rows: '18',
    spellcheck: 'false',
    wrap: 'off',
    value: state.draft ?? '',
    dataset: { testid: 'rules-editor', field: '(body)' },
    oninput: () => (state.draft = editor.value),
  });
  const summary = h('div', {
    class: 'form-error notice notice-error',
    hidden: true,
    role: 'alert',
    dataset: { testid: 'rules-errors' },
  });
  const submit = h(
    'button',
    { type: 'submit', class: 'btn btn-primary', dataset: { testid: 'publish' } },
    t('rules.publish'),
  );
  const form = h(
    'form',
    { class: 'form', novalidate: true },
    summary,
    h('div', { class: 'field' }, h('label', {}, t('rules.editor')), editor),
    h(
      'div',
      { class: 'actions' },
      submit,
      h(
        'button',
        {
          type: 'button',
          class: 'btn',
          onclick: () => ((state.draft = JSON.stringify(r.current.ruleSet, null, 2)), render()),
        },
        t('rules.reset'),
      ),
    ),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFieldErrors(form);
    let doc: unknown;
    try {
      doc = JSON.parse(editor.value);
    } catch (err) {
      summary.hidden = false;
      // The browser's parser says where, in its own (English) words: the English page shows them, the Chinese one the position.
      const at = /position (\d+)/.exec((err as Error).message)?.[1];
      summary.replaceChildren(
        h('strong', {}, t('rules.jsonError')),
        h('p', { class: 'mono' }, lang() === 'en' ? (err as Error).message : at ? t('rules.jsonErrorAt', { at }) : ''),
      );
      return;
    }
    submit.disabled = true;
    try {
      const out = await authed<{ version: number; digest: string }>('PUT', '/v1/rules', { json: doc });
      state.draft = undefined;
      state.message = { kind: 'ok', text: () => t('rules.published', { version: out.version }) };
      await loadRules();
      render();
    } catch (err) {
      if (err instanceof ApiError) {
        // Rule-set issues name paths inside the document; list them all above the editor.
        summary.hidden = false;
        summary.replaceChildren(
          h('strong', {}, errorTitle(err)),
          err.fields.length
            ? h(
                'ul',
                {},
                err.fields.map((f) =>
                  h('li', { dataset: { path: f.path } }, h('code', {}, f.path), ` ${fieldText(f)}`),
                ),
              )
            : '',
        );
        summary.scrollIntoView({ block: 'nearest' });
      }
    } finally {
      submit.disabled = false;
    }
  });
  const versions = [...r.versions].sort((a, b) => b.version - a.version);
  return h(
    'div',
    {},
    section(
      t('rules.current', { version: r.current.version }),
      h('p', {}, pick(r.current.ruleSet.description)),
      h(
        'table',
        { class: 'table' },
        h(
          'thead',
          {},
          h('tr', {}, h('th', {}, t('rules.id')), h('th', {}, t('rules.colour')), h('th', {}, t('rules.reason'))),
        ),
        h(
          'tbody',
          {},
          r.current.ruleSet.rules.map((x) =>
            h(
              'tr',
              {},
              h('td', {}, h('code', {}, x.id)),
              h('td', {}, h('span', { class: `badge badge-${x.colour}` }, t(`colour.${x.colour}`))),
              h('td', {}, pick(x.reason)),
            ),
          ),
        ),
      ),
    ),
    section(
      t('rules.versions'),
      h(
        'ol',
        { class: 'versions', reversed: true, dataset: { testid: 'rule-versions' } },
        versions.map((v) =>
          h(
            'li',
            {
              dataset: { testid: 'rule-version', version: String(v.version) },
              class: v.version === r.current.version ? 'current' : undefined,
            },
            h('strong', {}, `v${v.version}`),
            ` ${dateTime(v.publishedAt)} `,
            v.version === r.current.version ? h('span', { class: 'badge badge-admit' }, t('rules.inForce')) : null,
            h(
              'span',
              { class: 'hint mono' },
              `${t('rules.by')} `,
              v.publishedBy === 'system' ? t('rules.bySystem') : h('code', {}, v.publishedBy),
              ` · sha256 ${v.digest.slice(0, 12)}`,
            ),
          ),
        ),
      ),
    ),
    section(t('rules.newVersion'), h('p', { class: 'hint' }, t('rules.editorHint')), form),
  );
}

// ---- appeals ---------------------------------------------------------------------------

async function loadAppeals(): Promise<void> {
  state.appeals = (
    await authed<{ appeals: Appeal[] }>('GET', '/v1/appeals', { query: { status: state.appealStatus } })
  ).appeals;
}

function appealsView(): HTMLElement {
  const toggle = h(
    'div',
    { class: 'actions' },
    (['open', 'decided'] as const).map((s) =>
      h(
        'button',
        {
          type: 'button',
          class: `btn ${state.appealStatus === s ? 'btn-primary' : ''}`,
          onclick: async () => {
            state.appealStatus = s;
            await loadAppeals();
            render();
          },
        },
        t(`appeals.${s}` as Key),
      ),
    ),
  );
  const list = state.appeals;
  return section(
    t('appeals.title'),
    toggle,
    !list
      ? h('p', { class: 'hint' }, t('common.loading'))
      : list.length === 0
        ? h('p', { class: 'hint', dataset: { testid: 'appeals-empty' } }, t('appeals.none'))
        : h('div', { class: 'appeal-list' }, list.map(appealCard)),
  );
}

function appealCard(a: Appeal): HTMLElement {
  const reason = h('input', { type: 'text', maxlength: '500', placeholder: t('appeals.reasonPlaceholder') });
  const colour = h(
    'select',
    { value: a.requestedColour ?? 'green' },
    (['green', 'yellow', 'red'] as const).map((c) => h('option', { value: c }, t(`colour.${c}`))),
  );
  const summary = h('div', { class: 'form-error notice notice-error', hidden: true, role: 'alert' });
  const form = h(
    'form',
    { class: 'form', novalidate: true },
    summary,
    field(t('appeals.decisionReason'), reason, { field: 'reason' }),
    field(t('appeals.colour'), colour, { field: 'colour' }),
  );
  const decide = async (decision: 'override' | 'reject') => {
    clearFieldErrors(form);
    try {
      await authed('POST', `/v1/appeals/${encodeURIComponent(a.id)}/decision`, {
        json: { decision, reason: reason.value, ...(decision === 'override' ? { colour: colour.value } : {}) },
      });
      state.message = {
        kind: 'ok',
        text: () =>
          t(decision === 'override' ? 'appeals.overridden' : 'appeals.rejected', {
            name: a.resident?.maskedName ?? a.id,
          }),
      };
      await loadAppeals();
      render();
    } catch (err) {
      if (err instanceof ApiError) showFieldErrors(form, err);
    }
  };
  form.addEventListener('submit', (e) => e.preventDefault());
  const r = a.resident;
  return h(
    'article',
    { class: 'appeal card-inner', dataset: { testid: 'appeal', id: a.id } },
    h(
      'p',
      { class: 'appeal-who' },
      r
        ? h('strong', {}, `${r.maskedName} · ${t('code.idTail', { tail: r.idLast4 })} · ${districtName(r.district)}`)
        : a.id,
      ' ',
      r ? h('span', { class: `badge badge-${r.colour}` }, t(`colour.${r.colour}`)) : null,
    ),
    h('p', { class: 'appeal-reason' }, `“${a.reason}”`),
    h(
      'p',
      { class: 'hint' },
      `${t('appeals.filed')} ${dateTime(a.filedAt)} · ${t('appeals.requested')}: ${a.requestedColour ? t(`colour.${a.requestedColour}`) : '–'} · ${t('appeals.atFiling')}: ${t(`colour.${a.colourAtFiling}`)}`,
    ),
    r?.reasons.length
      ? h(
          'ul',
          { class: 'reasons' },
          r.reasons.map((x) => h('li', {}, pick(x.reason))),
        )
      : null,
    a.status === 'open'
      ? [
          form,
          h(
            'div',
            { class: 'actions' },
            h(
              'button',
              {
                type: 'button',
                class: 'btn btn-primary',
                onclick: () => void decide('override'),
                dataset: { testid: 'override' },
              },
              t('appeals.override'),
            ),
            h(
              'button',
              {
                type: 'button',
                class: 'btn btn-danger',
                onclick: () => void decide('reject'),
                dataset: { testid: 'reject' },
              },
              t('appeals.reject'),
            ),
          ),
        ]
      : a.decision
        ? h(
            'p',
            {},
            `${t(a.decision.decision === 'override' ? 'appeals.wasOverridden' : 'appeals.wasRejected')} ${a.decision.colour ? t(`colour.${a.decision.colour}`) : ''} — ${a.decision.reason} (${dateTime(a.decision.at, false)})`,
          )
        : null,
  );
}

// ---- grid follow-up ------------------------------------------------------------------------

function gridView(): HTMLElement {
  const g = state.grid;
  if (!g) return notice('info', t('common.loading'));
  return section(
    t('grid.title'),
    h('p', { class: 'hint' }, t('grid.summary', { red: g.counts.red, yellow: g.counts.yellow })),
    g.residents.length === 0
      ? h('p', { class: 'hint' }, t('grid.none'))
      : h(
          'ul',
          { class: 'grid-list', dataset: { testid: 'grid-list' } },
          g.residents.map((r) => {
            const outcome = h(
              'select',
              { 'aria-label': t('grid.outcome') },
              VISIT_OUTCOMES.map((o) => h('option', { value: o }, t(`grid.outcome.${o}` as Key))),
            );
            return h(
              'li',
              { class: 'grid-row', dataset: { testid: 'grid-resident' } },
              h(
                'p',
                {},
                h('span', { class: `badge badge-${r.colour}` }, t(`colour.${r.colour}`)),
                ' ',
                h('strong', {}, r.maskedName),
                ` · ${t('code.idTail', { tail: r.idLast4 })} · ${districtName(r.district)}`,
              ),
              h('p', { class: 'hint' }, r.reasons.map((x) => pick(x.reason)).join('；')),
              h(
                'p',
                { class: 'hint' },
                r.lastVisit
                  ? `${t('grid.lastVisit')}: ${t(`grid.outcome.${r.lastVisit.outcome}` as Key)} ${dateTime(r.lastVisit.at, false)}`
                  : t('grid.notVisited'),
              ),
              h(
                'div',
                { class: 'actions' },
                outcome,
                h(
                  'button',
                  {
                    type: 'button',
                    class: 'btn',
                    onclick: async () => {
                      try {
                        await authed('POST', '/v1/grid/visits', {
                          json: { pseudonym: r.pseudonym, outcome: outcome.value },
                        });
                        state.grid = await authed('GET', '/v1/grid/residents', { query: { limit: 200 } });
                        state.message = { kind: 'ok', text: () => t('grid.recorded', { name: r.maskedName }) };
                      } catch (e) {
                        state.message = { kind: 'error', text: () => failureText(e) };
                      }
                      render();
                    },
                  },
                  t('grid.record'),
                ),
              ),
            );
          }),
        ),
  );
}

window.addEventListener('hashchange', () => {
  state.tab = tabFromHash();
  state.message = undefined;
  render();
  void loadTab();
});
let resizeTimer: ReturnType<typeof setTimeout> | undefined;
window.addEventListener('resize', () => {
  if (resizeTimer) clearTimeout(resizeTimer);
  // Only the charts follow the width; the sign-in form keeps what was typed and any error.
  resizeTimer = setTimeout(() => state.signedIn && state.tab === 'stats' && render(), 200);
});
onLangChange(render);
render();
/** A staff cookie from an earlier visit signs the page in at once. */
async function resume(): Promise<void> {
  const s = await api<{ staff: { role: string } | null }>('GET', '/v1/auth/session').catch(() => undefined);
  // The dashboard is for health authorities; an operator's cookie from /scan does not open it.
  if (!s?.staff || !['health', 'admin'].includes(s.staff.role)) return;
  state.signedIn = true;
  render();
  await loadTab();
}
void resume();
