import { expect } from 'chai';
import {
  CARD_AUTHORITY,
  DESK_AUTHORITY,
  DESK_VENUE_TYPES,
  type CardKind,
  type DeskKind,
  type Purpose,
  type SectorSource,
} from '../../server/domain/services';
import type { TestService } from './service';
import { registerVenue, type Resident, type Venue } from './scenario';

/**
 * Issue 17 (多功能) through the HTTP API: sector authority tokens, linked cards and service
 * desks, as the other tests and the demo need them. Each helper fails the test unless the
 * service answers as it should.
 */

const sectors = new WeakMap<TestService, Map<SectorSource, string>>();

/** A feed token of the sector authority `source` (one per service, made once through POST /v1/admin/tokens). */
export async function sectorToken(svc: TestService, source: SectorSource): Promise<string> {
  const known = sectors.get(svc) ?? new Map<SectorSource, string>();
  sectors.set(svc, known);
  const t = known.get(source) ?? (await svc.token('feed', { source, name: `${source} authority` }));
  known.set(source, t);
  return t;
}

/** Whom a card is linked to: a resident of test/support/scenario.ts, or an ID. */
export type Person = Pick<Resident, 'body'> | { idType: string; idNumber: string };
const idOf = (p: Person) =>
  'body' in p ? { idType: p.body.idType, idNumber: p.body.idNumber } : { idType: p.idType, idNumber: p.idNumber };

/**
 * POST /v1/links by the card's own authority (CARD_AUTHORITY), or by `opts.token`; a payment
 * link needs `provider`. Fails unless 201 (linked, changed) or 200 (unchanged).
 */
export async function linkCard(
  svc: TestService,
  person: Person,
  kind: CardKind,
  ref: string,
  provider?: string,
  opts: { token?: string } = {},
): Promise<{ kind: CardKind; state: 'linked' | 'changed' | 'unchanged'; refHint: string }> {
  const token = opts.token ?? (await sectorToken(svc, CARD_AUTHORITY[kind]));
  const r = await svc.call('POST', '/v1/links', {
    token,
    json: { kind, ...idOf(person), ref, ...(provider ? { provider } : {}) },
  });
  expect(r.status, JSON.stringify(r.body)).to.be.oneOf([200, 201]);
  return r.body;
}

export interface DeskView {
  id: string;
  kind: DeskKind;
  name: string;
  purposes: Purpose[];
  venue: { id: string; name: string; type: string; subtype: string; district: string };
  registeredBy: string;
  createdAt: string;
}

export interface RegisterDeskOptions {
  kind: DeskKind;
  /** Where the desk stands; a new venue of the first type the kind stands in (registered by admin) when left out. */
  venueId?: string;
  name?: string;
  purposes?: Purpose[];
  /** Who registers it: the kind's sector authority (DESK_AUTHORITY) unless given. */
  by?: string;
}

let desks = 0;

/** POST /v1/desks; fails unless 201. The token is the desk's own (role desk). */
export async function registerDesk(
  svc: TestService,
  opts: RegisterDeskOptions,
): Promise<{ desk: DeskView; token: string; tokenId: string; venue?: Venue }> {
  let venue: Venue | undefined;
  if (!opts.venueId)
    venue = await registerVenue(svc, svc.adminToken, {
      type: DESK_VENUE_TYPES[opts.kind][0],
      name: `${opts.kind} venue ${desks}`,
      district: '340104',
    });
  const by = opts.by ?? (await sectorToken(svc, DESK_AUTHORITY[opts.kind]));
  const json = {
    kind: opts.kind,
    name: opts.name ?? `desk ${++desks}`,
    venueId: opts.venueId ?? venue!.id,
    ...(opts.purposes ? { purposes: opts.purposes } : {}),
  };
  const r = await svc.call('POST', '/v1/desks', { token: by, json });
  expect(r.status, JSON.stringify(r.body)).to.equal(201);
  return { desk: r.body.desk, token: r.body.token, tokenId: r.body.tokenId, ...(venue ? { venue } : {}) };
}
