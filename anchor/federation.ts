import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Ledger, Tx } from '../ledger/ledger';
import type { Logger } from '../ledger/log';
import {
  loadStatusList,
  prepareTrustList,
  trustListFromRegistry,
  type RegistryIssuer,
  type TrustListJson,
} from '../verifier/src';
import { connectRegistry } from '../verifier/src/registry-reader';
import type { Anchorer } from './anchorer';
import { OutageLog } from './backoff';

/** The service's settings federation reads (named as in its configuration). */
export interface FederationConfig {
  /** This service's own issuer: left out of the foreign trust list, and whose revoked keys are taken in. */
  ISSUER_ID: string;
  /** No refresh without one. */
  CHAIN_RPC_URL?: string;
  ANCHOR_CONTRACT?: string;
  /** Where a development chain's registry is remembered (chain.json). */
  DATA_DIR: string;
  /** Seconds between refreshes; an outage is logged after 5 and every 60 of them. */
  FEDERATION_REFRESH_SECONDS: number;
}

/**
 * What federation uses of the service, and no more: server/bootstrap.ts fills it in. The
 * trust service takes the foreign issuers and status lists; the issuer's keys take the chain's
 * revocations of our own keys, in a ledger transaction.
 */
export interface FederationContext {
  config: FederationConfig;
  ledger: Pick<Ledger, 'transact'>;
  log: Logger;
  clock: () => Date;
  trust: {
    setForeign(issuers: TrustListJson['issuers'], statusLists: Map<string, Uint8Array>): void;
    foreignIssuers(): ReadonlyArray<{ id: string }>;
  };
  keys: {
    all(): ReadonlyArray<{ kid: string; revokedAt?: number }>;
    /** Revokes our keys the chain revoked; `added` is the key that took over when the signing one was among them. */
    revoke(
      tx: Tx,
      revocations: ReadonlyArray<{ kid: string; revokedAt: number }>,
    ): Promise<{ revoked: string[]; added?: { kid: string } }>;
  };
  /** Told to reconnect when a new key took over, so a development chain registers it at once. */
  anchorer?: Pick<Anchorer, 'reconnectSoon'>;
}

/** The registry the service anchors to: ANCHOR_CONTRACT, or the one a development chain deployed. */
export function registryAddress(config: Pick<FederationConfig, 'ANCHOR_CONTRACT' | 'DATA_DIR'>): string | undefined {
  if (config.ANCHOR_CONTRACT) return config.ANCHOR_CONTRACT;
  const path = join(config.DATA_DIR, 'chain.json');
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as { contract: string }).contract : undefined;
}

/**
 * Mutual recognition (互认): every `intervalSeconds` the service rebuilds its trust list
 * from the chain's issuer registry — so a newly registered province is recognised without
 * a restart, and a revoked key or a suspended province stops being accepted within one
 * refresh — and fetches every other issuer's signed status list from the URL the registry
 * names. A list that cannot be fetched keeps its last good copy, which the verifier judges
 * stale once it is too old.
 */
export class Federation {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly statusLists = new Map<string, Uint8Array>();
  /** The last refresh: the other issuers trusted, the status lists held, and the issuers the council has suspended (left out). */
  lastRefresh:
    { at: string; issuers: string[]; statusLists: string[]; suspended: string[]; error?: string } | undefined;

  /** Refreshes that fail in a row (the chain is down) are logged when they start, sparsely while they last, and when they end. */
  private readonly outage: OutageLog;

  constructor(private readonly app: FederationContext) {
    const every = app.config.FEDERATION_REFRESH_SECONDS * 1000;
    this.outage = new OutageLog(
      app.log,
      {
        down: 'federation: refresh from the chain failed; keeping the last trust list',
        stillDown: 'federation: refresh from the chain still failing; keeping the last trust list',
        up: 'federation: refresh from the chain works again',
      },
      5 * every,
      60 * every,
    );
  }

