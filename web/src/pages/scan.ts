import '../styles/app.css';
import { api, ApiError } from '../lib/api';
import { CameraError, startCamera, type Camera } from '../lib/camera';
import { showDecision } from '../lib/decision';
import { byId, h, mount } from '../lib/dom';
import { clearFieldErrors, failureText, failureTexts, showFieldErrors } from '../lib/fields';
import { onLangChange, t, tOr, type Key } from '../lib/i18n';
import { field, header, notice, section } from '../lib/layout';
import { staffSignInForm } from '../lib/staff-sign-in';
import { cameraVideo, scannedCodeInput, viewfinder } from '../lib/viewfinder';
import { qrSvg } from '../lib/qr';
import { load, save } from '../lib/store';
import { dateTime, zoneLabel } from '../lib/time';

interface Venue {
  id: string;
  type: string;
  subtype: string;
  name: string;
  district: string;
  code: string;
  codeExpiresAt: string;
  requireTemperature: boolean;
}

interface ScanOutcome {
  decision: 'admit' | 'deny' | 'refer';
  reason: { zh: string; en: string };
  colour: 'green' | 'yellow' | 'red' | 'none';
  codeResult: string;
  issuer: string | null;
  maskedName: string | null;
  idLast4: string | null;
  venue: { id: string; name: string };
  at: string;
}

/** What an operator may register (within its token's scope); border posts are registered by the health authority. */
const VENUE_TYPES = [
  'residential-community',
  'enterprise',
  'crowded-place',
  'public-service',
  'transport',
  'school',
] as const;
/** How long a decision stays on screen before scanning resumes (a tap closes it sooner). */
const DECISION_MS = 4000;

const state: {
  /** The operator token lives in an HttpOnly cookie (POST /v1/auth/staff); the page only knows whether it has one. */
  signedIn: boolean;
  venues?: Venue[];
  venueId?: string;
  camera?: Camera;
  cameraError?: Key;
  busy: boolean;
  recent: ScanOutcome[];
  /** A function, so that the message follows a switch of language. */
  message?: { kind: 'info' | 'ok' | 'error'; text: () => string };
  registering: boolean;
} = { signedIn: false, venueId: load<string>('venueId'), busy: false, recent: [], registering: false };

const app = byId('app');
/** Issuer names from the trust list, for the decision panel (this province and those it federates with). */
const issuers = new Map<string, string>();
// One video element for the page's life: re-rendering the text around it leaves the camera running.
const video = cameraVideo('gate-video');
const codeInput = scannedCodeInput();
const temperature = h('input', {
  type: 'number',
  step: '0.1',
  inputmode: 'decimal',
  placeholder: '36.5',
  dataset: { testid: 'temperature' },
});

function render(): void {
  const body: HTMLElement[] = [];
  if (state.message) body.push(notice(state.message.kind, state.message.text(), 'page-message'));
  if (!state.signedIn) body.push(signIn());
  else if (!state.venues) body.push(notice('info', t('common.loading')));
  else
    body.push(
      venuePicker(),
      scanner(),
      recent(),
      h(
        'p',
        { class: 'signout' },
        h(
          'button',
          { type: 'button', class: 'btn btn-ghost', onclick: () => void signOut(), dataset: { testid: 'sign-out' } },
          t('scan.signOut'),
        ),
      ),
    );
  mount(app, header('scan'), h('main', { class: 'page' }, h('h1', { class: 'page-title' }, t('scan.title')), ...body));
  if (state.camera) void video.play().catch(() => undefined);
}

function signIn(): HTMLElement {
  return staffSignInForm({
    title: t('scan.signInTitle'),
    hint: t('scan.signInHint'),
    check: async (token) => (await api<{ venues: Venue[] }>('GET', '/v1/venues', { token })).venues,
    signedIn: (venues) => {
      state.signedIn = true;
      state.venues = venues;
      if (!venues.some((v) => v.id === state.venueId)) state.venueId = venues[0]?.id;
      state.message = undefined;
      render();
    },
  });
}

