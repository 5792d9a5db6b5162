import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { Services } from '../app';
import type { AppContext } from '../context';
import { pseudonymFor } from '../crypto/pii';
import { ID_TYPES, validateIdentity } from '../domain/identity';
import { CARD_KINDS, PURPOSES, type CardKind } from '../domain/services';
import { ServiceError } from '../errors';
import { jsonBody, parseWith } from '../http/body';
import { requireRole } from '../http/auth';
import type { RouteDoc } from '../http/openapi';
import { authorize, requireGrant } from '../http/permissions';
import type { Tx } from '../../ledger/ledger';

/**
 * Linked cards (多功能): a sector authority links, changes or removes the card it issued to a
 * resident named by ID, or confirms a link the resident asked for; the resident sees their
 * links (never a reference, only its last four characters), removes any, and pauses any
 * purpose. Every write goes through LinkBook (server/services/links.ts), one event each.
 */

const kind = z.enum(CARD_KINDS, { error: CARD_KINDS.join(', ') });
const person = { idType: z.enum(ID_TYPES, { error: ID_TYPES.join(', ') }), idNumber: z.string().min(1).max(32) };
const ref = z.string().regex(/^[A-Za-z0-9_-]{4,64}$/, '4 to 64 of A-Z, a-z, 0-9, _ and -');
const provider = z
  .string()
  .regex(/^[a-z0-9-]{2,32}$/, '2 to 32 of a-z, 0-9 and -')
  .optional();

/** A payment link names the provider holding the account; no other card does. */
const providerIffPayment = (b: { kind: CardKind; provider?: string }, ctx: z.RefinementCtx) => {
  if (b.kind === 'payment' && b.provider === undefined)
    ctx.addIssue({ code: 'custom', path: ['provider'], message: 'a payment link names its provider' });
  if (b.kind !== 'payment' && b.provider !== undefined)
    ctx.addIssue({ code: 'custom', path: ['provider'], message: 'only a payment link names a provider' });
};

/** The body of POST /v1/links. */
export const linkSchema = z.strictObject({ kind, ...person, ref, provider }).superRefine(providerIffPayment);
/** The body of DELETE /v1/links. */
export const unlinkSchema = z.strictObject({ kind, ...person });
/** The body of POST /v1/links/confirm. */
export const confirmSchema = z
  .strictObject({
    requestId: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, 'a request id'),
    kind,
    ...person,
    ref,
    provider,
  })
  .superRefine(providerIffPayment);
/** The body of POST /v1/residents/me/links/requests. */
export const linkRequestSchema = z.strictObject({ kind });
/** The body of PUT /v1/residents/me/consents/:purpose. */
export const consentSchema = z.strictObject({ paused: z.boolean() });

const kindParam = z.strictObject({ kind });
const purposeParam = z.strictObject({ purpose: z.enum(PURPOSES, { error: PURPOSES.join(', ') }) });

/** The pseudonym of the person an authority names by ID; 400 INVALID_ID_NUMBER for a bad number. */
function pseudonymOf(app: AppContext, body: { idType: string; idNumber: string }): string {
  const id = validateIdentity(body.idType, body.idNumber, app.clock());
  if (!id.ok)
    throw new ServiceError('INVALID_ID_NUMBER', id.message, [{ path: 'idNumber', code: id.code, message: id.message }]);
  return pseudonymFor(app.secrets.pseudonymKey, body.idType, id.normalized);
}

/** 404 NOT_FOUND, the same whether the ID was never seen or has no record yet. */
async function requireResident(tx: Pick<Tx, 'get'>, pseudonym: string): Promise<void> {
  if (!(await tx.get('residents', pseudonym))) throw new ServiceError('NOT_FOUND', 'no resident with this ID');
}

const stateStatus = (state: 'linked' | 'changed' | 'unchanged') => (state === 'unchanged' ? 200 : 201);

