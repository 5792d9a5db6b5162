/**
 * `npm run demo:federation`: one Hardhat node and three issuer services (Anhui, Jiangsu,
 * Shanghai) on loopback, registered on one AnchorRegistry, walking through mutual
 * recognition, a status change across provinces, forged issuers, key rotation, key
 * revocation, the council suspending and resuming a province, and witnessing: each province
 * witnesses the other two and a history is reported complete under a checkpoint they
 * cosigned on chain. With --keep the services
 * stay up afterwards (Ctrl-C to stop).
 */
import { runFederation } from './federation/flow';

async function main() {
  const started = Date.now();
  const run = await runFederation((line) => process.stdout.write(`✓ ${line}\n`));
  process.stdout.write(`\nall steps done in ${Math.round((Date.now() - started) / 1000)} s\n`);
  if (process.argv.includes('--keep')) {
    for (const i of Object.values(run.issuers))
      process.stdout.write(`  ${i.id} ${i.name}: ${i.url} (admin token ${i.admin})\n`);
    process.stdout.write(`  chain: ${run.node.url}, registry ${run.outcome.contract}\n`);
    process.once('SIGINT', () => void run.stop().then(() => process.exit(0)));
    return;
  }
  await run.stop();
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
