import '../styles/app.css';
import { api, ApiError } from '../lib/api';
import { CameraError, startCamera, type Camera } from '../lib/camera';
import { byId, h, mount } from '../lib/dom';
import { clearFieldErrors, errorTitle, failureText, showFieldErrors } from '../lib/fields';
import { onLangChange, t, tOr, type Key } from '../lib/i18n';
import { field, header, notice, section } from '../lib/layout';
import { staffSignInForm } from '../lib/staff-sign-in';
import { cameraVideo, scannedCodeInput, viewfinder } from '../lib/viewfinder';
import { dateTime, zoneLabel } from '../lib/time';

/**
 * The service desk (窗口): a hospital registration desk, a pharmacy till, a social-security
 * window, a service hall's counter or a fare reader. Signed in with its desk token like
 * `/scan`, it looks a fresh code up for one of its purposes and shows only what came back.
 */

type Purpose = 'registration' | 'insurance-payment' | 'social-security' | 'identity' | 'fare';

interface DeskView {
  id: string;
  kind: string;
  name: string;
  purposes: Purpose[];
  venue: { id: string; name: string; type: string; subtype: string; district: string };
}

/** `result` holds exactly one purpose's entitlement (api-17.md, POST /v1/services/resolve). */
interface Resolved {
  outcome: 'resolved';
  purpose: Purpose;
  decision: 'admit' | 'deny' | 'refer';
  colour: string;
  maskedName: string | null;
  seq: number;
  at: string;
  result: {
    healthCard?: string;
    insuranceVoucher?: string;
    socialSecurityCard?: string;
    name?: string;
    idType?: string;
    idNumber?: string;
    provider?: string;
    token?: string;
    fareRequest?: string;
  };
}

interface LookupRow {
  seq: number;
  at: string;
  purpose: Purpose;
  outcome: string;
  decision: 'admit' | 'deny' | 'refer' | null;
}

/** What the last look-up showed: what came back, or the refusal's code. */
type Shown = { kind: 'resolved'; out: Resolved; amountFen?: number } | { kind: 'refused'; error: ApiError };

/** A real name and ID number stay on screen this long, and go at the next look-up anyway. */
const IDENTITY_CLEAR_MS = 30_000;
/** The API's bounds for a fare, in fen (分): 0.01 to 1000 yuan. */
const FARE_MIN_FEN = 1;
const FARE_MAX_FEN = 100_000;

const state: {
  /** The desk token lives in an HttpOnly cookie (POST /v1/auth/staff); the page only knows whether it has one. */
  signedIn: boolean;
  desk?: DeskView;
  purpose?: Purpose;
  camera?: Camera;
  cameraError?: Key;
  busy: boolean;
  shown?: Shown;
  /** When the identity on screen clears itself (ms since the epoch). */
  clearAt?: number;
  lookups?: LookupRow[];
  message?: { kind: 'info' | 'ok' | 'error'; text: () => string };
} = { signedIn: false, busy: false };

const app = byId('app');
// One video element and one set of inputs for the page's life: re-rendering keeps the camera and what was typed.
const video = cameraVideo('desk-video');
const codeInput = scannedCodeInput();
const amountInput = h('input', {
  type: 'text',
  inputmode: 'decimal',
  placeholder: '2.00',
  autocomplete: 'off',
  dataset: { testid: 'amount' },
});
let clearTimer: ReturnType<typeof setTimeout> | undefined;
/**
 * The last code the camera looked up. A code serves one look-up: read again (held back into
 * view), it would only be refused as used and push what it returned off the screen.
 */
let lastCameraCode = '';

function render(): void {
  const body: HTMLElement[] = [];
  if (state.message) body.push(notice(state.message.kind, state.message.text(), 'page-message'));
  if (!state.signedIn) body.push(signIn());
  else if (!state.desk) body.push(notice('info', t('common.loading')));
  else {
    // What came back sits right under the desk's name, above the scanner: the clerk reads it without scrolling.
    body.push(deskCard(state.desk));
    if (state.shown) body.push(shownCard(state.shown));
    body.push(
      lookupForm(state.desk),
      recent(),
      h(
        'p',
        { class: 'signout' },
        h(
          'button',
          { type: 'button', class: 'btn btn-ghost', onclick: () => void signOut(), dataset: { testid: 'sign-out' } },
          t('desk.signOut'),
        ),
      ),
    );
  }
  mount(app, header('desk'), h('main', { class: 'page' }, h('h1', { class: 'page-title' }, t('desk.title')), ...body));
  if (state.camera) void video.play().catch(() => undefined);
}

