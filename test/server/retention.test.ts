import { expect } from 'chai';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
/** The anchorer's record of a checkpoint (anchor/anchorer.ts). */
const CHECKPOINT_EVENT = 'checkpoint.anchored';
import { startDevNode, type DevNode } from '../../anchor/dev-node';
import { Ledger, seqKey } from '../../ledger/ledger';
import { RetentionService, pruneFacts, retentionCutoff, type RetentionReport } from '../../server/services/retention';
import type { RawFacts } from '../../server/rules';
import { readFacts } from '../../server/services/facts-store';
import { ERASURE_EVENT, erasureDigest, type ErasedEvent, type LedgerEvent } from '../../verifier/src/event';
import type { ProofBundle } from '../../verifier/src/proof-bundle';
import { installedVerifier, runCommand, type InstalledVerifier } from '../support/installed-verifier';
import { checkin, newResident, registerVenue, type Resident, type Venue } from '../support/scenario';
import { DAY, runLedgerVerify, START, startTestService, TestClock, type TestService } from '../support/service';
import { tempDir } from '../support/tmp';
import { until } from '../../scripts/lib/wait';

const ledgerVerify = (dataDir: string) => runLedgerVerify(['--data-dir', dataDir]);

/** Every file under `dir`, recursively: LevelDB's .log, .ldb, MANIFEST, and everything beside them. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** The files under `dir` whose raw bytes contain `text` (as UTF-8). */
function filesHolding(dir: string, text: string): string[] {
  const needle = Buffer.from(text, 'utf8');
  return filesUnder(dir).filter((f) => readFileSync(f).includes(needle));
}

