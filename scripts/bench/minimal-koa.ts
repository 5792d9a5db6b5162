import Koa from 'koa';
import getRawBody from 'raw-body';
import type { AddressInfo } from 'node:net';

/**
 * The HTTP baseline of `npm run bench`: the least a Koa service can do per POST — read a
 * JSON body, parse it, answer a small JSON — with the same server settings as the
 * service. Run as a child process; prints one `{"msg":"listening","url":...}` line.
 */
const app = new Koa({ proxy: false });
app.use(async (ctx) => {
  if (ctx.method !== 'POST' || ctx.path !== '/v1/echo') {
    ctx.status = 404;
    ctx.body = { error: { code: 'NOT_FOUND', message: 'no route' } };
    return;
  }
  const body = JSON.parse(await getRawBody(ctx.req, { limit: 65536, encoding: 'utf8' })) as Record<string, unknown>;
  ctx.status = 201;
  ctx.body = { ok: true, fields: Object.keys(body).length };
});

const server = app.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
  const { address, port } = server.address() as AddressInfo;
  process.stdout.write(JSON.stringify({ msg: 'listening', url: `http://${address}:${port}` }) + '\n');
});
server.keepAliveTimeout = 5000;

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