export function linkRoutes(router: Router, app: AppContext, { links, limits }: Services): void {
  const reader: Pick<Tx, 'get'> = { get: (space, key) => app.ledger.read(space, key) };

  /** An authority links (or changes) the card it issued, naming the resident by ID. */
  router.post('/v1/links', limits.limit('sector-token'), async (ctx) => {
    requireGrant(ctx, 'card.link');
    const body = await jsonBody(ctx, linkSchema, app.config.BODY_LIMIT_BYTES);
    const p = await authorize(ctx, 'card.link', { kind: body.kind });
    const pseudonym = pseudonymOf(app, body);
    const { link, changed } = await app.ledger.transact(async (tx) => {
      await requireResident(tx, pseudonym);
      return links.link(tx, pseudonym, body.kind, body.ref, p.id, 'authority', body.provider);
    });
    ctx.status = stateStatus(changed);
    ctx.body = { kind: body.kind, state: changed, refHint: link.refHint };
  });

  /** An authority removes its card (the card was cancelled). */
  router.delete('/v1/links', limits.limit('sector-token'), async (ctx) => {
    requireGrant(ctx, 'card.link');
    const body = await jsonBody(ctx, unlinkSchema, app.config.BODY_LIMIT_BYTES);
    const p = await authorize(ctx, 'card.link', { kind: body.kind });
    const pseudonym = pseudonymOf(app, body);
    await app.ledger.transact(async (tx) => {
      await requireResident(tx, pseudonym);
      await links.remove(tx, pseudonym, body.kind, p.id);
    });
    ctx.body = { kind: body.kind, removed: true };
  });

  /**
   * An authority confirms a link the resident asked for: the request must be for this kind
   * and this person and not have expired, or it is the same 404 whatever the mismatch.
   */
  router.post('/v1/links/confirm', limits.limit('sector-token'), async (ctx) => {
    requireGrant(ctx, 'card.link');
    const body = await jsonBody(ctx, confirmSchema, app.config.BODY_LIMIT_BYTES);
    const p = await authorize(ctx, 'card.link', { kind: body.kind });
    const pseudonym = pseudonymOf(app, body);
    const { link, changed } = await app.ledger.transact(async (tx) => {
      await links.takeRequest(tx, body.requestId, body.kind, pseudonym);
      await requireResident(tx, pseudonym);
      return links.link(tx, pseudonym, body.kind, body.ref, p.id, 'request', body.provider);
    });
    ctx.status = stateStatus(changed);
    ctx.body = { kind: body.kind, state: changed, refHint: link.refHint };
  });

  /** The resident's own links and purposes: `me` is always the session's, there is no id to name. */
  router.get('/v1/residents/me/links', async (ctx) => {
    const p = requireRole(ctx, 'resident');
    ctx.body = await links.view(reader, p.pseudonym!);
  });

  router.post('/v1/residents/me/links/requests', limits.limit('link-request-resident'), async (ctx) => {
    const p = requireRole(ctx, 'resident');
    const body = await jsonBody(ctx, linkRequestSchema, app.config.BODY_LIMIT_BYTES);
    ctx.status = 201;
    ctx.body = await app.ledger.transact((tx) => links.request(tx, p.pseudonym!, body.kind));
  });

  router.delete('/v1/residents/me/links/:kind', limits.limit('links-resident'), async (ctx: Context) => {
    const p = requireRole(ctx, 'resident');
    const { kind: k } = parseWith(kindParam, ctx.params);
    await app.ledger.transact((tx) => links.remove(tx, p.pseudonym!, k, 'resident'));
    ctx.body = { kind: k, removed: true };
  });

  /** Pausing a card on `/` pauses the one purpose it serves. */
  router.put('/v1/residents/me/consents/:purpose', limits.limit('links-resident'), async (ctx: Context) => {
    const p = requireRole(ctx, 'resident');
    const { purpose } = parseWith(purposeParam, ctx.params);
    const body = await jsonBody(ctx, consentSchema, app.config.BODY_LIMIT_BYTES);
    await app.ledger.transact((tx) => links.setConsent(tx, p.pseudonym!, purpose, body.paused, 'resident'));
    ctx.body = { purpose, paused: body.paused };
  });
}

const ID = '11010519491231002X';
const linkResult = z.object({ kind, state: z.enum(['linked', 'changed', 'unchanged']), refHint: z.string() });

