import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { Level } from 'level';
import { startServiceProcess } from '../../scripts/lib/service-process';
import { makePrivateDir } from '../../server/crypto/private-dir';
import { SECRET_PATHS } from '../../server/crypto/secrets-dir';
import { openFacts } from '../../server/services/facts-store';
import { SEALED_AT_REST_VERSION } from '../../server/services/at-rest';
import {
  applicant,
  apply,
  ROOT,
  shanghaiDate,
  startTestService,
  TestClock,
  type TestService,
} from '../support/service';
import { tempDir } from '../support/tmp';

/** Every file under `dir`, with its mode, folders included. */
function walk(dir: string): Array<{ path: string; mode: number; folder: boolean }> {
  const out = [];
  const st = lstatSync(dir);
  out.push({ path: dir, mode: st.mode & 0o777, folder: st.isDirectory() });
  if (st.isDirectory()) for (const name of readdirSync(dir)) out.push(...walk(join(dir, name)));
  return out;
}

/** The bytes of every file under `dir`, as LevelDB left them on disk. */
const rawBytes = (dir: string) =>
  Buffer.concat(
    walk(dir)
      .filter((f) => !f.folder)
      .map((f) => readFileSync(f.path)),
  );

/** Every key and value of the service's LevelDB, through a plain handle (no sealing layer). */
async function dumpLedger(dir: string): Promise<Array<[string, string]>> {
  const db = new Level<string, string>(join(dir, 'ledger'), { valueEncoding: 'utf8' });
  try {
    const out: Array<[string, string]> = [];
    for await (const entry of db.iterator()) out.push(entry);
    return out;
  } finally {
    await db.close();
  }
}

/** Runs `server/main.ts` (optionally as another user via setpriv) until it exits or listens. */
function runService(
  env: Record<string, string>,
  asUid?: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const k of [
    'DATA_DIR',
    'SECRETS_DIR',
    'ADMIN_TOKEN',
    'ANKANG_PSEUDONYM_KEY',
    'ANKANG_ENCRYPTION_KEY',
    'ANKANG_SIGNING_KEY',
    'CHAIN_RPC_URL',
  ])
    delete base[k];
  const node = [process.execPath, '--import', 'tsx', join(ROOT, 'server/main.ts')];
  const [cmd, ...args] =
    asUid === undefined ? node : ['setpriv', `--reuid=${asUid}`, `--regid=${asUid}`, '--clear-groups', ...node];
  const child = spawn(cmd, args, {
    cwd: ROOT,
    env: { ...base, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    // A service that started is not what these runs expect: stop it, and let the assertions say so.
    if (stdout.includes('"listening"')) child.kill('SIGTERM');
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((done) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    }),
  );
}

const FEVER = 38.7;
const SYMPTOM = 'loss-of-taste';
const VISITED = '420106';
const APPEAL = '那天我一直在家，体温计坏了';
const DECISION = 'Reviewer checked the thermometer log';
const NOTE = 'Lives with grandmother, asked for masks';
const OVERRIDE = 'Override: the fever was a sauna visit, confirmed by phone';
const DAILY_SYMPTOM = 'sore-throat';

