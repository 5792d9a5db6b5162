import { resolve } from 'node:path';
import { startService } from './bootstrap';
import { loadConfig } from './config';
import { makePrivateDir } from './crypto/private-dir';
import { checkListenPort, describeStartupError } from './startup-checks';

let debug = false;

/** `npm run serve`: the issuance service alone on DATA_DIR (no chain). A failure at start-up is one line on stderr (with the stack at LOG_LEVEL=debug), exit code 1. */
async function main() {
  // LevelDB and every file the service writes take the umask: none is readable by others.
  process.umask(0o077);
  const config = loadConfig();
  debug = config.LOG_LEVEL === 'debug';
  config.DATA_DIR = resolve(config.DATA_DIR);
  // Before anything is created: a busy port is one line, not a failure after the keys exist.
  await checkListenPort(config.PORT, config.HOST, 'PORT');
  makePrivateDir(config.DATA_DIR, 'DATA_DIR');
  const svc = await startService(config);
  // One machine-readable line, so scripts and tests can find the port.
  process.stdout.write(
    JSON.stringify({
      level: 'info',
      time: new Date().toISOString(),
      msg: 'listening',
      url: svc.url,
      issuer: config.ISSUER_ID,
      dataDir: config.DATA_DIR,
    }) + '\n',
  );
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

main().catch((e) => {
  process.stderr.write(`${describeStartupError(e, debug)}\n`);
  process.exit(1);
});
