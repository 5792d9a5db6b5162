import '../styles/app.css';
import { api, ApiError, refreshSession } from '../lib/api';
import { openScanOverlay } from '../lib/camera';
import { showDecision } from '../lib/decision';
import { byId, h, mount } from '../lib/dom';
import { clearFieldErrors, errorTitle, failureText, showFieldErrors } from '../lib/fields';
import { onLangChange, pick, t, tIn, tOr, type Key } from '../lib/i18n';
import { field, header, newKey, notice, section } from '../lib/layout';
import { qrSvg } from '../lib/qr';
import { countdown, dateTime, zoneLabel } from '../lib/time';

type Colour = 'green' | 'yellow' | 'red';

interface ResidentView {
  pseudonym: string;
  idType: string;
  maskedName: string;
  maskedId: string;
  maskedPhone: string;
  district: string;
  colour: Colour;
  ruleVersion: number;
  reasons: Array<{ id: string; colour: Colour; reason: { zh: string; en: string } }>;
  evaluatedAt: string;
  override?: { colour: Colour; reason: string; until: string | null };
}

interface CodeView {
  code: string;
  mode: 'dynamic' | 'printed';
  colour: Colour;
  issuer: string;
  ruleVersion: number;
  issuedAt: string;
  expiresAt: string;
  refreshAt: string;
}

interface ScanRow {
  seq: number;
  at: string;
  venue: { id: string; name: string; type: string };
  decision: 'admit' | 'deny' | 'refer';
  colour: string;
  method: 'self' | 'staff';
}

interface AppealRow {
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
}

interface CheckinOutcome {
  decision: 'admit' | 'deny' | 'refer';
  reason: { zh: string; en: string };
  colour: string;
  venue: { id: string; name: string; type: string };
  maskedName: string | null;
  idLast4: string | null;
  at: string;
  replayed?: boolean;
}

type CardKind = 'health-card' | 'social-security-card' | 'insurance-voucher' | 'payment';

/** A card as GET /v1/residents/me/links shows it: a hint of the reference, never the reference. */
interface LinkView {
  kind: CardKind;
  purpose: string;
  linked: boolean;
  refHint: string | null;
  provider: string | null;
  linkedAt: string | null;
  paused: boolean;
}

interface LinksView {
  links: LinkView[];
  purposes: Array<{ purpose: string; card: CardKind | null; paused: boolean }>;
}

/** One look-up of this resident's code by a service desk ("who used my code"). */
interface LookupRow {
  seq: number;
  at: string;
  desk: { id: string; name: string; kind: string };
  venue: { name: string };
  purpose: string;
  outcome: string;
}

/** Who this browser is signed in as (GET /v1/auth/session): masked, from the identity provider. */
interface SessionView {
  maskedName: string;
  maskedId: string;
  idType: string;
  /** `bound`: the record is reachable through this account; `other`: another account holds it; `none`: no record yet. */
  record: 'bound' | 'other' | 'none';
}
const SYMPTOMS = ['cough', 'sore-throat', 'fatigue', 'loss-of-smell', 'shortness-of-breath', 'diarrhoea'] as const;
const printed = new URLSearchParams(location.search).get('mode') === 'printed';

const state: {
  /** undefined while loading, null when nobody is signed in. */
  session?: SessionView | null;
  rebind?: { sentTo: string; expiresAt: string };
  me?: ResidentView;
  code?: CodeView;
  scans?: ScanRow[];
  appeals?: AppealRow[];
  /** undefined while loading, null when the call failed. */
  links?: LinksView | null;
  lookups?: LookupRow[] | null;
  /** Link requests made on this page, by card, until the page is left. */
  requests: Partial<Record<CardKind, { requestId: string; expiresAt: string }>>;
  /** The card whose removal waits for its confirmation. */
  removing?: CardKind;
  issuers: Map<string, string>;
  editing: boolean;
  /** A function, so that the message follows a switch of language. */
  message?: { kind: 'info' | 'ok' | 'error'; text: () => string };
  refreshTimer?: ReturnType<typeof setTimeout>;
  tickTimer?: ReturnType<typeof setInterval>;
  draft?: Record<string, unknown>;
} = { issuers: new Map(), editing: false, requests: {} };

/** Signed in, with a record reachable through this account: the code and everything around it can load. */
const ready = () => state.session?.record === 'bound';

const app = byId('app');

function render(): void {
  const body: HTMLElement[] = [];
  if (state.message) body.push(notice(state.message.kind, state.message.text(), 'page-message'));
  if (state.session === undefined) body.push(notice('info', t('common.loading')));
  else if (state.session === null) body.push(signInCard());
  else if (state.session.record === 'other') body.push(rebindCard(state.session), signOut());
  else if (state.session.record === 'none' || state.editing) body.push(applyForm(state.session));
  else if (!state.code || !state.me) body.push(notice('info', t('common.loading')));
  else if (printed) body.push(printedView(state.me, state.code));
  else
    body.push(
      codeCard(state.me, state.code),
      actions(),
      linksSection(),
      lookupsSection(),
      historySection(),
      appealSection(),
      signOut(),
    );
  mount(
    app,
    header('resident'),
    h(
      'main',
      { class: 'page' },
      h('h1', { class: 'page-title' }, printed ? t('resident.printedTitle') : t('resident.title')),
      ...body,
    ),
  );
  tick();
}

