import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ledger } from '../../ledger/ledger';
import { fmt, median, round } from './util';
import { appendSyntheticScan } from './synthetic-scan';

/**
 * The single ledger writer on its own, for a capacity plan and for work on its hot path: the
 * transactions of a staff scan (two reads, one event on a resident's and a venue's chain,
 * two index entries) through `Ledger.transact`, 64 in flight as under the HTTP bench, fsync'd
 * in groups. Prints transactions (= events) per second, the process's CPU µs per transaction
 * (all threads: LevelDB's included) and fsync'd groups per second. No HTTP, verification or
 * policies: what one writer sustains when nothing else needs its core.
 *
 *   npx tsx scripts/bench/ledger-writer.ts      (LEDGER_ROUNDS, default 5, of LEDGER_ROUND_MS, default 2000)
 */
const ROUNDS = Number(process.env.LEDGER_ROUNDS ?? 5);
const ROUND_MS = Number(process.env.LEDGER_ROUND_MS ?? 2000);
const IN_FLIGHT = 64;
const RESIDENTS = 2000;

interface WriterRound {
  perSecond: number;
  cpuUs: number;
  groupsPerSecond: number;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ankang-ledger-writer-'));
  const ledger = await Ledger.open(dir);
  let groups = 0;
  ledger.onEvents(() => groups++);
  let n = 0;
  const resident = (i: number) => `r:${String(i % RESIDENTS).padStart(43, 'p')}`;
  const scan = () => {
    const i = n++;
    return ledger.transact(async (tx) => {
      const owner = await tx.get('codes', `c/${(i % RESIDENTS).toString(16).padStart(16, '0')}`);
      const daily = await tx.get('index', `daily/${resident(i)}/2026-11-30`);
      await appendSyntheticScan(tx, {
        subject: resident(i),
        venue: 'abcdefabcdefabcd',
        venueType: 'crowded-place',
        district: '340103',
        cti: (i % RESIDENTS).toString(16).padStart(16, '0'),
      });
      return { owner, daily };
    });
  };
  const round1 = async (ms: number): Promise<WriterRound> => {
    const cpu = process.cpuUsage();
    const g = groups;
    const started = performance.now();
    let done = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (performance.now() - started < ms) {
          await scan();
          done++;
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const c = process.cpuUsage(cpu);
    return { perSecond: done / seconds, cpuUs: (c.user + c.system) / done, groupsPerSecond: (groups - g) / seconds };
  };
  const load = round(loadavg()[0], 2);
  try {
    await round1(1000);
    const rounds: WriterRound[] = [];
    for (let r = 0; r < ROUNDS; r++) rounds.push(await round1(ROUND_MS));
    const m = (f: (x: WriterRound) => number) => median(rounds.map(f));
    console.log(
      `ledger writer, scan transactions, ${IN_FLIGHT} in flight, median of ${ROUNDS}: ${fmt(m((r) => r.perSecond))} per second (rounds ${rounds.map((r) => fmt(r.perSecond)).join(' / ')}), ` +
        `${fmt(
          m((r) => r.cpuUs),
          1,
        )} µs CPU each (rounds ${rounds.map((r) => fmt(r.cpuUs, 1)).join(' / ')}), ${fmt(m((r) => r.groupsPerSecond))} fsync'd groups per second; ` +
        `load average (1 min) ${load} before, ${round(loadavg()[0], 2)} after`,
    );
  } finally {
    await ledger.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
