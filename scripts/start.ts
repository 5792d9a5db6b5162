/**
 * `npm start`: the embedded default. Compiles the contract if needed, starts a Hardhat
 * JSON-RPC node on 127.0.0.1 (unless CHAIN_RPC_URL points at an existing chain), and runs
 * the service on ./data (or DATA_DIR) with the anchorer. The ledger is the source of
 * truth: on the fresh development chain the anchorer deploys, registers and re-anchors.
 */
import { execFileSync } from 'node:child_process';
import { resolve, join } from 'node:path';
import { startDevNode, type DevNode } from '../anchor/dev-node';
import { outboxFile, startService } from '../server/bootstrap';
import { outboxLine, watchOutbox } from './lib/outbox-watch';
import { loadConfig } from '../server/config';

async function main() {
  const root = join(__dirname, '..');
  execFileSync(join(root, 'node_modules/.bin/hardhat'), ['compile', '--quiet'], { cwd: root, stdio: 'inherit' });
  execFileSync(join(root, 'node_modules/.bin/tsx'), ['web/build.ts'], { cwd: root, stdio: 'inherit' });
  let node: DevNode | undefined;
  const env = { ...process.env };
  if (!env.CHAIN_RPC_URL) {
    node = await startDevNode({ port: Number(env.CHAIN_PORT ?? 8545), root });
    env.CHAIN_RPC_URL = node.url;
    env.CHAIN_DEV = 'true';
  }
  const config = loadConfig(env);
  config.DATA_DIR = resolve(config.DATA_DIR);
  const svc = await startService(config, { env });
  const lines = [
    `Ankang issuer ${config.ISSUER_ID} (${svc.app.issuerName}) listening on ${svc.url}`,
    `  data folder:   ${config.DATA_DIR}`,
    `  admin token:   ${env.ADMIN_TOKEN ? 'from ADMIN_TOKEN' : `${config.DATA_DIR}/secrets.json (adminToken)`}`,
    `  chain:         ${config.CHAIN_RPC_URL}${node ? ' (embedded Hardhat node, development mode)' : ''}`,
    `  anchoring:     ${svc.url}/v1/anchor/status`,
    `  trust list:    ${svc.url}/v1/trust-list`,
    `  status list:   ${svc.url}/v1/status-list`,
  ];
  // The development provider texts nobody: its codes go to the outbox, and are shown here too.
  const outbox = !config.OIDC_ISSUER && !config.SMS_GATEWAY_URL ? outboxFile(config) : undefined;
  if (outbox) {
    lines.push(
      `  sign in:       ${svc.url}/ with any mobile number (development provider at ${svc.url}/idp);`,
      `                 its one-time codes are printed below and kept for an hour in ${outbox}`,
    );
  } else {
    lines.push(`  sign in:       ${svc.url}/ through ${config.OIDC_ISSUER ?? 'the embedded provider'}`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  const watcher = outbox ? watchOutbox(outbox, (e) => process.stdout.write(outboxLine(e) + '\n')) : undefined;
  const stop = async () => {
    watcher?.stop();
    await svc.close();
    await node?.stop();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
