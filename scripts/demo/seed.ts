/**
 * The demo province (issue 5): seeds a running service through its HTTP API only, so a
 * newcomer sees every endpoint answer something real. The story, in the service's own
 * time: with `advanceTo` (a fresh embedded service whose clock the demo owns) it runs from
 * 06:00 to 19:00 of the day; otherwise the API has no way to back-date, and it all happens
 * at "now":
 *
 *   tokens → risk areas → venues → admission policies v2 → residents sign in and apply (06:30) →
 *   service desks, linked cards, payment accounts at the stand-in provider, paused purposes
 *   (07:00, scripts/demo/services.ts) → the case's morning path (07:30) → rosters, daily
 *   check-ins, work and school gates, school certificates (08:00) → everyone's errands, and
 *   look-ups at the desks beside them (09:00–16:00; the refusals at midday) → the policies' special cases,
 *   the provincial checkpoint, inbound travellers at the airport port (16:15–17:00) → feeds
 *   (inbound traveller, one confirmed case, close contacts), tracing marks the case's
 *   contacts, rules v2, contacts turned back at their gates, a close contact's earlier code
 *   refused as superseded (17:30) → appeals (one decided, one open) and grid visits (19:00)
 *   → rides on bus 226 and the metro, their fares charged by the stand-in provider (at real
 *   time: a fare request lives five minutes on the provider's clock) → summary.
 *
 * Every resident signs in the way a browser does, through the service's embedded identity
 * provider (phone, texted code read from the development outbox, a one-time sign-up), each
 * with their own phone, then applies with that session; their apps refresh the access
 * tokens (SESSION_ACCESS_MINUTES, 15 by default) when the story's clock has moved past them.
 *
 * Running it again on the same service works: residents sign in again (their accounts
 * exist, so no sign-up) and re-declare (same people, same IDs), venues are found again by
 * type, name and district, rule and policy versions are
 * published only if the demo's are not current yet, border entries replay through their
 * Idempotency-Key, and an appeal that is still open is left alone.
 */
import type { VenueType } from '../../verifier/src';
import { maskPhone } from '../../server/domain/mask';
import { regionName } from '../../server/domain/regions';
import { OPERATOR_VENUE_TYPES } from '../../server/http/scopes';
import { DriveError, type CodeReader } from '../../server/idp/drive';
import { signIn, type ResidentSession } from '../lib/sign-in';
import {
  SECTOR_TOKEN_SOURCES,
  ServicesDay,
  type DeskToken,
  type PaymentProvider,
  type ServicesResult,
} from './services';
import {
  CASE_PATH,
  CITIES,
  FIRST_ORDINARY,
  GRID_DISTRICTS,
  MAX_RESIDENTS,
  RISK,
  ROLE,
  TRAVEL_REGIONS,
  VENUES,
  cityCodeOf,
  personAt,
  pick,
  profilesFor,
  rngFor,
  travellerAt,
  weighted,
  type Person,
  type VenuePlan,
} from './province';

type Colour = 'green' | 'yellow' | 'red';
type Decision = 'admit' | 'refer' | 'deny';
const FEED_SOURCES = ['health', 'telecom', 'public-security'] as const;
type FeedSource = (typeof FEED_SOURCES)[number];
/** The venue types an operator registers; border posts are registered by the health authority. */
type OperatorType = (typeof OPERATOR_VENUE_TYPES)[number];

export interface DemoTokens {
  health: string;
  /** One venue operator per scenario (小区, 企业, 商超…), each scoped to that type in Anhui and running that type's venues. */
  operators: Record<OperatorType, string>;
  /** Public security at the border posts (口岸, 省界检查站), scoped to them. */
  border: string;
  feeds: Record<FeedSource, string>;
  /** A grid worker (网格员) covering GRID_DISTRICTS. */
  grid: string;
  auditor: string;
  /**
   * The other sector authorities of 多功能 (人社, 医保, 政务服务, 交通, the payment provider), feed
   * tokens of those sources; the health feed above is the health commission's. Absent in
   * the tokens of a demo from before services.
   */
  sectors?: Record<SectorToken, string>;
  /** Service desks by DESKS key: each desk's id and its desk token. */
  desks?: Record<string, DeskToken>;
}

type SectorToken = (typeof SECTOR_TOKEN_SOURCES)[number];

/** How many residents the demo seeds unless told otherwise. */
export const DEFAULT_RESIDENTS = 300;

/**
 * What seeding `n` residents spends of the service's per-address abuse limits, all from
 * this one address within seconds: a first sign-in is two requests to /v1/auth, two texted
 * codes (sign-in, ID confirmation), two code checks and one sign-up; then one application.
 * The embedded demo adds these to its service's defaults; a running service must allow them.
 */
export function demoLimits(n: number): Record<string, number> {
  return {
    RATE_SIGNIN_PER_ADDRESS: 2 * n,
    IDP_SENDS_PER_ADDRESS: 2 * n,
    IDP_CHECKS_PER_ADDRESS: 2 * n,
    IDP_SIGNUPS_PER_ADDRESS: n,
    RATE_APPLY_PER_ADDRESS: n,
  };
}

export interface SeedOptions {
  /** Base URL of a running service, e.g. http://127.0.0.1:8080 */
  url: string;
  adminToken: string;
  /**
   * Where the service's one-time codes are read, for signing residents in through its
   * embedded identity provider: its development SMS outbox (`DATA_DIR/sms-outbox.jsonl`),
   * or a function.
   */
  codes: string | CodeReader;
  /** Progress and the final summary, one line at a time. */
  log?: (line: string) => void;
  /** How many residents; 300 by default. */
  residents?: number;
  /** The same seed gives the same people, names and ID numbers; 1 by default. */
  seed?: number;
  /** Tokens of an earlier run on the same service; any the service no longer knows are replaced. */
  tokens?: DemoTokens;
  /** Requests in flight at once; 8 by default. */
  concurrency?: number;
  /** Sign-ins (each with its application) in flight at once; 8 by default. */
  signInConcurrency?: number;
  /**
   * Moves the service's clock to `hour` (06:00–19:00 of the demo day) at the start of each
   * part of the story, so scans spread over the day. Only an embedded service with a clock
   * the demo owns can do this; without it everything happens at the service's "now".
   */
  advanceTo?: (hour: number) => void | Promise<void>;
  /**
   * Called once the story is over, before the summary: the embedded demo gives its service
   * the real clock back here, so the resident token the summary prints is fresh in real time.
   */
  endOfStory?: () => void | Promise<void>;
  /**
   * Starts the stand-in payment provider with the payment feed token the demo holds (the
   * caller owns the process and stops it). Without it no payment account is opened and no
   * fare is looked up.
   */
  paymentProvider?: (feedToken: string) => Promise<PaymentProvider>;
}

export interface DemoResult {
  url: string;
  seed: number;
  /** Whether the story ran through the day on the service's clock (`advanceTo`). */
  dayClock: boolean;
  seconds: number;
  tokens: DemoTokens;
  /** `refreshed`: access tokens the residents' apps refreshed during the story (they live SESSION_ACCESS_MINUTES of the service's clock). */
  residents: { total: number; created: number; skipped: number; cities: number; refreshed: number };
  venues: { total: number; created: number; reused: number; types: number; subtypes: number };
  scans: {
    self: number;
    staff: number;
    replayed: number;
    decisions: Record<Decision, number>;
    byVenueType: Record<string, number>;
  };
  colours: Record<Colour, number>;
  rosters: { joined: number; dailyCheckins: number };
  tracing: { case: string; caseMasked: string; venues: number; contacts: number; marked: boolean };
  appeals: { decided: number; open: number };
  grid: { listed: number; visits: number };
  border: { entries: number };
  /** 多功能: desks, linked cards, paused purposes, look-ups and fares. */
  services: ServicesResult;
  rules: { version: number; published: boolean };
  policies: { version: number; published: boolean };
  ledger: { seq: number };
  anchor: unknown;
  /** Things worth a curl: a busy venue, the case, a resident to sign in as and their session, refreshed at the end. */
  sample: {
    venueId: string;
    venueName: string;
    casePseudonym: string;
    resident: {
      name: string;
      phone: string;
      maskedName: string;
      access: string;
      refresh: string;
      accessExpiresAt: string;
      accessMinutes: number;
    };
  };
  lines: string[];
}

