/**
 * `npm start`: the embedded default. Runs the issuance service on ./data (or DATA_DIR)
 * and prints where to reach it and where the admin token is.
 */
import { resolve } from 'node:path';
import { startService } from '../server/bootstrap';
import { loadConfig } from '../server/config';

async function main() {
  const config = loadConfig();
  config.DATA_DIR = resolve(config.DATA_DIR);
  const svc = await startService(config);
  const lines = [
    `Ankang issuer ${config.ISSUER_ID} (${svc.app.issuerName}) listening on ${svc.url}`,
    `  data folder:   ${config.DATA_DIR}`,
    `  admin token:   ${process.env.ADMIN_TOKEN ? 'from ADMIN_TOKEN' : `${config.DATA_DIR}/secrets.json (adminToken)`}`,
    `  trust list:    ${svc.url}/v1/trust-list`,
    `  status list:   ${svc.url}/v1/status-list`,
    `  health:        ${svc.url}/healthz`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  const stop = async () => {
    await svc.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
