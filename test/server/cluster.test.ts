import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { Agent } from 'node:http';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { serialize } from 'node:v8';
import {
  readFrames,
  sendFrame,
  type NoticeFrame,
  type WorkerRequest,
  type WriterReply,
} from '../../server/cluster/protocol';
import { hashToken, type Principal } from '../../server/http/auth';
import { applySchema } from '../../server/services/residents';
import { until } from '../../scripts/lib/wait';
import { tempDir } from '../support/tmp';
import {
  alive,
  allGone,
  applicationBody,
  call,
  childrenOf,
  gate,
  listeningPorts,
  residentCodes,
  seedDataDir,
  setup,
  startCluster,
  type Answer,
  type ClusterProcess,
  type Seeded,
} from '../support/cluster';

/** Sign-ins (GET /v1/auth/login) one address may start: small, so that the fourth is refused. */
const SIGNINS = 3;
const ENV = { RATE_SIGNIN_PER_ADDRESS: String(SIGNINS), RATE_SIGNIN_PER_ADDRESS_SECONDS: '600' };

/** One service under test, and what its setup made in it. */
interface Under {
  s: ClusterProcess;
  seeded: Seeded;
  /** Two gates: operator A runs venue A, operator B venue B. */
  a: { operator: string; venueId: string };
  b: { operator: string; venueId: string };
  /** Current dynamic codes of two residents who applied. */
  codes: string[];
}

async function serviceUnderTest(tmp: string, workers: number): Promise<Under> {
  // Request lines (no personal data in them) say which process answered.
  const env = { ...ENV, WORKERS: String(workers), LOG_LEVEL: 'info' };
  // Two residents apply now; the third applies in a test, changing the status list; the fourth
  // and fifth apply in the test of applications; the sixth in the test of codes (where the
  // seventh only asks for its own); the seventh in the test of a kept code (WORKERS=2 only);
  // the eighth in the test of sessions; the ninth in the test of the writer's answers on its channel.
  const seeded = await seedDataDir(tmp, env, 9);
  const s = await startCluster(tmp, env);
  const a = await gate(s.url, seeded.admin, '淮河路步行街百货大楼');
  const b = await gate(s.url, seeded.admin, '三孝口书店');
  return { s, seeded, a, b, codes: await residentCodes(s.url, seeded.residents.slice(0, 2)) };
}

const scan = (u: Under, auth: Record<string, string>, body: unknown) =>
  call(u.s.url, 'POST', '/v1/scans', { headers: auth, body });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
/** [status, error code] of an answer; a success is its status alone. */
const outcome = (r: Answer) => (r.status < 300 ? [r.status] : [r.status, r.body?.error?.code]);

interface RequestLine {
  msg?: string;
  route?: string;
  status?: number;
  pid?: number;
  time?: string;
}

/** The request lines the service's processes logged for `route` (kept: the last 1,000 lines of output). */
function requestLines(u: Under, route: string): RequestLine[] {
  const out: RequestLine[] = [];
  for (const line of u.s.lines) {
    try {
      const l = JSON.parse(line) as RequestLine;
      if (l.msg === 'request' && l.route === route) out.push(l);
    } catch {
      // Not a JSON line.
    }
  }
  return out;
}

/** The pids that logged an answer to POST /v1/scans with `status` since `since` (an ISO time). */
function answeredBy(u: Under, status: number, since: string): Set<number> {
  return new Set(
    requestLines(u, '/v1/scans')
      .filter((l) => l.status === status && l.time! >= since)
      .map((l) => l.pid!),
  );
}

/** A code with one character of its signature changed (to another character of the same alphabet). */
function tampered(code: string): string {
  const i = code.length - 8;
  return code.slice(0, i) + (code[i] === 'A' ? 'B' : 'A') + code.slice(i + 1);
}

/** Distributes Omit over a union, so each request keeps its own fields. */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/** The writer's two listening ports: its HTTP port, and its message channel (which does not answer HTTP). */
async function writerPorts(u: Under): Promise<{ http: number; channel: number }> {
  const ports = listeningPorts(u.s.writer!);
  expect(ports.length, 'the writer listens on its HTTP port and its message channel').to.equal(2);
  const answers = await Promise.all(
    ports.map((p) =>
      call(`http://127.0.0.1:${p}`, 'GET', '/healthz', { timeoutMs: 2_000 }).then(
        () => true,
        () => false,
      ),
    ),
  );
  expect(answers.filter(Boolean), 'one port answers HTTP').to.have.length(1);
  return { http: ports[answers.indexOf(true)], channel: ports[answers.indexOf(false)] };
}

const scanCount = async (u: Under) => {
  const r = await call(u.s.url, 'GET', `/v1/venues/${u.a.venueId}/scans?limit=1000`, { token: u.a.operator });
  expect(r.status).to.equal(200);
  return (r.body.scans as unknown[]).length;
};

