import { createHash, timingSafeEqual } from 'node:crypto';
import { randomBytesPooled as randomBytes } from '../../ledger/random';
import type { Context } from 'koa';
import { ServiceError } from '../errors';
import type { Ledger, Tx } from '../../ledger/ledger';
import type { StoredScope } from './scopes';
import { addressKey } from './address';
import type { UnknownTokens } from './rate-limit';

export const AUTHORITY_ROLES = [
  'admin',
  'health',
  'feed',
  'auditor',
  'witness',
  'federation',
  'operator',
  'grid',
  'border',
  'desk',
] as const;
export type Role = (typeof AUTHORITY_ROLES)[number] | 'resident';
/**
 * What a feed token speaks for. The first four import health data; `hrss`, `medical-insurance`,
 * `government-services`, `transport`, `health` and `payment` are also the sector authorities
 * that link cards and register service desks (server/domain/services.ts).
 */
export const FEED_SOURCES = [
  'health',
  'public-security',
  'transport',
  'telecom',
  'hrss',
  'medical-insurance',
  'government-services',
  'payment',
] as const;
export type FeedSource = (typeof FEED_SOURCES)[number];

/** Cookies the pages authenticate with (HttpOnly, Secure, SameSite=Strict): the page's script never sees a token. */
export const COOKIES = { resident: 'ak_resident', residentRefresh: 'ak_resident_refresh', staff: 'ak_staff' } as const;

export interface Principal {
  role: Role;
  /** Token id (hash prefix), or the session id of a resident; for logs and events, never the token. */
  id: string;
  /** The pseudonym of the identity a resident session signed in as. */
  pseudonym?: string;
  /** Resident sessions: the identity-provider account (a keyed hash of issuer and subject). */
  account?: string;
  /** Resident sessions: the session both of its tokens belong to. */
  session?: string;
  /** Which data a feed token imports. */
  source?: FeedSource;
  /** What an operator, grid or border token covers (server/http/scopes.ts). */
  scope?: StoredScope;
  name?: string;
  /** When the token stops working (ISO time); the admin token never does. */
  expiresAt?: string | null;
  /** How the request carried the token. */
  via?: 'header' | 'cookie';
  /**
   * Resident sessions: whether the record of the signed-in identity is bound to this
   * account (`bound`), to another one (`other`: a re-bind is needed), or does not exist yet.
   */
  binding?: 'bound' | 'other' | 'none';
}

/** A resident session (as opposed to an authority token, whose rights are in server/http/permissions.ts). */
export const isResident = (p: Principal): boolean => p.role === 'resident';

/** Which identity-provider account a resident record is reachable through (space `bindings`, by pseudonym). */
export interface Binding {
  account: string;
  at: string;
}

export interface TokenRecord extends Omit<Principal, 'id' | 'via' | 'binding'> {
  createdAt: string;
  /** A refresh token only buys a new access token at POST /v1/auth/refresh; it opens nothing else. */
  kind?: 'access' | 'refresh';
}

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');
/** The public id of a token: the first 16 hex digits of its hash. */
export const tokenId = (hash: string) => hash.slice(0, 16);

/**
 * Issues a bearer token; only its SHA-256 is stored, and an index from its id lets the
 * admin list and revoke it. `ttlMs` undefined means it never expires.
 */
export function issueToken(
  tx: Tx,
  record: Omit<TokenRecord, 'createdAt' | 'expiresAt'>,
  ttlMs?: number,
): { token: string; id: string; hash: string; expiresAt: string | null } {
  const token = `ak_${record.role}_${randomBytes(24).toString('base64url')}`;
  const h = hashToken(token);
  const expiresAt = ttlMs === undefined ? null : new Date(tx.now.getTime() + ttlMs).toISOString();
  tx.put('tokens', h, { ...record, createdAt: tx.now.toISOString(), expiresAt } satisfies TokenRecord);
  if (record.role !== 'resident') tx.put('index', `token/${tokenId(h)}`, h);
  return { token, id: tokenId(h), hash: h, expiresAt };
}

let admin: { token: string; hash: Buffer } | undefined;
/** The admin token's hash, computed once per token rather than on every request. */
function adminHash(adminToken: string): Buffer {
  if (admin?.token !== adminToken) admin = { token: adminToken, hash: Buffer.from(hashToken(adminToken)) };
  return admin.hash;
}

const BEARER = /^Bearer ([A-Za-z0-9_\-.]{16,200})$/;
const TOKEN_TEXT = /^[A-Za-z0-9_\-.]{16,200}$/;

/**
 * Resolves one token to its principal. Unknown, revoked and refresh tokens are
 * UNAUTHENTICATED; a token past its expiry is TOKEN_EXPIRED (a page then refreshes).
 */
export async function resolveToken(
  token: string,
  ledger: Ledger,
  adminToken: string,
  now: Date,
  legacyTtlMs = 30 * 86_400_000,
): Promise<Principal> {
  return resolveTokenHash(hashToken(token), ledger, adminToken, now, legacyTtlMs);
}

