import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ledger } from '../../ledger/ledger';
import { putFacts } from '../../server/services/facts-store';
import { RetentionService } from '../../server/services/retention';
import { RuleBook } from '../../server/services/rule-book';
import type { AppContext } from '../../server/context';
import { machineInfo, percentile } from './util';
import { appendSyntheticScan } from './synthetic-scan';

/**
 * `npx tsx scripts/bench/erasure.ts [events]` (default 100,000): erasure time per 100,000
 * scan events. Builds a ledger of `events` scan events (resident and venue chains, the
 * `scans` index, as ScanService writes them) 29 days in the past, and health facts for the
 * 20,000 residents they name (half of them with an old declaration and a recent contact,
 * which stays), then runs the retention
 * job on it while a writer appends one event every 5 ms, and reports the job's time (erasing,
 * compacting), the event loop's longest stall and the writer's latencies during the run.
 */
async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 100_000);
  const dir = mkdtempSync(join(tmpdir(), 'ankang-bench-erasure-'));
  let now = Date.parse('2026-03-10T02:00:00Z');
  const ledger = await Ledger.open(join(dir, 'ledger'), () => new Date(now));
  try {
    // Facts are sealed at rest, as the service writes them (server/services/facts-store.ts).
    const encryptionKey = randomBytes(32);
    const venues = Array.from({ length: 200 }, (_, i) => `venue${String(i).padStart(11, '0')}`);
    const built = performance.now();
    for (let i = 0; i < n; i += 1_000) {
      await ledger.transact(async (tx) => {
        for (let j = i; j < Math.min(n, i + 1_000); j++) {
          const venue = venues[j % venues.length];
          const p = `p${String(j % 20_000).padStart(15, '0')}`;
          await appendSyntheticScan(tx, {
            subject: `r:${p}`,
            venue,
            venueType: 'mall',
            subtype: 'mall',
            district: '340104',
            cti: 'ab'.repeat(8),
          });
        }
      });
      now += 1_000;
    }
    const rules = await RuleBook.load(ledger);
    const old = new Date(now).toISOString();
    for (let i = 0; i < 20_000; i += 1_000) {
      await ledger.transact((tx) => {
        for (let j = i; j < i + 1_000; j++) {
          const p = `p${String(j).padStart(15, '0')}`;
          const declaration = { at: old, temperatureC: 36.6, symptoms: [], visited: [], contactWithCase: false };
          putFacts(
            tx,
            encryptionKey,
            p,
            j % 2
              ? { declaration }
              : { declaration, contact: { degree: 2, exposedAt: new Date(now + 27 * 86_400_000).toISOString() } },
          );
        }
      });
    }
    const buildMs = performance.now() - built;

    now += 29 * 86_400_000;
    const app = {
      ledger,
      rules,
      config: { RETENTION_DAYS: 28 },
      secrets: { encryptionKey },
      clock: () => new Date(now),
      log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    } as unknown as AppContext;
    const job = new RetentionService(app);

    // A writer standing for requests: one small transaction every 5 ms, timed from call to durable.
    const latencies: number[] = [];
    let writing = true;
    const writer = (async () => {
      while (writing) {
        const t = performance.now();
        await ledger.transact((tx) => tx.put('meta', 'bench-writer', t));
        latencies.push(performance.now() - t);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    const report = await job.run();
    loop.disable();
    writing = false;
    await writer;

    const per100k = (ms: number) => Math.round((ms * 100_000) / n);
    const figures = {
      events: n,
      buildMs: Math.round(buildMs),
      erasedEvents: report.erasedEvents,
      erasureEvents: report.erasureEvents.length,
      scanEntries: report.scanEntries,
      factRecords: report.factRecords,
      totalMs: report.ms,
      compactMs: report.compactedMs,
      totalMsPer100k: per100k(report.ms),
      eraseMsPer100k: per100k(report.ms - report.compactedMs),
      compactMsPer100k: per100k(report.compactedMs),
      eventLoopMaxStallMs: Math.round(loop.max / 1e6),
      eventLoopP99StallMs: Math.round(loop.percentile(99) / 1e6),
      writerTransactions: latencies.length,
      writerP50Ms: Math.round(percentile(latencies, 50) * 10) / 10,
      writerP99Ms: Math.round(percentile(latencies, 99) * 10) / 10,
      writerMaxMs: Math.round(Math.max(...latencies)),
    };
    console.log(JSON.stringify({ machine: machineInfo(), erasure: figures }, null, 2));
  } finally {
    await ledger.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
