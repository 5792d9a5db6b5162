import { expect } from 'chai';
import { join } from 'node:path';
import { Ledger } from '../../ledger/ledger';
import type { ResidentRecord } from '../../server/services/residents';
import { until } from '../../scripts/lib/wait';
import { runLedgerVerify } from '../support/service';
import { SIGN_UP_LIMITS } from '../support/running-service';
import { tempDir } from '../support/tmp';
import {
  alive,
  allGone,
  applicationBody,
  call,
  childrenOf,
  gate,
  residentCodes,
  seedDataDir,
  startCluster,
  type Answer,
  type ClusterProcess,
} from '../support/cluster';

const ENV = { ...SIGN_UP_LIMITS, WORKERS: '2', SESSION_ACCESS_MINUTES: '1440' };
const SCANNED = 40;
const APPLICANTS = 400;
const CONCURRENCY = 12;
/** Acknowledged scans (or applications) before the kill, so the kill lands mid-burst. */
const KILL_AFTER = 60;
/** Acknowledgements after the kill (and, for the writer, after its outage) before a burst ends. */
const AFTER_KILL = 40;
const BURST_DEADLINE_MS = 40_000;

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Burst {
  /** Answers before the kill, and after it. */
  before: Answer[];
  after: Answer[];
  /** Requests that failed on the connection after the kill (never acknowledged). */
  dropped: number;
  /** Acknowledged requests after a 503 was seen: the service came back. */
  recovered: number;
}

/**
 * Sends `send(i)` from CONCURRENCY loops; after KILL_AFTER acknowledgements it calls `kill`,
 * then carries on until AFTER_KILL more are acknowledged (after the outage, when `outage` is
 * set: past the first 503). A 503 waits 100 ms, as a client told Retry-After would, at least.
 */
async function burst(
  send: (i: number) => Promise<Answer>,
  acked: (a: Answer) => boolean,
  kill: () => void,
  outage: boolean,
): Promise<Burst> {
  const out: Burst = { before: [], after: [], dropped: 0, recovered: 0 };
  let killed = false;
  let unavailable = false;
  let ackedAfter = 0;
  let next = 0;
  const deadline = Date.now() + BURST_DEADLINE_MS;
  const done = () => (outage ? out.recovered : ackedAfter) >= AFTER_KILL || Date.now() > deadline;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (!done()) {
        const wasKilled = killed;
        let a: Answer;
        try {
          a = await send(next++);
        } catch (e) {
          // Connections in flight when a process died fail: never acknowledged, so never counted.
          if (!killed) throw e;
          out.dropped++;
          continue;
        }
        (wasKilled ? out.after : out.before).push(a);
        if (!acked(a)) {
          if (a.status === 503) {
            if (wasKilled) unavailable = true;
            await pause(100);
          }
          continue;
        }
        if (wasKilled) {
          ackedAfter++;
          if (unavailable) out.recovered++;
        } else if (!killed && out.before.filter(acked).length >= KILL_AFTER) {
          killed = true;
          kill();
        }
      }
    }),
  );
  if (Date.now() > deadline) throw new Error(`the burst ran past ${BURST_DEADLINE_MS} ms`);
  return out;
}

const statuses = (as: Answer[]) => [...new Set(as.map((a) => a.status))].sort();

