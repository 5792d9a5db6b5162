import type Router from '@koa/router';
import type { Services } from '../app';
import type { AppContext } from '../context';
import { registerServiceMetrics } from '../http/service-metrics';

export function systemRoutes(router: Router, app: AppContext, _services: Services): void {
  registerServiceMetrics(app);

  router.get('/healthz', (ctx) => {
    ctx.body = { ok: true, issuer: app.config.ISSUER_ID, ledger: app.ledger.getHead() };
  });
  router.get('/metrics', async (ctx) => {
    const text = await app.metrics.render();
    ctx.type = app.metrics.contentType;
    ctx.body = text;
  });
  router.get('/v1/ledger/head', (ctx) => {
    ctx.body = app.ledger.getHead();
  });
}
