import {
  OpenAPIRegistry,
  OpenApiGeneratorV31,
  type ResponseConfig,
  type RouteConfig,
} from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { ERROR_STATUS, type ErrorCode } from '../errors';
import { COOKIES } from './auth';
import { ANY, PERMISSIONS, type ActionName, type Grant } from './permissions';

/**
 * The API document (OpenAPI 3.1), built from the same zod schemas the routes validate with.
 * Each route file declares its routes' docs (`RouteDoc`) beside the handlers and hands the
 * schema objects it validates with; `buildApiDocument` turns them into one document.
 * test/server/openapi.test.ts checks the document against the router and against validation.
 */

type JsonSchema = Record<string, unknown>;

/**
 * zod to JSON Schema 2020-12 (OpenAPI 3.1's dialect), as the client sends it (`io: 'input'`:
 * a field with a default is optional). zod's own converter is used rather than the
 * generator's because it covers every schema the routes have; what JSON Schema cannot say
 * (refinements, a JSON Logic `when`) the service checks on top, so the document may accept a
 * body the service still refuses with VALIDATION_FAILED, never the other way round.
 */
export function toJsonSchema(schema: z.ZodType): JsonSchema {
  const out = z.toJSONSchema(schema, {
    io: 'input',
    target: 'draft-2020-12',
    unrepresentable: 'any',
    override: ({ zodSchema, jsonSchema }) => {
      const type = (zodSchema as unknown as { _zod: { def: { type: string } } })._zod.def.type;
      // A field that must be absent (a scope on a role that takes none).
      if (type === 'undefined') jsonSchema.not = {};
      if (type === 'custom') jsonSchema.description ??= 'any JSON value; the service checks it (see the operation)';
    },
  }) as JsonSchema;
  delete out.$schema;
  return out;
}

/**
 * Who may call an operation: nobody in particular (`none`); anyone, with whatever session
 * the browser has (`optional`); a signed-in resident (`resident`); or the holders of an
 * action of server/http/permissions.ts, with an authority token; `refresh` is a resident
 * session's refresh token.
 */
export type Auth = 'none' | 'optional' | 'resident' | 'refresh' | ActionName;

export interface RouteDoc {
  method: 'get' | 'post' | 'put' | 'delete';
  /** As the router has it (`/v1/venues/:id`). */
  path: string;
  summary: string;
  description?: string;
  tag: string;
  auth: Auth;
  /** Path parameters; any the path names and this leaves out are plain strings. */
  params?: z.ZodObject;
  query?: z.ZodObject;
  /** The JSON body, the very schema the route validates it with. */
  body?: z.ZodType;
  /** The code of a body the schema refuses (VALIDATION_FAILED unless the route says otherwise). */
  invalidBody?: ErrorCode;
  /** A body the service accepts; test/server/openapi.test.ts sends it. */
  example?: unknown;
  /** Takes an Idempotency-Key header (a retry with the same key and body answers the same). */
  idempotent?: boolean;
  /** Under an abuse limit: 429 with Retry-After. */
  limited?: boolean;
  ok: {
    status: number;
    description: string;
    /** The media type, application/json unless said. */
    type?: string;
    schema?: z.ZodType | JsonSchema;
    /** Response headers worth naming, with what each says. */
    headers?: Record<string, string>;
  };
  /** Other success statuses, same body (an update's 200 beside a creation's 201). */
  alsoOk?: Record<number, string>;
  /** Error codes the route gives beyond those its auth, body and limits imply. */
  errors?: ErrorCode[];
}

/** The error body every 4xx and 5xx carries. */
export const errorSchema = z.strictObject({
  error: z.strictObject({
    code: z.enum(Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]]),
    message: z.string(),
    fields: z.array(z.strictObject({ path: z.string(), code: z.string(), message: z.string() })).optional(),
  }),
  /** A refused look-up (POST /v1/services/resolve): the look-up event that recorded the refusal. */
  lookup: z.strictObject({ seq: z.int().min(1), at: z.string(), outcome: z.string(), purpose: z.string() }).optional(),
});

