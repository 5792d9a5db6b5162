import { createServer, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Config } from '../config';
import { addressKey } from './address';
import type { Metrics } from './metrics';

type ServerLimits = Pick<
  Config,
  | 'HEADERS_TIMEOUT_MS'
  | 'REQUEST_TIMEOUT_MS'
  | 'KEEP_ALIVE_TIMEOUT_MS'
  | 'CONNECTIONS_CHECKING_INTERVAL_MS'
  | 'MAX_CONNECTIONS'
  | 'MAX_CONNECTIONS_PER_ADDRESS'
>;

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
export function createHttpServer(
  config: ServerLimits,
  handler: RequestListener,
  metrics: Metrics,
  /** The gauge of open sockets: a ledger writer behind HTTP workers counts its workers' sockets under a name of its own. */
  openGauge: { name: string; help: string } = { name: 'ankang_connections_open', help: 'Open client connections' },
): Server {
  const state: DrainState = { draining: false, inFlight: new Set(), open: () => total };
  const server = createServer(
    {
      headersTimeout: config.HEADERS_TIMEOUT_MS,
      requestTimeout: config.REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: config.CONNECTIONS_CHECKING_INTERVAL_MS,
    },
    (req, res) => {
      if (state.draining) res.shouldKeepAlive = false;
      state.inFlight.add(res);
      res.once('close', () => {
        state.inFlight.delete(res);
        // A response that went out with keep-alive before the drain leaves an idle socket behind.
        if (state.draining) setImmediate(() => server.closeIdleConnections());
      });
      handler(req, res);
    },
  );
  drains.set(server, state);
  server.keepAliveTimeout = config.KEEP_ALIVE_TIMEOUT_MS;
  server.maxConnections = config.MAX_CONNECTIONS;

  const perAddress = new Map<string, number>();
  let total = 0;
  const refused = (reason: string) =>
    metrics.inc('ankang_connections_refused_total', 'Connections closed at once by a connection cap', { reason });
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
  metrics.gauge(openGauge.name, openGauge.help, () => [[{}, total]]);
  return server;
}

interface DrainState {
  draining: boolean;
  inFlight: Set<ServerResponse>;
  open: () => number;
}
const drains = new WeakMap<Server, DrainState>();

/**
 * Stops the server gracefully: it stops accepting connections, closes idle keep-alive
 * sockets at once, lets requests in flight finish (their responses, and any that arrive on
 * an open connection meanwhile, say `Connection: close`), and after `timeoutMs` destroys
 * the sockets still open. Resolves with how many requests were in flight and how many
 * sockets had to be destroyed.
 */
export async function drainHttpServer(
  server: Server,
  timeoutMs: number,
): Promise<{ inFlight: number; forced: number }> {
  const state = drains.get(server);
  if (!state) throw new Error('internal: drainHttpServer needs a server made by createHttpServer');
  state.draining = true;
  const inFlight = state.inFlight.size;
  for (const res of state.inFlight) if (!res.headersSent) res.shouldKeepAlive = false;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  let timer: NodeJS.Timeout | undefined;
  const late = await Promise.race([
    closed.then(() => false),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
  ]);
  clearTimeout(timer);
  let forced = 0;
  if (late) {
    forced = state.open();
    server.closeAllConnections();
    await closed;
  }
  return { inFlight, forced };
}
