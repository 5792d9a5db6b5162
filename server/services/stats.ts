import { z } from 'zod';
import type { Colour } from '../../verifier/src';
import { COLOURS } from '../../verifier/src/claims';
import { isErased, type ErasedEvent, type LedgerEvent } from '../../verifier/src/event';
import type { Ledger, Tx } from '../../ledger/ledger';
import { cityOf, regionName } from '../domain/regions';
import type { AppContext } from '../context';
import { colourCounts } from './resident-index';
import type { ResidentRecord } from './residents';
import { shanghaiDay, type VenueRecord } from './venues';

const HOUR = 3_600_000;
const DAY = 86_400_000;
const SHANGHAI_OFFSET = 8 * HOUR;
/** The longest range a scan statistic reads. */
export const MAX_SCAN_RANGE_DAYS = 366;

const instant = z.iso.datetime({ offset: true });
const calendarDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'YYYY-MM-DD')
  .refine(
    (s) => !Number.isNaN(Date.parse(`${s}T00:00:00Z`)) && new Date(`${s}T00:00:00Z`).toISOString().startsWith(s),
    'not a calendar date',
  );

export const colourStatsSchema = z.strictObject({ by: z.enum(['district', 'city']).default('district') });

export const SCAN_GROUPS = ['day', 'venue-type', 'subtype', 'district', 'decision'] as const;
export const scanStatsSchema = z
  .strictObject({ from: instant.optional(), to: instant.optional(), by: z.enum(SCAN_GROUPS).default('day') })
  .superRefine((q, ctx) => {
    if (q.from && q.to) {
      const span = Date.parse(q.to) - Date.parse(q.from);
      if (span <= 0) ctx.addIssue({ code: 'custom', path: ['to'], message: 'to must be after from' });
      else if (span > MAX_SCAN_RANGE_DAYS * DAY)
        ctx.addIssue({ code: 'custom', path: ['to'], message: `at most ${MAX_SCAN_RANGE_DAYS} days` });
    }
  });

export const hourlySchema = z.strictObject({ date: calendarDate.optional() });
export const dailyColoursSchema = z.strictObject({ days: z.coerce.number().int().min(1).max(90).default(14) });

type Counts = Record<Colour, number> & { total: number };
const zero = (): Counts => ({ green: 0, yellow: 0, red: 0, total: 0 });

/** A value of the `scans` index under `t/<time>/<seq>`. */
interface TimeScanEntry {
  seq: number;
  subject: string;
  decision: string;
  colour: string;
  at: string;
  venue: string;
  venueType: string;
  subtype: string;
  district: string;
}

/** UTC instant of 00:00 Asia/Shanghai on a YYYY-MM-DD day. */
const shanghaiMidnight = (day: string) => Date.parse(`${day}T00:00:00Z`) - SHANGHAI_OFFSET;

/**
 * Aggregate counters that outlive the retention window (server/services/retention.ts erases
 * the scans they count). They live in the `index` space and are written by a ledger deriver
 * in the same transaction as the events they count, so they are exact:
 *
 * - `agg/s/<hour>/<venue type>/<subtype>/<district>/<decision>` → scans in that UTC hour
 *   (`<hour>` is `YYYY-MM-DDTHH`, parts URI-encoded);
 * - `agg/v/<venue>/<hour>` → `{ count, admit, refer, deny }`, one venue's scans in that hour;
 * - `agg/c/<day>/<district>` → `{ green, yellow, red, initial }`, colour changes on that
 *   Asia/Shanghai day by the colour changed to, in the resident's district; a first colour
 *   (`initial`) is an application's (`resident.applied` with `colour`) or, in ledgers written
 *   before applications carried it, a `status.changed` from null.
 *
 * `meta/statsAggregates` names the layout; a data folder without it is counted once at start.
 */
