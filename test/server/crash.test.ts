import { expect } from 'chai';
import { join } from 'node:path';
import { Ledger } from '../../ledger/ledger';
import type { ResidentRecord } from '../../server/services/residents';
import { applicant, runLedgerVerify, type Application } from '../support/service';
import { SIGN_UP_LIMITS } from '../support/running-service';
import { tempDir } from '../support/tmp';
import { startServiceProcess, type ServiceProcess } from '../../scripts/lib/service-process';
import { signIn } from '../../scripts/lib/sign-in';

const RESIDENTS = 300;
const CONCURRENCY = 32;
const KILL_AFTER_ACKS = 100;
/** Sign-ins in flight at once before the burst. */
const SIGN_IN_CONCURRENCY = 8;

type Server = ServiceProcess;

/** Starts `server/main.ts` as its own process and waits for its "listening" line. */
const spawnServer = (dataDir: string): Promise<Server> =>
  startServiceProcess({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'silent', ...SIGN_UP_LIMITS });

/** The child's development SMS outbox, where the embedded provider writes one-time codes. */
const outboxOf = (dataDir: string) => join(dataDir, 'sms-outbox.jsonl');

/** Signs a person in at the child's embedded provider; resolves with the session's access token. */
const signInAs = async (url: string, dataDir: string, p: Application): Promise<string> =>
  (
    await signIn(
      url,
      { idType: p.idType, idNumber: p.idNumber, name: p.name, phone: p.phone },
      { codes: outboxOf(dataDir) },
    )
  ).access;

