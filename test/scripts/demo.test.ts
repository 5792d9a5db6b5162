import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { VENUE_TYPES } from '../../verifier/src';
import { DESK_KINDS, DESK_VENUE_TYPES } from '../../server/domain/services';
import { maskPhone } from '../../server/domain/mask';
import { anhuiCities } from '../../server/domain/regions';
import { latestCode, readOutbox } from '../../server/identity/sms';
import { verifyChain } from '../../ledger/verify-chain';
import { signIn } from '../../scripts/lib/sign-in';
import { until } from '../../scripts/lib/wait';
import { dayClock } from '../../scripts/demo/day-clock';
import { MAX_RESIDENTS, personAt } from '../../scripts/demo/province';
import { seedDemo, type DemoResult } from '../../scripts/demo/seed';
import { startPaymentProvider, type PaymentProviderProcess } from '../../scripts/lib/payment-provider-process';
import {
  applicant,
  ROOT,
  runChild,
  startTestService,
  TestClock,
  WallClock,
  type TestService,
} from '../support/service';
import { tempDir } from '../support/tmp';

describe('npm run demo (scripts/demo)', function () {
  this.timeout(120_000);
  let svc: TestService;
  let demo: DemoResult;
  const lines: string[] = [];
  let provider: PaymentProviderProcess | undefined;
  const operatorKey = 'test-transit-operator-key';

  before(async () => {
    // The wall clock: the stand-in provider checks a fare request's five minutes against its own.
    svc = await startTestService({ clock: new WallClock() });
    // As scripts/demo.ts does: the stand-in payment provider as its own process, with the demo's payment feed token.
    const paymentProvider = async (feedToken: string) => {
      const started = await startPaymentProvider({
        PORT: '0',
        ANKANG_URL: svc.url,
        ANKANG_FEED_TOKEN: feedToken,
        PROVIDER_ID: 'standin-pay',
        OPERATOR_KEYS: operatorKey,
        DATA_FILE: join(svc.dir, 'test-payment-provider.json'),
      });
      provider = started;
      return { url: started.url, operatorKey, id: 'standin-pay' };
    };
    demo = await seedDemo({
      url: svc.url,
      adminToken: svc.adminToken,
      codes: svc.outbox,
      residents: 60,
      seed: 7,
      log: (l) => lines.push(l),
      paymentProvider,
    });
  });
  after(async () => {
    await provider?.stop();
    await svc?.close();
  });

  /** The demo's look-up events, in ledger order. */
  const lookupEvents = async () => {
    const out: Array<{ seq: number; subjects: string[]; data: Record<string, unknown> }> = [];
    for await (const e of svc.running.app.ledger.events())
      if (e.type === 'service.looked-up') out.push(e as unknown as (typeof out)[number]);
    return out;
  };

  const range = () =>
    `from=${encodeURIComponent(new Date(Date.now() - 86_400_000).toISOString())}&to=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`;

  describe('when seeded with 60 residents', () => {
    it('signed every resident in through the embedded provider, each with their own phone, and bound each record to the account that applied', async () => {
      expect(demo.residents).to.include({ total: 60, created: 60, skipped: 0 });
      const outbox = await readOutbox(svc.outbox);
      const phones = (purpose: string) => new Set(outbox.filter((e) => e.purpose === purpose).map((e) => e.to));
      // One account each: a sign-in code and a sign-up confirmation for 60 different numbers.
      expect(phones('login').size).to.equal(60);
      expect(phones('id-confirm').size).to.equal(60);
      // Each record is reachable through one account, and no two records through the same one.
      const accounts: string[] = [];
      for await (const b of svc.running.app.ledger.space('bindings').values())
        accounts.push((b as { account: string }).account);
      expect(accounts).to.have.length(60);
      expect(new Set(accounts).size).to.equal(60);
    });

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
      expect(reds.find((x) => x.pseudonym === demo.tracing.case)?.reasons.map((x) => x.id)).to.include(
        'confirmed-or-suspected-case',
      );
      expect(reds.filter((x) => x.reasons.some((y) => y.id === 'close-contact')).length).to.be.at.least(
        demo.tracing.contacts,
      );
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
      expect(r.body.residents.filter((x: { lastVisit: unknown }) => x.lastVisit !== null).length).to.equal(
        demo.grid.visits,
      );
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

    it('registered a desk of every kind, at a venue of a type its kind stands in, each with a desk token that reads its own desk', async () => {
      expect(new Set(demo.services.desks.map((d) => d.kind))).to.deep.equal(new Set(DESK_KINDS));
      for (const d of demo.services.desks) {
        const r = await svc.call('GET', '/v1/desks/me', { token: d.token });
        expect(r.status, `${d.key}: ${JSON.stringify(r.body)}`).to.equal(200);
        expect(r.body.desk).to.include({ id: d.id, kind: d.kind });
        expect(DESK_VENUE_TYPES[d.kind], d.key).to.include(r.body.desk.venue.type);
      }
    });

    it('linked cards for a share of the residents, payment accounts confirmed by the stand-in provider, and a few paused purposes', async () => {
      const { byKind, viaProvider } = demo.services.links;
      expect(byKind['health-card']).to.be.within(40, 60);
      expect(byKind['social-security-card']).to.be.within(20, 55);
      expect(byKind['insurance-voucher']).to.be.within(20, 55);
      expect(byKind.payment).to.be.above(0);
      expect(viaProvider).to.equal(byKind.payment);
      expect(Object.values(demo.services.paused).reduce((a, b) => a + b!, 0)).to.be.at.least(3);
      // The sample resident sees their links on /: a hint of each reference, never the reference.
      const r = await svc.call('GET', '/v1/residents/me/links', { token: demo.sample.resident.access });
      expect(r.status).to.equal(200);
      const links = r.body.links as Array<{
        kind: string;
        linked: boolean;
        provider: string | null;
        refHint: string | null;
      }>;
      expect(links.filter((l) => l.linked).map((l) => l.kind)).to.include.members([
        'health-card',
        'social-security-card',
        'insurance-voucher',
        'payment',
      ]);
      expect(links.find((l) => l.kind === 'payment')?.provider).to.equal('standin-pay');
      expect(JSON.stringify(r.body)).to.not.match(/EHC34[0-9A-F]{24}|SSC340\d{12}|pay_/);
    });

    it('recorded every look-up as one service.looked-up event without personal data: resolved ones and the refusals of a paper code, a replay and a paused consent', async () => {
      const events = await lookupEvents();
      const { byOutcome, total } = demo.services.lookups;
      expect(events).to.have.length(total);
      const counted: Record<string, number> = {};
      for (const e of events) counted[String(e.data.outcome)] = (counted[String(e.data.outcome)] ?? 0) + 1;
      expect(counted).to.deep.equal(byOutcome);
      expect(byOutcome.resolved).to.be.above(total / 2);
      for (const refusal of ['CODE_PRINTED', 'CODE_REPLAYED', 'CONSENT_PAUSED'])
        expect(byOutcome[refusal], refusal).to.be.at.least(1);
      const desks = new Set(demo.services.desks.map((d) => `d:${d.id}`));
      const allowed = ['desk', 'deskKind', 'venue', 'purpose', 'outcome', 'decision', 'codeResult', 'cti'];
      for (const e of events) {
        expect(
          e.subjects.some((s) => desks.has(s)),
          `event ${e.seq}`,
        ).to.equal(true);
        expect(allowed, `event ${e.seq}`).to.include.members(Object.keys(e.data));
        // No ID number, card reference or payment token in any field.
        expect(JSON.stringify(e.data)).to.not.match(/\d{17}[\dX]|EHC34|SSC340|pay_/);
      }
    });

    it('shows the sample resident who used their code, and the hospital desk its look-ups', async () => {
      const mine = await svc.call('GET', '/v1/residents/me/lookups', { token: demo.sample.resident.access });
      expect(mine.status).to.equal(200);
      expect(mine.body.lookups.map((l: { desk: { name: string } }) => l.desk.name)).to.include('门诊挂号窗口');
      const desk = demo.services.desks.find((d) => d.key === 'hf-registration')!;
      const theirs = await svc.call('GET', `/v1/desks/${desk.id}/lookups`, { token: desk.token });
      expect(theirs.status).to.equal(200);
      expect(theirs.body.lookups.length).to.be.above(0);
    });

    it('charged the fares of resolved fare look-ups at the stand-in provider', () => {
      const fares = demo.services.lookups.byPurpose.fare ?? 0;
      expect(fares).to.be.above(0);
      expect(demo.services.fares.charged).to.be.above(0);
      expect(demo.services.fares.fen).to.equal(demo.services.fares.charged * 200);
    });

    it('prints the tokens and where to look', () => {
      const text = lines.join('\n');
      expect(text).to.include(`export HEALTH=${demo.tokens.health}`);
      expect(text).to.include('/v1/anchor/status');
      expect(text).to.include(`/v1/stats/venues/${demo.sample.venueId}/hourly`);
      for (const d of demo.services.desks)
        expect(text).to.include(`export DESK_${d.key.toUpperCase().replace(/-/g, '_')}=${d.token}`);
      expect(text).to.match(/\n {2}desks {6}7 at 5 venues/);
      expect(text).to.match(
        /\n {2}links {6}health-card \d+, social-security-card \d+, insurance-voucher \d+, payment \d+ /,
      );
      expect(text).to.include(
        `  look-ups   ${demo.services.lookups.total} this run: resolved ${demo.services.lookups.byOutcome.resolved}`,
      );
      expect(text).to.include(`${svc.url}/desk`);
    });

    it("prints a resident's session token that reads their record, says how long it lives, and how to refresh it", async () => {
      const text = lines.join('\n');
      const { resident } = demo.sample;
      expect(text).to.include(`export RESIDENT=${resident.access}`);
      expect(text).to.include(`it lives ${resident.accessMinutes} min (SESSION_ACCESS_MINUTES)`);
      expect(text).to.include(`export RESIDENT_REFRESH=${resident.refresh}`);
      expect(text).to.include('/v1/auth/refresh');
      const me = await svc.call('GET', '/v1/residents/me', { token: resident.access });
      expect(me.status, JSON.stringify(me.body)).to.equal(200);
      expect(`${me.body.resident.maskedName}（${me.body.resident.maskedId.slice(-4)}）`).to.equal(resident.maskedName);
    });

    it('says how to sign in on / as that resident, whose account exists: no sign-up', async () => {
      const { resident } = demo.sample;
      const text = lines.join('\n');
      expect(text).to.include(`${demo.url}/ and sign in with phone ${resident.phone} (${resident.name})`);
      expect(text).to.include(svc.outbox);
      const since = Date.now();
      // An ID that does not check: the sign-in fails if the provider asks for a sign-up.
      const session = await signIn(
        svc.url,
        { phone: resident.phone, idType: 'resident-id', idNumber: '0', name: '-' },
        { codes: svc.outbox },
      );
      const who = await svc.call('GET', '/v1/auth/session', { token: session.access });
      expect(who.body.resident).to.include({ record: 'bound' });
      expect(
        (await readOutbox(svc.outbox)).filter((e) => Date.parse(e.at) >= since).map((e) => [e.to, e.purpose]),
      ).to.deep.equal([[maskPhone(resident.phone), 'login']]);
    });
  });

  describe('when a service allows fewer sign-ins from one address than the demo needs', () => {
    let tight: TestService;
    before(async () => {
      tight = await startTestService({ config: { IDP_SIGNUPS_PER_ADDRESS: 5 } });
    });
    after(async () => {
      await tight?.close();
    });

    it('stops and names the limit and the settings the demo needs', async () => {
      let failure: Error | undefined;
      try {
        await seedDemo({ url: tight.url, adminToken: tight.adminToken, codes: tight.outbox, residents: 20, seed: 7 });
      } catch (e) {
        failure = e as Error;
      }
      expect(failure?.message).to.match(/over its limit IDP_SIGNUPS_PER_ADDRESS/);
      expect(failure?.message)
        .to.include('IDP_SIGNUPS_PER_ADDRESS=20')
        .and.include('RATE_SIGNIN_PER_ADDRESS=40')
        .and.include('--residents N');
    });
  });

  describe('when run a second time against the same service (npm run demo with ANKANG_URL)', () => {
    let out: Awaited<ReturnType<typeof runChild>>;
    let since: number;
    let venuesBefore: number;
    before(async () => {
      venuesBefore = (await svc.call('GET', '/v1/venues', { token: demo.tokens.health })).body.venues.length;
      since = Date.now();
      out = await runChild(
        process.execPath,
        ['--import', 'tsx', join(ROOT, 'scripts', 'demo.ts'), '--exit', '--residents', '20', '--seed', '7'],
        {
          ANKANG_URL: svc.url,
          ADMIN_TOKEN: svc.adminToken,
          DATA_DIR: svc.dir,
        },
      );
    });

    it('succeeds without registering the venues again', async () => {
      expect(out.code, out.stderr).to.equal(0);
      expect(out.stdout).to.match(/look-ups: resolved \d+/);
      expect(out.stdout).to.match(/venues: \d+ \(0 registered, \d+ found from an earlier run\)/);
      expect((await svc.call('GET', '/v1/venues', { token: demo.tokens.health })).body.venues.length).to.equal(
        venuesBefore,
      );
      expect((await svc.call('GET', '/v1/rules')).body.version).to.equal(2);
    });

    it('signs the same people in again with codes from DATA_DIR/sms-outbox.jsonl, without a sign-up, and they re-declare', async () => {
      expect(out.stdout).to.include(`residents sign in with one-time codes from ${svc.outbox}`);
      expect(out.stdout).to.match(/residents: 20 signed in .* \(0 new\)/);
      const sent = (await readOutbox(svc.outbox)).filter((e) => Date.parse(e.at) >= since);
      expect(new Set(sent.filter((e) => e.purpose === 'login').map((e) => e.to)).size).to.equal(20);
      expect(sent.filter((e) => e.purpose !== 'login')).to.deep.equal([]);
    });

    it('started the stand-in payment provider for the running service and stopped it on exit', async () => {
      const started = /the stand-in payment provider standin-pay .* listens on (http:\/\/127\.0\.0\.1:\d+)/.exec(
        out.stdout,
      );
      expect(started, out.stdout).to.not.equal(null);
      expect(out.stdout).to.include('the stand-in payment provider has stopped');
      const answered = await fetch(started![1], { signal: AbortSignal.timeout(2000) }).then(
        () => true,
        () => false,
      );
      expect(answered).to.equal(false);
    });
  });

  describe('when run against a service without DATA_DIR', () => {
    it('exits 1 saying that DATA_DIR must name the folder whose sms-outbox.jsonl holds the codes', async () => {
      const out = await runChild(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'demo.ts'), '--exit'], {
        ANKANG_URL: svc.url,
        ADMIN_TOKEN: svc.adminToken,
        DATA_DIR: '',
      });
      expect(out.code).to.equal(1);
      expect(out.stderr)
        .to.include(`ANKANG_URL needs DATA_DIR set to the data folder of the service at ${svc.url}`)
        .and.include('DATA_DIR/sms-outbox.jsonl');
      expect(out.stdout).to.not.include('residents:');
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
    // Access tokens live 15 minutes, as by default, while the story's clock moves by hours.
    svc = await startTestService({ clock, config: { SESSION_ACCESS_MINUTES: 15 } });
    const follow = () => {
      clock.ms = Math.max(clock.ms, day.clock().getTime());
    };
    const advanceTo = (hour: number) => {
      day.advanceTo(hour);
      follow();
    };
    const endOfStory = () => {
      day.release();
      follow();
    };
    demo = await seedDemo({
      url: svc.url,
      adminToken: svc.adminToken,
      codes: svc.outbox,
      residents: 40,
      seed: 3,
      advanceTo,
      endOfStory,
    });
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

  it('refreshes access tokens the clock has moved past, and prints one that is fresh at real time', async () => {
    expect(demo.residents.refreshed).to.be.above(0);
    expect(svc.clock.ms).to.equal(Date.parse('2026-11-28T20:30:00+08:00'));
    const { resident } = demo.sample;
    expect(resident.accessMinutes).to.equal(15);
    expect(Date.parse(resident.accessExpiresAt)).to.equal(svc.clock.ms + 15 * 60_000);
    expect((await svc.call('GET', '/v1/residents/me', { token: resident.access })).status).to.equal(200);
  });

  it("shows the station's scans in more than one hour of the day", async () => {
    const r = await svc.call('GET', `/v1/stats/venues/${demo.sample.venueId}/hourly?date=2026-11-28`, {
      token: demo.tokens.health,
    });
    expect(r.status).to.equal(200);
    expect(r.body.hours.filter((h: { count: number }) => h.count > 0).length).to.be.at.least(2);
  });

  it("still refuses the contact's earlier code as superseded (REVOKED, not EXPIRED), and every decision occurs", async () => {
    for (const d of ['admit', 'refer', 'deny'] as const) expect(demo.scans.decisions[d], d).to.be.above(0);
    expect(demo.tracing.marked).to.equal(true);
    const results: string[] = [];
    for await (const e of svc.running.app.ledger.events())
      if (e.type === 'scan.recorded') results.push(String(e.data.codeResult));
    expect(results).to.include('REVOKED');
    expect(results).to.not.include('EXPIRED');
  });
});

describe("the demo province's people", () => {
  it('have phone numbers whose last four digits differ, for as many residents as the demo allows', () => {
    for (const seed of [1, 7]) {
      const taken = new Set<string>();
      const lastFour = new Set<string>();
      for (let i = 0; i < MAX_RESIDENTS; i++) lastFour.add(personAt(seed, i, 'healthy', taken).phone.slice(-4));
      expect(lastFour.size, `seed ${seed}`).to.equal(MAX_RESIDENTS);
    }
  });
});

describe('npm run demo with its own service, running until Ctrl-C', function () {
  this.timeout(180_000);
  let tmp: ReturnType<typeof tempDir>;
  let child: ChildProcess;
  let exited: Promise<number | null>;
  let out = '';
  let url: string;

  before(async () => {
    tmp = tempDir('ankang-demo-run-');
    const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: tmp.dir, PORT: '0', LOG_LEVEL: 'error' };
    for (const k of ['ANKANG_URL', 'CHAIN_RPC_URL', 'CHAIN_PORT', 'ADMIN_TOKEN', 'HOST']) delete env[k];
    child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'demo.ts'), '--residents', '20'], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    exited = new Promise((done) => child.once('exit', (code) => done(code)));
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    await until(
      'the demo to seed and keep running',
      () => out.includes('Running until Ctrl-C') && out.includes('are printed here'),
      150_000,
      100,
    );
    url = /Ankang issuer \d+ \(.+?\) on (http:\/\/[^,]+),/.exec(out)![1];
  });
  after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    tmp?.cleanup();
  });

  it('prints each one-time code sent after seeding as one line: the masked number, what it is for, the code', async () => {
    const person = applicant();
    const outbox = join(tmp.dir, 'sms-outbox.jsonl');
    await signIn(url, person, { codes: outbox });
    const masked = maskPhone(person.phone);
    const login = await latestCode(outbox, { phone: person.phone, purpose: 'login' });
    const confirm = await latestCode(outbox, { phone: person.phone, purpose: 'id-confirm' });
    await until('both code lines', () => out.includes(`\n  SMS to ${masked} (id-confirm): ${confirm}\n`), 5000, 50);
    expect(out).to.include(`\n  SMS to ${masked} (login): ${login}\n`);
    // The 40 codes of the demo's own sign-ins were sent before: not printed.
    expect(out.match(/SMS to /g)).to.have.length(2);
  });

  it('stops on SIGINT with exit code 0, leaving neither the service, its chain node nor the stand-in payment provider running', async () => {
    const chain = /chain (http:\/\/127\.0\.0\.1:\d+) \(embedded Hardhat node\)/.exec(out)![1];
    const provider = /the stand-in payment provider standin-pay .* listens on (http:\/\/127\.0\.0\.1:\d+)/.exec(
      out,
    )![1];
    expect(await fetch(`${provider}/v1/fares`, { method: 'POST' }).then((r) => r.status)).to.be.within(400, 499);
    child.kill('SIGINT');
    expect(await exited, out).to.equal(0);
    for (const u of [url, chain, provider]) {
      const answered = await fetch(u, { signal: AbortSignal.timeout(2000) }).then(
        () => true,
        () => false,
      );
      expect(answered, u).to.equal(false);
    }
  });

  it('runs again on the same folder, on another port: the same people sign in without a sign-up, their records theirs', async () => {
    const since = Date.now();
    const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: tmp.dir, PORT: '0', LOG_LEVEL: 'error' };
    for (const k of ['ANKANG_URL', 'CHAIN_RPC_URL', 'CHAIN_PORT', 'ADMIN_TOKEN', 'HOST']) delete env[k];
    const again = await runChild(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'scripts', 'demo.ts'), '--exit', '--residents', '20'],
      env,
    );
    expect(again.code, again.stderr).to.equal(0);
    expect(/ on (http:\/\/[^,]+),/.exec(again.stdout)![1]).to.not.equal(url);
    expect(again.stdout).to.match(/residents: 20 signed in .* \(0 new\)/);
    expect(again.stdout).to.include('tokens: 17 reused');
    expect(again.stdout).to.include('desks: 7 (0 registered by their sector authorities, 7 found from an earlier run)');
    const sent = (await readOutbox(join(tmp.dir, 'sms-outbox.jsonl'))).filter((e) => Date.parse(e.at) >= since);
    expect(sent.filter((e) => e.purpose === 'login')).to.have.length(20);
    expect(sent.filter((e) => e.purpose !== 'login')).to.deep.equal([]);
  });
});
