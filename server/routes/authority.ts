import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { Services } from '../app';
import type { AppContext } from '../context';
import { jsonBody, parseWith } from '../http/body';
import { requireRole } from '../http/auth';
import { AppealService, appealIdSchema, appealQueueSchema, appealSchema, decisionSchema } from '../services/appeals';
import { GridService, gridListSchema, gridVisitSchema } from '../services/grid';
import { StatsService, colourStatsSchema, dailyColoursSchema, hourlySchema, scanStatsSchema } from '../services/stats';
import { pseudonymSchema, TracingService, tracingSchema } from '../services/tracing';

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
    const p = requireRole(ctx, 'health');
    const input = await jsonBody(ctx, tracingSchema, limit);
    ctx.status = 201;
    ctx.body = await tracing.trace(input, p);
  });

  router.get('/v1/grid/residents', async (ctx) => {
    const p = requireRole(ctx, 'grid', 'health');
    ctx.body = await grid.list(p, parseWith(gridListSchema, query(ctx)));
  });
  router.get('/v1/grid/residents/:pseudonym/visits', async (ctx) => {
    const p = requireRole(ctx, 'grid', 'health');
    ctx.body = await grid.visits(p, parseWith(z.strictObject({ pseudonym: pseudonymSchema }), ctx.params).pseudonym);
  });
  router.post('/v1/grid/visits', async (ctx) => {
    const p = requireRole(ctx, 'grid', 'health');
    const input = await jsonBody(ctx, gridVisitSchema, limit);
    ctx.status = 201;
    ctx.body = await app.ledger.transact((tx) => grid.recordVisit(tx, input, p));
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
    requireRole(ctx, 'health');
    ctx.body = await appeals.queue(parseWith(appealQueueSchema, query(ctx)));
  });
  router.post('/v1/appeals/:id/decision', async (ctx) => {
    const p = requireRole(ctx, 'health');
    const id = parseWith(z.strictObject({ id: appealIdSchema }), ctx.params).id;
    const input = await jsonBody(ctx, decisionSchema, limit);
    ctx.body = await app.ledger.transact((tx) => appeals.decide(tx, id, input, p));
  });

  router.get('/v1/stats/colours', async (ctx) => {
    requireRole(ctx, 'health');
    ctx.body = await stats.colours(parseWith(colourStatsSchema, query(ctx)));
  });
  router.get('/v1/stats/colours/daily', async (ctx) => {
    requireRole(ctx, 'health');
    ctx.body = await stats.coloursDaily(parseWith(dailyColoursSchema, query(ctx)));
  });
  router.get('/v1/stats/scans', async (ctx) => {
    requireRole(ctx, 'health');
    ctx.body = await stats.scans(parseWith(scanStatsSchema, query(ctx)));
  });
  router.get('/v1/stats/venues/:id/hourly', async (ctx) => {
    const p = requireRole(ctx, 'operator', 'health');
    const q = parseWith(hourlySchema, query(ctx));
    ctx.body = await stats.venueHourly(await services.venues.getAsOperator(ctx.params.id, p), q);
  });
}
