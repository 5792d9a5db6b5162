/**
 * `npm start`: the embedded default. Checks the settings and that PORT and CHAIN_PORT are free
 * before anything is created, compiles the contract, builds the pages, starts a Hardhat
 * JSON-RPC node on 127.0.0.1 that this process owns (unless CHAIN_RPC_URL points at an
 * existing chain), and runs the service on ./data (or DATA_DIR) with the anchorer. The ledger
 * is the source of truth: on the fresh development chain the anchorer deploys, registers and
 * re-anchors.
 *
 * stdout carries JSON lines only (the service's log, and one `{"msg":"ready",…}` line with
 * the URLs); the banner for people, and the development provider's one-time codes, go to stderr.
 *
 * Stopping: one SIGINT (Ctrl-C), SIGTERM or SIGHUP stops the service gracefully, then the chain,
 * and exits 0. npm relays the signals it gets to this process (package.json runs it with `exec`,
 * so no shell or tsx process stands between). A repeat of a signal within a second is that relay
 * and is ignored; a later one forces the exit. The chain dies with this process however it ends
 * (anchor/dev-node.ts); if the chain dies first, or this process's parent (npm) does, everything
 * stops and the exit code is 1. A failure at start-up is one line on stderr, exit code 1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DevNodeError, startDevNode, type DevNode } from '../anchor/dev-node';
// Types only: the service's modules read the contract's compiled artifacts when they load, so they are loaded after the compile.
import type { RunningService } from '../server/bootstrap';
import { loadConfig, type Config } from '../server/config';
import { makePrivateDir } from '../server/crypto/private-dir';
import { secretsDirOf } from '../server/crypto/secrets-dir';
import { createLogger, type Logger } from '../server/http/log';
import { checkListenPort, describePortProblem, describeStartupError } from '../server/startup-checks';
import { outboxLine, watchOutbox } from './lib/outbox-watch';

const ROOT = join(__dirname, '..');
/** npm relays the signal the terminal also sent us: a repeat this soon is the same request to stop. */
const REPEAT_SIGNAL_MS = 1000;
const PARENT_WATCH_MS = 500;

let phase: 'starting' | 'running' | 'stopping' = 'starting';
let firstSignalAt = 0;
let log: Logger = createLogger('info');
let debug = false;
let node: DevNode | undefined;
let svc: RunningService | undefined;
let watcher: { stop(): void } | undefined;
let building: ChildProcess | undefined;

/** A failure to report as its one line, exit code 1. */
class StartError extends Error {}

async function main(): Promise<void> {
  const env = { ...process.env };
  const embedded = !env.CHAIN_RPC_URL;
  // Every setting is checked first, CHAIN_PORT included; the chain URL npm start sets itself stands in until the chain runs.
  const preview = loadConfig(embedded ? { ...env, CHAIN_RPC_URL: 'http://127.0.0.1:8545', CHAIN_DEV: 'true' } : env);
  log = createLogger(preview.LOG_LEVEL);
  debug = preview.LOG_LEVEL === 'debug';
  await checkPorts(preview, embedded);
  // Before the build and the chain: a data folder that cannot be made private stops here.
  makePrivateDir(resolve(preview.DATA_DIR), 'DATA_DIR');

  await run('hardhat compile', [realpathSync(join(ROOT, 'node_modules/.bin/hardhat')), 'compile', '--quiet']);
  await run('building the pages', ['--import', 'tsx', 'web/build.ts']);
  if (phase !== 'starting') return;
  // From here on, LevelDB and every file the service writes take the umask: none is readable by
  // others. Not before: the compiled contract and the pages are the checkout's, built with the
  // caller's umask, for whoever else runs or tests this checkout (npm test as another user).
  process.umask(0o077);

  if (embedded) {
    // Checked again: the build took a while, and the node itself refuses a busy port too.
    await checkPorts(preview, embedded);
    try {
      node = await startDevNode({ port: preview.CHAIN_PORT || undefined, root: ROOT });
    } catch (e) {
      if (e instanceof DevNodeError && e.code === 'PORT_IN_USE')
        throw new StartError(describePortProblem('EADDRINUSE', preview.CHAIN_PORT, '127.0.0.1', 'CHAIN_PORT'));
      throw e;
    }
    const chain = node;
    void chain.exited.then(({ code, signal }) => {
      if (phase === 'stopping') return;
      log.error('the embedded chain exited; stopping the service', { pid: chain.pid, code, signal });
      process.stderr.write(
        `npm start: the embedded chain (hardhat node, pid ${chain.pid}) exited (${signal ?? `code ${code}`}); stopping\n`,
      );
      void shutdown('the embedded chain exited', 1);
    });
    if (phase !== 'starting') return;
    env.CHAIN_RPC_URL = node.url;
    env.CHAIN_DEV = 'true';
  }
  const config = loadConfig(env);
  config.DATA_DIR = resolve(config.DATA_DIR);
  await checkListenPort(config.PORT, config.HOST, 'PORT').catch((e: Error) => {
    throw new StartError(e.message);
  });
  const { startService } = await import('../server/bootstrap');
  svc = await startService(config, { env, log });
  if (phase !== 'starting') return;
  phase = 'running';
  announce(config, svc, node, (await import('../server/bootstrap')).outboxFile);
}

