import { version } from '../package.json';
import { codeCommand } from './code-command';
import type { Command } from './command';
import { RegistryReadError } from '../src/registry-reader';
import { CliError, EXIT_USAGE, EXIT_VALID, usageError, type CliIo } from './io';
import { qrCommand } from './qr-command';
import { proofCommand } from './proof-command';
import { historyCommand } from './history-command';
import { trustSyncCommand } from './trust-sync-command';

const PROGRAM = 'ankang-verify';

/** Every subcommand. A new one (`proof`, `history`, `trust sync`) is a file and a line here. */
export const COMMANDS: readonly Command[] = [codeCommand, qrCommand, proofCommand, historyCommand, trustSyncCommand];

/** The top-level help text, built from the table. */
export function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    `${PROGRAM} ${version}: verify Ankang health codes offline.`,
    '',
    'Usage:',
    ...COMMANDS.map((c) => `  ${PROGRAM} ${c.synopsis}`),
    `  ${PROGRAM} <command> --help`,
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Exit status: 0 valid, 1 invalid, 2 usage error or unreadable input.',
  ].join('\n');
}

function findCommand(argv: string[]): Command | undefined {
  const matches = COMMANDS.filter((c) => c.name.split(' ').every((word, i) => argv[i] === word));
  return matches.sort((a, b) => b.name.length - a.name.length)[0];
}

/**
 * Runs the CLI with `argv` (without `node` and the script) and resolves to the exit
 * status. Never rejects: a CliError, or a chain the registry reader could not read, becomes a
 * message on stderr and status 2.
 */
export async function run(argv: string[], io: CliIo): Promise<number> {
  if (argv.length === 0) {
    io.err(usage());
    return EXIT_USAGE;
  }
  const [first, ...rest] = argv;
  if (first === '--help' || first === '-h' || first === 'help') {
    const command = rest.length ? findCommand(rest) : undefined;
    io.out(command ? command.usage : usage());
    return EXIT_VALID;
  }
  if (first === '--version' || first === '-v') {
    io.out(version);
    return EXIT_VALID;
  }
  const command = findCommand(argv);
  try {
    if (!command) throw usageError(`unknown command "${first}"`);
    return await command.run(argv.slice(command.name.split(' ').length), io);
  } catch (e) {
    if (e instanceof RegistryReadError) {
      io.err(`${PROGRAM}: ${e.message}`);
      return EXIT_USAGE;
    }
    if (!(e instanceof CliError)) {
      io.err(`${PROGRAM}: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      return EXIT_USAGE;
    }
    io.err(`${PROGRAM}: ${e.message}`);
    if (e.code === 'USAGE') io.err(`Run "${[PROGRAM, command?.name, '--help'].filter(Boolean).join(' ')}" for usage.`);
    return EXIT_USAGE;
  }
}
