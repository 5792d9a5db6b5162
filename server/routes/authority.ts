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
import { venueFor } from './venues';

/** The query string as zod sees it: a repeated parameter stays an array and fails a scalar schema. */
const query = (ctx: Context) => ({ ...ctx.query });

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
    const { pseudonym } = parseWith(z.strictObject({ pseudonym: pseudonymSchema }), ctx.params);
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
    const id = parseWith(z.strictObject({ id: appealIdSchema }), ctx.params).id;
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
