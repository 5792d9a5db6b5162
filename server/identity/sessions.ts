import { createHmac } from 'node:crypto';
import { startPeriodic } from '../periodic';
import { randomBytesPooled as randomBytes } from '../../ledger/random';
import { openField, pseudonymFor, sealField } from '../crypto/pii';
import type { IdType } from '../domain/identity';
import { ServiceError } from '../errors';
import { hashToken, issueToken, tokenId, type Binding, type TokenRecord } from '../http/auth';
import type { Ledger, Space, Tx } from '../../ledger/ledger';
import { residentSubject, type ResidentRecord } from '../services/residents';
import type { AppContext } from '../context';

/** Who the identity provider says signed in: the account holder's verified identity. */
export interface VerifiedIdentity {
  idType: IdType;
  /** Normalised as `validateIdentity` returns it. */
  idNumber: string;
  name: string;
}

/**
 * One sign-in: a short-lived access token and a refresh token that buys new ones until
 * the session's end. The identity is sealed under the session id; nothing else here is
 * personal.
 */
export interface SessionRecord {
  account: string;
  pseudonym: string;
  identitySealed: string;
  /** SHA-256 of the current access and refresh tokens. */
  access: string;
  refresh: string;
  createdAt: string;
  refreshedAt: string;
  expiresAt: string;
}

export interface OpenedSession {
  session: string;
  pseudonym: string;
  access: string;
  refresh: string;
  accessExpiresAt: string;
  expiresAt: string;
}

const accountIndex = (account: string, session = '') => `acct/${account}/${session}`;

/**
 * Resident sessions (after sign-in through the identity provider) and the binding of a
 * resident record to the one account it is reachable through.
 */
export class SessionService {
  constructor(private readonly app: AppContext) {}

  private get accessMs() {
    return this.app.config.SESSION_ACCESS_MINUTES * 60_000;
  }

  private get sessionMs() {
    return this.app.config.SESSION_DAYS * 86_400_000;
  }

  /** The account key: a keyed hash of the provider and its subject, so a stored key names nobody. */
  accountKey(issuer: string, subject: string): string {
    return createHmac('sha256', this.app.secrets.pseudonymKey)
      .update(`account:${issuer}:${subject}`)
      .digest()
      .subarray(0, 16)
      .toString('base64url');
  }

  /**
   * Opens a session for a verified identity. A record of that identity that no account
   * holds yet (one a border post created, or one from before sign-in existed) is bound
   * to this account now, as an event in the resident's history.
   */
  async open(tx: Tx, identity: VerifiedIdentity, account: string): Promise<OpenedSession> {
    const session = randomBytes(16).toString('base64url');
    const pseudonym = pseudonymFor(this.app.secrets.pseudonymKey, identity.idType, identity.idNumber);
    const tokens = this.issuePair(tx, session, pseudonym, account);
    const now = tx.now.toISOString();
    const expiresAt = new Date(tx.now.getTime() + this.sessionMs).toISOString();
    tx.put('sessions', session, {
      account,
      pseudonym,
      identitySealed: sealField(this.app.secrets.encryptionKey, JSON.stringify(identity), `session:${session}`),
      access: tokens.accessHash,
      refresh: tokens.refreshHash,
      createdAt: now,
      refreshedAt: now,
      expiresAt,
    } satisfies SessionRecord);
    tx.put('index', accountIndex(account, session), 1);
    if (!(await tx.get<Binding>('bindings', pseudonym)) && (await tx.get<ResidentRecord>('residents', pseudonym)))
      await this.bind(tx, pseudonym, account, 'sign-in');
    return {
      session,
      pseudonym,
      access: tokens.access,
      refresh: tokens.refresh,
      accessExpiresAt: tokens.accessExpiresAt,
      expiresAt,
    };
  }

  private issuePair(tx: Tx, session: string, pseudonym: string, account: string) {
    const base = { role: 'resident' as const, pseudonym, account, session };
    const sessionEnd = tx.now.getTime() + this.sessionMs;
    const a = issueToken(tx, { ...base, kind: 'access' }, Math.min(this.accessMs, this.sessionMs));
    const r = issueToken(tx, { ...base, kind: 'refresh' }, sessionEnd - tx.now.getTime());
    return {
      access: a.token,
      accessHash: a.hash,
      accessExpiresAt: a.expiresAt!,
      refresh: r.token,
      refreshHash: r.hash,
    };
  }

  /**
   * Trades a refresh token for a new pair; the old pair stops working. The session's end
   * does not move: a refresh token never outlives the sign-in that issued it.
   */
  async refresh(tx: Tx, refreshToken: string): Promise<OpenedSession> {
    const h = hashToken(refreshToken);
    const rec = await tx.get<TokenRecord>('tokens', h);
    const s = rec?.kind === 'refresh' && rec.session ? await tx.get<SessionRecord>('sessions', rec.session) : undefined;
    if (!rec || !s || s.refresh !== h)
      throw new ServiceError('UNAUTHENTICATED', 'the refresh token is not known, or was revoked; sign in again');
    if (Date.parse(s.expiresAt) <= tx.now.getTime())
      throw new ServiceError('TOKEN_EXPIRED', 'the session has ended; sign in again');
    const session = rec.session!;
    tx.del('tokens', s.access);
    tx.del('tokens', s.refresh);
    const remaining = Date.parse(s.expiresAt) - tx.now.getTime();
    const base = { role: 'resident' as const, pseudonym: s.pseudonym, account: s.account, session };
    const a = issueToken(tx, { ...base, kind: 'access' }, Math.min(this.accessMs, remaining));
    const r = issueToken(tx, { ...base, kind: 'refresh' }, remaining);
    tx.put('sessions', session, {
      ...s,
      access: a.hash,
      refresh: r.hash,
      refreshedAt: tx.now.toISOString(),
    } satisfies SessionRecord);
    return {
      session,
      pseudonym: s.pseudonym,
      access: a.token,
      refresh: r.token,
      accessExpiresAt: a.expiresAt!,
      expiresAt: s.expiresAt,
    };
  }

