import { appendFile, chmod, open, readFile, rename, writeFile } from 'node:fs/promises';
import { validatePhone } from '../domain/identity';
import { maskPhone } from '../domain/mask';

/**
 * One-time codes by text message, shared by the identity provider (sign-in and ID
 * confirmation codes) and the relying party (re-bind codes). Development writes them to an
 * outbox file that holds masked numbers only; production posts them to SMS_GATEWAY_URL.
 */

export interface SmsMessage {
  /** The normalised number (`validatePhone`): 11 mainland digits or `+` and E.164 digits. */
  to: string;
  /** What the code is for, e.g. `login`, `id-confirm`, `id-transfer`; picks the text. */
  purpose: string;
  code: string;
}

export interface SmsSender {
  /** Resolves once the message is in the outbox or the gateway accepted it. @throws SmsError */
  send(msg: SmsMessage): Promise<void>;
}

export type SmsErrorCode =
  'SMS_GATEWAY_TIMEOUT' | 'SMS_GATEWAY_UNREACHABLE' | 'SMS_GATEWAY_REFUSED' | 'SMS_OUTBOX_FAILED';

/** A message that could not be sent. Neither the message nor `cause` names the phone number. */
export class SmsError extends Error {
  constructor(
    readonly code: SmsErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SmsError';
  }
}

/** One line of the development outbox. */
export interface OutboxEntry {
  /** ISO 8601 time the message was written. */
  at: string;
  /** The masked number (`maskPhone`), never the full one. */
  to: string;
  purpose: string;
  code: string;
  text: string;
}

const TEXTS: Record<string, (code: string) => string> = {
  login: (c) =>
    `【安康码】登录验证码 ${c}，5 分钟内有效，请勿告诉他人。Ankang sign-in code ${c}, valid for 5 minutes. Share it with no one.`,
  'id-confirm': (c) =>
    `【安康码】证件登记确认码 ${c}，5 分钟内有效。Ankang code ${c} confirms the ID you are registering; valid for 5 minutes.`,
  'id-transfer': (c) =>
    `【安康码】有人申请把登记在本号码的证件转到另一个手机号，确认码 ${c}，5 分钟内有效。如非本人操作，请勿告诉任何人。` +
    `Someone asked to move the ID registered to this number to another phone. Code ${c}, valid for 5 minutes. If it was not you, share it with no one.`,
};

/** The message text for a purpose; purposes without their own text get a generic one. */
export function smsText(purpose: string, code: string): string {
  return (
    TEXTS[purpose] ??
    ((c: string) => `【安康码】验证码 ${c}，5 分钟内有效，请勿告诉他人。Ankang code ${c}, valid for 5 minutes.`)
  )(code);
}

/** The outbox keeps an hour of messages: long enough for any code to have expired. */
const OUTBOX_RETAIN_MS = 3_600_000;

/**
 * Development sender: one JSON line per message in a file only its owner can read (0600),
 * with the number masked. Lines older than an hour are dropped when the next message is
 * written. One process writes a given outbox (the trim rewrites the file).
 */
export class OutboxSmsSender implements SmsSender {
  private queue: Promise<unknown> = Promise.resolve();
  /** Time of the oldest line in the file; undefined until the file was read once. */
  private oldest: number | undefined;

