/**
 * `npm run ledger:verify [-- --data-dir <dir>]`: re-walks the ledger in `--data-dir`, else
 * DATA_DIR, else ./data (the folder `npm start` uses), and prints one line, either
 *   ok: <events> events, <subjects> subjects, head <seq> <hash>
 * (with `, <n> erased by retention (linked, not recomputed)` after the subjects when some are)
 * or
 *   broken at event <seq>: <reason> (<n> events before it are intact)
 * Exit status 0 when the chain is intact, 1 when a link is broken, 2 when it could not
 * be checked (no ledger there, or the service still holds the database open).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Ledger, LedgerOpenError } from '../ledger/ledger';
import { verifyChain } from '../ledger/verify-chain';

/** Where the service keeps its data when DATA_DIR is not set (server/config.ts). */
const DEFAULT_DATA_DIR = './data';
const USAGE = `usage: npm run ledger:verify [-- --data-dir <dir>]   (default: DATA_DIR, else ${DEFAULT_DATA_DIR})\n`;

/** The folder to check and where the choice came from, or undefined for a command line that is wrong. */
function dataDirFrom(argv: string[], env: NodeJS.ProcessEnv): { dir: string; from: string } | undefined {
  const [first, second, ...rest] = argv;
  if (first === undefined) {
    // Like every other command (npm start, npm run serve), an unset or empty DATA_DIR means ./data.
    return env.DATA_DIR ? { dir: env.DATA_DIR, from: 'DATA_DIR' } : { dir: DEFAULT_DATA_DIR, from: 'the default' };
  }
  if (first === '--data-dir' && second && rest.length === 0) return { dir: second, from: '--data-dir' };
  const inline = /^--data-dir=(.+)$/.exec(first);
  if (inline && second === undefined) return { dir: inline[1], from: '--data-dir' };
  return undefined;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const chosen = dataDirFrom(args, process.env);
  if (!chosen) {
    process.stderr.write(USAGE);
    return 2;
  }
  const dir = resolve(chosen.dir);
  const path = join(dir, 'ledger');
  // Opening would create an empty ledger, which would then "verify".
  if (!existsSync(join(path, 'CURRENT'))) {
    process.stderr.write(
      `no ledger in ${dir} (${chosen.from}); give the service's data folder with --data-dir <dir> or DATA_DIR\n`,
    );
    return 2;
  }
  let ledger: Ledger;
  try {
    ledger = await Ledger.open(path);
  } catch (e) {
    const why =
      e instanceof LedgerOpenError && e.code === 'LEDGER_IN_USE'
        ? 'the ledger is in use; stop the service first'
        : (e as Error).message;
    process.stderr.write(`cannot open ${path}: ${why}\n`);
    return 2;
  }
  try {
    const report = await verifyChain(ledger);
    if (report.ok) {
      const erased = report.erased ? `, ${report.erased} erased by retention (linked, not recomputed)` : '';
      process.stdout.write(
        `ok: ${report.events} events, ${report.subjects} subjects${erased}, head ${report.head.seq} ${report.head.hash}\n`,
      );
      return 0;
    }
    process.stdout.write(
      `broken at event ${report.broken!.seq}: ${report.broken!.reason} (${report.events} events before it are intact)\n`,
    );
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
