/**
 * `npm run idp`: the development identity provider as a process of its own, for a relying
 * party that is not the embedded service (another province's service, a test). Settings in
 * server/idp/config.ts; prints one JSON line `{"msg":"identity provider listening",…}`
 * when ready and stops cleanly on SIGINT or SIGTERM.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import Koa from 'koa';
import { createLogger } from '../server/http/log';
import { createSmsSender } from '../server/identity/sms';
import { limitsOf, loadIdpConfig } from '../server/idp/config';
import { createIdentityProvider, mountIdentityProvider } from '../server/idp/provider';

async function main() {
  const config = loadIdpConfig();
  const dataDir = resolve(config.IDP_DATA_DIR);
  const log = createLogger(config.LOG_LEVEL);
  // The issuer may name the port, which with IDP_PORT=0 is known only once listening.
  let handle = (_req: IncomingMessage, res: ServerResponse) => {
    res.statusCode = 503;
    res.end();
  };
  const server = createServer((req, res) => handle(req, res));
  server.keepAliveTimeout = 5000;
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(config.IDP_PORT, config.IDP_HOST, done);
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${config.IDP_HOST.includes(':') ? `[${config.IDP_HOST}]` : config.IDP_HOST}:${port}`;
  const idp = await createIdentityProvider({
    issuer: config.IDP_ISSUER ?? url,
    dataDir,
    clients: [{ client_id: config.IDP_CLIENT_ID, client_secret: config.IDP_CLIENT_SECRET, redirect_uris: config.IDP_REDIRECT_URIS }],
    sms: createSmsSender({ gatewayUrl: config.SMS_GATEWAY_URL, outboxFile: config.SMS_OUTBOX ?? join(dataDir, 'sms-outbox.jsonl'), timeoutMs: config.SMS_GATEWAY_TIMEOUT_MS }),
    log,
    limits: limitsOf(config),
    proxy: config.IDP_TRUST_PROXY,
  });
  const koa = new Koa();
  mountIdentityProvider(koa, idp.mountPath, idp);
  handle = koa.callback();
  process.stdout.write(JSON.stringify({ msg: 'identity provider listening', issuer: idp.issuer, url, dataDir, sms: config.SMS_GATEWAY_URL ? 'gateway' : 'outbox' }) + '\n');

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await new Promise<void>((done) => {
      server.close(() => done());
      server.closeAllConnections();
    });
    await idp.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