// ---- sign-in (the province's real-name account platform) ----------------------------

function signInCard(): HTMLElement {
  return h(
    'section',
    { class: 'card form', dataset: { testid: 'sign-in-card' } },
    h('h2', {}, t('signin.title')),
    h('p', { class: 'hint' }, t('signin.why')),
    // A plain link: the browser goes to the provider and comes back to /v1/auth/callback.
    h(
      'a',
      { class: 'btn btn-primary btn-block', href: '/v1/auth/login', dataset: { testid: 'sign-in' } },
      t('signin.button'),
    ),
  );
}

function who(s: SessionView): HTMLElement {
  return h(
    'p',
    { class: 'hint', dataset: { testid: 'session-who' } },
    t('signin.as', { name: s.maskedName, id: s.maskedId }),
  );
}

/** 换绑: the record is bound to another account of this person; a code to the phone on record moves it here. */
function rebindCard(s: SessionView): HTMLElement {
  const summary = h('div', {
    class: 'form-error notice notice-error',
    hidden: true,
    role: 'alert',
    dataset: { testid: 'form-error' },
  });
  const code = h('input', {
    name: 'code',
    type: 'text',
    inputmode: 'numeric',
    autocomplete: 'one-time-code',
    maxlength: '6',
    dataset: { testid: 'rebind-code' },
  });
  const send = h(
    'button',
    { type: 'button', class: 'btn btn-block', dataset: { testid: 'rebind-send' } },
    state.rebind ? t('rebind.resend') : t('rebind.send'),
  );
  const confirmButton = h(
    'button',
    { type: 'submit', class: 'btn btn-primary btn-block', dataset: { testid: 'rebind-confirm' } },
    t('rebind.confirm'),
  );
  const form = h(
    'form',
    { class: 'card form', novalidate: true, dataset: { testid: 'rebind-form' } },
    h('h2', {}, t('rebind.title')),
    who(s),
    h('p', { class: 'hint' }, t('rebind.why')),
    summary,
    state.rebind
      ? h('p', { class: 'hint', dataset: { testid: 'rebind-sent' } }, t('rebind.sent', { phone: state.rebind.sentTo }))
      : null,
    state.rebind ? field(t('rebind.code'), code, { field: 'code' }) : null,
    state.rebind ? confirmButton : null,
    send,
  );
  send.addEventListener('click', async () => {
    clearFieldErrors(form);
    send.disabled = true;
    try {
      state.rebind = await api<{ sentTo: string; expiresAt: string }>('POST', '/v1/residents/me/rebind');
      render();
    } catch (err) {
      showRebindError(form, err);
      send.disabled = false;
    }
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFieldErrors(form);
    confirmButton.disabled = true;
    try {
      await api('POST', '/v1/residents/me/rebind/confirm', { json: { code: code.value.trim() } });
      state.rebind = undefined;
      state.session = { ...s, record: 'bound' };
      state.message = { kind: 'ok', text: () => t('rebind.done') };
      render();
      await start();
    } catch (err) {
      showRebindError(form, err);
    } finally {
      confirmButton.disabled = false;
    }
  });
  return form;
}

/** Re-bind answers a person can act on, in the page's language (the API's messages are English). */
const REBIND_ERRORS: Partial<Record<string, Key>> = {
  OTP_INVALID: 'rebind.wrongCode',
  OTP_EXPIRED: 'rebind.expired',
  TOO_MANY_REQUESTS: 'rebind.tooMany',
};

function showRebindError(form: HTMLElement, err: unknown): void {
  if (!(err instanceof ApiError)) throw err;
  if (err.status === 401) return signedOut('resident.tokenUnknown');
  // The move was finished meanwhile (another tab), or there is no record to move: ask again.
  if (err.code === 'CONFLICT' || err.code === 'NOT_FOUND') return void loadSession();
  showFieldErrors(form, err);
  const key = REBIND_ERRORS[err.code];
  const title = form.querySelector('.form-error strong');
  if (key && title) title.textContent = `${t(key)} (${err.code})`;
}

// ---- apply (申领) -------------------------------------------------------------------

