import type { Middleware } from 'koa';

/**
 * Headers every answer gets. `nosniff` everywhere; on the API (`/v1/…`), which answers
 * with personal data and tokens, `Cache-Control: no-store` unless the route chose its own
 * caching (the public trust and status lists), and always on an error.
 */
export const apiHeaders: Middleware = async (ctx, next) => {
  await next();
  ctx.set('X-Content-Type-Options', 'nosniff');
  if (ctx.path.startsWith('/v1/') && (ctx.status >= 400 || !ctx.response.get('Cache-Control')))
    ctx.set('Cache-Control', 'no-store');
};
