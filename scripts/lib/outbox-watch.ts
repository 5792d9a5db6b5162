import { closeSync, openSync, readSync, statSync, unwatchFile, watchFile } from 'node:fs';
import type { OutboxEntry } from '../../server/identity/sms';

/**
 * Calls `onEntry` for every line written to the development SMS outbox from now on (the
 * embedded provider's sign-in codes, re-bind codes), so `npm start` and `npm run demo` can
 * show a person trying the pages the code their phone would have received. Polls the file
 * (it may not exist yet, and is rewritten when old lines are trimmed); `stop` ends it.
 */
export function watchOutbox(file: string, onEntry: (e: OutboxEntry) => void, intervalMs = 300): { stop(): void } {
  const stat = () => {
    try {
      const s = statSync(file);
      return { size: s.size, ino: s.ino };
    } catch {
      return { size: 0, ino: 0 };
    }
  };
  let { size: offset, ino } = stat();
  let partial = '';
  // When old lines are trimmed the file is replaced: read it again from the start, and skip what was shown:
  // anything older than the last line shown, and the lines of that same millisecond already shown.
  let lastAt = '';
  let shownAtLast = new Set<string>();
  const read = () => {
    const now = stat();
    if (now.ino !== ino || now.size < offset) {
      ino = now.ino;
      offset = 0;
      partial = '';
    }
    const end = now.size;
    if (end === offset) return;
    const buf = Buffer.alloc(end - offset);
    const fd = openSync(file, 'r');
    try {
      readSync(fd, buf, 0, buf.length, offset);
    } finally {
      closeSync(fd);
    }
    offset = end;
    const lines = (partial + buf.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line) continue;
      let e: OutboxEntry;
      try {
        e = JSON.parse(line) as OutboxEntry;
      } catch {
        continue; // a line that is not JSON is not a message
      }
      if (e.at < lastAt) continue;
      const key = `${e.to}|${e.purpose}|${e.code}`;
      if (e.at === lastAt) {
        if (shownAtLast.has(key)) continue;
        shownAtLast.add(key);
      } else {
        lastAt = e.at;
        shownAtLast = new Set([key]);
      }
      onEntry(e);
    }
  };
  watchFile(file, { interval: intervalMs }, read);
  return { stop: () => unwatchFile(file, read) };
}

/** One outbox message as a terminal line: to whom (masked), what for, and the code. */
export function outboxLine(e: OutboxEntry): string {
  return `  SMS to ${e.to} (${e.purpose}): ${e.code}`;
}
