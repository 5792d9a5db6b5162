import { cpus } from 'node:os';
import type { ServiceProcess } from '../lib/service-process';
import { fmt, fmtRatio, median, procStat, round, table } from './util';

/**
 * The service as one process (WORKERS=0) and as a supervisor with one ledger writer and
 * WORKERS HTTP workers: which process is which, and the CPU each spends per request.
 */

/** WORKERS values the scans and application benches run side by side, interleaved. */
export const WORKER_COUNTS = [0, 1, 2] as const;

/** The processes of one service: the pid it was started as, and under WORKERS its writer and workers. */
export interface ServiceRoles {
  main: number;
  writer?: number;
  workers: number[];
}

/** The roles of a started service: its listening line names the writer and workers under WORKERS. */
export function rolesOf(main: number, s: Pick<ServiceProcess, 'workers' | 'writer'>): ServiceRoles {
  return { main, writer: s.writer, workers: s.workers };
}

/** CPU seconds of each role's process at one moment; undefined for one that is gone (or off Linux). */
export type RolesCpu = { main?: number; writer?: number; workers: Array<number | undefined> };

export function rolesCpu(r: ServiceRoles): RolesCpu {
  return {
    main: procStat(r.main)?.seconds,
    writer: r.writer === undefined ? undefined : procStat(r.writer)?.seconds,
    workers: r.workers.map((p) => procStat(p)?.seconds),
  };
}

/**
 * CPU µs per request of each process in one round. `main` is the whole service under
 * WORKERS=0 and the supervisor otherwise; `other` is the rest of the service's process tree
 * (helpers a process spawned, a restarted worker); `loadGenerator` is this process (autocannon).
 */
export interface CpuSplit {
  main: number | null;
  writer: number | null;
  workers: Array<number | null>;
  other: number | null;
  loadGenerator: number;
}

/** One round's split from the snapshots before and after it and the totals `cannon` measured. */
export function cpuSplit(
  before: RolesCpu,
  after: RolesCpu,
  treeSeconds: number | undefined,
  loadGeneratorUs: number,
  served: number,
): CpuSplit | undefined {
  if (served <= 0) return undefined;
  const us = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined ? null : round(((b - a) * 1e6) / served);
  const main = us(before.main, after.main);
  const hasWriter = before.writer !== undefined || after.writer !== undefined;
  const writer = hasWriter ? us(before.writer, after.writer) : null;
  const workers = before.workers.map((b, i) => us(b, after.workers[i]));
  const named = [main, ...(hasWriter ? [writer] : []), ...workers];
  const other =
    treeSeconds === undefined || named.some((x) => x === null)
      ? null
      : Math.max(0, round((treeSeconds * 1e6) / served - named.reduce<number>((n, x) => n + (x ?? 0), 0)));
  return { main, writer, workers, other, loadGenerator: round(loadGeneratorUs / served) };
}

/** The median of each part over the rounds (a part missing in any round is null). */
export function medianSplit(rounds: Array<CpuSplit | undefined>): CpuSplit | undefined {
  const got = rounds.filter((r): r is CpuSplit => r !== undefined);
  if (got.length === 0 || got.length < rounds.length) return undefined;
  const med = (xs: Array<number | null>) =>
    xs.some((x) => x === null) ? null : round(median(xs.filter((x): x is number => x !== null)));
  return {
    main: med(got.map((r) => r.main)),
    writer: med(got.map((r) => r.writer)),
    workers: got[0].workers.map((_, i) => med(got.map((r) => r.workers[i] ?? null))),
    other: med(got.map((r) => r.other)),
    loadGenerator: round(median(got.map((r) => r.loadGenerator))),
  };
}

/** One service configuration's figures in a WORKERS comparison. */
export interface WorkersRow {
  workers: number;
  perSecond: number;
  p99ms: number;
  /** Service ÷ the one-process floor and ÷ the spread floor, from the same run. */
  ofFloor: number;
  ofSpreadFloor: number;
  split: CpuSplit | undefined;
}

/** The WORKERS comparison of one bench: the rows, and WORKERS=2 ÷ WORKERS=1 throughput. */
export interface WorkersFigure {
  rows: WorkersRow[];
  /** Throughput with 2 workers over that with 1 (issue 18: no lower); null when either is missing. */
  twoOverOne: number | null;
}