describe('WORKERS=2: who may scan through the workers, what they may send, and which address counts', function () {
  this.timeout(90_000);
  const dirs: ReturnType<typeof tempDir>[] = [];
  /** The service with two HTTP workers, and the one-process service it must answer like. */
  let cluster: Under;
  let single: Under;

  before(async () => {
    dirs.push(tempDir('ankang-cluster-'), tempDir('ankang-single-'));
    [cluster, single] = await Promise.all([serviceUnderTest(dirs[0].dir, 2), serviceUnderTest(dirs[1].dir, 0)]);
    expect(cluster.s.workers).to.have.length(2);
    expect(single.s.workers).to.deep.equal([]);
  });

  after(async () => {
    await Promise.all([cluster?.s.stop('SIGKILL'), single?.s.stop('SIGKILL')]);
    for (const d of dirs) d.cleanup();
  });

  it('answers who may call POST /v1/scans as the one-process service does', async () => {
    const cases = (u: Under): [string, Record<string, string>][] => [
      ['no token', {}],
      ['not a bearer token', { authorization: `Basic ${Buffer.from('gate:secret').toString('base64')}` }],
      ['a malformed bearer token', { authorization: 'Bearer ak_operator_/!' }],
      ['an unknown token', bearer(`ak_operator_${randomBytes(24).toString('base64url')}`)],
      ["a resident's token", bearer(u.seeded.residents[0])],
      ['an operator of another venue', bearer(u.b.operator)],
      ['an expired operator token', bearer(u.seeded.expiredOperator)],
      ["the venue's operator", bearer(u.a.operator)],
      // The gate page signs in once and then sends its HttpOnly cookie (ak_staff).
      ["the gate page's cookie", { cookie: `ak_staff=${u.a.operator}` }],
      [
        "the gate page's cookie, sent from another site",
        { cookie: `ak_staff=${u.a.operator}`, 'sec-fetch-site': 'cross-site' },
      ],
      ["a resident's session cookie", { cookie: `ak_resident=${u.seeded.residents[0]}` }],
    ];
    const answers = async (u: Under) => {
      const out: Record<string, unknown[]> = {};
      for (const [what, auth] of cases(u))
        out[what] = outcome(await scan(u, auth, { venueId: u.a.venueId, code: u.codes[0], temperatureC: 36.5 }));
      return out;
    };
    const expected = {
      'no token': [401, 'UNAUTHENTICATED'],
      'not a bearer token': [401, 'UNAUTHENTICATED'],
      'a malformed bearer token': [401, 'UNAUTHENTICATED'],
      'an unknown token': [401, 'UNAUTHENTICATED'],
      "a resident's token": [403, 'FORBIDDEN'],
      'an operator of another venue': [403, 'FORBIDDEN'],
      'an expired operator token': [401, 'TOKEN_EXPIRED'],
      "the venue's operator": [201],
      "the gate page's cookie": [201],
      "the gate page's cookie, sent from another site": [403, 'FORBIDDEN'],
      "a resident's session cookie": [403, 'FORBIDDEN'],
    };
    expect(await answers(single)).to.deep.equal(expected);
    // Twice, each request on a new connection: both workers refuse (the primary hands connections round).
    const since = new Date().toISOString();
    expect(await answers(cluster)).to.deep.equal(expected);
    expect(await answers(cluster)).to.deep.equal(expected);
    await until('the request lines', () => answeredBy(cluster, 403, since).size === 2, 5_000, 50);
    // Every scan, the gate page's cookies included, is the workers' to answer: the writer logs none.
    for (const status of [401, 403])
      expect([...answeredBy(cluster, status, since)]).to.include.members(cluster.s.workers);
    for (const status of [201, 401, 403])
      expect([...answeredBy(cluster, status, since)].filter((pid) => !cluster.s.workers.includes(pid))).to.deep.equal(
        [],
      );
  });

  it("counts the scans and pages the workers answered in the writer's /metrics", async () => {
    const metric = async (route: string, status: number) => {
      const text = (await (await fetch(`${cluster.s.url}/metrics`)).text()).split('\n');
      const line = text.find((l) =>
        l.startsWith(
          `ankang_http_requests_total{method="${route === '/' ? 'GET' : 'POST'}",route="${route}",status="${status}"}`,
        ),
      );
      return line ? Number(line.split(' ').pop()) : 0;
    };
    const [pages, refused] = [await metric('/', 200), await metric('/v1/scans', 403)];
    for (let i = 0; i < 4; i++) {
      expect((await fetch(`${cluster.s.url}/`)).status).to.equal(200);
      const r = await scan(cluster, bearer(cluster.b.operator), { venueId: cluster.a.venueId, code: cluster.codes[1] });
      expect(r.status).to.equal(403);
    }
    // Each worker sends its series every second; the writer adds them at the scrape. (At least:
    // the counts read before may have lacked the last second of the previous test's answers.)
    await until(
      'the workers’ counts in /metrics',
      async () => (await metric('/', 200)) >= pages + 4 && (await metric('/v1/scans', 403)) >= refused + 4,
      5_000,
      100,
    );
    // The writer counts the workers' sockets apart from the clients' sockets, which the workers count.
    const text = await (await fetch(`${cluster.s.url}/metrics`)).text();
    expect(text).to.match(/^ankang_writer_connections_open \d+$/m);
    expect(text).to.match(/^ankang_connections_open \d+$/m);
  });

  it('refuses bad input with 400, as the one-process service does, and writes nothing', async () => {
    const bodies = (u: Under): [string, { body?: unknown; raw?: string }][] => [
      ['an empty object', { body: {} }],
      ['no code and no certificate', { body: { venueId: u.a.venueId } }],
      ['a malformed venue id', { body: { venueId: 'not-a-venue', code: u.codes[0] } }],
      ['a code that is not a string', { body: { venueId: u.a.venueId, code: 12345 } }],
      ['a temperature out of range', { body: { venueId: u.a.venueId, code: u.codes[0], temperatureC: 99 } }],
      ['an unknown field', { body: { venueId: u.a.venueId, code: u.codes[0], pseudonym: 'x' } }],
      ['an array', { body: [u.a.venueId] }],
      ['not JSON', { raw: '{"venueId":' }],
    ];
    const answers = async (u: Under) => {
      const out: Record<string, unknown[]> = {};
      for (const [what, opts] of bodies(u))
        out[what] = outcome(await call(u.s.url, 'POST', '/v1/scans', { token: u.a.operator, ...opts }));
      return out;
    };
    const before = await scanCount(cluster);
    const got = await answers(cluster);
    expect(got).to.deep.equal(await answers(single));
    const { 'not JSON': notJson, ...schema } = got;
    for (const [what, o] of Object.entries(schema)) expect(o, what).to.deep.equal([400, 'VALIDATION_FAILED']);
    expect(notJson).to.deep.equal([400, 'MALFORMED_JSON']);
    expect(await scanCount(cluster)).to.equal(before);
  });

  it('records a tampered code, and a code signed with another key, as denied', async () => {
    const at = (u: Under, code: string) => scan(u, bearer(u.a.operator), { venueId: u.a.venueId, code });
    const results: Record<string, string> = {};
    for (const [what, r] of [
      ['tampered', await at(cluster, tampered(cluster.codes[1]))],
      // The one-process service signs with keys of its own under the same issuer id: a forgery here.
      ['foreign key', await at(cluster, single.codes[1])],
    ] as const) {
      expect(r.status, what).to.equal(201);
      expect(r.body.decision, what).to.equal('deny');
      expect(r.body.codeResult, what).to.not.equal('VALID');
      results[what] = r.body.codeResult as string;
    }
    const alone = await at(single, tampered(single.codes[1]));
    expect([alone.status, alone.body.decision, alone.body.codeResult]).to.deep.equal([201, 'deny', results.tampered]);
    // The untouched code still passes: the refusals were the changes'.
    expect((await at(cluster, cluster.codes[1])).body.codeResult).to.equal('VALID');
  });

  it('refuses a revoked operator token on the very next scan through either worker', async () => {
    const t = (await call(cluster.s.url, 'POST', '/v1/admin/tokens', {
      token: cluster.seeded.admin,
      body: { role: 'operator', name: 'a gate soon revoked' },
    })) as Answer;
    expect(t.status).to.equal(201);
    const venue = await call(cluster.s.url, 'POST', '/v1/venues', {
      token: t.body.token,
      body: { type: 'crowded-place', subtype: 'mall', name: '银泰中心', district: '340103' },
    });
    expect(venue.status).to.equal(201);
    const body = { venueId: venue.body.id, code: cluster.codes[0] };
    // Four connections, so that both workers have the token in their caches.
    for (let i = 0; i < 4; i++) expect((await scan(cluster, bearer(t.body.token), body)).status).to.equal(201);
    const revoked = await call(cluster.s.url, 'DELETE', `/v1/admin/tokens/${t.body.id}`, {
      token: cluster.seeded.admin,
    });
    expect(revoked.status, JSON.stringify(revoked.body)).to.be.within(200, 204);
    const since = new Date().toISOString();
    for (let i = 0; i < 4; i++)
      expect(outcome(await scan(cluster, bearer(t.body.token), body))).to.deep.equal([401, 'UNAUTHENTICATED']);
    await until('the request lines', () => answeredBy(cluster, 401, since).size === 2, 5_000, 50);
    expect(answeredBy(cluster, 401, since)).to.deep.equal(new Set(cluster.s.workers));
  });

  describe('the client address the per-address limits count', () => {
    const spoofs = (i: number) => ({
      'x-ankang-client': `203.0.113.${i + 1}`,
      'x-ankang-worker': randomBytes(32).toString('base64url'),
      'x-forwarded-for': `198.51.100.${i + 1}`,
    });
    const logins = async (u: Under) => {
      const out: number[] = [];
      for (let i = 0; i <= SIGNINS; i++)
        out.push((await call(u.s.url, 'GET', '/v1/auth/login', { headers: spoofs(i) })).status);
      return out;
    };

    it("is the connection's, whatever forwarding headers the client sends (TRUST_PROXY off)", async () => {
      const expected = [...Array<number>(SIGNINS).fill(302), 429];
      expect(await logins(single)).to.deep.equal(expected);
      expect(await logins(cluster)).to.deep.equal(expected);
    });

    it("is the connection's too on the writer's own HTTP port, without the workers' secret", async () => {
      const { http } = await writerPorts(cluster);
      // 127.0.0.1 has had its sign-ins above; an address the header named would have a fresh allowance.
      const direct = await call(`http://127.0.0.1:${http}`, 'GET', '/v1/auth/login', { headers: spoofs(50) });
      expect(outcome(direct)).to.deep.equal([429, 'TOO_MANY_REQUESTS']);
    });
  });

  it("serves the status list from the workers: the writer's own, and a new one once a status changed", async () => {
    const ports = listeningPorts(cluster.s.writer!);
    const lists = async (url: string) => {
      const r = await fetch(`${url}/v1/status-list`);
      expect(r.status).to.equal(200);
      return { issuedAt: r.headers.get('x-status-list-issued-at'), bytes: Buffer.from(await r.arrayBuffer()), r };
    };
    /** The writer's list, asked on its own HTTP port. */
    const writers = async () => {
      for (const p of ports) {
        const l = await lists(`http://127.0.0.1:${p}`).catch(() => undefined);
        if (l) return l;
      }
      throw new Error('no HTTP port on the writer');
    };
    // By time, not by line number: the process keeps only its last 1,000 lines.
    const since = new Date().toISOString();
    const first = await lists(cluster.s.url);
    expect(first.r.headers.get('access-control-allow-origin')).to.equal('*');
    expect(first.r.headers.get('content-type')).to.equal('application/cose; cose-type="cose-sign1"');
    expect((await lists(cluster.s.url)).bytes.equals(first.bytes)).to.equal(true);
    expect((await writers()).bytes.equals(first.bytes)).to.equal(true);
    // A second later, a new resident takes a status index: the writer signs a new list, and the workers drop theirs.
    await new Promise((r) => setTimeout(r, 1_100));
    await residentCodes(cluster.s.url, cluster.seeded.residents.slice(2, 3), 2);
    const after = await lists(cluster.s.url);
    expect(after.bytes.equals(first.bytes)).to.equal(false);
    expect(Date.parse(after.issuedAt!)).to.be.greaterThan(Date.parse(first.issuedAt!));
    expect((await writers()).bytes.equals(after.bytes)).to.equal(true);
    // The workers answered the three asked through PORT (the writer's log has the two asked of it directly).
    const byWorkers = () =>
      requestLines(cluster, '/v1/status-list').filter((l) => l.time! >= since && cluster.s.workers.includes(l.pid!));
    await until('the request lines', () => byWorkers().length >= 3, 5_000, 50);
    expect(byWorkers()).to.have.length(3);
  });

  it('answers applications through the workers as the one-process service does, limits and retries included', async () => {
    const apply = (u: Under, headers: Record<string, string>, body: unknown) =>
      call(u.s.url, 'POST', '/v1/residents', { headers, body });
    const answers = async (u: Under) => {
      const [fourth, fifth] = u.seeded.residents.slice(3);
      const body = applicationBody(4);
      const out: [string, unknown[]][] = [
        ['no token', outcome(await apply(u, {}, body))],
        ["an operator's token", outcome(await apply(u, bearer(u.a.operator), body))],
        ['a body that is not an application', outcome(await apply(u, bearer(fourth), { district: 'nowhere' }))],
        ['a bad Idempotency-Key', outcome(await apply(u, { ...bearer(fourth), 'idempotency-key': '!' }, body))],
        ["someone else's ID", outcome(await apply(u, bearer(fourth), { ...body, idNumber: '110101199003074514' }))],
      ];
      const first = await apply(u, { ...bearer(fourth), 'idempotency-key': 'k-0001-apply' }, body);
      const retry = await apply(u, { ...bearer(fourth), 'idempotency-key': 'k-0001-apply' }, body);
      out.push(['the first application', outcome(first)], ['its retry with the same key', outcome(retry)]);
      out.push(['the retry answers the first answer', [JSON.stringify(retry.body) === JSON.stringify(first.body)]]);
      out.push(['an update', outcome(await apply(u, bearer(fourth), body))]);
      // The per-resident limit (10 an hour): updates go through until it is used up.
      let updates = 0;
      let limited = await apply(u, bearer(fourth), body);
      for (; limited.status === 200 && updates < 20; updates++) limited = await apply(u, bearer(fourth), body);
      out.push(['past the per-resident limit', [...outcome(limited), !!limited.headers['retry-after']]]);
      out.push(['updates before it', [updates]]);
      out.push(['another resident meanwhile', outcome(await apply(u, bearer(fifth), applicationBody(5)))]);
      return out;
    };
    const expected = [
      ['no token', [401, 'UNAUTHENTICATED']],
      ["an operator's token", [403, 'FORBIDDEN']],
      ['a body that is not an application', [400, 'VALIDATION_FAILED']],
      ['a bad Idempotency-Key', [400, 'IDEMPOTENCY_KEY_INVALID']],
      ["someone else's ID", [403, 'IDENTITY_NOT_YOURS']],
      ['the first application', [201]],
      ['its retry with the same key', [201]],
      ['the retry answers the first answer', [true]],
      ['an update', [200]],
      ['past the per-resident limit', [429, 'TOO_MANY_REQUESTS', true]],
      ['updates before it', [4]],
      ['another resident meanwhile', [201]],
    ];
    expect(await answers(single)).to.deep.equal(expected);
    const since = new Date().toISOString();
    // One difference, on purpose: a worker refuses a bad body or key before the limits are counted
    // (they count what reaches the writer), so the two refusals above cost the resident nothing.
    expect(await answers(cluster)).to.deep.equal(
      expected.map(([what, answer]) => (what === 'updates before it' ? [what, [6]] : [what, answer])),
    );
    // The workers answered every one of them (the writer only applied): 16 requests, none logged by the writer.
    const answered = () => requestLines(cluster, '/v1/residents').filter((l) => l.time! >= since);
    await until('the request lines', () => answered().length >= 16, 5_000, 50);
    expect(answered().filter((l) => !cluster.s.workers.includes(l.pid!))).to.deep.equal([]);
  });

  it("answers a resident's code and record through the workers as the one-process service does, and at once after a change", async () => {
    const code = (u: Under, auth: Record<string, string>, path = '/v1/residents/me/code') =>
      call(u.s.url, 'GET', path, { headers: auth });
    const answers = async (u: Under) => {
      const [sixth, seventh] = u.seeded.residents.slice(5);
      const out: [string, unknown[]][] = [
        ['no token', outcome(await code(u, {}))],
        ["an operator's token", outcome(await code(u, bearer(u.a.operator)))],
        ['a session that has not applied', outcome(await code(u, bearer(sixth)))],
      ];
      // The refusal above left the session's principal (no record bound yet) in the worker's cache.
      expect(
        (await call(u.s.url, 'POST', '/v1/residents', { token: sixth, body: applicationBody(6) })).status,
      ).to.equal(201);
      const first = await code(u, bearer(sixth));
      out.push(['right after applying', outcome(first)]);
      // Twice each time: each worker answers one (a worker takes connections in turn), and keeps it.
      const records = async () => {
        const both = [
          await code(u, bearer(sixth), '/v1/residents/me'),
          await code(u, bearer(sixth), '/v1/residents/me'),
        ];
        return both.flatMap((r) => [r.status, r.body?.resident?.colour]);
      };
      out.push(['the record', await records()]);
      out.push(['a mode that is not one', outcome(await code(u, bearer(sixth), '/v1/residents/me/code?mode=x'))]);
      out.push(["another resident's session asks for its own", outcome(await code(u, bearer(seventh)))]);
      const again = await code(u, { cookie: `ak_resident=${sixth}` });
      out.push(['again, by the page cookie: the same code', [again.status, again.body.code === first.body.code]]);
      const printed = await code(u, bearer(sixth), '/v1/residents/me/code?mode=printed');
      out.push(['printed', [printed.status, printed.body.mode, printed.body.code !== first.body.code]]);
      for (const format of ['png', 'svg']) {
        const r = await code(u, bearer(sixth), `/v1/residents/me/code.${format}`);
        out.push([format, [r.status, String(r.headers['content-type']).split(';')[0], r.headers['cache-control']]]);
      }
      // A declaration with a fever turns the record yellow: the next code is yellow, wherever asked.
      const fever = { ...applicationBody(6), declaration: { ...applicationBody(6).declaration, temperatureC: 38.6 } };
      expect((await call(u.s.url, 'POST', '/v1/residents', { token: sixth, body: fever })).status).to.equal(200);
      const yellow = await code(u, bearer(sixth));
      out.push(['after a fever', [yellow.status, yellow.body.colour, yellow.body.code !== first.body.code]]);
      out.push(['the record after a fever', await records()]);
      // New rules: every code is re-issued under them.
      const health = (await setup(u.s.url, '/v1/admin/tokens', u.seeded.admin, { role: 'health', name: 'rules' }))
        .token;
      const rules = (await call(u.s.url, 'GET', '/v1/rules')).body;
      expect((await call(u.s.url, 'PUT', '/v1/rules', { token: health, body: rules.ruleSet })).status).to.equal(201);
      const republished = await code(u, bearer(sixth));
      out.push(['after new rules', [republished.status, republished.body.ruleVersion === rules.version + 1]]);
      // Signed out: the session opens nothing, through either worker.
      expect((await call(u.s.url, 'POST', '/v1/auth/logout', { token: sixth })).status).to.equal(204);
      out.push(['signed out', outcome(await code(u, bearer(sixth)))]);
      out.push(['signed out, the record', outcome(await code(u, bearer(sixth), '/v1/residents/me'))]);
      out.push(['signed out, asked again', outcome(await code(u, bearer(sixth)))]);
      return out;
    };
    const expected = [
      ['no token', [401, 'UNAUTHENTICATED']],
      ["an operator's token", [403, 'FORBIDDEN']],
      ['a session that has not applied', [404, 'NOT_FOUND']],
      ['right after applying', [200]],
      ['the record', [200, 'green', 200, 'green']],
      ['a mode that is not one', [400, 'VALIDATION_FAILED']],
      // Nobody else's code is reachable: the session names the record, and this one has none.
      ["another resident's session asks for its own", [404, 'NOT_FOUND']],
      ['again, by the page cookie: the same code', [200, true]],
      ['printed', [200, 'printed', true]],
      ['png', [200, 'image/png', 'no-store']],
      ['svg', [200, 'image/svg+xml', 'no-store']],
      ['after a fever', [200, 'yellow', true]],
      ['the record after a fever', [200, 'yellow', 200, 'yellow']],
      ['after new rules', [200, true]],
      ['signed out', [401, 'UNAUTHENTICATED']],
      ['signed out, the record', [401, 'UNAUTHENTICATED']],
      ['signed out, asked again', [401, 'UNAUTHENTICATED']],
    ];
    expect(await answers(single)).to.deep.equal(expected);
    const since = new Date().toISOString();
    expect(await answers(cluster)).to.deep.equal(expected);
    // The workers answered every code and record request; the writer only gave them codes and records.
    const answered = () =>
      ['/v1/residents/me', '/v1/residents/me/code', '/v1/residents/me/code.png', '/v1/residents/me/code.svg'].flatMap(
        (route) => requestLines(cluster, route).filter((l) => l.time! >= since),
      );
    // Sixteen by route: the three signed-out ones fail authentication before any route matched (as in one process).
    await until('the request lines', () => answered().length >= 16, 5_000, 50);
    expect(answered()).to.have.length(16);
    expect(answered().filter((l) => !cluster.s.workers.includes(l.pid!))).to.deep.equal([]);
  });

  it('keeps a code the writer issued on that very fetch: asked again through the same worker, it is answered with the writer stopped', async () => {
    const seventh = cluster.seeded.residents[6];
    // One kept-alive connection: every request reaches the same worker.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const pinned = (method: string, path: string, body?: unknown) =>
      call(cluster.s.url, method, path, { token: seventh, body, agent, timeoutMs: 3_000 });
    const writer = cluster.s.writer!;
    try {
      expect((await pinned('POST', '/v1/residents', applicationBody(7))).status).to.equal(201);
      // The first printed code is issued by this fetch: the writer writes it into the record, and
      // the notice of that write reaches the worker before the answer does.
      const printed = await pinned('GET', '/v1/residents/me/code?mode=printed');
      expect(printed.status).to.equal(200);
      const dynamic = await pinned('GET', '/v1/residents/me/code');
      expect(dynamic.status).to.equal(200);
      process.kill(writer, 'SIGSTOP');
      try {
        const printedAgain = await pinned('GET', '/v1/residents/me/code?mode=printed');
        expect([printedAgain.status, printedAgain.body.code]).to.deep.equal([200, printed.body.code]);
        const dynamicAgain = await pinned('GET', '/v1/residents/me/code');
        expect([dynamicAgain.status, dynamicAgain.body.code]).to.deep.equal([200, dynamic.body.code]);
      } finally {
        process.kill(writer, 'SIGCONT');
      }
      // Another write to the record (a fever) is someone else's change to that answer: the next fetch asks the writer.
      const fever = { ...applicationBody(7), declaration: { ...applicationBody(7).declaration, temperatureC: 38.6 } };
      expect((await pinned('POST', '/v1/residents', fever)).status).to.equal(200);
      const yellow = await pinned('GET', '/v1/residents/me/code');
      expect([yellow.status, yellow.body.colour]).to.deep.equal([200, 'yellow']);
    } finally {
      agent.destroy();
    }
  });

  it('answers GET /v1/auth/session through the workers as the one-process service does', async () => {
    const session = (u: Under, headers: Record<string, string>) =>
      call(u.s.url, 'GET', '/v1/auth/session', { headers });
    const shown = (r: Answer) => (r.status === 200 ? [r.status, r.body] : outcome(r));
    const answers = async (u: Under) => {
      const eighth = u.seeded.residents[7];
      const out: [string, unknown[]][] = [
        ['no credentials', shown(await session(u, {}))],
        ['a bearer header that is not one', shown(await session(u, { authorization: 'Basic x' }))],
        ['an unknown token', shown(await session(u, bearer(`ak_${'x'.repeat(40)}`)))],
        ["an operator's token", shown(await session(u, bearer(u.a.operator)))],
        [
          "an expired operator's page cookie",
          shown(await session(u, { cookie: `ak_staff=${u.seeded.expiredOperator}` })),
        ],
        ['a session that has not applied', shown(await session(u, bearer(eighth)))],
      ];
      expect(
        (await call(u.s.url, 'POST', '/v1/residents', { token: eighth, body: applicationBody(8) })).status,
      ).to.equal(201);
      // Twice: each worker answers one; both must know the record is now bound.
      out.push(['right after applying', shown(await session(u, bearer(eighth)))]);
      out.push(['again', shown(await session(u, bearer(eighth)))]);
      out.push([
        'the page cookie beside an operator cookie',
        shown(await session(u, { cookie: `ak_resident=${eighth}; ak_staff=${u.a.operator}` })),
      ]);
      if (u === cluster) {
        // Two residents asked in turn, twice, so that each worker keeps both: each gets only its own identity.
        const seventh = u.seeded.residents[6];
        for (let i = 0; i < 4; i++) {
          const token = i % 2 ? seventh : eighth;
          const own = (await call(u.s.url, 'GET', '/v1/residents/me', { token })).body.resident.maskedId as string;
          const shownId = (await session(u, bearer(token))).body.resident.maskedId as string;
          expect(shownId, `asked in turn, ${i}`).to.equal(own);
        }
      }
      expect((await call(u.s.url, 'POST', '/v1/auth/logout', { token: eighth })).status).to.equal(204);
      out.push(['signed out', shown(await session(u, bearer(eighth)))]);
      out.push(['signed out, asked again', shown(await session(u, bearer(eighth)))]);
      out.push(['signed out, by the page cookie', shown(await session(u, { cookie: `ak_resident=${eighth}` }))]);
      return out;
    };
    // The two services seeded other ID numbers and sign at other times: compare the masked ID's
    // shape and the expiry's type.
    const timeless = (out: [string, unknown[]][]) =>
      JSON.parse(
        JSON.stringify(out, (k, v: unknown) =>
          k === 'accessExpiresAt' || k === 'expiresAt'
            ? typeof v
            : k === 'maskedId'
              ? String(v).replace(/\d/g, '9')
              : v,
        ),
      );
    const one = await answers(single);
    const since = new Date().toISOString();
    const two = await answers(cluster);
    expect(timeless(two)).to.deep.equal(timeless(one));
    // What a page sees: masked, and the record bound once applied.
    const byName = new Map(one);
    expect(byName.get('no credentials')).to.deep.equal([200, { resident: null, staff: null, expired: false }]);
    expect(byName.get("an expired operator's page cookie")).to.deep.equal([
      200,
      { resident: null, staff: null, expired: true },
    ]);
    const before = (byName.get('a session that has not applied')![1] as { resident: Record<string, unknown> }).resident;
    expect(before).to.include({ maskedName: '王*明', idType: 'resident-id', record: 'none' });
    expect(before.maskedId).to.match(/^\d{4}\*+\w{4}$/);
    for (const after of ['right after applying', 'again', 'the page cookie beside an operator cookie'])
      expect((byName.get(after)![1] as { resident: { record: string } }).resident.record, after).to.equal('bound');
    expect(byName.get('signed out')).to.deep.equal([401, 'UNAUTHENTICATED']);
    // The workers answered each of them: eight by route (the four refused in authentication log no route, as in one process), and the four asked in turn.
    const answered = () =>
      requestLines(cluster, '/v1/auth/session').filter((l) => l.time! >= since && cluster.s.workers.includes(l.pid!));
    await until('the request lines', () => answered().length >= 12, 5_000, 50);
    expect(answered()).to.have.length(12);
    expect(
      requestLines(cluster, '/v1/auth/session').filter((l) => l.time! >= since && l.pid === cluster.s.writer),
    ).to.deep.equal([]);
  });

  it("serves the trust list from the workers: the writer's own, issued now, and a rotated key's successor at once", async () => {
    const writerPort = listeningPorts(cluster.s.writer!);
    const list = async (url: string) => {
      const r = await fetch(`${url}/v1/trust-list`);
      expect(r.status).to.equal(200);
      expect(r.headers.get('access-control-allow-origin')).to.equal('*');
      expect(r.headers.get('cache-control')).to.equal('no-cache');
      const body = (await r.json()) as { issuedAt: string; issuers: Array<{ keys: Array<{ kid: string }> }> };
      expect(Math.abs(Date.parse(body.issuedAt) - Date.now())).to.be.below(5_000);
      return { ...body, issuedAt: undefined };
    };
    const writers = async () => {
      for (const p of writerPort) {
        const l = await list(`http://127.0.0.1:${p}`).catch(() => undefined);
        if (l) return l;
      }
      throw new Error('no HTTP port on the writer');
    };
    const kids = (l: Awaited<ReturnType<typeof list>>) => l.issuers[0].keys.map((k) => k.kid);
    const since = new Date().toISOString();
    // Twice: each worker answers one.
    const before = [await list(cluster.s.url), await list(cluster.s.url)];
    expect(before[1]).to.deep.equal(before[0]);
    expect(before[0]).to.deep.equal(await writers());
    expect(await list(single.s.url)).to.have.keys(Object.keys(before[0]));

    for (const u of [single, cluster]) {
      const prior = kids(await list(u.s.url));
      const rotated = await call(u.s.url, 'POST', '/v1/admin/keys/rotate', { token: u.seeded.admin });
      expect(rotated.status).to.equal(201);
      const kid = rotated.body.kid as string;
      // The writer pushes the new list when the rotation is written; the next requests, through both workers, name it.
      await until(
        'both answers name the new key',
        async () => {
          const both = [await list(u.s.url), await list(u.s.url)];
          return both.every((l) => kids(l).includes(kid));
        },
        2_000,
        20,
      );
      const after = await list(u.s.url);
      // The retired key stays listed while codes it signed are still current.
      expect(kids(after)).to.include.members([...prior, kid]);
      if (u === cluster) expect(after).to.deep.equal(await writers());
    }
    const byWorkers = () =>
      requestLines(cluster, '/v1/trust-list').filter((l) => l.time! >= since && cluster.s.workers.includes(l.pid!));
    const byWriter = () =>
      requestLines(cluster, '/v1/trust-list').filter((l) => l.time! >= since && l.pid === cluster.s.writer);
    await until('the request lines', () => byWorkers().length >= 6, 5_000, 50);
    // Only the ones asked on the writer's own port reached it.
    expect(byWriter()).to.have.length(2);
  });

  describe("the writer's message channel", () => {
    const channelPort = async () => (await writerPorts(cluster)).channel;

    /**
     * A third worker, linked to the writer with the supervisor's secret (read from the writer's
     * environment), that acknowledges each notice at once unless told to hold them.
     */
    const linkedWorker = async () => {
      const secret = readFileSync(`/proc/${cluster.s.writer!}/environ`, 'utf8')
        .split('\0')
        .find((e) => e.startsWith('ANKANG_WORKER_SECRET='))!
        .split('=')[1];
      const socket = connect(await channelPort(), '127.0.0.1');
      const replies = new Map<number, (r: WriterReply) => void>();
      let nextId = 2;
      const w = {
        socket,
        hold: false,
        notices: [] as NoticeFrame[],
        closedAt: 0,
        linked: false,
        /** Asks the writer as a worker would; resolves with its reply. */
        ask: (req: WithoutId<WorkerRequest>) =>
          new Promise<WriterReply>((resolve) => {
            const id = nextId++;
            replies.set(id, resolve);
            sendFrame(socket, { ...req, id } as WorkerRequest);
          }),
      };
      socket.on('error', () => undefined);
      socket.on('close', () => (w.closedAt = Date.now()));
      readFrames(socket, (value) => {
        const frame = value as NoticeFrame | WriterReply;
        if (!('op' in frame)) {
          if (frame.id === 1) w.linked = frame.ok;
          return replies.get(frame.id)?.(frame);
        }
        w.notices.push(frame);
        if (!w.hold) sendFrame(socket, { id: 0, op: 'ack', seq: frame.seq } satisfies WorkerRequest);
      });
      sendFrame(socket, { id: 1, op: 'hello', secret } satisfies WorkerRequest);
      await until('the writer to take the hello', () => w.linked, 5_000, 20);
      return w;
    };
    /** When `p` settled, or undefined while it has not. */
    const settledAt = (p: Promise<unknown>) => {
      const at = { t: 0 };
      void p.finally(() => (at.t = Date.now())).catch(() => undefined);
      return at;
    };

    it("holds a revocation's answer until every linked worker has acknowledged its notice", async () => {
      const w = await linkedWorker();
      try {
        const t = await call(cluster.s.url, 'POST', '/v1/admin/tokens', {
          token: cluster.seeded.admin,
          body: { role: 'operator', name: 'a gate revoked while a worker is slow' },
        });
        expect(t.status).to.equal(201);
        w.hold = true;
        const from = w.notices.length;
        const revoking = call(cluster.s.url, 'DELETE', `/v1/admin/tokens/${t.body.id}`, {
          token: cluster.seeded.admin,
        });
        const answered = settledAt(revoking);
        // The revocation is durable and announced, but not yet acknowledged by this worker.
        await until('the notice of the revoked token', () => w.notices.slice(from).some((n) => n.op === 'tokens'));
        await new Promise((r) => setTimeout(r, 300));
        expect(answered.t, 'answered before the slow worker acknowledged').to.equal(0);
        const ackedAt = Date.now();
        sendFrame(w.socket, { id: 0, op: 'ack', seq: w.notices[w.notices.length - 1].seq } satisfies WorkerRequest);
        expect((await revoking).status).to.be.within(200, 204);
        expect(answered.t).to.be.at.least(ackedAt);
        expect(w.closedAt, 'the writer kept the link').to.equal(0);
        // Through the real workers the token is refused at once.
        const r = await scan(cluster, bearer(t.body.token), { venueId: cluster.a.venueId, code: cluster.codes[0] });
        expect(outcome(r)).to.deep.equal([401, 'UNAUTHENTICATED']);
      } finally {
        w.socket.destroy();
      }
    });

    it('closes the link of a worker that does not acknowledge in time, then answers; the real workers go on', async () => {
      const w = await linkedWorker();
      w.hold = true;
      const t = await call(cluster.s.url, 'POST', '/v1/admin/tokens', {
        token: cluster.seeded.admin,
        body: { role: 'operator', name: 'a gate made while a worker is stuck' },
      });
      expect(t.status).to.equal(201);
      const answeredAt = Date.now();
      expect(w.notices.some((n) => n.op === 'tokens')).to.equal(true);
      await until('the closed link', () => w.closedAt > 0, 5_000, 20);
      expect(w.closedAt, 'the link closed before the answer').to.be.at.most(answeredAt);
      await until(
        'the warning',
        () => cluster.s.lines.some((l) => l.includes('did not acknowledge a notice in time')),
        5_000,
        50,
      );
      // The token made while the link was held works through the real workers.
      expect((await call(cluster.s.url, 'GET', '/v1/auth/session', { token: t.body.token })).status).to.equal(200);
      const ok = await scan(cluster, bearer(cluster.a.operator), {
        venueId: cluster.a.venueId,
        code: cluster.codes[0],
      });
      expect(ok.status).to.equal(201);
    });

    it('closes the link of a real worker stopped past the timeout; the worker links again once it runs, and serves', async () => {
      const [stopped, running] = cluster.s.workers;
      const { http } = await writerPorts(cluster);
      process.kill(stopped, 'SIGSTOP');
      let t: Answer;
      try {
        // Asked on the writer's own port: a connection the stopped worker took would wait for it.
        t = await call(`http://127.0.0.1:${http}`, 'POST', '/v1/admin/tokens', {
          token: cluster.seeded.admin,
          body: { role: 'operator', name: 'a gate made while a worker was stopped' },
        });
        expect(t.status).to.equal(201);
      } finally {
        process.kill(stopped, 'SIGCONT');
      }
      const warned = (pid: number) => () =>
        cluster.s.lines.some((l) => l.includes('the ledger writer closed the channel') && l.includes(`"pid":${pid}`));
      await until('the stopped worker to see its link closed', warned(stopped), 5_000, 20);
      expect(warned(running)()).to.equal(false);
      // Linked again: scans are answered by both workers, the new token's among them.
      const since = new Date().toISOString();
      const venue = await call(cluster.s.url, 'POST', '/v1/venues', {
        token: t.body.token,
        body: { type: 'crowded-place', subtype: 'mall', name: '万达广场', district: '340103' },
      });
      expect(venue.status).to.equal(201);
      await until(
        'scans answered 201 by both workers',
        async () => {
          const r = await scan(cluster, bearer(t.body.token), { venueId: venue.body.id, code: cluster.codes[1] });
          expect(r.status).to.equal(201);
          const by = answeredBy(cluster, 201, since);
          return by.has(stopped) && by.has(running);
        },
        10_000,
        50,
      );
    });

    it('answers a worker on its channel without waiting for that worker, but not before the other workers hold the notices', async () => {
      const w = await linkedWorker();
      const stopped = cluster.s.workers[0];
      try {
        // The worker holds every acknowledgement back: answers to it do not wait for it.
        w.hold = true;
        const session = cluster.seeded.residents[8];
        const auth = await w.ask({ op: 'auth', hash: hashToken(session) });
        expect(auth.ok).to.equal(true);
        const principal = (auth as { value: Principal }).value;
        const apply = (i: number) =>
          w.ask({
            op: 'apply',
            principal,
            address: '127.0.0.9',
            key: undefined,
            input: applySchema.parse(applicationBody(i)),
          });
        const from = w.notices.length;
        const first = await apply(90);
        expect(first, JSON.stringify(first)).to.deep.include({ ok: true });
        expect((first as { value: { status: number } }).value.status).to.equal(201);
        expect(
          w.notices.slice(from).some((n) => n.op === 'residents'),
          'the record was announced first',
        ).to.equal(true);
        expect(w.closedAt).to.equal(0);
        // A real worker stopped: the next answer waits until that worker has lost its link.
        w.hold = false;
        process.kill(stopped, 'SIGSTOP');
        let second: WriterReply;
        const dropped = () => cluster.s.lines.filter((l) => l.includes('did not acknowledge a notice in time')).length;
        const before = dropped();
        const asked = Date.now();
        try {
          second = await apply(91);
          expect(Date.now() - asked, 'answered only once the stopped worker lost its link').to.be.at.least(900);
        } finally {
          process.kill(stopped, 'SIGCONT');
        }
        await until('the warning', () => dropped() > before, 5_000, 50);
        expect((second as { value: { status: number } }).value.status).to.equal(200);
        expect(w.closedAt).to.equal(0);
      } finally {
        w.socket.destroy();
      }
    });

    it('closes a connection that does not prove itself, and a bogus frame neither stops the writer nor reaches it', async () => {
      const writer = cluster.s.writer!;
      const channel = [await channelPort()];
      /** Sends `bytes` on a new connection; resolves once the writer has closed it. */
      const closedAfter = (bytes: Buffer) =>
        new Promise<void>((resolve, reject) => {
          const s = connect(channel[0]!, '127.0.0.1', () => s.write(bytes));
          s.on('error', () => undefined);
          s.on('close', () => resolve());
          setTimeout(() => reject(new Error('the writer kept the connection open')), 8_000).unref();
        });
      const frame = (body: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, body.length]), body]);
      // Not a serialised value at all; a hello with the wrong secret; a frame too big for a hello.
      await closedAfter(frame(Buffer.from('not a frame')));
      await closedAfter(frame(serialize({ id: 1, op: 'hello', secret: 'guess' })));
      await closedAfter(Buffer.from([0, 1, 0, 0]));
      // A scan sent without a hello first is not run either: the venue's count stays.
      const before = await scanCount(cluster);
      await closedAfter(
        frame(serialize({ id: 1, op: 'scan', input: { venueId: cluster.a.venueId, certificateNo: 'ABCD' } })),
      );
      expect(await scanCount(cluster)).to.equal(before);
      // The writer is the one it was, and scans go on through the workers.
      expect(alive(writer)).to.equal(true);
      expect(cluster.s.writer).to.equal(writer);
      const r = await scan(cluster, bearer(cluster.a.operator), { venueId: cluster.a.venueId, code: cluster.codes[0] });
      expect(r.status).to.equal(201);
    });
  });

  describe('the supervisor SIGKILLed', () => {
    it('leaves the workers and the writer to exit on their own', async () => {
      const supervisor = cluster.s.child.pid!;
      const pids = [...childrenOf(supervisor, 'worker'), ...childrenOf(supervisor, 'writer')];
      expect(pids.sort()).to.deep.equal([...cluster.s.workers, cluster.s.writer!].sort());
      expect(pids.every(alive)).to.equal(true);
      expect(await cluster.s.stop('SIGKILL')).to.deep.equal({ code: null, signal: 'SIGKILL' });
      await allGone(pids, 20_000);
    });
  });
});

