import type { AbstractSublevel } from 'abstract-level';
import { parseIssuerTokens, type IssuerToken } from './issuer-tokens';
import type { Level } from 'level';
import type { Logger } from '../ledger/log';
import type { LedgerEvent } from '../verifier/src/event';
import { CompactRange, type CompactRangeJSON } from '../verifier/src/merkle';
import { SubjectMap } from '../verifier/src/subject-map';
import {
  checkCheckpoint,
  initialWitnessState,
  witnessStatement,
  type WitnessRefusalCode,
  type WitnessState,
} from '../verifier/src/witness';
import { GENESIS_HASH } from '../verifier/src/event';
import type { RegistryClient } from './registry';

/**
 * The service as a witness of other issuers (verifier/FORMAT.md §13.3): for each issuer it is
 * configured to watch (WITNESS_FOR), it checks that issuer's log from its first event, one
 * anchored checkpoint at a time, fetching each checkpoint's events from the issuer's
 * `GET /v1/log/events` with the witness token that issuer gave it, and cosigns the checkpoint
 * on chain from its own anchorer account (which the council registered as a witness) when
 * `checkCheckpoint` finds every event extends the log honestly. On a refusal (a forked
 * subject, a map root that is not the log's, …) it logs the reason with the seq at fault and
 * cosigns nothing more for that issuer, for good: the refusal is kept, and shown in
 * `/v1/federation/status` and the `ankang_witness_refused` metric, until someone looks.
 *
 * What it has checked is kept in its own LevelDB space (`witness`), per issuer: the RFC 6962
 * right edge, the last event's hash and time, every subject's head, and which checkpoints it
 * checked and cosigned; a restart carries on from there. A checkpoint checked but not yet
 * cosigned (the chain was down, or the council has not registered this witness yet) stays
 * pending and is cosigned on a later round; checking goes on meanwhile, so a fork is found
 * as soon as it is anchored.
 */

/** One issuer to witness: its region code, the witness token it issued us, and where its service is (else its status list URL's origin). */
export type WitnessTarget = IssuerToken;

export type WitnessDb = AbstractSublevel<Level<string, unknown>, string | Uint8Array | Buffer, string, unknown>;

type Labels = Record<string, string>;

/**
 * What the witness counts with: a counter by name and a gauge read at every scrape. The
 * service's per-service metrics registry has this shape; the witness is the only part below
 * server/ that counts, so the interface lives with it.
 */
export interface WitnessMetrics {
  inc(name: string, help: string, labels?: Labels, by?: number): void;
  gauge(name: string, help: string, read: () => Array<[Labels, number]> | Promise<Array<[Labels, number]>>): void;
}

export interface WitnessRunnerOptions {
  /** This service's own issuer: never witnessed by itself. */
  issuer: string;
  targets: WitnessTarget[];
  intervalSeconds: number;
  /** The chain session with this service's anchorer account, while there is one (the anchorer's). */
  registry: () => RegistryClient | undefined;
  db: WitnessDb;
  log: Logger;
  metrics: WitnessMetrics;
  clock: () => Date;
  /** Events per request to the issuer (at most 1,000, the endpoint's page). */
  pageSize?: number;
}

/** Why a checkpoint was refused, kept for good. */
export interface WitnessRefusal {
  code: WitnessRefusalCode;
  message: string;
  seq?: number;
  subject?: string;
  /** The checkpoint refused. */
  index: number;
  treeSize: number;
  at: string;
}

/** What is kept per issuer, beside its subjects' heads. */
interface Saved {
  issuer: string;
  /** The registry and chain the checkpoint numbers are of; another one starts over. */
  contract: string;
  chainId: number;
  treeSize: number;
  lastHash: string;
  lastAt: string;
  log: CompactRangeJSON;
  mapRoot: string;
  /** The last checkpoint checked (−1: none). */
  checked: number;
  /** Checkpoints checked and found honest whose cosignature is not on chain yet. */
  pending: number[];
  /** The last checkpoint cosigned (−1: none). */
  cosigned: number;
  refusal: WitnessRefusal | null;
}

/** Where witnessing one issuer stands, for /v1/federation/status. */
export interface WitnessIssuerStatus {
  issuer: string;
  /** `witnessing`: caught up or catching up; `refused`: a checkpoint failed the check, nothing more is cosigned; `waiting`: cannot go on now (lastError says why). */
  state: 'witnessing' | 'refused' | 'waiting';
  /** Events checked, from the first. */
  treeSize: number;
  checkedCheckpoint: number | null;
  cosignedCheckpoint: number | null;
  pending: number[];
  refusal: WitnessRefusal | null;
  lastError: string | null;
  lastRound: string | null;
}

