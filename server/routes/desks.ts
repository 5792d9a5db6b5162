import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { Services } from '../app';
import type { AppContext } from '../context';
import { DESK_KINDS, LOOKUP_REFUSALS, PURPOSES } from '../domain/services';
import { ServiceError } from '../errors';
import { jsonBody } from '../http/body';
import { issueToken, requireRole, type Principal } from '../http/auth';
import type { RouteDoc } from '../http/openapi';
import { authorize, requireGrant } from '../http/permissions';
import { deskScope, type DeskScope } from '../http/scopes';
import { safeText } from '../http/text';
import type { Tx } from '../../ledger/ledger';
import { getDesk, registerDesk, type DeskRecord } from '../services/desks';
import { deskLookups, refusalAnswer, residentLookups, resolveSchema } from '../services/lookups';

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
  purposes: z
    .array(z.enum(PURPOSES, { error: PURPOSES.join(', ') }))
    .min(1)
    .max(PURPOSES.length)
    .optional(),
});

/** A desk as the API shows it. */
export function deskView(d: DeskRecord) {
  return {
    id: d.id,
    kind: d.kind,
    name: d.name,
    purposes: d.purposes,
    venue: d.venue,
    registeredBy: d.registeredBy,
    createdAt: d.createdAt,
  };
}

/** Issues a desk token (role `desk`, scoped to the desk) in `tx`, with its token.issued event as POST /v1/admin/tokens writes it. */
async function issueDeskToken(tx: Tx, app: AppContext, desk: DeskRecord, by: Principal) {
  const scope: DeskScope = { desk: desk.id };
  const t = issueToken(tx, { role: 'desk', name: desk.name, scope }, app.config.STAFF_TOKEN_TTL_DAYS * 86_400_000);
  await tx.append({
    type: 'token.issued',
    subjects: ['access'],
    data: { id: t.id, role: 'desk', source: null, scope, by: by.id, expiresAt: t.expiresAt },
  });
  return t;
}

/** The desk `:id`, when the request may do `action` there: 401/403 by role first, then 404, then 403 for another's desk. */
async function deskFor(
  ctx: Context,
  app: AppContext,
  action: 'desk.read' | 'desk.token.create' | 'desk.lookups.read',
): Promise<{ desk: DeskRecord; principal: Principal }> {
  requireGrant(ctx, action);
  const desk = await getDesk({ get: (space, key) => app.ledger.read(space, key) }, ctx.params.id);
  return { desk, principal: await authorize(ctx, action, desk) };
}

/** `?limit=`: at most 1000, 100 when left out or not a positive integer. */
function limitOf(ctx: Context): number {
  const n = Number(ctx.query.limit ?? 100);
  return Number.isSafeInteger(n) && n > 0 ? Math.min(n, 1000) : 100;
}