  /** The session a refresh token is the current one of, if any (signing out needs it once the access token has expired). */
  async sessionOfRefresh(refreshToken: string): Promise<string | undefined> {
    const h = hashToken(refreshToken);
    const rec = await this.app.ledger.read<TokenRecord>('tokens', h);
    if (rec?.kind !== 'refresh' || !rec.session) return undefined;
    const s = await this.app.ledger.read<SessionRecord>('sessions', rec.session);
    return s?.refresh === h ? rec.session : undefined;
  }

  /** Ends one session: both of its tokens stop working at once. Returns whether it existed. */
  async close(tx: Tx, session: string): Promise<boolean> {
    const s = await tx.get<SessionRecord>('sessions', session);
    if (!s) return false;
    tx.del('tokens', s.access);
    tx.del('tokens', s.refresh);
    tx.del('sessions', session);
    tx.del('index', accountIndex(s.account, session));
    return true;
  }

  /** Ends every session of an account; returns how many there were. */
  async closeAccount(tx: Tx, account: string): Promise<number> {
    const prefix = accountIndex(account);
    let n = 0;
    // A session opened in a group that is not durable yet is not in LevelDB and is missed here;
    // it opens nothing all the same, since every resident request checks the record's binding.
    for await (const key of this.app.ledger.space('index').keys({ gt: prefix, lt: `${prefix}~` })) {
      if (await this.close(tx, key.slice(prefix.length))) n++;
    }
    return n;
  }

  /** The verified identity a session signed in with. */
  async identity(session: string): Promise<VerifiedIdentity> {
    const s = await this.app.ledger.read<SessionRecord>('sessions', session);
    if (!s) throw new ServiceError('UNAUTHENTICATED', 'the session has ended; sign in again');
    return JSON.parse(
      openField(this.app.secrets.encryptionKey, s.identitySealed, `session:${session}`),
    ) as VerifiedIdentity;
  }

  /** Makes `account` the one account a record is reachable through, as an event in the resident's own history. */
  async bind(
    tx: Tx,
    pseudonym: string,
    account: string,
    via: 'sign-in' | 'application' | 'rebind',
    extra: { sessionsRevoked?: number } = {},
  ): Promise<void> {
    const before = await tx.get<Binding>('bindings', pseudonym);
    tx.put('bindings', pseudonym, { account, at: tx.now.toISOString() } satisfies Binding);
    await tx.append({
      type: before ? 'account.rebound' : 'account.bound',
      subjects: [residentSubject(pseudonym)],
      data: { via, ...extra },
    });
  }
}

/**
 * Deletes expired tokens, ended sessions and re-bind codes past their use (retention:
 * nothing about a sign-in is kept past its end). Deletes in chunks so no transaction grows
 * without bound; returns how many records went.
 */
export async function sweepSessions(ledger: Ledger, now: Date, chunk = 500): Promise<number> {
  const t = now.getTime();
  const gone: Array<Array<[Space, string]>> = [];
  for await (const [hash, value] of ledger.space('tokens').iterator()) {
    const rec = value as TokenRecord;
    if (rec.expiresAt && Date.parse(rec.expiresAt) <= t)
      gone.push([
        ['tokens', hash],
        ['index', `token/${tokenId(hash)}`],
      ]);
  }
  for await (const [id, value] of ledger.space('sessions').iterator()) {
    const s = value as SessionRecord;
    if (Date.parse(s.expiresAt) <= t)
      gone.push([
        ['sessions', id],
        ['index', accountIndex(s.account, id)],
      ]);
  }
  // Re-bind codes nobody confirmed (server/identity/rebind.ts).
  for await (const [key, value] of ledger.space('index').iterator({ gt: 'rebind/', lt: 'rebind/~' })) {
    if (Date.parse((value as { expiresAt: string }).expiresAt) <= t) gone.push([['index', key]]);
  }
  for (let i = 0; i < gone.length; i += chunk) {
    const part = gone.slice(i, i + chunk);
    await ledger.transact((tx) => {
      for (const keys of part) for (const [space, key] of keys) tx.del(space, key);
    });
  }
  return gone.length;
}

/** Runs `sweepSessions` every `intervalMs`; `stop` waits for a sweep under way. */
export function startSessionSweep(
  ledger: Ledger,
  clock: () => Date,
  intervalMs: number,
  onError: (e: Error) => void,
): { stop(): Promise<void> } {
  return startPeriodic(intervalMs, () => sweepSessions(ledger, clock()), onError);
}
