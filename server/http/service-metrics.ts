import { Counter, Gauge } from 'prom-client';
import { decodeCbor, decodeSign1 } from '../../verifier/src';
import type { AppContext } from '../context';
import { LIMITS, RATE_LIMITED_HELP, UNKNOWN_TOKEN_LIMIT } from './rate-limit';

/** The type of the ledger event that records an anchored checkpoint (anchor/anchorer.ts). */

/** Help of the rate-limit counter, as server/http/rate-limit.ts names it. */

const seconds = (ms: number) => Math.max(0, ms) / 1000;

/** Issuer and issue time (seconds) of a status list the federation already checked. */
function statusListIssued(bytes: Uint8Array): { iss: string; issuedAt: number } | undefined {
  try {
    const m = decodeCbor(decodeSign1(bytes).payload) as Map<number, unknown>;
    const iss = m.get(1);
    const issuedAt = m.get(6);
    return typeof iss === 'string' && typeof issuedAt === 'number' ? { iss, issuedAt } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Registers the service's own gauges and counters in its registry, once per service. Every
 * value is read when `/metrics` is scraped (prom-client's `collect`), never pushed per
 * request. Ages are by the service's clock; the anchoring series exist only with a chain
 * (CHAIN_RPC_URL), the federation series only once a refresh brought other issuers.
 */
export function registerServiceMetrics(app: AppContext): void {
  const { metrics } = app;
  const registers = [metrics.registry];
  if (metrics.registry.getSingleMetric('ankang_ledger_height')) return;
  const now = () => app.clock().getTime();

  new Gauge({
    name: 'ankang_ledger_height',
    help: 'Durable ledger events',
    registers,
    collect() {
      this.set(app.ledger.getHead().seq);
    },
  });
  new Gauge({
    name: 'ankang_residents',
    help: 'Residents with a status index',
    registers,
    collect() {
      this.set(app.statusBook.size);
    },
  });
  new Counter({
    name: 'ankang_ledger_write_failures_total',
    help: 'Ledger writes (group commits) that failed, since start',
    registers,
    collect() {
      // Counted by the ledger; read defensively while a ledger without the count may be running.
      const failures = Number((app.ledger as unknown as { writeFailures?: number }).writeFailures ?? 0);
      this.reset();
      this.inc(Number.isFinite(failures) ? failures : 0);
    },
  });
  // Every limit's series from the start, so a rate over it never starts from an absent series.
  for (const limit of [...Object.keys(LIMITS), UNKNOWN_TOKEN_LIMIT])
    metrics.inc('ankang_rate_limited_total', RATE_LIMITED_HELP, { limit }, 0);

  const { anchorer } = app;
  if (anchorer) {
    new Gauge({
      name: 'ankang_anchor_lag_events',
      help: "Ledger events not yet covered by a checkpoint anchored on chain (the latest checkpoint's own record aside)",
      registers,
      async collect() {
        this.set((await anchorer.unanchored()).events);
      },
    });
    new Gauge({
      name: 'ankang_anchor_lag_seconds',
      help: 'Age of the oldest ledger event not yet covered by an anchored checkpoint; 0 when every event is',
      registers,
      async collect() {
        const { oldest } = await anchorer.unanchored();
        this.set(oldest ? seconds(now() - Date.parse(oldest.at)) : 0);
      },
    });
    metrics.gauge(
      'ankang_anchor_last_checkpoint_age_seconds',
      'Seconds since the latest checkpoint was anchored (no sample before the first)',
      () => {
        const cp = anchorer.checkpoint;
        return cp ? [[{}, seconds(now() - Date.parse(cp.anchoredAt))]] : [];
      },
    );
    const states = ['connecting', 'up', 'down', 'suspended', 'diverged'] as const;
    new Gauge({
      name: 'ankang_anchor_state',
      help: "The anchorer's state: 1 for the current one (connecting, up, down, suspended, diverged)",
      labelNames: ['state'],
      registers,
      collect() {
        for (const state of states) this.set({ state }, anchorer.state === state ? 1 : 0);
      },
    });
  }

  if (app.federation) {
    new Gauge({
      name: 'ankang_federation_status_list_age_seconds',
      help: 'Age of the status list held for each other issuer (now - its issue time), by issuer code',
      labelNames: ['issuer'],
      registers,
      collect() {
        this.reset();
        const t = now();
        for (const bytes of app.trust.foreignStatusLists()) {
          const list = statusListIssued(bytes);
          if (list) this.set({ issuer: list.iss }, seconds(t - list.issuedAt * 1000));
        }
      },
    });
    metrics.gauge(
      'ankang_federation_trust_list_age_seconds',
      "Seconds since the other issuers' keys were last read from the chain (no sample before the first refresh)",
      () => {
        const at = app.trust.foreignUpdatedAt;
        return at ? [[{}, seconds(now() - at.getTime())]] : [];
      },
    );
  }
}
