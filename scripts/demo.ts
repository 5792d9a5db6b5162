/**
 * `npm run demo [-- --exit] [--residents N] [--seed S]`: a small, realistic province to look at.
 *
 * Every synthetic resident signs in through the service's embedded identity provider, with
 * the one-time codes read from the service's development outbox, DATA_DIR/sms-outbox.jsonl.
 *
 * With ANKANG_URL set, seeds that running service and exits; DATA_DIR must name that
 * service's data folder (for its outbox, and its secrets.json unless ADMIN_TOKEN is set), and
 * the service must allow the demo's sign-ins from this address (`demoLimits` in seed.ts).
 * Otherwise starts the embedded default the way `npm start` does — a Hardhat dev node and
 * the service with its LevelDB in DATA_DIR, here ./data-demo by default so that ./data is
 * left alone, and its per-address sign-in limits raised by what the demo spends — seeds it,
 * prints the summary and keeps running until Ctrl-C, printing each one-time code the service
 * sends from then on (`--exit` stops after seeding). On a fresh folder the demo owns the
 * service's clock while it seeds, so the day's story (and its scans) spread over today's
 * hours (scripts/demo/day-clock.ts). The demo's tokens are kept in DATA_DIR/demo-tokens.json
 * (0600), so a second run on the same folder reuses its operators, their venues and its desks.
 *
 * Either way the demo starts the stand-in payment provider (scripts/payment-provider.ts, not a
 * real one) as its own process for 码上支付, with the demo's payment feed token and its accounts
 * in DATA_DIR/payment-provider.json, and stops it with everything else: after seeding with
 * ANKANG_URL or --exit, on Ctrl-C otherwise.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { startDevNode, type DevNode } from '../anchor/dev-node';
import { outboxFile, startService } from '../server/bootstrap';
import { loadConfig } from '../server/config';
import { writePrivateFile } from '../ledger/private-file';
import { ensureDataDir } from '../server/crypto/secrets';
import { secretsDirOf } from '../server/crypto/secrets-dir';
import { dayClock } from './demo/day-clock';
import { DEFAULT_RESIDENTS, DemoSetupError, demoLimits, seedDemo, type DemoTokens } from './demo/seed';
import type { PaymentProvider } from './demo/services';
import { outboxLine, watchOutbox } from './lib/outbox-watch';
import { startPaymentProvider } from './lib/payment-provider-process';

interface Args {
  exit: boolean;
  residents?: number;
  seed?: number;
}

function parseArgs(argv: string[]): Args {
  const out: Args = { exit: false };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = () => {
      const v = Number(inline ?? argv[++i]);
      if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${flag} takes a whole number`);
      return v;
    };
    if (flag === '--exit') out.exit = true;
    else if (flag === '--residents') out.residents = value();
    else if (flag === '--seed') out.seed = value();
    else throw new Error(`unknown argument ${argv[i]}; use --exit, --residents N, --seed S`);
  }
  return out;
}

const say = (line: string) => process.stdout.write(line + '\n');
const shanghaiTime = (d: Date) => new Date(d.getTime() + 8 * 3_600_000).toISOString().slice(11, 16);

/** A setting the demo cannot run without: printed as it is, without a stack. */
class UsageError extends Error {}

function readTokens(file: string | undefined): DemoTokens | undefined {
  if (!file || !existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as DemoTokens;
  } catch {
    return undefined;
  }
}

/** True when nothing listens on host:port. */
function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const s = createServer();
    s.once('error', () => done(false));
    s.listen(port, host, () => s.close(() => done(true)));
  });
}

/** The stand-in provider's id, as its accounts' links name it. */
const PROVIDER_ID = 'standin-pay';

/**
 * What seedDemo calls once it holds the payment feed token: starts the stand-in payment
 * provider for the service at `url`, with a fresh API key for the demo's transit operator.
 * `owned.stop` stops it; the demo calls that with everything else.
 */