const headKey = (issuer: string, subject: string) => `h/${issuer}/${subject}`;
const stateKey = (issuer: string) => `s/${issuer}`;
const ALREADY = 'AnchorRegistryAlreadyCosigned';

class Unavailable extends Error {}

export class WitnessRunner {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly states = new Map<string, { saved: Saved; state: WitnessState }>();
  private readonly errors = new Map<string, string | null>();
  private readonly rounds = new Map<string, string>();
  private readonly cosignGas: number[] = [];

  constructor(private readonly opts: WitnessRunnerOptions) {
    const { metrics } = opts;
    metrics.gauge(
      'ankang_witness_refused',
      'Issuers this service refused to cosign (1), by issuer and refusal code; it cosigns nothing more for them',
      () =>
        [...this.states.values()]
          .filter((s) => s.saved.refusal)
          .map((s) => [{ issuer: s.saved.issuer, code: s.saved.refusal!.code }, 1]),
    );
    metrics.gauge('ankang_witness_checked_events', 'Events of each witnessed issuer checked from its first', () =>
      [...this.states.values()].map((s) => [{ issuer: s.saved.issuer }, s.saved.treeSize]),
    );
    metrics.gauge(
      'ankang_witness_pending_cosignatures',
      'Checkpoints checked and found honest whose cosignature is not on chain yet',
      () => [...this.states.values()].map((s) => [{ issuer: s.saved.issuer }, s.saved.pending.length]),
    );
  }

  /** Loads what was checked before a restart. */
  async open(): Promise<void> {
    await this.opts.db.open();
    for (const t of this.opts.targets) {
      const saved = (await this.opts.db.get(stateKey(t.issuer))) as Saved | undefined;
      if (saved) this.states.set(t.issuer, { saved, state: await this.restore(saved) });
    }
  }

