import { expect } from 'chai';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort, startDevNode, type DevNode } from '../../anchor/dev-node';
import { until } from '../../scripts/lib/wait';
import { tempDir } from '../support/tmp';
import { startServiceProcess } from '../../scripts/lib/service-process';

const ROOT = join(__dirname, '../..');
/** Settings of the test's own environment that must not reach `npm start`. */
const DROPPED = [
  'CHAIN_RPC_URL',
  'CHAIN_DEV',
  'ANCHOR_CONTRACT',
  'ADMIN_TOKEN',
  'ANKANG_PSEUDONYM_KEY',
  'ANKANG_ENCRYPTION_KEY',
  'ANKANG_SIGNING_KEY',
  'PUBLIC_URL',
  'DATA_DIR',
  'PORT',
  'CHAIN_PORT',
  'LOG_LEVEL',
];

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of DROPPED) delete env[k];
  return { ...env, ...extra };
}

/** Runs a command to its end; resolves with its exit code and output. */
function runToEnd(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('close', (code) => done({ code, stdout, stderr }));
  });
}

/** Whether the process exists and is not a zombie (a dead child its parent has not reaped yet). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Every process of a process group (ps), zombies left out. */
function groupMembers(pgid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '-g', String(pgid)], { encoding: 'utf8' })
      .split('\n')
      .map((l) => Number(l.trim()))
      .filter((pid) => pid > 0 && alive(pid));
  } catch {
    return [];
  }
}

