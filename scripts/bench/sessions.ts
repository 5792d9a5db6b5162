import { openContext } from '../../server/bootstrap';
import type { Config } from '../../server/config';
import { SessionService, type VerifiedIdentity } from '../../server/identity/sessions';

/** Sessions opened per ledger transaction: one fsync'd batch each. */
const BATCH = 1000;

/**
 * Opens one resident session per identity straight in the data folder of a service that is
 * not running yet, and returns their access tokens in the same order.
 *
 * A session is what a real sign-in leaves behind: the service's callback verifies the
 * provider's ID token, then calls `SessionService.open`, which is all this does (in batched
 * transactions, with the secrets in the folder and the settings the service is started
 * with, so that its session lifetimes apply). The bench
 * seeds sessions instead of signing in because a sign-in is a separate and rarer action
 * than an application (a session lasts SESSION_DAYS and serves every application and code
 * fetch in it), and the tens of thousands of sign-ins the rounds would need take longer
 * through the provider than the rounds themselves. Sign-ins are measured on their own
 * (`benchSignIns` in http.ts).
 *
 * The account is the keyed hash the callback names accounts by, of a stand-in issuer and
 * subject: the embedded provider's URL holds a port the service has only once it listens.
 */
export async function seedSessions(config: Config, people: VerifiedIdentity[]): Promise<string[]> {
  // Secrets and keys come from the folder only, as in the service child, which inherits none.
  const app = await openContext(config, { env: {} });
  try {
    const sessions = new SessionService(app);
    const tokens: string[] = [];
    for (let first = 0; first < people.length; first += BATCH) {
      const batch = people.slice(first, first + BATCH);
      const opened = await app.ledger.transact(async (tx) => {
        const out: string[] = [];
        for (const identity of batch) {
          const account = sessions.accountKey('bench:seeded', `${identity.idType}:${identity.idNumber}`);
          out.push((await sessions.open(tx, identity, account)).access);
        }
        return out;
      });
      tokens.push(...opened);
    }
    return tokens;
  } finally {
    await app.ledger.close();
  }
}