function applyForm(session: SessionView): HTMLElement {
  const d = state.draft ?? {};
  const updating = session.record === 'bound';
  const phone = h('input', {
    name: 'phone',
    type: 'tel',
    autocomplete: 'tel',
    inputmode: 'tel',
    value: (d.phone as string) ?? '',
  });
  const district = h('input', {
    name: 'district',
    type: 'text',
    inputmode: 'numeric',
    maxlength: '6',
    placeholder: '340104',
    value: (d.district as string) ?? '',
  });
  const temp = h('input', {
    name: 'temperatureC',
    type: 'number',
    step: '0.1',
    inputmode: 'decimal',
    placeholder: '36.5',
    value: (d.temperatureC as string) ?? '',
  });
  const symptoms = h(
    'fieldset',
    { class: 'checks', dataset: { field: 'declaration.symptoms' } },
    h('legend', {}, t('apply.symptoms')),
    SYMPTOMS.map((s) =>
      h(
        'label',
        { class: 'check' },
        h('input', { type: 'checkbox', name: 'symptom', value: s }),
        t(`symptom.${s}` as Key),
      ),
    ),
  );
  const visits = h('div', { class: 'visits', dataset: { field: 'declaration.visited' } });
  const addVisit = () => {
    const i = visits.children.length;
    const row = h(
      'div',
      { class: 'visit-row' },
      field(
        t('apply.visitRegion'),
        h('input', {
          type: 'text',
          inputmode: 'numeric',
          maxlength: '6',
          placeholder: '420106',
          class: 'visit-region',
        }),
        { field: `declaration.visited.${i}.region` },
      ),
      field(t('apply.visitDate'), h('input', { type: 'date', class: 'visit-date' }), {
        field: `declaration.visited.${i}.date`,
      }),
      h('button', { type: 'button', class: 'btn btn-ghost', onclick: () => row.remove() }, t('common.remove')),
    );
    visits.appendChild(row);
  };
  const contact = h('input', { type: 'checkbox', name: 'contactWithCase' });
  const summary = h('div', {
    class: 'form-error notice notice-error',
    hidden: true,
    role: 'alert',
    dataset: { testid: 'form-error' },
  });
  const submit = h(
    'button',
    { type: 'submit', class: 'btn btn-primary btn-block', dataset: { testid: 'apply-submit' } },
    updating ? t('apply.update') : t('apply.submit'),
  );
  const form = h(
    'form',
    { class: 'card form', novalidate: true, dataset: { testid: 'apply-form' } },
    h('h2', {}, updating ? t('apply.updateTitle') : t('apply.title')),
    who(session),
    h('p', { class: 'hint' }, t('apply.privacy')),
    summary,
    field(t('apply.phone'), phone, { field: 'phone' }),
    field(t('apply.district'), district, { field: 'district', hint: t('apply.districtHint') }),
    h('h3', {}, t('apply.declaration')),
    field(t('apply.temperature'), temp, { field: 'declaration.temperatureC' }),
    symptoms,
    h(
      'div',
      { class: 'field' },
      h('p', { class: 'label' }, t('apply.visited')),
      visits,
      h('button', { type: 'button', class: 'btn btn-ghost', onclick: addVisit }, t('apply.addVisit')),
    ),
    h('label', { class: 'check', dataset: { field: 'declaration.contactWithCase' } }, contact, t('apply.contact')),
    submit,
    updating
      ? h(
          'button',
          { type: 'button', class: 'btn btn-ghost btn-block', onclick: () => ((state.editing = false), render()) },
          t('common.cancel'),
        )
      : null,
    updating ? null : signOut(),
  );
  let key = newKey();
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFieldErrors(form);
    // Rows may have been removed: number them as they will be sent, so errors land on the right row.
    visits.querySelectorAll('.visit-row').forEach((row, i) => {
      (row.querySelector('.visit-region') as HTMLElement).dataset.field = `declaration.visited.${i}.region`;
      (row.querySelector('.visit-date') as HTMLElement).dataset.field = `declaration.visited.${i}.date`;
    });
    const visited = Array.from(visits.querySelectorAll('.visit-row')).map((row) => ({
      region: (row.querySelector('.visit-region') as HTMLInputElement).value.trim(),
      date: (row.querySelector('.visit-date') as HTMLInputElement).value,
    }));
    const t0 = temp.value.trim();
    // Who is applying comes from the sign-in, never from this form.
    const body = {
      phone: phone.value.trim(),
      district: district.value.trim(),
      // What the person typed goes to the API as is: it validates and names each bad field.
      declaration: {
        ...(t0 === '' ? {} : { temperatureC: Number(t0) }),
        symptoms: Array.from(symptoms.querySelectorAll<HTMLInputElement>('input:checked')).map((c) => c.value),
        visited,
        contactWithCase: contact.checked,
      },
    };
    state.draft = { phone: body.phone, district: body.district, temperatureC: t0 };
    submit.disabled = true;
    try {
      const r = await api<{ resident: ResidentView; code: CodeView }>('POST', '/v1/residents', {
        json: body,
        headers: { 'idempotency-key': key },
      });
      key = newKey();
      state.session = { ...session, record: 'bound' };
      state.me = r.resident;
      state.code = r.code;
      state.editing = false;
      state.draft = undefined;
      state.message = { kind: 'ok', text: () => t('apply.done') };
      render();
      window.scrollTo(0, 0);
      if (printed) await loadCode();
      else schedule();
      void loadLists();
    } catch (err) {
      if (err instanceof ApiError && err.code === 'REBIND_REQUIRED') {
        state.session = { ...session, record: 'other' };
        render();
        return;
      }
      if (err instanceof ApiError && err.status === 401) {
        signedOut('resident.tokenUnknown');
        return;
      }
      if (err instanceof ApiError) showFieldErrors(form, err);
      else throw err;
      form.querySelector<HTMLElement>('[aria-invalid], .form-error')?.scrollIntoView({ block: 'center' });
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

// ---- the code --------------------------------------------------------------------

function issuerName(id: string): string {
  const name = state.issuers.get(id);
  return name ? `${name} (${id})` : id;
}

function codeCard(me: ResidentView, code: CodeView): HTMLElement {
  const reasons = me.reasons.filter((r) => r.colour !== 'green');
  return h(
    'section',
    {
      class: `code-card colour-${code.colour}`,
      dataset: { testid: 'code-card', colour: code.colour, code: code.code, mode: code.mode },
    },
    h('p', { class: 'code-colour' }, h('span', { class: 'dot', 'aria-hidden': 'true' }), t(`colour.${code.colour}`)),
    h(
      'div',
      { class: 'code-body' },
      h('div', { class: 'qr-frame' }, qrSvg(code.code, qrWidth())),
      h(
        'p',
        { class: 'code-who' },
        h('strong', { dataset: { testid: 'masked-name' } }, me.maskedName),
        h('span', {}, t('code.idTail', { tail: me.maskedId.slice(-4) })),
      ),
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, t('code.issuer')),
        h('dd', { dataset: { testid: 'issuer' } }, issuerName(code.issuer)),
        h('dt', {}, t('code.issuedAt')),
        h('dd', {}, `${dateTime(code.issuedAt)} ${zoneLabel()}`),
        h('dt', {}, t('code.refreshIn')),
        h(
          'dd',
          { class: 'countdown', dataset: { testid: 'countdown' } },
          countdown(Date.parse(code.refreshAt) - Date.now()),
        ),
      ),
      reasons.length
        ? h(
            'ul',
            { class: 'reasons' },
            reasons.map((r) => h('li', {}, pick(r.reason))),
          )
        : null,
      me.override ? h('p', { class: 'hint' }, t('code.override', { reason: me.override.reason })) : null,
    ),
  );
}

