import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** What SECRETS_DIR holds, by path inside it: the same paths DATA_DIR held before SECRETS_DIR existed. */
export const SECRET_PATHS = [
  'secrets.json',
  'keys',
  'idp/secrets.json',
  'idp/jwks.json',
  'idp/cookie-keys.json',
] as const;

/** Secrets in the wrong place: start-up stops with this one line rather than generate new ones. */
export class SecretsPlaceError extends Error {
  readonly code = 'SECRETS_MISPLACED';
}

/** The folder the secrets live in: SECRETS_DIR, or DATA_DIR when it is not set. */
export const secretsDirOf = (config: { DATA_DIR: string; SECRETS_DIR?: string }) =>
  resolve(config.SECRETS_DIR ?? config.DATA_DIR);

const present = (dir: string, path: string) => {
  const full = join(dir, path);
  if (!existsSync(full)) return false;
  return path !== 'keys' || readdirSync(full).length > 0;
};

/**
 * Refuses to start where new secrets would be generated next to data sealed under old ones
 * (every sealed field and pseudonym would be lost): when SECRETS_DIR differs from DATA_DIR
 * while DATA_DIR still holds the secrets, or when DATA_DIR holds a ledger and neither
 * SECRETS_DIR nor the environment has its keys. Reads only.
 * @throws SecretsPlaceError naming what is where and what to do
 */
export function checkSecretsPlace(dataDir: string, secretsDir: string, env: NodeJS.ProcessEnv = process.env): void {
  const data = resolve(dataDir);
  const secrets = resolve(secretsDir);
  if (data !== secrets) {
    const left = SECRET_PATHS.filter((p) => present(data, p));
    if (left.length) {
      throw new SecretsPlaceError(
        `SECRETS_DIR is ${secrets}, but DATA_DIR ${data} still holds ${left.join(', ')}: stop the service and move ${left.length > 1 ? 'them' : 'it'} to ${secrets}, keeping the same paths (e.g. \`mv ${join(data, left[0])} ${join(secrets, left[0])}\`), then start again; new secrets would leave the data sealed under these unreadable`,
      );
    }
  }
  const keysFromEnv = !!(env.ANKANG_PSEUDONYM_KEY && env.ANKANG_ENCRYPTION_KEY);
  if (existsSync(join(data, 'ledger', 'CURRENT')) && !present(secrets, 'secrets.json') && !keysFromEnv) {
    throw new SecretsPlaceError(
      `DATA_DIR ${data} holds a ledger, but ${join(secrets, 'secrets.json')} is missing: restore it from the backup of ${data === secrets ? 'DATA_DIR' : 'SECRETS_DIR'} (or give ANKANG_PSEUDONYM_KEY and ANKANG_ENCRYPTION_KEY); new secrets would leave every sealed field unreadable`,
    );
  }
}
