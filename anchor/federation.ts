import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadStatusList, prepareTrustList, trustListFromRegistry, type RegistryIssuer } from '../verifier/src';
import { connectRegistry } from '../verifier/cli/chain';
import type { AppContext } from '../server/context';
import { OutageLog } from './backoff';

/** The registry the service anchors to: ANCHOR_CONTRACT, or the one a development chain deployed. */
export function registryAddress(config: AppContext['config']): string | undefined {
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
  lastRefresh: { at: string; issuers: string[]; statusLists: string[]; suspended: string[]; error?: string } | undefined;

  /** Refreshes that fail in a row (the chain is down) are logged when they start, sparsely while they last, and when they end. */
  private readonly outage: OutageLog;

  constructor(private readonly app: AppContext) {
    const every = app.config.FEDERATION_REFRESH_SECONDS * 1000;
    this.outage = new OutageLog(
      app.log,
      { down: 'federation: refresh from the chain failed; keeping the last trust list', stillDown: 'federation: refresh from the chain still failing; keeping the last trust list', up: 'federation: refresh from the chain works again' },
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
          if (!loaded.valid || loaded.statusList.iss !== iss.id) throw new Error(loaded.valid ? 'another issuer\'s list' : loaded.code);
          this.statusLists.set(iss.id, bytes);
        } catch (e) {
          log.warn('federation: status list not refreshed', { issuer: iss.id, error: (e as Error).message });
        }
      }
      for (const id of [...this.statusLists.keys()]) if (!foreign.some((i) => i.id === id)) this.statusLists.delete(id);
      this.app.trust.setForeign(foreign, new Map(this.statusLists));
      await this.checkOwnKeys(issuers);
      const suspended = issuers.filter((i) => i.suspendedAt).map((i) => String(i.id));
      this.lastRefresh = { at: this.app.clock().toISOString(), issuers: foreign.map((i) => i.id), statusLists: [...this.statusLists.keys()], suspended };
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
    const known = new Set(this.app.keys.all().filter((r) => r.revokedAt === undefined).map((r) => r.kid));
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
