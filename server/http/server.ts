import { createServer, type RequestListener, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Config } from '../config';
import { addressKey } from './address';
import type { Metrics } from './metrics';

type ServerLimits = Pick<Config, 'HEADERS_TIMEOUT_MS' | 'REQUEST_TIMEOUT_MS' | 'KEEP_ALIVE_TIMEOUT_MS' | 'CONNECTIONS_CHECKING_INTERVAL_MS' | 'MAX_CONNECTIONS' | 'MAX_CONNECTIONS_PER_ADDRESS'>;

/**
 * The HTTP server, with its defences against slow and greedy clients:
 * - a client that sends its headers (or its whole request) too slowly is answered 408 and
 *   its socket closed, checked every CONNECTIONS_CHECKING_INTERVAL_MS; a socket that
 *   connects and sends nothing counts as slow headers (Node starts the clock at accept);
 * - an idle keep-alive socket is closed after KEEP_ALIVE_TIMEOUT_MS;
 * - past MAX_CONNECTIONS open sockets Node drops new ones, and a socket beyond
 *   MAX_CONNECTIONS_PER_ADDRESS from one address is destroyed as soon as it is accepted,
 *   so one host cannot take every socket.
 * Behind a proxy (TRUST_PROXY) every socket is the proxy's, so the per-address cap counts
 * the proxy's connections and the proxy must cap its clients.
 */
export function createHttpServer(config: ServerLimits, handler: RequestListener, metrics: Metrics): Server {
  const server = createServer(
    { headersTimeout: config.HEADERS_TIMEOUT_MS, requestTimeout: config.REQUEST_TIMEOUT_MS, connectionsCheckingInterval: config.CONNECTIONS_CHECKING_INTERVAL_MS },
    handler,
  );
  server.keepAliveTimeout = config.KEEP_ALIVE_TIMEOUT_MS;
  server.maxConnections = config.MAX_CONNECTIONS;

  const perAddress = new Map<string, number>();
  let total = 0;
  const refused = (reason: string) => metrics.inc('ankang_connections_refused_total', 'Connections closed at once by a connection cap', { reason });
  server.on('drop', () => refused('total'));
  server.on('connection', (socket: Socket) => {
    const key = addressKey(socket.remoteAddress);
    if (key === undefined) return;
    const open = (perAddress.get(key) ?? 0) + 1;
    perAddress.set(key, open);
    total++;
    socket.once('close', () => {
      total--;
      const left = perAddress.get(key)! - 1;
      if (left === 0) perAddress.delete(key);
      else perAddress.set(key, left);
    });
    if (open > config.MAX_CONNECTIONS_PER_ADDRESS) {
      refused('per-address');
      socket.destroy();
    }
  });
  metrics.gauge('ankang_connections_open', 'Open client connections', () => [[{}, total]]);
  return server;
}
