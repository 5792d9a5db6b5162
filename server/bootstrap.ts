import { join, resolve } from 'node:path';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Anchorer } from '../anchor/anchorer';
import { connectRegistry } from '../anchor/connect';
import { Federation } from '../anchor/federation';
import { WitnessRunner, type WitnessDb } from '../anchor/witness-runner';
import { createApp, createServices, type Services } from './app';
import { publicUrl, type Config } from './config';
import type { AppContext } from './context';
import { makePrivateDir } from './crypto/private-dir';
import { loadSecrets } from './crypto/secrets';
import { checkSecretsPlace, secretsDirOf } from './crypto/secrets-dir';
import { regionName } from './domain/regions';
import { createLogger, type Logger } from './http/log';
import { Metrics } from './http/metrics';
import { createHttpServer, drainHttpServer } from './http/server';
import { verifyCommand } from './routes/system';
import { IssuerKeys } from './issuer/keys';
import { StatusBook } from './issuer/status-book';
import { TrustService } from './issuer/trust';
import { Ledger } from '../ledger/ledger';
import { RuleBook } from './services/rule-book';
import type { ResidentRecord } from './services/residents';
import { sealStoredText } from './services/at-rest';
import { ensureResidentIndexes } from './services/resident-index';
import { RetentionService } from './services/retention';
import { countAggregates, ensureAggregates } from './services/stats';
import { createIdentityProvider, type IdentityProvider } from './idp/provider';
import { RelyingParty } from './identity/relying-party';
import { startSessionSweep } from './identity/sessions';
import { startCodeIndexSweep } from './services/code-index';
import { createSmsSender } from './identity/sms';
import { WorkerNotices } from './cluster/notices';
import { workerRequests } from './cluster/writer';

const STATUS_VALUE = { green: 0, yellow: 1, red: 2 } as const;

/**
 * Opens the data folder and everything in it: secrets, ledger, keys, rules, statuses.
 * Tests call this with a temp DATA_DIR and, where they need one, an injected clock.
 */
export async function openContext(
  config: Config,
  opts: { clock?: () => Date; env?: NodeJS.ProcessEnv; log?: Logger } = {},
): Promise<AppContext> {
  const clock = opts.clock ?? (() => new Date());
  if (config.OIDC_ISSUER && (!config.OIDC_CLIENT_ID || !config.OIDC_CLIENT_SECRET)) {
    throw new Error(
      'OIDC_ISSUER needs OIDC_CLIENT_ID and OIDC_CLIENT_SECRET: the client this service is registered as at that provider',
    );
  }
  // Before anything in either folder is opened: private, or no start (PrivateDirError); secrets never regenerated beside sealed data.
  const secretsDir = secretsDirOf(config);
  makePrivateDir(config.DATA_DIR, 'DATA_DIR');
  checkSecretsPlace(config.DATA_DIR, secretsDir, opts.env);
  if (secretsDir !== resolve(config.DATA_DIR)) makePrivateDir(secretsDir, 'SECRETS_DIR');
  const secrets = loadSecrets(secretsDir, opts.env);
  const log = opts.log ?? createLogger(config.LOG_LEVEL);
  const ledger = await Ledger.open(join(config.DATA_DIR, 'ledger'), clock, {
    log,
    onDiverged: (reason) => log.error(divergedLine(config, reason), { reason, run: verifyCommand(config) }),
  });
  // A retired key stays listed until the longest resident code it signed has expired; venue codes are re-signed instead.
  const longestCodeSeconds = Math.max(config.CODE_TTL_MINUTES * 60, config.PRINTED_CODE_TTL_DAYS * 86400);
  const keys = await IssuerKeys.load({ secretsDir, ledger, longestCodeSeconds, env: opts.env }).catch(
    async (e: unknown) => {
      // A key that may not sign stops start-up; the folder must not stay locked behind it.
      await ledger.close();
      throw e;
    },
  );
  const rules = await RuleBook.load(ledger);
  await ensureResidentIndexes(ledger);
  await sealStoredText(ledger, secrets.encryptionKey);
  countAggregates(ledger);
  await ensureAggregates(ledger);
  // Indexes no resident holds carry cover values; a data folder of sequential indexes (before
  // random ones) loads the same way, its indexes re-drawn as their codes expire.
  const statusBook = new StatusBook(config.ISSUER_ID, config.STATUS_LIST_MAX_AGE_SECONDS, secrets.statusCoverKey);
  for await (const r of ledger.space('residents').values()) {
    const rec = r as ResidentRecord;
    statusBook.set(rec.statusIndex, STATUS_VALUE[rec.colour]);
  }
  const issuerName = config.ISSUER_NAME ?? regionName(config.ISSUER_ID) ?? config.ISSUER_ID;
  const anchorer = config.CHAIN_RPC_URL
    ? await Anchorer.open(ledger, {
        issuer: config.ISSUER_ID,
        intervalSeconds: config.CHECKPOINT_INTERVAL_SECONDS,
        maxEvents: config.CHECKPOINT_MAX_EVENTS,
        mapKeep: config.SUBJECT_MAP_KEEP,
        retryMinMs: config.CHAIN_RETRY_MIN_MS,
        retryMaxMs: config.CHAIN_RETRY_MAX_MS,
        log,
        clock,
        // Writing on would bury what was lost under new events: refuse until an operator has checked.
        onDiverge: (reason) => ledger.refuseWrites(reason),
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
            witness: config.WITNESS_FOR.length > 0,
            log,
          }),
      })
    : undefined;
  const trust = new TrustService({ config, issuerName, keys, clock });
  const sms = createSmsSender({ gatewayUrl: config.SMS_GATEWAY_URL, outboxFile: outboxFile(config) });
  const app: AppContext = {
    config,
    ledger,
    secrets,
    keys,
    rules,
    statusBook,
    metrics: new Metrics(),
    log,
    clock,
    issuerName,
    anchorer,
    trust,
    sms,
  };
  if (config.CHAIN_RPC_URL) app.federation = new Federation({ config, ledger, log, clock, trust, keys, anchorer });
  if (anchorer && config.WITNESS_FOR.length) {
    app.witness = new WitnessRunner({
      issuer: config.ISSUER_ID,
      targets: config.WITNESS_FOR,
      intervalSeconds: config.WITNESS_INTERVAL_SECONDS,
      registry: () => anchorer.registry,
      db: ledger.db.sublevel<string, unknown>('witness', { valueEncoding: 'json' }) as unknown as WitnessDb,
      log,
      metrics: app.metrics,
      clock,
    });
    await app.witness.open();
  }
  return app;
}

