import type Router from '@koa/router';
import type { Services } from '../app';
import type { AppContext } from '../context';
import { jsonBody } from '../http/body';
import { authorize } from '../http/permissions';
import { FEEDS, type FeedName } from '../services/feeds';
import { Idempotency } from '../services/idempotency';

export function feedRoutes(router: Router, app: AppContext, { feeds, reevaluator, idempotency }: Services): void {
  for (const feed of Object.keys(FEEDS) as FeedName[]) {
    router.post(`/v1/feeds/${feed}`, async (ctx) => {
      const p = await authorize(ctx, `feed.${feed}`);
      const key = Idempotency.validate(ctx.get('idempotency-key'));
      const body = await jsonBody(ctx, FEEDS[feed].schema, app.config.BODY_LIMIT_BYTES);
      const items = feeds.normalise(feed, body as never, app.clock());
      const res = await app.ledger.transact(async (tx) => {
        const prior = await idempotency.replay(tx, `feed:${feed}:${p.id}`, key, body);
        if (prior) return prior;
        const out = { status: 201, body: await feeds.import(tx, feed, items, p) };
        idempotency.remember(tx, `feed:${feed}:${p.id}`, key, body, out);
        return out;
      });
      if (feed === 'risk-areas') void reevaluator.sweepAll('risk areas');
      ctx.status = res.status;
      ctx.body = res.body;
    });
  }
}