/** POST /v1/residents with a resident session's access token. */
const applyWith = (url: string, access: string, body: Application) =>
  fetch(`${url}/v1/residents`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${access}` },
    body: JSON.stringify(body),
  });

interface Ack {
  body: Application;
  pseudonym: string;
  statusIndex: number;
  /** The access token of the session the application was sent with. */
  token: string;
}

describe('crash during a burst of applications', function () {
  this.timeout(120_000);
  let tmp: ReturnType<typeof tempDir>;
  let server: Server | undefined;
  const acks: Ack[] = [];

  before(async () => {
    tmp = tempDir('ankang-crash-');
    server = await spawnServer(tmp.dir);
    const bodies = Array.from({ length: RESIDENTS }, (_, i) =>
      applicant({ idType: i % 5 === 0 ? 'passport' : 'resident-id' }),
    );
    const { child, url } = server;
    // Everyone signs in first, so the burst below is applications only.
    const sessions: string[] = new Array(RESIDENTS);
    let signed = 0;
    await Promise.all(
      Array.from({ length: SIGN_IN_CONCURRENCY }, async () => {
        while (signed < bodies.length) {
          const i = signed++;
          sessions[i] = await signInAs(url, tmp.dir, bodies[i]);
        }
      }),
    );
    let next = 0;
    let killed = false;
    const worker = async () => {
      while (!killed && next < bodies.length) {
        const i = next++;
        const body = bodies[i];
        try {
          const res = await applyWith(url, sessions[i], body);
          const json = (await res.json()) as { resident: { pseudonym: string; statusIndex: number } };
          if (res.status === 201)
            acks.push({
              body,
              pseudonym: json.resident.pseudonym,
              statusIndex: json.resident.statusIndex,
              token: sessions[i],
            });
          else throw new Error(`unexpected ${res.status}: ${JSON.stringify(json)}`);
        } catch (e) {
          if (!killed) throw e;
        }
        if (!killed && acks.length >= KILL_AFTER_ACKS) {
          killed = true;
          child.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const exit = await server.exited;
    expect(exit.signal).to.equal('SIGKILL');
    server = undefined;
  });

  after(async () => {
    if (server) {
      server.child.kill('SIGKILL');
      await server.exited;
    }
    tmp?.cleanup();
  });

  it('was killed in the middle of the burst', () => {
    expect(acks.length).to.be.at.least(KILL_AFTER_ACKS);
    expect(acks.length).to.be.below(RESIDENTS);
  });

  it('handed out distinct status indexes to acknowledged residents', () => {
    expect(new Set(acks.map((a) => a.statusIndex)).size).to.equal(acks.length);
    expect(new Set(acks.map((a) => a.pseudonym)).size).to.equal(acks.length);
  });

  describe('after a restart on the same data folder', () => {
    let newcomer: { pseudonym: string; statusIndex: number };

    before(async () => {
      server = await spawnServer(tmp.dir);
    });

    it('still knows every acknowledged resident, by their token', async () => {
      const missing: string[] = [];
      await Promise.all(
        acks.map(async (a) => {
          const res = await fetch(`${server!.url}/v1/residents/me`, {
            headers: { authorization: `Bearer ${a.token}` },
          });
          if (res.status !== 200) return void missing.push(`${a.pseudonym}: ${res.status}`);
          const { resident } = (await res.json()) as { resident: { pseudonym: string; statusIndex: number } };
          if (resident.pseudonym !== a.pseudonym || resident.statusIndex !== a.statusIndex)
            missing.push(`${a.pseudonym}: ${JSON.stringify(resident)}`);
        }),
      );
      expect(missing).to.deep.equal([]);
    });

    it('answers a re-application of an acknowledged resident with 200 and the same record', async () => {
      const a = acks[0];
      const res = await applyWith(server!.url, a.token, a.body);
      expect(res.status).to.equal(200);
      const json = (await res.json()) as { resident: { pseudonym: string; statusIndex: number } };
      expect(json.resident).to.include({ pseudonym: a.pseudonym, statusIndex: a.statusIndex });
    });

    it('keeps signing in and accepting new residents', async () => {
      const body = applicant();
      const res = await applyWith(server!.url, await signInAs(server!.url, tmp.dir, body), body);
      expect(res.status).to.equal(201);
      newcomer = ((await res.json()) as { resident: typeof newcomer }).resident;
    });

    describe('once stopped', () => {
      before(async () => {
        server!.child.kill('SIGTERM');
        const exit = await server!.exited;
        expect(exit.code).to.equal(0);
        server = undefined;
      });

      it('has an intact hash chain (scripts/ledger-verify.ts exits 0)', async () => {
        const r = await runLedgerVerify(['--data-dir', tmp.dir]);
        expect(r.code, r.stdout + r.stderr).to.equal(0);
        expect(r.stdout).to.match(/^ok: \d+ events/);
      });

      it('holds each acknowledged resident once, with their events, and no status index twice', async () => {
        const ledger = await Ledger.open(join(tmp.dir, 'ledger'));
        try {
          const records: ResidentRecord[] = [];
          for await (const r of ledger.space('residents').values()) records.push(r as ResidentRecord);
          const byPseudonym = new Map(records.map((r) => [r.pseudonym, r]));
          expect(new Set(records.map((r) => r.statusIndex)).size).to.equal(records.length);
          expect(records.length).to.be.at.least(acks.length + 1);
          for (const r of records)
            expect(await ledger.read('residentsByIndex', String(r.statusIndex))).to.equal(r.pseudonym);
          let held = 0;
          for await (const _ of ledger.space('residentsByIndex').keys()) held++;
          expect(held, 'status indexes held').to.equal(records.length);
          expect(byPseudonym.get(newcomer.pseudonym)?.statusIndex).to.equal(newcomer.statusIndex);

          for (const a of acks) {
            expect(byPseudonym.get(a.pseudonym)?.statusIndex, a.pseudonym).to.equal(a.statusIndex);
            const seqs = await ledger.subjectSeqs(`r:${a.pseudonym}`);
            const types = await Promise.all(seqs.map(async (s) => (await ledger.getEvent(s))!.type));
            expect(
              types.filter((t) => t === 'resident.applied'),
              a.pseudonym,
            ).to.have.length(1);
            expect(types).to.include('code.issued');
          }
        } finally {
          await ledger.close();
        }
      });
    });
  });
});
