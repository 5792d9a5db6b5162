/**
 * The demo's services part (issue 17, 多功能): sector authorities register service desks at
 * the demo's venues and link cards to residents, a few residents pause a purpose, and through
 * the day desks look fresh codes up — resolved ones, and the refusals a newcomer should see
 * (a printed code, a replayed code, a paused consent, a card that was never linked).
 * Payment accounts are opened at the stand-in payment provider (scripts/payment-provider.ts,
 * started and owned by scripts/demo.ts), which confirms each resident's link request; a fare
 * reader's resolved look-up returns a signed fare request that the demo, as the transit
 * operator, sends to that provider.
 *
 * Like the rest of the demo it talks only to the HTTP API (api-17.md), and a second run on
 * the same service reuses its desks (through the tokens kept in demo-tokens.json) and finds
 * its links unchanged.
 */
import {
  CARD_AUTHORITY,
  CARD_KINDS,
  DESK_AUTHORITY,
  DESK_PURPOSES,
  PURPOSE_CARD,
  SECTOR_SOURCES,
  type CardKind,
  type DeskKind,
  type Purpose,
  type SectorSource,
} from '../../server/domain/services';
import { DESKS, rngFor, type DeskPlan, type Person } from './province';

// The service's JSON, read loosely: the demo only picks a few fields out of each answer.
type Json = any;
type Reply = { status: number; body: Json };
type Call = (
  method: string,
  path: string,
  opts?: { token?: string; json?: unknown; headers?: Record<string, string> },
) => Promise<Reply>;

/** What the services part needs of a resident of the demo. */
export interface ServiceResident {
  person: Person;
  pseudonym: string;
  colour: string;
}

/** A desk's token and id, kept in demo-tokens.json so a second run reuses the desk. */
export interface DeskToken {
  id: string;
  token: string;
}

/** The stand-in payment provider the demo started: where it listens, and the transit operator's API key there. */
export interface PaymentProvider {
  url: string;
  operatorKey: string;
  /** Its PROVIDER_ID; `standin-pay` by default. */
  id: string;
}

export interface ServicesContext<R extends ServiceResident> {
  base: string;
  seed: number;
  par: number;
  log: (line: string) => void;
  /** The demo's HTTP client: throws on a non-2xx answer. */
  call: Call;
  /** A request as the resident's app sends it (refreshing its session when needed). */
  asResident: (res: R, method: string, path: string, opts?: { json?: unknown }) => Promise<Reply>;
  /** The resident's code as their phone shows it now. */
  codeOf: (res: R, mode: 'dynamic' | 'printed') => Promise<string>;
  each: <T>(items: readonly T[], n: number, fn: (item: T, i: number) => Promise<void>) => Promise<void>;
  /** Everyone who applied. */
  residents: R[];
  /** Residents whose look-ups the story sets (the sample resident first); the rest are drawn. */
  sample: R;
  /** Residents the rest of the story reserves (the case, their family): no look-ups. */
  reserved: ReadonlySet<number>;
  venue: (key: string) => { id: string; name: string };
  /** Feed tokens of the sector authorities. */
  sectors: Record<SectorSource, string>;
  /** Desks of an earlier run, by DeskPlan key. */
  desks?: Record<string, DeskToken>;
  provider?: PaymentProvider;
}

export interface DeskSeat extends DeskToken {
  key: string;
  kind: DeskKind;
  name: string;
  purposes: Purpose[];
  venueName: string;
  created: boolean;
}

export interface ServicesResult {
  desks: DeskSeat[];
  /** Residents with each card linked after this run; `changed`: links this run made or changed (the rest were there already). */
  links: { byKind: Record<CardKind, number>; changed: number; viaProvider: number };
  /** Residents who paused a purpose, by purpose. */
  paused: Partial<Record<Purpose, number>>;
  lookups: { total: number; byOutcome: Record<string, number>; byPurpose: Partial<Record<Purpose, number>> };
  /** Fares the demo, as the transit operator, sent to the provider: charged, and refused with the provider's code. */
  fares: { charged: number; fen: number; refused: Record<string, number> };
  provider: string | null;
}