function signIn(): HTMLElement {
  return staffSignInForm({
    title: t('desk.signInTitle'),
    hint: t('desk.signInHint'),
    // Only a desk token has a desk: any other token is refused here, before it becomes a cookie.
    check: async (token) => (await api<{ desk: DeskView }>('GET', '/v1/desks/me', { token })).desk,
    signedIn: (desk) => {
      state.signedIn = true;
      state.message = undefined;
      setDesk(desk);
      render();
      void loadLookups();
    },
    forbiddenTitle: () => t('desk.notDesk'),
  });
}

function setDesk(desk: DeskView): void {
  state.desk = desk;
  if (!state.purpose || !desk.purposes.includes(state.purpose)) state.purpose = desk.purposes[0];
}

function deskCard(desk: DeskView): HTMLElement {
  return h(
    'section',
    { class: 'card', dataset: { testid: 'desk' } },
    h('h2', {}, t('desk.desk')),
    h(
      'dl',
      { class: 'facts desk-facts' },
      h('dt', {}, t('desk.name')),
      h('dd', { dataset: { testid: 'desk-name' } }, desk.name),
      h('dt', {}, t('desk.kind')),
      h('dd', { dataset: { testid: 'desk-kind' } }, tOr(`deskKind.${desk.kind}`, desk.kind)),
      h('dt', {}, t('desk.venue')),
      h(
        'dd',
        { dataset: { testid: 'desk-venue' } },
        `${desk.venue.name} · ${tOr(`venueType.${desk.venue.type}`, desk.venue.type)}`,
      ),
    ),
  );
}

function lookupForm(desk: DeskView): HTMLElement {
  const purpose = h(
    'select',
    {
      dataset: { testid: 'purpose' },
      value: state.purpose ?? '',
      onchange: () => {
        state.purpose = purpose.value as Purpose;
        render();
      },
    },
    desk.purposes.map((p) => h('option', { value: p }, tOr(`purpose.${p}`, p))),
  );
  const summary = h('div', { class: 'form-error notice notice-error', hidden: true, role: 'alert' });
  const form = h(
    'form',
    {
      class: 'form scan-text',
      novalidate: true,
      dataset: { testid: 'lookup-form' },
      onsubmit: (e: Event) => {
        e.preventDefault();
        const text = codeInput.value.trim();
        codeInput.value = '';
        if (text) void submit(text, 'text');
      },
    },
    summary,
    field(t('desk.purpose'), purpose, { field: 'purpose' }),
    state.purpose === 'fare'
      ? field(t('desk.amount'), amountInput, { field: 'amount', hint: t('desk.amountHint') })
      : null,
    field(t('scan.textInput'), codeInput, { field: 'code', hint: t('scan.textHint') }),
    h('button', { type: 'submit', class: 'btn btn-primary', dataset: { testid: 'lookup' } }, t('desk.submit')),
  );
  return section(
    t('desk.lookup'),
    h('p', { class: 'hint' }, t('desk.liveOnly')),
    ...viewfinder({
      video,
      on: !!state.camera,
      error: state.cameraError,
      start: () => void startDeskCamera(),
      stop: stopCamera,
    }),
    form,
  );
}