export const AGGREGATES_VERSION = 1;
const AGG_VERSION_KEY = 'statsAggregates';
const SCAN_AGG = 'agg/s/';
const VENUE_AGG = 'agg/v/';
const COLOUR_AGG = 'agg/c/';

interface ScanBucket {
  count: number;
  admit: number;
  refer: number;
  deny: number;
}
type ColourBucket = Record<Colour, number> & { initial: number };

const hourOf = (iso: string) => iso.slice(0, 13);
const enc = encodeURIComponent;

/** The keys and increments one event adds to the counters (none for events that are not counted). */
async function countsOf(
  e: LedgerEvent,
  get: <V>(space: 'venues' | 'residents', key: string) => Promise<V | undefined>,
) {
  const out: Array<[string, (prior: unknown) => unknown]> = [];
  if (e.type === 'scan.recorded') {
    const d = e.data as { venue: string; venueType: string; district: string; decision: string };
    const subtype = (await get<VenueRecord>('venues', d.venue))?.subtype ?? '';
    const hour = hourOf(e.at);
    out.push([
      `${SCAN_AGG}${hour}/${enc(d.venueType)}/${enc(subtype)}/${enc(d.district)}/${enc(d.decision)}`,
      (n) => ((n as number | undefined) ?? 0) + 1,
    ]);
    out.push([
      `${VENUE_AGG}${d.venue}/${hour}`,
      (b) => {
        const next: ScanBucket = { ...((b as ScanBucket | undefined) ?? { count: 0, admit: 0, refer: 0, deny: 0 }) };
        next.count++;
        if (d.decision === 'admit' || d.decision === 'refer' || d.decision === 'deny') next[d.decision]++;
        return next;
      },
    ]);
  } else if (e.type === 'status.changed' || (e.type === 'resident.applied' && 'colour' in e.data)) {
    // A first colour is a status.changed from null, or (since applications carry it) the application itself.
    const applied = e.type === 'resident.applied';
    const to = (applied ? e.data.colour : e.data.to) as Colour;
    const resident = e.subjects.find((s) => s.startsWith('r:'));
    if (!(to in COLOUR_SET) || !resident) return out;
    const district = (await get<ResidentRecord>('residents', resident.slice(2)))?.district ?? 'unknown';
    const initial = applied || e.data.from === null;
    out.push([
      `${COLOUR_AGG}${shanghaiDay(new Date(e.at))}/${district}`,
      (b) => {
        const next: ColourBucket = {
          ...((b as ColourBucket | undefined) ?? { green: 0, yellow: 0, red: 0, initial: 0 }),
        };
        next[to]++;
        if (initial) next.initial++;
        return next;
      },
    ]);
  }
  return out;
}

/** Makes the ledger count every scan and colour change into the aggregate counters, in the event's own transaction. */
export function countAggregates(ledger: Ledger): void {
  ledger.derive(async (events, tx: Tx) => {
    for (const e of events) {
      for (const [key, bump] of await countsOf(e, (space, k) => tx.get(space, k)))
        tx.put('index', key, bump(await tx.get('index', key)));
    }
  });
}

/**
 * At start: when the data folder has no counters of this layout, counts every event in the
 * ledger once (no events are written: counters are derived state). Run before the service
 * takes writes. A colour change is counted in the resident's district of today, which for a
 * resident who moved since differs from the district of that day. Erased events cannot be
 * counted again: a later layout must migrate the counters, not recount the log.
 */
