/**
 * `npm run idp`: the development identity provider as a process of its own, for a relying
 * party that is not the embedded service (another province's service, a test). Settings in
 * server/idp/config.ts; prints one JSON line `{"msg":"identity provider listening",…}`
 * when ready and stops cleanly on SIGINT or SIGTERM.
 */
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import Koa from 'koa';
import { createLogger } from '../server/http/log';
import { createSmsSender } from '../server/identity/sms';
import { limitsOf, loadIdpConfig } from '../server/idp/config';
import { createIdentityProvider, mountIdentityProvider, type IdentityProvider } from '../server/idp/provider';

async function main() {
  const config = loadIdpConfig();
  const dataDir = resolve(config.IDP_DATA_DIR);
  const log = createLogger(config.LOG_LEVEL);
  // The issuer may name the port, which with IDP_PORT=0 is known only once listening: the
  // provider is mounted by reference and created right after.
  let idp: IdentityProvider | undefined;
  const koa = new Koa();
  mountIdentityProvider(
    koa,
    config.IDP_ISSUER ? new URL(config.IDP_ISSUER).pathname.replace(/\/+$/, '') : '',
    () => idp,
  );
  const server = koa.listen(config.IDP_PORT, config.IDP_HOST);
  server.keepAliveTimeout = 5000;
  await new Promise<void>((done, fail) => {
    server.once('listening', done);
    server.once('error', fail);
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${config.IDP_HOST.includes(':') ? `[${config.IDP_HOST}]` : config.IDP_HOST}:${port}`;
  idp = await createIdentityProvider({
    issuer: config.IDP_ISSUER ?? url,
    dataDir,
    clients: [
      {
        client_id: config.IDP_CLIENT_ID,
        client_secret: config.IDP_CLIENT_SECRET,
        redirect_uris: config.IDP_REDIRECT_URIS,
      },
    ],
    sms: createSmsSender({
      gatewayUrl: config.SMS_GATEWAY_URL,
      outboxFile: config.SMS_OUTBOX ?? join(dataDir, 'sms-outbox.jsonl'),
      timeoutMs: config.SMS_GATEWAY_TIMEOUT_MS,
    }),
    log,
    limits: limitsOf(config),
    proxy: config.IDP_TRUST_PROXY,
  });
  process.stdout.write(
    JSON.stringify({
      msg: 'identity provider listening',
      issuer: idp.issuer,
      url,
      dataDir,
      sms: config.SMS_GATEWAY_URL ? 'gateway' : 'outbox',
    }) + '\n',
  );

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await new Promise<void>((done) => {
      server.close(() => done());
      server.closeAllConnections();
    });
    await idp?.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
