import { z } from 'zod';
import type { Colour } from '../../verifier/src';
import { COLOURS } from '../../verifier/src/claims';
import type { LedgerEvent } from '../../verifier/src/event';
import { cityOf, regionName } from '../domain/regions';
import type { AppContext } from '../context';
import { colourCounts } from './resident-index';
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
  .refine((s) => !Number.isNaN(Date.parse(`${s}T00:00:00Z`)) && new Date(`${s}T00:00:00Z`).toISOString().startsWith(s), 'not a calendar date');

export const colourStatsSchema = z.strictObject({ by: z.enum(['district', 'city']).default('district') });

export const SCAN_GROUPS = ['day', 'venue-type', 'subtype', 'district', 'decision'] as const;
export const scanStatsSchema = z
  .strictObject({ from: instant.optional(), to: instant.optional(), by: z.enum(SCAN_GROUPS).default('day') })
  .superRefine((q, ctx) => {
    if (q.from && q.to) {
      const span = Date.parse(q.to) - Date.parse(q.from);
      if (span <= 0) ctx.addIssue({ code: 'custom', path: ['to'], message: 'to must be after from' });
      else if (span > MAX_SCAN_RANGE_DAYS * DAY) ctx.addIssue({ code: 'custom', path: ['to'], message: `at most ${MAX_SCAN_RANGE_DAYS} days` });
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
 * Statistics (数据分析) for the health authority, computed on request from the ledger's
 * LevelDB; nothing here writes.
 *
 * Costs: colour counts read one index entry per district (server/services/resident-index.ts);
 * scan counts read the `t/<time>` scan index over the range (one entry per scan); a
 * venue's hourly counts read its `v/<venue>/<time>` index for one day; daily colour changes
 * binary-search the log for the first event of the range (O(log n) reads) and then read
 * every event from there, of all types, so they cost one read per event written in the
 * last `days` days.
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
    if (from < to) {
      for await (const value of this.app.ledger.space('scans').values({ gte: `t/${from.toISOString()}`, lt: `t/${to.toISOString()}` })) {
        const s = value as TimeScanEntry;
        const key = q.by === 'day' ? shanghaiDay(new Date(s.at)) : q.by === 'venue-type' ? s.venueType : q.by === 'subtype' ? s.subtype : q.by === 'district' ? s.district : s.decision;
        counts.set(key, (counts.get(key) ?? 0) + 1);
        decisions.set(s.decision, (decisions.get(s.decision) ?? 0) + 1);
        total++;
      }
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
    const prefix = `v/${venue.id}/`;
    for await (const value of this.app.ledger.space('scans').values({ gte: prefix + new Date(start).toISOString(), lt: prefix + new Date(start + DAY).toISOString() })) {
      const s = value as { at: string; decision: string };
      const h = hours[Math.floor((Date.parse(s.at) - start) / HOUR)];
      if (!h) continue;
      h.count++;
      if (s.decision === 'admit' || s.decision === 'refer' || s.decision === 'deny') h[s.decision]++;
    }
    return { venue: { id: venue.id, name: venue.name, type: venue.type }, date, timeZone: 'Asia/Shanghai', total: hours.reduce((n, h) => n + h.count, 0), hours };
  }

  /** GET /v1/stats/colours/daily: status.changed events per Asia/Shanghai day, by the colour changed to. */
  async coloursDaily(q: z.infer<typeof dailyColoursSchema>) {
    const now = this.app.clock();
    const today = shanghaiDay(now);
    const startMs = shanghaiMidnight(today) - (q.days - 1) * DAY;
    const days = Array.from({ length: q.days }, (_, i) => ({ day: shanghaiDay(new Date(startMs + i * DAY)), ...zero(), initial: 0 }));
    const byDay = new Map(days.map((d) => [d.day, d]));
    const startIso = new Date(startMs).toISOString();
    const first = await this.firstSeqAtOrAfter(startIso);
    if (first !== undefined) {
      for await (const e of this.app.ledger.events(first)) {
        if (e.type !== 'status.changed' || e.at < startIso) continue;
        const d = byDay.get(shanghaiDay(new Date(e.at)));
        const to = e.data.to as Colour;
        if (!d || !(to in COLOUR_SET)) continue;
        d[to]++;
        d.total++;
        if (e.data.from === null) d.initial++;
      }
    }
    return { from: startIso, to: now.toISOString(), timeZone: 'Asia/Shanghai', days };
  }

  /**
   * The first event at or after `iso`, by binary search over sequence numbers. Event times
   * follow sequence order as long as the clock does not step back; if it did, the search
   * may start a little late or early, and the time filter above still holds.
   */
  private async firstSeqAtOrAfter(iso: string): Promise<number | undefined> {
    const { ledger } = this.app;
    let lo = 1;
    let hi = ledger.getHead().seq;
    if (hi < 1) return undefined;
    const at = async (seq: number) => ((await ledger.getEvent(seq)) as LedgerEvent).at;
    if ((await at(hi)) < iso) return undefined;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if ((await at(mid)) < iso) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

const COLOUR_SET: Record<Colour, true> = { green: true, yellow: true, red: true };