/** As wide as the card allows on a phone (page padding, frame and quiet zone), at most 340 px. */
function qrWidth(): number {
  return Math.min(340, document.documentElement.clientWidth - 44);
}

function printedView(me: ResidentView, code: CodeView): HTMLElement {
  return h(
    'div',
    { class: 'printed' },
    h(
      'section',
      {
        class: `code-card printable colour-${code.colour}`,
        dataset: { testid: 'code-card', colour: code.colour, code: code.code, mode: code.mode },
      },
      h('p', { class: 'code-colour' }, h('span', { class: 'dot', 'aria-hidden': 'true' }), t(`colour.${code.colour}`)),
      h(
        'div',
        { class: 'code-body' },
        h('p', { class: 'print-title' }, t('print.heading')),
        h('div', { class: 'qr-frame' }, qrSvg(code.code, qrWidth())),
        h(
          'p',
          { class: 'code-who' },
          h('strong', {}, me.maskedName),
          h('span', {}, t('code.idTail', { tail: me.maskedId.slice(-4) })),
        ),
        h(
          'dl',
          { class: 'facts' },
          h('dt', {}, t('code.issuer')),
          h('dd', {}, issuerName(code.issuer)),
          h('dt', {}, t('code.issuedAt')),
          h('dd', {}, `${dateTime(code.issuedAt, false)} ${zoneLabel()}`),
          h('dt', {}, t('print.validUntil')),
          h('dd', {}, `${dateTime(code.expiresAt, false)} ${zoneLabel()}`),
        ),
        h('p', { class: 'print-note' }, t('print.note')),
      ),
    ),
    h(
      'div',
      { class: 'actions no-print' },
      h('button', { type: 'button', class: 'btn btn-primary', onclick: () => window.print() }, t('print.print')),
      h('a', { class: 'btn', href: '/' }, t('print.back')),
    ),
  );
}

function actions(): HTMLElement {
  return h(
    'div',
    { class: 'actions' },
    h(
      'button',
      { type: 'button', class: 'btn btn-primary btn-wide', onclick: selfScan, dataset: { testid: 'self-scan' } },
      t('resident.scanVenue'),
    ),
    h('a', { class: 'btn', href: '/?mode=printed' }, t('resident.printed')),
    h(
      'button',
      {
        type: 'button',
        class: 'btn',
        onclick: () => ((state.editing = true), render()),
        dataset: { testid: 'update' },
      },
      t('resident.update'),
    ),
    // A desk's look-up uses the code up: after one, this (or coming back to the page) shows the new code at once.
    h(
      'button',
      { type: 'button', class: 'btn btn-ghost', onclick: () => void refreshAll(), dataset: { testid: 'refresh-code' } },
      t('resident.refreshCode'),
    ),
  );
}