export async function ensureAggregates(ledger: Ledger): Promise<{ rebuilt: boolean; events: number }> {
  if ((await ledger.read<number>('meta', AGG_VERSION_KEY)) === AGGREGATES_VERSION) return { rebuilt: false, events: 0 };
  const counters = new Map<string, unknown>();
  let events = 0;
  for await (const e of ledger.events()) {
    if (isErased(e as LedgerEvent | ErasedEvent)) continue;
    events++;
    for (const [key, bump] of await countsOf(e, (space, k) => ledger.read(space, k)))
      counters.set(key, bump(counters.get(key)));
  }
  const stale: string[] = [];
  for (const prefix of [SCAN_AGG, VENUE_AGG, COLOUR_AGG]) {
    for await (const key of ledger.space('index').keys({ gte: prefix, lt: `${prefix}~` })) stale.push(key);
  }
  const entries = [...counters.entries()];
  for (let i = 0; i < stale.length; i += 10_000)
    await ledger.transact((tx) => stale.slice(i, i + 10_000).forEach((k) => tx.del('index', k)));
  for (let i = 0; i < entries.length; i += 10_000)
    await ledger.transact((tx) => entries.slice(i, i + 10_000).forEach(([k, v]) => tx.put('index', k, v)));
  await ledger.transact((tx) => tx.put('meta', AGG_VERSION_KEY, AGGREGATES_VERSION));
  return { rebuilt: true, events };
}

const ceilHour = (t: number) => Math.ceil(t / HOUR) * HOUR;
const floorHour = (t: number) => Math.floor(t / HOUR) * HOUR;

/**
 * Statistics (数据分析) for the health authority, computed on request from the ledger's
 * LevelDB; nothing here writes.
 *
 * Scan counts and a venue's hours read the hourly aggregate counters above, so they stay
 * the same after retention erased the scans they count; only the part of a range that does
 * not fill a whole hour (at its start and end) reads the `t/<time>` scan index, which after
 * erasure holds nothing before the retention window. Colour counts read one index entry per
 * district (server/services/resident-index.ts); daily colour changes read one counter per day
 * and district.
 */
export class StatsService {
  constructor(private readonly app: AppContext) {}

