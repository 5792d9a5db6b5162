/**
 * `npm run ledger:verify [-- --data-dir <dir>]`: re-walks the ledger in DATA_DIR (or
 * `--data-dir`) and prints one line, either
 *   ok: <events> events, <subjects> subjects, head <seq> <hash>
 * or
 *   broken at event <seq>: <reason> (<n> events before it are intact)
 * Exit status 0 when the chain is intact, 1 when a link is broken, 2 when it could not
 * be checked (no ledger there, or the service still holds the database open).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Ledger } from '../server/ledger/ledger';
import { verifyChain } from '../server/ledger/verify-chain';

function dataDirFrom(argv: string[], env: NodeJS.ProcessEnv): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--data-dir') return argv[i + 1];
    if (argv[i].startsWith('--data-dir=')) return argv[i].slice('--data-dir='.length);
  }
  return env.DATA_DIR;
}

async function main(): Promise<number> {
  const dir = dataDirFrom(process.argv.slice(2), process.env);
  if (!dir) {
    process.stderr.write('usage: ledger-verify --data-dir <dir>   (or set DATA_DIR)\n');
    return 2;
  }
  const path = join(resolve(dir), 'ledger');
  // Opening would create an empty ledger, which would then "verify".
  if (!existsSync(join(path, 'CURRENT'))) {
    process.stderr.write(`no ledger in ${resolve(dir)}\n`);
    return 2;
  }
  let ledger: Ledger;
  try {
    ledger = await Ledger.open(path);
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause;
    const why = cause?.code === 'LEVEL_LOCKED' ? 'the ledger is in use; stop the service first' : (e as Error).message;
    process.stderr.write(`cannot open ${path}: ${why}\n`);
    return 2;
  }
  try {
    const report = await verifyChain(ledger);
    if (report.ok) {
      process.stdout.write(`ok: ${report.events} events, ${report.subjects} subjects, head ${report.head.seq} ${report.head.hash}\n`);
      return 0;
    }
    process.stdout.write(`broken at event ${report.broken!.seq}: ${report.broken!.reason} (${report.events} events before it are intact)\n`);
    return 1;
  } finally {
    await ledger.close();
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`ledger-verify failed: ${(e as Error).message}\n`);
    process.exit(2);
  },
);
