import { expect } from 'chai';
import type Router from '@koa/router';
import { Validator } from '@seriousme/openapi-schema-validator';
import { z } from 'zod';
import { createApp } from '../../server/app';
import { openContext } from '../../server/bootstrap';
import { configSchema } from '../../server/config';
import { openApiPath } from '../../server/http/openapi';
import { registerVenue, newResident, type Resident, type Venue } from '../support/scenario';
import { registerDesk } from '../support/services17';
import { startTestService, type Reply, type TestService } from '../support/service';
import { tempDir } from '../support/tmp';

type Json = any;
const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

/** Every operation of the document as [METHOD, path, operation]. */
function operations(doc: Json): Array<[string, string, Json]> {
  return Object.entries(doc.paths as Record<string, Json>).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((m): [string, string, Json] => [m.toUpperCase(), path, item[m]]),
  );
}

/** Follows a local `$ref` (`#/components/…`). */
function deref(doc: Json, node: Json): Json {
  if (!node?.$ref) return node;
  return (node.$ref as string)
    .slice(2)
    .split('/')
    .reduce((n: Json, k: string) => n[k], doc);
}

/** Whether the operation refuses a request without a token. */
const needsToken = (op: Json): boolean =>
  op.security.length > 0 && !op.security.some((s: Json) => Object.keys(s).length === 0);

/** The routes the real router has, as "METHOD /openapi/{path}" (HEAD, implied by GET, left out). */
async function routerRoutes(): Promise<Set<string>> {
  const tmp = tempDir('ankang-openapi-');
  const app = await openContext(configSchema.parse({ PORT: 0, DATA_DIR: tmp.dir, LOG_LEVEL: 'silent' }), { env: {} });
  try {
    // The router is the one middleware @koa/router marks with `.router`.
    const routers = createApp(app)
      .middleware.map((m) => (m as { router?: Router }).router)
      .filter((r): r is Router => r !== undefined);
    expect(routers).to.have.length(1);
    const out = new Set<string>();
    for (const layer of routers[0].stack)
      for (const m of layer.methods) if (m !== 'HEAD') out.add(`${m} ${openApiPath(layer.path as string)}`);
    return out;
  } finally {
    await app.ledger.close();
    tmp.cleanup();
  }
}