/** A non-2xx answer from the service. */
export class DemoHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'DemoHttpError';
  }
}

// The service's JSON, read loosely: the demo only picks a few fields out of each answer.
type Json = any;

interface CallOptions {
  token?: string;
  json?: unknown;
  headers?: Record<string, string>;
}

function client(base: string) {
  return async (method: string, path: string, opts: CallOptions = {}): Promise<{ status: number; body: Json }> => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: string | undefined;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers['content-type'] = 'application/json';
    }
    const res = await fetch(base + path, { method, headers, body, signal: AbortSignal.timeout(60_000) });
    const text = await res.text();
    const parsed = (res.headers.get('content-type') ?? '').includes('json') && text ? JSON.parse(text) : undefined;
    if (res.status >= 400) {
      throw new DemoHttpError(
        res.status,
        parsed?.error?.code,
        `${method} ${path} → ${res.status} ${parsed?.error?.code ?? ''}: ${parsed?.error?.message ?? text.slice(0, 200)}`,
      );
    }
    return { status: res.status, body: parsed };
  };
}

/** Runs `fn` over `items` with at most `n` in flight; after a failure no new item starts. */
async function each<T>(items: readonly T[], n: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        await fn(items[i], i);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}

const DAY = 86_400_000;
/** A YYYY-MM-DD day on the Asia/Shanghai calendar. */
const shanghaiDate = (ms: number) => new Date(ms + 8 * 3_600_000).toISOString().slice(0, 10);
const iso = (ms: number) => new Date(ms).toISOString();
const oneDecimal = (x: number) => Math.round(x * 10) / 10;

interface Site extends VenuePlan {
  id: string;
  code: string;
  /** The token that runs it: its operator's, or the health authority's for a venue found from an earlier run. */
  actor: string;
  created: boolean;
}

interface Resident {
  person: Person;
  pseudonym: string;
  /** The resident's session, as their app holds it; replaced when the access token is refreshed. */
  session: ResidentSession;
  refreshing?: Promise<void>;
  colour: Colour;
  masked: string;
}

/** The service is not set up the way seeding needs (its limits, its outbox); the message says what to change. */
export class DemoSetupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DemoSetupError';
  }
}

/** A resident the demo could not sign in, and why: `ID_HELD` when another account of the provider holds the ID. */
class SignInSkipped extends Error {}

/**
 * Signs a demo resident in; a failure says which setting of the service at `base` is in the
 * way. An ID that another provider account holds (another seed's resident with the same
 * number) is skipped, as an application under another name used to be.
 */
async function signInResident(
  base: string,
  p: Person,
  codes: string | CodeReader,
  n: number,
): Promise<ResidentSession> {
  try {
    return await signIn(base, { idType: 'resident-id', idNumber: p.idNumber, name: p.name, phone: p.phone }, { codes });
  } catch (e) {
    const who = `resident ${p.index} (${maskPhone(p.phone)})`;
    const needs = Object.entries(demoLimits(n))
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    const limits = `Seeding ${n} residents from one address needs at least ${needs} within the limits' windows: start the service with those (npm run demo does this for its own service) or seed fewer with --residents N`;
    if (e instanceof DriveError && e.step === 'confirm' && e.code === 'CODE_NOT_FOUND')
      throw new SignInSkipped('ID_HELD');
    if (e instanceof DriveError && e.code === 'TOO_MANY_REQUESTS') {
      const which =
        {
          phone: 'IDP_SENDS_PER_ADDRESS or IDP_SENDS_PER_PHONE',
          signup: 'IDP_SIGNUPS_PER_ADDRESS or IDP_SENDS_PER_ADDRESS',
        }[e.step as string] ?? 'IDP_CHECKS_PER_ADDRESS';
      throw new DemoSetupError(
        `the identity provider of ${base} refused to sign in ${who}: over its limit ${which}. ${limits}`,
        { cause: e },
      );
    }
    if (e instanceof DriveError && e.step === 'code' && e.code === 'CODE_NOT_FOUND') {
      const where = typeof codes === 'string' ? codes : 'the code reader';
      throw new DemoSetupError(
        `no sign-in code for ${who} reached ${where}. It must be the development SMS outbox of the service at ${base} (its DATA_DIR/sms-outbox.jsonl), ` +
          'and that service must sign residents in through its embedded provider and write codes to the outbox (no OIDC_ISSUER, no SMS_GATEWAY_URL)',
        { cause: e },
      );
    }
    if (/answered 429/.test((e as Error).message))
      throw new DemoSetupError(`${base} refused to sign in ${who}: over its limit RATE_SIGNIN_PER_ADDRESS. ${limits}`, {
        cause: e,
      });
    throw new Error(`signing in ${who} at ${base} failed: ${(e as Error).message}`, { cause: e });
  }
}

const POLICY_OVERRIDES = [
  {
    id: 'yaohai-crowded-places',
    venueType: 'crowded-place',
    district: RISK.high,
    rules: [
      {
        id: 'yellow-code-denied',
        decision: 'deny',
        reason: {
          zh: '高风险地区人员密集场所暂停黄码人员进入',
          en: 'Crowded places in the high-risk district: no entry with a yellow code',
        },
        when: { '==': [{ var: 'colour' }, 'yellow'] },
      },
      {
        id: 'temperature-required',
        decision: 'refer',
        reason: { zh: '高风险地区：请先测量体温', en: 'High-risk district: take the temperature first' },
        when: { and: [{ '==': [{ var: 'colour' }, 'green'] }, { '!': { var: 'temperatureTaken' } }] },
      },
    ],
  },
  {
    id: 'transport-temperature',
    venueType: 'transport',
    rules: [
      {
        id: 'temperature-required',
        decision: 'refer',
        reason: {
          zh: '交通出行实行“安康码+体温测量”，请先测温',
          en: 'Transport checks code and temperature: take the temperature first',
        },
        when: { and: [{ '==': [{ var: 'colour' }, 'green'] }, { '!': { var: 'temperatureTaken' } }] },
      },
    ],
  },
];

const NEW_RULE_ID = 'taste-or-smell-loss';
const NEW_RULE = {
  id: NEW_RULE_ID,
  colour: 'yellow',
  reason: { zh: '7天内申报嗅觉或味觉减退', en: 'Loss of smell or taste declared within 7 days' },
  when: { and: [{ in: ['loss-of-taste', { var: 'symptoms' }] }, { '<': [{ var: 'declarationDaysAgo' }, 7] }] },
};

const SYMPTOMS = [['cough'], ['fatigue'], ['cough', 'sore-throat'], ['loss-of-taste'], ['diarrhoea']];

/**
 * Seeds a running service with a small, realistic province and returns what it made.
 * Talks only to the HTTP API. Throws DemoHttpError on an answer it did not expect.
 */
