/**
 * The one-time codes a development service writes to its SMS outbox, shown as they come:
 * `npm run demo` prints them while it keeps running, so whoever tries the resident page in
 * a browser reads their code in the terminal instead of on a phone.
 */
import { stat } from 'node:fs/promises';
import { readOutbox, type OutboxEntry } from '../../server/identity/sms';

export interface OutboxFollower {
  /** Stops polling; resolves once a read under way is done. */
  stop(): Promise<void>;
}

const keyOf = (e: OutboxEntry) => `${e.at}|${e.to}|${e.purpose}|${e.code}`;

/**
 * Calls `onEntry` for every message written to `file` after this resolves, oldest first.
 * Polls every `intervalMs` (default 250) and reads the file again only when its size, time
 * or inode changed. The service trims messages older than an hour by replacing the file, so
 * what is new is told by the entries themselves, not by an offset.
 */
export async function followOutbox(file: string, onEntry: (e: OutboxEntry) => void, opts: { intervalMs?: number } = {}): Promise<OutboxFollower> {
  const intervalMs = opts.intervalMs ?? 250;
  const version = async () => {
    try {
      const s = await stat(file);
      return `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'none';
      throw e;
    }
  };
  let last = await version();
  let seen = new Set((await readOutbox(file)).map(keyOf));
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const poll = async () => {
    const v = await version();
    if (v === last) return;
    const entries = await readOutbox(file);
    for (const e of entries) if (!seen.has(keyOf(e))) onEntry(e);
    seen = new Set(entries.map(keyOf));
    last = v;
  };
  const schedule = () => {
    timer = setTimeout(() => {
      running = poll()
        // The outbox being rewritten under us is not worth stopping the demo for: the next poll reads it again.
        .catch(() => undefined)
        .then(() => {
          if (!stopped) schedule();
        });
    }, intervalMs);
    timer.unref();
  };
  schedule();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

/** One line for the terminal: the masked number, what the code is for, the code. */
export function codeLine(e: OutboxEntry): string {
  return `one-time code for ${e.to} (${e.purpose}): ${e.code}`;
}
