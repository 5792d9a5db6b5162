import type Router from '@koa/router';
import type { Services } from '../app';
import type { AppContext } from '../context';
import { ServiceError } from '../errors';
import { readJson } from '../http/body';
import { authorize } from '../http/permissions';
import type { RouteDoc } from '../http/openapi';
import { z } from 'zod';
import { VENUE_TYPES } from '../../verifier/src';
import { parseRuleSet, ruleSetSchema } from '../rules';
import { parsePolicySet, policySetSchema } from '../scenarios/policy';
import type { Version, VersionStore } from '../services/versions';

type Parse = (json: unknown) => { ok: true } | { ok: false; issues: Array<{ path: string; message: string }> };

/**
 * GET <path> (current), GET <path>/versions, GET <path>/:version and PUT <path> (health
 * authority) for a versioned document. `field` names the document in responses.
 */
function versionRoutes<T>(
  router: Router,
  app: AppContext,
  path: string,
  field: string,
  publish: 'rules.publish' | 'policies.publish',
  store: VersionStore<T>,
  parse: Parse,
  docOf: (ok: never) => T,
  onPublish: (v: Version<T>) => void,
): void {
  const view = ({ doc, ...meta }: Version<T>) => ({ ...meta, [field]: doc });
  router.get(path, (ctx) => {
    ctx.body = view(store.current);
  });
  router.get(`${path}/versions`, async (ctx) => {
    ctx.body = { current: store.current.version, versions: await store.list() };
  });
  router.get(`${path}/:version`, async (ctx) => {
    const v = Number(ctx.params.version);
    if (!Number.isSafeInteger(v) || v < 1)
      throw new ServiceError('VALIDATION_FAILED', 'version must be a positive integer', [
        { path: 'version', code: 'invalid', message: 'a positive integer' },
      ]);
    const found = await store.get(v);
    if (!found) throw new ServiceError('NOT_FOUND', `no version ${v}`);
    ctx.body = view(found);
  });
  router.put(path, async (ctx) => {
    const p = await authorize(ctx, publish);
    const parsed = parse(await readJson(ctx, app.config.BODY_LIMIT_BYTES));
    if (!parsed.ok) {
      throw new ServiceError(
        'INVALID_RULE_SET',
        `the ${field} does not parse`,
        parsed.issues.slice(0, 50).map((i) => ({ path: i.path || '(body)', code: 'invalid', message: i.message })),
      );
    }
    const version = await app.ledger.transact((tx) => store.publish(tx, docOf(parsed as never), p.id));
    onPublish(version);
    ctx.status = 201;
    ctx.body = { version: version.version, digest: version.digest, publishedAt: version.publishedAt };
  });
}

export function ruleRoutes(router: Router, app: AppContext, { reevaluator }: Services): void {
  versionRoutes(
    router,
    app,
    '/v1/rules',
    'ruleSet',
    'rules.publish',
    app.rules.rules,
    parseRuleSet,
    (r: { ruleSet: never }) => r.ruleSet,
    (v) => void reevaluator.sweepAll(`rules v${v.version}`),
  );
  versionRoutes(
    router,
    app,
    '/v1/policies',
    'policySet',
    'policies.publish',
    app.rules.policies,
    parsePolicySet,
    (r: { policySet: never }) => r.policySet,
    () => undefined,
  );
}

/** The document's entries for one versioned document's routes, as `versionRoutes` adds them. */
function versionDocs(
  path: string,
  field: string,
  what: string,
  publish: 'rules.publish' | 'policies.publish',
  schema: z.ZodType,
  example: unknown,
): RouteDoc[] {
  const tag = field === 'ruleSet' ? 'rules' : 'policies';
  return [
    {
      method: 'get',
      path,
      tag,
      auth: 'none',
      summary: `The current ${what}`,
      ok: { status: 200, description: `\`{ version, digest, publishedAt, publishedBy, ${field} }\`` },
    },
    {
      method: 'get',
      path: `${path}/versions`,
      tag,
      auth: 'none',
      summary: `Every ${what} version`,
      ok: { status: 200, description: '`{ current, versions }`' },
    },
    {
      method: 'get',
      path: `${path}/:version`,
      tag,
      auth: 'none',
      params: z.strictObject({ version: z.int().min(1) }),
      errors: ['NOT_FOUND'],
      summary: `One ${what} version`,
      ok: { status: 200, description: `\`{ version, digest, publishedAt, publishedBy, ${field} }\`` },
    },
    {
      method: 'put',
      path,
      tag,
      auth: publish,
      body: schema,
      example,
      invalidBody: 'INVALID_RULE_SET',
      summary: `Publish a new ${what} version`,
      description:
        'Effective at once. Each `when` is JSON Logic over the known facts, checked beyond this schema (operators, facts, size, a dry run); a body that fails is 400 `INVALID_RULE_SET` naming each problem.',
      ok: {
        status: 201,
        description: 'The new version',
        schema: z.object({ version: z.int().min(1), digest: z.string(), publishedAt: z.iso.datetime() }),
      },
    },
  ];
}

/** The API document's entries for these routes (server/http/openapi.ts). */
export const ruleDocs: RouteDoc[] = [
  ...versionDocs('/v1/rules', 'ruleSet', 'rule set', 'rules.publish', ruleSetSchema, {
    description: { zh: '示例规则', en: 'Example rules' },
    horizonDays: 14,
    rules: [
      {
        id: 'fever',
        colour: 'yellow',
        reason: { zh: '发热', en: 'Fever' },
        when: { '>=': [{ var: 'temperatureC' }, 37.3] },
      },
    ],
  }),
  ...versionDocs('/v1/policies', 'policySet', 'admission-policy set', 'policies.publish', policySetSchema, {
    description: { zh: '示例通行规则', en: 'Example admission policies' },
    defaults: Object.fromEntries(
      VENUE_TYPES.map((t) => [
        t,
        [
          {
            id: 'red-code',
            decision: 'deny',
            reason: { zh: '红码，禁止通行', en: 'Red code: no entry' },
            when: { '===': [{ var: 'colour' }, 'red'] },
          },
        ],
      ]),
    ),
    overrides: [],
  }),
];