export function deskRoutes(router: Router, app: AppContext, { venues, scans, lookups, limits }: Services): void {
  router.post('/v1/desks', limits.limit('sector-token'), async (ctx) => {
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
    if (!scope)
      throw new ServiceError(
        'FORBIDDEN',
        'desk.read: GET /v1/desks/me is for a desk token (GET /v1/desks/:id for the others)',
      );
    const desk = await getDesk({ get: (space, key) => app.ledger.read(space, key) }, scope.desk);
    await authorize(ctx, 'desk.read', desk);
    ctx.body = { desk: deskView(desk) };
  });

  router.get('/v1/desks/:id', async (ctx) => {
    ctx.body = { desk: deskView((await deskFor(ctx, app, 'desk.read')).desk) };
  });

  /** Another token for the desk (a second till, a replacement reader). */
  router.post('/v1/desks/:id/tokens', limits.limit('sector-token'), async (ctx) => {
    const { desk, principal: p } = await deskFor(ctx, app, 'desk.token.create');
    const t = await app.ledger.transact((tx) => issueDeskToken(tx, app, desk, p));
    ctx.status = 201;
    ctx.body = { desk: desk.id, token: t.token, tokenId: t.id, expiresAt: t.expiresAt };
  });

  /**
   * A desk looks a resident's fresh code up for one purpose. The code is verified as at a
   * staff scan before the transaction; the look-up is decided and recorded in it. A refusal
   * is committed (its event written) before its error is answered.
   */
  router.post('/v1/services/resolve', limits.limit('resolve-token'), async (ctx) => {
    const p = requireGrant(ctx, 'services.resolve');
    const input = await jsonBody(ctx, resolveSchema, app.config.BODY_LIMIT_BYTES);
    const scope = deskScope(p);
    if (!scope) throw new ServiceError('FORBIDDEN', 'services.resolve: this desk token names no desk');
    const desk = await getDesk({ get: (space, key) => app.ledger.read(space, key) }, scope.desk);
    await authorize(ctx, 'services.resolve', desk);
    const verdict = await scans.verifyResidentCode(input.code);
    const outcome = await app.ledger.transact((tx) => lookups.resolve(tx, desk, input, verdict));
    if (outcome.outcome !== 'resolved') {
      const refusal = refusalAnswer(outcome);
      ctx.status = refusal.status;
      ctx.body = refusal.body;
      return;
    }
    ctx.body = await lookups.answer(outcome, desk, input);
  });

  /** A desk's look-ups, newest first: when, for what, and the outcome; nobody's name. */
  router.get('/v1/desks/:id/lookups', async (ctx) => {
    const { desk } = await deskFor(ctx, app, 'desk.lookups.read');
    ctx.body = { desk: deskView(desk), lookups: await deskLookups(app.ledger, desk.id, limitOf(ctx)) };
  });

  /** "Who used my code": the resident's own look-ups, newest first. */
  router.get('/v1/residents/me/lookups', async (ctx) => {
    const p = requireRole(ctx, 'resident');
    ctx.body = { lookups: await residentLookups(app.ledger, p.pseudonym!, limitOf(ctx)) };
  });
}

const deskViewSchema = z.object({
  id: z.string(),
  kind: z.enum(DESK_KINDS),
  name: z.string(),
  purposes: z.array(z.enum(PURPOSES)),
  venue: z.object({ id: z.string(), name: z.string(), type: z.string(), subtype: z.string(), district: z.string() }),
  registeredBy: z.string(),
  createdAt: z.string(),
});
const tokenFields = { token: z.string(), tokenId: z.string(), expiresAt: z.string().nullable() };
const limitQuery = z.strictObject({ limit: z.int().min(1).max(1000).optional() });
const outcomeSchema = z.enum(['resolved', ...LOOKUP_REFUSALS]);
const resolvedSchema = z.object({
  outcome: z.literal('resolved'),
  purpose: z.enum(PURPOSES),
  decision: z.enum(['admit', 'refer']),
  colour: z.enum(['green', 'yellow', 'red']),
  maskedName: z.string(),
  seq: z.int().min(1),
  at: z.string(),
  result: z.union([
    z.strictObject({ healthCard: z.string() }),
    z.strictObject({ insuranceVoucher: z.string() }),
    z.strictObject({ socialSecurityCard: z.string() }),
    z.strictObject({ name: z.string(), idType: z.string(), idNumber: z.string() }),
    z.strictObject({ provider: z.string(), token: z.string(), fareRequest: z.string() }),
  ]),
});

