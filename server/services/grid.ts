import { z } from 'zod';
import type { Colour } from '../../verifier/src';
import { openField, sealField } from '../crypto/pii';
import { regionContains } from '../domain/regions';
import { ServiceError } from '../errors';
import type { Principal } from '../http/auth';
import type { GridSubject } from '../http/permissions';
import { gridScope } from '../http/scopes';
import { safeText } from '../http/text';
import type { Tx } from '../../ledger/ledger';
import { seqKey } from '../../ledger/ledger';
import type { AppContext } from '../context';
import { atRisk } from './resident-index';
import { residentSubject, type ResidentRecord } from './residents';
import { pseudonymSchema } from './tracing';

/** What a grid worker (网格员) found on a home visit. */
export const VISIT_OUTCOMES = ['verified', 'home-quarantine', 'sent-to-facility', 'data-wrong'] as const;
export type VisitOutcome = (typeof VISIT_OUTCOMES)[number];

export const gridVisitSchema = z.strictObject({
  pseudonym: pseudonymSchema,
  outcome: z.enum(VISIT_OUTCOMES),
  note: safeText(1, 200, { multiline: true }).optional(),
});
export type GridVisitInput = z.infer<typeof gridVisitSchema>;

export const gridListSchema = z.strictObject({
  colour: z.enum(['red', 'yellow']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
});

export interface LastVisit {
  outcome: VisitOutcome;
  at: string;
  by: string;
  seq: number;
}

interface StoredVisit extends LastVisit {
  noteSealed: string | null;
}

const COLOUR_ORDER: Record<Colour, number> = { red: 0, yellow: 1, green: 2 };

const lastKey = (p: string) => `grid-last/${p}`;
const visitPrefix = (p: string) => `grid-visit/${p}/`;

/** What a grid worker sees of a resident: masked, no phone, no ID beyond its last 4. */
export function gridResidentView(r: ResidentRecord, last: LastVisit | undefined) {
  return {
    pseudonym: r.pseudonym,
    maskedName: r.maskedName,
    idLast4: r.idLast4,
    district: r.district,
    colour: r.colour,
    reasons: r.reasons,
    evaluatedAt: r.evaluatedAt,
    lastVisit: last ?? null,
  };
}

/**
 * Grid follow-up (大数据+网格化): red and yellow residents of the districts and community
 * rosters a grid token covers, and the home visits recorded for them. Health and admin
 * tokens cover everyone; who may visit whom is in the grid rows of server/http/permissions.ts.
 * A visit's free-text note is sealed at rest and never in an event.
 *
 * Cost: listing reads the yellow and red residents of the districts in scope from the
 * at-risk index (server/services/resident-index.ts), and the rosters of community venues
 * in scope; green residents are never read.
 */
export class GridService {
  constructor(private readonly app: AppContext) {}

  /** The resident a visit or a visit history is about, as the `grid.visit` and `grid.history` permissions see them. */
  async subject(
    pseudonym: string,
    get: <T>(space: 'residents' | 'index', key: string) => Promise<T | undefined>,
  ): Promise<{ record: ResidentRecord } & GridSubject> {
    const record = await get<ResidentRecord>('residents', pseudonym);
    if (!record) throw new ServiceError('NOT_FOUND', 'no resident has this pseudonym');
    return {
      record,
      district: record.district,
      onRoster: async (venueId) => !!(await get('index', `roster/${venueId}/${pseudonym}`)),
    };
  }

  /** GET /v1/grid/residents: red first, then yellow; by district, then pseudonym. */
  async list(p: Principal, filter: z.infer<typeof gridListSchema>) {
    const { ledger } = this.app;
    const wanted = (r: ResidentRecord) => r.colour !== 'green' && (!filter.colour || r.colour === filter.colour);
    const all = p.role === 'admin' || p.role === 'health';
    const { districts, venues } = gridScope(p);
    const found = new Map<string, ResidentRecord>();
    if (all || districts.length) {
      // Only yellow and red residents are in the index; a scope reads its provinces' part of it.
      for await (const e of atRisk(ledger, all ? undefined : districts.map((d) => d.slice(0, 2)))) {
        if (filter.colour && e.colour !== filter.colour) continue;
        if (!all && !districts.some((d) => regionContains(d, e.district))) continue;
        const r = await ledger.read<ResidentRecord>('residents', e.pseudonym);
        if (r && wanted(r)) found.set(r.pseudonym, r);
      }
    }
    if (!all) {
      for (const v of venues) {
        const prefix = `roster/${v}/`;
        for await (const key of ledger.space('index').keys({ gt: prefix, lt: `${prefix}~` })) {
          const pseudonym = key.slice(prefix.length);
          if (found.has(pseudonym)) continue;
          const r = await ledger.read<ResidentRecord>('residents', pseudonym);
          if (r && wanted(r)) found.set(pseudonym, r);
        }
      }
    }
    const sorted = [...found.values()].sort(
      (a, b) =>
        COLOUR_ORDER[a.colour] - COLOUR_ORDER[b.colour] ||
        a.district.localeCompare(b.district) ||
        a.pseudonym.localeCompare(b.pseudonym),
    );
    const residents = [];
    for (const r of sorted.slice(0, filter.limit))
      residents.push(gridResidentView(r, await ledger.read<LastVisit>('index', lastKey(r.pseudonym))));
    return {
      total: sorted.length,
      counts: {
        red: sorted.filter((r) => r.colour === 'red').length,
        yellow: sorted.filter((r) => r.colour === 'yellow').length,
      },
      residents,
    };
  }

  /** POST /v1/grid/visits: records one home visit to `r` (whom the route authorised `p` to visit) and keeps it as the latest. */
  async recordVisit(tx: Tx, r: ResidentRecord, input: GridVisitInput, p: Principal) {
    const event = await tx.append({
      type: 'grid.visited',
      subjects: [residentSubject(r.pseudonym)],
      data: { outcome: input.outcome, by: p.id },
    });
    const at = tx.now.toISOString();
    const last: LastVisit = { outcome: input.outcome, at, by: p.id, seq: event.seq };
    const stored: StoredVisit = {
      ...last,
      noteSealed: input.note ? sealField(this.app.secrets.encryptionKey, input.note, noteAad(r.pseudonym)) : null,
    };
    tx.put('index', `${visitPrefix(r.pseudonym)}${at}/${seqKey(event.seq)}`, stored);
    tx.put('index', lastKey(r.pseudonym), last);
    return { visit: { ...last, note: input.note ?? null }, resident: gridResidentView(r, last) };
  }

  /** GET /v1/grid/residents/:pseudonym/visits: the visit history with notes, newest first. */
  async visits(r: ResidentRecord) {
    const { ledger, secrets } = this.app;
    const pseudonym = r.pseudonym;
    const out = [];
    const prefix = visitPrefix(pseudonym);
    for await (const value of ledger.space('index').values({ gt: prefix, lt: `${prefix}~`, reverse: true })) {
      const v = value as StoredVisit;
      out.push({
        outcome: v.outcome,
        at: v.at,
        by: v.by,
        seq: v.seq,
        note: v.noteSealed ? openField(secrets.encryptionKey, v.noteSealed, noteAad(pseudonym)) : null,
      });
    }
    return { resident: gridResidentView(r, await ledger.read<LastVisit>('index', lastKey(pseudonym))), visits: out };
  }
}

/** Binds a sealed note to its resident, so it cannot be moved to another record. */
const noteAad = (pseudonym: string) => `grid-visit:${pseudonym}`;