describe('retention (RETENTION_DAYS): crypto-shredding and aggregates', function () {
  this.timeout(180_000);

  describe('pruneFacts', () => {
    const cutoff = new Date('2026-03-01T00:00:00Z');
    const old = '2026-02-01T00:00:00Z';
    const recent = '2026-03-05T00:00:00Z';
    // Stands for the rules: a confirmed case decides red however old it is; nothing else matters here.
    const decide = (f: RawFacts) => (f.case?.status === 'confirmed' ? 'red:case' : 'green:');
    const declaration = (at: string) => ({
      at,
      temperatureC: 38.2,
      symptoms: ['cough'],
      visited: [],
      contactWithCase: false,
    });

    it('removes each part whose own time is before the cutoff and that no longer decides the colour', () => {
      const facts: RawFacts = {
        declaration: declaration(old),
        contact: { degree: 1, exposedAt: old },
        inbound: { arrivedAt: recent, from: 'GB' },
      };
      expect(pruneFacts(facts, cutoff, decide)).to.deep.equal({ inbound: { arrivedAt: recent, from: 'GB' } });
    });

    it('keeps an old confirmed case, which still makes the resident red, and removes a cleared one', () => {
      expect(pruneFacts({ case: { status: 'confirmed', at: old } }, cutoff, decide)).to.equal(undefined);
      expect(
        pruneFacts({ case: { status: 'cleared', at: old }, declaration: declaration(recent) }, cutoff, decide),
      ).to.deep.equal({ declaration: declaration(recent) });
    });

    it('changes nothing when every part is inside the window', () => {
      expect(pruneFacts({ declaration: declaration(recent) }, cutoff, decide)).to.equal(undefined);
    });

    it('starts the window on a whole hour, RETENTION_DAYS before now', () => {
      expect(retentionCutoff(new Date('2026-04-08T10:42:13.5Z'), 28).toISOString()).to.equal(
        '2026-03-11T10:00:00.000Z',
      );
    });
  });

  describe('on sealed facts', () => {
    let data: ReturnType<typeof tempDir>;
    let svc: TestService | undefined;
    after(async () => {
      await svc?.stop();
      data?.cleanup();
    });

    it("opens a resident's sealed facts, drops the part past the window, and seals the rest again", async () => {
      data = tempDir('ankang-retention-sealed-');
      const clock = new TestClock();
      svc = await startTestService({ dir: data.dir, clock });
      const health = await svc.token('health');
      const r = await newResident(svc);
      clock.advance(20 * DAY);
      const at = clock.now().toISOString();
      const cases = await svc.call('POST', '/v1/feeds/cases', {
        token: health,
        json: { records: [{ idType: r.body.idType, idNumber: r.body.idNumber, status: 'confirmed', at }] },
      });
      expect(cases.status, JSON.stringify(cases.body)).to.equal(201);
      clock.advance(9 * DAY);
      const key = svc.running.app.secrets.encryptionKey;
      const before = await readFacts(svc.running.app.ledger, key, r.pseudonym);
      expect(before).to.have.keys('declaration', 'case');
      const report = await new RetentionService(svc.running.app).run();
      expect(report.factRecords).to.equal(1);
      const stored = await svc.running.app.ledger.read('facts', r.pseudonym);
      expect(stored, 'still sealed').to.have.keys('sealed');
      // The 29-day-old declaration is gone; the 9-day-old confirmed case, which makes the colour, stays.
      expect(await readFacts(svc.running.app.ledger, key, r.pseudonym)).to.deep.equal({ case: before!.case });
    });
  });

  describe('the job and the counters at start', () => {
    let data: ReturnType<typeof tempDir>;
    let svc: TestService | undefined;
    after(async () => {
      await svc?.stop();
      data?.cleanup();
    });

    it("counts an older folder's scans once at start, and erases what is past the window when the service starts", async () => {
      data = tempDir('ankang-retention-start-');
      const clock = new TestClock();
      svc = await startTestService({ dir: data.dir, clock });
      const operator = await svc.token('operator');
      const health = await svc.token('health');
      const gate = await registerVenue(svc, operator, { type: 'crowded-place', name: '万达广场', district: '340104' });
      const residents = [await newResident(svc), await newResident(svc)];
      clock.advance(3_600_000);
      const seqs: number[] = [];
      for (const r of residents) {
        const scan = await checkin(svc, r, gate, 36.5);
        expect(scan.status, JSON.stringify(scan.body)).to.equal(201);
        seqs.push(scan.body.seq);
      }
      const stats = async () => {
        const from = encodeURIComponent(new Date(START - DAY).toISOString());
        const to = encodeURIComponent(new Date(START + 40 * DAY).toISOString());
        const scans = await svc!.call('GET', `/v1/stats/scans?by=venue-type&from=${from}&to=${to}`, { token: health });
        const daily = await svc!.call('GET', '/v1/stats/colours/daily?days=45', { token: health });
        return {
          scans: scans.body.groups,
          days: daily.body.days
            .filter((d: { total: number }) => d.total > 0)
            .map((d: { day: string; total: number }) => [d.day, d.total]),
        };
      };
      const before = await stats();
      expect(before.scans).to.deep.equal([{ key: 'crowded-place', count: 2 }]);
      await svc.stop();

      // A folder written before the counters: no mark, no counters.
      const l = await Ledger.open(join(data.dir, 'ledger'));
      const agg: string[] = [];
      for await (const k of l.space('index').keys({ gte: 'agg/', lt: 'agg0' })) agg.push(k);
      expect(agg.length).to.be.at.least(3);
      await l.transact((tx) => {
        for (const k of agg) tx.del('index', k);
        tx.del('meta', 'statsAggregates');
      });
      await l.close();

      clock.advance(29 * DAY);
      svc = await startTestService({ dir: data.dir, clock });
      await until('the retention run at start', async () => {
        const e = await svc!.running.app.ledger.getEvent(seqs[1]);
        return e && 'erased' in e;
      });
      for (const seq of seqs) expect(await svc.running.app.ledger.getEvent(seq)).to.have.property('erased');
      expect(await stats()).to.deep.equal(before);
    });
  });

  describe('after the window, with the service anchoring on a Hardhat node', () => {
    let node: DevNode;
    let verifier: InstalledVerifier;
    let data: ReturnType<typeof tempDir>;
    let files: ReturnType<typeof tempDir>;
    let svc: TestService;
    const clock = new TestClock();
    let auditor: string;
    let health: string;
    let alice: Resident;
    let bob: Resident;
    /** A gate only Alice's old self check-in ever scanned at. */
    let oldGate: Venue;
    let newGate: Venue;
    let oldScan: LedgerEvent;
    let oldDaily: LedgerEvent;
    let applied: LedgerEvent;
    let newScanSeq: number;
    let report: RetentionReport;
    let contract: string;
    let dashboardBefore: unknown;
    let dashboardAfter: unknown;
    let eventProofBefore: ProofBundle;

    const call = (method: string, path: string, token?: string, json?: unknown) =>
      svc.call(method, path, { token, json });
    const ledger = () => svc.running.app.ledger;
    const stored = async (seq: number) => (await ledger().getEvent(seq)) as unknown as LedgerEvent | ErasedEvent;
    /** Waits for a checkpoint covering the head. */
    const anchorAll = async () => {
      // A checkpoint's own record is an event that waits for the next substantive one.
      const last = await stored(ledger().getHead().seq);
      const head = last.type === CHECKPOINT_EVENT ? last.seq - 1 : last.seq;
      return until('a checkpoint covering the head', async () => {
        // The anchorer paces checkpoints by the service's clock: each look moves it past the interval.
        clock.advance(2_000);
        const cp = svc.running.app.anchorer!.checkpoint;
        return cp && cp.treeSize >= head ? cp : undefined;
      });
    };
    const save = (name: string, bundle: unknown) => {
      const path = join(files.dir, `${name}.json`);
      writeFileSync(path, JSON.stringify(bundle));
      return path;
    };
    const verify = (command: 'proof' | 'history', bundle: unknown, name: string) =>
      runCommand(
        verifier.bin,
        [command, save(name, bundle), '--rpc', node.url, '--contract', contract],
        verifier.project,
      );
    /** What the dashboard (web/src/pages/admin.ts) reads, over the days of the test. */
    const dashboard = async () => {
      const from = new Date(START - DAY).toISOString();
      const to = new Date(START + 30 * DAY).toISOString();
      const get = async (path: string) => {
        const r = await call('GET', path, health);
        expect(r.status, `${path}: ${JSON.stringify(r.body)}`).to.equal(200);
        return r.body;
      };
      const scans = await Promise.all(
        ['day', 'venue-type', 'subtype', 'district', 'decision'].map((by) =>
          get(`/v1/stats/scans?by=${by}&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`),
        ),
      );
      const daily = await get('/v1/stats/colours/daily?days=40');
      const hourly = await get(
        `/v1/stats/venues/${oldGate.id}/hourly?date=${new Date(START + 8 * 3_600_000).toISOString().slice(0, 10)}`,
      );
      return { scans, daily: daily.days, hourly: hourly.hours };
    };

    before(async () => {
      data = tempDir('ankang-retention-');
      files = tempDir('ankang-retention-bundles-');
      [node, verifier] = await Promise.all([startDevNode(), installedVerifier()]);
      svc = await startTestService({
        dir: data.dir,
        clock,
        config: { CHAIN_RPC_URL: node.url, CHAIN_DEV: 'true', CHECKPOINT_INTERVAL_SECONDS: '1', RETENTION_DAYS: '28' },
      });
      const operator = await svc.token('operator');
      [auditor, health] = await Promise.all([svc.token('auditor'), svc.token('health')]);

      oldGate = await registerVenue(svc, operator, { type: 'residential-community', name: '旧门', district: '340104' });
      newGate = await registerVenue(svc, operator, { type: 'residential-community', name: '新门', district: '340104' });
      alice = await newResident(svc);
      bob = await newResident(svc);
      clock.advance(60_000);
      const scan = await checkin(svc, alice, oldGate, 36.6);
      expect(scan.status, JSON.stringify(scan.body)).to.equal(201);
      oldScan = (await stored(scan.body.seq)) as LedgerEvent;
      clock.advance(60_000);
      const daily = await call('POST', '/v1/checkins/daily', alice.token, { temperatureC: 36.5 });
      expect(daily.status, JSON.stringify(daily.body)).to.equal(201);
      oldDaily = (await stored(ledger().getHead().seq)) as LedgerEvent;
      expect(oldDaily.type).to.equal('checkin.daily');
      for (let seq = oldScan.seq; seq >= 1; seq--) {
        const e = (await stored(seq)) as LedgerEvent;
        if (e.type === 'resident.applied' && e.subjects.includes(`r:${alice.pseudonym}`)) {
          applied = e;
          break;
        }
      }
      expect(applied.type).to.equal('resident.applied');

      // 29 days on: Alice and Bob check in at the new gate; her old scan and check-in are past the window.
      clock.advance(29 * DAY);
      const next = await checkin(svc, alice, newGate, 36.7);
      expect(next.status, JSON.stringify(next.body)).to.equal(201);
      newScanSeq = next.body.seq;
      expect((await checkin(svc, bob, newGate, 36.4)).status).to.equal(201);
      contract = (await anchorAll()).contract;

      const r = await call('GET', `/v1/proofs/events/${applied.seq}`, auditor);
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      eventProofBefore = r.body;
      dashboardBefore = await dashboard();

      // The raw files hold the old scan's salt and its pairing before the erasure: the grep below can find them.
      expect(filesHolding(data.dir, oldScan.salt), 'the salt before erasure').to.not.be.empty;

      report = await new RetentionService(svc.running.app).run();
      await anchorAll();
      dashboardAfter = await dashboard();
    });

    after(async () => {
      await svc?.close();
      await node?.stop();
      data?.cleanup();
      files?.cleanup();
    });

    it('erases the old scan and daily check-in in one batch recorded by an anchored retention.erased event', async () => {
      expect(report.erasedEvents).to.be.at.least(2);
      expect(report.erasureEvents).to.have.length(1);
      const erasure = (await stored(report.erasureEvents[0])) as LedgerEvent;
      expect(erasure.type).to.equal(ERASURE_EVENT);
      expect(erasure.subjects).to.deep.equal(['retention']);
      const seqs: number[] = [];
      for (let seq = 1; seq < erasure.seq; seq++) {
        const e = await stored(seq);
        if ('erased' in e) seqs.push(seq);
      }
      expect(seqs).to.include.members([oldScan.seq, oldDaily.seq]);
      expect(erasure.data).to.deep.equal({
        count: seqs.length,
        from: seqs[0],
        to: seqs[seqs.length - 1],
        digest: erasureDigest(seqs),
        days: 28,
        before: retentionCutoff(clock.now(), 28).toISOString(),
      });
    });

    it('keeps only seq, type, at, prev and hash of an erased event, and drops its subject index keys', async () => {
      expect(await stored(oldScan.seq)).to.deep.equal({
        seq: oldScan.seq,
        type: 'scan.recorded',
        at: oldScan.at,
        prev: oldScan.prev,
        hash: oldScan.hash,
        erased: { by: report.erasureEvents[0] },
      });
      expect(await ledger().subjectSeqs(`r:${alice.pseudonym}`)).to.not.include(oldScan.seq);
      expect(await ledger().subjectSeqs(`v:${oldGate.id}`)).to.not.include(oldScan.seq);
      expect(await ledger().read('index', `selfscan/${alice.pseudonym}/${oldGate.id}`)).to.equal(undefined);
      expect(await ledger().read('scans', `v/${oldGate.id}/${oldScan.at}/${seqKey(oldScan.seq)}`)).to.equal(undefined);
      // Alice's declaration and check-in are 29 days old and decide nothing now: her facts are gone.
      expect(await ledger().read('facts', alice.pseudonym)).to.equal(undefined);
    });

    it("keeps the dashboard's numbers (scans by day, type, subtype, district and decision, colour changes per day, a venue's hours) across the erasure", () => {
      expect((dashboardBefore as { scans: Array<{ total: number }> }).scans[0].total).to.equal(3);
      expect(dashboardAfter).to.deep.equal(dashboardBefore);
    });

    it("answers a proof request for an erased event with 410 ERASED and the erasure event's seq", async () => {
      const r = await call('GET', `/v1/proofs/events/${oldScan.seq}`, auditor);
      expect(r.status).to.equal(410);
      expect(r.body.error).to.include({ code: 'ERASED' });
      expect(r.body.error.erasure).to.deep.equal({ seq: report.erasureEvents[0] });
    });

    it('still proves a kept event from before the window, the erasure event and a new scan against the chain', async () => {
      const before = await verify('proof', eventProofBefore, 'applied-before');
      expect(before.status, before.stdout + before.stderr).to.equal(0);
      for (const seq of [applied.seq, report.erasureEvents[0], newScanSeq]) {
        const r = await call('GET', `/v1/proofs/events/${seq}`, auditor);
        expect(r.status, JSON.stringify(r.body)).to.equal(200);
        const v = await verify('proof', r.body, `event-${seq}`);
        expect(v.status, v.stdout + v.stderr).to.equal(0);
        expect(v.stdout).to.match(/^valid: 1 event of issuer 340000 is included in checkpoint/);
      }
    });

    it("gives Alice's history from just after her erased daily check-in, naming its stub as previous; the verifier accepts it", async () => {
      const r = await call(
        'GET',
        `/v1/proofs/subjects/${alice.pseudonym}?from=${encodeURIComponent(new Date(START - DAY).toISOString())}`,
        auditor,
      );
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      const b = r.body as ProofBundle;
      expect(b.previous!.event).to.deep.include({ seq: oldDaily.seq, erased: { by: report.erasureEvents[0] } });
      expect(Date.parse(b.range!.from)).to.be.greaterThan(Date.parse(oldDaily.at));
      expect(b.events.map((e) => e.event.seq)).to.include(newScanSeq);
      const v = await verify('history', b, 'alice');
      expect(v.status, v.stdout + v.stderr).to.equal(0);
      expect(v.stdout).to.include(
        `the history starts after seq ${oldDaily.seq}, which retention erased (event ${report.erasureEvents[0]})`,
      );
      // Leaving out her first kept event after the erasure breaks the chain.
      const gap = structuredClone(b);
      gap.events.shift();
      expect((await verify('history', gap, 'alice-gap')).status).to.equal(1);
      // A stub standing for another event (another hash) is not the leaf at its index.
      const other = structuredClone(b);
      other.previous!.event.hash = b.events[0].event.hash;
      const forged = await verify('history', other, 'alice-forged');
      expect(forged.status).to.equal(1);
      expect(forged.stdout).to.include('NOT_INCLUDED');
    });

    it("answers a history range wholly before a subject's erasure with 410 ERASED, and the old gate's history ends at its erased scan", async () => {
      const early = await call(
        'GET',
        `/v1/proofs/subjects/${alice.pseudonym}?to=${encodeURIComponent(new Date(START + 30_000).toISOString())}`,
        auditor,
      );
      expect(early.status).to.equal(410);
      expect(early.body.error.code).to.equal('ERASED');
      const gate = await call('GET', `/v1/proofs/venues/${oldGate.id}`, auditor);
      expect(gate.status, JSON.stringify(gate.body)).to.equal(200);
      expect(gate.body.previous.event).to.deep.include({ seq: oldScan.seq, erased: { by: report.erasureEvents[0] } });
      const v = await verify('history', gate.body, 'old-gate');
      expect(v.status, v.stdout + v.stderr).to.equal(0);
    });

    it('leaves no salt, body or resident–venue pairing of the old scan anywhere in DATA_DIR once the service is closed', async () => {
      await svc.stop();
      const p = alice.pseudonym;
      const v = oldGate.id;
      for (const needle of [
        oldScan.salt,
        oldDaily.salt,
        `"r:${p}","v:${v}"`,
        `selfscan/${p}/${v}`,
        `r:${p}/${seqKey(oldScan.seq)}`,
        `v/${v}/${oldScan.at}`,
      ]) {
        expect(filesHolding(data.dir, needle), needle).to.deep.equal([]);
      }
      // The venue id itself stays: in its registration event, its record and code, and its aggregate counters, none of which names a resident.
      expect(filesHolding(data.dir, v)).to.not.be.empty;
    });

    it('ledger:verify passes on the folder and counts the erased events; it fails when an erased event is not covered', async () => {
      const ok = await ledgerVerify(data.dir);
      expect(ok.code, ok.stdout + ok.stderr).to.equal(0);
      expect(ok.stdout).to.match(
        new RegExp(
          `^ok: \\d+ events, \\d+ subjects, ${report.erasedEvents} erased by retention \\(linked, not recomputed\\), head `,
        ),
      );
      const l = await Ledger.open(join(data.dir, 'ledger'));
      const stub = (await l.getEvent(oldScan.seq)) as unknown as ErasedEvent;
      // Said to be erased by an event that is no erasure (the resident's application).
      await l.transact((tx) => tx.put('events', seqKey(oldScan.seq), { ...stub, erased: { by: newScanSeq } }));
      await l.close();
      const bad = await ledgerVerify(data.dir);
      expect(bad.code, bad.stdout + bad.stderr).to.equal(1);
      expect(bad.stdout).to.include(
        `broken at event ${oldScan.seq}: the event is erased, but event ${newScanSeq} is not a ${ERASURE_EVENT} event: no erasure covers it`,
      );
    });
  });
});