/** Whether something accepts connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

interface Ready {
  url: string;
  pid: number;
  dataDir: string;
  embeddedChain: { pid: number; port: number };
}

interface NpmStart {
  npm: ChildProcess;
  ready: Ready;
  port: number;
  chainPort: number;
  /** Every process of the tree at the ready line: npm's group (npm, start.ts, helpers) and the chain's. */
  tree: number[];
  stdout: string[];
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `npm start` (really npm, in a process group of its own) on free ports; resolves at its ready line. */
async function npmStart(dataDir: string): Promise<NpmStart> {
  const port = await freePort();
  const chainPort = await freePort();
  const npm = spawn('npm', ['start'], {
    cwd: ROOT,
    detached: true,
    env: cleanEnv({ PORT: String(port), CHAIN_PORT: String(chainPort), DATA_DIR: dataDir }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  let stderr = '';
  npm.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-20_000)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    npm.once('exit', (code, signal) => done({ code, signal })),
  );
  const ready = await new Promise<Ready>((done, fail) => {
    const timer = setTimeout(
      () => fail(new Error(`npm start did not print its ready line within 120 s: ${stderr}`)),
      120_000,
    );
    void exited.then(({ code, signal }) =>
      fail(new Error(`npm start exited (${code ?? signal}) before it was ready: ${stderr}`)),
    );
    createInterface({ input: npm.stdout! }).on('line', (line) => {
      stdout.push(line);
      try {
        const msg = JSON.parse(line) as { msg?: string };
        if (msg.msg === 'ready') {
          clearTimeout(timer);
          done(msg as unknown as Ready);
        }
      } catch {
        // npm's own header, checked below.
      }
    });
  });
  const tree = [...new Set([...groupMembers(npm.pid!), ...groupMembers(ready.embeddedChain.pid)])];
  return { npm, ready, port, chainPort, tree, stdout, stderr: () => stderr, exited };
}

/** Waits until no process of the tree is left and neither port has a listener. */
async function expectAllGone(s: NpmStart): Promise<void> {
  await until(
    'every process of npm start to end and both ports to be free',
    async () => {
      if (s.tree.some(alive)) return false;
      if (groupMembers(s.npm.pid!).length || groupMembers(s.ready.embeddedChain.pid).length) return false;
      return !(await listening(s.port)) && !(await listening(s.chainPort));
    },
    15_000,
    100,
  );
}

describe('npm start', function () {
  this.timeout(300_000);
  let tmp: ReturnType<typeof tempDir>;
  let foreign: DevNode | undefined;
  let busy: Server | undefined;
  const started: NpmStart[] = [];

  before(() => {
    tmp = tempDir('ankang-start-');
  });
  after(async () => {
    for (const s of started) for (const pid of s.tree) if (alive(pid)) process.kill(pid, 'SIGKILL');
    busy?.close();
    await foreign?.stop();
    tmp.cleanup();
  });

  describe('when another node already listens on CHAIN_PORT', () => {
    it('refuses in one line naming the port and the fix, deploys nothing, creates nothing', async () => {
      foreign = await startDevNode();
      const dataDir = join(tmp.dir, 'foreign');
      const env = cleanEnv({ PORT: '0', CHAIN_PORT: String(foreign.port), DATA_DIR: dataDir });
      const direct = await runToEnd(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], env);
      expect(direct.code).to.equal(1);
      expect(direct.stderr).to.equal(
        `npm start: port ${foreign.port} (CHAIN_PORT) is in use by another process; stop it or set CHAIN_PORT to a free port (0 picks one)\n`,
      );
      expect(direct.stdout).to.equal('');
      const viaNpm = await runToEnd('npm', ['start'], env);
      expect(viaNpm.code).to.not.equal(0);
      expect(viaNpm.stderr).to.include(`port ${foreign.port} (CHAIN_PORT) is in use`);
      expect(viaNpm.stderr).to.not.match(/\n\s+at /);
      expect(existsSync(dataDir), 'no data folder, no secrets, no chain.json').to.equal(false);
      // The foreign node mined nothing: no deployment, no registration, no checkpoint.
      const res = await fetch(foreign.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_blockNumber', params: [] }),
      });
      expect(((await res.json()) as { result: string }).result).to.equal('0x0');
    });
  });

  describe('when PORT is busy', () => {
    it('npm start and npm run serve refuse in one line before any key is created', async () => {
      busy = createServer((_, res) => res.end('someone else'));
      await new Promise<void>((r) => busy!.listen(0, '127.0.0.1', () => r()));
      const port = (busy.address() as { port: number }).port;
      const dataDir = join(tmp.dir, 'busy');
      const line = `port ${port} (PORT) is in use by another process; stop it or set PORT to a free port (0 picks one)`;
      const start = await runToEnd(
        process.execPath,
        ['--import', 'tsx', 'scripts/start.ts'],
        cleanEnv({ PORT: String(port), CHAIN_PORT: '0', DATA_DIR: dataDir }),
      );
      expect(start.code).to.equal(1);
      expect(start.stderr).to.equal(`npm start: ${line}\n`);
      const serve = await runToEnd(
        process.execPath,
        ['--import', 'tsx', 'server/main.ts'],
        cleanEnv({ PORT: String(port), DATA_DIR: dataDir }),
      );
      expect(serve.code).to.equal(1);
      expect(serve.stderr).to.equal(`${line}\n`);
      expect(existsSync(dataDir), 'no data folder, no secrets').to.equal(false);
    });
  });

  describe('when another service already has DATA_DIR open', () => {
    it('a second one refuses in one line that names the folder and the fix, and the first keeps running', async () => {
      const dataDir = join(tmp.dir, 'shared');
      const first = await startServiceProcess({ PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'warn' });
      try {
        const second = await runToEnd(
          process.execPath,
          ['--import', 'tsx', 'server/main.ts'],
          cleanEnv({ PORT: '0', DATA_DIR: dataDir }),
        );
        expect(second.code).to.equal(1);
        expect(second.stderr).to.match(
          /^the ledger in \S+ledger is open in another process \(another Ankang on the same DATA_DIR\?\): stop that one, or give this one its own DATA_DIR[^\n]*\n$/,
        );
        expect((await fetch(`${first.url}/healthz`)).status).to.equal(200);
      } finally {
        await first.stop();
      }
    });
  });

  describe('when CHAIN_PORT is not a port', () => {
    it('is a configuration error, in one line', async () => {
      const dataDir = join(tmp.dir, 'abc');
      const r = await runToEnd(
        process.execPath,
        ['--import', 'tsx', 'scripts/start.ts'],
        cleanEnv({ PORT: '0', CHAIN_PORT: 'abc', DATA_DIR: dataDir }),
      );
      expect(r.code).to.equal(1);
      expect(r.stderr).to.match(/^npm start: invalid configuration: CHAIN_PORT: [^\n]+\n$/);
      expect(existsSync(dataDir)).to.equal(false);
    });
  });

  describe('stopping', () => {
    const dataDir = () => join(tmp.dir, 'data');
    // A failed test must not leave its tree holding the data folder for the next one.
    afterEach(async () => {
      const s = started.at(-1);
      if (!s) return;
      for (const pid of s.tree) if (alive(pid)) process.kill(pid, 'SIGKILL');
      await until('the tree to be gone', () => !s.tree.some(alive), 10_000, 100);
    });

    it('runs the tree it owns: JSON lines on stdout, the banner on stderr, a chain that is its own child', async () => {
      const s = await npmStart(dataDir());
      started.push(s);
      // stdout: npm's own header ("> ankang@… start", the command), then JSON lines only.
      for (const line of s.stdout.filter((l) => l.trim() && !l.startsWith('> ')))
        expect(() => JSON.parse(line), line).to.not.throw();
      // The banner follows the ready line, on the other stream.
      const banner = await until(
        'the banner on stderr',
        () => s.stderr().includes('sign in:') && s.stderr(),
        10_000,
        50,
      );
      expect(banner).to.include(`listening on ${s.ready.url}`);
      expect(s.ready.embeddedChain.port).to.equal(s.chainPort);
      expect(await listening(s.chainPort)).to.equal(true);
      expect(s.tree).to.include.members([s.npm.pid!, s.ready.pid, s.ready.embeddedChain.pid]);
      // One Ctrl-C: the terminal sends SIGINT to the foreground group (the chain has a group of its own).
      process.kill(-s.npm.pid!, 'SIGINT');
      expect((await s.exited).code).to.equal(0);
      await expectAllGone(s);
    });

    it('builds with the caller’s umask, so the checkout stays readable, and keeps only the service’s own files private', async () => {
      // A missing page makes the build write it again, now, as npm start's child.
      const page = join(ROOT, 'web/dist/verify-standalone.html');
      rmSync(page);
      const s = await npmStart(dataDir());
      started.push(s);
      const umask = process.umask();
      expect((statSync(page).mode & 0o777).toString(8)).to.equal((0o666 & ~umask).toString(8));
      const data = readdirSync(dataDir(), { recursive: true }).map((f) => join(dataDir(), String(f)));
      expect(data).to.not.be.empty;
      for (const f of [dataDir(), ...data])
        expect((statSync(f).mode & 0o777).toString(8), f).to.equal(statSync(f).isDirectory() ? '700' : '600');
      process.kill(-s.npm.pid!, 'SIGINT');
      expect((await s.exited).code).to.equal(0);
      await expectAllGone(s);
    });

    it('one SIGTERM to the process group stops everything', async () => {
      const s = await npmStart(dataDir());
      started.push(s);
      process.kill(-s.npm.pid!, 'SIGTERM');
      expect((await s.exited).code).to.equal(0);
      await expectAllGone(s);
    });

    it('one SIGTERM to the npm process stops everything', async () => {
      const s = await npmStart(dataDir());
      started.push(s);
      process.kill(s.npm.pid!, 'SIGTERM');
      await s.exited;
      await expectAllGone(s);
    });

    it('one SIGTERM to the node process running start.ts stops everything', async () => {
      const s = await npmStart(dataDir());
      started.push(s);
      process.kill(s.ready.pid, 'SIGTERM');
      expect((await s.exited).code).to.equal(0);
      await expectAllGone(s);
    });

    it('the chain node stopping (one SIGTERM) stops everything, with a line saying so and a failing exit code', async () => {
      const s = await npmStart(dataDir());
      started.push(s);
      process.kill(s.ready.embeddedChain.pid, 'SIGTERM');
      expect((await s.exited).code).to.not.equal(0);
      await expectAllGone(s);
      expect(s.stderr()).to.include(`the embedded chain (hardhat node, pid ${s.ready.embeddedChain.pid}) exited`);
    });

    it('start.ts SIGKILLed: the chain it owns dies with it, and npm ends', async () => {
      const s = await npmStart(dataDir());
      started.push(s);
      process.kill(s.ready.pid, 'SIGKILL');
      expect((await s.exited).code).to.not.equal(0);
      await expectAllGone(s);
    });

    it('npm SIGKILLed: start.ts sees its parent gone and stops everything', async () => {
      const s = await npmStart(dataDir());
      started.push(s);
      process.kill(s.npm.pid!, 'SIGKILL');
      await expectAllGone(s);
    });
  });
});
