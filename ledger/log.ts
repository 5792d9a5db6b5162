/** The levels a logger writes at; 'silent' writes nothing. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/**
 * What every layer logs through: `log.info(msg, fields)`. The service's implementation (pino,
 * with redaction) is `createLogger` in server/http/log.ts; the ledger and anchor/ take this type,
 * so they log the same lines without importing the service. Fields are pseudonymous only: never
 * a request body, a name, an ID number or a phone number.
 */
export type Logger = Record<Exclude<LogLevel, 'silent'>, (msg: string, fields?: Record<string, unknown>) => void>;
