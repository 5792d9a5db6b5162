import { createHmac } from 'node:crypto';
import type { AbstractSublevel } from 'abstract-level';
import { Level } from 'level';
import { openField, sealField } from '../crypto/pii';
import { randomBytesPooled as randomBytes } from '../../ledger/random';
import type { IdType } from '../domain/identity';

/**
 * Accounts of the identity provider, in a LevelDB of their own (`<dataDir>/accounts`).
 *
 * An account is a random `sub` (nothing derived from personal data), a phone number and,
 * once signed up, an identity (ID type, number, name). The phone and the identity are
 * sealed with AES-256-GCM, bound to the `sub`; they are found through HMACs of the phone
 * and of (ID type, number), so no lookup needs a plaintext key. One account per phone, one
 * account per ID. Every change is one fsync'd batch, made under a lock, so concurrent
 * sign-ups cannot both take a phone or an ID.
 */

export interface Identity {
  idType: IdType;
  /** Normalised as `validateIdentity` returns it. */
  idNumber: string;
  name: string;
}

export interface Account {
  sub: string;
  /** Normalised as `validatePhone` returns it. */
  phone: string;
  identity?: Identity;
}

interface AccountRecord {
  sub: string;
  phoneMac: string;
  phoneSealed: string;
  idMac?: string;
  identitySealed?: string;
  createdAt: string;
  updatedAt: string;
}

export type AccountsErrorCode = 'HOLDER_CHANGED';

export class AccountsError extends Error {
  constructor(
    readonly code: AccountsErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'AccountsError';
  }
}

type Sub = AbstractSublevel<Level<string, unknown>, string | Uint8Array | Buffer, string, unknown>;

const aad = (field: 'phone' | 'identity', sub: string) => `ankang-idp:${field}:${sub}`;

export class AccountStore {
  private lock: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly db: Level<string, unknown>,
    private readonly accounts: Sub,
    private readonly byPhone: Sub,
    private readonly byId: Sub,
    private readonly keys: { sealKey: Buffer; indexKey: Buffer },
    private readonly clock: () => Date,
  ) {}

  static async open(
    dir: string,
    keys: { sealKey: Buffer; indexKey: Buffer },
    clock: () => Date = () => new Date(),
  ): Promise<AccountStore> {
    const db = new Level<string, unknown>(dir, { valueEncoding: 'json' });
    await db.open();
    const sub = (name: string) => db.sublevel<string, unknown>(name, { valueEncoding: 'json' });
    const store = new AccountStore(db, sub('accounts'), sub('byPhone'), sub('byId'), keys, clock);
    for (const s of [store.accounts, store.byPhone, store.byId]) await s.open();
    return store;
  }

  async close(): Promise<void> {
    await this.lock;
    await this.db.close();
  }

  private mac(...parts: string[]): string {
    return createHmac('sha256', this.keys.indexKey).update(parts.join('\0')).digest('base64url');
  }

  private phoneMac(phone: string): string {
    return this.mac('phone', phone);
  }

  private idMac(idType: string, idNumber: string): string {
    return this.mac('id', idType, idNumber);
  }

  private unseal(rec: AccountRecord): Account {
    const phone = openField(this.keys.sealKey, rec.phoneSealed, aad('phone', rec.sub));
    const identity = rec.identitySealed
      ? (JSON.parse(openField(this.keys.sealKey, rec.identitySealed, aad('identity', rec.sub))) as Identity)
      : undefined;
    return { sub: rec.sub, phone, ...(identity ? { identity } : {}) };
  }

  private async record(sub: string | undefined): Promise<AccountRecord | undefined> {
    return sub === undefined ? undefined : ((await this.accounts.get(sub)) as AccountRecord | undefined);
  }

  async findBySub(sub: string): Promise<Account | undefined> {
    const rec = await this.record(sub);
    return rec && this.unseal(rec);
  }

  async findByPhone(phone: string): Promise<Account | undefined> {
    const rec = await this.record((await this.byPhone.get(this.phoneMac(phone))) as string | undefined);
    return rec && this.unseal(rec);
  }

  /** The account holding this ID, if any. */
  async findByIdentity(idType: string, idNumber: string): Promise<Account | undefined> {
    const rec = await this.record((await this.byId.get(this.idMac(idType, idNumber))) as string | undefined);
    return rec && this.unseal(rec);
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  /**
   * Gives the account of `phone` (created, with a new random `sub`, when there is none) the
   * identity. When another account holds the same ID, that account loses it: the ID moves.
   * `expectedHolder` is the `sub` that held the ID when the confirmation code was sent
   * (undefined: nobody); if the holder changed since, nothing is written.
   * @throws AccountsError HOLDER_CHANGED
   */
  bindIdentity(
    phone: string,
    identity: Identity,
    expectedHolder: string | undefined,
  ): Promise<{ account: Account; movedFrom?: string }> {
    return this.exclusive(async () => {
      const now = this.clock().toISOString();
      const phoneMac = this.phoneMac(phone);
      const idMac = this.idMac(identity.idType, identity.idNumber);
      let rec = await this.record((await this.byPhone.get(phoneMac)) as string | undefined);
      const holder = await this.record((await this.byId.get(idMac)) as string | undefined);
      const holderSub = holder && holder.sub !== rec?.sub ? holder.sub : undefined;
      if (holderSub !== expectedHolder)
        throw new AccountsError('HOLDER_CHANGED', 'the ID changed hands since the confirmation code was sent');
      const batch = this.db.batch();
      if (!rec) {
        const sub = randomBytes(16).toString('base64url');
        rec = {
          sub,
          phoneMac,
          phoneSealed: sealField(this.keys.sealKey, phone, aad('phone', sub)),
          createdAt: now,
          updatedAt: now,
        };
        batch.put(phoneMac, sub, { sublevel: this.byPhone });
      }
      if (rec.idMac && rec.idMac !== idMac) batch.del(rec.idMac, { sublevel: this.byId });
      if (holder && holderSub) {
        const { idMac: _gone, identitySealed: _lost, ...rest } = holder;
        batch.put(holder.sub, { ...rest, updatedAt: now }, { sublevel: this.accounts });
      }
      rec = {
        ...rec,
        idMac,
        identitySealed: sealField(this.keys.sealKey, JSON.stringify(identity), aad('identity', rec.sub)),
        updatedAt: now,
      };
      batch.put(rec.sub, rec, { sublevel: this.accounts });
      batch.put(idMac, rec.sub, { sublevel: this.byId });
      await batch.write({ sync: true });
      return { account: this.unseal(rec), ...(holderSub ? { movedFrom: holderSub } : {}) };
    });
  }
}
