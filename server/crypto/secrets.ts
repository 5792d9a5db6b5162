import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writePrivateFile } from '../../ledger/private-file';

export interface Secrets {
  /** HMAC key for pseudonyms (32 bytes). */
  pseudonymKey: Buffer;
  /** AES-256-GCM key for personal data at rest (32 bytes). */
  encryptionKey: Buffer;
  adminToken: string;
  /** The client secret this service and its embedded identity provider share (development). */
  oidcClientSecret: string;
  /** Keys the status list's cover values and cover rates (32 bytes; FORMAT.md §7). */
  statusCoverKey: Buffer;
}

interface SecretsFile {
  pseudonymKey: string;
  encryptionKey: string;
  adminToken: string;
  oidcClientSecret: string;
  statusCoverKey: string;
}

/** Creates DATA_DIR with mode 0700 when missing. */
export function ensureDataDir(dir: string): void {
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
}

function key32(value: string, name: string): Buffer {
  const b = Buffer.from(value, 'base64');
  if (b.length !== 32) throw new Error(`${name} must be 32 bytes, base64-encoded`);
  return b;
}

/**
 * Reads the service's secrets from the environment (ANKANG_PSEUDONYM_KEY,
 * ANKANG_ENCRYPTION_KEY, ADMIN_TOKEN) or from `<dir>/secrets.json` (dir: SECRETS_DIR, default
 * DATA_DIR), generating any that are missing at first start.
 */
export function loadSecrets(dataDir: string, env: NodeJS.ProcessEnv = process.env): Secrets {
  ensureDataDir(dataDir);
  const path = join(dataDir, 'secrets.json');
  let stored: Partial<SecretsFile> = {};
  if (existsSync(path)) stored = JSON.parse(readFileSync(path, 'utf8')) as SecretsFile;
  const file: SecretsFile = {
    pseudonymKey: stored.pseudonymKey ?? randomBytes(32).toString('base64'),
    encryptionKey: stored.encryptionKey ?? randomBytes(32).toString('base64'),
    adminToken: stored.adminToken ?? `ak_admin_${randomBytes(24).toString('base64url')}`,
    oidcClientSecret: stored.oidcClientSecret ?? randomBytes(32).toString('base64url'),
    statusCoverKey: stored.statusCoverKey ?? randomBytes(32).toString('base64'),
  };
  if (JSON.stringify(file) !== JSON.stringify(stored)) writePrivateFile(path, JSON.stringify(file, null, 2) + '\n');
  return {
    pseudonymKey: key32(env.ANKANG_PSEUDONYM_KEY ?? file.pseudonymKey, 'ANKANG_PSEUDONYM_KEY'),
    encryptionKey: key32(env.ANKANG_ENCRYPTION_KEY ?? file.encryptionKey, 'ANKANG_ENCRYPTION_KEY'),
    adminToken: env.ADMIN_TOKEN ?? file.adminToken,
    oidcClientSecret: file.oidcClientSecret,
    statusCoverKey: key32(file.statusCoverKey, 'statusCoverKey'),
  };
}
