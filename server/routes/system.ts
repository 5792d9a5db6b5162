import type Router from '@koa/router';
import type { Services } from '../app';
import type { AppContext } from '../context';

export function systemRoutes(router: Router, app: AppContext, _services: Services): void {
  app.metrics.gauge('ankang_ledger_height', 'Durable ledger events', () => [[{}, app.ledger.getHead().seq]]);
  app.metrics.gauge('ankang_residents', 'Residents with a status index', () => [[{}, app.statusBook.size]]);

  router.get('/healthz', (ctx) => {
    ctx.body = { ok: true, issuer: app.config.ISSUER_ID, ledger: app.ledger.getHead() };
  });
  router.get('/metrics', (ctx) => {
    ctx.type = 'text/plain; version=0.0.4';
    ctx.body = app.metrics.render();
  });
  router.get('/v1/ledger/head', (ctx) => {
    ctx.body = app.ledger.getHead();
  });
}
