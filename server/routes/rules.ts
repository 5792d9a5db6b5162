import type Router from '@koa/router';
import type { Services } from '../app';
import type { AppContext } from '../context';
import { ServiceError } from '../errors';
import { readJson } from '../http/body';
import { requireRole } from '../http/auth';
import { parseRuleSet } from '../rules';

export function ruleRoutes(router: Router, app: AppContext, { reevaluator }: Services): void {
  router.get('/v1/rules', (ctx) => {
    ctx.body = app.rules.current;
  });
  router.get('/v1/rules/versions', async (ctx) => {
    ctx.body = { current: app.rules.current.version, versions: await app.rules.list() };
  });
  router.get('/v1/rules/:version', async (ctx) => {
    const v = Number(ctx.params.version);
    if (!Number.isSafeInteger(v) || v < 1) throw new ServiceError('VALIDATION_FAILED', 'version must be a positive integer', [{ path: 'version', code: 'invalid', message: 'a positive integer' }]);
    const found = await app.rules.get(v);
    if (!found) throw new ServiceError('NOT_FOUND', `no rule version ${v}`);
    ctx.body = found;
  });
  router.put('/v1/rules', async (ctx) => {
    const p = requireRole(ctx, 'health');
    const parsed = parseRuleSet(await readJson(ctx, app.config.BODY_LIMIT_BYTES));
    if (!parsed.ok) {
      throw new ServiceError(
        'INVALID_RULE_SET',
        'the rule set does not parse',
        parsed.issues.slice(0, 50).map((i) => ({ path: i.path || '(body)', code: 'invalid', message: i.message })),
      );
    }
    const version = await app.ledger.transact((tx) => app.rules.publish(tx, parsed.ruleSet, p.id));
    void reevaluator.sweepAll(`rules v${version.version}`);
    ctx.status = 201;
    ctx.body = { version: version.version, digest: version.digest, publishedAt: version.publishedAt, reevaluation: 'started' };
  });
}
