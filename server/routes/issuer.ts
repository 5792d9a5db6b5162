import type Router from '@koa/router';
import { TRUST_LIST_FORMAT, toRfc3339, type TrustListJson } from '../../verifier/src';
import type { Services } from '../app';
import { publicUrl } from '../config';
import type { AppContext } from '../context';
import { requireRole } from '../http/auth';

/** This issuer's entry in a trust list. */
export function ownTrustEntry(app: AppContext, nowS: number): TrustListJson['issuers'][number] {
  return { id: app.config.ISSUER_ID, name: app.issuerName, statusListUrl: `${publicUrl(app.config)}/v1/status-list`, keys: app.keys.listed(nowS) };
}

export function issuerRoutes(router: Router, app: AppContext, _services: Services): void {
  router.get('/v1/trust-list', (ctx) => {
    const nowS = Math.floor(app.clock().getTime() / 1000);
    const list: TrustListJson = { format: TRUST_LIST_FORMAT, issuedAt: toRfc3339(nowS), issuers: [ownTrustEntry(app, nowS)] };
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = list;
  });

  router.get('/v1/status-list', async (ctx) => {
    const nowS = Math.floor(app.clock().getTime() / 1000);
    const { bytes, issuedAt } = await app.statusBook.current(nowS, app.keys.active().signer);
    ctx.type = 'application/cose; cose-type="cose-sign1"';
    ctx.set('Cache-Control', 'no-cache');
    ctx.set('X-Status-List-Issued-At', toRfc3339(issuedAt));
    ctx.body = Buffer.from(bytes);
  });

  router.post('/v1/admin/keys/rotate', async (ctx) => {
    requireRole(ctx, 'admin');
    const record = await app.ledger.transact((tx) => app.keys.addKey(tx));
    // A development chain registers the new key on the next connection.
    app.anchorer?.reconnectSoon();
    ctx.status = 201;
    ctx.body = { kid: record.kid, notBefore: toRfc3339(record.notBefore), notAfter: toRfc3339(record.notAfter), keys: app.keys.all().map((k) => ({ kid: k.kid, retiredAt: k.retiredAt ? toRfc3339(k.retiredAt) : null })) };
  });
}
