import type Router from '@koa/router';
import type { Services } from '../app';
import type { AppContext } from '../context';
import { jsonBody } from '../http/body';
import { authorize, requireGrant } from '../http/permissions';
import type { RouteDoc } from '../http/openapi';
import {
  FEDERATION_MAX_CTIS,
  FEDERATION_MAX_WINDOW_DAYS,
  federationAnswerSchema,
  federationScansSchema,
} from '../services/federation-peers';
import { answerFederationScans } from '../services/foreign-scans';

/**
 * What this province tells another about that province's own codes (FORMAT.md §8): the scans
 * recorded here under their ctis, so that their issuer can trace its resident. A federation
 * token speaks for one issuer and asks only about that issuer's codes.
 */
export function federationRoutes(router: Router, app: AppContext, services: Services): void {
  router.post('/v1/federation/scans', services.limits.limit('federation-token'), async (ctx) => {
    // Other roles are refused before the body is read; the issuer is checked once it is.
    requireGrant(ctx, 'federation.scans');
    const q = await jsonBody(ctx, federationScansSchema, app.config.BODY_LIMIT_BYTES);
    const p = await authorize(ctx, 'federation.scans', { issuer: q.issuer });
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await answerFederationScans(app, q, p);
  });
}

/** The API document's entries for these routes (server/http/openapi.ts). */
export const federationDocs: RouteDoc[] = [
  {
    method: 'post',
    path: '/v1/federation/scans',
    tag: 'federation',
    auth: 'federation.scans',
    body: federationScansSchema,
    limited: true,
    summary: "The scans recorded here under another province's codes (its tracing)",
    description: `For the issuer of the codes only (a federation token issued for that issuer): at most ${FEDERATION_MAX_CTIS} ctis and a window of at most ${FEDERATION_MAX_WINDOW_DAYS} days per question. Each scan gives the venue (id, type, district), the time and the decision, and nothing about the person. The answer is recorded as an anchored event (federation.answered).`,
    example: { issuer: '340000', ctis: ['0011223344556677'], from: '2026-03-01T00:00:00Z', to: '2026-03-10T00:00:00Z' },
    ok: {
      status: 200,
      description:
        '`{ scannedBy, issuer, from, to, scans: [{ cti, venue: { id, type, district }, at, decision, seq }], seq }`',
      schema: federationAnswerSchema,
    },
  },
];