  constructor(
    readonly file: string,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  send(msg: SmsMessage): Promise<void> {
    const run = this.queue.then(() => this.write(msg));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async write(msg: SmsMessage): Promise<void> {
    const now = this.clock().getTime();
    const entry: OutboxEntry = {
      at: new Date(now).toISOString(),
      to: maskPhone(msg.to),
      purpose: msg.purpose,
      code: msg.code,
      text: smsText(msg.purpose, msg.code),
    };
    const line = JSON.stringify(entry) + '\n';
    try {
      if (this.oldest === undefined) {
        const entries = await readOutbox(this.file);
        this.oldest = entries.reduce((m, e) => Math.min(m, Date.parse(e.at)), Infinity);
      }
      if (this.oldest < now - OUTBOX_RETAIN_MS) {
        const kept = (await readOutbox(this.file)).filter((e) => Date.parse(e.at) >= now - OUTBOX_RETAIN_MS);
        const tmp = `${this.file}.${process.pid}.tmp`;
        await writeFile(tmp, kept.map((e) => JSON.stringify(e) + '\n').join('') + line, { mode: 0o600 });
        await chmod(tmp, 0o600);
        await rename(tmp, this.file);
        this.oldest = kept.reduce((m, e) => Math.min(m, Date.parse(e.at)), now);
      } else {
        await appendFile(this.file, line, { mode: 0o600 });
        if (this.oldest === Infinity) await chmod(this.file, 0o600);
        this.oldest = Math.min(this.oldest, now);
      }
    } catch (e) {
      throw new SmsError(
        'SMS_OUTBOX_FAILED',
        `could not write the SMS outbox: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
        { cause: e },
      );
    }
  }
}

/**
 * Production sender: `POST <url>` with `{ "to": <full number>, "text" }` as JSON; any 2xx
 * is success. Failures are thrown as SmsError without the number or the gateway's answer
 * (which may echo it).
 */
export class GatewaySmsSender implements SmsSender {
  constructor(
    readonly url: string,
    private readonly timeoutMs = 5000,
  ) {}

  async send(msg: SmsMessage): Promise<void> {
    let res: Response;
    try {
      res = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ to: msg.to, text: smsText(msg.purpose, msg.code) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      const name = (e as Error).name;
      if (name === 'TimeoutError' || name === 'AbortError')
        throw new SmsError('SMS_GATEWAY_TIMEOUT', `the SMS gateway did not answer within ${this.timeoutMs} ms`);
      throw new SmsError(
        'SMS_GATEWAY_UNREACHABLE',
        `the SMS gateway could not be reached (${(e as { cause?: { code?: string } }).cause?.code ?? name})`,
      );
    }
    // Read and drop the body so the connection can be reused.
    await res.arrayBuffer().catch(() => undefined);
    if (res.status < 200 || res.status > 299)
      throw new SmsError('SMS_GATEWAY_REFUSED', `the SMS gateway answered ${res.status}`);
  }
}

export interface SmsOptions {
  /** Production: the gateway URL (SMS_GATEWAY_URL). Takes precedence over `outboxFile`. */
  gatewayUrl?: string;
  /** Development: the outbox file, `<DATA_DIR>/sms-outbox.jsonl`. */
  outboxFile?: string;
  /** Gateway request timeout in milliseconds (default 5000). */
  timeoutMs?: number;
  /** Outbox timestamps (default real time). */
  clock?: () => Date;
}

/** The gateway sender when a URL is configured, else the outbox. @throws Error when neither is given. */
export function createSmsSender(opts: SmsOptions): SmsSender {
  if (opts.gatewayUrl) return new GatewaySmsSender(opts.gatewayUrl, opts.timeoutMs);
  if (opts.outboxFile) return new OutboxSmsSender(opts.outboxFile, opts.clock);
  throw new Error('an SMS sender needs SMS_GATEWAY_URL or an outbox file');
}

/** Every entry in an outbox, oldest first; an empty list when the file does not exist. */
export async function readOutbox(file: string): Promise<OutboxEntry[]> {
  let raw: string;
  try {
    raw = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: OutboxEntry[] = [];
  for (const line of raw.split('\n')) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as OutboxEntry);
    } catch {
      // A line cut short by a crash mid-append; the next trim drops it.
    }
  }
  return out;
}

/**
 * The newest code in the outbox for `phone` (matched by its masked form, so two numbers
 * sharing their first three and last four digits are not told apart: pass `after`), with
 * the given purpose, written at or after `after`. For tests, `npm run demo` and dev tools.
 *
 * Reads the file backwards from its end and stops at the first line older than `after`,
 * so a lookup costs the same however long the outbox has grown.
 */
export async function latestCode(
  file: string,
  query: { phone: string; purpose?: string; after?: Date | number },
): Promise<string | undefined> {
  const checked = validatePhone(query.phone, 'passport');
  const masked = maskPhone(checked.ok ? checked.normalized : query.phone);
  const after = query.after === undefined ? -Infinity : Number(query.after);
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    let pos = (await fh.stat()).size;
    let carry = Buffer.alloc(0);
    while (pos > 0) {
      const len = Math.min(64 * 1024, pos);
      pos -= len;
      const chunk = Buffer.alloc(len);
      await fh.read(chunk, 0, len, pos);
      // Lines are split on the newline byte, which never occurs inside a UTF-8 sequence.
      const lines = Buffer.concat([chunk, carry]).toString('latin1').split('\n');
      carry = Buffer.from(pos > 0 ? lines.shift()! : '', 'latin1');
      for (let i = lines.length - 1; i >= 0; i--) {
        if (!lines[i]) continue;
        let e: OutboxEntry;
        try {
          e = JSON.parse(Buffer.from(lines[i], 'latin1').toString('utf8')) as OutboxEntry;
        } catch {
          continue;
        }
        if (Date.parse(e.at) < after) return undefined;
        if (e.to === masked && (query.purpose === undefined || e.purpose === query.purpose)) return e.code;
      }
    }
    return undefined;
  } finally {
    await fh.close();
  }
}