  start(intervalSeconds: number): void {
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), intervalSeconds * 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One refresh; concurrent calls share it. */
  refresh(): Promise<void> {
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async run(): Promise<void> {
    const { config, log } = this.app;
    const address = registryAddress(config);
    if (!config.CHAIN_RPC_URL || !address) return;
    try {
      // One reader per refresh, closed below whatever happens; one that cannot connect opened no provider.
      const registry = await connectRegistry(config.CHAIN_RPC_URL, address);
      let issuers: RegistryIssuer[];
      try {
        // A development chain that has no registry yet: the anchorer is about to deploy one.
        if (!(await registry.hasCode())) return;
        issuers = await registry.readIssuers();
      } finally {
        registry.close();
      }
      const trust = trustListFromRegistry(issuers, this.app.clock().getTime() / 1000);
      const foreign = trust.issuers.filter((i) => i.id !== config.ISSUER_ID);
      const prepared = prepareTrustList(trust);
      for (const iss of foreign) {
        if (!iss.statusListUrl) continue;
        try {
          const res = await fetch(iss.statusListUrl, { signal: AbortSignal.timeout(5000) });
          if (!res.ok) throw new Error(`HTTP ${res.status}`);
          const bytes = new Uint8Array(await res.arrayBuffer());
          const loaded = await loadStatusList(bytes, prepared);
          if (!loaded.valid || loaded.statusList.iss !== iss.id)
            throw new Error(loaded.valid ? "another issuer's list" : loaded.code);
          this.statusLists.set(iss.id, bytes);
        } catch (e) {
          log.warn('federation: status list not refreshed', { issuer: iss.id, error: (e as Error).message });
        }
      }
      for (const id of [...this.statusLists.keys()]) if (!foreign.some((i) => i.id === id)) this.statusLists.delete(id);
      this.app.trust.setForeign(foreign, new Map(this.statusLists));
      await this.checkOwnKeys(issuers);
      const suspended = issuers.filter((i) => i.suspendedAt).map((i) => String(i.id));
      this.lastRefresh = {
        at: this.app.clock().toISOString(),
        issuers: foreign.map((i) => i.id),
        statusLists: [...this.statusLists.keys()],
        suspended,
      };
      this.outage.recovered(this.app.clock().getTime());
    } catch (e) {
      this.lastRefresh = {
        at: this.app.clock().toISOString(),
        issuers: this.app.trust.foreignIssuers().map((i) => i.id),
        statusLists: [...this.statusLists.keys()],
        suspended: this.lastRefresh?.suspended ?? [],
        error: (e as Error).message,
      };
      this.outage.failed(this.app.clock().getTime(), (e as Error).message);
    }
  }

  /**
   * Takes the chain's revocations of our own keys into the service: its scans, check-ins and
   * published trust list refuse them from this refresh on, and if the key signing now is among
   * them, a new key takes over in the same transaction (the governor registers it on a
   * production chain; a development chain gets it on the anchorer's next connection).
   */
  private async checkOwnKeys(issuers: RegistryIssuer[]): Promise<void> {
    const own = issuers.find((i) => String(i.id) === this.app.config.ISSUER_ID);
    const known = new Set(
      this.app.keys
        .all()
        .filter((r) => r.revokedAt === undefined)
        .map((r) => r.kid),
    );
    const revocations = (own?.keys ?? [])
      .filter((k) => k.revokedAt > 0)
      .map((k) => ({ kid: Buffer.from(k.kid.slice(2), 'hex').toString('base64url'), revokedAt: k.revokedAt }))
      .filter((r) => known.has(r.kid));
    if (!revocations.length) return;
    const out = await this.app.ledger.transact((tx) => this.app.keys.revoke(tx, revocations));
    const fields = { kids: out.revoked, newKey: out.added?.kid ?? null };
    this.app.log.error('federation: keys of ours were revoked on chain; no code of them counts any more', fields);
    if (out.added) this.app.anchorer?.reconnectSoon();
  }
}
