import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { computeKid, toBase64Url, toRfc3339, trustListKey, type Signer, type TrustListKeyJson } from '../../verifier/src';
import { writePrivateFile } from '../crypto/secrets';
import type { Ledger, Tx } from '../ledger/ledger';

export interface IssuerKeyRecord {
  kid: string;
  /** Raw Ed25519 public key, base64url. */
  x: string;
  notBefore: number;
  notAfter: number;
  /** Set when a newer key took over; the key stays listed until its codes have expired. */
  retiredAt?: number;
}

const KEY_VALIDITY_SECONDS = 2 * 365 * 24 * 3600;

function rawPublicKey(key: KeyObject): Uint8Array {
  return new Uint8Array(createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(12));
}

/**
 * The issuer's Ed25519 signing keys. Private keys live in DATA_DIR/keys/<kid>.pem (0600)
 * or come from ANKANG_SIGNING_KEY (PKCS#8 PEM); their public halves and windows are
 * ledger state, and every new key is a ledger event.
 */
export class IssuerKeys {
  private records: IssuerKeyRecord[] = [];
  private readonly privateKeys = new Map<string, KeyObject>();

  private constructor(
    private readonly dir: string,
    /** The longest a code can live, so retired keys stay listed for that long. */
    private readonly maxCodeLifetimeSeconds: number,
  ) {}

  static async load(opts: { dataDir: string; ledger: Ledger; maxCodeLifetimeSeconds: number; env?: NodeJS.ProcessEnv }): Promise<IssuerKeys> {
    const dir = join(opts.dataDir, 'keys');
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
    const keys = new IssuerKeys(dir, opts.maxCodeLifetimeSeconds);
    keys.records = (await opts.ledger.read<IssuerKeyRecord[]>('meta', 'issuerKeys')) ?? [];
    for (const r of keys.records) {
      const path = keys.pemPath(r.kid);
      if (existsSync(path)) keys.privateKeys.set(r.kid, createPrivateKey(readFileSync(path, 'utf8')));
    }
    const envPem = (opts.env ?? process.env).ANKANG_SIGNING_KEY;
    const envKey = envPem ? createPrivateKey(envPem) : undefined;
    const envKid = envKey ? toBase64Url(computeKid(rawPublicKey(envKey))) : undefined;
    if (envKey && envKid) keys.privateKeys.set(envKid, envKey);
    const active = keys.records.at(-1);
    if (!active || (envKid && active.kid !== envKid) || !keys.privateKeys.has(active.kid)) {
      await opts.ledger.transact((tx) => keys.addKey(tx, envKey));
    }
    return keys;
  }

  private pemPath(kid: string) {
    return join(this.dir, `${kid}.pem`);
  }

  /** Generates (or adopts) a key, retires the current one, and records both in `tx`. */
  async addKey(tx: Tx, adopt?: KeyObject): Promise<IssuerKeyRecord> {
    const now = Math.floor(tx.now.getTime() / 1000);
    const privateKey = adopt ?? generateKeyPairSync('ed25519').privateKey;
    const pub = rawPublicKey(privateKey);
    const kid = toBase64Url(computeKid(pub));
    if (!adopt) writePrivateFile(this.pemPath(kid), privateKey.export({ format: 'pem', type: 'pkcs8' }) as string);
    const records = this.records.map((r) => (r.retiredAt === undefined ? { ...r, retiredAt: now, notAfter: now } : r));
    const record: IssuerKeyRecord = { kid, x: toBase64Url(pub), notBefore: now, notAfter: now + KEY_VALIDITY_SECONDS };
    records.push(record);
    tx.put('meta', 'issuerKeys', records);
    await tx.append({ type: 'key.added', subjects: ['issuer'], data: { kid, x: record.x, notBefore: record.notBefore, notAfter: record.notAfter } });
    tx.onCommit(() => {
      this.records = records;
      this.privateKeys.set(kid, privateKey);
    });
    return record;
  }

  /** The key that signs now. */
  active(): { record: IssuerKeyRecord; signer: Signer } {
    const record = this.records.at(-1)!;
    const key = this.privateKeys.get(record.kid)!;
    const kidBytes = Buffer.from(record.kid, 'base64url');
    return { record, signer: { kid: new Uint8Array(kidBytes), sign: (data) => new Uint8Array(sign(null, data, key)) } };
  }

  all(): IssuerKeyRecord[] {
    return [...this.records];
  }

  /** Keys a verifier still needs at `now`: every key whose last code has not yet expired. */
  listed(now: number): TrustListKeyJson[] {
    return this.records.filter((r) => r.retiredAt === undefined || now <= r.retiredAt + this.maxCodeLifetimeSeconds).map((r) => this.listEntry(r));
  }

  // Every scan asks for the trust list; a record never changes (retiring replaces it), so its entry is built once.
  private readonly entries = new WeakMap<IssuerKeyRecord, TrustListKeyJson>();

  private listEntry(r: IssuerKeyRecord): TrustListKeyJson {
    let e = this.entries.get(r);
    if (!e) {
      e = trustListKey(new Uint8Array(Buffer.from(r.x, 'base64url')), toRfc3339(r.notBefore), toRfc3339(r.notAfter));
      this.entries.set(r, e);
    }
    return e;
  }
}
