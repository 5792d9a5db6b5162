import { z } from 'zod';
import { VENUE_TYPES, type VenueType } from '../../verifier/src';
import { isRegionCode } from '../domain/regions';
import { ServiceError, type FieldError } from '../errors';
import { FEED_SOURCES, type Principal } from './auth';
import { safeText } from './text';

/**
 * Token scopes: what a scoped token may act on. Only three roles take one, each its own shape;
 * `POST /v1/admin/tokens` validates it (tokenSchema, then checkScopeVenues against the
 * ledger) and the token record keeps it as validated, with defaults filled in.
 */

/** Operators register venues of these types at most; a border post is registered by health. */
export const OPERATOR_VENUE_TYPES = VENUE_TYPES.filter((t): t is Exclude<VenueType, 'border'> => t !== 'border');

/**
 * An operator (场所): the venue types it may register and the GB/T 2260 regions they must lie
 * in (a province or city covers its districts). It runs only the venues it registered.
 */
export type OperatorScope = {
  venueTypes: VenueType[];
  districts: string[];
};

/** A grid worker (网格员): residents of these regions and on the rosters of these community venues. */
export type GridScope = {
  districts: string[];
  venues: string[];
};

/** A border officer (public security at a port of entry): the border venues it works at. */
export type BorderScope = {
  venues: string[];
};

/**
 * Another province's service (联防联控): the issuer it speaks for. It may ask for the scans
 * recorded here under that issuer's codes (POST /v1/federation/scans), and nothing else.
 */
export type FederationScope = {
  issuer: string;
};

/** A service desk (亮码办事, 码上支付): the one desk its token was issued for (POST /v1/desks). */
export type DeskScope = {
  desk: string;
};

// Type aliases rather than interfaces: a scope is written as JSON into the token record and the token.issued event.
export type TokenScope = OperatorScope | GridScope | BorderScope | FederationScope | DeskScope;

/** What a token record may hold in `scope`: a validated scope, or the free strings of a token from before scopes were validated. */
export type StoredScope = TokenScope | string[];

const DISTRICT = /^\d{6}$/;
const VENUE_ID = /^[A-Za-z0-9_-]{16}$/;
const MAX_ITEMS = 200;

/**
 * The operator's scope. A token issued before scopes were validated has none: it still runs
 * the venues it registered but registers no new ones until it is issued again.
 */
export function operatorScope(p: Principal): OperatorScope {
  const s = p.scope;
  if (!s || Array.isArray(s) || !('venueTypes' in s)) return { venueTypes: [], districts: [] };
  return { venueTypes: s.venueTypes, districts: s.districts };
}

/** The grid worker's scope; a token from before scopes were validated listed regions and venue ids in one array. */
export function gridScope(p: Principal): GridScope {
  const s = p.scope;
  if (Array.isArray(s))
    return { districts: s.filter((x) => DISTRICT.test(x)), venues: s.filter((x) => VENUE_ID.test(x)) };
  return { districts: (s && 'districts' in s && s.districts) || [], venues: (s && 'venues' in s && s.venues) || [] };
}

/** The issuer a federation token speaks for; none for any other token. */
export function federationScope(p: Principal): FederationScope | undefined {
  const s = p.scope;
  return s && !Array.isArray(s) && 'issuer' in s ? { issuer: s.issuer } : undefined;
}

/** The desk a desk token works at; none for any other token. */
export function deskScope(p: Principal): DeskScope | undefined {
  const s = p.scope;
  return p.role === 'desk' && s && !Array.isArray(s) && 'desk' in s ? { desk: s.desk } : undefined;
}

/** The border officer's posts. */
export function borderScope(p: Principal): BorderScope {
  const s = p.scope;
  return { venues: s && !Array.isArray(s) && 'venues' in s ? s.venues : [] };
}

const name = safeText(1, 80);
/** Days until the token stops working (STAFF_TOKEN_TTL_DAYS when left out). */
const ttlDays = z.number().int().min(1).max(365).optional();
const noSource = z.undefined({ error: 'only feed tokens have a source' }).optional();
const noScope = (role: string) => z.undefined({ error: `a ${role} token takes no scope` }).optional();
const region = z
  .string()
  .regex(DISTRICT, 'a 6-digit GB/T 2260 region code')
  .refine(isRegionCode, { error: 'not a GB/T 2260 region code', abort: true });