async function startDeskCamera(): Promise<void> {
  state.cameraError = undefined;
  try {
    state.camera = await startCamera(video, (text) => {
      if (text === lastCameraCode || state.busy) return;
      lastCameraCode = text;
      void submit(text, 'camera');
    });
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

/** The amount field in fen, or undefined (with the field marked) when it is not 0.01–1000 yuan. */
function fareFen(form: HTMLElement | null): number | undefined {
  const text = amountInput.value.trim();
  const fen = /^\d{1,4}(\.\d{1,2})?$/.test(text) ? Math.round(Number(text) * 100) : NaN;
  if (fen >= FARE_MIN_FEN && fen <= FARE_MAX_FEN) return fen;
  amountInput.setAttribute('aria-invalid', 'true');
  amountInput
    .closest('.field')
    ?.appendChild(
      h('p', { class: 'field-error', role: 'alert', dataset: { errorFor: 'amount' } }, t('desk.amountInvalid')),
    );
  form?.querySelector<HTMLElement>('.field-error')?.scrollIntoView({ block: 'center' });
  return undefined;
}

/** `source` as on /scan: after a typed (USB scanner) code the text field takes focus again. */
async function submit(code: string, source: 'camera' | 'text'): Promise<void> {
  const desk = state.desk;
  const purpose = state.purpose;
  if (!desk || !purpose || state.busy) return;
  const form = app.querySelector<HTMLElement>('[data-testid=lookup-form]');
  if (form) clearFieldErrors(form);
  // The next look-up starts from a clean screen: what the last one returned goes first, at once.
  if (state.shown) {
    forgetShown();
    render();
  }
  let amount: number | undefined;
  if (purpose === 'fare') {
    amount = fareFen(form);
    if (amount === undefined) return;
  }
  state.busy = true;
  state.camera?.pause();
  try {
    const out = await api<Resolved>('POST', '/v1/services/resolve', {
      json: { code, purpose, ...(amount === undefined ? {} : { amount }) },
    });
    state.shown = { kind: 'resolved', out, amountFen: amount };
    if (out.result.idNumber !== undefined) {
      state.clearAt = Date.now() + IDENTITY_CLEAR_MS;
      clearTimer = setTimeout(() => {
        forgetShown();
        render();
      }, IDENTITY_CLEAR_MS);
    }
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    if (e.status === 401) {
      await signOut();
      state.message = { kind: 'error', text: () => t('desk.tokenUnknown') };
      render();
      return;
    }
    if (e.code === 'VALIDATION_FAILED' && form) {
      render();
      const fresh = app.querySelector<HTMLElement>('[data-testid=lookup-form]');
      if (fresh) showFieldErrors(fresh, e);
      return;
    }
    state.shown = { kind: 'refused', error: e };
  } finally {
    state.busy = false;
    state.camera?.resume();
  }
  render();
  // The text field takes focus for the next USB scan without scrolling away from the result.
  if (source === 'text') codeInput.focus({ preventScroll: true });
  app.querySelector('[data-testid=desk-result]')?.scrollIntoView({ block: 'start' });
  void loadLookups();
}

function forgetShown(): void {
  if (clearTimer) clearTimeout(clearTimer);
  clearTimer = undefined;
  state.shown = undefined;
  state.clearAt = undefined;
}

/** Only what came back: the admission decision, the masked name and the purpose's one field. */
function shownCard(shown: Shown): HTMLElement {
  if (shown.kind === 'refused') {
    const e = shown.error;
    return h(
      'section',
      { class: 'card desk-result refused', dataset: { testid: 'desk-result', outcome: e.code } },
      h('h2', {}, t('desk.result')),
      notice('error', errorTitle(e), 'desk-refusal'),
      h('p', { class: 'hint' }, t('desk.refused')),
    );
  }
  const { out } = shown;
  const r = out.result;
  const rows: Array<[string, string | HTMLElement, string]> = [];
  if (r.healthCard !== undefined) rows.push([t('desk.healthCard'), h('code', {}, r.healthCard), 'health-card']);
  if (r.insuranceVoucher !== undefined)
    rows.push([t('desk.insuranceVoucher'), h('code', {}, r.insuranceVoucher), 'insurance-voucher']);
  if (r.socialSecurityCard !== undefined)
    rows.push([t('desk.socialSecurityCard'), h('code', {}, r.socialSecurityCard), 'social-security-card']);
  if (r.idNumber !== undefined) {
    rows.push([t('desk.realName'), r.name ?? '', 'real-name']);
    rows.push([t('desk.idType'), tOr(`idType.${r.idType}`, r.idType ?? ''), 'id-type']);
    rows.push([t('desk.idNumber'), r.idNumber, 'id-number']);
  }
  if (r.fareRequest !== undefined) {
    // The signed request goes to the operator's provider; a clerk needs to see that it exists, not the JWS.
    rows.push([t('desk.provider'), h('code', {}, r.provider ?? ''), 'provider']);
    if (shown.amountFen !== undefined)
      rows.push([
        t('desk.fareAmount'),
        t('desk.fareYuan', { yuan: (shown.amountFen / 100).toFixed(2) }),
        'fare-amount',
      ]);
  }
  return h(
    'section',
    { class: 'card desk-result', dataset: { testid: 'desk-result', outcome: 'resolved', purpose: out.purpose } },
    h('h2', {}, t('desk.result'), ' · ', tOr(`purpose.${out.purpose}`, out.purpose)),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, t('desk.decision')),
      h(
        'dd',
        {},
        h(
          'span',
          { class: `badge badge-${out.decision}`, dataset: { testid: 'desk-decision', decision: out.decision } },
          t(`decision.${out.decision}`),
        ),
      ),
      h('dt', {}, t('desk.maskedName')),
      h('dd', { dataset: { testid: 'desk-masked-name' } }, out.maskedName ?? ''),
      rows.map(([label, value, testid]) => [
        h('dt', {}, label),
        h('dd', { dataset: { testid: `desk-${testid}` } }, value),
      ]),
    ),
    r.fareRequest !== undefined ? notice('ok', t('desk.fareSent'), 'desk-fare-sent') : null,
    h('p', { class: 'hint' }, `${t('desk.record', { seq: out.seq })} · ${dateTime(out.at)} ${zoneLabel()}`),
    state.clearAt
      ? h(
          'p',
          { class: 'actions' },
          h(
            'span',
            { class: 'hint', dataset: { testid: 'desk-clears-in' } },
            t('desk.clearsIn', { s: Math.max(0, Math.ceil((state.clearAt - Date.now()) / 1000)) }),
          ),
          h(
            'button',
            {
              type: 'button',
              class: 'btn btn-ghost',
              onclick: () => (forgetShown(), render()),
              dataset: { testid: 'desk-clear' },
            },
            t('desk.clear'),
          ),
        )
      : null,
  );
}

