import type Router from '@koa/router';
import type { Services } from '../app';
import type { AppContext } from '../context';
import { jsonBody } from '../http/body';
import { issueToken } from '../http/auth';
import { authorize } from '../http/permissions';
import { checkScopeVenues, scopeOf, tokenSchema } from '../http/scopes';
import type { VenueRecord } from '../services/venues';

export function adminRoutes(router: Router, app: AppContext, _services: Services): void {
  router.post('/v1/admin/tokens', async (ctx) => {
    const admin = await authorize(ctx, 'token.create');
    const body = await jsonBody(ctx, tokenSchema, app.config.BODY_LIMIT_BYTES);
    // Venues are never deleted or retyped, so checking them before the transaction is enough.
    await checkScopeVenues(body, (id) => app.ledger.read<VenueRecord>('venues', id));
    const source = body.role === 'feed' ? body.source : undefined;
    const scope = scopeOf(body, app.config.ISSUER_ID);
    const issued = await app.ledger.transact(async (tx) => {
      const t = issueToken(tx, { role: body.role, name: body.name, source, scope });
      await tx.append({ type: 'token.issued', subjects: ['access'], data: { id: t.id, role: body.role, source: source ?? null, scope: scope ?? null, by: admin.id } });
      return t;
    });
    ctx.status = 201;
    ctx.body = { token: issued.token, id: issued.id, role: body.role, source: source ?? null, scope: scope ?? null };
  });
}
