import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import { randomBytesPooled as randomBytes } from '../../ledger/random';

/** How long a code is valid: 5 minutes. */
export const CODE_TTL_MS = 5 * 60_000;
/** Wrong answers a challenge takes; the last of them locks it. */
export const CODE_MAX_WRONG = 5;

/**
 * A one-time code sent by SMS. Only an HMAC of the code is kept, keyed with the
 * provider's code key and bound to this challenge's id, so a memory dump gives no code and
 * one challenge's MAC says nothing about another's.
 */
export interface CodeChallenge {
  readonly id: string;
  readonly mac: Buffer;
  /** Milliseconds since the epoch (injected clock). */
  readonly expiresAt: number;
  wrong: number;
}

export type CodeCheck =
  | { ok: true }
  | { ok: false; code: 'OTP_INVALID'; remaining: number }
  | { ok: false; code: 'OTP_EXPIRED' | 'OTP_LOCKED' };

function macOf(key: Buffer, id: string, code: string): Buffer {
  return createHmac('sha256', key).update(`${id}:${code}`).digest();
}

/** A fresh 6-digit code and the challenge that checks it. */
export function issueCode(key: Buffer, now: Date): { code: string; challenge: CodeChallenge } {
  const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
  const id = randomBytes(12).toString('base64url');
  return { code, challenge: { id, mac: macOf(key, id, code), expiresAt: now.getTime() + CODE_TTL_MS, wrong: 0 } };
}

/**
 * Checks an answer (spaces ignored). A wrong answer counts against the challenge, and the
 * {@link CODE_MAX_WRONG}th locks it: after that even the right code is refused. An expired
 * challenge is refused without counting.
 */
export function checkCode(key: Buffer, challenge: CodeChallenge, answer: string, now: Date): CodeCheck {
  if (challenge.wrong >= CODE_MAX_WRONG) return { ok: false, code: 'OTP_LOCKED' };
  if (now.getTime() > challenge.expiresAt) return { ok: false, code: 'OTP_EXPIRED' };
  // Constant-time over the MACs (fixed length whatever was typed), so timing says nothing
  // about how many digits matched.
  if (timingSafeEqual(macOf(key, challenge.id, String(answer).replace(/\s+/g, '')), challenge.mac)) return { ok: true };
  challenge.wrong++;
  if (challenge.wrong >= CODE_MAX_WRONG) return { ok: false, code: 'OTP_LOCKED' };
  return { ok: false, code: 'OTP_INVALID', remaining: CODE_MAX_WRONG - challenge.wrong };
}
