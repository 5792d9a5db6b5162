import { z } from 'zod';
import { regionContains } from '../domain/regions';

const DAY_MS = 86_400_000;
const SHANGHAI_OFFSET_MS = 8 * 3_600_000;

const isoInstant = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'expected an ISO 8601 instant');
const region = z.string().regex(/^\d{6}$/, 'expected a 6-digit GB/T 2260 region code');
const calendarDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'expected YYYY-MM-DD')
  .refine((s) => new Date(`${s}T00:00:00Z`).toISOString().startsWith(s), 'not a calendar date');

/** zod schema of the raw facts the server keeps per resident. */
export const rawFactsSchema = z.object({
  declaration: z
    .object({
      at: isoInstant,
      temperatureC: z.number().min(30).max(45),
      /** e.g. fever, cough, fatigue, sore-throat, loss-of-taste, diarrhoea */
      symptoms: z.array(z.string().regex(/^[a-z][a-z0-9-]{0,31}$/)).max(20),
      visited: z.array(z.object({ region, date: calendarDate })).max(100),
      contactWithCase: z.boolean(),
    })
    .optional(),
  case: z.object({ status: z.enum(['confirmed', 'suspected', 'recovered', 'cleared']), at: isoInstant }).optional(),
  /** degree 1: close contact (密接); 2: secondary contact (次密接). */
  contact: z.object({ degree: z.union([z.literal(1), z.literal(2)]), exposedAt: isoInstant }).optional(),
  /** `from`: ISO 3166 alpha-2 country or a GB/T 2260 region code. */
  inbound: z.object({ arrivedAt: isoInstant, from: z.string().regex(/^([A-Z]{2}|\d{6})$/) }).optional(),
  dailyCheckins: z.unknown().optional(),
});
export type RawFacts = z.infer<typeof rawFactsSchema>;

/** zod schema of one entry of the current risk-area list. */
export const riskAreaSchema = z.object({ region, level: z.enum(['high', 'medium']), since: isoInstant });
export type RiskArea = z.infer<typeof riskAreaSchema>;

export type VisitRisk = 'high' | 'medium' | 'none';
export interface VisitFact {
  region: string;
  daysAgo: number;
  /** 'high' when inside a high-risk area in effect, else 'medium' when inside a medium one. */
  risk: VisitRisk;
}

/**
 * The data JSON Logic rules see. Every `…DaysAgo` is whole days,
 * floor((now − t) / 86 400 s), negative for a future t, and null when the fact is absent.
 * JSON Logic compares null as 0, so a rule should test presence (`contactDegree`,
 * `inbound`, `!== null`) before comparing a `…DaysAgo`.
 */
export interface DerivedFacts {
  /** Declared temperature, null without a declaration. */
  temperatureC: number | null;
  /** temperatureC ≥ 37.3 °C. */
  hasFever: boolean;
  /** Declared symptoms, [] without a declaration. */
  symptoms: string[];
  hasSymptoms: boolean;
  /** Declared contact with a confirmed or suspected case. */
  contactWithCase: boolean;
  declarationDaysAgo: number | null;
  /** 'none' when the authority holds no case record. */
  caseStatus: 'none' | 'confirmed' | 'suspected' | 'recovered' | 'cleared';
  caseDaysAgo: number | null;
  /** 0 none, 1 close contact (密接), 2 secondary contact (次密接). */
  contactDegree: 0 | 1 | 2;
  contactDaysAgo: number | null;
  /** An inbound-traveller record exists. */
  inbound: boolean;
  inboundDaysAgo: number | null;
  /** Smallest daysAgo of a visit with risk 'high'. */
  highRiskVisitDaysAgo: number | null;
  /** Smallest daysAgo of a visit with risk 'medium'. */
  mediumRiskVisitDaysAgo: number | null;
  /** Declared visits, for `some` / `all` / `none`. */
  visits: VisitFact[];
}

/** How rules may name facts; arrays list the `var` paths of their elements ('' for scalars). */
export type FactCatalogue = Readonly<Record<string, { array?: readonly string[]; days?: true }>>;

/** The facts a colour rule may read. */
export const FACT_CATALOGUE: Readonly<Record<keyof DerivedFacts, { array?: readonly string[]; days?: true }>> = {
  temperatureC: {},
  hasFever: {},
  symptoms: { array: [''] },
  hasSymptoms: {},
  contactWithCase: {},
  declarationDaysAgo: { days: true },
  caseStatus: {},
  caseDaysAgo: { days: true },
  contactDegree: {},
  contactDaysAgo: { days: true },
  inbound: {},
  inboundDaysAgo: { days: true },
  highRiskVisitDaysAgo: { days: true },
  mediumRiskVisitDaysAgo: { days: true },
  visits: { array: ['', 'region', 'daysAgo', 'risk'] },
};