describe('WORKERS=1: made-up tokens flooding from one address', function () {
  this.timeout(90_000);
  const LIMIT = 3;
  const env = {
    WORKERS: '1',
    RATE_UNKNOWN_TOKEN_PER_ADDRESS: String(LIMIT),
    RATE_UNKNOWN_TOKEN_PER_ADDRESS_SECONDS: '600',
  };
  let dir: ReturnType<typeof tempDir>;
  let s: ClusterProcess;
  let seeded: Seeded;

  before(async () => {
    dir = tempDir('ankang-unknown-tokens-');
    seeded = await seedDataDir(dir.dir, env, 2);
    s = await startCluster(dir.dir, env);
    // Until its link to the writer is up, a worker forwards every request (and keeps no token): wait
    // for its first push of its series, which it sends only then (its connection gauge is the worker's own).
    await until(
      'the worker linked to the writer',
      async () => /^ankang_connections_open \d+$/m.test(await (await fetch(`${s.url}/metrics`)).text()),
      10_000,
      100,
    );
  });

  after(async () => {
    await s?.stop('SIGKILL');
    dir?.cleanup();
  });

  it('stops asking the writer once the address has shown its limit of unknown tokens, and still takes the tokens the worker knows', async () => {
    const [known, fresh] = seeded.residents;
    const session = (headers: Record<string, string>) => call(s.url, 'GET', '/v1/auth/session', { headers });
    const madeUp = () => `ak_resident_${randomBytes(24).toString('base64url')}`;
    // Asked once before the flood, so the worker keeps its principal.
    expect(outcome(await session(bearer(known)))).to.deep.equal([200]);
    const answers: unknown[][] = [];
    for (let i = 0; i < LIMIT; i++) answers.push(outcome(await session(bearer(madeUp()))));
    expect(answers).to.deep.equal(Array.from({ length: LIMIT }, () => [401, 'UNAUTHENTICATED']));
    const refused = await session(bearer(madeUp()));
    expect(outcome(refused)).to.deep.equal([429, 'TOO_MANY_REQUESTS']);
    expect(Number(refused.headers['retry-after'])).to.be.within(1, 600);
    expect(outcome(await session({ cookie: `ak_resident=${madeUp()}` }))).to.deep.equal([429, 'TOO_MANY_REQUESTS']);
    // A real session the worker has not seen is not asked about either (the writer would have taken it) ...
    expect(outcome(await session(bearer(fresh)))).to.deep.equal([429, 'TOO_MANY_REQUESTS']);
    expect(
      outcome(await call(s.url, 'POST', '/v1/residents', { token: fresh, body: applicationBody(2) })),
    ).to.deep.equal([429, 'TOO_MANY_REQUESTS']);
    // ... while the one it knows goes on.
    expect(outcome(await session(bearer(known)))).to.deep.equal([200]);
    // The four refusals reach the writer's /metrics with the worker's next push of its series.
    const refusals = async () => {
      const text = await (await fetch(`${s.url}/metrics`)).text();
      return Number(/^ankang_rate_limited_total\{limit="unknown-token-address"\} (\d+)$/m.exec(text)?.[1] ?? NaN);
    };
    expect(await until('the refusals in /metrics', async () => (await refusals()) === 4, 5_000, 100)).to.equal(true);
  });
});