function venuePicker(): HTMLElement {
  const venues = state.venues!;
  const select = h(
    'select',
    {
      dataset: { testid: 'venue-select' },
      value: state.venueId ?? '',
      onchange: () => {
        state.venueId = select.value;
        save('venueId', state.venueId);
        render();
      },
    },
    venues.map((v) => h('option', { value: v.id }, `${v.name} · ${t(`venueType.${v.type}` as Key)}`)),
  );
  const venue = currentVenue();
  return section(
    t('scan.venue'),
    venues.length ? field(t('scan.venuePick'), select) : h('p', { class: 'hint' }, t('scan.noVenues')),
    h(
      'div',
      { class: 'actions' },
      venue
        ? h('button', { type: 'button', class: 'btn', onclick: () => showVenueCode(venue) }, t('scan.venueCode'))
        : null,
      h(
        'button',
        { type: 'button', class: 'btn btn-ghost', onclick: () => ((state.registering = !state.registering), render()) },
        t('scan.register'),
      ),
    ),
    state.registering ? registerForm() : null,
  );
}

function currentVenue(): Venue | undefined {
  return state.venues?.find((v) => v.id === state.venueId);
}

function registerForm(): HTMLElement {
  const type = h(
    'select',
    {},
    VENUE_TYPES.map((v) => h('option', { value: v }, t(`venueType.${v}` as Key))),
  );
  const name = h('input', { type: 'text', maxlength: '32' });
  const district = h('input', { type: 'text', inputmode: 'numeric', maxlength: '6', placeholder: '340104' });
  const requireTemperature = h('input', { type: 'checkbox' });
  const summary = h('div', { class: 'form-error notice notice-error', hidden: true, role: 'alert' });
  const form = h(
    'form',
    { class: 'form', novalidate: true },
    summary,
    field(t('scan.venueType'), type, { field: 'type' }),
    field(t('scan.venueName'), name, { field: 'name' }),
    field(t('apply.district'), district, { field: 'district' }),
    h(
      'label',
      { class: 'check', dataset: { field: 'requireTemperature' } },
      requireTemperature,
      t('scan.requireTemperature'),
    ),
    h('button', { type: 'submit', class: 'btn btn-primary' }, t('scan.registerSubmit')),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFieldErrors(form);
    try {
      const v = await api<Venue>('POST', '/v1/venues', {
        json: {
          type: type.value,
          name: name.value,
          district: district.value.trim(),
          requireTemperature: requireTemperature.checked,
        },
      });
      state.venues = [...state.venues!, v];
      state.venueId = v.id;
      save('venueId', v.id);
      state.registering = false;
      render();
    } catch (err) {
      if (err instanceof ApiError) showFieldErrors(form, err);
    }
  });
  return form;
}

function showVenueCode(v: Venue): void {
  const close = () => {
    modal.remove();
    document.body.classList.remove('print-modal');
  };
  const modal = h(
    'div',
    { class: 'modal card printable', role: 'dialog', 'aria-label': t('scan.venueCode') },
    h('p', { class: 'print-title' }, t('scan.venueCodeHeading')),
    h('h2', {}, v.name),
    h('div', { class: 'qr-frame' }, qrSvg(v.code, Math.min(320, window.innerWidth - 70))),
    h(
      'p',
      { class: 'hint' },
      `${t(`venueType.${v.type}` as Key)} · ${v.district} · ${t('scan.venueCodeUntil', { until: dateTime(v.codeExpiresAt, false) })}`,
    ),
    h(
      'div',
      { class: 'actions no-print' },
      h('button', { type: 'button', class: 'btn btn-primary', onclick: () => window.print() }, t('print.print')),
      h('button', { type: 'button', class: 'btn', onclick: close }, t('common.close')),
    ),
  );
  document.body.classList.add('print-modal');
  document.body.appendChild(modal);
}

function scanner(): HTMLElement {
  const venue = currentVenue();
  const form = h(
    'form',
    {
      class: 'scan-text',
      onsubmit: (e: Event) => {
        e.preventDefault();
        const text = codeInput.value.trim();
        codeInput.value = '';
        if (text) void submit(text, 'text');
      },
    },
    field(t('scan.textInput'), codeInput, { hint: t('scan.textHint') }),
  );
  return section(
    t('scan.scanner'),
    venue?.requireTemperature || temperature.value
      ? field(t('scan.temperature'), temperature)
      : h('details', {}, h('summary', {}, t('scan.addTemperature')), field(t('scan.temperature'), temperature)),
    ...viewfinder({
      video,
      on: !!state.camera,
      error: state.cameraError,
      start: () => void startGateCamera(),
      stop: stopCamera,
      primary: true,
    }),
    form,
  );
}

