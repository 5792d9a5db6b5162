import cluster from 'node:cluster';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { startService } from './bootstrap';
import { loadConfig, type Config } from './config';
import { makePrivateDir } from './crypto/private-dir';
import { checkListenPort, describeStartupError } from './startup-checks';
import { createLogger } from './http/log';
import { ENV, type SupervisorMessage } from './cluster/protocol';
import { supervise, WriterExit } from './cluster/supervisor';
import { runWorker } from './cluster/worker';
import { startWriterChannel } from './cluster/writer';

let debug = false;

/** One machine-readable line, so scripts and tests can find the port. */
function listeningLine(url: string, config: Config, extra: Record<string, unknown> = {}): void {
  process.stdout.write(
    JSON.stringify({
      level: 'info',
      time: new Date().toISOString(),
      msg: 'listening',
      url,
      issuer: config.ISSUER_ID,
      dataDir: config.DATA_DIR,
      ...extra,
    }) + '\n',
  );
}

/** A free port on HOST, for WORKERS > 0 with PORT=0: the writer needs the public port before the workers open it. */
function pickPort(host: string): Promise<number> {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once('error', fail);
    probe.listen(0, host, () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => done(port));
    });
  });
}

/**
 * `npm run serve`: the issuance service alone on DATA_DIR (no chain). A failure at start-up is
 * one line on stderr (with the stack at LOG_LEVEL=debug), exit code 1. With WORKERS > 0 this
 * process supervises a ledger writer and WORKERS HTTP workers (server/cluster/), which run this
 * same entry point with ANKANG_PROCESS set.
 */
async function main() {
  // LevelDB and every file the service writes take the umask: none is readable by others.
  process.umask(0o077);
  const config = loadConfig();
  debug = config.LOG_LEVEL === 'debug';
  config.DATA_DIR = resolve(config.DATA_DIR);
  const role = process.env[ENV.role];
  if (cluster.isWorker || role === 'worker') return runWorker(config, process.env[ENV.secret] ?? '');
  if (role === 'writer') return runWriter(config, process.env[ENV.secret] ?? '');

  // Before anything is created: a busy port is one line, not a failure after the keys exist.
  await checkListenPort(config.PORT, config.HOST, 'PORT');
  makePrivateDir(config.DATA_DIR, 'DATA_DIR');
  if (config.WORKERS > 0) return runSupervisor(config);
  const svc = await startService(config);
  listeningLine(svc.url, config);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await svc.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

async function runSupervisor(config: Config) {
  if (config.PORT === 0) config.PORT = await pickPort(config.HOST);
  const log = createLogger(config.LOG_LEVEL);
  const s = await supervise(config, log);
  listeningLine(s.url, config, { workers: s.workerPids(), writer: s.writerPid() });
  const stop = async () => process.exit(await s.stop());
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  void s.ended.then((code) => process.exit(code));
}

/** The ledger writer behind the workers: the whole service on 127.0.0.1, and the message channel. */
async function runWriter(config: Config, secret: string) {
  const svc = await startService(config, { workers: { secret } });
  const channel = await startWriterChannel(svc, secret);
  process.send!({ op: 'writer', http: svc.port, channel: channel.port } satisfies SupervisorMessage);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await channel.close();
    await svc.close();
    process.exit(0);
  };
  // The supervisor stops the writer after its workers; a Ctrl-C reaches the whole group, and is its to handle.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', stop);
  process.on('disconnect', stop);
}

main().catch((e) => {
  // The writer has already said why on stderr, in its own one line.
  if (!(e instanceof WriterExit)) process.stderr.write(`${describeStartupError(e, debug)}\n`);
  process.exit(1);
});
