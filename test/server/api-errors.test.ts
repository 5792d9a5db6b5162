import { expect } from 'chai';
import fc from 'fast-check';
import { request } from 'node:http';
import defaultRules from '../../server/rules/default-rules.json';
import defaultPolicies from '../../server/scenarios/default-policies.json';
import {
  applicant,
  apply,
  residentIdNumber,
  shanghaiDate,
  startTestService,
  withWrongCheckChar,
  type Reply,
  type TestService,
} from '../support/service';
import { newResident, registerVenue, type Resident, type Venue } from '../support/scenario';

/** The error body every 4xx carries. */
function expectErrorShape(r: Reply, where = ''): void {
  expect(r.headers.get('content-type'), `${where} content-type`).to.match(/^application\/json/);
  const e = r.body?.error;
  expect(e, `${where} body ${JSON.stringify(r.body)}`).to.be.an('object');
  expect(e.code, where)
    .to.be.a('string')
    .and.match(/^[A-Z_]+$/);
  expect(e.message, where).to.be.a('string').and.not.equal('');
  expect(
    Object.keys(e).every((k) => ['code', 'message', 'fields'].includes(k)),
    where,
  ).to.equal(true);
  if (e.fields !== undefined) {
    expect(e.fields, where).to.be.an('array');
    for (const f of e.fields) {
      expect(f, where).to.have.keys(['path', 'code', 'message']);
      for (const k of ['path', 'code', 'message']) expect(f[k], where).to.be.a('string');
    }
  }
}

/** Sends `body` and checks the answer is the given error and that the ledger did not move. */
async function expectRefused(
  svc: TestService,
  send: () => Promise<Reply>,
  status: number,
  code: string,
): Promise<Reply> {
  const head = await svc.head();
  const r = await send();
  expect(r.status, JSON.stringify(r.body)).to.equal(status);
  expectErrorShape(r);
  expect(r.body.error.code).to.equal(code);
  expect(await svc.head()).to.deep.equal(head);
  return r;
}

/** POSTs a body of `size` bytes in chunks, without a content-length, and reads the reply. */
function postChunked(url: string, path: string, size: number, token: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url + path,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'transfer-encoding': 'chunked',
          authorization: `Bearer ${token}`,
        },
      },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
      },
    );
    // The server may answer and close before every chunk is written.
    req.on('error', (e) =>
      (e as NodeJS.ErrnoException).code === 'EPIPE' || (e as NodeJS.ErrnoException).code === 'ECONNRESET'
        ? undefined
        : reject(e),
    );
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let sent = 0;
    const write = () => {
      while (sent < size) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', write);
      }
      req.end();
    };
    write();
  });
}