async function startGateCamera(): Promise<void> {
  state.cameraError = undefined;
  try {
    state.camera = await startCamera(video, (text) => void submit(text, 'camera'));
  } catch (e) {
    state.cameraError = e instanceof CameraError ? e.key : 'camera.failed';
  }
  render();
}

function stopCamera(): void {
  state.camera?.stop();
  state.camera = undefined;
  render();
}

/** `source` says where the code came from: after a typed (USB scanner) code the text field takes focus again; after a camera read it does not, so a phone keeps its keyboard down. */
async function submit(code: string, source: 'camera' | 'text'): Promise<void> {
  const venue = currentVenue();
  if (!venue) {
    state.message = { kind: 'error', text: () => t('scan.pickVenueFirst') };
    render();
    return;
  }
  if (state.busy) return;
  state.busy = true;
  state.camera?.pause();
  const resume = () => {
    state.busy = false;
    state.camera?.resume();
    if (source === 'text') codeInput.focus();
  };
  const tc = temperature.value.trim();
  try {
    const out = await api<ScanOutcome>('POST', '/v1/scans', {
      json: { venueId: venue.id, code, ...(tc ? { temperatureC: Number(tc) } : {}) },
    });
    temperature.value = '';
    state.recent = [out, ...state.recent].slice(0, 10);
    render();
    const details = [
      out.maskedName ? `${out.maskedName} ${t('code.idTail', { tail: out.idLast4 ?? '' })}` : '',
      out.colour === 'none' ? '' : t(`colour.${out.colour}`),
      out.codeResult === 'VALID'
        ? ''
        : `${t('scan.codeResult')}: ${out.codeResult} — ${tOr(`result.${out.codeResult}.title`, '')}`,
      out.issuer ? `${t('code.issuer')}: ${issuers.get(out.issuer) ?? ''} (${out.issuer})` : '',
      `${dateTime(out.at)} ${zoneLabel()}`,
    ].filter(Boolean);
    showDecision(
      { decision: out.decision, reason: out.reason, details },
      { autoCloseMs: DECISION_MS, onClose: resume },
    );
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      resume();
      await signOut();
      state.message = { kind: 'error', text: () => t('scan.tokenUnknown') };
      render();
      return;
    }
    showDecision({ decision: 'error', reason: failureTexts(e) }, { autoCloseMs: DECISION_MS, onClose: resume });
  }
}

function recent(): HTMLElement {
  return section(
    t('scan.recent'),
    state.recent.length
      ? h(
          'ul',
          { class: 'history', dataset: { testid: 'recent' } },
          state.recent.map((r) =>
            h(
              'li',
              { class: 'history-row' },
              h('span', { class: 'history-time' }, dateTime(r.at).slice(11)),
              h('span', { class: 'history-venue' }, r.maskedName ? `${r.maskedName} ${r.idLast4 ?? ''}` : r.codeResult),
              h('span', { class: `badge badge-${r.decision}` }, t(`decision.${r.decision}`)),
            ),
          ),
        )
      : h('p', { class: 'hint' }, t('scan.none')),
  );
}

async function signOut(): Promise<void> {
  stopCamera();
  await api('POST', '/v1/auth/logout', { query: { who: 'staff' } }).catch(() => undefined);
  state.signedIn = false;
  state.venues = undefined;
  state.message = undefined;
  render();
}

async function loadVenues(): Promise<void> {
  try {
    const r = await api<{ venues: Venue[] }>('GET', '/v1/venues');
    state.venues = r.venues;
    if (!r.venues.some((v) => v.id === state.venueId)) state.venueId = r.venues[0]?.id;
  } catch (e) {
    if (e instanceof ApiError && (e.status === 401 || e.status === 403)) state.signedIn = false;
    state.message = { kind: 'error', text: () => failureText(e) };
  }
  render();
}

onLangChange(render);
render();
// A staff cookie from an earlier visit signs the gate in at once, for the roles that scan.
void api<{ staff: { role: string } | null }>('GET', '/v1/auth/session')
  .then((s) => {
    if (!s.staff || !['operator', 'border', 'health', 'admin'].includes(s.staff.role)) return;
    state.signedIn = true;
    return loadVenues();
  })
  .catch(() => undefined);
api<{ issuers: Array<{ id: string; name: string }> }>('GET', '/v1/trust-list')
  .then((list) => list.issuers.forEach((i) => issuers.set(i.id, i.name)))
  .catch(() => undefined);
