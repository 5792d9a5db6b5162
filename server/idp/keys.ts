import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writePrivateFile } from '../../ledger/private-file';
import { ensureDataDir } from '../crypto/secrets';

/**
 * The identity provider's own key material, generated at first start into its data folder
 * (created 0700; every file 0600) and read back on restart:
 * `secrets.json` (sealing, index and one-time-code keys), `jwks.json` (ID token signing
 * key) and `cookie-keys.json` (cookie signing keys).
 */

export interface IdpSecrets {
  /** AES-256-GCM key for phone numbers and identities at rest. */
  sealKey: Buffer;
  /** HMAC-SHA-256 key for the phone and ID indexes. */
  indexKey: Buffer;
  /** HMAC-SHA-256 key under which one-time codes are kept. */
  codeKey: Buffer;
}

/** An Ed25519 private JWK (RFC 8037) with its `kid`, `alg` and `use`. */
export interface SigningJwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  d: string;
  kid: string;
  alg: 'EdDSA';
  use: 'sig';
}

const SECRET_FIELDS = ['idpSealKey', 'idpIndexKey', 'idpCodeKey'] as const;

function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8'));
}

function key32(value: unknown, name: string): Buffer {
  const b = Buffer.from(String(value), 'base64');
  if (b.length !== 32) throw new Error(`${name} must be 32 bytes, base64-encoded`);
  return b;
}

/**
 * Reads or creates `<dataDir>/secrets.json`.
 * @throws Error when the file holds other fields: the service's own secrets.json has the
 * same name, so the provider needs a folder of its own (e.g. `DATA_DIR/idp`).
 */
export function loadIdpSecrets(dataDir: string): IdpSecrets {
  ensureDataDir(dataDir);
  const path = join(dataDir, 'secrets.json');
  let stored: Record<string, unknown> = {};
  if (existsSync(path)) {
    stored = readJson(path) as Record<string, unknown>;
    const foreign = Object.keys(stored).filter((k) => !(SECRET_FIELDS as readonly string[]).includes(k));
    if (foreign.length)
      throw new Error(
        `${path} is not the identity provider's (it holds ${foreign.join(', ')}); give the provider a folder of its own`,
      );
  }
  const file = Object.fromEntries(SECRET_FIELDS.map((k) => [k, stored[k] ?? randomBytes(32).toString('base64')]));
  if (SECRET_FIELDS.some((k) => stored[k] === undefined)) writePrivateFile(path, JSON.stringify(file, null, 2) + '\n');
  return {
    sealKey: key32(file.idpSealKey, 'idpSealKey'),
    indexKey: key32(file.idpIndexKey, 'idpIndexKey'),
    codeKey: key32(file.idpCodeKey, 'idpCodeKey'),
  };
}

/** RFC 7638 thumbprint of an Ed25519 public key: the `kid`. */
function thumbprint(x: string): string {
  return createHash('sha256')
    .update(JSON.stringify({ crv: 'Ed25519', kty: 'OKP', x }))
    .digest('base64url');
}

/** Reads or creates `<dataDir>/jwks.json`: the private signing keys, the first one signs. */
export function loadSigningKeys(dataDir: string): SigningJwk[] {
  ensureDataDir(dataDir);
  const path = join(dataDir, 'jwks.json');
  if (existsSync(path)) {
    const { keys } = readJson(path) as { keys?: SigningJwk[] };
    if (!Array.isArray(keys) || keys.length === 0) throw new Error(`${path} holds no keys`);
    return keys;
  }
  const jwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }) as { x: string; d: string };
  const key: SigningJwk = {
    kty: 'OKP',
    crv: 'Ed25519',
    x: jwk.x,
    d: jwk.d,
    kid: thumbprint(jwk.x),
    alg: 'EdDSA',
    use: 'sig',
  };
  writePrivateFile(path, JSON.stringify({ keys: [key] }, null, 2) + '\n');
  return [key];
}

/** Reads or creates `<dataDir>/cookie-keys.json`: cookie signing keys, the first one signs. */
export function loadCookieKeys(dataDir: string): string[] {
  ensureDataDir(dataDir);
  const path = join(dataDir, 'cookie-keys.json');
  if (existsSync(path)) {
    const { keys } = readJson(path) as { keys?: string[] };
    if (!Array.isArray(keys) || keys.length === 0) throw new Error(`${path} holds no keys`);
    return keys;
  }
  const keys = [randomBytes(32).toString('base64url')];
  writePrivateFile(path, JSON.stringify({ keys }, null, 2) + '\n');
  return keys;
}
