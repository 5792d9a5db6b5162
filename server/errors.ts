/** Machine-readable error codes the API answers with, and the HTTP status of each. */
export const ERROR_STATUS = {
  MALFORMED_JSON: 400,
  VALIDATION_FAILED: 400,
  INVALID_ID_NUMBER: 400,
  UNKNOWN_REGION: 400,
  INVALID_RULE_SET: 400,
  INVALID_CODE: 400,
  IDEMPOTENCY_KEY_INVALID: 400,
  OTP_INVALID: 400,
  OTP_EXPIRED: 400,
  UNAUTHENTICATED: 401,
  TOKEN_EXPIRED: 401,
  FORBIDDEN: 403,
  IDENTITY_NOT_YOURS: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  IDENTITY_MISMATCH: 409,
  CONFLICT: 409,
  REBIND_REQUIRED: 409,
  NOT_ANCHORED_YET: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  /** Retention erased what was asked for (a proof of an erased event, a history wholly before an erasure). */
  ERASED: 410,
  IDEMPOTENCY_KEY_REUSED: 422,
  CODE_REJECTED: 422,
  /** Service look-ups (POST /v1/services/resolve) refused; each still writes its event. */
  CODE_PRINTED: 422,
  CODE_EXPIRED: 422,
  CODE_FOREIGN: 422,
  CODE_NOT_VALID: 422,
  CODE_REPLAYED: 409,
  PURPOSE_NOT_ALLOWED: 403,
  CONSENT_PAUSED: 403,
  ADMISSION_DENIED: 403,
  CARD_NOT_LINKED: 404,
  TOO_MANY_REQUESTS: 429,
  INTERNAL: 500,
  LEDGER_UNAVAILABLE: 503,
  LEDGER_DIVERGED: 503,
  CHAIN_UNAVAILABLE: 503,
  ANCHORING_OFF: 503,
  SIGN_IN_UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface FieldError {
  path: string;
  code: string;
  message: string;
}

/**
 * The one error type services throw. The error middleware turns it into
 * `{ error: { code, message, fields? } }` with the status from ERROR_STATUS.
 */
export class ServiceError extends Error {
  readonly status: number;
  /** For 429 and 503: when to try again, in seconds (sent as Retry-After). */
  retryAfterSeconds?: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly fields?: FieldError[],
  ) {
    super(message);
    this.name = 'ServiceError';
    this.status = ERROR_STATUS[code];
  }
}
