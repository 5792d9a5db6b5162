import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

/** The machine a run was made on, stored beside the figures so runs can be compared. */
export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  platform: string;
  date: string;
}

export function machineInfo(): MachineInfo {
  const c = cpus();
  return {
    cpu: c[0]?.model.trim() ?? 'unknown',
    cores: c.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    date: new Date().toISOString(),
  };
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Nearest-rank percentile, p in [0, 100]. */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** Spread of rounds as (max - min) / median, to show how much one figure can be trusted. */
export function spread(xs: number[]): number {
  const m = median(xs);
  return m > 0 ? (Math.max(...xs) - Math.min(...xs)) / m : NaN;
}

export const round = (x: number, digits = 0) => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

/** Thousands separators, fixed decimals; NaN as "n/a". */
export function fmt(x: number, digits = 0): string {
  if (!Number.isFinite(x)) return 'n/a';
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export const fmtRatio = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');

/** "met" / "NOT MET" against a lower bound, for the aims printed next to ratios. */
export const aim = (value: number, atLeast: number) =>
  value >= atLeast ? `met (≥ ${atLeast})` : `NOT MET (aim ≥ ${atLeast})`;

/** A plain-text table; numeric-looking cells are right-aligned. */
export function table(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)));
  // CJK characters take two columns in a terminal.
  const width = (s: string) =>
    [...s].reduce(
      (n, ch) =>
        n +
        (/[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/.test(ch)
          ? 2
          : 1),
      0,
    );
  const widths = headers.map((h, i) => Math.max(width(h), ...cells.map((r) => width(r[i] ?? ''))));
  const numeric = headers.map(
    (_, i) => cells.length > 0 && cells.every((r) => /^[-+]?[\d,.]+( ?[a-z%/×µ]+)?$|^n\/a$/.test(r[i] ?? '')),
  );
  const pad = (s: string, i: number) => {
    const gap = ' '.repeat(widths[i] - width(s));
    return numeric[i] ? gap + s : s + gap;
  };
  const line = (r: string[]) => `| ${r.map((c, i) => pad(c, i)).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (numeric[i] ? '-'.repeat(w + 1) + ':' : '-'.repeat(w + 2))).join('|')}|`;
  return [line(headers), rule, ...cells.map(line)].join('\n');
}

export function heading(title: string): string {
  return `\n## ${title}\n`;
}

const nowMs = () => performance.now();

/**
 * Calls a synchronous `fn` back to back for about `ms` milliseconds and returns calls per
 * second. The clock is read every 64 calls so that reading it costs nothing measurable.
 */
export function rateSync(fn: (i: number) => unknown, ms: number): number {
  const start = nowMs();
  const end = start + ms;
  let i = 0;
  for (;;) {
    fn(i++);
    if ((i & 63) === 0 && nowMs() >= end) break;
  }
  return (i * 1000) / (nowMs() - start);
}

/** Like `rateSync`, awaiting each call before the next (one operation in flight). */
export async function rateAsync(fn: (i: number) => Promise<unknown>, ms: number): Promise<number> {
  const start = nowMs();
  const end = start + ms;
  let i = 0;
  for (;;) {
    await fn(i++);
    if ((i & 15) === 0 && nowMs() >= end) break;
  }
  return (i * 1000) / (nowMs() - start);
}

/** Keeps `inFlight` calls running for about `ms` milliseconds; returns completions per second. */
export async function rateConcurrent(
  fn: (i: number) => Promise<unknown>,
  ms: number,
  inFlight: number,
): Promise<number> {
  const start = nowMs();
  const end = start + ms;
  let i = 0;
  let done = 0;
  const worker = async () => {
    while (nowMs() < end) {
      await fn(i++);
      done++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return (done * 1000) / (nowMs() - start);
}

export type Measure = () => number | Promise<number>;

/**
 * Runs every variant once per round, rotating which goes first so that drift (heat, GC,
 * a neighbour's load) spreads over all of them, after one untimed warm-up pass of each.
 * Returns each variant's per-round rates.
 */
export async function interleavedRounds(
  variants: Record<string, Measure>,
  opts: { rounds: number; warmup: Record<string, Measure> },
): Promise<Record<string, number[]>> {
  const names = Object.keys(variants);
  for (const name of names) await (opts.warmup[name] ?? variants[name])();
  const out: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < opts.rounds; r++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(k + r) % names.length];
      out[name].push(await variants[name]());
    }
  }
  return out;
}

/** Median rate of one variant and its spread, as stored in the JSON. */
export interface RateFigure {
  perSecond: number;
  rounds: number[];
  spread: number;
}

export function figure(rounds: number[]): RateFigure {
  return { perSecond: round(median(rounds)), rounds: rounds.map((x) => round(x)), spread: round(spread(rounds), 3) };
}

/** Kernel clock ticks per second, the unit of utime and stime in /proc/<pid>/stat. */
export const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Parent pid and user + system CPU seconds of a process (Linux /proc); undefined when it is gone. */
export function procStat(pid: number): { ppid: number; seconds: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state is field 3, ppid 4, utime 14, stime 15.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), seconds: (Number(f[11]) + Number(f[12])) / CLOCK_TICKS };
  } catch {
    return undefined;
  }
}
