import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, statSync, truncateSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startDevNode, type DevNode } from '../../anchor/dev-node';
import { outboxFile, startService, type RunningService } from '../../server/bootstrap';
import { configSchema } from '../../server/config';
import { createLogger } from '../../server/http/log';
import { Ledger, seqKey } from '../../ledger/ledger';
import { verifyChain } from '../../ledger/verify-chain';
import { startServiceProcess, type ServiceProcess } from '../../scripts/lib/service-process';
import { signIn } from '../../scripts/lib/sign-in';
import { until } from '../../scripts/lib/wait';
import {
  apply,
  applicant,
  runLedgerVerify,
  startTestService,
  TestClock,
  type Application,
  type TestService,
} from '../support/service';
import { SIGN_UP_LIMITS } from '../support/running-service';
import { tempDir } from '../support/tmp';

const json = async (r: Response) => ({ status: r.status, headers: r.headers, body: (await r.json()) as any });
const applyWith = async (url: string, access: string, body: Application) =>
  json(
    await fetch(`${url}/v1/residents`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${access}` },
      body: JSON.stringify(body),
    }),
  );
const readyz = async (url: string) => json(await fetch(`${url}/readyz`));

/** Fills the file system holding `dir` with one file, until it refuses another byte. */
function fill(file: string): number {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  let written = 0;
  try {
    for (;;) written += writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd);
  }
  // The last partial chunk may have left a few bytes: take them too.
  const fd2 = openSync(file, 'a');
  try {
    for (;;) written += writeSync(fd2, Buffer.alloc(512, 1));
  } catch {
    // full
  } finally {
    closeSync(fd2);
  }
  return written;
}

function mountTmpfs(dir: string, size: string): string | undefined {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
    return undefined;
  } catch (e) {
    return String((e as { stderr?: Buffer }).stderr ?? (e as Error).message).trim();
  }
}

describe('readiness (/healthz, /readyz)', function () {
  this.timeout(180_000);

  describe('on a healthy service without a chain', () => {
    it('is alive and ready, with the ledger check only', async () => {
      const svc = await startTestService();
      try {
        expect((await svc.call('GET', '/healthz')).status).to.equal(200);
        const r = await svc.call('GET', '/readyz');
        expect(r.status).to.equal(200);
        expect(r.body).to.deep.include({ ready: true });
        expect(Object.keys(r.body.checks)).to.deep.equal(['ledger']);
        expect(r.body.checks.ledger).to.include({ ok: true, state: 'ok', writeFailures: 0 });
      } finally {
        await svc.close();
      }
    });
  });

  describe('when the disk fills up and is freed again', () => {
    const tmp = tempDir('ankang-full-');
    const mnt = join(tmp.dir, 'mnt');
    let mountError: string | undefined;
    let server: ServiceProcess | undefined;
    const lines: Array<Record<string, any>> = [];
    const people = Array.from({ length: 60 }, () => applicant());
    const tokens: string[] = [];
    const acked: Array<{ token: string; pseudonym: string }> = [];
    const refused: string[] = [];
    let dataDir: string;
    let filler: string;
    let next = 0;

    const spawn = () =>
      startServiceProcess({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'info', ...SIGN_UP_LIMITS });
    const watch = (s: ServiceProcess) =>
      createInterface({ input: s.child.stdout! }).on('line', (l) => {
        try {
          lines.push(JSON.parse(l));
        } catch {
          // not a log line
        }
      });

    before(async function () {
      mkdirSync(mnt);
      mountError = mountTmpfs(mnt, '16m');
      if (mountError) {
        // No privilege to mount: the injected variant below runs instead.
        console.log(
          `      (cannot mount a tmpfs: ${mountError}; the full disk is injected at the LevelDB batch write instead)`,
        );
        return;
      }
      dataDir = join(mnt, 'data');
      filler = join(mnt, 'filler');
      server = await spawn();
      watch(server);
      for (let i = 0; i < people.length; i += 8) {
        const batch = people.slice(i, i + 8);
        const sessions = await Promise.all(
          batch.map((p) =>
            signIn(
              server!.url,
              { idType: p.idType, idNumber: p.idNumber, name: p.name, phone: p.phone },
              { codes: outboxFile({ DATA_DIR: dataDir } as never) },
            ),
          ),
        );
        tokens.push(...sessions.map((s) => s.access));
      }
      for (; next < 5; next++) {
        const r = await applyWith(server.url, tokens[next], people[next]);
        expect(r.status).to.equal(201);
        acked.push({ token: tokens[next], pseudonym: r.body.resident.pseudonym });
      }
    });

    after(async () => {
      await server?.stop();
      if (!mountError) execFileSync('umount', ['-l', mnt]);
      tmp.cleanup();
    });

    it('refuses applications with 503 LEDGER_UNAVAILABLE once a write fails, and says why in /readyz', async function () {
      if (mountError) return this.skip();
      const url = server!.url;
      fill(filler);
      // The log file's last page may still take a write or two.
      let first: Awaited<ReturnType<typeof applyWith>> | undefined;
      while (next < 40) {
        const i = next++;
        const r = await applyWith(url, tokens[i], people[i]);
        if (r.status === 201) acked.push({ token: tokens[i], pseudonym: r.body.resident.pseudonym });
        else {
          first = r;
          refused.push(tokens[i]);
          break;
        }
      }
      expect(first?.status, 'an application on a full disk').to.equal(503);
      expect(first!.body.error.code).to.equal('LEDGER_UNAVAILABLE');
      const ready = await readyz(url);
      expect(ready.status).to.equal(503);
      expect(ready.body.ready).to.equal(false);
      expect(ready.body.checks.ledger).to.include({
        ok: false,
        state: 'failing',
        reason: 'ENOSPC: no space left on device',
      });
      expect(ready.body.checks.ledger.writeFailures).to.be.at.least(1);
      expect(JSON.stringify(ready.body)).to.not.include(mnt);
      // Refused at once while it lasts, with a hint to retry.
      const again = await applyWith(url, tokens[next], people[next]);
      refused.push(tokens[next++]);
      expect(again.status).to.equal(503);
      expect(again.headers.get('retry-after')).to.equal('1');
      // Alive, and reads go on.
      expect((await fetch(`${url}/healthz`)).status).to.equal(200);
      expect((await fetch(`${url}/v1/ledger/head`)).status).to.equal(200);
    });

    it('logs the failure once, with its cause', async function () {
      if (mountError) return this.skip();
      const failed = lines.filter((l) => l.msg?.startsWith('ledger: a write failed'));
      expect(failed).to.have.length(1);
      expect(failed[0]).to.include({ level: 'error', cause: 'ENOSPC: no space left on device' });
      expect(failed[0].error).to.match(/No space left on device/);
    });

    it('takes writes again without a restart once space is freed, and logs the recovery', async function () {
      if (mountError) return this.skip();
      const url = server!.url;
      unlinkSync(filler);
      const ready = await until(
        '/readyz to answer 200',
        async () => ((await readyz(url)).status === 200 ? true : undefined),
        20_000,
      );
      expect(ready).to.equal(true);
      for (const i of [next, next + 1, next + 2]) {
        const r = await applyWith(url, tokens[i], people[i]);
        expect(r.status, JSON.stringify(r.body)).to.equal(201);
        acked.push({ token: tokens[i], pseudonym: r.body.resident.pseudonym });
      }
      next += 3;
      const recovered = lines.filter((l) => l.msg === 'ledger: writes accepted again');
      expect(recovered).to.have.length(1);
      expect(recovered[0].level).to.equal('info');
    });

    it('after a crash, holds every acknowledged resident and none of the refused ones', async function () {
      if (mountError) return this.skip();
      server!.child.kill('SIGKILL');
      await server!.exited;
      server = await spawn();
      const url = server.url;
      const me = async (t: string) => {
        const r = await fetch(`${url}/v1/residents/me`, { headers: { authorization: `Bearer ${t}` } });
        return r.status === 200
          ? ((await r.json()) as { resident: { pseudonym: string } }).resident.pseudonym
          : r.status;
      };
      expect(acked.length).to.be.at.least(8);
      expect(await Promise.all(acked.map((a) => me(a.token)))).to.deep.equal(acked.map((a) => a.pseudonym));
      expect(await Promise.all(refused.map(me))).to.deep.equal(refused.map(() => 404));
      await server.stop();
      server = undefined;
      const verify = await runLedgerVerify(['--data-dir', dataDir]);
      expect(verify.code, verify.stdout + verify.stderr).to.equal(0);
    });
  });

  describe('when a write fails at the LevelDB layer (injected; the variant for machines that cannot mount)', () => {
    it('answers 503, reports the cause, and recovers once writes succeed again', async () => {
      const svc = await startTestService({ captureLog: 'info' });
      try {
        const db = svc.running.app.ledger.db as unknown as {
          batch: () => { write: (o: unknown) => Promise<void> };
          put: (...a: unknown[]) => Promise<void>;
        };
        const realBatch = db.batch.bind(db);
        const realPut = db.put.bind(db);
        let full = true;
        const enospc = () => new Error('IO error: /somewhere/ledger/000003.log: No space left on device');
        db.batch = () => {
          const b = realBatch();
          const write = b.write.bind(b);
          b.write = (o: unknown) => (full ? Promise.reject(enospc()) : write(o));
          return b;
        };
        db.put = (...a: unknown[]) => (full ? Promise.reject(enospc()) : realPut(...a));
        const token = await svc.token('health').catch((e: Error) => e);
        expect(String(token)).to.match(/503/);
        const r = await svc.call('GET', '/readyz');
        expect(r.status).to.equal(503);
        expect(r.body.checks.ledger).to.include({ ok: false, reason: 'ENOSPC: no space left on device' });
        full = false;
        await until(
          '/readyz to answer 200',
          async () => ((await svc.call('GET', '/readyz')).status === 200 ? true : undefined),
          10_000,
        );
        expect(await svc.token('health')).to.be.a('string');
        expect(svc.logs.filter((l) => l.includes('ledger: a write failed'))).to.have.length(1);
        expect(svc.logs.filter((l) => l.includes('ledger: writes accepted again'))).to.have.length(1);
      } finally {
        await svc.close();
      }
    });
  });

  describe('when the ledger lost events the chain has anchored (a truncated LevelDB log)', () => {
    let tmp: ReturnType<typeof tempDir>;
    let node: DevNode;
    let svc: RunningService | undefined;
    const logs: string[] = [];
    let anchoredSize = 0;
    let headAfter = 0;
    let startedAt = 0;

    const start = () =>
      startService(
        configSchema.parse({
          PORT: '0',
          DATA_DIR: tmp.dir,
          LOG_LEVEL: 'info',
          CHAIN_RPC_URL: node.url,
          CHAIN_DEV: 'true',
          CHECKPOINT_INTERVAL_SECONDS: '1',
          ...SIGN_UP_LIMITS,
        }),
        { env: {}, log: createLogger('info', (l) => logs.push(l)) },
      );

    before(async () => {
      tmp = tempDir('ankang-trunc-');
      node = await startDevNode();
      svc = await start();
      for (let i = 0; i < 6; i++) {
        const p = applicant();
        const { access } = await signIn(
          svc.url,
          { idType: p.idType, idNumber: p.idNumber, name: p.name, phone: p.phone },
          { codes: outboxFile(svc.app.config) },
        );
        expect((await applyWith(svc.url, access, p)).status).to.equal(201);
      }
      const s = svc;
      const cp = await until('a checkpoint covering the ledger', async () => {
        const c = s.app.anchorer!.checkpoint;
        return c && c.treeSize >= s.app.ledger.getHead().seq - 1 ? c : undefined;
      });
      anchoredSize = cp.treeSize;
      await svc.close();
      svc = undefined;
      // Everything since the ledger was created is in its newest log: cut it to a third.
      const dir = join(tmp.dir, 'ledger');
      const log = readdirSync(dir)
        .filter((f) => f.endsWith('.log'))
        .sort()
        .pop()!;
      truncateSync(join(dir, log), Math.floor(statSync(join(dir, log)).size / 3));
      const ledger = await Ledger.open(dir);
      headAfter = ledger.getHead().seq;
      await ledger.close();
      logs.length = 0;
      svc = await start();
    });

    after(async () => {
      await svc?.close();
      await node?.stop();
      tmp?.cleanup();
    });

    it('lost anchored events (the premise)', () => {
      expect(headAfter).to.be.below(anchoredSize);
    });

    it('is alive but not ready, naming the missing events and the ledger:verify command', async () => {
      expect((await fetch(`${svc!.url}/healthz`)).status).to.equal(200);
      const r = await readyz(svc!.url);
      expect(r.status).to.equal(503);
      expect(r.body.ready).to.equal(false);
      expect(r.body.checks.ledger).to.include({ ok: false, state: 'diverged' });
      // Start-up itself may have re-recorded what the cut log lost (the default rule set, the issuer key) before the chain was asked.
      startedAt = svc!.app.ledger.getHead().seq;
      expect(startedAt).to.be.below(anchoredSize);
      expect(r.body.checks.ledger.reason).to.include(
        `the chain has a checkpoint of ${anchoredSize} events but the ledger has ${startedAt}`,
      );
      expect(r.body.checks.ledger.action).to.equal(
        `stop the service and run: npm run ledger:verify -- --data-dir ${tmp.dir}`,
      );
      expect(r.body.checks.anchor).to.include({ ok: false, state: 'diverged' });
    });

    it('refuses writes with 503 LEDGER_DIVERGED', async () => {
      const r = await json(
        await fetch(`${svc!.url}/v1/admin/tokens`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${svc!.app.secrets.adminToken}` },
          body: JSON.stringify({ role: 'health', name: 'after the loss' }),
        }),
      );
      expect(r.status).to.equal(503);
      expect(r.body.error.code).to.equal('LEDGER_DIVERGED');
      expect(svc!.app.ledger.getHead().seq).to.equal(startedAt);
    });

    it('still answers reads', async () => {
      const head = await json(await fetch(`${svc!.url}/v1/ledger/head`));
      expect(head.status).to.equal(200);
      expect(head.body.seq).to.equal(startedAt);
      expect((await fetch(`${svc!.url}/v1/trust-list`)).status).to.equal(200);
      expect((await fetch(`${svc!.url}/v1/status-list`)).status).to.equal(200);
      expect((await fetch(`${svc!.url}/v1/anchor/status`)).status).to.equal(200);
    });

    it('logs one error line that names the command to run', () => {
      const refused = logs.map((l) => JSON.parse(l)).filter((l) => l.msg.startsWith('ledger: writes refused'));
      expect(refused).to.have.length(1);
      expect(refused[0].level).to.equal('error');
      expect(refused[0].msg).to.include(`npm run ledger:verify -- --data-dir ${tmp.dir}`);
    });
  });

  describe('while the chain is down', () => {
    let node: DevNode;
    let svc: TestService;
    const clock = new TestClock();

    before(async () => {
      node = await startDevNode();
      svc = await startTestService({
        clock,
        config: {
          CHAIN_RPC_URL: node.url,
          CHAIN_DEV: 'true',
          CHECKPOINT_INTERVAL_SECONDS: '1',
          READY_MAX_ANCHOR_LAG_SECONDS: '60',
        },
      });
    });
    after(async () => {
      try {
        process.kill(-node.pid, 'SIGCONT');
      } catch {
        // not paused
      }
      await svc?.close();
      await node?.stop();
    });

    it('stays ready until an event has waited longer than READY_MAX_ANCHOR_LAG_SECONDS, and is ready again once it is anchored', async () => {
      expect((await apply(svc, applicant())).status).to.equal(201);
      const anchorer = svc.running.app.anchorer!;
      await until('a checkpoint', async () => (anchorer.checkpoint ? true : undefined));
      expect((await svc.call('GET', '/readyz')).body.checks.chain).to.include({ ok: true, state: 'up' });

      process.kill(-node.pid, 'SIGSTOP');
      expect((await apply(svc, applicant())).status).to.equal(201);
      // The test clock stands still: move it past the checkpoint interval so that a checkpoint is due.
      clock.advance(2_000);
      await until(
        'the anchorer to find the chain down',
        async () => (anchorer.state === 'down' ? true : undefined),
        90_000,
      );
      let r = await svc.call('GET', '/readyz');
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      expect(r.body.checks.chain).to.include({ ok: true, state: 'down', maxLagSeconds: 60 });

      clock.advance(120_000);
      r = await svc.call('GET', '/readyz');
      expect(r.status).to.equal(503);
      expect(r.body.checks.chain.ok).to.equal(false);
      expect(r.body.checks.chain.reason).to.match(
        /^the chain is down and event \d+ has waited 122 s to be anchored \(limit 60 s\)$/,
      );
      expect(r.body.checks.ledger.ok).to.equal(true);
      expect(r.body.checks.anchor.ok).to.equal(true);

      process.kill(-node.pid, 'SIGCONT');
      await until(
        '/readyz to answer 200 again',
        async () => ((await svc.call('GET', '/readyz')).status === 200 ? true : undefined),
        90_000,
      );
    });
  });

  describe('the ledger itself', () => {
    let tmp: ReturnType<typeof tempDir>;
    beforeEach(() => (tmp = tempDir('ankang-ledger-')));
    afterEach(() => tmp.cleanup());

    it('opens refusing writes when its stored head is not its last event, and still reads', async () => {
      let ledger = await Ledger.open(join(tmp.dir, 'db'));
      for (let i = 0; i < 3; i++)
        await ledger.transact((tx) => tx.append({ type: 't', subjects: ['r:a'], data: { i } }));
      await ledger.space('events').del(seqKey(3));
      await ledger.close();
      const diverged: string[] = [];
      ledger = await Ledger.open(join(tmp.dir, 'db'), undefined, { onDiverged: (r) => diverged.push(r) });
      try {
        expect(ledger.health()).to.include({
          ok: false,
          state: 'diverged',
          reason: 'the stored head is event 3 but the last event stored is 2',
        });
        expect(diverged).to.have.length(1);
        const err = await ledger
          .transact((tx) => tx.append({ type: 't', data: {} }))
          .then(
            () => undefined,
            (e: { code?: string }) => e,
          );
        expect(err?.code).to.equal('LEDGER_DIVERGED');
        expect((await ledger.getEvent(2))?.seq).to.equal(2);
        // A transaction that only reads still runs.
        expect(await ledger.transact(async (tx) => (await tx.get<{ seq: number }>('meta', 'head'))?.seq)).to.equal(3);
      } finally {
        await ledger.close();
      }
    });

    it('rejects every transaction of a failed group and those built on it, then continues the chain from the committed head', async () => {
      const ledger = await Ledger.open(join(tmp.dir, 'db'), undefined, { probeIntervalMs: 50 });
      try {
        await ledger.transact((tx) => tx.append({ type: 'before', subjects: ['r:a'], data: {} }));
        const db = ledger.db as unknown as { batch: () => { write: (o: unknown) => Promise<void> } };
        const realBatch = db.batch.bind(db);
        let failNext = true;
        db.batch = () => {
          const b = realBatch();
          const write = b.write.bind(b);
          b.write = (o: unknown) => {
            if (!failNext) return write(o);
            failNext = false;
            return Promise.reject(new Error('IO error: /x/000003.log: No space left on device'));
          };
          return b;
        };
        // The first group fails; the others were built on its state while it was being written.
        const results = await Promise.allSettled(
          Array.from({ length: 20 }, (_, i) =>
            ledger.transact((tx) => tx.append({ type: 'during', subjects: ['r:a'], data: { i } })),
          ),
        );
        const rejected = results.filter((r) => r.status === 'rejected');
        expect(rejected.length).to.be.at.least(1);
        for (const r of rejected) expect((r as PromiseRejectedResult).reason.code).to.equal('LEDGER_UNAVAILABLE');
        expect(ledger.writeFailures).to.equal(1);
        await until('writes to be accepted again', async () => (ledger.health().ok ? true : undefined), 10_000, 20);
        const e = await ledger.transact((tx) => tx.append({ type: 'after', subjects: ['r:a'], data: {} }));
        const fulfilled = results.filter((r) => r.status === 'fulfilled').length;
        expect(e.seq).to.equal(2 + fulfilled);
        expect(await verifyChain(ledger)).to.include({ ok: true, events: 2 + fulfilled });
      } finally {
        await ledger.close();
      }
    });
  });
});
