import type { CliIo } from './io';

/**
 * One entry of the subcommand table in `run.ts`. `name` may be several words
 * (`trust sync`); the longest name matching the start of the arguments wins.
 */
export interface Command {
  name: string;
  /** One line for the top-level usage, without the program name. */
  synopsis: string;
  summary: string;
  /** Full text for `ankang-verify <name> --help`. */
  usage: string;
  /** Runs with the arguments after the name; resolves to the exit status. @throws CliError */
  run(argv: string[], io: CliIo): Promise<number>;
}