function paymentProviderFor(url: string, dataDir: string, owned: { stop?: () => Promise<void> }) {
  return async (feedToken: string): Promise<PaymentProvider> => {
    const operatorKey = `demo-transit-${randomBytes(16).toString('base64url')}`;
    const p = await startPaymentProvider({
      PORT: '0',
      ANKANG_URL: url,
      ANKANG_FEED_TOKEN: feedToken,
      PROVIDER_ID,
      OPERATOR_KEYS: operatorKey,
      DATA_FILE: join(dataDir, 'payment-provider.json'),
    });
    owned.stop = async () => {
      await p.stop();
    };
    return { url: p.url, operatorKey, id: PROVIDER_ID };
  };
}

async function seedRunning(args: Args, env: NodeJS.ProcessEnv): Promise<void> {
  const url = env.ANKANG_URL!;
  if (!env.DATA_DIR) {
    throw new UsageError(
      `ANKANG_URL needs DATA_DIR set to the data folder of the service at ${url} (./data for npm start): ` +
        "the demo's residents sign in through that service's embedded identity provider, which writes their one-time codes to DATA_DIR/sms-outbox.jsonl",
    );
  }
  const config = loadConfig({ DATA_DIR: resolve(env.DATA_DIR) });
  if (!existsSync(config.DATA_DIR))
    throw new UsageError(
      `DATA_DIR ${config.DATA_DIR} does not exist: it must be the data folder of the service at ${url}`,
    );
  let adminToken = env.ADMIN_TOKEN;
  if (!adminToken) {
    const secrets = join(secretsDirOf(config), 'secrets.json');
    if (!existsSync(secrets))
      throw new UsageError(`set ADMIN_TOKEN, or DATA_DIR to the folder of the service at ${url} (no ${secrets})`);
    adminToken = (JSON.parse(readFileSync(secrets, 'utf8')) as { adminToken: string }).adminToken;
  }
  const tokensFile = join(config.DATA_DIR, 'demo-tokens.json');
  const codes = outboxFile(config);
  say(`residents sign in with one-time codes from ${codes}`);
  const provider: { stop?: () => Promise<void> } = {};
  try {
    const result = await seedDemo({
      url,
      adminToken,
      codes,
      log: say,
      residents: args.residents,
      seed: args.seed,
      tokens: readTokens(tokensFile),
      paymentProvider: paymentProviderFor(url, config.DATA_DIR, provider),
    });
    writePrivateFile(tokensFile, JSON.stringify(result.tokens, null, 2) + '\n');
  } finally {
    await provider.stop?.();
    if (provider.stop) say('the stand-in payment provider has stopped');
  }
}

