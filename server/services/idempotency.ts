import { createHmac } from 'node:crypto';
import { canonicalJson } from '../../verifier/src/event';
import { openField, sealField } from '../crypto/pii';
import { ServiceError } from '../errors';
import { startPeriodic } from '../periodic';
import type { Ledger, Tx } from '../../ledger/ledger';

export interface StoredResponse {
  status: number;
  body: unknown;
}

interface Entry {
  fingerprint: string;
  sealed: string;
  at: string;
}

const KEY = /^[A-Za-z0-9_\-:.]{8,128}$/;
/** `~at/<time>/<scope>:<key>`: when each entry was written, for the sweep (no scope starts with `~`). */
const AT = '~at/';
const SWEEP_CHUNK = 500;

/**
 * `Idempotency-Key` support. The first response for (scope, key) is kept, sealed with the
 * data key because it can hold a bearer token, in the same transaction as the request's
 * effects, with a keyed fingerprint of the body; a retry with the same body gets the same
 * response, with another body a 422. An entry lives `ttlMs` (IDEMPOTENCY_TTL_HOURS): after
 * that the key counts as unused, and `sweep` deletes it.
 */
export class Idempotency {
  /**
   * Bodies hold ID numbers and names, which are few enough to guess: a plain hash of one
   * stored at rest would let anyone with the data folder confirm a guess. The fingerprint
   * is an HMAC under a key derived from the data key for this one purpose.
   */
  private readonly macKey: Buffer;

  constructor(
    private readonly key: Buffer,
    private readonly ttlMs: number,
  ) {
    this.macKey = createHmac('sha256', key).update('ankang/idempotency-fingerprint/v1').digest();
  }

  static validate(header: string | undefined): string | undefined {
    if (header === undefined || header === '') return undefined;
    if (!KEY.test(header))
      throw new ServiceError(
        'IDEMPOTENCY_KEY_INVALID',
        'Idempotency-Key must be 8–128 characters of A-Z a-z 0-9 _ - : .',
      );
    return header;
  }

  private fingerprint(body: unknown) {
    return createHmac('sha256', this.macKey).update(canonicalJson(body)).digest('hex');
  }

  async replay(tx: Tx, scope: string, key: string | undefined, body: unknown): Promise<StoredResponse | undefined> {
    if (!key) return undefined;
    const id = `${scope}:${key}`;
    const entry = await tx.get<Entry>('idempotency', id);
    if (!entry || this.expired(entry, tx.now)) return undefined;
    if (entry.fingerprint !== this.fingerprint(body)) {
      throw new ServiceError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used with a different request');
    }
    return JSON.parse(openField(this.key, entry.sealed, id)) as StoredResponse;
  }

  remember(tx: Tx, scope: string, key: string | undefined, body: unknown, response: StoredResponse): void {
    if (!key) return;
    const id = `${scope}:${key}`;
    const at = tx.now.toISOString();
    tx.put('idempotency', id, {
      fingerprint: this.fingerprint(body),
      sealed: sealField(this.key, JSON.stringify(response), id),
      at,
    } satisfies Entry);
    tx.put('idempotency', `${AT}${at}/${id}`, 1);
  }

  private expired(entry: Entry, now: Date): boolean {
    return now.getTime() - Date.parse(entry.at) >= this.ttlMs;
  }

  /** Deletes the entries older than the TTL at `now`; returns how many. */
  async sweep(ledger: Ledger, now: Date): Promise<number> {
    const cutoff = new Date(now.getTime() - this.ttlMs).toISOString();
    let removed = 0;
    for (;;) {
      const keys: string[] = [];
      for await (const k of ledger.space('idempotency').keys({ gt: AT, lte: `${AT}${cutoff}~`, limit: SWEEP_CHUNK }))
        keys.push(k);
      if (!keys.length) return removed;
      await ledger.transact(async (tx) => {
        for (const k of keys) {
          const rest = k.slice(AT.length);
          const at = rest.slice(0, rest.indexOf('/'));
          const id = rest.slice(at.length + 1);
          tx.del('idempotency', k);
          // The key may have been used again since: that newer entry stays.
          const entry = await tx.get<Entry>('idempotency', id);
          if (entry?.at === at) {
            tx.del('idempotency', id);
            removed++;
          }
        }
      });
    }
  }

  /** Sweeps every `intervalMs` until `stop`. */
  start(ledger: Ledger, clock: () => Date, intervalMs: number, onError: (e: Error) => void): { stop(): Promise<void> } {
    return startPeriodic(intervalMs, () => this.sweep(ledger, clock()), onError);
  }
}
