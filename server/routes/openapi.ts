import { createHash } from 'node:crypto';
import type Router from '@koa/router';
import { z } from 'zod';
import { version } from '../../package.json';
import type { Services } from '../app';
import type { AppContext } from '../context';
import { buildApiDocument, type RouteDoc } from '../http/openapi';
import { adminDocs } from './admin';
import { authDocs } from './auth';
import { authorityDocs } from './authority';
import { borderDocs } from './border';
import { deskDocs } from './desks';
import { feedDocs } from './feeds';
import { federationDocs } from './federation';
import { issuerDocs } from './issuer';
import { linkDocs } from './links';
import { logDocs } from './log';
import { pageDocs } from './pages';
import { proofDocs } from './proofs';
import { residentDocs } from './residents';
import { ruleDocs } from './rules';
import { venueDocs } from './venues';

const head = z.strictObject({ seq: z.int(), hash: z.string() });

/** server/routes/system.ts's routes, and this one. */
const systemDocs: RouteDoc[] = [
  {
    method: 'get',
    path: '/healthz',
    tag: 'system',
    auth: 'none',
    summary: 'Liveness',
    ok: {
      status: 200,
      description: 'Alive: the issuer and the ledger head',
      schema: z.object({ ok: z.literal(true), issuer: z.string(), ledger: head }),
    },
  },
  {
    method: 'get',
    path: '/readyz',
    tag: 'system',
    auth: 'none',
    summary: 'Readiness',
    description:
      'Whether the service can take requests: the ledger writable, the anchorer not diverged from the chain, the chain reachable or no event unanchored past READY_MAX_ANCHOR_LAG_SECONDS, not stopping. Each check gives `ok` and, when not ok, a `reason`.',
    ok: {
      status: 200,
      description: 'Ready',
      schema: {
        type: 'object',
        properties: { ready: { type: 'boolean' }, checks: { type: 'object' } },
        required: ['ready', 'checks'],
      },
    },
    alsoOk: { 503: "Not ready: the same body, with `ready: false` and the failing checks' reasons" },
  },
  {
    method: 'get',
    path: '/metrics',
    tag: 'system',
    auth: 'none',
    summary: 'Prometheus metrics',
    description:
      'Only to client addresses in `METRICS_ALLOW` (by default this host: 127.0.0.0/8 and ::1); any other gets 403 `FORBIDDEN`.',
    errors: ['FORBIDDEN'],
    ok: { status: 200, description: 'The Prometheus text format', type: 'text/plain', schema: { type: 'string' } },
  },
  {
    method: 'get',
    path: '/v1/ledger/head',
    tag: 'ledger',
    auth: 'none',
    summary: 'Sequence number and hash of the last durable event',
    ok: { status: 200, description: 'The head', schema: head },
  },
  {
    method: 'get',
    path: '/v1/openapi.json',
    tag: 'system',
    auth: 'none',
    summary: 'This document',
    description: 'OpenAPI 3.1; any origin may read it, and it may be cached (ETag, `If-None-Match` answers 304).',
    ok: { status: 200, description: 'The document' },
  },
];

/** Every documented route, in the order the router adds them. */
export const ALL_DOCS: RouteDoc[] = [
  ...authDocs,
  ...systemDocs,
  ...issuerDocs,
  ...residentDocs,
  ...ruleDocs,
  ...feedDocs,
  ...adminDocs,
  ...proofDocs,
  ...logDocs,
  ...venueDocs,
  ...authorityDocs,
  ...borderDocs,
  ...federationDocs,
  ...linkDocs,
  ...deskDocs,
  ...pageDocs,
];

const DESCRIPTION = `Ankang issues signed health codes, records scans and check-ins in an append-only ledger
anchored on chain, and publishes a trust list and a status list any verifier can check offline.

**Errors.** Every 4xx and 5xx answers \`{ "error": { "code", "message", "fields"? } }\`; \`code\` is
machine-readable (components/schemas/Error lists them all) and \`fields\` names each bad field. A request
that fails writes nothing. A malformed or unknown bearer token is refused with 401 on every route.

**Authentication.** Apps and scripts send \`Authorization: Bearer <token>\`: an authority token (roles admin,
health, feed, auditor, witness, operator, grid, border; the admin issues them at POST /v1/admin/tokens) or a
resident session's access token. The web pages use HttpOnly cookies instead (\`ak_resident\`, \`ak_staff\`);
a write carrying a cookie from another site is refused. Each operation lists the roles it accepts; an
authority operation names its action of server/http/permissions.ts in \`x-ankang-action\`.

**Request bodies** are JSON (\`Content-Type: application/json\`, at most BODY_LIMIT_BYTES). The schemas here
are generated from the ones the service validates with; what JSON Schema cannot express (cross-field
rules, JSON Logic) is checked on top and refused with the same 400.

**Sign-in.** Residents sign in through an OpenID Connect provider (GET /v1/auth/login). Without
OIDC_ISSUER the service embeds a development provider under \`/idp\`: a separate application with its own
pages and endpoints (discovery at /idp/.well-known/openid-configuration), not described here.`;

/** The document, built once: it depends on the code only. */
let built: { json: string; etag: string } | undefined;

function apiDocument(): { json: string; etag: string } {
  if (!built) {
    const json = JSON.stringify(buildApiDocument(ALL_DOCS, { version, description: DESCRIPTION }));
    built = { json, etag: `"${createHash('sha256').update(json).digest('base64url').slice(0, 27)}"` };
  }
  return built;
}

/** GET /v1/openapi.json: the API document. No personal data, so public and cacheable. */
export function openapiRoutes(router: Router, _app: AppContext, _services: Services): void {
  router.get('/v1/openapi.json', (ctx) => {
    const { json, etag } = apiDocument();
    ctx.set('Access-Control-Allow-Origin', '*');
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.set('ETag', etag);
    if (ctx.get('if-none-match') === etag) {
      ctx.status = 304;
      return;
    }
    ctx.type = 'application/json';
    ctx.body = json;
  });
}
