import { expect } from 'chai';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { startDevNode, type DevNode } from '../../anchor/dev-node';
import { until } from '../../scripts/lib/wait';
import { inNetworks, parseNetworks } from '../../server/http/address';
import { Metrics } from '../../server/http/metrics';
import { newResident } from '../support/scenario';
import { startTestService, TestClock, type TestService } from '../support/service';

type MetricFamily = parsePrometheusTextFormat.MetricFamily;
/** Metric families by name, and the text they were parsed from. */
type Families = Map<string, MetricFamily> & { text: string };

/** GET /metrics, parsed by a Prometheus text-format parser. */
async function scrape(svc: TestService): Promise<Families> {
  const r = await svc.call('GET', '/metrics');
  expect(r.status).to.equal(200);
  expect(r.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
  const text = r.bytes.toString('utf8');
  return Object.assign(new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f])), { text });
}

/** The value of the one sample of `name` whose labels include `labels`; undefined when there is none. */
function sample(families: Families, name: string, labels: Record<string, string> = {}): number | undefined {
  const found =
    families.get(name)?.metrics.filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v)) ?? [];
  expect(found.length, `${name} ${JSON.stringify(labels)} matches one sample`).to.be.at.most(1);
  return found[0]?.value === undefined ? undefined : Number(found[0].value);
}

const typeOf = (families: Families, name: string) => families.get(name)?.type;

interface AnchorStatus {
  state: string;
  checkpoint: { treeSize: number; contract: string; anchoredAt: string } | null;
}

