import '../styles/app.css';
import type * as Verifier from '../../../verifier/src';
import { openScanOverlay } from '../lib/camera';
import { byId, h, mount } from '../lib/dom';
import { lang, onLangChange, t, tIn, tOr, type Key } from '../lib/i18n';
import { field, header, notice, section } from '../lib/layout';
import { load, save } from '../lib/store';
import { age, dateTime, zoneLabel } from '../lib/time';

declare global {
  interface Window {
    /** verifier/dist/ankang-verify.browser.js, loaded (or inlined) before this script. */
    AnkangVerify: typeof Verifier;
  }
}

interface CachedTrust {
  json: Verifier.TrustListJson;
  fetchedAt: string;
  source: 'server' | 'file';
  name?: string;
}

interface CachedStatus {
  iss: string;
  b64: string;
  issuedAt: number;
  size: number;
  fetchedAt: string;
  source: 'server' | 'file';
}

interface Cache {
  trust?: CachedTrust;
  status: Record<string, CachedStatus>;
}

const V = window.AnkangVerify;
const CACHE_KEY = 'verify.cache';
/** The page inlined into one file (web/dist/verify-standalone.html), or opened from disk. */
const standalone = document.documentElement.dataset.standalone === '1' || location.protocol === 'file:';
const served = !standalone && (location.protocol === 'http:' || location.protocol === 'https:');

const cache: Cache = load<Cache>(CACHE_KEY) ?? { status: {} };
cache.status ??= {};
const app = byId('app');
const input = h('textarea', {
  rows: '4',
  class: 'code-text',
  autocomplete: 'off',
  autocapitalize: 'characters',
  spellcheck: 'false',
  placeholder: 'AK1:…',
  dataset: { testid: 'verify-input' },
});

const state: {
  /** The trust list object handed to verifyCode: the same object each time, so its keys are imported once. */
  trust?: unknown;
  statusBytes: Map<string, Uint8Array>;
  result?: { r: Verifier.VerifyResult; at: number; text: string };
  refreshing: boolean;
  /** A function, so that the message follows a switch of language. */
  message?: { kind: 'info' | 'ok' | 'error'; text: () => string };
  online: boolean;
} = { statusBytes: new Map(), refreshing: false, online: navigator.onLine };