  start(): void {
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.opts.intervalSeconds * 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One round over every target; concurrent calls share it. */
  tick(): Promise<void> {
    this.running ??= this.round().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  status(): { issuers: WitnessIssuerStatus[] } {
    return {
      issuers: this.opts.targets.map((t) => {
        const s = this.states.get(t.issuer)?.saved;
        const lastError = this.errors.get(t.issuer) ?? null;
        return {
          issuer: t.issuer,
          state: s?.refusal ? 'refused' : lastError ? 'waiting' : 'witnessing',
          treeSize: s?.treeSize ?? 0,
          checkedCheckpoint: s && s.checked >= 0 ? s.checked : null,
          cosignedCheckpoint: s && s.cosigned >= 0 ? s.cosigned : null,
          pending: s?.pending ?? [],
          refusal: s?.refusal ?? null,
          lastError,
          lastRound: this.rounds.get(t.issuer) ?? null,
        };
      }),
    };
  }

  /** Gas of each cosignature this process sent (for the logs and the bench). */
  get gasUsed(): readonly number[] {
    return this.cosignGas;
  }

  private async round(): Promise<void> {
    for (const t of this.opts.targets) {
      if (this.stopped) return;
      try {
        await this.witness(t);
        this.errors.set(t.issuer, null);
      } catch (e) {
        const message = (e as Error).message.slice(0, 300);
        if (this.errors.get(t.issuer) !== message)
          this.opts.log.warn('witness: cannot go on for now', { issuer: t.issuer, error: message });
        this.errors.set(t.issuer, message);
      }
      this.rounds.set(t.issuer, this.opts.clock().toISOString());
    }
  }

  /** Checks every checkpoint of `t` anchored since the last one checked, and cosigns those found honest. */
  private async witness(t: WitnessTarget): Promise<void> {
    const registry = this.opts.registry();
    if (!registry) throw new Unavailable('no chain session yet');
    const issuer = Number(t.issuer);
    let entry = this.states.get(t.issuer);
    const chainId = await registry.chainId();
    if (
      entry &&
      (entry.saved.contract.toLowerCase() !== registry.address.toLowerCase() || entry.saved.chainId !== chainId)
    ) {
      // Another registry numbers checkpoints anew (a fresh development chain): check from the first event again.
      this.opts.log.warn('witness: another registry than before; checking the issuer from its first event again', {
        issuer: t.issuer,
        contract: registry.address,
      });
      await this.forget(t.issuer);
      entry = undefined;
    }
    if (!entry) {
      const state = initialWitnessState(t.issuer);
      entry = {
        saved: {
          ...this.savedOf(state),
          contract: registry.address,
          chainId,
          checked: -1,
          pending: [],
          cosigned: -1,
          refusal: null,
        },
        state,
      };
      this.states.set(t.issuer, entry);
    }
    if (entry.saved.refusal) return;

    const record = await registry.issuer(issuer);
    if (!record.registeredAt) throw new Unavailable(`issuer ${t.issuer} is not registered on chain`);
    const count = Number(await registry.contract.checkpointCount(issuer));
    for (let index = entry.saved.checked + 1; index < count && !this.stopped; index++) {
      const cp = await registry.checkpoint(issuer, index);
      const { mapRoot } = await registry.attestation(issuer, index);
      const statement = { issuer: t.issuer, treeSize: cp.treeSize, root: cp.root, mapRoot };
      const events = await this.fetchEvents(t, record.statusListUrl, entry.saved.treeSize, cp.treeSize);
      const verdict = checkCheckpoint(entry.state, statement, events);
      if (!verdict.cosign) {
        const refusal: WitnessRefusal = {
          code: verdict.code,
          message: verdict.message,
          ...(verdict.seq !== undefined ? { seq: verdict.seq } : {}),
          ...(verdict.subject !== undefined ? { subject: verdict.subject } : {}),
          index,
          treeSize: cp.treeSize,
          at: this.opts.clock().toISOString(),
        };
        entry.saved = { ...entry.saved, refusal };
        await this.opts.db.put(stateKey(t.issuer), entry.saved);
        this.opts.log.error('witness: refused to cosign a checkpoint; nothing more of this issuer will be cosigned', {
          issuer: t.issuer,
          ...refusal,
        });
        this.opts.metrics.inc(
          'ankang_witness_refusals_total',
          'Checkpoints refused by this witness, by issuer and code',
          { issuer: t.issuer, code: refusal.code },
        );
        return;
      }
      const changed = new Set(events.flatMap((e) => e.subjects));
      const saved: Saved = {
        ...entry.saved,
        ...this.savedOf(verdict.state),
        checked: index,
        pending: [...entry.saved.pending, index],
      };
      const batch = this.opts.db.batch();
      for (const s of changed) {
        const h = verdict.state.map.get(s);
        batch.put(headKey(t.issuer, s), [h.count, h.head]);
      }
      batch.put(stateKey(t.issuer), saved);
      await batch.write();
      entry.saved = saved;
      entry.state = verdict.state;
      this.opts.metrics.inc(
        'ankang_witness_checked_checkpoints_total',
        'Checkpoints checked and found honest, by issuer',
        { issuer: t.issuer },
      );
    }
    await this.cosignPending(t, registry, entry);
  }

  /** Sends the cosignatures still pending, oldest first; stops at the first that fails (to be retried next round). */
  private async cosignPending(
    t: WitnessTarget,
    registry: RegistryClient,
    entry: { saved: Saved; state: WitnessState },
  ): Promise<void> {
    const issuer = Number(t.issuer);
    while (entry.saved.pending.length && !this.stopped) {
      const index = entry.saved.pending[0];
      const cp = await registry.checkpoint(issuer, index);
      const { mapRoot } = await registry.attestation(issuer, index);
      try {
        const r = await registry.cosign(issuer, index, cp.treeSize, cp.root, mapRoot);
        this.cosignGas.push(r.gasUsed);
        this.opts.log.info('witness: cosigned', { issuer: t.issuer, index, treeSize: cp.treeSize, gasUsed: r.gasUsed });
        this.opts.metrics.inc(
          'ankang_witness_cosignatures_total',
          'Checkpoints this witness cosigned on chain, by issuer',
          { issuer: t.issuer },
        );
      } catch (e) {
        const name = (e as { revert?: { name: string } }).revert?.name;
        if (name !== ALREADY)
          throw new Unavailable(`cosigning checkpoint ${index} of ${t.issuer}: ${(e as Error).message}`);
      }
      entry.saved = {
        ...entry.saved,
        pending: entry.saved.pending.slice(1),
        cosigned: Math.max(entry.saved.cosigned, index),
      };
      await this.opts.db.put(stateKey(t.issuer), entry.saved);
    }
  }

  /** Events (after, upTo] from the issuer's GET /v1/log/events, page by page. */
  private async fetchEvents(
    t: WitnessTarget,
    statusListUrl: string,
    after: number,
    upTo: number,
  ): Promise<LedgerEvent[]> {
    const base = t.url?.replace(/\/$/, '') ?? baseOf(statusListUrl);
    if (!base)
      throw new Unavailable(
        `issuer ${t.issuer}'s status list URL (${statusListUrl}) does not end in /v1/status-list: give its service's URL in WITNESS_FOR (${t.issuer}=<token>@<url>)`,
      );
    const limit = Math.min(this.opts.pageSize ?? 1000, 1000);
    const out: LedgerEvent[] = [];
    let from: number | null = after + 1;
    while (from !== null && from <= upTo) {
      let res: Response;
      try {
        res = await fetch(`${base}/v1/log/events?from=${from}&to=${upTo}&limit=${limit}`, {
          headers: { authorization: `Bearer ${t.token}` },
          signal: AbortSignal.timeout(30_000),
        });
      } catch (e) {
        throw new Unavailable(`issuer ${t.issuer}'s service at ${base} did not answer: ${(e as Error).message}`);
      }
      if (!res.ok)
        throw new Unavailable(`issuer ${t.issuer}'s service at ${base} answered HTTP ${res.status} for its events`);
      const page = (await res.json()) as { head?: unknown; events?: unknown; next?: unknown };
      if (typeof page.head !== 'number' || !Array.isArray(page.events))
        throw new Unavailable(`issuer ${t.issuer}'s service at ${base} did not answer with a page of events`);
      // A service behind its own checkpoint (a replica catching up) is not a refusal: ask again later.
      if (page.head < upTo)
        throw new Unavailable(
          `issuer ${t.issuer}'s service serves ${page.head} events, but its checkpoint has ${upTo}`,
        );
      out.push(...(page.events as LedgerEvent[]));
      from = typeof page.next === 'number' && page.events.length > 0 ? page.next : null;
    }
    return out;
  }

  private savedOf(state: WitnessState): Pick<Saved, 'issuer' | 'treeSize' | 'lastHash' | 'lastAt' | 'log' | 'mapRoot'> {
    const statement = witnessStatement(state);
    return {
      issuer: state.issuer,
      treeSize: state.treeSize,
      lastHash: state.lastHash,
      lastAt: state.lastAt,
      log: state.log.toJSON(),
      mapRoot: statement.mapRoot,
    };
  }

  /** The state a restart carries on from: the right edge as saved, and the map rebuilt from the saved heads (checked against the saved root). */
  private async restore(saved: Saved): Promise<WitnessState> {
    const heads: Array<[string, { count: number; head: string }]> = [];
    const prefix = `h/${saved.issuer}/`;
    for await (const [k, v] of this.opts.db.iterator({ gte: prefix, lt: `h/${saved.issuer}0` })) {
      const [count, head] = v as [number, string];
      heads.push([k.slice(prefix.length), { count, head }]);
    }
    const state: WitnessState = {
      issuer: saved.issuer,
      treeSize: saved.treeSize,
      lastHash: saved.treeSize === 0 ? GENESIS_HASH : saved.lastHash,
      lastAt: saved.lastAt,
      log: CompactRange.fromJSON(saved.log),
      map: SubjectMap.empty().with(heads),
    };
    const mapRoot = witnessStatement(state).mapRoot;
    if (mapRoot !== saved.mapRoot)
      throw new Error(
        `witness state of issuer ${saved.issuer}: the saved heads give map root ${mapRoot}, not the saved ${saved.mapRoot}`,
      );
    return state;
  }

  private async forget(issuer: string): Promise<void> {
    const batch = this.opts.db.batch();
    for await (const k of this.opts.db.keys({ gte: `h/${issuer}/`, lt: `h/${issuer}0` })) batch.del(k);
    batch.del(stateKey(issuer));
    await batch.write();
    this.states.delete(issuer);
  }
}

/** `https://host/v1/status-list` → `https://host`: a service's log is beside its status list. */
function baseOf(statusListUrl: string): string | undefined {
  const m = /^(https?:\/\/.+)\/v1\/status-list$/.exec(statusListUrl);
  return m?.[1];
}

/** Parses WITNESS_FOR: `320000=<token>,310000=<token>@https://sh.example`, each with the witness token that issuer gave us. */
export const parseWitnessFor = (value: string): WitnessTarget[] => parseIssuerTokens(value, 'witness token');