/** `resolveToken` for a token known by its SHA-256 (hex): an HTTP worker sends the writer only the hash. */
export async function resolveTokenHash(
  h: string,
  ledger: Pick<Ledger, 'read'>,
  adminToken: string,
  now: Date,
  legacyTtlMs = 30 * 86_400_000,
): Promise<Principal> {
  if (h.length === 64 && timingSafeEqual(Buffer.from(h), adminHash(adminToken)))
    return { role: 'admin', id: 'admin', expiresAt: null };
  const rec = await ledger.read<TokenRecord>('tokens', h);
  if (!rec || rec.kind === 'refresh')
    throw new ServiceError('UNAUTHENTICATED', 'the token is not known, or was revoked');
  // Resident tokens from before sign-in through the identity provider belong to no account: they open nothing.
  if (rec.role === 'resident' && !rec.account)
    throw new ServiceError('UNAUTHENTICATED', 'this resident token predates sign-in; sign in again');
  // A token from before tokens expired has no expiresAt at all: it lives the default life from its creation.
  const expiresAt =
    rec.expiresAt === undefined ? new Date(Date.parse(rec.createdAt) + legacyTtlMs).toISOString() : rec.expiresAt;
  if (expiresAt && Date.parse(expiresAt) <= now.getTime())
    throw new ServiceError('TOKEN_EXPIRED', 'the token has expired');
  const { kind: _kind, createdAt: _createdAt, ...principal } = rec;
  if (rec.role !== 'resident') return { ...principal, expiresAt, id: tokenId(h) };
  const b = await ledger.read<Binding>('bindings', rec.pseudonym!);
  return { ...principal, id: rec.session!, binding: !b ? 'none' : b.account === rec.account ? 'bound' : 'other' };
}

/**
 * The principals of a request. A bearer header is the only one when present; otherwise
 * each page cookie (a resident session, a staff token) gives one, and `requireRole`
 * picks the one the endpoint is for.
 */
export async function authenticate(
  ctx: Context,
  ledger: Ledger,
  adminToken: string,
  now: Date,
  legacyTtlMs?: number,
  unknown?: UnknownTokens,
): Promise<Principal[]> {
  const resolve = (token: string) => resolveToken(token, ledger, adminToken, now, legacyTtlMs);
  return principalsFrom(ctx, unknown ? (token) => unknown.lookUp(addressKey(ctx.ip), () => resolve(token)) : resolve);
}

/**
 * `authenticate` with the token resolver given: the service resolves from the ledger, an HTTP
 * worker from its cache of the writer's answers (server/cluster/worker.ts).
 */
export async function principalsFrom(
  ctx: Context,
  resolve: (token: string) => Promise<Principal>,
): Promise<Principal[]> {
  const header = ctx.get('authorization');
  if (header) {
    const m = BEARER.exec(header);
    if (!m) throw new ServiceError('UNAUTHENTICATED', 'use "Authorization: Bearer <token>"');
    return [{ ...(await resolve(m[1])), via: 'header' }];
  }
  const out: Principal[] = [];
  let expired: ServiceError | undefined;
  for (const name of [COOKIES.staff, COOKIES.resident]) {
    const value = ctx.cookies.get(name);
    if (!value) continue;
    if (!TOKEN_TEXT.test(value)) continue;
    try {
      out.push({ ...(await resolve(value)), via: 'cookie' });
    } catch (e) {
      // A stale cookie is the same as none, except that an expired session says so, so the page can refresh it;
      // a cookie not looked up for the unknown-token limit is refused as the header would be.
      if (e instanceof ServiceError && e.code === 'TOKEN_EXPIRED') expired = e;
      else if (!(e instanceof ServiceError) || e.code === 'TOO_MANY_REQUESTS') throw e;
    }
  }
  if (out.length === 0 && expired) ctx.state.expired = expired;
  return out;
}

/**
 * A signed-in resident session, whether or not its identity's record is bound to it yet:
 * for applying (申领) and for moving a record to this account.
 */
export function requireSession(ctx: Context): Principal {
  const all = principalsOf(ctx);
  const p = all.find((q) => q.role === 'resident');
  if (p) return (ctx.state.principal = p);
  if (all.length === 0 || all.every((q) => q.via === 'cookie')) throw unauthenticated(ctx);
  throw new ServiceError('FORBIDDEN', 'this endpoint is for a resident signed in through the identity provider');
}

/** The request's principals (see `authenticate`). */
export function principalsOf(ctx: Context): Principal[] {
  return (ctx.state.principals as Principal[] | undefined) ?? [];
}

/** 401: no credentials, or (when a page's session cookie expired) TOKEN_EXPIRED so it can refresh. */
export function unauthenticated(ctx: Context): ServiceError {
  return (
    (ctx.state.expired as ServiceError | undefined) ??
    new ServiceError('UNAUTHENTICATED', 'this endpoint needs a bearer token or a session')
  );
}

/** The request's principal, which must hold one of `roles` (admin holds every authority role). */
export function requireRole(ctx: Context, ...roles: Role[]): Principal {
  const all = principalsOf(ctx);
  if (all.length === 0) throw unauthenticated(ctx);
  const fits = (p: Principal) =>
    roles.includes(p.role) || (p.role === 'admin' && !roles.every((r) => r === 'resident'));
  const p = all.find(fits);
  if (p) {
    if (p.role === 'resident' && p.binding === 'none')
      throw new ServiceError(
        'NOT_FOUND',
        'there is no health code for this identity yet: apply first (POST /v1/residents)',
      );
    if (p.role === 'resident' && p.binding === 'other') {
      throw new ServiceError(
        'REBIND_REQUIRED',
        'this record is bound to another account; confirm the move with a code sent to the phone on record (POST /v1/residents/me/rebind)',
      );
    }
    ctx.state.principal = p;
    return p;
  }
  // A staff cookie and no resident one, on a resident endpoint: the resident is simply not
  // signed in; and a page whose own cookie expired beside another one is told so, to sign in again.
  if (roles.every((r) => r === 'resident') && all.every((q) => q.via === 'cookie')) throw unauthenticated(ctx);
  if (ctx.state.expired) throw ctx.state.expired as ServiceError;
  throw new ServiceError('FORBIDDEN', `this endpoint is for: ${roles.join(', ')}`);
}