  /** GET /v1/stats/colours */
  async colours(q: z.infer<typeof colourStatsSchema>) {
    const total = zero();
    const groups = new Map<string, Counts>();
    for (const [district, c] of await colourCounts(this.app.ledger)) {
      const code = q.by === 'city' ? (cityOf(district)?.code ?? district) : district;
      const g = groups.get(code) ?? zero();
      for (const colour of COLOURS) {
        g[colour] += c[colour];
        g.total += c[colour];
        total[colour] += c[colour];
        total.total += c[colour];
      }
      groups.set(code, g);
    }
    return {
      at: this.app.clock().toISOString(),
      by: q.by,
      total,
      groups: [...groups.entries()]
        .filter(([, g]) => g.total > 0)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([code, c]) => ({ code, name: regionName(code) ?? null, ...c })),
    };
  }

  /** GET /v1/stats/scans: counts in [from, to), by default the last 24 hours. */
  async scans(q: z.infer<typeof scanStatsSchema>) {
    const now = this.app.clock();
    const to = q.to ? new Date(q.to) : now;
    const from = q.from ? new Date(q.from) : new Date(to.getTime() - DAY);
    const counts = new Map<string, number>();
    const decisions = new Map<string, number>();
    let total = 0;
    const add = (key: string, decision: string, n: number) => {
      counts.set(key, (counts.get(key) ?? 0) + n);
      decisions.set(decision, (decisions.get(decision) ?? 0) + n);
      total += n;
    };
    const raw = async (a: number, b: number) => {
      if (a >= b) return;
      for await (const value of this.app.ledger
        .space('scans')
        .values({ gte: `t/${new Date(a).toISOString()}`, lt: `t/${new Date(b).toISOString()}` })) {
        const s = value as TimeScanEntry;
        add(
          q.by === 'day'
            ? shanghaiDay(new Date(s.at))
            : q.by === 'venue-type'
              ? s.venueType
              : q.by === 'subtype'
                ? s.subtype
                : q.by === 'district'
                  ? s.district
                  : s.decision,
          s.decision,
          1,
        );
      }
    };
    const f = from.getTime();
    const t = to.getTime();
    const hoursFrom = ceilHour(f);
    const hoursTo = floorHour(t);
    if (hoursFrom >= hoursTo) await raw(f, t);
    else {
      await raw(f, hoursFrom);
      const lo = `${SCAN_AGG}${hourOf(new Date(hoursFrom).toISOString())}`;
      const hi = `${SCAN_AGG}${hourOf(new Date(hoursTo).toISOString())}`;
      for await (const [key, value] of this.app.ledger.space('index').iterator({ gte: lo, lt: hi })) {
        const [hour, venueType, subtype, district, decision] = key
          .slice(SCAN_AGG.length)
          .split('/')
          .map(decodeURIComponent);
        add(
          q.by === 'day'
            ? shanghaiDay(new Date(`${hour}:00:00Z`))
            : q.by === 'venue-type'
              ? venueType
              : q.by === 'subtype'
                ? subtype
                : q.by === 'district'
                  ? district
                  : decision,
          decision,
          value as number,
        );
      }
      await raw(hoursTo, t);
    }
    return {
      from: from.toISOString(),
      to: to.toISOString(),
      by: q.by,
      total,
      decisions: Object.fromEntries([...decisions.entries()].sort(([a], [b]) => a.localeCompare(b))),
      groups: [...counts.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([key, count]) => ({ key, count })),
    };
  }

  /** GET /v1/stats/venues/:id/hourly: the 24 Asia/Shanghai hours of one day. */
  async venueHourly(venue: VenueRecord, q: z.infer<typeof hourlySchema>) {
    const date = q.date ?? shanghaiDay(this.app.clock());
    const start = shanghaiMidnight(date);
    const hours = Array.from({ length: 24 }, (_, hour) => ({ hour, count: 0, admit: 0, refer: 0, deny: 0 }));
    const prefix = `${VENUE_AGG}${venue.id}/`;
    const range = {
      gte: prefix + hourOf(new Date(start).toISOString()),
      lt: prefix + hourOf(new Date(start + DAY).toISOString()),
    };
    for await (const [key, value] of this.app.ledger.space('index').iterator(range)) {
      const h = hours[Math.floor((Date.parse(`${key.slice(prefix.length)}:00:00Z`) - start) / HOUR)];
      if (!h) continue;
      const b = value as ScanBucket;
      h.count += b.count;
      h.admit += b.admit;
      h.refer += b.refer;
      h.deny += b.deny;
    }
    return {
      venue: { id: venue.id, name: venue.name, type: venue.type },
      date,
      timeZone: 'Asia/Shanghai',
      total: hours.reduce((n, h) => n + h.count, 0),
      hours,
    };
  }

  /** GET /v1/stats/colours/daily: colour changes (first colours included) per Asia/Shanghai day, by the colour changed to. */
  async coloursDaily(q: z.infer<typeof dailyColoursSchema>) {
    const now = this.app.clock();
    const today = shanghaiDay(now);
    const startMs = shanghaiMidnight(today) - (q.days - 1) * DAY;
    const days = Array.from({ length: q.days }, (_, i) => ({
      day: shanghaiDay(new Date(startMs + i * DAY)),
      ...zero(),
      initial: 0,
    }));
    const byDay = new Map(days.map((d) => [d.day, d]));
    const startIso = new Date(startMs).toISOString();
    for await (const [key, value] of this.app.ledger
      .space('index')
      .iterator({ gte: `${COLOUR_AGG}${days[0].day}/`, lt: `${COLOUR_AGG}${days[days.length - 1].day}/~` })) {
      const d = byDay.get(key.slice(COLOUR_AGG.length).split('/')[0]);
      if (!d) continue;
      const b = value as ColourBucket;
      for (const colour of COLOURS) {
        d[colour] += b[colour];
        d.total += b[colour];
      }
      d.initial += b.initial;
    }
    return { from: startIso, to: now.toISOString(), timeZone: 'Asia/Shanghai', days };
  }
}

const COLOUR_SET: Record<Colour, true> = { green: true, yellow: true, red: true };
