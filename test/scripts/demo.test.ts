import { expect } from 'chai';
import { join } from 'node:path';
import { VENUE_TYPES } from '../../verifier/src';
import { anhuiCities } from '../../server/domain/regions';
import { verifyChain } from '../../server/ledger/verify-chain';
import { dayClock } from '../../scripts/demo/day-clock';
import { seedDemo, type DemoResult } from '../../scripts/demo/seed';
import { ROOT, runChild, startTestService, TestClock, type TestService } from '../support/service';

describe('npm run demo (scripts/demo)', function () {
  this.timeout(120_000);
  let svc: TestService;
  let demo: DemoResult;
  const lines: string[] = [];

  before(async () => {
    svc = await startTestService();
    demo = await seedDemo({ url: svc.url, adminToken: svc.adminToken, residents: 60, seed: 7, log: (l) => lines.push(l) });
  });
  after(async () => {
    await svc?.close();
  });

  const range = () => `from=${encodeURIComponent(new Date(svc.clock.ms - 86_400_000).toISOString())}&to=${encodeURIComponent(new Date(svc.clock.ms + 60_000).toISOString())}`;

  describe('when seeded with 60 residents', () => {
    it('has residents of every colour, in all 16 cities of Anhui', async () => {
      const r = await svc.call('GET', '/v1/stats/colours?by=city', { token: demo.tokens.health });
      expect(r.status).to.equal(200);
      expect(r.body.total.total).to.be.at.least(60);
      for (const colour of ['green', 'yellow', 'red']) expect(r.body.total[colour], colour).to.be.above(0);
      expect(r.body.groups.map((g: { code: string }) => g.code)).to.include.members(anhuiCities().map((c) => c.code));
    });

    it('has scans at venues of every type, with every decision', async () => {
      const r = await svc.call('GET', `/v1/stats/scans?by=venue-type&${range()}`, { token: demo.tokens.health });
      expect(r.status).to.equal(200);
      const counts = Object.fromEntries(r.body.groups.map((g: { key: string; count: number }) => [g.key, g.count]));
      for (const t of VENUE_TYPES) expect(counts[t], t).to.be.above(0);
      for (const d of ['admit', 'refer', 'deny']) expect(r.body.decisions[d], d).to.be.above(0);
      expect(r.body.total).to.equal(demo.scans.self + demo.scans.staff);
    });

    it('shows a venue its scans by hour', async () => {
      const r = await svc.call('GET', `/v1/stats/venues/${demo.sample.venueId}/hourly`, { token: demo.tokens.health });
      expect(r.status).to.equal(200);
      expect(r.body.total).to.be.above(0);
    });

    it('traced the confirmed case and marked the contacts red', async () => {
      expect(demo.tracing.contacts).to.be.above(0);
      expect(demo.tracing.marked).to.equal(true);
      const r = await svc.call('GET', '/v1/grid/residents?colour=red&limit=1000', { token: demo.tokens.health });
      const reds = r.body.residents as Array<{ pseudonym: string; reasons: Array<{ id: string }> }>;
      expect(reds.find((x) => x.pseudonym === demo.tracing.case)?.reasons.map((x) => x.id)).to.include('confirmed-or-suspected-case');
      expect(reds.filter((x) => x.reasons.some((y) => y.id === 'close-contact')).length).to.be.at.least(demo.tracing.contacts);
    });

    it('has a decided and an open appeal in the queues', async () => {
      const decided = await svc.call('GET', '/v1/appeals?status=decided', { token: demo.tokens.health });
      const open = await svc.call('GET', '/v1/appeals?status=open', { token: demo.tokens.health });
      expect(decided.body.appeals[0]).to.deep.include({ status: 'decided' });
      expect(decided.body.appeals[0].decision).to.include({ decision: 'override', colour: 'green' });
      expect(open.body.appeals.length).to.be.above(0);
    });

    it("gives the grid worker the red and yellow residents of the token's districts, with visits", async () => {
      const r = await svc.call('GET', '/v1/grid/residents', { token: demo.tokens.grid });
      expect(r.status).to.equal(200);
      expect(r.body.total).to.be.above(0);
      expect(r.body.residents.filter((x: { lastVisit: unknown }) => x.lastVisit !== null).length).to.equal(demo.grid.visits);
    });

    it('published rules and policies version 2, and registered inbound travellers', async () => {
      expect((await svc.call('GET', '/v1/rules')).body.version).to.equal(2);
      expect((await svc.call('GET', '/v1/policies')).body.version).to.equal(2);
      expect(demo.border.entries).to.equal(2);
    });

    it('leaves a ledger whose hash chain verifies', async () => {
      // Let the re-evaluation sweeps the rule change and risk areas started finish first.
      await svc.running.services.reevaluator.sweepAll('test: settle');
      const report = await verifyChain(svc.running.app.ledger);
      expect(report.broken).to.equal(undefined);
      expect(report.ok).to.equal(true);
      expect(report.events).to.be.at.least(demo.ledger.seq);
    });

    it('prints the tokens and where to look', () => {
      const text = lines.join('\n');
      expect(text).to.include(`export HEALTH=${demo.tokens.health}`);
      expect(text).to.include('/v1/anchor/status');
      expect(text).to.include(`/v1/stats/venues/${demo.sample.venueId}/hourly`);
    });
  });

  describe('when run a second time against the same service (npm run demo with ANKANG_URL)', () => {
    it('succeeds without registering the venues again', async () => {
      const before = (await svc.call('GET', '/v1/venues', { token: demo.tokens.health })).body.venues.length;
      const out = await runChild(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'demo.ts'), '--exit', '--residents', '20', '--seed', '7'], {
        ANKANG_URL: svc.url,
        ADMIN_TOKEN: svc.adminToken,
        DATA_DIR: '',
      });
      expect(out.code, out.stderr).to.equal(0);
      expect(out.stdout).to.match(/venues: \d+ \(0 registered, \d+ found from an earlier run\)/);
      expect((await svc.call('GET', '/v1/venues', { token: demo.tokens.health })).body.venues.length).to.equal(before);
      expect((await svc.call('GET', '/v1/rules')).body.version).to.equal(2);
    });
  });
});