const venueId = z.string().regex(VENUE_ID, 'a venue id');
const listOf = <T extends z.ZodType>(item: T) => z.array(item).min(1).max(MAX_ITEMS);
const unique = <T>(xs: T[]): T[] => [...new Set(xs)];

/** The body of POST /v1/admin/tokens, one shape per role; `admin` is not issued (it comes from secrets.json). */
export const tokenSchema = z.discriminatedUnion('role', [
  z.strictObject({ role: z.literal('health'), name, ttlDays, source: noSource, scope: noScope('health') }),
  z.strictObject({ role: z.literal('auditor'), name, ttlDays, source: noSource, scope: noScope('auditor') }),
  z.strictObject({ role: z.literal('witness'), name, ttlDays, source: noSource, scope: noScope('witness') }),
  z.strictObject({
    role: z.literal('feed'),
    name,
    ttlDays,
    source: z.enum(FEED_SOURCES, { error: FEED_SOURCES.join(', ') }),
    scope: noScope('feed'),
  }),
  z.strictObject({
    role: z.literal('operator'),
    name,
    ttlDays,
    source: noSource,
    scope: z
      .strictObject({
        venueTypes: listOf(
          z
            .enum(VENUE_TYPES, { error: `one of ${OPERATOR_VENUE_TYPES.join(', ')}` })
            .refine((t) => t !== 'border', 'border posts are registered by a health authority, never by an operator'),
        ).optional(),
        districts: listOf(region).optional(),
      })
      .optional(),
  }),
  z.strictObject({
    role: z.literal('grid'),
    name,
    ttlDays,
    source: noSource,
    scope: z
      .strictObject(
        { districts: listOf(region).optional(), venues: listOf(venueId).optional() },
        { error: 'a grid token needs a scope: { districts?, venues? }' },
      )
      .refine((s) => s.districts || s.venues, 'name at least one district or community venue'),
  }),
  z.strictObject({
    role: z.literal('federation'),
    name,
    ttlDays,
    source: noSource,
    scope: z.strictObject(
      { issuer: region },
      { error: "a federation token needs a scope: { issuer: the other province's region code }" },
    ),
  }),
  z.strictObject({
    role: z.literal('border'),
    name,
    ttlDays,
    source: noSource,
    scope: z.strictObject(
      { venues: listOf(venueId) },
      { error: 'a border token needs a scope: { venues: [border venue ids] }' },
    ),
  }),
]);
export type TokenRequest = z.infer<typeof tokenSchema>;

/**
 * The scope a new token's record keeps. An operator without `venueTypes` may register every
 * type but border; without `districts`, anywhere within the issuer's own region.
 */
export function scopeOf(body: TokenRequest, issuerRegion: string): TokenScope | undefined {
  switch (body.role) {
    case 'operator':
      return {
        venueTypes: unique(body.scope?.venueTypes ?? OPERATOR_VENUE_TYPES),
        districts: unique(body.scope?.districts ?? [issuerRegion]),
      };
    case 'grid':
      return { districts: unique(body.scope.districts ?? []), venues: unique(body.scope.venues ?? []) };
    case 'border':
      return { venues: unique(body.scope.venues) };
    case 'federation':
      return { issuer: body.scope.issuer };
    default:
      return undefined;
  }
}

/**
 * Checks the venues a scope names against the ledger: a border token's must be border posts,
 * a grid token's residential communities (whose rosters it covers). 400 naming each bad one.
 */
export async function checkScopeVenues(
  body: TokenRequest,
  venueOf: (id: string) => Promise<{ type: VenueType } | undefined>,
): Promise<void> {
  if (body.role !== 'border' && body.role !== 'grid') return;
  const wanted: VenueType = body.role === 'border' ? 'border' : 'residential-community';
  const fields: FieldError[] = [];
  for (const [i, id] of (body.scope.venues ?? []).entries()) {
    const v = await venueOf(id);
    if (!v) fields.push({ path: `scope.venues.${i}`, code: 'VENUE_UNKNOWN', message: `no venue ${id}` });
    else if (v.type !== wanted)
      fields.push({
        path: `scope.venues.${i}`,
        code: 'VENUE_TYPE',
        message: `${id} is a ${v.type} venue; a ${body.role} token covers ${wanted} venues`,
      });
  }
  if (fields.length) throw new ServiceError('VALIDATION_FAILED', fields[0].message, fields);
}