/** Refuses a busy PORT or, for the embedded chain, CHAIN_PORT: npm start never attaches to a node it did not start. */
async function checkPorts(config: Config, embedded: boolean): Promise<void> {
  try {
    await checkListenPort(config.PORT, config.HOST, 'PORT');
    if (embedded) await checkListenPort(config.CHAIN_PORT, '127.0.0.1', 'CHAIN_PORT');
  } catch (e) {
    throw new StartError((e as Error).message);
  }
}

/** Runs a build step as a child of this process, its output on stderr (stdout is for JSON lines). */
function run(what: string, args: string[]): Promise<void> {
  if (phase !== 'starting') return Promise.resolve();
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 2, 2] });
    building = child;
    child.once('error', (e) => fail(new StartError(`${what} could not start: ${e.message}`)));
    child.once('exit', (code, signal) => {
      building = undefined;
      if (code === 0 || phase !== 'starting') done();
      else fail(new StartError(`${what} failed (${signal ?? `exit code ${code}`}); its output is above`));
    });
  });
}

/** One JSON line on stdout for programs, the banner on stderr for people. */
function announce(
  config: Config,
  s: RunningService,
  chain: DevNode | undefined,
  outboxFile: (c: Config) => string,
): void {
  // The development provider texts nobody: its codes go to the outbox, and are shown here too.
  const outbox = !config.OIDC_ISSUER && !config.SMS_GATEWAY_URL ? outboxFile(config) : undefined;
  const adminToken = process.env.ADMIN_TOKEN ? 'from ADMIN_TOKEN' : `${secretsDirOf(config)}/secrets.json (adminToken)`;
  // Whatever LOG_LEVEL says: programs wait for this line.
  const ready = {
    level: 'info',
    time: new Date().toISOString(),
    msg: 'ready',
    url: s.url,
    issuer: config.ISSUER_ID,
    issuerName: s.app.issuerName,
    dataDir: config.DATA_DIR,
    adminToken,
    chain: config.CHAIN_RPC_URL ?? null,
    embeddedChain: chain ? { pid: chain.pid, port: chain.port } : null,
    anchoring: `${s.url}/v1/anchor/status`,
    trustList: `${s.url}/v1/trust-list`,
    statusList: `${s.url}/v1/status-list`,
    signIn: outbox
      ? { url: `${s.url}/`, provider: `${s.url}/idp`, outbox }
      : { url: `${s.url}/`, provider: config.OIDC_ISSUER ?? 'embedded' },
    pid: process.pid,
  };
  process.stdout.write(JSON.stringify(ready) + '\n');
  const lines = [
    `Ankang issuer ${config.ISSUER_ID} (${s.app.issuerName}) listening on ${s.url}`,
    `  data folder:   ${config.DATA_DIR}`,
    `  admin token:   ${adminToken}`,
    `  chain:         ${config.CHAIN_RPC_URL}${chain ? ' (embedded Hardhat node, development mode)' : ''}`,
    `  anchoring:     ${s.url}/v1/anchor/status`,
    `  trust list:    ${s.url}/v1/trust-list`,
    `  status list:   ${s.url}/v1/status-list`,
  ];
  if (outbox) {
    lines.push(
      `  sign in:       ${s.url}/ with any mobile number (development provider at ${s.url}/idp);`,
      `                 its one-time codes are printed below and kept for an hour in ${outbox}`,
    );
  } else {
    lines.push(`  sign in:       ${s.url}/ through ${config.OIDC_ISSUER ?? 'the embedded provider'}`);
  }
  lines.push('  stop:          Ctrl-C (stops the service, then the chain)');
  process.stderr.write(lines.join('\n') + '\n');
  watcher = outbox ? watchOutbox(outbox, (e) => process.stderr.write(outboxLine(e) + '\n')) : undefined;
}

/** Stops the service gracefully (its close() finishes what is in flight), then the chain; exits with `code`. */
async function shutdown(reason: string, code: number): Promise<void> {
  if (phase === 'stopping') return;
  phase = 'stopping';
  log.info('stopping', { reason });
  building?.kill('SIGTERM');
  watcher?.stop();
  try {
    await svc?.close();
  } catch (e) {
    log.error('stopping the service failed', { error: (e as Error).message });
    code ||= 1;
  }
  await node?.stop();
  // A chain that started while we were stopping is killed by dev-node's exit handler.
  process.exit(code);
}

function onSignal(signal: NodeJS.Signals): void {
  const now = Date.now();
  if (phase === 'stopping') {
    if (now - firstSignalAt < REPEAT_SIGNAL_MS) return;
    process.stderr.write(`npm start: ${signal} again; exiting without waiting\n`);
    // dev-node's exit handler kills the chain's process group.
    process.exit(1);
  }
  firstSignalAt = now;
  void shutdown(signal, 0);
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);

// npm SIGKILLed (or a terminal gone without a SIGHUP): this process is re-parented; stop everything.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent && phase !== 'stopping') void shutdown('its parent process exited', 1);
}, PARENT_WATCH_MS).unref();

main().catch(async (e: unknown) => {
  if (phase === 'stopping') return;
  const text = e instanceof StartError ? e.message : describeStartupError(e, debug);
  process.stderr.write(`npm start: ${text}\n`);
  phase = 'stopping';
  building?.kill('SIGTERM');
  await svc?.close().catch(() => undefined);
  await node?.stop();
  process.exit(1);
});
