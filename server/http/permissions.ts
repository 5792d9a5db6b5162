import type { Context } from 'koa';
import type { VenueType } from '../../verifier/src';
import { regionContains } from '../domain/regions';
import { CARD_AUTHORITY, DESK_AUTHORITY, type CardKind, type DeskKind } from '../domain/services';
import { ServiceError } from '../errors';
import { principalsOf, unauthenticated, type FeedSource, type Principal, type Role } from './auth';
import { borderScope, deskScope, federationScope, gridScope, operatorScope } from './scopes';

/**
 * Who may do what: every action that needs an authority token is one row of PERMISSIONS,
 * and every route that takes one calls `authorize` with its action (resident-only routes
 * use `requireRole(ctx, 'resident')`). A row lists the roles that hold the action, each
 * either for anything (`ANY`) or under a condition on the principal and the resource — the
 * venue, the venue about to be registered, the resident a grid worker visits. A role not
 * listed, and every resident token, is refused with 403 FORBIDDEN naming the action; a
 * request without a token with 401. test/server/permissions.test.ts enumerates the table.
 */

/** The roles that can hold an action; a resident token holds none. */
export type Holder = Exclude<Role, 'resident'>;

/** A venue about to be registered (the body of POST /v1/venues). */
export interface VenueDraft {
  type: VenueType;
  district: string;
}

/** A registered venue. */
export interface VenueRef {
  id: string;
  type: VenueType;
  /** Token id of whoever registered it. */
  operator: string;
}

/** A resident as a grid worker reaches them: the home district, and the rosters they joined. */
export interface GridSubject {
  district: string;
  onRoster(venueId: string): Promise<boolean>;
}

/** A grant that holds only for some principals or resources; `when` says which, for error messages. */
export interface Condition<R> {
  when: string;
  test(p: Principal, resource: R): boolean | Promise<boolean>;
}

/** The role holds the action for any resource. */
export const ANY = true;
export type Grant<R> = typeof ANY | Condition<R>;

export interface Action<R> {
  /** What the action does, in a few words. */
  what: string;
  grants: Partial<Record<Holder, Grant<R>>>;
}

const action = <R = void>(what: string, grants: Partial<Record<Holder, Grant<R>>>): Action<R> => ({ what, grants });

const fromSource = (...sources: FeedSource[]): Condition<void> => ({
  when: `feed sources ${sources.join(', ')}`,
  test: (p) => p.source !== undefined && sources.includes(p.source),
});

/** An operator runs the venues it registered, and no others. */
const registeredIt: Condition<VenueRef> = { when: 'a venue it registered', test: (p, v) => v.operator === p.id };

/** A border officer works at the border posts its token names. */
const postInScope: Condition<VenueRef> = {
  when: 'a border post in its scope',
  test: (p, v) => v.type === 'border' && borderScope(p).venues.includes(v.id),
};

const withinOperatorScope: Condition<VenueDraft> = {
  when: 'a venue type and district within its scope (never a border post)',
  test: (p, d) => {
    const s = operatorScope(p);
    return (
      d.type !== 'border' && s.venueTypes.includes(d.type) && s.districts.some((r) => regionContains(r, d.district))
    );
  },
};

/** Whose codes a federation question is about (POST /v1/federation/scans). */
export interface IssuerRef {
  issuer: string;
}

/** A province asks only about its own codes: the issuer its token was issued for. */
const ownIssuer: Condition<IssuerRef> = {
  when: 'the codes of the issuer its token was issued for',
  test: (p, r) => federationScope(p)?.issuer === r.issuer,
};

const inGrid: Condition<GridSubject> = {
  when: 'a resident of its districts or on the roster of its community venues',
  test: async (p, r) => {
    const s = gridScope(p);
    if (s.districts.some((d) => regionContains(d, r.district))) return true;
    for (const v of s.venues) if (await r.onRoster(v)) return true;
    return false;
  },
};

/** A card about to be linked or removed (POST/DELETE /v1/links, POST /v1/links/confirm). */
export interface CardRef {
  kind: CardKind;
}

/** A desk about to be registered (the body of POST /v1/desks). */
export interface DeskDraft {
  kind: DeskKind;
}

/** A registered service desk. */
export interface DeskRef {
  id: string;
  kind: DeskKind;
  /** Token id of the sector authority that registered it. */
  registeredBy: string;
}

