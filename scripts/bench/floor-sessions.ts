import { Level } from 'level';
import { randomBytes } from 'node:crypto';
import { sealField } from '../../server/crypto/pii';
import { hashToken } from '../../server/http/auth';
import type { VerifiedIdentity } from '../../server/identity/sessions';

/**
 * A resident session as the application floor (floor.ts) keeps it: the least any design
 * needs to know who applies. Stored under the token's hash (`floorSessionKey`), as the
 * service stores its tokens, so that a copy of the store opens no session.
 */
export interface FloorSession {
  /** The verified identity, AES-256-GCM under the floor's key, bound to the token hash. */
  identitySealed: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

export const floorSessionKey = (tokenHash: string) => `t/${tokenHash}`;

/**
 * Writes one floor session per identity into a new LevelDB at `dir` (which floor.ts copies
 * into its own folder at start, FLOOR_SESSIONS_DIR) and returns their tokens in order;
 * `key` is the floor's FLOOR_ENCRYPTION_KEY.
 */
export async function seedFloorSessions(
  dir: string,
  key: Buffer,
  people: VerifiedIdentity[],
  ttlMs: number,
): Promise<string[]> {
  const db = new Level<string, FloorSession>(dir, { valueEncoding: 'json' });
  await db.open();
  try {
    const expiresAt = Date.now() + ttlMs;
    const tokens: string[] = [];
    for (let first = 0; first < people.length; first += 1000) {
      const batch = people.slice(first, first + 1000).map((identity) => {
        const token = `ak_resident_${randomBytes(24).toString('base64url')}`;
        const h = hashToken(token);
        tokens.push(token);
        return {
          type: 'put' as const,
          key: floorSessionKey(h),
          value: { identitySealed: sealField(key, JSON.stringify(identity), h), expiresAt },
        };
      });
      await db.batch(batch);
    }
    return tokens;
  } finally {
    await db.close();
  }
}