const divergedLine = (config: Config, reason: string) =>
  `ledger: writes refused: ${reason}. Acknowledged events may have been lost (a truncated LevelDB log, an old backup, another data folder): stop the service, run \`${verifyCommand(config)}\`, and restore the data folder from a backup that holds the missing events; reads are still served`;

/** Where one-time codes go in development (no SMS_GATEWAY_URL): one JSON line each, numbers masked. */
export const outboxFile = (config: Config) => join(config.DATA_DIR, 'sms-outbox.jsonl');

/** The client id this service has at its embedded provider. */
const EMBEDDED_CLIENT_ID = 'ankang';
/** What residents' accounts at the embedded provider are keyed under (`SessionService.accountKey`). */
const EMBEDDED_ACCOUNT_ISSUER = 'embedded';

/**
 * Sign-in: the relying party for the province's provider (OIDC_ISSUER), or, without one,
 * for the embedded development provider mounted at /idp on this same port. Needs the
 * address the service listens on, so it runs after listen.
 */
async function startSignIn(app: AppContext, local: string, clock: () => Date): Promise<IdentityProvider | undefined> {
  const { config, secrets } = app;
  const base = publicUrl(config);
  const redirectUri = `${base}/v1/auth/callback`;
  let idp: IdentityProvider | undefined;
  if (!config.OIDC_ISSUER) {
    idp = await createIdentityProvider({
      issuer: `${base}/idp`,
      dataDir: join(config.DATA_DIR, 'idp'),
      secretsDir: join(secretsDirOf(config), 'idp'),
      clients: [
        { client_id: EMBEDDED_CLIENT_ID, client_secret: secrets.oidcClientSecret, redirect_uris: [redirectUri] },
      ],
      sms: app.sms,
      log: app.log,
      proxy: config.TRUST_PROXY,
      limits: {
        sendsPerPhone: config.IDP_SENDS_PER_PHONE,
        sendsPerAddress: config.IDP_SENDS_PER_ADDRESS,
        checksPerAddress: config.IDP_CHECKS_PER_ADDRESS,
        signupsPerAddress: config.IDP_SIGNUPS_PER_ADDRESS,
      },
    });
  }
  app.signIn = new RelyingParty({
    issuer: config.OIDC_ISSUER ?? idp!.issuer,
    clientId: config.OIDC_CLIENT_ID ?? EMBEDDED_CLIENT_ID,
    clientSecret: config.OIDC_CLIENT_SECRET ?? secrets.oidcClientSecret,
    redirectUri,
    // The embedded provider is this process: reach it on the address it listens on, whatever PUBLIC_URL says.
    rewrite: idp && base !== local ? { from: base, to: local } : undefined,
    // The embedded provider's accounts live in DATA_DIR/idp whatever port serves them: key them by that, not by its URL.
    accountIssuer: idp ? EMBEDDED_ACCOUNT_ISSUER : undefined,
    clock,
  });
  return idp;
}

export interface RunningService {
  app: AppContext;
  services: Services;
  server: Server;
  url: string;
  /** The port this process's HTTP server listens on: PORT itself, or behind workers its own on 127.0.0.1. */
  port: number;
  close(): Promise<void>;
  /** Behind HTTP workers: the notices the writer sends them, which its answers wait for. */
  workerNotices?: WorkerNotices;
}

