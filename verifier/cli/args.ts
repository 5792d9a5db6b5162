import { parseArgs, type ParseArgsConfig } from 'node:util';
import { usageError } from './io';

/**
 * `parseArgs` in strict mode with positionals allowed, turning its TypeErrors (unknown
 * option, missing value) into a usage error so the command exits with status 2.
 * @throws CliError USAGE
 */
export function parseCommandArgs<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs<T>({ strict: true, allowPositionals: true, ...config });
  } catch (e) {
    throw usageError((e as Error).message);
  }
}