/** The API document's entries for these routes (server/http/openapi.ts). */
export const linkDocs: RouteDoc[] = [
  {
    method: 'post',
    path: '/v1/links',
    tag: 'links',
    auth: 'card.link',
    limited: true,
    body: linkSchema,
    example: { kind: 'health-card', idType: 'resident-id', idNumber: ID, ref: 'EHC-3401-0001' },
    summary: "Link a resident's card (by ID)",
    description:
      "For the authority that issues the card (health: e-health card; hrss: e-social-security card; medical-insurance: insurance voucher; payment: a payment provider's account token, with `provider`). Only the reference is kept, sealed; the event (card.linked, card.changed) names the kind, never the reference.",
    errors: ['INVALID_ID_NUMBER', 'NOT_FOUND'],
    ok: { status: 201, description: 'Linked or changed', schema: linkResult },
    alsoOk: { 200: 'The same reference was already linked: nothing written' },
  },
  {
    method: 'delete',
    path: '/v1/links',
    tag: 'links',
    auth: 'card.link',
    limited: true,
    body: unlinkSchema,
    example: { kind: 'health-card', idType: 'resident-id', idNumber: ID },
    summary: "Remove a resident's card (cancelled)",
    errors: ['INVALID_ID_NUMBER', 'NOT_FOUND', 'CARD_NOT_LINKED'],
    ok: {
      status: 200,
      description: 'Removed (event card.removed)',
      schema: z.object({ kind, removed: z.literal(true) }),
    },
  },
  {
    method: 'post',
    path: '/v1/links/confirm',
    tag: 'links',
    auth: 'card.link',
    limited: true,
    body: confirmSchema,
    example: {
      requestId: 'AAAAAAAAAAAAAAAA',
      kind: 'health-card',
      idType: 'resident-id',
      idNumber: ID,
      ref: 'EHC-3401-0001',
    },
    summary: "Confirm a resident's link request",
    description:
      'The request must be for this card kind and this person and not have expired (24 hours); any mismatch is the same 404.',
    errors: ['INVALID_ID_NUMBER', 'NOT_FOUND'],
    ok: { status: 201, description: 'Linked (event card.linked with via: request)', schema: linkResult },
    alsoOk: { 200: 'The same reference was already linked: nothing written but the request is used' },
  },
  {
    method: 'get',
    path: '/v1/residents/me/links',
    tag: 'links',
    auth: 'resident',
    summary: 'My linked cards and purposes',
    description:
      'Each card kind with its last four characters and provider when linked, and each purpose with whether it is paused; never a reference.',
    ok: { status: 200, description: 'Links and purposes' },
  },
  {
    method: 'post',
    path: '/v1/residents/me/links/requests',
    tag: 'links',
    auth: 'resident',
    body: linkRequestSchema,
    limited: true,
    example: { kind: 'payment' },
    summary: 'Ask for a card to be linked',
    description:
      'A request id to give the authority (or payment provider), which confirms it within 24 hours with POST /v1/links/confirm.',
    ok: {
      status: 201,
      description: 'The request',
      schema: z.object({ requestId: z.string(), kind, expiresAt: z.string() }),
    },
  },
  {
    method: 'delete',
    path: '/v1/residents/me/links/:kind',
    tag: 'links',
    auth: 'resident',
    limited: true,
    params: kindParam,
    summary: 'Remove one of my cards',
    errors: ['CARD_NOT_LINKED'],
    ok: {
      status: 200,
      description: 'Removed (event card.removed)',
      schema: z.object({ kind, removed: z.literal(true) }),
    },
  },
  {
    method: 'put',
    path: '/v1/residents/me/consents/:purpose',
    tag: 'links',
    auth: 'resident',
    limited: true,
    params: purposeParam,
    body: consentSchema,
    example: { paused: true },
    summary: 'Pause or allow a purpose',
    description:
      "A desk's look-up for a paused purpose is refused with CONSENT_PAUSED. Event consent.changed when it changed.",
    ok: {
      status: 200,
      description: "The purpose's state",
      schema: z.object({ purpose: purposeParam.shape.purpose, paused: z.boolean() }),
    },
  },
];