function recent(): HTMLElement {
  const rows = state.lookups;
  return section(
    t('desk.recent'),
    !rows
      ? h('p', { class: 'hint' }, t('common.loading'))
      : rows.length === 0
        ? h('p', { class: 'hint', dataset: { testid: 'desk-lookups-empty' } }, t('desk.none'))
        : h(
            'ul',
            { class: 'history', dataset: { testid: 'desk-lookups' } },
            rows.map((r) =>
              h(
                'li',
                { class: 'history-row', dataset: { outcome: r.outcome } },
                h('span', { class: 'history-time' }, dateTime(r.at).slice(11)),
                h('span', { class: 'history-venue' }, tOr(`purpose.${r.purpose}`, r.purpose)),
                h(
                  'span',
                  { class: `badge badge-${r.outcome === 'resolved' ? 'admit' : 'deny'}` },
                  tOr(`outcome.${r.outcome}`, r.outcome),
                ),
              ),
            ),
          ),
  );
}

async function loadLookups(): Promise<void> {
  if (!state.desk) return;
  try {
    const r = await api<{ lookups: LookupRow[] }>('GET', `/v1/desks/${encodeURIComponent(state.desk.id)}/lookups`, {
      query: { limit: 20 },
    });
    state.lookups = r.lookups;
  } catch {
    // The list is a convenience; the look-up itself was already shown.
    state.lookups ??= [];
  }
  render();
}

async function signOut(): Promise<void> {
  stopCamera();
  forgetShown();
  await api('POST', '/v1/auth/logout', { query: { who: 'staff' } }).catch(() => undefined);
  state.signedIn = false;
  state.desk = undefined;
  state.lookups = undefined;
  state.message = undefined;
  render();
}

async function loadDesk(): Promise<void> {
  try {
    const r = await api<{ desk: DeskView }>('GET', '/v1/desks/me');
    setDesk(r.desk);
    void loadLookups();
  } catch (e) {
    if (e instanceof ApiError && (e.status === 401 || e.status === 403)) state.signedIn = false;
    state.message = { kind: 'error', text: () => failureText(e) };
  }
  render();
}

onLangChange(render);
render();
// The identity's countdown, once a second while one is shown.
setInterval(() => {
  const el = app.querySelector('[data-testid=desk-clears-in]');
  if (el && state.clearAt)
    el.textContent = t('desk.clearsIn', { s: Math.max(0, Math.ceil((state.clearAt - Date.now()) / 1000)) });
}, 1000);
// A desk cookie from an earlier visit signs the desk in at once; another role's cookie (a gate's) does not.
void api<{ staff: { role: string } | null }>('GET', '/v1/auth/session')
  .then((s) => {
    if (s.staff?.role !== 'desk') return;
    state.signedIn = true;
    render();
    return loadDesk();
  })
  .catch(() => undefined);