/** `/v1/venues/:id` → `/v1/venues/{id}`. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

const pathNames = (path: string) => [...path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]);

function describeGrant(role: string, g: Grant<unknown>): string {
  return g === ANY ? role : `${role} (${g.when})`;
}

function security(auth: Auth): { security: RouteConfig['security']; who: string } {
  switch (auth) {
    case 'none':
      return { security: [], who: 'Anyone; no token needed.' };
    case 'optional':
      return {
        security: [{}, { bearer: [] }, { residentCookie: [] }, { staffCookie: [] }],
        who: 'Anyone; answers about the session or staff token the request carries, if any.',
      };
    case 'refresh':
      return {
        security: [{ refreshCookie: [] }, {}],
        who: "A resident session's refresh token: the `ak_resident_refresh` cookie, or `refreshToken` in the body (an app).",
      };
    case 'resident':
      return {
        security: [{ bearer: ['resident'] }, { residentCookie: [] }],
        who: 'A signed-in resident: the access token of a session (bearer) or the `ak_resident` cookie.',
      };
    default: {
      const grants = PERMISSIONS[auth].grants as Record<string, Grant<unknown>>;
      const roles = Object.keys(grants);
      const who = Object.entries(grants)
        .map(([r, g]) => describeGrant(r, g))
        .join('; ');
      return {
        security: [{ bearer: roles }, { staffCookie: roles }],
        who: `Action \`${auth}\` (${PERMISSIONS[auth].what}): ${who}. An authority token as bearer, or the staff pages' \`ak_staff\` cookie.`,
      };
    }
  }
}

function errorCodes(doc: RouteDoc): ErrorCode[] {
  const codes = new Set<ErrorCode>(doc.errors ?? []);
  const add = (...cs: ErrorCode[]) => cs.forEach((c) => codes.add(c));
  // A malformed or unknown bearer token is refused on every route, public ones included.
  add('UNAUTHENTICATED');
  if (!['none', 'optional', 'refresh'].includes(doc.auth)) add('TOKEN_EXPIRED', 'FORBIDDEN');
  if (doc.body)
    add(doc.invalidBody ?? 'VALIDATION_FAILED', 'MALFORMED_JSON', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE');
  if (doc.query || doc.params) add('VALIDATION_FAILED');
  if (doc.idempotent) add('IDEMPOTENCY_KEY_INVALID', 'IDEMPOTENCY_KEY_REUSED');
  if (doc.limited) add('TOO_MANY_REQUESTS');
  return [...codes];
}

/**
 * The error responses of `doc`, one per status, each a reference to a shared response whose
 * schema narrows `code` to the codes the route can give with that status.
 */
function errorResponses(doc: RouteDoc, shared: Map<string, ResponseConfig>): Record<string, { $ref: string }> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const c of errorCodes(doc)) byStatus.set(ERROR_STATUS[c], [...(byStatus.get(ERROR_STATUS[c]) ?? []), c]);
  const out: Record<string, { $ref: string }> = {};
  for (const [status, codes] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    const name = codes.sort().join('.');
    const narrowed = { properties: { error: { properties: { code: { enum: codes } } } } };
    shared.set(name, {
      description: codes.map((c) => `\`${c}\``).join(', '),
      ...(status === 429
        ? { headers: { 'Retry-After': { description: 'Seconds until the window ends', schema: { type: 'integer' } } } }
        : {}),
      content: { 'application/json': { schema: { allOf: [{ $ref: '#/components/schemas/Error' }, narrowed] } } },
    } as ResponseConfig);
    out[String(status)] = { $ref: `#/components/responses/${name}` };
  }
  out['5XX'] = { $ref: '#/components/responses/ServerError' };
  return out;
}

function parameters(doc: RouteDoc): object[] {
  const out: object[] = [];
  const pathSchema = doc.params
    ? ((toJsonSchema(doc.params) as { properties?: Record<string, JsonSchema> }).properties ?? {})
    : {};
  for (const name of pathNames(doc.path))
    out.push({ name, in: 'path', required: true, schema: pathSchema[name] ?? { type: 'string' } });
  if (doc.query) {
    const q = toJsonSchema(doc.query) as { properties?: Record<string, JsonSchema>; required?: string[] };
    for (const [name, schema] of Object.entries(q.properties ?? {})) {
      const { description, ...rest } = schema;
      out.push({
        name,
        in: 'query',
        required: (q.required ?? []).includes(name),
        ...(description ? { description } : {}),
        schema: rest,
      });
    }
  }
  if (doc.idempotent) {
    out.push({
      name: 'Idempotency-Key',
      in: 'header',
      required: false,
      description:
        'Makes a retry safe: the same key and body within IDEMPOTENCY_TTL_HOURS answers as the first time; another body with the key is 422',
      schema: { type: 'string', pattern: '^[A-Za-z0-9_\\-:.]{8,128}$' },
    });
  }
  return out;
}

