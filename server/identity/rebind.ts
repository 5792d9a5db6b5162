import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import { openField } from '../crypto/pii';
import { ServiceError } from '../errors';
import type { Binding, Principal } from '../http/auth';
import type { Tx } from '../../ledger/ledger';
import type { ResidentRecord } from '../services/residents';
import type { AppContext } from '../context';
import type { SessionService } from './sessions';

/** A one-time code sent to the phone on record, waiting to confirm a move (space `index`, `rebind/<session>`). */
interface Challenge {
  pseudonym: string;
  mac: string;
  sentAt: string;
  expiresAt: string;
  tries: number;
  /** Too many wrong codes: kept (so the wait before a new code still holds) but never accepted. */
  locked?: boolean;
}

const CODE_TTL_MS = 5 * 60_000;
const RESEND_MS = 60_000;
const MAX_TRIES = 5;

const key = (session: string) => `rebind/${session}`;

/**
 * Moving a record to another account (换绑): the person signed in with a new account of
 * the provider proves they also hold the phone on record, with a one-time code sent
 * there. The move ends every session of the old account and is an event in the
 * resident's own history.
 */
export class RebindService {
  constructor(
    private readonly app: AppContext,
    private readonly sessions: SessionService,
  ) {}

  private mac(session: string, code: string): string {
    return createHmac('sha256', this.app.secrets.pseudonymKey).update(`rebind:${session}:${code}`).digest('hex');
  }

  /** The record the session's identity has, which must be bound to another account. */
  private async target(tx: Tx, p: Principal): Promise<ResidentRecord> {
    const record = await tx.get<ResidentRecord>('residents', p.pseudonym!);
    if (!record)
      throw new ServiceError(
        'NOT_FOUND',
        'there is no health code for this identity yet: apply first (POST /v1/residents)',
      );
    const b = await tx.get<Binding>('bindings', p.pseudonym!);
    if (!b || b.account === p.account)
      throw new ServiceError('CONFLICT', 'the record is already reachable through this account');
    return record;
  }

  /** Sends a code to the phone on record; answers where it went (masked) and until when it works. */
  async start(p: Principal): Promise<{ sentTo: string; expiresAt: string }> {
    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    const { record, challenge } = await this.app.ledger.transact(async (tx) => {
      const record = await this.target(tx, p);
      const prior = await tx.get<Challenge>('index', key(p.session!));
      const wait = prior ? Date.parse(prior.sentAt) + RESEND_MS - tx.now.getTime() : 0;
      if (wait > 0)
        throw Object.assign(
          new ServiceError('TOO_MANY_REQUESTS', 'a code was sent less than a minute ago; wait before asking again'),
          { retryAfterSeconds: Math.ceil(wait / 1000) },
        );
      const challenge: Challenge = {
        pseudonym: p.pseudonym!,
        mac: this.mac(p.session!, code),
        sentAt: tx.now.toISOString(),
        expiresAt: new Date(tx.now.getTime() + CODE_TTL_MS).toISOString(),
        tries: 0,
      };
      tx.put('index', key(p.session!), challenge);
      return { record, challenge };
    });
    const phone = openField(this.app.secrets.encryptionKey, record.phoneSealed, record.pseudonym);
    await this.app.sms.send({ to: phone, purpose: 'rebind', code });
    return { sentTo: record.maskedPhone, expiresAt: challenge.expiresAt };
  }

  /** Checks the code; on success the record is bound to this account and the old account's sessions end. */
  async confirm(p: Principal, code: string): Promise<ResidentRecord> {
    const outcome = await this.app.ledger.transact(async (tx) => {
      const record = await this.target(tx, p);
      const c = await tx.get<Challenge>('index', key(p.session!));
      if (!c || c.pseudonym !== p.pseudonym)
        throw new ServiceError('OTP_INVALID', 'ask for a code first (POST /v1/residents/me/rebind)');
      if (c.locked) throw new ServiceError('OTP_EXPIRED', 'too many wrong codes; ask for a new one');
      if (Date.parse(c.expiresAt) <= tx.now.getTime()) {
        tx.del('index', key(p.session!));
        return { error: new ServiceError('OTP_EXPIRED', 'the code has expired; ask for a new one') };
      }
      const ok = timingSafeEqual(Buffer.from(this.mac(p.session!, code)), Buffer.from(c.mac));
      if (!ok) {
        // A wrong code is counted even though the request fails, so guesses run out.
        const tries = c.tries + 1;
        tx.put('index', key(p.session!), {
          ...c,
          tries,
          ...(tries >= MAX_TRIES ? { locked: true } : {}),
        } satisfies Challenge);
        return {
          error: new ServiceError(
            tries >= MAX_TRIES ? 'OTP_EXPIRED' : 'OTP_INVALID',
            tries >= MAX_TRIES ? 'too many wrong codes; ask for a new one' : 'the code is not right',
          ),
        };
      }
      const old = (await tx.get<Binding>('bindings', p.pseudonym!))!;
      tx.del('index', key(p.session!));
      const revoked = await this.sessions.closeAccount(tx, old.account);
      await this.sessions.bind(tx, p.pseudonym!, p.account!, 'rebind', { sessionsRevoked: revoked });
      return { record };
    });
    if ('error' in outcome) throw outcome.error;
    return outcome.record;
  }
}
