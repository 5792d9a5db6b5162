import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  computeKid,
  DEFAULT_CLOCK_SKEW_SECONDS,
  toBase64Url,
  toRfc3339,
  trustListKey,
  type RevokedKeyJson,
  type Signer,
  type TrustListKeyJson,
} from '../../verifier/src';
import { destroyPrivateFile, writePrivateFile } from '../../ledger/private-file';
import type { Ledger, Tx } from '../../ledger/ledger';

/**
 * The issuer's Ed25519 signing keys and their lifetimes.
 *
 * One key signs at a time. A rotation retires it: its `notAfter` becomes the retirement time,
 * so nothing it could sign later counts, its private key is destroyed in the same step, and
 * it stays in the trust list only until the last resident code it signed has expired
 * (`acceptedUntil`: the retirement plus the longest resident-code lifetime it was ever set to
 * sign). Venue codes are not waited for: they are re-signed with the new key
 * (`VenueService.current`), and a venue's old printed code works until its key leaves the list.
 * A key revoked in the chain's registry is refused at once and everywhere: it leaves the keys
 * for the trust list's `revokedKeys`, its private key is destroyed, and if it was the one
 * signing, a new key takes over in the same transaction.
 */
export interface IssuerKeyRecord {
  kid: string;
  /** Raw Ed25519 public key, base64url. */
  x: string;
  notBefore: number;
  notAfter: number;
  /** The longest resident code this key was set to sign, in seconds (CODE_TTL_MINUTES, PRINTED_CODE_TTL_DAYS). */
  longestCodeSeconds?: number;
  /** Set when a newer key took over; `notAfter` is set to it too. */
  retiredAt?: number;
  /** The last resident code the key signed has expired by then; verifiers drop the key after it. */
  acceptedUntil?: number;
  /** Set when the key was revoked (the chain's block time); no code of it counts any more. */
  revokedAt?: number;
}

/** A revocation as the chain's registry reports it: the kid (base64url) and the block time. */
export interface KeyRevocation {
  kid: string;
  revokedAt: number;
}

const KEY_VALIDITY_SECONDS = 2 * 365 * 24 * 3600;

function rawPublicKey(key: KeyObject): Uint8Array {
  return new Uint8Array(createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(12));
}

const signing = (r: IssuerKeyRecord) => r.retiredAt === undefined && r.revokedAt === undefined;

/**
 * Private keys live in SECRETS_DIR/keys/<kid>.pem (0600; SECRETS_DIR defaults to DATA_DIR) while they sign, or come from
 * ANKANG_SIGNING_KEY (PKCS#8 PEM); their public halves and lifetimes are ledger state, and
 * every new, retired or revoked key is a ledger event.
 */
export class IssuerKeys {
  private records: IssuerKeyRecord[] = [];
  private readonly privateKeys = new Map<string, KeyObject>();

  private constructor(
    private readonly dir: string,
    /** The longest resident code the service is now set to sign, in seconds. */
    private readonly longestCodeSeconds: number,
  ) {}

  /**
   * Loads the keys, destroys any private key left on disk for a retired or revoked one, and
   * makes sure one key signs.
   * @throws Error when ANKANG_SIGNING_KEY holds a key that was retired or revoked
   */
  static async load(opts: {
    secretsDir: string;
    ledger: Ledger;
    longestCodeSeconds: number;
    env?: NodeJS.ProcessEnv;
  }): Promise<IssuerKeys> {
    const dir = join(opts.secretsDir, 'keys');
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
    const keys = new IssuerKeys(dir, opts.longestCodeSeconds);
    keys.records = (await opts.ledger.read<IssuerKeyRecord[]>('meta', 'issuerKeys')) ?? [];
    for (const r of keys.records) {
      const path = keys.pemPath(r.kid);
      // A crash between a rotation's commit and the file's destruction, or a data folder from before keys were destroyed.
      if (!signing(r)) destroyPrivateFile(path);
      else if (existsSync(path)) keys.privateKeys.set(r.kid, createPrivateKey(readFileSync(path, 'utf8')));
    }
    const envPem = (opts.env ?? process.env).ANKANG_SIGNING_KEY;
    const envKey = envPem ? createPrivateKey(envPem) : undefined;
    const envKid = envKey ? toBase64Url(computeKid(rawPublicKey(envKey))) : undefined;
    const envRecord = keys.records.find((r) => r.kid === envKid);
    if (envRecord && !signing(envRecord)) {
      const why =
        envRecord.revokedAt !== undefined
          ? `was revoked at ${toRfc3339(envRecord.revokedAt)}`
          : `was retired at ${toRfc3339(envRecord.retiredAt!)}`;
      throw new Error(
        `ANKANG_SIGNING_KEY holds key ${envKid}, which ${why} and signs nothing more: give a new key, or unset it to have one generated`,
      );
    }
    if (envKey && envKid) keys.privateKeys.set(envKid, envKey);
    const active = keys.records.at(-1);
    if (!active || !signing(active) || (envKid && active.kid !== envKid) || !keys.privateKeys.has(active.kid)) {
      await opts.ledger.transact((tx) => keys.addKey(tx, envKey));
    } else if ((active.longestCodeSeconds ?? 0) < keys.longestCodeSeconds) {
      // Codes may now live longer than the key was set for: once retired, it must stay listed that long.
      await opts.ledger.transact((tx) => keys.change(tx, { widen: true }));
    }
    return keys;
  }