/** A card is linked by its issuing authority's feed token (server/domain/services.ts CARD_AUTHORITY), and by no other sector. */
const cardAuthority: Condition<CardRef> = {
  when: 'the cards its sector issues (CARD_AUTHORITY)',
  test: (p, c) => p.source === CARD_AUTHORITY[c.kind],
};
/** The health role speaks for the health source: the e-health card. */
const healthCard: Condition<CardRef> = {
  when: 'the e-health card',
  test: (_p, c) => CARD_AUTHORITY[c.kind] === 'health',
};
/** A desk is registered by the authority of its sector (DESK_AUTHORITY). */
const deskAuthority: Condition<DeskDraft> = {
  when: 'the desks of its sector (DESK_AUTHORITY)',
  test: (p, d) => p.source === DESK_AUTHORITY[d.kind],
};
const healthDesk: Condition<DeskDraft> = {
  when: 'hospital desks',
  test: (_p, d) => DESK_AUTHORITY[d.kind] === 'health',
};
/** The authority token that registered a desk runs it (its tokens, its page), and no other. */
const registeredDesk: Condition<DeskRef> = { when: 'a desk it registered', test: (p, d) => d.registeredBy === p.id };
/** A desk token acts for its own desk only. */
const ownDesk: Condition<DeskRef> = { when: 'its own desk', test: (p, d) => deskScope(p)?.desk === d.id };

/** Every action that needs an authority token. */
export const PERMISSIONS = {
  'token.create': action('create an authority token', { admin: ANY }),
  'token.list': action('list authority tokens and resident sessions', { admin: ANY }),
  'token.revoke': action('revoke an authority token or end a resident session', { admin: ANY }),
  'keys.rotate': action('rotate the signing key', { admin: ANY }),
  'rules.publish': action('publish a rule version', { admin: ANY, health: ANY }),
  'policies.publish': action('publish an admission-policy version', { admin: ANY, health: ANY }),
  'feed.cases': action('import the cases feed', { admin: ANY, health: ANY, feed: fromSource('health') }),
  'feed.close-contacts': action('import the close-contacts feed', {
    admin: ANY,
    health: ANY,
    feed: fromSource('health', 'telecom'),
  }),
  'feed.inbound-travellers': action('import the inbound-travellers feed', {
    admin: ANY,
    health: ANY,
    feed: fromSource('public-security', 'transport', 'health'),
  }),
  'feed.risk-areas': action('replace the risk-area list', { admin: ANY, health: ANY, feed: fromSource('health') }),

  'venue.register': action<VenueDraft>('register a venue', { admin: ANY, health: ANY, operator: withinOperatorScope }),
  'venue.read': action<VenueRef>('see a venue', {
    admin: ANY,
    health: ANY,
    grid: ANY,
    operator: registeredIt,
    border: postInScope,
  }),
  'venue.code': action<VenueRef>("print a venue's code", {
    admin: ANY,
    health: ANY,
    operator: registeredIt,
    border: postInScope,
  }),
  'venue.scan': action<VenueRef>('scan a code at a venue (核验)', {
    admin: ANY,
    health: ANY,
    operator: registeredIt,
    border: postInScope,
  }),
  'venue.scans.read': action<VenueRef>("read a venue's scan log", {
    admin: ANY,
    health: ANY,
    operator: registeredIt,
    border: postInScope,
  }),
  'venue.stats.read': action<VenueRef>("read a venue's scans by hour", {
    admin: ANY,
    health: ANY,
    operator: registeredIt,
    border: postInScope,
  }),
  'venue.certificate': action<VenueRef>("register a school's paper certificate", {
    admin: ANY,
    health: ANY,
    operator: registeredIt,
  }),
  'venue.roster.read': action<VenueRef>("read a venue's roster", { admin: ANY, health: ANY, operator: registeredIt }),
  'border.entry': action<VenueRef>('code an inbound traveller at entry (入境发码)', {
    admin: ANY,
    health: ANY,
    border: postInScope,
  }),

  'tracing.run': action('trace a case and mark close contacts', { admin: ANY, health: ANY }),
  'appeal.queue': action('read the appeal queue', { admin: ANY, health: ANY }),
  'appeal.decide': action('decide an appeal', { admin: ANY, health: ANY }),
  // A grid token lists only the red and yellow residents of its own area (GridService.list).
  'grid.list': action('list red and yellow residents to visit', { admin: ANY, health: ANY, grid: ANY }),
  'grid.history': action<GridSubject>("read a resident's home visits", { admin: ANY, health: ANY, grid: inGrid }),
  'grid.visit': action<GridSubject>('record a home visit', { admin: ANY, health: ANY, grid: inGrid }),
  'stats.read': action('read the statistics', { admin: ANY, health: ANY }),

  'proofs.read': action('fetch proof bundles', { admin: ANY, auditor: ANY }),
  'proofs.seal': action("seal a subject's history", { admin: ANY, auditor: ANY }),
  // The log in full names every pseudonym with every venue it visited and when (and, in a
  // tracing event, which pseudonym is a case): never public, unlike the trust list. A witness
  // token reads it and nothing else; an auditor may check what a witness checks.
  'log.read': action("read the log's events in full (witnesses)", { admin: ANY, auditor: ANY, witness: ANY }),
  // 多功能: sector authorities link their cards and register their desks (server/domain/services.ts).
  'card.link': action<CardRef>("link or remove a resident's card", {
    admin: ANY,
    health: healthCard,
    feed: cardAuthority,
  }),
  'desk.register': action<DeskDraft>('register a service desk', {
    admin: ANY,
    health: healthDesk,
    feed: deskAuthority,
  }),
  'desk.read': action<DeskRef>('see a service desk', {
    admin: ANY,
    health: registeredDesk,
    feed: registeredDesk,
    desk: ownDesk,
  }),
  'desk.token.create': action<DeskRef>('issue another token for a service desk', {
    admin: ANY,
    health: registeredDesk,
    feed: registeredDesk,
  }),
  'desk.lookups.read': action<DeskRef>("read a service desk's look-ups", {
    admin: ANY,
    health: registeredDesk,
    feed: registeredDesk,
    desk: ownDesk,
  }),
  // Only a desk looks codes up, at its own desk: no authority, not even admin, is a desk.
  'services.resolve': action<DeskRef>('look a fresh code up for one of its purposes (亮码办事)', { desk: ownDesk }),
  // Another province tracing its own resident: the scans recorded here under its codes' ctis, nothing personal.
  'federation.scans': action<IssuerRef>("read the scans recorded here under another province's codes (its tracing)", {
    admin: ANY,
    federation: ownIssuer,
  }),
};

