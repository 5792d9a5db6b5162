import type { AppContext } from '../context';
import type { ResidentRecord, ResidentService } from './residents';

const CHUNK = 200;

/**
 * Background re-evaluation. `sweepAll` re-runs the rules for every resident after a new
 * rule version or risk-area list (new codes use the new rules at once; this brings the
 * status list along). `reviewDue` re-runs residents whose time windows have ended, so a
 * quarantine can end without anyone touching the record.
 */
export class Reevaluator {
  private sweep: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private reviewing: Promise<number> | undefined;

  constructor(
    private readonly app: AppContext,
    private readonly residents: ResidentService,
  ) {}

  /** Starts (or queues one more) full sweep; resolves when the queued sweep ends. */
  sweepAll(reason: string): Promise<void> {
    if (this.sweep) {
      this.again = true;
      return this.sweep;
    }
    this.sweep = (async () => {
      do {
        this.again = false;
        const n = await this.runSweep();
        this.app.log.info('re-evaluation sweep done', { reason, residents: n });
      } while (this.again);
    })()
      .catch((e) => this.app.log.error('re-evaluation sweep failed', { error: (e as Error).message }))
      .finally(() => {
        this.sweep = undefined;
      });
    return this.sweep;
  }

  private async runSweep(): Promise<number> {
    let after = '';
    let n = 0;
    for (;;) {
      const keys: string[] = [];
      for await (const k of this.app.ledger.space('residents').keys({ gt: after, limit: CHUNK })) keys.push(k);
      if (!keys.length) return n;
      await this.app.ledger.transact(async (tx) => {
        for (const k of keys) {
          const r = await tx.get<ResidentRecord>('residents', k);
          if (r) await this.residents.reevaluate(tx, r, undefined, 'sweep');
        }
      });
      n += keys.length;
      after = keys[keys.length - 1];
    }
  }

  /** Re-evaluates residents whose review time has come; returns how many. */
  reviewDue(): Promise<number> {
    this.reviewing ??= (async () => {
      let total = 0;
      for (;;) {
        const due: string[] = [];
        const nowIso = this.app.clock().toISOString();
        for await (const k of this.app.ledger.space('reviews').keys({ lt: nowIso, limit: CHUNK })) due.push(k);
        if (!due.length) return total;
        await this.app.ledger.transact(async (tx) => {
          for (const k of due) {
            const p = k.slice(k.indexOf('/') + 1);
            const r = await tx.get<ResidentRecord>('residents', p);
            // The record may have moved its review since the key was read.
            if (!r || `${r.reviewAt}/${p}` !== k) {
              tx.del('reviews', k);
              continue;
            }
            await this.residents.reevaluate(tx, r, undefined, 'time-window');
          }
        });
        total += due.length;
      }
    })().finally(() => {
      this.reviewing = undefined;
    });
    return this.reviewing;
  }

  start(intervalSeconds: number): void {
    this.timer = setInterval(() => {
      this.reviewDue().catch((e) => this.app.log.error('review failed', { error: (e as Error).message }));
    }, intervalSeconds * 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.sweep;
    await this.reviewing?.catch(() => undefined);
  }
}
