import type Router from '@koa/router';
import type { Services } from '../app';
import type { AppContext } from '../context';
import { z } from 'zod';
import { ServiceError } from '../errors';
import { jsonBody, parseWith } from '../http/body';
import { AUTHORITY_ROLES, issueToken, tokenId, type TokenRecord } from '../http/auth';
import { authorize } from '../http/permissions';
import { checkScopeVenues, scopeOf, tokenSchema } from '../http/scopes';
import type { SessionRecord } from '../identity/sessions';
import type { VenueRecord } from '../services/venues';
import type { RouteDoc } from '../http/openapi';

/** The query of GET /v1/admin/tokens. */
export const listSchema = z.strictObject({
  role: z
    .enum([...AUTHORITY_ROLES.filter((r) => r !== 'admin'), 'resident'] as string[] as [string, ...string[]])
    .optional(),
  /** Resume after this id (the last one of the previous page). */
  after: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/)
    .optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** The path of DELETE /v1/admin/tokens/:id. */
export const idSchema = z.strictObject({ id: z.string().regex(/^[A-Za-z0-9_-]{16,32}$/, 'a token or session id') });

export function adminRoutes(router: Router, app: AppContext, { sessions }: Services): void {
  router.post('/v1/admin/tokens', async (ctx) => {
    const admin = await authorize(ctx, 'token.create');
    const body = await jsonBody(ctx, tokenSchema, app.config.BODY_LIMIT_BYTES);
    // Venues are never deleted or retyped, so checking them before the transaction is enough.
    await checkScopeVenues(body, (id) => app.ledger.read<VenueRecord>('venues', id));
    const source = body.role === 'feed' ? body.source : undefined;
    const scope = scopeOf(body, app.config.ISSUER_ID);
    const ttlDays = body.ttlDays ?? app.config.STAFF_TOKEN_TTL_DAYS;
    const issued = await app.ledger.transact(async (tx) => {
      const t = issueToken(tx, { role: body.role, name: body.name, source, scope }, ttlDays * 86_400_000);
      await tx.append({
        type: 'token.issued',
        subjects: ['access'],
        data: {
          id: t.id,
          role: body.role,
          source: source ?? null,
          scope: scope ?? null,
          by: admin.id,
          expiresAt: t.expiresAt,
        },
      });
      return t;
    });
    ctx.status = 201;
    ctx.body = {
      token: issued.token,
      id: issued.id,
      role: body.role,
      source: source ?? null,
      scope: scope ?? null,
      expiresAt: issued.expiresAt,
    };
  });

  /**
   * Authority tokens (never the token itself), or with `role=resident` the resident
   * sessions, in id order, a page at a time.
   */
  router.get('/v1/admin/tokens', async (ctx) => {
    await authorize(ctx, 'token.list');
    const q = parseWith(listSchema, { ...ctx.query });
    const now = app.clock().getTime();
    const out: unknown[] = [];
    if (q.role === 'resident') {
      for await (const [id, value] of app.ledger.space('sessions').iterator({ gt: q.after ?? '', limit: q.limit })) {
        const s = value as SessionRecord;
        out.push({
          id,
          role: 'resident',
          pseudonym: s.pseudonym,
          createdAt: s.createdAt,
          refreshedAt: s.refreshedAt,
          expiresAt: s.expiresAt,
          expired: Date.parse(s.expiresAt) <= now,
        });
      }
    } else {
      for await (const [key, hash] of app.ledger
        .space('index')
        .iterator({ gt: `token/${q.after ?? ''}`, lt: 'token/~' })) {
        const rec = await app.ledger.read<TokenRecord>('tokens', hash as string);
        if (!rec || (q.role && rec.role !== q.role)) continue;
        const { role, name, source, scope, createdAt, expiresAt } = rec;
        out.push({
          id: key.slice('token/'.length),
          role,
          name,
          source: source ?? null,
          scope: scope ?? [],
          createdAt,
          expiresAt: expiresAt ?? null,
          expired: !!expiresAt && Date.parse(expiresAt) <= now,
        });
        if (out.length >= q.limit) break;
      }
    }
    ctx.body = { tokens: out, next: out.length >= q.limit ? (out[out.length - 1] as { id: string }).id : null };
  });

  /** Revokes an authority token, or ends a resident session, at once; an event records who did it. */
  router.delete('/v1/admin/tokens/:id', async (ctx) => {
    const admin = await authorize(ctx, 'token.revoke');
    const { id } = parseWith(idSchema, ctx.params);
    const revoked = await app.ledger.transact(async (tx) => {
      const hash = await tx.get<string>('index', `token/${id}`);
      let role: string | undefined;
      if (hash) {
        role = (await tx.get<TokenRecord>('tokens', hash))?.role;
        tx.del('tokens', hash);
        tx.del('index', `token/${id}`);
      } else if (await sessions.close(tx, id)) {
        role = 'resident';
      }
      if (!role) return false;
      await tx.append({
        type: 'token.revoked',
        subjects: ['access'],
        data: { id: hash ? tokenId(hash) : id, role, by: admin.id },
      });
      return true;
    });
    if (!revoked) throw new ServiceError('NOT_FOUND', 'no such token or session');
    ctx.status = 204;
  });
}

/** The API document's entries for these routes (server/http/openapi.ts). */
export const adminDocs: RouteDoc[] = [
  {
    method: 'post',
    path: '/v1/admin/tokens',
    tag: 'admin',
    auth: 'token.create',
    body: tokenSchema,
    summary: 'Create an authority token',
    description:
      'One shape per role; operator, grid and border tokens take a `scope` (README, Tokens and scopes). The token itself is shown only in this answer.',
    example: { role: 'operator', name: '银泰中心', scope: { venueTypes: ['crowded-place'], districts: ['340100'] } },
    ok: {
      status: 201,
      description: 'The token (shown only here), its id, and the scope as stored with its defaults filled in',
      schema: z.object({
        token: z.string(),
        id: z.string(),
        role: z.enum(AUTHORITY_ROLES),
        source: z.string().nullable(),
        scope: z.record(z.string(), z.array(z.string())).nullable(),
        expiresAt: z.iso.datetime().nullable(),
      }),
    },
  },
  {
    method: 'get',
    path: '/v1/admin/tokens',
    tag: 'admin',
    auth: 'token.list',
    query: listSchema,
    summary: 'List authority tokens, or resident sessions',
    description:
      'Never the token itself. With `role=resident`, the resident sessions. In id order, `limit` a page; `next` is the `after` of the next page, or null.',
    ok: { status: 200, description: '`{ tokens: [...], next }`' },
  },
  {
    method: 'delete',
    path: '/v1/admin/tokens/:id',
    tag: 'admin',
    auth: 'token.revoke',
    params: idSchema,
    summary: 'Revoke an authority token or end a resident session',
    errors: ['NOT_FOUND'],
    ok: { status: 204, description: 'Revoked at once; a `token.revoked` event records who did it' },
  },
];
