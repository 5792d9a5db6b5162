import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import defaultRules from '../../server/rules/default-rules.json';
import defaultPolicies from '../../server/scenarios/default-policies.json';
import { maskName } from '../../server/domain/mask';
import { addressKey } from '../../server/http/address';
import { applicant, apply, ROOT, startTestService, type Reply, type TestService } from '../support/service';
import { checkin, newResident, registerVenue, type Resident, type Venue } from '../support/scenario';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An HTTP call on a new connection from a chosen loopback address (Linux routes all of 127/8 to lo). */
function callFrom(
  svc: TestService,
  localAddress: string,
  method: string,
  path: string,
  o: { json?: unknown; token?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const body = o.json === undefined ? undefined : Buffer.from(JSON.stringify(o.json));
    const headers: Record<string, string> = { ...o.headers };
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    if (body) Object.assign(headers, { 'content-type': 'application/json', 'content-length': String(body.length) });
    const req = request(svc.url + path, { method, headers, localAddress, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const bytes = Buffer.concat(chunks);
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers))
          if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
        resolve({
          status: res.statusCode!,
          headers: h,
          bytes,
          body: /json/.test(res.headers['content-type'] ?? '') ? JSON.parse(bytes.toString('utf8')) : undefined,
        });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A 429 in the API's error shape, with Retry-After in whole seconds within the window. */
function expectTooMany(r: Reply, windowSeconds: number, what: RegExp): number {
  expect(r.status, JSON.stringify(r.body)).to.equal(429);
  expect(r.body).to.deep.equal({ error: { code: 'TOO_MANY_REQUESTS', message: r.body.error.message } });
  expect(r.body.error.message).to.match(what);
  const retryAfter = r.headers.get('retry-after');
  expect(retryAfter, 'Retry-After').to.match(/^\d+$/);
  expect(Number(retryAfter)).to.be.within(1, windowSeconds);
  return Number(retryAfter);
}

/** A counter's value in GET /metrics, 0 when absent. */
async function metric(svc: TestService, series: string): Promise<number> {
  const text = (await svc.call('GET', '/metrics')).bytes.toString('utf8');
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

/** Opens a socket from `localAddress` and resolves once connected; it records when it closed. */
function openSocket(svc: TestService, localAddress: string): Promise<Socket & { closedAt?: number }> {
  const { port } = new URL(svc.url);
  return new Promise((resolve, reject) => {
    const s: Socket & { closedAt?: number } = connect({ host: '127.0.0.1', port: Number(port), localAddress });
    s.on('error', () => undefined);
    s.once('close', () => (s.closedAt = performance.now()));
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];

describe('abuse limits', function () {
  this.timeout(60_000);

  describe('addressKey', () => {
    it('counts an IPv4 address as itself, also when written IPv4-mapped', () => {
      expect(addressKey('203.0.113.7')).to.equal('203.0.113.7');
      expect(addressKey('::ffff:203.0.113.7')).to.equal('203.0.113.7');
      expect(addressKey('::ffff:cb00:7107')).to.equal('203.0.113.7');
    });
    it('counts every address of an IPv6 /64 as one', () => {
      expect(addressKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd')).to.equal('2001:db8:1:2::/64');
      expect(addressKey('2001:db8:1:2::1')).to.equal('2001:db8:1:2::/64');
      expect(addressKey('2001:db8:1:3::1')).to.not.equal(addressKey('2001:db8:1:2::1'));
    });
  });

  describe('when one address floods POST /v1/residents', () => {
    const WINDOW_S = 3;
    let svc: TestService;
    before(async () => {
      svc = await startTestService({
        config: {
          RATE_APPLY_PER_ADDRESS: 5,
          RATE_APPLY_PER_ADDRESS_SECONDS: WINDOW_S,
          RATE_APPLY_PER_RESIDENT: 2,
          RATE_APPLY_PER_RESIDENT_SECONDS: WINDOW_S,
        },
      });
    });
    after(async () => {
      await svc?.close();
    });

    it('takes the configured number per window, refuses the rest with 429 and Retry-After, writes nothing for them, and takes more after the window', async () => {
      const head0 = await svc.head();
      expect((await apply(svc, applicant())).status).to.equal(201);
      const head1 = await svc.head();
      const eventsPerApplication = head1.seq - head0.seq;
      expect(eventsPerApplication).to.be.above(0);

      const replies = await Promise.all(Array.from({ length: 20 }, () => apply(svc, applicant())));
      const statuses = replies.map((r) => r.status);
      expect(
        statuses.filter((s) => s === 201),
        JSON.stringify(statuses),
      ).to.have.length(4);
      expect(
        statuses.filter((s) => s === 429),
        JSON.stringify(statuses),
      ).to.have.length(16);
      const waits = replies
        .filter((r) => r.status === 429)
        .map((r) => expectTooMany(r, WINDOW_S, /applications from this address/));
      expect((await svc.head()).seq - head1.seq, 'ledger events').to.equal(4 * eventsPerApplication);
      expect(await metric(svc, 'ankang_rate_limited_total{limit="apply-address"}')).to.equal(16);

      await sleep(Math.max(...waits) * 1000 + 100);
      const after = await apply(svc, applicant());
      expect(after.status, JSON.stringify(after.body)).to.equal(201);
    });

    it('counts a resident’s re-applications against the resident, from whichever address', async () => {
      await sleep(WINDOW_S * 1000);
      const body = applicant();
      const first = await apply(svc, body);
      expect(first.status).to.equal(201);
      const again = (from: string) => callFrom(svc, from, 'POST', '/v1/residents', { json: body, token: first.token });
      // The first application was made signed in as well, so it counts against the resident too.
      expect((await again('127.0.0.21')).status).to.equal(200);
      const head = await svc.head();
      expectTooMany(await again('127.0.0.22'), WINDOW_S, /applications for this resident/);
      expect(await svc.head()).to.deep.equal(head);
    });
  });

  describe('when one address sends made-up tokens', () => {
    const WINDOW_S = 3;
    const LIMIT = 3;
    let svc: TestService;
    let resident: string;
    let operator: string;
    before(async () => {
      svc = await startTestService({
        config: { RATE_UNKNOWN_TOKEN_PER_ADDRESS: LIMIT, RATE_UNKNOWN_TOKEN_PER_ADDRESS_SECONDS: WINDOW_S },
      });
      resident = (await apply(svc, applicant())).token!;
      operator = await svc.token('operator');
    });
    after(async () => {
      await svc?.close();
    });
    const madeUp = () => `ak_resident_${randomBytes(24).toString('base64url')}`;
    const me = (from: string, o: { token?: string; headers?: Record<string, string> }) =>
      callFrom(svc, from, 'GET', '/v1/residents/me', o);
    const outcome = (r: Reply) => [r.status, r.body?.error?.code ?? null];

    it('answers the limit’s number of them 401, then refuses every token from that address 429 until the window ends, and no other address', async () => {
      const from = '127.0.0.31';
      const first = [];
      for (let i = 0; i < LIMIT; i++) first.push(outcome(await me(from, { token: madeUp() })));
      expect(first).to.deep.equal(Array.from({ length: LIMIT }, () => [401, 'UNAUTHENTICATED']));
      expectTooMany(await me(from, { token: madeUp() }), WINDOW_S, /unknown tokens from this address/);
      // A page cookie is looked up as a header is, so it is refused the same way.
      expectTooMany(await me(from, { headers: { cookie: `ak_resident=${madeUp()}` } }), WINDOW_S, /unknown tokens/);
      // One process looks every token up: a real one from the flooding address waits for the window too.
      const wait = expectTooMany(await me(from, { token: resident }), WINDOW_S, /unknown tokens/);
      expect(outcome(await me('127.0.0.32', { token: resident }))).to.deep.equal([200, null]);
      expect(outcome(await me('127.0.0.32', { token: madeUp() }))).to.deep.equal([401, 'UNAUTHENTICATED']);
      expect(await metric(svc, 'ankang_rate_limited_total{limit="unknown-token-address"}')).to.equal(3);
      await sleep(wait * 1000 + 100);
      expect(outcome(await me(from, { token: resident }))).to.deep.equal([200, null]);
    });

    it('does not count a token it knows, whatever the answer: another role’s, or no credentials at all', async () => {
      const from = '127.0.0.33';
      const answers = [];
      for (let i = 0; i < LIMIT + 2; i++) answers.push(outcome(await me(from, { token: operator })));
      for (let i = 0; i < LIMIT + 2; i++) answers.push(outcome(await me(from, {})));
      expect(answers.filter((a) => a[0] === 429)).to.deep.equal([]);
      expect(answers[0]).to.deep.equal([403, 'FORBIDDEN']);
      expect(outcome(await me(from, { token: resident }))).to.deep.equal([200, null]);
    });
  });

  describe('when a resident floods check-ins', () => {
    const WINDOW_S = 3;
    let svc: TestService;
    let operator: string;
    let a: Resident;
    let b: Resident;
    const venues: Venue[] = [];
    before(async () => {
      svc = await startTestService({
        config: { RATE_CHECKIN_PER_RESIDENT: 4, RATE_CHECKIN_PER_RESIDENT_SECONDS: WINDOW_S },
      });
      operator = await svc.token('operator');
      for (let i = 0; i < 12; i++)
        venues.push(
          await registerVenue(svc, operator, {
            type: 'crowded-place',
            subtype: 'restaurant',
            name: `老乡鸡 ${i} 号店`,
            district: '340104',
          }),
        );
      a = await newResident(svc);
      b = await newResident(svc);
    });
    after(async () => {
      await svc?.close();
    });

    it('takes the configured number per window from that resident, venue and daily check-ins together, and refuses the rest without writing', async () => {
      const head0 = await svc.head();
      expect((await checkin(svc, a, venues[0])).status).to.equal(201);
      const head1 = await svc.head();
      const eventsPerCheckin = head1.seq - head0.seq;
      expect(eventsPerCheckin).to.be.above(0);

      const replies = await Promise.all(venues.slice(1, 11).map((v) => checkin(svc, a, v)));
      const statuses = replies.map((r) => r.status);
      expect(
        statuses.filter((s) => s === 201),
        JSON.stringify(statuses),
      ).to.have.length(3);
      expect(
        statuses.filter((s) => s === 429),
        JSON.stringify(statuses),
      ).to.have.length(7);
      for (const r of replies.filter((x) => x.status === 429)) expectTooMany(r, WINDOW_S, /check-ins by this resident/);
      expect((await svc.head()).seq - head1.seq, 'ledger events').to.equal(3 * eventsPerCheckin);

      // The daily check-in shares the budget, and another address does not help.
      const head2 = await svc.head();
      expectTooMany(
        await callFrom(svc, '127.0.0.31', 'POST', '/v1/checkins/daily', {
          token: a.token,
          json: { temperatureC: 36.5 },
        }),
        WINDOW_S,
        /check-ins by this resident/,
      );
      expect(await svc.head()).to.deep.equal(head2);
    });

    it('lets another resident at the same address check in meanwhile, and the first again after the window', async () => {
      expect((await checkin(svc, b, venues[11])).status).to.equal(201);
      expect((await checkin(svc, a, venues[11])).status).to.equal(429);
      await sleep(WINDOW_S * 1000 + 100);
      expect((await checkin(svc, a, venues[11])).status).to.equal(201);
    });
  });

  describe('per-address check-in limits', () => {
    const WINDOW_S = 5;
    const start = (trustProxy: boolean) =>
      startTestService({
        config: {
          RATE_CHECKIN_PER_ADDRESS: 3,
          RATE_CHECKIN_PER_ADDRESS_SECONDS: WINDOW_S,
          TRUST_PROXY: String(trustProxy),
        },
      });
    const daily = (svc: TestService, from: string, r: Resident, forwardedFor?: string) =>
      callFrom(svc, from, 'POST', '/v1/checkins/daily', {
        token: r.token,
        json: { temperatureC: 36.5 },
        headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {},
      });

    it('counts residents together at one address, not at another; X-Forwarded-For changes nothing without TRUST_PROXY', async () => {
      const svc = await start(false);
      try {
        const people = [await newResident(svc), await newResident(svc), await newResident(svc), await newResident(svc)];
        for (const [i, p] of people.slice(0, 3).entries())
          expect((await daily(svc, '127.0.0.41', p, `198.51.100.${i}`)).status).to.equal(201);
        expectTooMany(
          await daily(svc, '127.0.0.41', people[3], '198.51.100.9'),
          WINDOW_S,
          /check-ins from this address/,
        );
        expect((await daily(svc, '127.0.0.42', people[3])).status).to.equal(201);
      } finally {
        await svc.close();
      }
    });

    it('with TRUST_PROXY, counts the address the proxy forwarded (the last entry), not what the client wrote before it', async () => {
      const svc = await start(true);
      try {
        const people = [await newResident(svc), await newResident(svc), await newResident(svc), await newResident(svc)];
        for (const [i, p] of people.slice(0, 3).entries())
          expect((await daily(svc, '127.0.0.43', p, `198.51.100.${i}, 203.0.113.5`)).status).to.equal(201);
        expectTooMany(
          await daily(svc, '127.0.0.43', people[3], '198.51.100.9, 203.0.113.5'),
          WINDOW_S,
          /check-ins from this address/,
        );
        // Same proxy socket address, another forwarded client.
        expect((await daily(svc, '127.0.0.43', people[3], '203.0.113.6')).status).to.equal(201);
      } finally {
        await svc.close();
      }
    });
  });

  describe('slow and greedy clients', () => {
    it('closes 2,000 stalled connections from one address within the headers timeout, while a client elsewhere is answered in time', async function () {
      this.timeout(90_000);
      const HEADERS_MS = 2000;
      const CHECK_MS = 500;
      const SLACK_MS = 1000;
      const STALLED = 2000;
      const svc = await startTestService({
        config: {
          HEADERS_TIMEOUT_MS: HEADERS_MS,
          REQUEST_TIMEOUT_MS: 5000,
          CONNECTIONS_CHECKING_INTERVAL_MS: CHECK_MS,
          MAX_CONNECTIONS_PER_ADDRESS: 5000,
        },
      });
      let child: ChildProcess | undefined;
      try {
        child = spawn(
          process.execPath,
          [
            '--import',
            'tsx',
            join(ROOT, 'test/support/stalled-clients.ts'),
            new URL(svc.url).port,
            String(STALLED),
            '127.0.0.2',
            String(HEADERS_MS + CHECK_MS + SLACK_MS + 2000),
          ],
          {
            cwd: ROOT,
            stdio: ['ignore', 'pipe', 'inherit'],
          },
        );
        const attacker = child;
        const lines = createInterface({ input: attacker.stdout! });
        const next = () =>
          new Promise<any>((resolve, reject) => {
            lines.once('line', (l) => resolve(JSON.parse(l)));
            attacker.once('exit', (code) => reject(new Error(`stalled-clients exited with ${code}`)));
          });
        expect((await next()).msg).to.equal('started');

        const latencies: number[] = [];
        const statuses = new Set<number>();
        let probing = true;
        const probe = (async () => {
          while (probing) {
            const t = performance.now();
            const r = await callFrom(svc, '127.0.0.1', 'GET', '/v1/ledger/head');
            latencies.push(performance.now() - t);
            statuses.add(r.status);
            await sleep(5);
          }
        })();

        const connected = await next();
        expect(connected).to.deep.include({ msg: 'connected', connected: STALLED });
        let openNow = 0;
        for (let i = 0; i < 40 && openNow < STALLED; i++) {
          if (i) await sleep(25);
          openNow = await metric(svc, 'ankang_connections_open');
        }
        expect(openNow, 'connections the server holds').to.be.at.least(STALLED);
        const done = await next();
        probing = false;
        await probe;

        const lifetimes = done.lifetimes as Array<number | null>;
        const closedIn = lifetimes.filter((x): x is number => x !== null);
        const slowest = Math.max(...closedIn);
        const p99 = percentile(latencies, 99);
        console.log(
          `      ${STALLED} stalled sockets closed ${Math.min(...closedIn)}–${slowest} ms after connecting (headers timeout ${HEADERS_MS} ms, checked every ${CHECK_MS} ms); answers ${JSON.stringify(done.answers)}; ` +
            `client on 127.0.0.1: ${latencies.length} requests, p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms`,
        );
        expect(done.closed, 'sockets closed').to.equal(STALLED);
        expect(closedIn).to.have.length(STALLED);
        // Closed by the headers timeout: not before it, and within one check of it (plus slack for a busy machine).
        expect(Math.min(...closedIn)).to.be.at.least(HEADERS_MS - 50);
        expect(slowest).to.be.at.most(HEADERS_MS + CHECK_MS + SLACK_MS);
        expect(done.answers).to.deep.equal({ 'HTTP/1.1 408 Request Timeout': STALLED });
        expect([...statuses]).to.deep.equal([200]);
        expect(latencies.length).to.be.at.least(50);
        expect(p99, 'p99 latency of the other client (ms)').to.be.below(100);
      } finally {
        if (child?.exitCode === null) child.kill();
        await svc.close();
      }
    });

    it('destroys sockets beyond MAX_CONNECTIONS_PER_ADDRESS at once, and no others', async () => {
      const svc = await startTestService({ config: { MAX_CONNECTIONS_PER_ADDRESS: 20 } });
      const sockets: Array<Socket & { closedAt?: number }> = [];
      try {
        for (let i = 0; i < 25; i++) sockets.push(await openSocket(svc, '127.0.0.3'));
        await sleep(300);
        expect(sockets.filter((s) => s.closedAt !== undefined)).to.have.length(5);
        expect(sockets.slice(0, 20).every((s) => s.closedAt === undefined)).to.equal(true);
        expect((await callFrom(svc, '127.0.0.1', 'GET', '/v1/ledger/head')).status).to.equal(200);
        expect(await metric(svc, 'ankang_connections_refused_total{reason="per-address"}')).to.equal(5);
        // Closed sockets give their places back.
        for (const s of sockets.slice(0, 10)) s.destroy();
        await sleep(200);
        const more: Array<Socket & { closedAt?: number }> = [];
        for (let i = 0; i < 10; i++) more.push(await openSocket(svc, '127.0.0.3'));
        sockets.push(...more);
        await sleep(300);
        expect(more.every((s) => s.closedAt === undefined)).to.equal(true);
      } finally {
        for (const s of sockets) s.destroy();
        await svc.close();
      }
    });

    it('drops sockets beyond MAX_CONNECTIONS', async () => {
      const svc = await startTestService({ config: { MAX_CONNECTIONS: 10 } });
      const sockets: Array<Socket & { closedAt?: number }> = [];
      try {
        for (let i = 0; i < 14; i++) sockets.push(await openSocket(svc, '127.0.0.4'));
        await sleep(300);
        expect(sockets.filter((s) => s.closedAt !== undefined)).to.have.length(4);
        for (const s of sockets) s.destroy();
        await sleep(200);
        expect(await metric(svc, 'ankang_connections_refused_total{reason="total"}')).to.equal(4);
      } finally {
        for (const s of sockets) s.destroy();
        await svc.close();
      }
    });
  });

  describe('names and free text', () => {
    let svc: TestService;
    let health: string;
    let operator: string;
    let resident: Resident;
    let border: Venue;
    let officer: string;
    let appealId: string;
    before(async () => {
      svc = await startTestService({ config: { RATE_APPEAL_PER_RESIDENT: 1000 } });
      health = await svc.token('health');
      operator = await svc.token('operator');
      resident = await newResident(svc);
      border = await registerVenue(svc, health, {
        type: 'border',
        subtype: 'port-of-entry',
        name: '新桥机场口岸',
        district: '340123',
      });
      officer = await svc.token('border', { scope: { venues: [border.id] } });
      const appeal = await svc.call('POST', '/v1/appeals', {
        token: resident.token,
        json: { reason: '我没有去过风险地区' },
      });
      expect(appeal.status, JSON.stringify(appeal.body)).to.equal(201);
      appealId = appeal.body.id;
    });
    after(async () => {
      await svc?.close();
    });

    const rules = (text: string) => ({
      ...structuredClone(defaultRules),
      description: { ...defaultRules.description, zh: text },
    });
    const ruleReason = (text: string) => {
      const r = structuredClone(defaultRules);
      r.rules[0].reason.en = text;
      return r;
    };
    const policies = (text: string) => ({
      ...structuredClone(defaultPolicies),
      description: { ...defaultPolicies.description, en: text },
    });
    const policyReason = (text: string) => {
      const p = structuredClone(defaultPolicies);
      p.defaults.school[0].reason.zh = text;
      return p;
    };
    const traveller = (name: string) => ({
      venueId: border.id,
      idType: 'passport',
      idNumber: `E${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`,
      name,
      phone: '+447700900123',
      from: 'GB',
      destination: '340104',
      temperatureC: 36.6,
    });

    /** Every name and free-text field the API keeps: how to send a value in it, and the error it gives. */
    const FIELDS: Array<{ endpoint: string; path: string; code: string; send: (text: string) => Promise<Reply> }> = [
      // The name comes from the sign-in; a body that repeats it is still checked before it is compared.
      {
        endpoint: 'POST /v1/residents',
        path: 'name',
        code: 'VALIDATION_FAILED',
        send: (t) => apply(svc, { ...resident.body, name: t }, { session: resident.session }),
      },
      {
        endpoint: 'POST /v1/border/entries',
        path: 'name',
        code: 'VALIDATION_FAILED',
        send: (t) => svc.call('POST', '/v1/border/entries', { token: officer, json: traveller(t) }),
      },
      {
        endpoint: 'POST /v1/venues',
        path: 'name',
        code: 'VALIDATION_FAILED',
        send: (t) =>
          svc.call('POST', '/v1/venues', {
            token: operator,
            json: { type: 'crowded-place', name: t, district: '340104' },
          }),
      },
      {
        endpoint: 'POST /v1/venues',
        path: 'vehicle.plate',
        code: 'VALIDATION_FAILED',
        send: (t) =>
          svc.call('POST', '/v1/venues', {
            token: operator,
            json: {
              type: 'transport',
              subtype: 'bus',
              name: '合肥公交 1 路',
              district: '340102',
              vehicle: { plate: t },
            },
          }),
      },
      {
        endpoint: 'POST /v1/venues',
        path: 'vehicle.route',
        code: 'VALIDATION_FAILED',
        send: (t) =>
          svc.call('POST', '/v1/venues', {
            token: operator,
            json: {
              type: 'transport',
              subtype: 'bus',
              name: '合肥公交 1 路',
              district: '340102',
              vehicle: { route: t },
            },
          }),
      },
      {
        endpoint: 'POST /v1/admin/tokens',
        path: 'name',
        code: 'VALIDATION_FAILED',
        send: (t) => svc.call('POST', '/v1/admin/tokens', { token: svc.adminToken, json: { role: 'health', name: t } }),
      },
      {
        endpoint: 'POST /v1/appeals',
        path: 'reason',
        code: 'VALIDATION_FAILED',
        send: (t) => svc.call('POST', '/v1/appeals', { token: resident.token, json: { reason: t } }),
      },
      {
        endpoint: 'POST /v1/appeals/:id/decision',
        path: 'reason',
        code: 'VALIDATION_FAILED',
        send: (t) =>
          svc.call('POST', `/v1/appeals/${appealId}/decision`, {
            token: health,
            json: { decision: 'reject', reason: t },
          }),
      },
      {
        endpoint: 'POST /v1/grid/visits',
        path: 'note',
        code: 'VALIDATION_FAILED',
        send: (t) =>
          svc.call('POST', '/v1/grid/visits', {
            token: health,
            json: { pseudonym: resident.pseudonym, outcome: 'verified', note: t },
          }),
      },
      {
        endpoint: 'PUT /v1/rules',
        path: 'description.zh',
        code: 'INVALID_RULE_SET',
        send: (t) => svc.call('PUT', '/v1/rules', { token: health, json: rules(t) }),
      },
      {
        endpoint: 'PUT /v1/rules',
        path: 'rules.0.reason.en',
        code: 'INVALID_RULE_SET',
        send: (t) => svc.call('PUT', '/v1/rules', { token: health, json: ruleReason(t) }),
      },
      {
        endpoint: 'PUT /v1/policies',
        path: 'description.en',
        code: 'INVALID_RULE_SET',
        send: (t) => svc.call('PUT', '/v1/policies', { token: health, json: policies(t) }),
      },
      {
        endpoint: 'PUT /v1/policies',
        path: 'defaults.school.0.reason.zh',
        code: 'INVALID_RULE_SET',
        send: (t) => svc.call('PUT', '/v1/policies', { token: health, json: policyReason(t) }),
      },
    ];
    const BAD = [
      { what: 'a right-to-left override', text: 'Ali\u202Ecod.exe', codePoint: 'U+202E' },
      { what: 'a first-strong isolate', text: 'Ali\u2068b', codePoint: 'U+2068' },
      { what: 'a zero-width space', text: '张\u200B三', codePoint: 'U+200B' },
      { what: 'a byte-order mark at the end', text: '张三\uFEFF', codePoint: 'U+FEFF' },
      { what: 'NUL', text: '张三\u0000', codePoint: 'U+0000' },
      { what: 'a lone surrogate', text: '张\uD800三', codePoint: 'U+D800' },
    ];

    for (const f of FIELDS) {
      it(`${f.endpoint} refuses ${f.path} with a bidi control, a zero-width character, NUL or a lone surrogate, naming the field`, async () => {
        for (const bad of BAD) {
          const head = await svc.head();
          const r = await f.send(bad.text);
          expect(r.status, `${bad.what}: ${JSON.stringify(r.body)}`).to.equal(400);
          expect(r.body.error.code, bad.what).to.equal(f.code);
          expect(r.body.error.fields, bad.what).to.have.length(1);
          expect(r.body.error.fields[0].path, bad.what).to.equal(f.path);
          expect(r.body.error.fields[0].message, bad.what).to.contain(bad.codePoint);
          expect(await svc.head(), bad.what).to.deep.equal(head);
        }
      });
    }

    it('stores a decomposed resident name NFC (the masked name keeps the composed first letter)', async () => {
      const r = await apply(svc, applicant({ name: 'E\u0301mile Zola' }));
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      expect(r.body.resident.maskedName).to.equal(maskName('\u00C9mile Zola'));
      const me = await svc.call('GET', '/v1/residents/me', { token: r.token });
      expect(me.body.resident.maskedName.startsWith('\u00C9')).to.equal(true);
    });

    it('stores venue names, appeal and decision reasons and visit notes NFC, trimmed, with line breaks as LF', async () => {
      const venue = await svc.call('POST', '/v1/venues', {
        token: operator,
        json: { type: 'crowded-place', name: '  Cafe\u0301 Zola ', district: '340104' },
      });
      expect(venue.status, JSON.stringify(venue.body)).to.equal(201);
      expect(venue.body.name).to.equal('Caf\u00E9 Zola');

      const appellant = await newResident(svc);
      const appeal = await svc.call('POST', '/v1/appeals', {
        token: appellant.token,
        json: { reason: 'Re\u0301sume\u0301:\r\nI was home' },
      });
      expect(appeal.status, JSON.stringify(appeal.body)).to.equal(201);
      const mine = await svc.call('GET', '/v1/residents/me/appeals', { token: appellant.token });
      expect(mine.body.appeals.map((a: { reason: string }) => a.reason)).to.include('R\u00E9sum\u00E9:\nI was home');

      const decision = await svc.call('POST', `/v1/appeals/${appeal.body.id}/decision`, {
        token: health,
        json: { decision: 'reject', reason: 'Verifie\u0301' },
      });
      expect(decision.status, JSON.stringify(decision.body)).to.equal(200);
      expect(decision.body.decision.reason).to.equal('Verifi\u00E9');

      const visit = await svc.call('POST', '/v1/grid/visits', {
        token: health,
        json: { pseudonym: resident.pseudonym, outcome: 'verified', note: ' a\u0300 la maison ' },
      });
      expect(visit.status, JSON.stringify(visit.body)).to.equal(201);
      expect(visit.body.visit.note).to.equal('\u00E0 la maison');
    });
  });

  describe('headers', () => {
    let svc: TestService;
    before(async () => {
      svc = await startTestService();
    });
    after(async () => {
      await svc?.close();
    });
    const expectPrivate = (r: Reply, what: string) => {
      expect(r.headers.get('x-content-type-options'), what).to.equal('nosniff');
      expect(r.headers.get('cache-control'), what).to.equal('no-store');
    };

    it('marks a resident answer, a token answer and errors nosniff and no-store', async () => {
      const applied = await apply(svc, applicant());
      expect(applied.status).to.equal(201);
      expectPrivate(applied, 'POST /v1/residents');
      expectPrivate(await svc.call('GET', '/v1/residents/me', { token: applied.token }), 'GET /v1/residents/me');
      expectPrivate(
        await svc.call('GET', '/v1/residents/me/code', { token: applied.token }),
        'GET /v1/residents/me/code',
      );
      const token = await svc.call('POST', '/v1/admin/tokens', {
        token: svc.adminToken,
        json: { role: 'health', name: 'headers' },
      });
      expect(token.status).to.equal(201);
      expectPrivate(token, 'POST /v1/admin/tokens');
      expectPrivate(await svc.call('GET', '/v1/nothing-here'), '404');
      expectPrivate(await apply(svc, {}, { session: applied.session }), '400');
      expectPrivate(await svc.call('GET', '/v1/residents/me'), '401');
      expectPrivate(
        await svc.call('GET', '/v1/residents/me', { headers: { authorization: 'Bearer not-a-known-token-at-all' } }),
        '401 unknown token',
      );
    });

    it('keeps the public trust and status lists cacheable (revalidated), with nosniff', async () => {
      for (const path of ['/v1/trust-list', '/v1/status-list']) {
        const r = await svc.call('GET', path);
        expect(r.status, path).to.equal(200);
        expect(r.headers.get('cache-control'), path).to.equal('no-cache');
        expect(r.headers.get('x-content-type-options'), path).to.equal('nosniff');
      }
    });
  });
});
