import { join } from 'node:path';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Anchorer } from '../anchor/anchorer';
import { connectRegistry } from '../anchor/connect';
import { Federation } from '../anchor/federation';
import { createApp, createServices, type Services } from './app';
import { publicUrl, type Config } from './config';
import type { AppContext } from './context';
import { ensureDataDir, loadSecrets } from './crypto/secrets';
import { regionName } from './domain/regions';
import { createLogger, type Logger } from './http/log';
import { Metrics } from './http/metrics';
import { createHttpServer } from './http/server';
import { IssuerKeys } from './issuer/keys';
import { StatusBook } from './issuer/status-book';
import { TrustService } from './issuer/trust';
import { Ledger } from './ledger/ledger';
import { RuleBook } from './services/rule-book';
import type { ResidentRecord } from './services/residents';
import { ensureResidentIndexes } from './services/resident-index';

const STATUS_VALUE = { green: 0, yellow: 1, red: 2 } as const;

/**
 * Opens the data folder and everything in it: secrets, ledger, keys, rules, statuses.
 * Tests call this with a temp DATA_DIR and, where they need one, an injected clock.
 */
export async function openContext(config: Config, opts: { clock?: () => Date; env?: NodeJS.ProcessEnv; log?: Logger } = {}): Promise<AppContext> {
  const clock = opts.clock ?? (() => new Date());
  ensureDataDir(config.DATA_DIR);
  const secrets = loadSecrets(config.DATA_DIR, opts.env);
  const ledger = await Ledger.open(join(config.DATA_DIR, 'ledger'), clock);
  // A retired key stays listed (for codes signed before it retired) until the longest-lived of them expires.
  const maxCodeLifetimeSeconds = Math.max(config.PRINTED_CODE_TTL_DAYS, config.VENUE_CODE_TTL_DAYS) * 86400 + 3600;
  const keys = await IssuerKeys.load({ dataDir: config.DATA_DIR, ledger, maxCodeLifetimeSeconds, env: opts.env });
  const rules = await RuleBook.load(ledger);
  await ensureResidentIndexes(ledger);
  const statusBook = new StatusBook(config.ISSUER_ID, config.STATUS_LIST_MAX_AGE_SECONDS);
  for await (const r of ledger.space('residents').values()) {
    const rec = r as ResidentRecord;
    statusBook.set(rec.statusIndex, STATUS_VALUE[rec.colour]);
  }
  const log = opts.log ?? createLogger(config.LOG_LEVEL);
  const issuerName = config.ISSUER_NAME ?? regionName(config.ISSUER_ID) ?? config.ISSUER_ID;
  const anchorer = config.CHAIN_RPC_URL
    ? await Anchorer.open(ledger, {
        issuer: config.ISSUER_ID,
        intervalSeconds: config.CHECKPOINT_INTERVAL_SECONDS,
        maxEvents: config.CHECKPOINT_MAX_EVENTS,
        log,
        clock,
        connect: () =>
          connectRegistry({
            rpcUrl: config.CHAIN_RPC_URL!,
            contract: config.ANCHOR_CONTRACT,
            anchorerKeyFile: config.ANCHOR_KEY_FILE,
            dev: config.CHAIN_DEV,
            devAnchorerAccount: config.CHAIN_DEV_ANCHORER_ACCOUNT,
            dataDir: config.DATA_DIR,
            issuer: config.ISSUER_ID,
            issuerName,
            statusListUrl: `${publicUrl(config)}/v1/status-list`,
            keys: () => keys.all(),
            log,
          }),
      })
    : undefined;
  const trust = new TrustService({ config, issuerName, keys, clock });
  const app: AppContext = { config, ledger, secrets, keys, rules, statusBook, metrics: new Metrics(), log, clock, issuerName, anchorer, trust };
  if (config.CHAIN_RPC_URL) app.federation = new Federation(app);
  return app;
}


export interface RunningService {
  app: AppContext;
  services: Services;
  server: Server;
  url: string;
  close(): Promise<void>;
}

/** Opens the context, starts the HTTP server and background jobs; `close` undoes all of it. */
export async function startService(config: Config, opts: Parameters<typeof openContext>[1] = {}): Promise<RunningService> {
  const app = await openContext(config, opts);
  const services = createServices(app);
  const koa = createApp(app, services);
  const server = createHttpServer(config, koa.callback(), app.metrics);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
    server.listen(config.PORT, config.HOST);
  });
  const { port } = server.address() as AddressInfo;
  // With PORT=0 the real port is known only now; URLs built later (trust list, chain) use it.
  config.PORT = port;
  services.reevaluator.start(config.REVIEW_INTERVAL_SECONDS);
  const idempotencySweep = services.idempotency.start(app.ledger, app.clock, 3_600_000, (e) => app.log.error('idempotency sweep failed', { error: e.message }));
  app.anchorer?.start();
  app.federation?.start(config.FEDERATION_REFRESH_SECONDS);
  return {
    app,
    services,
    server,
    url: `http://${config.HOST}:${port}`,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await services.reevaluator.stop();
      await idempotencySweep.stop();
      await app.anchorer?.stop();
      await app.federation?.stop();
      await app.ledger.close();
    },
  };
}