/** The element paths of `visits` that count days. */
export const VISIT_DAY_PATHS: readonly string[] = ['daysAgo'];

/** A visit date is a calendar day in Asia/Shanghai: it starts at 00:00 +08:00. */
function visitInstant(date: string): number {
  return Date.parse(`${date}T00:00:00Z`) - SHANGHAI_OFFSET_MS;
}

function instant(iso: string): number {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) throw new RangeError(`not an ISO 8601 instant: ${iso}`);
  return t;
}

function daysBetween(t: number, now: Date): number {
  return Math.floor((now.getTime() - t) / DAY_MS);
}

function visitRisk(regionCode: string, areas: readonly RiskArea[]): VisitRisk {
  const inside = (level: RiskArea['level']) =>
    areas.some((a) => a.level === level && regionContains(a.region, regionCode));
  return inside('high') ? 'high' : inside('medium') ? 'medium' : 'none';
}

function minOrNull(xs: number[]): number | null {
  return xs.length ? Math.min(...xs) : null;
}

/**
 * Turns stored raw facts into the JSON Logic data at `now`. A risk area takes effect
 * at its `since`; a visit counts against every area currently listed, whenever it was.
 * @throws RangeError on an unparseable timestamp (raw facts are validated on the way in).
 */
export function deriveFacts(raw: RawFacts, riskAreas: readonly RiskArea[], now: Date): DerivedFacts {
  const inEffect = riskAreas.filter((a) => instant(a.since) <= now.getTime());
  const d = raw.declaration;
  const visits: VisitFact[] = (d?.visited ?? []).map((v) => ({
    region: v.region,
    daysAgo: daysBetween(visitInstant(v.date), now),
    risk: visitRisk(v.region, inEffect),
  }));
  const daysOf = (risk: VisitRisk) => minOrNull(visits.filter((v) => v.risk === risk).map((v) => v.daysAgo));
  return {
    temperatureC: d ? d.temperatureC : null,
    hasFever: d !== undefined && d.temperatureC >= 37.3,
    symptoms: d ? [...d.symptoms] : [],
    hasSymptoms: (d?.symptoms.length ?? 0) > 0,
    contactWithCase: d?.contactWithCase ?? false,
    declarationDaysAgo: d ? daysBetween(instant(d.at), now) : null,
    caseStatus: raw.case?.status ?? 'none',
    caseDaysAgo: raw.case ? daysBetween(instant(raw.case.at), now) : null,
    contactDegree: raw.contact?.degree ?? 0,
    contactDaysAgo: raw.contact ? daysBetween(instant(raw.contact.exposedAt), now) : null,
    inbound: raw.inbound !== undefined,
    inboundDaysAgo: raw.inbound ? daysBetween(instant(raw.inbound.arrivedAt), now) : null,
    highRiskVisitDaysAgo: daysOf('high'),
    mediumRiskVisitDaysAgo: daysOf('medium'),
    visits,
  };
}

/**
 * The next instant after `now` at which {@link deriveFacts} can return something
 * different: the next whole-day boundary of every dated fact fewer than `horizonDays`
 * days old, or a listed risk area taking effect over a visited region. Null when none.
 */
export function nextFactChange(
  raw: RawFacts,
  riskAreas: readonly RiskArea[],
  now: Date,
  horizonDays: number,
): Date | null {
  const dated = [raw.declaration?.at, raw.case?.at, raw.contact?.exposedAt, raw.inbound?.arrivedAt]
    .filter((s): s is string => s !== undefined)
    .map(instant);
  const visited = raw.declaration?.visited ?? [];
  dated.push(...visited.map((v) => visitInstant(v.date)));
  const candidates: number[] = [];
  for (const t of dated) {
    const days = daysBetween(t, now);
    if (days < horizonDays) candidates.push(t + (days + 1) * DAY_MS);
  }
  for (const a of riskAreas) {
    const since = instant(a.since);
    if (since > now.getTime() && visited.some((v) => regionContains(a.region, v.region))) candidates.push(since);
  }
  return candidates.length ? new Date(Math.min(...candidates)) : null;
}