/** Re-renders only the countdown each second, and refetches the code once it is due. */
function tick(): void {
  const el = app.querySelector('.countdown');
  if (el && state.code) el.textContent = countdown(Date.parse(state.code.refreshAt) - Date.now());
}

function schedule(): void {
  if (state.refreshTimer) clearTimeout(state.refreshTimer);
  if (!state.code) return;
  // Timers sleep in background tabs; visibilitychange below catches up.
  const wait = Math.max(1000, Date.parse(state.code.refreshAt) - Date.now());
  state.refreshTimer = setTimeout(() => void loadCode(), Math.min(wait, 2 ** 31 - 1));
}

async function loadCode(): Promise<void> {
  if (!ready()) return;
  try {
    const before = state.code?.code;
    const [me, code] = await Promise.all([
      api<{ resident: ResidentView }>('GET', '/v1/residents/me'),
      api<CodeView>('GET', '/v1/residents/me/code', { query: { mode: printed ? 'printed' : undefined } }),
    ]);
    state.me = me.resident;
    state.code = code;
    if (state.message?.kind === 'error') state.message = undefined;
    if (!state.editing) render();
    // A device clock that runs fast asks before the server re-issues: ask again shortly.
    if (code.code === before && Date.parse(code.refreshAt) <= Date.now()) {
      if (state.refreshTimer) clearTimeout(state.refreshTimer);
      state.refreshTimer = setTimeout(() => void loadCode(), 10_000);
    } else schedule();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      signedOut('resident.tokenUnknown');
      return;
    }
    if (e instanceof ApiError && (e.code === 'REBIND_REQUIRED' || e.code === 'NOT_FOUND')) {
      // Another account took the record over, or it is gone: ask the session again.
      void loadSession();
      return;
    }
    state.message = {
      kind: 'error',
      text: () => `${t('resident.refreshFailed')} ${e instanceof ApiError ? errorTitle(e) : ''}`,
    };
    render();
    if (state.refreshTimer) clearTimeout(state.refreshTimer);
    state.refreshTimer = setTimeout(() => void loadCode(), 15_000);
  }
}

async function loadIssuers(): Promise<void> {
  try {
    const list = await api<{ issuers: Array<{ id: string; name: string }> }>('GET', '/v1/trust-list');
    for (const i of list.issuers) state.issuers.set(i.id, i.name);
    render();
  } catch {
    // The region code alone still names the issuer.
  }
}

// ---- history, appeals, venue self-scan ----------------------------------------------

async function loadLists(): Promise<void> {
  if (!ready() || printed) return;
  try {
    const [scans, appeals] = await Promise.all([
      api<{ scans: ScanRow[] }>('GET', '/v1/residents/me/scans', { query: { limit: 50 } }),
      api<{ appeals: AppealRow[] }>('GET', '/v1/residents/me/appeals'),
    ]);
    state.scans = scans.scans;
    state.appeals = appeals.appeals;
    if (!state.editing) render();
  } catch {
    // Shown as still loading; the code itself matters more.
  }
  await loadServices();
}

/** Linked cards and "who used my code": each on its own, so one failing leaves the other (and the code) shown. */
async function loadServices(): Promise<void> {
  if (!ready() || printed) return;
  const [links, lookups] = await Promise.allSettled([
    api<LinksView>('GET', '/v1/residents/me/links'),
    api<{ lookups: LookupRow[] }>('GET', '/v1/residents/me/lookups', { query: { limit: 50 } }),
  ]);
  state.links = links.status === 'fulfilled' ? links.value : null;
  state.lookups = lookups.status === 'fulfilled' ? lookups.value.lookups : null;
  if (!state.editing) render();
}

/** The code now (a look-up may have used it up) and the lists that a look-up adds to. */
async function refreshAll(): Promise<void> {
  await loadCode();
  await loadServices();
}

// ---- linked cards (多功能) and who used my code ------------------------------------------

const CARD_ORDER: CardKind[] = ['health-card', 'social-security-card', 'insurance-voucher', 'payment'];

function linksSection(): HTMLElement {
  const v = state.links;
  if (v === undefined) return section(t('links.title'), h('p', { class: 'hint' }, t('common.loading')));
  if (v === null) return section(t('links.title'), notice('error', t('links.unavailable')));
  const byKind = new Map(v.links.map((l) => [l.kind, l]));
  const identity = v.purposes.find((p) => p.purpose === 'identity');
  return h(
    'section',
    { class: 'card', dataset: { testid: 'links' } },
    h('h2', {}, t('links.title')),
    h('p', { class: 'hint' }, t('links.hint')),
    h(
      'ul',
      { class: 'links' },
      CARD_ORDER.filter((k) => byKind.has(k)).map((k) => linkRow(byKind.get(k)!)),
    ),
    identity
      ? h(
          'div',
          { class: 'link-row', dataset: { testid: 'identity-consent', paused: String(identity.paused) } },
          h(
            'p',
            { class: 'link-head' },
            h('strong', {}, t('links.identity')),
            h(
              'span',
              { class: `badge badge-${identity.paused ? 'refer' : 'admit'}` },
              t(identity.paused ? 'links.paused' : 'links.identityAllowed'),
            ),
          ),
          h('p', { class: 'hint' }, t('links.identityHint')),
          h('div', { class: 'actions' }, consentButton('identity', identity.paused)),
        )
      : null,
  );
}