export async function seedDemo(opts: SeedOptions): Promise<DemoResult> {
  const started = Date.now();
  const log = opts.log ?? (() => undefined);
  const advanceTo = async (hour: number) => {
    await opts.advanceTo?.(hour);
  };
  const seed = opts.seed ?? 1;
  const n = opts.residents ?? DEFAULT_RESIDENTS;
  const par = opts.concurrency ?? 8;
  if (!Number.isSafeInteger(n) || n < 20) throw new RangeError('the demo province needs at least 20 residents');
  if (n > MAX_RESIDENTS)
    throw new RangeError(
      `the demo province has at most ${MAX_RESIDENTS} residents: their phone numbers must differ in their last four digits`,
    );
  const base = opts.url.replace(/\/$/, '');
  const call = client(base);
  const admin = opts.adminToken;

  const health0 = await call('GET', '/healthz');
  log(`Ankang at ${base}: issuer ${health0.body.issuer}, ledger at event ${health0.body.ledger.seq}`);

  // Tokens.
  const alive = async (token: string | undefined, method: string, path: string, json?: unknown) => {
    if (!token) return false;
    try {
      await call(method, path, { token, json });
      return true;
    } catch (e) {
      if (!(e instanceof DemoHttpError)) throw e;
      return e.status !== 401;
    }
  };
  const mint = async (role: string, name: string, extra: { source?: string; scope?: Record<string, string[]> } = {}) =>
    (await call('POST', '/v1/admin/tokens', { token: admin, json: { role, name, ...extra } })).body.token as string;
  const old = opts.tokens;
  let reusedTokens = 0;
  const keep = async (t: string | undefined, probe: [string, string, unknown?], make: () => Promise<string>) => {
    if (await alive(t, ...probe)) {
      reusedTokens++;
      return t!;
    }
    return make();
  };
  const operatorNames: Record<OperatorType, string> = {
    'residential-community': '社区门岗（住宅小区）',
    enterprise: '企业复工复产专员',
    'crowded-place': '商超餐饮景区宾馆值守',
    'public-service': '政务医疗银行网点核验员',
    transport: '站场公交出租核验员',
    school: '校门健康核验员',
  };
  const health = await keep(old?.health, ['GET', '/v1/appeals?limit=1'], () =>
    mint('health', '省卫生健康委 流调与复核 (demo)'),
  );
  // Operator tokens of a demo from before token scopes (no `border` token beside them) carry no scope: they are replaced.
  const scoped = old?.border !== undefined;
  const operators = {} as Record<OperatorType, string>;
  for (const t of OPERATOR_VENUE_TYPES) {
    operators[t] = await keep(scoped ? old?.operators?.[t] : undefined, ['GET', '/v1/venues'], () =>
      mint('operator', `${operatorNames[t]} (demo)`, { scope: { venueTypes: [t], districts: ['340000'] } }),
    );
  }
  const feeds = {} as Record<FeedSource, string>;
  const feedNames: Record<FeedSource, string> = {
    health: '省卫生健康委 病例数据',
    telecom: '省通信管理局 密接研判',
    'public-security': '省公安厅 入境人员',
  };
  for (const s of FEED_SOURCES)
    feeds[s] = await keep(old?.feeds?.[s], ['POST', '/v1/feeds/cases', {}], () =>
      mint('feed', `${feedNames[s]} (demo)`, { source: s }),
    );
  const grid = await keep(old?.grid, ['GET', '/v1/grid/residents?limit=1'], () =>
    mint('grid', `${GRID_DISTRICTS.map((d) => regionName(d)).join('、')}网格员 (demo)`, {
      scope: { districts: [...GRID_DISTRICTS] },
    }),
  );
  const auditor = await keep(old?.auditor, ['GET', '/v1/proofs/events/1'], () => mint('auditor', '审计员 (demo)'));
  const sectorNames: Record<SectorToken, string> = {
    hrss: '省人力资源和社会保障厅 电子社保卡',
    'medical-insurance': '省医疗保障局 医保电子凭证',
    'government-services': '省政务服务管理局 亮码办事',
    transport: '省交通运输厅 公交地铁',
    payment: '码上支付 替身支付机构',
  };
  const sectors = {} as Record<SectorToken, string>;
  for (const s of SECTOR_TOKEN_SOURCES)
    sectors[s] = await keep(old?.sectors?.[s], ['POST', '/v1/feeds/cases', {}], () =>
      mint('feed', `${sectorNames[s]} (demo)`, { source: s }),
    );
  const tokenCount = 3 + OPERATOR_VENUE_TYPES.length + FEED_SOURCES.length + SECTOR_TOKEN_SOURCES.length;
  log(
    `tokens: ${reusedTokens ? `${reusedTokens} reused, ` : ''}${tokenCount - reusedTokens} created (health, ${OPERATOR_VENUE_TYPES.length} operators, ${FEED_SOURCES.length} feeds, ${SECTOR_TOKEN_SOURCES.length} sector authorities, grid, auditor)`,
  );
  const provider = opts.paymentProvider ? await opts.paymentProvider(sectors.payment) : undefined;
  if (provider)
    log(
      `码上支付: the stand-in payment provider ${provider.id} (not a real one; it moves no money) listens on ${provider.url}`,
    );

  /** The service's clock (tests run it standing still): every date the demo sends is relative to it. */
  const serviceNow = async () => Date.parse((await call('GET', '/v1/stats/colours', { token: health })).body.at);
  const t0 = await serviceNow();

  // Risk areas (分区分级).
  const since = iso(t0 - 3 * DAY);
  await call('POST', '/v1/feeds/risk-areas', {
    token: health,
    json: {
      areas: [
        { region: RISK.high, level: 'high', since },
        ...RISK.medium.map((region) => ({ region, level: 'medium', since })),
      ],
    },
  });
  log(`risk areas: ${regionName(RISK.high)} high, ${RISK.medium.map((d) => regionName(d)).join('、')} medium`);

  // Venues.
  const keyOf = (x: { type: string; name: string; district: string }) => `${x.type}|${x.name}|${x.district}`;
  const existing = new Map<string, { id: string; code: string; actor: string }>();
  for (const t of OPERATOR_VENUE_TYPES) {
    for (const x of (await call('GET', '/v1/venues', { token: operators[t] })).body.venues)
      if (!existing.has(keyOf(x))) existing.set(keyOf(x), { id: x.id, code: x.code, actor: operators[t] });
  }
  for (const x of (await call('GET', '/v1/venues', { token: health })).body.venues)
    if (!existing.has(keyOf(x))) existing.set(keyOf(x), { id: x.id, code: x.code, actor: health });
  const sites: Site[] = [];
  await each(VENUES, par, async (plan) => {
    const found = existing.get(keyOf(plan));
    if (found) {
      sites.push({ ...plan, ...found, created: false });
      return;
    }
    const body = {
      type: plan.type,
      subtype: plan.subtype,
      name: plan.name,
      district: plan.district,
      requireTemperature: !!plan.requireTemperature,
      ...(plan.vehicle ? { vehicle: plan.vehicle } : {}),
    };
    // Border posts are registered by the health authority, never by an operator.
    const registrar = plan.type === 'border' ? health : operators[plan.type];
    const r = await call('POST', '/v1/venues', { token: registrar, json: body });
    sites.push({ ...plan, id: r.body.id, code: r.body.code, actor: registrar, created: true });
  });
  sites.sort((a, b) => VENUES.findIndex((x) => x.key === a.key) - VENUES.findIndex((x) => x.key === b.key));
  // Public security at the border posts: a border token scoped to them scans and codes travellers there.
  const posts = sites.filter((s) => s.type === 'border');
  // An earlier run's border token covers the posts it found; a post registered now needs a new token.
  const border = await keep(
    posts.some((s) => s.created) ? undefined : old?.border,
    ['GET', `/v1/venues/${posts[0].id}`],
    () => mint('border', '口岸与省界检查站 公安边检 (demo)', { scope: { venues: posts.map((s) => s.id) } }),
  );
  for (const s of posts) s.actor = border;
  const tokens: DemoTokens = { health, operators, border, feeds, grid, auditor, sectors };
  const site = (key: string) => sites.find((s) => s.key === key)!;
  const createdVenues = sites.filter((s) => s.created).length;
  log(
    `venues: ${sites.length} (${createdVenues} registered, ${sites.length - createdVenues} found from an earlier run) in ${new Set(sites.map((s) => cityCodeOf(s.district))).size} cities`,
  );
  log(
    `border posts: ${posts.map((s) => s.name).join('、')}, registered by the health authority; a border token scoped to them scans and codes travellers there`,
  );

  // Admission policies v2: district and type overrides (实时调整规则).
  const currentPolicies = (await call('GET', '/v1/policies')).body;
  let policies = { version: currentPolicies.version as number, published: false };
  const haveOverrides = new Set((currentPolicies.policySet.overrides as Array<{ id: string }>).map((o) => o.id));
  if (!POLICY_OVERRIDES.every((o) => haveOverrides.has(o.id))) {
    const doc = currentPolicies.policySet;
    const next = {
      ...doc,
      description: {
        zh: `${doc.description.zh}（演示：瑶海区人员密集场所暂停黄码进入；交通场所须测温）`,
        en: `${doc.description.en} (demo: no yellow codes at crowded places in Yaohai; transport takes temperatures)`,
      },
      overrides: [
        ...doc.overrides.filter((o: { id: string }) => !POLICY_OVERRIDES.some((p) => p.id === o.id)),
        ...POLICY_OVERRIDES,
      ],
    };
    policies = {
      version: (await call('PUT', '/v1/policies', { token: health, json: next })).body.version,
      published: true,
    };
  }
  log(
    `policies: version ${policies.version}${policies.published ? ' published (overrides for 瑶海区 crowded places and transport)' : ' already current'}`,
  );

  // Residents (申领).
  await advanceTo(6.5);
  const profiles = profilesFor(seed, n);
  const taken = new Set<string>();
  const people = profiles.map((p, i) => personAt(seed, i, p, taken));
  const declarationOf = (p: Person) => {
    const r = rngFor(seed, 'declaration', p.index);
    const normal = oneDecimal(36.1 + r() * 0.8);
    const visitedDate = (daysAgo: number) => shanghaiDate(t0 - daysAgo * DAY);
    const travel = r() < 0.15 ? [{ region: pick(r, TRAVEL_REGIONS), date: visitedDate(2 + Math.floor(r() * 8)) }] : [];
    switch (p.profile) {
      case 'fever':
        return {
          temperatureC: oneDecimal(37.4 + r() * 0.9),
          symptoms: r() < 0.5 ? ['fever'] : [],
          visited: travel,
          contactWithCase: false,
        };
      case 'symptoms':
        return { temperatureC: normal, symptoms: pick(r, SYMPTOMS), visited: travel, contactWithCase: false };
      case 'medium-visit':
        return {
          temperatureC: normal,
          symptoms: [],
          visited: [{ region: pick(r, RISK.medium), date: visitedDate(5) }],
          contactWithCase: false,
        };
      case 'high-visit':
        return {
          temperatureC: normal,
          symptoms: [],
          visited: [{ region: RISK.high, date: visitedDate(3) }],
          contactWithCase: false,
        };
      case 'declared-contact':
        return { temperatureC: normal, symptoms: [], visited: travel, contactWithCase: true };
      default:
        return { temperatureC: normal, symptoms: [], visited: travel, contactWithCase: false };
    }
  };
  const residents: Array<Resident | undefined> = new Array(n);
  let created = 0;
  let skipped = 0;
  await each(people, opts.signInConcurrency ?? 8, async (p) => {
    let session: ResidentSession;
    try {
      session = await signInResident(base, p, opts.codes, n);
    } catch (e) {
      if (!(e instanceof SignInSkipped)) throw e;
      skipped++;
      return;
    }
    // The ID, name and ID type come from the signed-in identity; the body gives the rest.
    const body = { phone: p.phone, district: p.district, declaration: declarationOf(p) };
    try {
      const r = await call('POST', '/v1/residents', { token: session.access, json: body });
      if (r.status === 201) created++;
      residents[p.index] = {
        person: p,
        pseudonym: r.body.resident.pseudonym,
        session,
        colour: r.body.resident.colour,
        masked: `${r.body.resident.maskedName}（${r.body.resident.maskedId.slice(-4)}）`,
      };
    } catch (e) {
      // Another seed may have given this ID number to someone of another name.
      if (e instanceof DemoHttpError && e.code === 'IDENTITY_MISMATCH') skipped++;
      else throw e;
    }
  });
  const all = residents.filter((r): r is Resident => !!r);
  const at = (i: number) => {
    const r = residents[i];
    if (!r) throw new Error(`resident ${i} of the story could not apply (seed ${seed}); try another seed`);
    return r;
  };
  const colourCount = (xs: Resident[]) =>
    xs.reduce((c, r) => ({ ...c, [r.colour]: c[r.colour] + 1 }), { green: 0, yellow: 0, red: 0 } as Record<
      Colour,
      number
    >);
  const c0 = colourCount(all);
  log(
    `residents: ${all.length} signed in through the identity provider, each with their own phone, and applied (${created} new${skipped ? `, ${skipped} skipped: ID taken under another name or by another account` : ''}) in ${new Set(all.map((r) => cityCodeOf(r.person.district))).size} cities — green ${c0.green}, yellow ${c0.yellow}, red ${c0.red}`,
  );

  /**
   * A request as the resident's app sends it: with the session's access token, refreshed
   * once when it has expired (it lives SESSION_ACCESS_MINUTES, and the story's clock moves by hours).
   */
  let refreshed = 0;
  const asResident = async (res: Resident, method: string, path: string, o: Omit<CallOptions, 'token'> = {}) => {
    const used = res.session.access;
    try {
      return await call(method, path, { ...o, token: used });
    } catch (e) {
      if (!(e instanceof DemoHttpError && e.code === 'TOKEN_EXPIRED')) throw e;
    }
    if (res.session.access === used) {
      res.refreshing ??= call('POST', '/v1/auth/refresh', { json: { refreshToken: res.session.refresh } })
        .then((r) => {
          res.session = { access: r.body.accessToken, refresh: r.body.refreshToken };
          refreshed++;
        })
        .finally(() => (res.refreshing = undefined));
      await res.refreshing;
    }
    return call(method, path, { ...o, token: res.session.access });
  };

  // Scans.
  const scans = {
    self: 0,
    staff: 0,
    replayed: 0,
    decisions: { admit: 0, refer: 0, deny: 0 } as Record<Decision, number>,
    byVenueType: {} as Record<string, number>,
  };
  const tally = (out: Json, s: Site, method: 'self' | 'staff') => {
    if (out.replayed) {
      scans.replayed++;
      return out;
    }
    scans[method]++;
    scans.decisions[out.decision as Decision]++;
    scans.byVenueType[s.type] = (scans.byVenueType[s.type] ?? 0) + 1;
    return out;
  };
  const selfCheckin = async (res: Resident, s: Site, temperatureC?: number) =>
    tally(
      (
        await asResident(res, 'POST', '/v1/checkins', {
          json: { venueCode: s.code, ...(temperatureC === undefined ? {} : { temperatureC }) },
        })
      ).body,
      s,
      'self',
    );
  const staffScan = async (s: Site, body: { code?: string; temperatureC?: number; certificateNo?: string }) =>
    tally((await call('POST', '/v1/scans', { token: s.actor, json: { venueId: s.id, ...body } })).body, s, 'staff');
  /** The resident's code as they would show it now: on paper for the oldest (老人纸质码), else on the phone. */
  const codeOf = async (
    res: Resident,
    mode: 'dynamic' | 'printed' = res.person.birthYear < 1950 ? 'printed' : 'dynamic',
  ) => {
    const r = await asResident(res, 'GET', `/v1/residents/me/code?mode=${mode}`);
    res.colour = r.body.colour;
    return r.body.code as string;
  };
  const temperatureOf = (res: Resident, r: () => number) =>
    res.person.profile === 'fever' ? oneDecimal(37.4 + r() * 0.8) : r() < 0.02 ? 37.4 : oneDecimal(36.1 + r() * 0.8);

  const special = new Set<number>([ROLE.case, ...ROLE.family, ROLE.colleague, ROLE.inbound]);
  const healthy = all.filter((r) => r.person.profile === 'healthy' && !special.has(r.person.index));

  // 多功能: the sector authorities open their desks and link cards; a few residents pause a purpose.
  await advanceTo(7);
  const services = new ServicesDay<Resident>({
    base,
    seed,
    par,
    log,
    call,
    asResident,
    codeOf,
    each,
    residents: all,
    sample: at(FIRST_ORDINARY),
    reserved: special,
    venue: (key) => site(key),
    sectors: { health: feeds.health, ...sectors },
    desks: old?.desks,
    provider,
  });
  await services.open();
  tokens.desks = Object.fromEntries(services.result().desks.map((d) => [d.key, { id: d.id, token: d.token }]));

  // The case's morning (before anyone knew): a restaurant, bus 226, a department store; a few others were there too.
  await advanceTo(7.5);
  const theCase = at(ROLE.case);
  const caseR = rngFor(seed, 'case', 0);
  const coVisitors: Resident[] = [];
  const pool = [...healthy];
  for (const key of CASE_PATH) {
    const s = site(key);
    if (s.subtype === 'mall') {
      await staffScan(s, { code: await codeOf(theCase, 'dynamic'), temperatureC: 36.7 });
    } else await selfCheckin(theCase, s, 36.6);
    const here = pool.splice(0, 3 + Math.floor(caseR() * 2));
    coVisitors.push(...here);
    for (const res of here) {
      if (s.subtype === 'mall')
        await staffScan(s, { code: await codeOf(res), temperatureC: temperatureOf(res, caseR) });
      else await selfCheckin(res, s, caseR() < 0.7 ? temperatureOf(res, caseR) : undefined);
    }
  }

  // Work and school: rosters (凭码上岗, 有码认码), the day's health check-in, then the gate.
  await advanceTo(8);
  const onRoster = new Set<number>([...coVisitors.map((r) => r.person.index)]);
  const AGES: Partial<Record<string, [number, number]>> = {
    enterprise: [1966, 2004],
    worksite: [1966, 2002],
    park: [1966, 2004],
    university: [1998, 2007],
    'middle-school': [2008, 2013],
    'primary-school': [2013, 2019],
    kindergarten: [2019, 2022],
  };
  let joined = 0;
  let dailyCheckins = 0;
  const rosterSites = sites.filter((s) => s.type === 'enterprise' || s.type === 'school');
  for (const s of rosterSites) {
    const [lo, hi] = AGES[s.subtype] ?? [1966, 2004];
    const fits = (r: Resident) => !onRoster.has(r.person.index) && r.person.birthYear >= lo && r.person.birthYear <= hi;
    const city = cityCodeOf(s.district);
    const want = Math.max(s.type === 'school' ? 2 : 3, Math.round(n * 0.03));
    const members = [
      ...healthy.filter((r) => fits(r) && cityCodeOf(r.person.district) === city),
      ...healthy.filter((r) => fits(r) && cityCodeOf(r.person.district) !== city),
    ];
    // Teachers and staff when there are too few pupils of the age in a small province.
    if (members.length < want)
      members.push(
        ...healthy.filter(
          (r) =>
            !onRoster.has(r.person.index) &&
            !members.includes(r) &&
            r.person.birthYear >= 1966 &&
            r.person.birthYear <= 2004,
        ),
      );
    const chosen = members.slice(0, want);
    for (const r of chosen) onRoster.add(r.person.index);
    await each(chosen, par, async (res, k) => {
      await asResident(res, 'POST', `/v1/venues/${s.id}/roster`, { json: { venueCode: s.code } });
      joined++;
      const r = rngFor(seed, `roster:${s.key}`, res.person.index);
      // Most do the day's check-in; the last of the first enterprise reports a fever.
      const fever = s.key === rosterSites[0].key && k === chosen.length - 1;
      if (k === 0 || fever || r() < 0.85) {
        await asResident(res, 'POST', '/v1/checkins/daily', {
          json: { temperatureC: fever ? 37.6 : oneDecimal(36.2 + r() * 0.6), symptoms: fever ? ['fever'] : [] },
        });
        dailyCheckins++;
      }
      await staffScan(s, { code: await codeOf(res), temperatureC: fever ? 37.6 : oneDecimal(36.2 + r() * 0.6) });
    });
  }

  // 有单认单: a kindergarten and a primary school take registered paper certificates; one number was never registered.
  const validUntil = shanghaiDate(t0 + 30 * DAY);
  for (const key of ['hf-kindergarten', 'xc-primary']) {
    const s = site(key);
    for (let i = 1; i <= 2; i++) {
      const certificateNo = `JK${shanghaiDate(t0).slice(0, 4)}-${key === 'hf-kindergarten' ? 'HF' : 'XC'}-${String(seed).padStart(3, '0')}${i}`;
      await call('POST', `/v1/venues/${s.id}/certificates`, { token: s.actor, json: { certificateNo, validUntil } });
      await staffScan(s, { certificateNo, temperatureC: 36.5 });
    }
  }
  await staffScan(site('hf-kindergarten'), { certificateNo: 'JK0000-NONE-0000', temperatureC: 36.6 });

  // Everyone's errands: the home gate, then shops, transport and offices, mostly in their own city.
  const exclude = new Set<string>(CASE_PATH);
  const errandSites = sites.filter(
    (s) =>
      !exclude.has(s.key) && ['residential-community', 'crowded-place', 'public-service', 'transport'].includes(s.type),
  );
  const inCity = (type: VenueType, city: string) =>
    errandSites.filter((s) => s.type === type && cityCodeOf(s.district) === city);
  const homeGate = (res: Resident) => {
    const city = cityCodeOf(res.person.district);
    const gates = inCity('residential-community', city);
    return gates.find((g) => g.district === res.person.district) ?? gates[0];
  };
  const errands = all.filter((r) => r.person.index !== ROLE.case);
  // From 09:00 to 16:00 in steps; a resident's errands (and the code they show) stay inside one step.
  const ERRAND_STEPS = 14;
  const perStep = Math.ceil(errands.length / ERRAND_STEPS);
  const steps = Math.ceil(errands.length / perStep);
  const errand = async (res: Resident) => {
    const r = rngFor(seed, 'errands', res.person.index);
    const kid = res.person.birthYear >= 2010;
    const stops = kid ? 1 + Math.floor(r() * 2) : 2 + Math.floor(r() * 4);
    const visits: Site[] = [];
    if (r() < 0.8) visits.push(homeGate(res));
    while (visits.length < stops) {
      const type = weighted(r, [
        ['crowded-place', 35],
        ['transport', 30],
        ['public-service', 25],
        ['residential-community', 10],
      ] as const);
      const city = r() < 0.75 ? cityCodeOf(res.person.district) : pick(r, CITIES).code;
      const choices = inCity(type, city).length ? inCity(type, city) : errandSites.filter((s) => s.type === type);
      const s = pick(r, choices);
      if (!visits.includes(s)) visits.push(s);
      else if (r() < 0.3) break;
    }
    let code: string | undefined;
    for (const s of visits) {
      const staff =
        s.type === 'public-service' ||
        (s.type === 'transport' && !['bus', 'taxi'].includes(s.subtype)) ||
        (s.type === 'crowded-place' && r() < 0.3);
      const takeTemperature = s.requireTemperature || s.type === 'residential-community' || r() < 0.6;
      const t = takeTemperature ? temperatureOf(res, r) : undefined;
      if (staff) {
        code ??= await codeOf(res);
        await staffScan(s, { code, ...(t === undefined ? {} : { temperatureC: t }) });
      } else await selfCheckin(res, s, t);
    }
  };
  for (let step = 0; step * perStep < errands.length; step++) {
    await advanceTo(9 + (7 * step) / ERRAND_STEPS);
    await each(errands.slice(step * perStep, (step + 1) * perStep), par, errand);
    // Meanwhile at the service desks.
    await services.lookups(step, steps);
  }

  // Who the policies and rules are for, one of each: a yellow code at the Yaohai market (override),
  // a fever at the provincial hospital, red codes at the station and on the metro.
  await advanceTo(16.25);
  const firstOf = (profile: Person['profile']) =>
    all.find((r) => r.person.profile === profile && !special.has(r.person.index));
  const stories: Array<[Resident | undefined, string, 'self' | 'staff', number]> = [
    [firstOf('symptoms'), 'hf-market', 'self', 36.8],
    [firstOf('fever'), 'hf-hospital', 'staff', 38.1],
    [firstOf('high-visit'), 'hf-station', 'staff', 36.5],
    [firstOf('declared-contact'), 'hf-metro', 'staff', 36.6],
  ];
  for (const [res, key, method, t] of stories) {
    if (!res) continue;
    if (method === 'self') await selfCheckin(res, site(key), t);
    else await staffScan(site(key), { code: await codeOf(res, 'dynamic'), temperatureC: t });
  }

  // The provincial checkpoint on the G3: drivers crossing from Jiangsu.
  await advanceTo(16.5);
  const drivers = healthy.filter((r) => !onRoster.has(r.person.index)).slice(-Math.max(3, Math.round(n * 0.04)));
  await each(drivers, par, async (res) => {
    await staffScan(site('sz-checkpoint'), {
      code: await codeOf(res),
      temperatureC: temperatureOf(res, rngFor(seed, 'g3', res.person.index)),
    });
  });

  // Inbound travellers at the airport port (入境发码).
  await advanceTo(17);
  const port = site('hf-port-of-entry');
  let entries = 0;
  for (let i = 0; i < 2; i++) {
    const t = travellerAt(seed, i);
    const body = {
      venueId: port.id,
      idType: t.idType,
      idNumber: t.idNumber,
      name: t.name,
      phone: t.phone,
      from: t.from,
      destination: i === 0 ? '340104' : '340202',
      temperatureC: 36.5,
    };
    const r = await call('POST', '/v1/border/entries', {
      token: port.actor,
      json: body,
      headers: { 'idempotency-key': `demo-entry-${seed}-${i}-${t.idNumber}` },
    });
    entries++;
    await staffScan(port, { code: r.body.printedCode.code, temperatureC: 36.5 });
  }
  log(`border: ${entries} inbound travellers registered at ${port.name} (printed codes, red: centralised quarantine)`);
  log(
    `scans so far: ${scans.self} self check-ins, ${scans.staff} staff scans${scans.replayed ? `, ${scans.replayed} replays` : ''}; ${joined} roster members, ${dailyCheckins} daily check-ins`,
  );

  // Feeds: an inbound traveller, the confirmed case, close contacts.
  await advanceTo(17.5);
  // The case's wife keeps the code she has on her phone now; the close-contacts feed is about to make it stale.
  const wife = at(ROLE.family[0]);
  const wifeEarlierCode = await codeOf(wife, 'dynamic');
  const idOf = (r: Resident) => ({ idType: 'resident-id', idNumber: r.person.idNumber });
  await call('POST', '/v1/feeds/inbound-travellers', {
    token: feeds['public-security'],
    json: { records: [{ ...idOf(at(ROLE.inbound)), arrivedAt: iso(t0 - 16 * DAY), from: 'JP' }] },
  });
  await call('POST', '/v1/feeds/cases', {
    token: feeds.health,
    json: { records: [{ ...idOf(theCase), status: 'confirmed', at: iso(t0 - 3_600_000) }] },
  });
  await call('POST', '/v1/feeds/close-contacts', {
    token: feeds.telecom,
    json: {
      records: [
        ...ROLE.family.map((i) => ({ ...idOf(at(i)), degree: 1, exposedAt: iso(t0 - DAY) })),
        { ...idOf(at(ROLE.colleague)), degree: 2, exposedAt: iso(t0 - 2 * DAY) },
      ],
    },
  });
  log(
    `feeds: 1 inbound traveller (public-security), 1 confirmed case ${theCase.masked} (health), 2 close and 1 secondary contact (telecom)`,
  );

  // Tracing (流调): who was where the case was, marked as close contacts.
  const t1 = await serviceNow();
  const traced = (
    await call('POST', '/v1/tracing', {
      token: health,
      json: {
        pseudonym: theCase.pseudonym,
        from: iso(t1 - DAY),
        to: iso(t1),
        intervalMinutes: 60,
        markCloseContacts: true,
      },
    })
  ).body;
  log(
    `tracing: the case visited ${traced.venues.length} venues; ${traced.contacts.length} contacts found and marked as close contacts`,
  );

  // Rules v2: a live rule change (实时调整规则).
  const currentRules = (await call('GET', '/v1/rules')).body;
  let rules = { version: currentRules.version as number, published: false };
  if (!currentRules.ruleSet.rules.some((r: { id: string }) => r.id === NEW_RULE_ID)) {
    const doc = currentRules.ruleSet;
    const next = {
      ...doc,
      description: {
        zh: `${doc.description.zh}（演示第2版：次密接黄码期由7天延长至14天；新增7天内嗅觉味觉减退为黄码）`,
        en: `${doc.description.en} (demo version 2: secondary contacts stay yellow for 14 days instead of 7; loss of smell or taste within 7 days is yellow)`,
      },
      rules: [
        ...doc.rules.map((r: Json) =>
          r.id === 'secondary-contact'
            ? {
                ...r,
                reason: { zh: '次密切接触者，暴露后14天内', en: 'Secondary contact, within 14 days of exposure' },
                when: { and: [{ '==': [{ var: 'contactDegree' }, 2] }, { '<': [{ var: 'contactDaysAgo' }, 14] }] },
              }
            : r,
        ),
        NEW_RULE,
      ],
    };
    rules = { version: (await call('PUT', '/v1/rules', { token: health, json: next })).body.version, published: true };
  }
  log(
    `rules: version ${rules.version}${rules.published ? ' published (secondary contacts 14 days; loss of smell or taste)' : ' already current'}`,
  );

  // Evening: marked contacts are turned back at their own gates.
  const byPseudonym = new Map(all.map((r) => [r.pseudonym, r]));
  const turnedBack = (traced.contacts as Array<{ pseudonym: string }>)
    .map((c) => byPseudonym.get(c.pseudonym))
    .filter((r): r is Resident => !!r)
    .slice(0, 3);
  for (const res of turnedBack)
    await staffScan(homeGate(res), { code: await codeOf(res, 'dynamic'), temperatureC: 36.6 });
  // The case's wife shows that earlier code at the station: refused, its colour changed since (REVOKED).
  await staffScan(site('hf-station'), { code: wifeEarlierCode, temperatureC: 36.6 });

  // Appeals (12345 热线).
  await advanceTo(19);
  let decided = 0;
  const feverish = firstOf('fever');
  if (feverish) {
    let appealId: string | undefined;
    try {
      appealId = (
        await asResident(feverish, 'POST', '/v1/appeals', {
          json: { reason: '申报时刚跑完步，体温偏高；在家复测36.6℃，申请转为绿码', requestedColour: 'green' },
        })
      ).body.id;
    } catch (e) {
      if (!(e instanceof DemoHttpError && e.code === 'CONFLICT')) throw e;
      appealId = (
        (await asResident(feverish, 'GET', '/v1/residents/me/appeals')).body.appeals as Array<{
          id: string;
          status: string;
        }>
      ).find((a) => a.status === 'open')?.id;
    }
    if (appealId) {
      await call('POST', `/v1/appeals/${appealId}/decision`, {
        token: health,
        json: {
          decision: 'override',
          colour: 'green',
          until: iso(t0 + 2 * DAY),
          reason: '社区卫生服务中心上门复测体温36.5℃，无其他症状，予以转绿',
        },
      });
      decided++;
    }
  }
  const visitor = firstOf('high-visit');
  if (visitor) {
    try {
      await asResident(visitor, 'POST', '/v1/appeals', {
        json: { reason: '只是开车途经瑶海区，没有下车停留，申请复核', requestedColour: 'green' },
      });
    } catch (e) {
      if (!(e instanceof DemoHttpError && e.code === 'CONFLICT')) throw e;
    }
  }
  const openAppeals = (await call('GET', '/v1/appeals?status=open', { token: health })).body.appeals.length as number;
  const decidedAppeals = (await call('GET', '/v1/appeals?status=decided', { token: health })).body.appeals
    .length as number;
  log(`appeals: ${decided} decided now (override to green for 2 days), ${openAppeals} open in the queue`);

  // Grid follow-up (大数据+网格化).
  const gridList = (await call('GET', '/v1/grid/residents', { token: grid })).body;
  let gridVisits = 0;
  for (const g of (
    gridList.residents as Array<{ pseudonym: string; colour: Colour; reasons: Array<{ id: string }> }>
  ).slice(0, 6)) {
    const ids = g.reasons.map((x) => x.id);
    const [outcome, note] = ids.includes('confirmed-or-suspected-case')
      ? ['sent-to-facility', '已由120转运至定点医院']
      : ids.includes('close-contact')
        ? ['sent-to-facility', '已转运至集中隔离点，家中已消杀']
        : g.colour === 'red'
          ? ['home-quarantine', '落实居家隔离，门口已张贴告知书']
          : ['verified', '上门核实，情况属实，已告知居家健康监测'];
    await call('POST', '/v1/grid/visits', { token: grid, json: { pseudonym: g.pseudonym, outcome, note } });
    gridVisits++;
  }
  log(
    `grid: ${gridList.total} red or yellow residents in ${GRID_DISTRICTS.map((d) => regionName(d)).join('、')}; ${gridVisits} home visits recorded`,
  );

  // What it all adds up to.
  const t2 = await serviceNow();
  const range = `from=${encodeURIComponent(iso(t2 - DAY))}&to=${encodeURIComponent(iso(t2 + 60_000))}`;
  const colourStats = (await call('GET', '/v1/stats/colours?by=city', { token: health })).body;
  const byType = (await call('GET', `/v1/stats/scans?by=venue-type&${range}`, { token: health })).body;
  const bySubtype = (await call('GET', `/v1/stats/scans?by=subtype&${range}`, { token: health })).body;
  const busiest = site('hf-station');
  const anchor = (await call('GET', '/v1/anchor/status')).body;
  const head = (await call('GET', '/v1/ledger/head')).body;

  // The story is over: the clock is real again, and the sample resident's app refreshes its session for the summary.
  await opts.endOfStory?.();
  await services.commute();
  log(`look-ups: ${services.tally()}`);
  const sampleResident = at(FIRST_ORDINARY);
  const fresh = (await call('POST', '/v1/auth/refresh', { json: { refreshToken: sampleResident.session.refresh } }))
    .body;
  sampleResident.session = { access: fresh.accessToken, refresh: fresh.refreshToken };
  const freshAt = await serviceNow();

  const result: DemoResult = {
    url: base,
    seed,
    dayClock: opts.advanceTo !== undefined,
    seconds: Math.round((Date.now() - started) / 100) / 10,
    tokens,
    residents: {
      total: all.length,
      created,
      skipped,
      cities: new Set(all.map((r) => cityCodeOf(r.person.district))).size,
      refreshed,
    },
    venues: {
      total: sites.length,
      created: createdVenues,
      reused: sites.length - createdVenues,
      types: new Set(sites.map((s) => s.type)).size,
      subtypes: new Set(sites.map((s) => `${s.type}/${s.subtype}`)).size,
    },
    scans,
    colours: { green: colourStats.total.green, yellow: colourStats.total.yellow, red: colourStats.total.red },
    rosters: { joined, dailyCheckins },
    tracing: {
      case: theCase.pseudonym,
      caseMasked: theCase.masked,
      venues: traced.venues.length,
      contacts: traced.contacts.length,
      marked: traced.marked,
    },
    appeals: { decided: decidedAppeals, open: openAppeals },
    grid: { listed: gridList.total, visits: gridVisits },
    border: { entries },
    services: services.result(),
    rules,
    policies,
    ledger: { seq: head.seq },
    anchor,
    sample: {
      venueId: busiest.id,
      venueName: busiest.name,
      casePseudonym: theCase.pseudonym,
      resident: {
        name: sampleResident.person.name,
        phone: sampleResident.person.phone,
        maskedName: sampleResident.masked,
        access: fresh.accessToken,
        refresh: fresh.refreshToken,
        accessExpiresAt: fresh.accessExpiresAt,
        accessMinutes: Math.round((Date.parse(fresh.accessExpiresAt) - freshAt) / 60_000),
      },
    },
    lines: [],
  };
  result.lines = summaryLines(
    result,
    admin,
    { byType: byType.groups, subtypes: bySubtype.groups.length, totalScans: byType.total },
    typeof opts.codes === 'string' ? opts.codes : "the service's outbox",
  );
  for (const l of result.lines) log(l);
  return result;
}