  private pemPath(kid: string) {
    return join(this.dir, `${kid}.pem`);
  }

  /** Generates (or adopts) a key and retires the one signing now, all in `tx`. */
  async addKey(tx: Tx, adopt?: KeyObject): Promise<IssuerKeyRecord> {
    return (await this.change(tx, { add: adopt ?? true })).added!;
  }

  /**
   * Marks the keys the chain revoked, in `tx`; when one of them is the key signing now, a new
   * key takes over in the same transaction. Kids this issuer never had, or already marked,
   * are ignored.
   */
  async revoke(tx: Tx, revocations: readonly KeyRevocation[]): Promise<{ revoked: string[]; added?: IssuerKeyRecord }> {
    const out = await this.change(tx, { revocations });
    return { revoked: out.revoked, added: out.added };
  }

  private async change(
    tx: Tx,
    opts: { add?: KeyObject | true; revocations?: readonly KeyRevocation[]; widen?: boolean },
  ): Promise<{ revoked: string[]; added?: IssuerKeyRecord }> {
    const now = Math.floor(tx.now.getTime() / 1000);
    // From the transaction, not from memory: an earlier change may be written but not yet durable.
    const records = ((await tx.get<IssuerKeyRecord[]>('meta', 'issuerKeys')) ?? []).map((r) => ({ ...r }));
    const revoked: string[] = [];
    let add = opts.add;
    for (const rev of opts.revocations ?? []) {
      const r = records.find((k) => k.kid === rev.kid);
      if (!r || r.revokedAt !== undefined) continue;
      // The key that signs now must be replaced in this same transaction: nothing more may be signed with it.
      const wasSigning = signing(r);
      if (wasSigning) add ??= true;
      r.revokedAt = rev.revokedAt;
      revoked.push(r.kid);
      await tx.append({
        type: 'key.revoked',
        subjects: ['issuer'],
        data: { kid: r.kid, revokedAt: rev.revokedAt, wasSigning },
      });
    }
    if (opts.widen) {
      const active = records.at(-1)!;
      active.longestCodeSeconds = this.longestCodeSeconds;
      const data = { kid: active.kid, longestCodeSeconds: this.longestCodeSeconds };
      await tx.append({ type: 'key.lifetime.widened', subjects: ['issuer'], data });
    }
    let added: { record: IssuerKeyRecord; privateKey: KeyObject } | undefined;
    if (add) {
      for (const r of records) {
        if (r.retiredAt !== undefined) continue;
        r.retiredAt = now;
        r.notAfter = Math.min(r.notAfter, now);
        r.acceptedUntil = now + (r.longestCodeSeconds ?? this.longestCodeSeconds);
        const data = { kid: r.kid, retiredAt: now, acceptedUntil: r.acceptedUntil };
        await tx.append({ type: 'key.retired', subjects: ['issuer'], data });
      }
      const privateKey = add === true ? generateKeyPairSync('ed25519').privateKey : add;
      const pub = rawPublicKey(privateKey);
      const kid = toBase64Url(computeKid(pub));
      if (add === true)
        writePrivateFile(this.pemPath(kid), privateKey.export({ format: 'pem', type: 'pkcs8' }) as string);
      const record: IssuerKeyRecord = {
        kid,
        x: toBase64Url(pub),
        notBefore: now,
        notAfter: now + KEY_VALIDITY_SECONDS,
        longestCodeSeconds: this.longestCodeSeconds,
      };
      records.push(record);
      const data = { kid, x: record.x, notBefore: record.notBefore, notAfter: record.notAfter };
      await tx.append({ type: 'key.added', subjects: ['issuer'], data });
      added = { record, privateKey };
    }
    tx.put('meta', 'issuerKeys', records);
    tx.onCommit(() => {
      this.records = records;
      if (added) this.privateKeys.set(added.record.kid, added.privateKey);
      // Only once the new key is durable: before that, the old one may still have to sign.
      for (const r of records) {
        if (signing(r)) continue;
        this.privateKeys.delete(r.kid);
        destroyPrivateFile(this.pemPath(r.kid));
      }
    });
    return { revoked, added: added?.record };
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

  /** When verifiers may drop a retired key: its last resident code has expired, with the verifiers' clock skew on top. */
  droppedAfter(r: IssuerKeyRecord): number | undefined {
    if (r.retiredAt === undefined) return undefined;
    return (r.acceptedUntil ?? r.retiredAt + this.longestCodeSeconds) + DEFAULT_CLOCK_SKEW_SECONDS;
  }

  /** Keys a verifier still needs at `now`: the signing key and every retired key whose last code has not yet expired; never a revoked one. */
  listed(now: number): TrustListKeyJson[] {
    return this.records
      .filter((r) => r.revokedAt === undefined && (r.retiredAt === undefined || now <= this.droppedAfter(r)!))
      .map((r) => this.listEntry(r));
  }

  /** Every revoked key with its revocation time, for the trust list's `revokedKeys`. */
  revokedList(): RevokedKeyJson[] {
    return this.records
      .filter((r) => r.revokedAt !== undefined)
      .map((r) => ({ kid: r.kid, revokedAt: toRfc3339(r.revokedAt!) }));
  }

  // Every scan asks for the trust list; a record never changes (a change replaces it), so its entry is built once.
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