/** Fare of a bus or metro ride in the demo, in fen (分). */
const FARE_FEN = 200;
/** Opening balance of a stand-in account, in fen. */
const OPENING_BALANCE_FEN = 5000;

/** Shares of the residents each card is linked for; payment accounts are opened by residents aged 16–75 only. */
const CARD_SHARE: Record<CardKind, number> = {
  'health-card': 0.85,
  'social-security-card': 0.6,
  'insurance-voucher': 0.6,
  payment: 0.25,
};

/** A card reference as its authority would issue it: deterministic per (seed, resident, kind), never personal data. */
function refOf(seed: number, index: number, kind: CardKind): string {
  const r = rngFor(seed, `ref:${kind}`, index);
  const digits = (k: number) => Array.from({ length: k }, () => Math.floor(r() * 10)).join('');
  const hex = (k: number) =>
    Array.from({ length: k }, () =>
      Math.floor(r() * 16)
        .toString(16)
        .toUpperCase(),
    ).join('');
  switch (kind) {
    case 'health-card':
      return `EHC34${hex(24)}`;
    case 'social-security-card':
      return `SSC340${digits(12)}`;
    case 'insurance-voucher':
      return `YB34${digits(2)}${hex(16)}`;
    default:
      return `demo-${hex(16)}`;
  }
}

