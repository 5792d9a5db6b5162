import { resolve } from 'node:path';
import { startService } from './bootstrap';
import { loadConfig } from './config';

/** `npm run serve`: the issuance service alone on DATA_DIR (no chain). */
async function main() {
  const config = loadConfig();
  config.DATA_DIR = resolve(config.DATA_DIR);
  const svc = await startService(config);
  // One machine-readable line, so scripts and tests can find the port.
  process.stdout.write(JSON.stringify({ msg: 'listening', url: svc.url, issuer: config.ISSUER_ID, dataDir: config.DATA_DIR }) + '\n');
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
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