export type ActionName = keyof typeof PERMISSIONS;
export type ResourceOf<A extends ActionName> = (typeof PERMISSIONS)[A] extends Action<infer R> ? R : never;
/** No argument for an action on nothing; the resource for the others, so a conditional grant is never checked without it. */
type ResourceArgs<A extends ActionName> = [ResourceOf<A>] extends [void] ? [] : [resource: ResourceOf<A>];

function grantOf(p: Principal, name: ActionName): Grant<unknown> | undefined {
  const grants = PERMISSIONS[name].grants as Partial<Record<Holder, Grant<unknown>>>;
  return p.role !== 'resident' && Object.hasOwn(grants, p.role) ? grants[p.role] : undefined;
}

const label = (p: Principal) => (p.source ? `${p.role} (${p.source})` : p.role);

/** Whether `p` may do `name` (on `resource`). */
export async function permits<A extends ActionName>(
  p: Principal,
  name: A,
  ...resource: ResourceArgs<A>
): Promise<boolean> {
  const grant = grantOf(p, name);
  return grant === ANY || (grant !== undefined && (await grant.test(p, (resource as unknown[])[0])));
}

/**
 * The request's principal when its role holds `name` at all: 401 without a token, 403 for a
 * role the row does not list. Routes call it before reading a body, then `authorize` with the
 * resource once it is loaded.
 */
export function requireGrant(ctx: Context, name: ActionName): Principal {
  const all = principalsOf(ctx);
  if (all.length === 0) throw unauthenticated(ctx);
  // A page may carry a staff cookie and a resident one: the staff one is the one that can hold an action.
  const p = all.find((q) => grantOf(q, name) !== undefined);
  if (p) return (ctx.state.principal = p);
  // The staff cookie expired beside a live resident one: 401, so the page signs in again.
  if (ctx.state.expired) throw ctx.state.expired as ServiceError;
  const holders = Object.entries(PERMISSIONS[name].grants as Partial<Record<Holder, Grant<unknown>>>).map(
    ([role, g]) => (g === ANY ? role : `${role} (${g!.when})`),
  );
  throw new ServiceError('FORBIDDEN', `${name} (${PERMISSIONS[name].what}) is for: ${holders.join('; ')}`);
}

/** The request's principal when it may do `name` on `resource`; 401 or 403 naming the action otherwise. */
export async function authorize<A extends ActionName>(
  ctx: Context,
  name: A,
  ...resource: ResourceArgs<A>
): Promise<Principal> {
  const p = requireGrant(ctx, name);
  const grant = grantOf(p, name)!;
  if (grant !== ANY && !(await grant.test(p, (resource as unknown[])[0]))) {
    throw new ServiceError(
      'FORBIDDEN',
      `${name} (${PERMISSIONS[name].what}): this ${label(p)} token may do it only for ${grant.when}`,
    );
  }
  return p;
}