function linkRow(l: LinkView): HTMLElement {
  const card = t(`card.${l.kind}` as Key);
  // Once the authority confirmed it, the request number has done its job.
  const request = l.linked ? undefined : state.requests[l.kind];
  const status = !l.linked
    ? h('span', { class: 'badge' }, t('links.notLinked'))
    : l.paused
      ? h('span', { class: 'badge badge-refer' }, t('links.paused'))
      : h('span', { class: 'badge badge-admit' }, t('links.linked'));
  return h(
    'li',
    { class: 'link-row', dataset: { testid: `link-${l.kind}`, linked: String(l.linked), paused: String(l.paused) } },
    h('p', { class: 'link-head' }, h('strong', {}, card), status),
    l.linked
      ? h(
          'p',
          { class: 'hint' },
          // The last four characters only, to tell cards apart: the reference itself never reaches the page.
          h('code', { class: 'ref-hint', dataset: { testid: 'ref-hint' } }, `····${l.refHint ?? ''}`),
          l.provider
            ? [' · ', t('links.provider'), ' ', h('code', { dataset: { testid: 'provider' } }, l.provider)]
            : null,
          l.linkedAt ? ` · ${dateTime(l.linkedAt, false)}` : null,
        )
      : null,
    state.removing === l.kind
      ? h(
          'div',
          { class: 'notice notice-error', role: 'alertdialog', dataset: { testid: 'remove-confirm' } },
          h('p', {}, t('links.removeConfirm', { card })),
          h(
            'div',
            { class: 'actions' },
            h(
              'button',
              {
                type: 'button',
                class: 'btn btn-danger',
                onclick: () => void removeLink(l.kind),
                dataset: { testid: 'remove-yes' },
              },
              t('links.removeYes'),
            ),
            h(
              'button',
              { type: 'button', class: 'btn', onclick: () => ((state.removing = undefined), render()) },
              t('common.cancel'),
            ),
          ),
        )
      : h(
          'div',
          { class: 'actions' },
          l.linked ? consentButton(l.purpose, l.paused) : null,
          l.linked
            ? h(
                'button',
                {
                  type: 'button',
                  class: 'btn btn-ghost',
                  onclick: () => ((state.removing = l.kind), render()),
                  dataset: { testid: 'remove' },
                },
                t('links.remove'),
              )
            : null,
          l.linked
            ? null
            : h(
                'button',
                {
                  type: 'button',
                  class: 'btn',
                  onclick: () => void requestLink(l.kind),
                  dataset: { testid: 'request' },
                },
                t('links.request'),
              ),
        ),
    request
      ? h(
          'p',
          { class: 'hint', dataset: { testid: 'request-id' } },
          t('links.requested', { until: `${dateTime(request.expiresAt, false)} ${zoneLabel()}` }),
          ' ',
          h('code', { class: 'request-id' }, request.requestId),
        )
      : null,
  );
}

/** Pausing a card pauses the one purpose it serves; the identity purpose has no card. */
function consentButton(purpose: string, paused: boolean): HTMLElement {
  return h(
    'button',
    {
      type: 'button',
      class: 'btn',
      onclick: () => void setPaused(purpose, !paused),
      dataset: { testid: paused ? 'allow' : 'pause' },
    },
    t(paused ? 'links.allow' : 'links.pause'),
  );
}

async function servicesCall(fn: () => Promise<unknown>, done?: () => string): Promise<void> {
  try {
    await fn();
    state.message = done ? { kind: 'ok', text: done } : undefined;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return signedOut('resident.tokenUnknown');
    state.message = { kind: 'error', text: () => failureText(e) };
  }
  await loadServices();
}

function setPaused(purpose: string, paused: boolean): Promise<void> {
  return servicesCall(() =>
    api('PUT', `/v1/residents/me/consents/${encodeURIComponent(purpose)}`, { json: { paused } }),
  );
}

function removeLink(kind: CardKind): Promise<void> {
  state.removing = undefined;
  return servicesCall(
    () => api('DELETE', `/v1/residents/me/links/${encodeURIComponent(kind)}`),
    () => t('links.removed', { card: t(`card.${kind}` as Key) }),
  );
}

