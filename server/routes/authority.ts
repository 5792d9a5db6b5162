import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { Services } from '../app';
import type { AppContext } from '../context';
import { jsonBody, parseWith } from '../http/body';
import { requireRole } from '../http/auth';
import { authorize, requireGrant } from '../http/permissions';
import { AppealService, appealIdSchema, appealQueueSchema, appealSchema, decisionSchema } from '../services/appeals';
import { GridService, gridListSchema, gridVisitSchema } from '../services/grid';
import { StatsService, colourStatsSchema, dailyColoursSchema, hourlySchema, scanStatsSchema } from '../services/stats';
import { pseudonymSchema, TracingService, tracingSchema } from '../services/tracing';
import type { RouteDoc } from '../http/openapi';
import { venueFor } from './venues';

/** The query string as zod sees it: a repeated parameter stays an array and fails a scalar schema. */
const query = (ctx: Context) => ({ ...ctx.query });

/** The path of GET /v1/grid/residents/:pseudonym/visits. */
export const pseudonymParams = z.strictObject({ pseudonym: pseudonymSchema });
/** The path of POST /v1/appeals/:id/decision. */
export const appealParams = z.strictObject({ id: appealIdSchema });

/** Contact tracing, grid follow-up, appeals and statistics (authority and grid roles). */
export function authorityRoutes(router: Router, app: AppContext, services: Services): void {
  const tracing = new TracingService(app, services.residents, services.venues);
  const grid = new GridService(app);
  const appeals = new AppealService(app, services.residents);
  const stats = new StatsService(app);
  const limit = app.config.BODY_LIMIT_BYTES;

  router.post('/v1/tracing', async (ctx) => {
    const p = await authorize(ctx, 'tracing.run');
    const input = await jsonBody(ctx, tracingSchema, limit);
    ctx.status = 201;
    ctx.body = await tracing.trace(input, p);
  });

  router.get('/v1/grid/residents', async (ctx) => {
    const p = await authorize(ctx, 'grid.list');
    ctx.body = await grid.list(p, parseWith(gridListSchema, query(ctx)));
  });
  router.get('/v1/grid/residents/:pseudonym/visits', async (ctx) => {
    requireGrant(ctx, 'grid.history');
    const { pseudonym } = parseWith(pseudonymParams, ctx.params);
    const subject = await grid.subject(pseudonym, (space, key) => app.ledger.read(space, key));
    await authorize(ctx, 'grid.history', subject);
    ctx.body = await grid.visits(subject.record);
  });
  router.post('/v1/grid/visits', async (ctx) => {
    requireGrant(ctx, 'grid.visit');
    const input = await jsonBody(ctx, gridVisitSchema, limit);
    ctx.status = 201;
    ctx.body = await app.ledger.transact(async (tx) => {
      const subject = await grid.subject(input.pseudonym, (space, key) => tx.get(space, key));
      return grid.recordVisit(tx, subject.record, input, await authorize(ctx, 'grid.visit', subject));
    });
  });

  router.post('/v1/appeals', services.limits.limit('appeal-resident'), async (ctx) => {
    const p = requireRole(ctx, 'resident');
    const input = await jsonBody(ctx, appealSchema, limit);
    ctx.status = 201;
    ctx.body = await app.ledger.transact((tx) => appeals.file(tx, p, input));
  });
  router.get('/v1/residents/me/appeals', async (ctx) => {
    ctx.body = await appeals.mine(requireRole(ctx, 'resident'));
  });
  router.get('/v1/appeals', async (ctx) => {
    await authorize(ctx, 'appeal.queue');
    ctx.body = await appeals.queue(parseWith(appealQueueSchema, query(ctx)));
  });
  router.post('/v1/appeals/:id/decision', async (ctx) => {
    const p = await authorize(ctx, 'appeal.decide');
    const id = parseWith(appealParams, ctx.params).id;
    const input = await jsonBody(ctx, decisionSchema, limit);
    ctx.body = await app.ledger.transact((tx) => appeals.decide(tx, id, input, p));
  });

  router.get('/v1/stats/colours', async (ctx) => {
    await authorize(ctx, 'stats.read');
    ctx.body = await stats.colours(parseWith(colourStatsSchema, query(ctx)));
  });
  router.get('/v1/stats/colours/daily', async (ctx) => {
    await authorize(ctx, 'stats.read');
    ctx.body = await stats.coloursDaily(parseWith(dailyColoursSchema, query(ctx)));
  });
  router.get('/v1/stats/scans', async (ctx) => {
    await authorize(ctx, 'stats.read');
    ctx.body = await stats.scans(parseWith(scanStatsSchema, query(ctx)));
  });
  router.get('/v1/stats/venues/:id/hourly', async (ctx) => {
    const { venue } = await venueFor(ctx, services.venues, 'venue.stats.read');
    ctx.body = await stats.venueHourly(venue, parseWith(hourlySchema, query(ctx)));
  });
}

