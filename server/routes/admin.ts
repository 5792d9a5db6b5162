import type Router from '@koa/router';
import { z } from 'zod';
import type { Services } from '../app';
import type { AppContext } from '../context';
import { ServiceError } from '../errors';
import { jsonBody } from '../http/body';
import { AUTHORITY_ROLES, FEED_SOURCES, issueToken, requireRole } from '../http/auth';
import { safeText } from '../http/text';

const tokenSchema = z.strictObject({
  role: z.enum(AUTHORITY_ROLES.filter((r) => r !== 'admin') as [string, ...string[]]),
  name: safeText(1, 80),
  source: z.enum(FEED_SOURCES).optional(),
  scope: z.array(z.string().min(1).max(64)).max(200).optional(),
});

export function adminRoutes(router: Router, app: AppContext, _services: Services): void {
  router.post('/v1/admin/tokens', async (ctx) => {
    const admin = requireRole(ctx, 'admin');
    const body = await jsonBody(ctx, tokenSchema, app.config.BODY_LIMIT_BYTES);
    if ((body.role === 'feed') !== (body.source !== undefined)) {
      throw new ServiceError('VALIDATION_FAILED', 'a feed token needs a source, and only a feed token has one', [{ path: 'source', code: 'invalid', message: 'health, public-security, transport or telecom, for feed tokens only' }]);
    }
    const issued = await app.ledger.transact(async (tx) => {
      const t = issueToken(tx, { role: body.role as never, name: body.name, source: body.source, scope: body.scope });
      await tx.append({ type: 'token.issued', subjects: ['access'], data: { id: t.id, role: body.role, source: body.source ?? null, by: admin.id } });
      return t;
    });
    ctx.status = 201;
    ctx.body = { token: issued.token, id: issued.id, role: body.role, source: body.source ?? null, scope: body.scope ?? [] };
  });
}
