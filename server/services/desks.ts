import { randomBytes } from 'node:crypto';
import { DESK_PURPOSES, DESK_VENUE_TYPES, type DeskKind, type Purpose } from '../domain/services';
import { ServiceError } from '../errors';
import type { Tx } from '../../ledger/ledger';
import type { VenueRecord } from './venues';

/**
 * Service desks (窗口): a hospital registration desk, a pharmacy till, a social-security
 * window, a government service hall's counter, a bus or metro fare reader. Each stands in a
 * registered venue, whose admission policy decides there, and may look a fresh code up only
 * for the purposes it was registered with.
 *
 * Space `desks`:
 * - `k/<id>` → DeskRecord;
 * - `l/<id>/<at ISO>/<seq>` → the desk's look-ups (no personal data);
 * - `r/<pseudonym>/<at ISO>/<seq>` → a resident's look-ups ("who used my code").
 */

export interface DeskRecord {
  id: string;
  kind: DeskKind;
  name: string;
  purposes: Purpose[];
  venue: { id: string; name: string; type: VenueRecord['type']; subtype: string; district: string };
  /** Token id of the sector authority that registered it. */
  registeredBy: string;
  createdAt: string;
}

/** The subject a desk's events are chained under. */
export const deskSubject = (id: string) => `d:${id}`;

export const DESK_ID = /^[A-Za-z0-9_-]{16}$/;

/** The desk `id`, or 404 NOT_FOUND. */
export async function getDesk(tx: Pick<Tx, 'get'>, id: string): Promise<DeskRecord> {
  const d = DESK_ID.test(id) ? await tx.get<DeskRecord>('desks', `k/${id}`) : undefined;
  if (!d) throw new ServiceError('NOT_FOUND', `no desk ${id}`);
  return d;
}

/**
 * Registers a desk at `venue` with `purposes` (default: every purpose of its kind). 400 when
 * the venue is of a type the kind does not stand in, or a purpose is not the kind's.
 */
export async function registerDesk(
  tx: Tx,
  input: { kind: DeskKind; name: string; purposes?: Purpose[] },
  venue: VenueRecord,
  by: string,
): Promise<DeskRecord> {
  const allowed = DESK_PURPOSES[input.kind];
  const purposes = [...new Set(input.purposes ?? allowed)];
  const bad = purposes.findIndex((p) => !allowed.includes(p));
  if (bad >= 0) {
    throw new ServiceError('VALIDATION_FAILED', `a ${input.kind} may ask only for ${allowed.join(', ')}`, [
      { path: `purposes.${bad}`, code: 'PURPOSE_NOT_ALLOWED', message: `not a purpose of a ${input.kind}` },
    ]);
  }
  if (!DESK_VENUE_TYPES[input.kind].includes(venue.type)) {
    throw new ServiceError(
      'VALIDATION_FAILED',
      `a ${input.kind} stands in a ${DESK_VENUE_TYPES[input.kind].join(' or ')} venue, not a ${venue.type} one`,
      [{ path: 'venueId', code: 'VENUE_TYPE', message: `a ${DESK_VENUE_TYPES[input.kind].join(' or ')} venue` }],
    );
  }
  const desk: DeskRecord = {
    id: randomBytes(12).toString('base64url'),
    kind: input.kind,
    name: input.name,
    purposes,
    venue: { id: venue.id, name: venue.name, type: venue.type, subtype: venue.subtype, district: venue.district },
    registeredBy: by,
    createdAt: tx.now.toISOString(),
  };
  tx.put('desks', `k/${desk.id}`, desk);
  await tx.append({
    type: 'desk.registered',
    subjects: [deskSubject(desk.id)],
    data: { kind: desk.kind, name: desk.name, purposes, venue: venue.id, registeredBy: by },
  });
  return desk;
}
