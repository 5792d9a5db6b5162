import type Router from '@koa/router';
import type { Context } from 'koa';
import { toRfc3339, type TrustListJson } from '../../verifier/src';
import type { Services } from '../app';
import type { AppContext } from '../context';
import { authorize } from '../http/permissions';
import type { RouteDoc } from '../http/openapi';

/**
 * The trust list and status list are public, signed and carry no credentials: any origin
 * may read them, so a verifier page served by one province can fetch another's lists.
 */
function publicToAnyOrigin(ctx: Context): void {
  ctx.set('Access-Control-Allow-Origin', '*');
  ctx.set('Access-Control-Expose-Headers', 'X-Status-List-Issued-At');
}

/** The signed status list as `GET /v1/status-list` answers it (an HTTP worker answers from its copy the same way). */
export function sendStatusList(ctx: Context, list: { bytes: Uint8Array; issuedAt: number }): void {
  publicToAnyOrigin(ctx);
  ctx.type = 'application/cose; cose-type="cose-sign1"';
  ctx.set('Cache-Control', 'no-cache');
  ctx.set('X-Status-List-Issued-At', toRfc3339(list.issuedAt));
  ctx.body = Buffer.from(list.bytes);
}

/**
 * The trust list as `GET /v1/trust-list` answers it, issued at `nowS` (an HTTP worker answers
 * from the writer's last copy the same way).
 */
export function sendTrustList(ctx: Context, list: TrustListJson, nowS: number): void {
  publicToAnyOrigin(ctx);
  ctx.set('Cache-Control', 'no-cache');
  ctx.body = { ...list, issuedAt: toRfc3339(nowS) };
}

export function issuerRoutes(router: Router, app: AppContext, _services: Services): void {
  router.get('/v1/trust-list', (ctx) =>
    sendTrustList(ctx, app.trust.current(), Math.floor(app.clock().getTime() / 1000)),
  );

  router.get('/v1/federation/status', async (ctx) => {
    const witness = app.witness
      ? {
          state: 'on',
          account: (await app.anchorer?.registry?.account().catch(() => undefined)) ?? null,
          ...app.witness.status(),
        }
      : { state: 'off' };
    ctx.body = app.federation
      ? { state: 'on', ...app.federation.lastRefresh, refreshSeconds: app.config.FEDERATION_REFRESH_SECONDS, witness }
      : { state: 'off', witness };
  });

  router.get('/v1/status-list', async (ctx) => {
    const nowS = Math.floor(app.clock().getTime() / 1000);
    sendStatusList(ctx, await app.statusBook.current(nowS, app.keys.active().signer));
  });

  router.post('/v1/admin/keys/rotate', async (ctx) => {
    await authorize(ctx, 'keys.rotate');
    const record = await app.ledger.transact((tx) => app.keys.addKey(tx));
    // A development chain registers the new key on the next connection.
    app.anchorer?.reconnectSoon();
    ctx.status = 201;
    const at = (s: number | undefined) => (s === undefined ? null : toRfc3339(s));
    ctx.body = {
      kid: record.kid,
      notBefore: toRfc3339(record.notBefore),
      notAfter: toRfc3339(record.notAfter),
      // When each retired key leaves the trust list: its last resident code has expired by then.
      keys: app.keys.all().map((k) => ({
        kid: k.kid,
        retiredAt: at(k.retiredAt),
        listedUntil: k.revokedAt === undefined ? at(app.keys.droppedAfter(k)) : null,
        revokedAt: at(k.revokedAt),
      })),
    };
  });
}

/** The API document's entries for these routes (server/http/openapi.ts). */
export const issuerDocs: RouteDoc[] = [
  {
    method: 'get',
    path: '/v1/trust-list',
    tag: 'trust',
    auth: 'none',
    summary: 'The trust list',
    description:
      "This issuer's keys (revoked ones under `revokedKeys`) and every other issuer learnt from the chain, in the verifier's trust-list format (verifier/FORMAT.md). Any origin may read it (CORS).",
    ok: { status: 200, description: 'The trust list' },
  },
  {
    method: 'get',
    path: '/v1/federation/status',
    tag: 'trust',
    auth: 'none',
    summary: 'Which other issuers and status lists this service holds',
    ok: { status: 200, description: '`{ state, ..., witness }`' },
  },
  {
    method: 'get',
    path: '/v1/status-list',
    tag: 'trust',
    auth: 'none',
    summary: 'The signed status list',
    description: "The gzip'd 2-bit status list, COSE_Sign1 (verifier/FORMAT.md §7). Any origin may read it (CORS).",
    ok: {
      status: 200,
      description: 'The status list',
      type: 'application/cose',
      schema: { type: 'string', contentMediaType: 'application/cose' },
      headers: { 'X-Status-List-Issued-At': 'When it was signed (RFC 3339)' },
    },
  },
  {
    method: 'post',
    path: '/v1/admin/keys/rotate',
    tag: 'admin',
    auth: 'keys.rotate',
    summary: 'Rotate the signing key',
    description:
      'The old key signs nothing more and stays in the trust list until its last resident code has expired (`listedUntil`).',
    ok: {
      status: 201,
      description: '`{ kid, notBefore, notAfter, keys: [{ kid, retiredAt, listedUntil, revokedAt }] }`',
    },
  },
];
