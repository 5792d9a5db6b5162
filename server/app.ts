import Koa from 'koa';
import Router from '@koa/router';
import { ServiceError } from './errors';
import { authenticate, COOKIES } from './http/auth';
import { apiHeaders } from './http/headers';
import { RateLimits, UnknownTokens } from './http/rate-limit';
import { LedgerUnavailableError } from '../ledger/ledger';
import type { AppContext } from './context';
import { WORKER_CLIENT_HEADER } from './cluster/protocol';
import type { WorkerNotices } from './cluster/notices';
import { Idempotency } from './services/idempotency';
import { ResidentService } from './services/residents';
import { FeedService } from './services/feeds';
import { Reevaluator } from './services/reevaluator';
import { VenueService } from './services/venues';
import { ScanService } from './services/scans';
import { residentRoutes } from './routes/residents';
import { ruleRoutes } from './routes/rules';
import { feedRoutes } from './routes/feeds';
import { issuerRoutes } from './routes/issuer';
import { adminRoutes } from './routes/admin';
import { systemRoutes } from './routes/system';
import { proofRoutes } from './routes/proofs';
import { logRoutes } from './routes/log';
import { venueRoutes } from './routes/venues';
import { authorityRoutes } from './routes/authority';
import { borderRoutes } from './routes/border';
import { pageRoutes } from './routes/pages';
import { authRoutes } from './routes/auth';
import { openapiRoutes } from './routes/openapi';
import { federationRoutes } from './routes/federation';
import { linkRoutes } from './routes/links';
import { deskRoutes } from './routes/desks';
import { LinkBook } from './services/links';
import { LookupService } from './services/lookups';
import { mountIdentityProvider, type IdentityProviderRef } from './idp/provider';
import { SessionService } from './identity/sessions';
import { RebindService } from './identity/rebind';

export interface Services {
  residents: ResidentService;
  feeds: FeedService;
  reevaluator: Reevaluator;
  idempotency: Idempotency;
  venues: VenueService;
  scans: ScanService;
  sessions: SessionService;
  rebind: RebindService;
  /** Linked cards and consents (多功能). */
  links: LinkBook;
  /** Desks' look-ups (POST /v1/services/resolve). */
  lookups: LookupService;
  /** Abuse limits; routes name theirs with `limits.limit(...)`. */
  limits: RateLimits;
}

export function createServices(app: AppContext): Services {
  const residents = new ResidentService(app);
  const venues = new VenueService(app);
  const sessions = new SessionService(app);
  return {
    residents,
    venues,
    sessions,
    rebind: new RebindService(app, sessions),
    scans: new ScanService(app, venues, residents),
    feeds: new FeedService(app, residents),
    reevaluator: new Reevaluator(app, residents),
    idempotency: new Idempotency(app.secrets.encryptionKey, app.config.IDEMPOTENCY_TTL_HOURS * 3_600_000),
    links: new LinkBook(app.secrets.encryptionKey),
    lookups: new LookupService(app),
    limits: new RateLimits(app.config, app.metrics),
  };
}

/** A refused or failed ledger write as the client sees it: the cause stays in the log and /readyz. */
export function ledgerError(err: LedgerUnavailableError): ServiceError {
  if (err.code === 'LEDGER_DIVERGED') {
    return new ServiceError(
      'LEDGER_DIVERGED',
      'the ledger disagrees with what was anchored; writes are refused until an operator has checked it (GET /readyz says why)',
    );
  }
  const e = new ServiceError('LEDGER_UNAVAILABLE', 'the ledger is unavailable; retry later');
  e.retryAfterSeconds = 1;
  return e;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Cookies authenticate only requests the pages themselves make. SameSite=Strict already
 * keeps them off requests other sites start; a browser that says a write comes from
 * another site (Sec-Fetch-Site) is refused as well, before anything is read or written.
 */
export function refuseCrossSite(ctx: Koa.Context): void {
  if (SAFE_METHODS.has(ctx.method)) return;
  const site = ctx.get('sec-fetch-site');
  if (site !== 'cross-site' && site !== 'same-site') return;
  if ([COOKIES.resident, COOKIES.residentRefresh, COOKIES.staff].some((c) => ctx.cookies.get(c))) {
    throw new ServiceError('FORBIDDEN', "a request from another site cannot use this browser's session");
  }
}

/** Where the embedded identity provider answers (its own routes, not the router's). */
const IDP_PREFIX = '/idp';

/**
 * The request log and the request metrics, outermost so that every request counts, the
 * identity provider's too. A request is named by its route pattern (`/v1/venues/:id`), never
 * its path, query or body: IDs, tokens and personal data stay out of the log and the labels.
 */
export function requestLog(app: Pick<AppContext, 'metrics' | 'log'>): Koa.Middleware {
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    let status: number | undefined;
    try {
      await next();
    } catch (err) {
      status = Number((err as { status?: number }).status ?? 500);
      throw err;
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      // The provider answers on the raw response (ctx.respond = false); its status is there.
      status ??= ctx.respond === false ? ctx.res.statusCode : ctx.status;
      const underIdp =
        ctx.path === IDP_PREFIX ||
        ctx.path.startsWith(`${IDP_PREFIX}/`) ||
        ctx.path.startsWith('/.well-known/oauth-authorization-server');
      const route = String(ctx._matchedRoute ?? (underIdp ? `${IDP_PREFIX}/*` : 'unmatched'));
      app.metrics.inc('ankang_http_requests_total', 'HTTP requests', {
        method: ctx.method,
        route,
        status: String(status),
      });
      app.metrics.observe('ankang_http_request_duration_seconds', 'HTTP request latency', { route }, seconds);
      app.log.info('request', { method: ctx.method, route, status, ms: Math.round(seconds * 1e4) / 10 });
    }
  };
}

