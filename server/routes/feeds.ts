import type Router from '@koa/router';
import type { Services } from '../app';
import type { AppContext } from '../context';
import { jsonBody } from '../http/body';
import type { RouteDoc } from '../http/openapi';
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

/** The API document's entries for these routes (server/http/openapi.ts). */
const FEED_EXAMPLES: Record<FeedName, unknown> = {
  cases: {
    records: [
      { idType: 'resident-id', idNumber: '11010519491231002X', status: 'confirmed', at: '2026-03-09T08:00:00Z' },
    ],
  },
  'close-contacts': {
    records: [{ idType: 'resident-id', idNumber: '11010519491231002X', degree: 1, exposedAt: '2026-03-08T10:00:00Z' }],
  },
  'inbound-travellers': {
    records: [{ idType: 'passport', idNumber: 'E12345678', arrivedAt: '2026-03-09T12:00:00Z', from: 'IT' }],
  },
  'risk-areas': { areas: [{ region: '420106', level: 'high', since: '2026-03-01T00:00:00Z' }] },
};

export const feedDocs: RouteDoc[] = (Object.keys(FEEDS) as FeedName[]).map((feed) => ({
  method: 'post',
  path: `/v1/feeds/${feed}`,
  tag: 'feeds',
  auth: `feed.${feed}`,
  body: FEEDS[feed].schema,
  idempotent: true,
  example: FEED_EXAMPLES[feed],
  errors: ['INVALID_ID_NUMBER', 'UNKNOWN_REGION'],
  summary: feed === 'risk-areas' ? 'Replace the risk-area list' : `Import ${feed} records`,
  description:
    feed === 'risk-areas'
      ? 'The body is the whole current list; every resident is re-evaluated.'
      : 'At most 500 records; the residents it names are re-evaluated at once.',
  ok: { status: 201, description: 'What was imported' },
}));
