import type { IncomingMessage } from 'node:http';
import type Koa from 'koa';
import type { IdentityProvider } from './provider';

const OAUTH_METADATA = '/.well-known/oauth-authorization-server';

/**
 * Koa middleware that hands every request under `prefix` (and the RFC 8414 metadata URL
 * `/.well-known/oauth-authorization-server<prefix>`) to the provider, with the prefix
 * stripped, and passes everything else on. `prefix` must be the issuer's path ('' mounts
 * it at the root). Put it before anything that reads request bodies.
 *
 * oidc-provider builds its endpoint URLs from the request's host and `req.baseUrl` (the
 * Express convention for a mount path), so discovery, `/auth`, `/token`, `/jwks` and the
 * interaction pages all answer under the prefix.
 * @throws Error when `prefix` is not the issuer's path.
 */
export function identityProviderMiddleware(prefix: string, idp: IdentityProvider): Koa.Middleware {
  if (prefix !== idp.mountPath) throw new Error(`the provider for ${idp.issuer} must be mounted at ${JSON.stringify(idp.mountPath)}, not ${JSON.stringify(prefix)}`);
  const handle = idp.callback();
  return async (ctx, next) => {
    let inner: string | undefined;
    if (!prefix) inner = ctx.url;
    else if (ctx.path === prefix || ctx.path.startsWith(`${prefix}/`)) {
      const rest = ctx.url.slice(prefix.length);
      inner = rest.startsWith('/') ? rest : `/${rest}`;
    } else if (ctx.path === `${OAUTH_METADATA}${prefix}`) inner = `${OAUTH_METADATA}${ctx.querystring ? `?${ctx.querystring}` : ''}`;
    if (inner === undefined) return next();
    ctx.respond = false;
    const req = ctx.req as IncomingMessage & { baseUrl?: string };
    const url = req.url;
    req.url = inner;
    req.baseUrl = prefix;
    try {
      await handle(req, ctx.res);
    } finally {
      req.url = url;
      delete req.baseUrl;
    }
  };
}

/**
 * Mounts the provider into a Koa application at `prefix` (the issuer's path, e.g. '/idp'
 * for an issuer `<PUBLIC_URL>/idp`). Call it before the application's own routes and before
 * its bearer-token authentication: the token endpoint takes `Authorization: Basic`.
 * @example mountIdentityProvider(koa, '/idp', await createIdentityProvider({ issuer: `${publicUrl}/idp`, … }))
 */
export function mountIdentityProvider(koa: Koa, prefix: string, idp: IdentityProvider): void {
  koa.use(identityProviderMiddleware(prefix, idp));
}