const envName = (s: string) => s.toUpperCase().replace(/-/g, '_');

/** The summary's 多功能 lines: desks, links, look-ups by outcome, fares. */
function servicesLines(s: ServicesResult): string[] {
  const venues = new Set(s.desks.map((d) => d.venueName)).size;
  const paused = Object.entries(s.paused);
  const outcomes = Object.entries(s.lookups.byOutcome).sort(([a], [b]) =>
    a === 'resolved' ? -1 : b === 'resolved' ? 1 : a.localeCompare(b),
  );
  const refused = Object.entries(s.fares.refused);
  return [
    `  desks      ${s.desks.length} at ${venues} venues, registered by their sector authorities (${s.desks.filter((d) => d.created).length} new): ${[...new Set(s.desks.map((d) => d.kind))].join(', ')}`,
    `  links      ${Object.entries(s.links.byKind)
      .map(([k, v]) => `${k} ${v}`)
      .join(
        ', ',
      )}${s.provider ? ` (payment accounts at the stand-in provider ${s.provider}, ${s.links.viaProvider} confirmed this run)` : ' (no payment provider)'}; ${paused.reduce((a, [, v]) => a + v, 0)} residents paused a purpose${paused.length ? ` (${paused.map(([k, v]) => `${k} ${v}`).join(', ')})` : ''}`,
    `  look-ups   ${s.lookups.total} this run: ${outcomes.map(([k, v]) => `${k} ${v}`).join(', ')}${s.provider ? ` · fares: ${s.fares.charged} charged (¥${(s.fares.fen / 100).toFixed(2)})${refused.length ? `, refused ${refused.map(([k, v]) => `${k} ${v}`).join(', ')}` : ''}` : ''}`,
  ];
}