export type StartOptions = Parameters<typeof openContext>[1] & {
  /**
   * This process is the ledger writer behind HTTP workers (server/cluster/): its HTTP server
   * listens on 127.0.0.1 at a port of its own for what the workers forward, and PORT (the
   * workers') is only the public address in URLs.
   */
  workers?: { secret: string };
};

/** Behind workers every connection comes from them: no per-address cap, and idle sockets outlive the workers' pools. */
const WRITER_KEEP_ALIVE_MS = 65_000;

/** Opens the context, starts the HTTP server and background jobs; `close` undoes all of it. */
export async function startService(config: Config, opts: StartOptions = {}): Promise<RunningService> {
  const app = await openContext(config, opts);
  const services = createServices(app);
  let idp: IdentityProvider | undefined;
  // The embedded provider only when no province's provider is configured.
  const workerNotices = opts.workers
    ? new WorkerNotices((dropped) =>
        app.log.warn('a worker did not acknowledge a notice in time; its channel was closed', { dropped }),
      )
    : undefined;
  const koa = createApp(app, services, config.OIDC_ISSUER ? undefined : () => idp, { workerNotices });
  const server = opts.workers
    ? createHttpServer(
        {
          ...config,
          MAX_CONNECTIONS_PER_ADDRESS: config.MAX_CONNECTIONS,
          KEEP_ALIVE_TIMEOUT_MS: WRITER_KEEP_ALIVE_MS,
        },
        workerRequests(opts.workers.secret, koa.callback()),
        app.metrics,
        // The workers' own gauges (added in at each scrape) count the clients' sockets.
        { name: 'ankang_writer_connections_open', help: 'Open connections from the HTTP workers to the ledger writer' },
      )
    : createHttpServer(config, koa.callback(), app.metrics);
  // Nothing is written before the anchorer has compared the ledger with the chain's newest
  // checkpoint once (or found the chain unreachable): a ledger that lost anchored events must
  // not take new ones in their place. Bounded, so a chain that hangs does not stop the service.
  const anchorer = app.anchorer;
  const checkUntil = Date.now() + START_CHECK_TIMEOUT_MS;
  const checking = () => anchorer !== undefined && anchorer.state === 'connecting' && Date.now() < checkUntil;
  if (anchorer) app.ledger.holdWrites('checking the ledger against the chain', checking);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
    if (opts.workers) server.listen(0, '127.0.0.1');
    else server.listen(config.PORT, config.HOST);
  });
  const { port } = server.address() as AddressInfo;
  // With PORT=0 the real port is known only now; URLs built later (trust list, chain) use it.
  if (!opts.workers) config.PORT = port;
  app.anchorer?.start();
  while (checking()) await new Promise((r) => setTimeout(r, 20));
  const localHost = opts.workers || config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST;
  idp = await startSignIn(app, `http://${localHost}:${port}`, app.clock);
  services.reevaluator.start(config.REVIEW_INTERVAL_SECONDS);
  const sessionSweep = startSessionSweep(app.ledger, app.clock, 3_600_000, (e) =>
    app.log.error('session sweep failed', { error: e.message }),
  );
  const codeIndexSweep = startCodeIndexSweep(app.ledger, app.clock, 300_000, (e) =>
    app.log.error('code index sweep failed', { error: e.message }),
  );
  const idempotencySweep = services.idempotency.start(app.ledger, app.clock, 3_600_000, (e) =>
    app.log.error('idempotency sweep failed', { error: e.message }),
  );
  const retention = new RetentionService(app).start(3_600_000, (e) =>
    app.log.error('retention job failed', { error: e.message }),
  );
  app.federation?.start(config.FEDERATION_REFRESH_SECONDS);
  app.witness?.start();
  let closing: Promise<void> | undefined;
  return {
    app,
    services,
    server,
    url: `http://${config.HOST}:${opts.workers ? config.PORT : port}`,
    port,
    workerNotices,
    close() {
      closing ??= stop();
      return closing;
    },
  };

  /** Drains HTTP first (requests in flight may still write), then stops the jobs, the anchorer and the ledger. */
  async function stop(): Promise<void> {
    app.stopping = true;
    const drained = await drainHttpServer(server, config.DRAIN_TIMEOUT_MS);
    if (drained.forced)
      app.log.warn('http: drain timed out; closed the remaining connections', {
        ...drained,
        drainTimeoutMs: config.DRAIN_TIMEOUT_MS,
      });
    else app.log.info('http: drained', drained);
    await services.reevaluator.stop();
    await retention.stop();
    await idempotencySweep.stop();
    await codeIndexSweep.stop();
    await sessionSweep.stop();
    await idp?.close();
    await app.witness?.stop();
    await app.anchorer?.stop();
    await app.federation?.stop();
    await app.ledger.close();
  }
}

/** How long start-up waits for the anchorer's first look at the chain before taking writes anyway. */
const START_CHECK_TIMEOUT_MS = 10_000;
