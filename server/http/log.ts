import pino, { type DestinationStream } from 'pino';
import type { Logger, LogLevel } from '../../ledger/log';

export type { Logger, LogLevel };

/**
 * Field names that could carry a credential or personal data. Callers never pass them, but a
 * slip (an error object holding a request, a field named after a form input) must not reach
 * the log: pino replaces their values, at the top level and one level down.
 */
const REDACTED_KEYS = [
  'authorization',
  'cookie',
  '["set-cookie"]',
  'token',
  'access',
  'refresh',
  'password',
  'secret',
  'phone',
  'idNumber',
  'name',
  'address',
  'body',
  'query',
];
/** The pino `redact` paths: each key at the top level and one object down. */
const REDACT_PATHS = [...REDACTED_KEYS, ...REDACTED_KEYS.map((k) => (k.startsWith('[') ? `*${k}` : `*.${k}`))];

/**
 * JSON lines, one per entry: `{"level":"info","time":"2026-03-10T02:00:00.000Z","pid":…,"msg":…,…fields}`,
 * written through pino, to stdout or to `write` (one line at a time, without its newline; tests
 * capture lines this way). Callers pass only pseudonymous fields: never a request body, a name,
 * an ID number or a phone number; the keys in `REDACTED_KEYS` are censored all the same.
 * @param level the lowest level written; 'silent' writes nothing
 */
export function createLogger(level: LogLevel, write?: (line: string) => void): Logger {
  const stream: DestinationStream = write
    ? { write: (s: string) => write(s.endsWith('\n') ? s.slice(0, -1) : s) }
    : pino.destination({ dest: 1, sync: true });
  const p = pino(
    {
      level,
      base: { pid: process.pid },
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    stream,
  );
  return {
    debug: (msg, fields) => p.debug(fields ?? {}, msg),
    info: (msg, fields) => p.info(fields ?? {}, msg),
    warn: (msg, fields) => p.warn(fields ?? {}, msg),
    error: (msg, fields) => p.error(fields ?? {}, msg),
  };
}
