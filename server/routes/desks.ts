import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { Services } from '../app';
import type { AppContext } from '../context';
import { DESK_KINDS, PURPOSES } from '../domain/services';
import { ServiceError } from '../errors';
import { jsonBody } from '../http/body';
import { issueToken, type Principal } from '../http/auth';
import type { RouteDoc } from '../http/openapi';
import { authorize, requireGrant } from '../http/permissions';
import { deskScope, type DeskScope } from '../http/scopes';
import { safeText } from '../http/text';
import type { Tx } from '../ledger/ledger';
import { getDesk, registerDesk, type DeskRecord } from '../services/desks';

/**
 * Service desks (窗口): a sector authority registers a desk at a venue with the purposes it
 * may ask for, and gets the desk's first token; the desk's own tokens see the desk and look
 * codes up there (POST /v1/services/resolve), nothing else.
 */

/** The body of POST /v1/desks. */
export const deskSchema = z.strictObject({
  kind: z.enum(DESK_KINDS, { error: DESK_KINDS.join(', ') }),
  name: safeText(1, 32),
  venueId: z.string().regex(/^[A-Za-z0-9_-]{16}$/, 'a venue id'),
  purposes: z.array(z.enum(PURPOSES, { error: PURPOSES.join(', ') })).min(1).max(PURPOSES.length).optional(),
});

/** A desk as the API shows it. */
export function deskView(d: DeskRecord) {
  return { id: d.id, kind: d.kind, name: d.name, purposes: d.purposes, venue: d.venue, registeredBy: d.registeredBy, createdAt: d.createdAt };
}

/** Issues a desk token (role `desk`, scoped to the desk) in `tx`, with its token.issued event as POST /v1/admin/tokens writes it. */
async function issueDeskToken(tx: Tx, app: AppContext, desk: DeskRecord, by: Principal) {
  const scope: DeskScope = { desk: desk.id };
  const t = issueToken(tx, { role: 'desk', name: desk.name, scope }, app.config.STAFF_TOKEN_TTL_DAYS * 86_400_000);
  await tx.append({ type: 'token.issued', subjects: ['access'], data: { id: t.id, role: 'desk', source: null, scope, by: by.id, expiresAt: t.expiresAt } });
  return t;
}

/** The desk `:id`, when the request may do `action` there: 401/403 by role first, then 404, then 403 for another's desk. */
async function deskFor(ctx: Context, app: AppContext, action: 'desk.read' | 'desk.token.create'): Promise<{ desk: DeskRecord; principal: Principal }> {
  requireGrant(ctx, action);
  const desk = await getDesk({ get: (space, key) => app.ledger.read(space, key) }, ctx.params.id);
  return { desk, principal: await authorize(ctx, action, desk) };
}

export function deskRoutes(router: Router, app: AppContext, { venues }: Services): void {
  router.post('/v1/desks', async (ctx) => {
    requireGrant(ctx, 'desk.register');
    const input = await jsonBody(ctx, deskSchema, app.config.BODY_LIMIT_BYTES);
    const p = await authorize(ctx, 'desk.register', { kind: input.kind });
    // An unknown venue is 404 NOT_FOUND, as at POST /v1/scans; a venue of the wrong type is 400 (registerDesk).
    const venue = await venues.get(input.venueId);
    const { desk, token } = await app.ledger.transact(async (tx) => {
      const d = await registerDesk(tx, input, venue, p.id);
      return { desk: d, token: await issueDeskToken(tx, app, d, p) };
    });
    ctx.status = 201;
    ctx.body = { desk: deskView(desk), token: token.token, tokenId: token.id, expiresAt: token.expiresAt };
  });

  /** The desk of the calling desk token (the /desk page). */
  router.get('/v1/desks/me', async (ctx) => {
    const p = requireGrant(ctx, 'desk.read');
    const scope = deskScope(p);
    if (!scope) throw new ServiceError('FORBIDDEN', 'desk.read: GET /v1/desks/me is for a desk token (GET /v1/desks/:id for the others)');
    const desk = await getDesk({ get: (space, key) => app.ledger.read(space, key) }, scope.desk);
    await authorize(ctx, 'desk.read', desk);
    ctx.body = { desk: deskView(desk) };
  });

  router.get('/v1/desks/:id', async (ctx) => {
    ctx.body = { desk: deskView((await deskFor(ctx, app, 'desk.read')).desk) };
  });

  /** Another token for the desk (a second till, a replacement reader). */
  router.post('/v1/desks/:id/tokens', async (ctx) => {
    const { desk, principal: p } = await deskFor(ctx, app, 'desk.token.create');
    const t = await app.ledger.transact((tx) => issueDeskToken(tx, app, desk, p));
    ctx.status = 201;
    ctx.body = { desk: desk.id, token: t.token, tokenId: t.id, expiresAt: t.expiresAt };
  });

  // Look-ups (POST /v1/services/resolve, GET /v1/desks/:id/lookups) are added here.
}

const deskViewSchema = z.object({
  id: z.string(), kind: z.enum(DESK_KINDS), name: z.string(), purposes: z.array(z.enum(PURPOSES)),
  venue: z.object({ id: z.string(), name: z.string(), type: z.string(), subtype: z.string(), district: z.string() }),
  registeredBy: z.string(), createdAt: z.string(),
});
const tokenFields = { token: z.string(), tokenId: z.string(), expiresAt: z.string().nullable() };

/** The API document's entries for these routes (server/http/openapi.ts). */
export const deskDocs: RouteDoc[] = [
  {
    method: 'post', path: '/v1/desks', tag: 'desks', auth: 'desk.register', body: deskSchema,
    example: { kind: 'hospital-desk', name: '门诊挂号 1', venueId: 'AAAAAAAAAAAAAAAA' },
    summary: 'Register a service desk',
    description: 'For the authority of the desk\'s sector (DESK_AUTHORITY). `purposes` must be among the kind\'s (default: all of them); the venue must be of a type the kind stands in (400 VALIDATION_FAILED otherwise; an unknown venue is 404). The answer carries the desk\'s first token (role desk, scoped to the desk).',
    errors: ['NOT_FOUND'],
    ok: { status: 201, description: 'The desk and its token', schema: z.object({ desk: deskViewSchema, ...tokenFields }) },
  },
  {
    method: 'get', path: '/v1/desks/me', tag: 'desks', auth: 'desk.read', summary: 'The desk of the calling desk token',
    ok: { status: 200, description: 'The desk', schema: z.object({ desk: deskViewSchema }) },
  },
  {
    method: 'get', path: '/v1/desks/:id', tag: 'desks', auth: 'desk.read', summary: 'A service desk', errors: ['NOT_FOUND'],
    ok: { status: 200, description: 'The desk', schema: z.object({ desk: deskViewSchema }) },
  },
  {
    method: 'post', path: '/v1/desks/:id/tokens', tag: 'desks', auth: 'desk.token.create', summary: 'Another token for a desk', errors: ['NOT_FOUND'],
    ok: { status: 201, description: 'The token', schema: z.object({ desk: z.string(), ...tokenFields }) },
  },
];
