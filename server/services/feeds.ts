import { createHash } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson } from '../../verifier/src/event';
import { pseudonymFor } from '../crypto/pii';
import { validateIdentity, ID_TYPES } from '../domain/identity';
import { isRegionCode } from '../domain/regions';
import { ServiceError, type FieldError } from '../errors';
import type { Principal } from '../http/auth';
import type { Tx } from '../../ledger/ledger';
import type { RawFacts, RiskArea } from '../rules';
import type { AppContext } from '../context';
import type { ResidentRecord, ResidentService } from './residents';
import { getFacts, putFacts } from './facts-store';

const instant = z.iso.datetime({ offset: true });
const person = { idType: z.enum(ID_TYPES), idNumber: z.string().min(1).max(32) };

/** Authority feeds and the body each takes; who may send each is in server/http/permissions.ts (feed.<name>). */
export const FEEDS = {
  cases: {
    schema: z.strictObject({
      records: z
        .array(
          z.strictObject({
            ...person,
            status: z.enum(['confirmed', 'suspected', 'recovered', 'cleared']),
            at: instant,
          }),
        )
        .min(1)
        .max(500),
    }),
  },
  'close-contacts': {
    schema: z.strictObject({
      records: z
        .array(z.strictObject({ ...person, degree: z.union([z.literal(1), z.literal(2)]), exposedAt: instant }))
        .min(1)
        .max(500),
    }),
  },
  'inbound-travellers': {
    schema: z.strictObject({
      records: z
        .array(
          z.strictObject({
            ...person,
            arrivedAt: instant,
            from: z.string().regex(/^([A-Z]{2}|\d{6})$/, 'ISO 3166 alpha-2 or a region code'),
          }),
        )
        .min(1)
        .max(500),
    }),
  },
  'risk-areas': {
    schema: z.strictObject({
      areas: z
        .array(
          z.strictObject({ region: z.string().regex(/^\d{6}$/), level: z.enum(['high', 'medium']), since: instant }),
        )
        .max(2000),
    }),
  },
} as const;
export type FeedName = keyof typeof FEEDS;

/** How far ahead of this server's clock a feed's times may be (the sender's clock may run fast). */
const FUTURE_SKEW_MS = 5 * 60_000;

type PersonRecord = { idType: (typeof ID_TYPES)[number]; idNumber: string };

export class FeedService {
  constructor(
    private readonly app: AppContext,
    private readonly residents: ResidentService,
  ) {}

  /** Checks every record before anything is written: one bad ID refuses the whole batch. */
  normalise(
    feed: FeedName,
    body: { records?: PersonRecord[]; areas?: RiskArea[] },
    now: Date,
  ): Array<{ pseudonym: string; record: Record<string, unknown> }> | RiskArea[] {
    const fields: FieldError[] = [];
    if (feed === 'risk-areas') {
      body.areas!.forEach((a, i) => {
        if (!isRegionCode(a.region))
          fields.push({
            path: `areas.${i}.region`,
            code: 'REGION_UNKNOWN',
            message: `${a.region} is not a GB/T 2260 region code`,
          });
      });
      if (fields.length) throw new ServiceError('UNKNOWN_REGION', fields[0].message, fields);
      return body.areas!;
    }
    const out = body.records!.map((r, i) => {
      // A future time would hold a colour until long after it (a typo of 2062 for 2026 keeps someone red for decades).
      for (const key of ['at', 'exposedAt', 'arrivedAt']) {
        const t = (r as Record<string, unknown>)[key];
        if (typeof t === 'string' && Date.parse(t) > now.getTime() + FUTURE_SKEW_MS) {
          fields.push({ path: `records.${i}.${key}`, code: 'DATE_IN_FUTURE', message: 'this time is in the future' });
        }
      }
      const id = validateIdentity(r.idType, r.idNumber, now);
      if (!id.ok) {
        fields.push({ path: `records.${i}.idNumber`, code: id.code, message: id.message });
        return undefined;
      }
      const { idType, idNumber, ...rest } = r;
      void idNumber;
      return { pseudonym: pseudonymFor(this.app.secrets.pseudonymKey, idType, id.normalized), record: rest };
    });
    const badIds = fields.filter((f) => f.code !== 'DATE_IN_FUTURE').length;
    if (badIds)
      throw new ServiceError('INVALID_ID_NUMBER', `${badIds} record(s) have an invalid ID number`, fields.slice(0, 20));
    if (fields.length)
      throw new ServiceError(
        'VALIDATION_FAILED',
        `${fields.length} record(s) have a time in the future`,
        fields.slice(0, 20),
      );
    return out as Array<{ pseudonym: string; record: Record<string, unknown> }>;
  }

  /** Stores the feed's facts, records the import, and re-evaluates every known resident it names. */
  async import(tx: Tx, feed: FeedName, items: ReturnType<FeedService['normalise']>, principal: Principal) {
    const digest = createHash('sha256').update(canonicalJson(items)).digest('hex');
    const importEvent = await tx.append({
      type: 'feed.imported',
      subjects: ['feeds'],
      data: { feed, source: principal.source ?? principal.role, by: principal.id, count: items.length, digest },
    });
    if (feed === 'risk-areas') {
      this.app.rules.setRiskAreas(tx, items as RiskArea[]);
      return {
        feed,
        seq: importEvent.seq,
        count: items.length,
        affected: null as number | null,
        reevaluation: 'scheduled' as const,
      };
    }
    let affected = 0;
    const changed: string[] = [];
    for (const { pseudonym, record } of items as Array<{ pseudonym: string; record: Record<string, unknown> }>) {
      const facts: RawFacts = { ...((await getFacts(tx, this.app.secrets.encryptionKey, pseudonym)) ?? {}) };
      if (feed === 'cases') facts.case = record as RawFacts['case'];
      if (feed === 'close-contacts') {
        const c = record as NonNullable<RawFacts['contact']>;
        // A close contact outranks a secondary one; a later exposure of the same degree restarts the window.
        const prev = facts.contact;
        // Compared as instants: the texts may carry different UTC offsets.
        if (
          !prev ||
          c.degree < prev.degree ||
          (c.degree === prev.degree && Date.parse(c.exposedAt) > Date.parse(prev.exposedAt))
        )
          facts.contact = c;
      }
      if (feed === 'inbound-travellers') facts.inbound = record as RawFacts['inbound'];
      putFacts(tx, this.app.secrets.encryptionKey, pseudonym, facts);
      const resident = await tx.get<ResidentRecord>('residents', pseudonym);
      if (resident) {
        affected++;
        const next = await this.residents.reevaluate(tx, resident, facts, `feed:${feed}#${importEvent.seq}`);
        if (next.colour !== resident.colour) changed.push(next.colour);
      }
    }
    return {
      feed,
      seq: importEvent.seq,
      count: items.length,
      affected,
      changed: changed.length,
      reevaluation: 'done' as const,
    };
  }
}