function requestLink(kind: CardKind): Promise<void> {
  return servicesCall(async () => {
    state.requests[kind] = await api<{ requestId: string; kind: CardKind; expiresAt: string }>(
      'POST',
      '/v1/residents/me/links/requests',
      { json: { kind } },
    );
  });
}

function lookupsSection(): HTMLElement {
  const rows = state.lookups;
  return section(
    t('lookups.title'),
    h('p', { class: 'hint' }, t('lookups.hint')),
    rows === undefined
      ? h('p', { class: 'hint' }, t('common.loading'))
      : rows === null
        ? notice('error', t('lookups.unavailable'))
        : rows.length === 0
          ? h('p', { class: 'hint', dataset: { testid: 'lookups-empty' } }, t('lookups.empty'))
          : h(
              'ul',
              { class: 'history', dataset: { testid: 'lookups' } },
              rows.map((r) =>
                h(
                  'li',
                  { class: 'history-row', dataset: { outcome: r.outcome, seq: String(r.seq) } },
                  h('span', { class: 'history-time' }, dateTime(r.at, false)),
                  h('span', { class: 'history-venue' }, `${r.desk.name} · ${r.venue.name}`),
                  h(
                    'span',
                    { class: `badge badge-${r.outcome === 'resolved' ? 'admit' : 'deny'}` },
                    tOr(`outcome.${r.outcome}`, r.outcome),
                  ),
                  h(
                    'span',
                    { class: 'history-method' },
                    `${tOr(`deskKind.${r.desk.kind}`, r.desk.kind)} · ${tOr(`purpose.${r.purpose}`, r.purpose)}`,
                  ),
                ),
              ),
            ),
  );
}

function historySection(): HTMLElement {
  const rows = state.scans;
  return section(
    t('history.title'),
    !rows
      ? h('p', { class: 'hint' }, t('common.loading'))
      : rows.length === 0
        ? h('p', { class: 'hint', dataset: { testid: 'history-empty' } }, t('history.empty'))
        : h(
            'ul',
            { class: 'history', dataset: { testid: 'history' } },
            rows.map((r) =>
              h(
                'li',
                { class: `history-row decision-row-${r.decision}` },
                h('span', { class: 'history-time' }, dateTime(r.at, false)),
                h('span', { class: 'history-venue' }, r.venue.name),
                h('span', { class: `badge badge-${r.decision}` }, t(`decision.${r.decision}`)),
                h('span', { class: 'history-method' }, t(r.method === 'self' ? 'history.self' : 'history.staff')),
              ),
            ),
          ),
  );
}

function appealSection(): HTMLElement {
  const reason = h('textarea', { name: 'reason', rows: '3', maxlength: '500' });
  const requested = h(
    'select',
    { name: 'requestedColour' },
    h('option', { value: '' }, t('appeal.noColour')),
    (['green', 'yellow', 'red'] as const).map((c) => h('option', { value: c }, t(`colour.${c}`))),
  );
  const summary = h('div', { class: 'form-error notice notice-error', hidden: true, role: 'alert' });
  const status = h('div', {});
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, t('appeal.submit'));
  const form = h(
    'form',
    { class: 'form', novalidate: true, dataset: { testid: 'appeal-form' } },
    summary,
    field(t('appeal.reason'), reason, { field: 'reason', hint: t('appeal.reasonHint') }),
    field(t('appeal.requested'), requested, { field: 'requestedColour' }),
    submit,
    status,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFieldErrors(form);
    submit.disabled = true;
    try {
      await api('POST', '/v1/appeals', {
        json: { reason: reason.value, ...(requested.value ? { requestedColour: requested.value } : {}) },
      });
      state.message = { kind: 'ok', text: () => t('appeal.filed') };
      await loadLists();
      window.scrollTo(0, 0);
    } catch (err) {
      if (err instanceof ApiError) showFieldErrors(form, err);
    } finally {
      submit.disabled = false;
    }
  });
  const list = state.appeals?.length
    ? h(
        'ul',
        { class: 'appeals', dataset: { testid: 'my-appeals' } },
        state.appeals.map((a) =>
          h(
            'li',
            {},
            h(
              'span',
              {
                class: `badge badge-${a.status === 'open' ? 'refer' : a.decision?.decision === 'override' ? 'admit' : 'deny'}`,
              },
              t(
                a.status === 'open'
                  ? 'appeal.open'
                  : a.decision?.decision === 'override'
                    ? 'appeal.overridden'
                    : 'appeal.rejected',
              ),
            ),
            ` ${dateTime(a.filedAt, false)} · ${a.reason}`,
            a.decision ? h('p', { class: 'hint' }, `${t('appeal.answer')}: ${a.decision.reason}`) : null,
          ),
        ),
      )
    : null;
  const open = state.appeals?.some((a) => a.status === 'open');
  return section(t('appeal.title'), list, open ? h('p', { class: 'hint' }, t('appeal.waiting')) : form);
}

function selfScan(): void {
  openScanOverlay({
    title: t('resident.scanVenue'),
    hint: t('resident.scanVenueHint'),
    onText: (text) => void checkIn(text),
  });
}