/** The API document's entries for these routes (server/http/openapi.ts). */
export const deskDocs: RouteDoc[] = [
  {
    method: 'post',
    path: '/v1/desks',
    tag: 'desks',
    auth: 'desk.register',
    limited: true,
    body: deskSchema,
    example: { kind: 'hospital-desk', name: '门诊挂号 1', venueId: 'AAAAAAAAAAAAAAAA' },
    summary: 'Register a service desk',
    description:
      "For the authority of the desk's sector (DESK_AUTHORITY). `purposes` must be among the kind's (default: all of them); the venue must be of a type the kind stands in (400 VALIDATION_FAILED otherwise; an unknown venue is 404). The answer carries the desk's first token (role desk, scoped to the desk).",
    errors: ['NOT_FOUND'],
    ok: {
      status: 201,
      description: 'The desk and its token',
      schema: z.object({ desk: deskViewSchema, ...tokenFields }),
    },
  },
  {
    method: 'get',
    path: '/v1/desks/me',
    tag: 'desks',
    auth: 'desk.read',
    summary: 'The desk of the calling desk token',
    ok: { status: 200, description: 'The desk', schema: z.object({ desk: deskViewSchema }) },
  },
  {
    method: 'get',
    path: '/v1/desks/:id',
    tag: 'desks',
    auth: 'desk.read',
    summary: 'A service desk',
    errors: ['NOT_FOUND'],
    ok: { status: 200, description: 'The desk', schema: z.object({ desk: deskViewSchema }) },
  },
  {
    method: 'post',
    path: '/v1/desks/:id/tokens',
    tag: 'desks',
    auth: 'desk.token.create',
    limited: true,
    summary: 'Another token for a desk',
    errors: ['NOT_FOUND'],
    ok: { status: 201, description: 'The token', schema: z.object({ desk: z.string(), ...tokenFields }) },
  },
  {
    method: 'post',
    path: '/v1/services/resolve',
    tag: 'desks',
    auth: 'services.resolve',
    limited: true,
    body: resolveSchema,
    errors: ['NOT_FOUND', ...LOOKUP_REFUSALS],
    summary: "Look a resident's fresh code up for one purpose (亮码办事, 码上支付)",
    description:
      "The desk token's own desk asks for one of its purposes. The code is verified as at a staff scan and must be a live dynamic code of this issuer, shown for the first time (a look-up spends it, whatever its outcome, once it got that far); the venue's admission policy must not deny it, and the resident must not have paused the purpose. The answer carries only what the purpose entitles: `registration` the e-health card reference, `insurance-payment` the insurance voucher, `social-security` the e-social-security card, `identity` the name and ID number, `fare` the payment token with a fare request the issuer signed (JWS, docs/payment-provider.md). `amount` (fen) is required for a fare and refused otherwise. Every look-up, refused or not, is one `service.looked-up` event on the resident's and the desk's chains; a refusal answers its error with `lookup: { seq, at, outcome, purpose }` and no data.",
    example: { code: 'AK1:...', purpose: 'registration' },
    ok: { status: 200, description: 'The look-up and what its purpose entitles', schema: resolvedSchema },
  },
  {
    method: 'get',
    path: '/v1/desks/:id/lookups',
    tag: 'desks',
    auth: 'desk.lookups.read',
    query: limitQuery,
    errors: ['NOT_FOUND'],
    summary: "A desk's look-ups, newest first (no personal data)",
    ok: {
      status: 200,
      description: '`{ desk, lookups }`',
      schema: z.object({
        desk: deskViewSchema,
        lookups: z.array(
          z.object({
            seq: z.int(),
            at: z.string(),
            purpose: z.enum(PURPOSES),
            outcome: outcomeSchema,
            decision: z.enum(['admit', 'deny', 'refer']).nullable(),
          }),
        ),
      }),
    },
  },
  {
    method: 'get',
    path: '/v1/residents/me/lookups',
    tag: 'desks',
    auth: 'resident',
    query: limitQuery,
    summary: "Who used my code: one's own look-ups, newest first",
    ok: {
      status: 200,
      description: '`{ lookups }`',
      schema: z.object({
        lookups: z.array(
          z.object({
            seq: z.int(),
            at: z.string(),
            desk: z.object({ id: z.string(), name: z.string(), kind: z.enum(DESK_KINDS) }),
            venue: z.object({ name: z.string() }),
            purpose: z.enum(PURPOSES),
            outcome: outcomeSchema,
          }),
        ),
      }),
    },
  },
];