export function workersFigure(rows: WorkersRow[]): WorkersFigure {
  const at = (n: number) => rows.find((r) => r.workers === n)?.perSecond;
  const one = at(1);
  const two = at(2);
  return { rows, twoOverOne: one && two !== undefined ? round(two / one, 3) : null };
}

const label = (n: number) => (n === 0 ? 'WORKERS=0 (one process)' : `WORKERS=${n}`);

/**
 * Prints the comparison: throughput, p99 and service ÷ floor per configuration, then the CPU
 * split per process as µs per request, share of all the CPU the round used (service and load
 * generator), and cores kept busy at the measured rate; then WORKERS=2 ÷ WORKERS=1.
 */
export function printWorkers(what: string, f: WorkersFigure, connections: number, spreadProcesses: number): void {
  console.log(`\n${what} with WORKERS (interleaved with the loads above, same floors; ${connections} connections):`);
  console.log(
    table(
      ['service', 'per second', `p99 ms`, '÷ floor', `÷ floor in ${spreadProcesses} processes`, 'server CPU µs/req'],
      f.rows.map((r) => {
        const total = r.split ? serviceTotal(r.split) : null;
        return [
          label(r.workers),
          fmt(r.perSecond),
          fmt(r.p99ms),
          fmtRatio(r.ofFloor),
          fmtRatio(r.ofSpreadFloor),
          total === null ? 'n/a' : fmt(total),
        ];
      }),
    ),
  );
  const rows: string[][] = [];
  for (const r of f.rows) {
    const s = r.split;
    if (!s) {
      rows.push([label(r.workers), 'n/a', 'n/a', 'n/a', 'n/a']);
      continue;
    }
    const parts: Array<[string, number | null]> = [
      [r.workers === 0 ? 'the service process' : 'supervisor', s.main],
      ...(r.workers === 0 ? [] : ([['ledger writer', s.writer]] as Array<[string, number | null]>)),
      ...s.workers.map((x, i): [string, number | null] => [`worker ${i + 1}`, x]),
      ['other processes of the service', s.other],
      ['load generator (autocannon, this process)', s.loadGenerator],
    ];
    const all = parts.reduce((n, [, x]) => n + (x ?? 0), 0);
    for (const [name, x] of parts) {
      rows.push([
        label(r.workers),
        name,
        x === null ? 'n/a' : fmt(x),
        x === null || all <= 0 ? 'n/a' : `${fmt((x / all) * 100)}%`,
        x === null ? 'n/a' : fmt((x * r.perSecond) / 1e6, 2),
      ]);
    }
  }
  console.log(`\nCPU split per process (utime + stime from /proc/<pid>/stat before and after each round; medians):`);
  console.log(
    table(['service', 'process', 'CPU µs/req', 'share of the CPU used', `cores busy (of ${cpus().length})`], rows),
  );
  const w2 = f.rows.find((r) => r.workers === 2);
  const w1 = f.rows.find((r) => r.workers === 1);
  if (w1 && w2)
    console.log(
      `WORKERS=2 ÷ WORKERS=1 throughput for ${what}: ${fmtRatio(f.twoOverOne ?? NaN)} (${fmt(w2.perSecond)}/s ÷ ${fmt(w1.perSecond)}/s; issue 18 aim: ≥ 1, ${f.twoOverOne !== null && f.twoOverOne >= 1 ? 'met' : 'NOT MET'}).`,
    );
  const writerShare = w2?.split?.writer;
  if (w2?.split && writerShare != null) {
    const total = serviceTotal(w2.split);
    if (total)
      console.log(
        `Under WORKERS=2 the ledger writer spends ${fmt(writerShare)} µs of the service's ${fmt(total)} µs per request (${fmt((writerShare / total) * 100)}%): on one core it alone would top out near ${fmt(1e6 / writerShare)}/s.`,
      );
  }
}

/** The service's CPU µs per request: every process but the load generator. */
export function serviceTotal(s: CpuSplit): number | null {
  const parts = [s.main, s.writer, ...s.workers, s.other];
  if (s.main === null || s.workers.some((x) => x === null)) return null;
  return parts.reduce<number>((n, x) => n + (x ?? 0), 0);
}