describe('npm run demo on a fresh folder: the story runs through the day', function () {
  this.timeout(120_000);
  let svc: TestService;
  let demo: DemoResult;

  before(async () => {
    // As scripts/demo.ts does, with "real time" standing at 20:30 in Shanghai.
    const real = Date.parse('2026-11-28T20:30:00+08:00');
    const day = dayClock(real, () => real)!;
    const clock = new TestClock(day.from.getTime());
    svc = await startTestService({ clock });
    const advanceTo = (hour: number) => {
      day.advanceTo(hour);
      clock.ms = Math.max(clock.ms, day.clock().getTime());
    };
    demo = await seedDemo({ url: svc.url, adminToken: svc.adminToken, residents: 40, seed: 3, advanceTo });
  });
  after(async () => {
    await svc?.close();
  });

  it('records scans across the hours of one day, every event in time order', async () => {
    const hours = new Set<number>();
    let last = '';
    let scans = 0;
    for await (const e of svc.running.app.ledger.events()) {
      expect(e.at >= last, `event ${e.seq} at ${e.at} before ${last}`).to.equal(true);
      last = e.at;
      if (e.type !== 'scan.recorded') continue;
      scans++;
      const shanghai = new Date(Date.parse(e.at) + 8 * 3_600_000).toISOString();
      expect(shanghai.slice(0, 10)).to.equal('2026-11-28');
      hours.add(Number(shanghai.slice(11, 13)));
    }
    expect(scans).to.equal(demo.scans.self + demo.scans.staff);
    expect([...hours].sort((a, b) => a - b)).to.include.members([7, 8, 9, 12, 15, 16, 17]);
    expect(demo.dayClock).to.equal(true);
  });

  it("shows the station's scans in more than one hour of the day", async () => {
    const r = await svc.call('GET', `/v1/stats/venues/${demo.sample.venueId}/hourly?date=2026-11-28`, { token: demo.tokens.health });
    expect(r.status).to.equal(200);
    expect(r.body.hours.filter((h: { count: number }) => h.count > 0).length).to.be.at.least(2);
  });

  it("still refuses the contact's earlier code as superseded (REVOKED, not EXPIRED), and every decision occurs", async () => {
    for (const d of ['admit', 'refer', 'deny'] as const) expect(demo.scans.decisions[d], d).to.be.above(0);
    expect(demo.tracing.marked).to.equal(true);
    const results: string[] = [];
    for await (const e of svc.running.app.ledger.events()) if (e.type === 'scan.recorded') results.push(String(e.data.codeResult));
    expect(results).to.include('REVOKED');
    expect(results).to.not.include('EXPIRED');
  });
});
