/** Every result a verification can end in (FORMAT.md §6 gives the order they are checked in). */
export type ResultCode =
  | 'VALID'
  | 'MALFORMED'
  | 'UNKNOWN_ISSUER'
  | 'KEY_REVOKED'
  | 'UNKNOWN_KEY'
  | 'SIGNATURE_INVALID'
  | 'KEY_NOT_VALID'
  | 'SUB_NOT_ALLOWED'
  | 'LIFETIME_TOO_LONG'
  | 'NOT_YET_VALID'
  | 'EXPIRED'
  | 'REVOKED'
  | 'STATUS_STALE'
  | 'CLOCK_UNTRUSTED';

/**
 * The one error class thrown inside the verifier. Public entry points such as
 * `verifyCode` catch it and turn it into `{ valid: false, code, message }`.
 */
export class VerifierError extends Error {
  readonly code: ResultCode;

  constructor(code: ResultCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VerifierError';
    this.code = code;
  }
}

/** Shorthand for the most common failure: input that is not a well-formed AK1 object. */
export function malformed(message: string, cause?: unknown): VerifierError {
  return new VerifierError('MALFORMED', message, cause === undefined ? undefined : { cause });
}

/** True when `e` is a VerifierError, optionally with the given code. */
export function isVerifierError(e: unknown, code?: ResultCode): e is VerifierError {
  return e instanceof VerifierError && (code === undefined || e.code === code);
}