/** Errors in the API's shape: a ServiceError as itself, a refused ledger write as 503, anything else as 500 INTERNAL (logged). */
export function errorResponses(app: Pick<AppContext, 'log'>): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined)
        throw new ServiceError('NOT_FOUND', `no route for ${ctx.method} ${ctx.path}`);
      // allowedMethods() sets 405 and the Allow header but no body; answer in the API's error shape.
      if (ctx.status === 405 && ctx.body === undefined)
        throw new ServiceError('METHOD_NOT_ALLOWED', `${ctx.method} is not allowed on ${ctx.path}`);
    } catch (err) {
      const e =
        err instanceof ServiceError ? err : err instanceof LedgerUnavailableError ? ledgerError(err) : undefined;
      if (e) {
        ctx.status = e.status;
        if (e.retryAfterSeconds !== undefined) ctx.set('Retry-After', String(e.retryAfterSeconds));
        ctx.body = { error: { code: e.code, message: e.message, ...(e.fields ? { fields: e.fields } : {}) } };
      } else {
        // Only the code reaches the client; the details stay in the server log.
        ctx.status = 500;
        ctx.body = { error: { code: 'INTERNAL', message: 'internal error' } };
        app.log.error('unhandled error', {
          method: ctx.method,
          route: ctx._matchedRoute ?? 'unmatched',
          error: (err as Error).stack ?? String(err),
        });
      }
    }
  };
}

/**
 * The Koa application: common headers, error mapping, request log and metrics,
 * bearer-token authentication, then the routes. No I/O happens here beyond what `app` holds.
 */
export function createApp(
  app: AppContext,
  services: Services = createServices(app),
  idp?: IdentityProviderRef,
  opts: { workerNotices?: WorkerNotices } = {},
): Koa {
  // Only behind a proxy we run is X-Forwarded-For the client's word on its address (ctx.ip).
  // Behind HTTP workers, the worker's header is (workerRequests in server/cluster/writer.ts drops it from anyone else).
  const { workerNotices } = opts;
  const koa = workerNotices
    ? new Koa({ proxy: true, proxyIpHeader: WORKER_CLIENT_HEADER, maxIpsCount: 1 })
    : new Koa({ proxy: app.config.TRUST_PROXY, maxIpsCount: app.config.TRUST_PROXY_HOPS });
  const router = new Router();

  koa.use(requestLog(app));
  // The embedded identity provider answers under /idp with its own pages, errors and cookies;
  // its token endpoint takes Basic client authentication, which the bearer check would refuse.
  if (idp) mountIdentityProvider(koa, IDP_PREFIX, idp);

  koa.use(apiHeaders);
  koa.use(errorResponses(app));

  // Behind HTTP workers: a write's notices reach every worker before its answer reaches the client,
  // who may ask another worker next (server/cluster/notices.ts).
  if (workerNotices)
    koa.use(async (_ctx, next) => {
      try {
        await next();
      } finally {
        await workerNotices.settled();
      }
    });

  const unknownTokens = new UnknownTokens(app.config, app.metrics);
  koa.use(async (ctx, next) => {
    ctx.state.principals = await authenticate(
      ctx,
      app.ledger,
      app.secrets.adminToken,
      app.clock(),
      app.config.STAFF_TOKEN_TTL_DAYS * 86_400_000,
      unknownTokens,
    );
    refuseCrossSite(ctx);
    await next();
  });

  for (const add of [
    authRoutes,
    systemRoutes,
    openapiRoutes,
    issuerRoutes,
    residentRoutes,
    ruleRoutes,
    feedRoutes,
    adminRoutes,
    proofRoutes,
    logRoutes,
    venueRoutes,
    authorityRoutes,
    borderRoutes,
    federationRoutes,
    linkRoutes,
    deskRoutes,
    pageRoutes,
  ])
    add(router, app, services);
  koa.use(router.routes());
  koa.use(router.allowedMethods({ throw: false }));
  return koa;
}