/** The API document's entries for these routes (server/http/openapi.ts). */
export const authorityDocs: RouteDoc[] = [
  {
    method: 'post',
    path: '/v1/tracing',
    tag: 'authority',
    auth: 'tracing.run',
    body: tracingSchema,
    errors: ['NOT_FOUND'],
    summary: 'Trace a case: its visits and who was at the same venues',
    description:
      "The case's visits in [from, to] (at most 30 days) and the residents at the same venues within ±`intervalMinutes`; `markCloseContacts: true` turns them into close contacts (red) in one step.",
    example: { pseudonym: 'AAAAAAAAAAAAAAAA', from: '2026-03-01T00:00:00Z', to: '2026-03-10T00:00:00Z' },
    ok: { status: 201, description: "The case's visits and its contacts" },
  },
  {
    method: 'get',
    path: '/v1/grid/residents',
    tag: 'grid',
    auth: 'grid.list',
    query: gridListSchema,
    summary: 'Red and yellow residents to visit',
    description: 'Masked; a grid token sees its own area only.',
    ok: { status: 200, description: 'The residents, masked' },
  },
  {
    method: 'get',
    path: '/v1/grid/residents/:pseudonym/visits',
    tag: 'grid',
    auth: 'grid.history',
    params: pseudonymParams,
    errors: ['NOT_FOUND'],
    summary: "A resident's home visits",
    ok: { status: 200, description: 'The visits, newest first' },
  },
  {
    method: 'post',
    path: '/v1/grid/visits',
    tag: 'grid',
    auth: 'grid.visit',
    body: gridVisitSchema,
    errors: ['NOT_FOUND'],
    summary: 'Record a home visit',
    example: { pseudonym: 'AAAAAAAAAAAAAAAA', outcome: 'verified' },
    ok: { status: 201, description: 'The visit as recorded' },
  },
  {
    method: 'post',
    path: '/v1/appeals',
    tag: 'appeals',
    auth: 'resident',
    limited: true,
    body: appealSchema,
    errors: ['NOT_FOUND', 'CONFLICT'],
    summary: "Appeal one's colour (12345 hotline)",
    example: { reason: '我已核酸阴性，已解除隔离', requestedColour: 'green' },
    ok: { status: 201, description: 'The appeal, open' },
  },
  {
    method: 'get',
    path: '/v1/residents/me/appeals',
    tag: 'appeals',
    auth: 'resident',
    summary: "One's own appeals",
    ok: { status: 200, description: 'The appeals, with their decisions' },
  },
  {
    method: 'get',
    path: '/v1/appeals',
    tag: 'appeals',
    auth: 'appeal.queue',
    query: appealQueueSchema,
    summary: 'The appeal queue',
    ok: { status: 200, description: 'The appeals, oldest first' },
  },
  {
    method: 'post',
    path: '/v1/appeals/:id/decision',
    tag: 'appeals',
    auth: 'appeal.decide',
    params: appealParams,
    body: decisionSchema,
    errors: ['NOT_FOUND', 'CONFLICT'],
    summary: 'Decide an appeal',
    description:
      'An override (a colour, optionally until a time) or a rejection, with a reason that is shown to the resident and must not carry an ID or phone number. The ledger event holds a salted digest of the reason.',
    example: { decision: 'override', colour: 'green', reason: '核酸阴性，解除' },
    ok: { status: 200, description: 'The decided appeal, with `reasonSalt`' },
  },
  {
    method: 'get',
    path: '/v1/stats/colours',
    tag: 'statistics',
    auth: 'stats.read',
    query: colourStatsSchema,
    summary: 'Residents by colour and district or city',
    ok: { status: 200, description: 'Counts by colour' },
  },
  {
    method: 'get',
    path: '/v1/stats/colours/daily',
    tag: 'statistics',
    auth: 'stats.read',
    query: dailyColoursSchema,
    summary: 'Colour counts per day',
    ok: { status: 200, description: 'Counts by colour for each of the last `days` days' },
  },
  {
    method: 'get',
    path: '/v1/stats/scans',
    tag: 'statistics',
    auth: 'stats.read',
    query: scanStatsSchema,
    summary: 'Scans by day, venue type, subtype, district or decision',
    ok: { status: 200, description: 'Scan counts' },
  },
  {
    method: 'get',
    path: '/v1/stats/venues/:id/hourly',
    tag: 'statistics',
    auth: 'venue.stats.read',
    query: hourlySchema,
    errors: ['NOT_FOUND'],
    summary: "A venue's scans by hour of a day (Shanghai time)",
    ok: { status: 200, description: 'Scans per hour' },
  },
];