/** The success responses: `ok`, and `alsoOk` with the same body. */
function successResponses(doc: RouteDoc): Record<string, ResponseConfig> {
  const { ok } = doc;
  const type = ok.type ?? 'application/json';
  const schema =
    ok.schema instanceof z.ZodType
      ? toJsonSchema(ok.schema)
      : (ok.schema ?? (type === 'application/json' ? { type: 'object' } : { type: 'string' }));
  const headers =
    ok.headers &&
    Object.fromEntries(Object.entries(ok.headers).map(([h, d]) => [h, { description: d, schema: { type: 'string' } }]));
  const out: Record<string, ResponseConfig> = {};
  for (const [status, description] of [[String(ok.status), ok.description], ...Object.entries(doc.alsoOk ?? {})]) {
    const empty = status === '204' || status === '302';
    out[status] = {
      description,
      ...(headers ? { headers } : {}),
      ...(empty ? {} : { content: { [type]: { schema } } }),
    } as ResponseConfig;
  }
  return out;
}

function operation(doc: RouteDoc, shared: Map<string, ResponseConfig>): RouteConfig {
  const { security: sec, who } = security(doc.auth);
  const media = doc.body && {
    schema: toJsonSchema(doc.body),
    ...(doc.example !== undefined ? { example: doc.example } : {}),
  };
  return {
    method: doc.method,
    path: openApiPath(doc.path),
    operationId: `${doc.method}${doc.path.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
    summary: doc.summary,
    description: [doc.description, `**Who:** ${who}`].filter(Boolean).join('\n\n'),
    tags: [doc.tag],
    security: sec,
    ...(!['none', 'optional', 'resident', 'refresh'].includes(doc.auth) ? { 'x-ankang-action': doc.auth } : {}),
    parameters: parameters(doc) as RouteConfig['parameters'],
    ...(media ? { request: { body: { required: true, content: { 'application/json': media } } } } : {}),
    responses: { ...successResponses(doc), ...errorResponses(doc, shared) },
  } as RouteConfig;
}

export interface DocumentInfo {
  version: string;
  description: string;
}

/** The OpenAPI 3.1 document of `docs`. */
export function buildApiDocument(
  docs: RouteDoc[],
  info: DocumentInfo,
): ReturnType<OpenApiGeneratorV31['generateDocument']> {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('schemas', 'Error', toJsonSchema(errorSchema) as never);
  const schemes: Record<string, object> = {
    bearer: {
      type: 'http',
      scheme: 'bearer',
      description:
        '`Authorization: Bearer <token>`: an authority token (`ak_<role>_…`; the admin token is in data/secrets.json, the admin ' +
        "issues the others at POST /v1/admin/tokens) or a resident session's access token. The roles listed with it are the ones the operation accepts.",
    },
    staffCookie: {
      type: 'apiKey',
      in: 'cookie',
      name: COOKIES.staff,
      description: "The staff pages' authority token, set by POST /v1/auth/staff.",
    },
    residentCookie: {
      type: 'apiKey',
      in: 'cookie',
      name: COOKIES.resident,
      description: "A resident session's access token, set by the sign-in callback.",
    },
    refreshCookie: {
      type: 'apiKey',
      in: 'cookie',
      name: COOKIES.residentRefresh,
      description: "A resident session's refresh token (path /v1/auth).",
    },
  };
  for (const [name, scheme] of Object.entries(schemes))
    registry.registerComponent('securitySchemes', name, scheme as never);
  const shared = new Map<string, ResponseConfig>();
  for (const doc of docs) registry.registerPath(operation(doc, shared));
  shared.set('ServerError', {
    description: '`INTERNAL` (no details), or 503 `LEDGER_UNAVAILABLE` and the like: retry later',
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  } as ResponseConfig);
  for (const [name, response] of [...shared].sort((a, b) => a[0].localeCompare(b[0])))
    registry.registerComponent('responses', name, response as never);
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Ankang health-code service',
      version: info.version,
      description: info.description,
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    tags: [...new Set(docs.map((d) => d.tag))].map((name) => ({ name })),
  });
}