describe('/metrics', function () {
  this.timeout(180_000);

  describe('of a service anchoring to a Hardhat node, with a second province on the chain', () => {
    const ANHUI = '340000';
    const JIANGSU = '320000';
    let node: DevNode;
    let anhui: TestService;
    let jiangsu: TestService;
    const anhuiClock = new TestClock();
    const jiangsuClock = new TestClock();
    let checkpoint: NonNullable<AnchorStatus['checkpoint']>;
    /** Anhui's clock when its trust list was last read from the chain. */
    let trustReadAt: number;
    /** When Jiangsu's status list (which Anhui holds) was issued, in seconds. */
    let jiangsuListIssuedS: number;

    const anchorStatus = async (svc: TestService) => (await svc.call('GET', '/v1/anchor/status')).body as AnchorStatus;

    before(async () => {
      node = await startDevNode();
      // Both clocks stand still: checkpoints are due only when the test moves Anhui's clock by
      // the interval, and every age below is a difference of clock readings the test knows.
      anhui = await startTestService({
        clock: anhuiClock,
        config: {
          ISSUER_ID: ANHUI,
          CHAIN_RPC_URL: node.url,
          CHAIN_DEV: 'true',
          CHECKPOINT_INTERVAL_SECONDS: 60,
          FEDERATION_REFRESH_SECONDS: 3600,
          RATE_REFRESH_PER_ADDRESS: 1,
        },
      });
      await newResident(anhui);
      // The first checkpoint is due at once; the next one an interval later.
      await until('a first checkpoint', async () => (await anchorStatus(anhui)).checkpoint);
      await newResident(anhui);
      anhuiClock.advance(60_000);
      checkpoint = await until('a checkpoint of every event so far, anchored now', async () => {
        const [s, head] = await Promise.all([anchorStatus(anhui), anhui.head()]);
        const cp = s.checkpoint;
        // The head is the checkpoint's own record, which goes on chain with the next one.
        return cp && cp.anchoredAt === anhuiClock.now().toISOString() && cp.treeSize + 1 === head.seq ? cp : undefined;
      });

      jiangsu = await startTestService({
        clock: jiangsuClock,
        config: {
          ISSUER_ID: JIANGSU,
          CHAIN_RPC_URL: node.url,
          CHAIN_DEV: 'true',
          ANCHOR_CONTRACT: checkpoint.contract,
          CHAIN_DEV_ANCHORER_ACCOUNT: 2,
          CHECKPOINT_INTERVAL_SECONDS: 60,
        },
      });
      const federation = anhui.running.app.federation!;
      await until("Anhui to hold Jiangsu's status list", async () => {
        await federation.refresh();
        return federation.lastRefresh?.statusLists.includes(JIANGSU);
      });
      trustReadAt = anhuiClock.ms;
      const list = await jiangsu.call('GET', '/v1/status-list');
      jiangsuListIssuedS = Date.parse(list.headers.get('x-status-list-issued-at')!) / 1000;
    });

    after(async () => {
      await jiangsu?.close();
      await anhui?.close();
      await node?.stop();
    });

    it("reports no anchoring lag right after a checkpoint of everything, and the checkpoint's age", async () => {
      const m = await scrape(anhui);
      expect(typeOf(m, 'ankang_anchor_lag_events')).to.equal('GAUGE');
      expect(sample(m, 'ankang_anchor_lag_events')).to.equal(0);
      expect(sample(m, 'ankang_anchor_lag_seconds')).to.equal(0);
      expect(sample(m, 'ankang_anchor_last_checkpoint_age_seconds')).to.equal(
        (anhuiClock.ms - Date.parse(checkpoint.anchoredAt)) / 1000,
      );
      expect(sample(m, 'ankang_anchor_state', { state: 'up' })).to.equal(1);
      expect(sample(m, 'ankang_anchor_state', { state: 'diverged' })).to.equal(0);
    });

    describe('after more traffic, some of it refused by a rate limit', () => {
      let m: Families;
      let headBefore: number;
      let headAfter: number;
      let refused = 0;

      before(async () => {
        anhuiClock.advance(20_000);
        headBefore = (await anhui.head()).seq;
        await newResident(anhui);
        headAfter = (await anhui.head()).seq;
        anhuiClock.advance(15_000);
        // RATE_REFRESH_PER_ADDRESS is 1: the first refresh is read (and refused as unknown), the others are not.
        for (let i = 0; i < 3; i++) {
          const r = await anhui.call('POST', '/v1/auth/refresh', {
            json: { refreshToken: 'not-a-refresh-token-of-this-service' },
          });
          if (r.status === 429) refused++;
        }
        await anhui.call('GET', '/v1/no-such-thing/340104199001011234');
        m = await scrape(anhui);
      });

      it('counts the events written since the checkpoint, and the age of the oldest of them', () => {
        expect(headAfter).to.be.greaterThan(headBefore);
        expect(sample(m, 'ankang_anchor_lag_events')).to.equal(headAfter - headBefore);
        expect(sample(m, 'ankang_anchor_lag_seconds')).to.equal(15);
        expect(sample(m, 'ankang_anchor_last_checkpoint_age_seconds')).to.equal(
          (anhuiClock.ms - Date.parse(checkpoint.anchoredAt)) / 1000,
        );
      });

      it('gives the ledger height and the residents', async () => {
        expect(sample(m, 'ankang_ledger_height')).to.equal((await anhui.head()).seq);
        expect(sample(m, 'ankang_residents')).to.equal(3);
        expect(typeOf(m, 'ankang_ledger_write_failures_total')).to.equal('COUNTER');
        expect(sample(m, 'ankang_ledger_write_failures_total')).to.equal(0);
      });

      it("gives the age of the other province's status list, by issuer code, and of the trust list", () => {
        expect(sample(m, 'ankang_federation_status_list_age_seconds', { issuer: JIANGSU })).to.equal(
          anhuiClock.seconds - jiangsuListIssuedS,
        );
        expect(anhuiClock.seconds - jiangsuListIssuedS).to.be.at.least(35);
        expect(m.get('ankang_federation_status_list_age_seconds')!.metrics.map((s) => s.labels?.issuer)).to.deep.equal([
          JIANGSU,
        ]);
        expect(sample(m, 'ankang_federation_trust_list_age_seconds')).to.equal((anhuiClock.ms - trustReadAt) / 1000);
        expect(anhuiClock.ms - trustReadAt).to.equal(35_000);
      });

      it('counts the refusals of each rate limit, and the limits that refused nothing at 0', () => {
        expect(refused).to.equal(2);
        expect(sample(m, 'ankang_rate_limited_total', { limit: 'refresh-address' })).to.equal(refused);
        expect(sample(m, 'ankang_rate_limited_total', { limit: 'apply-address' })).to.equal(0);
      });

      it('counts requests by method, route pattern and status, never by raw path', () => {
        expect(typeOf(m, 'ankang_http_requests_total')).to.equal('COUNTER');
        expect(
          sample(m, 'ankang_http_requests_total', { method: 'POST', route: '/v1/residents', status: '201' }),
        ).to.equal(3);
        expect(
          sample(m, 'ankang_http_requests_total', { method: 'POST', route: '/v1/auth/refresh', status: '429' }),
        ).to.equal(2);
        expect(sample(m, 'ankang_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' })).to.equal(
          1,
        );
        const routes = m.get('ankang_http_requests_total')!.metrics.map((s) => s.labels!.route);
        for (const route of routes) expect(route).to.not.match(/\d{6}|\?/);
        expect(typeOf(m, 'ankang_http_request_duration_seconds')).to.equal('HISTOGRAM');
        // The parser folds a labelled histogram's series into one; its lines are read as written.
        expect(m.text).to.include('ankang_http_request_duration_seconds_count{route="/v1/residents"} 3\n');
        expect(m.text).to.include('ankang_http_request_duration_seconds_bucket{le="+Inf",route="/v1/residents"} 3\n');
      });

      it("includes the process's default metrics", () => {
        expect(typeOf(m, 'process_cpu_seconds_total')).to.equal('COUNTER');
        expect(sample(m, 'process_cpu_seconds_total')).to.be.greaterThan(0);
        expect(sample(m, 'process_resident_memory_bytes')).to.be.greaterThan(0);
        const used = sample(m, 'nodejs_heap_size_used_bytes')!;
        expect(used).to.be.greaterThan(0).and.at.most(sample(m, 'nodejs_heap_size_total_bytes')!);
        expect(sample(m, 'process_start_time_seconds')).to.be.within(
          Date.now() / 1000 - process.uptime() - 5,
          Date.now() / 1000,
        );
        expect(m.has('nodejs_eventloop_lag_seconds')).to.equal(true);
      });
    });
  });

  describe('of two services in one process, without a chain', () => {
    let a: TestService;
    let b: TestService;
    before(async () => {
      [a, b] = await Promise.all([startTestService(), startTestService()]);
      await newResident(a);
    });
    after(async () => {
      await Promise.all([a?.close(), b?.close()]);
    });

    it("keeps each service's series to itself and gives both the process metrics", async () => {
      const [ma, mb] = await Promise.all([scrape(a), scrape(b)]);
      expect(sample(ma, 'ankang_http_requests_total', { route: '/v1/residents', status: '201' })).to.equal(1);
      expect(sample(mb, 'ankang_http_requests_total', { route: '/v1/residents', status: '201' })).to.equal(undefined);
      expect(sample(ma, 'ankang_residents')).to.equal(1);
      expect(sample(mb, 'ankang_residents')).to.equal(0);
      for (const m of [ma, mb]) expect(sample(m, 'process_cpu_seconds_total')).to.be.greaterThan(0);
    });

    it('has no anchoring or federation series when no chain is configured', async () => {
      const m = await scrape(a);
      for (const name of [
        'ankang_anchor_lag_events',
        'ankang_anchor_lag_seconds',
        'ankang_anchor_last_checkpoint_age_seconds',
        'ankang_federation_trust_list_age_seconds',
      ]) {
        expect(m.has(name), name).to.equal(false);
      }
      expect(sample(m, 'ankang_ledger_write_failures_total')).to.equal(0);
    });
  });

  describe('who may read it (METRICS_ALLOW)', () => {
    let open: TestService;
    let narrow: TestService;
    let proxied: TestService;
    before(async () => {
      [open, narrow, proxied] = await Promise.all([
        startTestService(),
        startTestService({ config: { METRICS_ALLOW: '10.0.0.0/8, 2001:db8::/32' } }),
        startTestService({ config: { METRICS_ALLOW: '10.0.0.0/8', TRUST_PROXY: 'true' } }),
      ]);
    });
    after(async () => {
      await Promise.all([open?.close(), narrow?.close(), proxied?.close()]);
    });
    const outcome = (r: { status: number; body: any }) => [r.status, r.body?.error?.code];

    it('serves this host by default, and refuses it 403 FORBIDDEN when the list names other networks', async () => {
      expect((await open.call('GET', '/metrics')).status).to.equal(200);
      const r = await narrow.call('GET', '/metrics');
      expect(outcome(r)).to.deep.equal([403, 'FORBIDDEN']);
      expect(r.body.error.message).to.include('METRICS_ALLOW');
      // A forwarding header is nobody's word without TRUST_PROXY.
      const spoofed = await narrow.call('GET', '/metrics', { headers: { 'x-forwarded-for': '10.1.2.3' } });
      expect(outcome(spoofed)).to.deep.equal([403, 'FORBIDDEN']);
    });

    it("behind a trusted proxy, goes by the client's address the proxy gives", async () => {
      const at = (ip: string) => proxied.call('GET', '/metrics', { headers: { 'x-forwarded-for': ip } });
      expect((await at('10.200.0.7')).status).to.equal(200);
      expect(outcome(await at('11.0.0.1'))).to.deep.equal([403, 'FORBIDDEN']);
      expect(outcome(await at('127.0.0.1'))).to.deep.equal([403, 'FORBIDDEN']);
    });

    it('matches addresses and networks of both families, IPv4-mapped IPv6 as IPv4', () => {
      const nets = parseNetworks('10.0.0.0/8,192.168.1.5,2001:db8::/32,::1,172.16.0.0/12');
      const allowed = ['10.255.255.255', '::ffff:10.0.0.1', '192.168.1.5', '2001:db8:ffff::1', '::1', '172.31.9.9'];
      const refused = ['11.0.0.0', '192.168.1.6', '2001:db9::1', '::2', '172.32.0.1', 'localhost', '', undefined];
      for (const ip of allowed) expect(inNetworks(ip, nets), String(ip)).to.equal(true);
      for (const ip of refused) expect(inNetworks(ip, nets), String(ip)).to.equal(false);
      expect(inNetworks('1.2.3.4', parseNetworks('0.0.0.0/0'))).to.equal(true);
      expect(inNetworks('::1', parseNetworks('0.0.0.0/0'))).to.equal(false);
    });

    it('refuses a list with an entry that is not an address or a network, naming it', () => {
      for (const bad of ['10.0.0.0/33', 'example.org', '10.0.0.0/x', '::1/129', '10.0.0.0/8/9'])
        expect(() => parseNetworks(`127.0.0.1,${bad}`), bad).to.throw(`"${bad}" is not an address or a CIDR network`);
    });
  });

  describe('Metrics', () => {
    it('prints labels in name order whatever order the call site wrote them in', async () => {
      const metrics = new Metrics();
      metrics.inc('t_total', 'test', { z: '1', a: '2' });
      metrics.inc('t_total', 'test', { a: '2', z: '1' }, 2);
      metrics.gauge('t_gauge', 'test', () => [[{ issuer: '340000', code: 'FORKED_SUBJECT' }, 1]]);
      const text = await metrics.render();
      expect(text).to.include('t_total{a="2",z="1"} 3');
      expect(text).to.include('t_gauge{code="FORKED_SUBJECT",issuer="340000"} 1');
    });

    it('replaces a gauge registered again under its name, and declares a counter at 0', async () => {
      const metrics = new Metrics();
      metrics.gauge('t_gauge', 'test', () => [[{}, 1]]);
      metrics.gauge('t_gauge', 'test', () => [[{}, 2]]);
      metrics.inc('t_total', 'test', { limit: 'x' }, 0);
      const m = new Map(parsePrometheusTextFormat(await metrics.render()).map((f) => [f.name, f] as const));
      expect(m.get('t_gauge')!.metrics.map((s) => s.value)).to.deep.equal(['2']);
      expect(m.get('t_total')!.metrics).to.deep.equal([{ value: '0', labels: { limit: 'x' } }]);
    });
  });
});