describe('API errors', function () {
  this.timeout(60_000);
  let svc: TestService;
  let health: string;

  before(async () => {
    // The fuzz below sends 200 check-ins as one resident within seconds; the limits themselves are tested in abuse.test.ts.
    svc = await startTestService({ config: { REVIEW_INTERVAL_SECONDS: 3600, RATE_CHECKIN_PER_RESIDENT: 1_000_000 } });
    health = await svc.token('health');
  });
  after(async () => {
    await svc?.close();
  });

  describe('POST /v1/residents', () => {
    let person: ReturnType<typeof applicant>;
    let token: string;
    before(async () => {
      person = applicant();
      token = (await svc.signIn(person)).access;
    });

    it('answers 403 IDENTITY_NOT_YOURS to a body naming an ID with a wrong GB 11643 check character (the ID comes from the sign-in)', async () => {
      await expectRefused(
        svc,
        () =>
          apply(
            svc,
            { ...person, idNumber: withWrongCheckChar(person.idNumber) },
            { session: { access: token, refresh: '' } },
          ),
        403,
        'IDENTITY_NOT_YOURS',
      );
    });

    it('answers 400 UNKNOWN_REGION for a district that is not a GB/T 2260 code', async () => {
      const r = await expectRefused(svc, () => apply(svc, applicant({ district: '349999' })), 400, 'UNKNOWN_REGION');
      expect(r.body.error.fields[0]).to.include({ path: 'district', code: 'REGION_UNKNOWN' });
    });

    it('answers 400 UNKNOWN_REGION for a visit to an unknown region', async () => {
      const r = await expectRefused(
        svc,
        () =>
          apply(
            svc,
            applicant({
              declaration: { temperatureC: 36.5, visited: [{ region: '990000', date: shanghaiDate(svc.clock, 1) }] },
            }),
          ),
        400,
        'UNKNOWN_REGION',
      );
      expect(r.body.error.fields[0].path).to.equal('declaration.visited.0.region');
    });

    it('answers 400 VALIDATION_FAILED for a temperature of 80 °C', async () => {
      const r = await expectRefused(
        svc,
        () => apply(svc, applicant({ declaration: { temperatureC: 80 } })),
        400,
        'VALIDATION_FAILED',
      );
      expect(r.body.error.fields.map((f: { path: string }) => f.path)).to.deep.equal(['declaration.temperatureC']);
    });

    it('answers 400 VALIDATION_FAILED for a name with control characters or a lone surrogate', async () => {
      for (const name of ['\u0000', '欧阳\u0007', '\ud800x']) {
        const r = await expectRefused(
          svc,
          () => apply(svc, { ...person, name }, { session: { access: token, refresh: '' } }),
          400,
          'VALIDATION_FAILED',
        );
        expect(r.body.error.fields.map((f: { path: string }) => f.path)).to.deep.equal(['name']);
      }
      // Names in other scripts, with a middle dot or outside the BMP, are fine.
      for (const name of ['买买提·艾力', 'Zoë O’Neil-Smith', '𠮷野家'])
        expect((await apply(svc, applicant({ name }))).status, name).to.equal(201);
    });

    it('answers 400 VALIDATION_FAILED naming every missing field (who applies comes from the sign-in, so no ID field is missing)', async () => {
      const r = await expectRefused(
        svc,
        () => apply(svc, {}, { session: { access: token, refresh: '' } }),
        400,
        'VALIDATION_FAILED',
      );
      expect(r.body.error.fields.map((f: { path: string }) => f.path)).to.have.members([
        'phone',
        'district',
        'declaration',
      ]);
    });

    it('answers 401 without a session, before reading the body', async () => {
      await expectRefused(svc, () => svc.call('POST', '/v1/residents', { json: person }), 401, 'UNAUTHENTICATED');
      await expectRefused(
        svc,
        () => svc.call('POST', '/v1/residents', { raw: '{', headers: { 'content-type': 'application/json' } }),
        401,
        'UNAUTHENTICATED',
      );
    });

    it('answers 413 PAYLOAD_TOO_LARGE to a 10 MB body, sent for real', async () => {
      const big = Buffer.alloc(10 * 1024 * 1024, 0x20);
      big.write('{"name":"');
      await expectRefused(
        svc,
        () => svc.call('POST', '/v1/residents', { token, raw: big, headers: { 'content-type': 'application/json' } }),
        413,
        'PAYLOAD_TOO_LARGE',
      );
    });

    it('answers 413 PAYLOAD_TOO_LARGE to a chunked body without a content-length', async () => {
      const head = await svc.head();
      const r = await postChunked(svc.url, '/v1/residents', 2 * 1024 * 1024, token);
      expect(r.status).to.equal(413);
      expect(r.body.error.code).to.equal('PAYLOAD_TOO_LARGE');
      expect(await svc.head()).to.deep.equal(head);
    });

    it('answers 400 MALFORMED_JSON to bytes that are not JSON', async () => {
      await expectRefused(
        svc,
        () =>
          svc.call('POST', '/v1/residents', {
            token,
            raw: '{"idType": "passport",',
            headers: { 'content-type': 'application/json' },
          }),
        400,
        'MALFORMED_JSON',
      );
      await expectRefused(
        svc,
        () => svc.call('POST', '/v1/residents', { token, raw: '', headers: { 'content-type': 'application/json' } }),
        400,
        'MALFORMED_JSON',
      );
    });

    it('answers 415 UNSUPPORTED_MEDIA_TYPE to another content type', async () => {
      const text = JSON.stringify(applicant());
      await expectRefused(
        svc,
        () => svc.call('POST', '/v1/residents', { token, raw: text, headers: { 'content-type': 'text/plain' } }),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      );
      await expectRefused(
        svc,
        () =>
          svc.call('POST', '/v1/residents', {
            token,
            raw: text,
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
          }),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      );
    });

    it('answers 401 to an Authorization header that is not a bearer token', async () => {
      await expectRefused(
        svc,
        () =>
          svc.call('POST', '/v1/residents', { json: applicant(), headers: { authorization: 'Basic dXNlcjpwYXNz' } }),
        401,
        'UNAUTHENTICATED',
      );
    });
  });

  describe('routing', () => {
    it('answers 404 NOT_FOUND as JSON for an unknown route', async () => {
      await expectRefused(svc, () => svc.call('GET', '/v1/nothing-here'), 404, 'NOT_FOUND');
      await expectRefused(
        svc,
        () => svc.call('POST', '/v1/feeds/rumours', { token: health, json: { records: [] } }),
        404,
        'NOT_FOUND',
      );
    });

    it('answers 405 METHOD_NOT_ALLOWED as JSON, with an Allow header', async () => {
      const r = await expectRefused(
        svc,
        () => svc.call('DELETE', '/v1/residents', { json: {} }),
        405,
        'METHOD_NOT_ALLOWED',
      );
      expect(r.headers.get('allow')).to.contain('POST');
    });
  });

  describe('PUT /v1/rules', () => {
    it('answers 400 INVALID_RULE_SET to a rule set that does not parse', async () => {
      const r = await expectRefused(
        svc,
        () => svc.call('PUT', '/v1/rules', { token: health, json: { ...defaultRules, rules: [] } }),
        400,
        'INVALID_RULE_SET',
      );
      expect(r.body.error.fields[0].path).to.equal('rules');
      await expectRefused(
        svc,
        () => svc.call('PUT', '/v1/rules', { token: health, json: 'rules' }),
        400,
        'INVALID_RULE_SET',
      );
    });

    it('answers 413 to a 10 MB rule set', async () => {
      await expectRefused(
        svc,
        () =>
          svc.call('PUT', '/v1/rules', {
            token: health,
            raw: Buffer.alloc(10 * 1024 * 1024, 0x20),
            headers: { 'content-type': 'application/json' },
          }),
        413,
        'PAYLOAD_TOO_LARGE',
      );
    });
  });

  describe('write endpoints given random JSON', () => {
    // Values that break schemas: wrong types, huge strings, out-of-range and odd numbers.
    const weird = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.constantFrom(
        null,
        '',
        -1,
        0,
        1.5,
        1e308,
        -1e308,
        2 ** 53,
        80,
        true,
        false,
        [],
        {},
        '2026-02-30T00:00:00Z',
        '0000-01-01T00:00:00Z',
        '9999-12-31T23:59:59Z',
        '__proto__',
      ),
      fc.string({ minLength: 200, maxLength: 3000 }),
      fc.constant('長'.repeat(30_000)),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
    );

    type Json = unknown;
    function paths(v: Json, at: Array<string | number> = []): Array<Array<string | number>> {
      const out = [at];
      if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...at, i])));
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...at, k]));
      return out;
    }
    function mutate(v: Json, pick: number, op: 'replace' | 'delete' | 'add', value: Json, key: string): Json {
      const all = paths(v);
      const path = all[pick % all.length];
      if (path.length === 0)
        return op === 'add' && v && typeof v === 'object' && !Array.isArray(v) ? { ...v, [key]: value } : value;
      const copy = structuredClone(v) as Record<string | number, unknown>;
      let parent: any = copy;
      for (const p of path.slice(0, -1)) parent = parent[p];
      const last = path[path.length - 1];
      if (op === 'delete') {
        if (Array.isArray(parent)) parent.splice(Number(last), 1);
        else delete parent[last];
      } else if (op === 'add' && parent[last] && typeof parent[last] === 'object' && !Array.isArray(parent[last])) {
        parent[last][key] = value;
      } else parent[last] = value;
      return copy;
    }
    const mutations = (valid: fc.Arbitrary<Json>) =>
      fc
        .tuple(
          valid,
          fc.nat(),
          fc.constantFrom('replace', 'delete', 'add') as fc.Arbitrary<'replace' | 'delete' | 'add'>,
          weird,
          fc.string({ maxLength: 12 }),
        )
        .chain(([v, pick, op, value, key]) =>
          fc.tuple(fc.constant(mutate(v, pick, op, value, key)), fc.nat({ max: 3 }), fc.nat(), weird),
        )
        // Some inputs carry a second mutation.
        .map(([v, twice, pick, value]) => (twice === 0 ? mutate(v, pick, 'replace', value, '') : v));

    const iso = () => new Date(svc.clock.ms - 3_600_000).toISOString();
    const person = () => ({ idType: 'resident-id', idNumber: residentIdNumber() });

    /** What the scenario endpoints need to get past authorisation: a venue of each kind, tokens, an appeal. */
    const ctx = {} as {
      operator: string;
      officer: string;
      resident: Resident;
      community: Venue;
      school: Venue;
      border: Venue;
      appealId: string;
      applicant: ReturnType<typeof applicant>;
      session: string;
    };
    before(async () => {
      ctx.applicant = applicant();
      ctx.session = (await svc.signIn(ctx.applicant)).access;
      ctx.operator = await svc.token('operator');
      ctx.resident = await newResident(svc);
      ctx.community = await registerVenue(svc, ctx.operator, {
        type: 'residential-community',
        name: '安居苑社区',
        district: '340104',
      });
      ctx.school = await registerVenue(svc, ctx.operator, {
        type: 'school',
        subtype: 'primary-school',
        name: '蜀山小学',
        district: '340104',
      });
      ctx.border = await registerVenue(svc, health, {
        type: 'border',
        subtype: 'port-of-entry',
        name: '新桥机场口岸',
        district: '340123',
      });
      ctx.officer = await svc.token('border', { scope: { venues: [ctx.border.id] } });
      const appeal = await svc.call('POST', '/v1/appeals', {
        token: ctx.resident.token,
        json: { reason: '我没有去过风险地区' },
      });
      expect(appeal.status, JSON.stringify(appeal.body)).to.equal(201);
      ctx.appealId = appeal.body.id;
    });

    interface Endpoint {
      valid: () => fc.Arbitrary<Json>;
      token: () => string | undefined;
      /** The path when it names something made in `before`. */
      path?: () => string;
      /** Re-evaluation a success starts, to let finish before the next head is read. */
      sweeps?: boolean;
    }
    const ENDPOINTS: Record<string, Endpoint> = {
      // A session applies for its own identity: the valid bodies vary the declaration and district.
      'POST /v1/residents': {
        valid: () =>
          fc.tuple(fc.constantFrom(36.4, 37.9), fc.constantFrom('340104', '340102')).map(([t, district]) => ({
            ...ctx.applicant,
            district,
            declaration: { ...ctx.applicant.declaration, temperatureC: t },
          })),
        token: () => ctx.session,
      },
      'PUT /v1/rules': {
        valid: () => fc.constant(null).map(() => structuredClone(defaultRules)),
        token: () => health,
        sweeps: true,
      },
      'PUT /v1/policies': {
        valid: () => fc.constant(null).map(() => structuredClone(defaultPolicies)),
        token: () => health,
      },
      'POST /v1/feeds/cases': {
        valid: () =>
          fc
            .constantFrom('confirmed', 'suspected', 'recovered', 'cleared')
            .map((status) => ({ records: [{ ...person(), status, at: iso() }] })),
        token: () => health,
      },
      'POST /v1/feeds/close-contacts': {
        valid: () => fc.constantFrom(1, 2).map((degree) => ({ records: [{ ...person(), degree, exposedAt: iso() }] })),
        token: () => health,
      },
      'POST /v1/feeds/inbound-travellers': {
        valid: () =>
          fc.constantFrom('SG', 'US', '810000').map((from) => ({ records: [{ ...person(), arrivedAt: iso(), from }] })),
        token: () => health,
      },
      'POST /v1/feeds/risk-areas': {
        valid: () =>
          fc.constantFrom('high', 'medium').map((level) => ({ areas: [{ region: '420100', level, since: iso() }] })),
        token: () => health,
        sweeps: true,
      },
      'POST /v1/admin/tokens': {
        valid: () =>
          fc
            .constantFrom<() => Json>(
              () => ({ role: 'health', name: 'fuzz health' }),
              () => ({ role: 'auditor', name: 'fuzz auditor' }),
              () => ({ role: 'feed', name: 'fuzz feed', source: 'telecom' }),
              () => ({
                role: 'operator',
                name: 'fuzz operator',
                scope: { venueTypes: ['crowded-place', 'school'], districts: ['340100'] },
              }),
              () => ({ role: 'grid', name: 'fuzz grid', scope: { districts: ['340104'], venues: [ctx.community.id] } }),
              () => ({ role: 'border', name: 'fuzz border', scope: { venues: [ctx.border.id] } }),
            )
            .map((f) => f()),
        token: () => svc.adminToken,
      },
      'POST /v1/venues': {
        valid: () =>
          fc.constantFrom(
            { type: 'crowded-place', subtype: 'restaurant', name: '老乡鸡', district: '340104' },
            {
              type: 'transport',
              subtype: 'bus',
              name: '合肥公交 1 路',
              district: '340102',
              vehicle: { plate: '皖A·12345', route: '1' },
            },
            { type: 'enterprise', name: '科大讯飞', district: '340111', requireTemperature: true },
          ),
        token: () => ctx.operator,
      },
      'POST /v1/scans': {
        valid: () =>
          fc
            .constantFrom<() => Json>(
              () => ({ venueId: ctx.community.id, code: ctx.resident.code, temperatureC: 36.5 }),
              () => ({ venueId: ctx.school.id, certificateNo: 'ZM-0001' }),
            )
            .map((f) => f()),
        token: () => ctx.operator,
      },
      'POST /v1/checkins': {
        valid: () => fc.constantFrom(36.4, 37.8).map((t) => ({ venueCode: ctx.community.code, temperatureC: t })),
        token: () => ctx.resident.token,
      },
      'POST /v1/checkins/daily': {
        valid: () => fc.constantFrom(36.2, 38.0).map((t) => ({ temperatureC: t, symptoms: t > 37 ? ['cough'] : [] })),
        token: () => ctx.resident.token,
      },
      'POST /v1/venues/:id/certificates': {
        valid: () =>
          fc.nat({ max: 9999 }).map((n) => ({
            certificateNo: `ZM-${String(n).padStart(4, '0')}`,
            validUntil: shanghaiDate(svc.clock, -7),
          })),
        token: () => ctx.operator,
        path: () => `/v1/venues/${ctx.school.id}/certificates`,
      },
      'POST /v1/venues/:id/roster': {
        valid: () => fc.constant(null).map(() => ({ venueCode: ctx.community.code })),
        token: () => ctx.resident.token,
        path: () => `/v1/venues/${ctx.community.id}/roster`,
      },
      'POST /v1/border/entries': {
        valid: () =>
          fc
            .constantFrom('SG', 'US', 'GB')
            .map((from) => ({
              venueId: ctx.border.id,
              ...applicant({ idType: 'passport' as never }),
              from,
              destination: '340104',
              temperatureC: 36.6,
            }))
            .map(({ district: _d, declaration: _decl, ...rest }) => rest),
        token: () => ctx.officer,
      },
      'POST /v1/tracing': {
        valid: () =>
          fc.boolean().map((mark) => ({
            pseudonym: ctx.resident.pseudonym,
            from: new Date(svc.clock.ms - 86_400_000).toISOString(),
            to: svc.clock.now().toISOString(),
            markCloseContacts: mark,
          })),
        token: () => health,
      },
      'POST /v1/grid/visits': {
        valid: () =>
          fc
            .constantFrom('verified', 'home-quarantine', 'sent-to-facility', 'data-wrong')
            .map((outcome) => ({ pseudonym: ctx.resident.pseudonym, outcome, note: '已上门' })),
        // A health token covers every resident; a grid token only its own districts and rosters.
        token: () => health,
      },
      'POST /v1/appeals/:id/decision': {
        valid: () => fc.constant(null).map(() => ({ decision: 'reject', reason: '经核实，维持原判' })),
        token: () => health,
        path: () => `/v1/appeals/${ctx.appealId}/decision`,
      },
    };

    for (const [endpoint, { valid, token: tokenOf, path: pathOf, sweeps }] of Object.entries(ENDPOINTS)) {
      it(`${endpoint} never answers 5xx; every 4xx has the error shape and leaves the ledger head where it was`, async () => {
        const [method, route] = endpoint.split(' ');
        const path = pathOf?.() ?? route;
        const token = tokenOf();
        type Input = { json?: unknown; raw?: string };
        const body: fc.Arbitrary<Input> = fc.oneof(
          { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((json) => ({ json })) },
          { weight: 1, arbitrary: fc.json({ maxDepth: 3 }).map((text) => ({ raw: text })) },
          { weight: 1, arbitrary: fc.string({ maxLength: 40 }).map((text) => ({ raw: text })) },
          { weight: 5, arbitrary: mutations(valid()).map((json) => ({ json })) },
          { weight: 1, arbitrary: valid().map((json) => ({ json })) },
        );
        const statuses = new Map<number, number>();
        await fc.assert(
          fc.asyncProperty(body, async (input) => {
            const head = await svc.head();
            const r = await svc.call(method, path, {
              token,
              ...(input.raw !== undefined
                ? { raw: input.raw, headers: { 'content-type': 'application/json' } }
                : { json: input.json }),
            });
            statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
            expect(r.status, JSON.stringify(r.body)).to.be.below(500);
            if (r.status >= 400) {
              expectErrorShape(r, endpoint);
              expect(await svc.head(), `${r.status} ${r.body.error.code} moved the ledger`).to.deep.equal(head);
            } else {
              expect(r.status).to.be.oneOf([200, 201]);
              // Let a sweep started by this request finish before the next head is read.
              if (sweeps) await svc.running.services.reevaluator.sweepAll('fuzz');
            }
          }),
          { numRuns: 100 },
        );
        // The mix reached past validation at least once, and was refused at least once.
        const codes = [...statuses.keys()];
        expect(
          codes.some((s) => s < 300),
          JSON.stringify([...statuses]),
        ).to.equal(true);
        expect(
          codes.some((s) => s >= 400),
          JSON.stringify([...statuses]),
        ).to.equal(true);
      });
    }
  });
});
