import type { IncomingMessage, ServerResponse } from 'node:http';
import type Koa from 'koa';
import type { IdentityProvider } from './provider';

const OAUTH_METADATA = '/.well-known/oauth-authorization-server';

/**
 * The provider, or a function returning it once it exists. The function form lets an
 * application mount the provider before listening, when the issuer (which names the port)
 * is known only after `listen` on port 0; until it returns one, requests get a 503.
 */
export type IdentityProviderRef = IdentityProvider | (() => IdentityProvider | undefined);

function checkPrefix(prefix: string, idp: IdentityProvider): void {
  if (prefix !== idp.mountPath)
    throw new Error(
      `the provider for ${idp.issuer} must be mounted at ${JSON.stringify(idp.mountPath)}, not ${JSON.stringify(prefix)}`,
    );
}

/**
 * Koa middleware that hands every request under `prefix` (and the RFC 8414 metadata URL
 * `/.well-known/oauth-authorization-server<prefix>`) to the provider, with the prefix
 * stripped, and passes everything else on. `prefix` must be the issuer's path ('' mounts
 * it at the root). Put it before anything that reads request bodies.
 *
 * oidc-provider builds its endpoint URLs from the request's host and `req.baseUrl` (the
 * Express convention for a mount path), so discovery, `/auth`, `/token`, `/jwks` and the
 * interaction pages all answer under the prefix.
 * @throws Error when `prefix` is not the issuer's path (for the function form: on the
 * first request after it returns a provider).
 */
export function identityProviderMiddleware(prefix: string, ref: IdentityProviderRef): Koa.Middleware {
  const current = typeof ref === 'function' ? ref : () => ref;
  if (typeof ref !== 'function') checkPrefix(prefix, ref);
  let seen: IdentityProvider | undefined;
  let handle: ((req: IncomingMessage, res: ServerResponse) => Promise<void>) | undefined;
  return async (ctx, next) => {
    let inner: string | undefined;
    if (!prefix) inner = ctx.url;
    else if (ctx.path === prefix || ctx.path.startsWith(`${prefix}/`)) {
      const rest = ctx.url.slice(prefix.length);
      inner = rest.startsWith('/') ? rest : `/${rest}`;
    } else if (ctx.path === `${OAUTH_METADATA}${prefix}`)
      inner = `${OAUTH_METADATA}${ctx.querystring ? `?${ctx.querystring}` : ''}`;
    if (inner === undefined) return next();
    const idp = current();
    if (!idp) {
      ctx.status = 503;
      ctx.set('Retry-After', '1');
      ctx.body = { error: { code: 'IDP_STARTING', message: 'the identity provider is starting' } };
      return;
    }
    if (idp !== seen) {
      checkPrefix(prefix, idp);
      seen = idp;
      handle = idp.callback();
    }
    ctx.respond = false;
    const req = ctx.req as IncomingMessage & { baseUrl?: string };
    const url = req.url;
    req.url = inner;
    req.baseUrl = prefix;
    try {
      await handle!(req, ctx.res);
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
 * @example mountIdentityProvider(koa, '/idp', () => app.idp) // created after listen(0)
 */
export function mountIdentityProvider(koa: Koa, prefix: string, ref: IdentityProviderRef): void {
  koa.use(identityProviderMiddleware(prefix, ref));
}