function summaryLines(
  r: DemoResult,
  adminToken: string,
  stats: { byType: Array<{ key: string; count: number }>; subtypes: number; totalScans: number },
  codesAt: string,
): string[] {
  const u = r.url;
  const d = r.scans.decisions;
  const me = r.sample.resident;
  const shanghaiTime = (iso: string) => new Date(Date.parse(iso) + 8 * 3_600_000).toISOString().slice(11, 16);
  const anchor = r.anchor as { state?: string; checkpoint?: { treeSize?: number } | null };
  const q = (s: string) => `'${s}'`;
  const desk = r.services.desks[0];
  return [
    '',
    `Demo province seeded in ${r.seconds} s (seed ${r.seed}):`,
    `  residents  ${r.residents.total} signed in and applied, in ${r.residents.cities} cities — green ${r.colours.green}, yellow ${r.colours.yellow}, red ${r.colours.red}`,
    `  venues     ${r.venues.total} of ${r.venues.types} types and ${r.venues.subtypes} subtypes (${r.venues.created} new, ${r.venues.reused} from an earlier run)`,
    `  scans      ${stats.totalScans} in the last day: ${stats.byType.map((g) => `${g.key} ${g.count}`).join(', ')}`,
    `             this run: ${r.scans.self} self check-ins, ${r.scans.staff} staff scans → admit ${d.admit}, refer ${d.refer}, deny ${d.deny}; ${stats.subtypes} venue subtypes scanned`,
    `  work/school ${r.rosters.joined} roster members, ${r.rosters.dailyCheckins} daily check-ins; ${r.border.entries} inbound travellers coded at the port`,
    `  tracing    case ${r.tracing.caseMasked}: ${r.tracing.venues} venues, ${r.tracing.contacts} contacts marked red`,
    `  appeals    ${r.appeals.decided} decided, ${r.appeals.open} open · grid: ${r.grid.listed} to visit, ${r.grid.visits} visits recorded`,
    `  versions   rules v${r.rules.version}, policies v${r.policies.version} · ledger at event ${r.ledger.seq} · anchoring: ${anchor.state ?? 'unknown'}${anchor.checkpoint?.treeSize ? ` (checkpoint covers ${anchor.checkpoint.treeSize} events)` : ''}`,
    ...servicesLines(r.services),
    r.dayClock
      ? "  The story ran through today on the service's clock (06:00 to 19:00, squeezed when it is earlier than that), so the scans spread over the day's hours; the clock is real time again now."
      : '  All scans carry the service\'s real time ("now"): the API cannot back-date them, so the day\'s scans sit in the current hour.',
    '',
    'Development tokens of this local demo (paste into a shell):',
    `  export ANKANG=${u}`,
    `  export ADMIN=${adminToken}`,
    `  export HEALTH=${r.tokens.health}`,
    ...OPERATOR_VENUE_TYPES.map(
      (t) => `  export OPERATOR_${t.toUpperCase().replace(/-/g, '_')}=${r.tokens.operators[t]}`,
    ),
    `  export BORDER=${r.tokens.border}`,
    `  export FEED_HEALTH=${r.tokens.feeds.health} FEED_TELECOM=${r.tokens.feeds.telecom} FEED_POLICE=${r.tokens.feeds['public-security']}`,
    `  export GRID=${r.tokens.grid}`,
    `  export AUDITOR=${r.tokens.auditor}`,
    ...(r.tokens.sectors
      ? [`  export ${SECTOR_TOKEN_SOURCES.map((s) => `FEED_${envName(s)}=${r.tokens.sectors![s]}`).join(' ')}`]
      : []),
    `  export RESIDENT=${me.access}   # ${me.maskedName}'s session access token: it lives ${me.accessMinutes} min (SESSION_ACCESS_MINUTES), until ${shanghaiTime(me.accessExpiresAt)} Asia/Shanghai`,
    `  export RESIDENT_REFRESH=${me.refresh}`,
    `  # once it has expired, a new pair (the old one stops working): curl -s -X POST "$ANKANG/v1/auth/refresh" -H 'content-type: application/json' -d "{\\"refreshToken\\":\\"$RESIDENT_REFRESH\\"}"`,
    '',
    `Service desks: open ${u}/desk and paste a desk token (or send it as a bearer token):`,
    ...r.services.desks.map(
      (d) =>
        `  export DESK_${envName(d.key)}=${d.token}   # ${d.name} (${d.kind}: ${d.purposes.join(', ')}) at ${d.venueName}`,
    ),
    '',
    'Sign in as a resident in a browser (development provider; every demo resident has an account):',
    `  open ${u}/ and sign in with phone ${me.phone} (${me.name}); the one-time code goes to the development outbox, ${codesAt}`,
    '',
    'Look at:',
    `  curl -s "$ANKANG/v1/stats/colours?by=city" -H "authorization: Bearer $HEALTH"`,
    `  curl -s "$ANKANG/v1/stats/scans?by=venue-type" -H "authorization: Bearer $HEALTH"`,
    `  curl -s "$ANKANG/v1/stats/venues/${r.sample.venueId}/hourly" -H "authorization: Bearer $HEALTH"    # ${r.sample.venueName}`,
    `  curl -s "$ANKANG/v1/venues/${r.sample.venueId}/scans?limit=5" -H "authorization: Bearer $HEALTH"`,
    `  curl -s "$ANKANG/v1/grid/residents" -H "authorization: Bearer $GRID"`,
    `  curl -s "$ANKANG/v1/appeals?status=open" -H "authorization: Bearer $HEALTH"`,
    `  curl -s "$ANKANG/v1/residents/me/scans" -H "authorization: Bearer $RESIDENT"`,
    `  curl -s "$ANKANG/v1/residents/me/links" -H "authorization: Bearer $RESIDENT"`,
    `  curl -s "$ANKANG/v1/residents/me/lookups" -H "authorization: Bearer $RESIDENT"    # who used my code`,
    ...(desk
      ? [
          `  curl -s "$ANKANG/v1/desks/${desk.id}/lookups?limit=5" -H "authorization: Bearer $DESK_${envName(desk.key)}"`,
        ]
      : []),
    `  curl -s "$ANKANG/v1/rules/versions"; curl -s "$ANKANG/v1/policies/${r.policies.version}"`,
    `  curl -s "$ANKANG/v1/anchor/status"`,
    `  curl -s "$ANKANG/v1/proofs/subjects/${r.sample.casePseudonym}" -H "authorization: Bearer $AUDITOR" > case-history.json   # once anchored`,
    ...(desk
      ? [
          `  curl -s "$ANKANG/v1/proofs/desks/${desk.id}" -H "authorization: Bearer $AUDITOR" > desk-history.json   # once anchored`,
        ]
      : []),
    `  curl -s -X POST "$ANKANG/v1/tracing" -H "authorization: Bearer $HEALTH" -H 'content-type: application/json' \\`,
    `       -d ${q(JSON.stringify({ pseudonym: r.sample.casePseudonym, from: '<RFC 3339>', to: '<RFC 3339>' }))}`,
  ];
}