async function checkIn(venueCode: string, temperatureC?: number): Promise<void> {
  try {
    const out = await api<CheckinOutcome>('POST', '/v1/checkins', {
      json: { venueCode, ...(temperatureC === undefined ? {} : { temperatureC }) },
    });
    showDecision({
      decision: out.decision,
      reason: out.reason,
      details: [
        out.venue.name,
        `${out.maskedName ?? ''} ${t('code.idTail', { tail: out.idLast4 ?? '' })}`,
        t(`colour.${out.colour as Colour}`),
        `${dateTime(out.at)} ${zoneLabel()}`,
      ],
    });
    void loadLists();
  } catch (e) {
    if (e instanceof ApiError && e.fields.some((f) => f.path === 'temperatureC') && temperatureC === undefined) {
      askTemperature((tc) => void checkIn(venueCode, tc));
      return;
    }
    showDecision({
      decision: 'error',
      reason: {
        zh: tIn('zh', 'resident.venueCodeUnusable', { reason: failureText(e, 'zh') }),
        en: tIn('en', 'resident.venueCodeUnusable', { reason: failureText(e, 'en') }),
      },
    });
  }
}

/** Venues that ask for a temperature: one number, then the check-in again. */
function askTemperature(then: (t: number) => void): void {
  const input = h('input', { type: 'number', step: '0.1', inputmode: 'decimal', placeholder: '36.5' });
  const dialog = h(
    'form',
    {
      class: 'modal card',
      onsubmit: (e: Event) => {
        e.preventDefault();
        dialog.remove();
        then(Number(input.value));
      },
    },
    field(t('resident.temperatureAsked'), input),
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'submit', class: 'btn btn-primary' }, t('common.submit')),
      h('button', { type: 'button', class: 'btn', onclick: () => dialog.remove() }, t('common.cancel')),
    ),
  );
  document.body.appendChild(dialog);
  input.focus();
}

function signOut(): HTMLElement {
  return h(
    'p',
    { class: 'signout' },
    h(
      'button',
      {
        type: 'button',
        class: 'btn btn-ghost',
        onclick: () => (confirm(t('resident.signOutConfirm')) ? void signOutNow() : undefined),
        dataset: { testid: 'sign-out' },
      },
      t('resident.signOut'),
    ),
  );
}

/** Ends the session on the server (both tokens stop working) and forgets everything shown. */
async function signOutNow(): Promise<void> {
  await api('POST', '/v1/auth/logout', { query: { who: 'resident' } }).catch(() => undefined);
  signedOut();
}

function signedOut(message?: Key): void {
  state.session = null;
  state.me =
    state.code =
    state.scans =
    state.appeals =
    state.rebind =
    state.links =
    state.lookups =
    state.removing =
      undefined;
  state.requests = {};
  state.editing = false;
  state.message = message ? { kind: 'error', text: () => t(message) } : undefined;
  if (state.refreshTimer) clearTimeout(state.refreshTimer);
  render();
}

/** Asks who is signed in; an expired access token is refreshed once from the session's refresh cookie. */
async function loadSession(): Promise<void> {
  try {
    let s = await api<{ resident: SessionView | null; expired: boolean }>('GET', '/v1/auth/session');
    if (!s.resident && s.expired && (await refreshSession())) {
      s = await api<{ resident: SessionView | null; expired: boolean }>('GET', '/v1/auth/session');
    }
    state.session = s.resident;
    render();
    await start();
  } catch (e) {
    state.session = null;
    state.message = { kind: 'error', text: () => failureText(e) };
    render();
  }
}

/** Once a record is reachable: the code, its refresh, and the lists. */
async function start(): Promise<void> {
  if (!ready()) return;
  await loadCode();
  void loadLists();
}

/** A sign-in that failed comes back as /?signin_error=CODE: say so once, then drop it from the address. */
function signInOutcome(): void {
  const params = new URLSearchParams(location.search);
  const error = params.get('signin_error');
  if (!error) return;
  state.message = { kind: 'error', text: () => t('signin.failed', { code: error }) };
  params.delete('signin_error');
  const rest = params.toString();
  history.replaceState(null, '', location.pathname + (rest ? `?${rest}` : '') + location.hash);
}

onLangChange(render);
/**
 * Coming back to the page asks for the code again, whether or not it is due: a desk's
 * look-up uses the shown code up, and the server has a new one ready. At most once in a
 * few seconds, since focus and visibility often change together.
 */
let lastReturn = 0;
function onReturn(): void {
  if (document.visibilityState !== 'visible' || !ready() || !state.code || Date.now() - lastReturn < 3000) return;
  lastReturn = Date.now();
  void refreshAll();
}
document.addEventListener('visibilitychange', onReturn);
window.addEventListener('focus', onReturn);
state.tickTimer = setInterval(tick, 1000);
signInOutcome();
render();
void loadIssuers();
void loadSession();