describe('data at rest', function () {
  this.timeout(120_000);

  describe('health facts, appeal and decision reasons, and visit notes', () => {
    let tmp: ReturnType<typeof tempDir>;
    let svc: TestService;
    let resident: Awaited<ReturnType<typeof apply>>;
    let health: string;
    let appealId: string;
    let overridden: Awaited<ReturnType<typeof apply>>;
    const clock = new TestClock();
    const person = applicant();

    before(async () => {
      tmp = tempDir('ankang-at-rest-');
      svc = await startTestService({ dir: tmp.dir, clock });
      resident = await apply(svc, {
        ...person,
        declaration: {
          temperatureC: FEVER,
          symptoms: [SYMPTOM],
          visited: [{ region: VISITED, date: shanghaiDate(clock, 2) }],
          contactWithCase: false,
        },
      });
      expect(resident.status, JSON.stringify(resident.body)).to.equal(201);
      health = await svc.token('health');
      const appeal = await svc.call('POST', '/v1/appeals', { token: resident.token, json: { reason: APPEAL } });
      expect(appeal.status, JSON.stringify(appeal.body)).to.equal(201);
      appealId = appeal.body.id;
      const decision = await svc.call('POST', `/v1/appeals/${appealId}/decision`, {
        token: health,
        json: { decision: 'reject', reason: DECISION },
      });
      expect(decision.status, JSON.stringify(decision.body)).to.equal(200);
      const pseudonym = resident.body.resident.pseudonym;
      const visit = await svc.call('POST', '/v1/grid/visits', {
        token: health,
        json: { pseudonym, outcome: 'verified', note: NOTE },
      });
      expect(visit.status, JSON.stringify(visit.body)).to.equal(201);
      const daily = await svc.call('POST', '/v1/checkins/daily', {
        token: resident.token,
        json: { temperatureC: FEVER, symptoms: [DAILY_SYMPTOM] },
      });
      expect(daily.status, JSON.stringify(daily.body)).to.equal(201);
      const cases = await svc.call('POST', '/v1/feeds/cases', {
        token: health,
        json: {
          records: [
            { idType: person.idType, idNumber: person.idNumber, status: 'suspected', at: clock.now().toISOString() },
          ],
        },
      });
      expect(cases.status, JSON.stringify(cases.body)).to.equal(201);
      // A second resident whose appeal ends in an override: the reviewer's reason goes on their record.
      overridden = await apply(
        svc,
        applicant({ declaration: { temperatureC: FEVER, symptoms: [], visited: [], contactWithCase: false } }),
      );
      const second = await svc.call('POST', '/v1/appeals', { token: overridden.token, json: { reason: APPEAL } });
      expect(second.status, JSON.stringify(second.body)).to.equal(201);
      const override = await svc.call('POST', `/v1/appeals/${second.body.id}/decision`, {
        token: health,
        json: { decision: 'override', colour: 'green', reason: OVERRIDE },
      });
      expect(override.status, JSON.stringify(override.body)).to.equal(200);
    });

    after(async () => {
      await svc?.stop();
      tmp?.cleanup();
    });

    it('still gives each text to whoever may see it, and the rules still read the facts', async () => {
      const mine = await svc.call('GET', '/v1/residents/me/appeals', { token: resident.token });
      expect(mine.body.appeals[0].reason).to.equal(APPEAL);
      expect(mine.body.appeals[0].decision.reason).to.equal(DECISION);
      const visits = await svc.call('GET', `/v1/grid/residents/${resident.body.resident.pseudonym}/visits`, {
        token: health,
      });
      expect(visits.body.visits.map((v: { note: string }) => v.note)).to.deep.equal([NOTE]);
      const me = await svc.call('GET', '/v1/residents/me', { token: resident.token });
      // The suspected case (from the feed) and the fever (from the check-in) are read back from sealed facts.
      expect(me.body.resident.reasons.map((r: { id: string }) => r.id)).to.include.members([
        'confirmed-or-suspected-case',
        'fever',
        'symptoms',
      ]);
      // The override's reason is the resident's to read; the reasons list (grid workers see it) says only what happened.
      const theirs = await svc.call('GET', '/v1/residents/me', { token: overridden.token });
      expect(theirs.body.resident.override).to.include({ colour: 'green', reason: OVERRIDE });
      expect(JSON.stringify(theirs.body.resident.reasons)).not.to.include(OVERRIDE);
    });

    it('keeps none of them in clear in the LevelDB, read through a plain handle or as raw files', async () => {
      await svc.stop();
      const pseudonym = resident.body.resident.pseudonym as string;
      const entries = await dumpLedger(tmp.dir);
      const facts = entries.filter(([k]) => k.startsWith('!facts!'));
      expect(facts.map(([k]) => k)).to.have.members([
        `!facts!${pseudonym}`,
        `!facts!${overridden.body.resident.pseudonym}`,
      ]);
      for (const [, v] of facts) expect(Object.keys(JSON.parse(v))).to.deep.equal(['sealed']);
      const all = entries.map(([k, v]) => `${k} ${v}`).join('\n');
      // The dump does hold the resident: what is missing is missing because it is sealed.
      expect(all).to.include(pseudonym);
      for (const clear of [
        'temperatureC',
        String(FEVER),
        SYMPTOM,
        DAILY_SYMPTOM,
        VISITED,
        APPEAL,
        DECISION,
        NOTE,
        OVERRIDE,
      ])
        expect(all, clear).not.to.include(clear);
      expect(facts[0][1]).not.to.include('suspected');
      const raw = rawBytes(tmp.dir);
      expect(raw.includes(Buffer.from(pseudonym))).to.equal(true);
      for (const clear of ['temperatureC', SYMPTOM, DAILY_SYMPTOM, VISITED, APPEAL, DECISION, NOTE])
        expect(raw.includes(Buffer.from(clear)), clear).to.equal(false);
    });

    it('binds sealed facts to their resident: they do not open under another pseudonym', async () => {
      const key = Buffer.from(
        (JSON.parse(readFileSync(join(tmp.dir, 'secrets.json'), 'utf8')) as { encryptionKey: string }).encryptionKey,
        'base64',
      );
      const [[k, v]] = (await dumpLedger(tmp.dir)).filter(([key]) => key.startsWith('!facts!'));
      const pseudonym = k.slice('!facts!'.length);
      const stored = JSON.parse(v) as unknown;
      expect(openFacts(key, pseudonym, stored)!.declaration!.temperatureC).to.equal(FEVER);
      expect(() => openFacts(key, `${pseudonym.slice(1)}A`, stored)).to.throw();
    });
  });

  describe('a data folder from before sealing', () => {
    let tmp: ReturnType<typeof tempDir>;
    const clock = new TestClock();
    const person = applicant();

    before(() => {
      tmp = tempDir('ankang-at-rest-old-');
    });
    after(() => tmp?.cleanup());

    it('is sealed once at start, keeps working, and keeps no clear text in older LevelDB files', async () => {
      let svc = await startTestService({ dir: tmp.dir, clock });
      const r = await apply(svc, {
        ...person,
        declaration: { ...person.declaration, temperatureC: FEVER, symptoms: [SYMPTOM] },
      });
      const appeal = await svc.call('POST', '/v1/appeals', { token: r.token, json: { reason: APPEAL } });
      const decision = await svc.call('POST', `/v1/appeals/${appeal.body.id}/decision`, {
        token: await svc.token('health'),
        json: { decision: 'reject', reason: DECISION },
      });
      expect(decision.status).to.equal(200);
      const other = applicant();
      const o = await apply(svc, other);
      const otherAppeal = await svc.call('POST', '/v1/appeals', { token: o.token, json: { reason: APPEAL } });
      const override = await svc.call('POST', `/v1/appeals/${otherAppeal.body.id}/decision`, {
        token: await svc.token('health'),
        json: { decision: 'override', colour: 'green', reason: OVERRIDE },
      });
      expect(override.status).to.equal(200);
      await svc.stop();

      // Put the folder back as the code before sealing wrote it: facts and the decision's reason in clear, no version mark.
      const key = Buffer.from(
        (JSON.parse(readFileSync(join(tmp.dir, 'secrets.json'), 'utf8')) as { encryptionKey: string }).encryptionKey,
        'base64',
      );
      const db = new Level<string, string>(join(tmp.dir, 'ledger'), { valueEncoding: 'utf8' });
      for await (const [k, v] of db.iterator()) {
        if (k.startsWith('!facts!'))
          await db.put(k, JSON.stringify(openFacts(key, k.slice('!facts!'.length), JSON.parse(v))));
        if (k.startsWith('!index!appeal/')) {
          const a = JSON.parse(v) as { decision: { reasonSealed?: string; reason?: string } };
          delete a.decision.reasonSealed;
          a.decision.reason = DECISION;
          await db.put(k, JSON.stringify(a));
        }
        if (k === `!residents!${o.body.resident.pseudonym}`) {
          // Before version 2 the reviewer's reason sat in clear on the override and in the reasons list.
          const rec = JSON.parse(v) as {
            override: { reasonSealed?: string; reason?: string };
            reasons: Array<{ id: string; reason: unknown }>;
          };
          delete rec.override.reasonSealed;
          rec.override.reason = OVERRIDE;
          rec.reasons = rec.reasons.map((x) =>
            x.id === 'authority-override' ? { ...x, reason: { zh: OVERRIDE, en: OVERRIDE } } : x,
          );
          await db.put(k, JSON.stringify(rec));
        }
      }
      await db.del('!meta!sealedAtRestVersion');
      await db.close();
      const before = rawBytes(tmp.dir);
      expect(before.includes(Buffer.from('temperatureC'))).to.equal(true);
      expect(before.includes(Buffer.from(DECISION))).to.equal(true);
      expect(before.includes(Buffer.from(OVERRIDE))).to.equal(true);

      svc = await startTestService({ dir: tmp.dir, clock });
      try {
        const { access } = await svc.signIn(person);
        // A code refresh re-runs the rules on the migrated facts: the fever still makes the colour.
        expect((await svc.call('GET', '/v1/residents/me/code', { token: access })).status).to.equal(200);
        const me = await svc.call('GET', '/v1/residents/me', { token: access });
        expect(me.body.resident.colour).to.equal('yellow');
        expect(me.body.resident.reasons.map((x: { id: string }) => x.id)).to.include.members(['fever', 'symptoms']);
        const mine = await svc.call('GET', '/v1/residents/me/appeals', { token: access });
        expect(mine.body.appeals[0].reason).to.equal(APPEAL);
        const theirs = await svc.call('GET', '/v1/residents/me', { token: (await svc.signIn(other)).access });
        expect(theirs.body.resident.override).to.include({ colour: 'green', reason: OVERRIDE });
        expect(mine.body.appeals[0].decision.reason).to.equal(DECISION);
      } finally {
        await svc.stop();
      }
      const after = rawBytes(tmp.dir);
      for (const clear of ['temperatureC', SYMPTOM, DECISION, OVERRIDE])
        expect(after.includes(Buffer.from(clear)), clear).to.equal(false);
      const marks = (await dumpLedger(tmp.dir)).filter(([k]) => k === '!meta!sealedAtRestVersion');
      expect(marks.map(([, v]) => v)).to.deep.equal([String(SEALED_AT_REST_VERSION)]);
    });
  });

  describe('the data folder’s modes at start', () => {
    const mounts: string[] = [];
    let tmp: ReturnType<typeof tempDir>;
    beforeEach(() => {
      tmp = tempDir('ankang-modes-');
      chmodSync(tmp.dir, 0o755);
    });
    afterEach(() => {
      for (const m of mounts.splice(0)) spawnSyncOk('umount', [m]);
      tmp?.cleanup();
    });

    it('makes a 0755 folder with 0644 files 0700/0600 and starts; files written while running are 0600', async () => {
      const data = join(tmp.dir, 'data');
      const first = await startTestService({ dir: data });
      await apply(first, applicant());
      await first.stop();
      for (const f of walk(data)) chmodSync(f.path, f.folder ? 0o755 : 0o644);
      expect(walk(data).filter((f) => f.mode === 0o644).length).to.be.above(5);

      const svc = await startServiceProcess({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: data, LOG_LEVEL: 'silent' });
      try {
        expect((await fetch(`${svc.url}/healthz`)).status).to.equal(200);
        const loose = walk(data).filter((f) => f.mode !== (f.folder ? 0o700 : 0o600));
        expect(loose.map((f) => `${f.path} ${f.mode.toString(8)}`)).to.deep.equal([]);
      } finally {
        await svc.stop();
      }
      // LevelDB wrote new files while it ran (and at close): the umask kept them private.
      const loose = walk(data).filter((f) => f.mode !== (f.folder ? 0o700 : 0o600));
      expect(loose.map((f) => `${f.path} ${f.mode.toString(8)}`)).to.deep.equal([]);
    });

    it('follows DATA_DIR when it is a link to the folder, and leaves links inside it alone', () => {
      const volume = join(tmp.dir, 'volume');
      const outside = join(tmp.dir, 'outside.txt');
      mkdirSync(join(volume, 'ledger'), { recursive: true });
      writeFileSync(join(volume, 'ledger', 'CURRENT'), 'x');
      writeFileSync(outside, 'x');
      for (const p of [volume, join(volume, 'ledger')]) chmodSync(p, 0o755);
      for (const p of [join(volume, 'ledger', 'CURRENT'), outside]) chmodSync(p, 0o644);
      symlinkSync(outside, join(volume, 'link'));
      symlinkSync(volume, join(tmp.dir, 'data'));
      makePrivateDir(join(tmp.dir, 'data'), 'DATA_DIR');
      expect(
        [volume, join(volume, 'ledger'), join(volume, 'ledger', 'CURRENT'), outside].map((p) =>
          (statSync(p).mode & 0o777).toString(8),
        ),
      ).to.deep.equal(['700', '700', '600', '644']);
    });

    it('refuses to start, in one line and with nothing created, on a world-readable folder its user does not own', async function () {
      // The service runs as nobody here: it must be able to read this checkout. A clean clone in a
      // private folder (mktemp -d is 0700) cannot be; the read-only mount below refuses the same way.
      const readable =
        spawnSync('setpriv', [
          '--reuid=65534',
          '--regid=65534',
          '--clear-groups',
          'test',
          '-r',
          join(ROOT, 'server/main.ts'),
        ]).status === 0;
      if (!readable) {
        console.log(`      (not run: user 65534 cannot read ${ROOT}; the read-only mount case covers the refusal)`);
        this.skip();
      }
      const data = join(tmp.dir, 'data');
      mkdirSync(data, { mode: 0o755 });
      chmodSync(data, 0o755);
      const run = await runService({ DATA_DIR: data }, 65534);
      expect(run.code).to.equal(1);
      expect(run.stdout).to.equal('');
      const lines = run.stderr.trim().split('\n');
      expect(lines).to.have.length(1);
      expect(lines[0]).to.include(`DATA_DIR ${data} is mode 0755, readable by its group and other users`);
      expect(lines[0]).to.match(/does not own it; .*chmod -R go-rwx/);
      expect(readdirSync(data)).to.deep.equal([]);
      expect(statSync(data).mode & 0o777).to.equal(0o755);
    });

    it('refuses to start on a world-readable folder on a read-only file system', async () => {
      const data = join(tmp.dir, 'ro');
      mkdirSync(data);
      spawnSyncOk('mount', ['-t', 'tmpfs', '-o', 'mode=0755,ro', 'tmpfs', data]);
      mounts.push(data);
      const run = await runService({ DATA_DIR: data });
      expect(run.code).to.equal(1);
      const lines = run.stderr.trim().split('\n');
      expect(lines).to.have.length(1);
      expect(lines[0]).to.include(
        `DATA_DIR ${data} is mode 0755, readable by its group and other users, and cannot be made 0700: it is on a read-only file system`,
      );
      expect(readdirSync(data)).to.deep.equal([]);
    });
  });

  describe('SECRETS_DIR', () => {
    let tmp: ReturnType<typeof tempDir>;
    let data: string;
    let secrets: string;
    const person = applicant();
    const clock = new TestClock();

    before(() => {
      tmp = tempDir('ankang-secrets-');
      data = join(tmp.dir, 'data');
      secrets = join(tmp.dir, 'secrets');
    });
    after(() => tmp?.cleanup());

    it('holds secrets.json, the signing keys and the provider’s keys, none of them in DATA_DIR, all private', async () => {
      const svc = await startTestService({ dir: data, clock, config: { SECRETS_DIR: secrets } });
      let kid: string;
      try {
        const r = await apply(svc, person);
        expect(r.status, JSON.stringify(r.body)).to.equal(201);
        expect((await svc.call('POST', '/v1/appeals', { token: r.token, json: { reason: APPEAL } })).status).to.equal(
          201,
        );
        kid = svc.running.app.keys.active().record.kid;
      } finally {
        await svc.stop();
      }
      for (const p of ['secrets.json', `keys/${kid}.pem`, 'idp/secrets.json', 'idp/jwks.json', 'idp/cookie-keys.json'])
        expect(existsSync(join(secrets, p)), p).to.equal(true);
      for (const p of SECRET_PATHS) expect(existsSync(join(data, p)), p).to.equal(false);
      expect(existsSync(join(data, 'ledger', 'CURRENT'))).to.equal(true);
      expect(existsSync(join(data, 'idp', 'accounts'))).to.equal(true);
      const loose = walk(secrets).filter((f) => f.mode !== (f.folder ? 0o700 : 0o600));
      expect(loose.map((f) => f.path)).to.deep.equal([]);
    });

    it('is read again at restart: the same key signs, and sealed data and pseudonyms read back', async () => {
      const stored = JSON.parse(readFileSync(join(secrets, 'secrets.json'), 'utf8')) as { adminToken: string };
      const svc = await startTestService({ dir: data, clock, config: { SECRETS_DIR: secrets } });
      try {
        expect(svc.adminToken).to.equal(stored.adminToken);
        expect(readdirSync(join(secrets, 'keys'))).to.deep.equal([`${svc.running.app.keys.active().record.kid}.pem`]);
        // A new sign-in at the provider (its keys and sealed accounts), the same record (pseudonym and sealed name match).
        const again = await apply(svc, person);
        expect(again.status, JSON.stringify(again.body)).to.equal(200);
        const mine = await svc.call('GET', '/v1/residents/me/appeals', { token: again.token });
        expect(mine.body.appeals.map((a: { reason: string }) => a.reason)).to.deep.equal([APPEAL]);
      } finally {
        await svc.stop();
      }
    });

    it('refuses to start while DATA_DIR still holds the secrets, and generates none', async () => {
      const moved = join(tmp.dir, 'elsewhere');
      cpSync(join(secrets, 'secrets.json'), join(data, 'secrets.json'));
      try {
        await startTestService({ dir: data, clock, config: { SECRETS_DIR: moved } }).then(
          () => expect.fail('started'),
          (e: Error) =>
            expect(e.message).to.match(
              new RegExp(
                `^SECRETS_DIR is ${moved}, but DATA_DIR ${data} still holds secrets.json: stop the service and move it to`,
              ),
            ),
        );
        expect(existsSync(moved)).to.equal(false);
      } finally {
        spawnSyncOk('rm', [join(data, 'secrets.json')]);
      }
    });

    it('refuses to start with a ledger whose secrets are missing, rather than seal nothing readable', async () => {
      const empty = join(tmp.dir, 'empty');
      await startTestService({ dir: data, clock, config: { SECRETS_DIR: empty } }).then(
        () => expect.fail('started'),
        (e: Error) =>
          expect(e.message).to.include(
            `DATA_DIR ${data} holds a ledger, but ${join(empty, 'secrets.json')} is missing`,
          ),
      );
      expect(existsSync(join(empty, 'secrets.json'))).to.equal(false);
    });
  });
});

function spawnSyncOk(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
}