describe('WORKERS=2: a worker or the ledger writer killed in the middle of a burst', function () {
  this.timeout(120_000);
  let tmp: ReturnType<typeof tempDir>;
  let server: ClusterProcess | undefined;
  let url: string;
  let supervisor: number;
  let operator: string;
  let venueId: string;
  let codes: string[];
  let applicants: string[];
  /** Every scan acknowledged with 201, by its seq. */
  const scans = new Map<number, { code: string }>();
  /** Every application acknowledged (201, or 200 for a retry that had landed), by pseudonym. */
  const residents = new Map<string, number>();

  // A connection the cluster's primary hands to a worker as it dies is never answered (Node's
  // round-robin hand-off has no reply from a dead worker): a client's timeout ends it.
  const scan = (i: number) => {
    const code = codes[i % codes.length];
    const body = { venueId, code, temperatureC: 36.5 };
    return call(url, 'POST', '/v1/scans', { token: operator, body, timeoutMs: 5_000 }).then((a) => {
      if (a.status === 201) scans.set(a.body.seq as number, { code });
      return a;
    });
  };
  const scanned = (a: Answer) => a.status === 201;

  before(async () => {
    tmp = tempDir('ankang-cluster-crash-');
    const seeded = await seedDataDir(tmp.dir, ENV, SCANNED + APPLICANTS);
    server = await startCluster(tmp.dir, ENV);
    ({ url } = server);
    supervisor = server.child.pid!;
    ({ operator, venueId } = await gate(url, seeded.admin));
    codes = await residentCodes(url, seeded.residents.slice(0, SCANNED));
    applicants = seeded.residents.slice(SCANNED);
  });

  after(async () => {
    if (server) await server.stop('SIGKILL');
    tmp?.cleanup();
  });

  describe('a worker SIGKILLed', () => {
    let b: Burst;
    let killed: number;
    let original: number[];

    before(async () => {
      original = [...server!.workers];
      expect(original).to.have.length(2);
      expect(childrenOf(supervisor, 'worker').sort()).to.deep.equal([...original].sort());
      killed = original[0];
      b = await burst(scan, scanned, () => process.kill(killed, 'SIGKILL'), false);
    });

    it('was killed in the middle of the burst, and the other worker went on acknowledging', () => {
      expect(b.before.filter(scanned).length).to.be.at.least(KILL_AFTER);
      expect(b.after.filter(scanned).length).to.be.at.least(AFTER_KILL);
      expect(statuses(b.before)).to.deep.equal([201]);
      // Connections the dead worker held fail; nothing else is refused.
      expect(statuses(b.after)).to.deep.equal([201]);
      expect(alive(killed)).to.equal(false);
    });

    it('is replaced by the supervisor, and a replacement serves the same URL', async () => {
      const fresh = await until(
        'a replacement worker',
        () => childrenOf(supervisor, 'worker').find((p) => !original.includes(p)),
        20_000,
        100,
      );
      expect(fresh).to.be.a('number');
      // With the other original gone too, whatever serves is a worker the supervisor started since.
      process.kill(original[1], 'SIGKILL');
      await until('the other original worker to exit', () => !alive(original[1]), 10_000, 50);
      const a = await until(
        'a scan through a replacement',
        async () => {
          const r = await scan(0);
          return r.status === 201 && r;
        },
        20_000,
        100,
      );
      expect(a.body).to.include({ codeResult: 'VALID' });
      const now = await until(
        'two replacement workers',
        () => {
          const ws = childrenOf(supervisor, 'worker');
          return ws.length === 2 && ws.every((p) => !original.includes(p)) && ws;
        },
        20_000,
        100,
      );
      server!.workers = now;
    });
  });

  describe('the ledger writer SIGKILLed during staff scans', () => {
    let b: Burst;
    let writer: number;

    before(async () => {
      writer = server!.writer!;
      expect(childrenOf(supervisor, 'writer')).to.deep.equal([writer]);
      b = await burst(scan, scanned, () => process.kill(writer, 'SIGKILL'), true);
    });

    it('answered 503 LEDGER_UNAVAILABLE with Retry-After meanwhile, and nothing else', () => {
      expect(b.before.filter(scanned).length).to.be.at.least(KILL_AFTER);
      const refused = b.after.filter((a) => a.status !== 201);
      expect(refused.length, 'requests during the outage').to.be.above(0);
      for (const a of refused) {
        expect(a.status, JSON.stringify(a.body)).to.equal(503);
        expect(a.body.error.code).to.equal('LEDGER_UNAVAILABLE');
        expect(a.headers['retry-after']).to.equal('1');
      }
    });

    it('is restarted by the supervisor, and the workers reconnect to it on the same URL', () => {
      expect(b.recovered).to.be.at.least(AFTER_KILL);
      expect(alive(writer)).to.equal(false);
      expect(alive(supervisor)).to.equal(true);
      const now = childrenOf(supervisor, 'writer');
      expect(now).to.have.length(1);
      expect(now[0]).to.not.equal(writer);
      server!.writer = now[0];
      // The workers were not restarted for it.
      expect(childrenOf(supervisor, 'worker').sort()).to.deep.equal([...server!.workers].sort());
    });
  });

  describe('the ledger writer SIGKILLed during applications (forwarded over HTTP)', () => {
    let b: Burst;
    let writer: number;
    let refused = 0;

    before(async () => {
      writer = server!.writer!;
      // A 503 is retried with the same session: the application may have landed before the writer died (then 200).
      const apply = async (i: number): Promise<Answer> => {
        const token = applicants[i];
        if (!token) throw new Error('more applications than seeded sessions');
        for (;;) {
          const body = applicationBody(SCANNED + i);
          const a = await call(url, 'POST', '/v1/residents', { token, body, timeoutMs: 5_000 });
          if (a.status === 200 || a.status === 201) residents.set(a.body.resident.pseudonym as string, a.status);
          if (a.status !== 503) return a;
          expect(a.body.error.code).to.equal('LEDGER_UNAVAILABLE');
          refused++;
          await pause(100);
        }
      };
      let outage = false;
      // The retries hide the outage from `burst` (it sees what each application ended with); `refused` counts the 503s.
      b = await burst(
        apply,
        (a) => a.status === 201 || a.status === 200,
        () => {
          outage = true;
          process.kill(writer, 'SIGKILL');
        },
        false,
      );
      expect(outage).to.equal(true);
    });

    it('acknowledged applications before and after the writer came back, with 503s between', async () => {
      expect(refused, 'applications answered 503 during the outage').to.be.above(0);
      expect(b.before.filter((a) => a.status === 201).length).to.be.at.least(KILL_AFTER);
      expect(b.after.filter((a) => a.status === 201).length).to.be.at.least(AFTER_KILL);
      expect(statuses([...b.before, ...b.after]).every((s) => s === 200 || s === 201)).to.equal(true);
      const now = await until(
        'a new writer',
        () => {
          const w = childrenOf(supervisor, 'writer');
          return w.length === 1 && w[0] !== writer && w;
        },
        20_000,
        100,
      );
      server!.writer = now[0];
    });
  });

  describe('once stopped with SIGTERM', () => {
    let pids: number[];

    before(async () => {
      // A last scan on the same URL, through the same workers, after both writer kills.
      const last = await scan(1);
      expect(last.status).to.equal(201);
      pids = [supervisor, server!.writer!, ...server!.workers];
      expect(pids.every(alive)).to.equal(true);
      const exit = await server!.stop('SIGTERM');
      expect(exit).to.deep.equal({ code: 0, signal: null });
      server = undefined;
    });

    it('left no process of the service behind', async () => {
      await allGone(pids, 5_000);
    });

    it('has an intact hash chain (scripts/ledger-verify.ts exits 0)', async () => {
      const r = await runLedgerVerify(['--data-dir', tmp.dir]);
      expect(r.code, r.stdout + r.stderr).to.equal(0);
      expect(r.stdout).to.match(/^ok: \d+ events/);
    });

    it('holds every acknowledged scan and application', async () => {
      const ledger = await Ledger.open(join(tmp.dir, 'ledger'));
      try {
        expect(scans.size).to.be.at.least(2 * (KILL_AFTER + AFTER_KILL));
        const lost: number[] = [];
        for (const seq of scans.keys()) {
          const e = await ledger.getEvent(seq);
          if (!e || e.type !== 'scan.recorded' || !e.subjects.includes(`v:${venueId}`)) lost.push(seq);
        }
        expect(lost, 'acknowledged scans missing').to.deep.equal([]);
        expect(residents.size).to.be.at.least(KILL_AFTER + AFTER_KILL);
        const missing: string[] = [];
        for (const pseudonym of residents.keys()) {
          const r = await ledger.read<ResidentRecord>('residents', pseudonym);
          if (r?.pseudonym !== pseudonym) missing.push(pseudonym);
        }
        expect(missing, 'acknowledged residents missing').to.deep.equal([]);
      } finally {
        await ledger.close();
      }
    });
  });
});