function b64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function unb64(text: string): Uint8Array {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function restore(): void {
  if (cache.trust) {
    try {
      V.prepareTrustList(cache.trust.json);
      state.trust = cache.trust.json;
    } catch {
      cache.trust = undefined;
    }
  }
  for (const [iss, s] of Object.entries(cache.status)) state.statusBytes.set(iss, unb64(s.b64));
}

function persist(): void {
  save(CACHE_KEY, cache);
}

// ---- loading trust and status lists ---------------------------------------------------

/** Checks and keeps a trust list; status lists it cannot vouch for are dropped. */
async function takeTrustList(json: unknown, source: 'server' | 'file', name?: string): Promise<void> {
  V.prepareTrustList(json);
  cache.trust = { json: json as Verifier.TrustListJson, fetchedAt: new Date().toISOString(), source, name };
  state.trust = json;
  const prepared = V.prepareTrustList(json);
  for (const [iss, bytes] of [...state.statusBytes]) {
    const r = await V.loadStatusList(bytes, prepared);
    if (!r.valid) {
      state.statusBytes.delete(iss);
      delete cache.status[iss];
    }
  }
  persist();
}

/** Checks a status list against the trust list and keeps it when it is the newest of its issuer. */
async function takeStatusList(
  bytes: Uint8Array,
  source: 'server' | 'file',
): Promise<{ ok: true; iss: string } | { ok: false; message: () => string }> {
  if (!state.trust) return { ok: false, message: () => t('verify.needTrustFirst') };
  const r = await V.loadStatusList(bytes, V.prepareTrustList(state.trust));
  if (!r.valid) return { ok: false, message: () => `${tOr(`result.${r.code}.title`, r.code)} · ${r.code}` };
  const { iss, issuedAt, size } = r.statusList;
  const held = cache.status[iss];
  if (!held || held.issuedAt <= issuedAt) {
    cache.status[iss] = { iss, b64: b64(bytes), issuedAt, size, fetchedAt: new Date().toISOString(), source };
    state.statusBytes.set(iss, bytes);
    persist();
  }
  return { ok: true, iss };
}

/** Fetches this origin's trust list and the status list of every issuer that can be reached. */
async function refreshFromServer(quiet: boolean): Promise<void> {
  if (!served || state.refreshing) return;
  state.refreshing = true;
  render();
  try {
    const res = await fetch('/v1/trust-list', { cache: 'no-store' });
    if (!res.ok) throw new Error(`trust list: HTTP ${res.status}`);
    const json = await res.json();
    await takeTrustList(json, 'server');
    const urls = new Set<string>(['/v1/status-list']);
    for (const i of (json as Verifier.TrustListJson).issuers) if (i.statusListUrl) urls.add(i.statusListUrl);
    await Promise.all(
      [...urls].map(async (url) => {
        try {
          const r = await fetch(url, { cache: 'no-store' });
          if (r.ok) await takeStatusList(new Uint8Array(await r.arrayBuffer()), 'server');
        } catch {
          // Another province's list may not allow this origin (CORS) or be down: keep what is cached.
        }
      }),
    );
    state.message = quiet ? undefined : { kind: 'ok', text: () => t('verify.updated') };
  } catch {
    state.message = { kind: quiet ? 'info' : 'error', text: () => t('verify.updateFailed') };
  } finally {
    state.refreshing = false;
    render();
  }
}

async function loadTrustFile(file: File): Promise<void> {
  try {
    await takeTrustList(JSON.parse(await file.text()), 'file', file.name);
    state.message = { kind: 'ok', text: () => t('verify.trustLoaded', { name: file.name }) };
  } catch (e) {
    // The verifier's reason is English, for whoever built the file: shown on the English page only.
    const why = (e as Error).message;
    state.message = {
      kind: 'error',
      text: () => (lang() === 'en' ? `${t('verify.trustBad')} ${why}` : t('verify.trustBad')),
    };
  }
  render();
}

async function loadStatusFiles(files: FileList): Promise<void> {
  const notes: Array<() => string> = [];
  let failed = false;
  for (const f of Array.from(files)) {
    const r = await takeStatusList(new Uint8Array(await f.arrayBuffer()), 'file');
    if (r.ok) notes.push(() => t('verify.statusLoaded', { name: f.name, iss: r.iss }));
    else {
      failed = true;
      notes.push(() => t('verify.statusBad', { name: f.name, why: r.message() }));
    }
  }
  state.message = { kind: failed ? 'error' : 'ok', text: () => notes.map((n) => n()).join(' ') };
  render();
}

// ---- verification ---------------------------------------------------------------------

async function verify(text: string): Promise<void> {
  const code = text.trim();
  if (!code) return;
  if (!state.trust) {
    state.message = { kind: 'error', text: () => t('verify.noTrust') };
    render();
    return;
  }
  // The previous result goes at once, so nobody reads it as the answer to this code.
  state.result = undefined;
  app.querySelector('[data-testid=result]')?.remove();
  const r = await V.verifyCode(code, { trustList: state.trust, statusLists: [...state.statusBytes.values()] });
  state.result = { r, at: Date.now(), text: code };
  state.message = undefined;
  render();
  app.querySelector('[data-testid=result]')?.scrollIntoView({ block: 'nearest' });
}

function issuerLabel(id: string): string {
  const name = cache.trust?.json.issuers.find((i) => i.id === id)?.name;
  return name ? `${name} (${id})` : id;
}

/**
 * Which key a refused code names, and when the trust list says it was revoked: the
 * verifier's (English) message says so, and both languages show it as facts.
 */
function keyRows(r: Verifier.VerifyResult, text: string): Array<[string, string]> {
  if (r.code !== 'KEY_REVOKED' && r.code !== 'UNKNOWN_KEY') return [];
  let kid: string;
  let iss: string;
  try {
    const decoded = V.decodeCode(text);
    kid = V.toBase64Url(decoded.kid);
    iss = decoded.claims.iss;
  } catch {
    return [];
  }
  const rows: Array<[string, string]> = [
    [t('code.issuer'), issuerLabel(iss)],
    [t('verify.kid'), kid],
  ];
  const revokedAt = cache.trust?.json.issuers
    .find((i) => i.id === iss)
    ?.revokedKeys?.find((k) => k.kid === kid)?.revokedAt;
  if (r.code === 'KEY_REVOKED' && revokedAt)
    rows.push([t('verify.revokedAt'), `${dateTime(Date.parse(revokedAt))} ${zoneLabel()}`]);
  return rows;
}

function resultView(r: Verifier.VerifyResult, text: string): HTMLElement {
  const c = r.claims;
  const colour = c?.kind === 'resident' ? c.health.colour : undefined;
  const tone = r.valid ? (c?.kind === 'venue' ? 'venue' : colour) : 'invalid';
  const rows: Array<[string, string]> = [];
  if (c) {
    rows.push([t('code.issuer'), issuerLabel(c.iss)]);
    if (c.kind === 'resident') {
      rows.push([t('verify.colour'), t(`colour.${c.health.colour}`)]);
      rows.push([t('verify.name'), c.health.maskedName]);
      rows.push([t('verify.idTail'), c.health.idLast4]);
      rows.push([t('verify.mode'), t(c.health.mode === 'printed' ? 'verify.modePrinted' : 'verify.modeDynamic')]);
      rows.push([t('verify.ruleVersion'), String(c.health.ruleVersion)]);
    } else {
      rows.push([t('verify.venue'), `${c.venue.name} · ${t(`venueType.${c.venue.type}` as Key)}`]);
    }
    rows.push([t('code.issuedAt'), `${dateTime(c.iat * 1000)} ${zoneLabel()}`]);
    rows.push([t('verify.expiresAt'), `${dateTime(c.exp * 1000)} ${zoneLabel()}`]);
  }
  if (r.statusAgeSeconds !== undefined) rows.push([t('verify.statusAge'), age(r.statusAgeSeconds)]);
  rows.push(...keyRows(r, text));
  // A genuine code of a yellow or red holder is not a pass: no tick, and its own words.
  const alarm = r.valid && (colour === 'yellow' || colour === 'red') ? colour : undefined;
  const key = alarm ? (`result.VALID.${alarm}` as const) : (`result.${r.code}` as const);
  const title = t(`${key}.title` as Key);
  const mark = !r.valid || alarm === 'red' ? '✕' : alarm === 'yellow' ? '!' : '✓';
  const unchecked = r.valid && c?.kind === 'resident' && r.statusAgeSeconds === undefined;
  return h(
    'section',
    {
      class: `result result-${r.valid ? 'valid' : 'invalid'} tone-${tone}${alarm ? ' result-alarm' : ''}`,
      role: 'status',
      'aria-live': 'polite',
      dataset: { testid: 'result', code: r.code, valid: String(r.valid), colour: colour ?? '', mark },
    },
    // The machine code of a genuine red code is VALID; what a checker must read first is its colour.
    h(
      'p',
      { class: 'result-code' },
      h('span', { class: 'result-mark', 'aria-hidden': 'true' }, mark),
      alarm ? t(`colour.${alarm}`) : r.code,
    ),
    h('p', { class: 'result-title' }, r.valid && colour && !alarm ? `${title} · ${t(`colour.${colour}`)}` : title),
    h('p', { class: 'result-text' }, t(`${key}.text` as Key)),
    h('p', { class: 'result-text-other', lang: lang() === 'zh' ? 'en' : 'zh-CN' }, otherLanguage(`${key}.text` as Key)),
    unchecked
      ? h('p', { class: 'result-warning', dataset: { testid: 'status-not-checked' } }, t('verify.notChecked'))
      : null,
    rows.length
      ? h(
          'dl',
          { class: 'facts' },
          rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
        )
      : null,
    // The verifier's own account is English and names specifics (which key, how old a list): the English page shows it.
    lang() === 'en' ? h('p', { class: 'hint mono' }, `${t('verify.details')}: ${r.message}`) : null,
  );
}

/** The explanation in the other language too: the holder and the checker may not share one. */
function otherLanguage(key: Key): string {
  return tIn(lang() === 'zh' ? 'en' : 'zh', key);
}

// ---- page ---------------------------------------------------------------------------

function listsSection(): HTMLElement {
  const nowS = Date.now() / 1000;
  const trust = cache.trust;
  const trustLine = trust
    ? h(
        'li',
        { dataset: { testid: 'trust-status', state: 'ok' } },
        h('strong', {}, t('verify.trustList')),
        ' ',
        t('verify.trustSummary', {
          n: trust.json.issuers.length,
          issued: dateTime(trust.json.issuedAt, false),
          age: age(nowS - Date.parse(trust.fetchedAt) / 1000),
        }),
        ' ',
        h(
          'span',
          { class: 'hint' },
          trust.source === 'file' ? t('verify.fromFile', { name: trust.name ?? '' }) : t('verify.fromServer'),
        ),
      )
    : h(
        'li',
        { dataset: { testid: 'trust-status', state: 'missing' } },
        h('strong', {}, t('verify.trustList')),
        ' ',
        t('verify.none'),
      );
  const statusLines = Object.values(cache.status).map((s) => {
    const ageS = nowS - s.issuedAt;
    const stale = ageS > V.DEFAULT_STATUS_MAX_AGE_SECONDS;
    return h(
      'li',
      { class: stale ? 'stale' : undefined, dataset: { testid: 'status-status', iss: s.iss, stale: String(stale) } },
      h('strong', {}, t('verify.statusList')),
      ' ',
      t('verify.statusSummary', {
        iss: issuerLabel(s.iss),
        size: s.size,
        issued: dateTime(s.issuedAt * 1000, false),
        age: age(ageS),
      }),
      stale ? h('span', { class: 'badge badge-refer' }, t('verify.stale')) : null,
    );
  });
  const trustInput = h('input', {
    type: 'file',
    accept: '.json,application/json',
    dataset: { testid: 'trust-file' },
    onchange: (e: Event) => {
      const f = (e.target as HTMLInputElement).files?.[0];
      if (f) void loadTrustFile(f);
    },
  });
  const statusInput = h('input', {
    type: 'file',
    multiple: true,
    dataset: { testid: 'status-file' },
    onchange: (e: Event) => {
      const fs = (e.target as HTMLInputElement).files;
      if (fs?.length) void loadStatusFiles(fs);
    },
  });
  const el = section(
    t('verify.lists'),
    h(
      'ul',
      { class: 'lists' },
      trustLine,
      statusLines.length
        ? statusLines
        : h(
            'li',
            { dataset: { testid: 'status-status', state: 'missing' } },
            h('strong', {}, t('verify.statusList')),
            ' ',
            t('verify.noneStatus'),
          ),
    ),
    served
      ? h(
          'div',
          { class: 'actions' },
          h(
            'button',
            {
              type: 'button',
              class: 'btn',
              disabled: state.refreshing || !state.online,
              onclick: () => void refreshFromServer(false),
              dataset: { testid: 'refresh' },
            },
            state.refreshing ? t('common.loading') : t('verify.refresh'),
          ),
        )
      : null,
    h(
      'details',
      { open: standalone && !trust ? true : undefined },
      h('summary', {}, t('verify.fromFiles')),
      field(t('verify.trustFile'), trustInput),
      field(t('verify.statusFile'), statusInput),
    ),
  );
  el.id = 'lists';
  return el;
}

function render(): void {
  const net = h(
    'p',
    { class: `net ${state.online ? 'net-on' : 'net-off'}`, dataset: { testid: 'net' } },
    state.online ? t('verify.online') : t('verify.offline'),
    standalone
      ? ` · ${t('verify.standalone')}`
      : navigator.serviceWorker?.controller
        ? ` · ${t('verify.cachedOffline')}`
        : '',
  );
  const form = h(
    'form',
    {
      class: 'form',
      onsubmit: (e: Event) => {
        e.preventDefault();
        void verify(input.value);
      },
    },
    field(t('verify.input'), input, { hint: t('verify.inputHint') }),
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'submit', class: 'btn btn-primary', dataset: { testid: 'verify' } }, t('verify.check')),
      h(
        'button',
        { type: 'button', class: 'btn', onclick: camera, dataset: { testid: 'verify-camera' } },
        t('verify.camera'),
      ),
    ),
  );
  mount(
    app,
    header('verify', { nav: !standalone }),
    h(
      'main',
      { class: 'page' },
      h('h1', { class: 'page-title' }, t('verify.title')),
      h('p', { class: 'lead' }, t('verify.lead')),
      net,
      state.message ? notice(state.message.kind, state.message.text(), 'page-message') : null,
      section(t('verify.codeSection'), form, state.result ? resultView(state.result.r, state.result.text) : null),
      listsSection(),
      served
        ? h(
            'p',
            { class: 'hint' },
            h('a', { href: '/verify-standalone.html', download: 'ankang-verify.html' }, t('verify.download')),
          )
        : null,
    ),
  );
}

function camera(): void {
  openScanOverlay({
    title: t('verify.camera'),
    hint: t('verify.cameraHint'),
    onText: (text) => {
      input.value = text;
      void verify(text);
    },
  });
}

input.addEventListener('keydown', (e) => {
  // A USB scanner types the code and presses Enter.
  if (e.key === 'Enter' && !e.shiftKey) {
    e.preventDefault();
    void verify(input.value);
  }
});
window.addEventListener('online', () => {
  state.online = true;
  render();
  void refreshFromServer(true);
});
window.addEventListener('offline', () => {
  state.online = false;
  render();
});
onLangChange(render);
restore();
render();
if (served) {
  navigator.serviceWorker?.register('/sw.js', { scope: '/verify' }).catch(() => undefined);
  navigator.serviceWorker?.addEventListener('controllerchange', render);
  if (state.online) void refreshFromServer(true);
}
// Ages move on even when nothing else happens.
setInterval(() => {
  if (!document.hidden) app.querySelector('#lists')?.replaceWith(listsSection());
}, 30_000);
