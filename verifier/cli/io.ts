import { readFileSync } from 'node:fs';

/** Exit statuses every subcommand shares (README "Exit status"). */
export const EXIT_VALID = 0;
export const EXIT_INVALID = 1;
export const EXIT_USAGE = 2;

/** Where a command writes and reads; the process streams in `main.ts`, buffers in tests. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  readStdin(): Promise<Uint8Array>;
}

/**
 * `USAGE`: the command line itself is wrong (a missing option, an unknown flag).
 * `UNREADABLE_INPUT`: a named file is missing or is not what it should be.
 * `WRITE_FAILED`: an output file could not be written.
 * All end the process with exit status 2; only `USAGE` points at `--help`.
 */
export type CliErrorCode = 'USAGE' | 'UNREADABLE_INPUT' | 'WRITE_FAILED';

/** The one error a command throws to stop with exit status 2. */
export class CliError extends Error {
  readonly code: CliErrorCode;

  constructor(code: CliErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CliError';
    this.code = code;
  }
}

export function usageError(message: string): CliError {
  return new CliError('USAGE', message);
}

export function unreadable(message: string, cause?: unknown): CliError {
  return new CliError('UNREADABLE_INPUT', message, cause === undefined ? undefined : { cause });
}

/** Reads a whole file, or stdin for `-`. @throws CliError UNREADABLE_INPUT */
export async function readInput(path: string, what: string, io: CliIo): Promise<Uint8Array> {
  if (path === '-') return io.readStdin();
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw unreadable(`cannot read ${what} ${path}: ${reason}`, e);
  }
}

/** The real process: stdout, stderr and stdin. */
export function processIo(): CliIo {
  return {
    out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
    err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
    async readStdin() {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return new Uint8Array(Buffer.concat(chunks));
    },
  };
}