/** A shuffled copy, deterministic for (seed, stream). */
function shuffled<T>(seed: number, stream: string, xs: readonly T[]): T[] {
  const out = [...xs];
  const r = rngFor(seed, stream, 0);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

interface LookupPlan<R> {
  desk: string;
  res: R;
  /** The code shown: the resident's dynamic one (the default), their printed one, or the code of the look-up before (a replay). */
  show?: 'printed' | 'again';
}

/** A look-up's outcome as the demo tallies it: `resolved` or the refusal code. */
type Outcome = string;

/**
 * The services part of the story, in three steps the seed calls at their hours: `open`
 * (desks, links, paused purposes, in the early morning), `lookups(step, steps)` (that
 * step's share of the day's look-ups, alongside the errands), and `result`.
 */
export class ServicesDay<R extends ServiceResident> {
  private seats: DeskSeat[] = [];
  private readonly linked = new Map<number, Set<CardKind>>();
  private readonly pausedBy = new Map<number, Purpose>();
  private linkChanges = 0;
  private viaProvider = 0;
  private plan: LookupPlan<R>[] = [];
  /** The refusals the story shows once each, run one after the other at midday. */
  private refusals: LookupPlan<R>[] = [];
  /** Rides on bus 226 and the metro, looked up at real time once the story is over (`commute`). */
  private rides: LookupPlan<R>[] = [];
  private readonly outcomes: Record<string, number> = {};
  private readonly purposes: Partial<Record<Purpose, number>> = {};
  private readonly fares = { charged: 0, fen: 0, refused: {} as Record<string, number> };
  private lastCode = '';
  /** What each refusal of the story came back as, in order: `printed CODE_PRINTED`, ... */
  private readonly shown: string[] = [];

  constructor(private readonly ctx: ServicesContext<R>) {}

  private seat(key: string): DeskSeat {
    return this.seats.find((s) => s.key === key)!;
  }

  /** Registers the desks (or finds them from an earlier run), links cards, and has a few residents pause a purpose. */
  async open(): Promise<void> {
    const { ctx } = this;
    await this.registerDesks();
    const fresh = this.seats.filter((s) => s.created).length;
    ctx.log(
      `desks: ${this.seats.length} (${fresh} registered by their sector authorities, ${this.seats.length - fresh} found from an earlier run): ${this.seats.map((s) => `${s.name} (${s.kind})`).join('、')}`,
    );
    await this.linkCards();
    await this.openAccounts();
    await this.pausePurposes();
    const counts = this.linkCounts();
    ctx.log(
      `links: ${CARD_KINDS.map((k) => `${k} ${counts[k]}`).join(', ')} (${this.linkChanges} linked or changed now${ctx.provider ? `, ${this.viaProvider} payment accounts confirmed by the stand-in provider` : '; no payment provider'}); ${this.pausedBy.size} residents paused a purpose`,
    );
    const [plan, refusals] = this.planLookups();
    this.plan = plan.filter((x) => this.seatKind(x.desk) !== 'transit-reader');
    this.rides = plan.filter((x) => this.seatKind(x.desk) === 'transit-reader');
    this.refusals = refusals;
  }

  private async registerDesks(): Promise<void> {
    const { ctx } = this;
    for (const plan of DESKS) {
      const old = ctx.desks?.[plan.key];
      if (old) {
        try {
          const me = (await ctx.call('GET', '/v1/desks/me', { token: old.token })).body.desk;
          if (me?.id === old.id) {
            this.seats.push(this.seatOf(plan, me, old.token, false));
            continue;
          }
        } catch (e) {
          // Gone or expired (a new chain, another service): registered again below.
          if (typeof (e as { status?: unknown }).status !== 'number') throw e;
        }
      }
      const venue = ctx.venue(plan.venue);
      const r = await ctx.call('POST', '/v1/desks', {
        token: ctx.sectors[DESK_AUTHORITY[plan.kind]],
        json: { kind: plan.kind, name: plan.name, venueId: venue.id },
      });
      this.seats.push(this.seatOf(plan, r.body.desk, r.body.token, true));
    }
  }

  private seatOf(plan: DeskPlan, desk: Json, token: string, created: boolean): DeskSeat {
    return {
      key: plan.key,
      kind: plan.kind,
      id: desk.id,
      token,
      name: desk.name,
      purposes: desk.purposes,
      venueName: desk.venue?.name ?? this.ctx.venue(plan.venue).name,
      created,
    };
  }

  private cardsOf(res: R): Set<CardKind> {
    let s = this.linked.get(res.person.index);
    if (!s) this.linked.set(res.person.index, (s = new Set()));
    return s;
  }

  /** Health cards, social-security cards and insurance vouchers, each linked by its authority by ID number. */
  private async linkCards(): Promise<void> {
    const { ctx } = this;
    const jobs: Array<{ res: R; kind: CardKind }> = [];
    for (const res of ctx.residents) {
      const r = rngFor(ctx.seed, 'cards', res.person.index);
      for (const kind of ['health-card', 'social-security-card', 'insurance-voucher'] as const) {
        // The sample resident has every card, so their page shows links and their look-ups resolve.
        if (res === ctx.sample || r() < CARD_SHARE[kind]) jobs.push({ res, kind });
      }
    }
    await ctx.each(jobs, ctx.par, async ({ res, kind }) => {
      const body = {
        kind,
        idType: 'resident-id',
        idNumber: res.person.idNumber,
        ref: refOf(ctx.seed, res.person.index, kind),
      };
      const r = await ctx.call('POST', '/v1/links', { token: ctx.sectors[CARD_AUTHORITY[kind]], json: body });
      if (r.body.state !== 'unchanged') this.linkChanges++;
      this.cardsOf(res).add(kind);
    });
  }

  /**
   * 码上支付: residents ask to link a payment account (POST /me/links/requests), then open
   * one at the stand-in provider with that request, and the provider confirms it at Ankang
   * with its own feed token. A resident linked by an earlier run keeps their account.
   */
  private async openAccounts(): Promise<void> {
    const { ctx } = this;
    const provider = ctx.provider;
    if (!provider) return;
    const open = ctx.residents.filter((res) => {
      if (res === ctx.sample) return true;
      const age = new Date().getUTCFullYear() - res.person.birthYear;
      return (
        age >= 16 &&
        age <= 75 &&
        !ctx.reserved.has(res.person.index) &&
        rngFor(ctx.seed, 'payment', res.person.index)() < CARD_SHARE.payment
      );
    });
    await ctx.each(open, ctx.par, async (res) => {
      const mine = (await ctx.asResident(res, 'GET', '/v1/residents/me/links')).body.links as Array<{
        kind: CardKind;
        linked: boolean;
        provider: string | null;
      }>;
      if (mine.some((l) => l.kind === 'payment' && l.linked && l.provider === provider.id)) {
        this.cardsOf(res).add('payment');
        return;
      }
      const request = (
        await ctx.asResident(res, 'POST', '/v1/residents/me/links/requests', { json: { kind: 'payment' } })
      ).body;
      const res2 = await fetch(`${provider.url}/v1/accounts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${provider.operatorKey}` },
        body: JSON.stringify({
          requestId: request.requestId,
          idType: 'resident-id',
          idNumber: res.person.idNumber,
          balance: OPENING_BALANCE_FEN,
        }),
        signal: AbortSignal.timeout(30_000),
      });
      if (res2.status !== 201)
        throw new Error(
          `the stand-in payment provider refused to open an account: ${res2.status} ${(await res2.text()).slice(0, 200)}`,
        );
      this.viaProvider++;
      this.linkChanges++;
      this.cardsOf(res).add('payment');
    });
  }

  /** A few residents pause a purpose on `/` (the pharmacy may not see their insurance voucher, ...). */
  private async pausePurposes(): Promise<void> {
    const { ctx } = this;
    const wanted: Purpose[] = ['insurance-payment', 'registration', 'identity', 'insurance-payment'];
    // Green residents, whom the desks' venues admit: their look-ups reach the consent.
    const pool = shuffled(
      ctx.seed,
      'pause',
      ctx.residents.filter(
        (res) => res !== ctx.sample && !ctx.reserved.has(res.person.index) && res.colour === 'green',
      ),
    );
    for (const purpose of wanted) {
      const card =
        purpose === 'registration' ? 'health-card' : purpose === 'insurance-payment' ? 'insurance-voucher' : undefined;
      const res = pool.find((x) => !this.pausedBy.has(x.person.index) && (!card || this.cardsOf(x).has(card)));
      if (!res) continue;
      await ctx.asResident(res, 'PUT', `/v1/residents/me/consents/${purpose}`, { json: { paused: true } });
      this.pausedBy.set(res.person.index, purpose);
    }
  }

  private linkCounts(): Record<CardKind, number> {
    const out = Object.fromEntries(CARD_KINDS.map((k) => [k, 0])) as Record<CardKind, number>;
    for (const s of this.linked.values()) for (const k of s) out[k]++;
    return out;
  }

  /**
   * The day's look-ups: about one for every five residents, at desks weighted as people
   * use them, mostly by residents who hold the card the desk asks for (one in ten does not:
   * CARD_NOT_LINKED); then one of each refusal the story shows.
   */
  private planLookups(): [LookupPlan<R>[], LookupPlan<R>[]] {
    const { ctx } = this;
    const plan: LookupPlan<R>[] = [{ desk: 'hf-registration', res: ctx.sample }];
    const everyone = shuffled(
      ctx.seed,
      'lookups',
      ctx.residents.filter(
        (res) =>
          res !== ctx.sample &&
          !ctx.reserved.has(res.person.index) &&
          !this.pausedBy.has(res.person.index) &&
          res.person.birthYear >= 1950,
      ),
    );
    const taken = new Set<R>();
    const take = (want: (res: R) => boolean) => {
      const res = everyone.find((x) => !taken.has(x) && want(x));
      if (res) taken.add(res);
      return res;
    };
    const r = rngFor(ctx.seed, 'desks', 0);
    const weights: Array<[string, number]> = [
      ['hf-registration', 25],
      ['hf-cashier', 12],
      ['hf-pharmacy', 20],
      ['hf-social-security', 10],
      ['hf-service-hall', 15],
      ['hf-bus-fare', ctx.provider ? 12 : 0],
      ['hf-metro-fare', ctx.provider ? 6 : 0],
    ];
    const total = weights.reduce((a, [, w]) => a + w, 0);
    const count = Math.max(12, Math.round(ctx.residents.length / 5));
    // Every desk once, by someone who holds its card; then desks as people use them.
    const first = weights.filter(([, w]) => w > 0).map(([desk]) => desk);
    for (let i = 0; i < count; i++) {
      let x = r() * total;
      const desk = first[i] ?? weights.find(([, w]) => (x -= w) < 0)?.[0] ?? 'hf-registration';
      const card = cardOfDesk(this.seatKind(desk));
      const holder = !card || i < first.length || r() >= 0.1;
      const res = take((y) => (card ? this.cardsOf(y).has(card) === holder : true));
      if (res) plan.push({ desk, res });
    }
    // The refusals every newcomer should see once: an elder's paper code at the service hall,
    // a code shown at the pharmacy and then again at the cashier, a paused insurance voucher.
    const refusals: LookupPlan<R>[] = [];
    const elder =
      ctx.residents.find(
        (res) =>
          res.person.birthYear < 1950 && !ctx.reserved.has(res.person.index) && !this.pausedBy.has(res.person.index),
      ) ?? take(() => true);
    if (elder) refusals.push({ desk: 'hf-service-hall', res: elder, show: 'printed' });
    const twice = take((y) => y.colour === 'green' && this.cardsOf(y).has('insurance-voucher'));
    if (twice) refusals.push({ desk: 'hf-pharmacy', res: twice }, { desk: 'hf-cashier', res: twice, show: 'again' });
    const pauser = ctx.residents.find((res) => this.pausedBy.get(res.person.index) === 'insurance-payment');
    if (pauser) refusals.push({ desk: 'hf-pharmacy', res: pauser });
    return [plan, refusals];
  }

  private seatKind(key: string): DeskKind {
    return DESKS.find((d) => d.key === key)!.kind;
  }

  /**
   * Step `step` of `steps` of the day's look-ups; the middle step also runs the story's
   * refusals, one after the other (the replay right after the look-up it replays).
   */
  async lookups(step: number, steps: number): Promise<void> {
    const per = Math.ceil(this.plan.length / steps);
    await this.ctx.each(this.plan.slice(step * per, (step + 1) * per), this.ctx.par, async (x) => {
      await this.lookup(x);
    });
    if (step !== Math.floor(steps / 2)) return;
    for (const x of this.refusals) {
      const outcome = await this.lookup(x);
      this.shown.push(
        `${this.seat(x.desk).name} ${x.show === 'printed' ? 'paper code' : x.show === 'again' ? 'the same code again' : this.pausedBy.has(x.res.person.index) ? 'paused purpose' : 'fresh code'} → ${outcome}`,
      );
    }
    this.ctx.log(`look-ups so far: ${this.tally()}; the story's refusals: ${this.shown.join('; ')}`);
  }

  /**
   * The evening's rides, once the service's clock is real time again: a fare request lives
   * FARE_REQUEST_TTL_SECONDS and the provider checks it against its own clock, so fares are
   * looked up and charged at real time. The transit operator sends each resolved one to the
   * rider's provider.
   */
  async commute(): Promise<void> {
    await this.ctx.each(this.rides, this.ctx.par, async (x) => {
      await this.lookup(x);
    });
    if (this.ctx.provider) {
      const refused = Object.entries(this.fares.refused);
      this.ctx.log(
        `码上支付: ${this.rides.length} rides on bus 226 and the metro at real time; ${this.fares.charged} fares charged by the stand-in provider (¥${(this.fares.fen / 100).toFixed(2)})${refused.length ? `, refused: ${refused.map(([k, v]) => `${k} ${v}`).join(', ')}` : ''}`,
      );
    }
  }

  /** One look-up, with the code the resident's phone (or paper) shows now. */
  private async lookup(x: LookupPlan<R>): Promise<Outcome> {
    const { ctx } = this;
    const seat = this.seat(x.desk);
    // The service re-issues a dynamic code once a look-up spent it, so the phone shows a fresh one.
    const code =
      x.show === 'again' ? this.lastCode : await ctx.codeOf(x.res, x.show === 'printed' ? 'printed' : 'dynamic');
    this.lastCode = code;
    const purpose = seat.purposes[0];
    const body = { code, purpose, ...(purpose === 'fare' ? { amount: FARE_FEN } : {}) };
    const res = await fetch(`${ctx.base}/v1/services/resolve`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${seat.token}` },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
    const answer = (await res.json().catch(() => ({}))) as Json;
    let outcome: string;
    if (res.status === 200 && answer.outcome === 'resolved') outcome = 'resolved';
    else if (answer.lookup?.outcome) outcome = answer.lookup.outcome;
    else
      throw new Error(
        `POST /v1/services/resolve at ${seat.name} → ${res.status} ${answer.error?.code ?? ''}: ${answer.error?.message ?? ''} (no look-up recorded)`,
      );
    this.outcomes[outcome] = (this.outcomes[outcome] ?? 0) + 1;
    this.purposes[purpose] = (this.purposes[purpose] ?? 0) + 1;
    if (outcome === 'resolved' && purpose === 'fare') await this.payFare(answer.result.fareRequest);
    return outcome;
  }

  /** The transit operator sends the fare request to the resident's provider, which charges the account. */
  private async payFare(fareRequest: string): Promise<void> {
    const provider = this.ctx.provider!;
    const res = await fetch(`${provider.url}/v1/fares`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${provider.operatorKey}` },
      body: JSON.stringify({ fareRequest }),
      signal: AbortSignal.timeout(30_000),
    });
    const body = (await res.json().catch(() => ({}))) as Json;
    if (res.status === 201) {
      this.fares.charged++;
      this.fares.fen += body.receipt?.amount ?? 0;
    } else {
      const code = body.error?.code ?? `HTTP_${res.status}`;
      this.fares.refused[code] = (this.fares.refused[code] ?? 0) + 1;
    }
  }

  /** Look-ups recorded so far, by outcome. */
  tally(): string {
    return Object.entries(this.outcomes)
      .sort(([a], [b]) => (a === 'resolved' ? -1 : b === 'resolved' ? 1 : a.localeCompare(b)))
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
  }

  result(): ServicesResult {
    const paused: Partial<Record<Purpose, number>> = {};
    for (const p of this.pausedBy.values()) paused[p] = (paused[p] ?? 0) + 1;
    return {
      desks: this.seats,
      links: { byKind: this.linkCounts(), changed: this.linkChanges, viaProvider: this.viaProvider },
      paused,
      lookups: {
        total: Object.values(this.outcomes).reduce((a, b) => a + b, 0),
        byOutcome: { ...this.outcomes },
        byPurpose: { ...this.purposes },
      },
      fares: { ...this.fares, refused: { ...this.fares.refused } },
      provider: this.ctx.provider?.url ?? null,
    };
  }
}

/** The card a desk of this kind asks for (each demo desk serves its kind's one purpose). */
const cardOfDesk = (kind: DeskKind): CardKind | null => PURPOSE_CARD[DESK_PURPOSES[kind][0]];

/** The sector sources whose feed tokens the demo keeps besides its health feed. */
export const SECTOR_TOKEN_SOURCES = SECTOR_SOURCES.filter((s) => s !== 'health');