async function seedEmbedded(args: Args, env: NodeJS.ProcessEnv): Promise<void> {
  if (env.OIDC_ISSUER || env.SMS_GATEWAY_URL) {
    throw new UsageError(
      'the demo signs its residents in through the embedded identity provider, with codes from the outbox: unset OIDC_ISSUER and SMS_GATEWAY_URL',
    );
  }
  const root = join(__dirname, '..');
  execFileSync(join(root, 'node_modules/.bin/hardhat'), ['compile', '--quiet'], { cwd: root, stdio: 'inherit' });
  // As npm start does: the service serves the web pages from web/dist.
  execFileSync(join(root, 'node_modules/.bin/tsx'), ['web/build.ts'], { cwd: root, stdio: 'inherit' });
  env.DATA_DIR ??= './data-demo';
  env.LOG_LEVEL ??= 'warn';
  if (env.PORT === undefined && !(await portFree(env.HOST ?? '127.0.0.1', 8080))) {
    say('port 8080 is taken; the demo picks a free one (set PORT to choose)');
    env.PORT = '0';
  }
  // Everyone signs in from this address within seconds: the service allows what the demo
  // spends on top of its defaults, so someone trying the pages keeps the usual allowance.
  const defaults = loadConfig({}) as unknown as Record<string, number>;
  const raised: string[] = [];
  for (const [name, need] of Object.entries(demoLimits(args.residents ?? DEFAULT_RESIDENTS))) {
    if (env[name] !== undefined) continue;
    env[name] = String(defaults[name] + need);
    raised.push(`${name}=${env[name]}`);
  }
  if (raised.length)
    say(`per-address limits raised by what the demo's sign-ins and applications spend: ${raised.join(' ')}`);
  let node: DevNode | undefined;
  if (!env.CHAIN_RPC_URL) {
    // A free port unless CHAIN_PORT says otherwise, so the demo runs beside `npm start`.
    node = await startDevNode(env.CHAIN_PORT ? { port: Number(env.CHAIN_PORT), root } : { root });
    env.CHAIN_RPC_URL = node.url;
    env.CHAIN_DEV = 'true';
  }
  const config = loadConfig(env);
  config.DATA_DIR = resolve(config.DATA_DIR);
  ensureDataDir(config.DATA_DIR);
  const tokensFile = join(config.DATA_DIR, 'demo-tokens.json');
  // A fresh folder: the demo owns the service's clock and runs the story through today.
  const day = existsSync(join(config.DATA_DIR, 'ledger')) ? undefined : dayClock(Date.now());
  const svc = await startService(config, { env, ...(day ? { clock: day.clock } : {}) });
  let watcher: { stop(): void } | undefined;
  const provider: { stop?: () => Promise<void> } = {};
  const stop = async () => {
    watcher?.stop();
    await provider.stop?.();
    await svc.close();
    await node?.stop();
  };
  try {
    say(
      `Ankang issuer ${config.ISSUER_ID} (${svc.app.issuerName}) on ${svc.url}, data in ${config.DATA_DIR}, chain ${config.CHAIN_RPC_URL}${node ? ' (embedded Hardhat node)' : ''}`,
    );
    if (day)
      say(
        `a fresh folder: the story runs through today on the service's clock, ${shanghaiTime(day.from)} to ${shanghaiTime(day.to)} (Asia/Shanghai), then back to real time`,
      );
    const result = await seedDemo({
      url: svc.url,
      adminToken: svc.app.secrets.adminToken,
      codes: outboxFile(config),
      log: say,
      residents: args.residents,
      seed: args.seed,
      tokens: readTokens(tokensFile),
      advanceTo: day?.advanceTo,
      endOfStory: day?.release,
      paymentProvider: paymentProviderFor(svc.url, config.DATA_DIR, provider),
    });
    writePrivateFile(tokensFile, JSON.stringify(result.tokens, null, 2) + '\n');
    say(`(tokens saved in ${tokensFile}; a second run on this folder reuses them)`);
    if (args.exit) {
      await stop();
      return;
    }
    say('\nRunning until Ctrl-C.');
    say(
      `One-time codes the service sends from now on (signing in on ${svc.url}/, re-binding a record) are printed here as they are written to ${outboxFile(config)}:`,
    );
    watcher = watchOutbox(outboxFile(config), (e) => say(outboxLine(e)));
    void reportAnchoring(svc.url, result.ledger.seq);
  } catch (e) {
    await stop();
    throw e;
  }
  await new Promise<void>((done) => {
    const quit = () => void stop().then(done);
    process.once('SIGINT', quit);
    process.once('SIGTERM', quit);
  });
}

/** Waits (up to 3 minutes) for a checkpoint covering the seeded events, then says how to get a proof. */
async function reportAnchoring(url: string, seq: number): Promise<void> {
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 2000));
    try {
      const s = (await (await fetch(`${url}/v1/anchor/status`)).json()) as {
        checkpoint?: { treeSize?: number; txHash?: string } | null;
      };
      if ((s.checkpoint?.treeSize ?? 0) >= seq) {
        say(
          `anchored: a checkpoint on chain covers events 1–${s.checkpoint!.treeSize} (tx ${s.checkpoint!.txHash ?? '?'}); try`,
        );
        say(`  curl -s "$ANKANG/v1/proofs/events/${seq}" -H "authorization: Bearer $AUDITOR"`);
        return;
      }
    } catch {
      // The service is stopping.
      return;
    }
  }
  say('anchoring has not caught up after 3 minutes; see /v1/anchor/status');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const env = { ...process.env };
  if (env.ANKANG_URL) await seedRunning(args, env);
  else await seedEmbedded(args, env);
}

main().then(
  // Hardhat's node and LevelDB may leave handles behind; the work is done.
  () => process.exit(0),
  (e) => {
    const said = e instanceof UsageError || e instanceof DemoSetupError;
    process.stderr.write(`demo failed: ${said ? e.message : ((e as Error).stack ?? e)}\n`);
    process.exit(1);
  },
);