describe('the API document (GET /v1/openapi.json)', function () {
  this.timeout(120_000);
  let svc: TestService;
  let doc: Json;
  let reply: Reply;

  before(async () => {
    svc = await startTestService();
    reply = await svc.call('GET', '/v1/openapi.json');
    doc = reply.body;
  });
  after(async () => svc?.close());

  it('is served to anyone, as JSON any origin may read, cacheable and revalidated with its ETag', async () => {
    expect(reply.status).to.equal(200);
    expect(reply.headers.get('content-type')).to.match(/^application\/json/);
    expect(reply.headers.get('cache-control')).to.equal('public, max-age=300');
    expect(reply.headers.get('access-control-allow-origin')).to.equal('*');
    const etag = reply.headers.get('etag')!;
    expect(etag).to.match(/^"[A-Za-z0-9_-]+"$/);
    const again = await svc.call('GET', '/v1/openapi.json', { headers: { 'if-none-match': etag } });
    expect(again.status).to.equal(304);
    expect(again.bytes.length).to.equal(0);
    const other = await svc.call('GET', '/v1/openapi.json', { headers: { 'if-none-match': '"something-else"' } });
    expect(other.status).to.equal(200);
    expect(other.bytes.equals(reply.bytes)).to.equal(true);
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    expect(doc.openapi).to.equal('3.1.0');
    const result = await new Validator().validate(doc);
    expect(result.errors, JSON.stringify(result.errors, null, 2)).to.equal(undefined);
    expect(result.valid).to.equal(true);
  });

  it('documents every route the router has, and no route it does not have', async () => {
    const real = await routerRoutes();
    const documented = new Set(operations(doc).map(([m, p]) => `${m} ${p}`));
    const undocumented = [...real].filter((r) => !documented.has(r));
    const phantom = [...documented].filter((r) => !real.has(r));
    expect(undocumented, 'routes missing from the document').to.deep.equal([]);
    expect(phantom, 'documented routes the router does not have').to.deep.equal([]);
    // The two sets are equal; that both hold the whole API (and not, say, nothing) is checked here.
    for (const r of [
      'GET /v1/openapi.json',
      'POST /v1/residents',
      'DELETE /v1/admin/tokens/{id}',
      'PUT /v1/rules',
      'GET /',
      'GET /healthz',
    ])
      expect(real.has(r), r).to.equal(true);
    console.log(`      ${documented.size} operations documented; ${reply.bytes.length} bytes`);
  });

  /** Where the document gives a success body a shape (more than "an object"), the answer has it. */
  function expectShape(response: Json, r: Reply, where: string): void {
    const schema = response.content?.['application/json']?.schema;
    if (!schema || JSON.stringify(schema) === '{"type":"object"}') return;
    const checked = z.fromJSONSchema(schema).safeParse(r.body);
    expect(checked.success, `${where}: ${checked.error?.message}`).to.equal(true);
  }

  /** The operation for METHOD and path. */
  const op = (method: string, path: string): Json => operations(doc).find(([m, p]) => m === method && p === path)![2];

  it('gives the shape of the answers it describes, and the answers have it', async () => {
    const session = await svc.call('GET', '/v1/auth/session', { token: svc.adminToken });
    const answers: Array<[string, string, Reply]> = [
      ['GET', '/healthz', await svc.call('GET', '/healthz')],
      ['GET', '/v1/ledger/head', await svc.call('GET', '/v1/ledger/head')],
      ['GET', '/v1/auth/session', session],
      ['GET', '/v1/auth/session', await svc.call('GET', '/v1/auth/session')],
    ];
    expect(session.body.staff.role).to.equal('admin');
    for (const [method, path, r] of answers) {
      expect(r.status, `${method} ${path}`).to.equal(200);
      expectShape(op(method, path).responses['200'], r, `${method} ${path}`);
    }
    // The check can fail: an answer missing a field the document requires does not pass.
    expect(() =>
      expectShape(op('GET', '/healthz').responses['200'], { ...answers[0][2], body: { ok: true } }, 'healthz'),
    ).to.throw();
  });

  it('names, for each operation, who may call it and the errors it can give', () => {
    for (const [method, path, op] of operations(doc)) {
      const where = `${method} ${path}`;
      expect(op.security, where).to.be.an('array');
      expect(op.description, where).to.include('**Who:**');
      for (const name of path.match(/\{[^}]+\}/g) ?? []) {
        expect(
          op.parameters.some((p: Json) => p.in === 'path' && `{${p.name}}` === name && p.required === true),
          `${where} declares ${name}`,
        ).to.equal(true);
      }
      if (needsToken(op)) {
        expect(op.responses, where).to.include.keys('401', '403');
        const schemes = op.security.flatMap((s: Json) => Object.keys(s));
        expect(
          schemes.every((s: string) => doc.components.securitySchemes[s]),
          where,
        ).to.equal(true);
      }
      if (op.requestBody) expect(op.responses, where).to.include.keys('400');
      for (const [status, response] of Object.entries(op.responses as Record<string, Json>)) {
        // /readyz answers 503 with its own report (which checks failed), not an error body.
        if (!/^[45]/.test(status) || `${where} ${status}` === 'GET /readyz 503') continue;
        const schema = deref(doc, response).content['application/json'].schema;
        expect(JSON.stringify(schema), `${where} ${status}`).to.include('#/components/schemas/Error');
      }
    }
    const action = op('POST', '/v1/venues/{id}/certificates');
    expect(action['x-ankang-action']).to.equal('venue.certificate');
    expect(action.security).to.deep.equal([
      { bearer: ['admin', 'health', 'operator'] },
      { staffCookie: ['admin', 'health', 'operator'] },
    ]);
  });

  describe('request bodies: the document and validation agree', () => {
    let school: Venue;
    let resident: Resident;
    let deskToken: string;

    before(async () => {
      school = await registerVenue(svc, svc.adminToken, { type: 'school', name: '合肥一中', district: '340104' });
      resident = await newResident(svc);
      deskToken = (await registerDesk(svc, { kind: 'hospital-desk' })).token;
    });

    /** A path with its parameters filled in: a real school for a venue, a real purpose and card kind, well-formed ids for the rest. */
    const fill = (path: string) =>
      path
        .replace('{id}', path.startsWith('/v1/appeals/') ? 'AAAAAAAAAAAA' : school.id)
        .replace('{purpose}', 'registration')
        .replace('{kind}', 'health-card')
        .replace(/\{[^}]+\}/g, 'AAAAAAAAAAAAAAAA');

    /** Sends `body` with the token the operation takes: the resident's, a desk's (look-ups: only a desk holds them), or the admin's. */
    const send = (method: string, path: string, op: Json, body: unknown) => {
      const bearer: string[] = op.security.find((s: Json) => s.bearer)?.bearer ?? [];
      const token = bearer.includes('resident')
        ? resident.token
        : bearer.join() === 'desk'
          ? deskToken
          : svc.adminToken;
      return svc.call(method, fill(path), { token, json: body });
    };

    /** Fails unless the answer's status is one the operation documents, an error with a code the document lists for it. */
    const expectDocumented = (method: string, path: string, op: Json, r: Reply) => {
      const where = `${method} ${path} → ${r.status} ${JSON.stringify(r.body)}`;
      const response = deref(
        doc,
        op.responses[String(r.status)] ?? (r.status >= 500 ? op.responses['5XX'] : undefined),
      );
      expect(response, where).to.not.equal(undefined);
      if (r.status < 400) return expectShape(response, r, where);
      const errorSchema = z.fromJSONSchema(doc.components.schemas.Error);
      expect(errorSchema.safeParse(r.body).success, where).to.equal(true);
      const codes = response.content['application/json'].schema.allOf?.[1].properties.error.properties.code.enum;
      if (codes) expect(codes, where).to.include(r.body.error.code);
    };

    it('the example of each body fits its schema and gets past validation; a body the schema refuses is 400', async () => {
      const withBody = operations(doc).filter(([, , op]) => op.requestBody);
      const tried: string[] = [];
      const skipped: string[] = [];
      let refusedCount = 0;
      for (const [method, path, op] of withBody) {
        const media = op.requestBody.content['application/json'];
        if (media.example === undefined) {
          skipped.push(`${method} ${path}`);
          continue;
        }
        const where = `${method} ${path}`;
        const schema = z.fromJSONSchema(media.schema);
        expect(schema.safeParse(media.example).success, `${where}: the example fits the document's schema`).to.equal(
          true,
        );

        const ok = await send(method, path, op, media.example);
        // Where the operation takes a token, the request carried a good one; sign-in bodies carry their own, which may be refused.
        if (needsToken(op)) expect(ok.status, `${where} → ${JSON.stringify(ok.body)}`).to.not.be.oneOf([401, 403]);
        expect(ok.body?.error?.code, `${where} → ${JSON.stringify(ok.body)}`).to.not.be.oneOf([
          'VALIDATION_FAILED',
          'INVALID_RULE_SET',
          'MALFORMED_JSON',
        ]);
        expectDocumented(method, path, op, ok);

        const required: string[] = media.schema.required ?? media.schema.oneOf?.[0]?.required ?? [];
        const refused = [
          { ...(media.example as object), notInTheSchema: 1 },
          ...required
            .filter((k) => k !== 'role')
            .map((k) => Object.fromEntries(Object.entries(media.example as object).filter(([key]) => key !== k))),
        ];
        for (const body of refused) {
          expect(schema.safeParse(body).success, `${where}: the document refuses ${JSON.stringify(body)}`).to.equal(
            false,
          );
          const r = await send(method, path, op, body);
          expect(r.status, `${where} ${JSON.stringify(body)} → ${JSON.stringify(r.body)}`).to.equal(400);
          expect(r.body.error.code).to.be.oneOf(['VALIDATION_FAILED', 'INVALID_RULE_SET']);
          expectDocumented(method, path, op, r);
          refusedCount++;
        }
        tried.push(where);
      }
      console.log(`      ${tried.length} example bodies sent, and ${refusedCount} bodies the document refuses`);
      expect(tried.length).to.be.greaterThan(20);
      expect(skipped, 'bodies without an example').to.deep.equal([]);
    });
  });
});
