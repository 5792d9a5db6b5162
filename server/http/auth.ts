import { createHash, timingSafeEqual } from 'node:crypto';
import { randomBytesPooled as randomBytes } from '../crypto/random';
import type { Context } from 'koa';
import { ServiceError } from '../errors';
import type { Ledger, Tx } from '../ledger/ledger';
import type { StoredScope } from './scopes';

export const AUTHORITY_ROLES = ['admin', 'health', 'feed', 'auditor', 'operator', 'grid', 'border'] as const;
export type Role = (typeof AUTHORITY_ROLES)[number] | 'resident';
export const FEED_SOURCES = ['health', 'public-security', 'transport', 'telecom'] as const;
export type FeedSource = (typeof FEED_SOURCES)[number];

export interface Principal {
  role: Role;
  /** Token id (hash prefix), for logs and events; never the token. */
  id: string;
  /** The resident's pseudonym for resident tokens. */
  pseudonym?: string;
  /** Which data a feed token imports. */
  source?: FeedSource;
  /** What an operator, grid or border token covers (server/http/scopes.ts). */
  scope?: StoredScope;
  name?: string;
}

export interface TokenRecord extends Omit<Principal, 'id'> {
  createdAt: string;
}

const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

/** Issues a bearer token; only its SHA-256 is stored. */
export function issueToken(tx: Tx, record: Omit<TokenRecord, 'createdAt'>): { token: string; id: string } {
  const token = `ak_${record.role}_${randomBytes(24).toString('base64url')}`;
  const h = hashToken(token);
  tx.put('tokens', h, { ...record, createdAt: tx.now.toISOString() } satisfies TokenRecord);
  return { token, id: h.slice(0, 16) };
}

let admin: { token: string; hash: Buffer } | undefined;
/** The admin token's hash, computed once per token rather than on every request. */
function adminHash(adminToken: string): Buffer {
  if (admin?.token !== adminToken) admin = { token: adminToken, hash: Buffer.from(hashToken(adminToken)) };
  return admin.hash;
}

/** Resolves the bearer token of a request, or undefined when there is none. */
export async function authenticate(ctx: Context, ledger: Ledger, adminToken: string): Promise<Principal | undefined> {
  const header = ctx.get('authorization');
  if (!header) return undefined;
  const m = /^Bearer ([A-Za-z0-9_\-.]{16,200})$/.exec(header);
  if (!m) throw new ServiceError('UNAUTHENTICATED', 'use "Authorization: Bearer <token>"');
  const h = hashToken(m[1]);
  if (timingSafeEqual(Buffer.from(h), adminHash(adminToken))) return { role: 'admin', id: 'admin' };
  const rec = await ledger.read<TokenRecord>('tokens', h);
  if (!rec) throw new ServiceError('UNAUTHENTICATED', 'the token is not known');
  return { ...rec, id: h.slice(0, 16) };
}

/** The request's principal, which must hold one of `roles` (admin holds every authority role). */
export function requireRole(ctx: Context, ...roles: Role[]): Principal {
  const p = ctx.state.principal as Principal | undefined;
  if (!p) throw new ServiceError('UNAUTHENTICATED', 'this endpoint needs a bearer token');
  if (roles.includes(p.role) || (p.role === 'admin' && !roles.every((r) => r === 'resident'))) return p;
  throw new ServiceError('FORBIDDEN', `this endpoint is for: ${roles.join(', ')}`);
}
