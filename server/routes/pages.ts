import type Router from '@koa/router';
import type { Context } from 'koa';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { z } from 'zod';
import type { Services } from '../app';
import type { AppContext } from '../context';
import { ServiceError } from '../errors';
import type { RouteDoc } from '../http/openapi';

/** What `npm run build` (web/build.ts) writes; the pages are served from here. */
export const WEB_DIST = join(__dirname, '..', '..', 'web', 'dist');

const PAGES: Record<string, string> = {
  '/': 'index.html',
  '/scan': 'scan.html',
  '/desk': 'desk.html',
  '/verify': 'verify.html',
  '/admin': 'admin.html',
};
const ASSET = /^[A-Za-z0-9_-]+\.(js|css)$/;

/**
 * Pages call only their own origin's API; the offline verifier may also fetch other
 * provinces' status lists (connect-src *). Inline style attributes come from uPlot.
 */
function csp(connect: string): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob: mediastream:",
    `connect-src ${connect}`,
    "worker-src 'self'",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

const gzipCache = new Map<string, { mtimeMs: number; raw: Buffer; gz: Buffer }>();

/** Reads a built file, gzip'd once per version when the client takes gzip. */
async function send(ctx: Context, file: string, type: string): Promise<void> {
  const path = join(WEB_DIST, file);
  let info;
  try {
    info = await stat(path);
  } catch {
    if (file.endsWith('.html') || file === 'sw.js') {
      ctx.status = 503;
      ctx.type = 'text/plain';
      ctx.body = 'The web pages are not built yet: run `npm run build`.\n';
      return;
    }
    throw new ServiceError('NOT_FOUND', `no file ${file}`);
  }
  let entry = gzipCache.get(path);
  if (!entry || entry.mtimeMs !== info.mtimeMs) {
    const raw = await readFile(path);
    entry = { mtimeMs: info.mtimeMs, raw, gz: gzipSync(raw, { level: 9 }) };
    gzipCache.set(path, entry);
  }
  ctx.type = type;
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.vary('Accept-Encoding');
  if (ctx.acceptsEncodings('gzip', 'identity') === 'gzip') {
    ctx.set('Content-Encoding', 'gzip');
    ctx.body = entry.gz;
  } else {
    ctx.body = entry.raw;
  }
}

/**
 * The web pages (resident, gate scanner, service desk, offline verifier, authority dashboard), their
 * content-hashed assets, the verifier's service worker and the standalone verifier file.
 * No API here: the pages call the same /v1 endpoints as any client.
 */
export function pageRoutes(router: Router, _app: AppContext, _services: Services): void {
  addPages(router);
}

/** The page routes themselves: files only, so an HTTP worker (server/cluster/worker.ts) serves them too. */
export function addPages(router: Router): void {
  for (const [path, file] of Object.entries(PAGES)) {
    router.get(path, async (ctx) => {
      await send(ctx, file, 'text/html; charset=utf-8');
      if (ctx.status !== 200) return;
      ctx.set('Cache-Control', 'no-cache');
      ctx.set('Content-Security-Policy', csp(path === '/verify' ? '*' : "'self'"));
      ctx.set('Referrer-Policy', 'no-referrer');
      ctx.set('X-Frame-Options', 'DENY');
      ctx.set('Permissions-Policy', 'camera=(self), microphone=(), geolocation=()');
    });
  }

  router.get('/assets/:name', async (ctx) => {
    const name = ctx.params.name;
    if (!ASSET.test(name)) throw new ServiceError('NOT_FOUND', `no asset ${name}`);
    await send(
      ctx,
      join('assets', name),
      name.endsWith('.css') ? 'text/css; charset=utf-8' : 'application/javascript; charset=utf-8',
    );
    // The name carries a hash of the content: it never changes.
    ctx.set('Cache-Control', 'public, max-age=31536000, immutable');
  });

  router.get('/sw.js', async (ctx) => {
    await send(ctx, 'sw.js', 'application/javascript; charset=utf-8');
    ctx.set('Cache-Control', 'no-cache');
  });

  router.get('/verify-standalone.html', async (ctx) => {
    await send(ctx, 'verify-standalone.html', 'text/html; charset=utf-8');
    ctx.set('Cache-Control', 'no-cache');
    ctx.set('Content-Disposition', 'inline; filename="ankang-verify.html"');
    // Everything is inline in this one file; it makes no requests of its own.
    ctx.set(
      'Content-Security-Policy',
      "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; media-src blob: mediastream:; connect-src *; base-uri 'none'; form-action 'none'",
    );
  });
}

/** The API document's entries for these routes (server/http/openapi.ts). */
const PAGE_NAMES: Record<string, string> = {
  '/': 'The resident page',
  '/scan': 'The gate scanner (staff)',
  '/desk': 'The service desk (a desk token)',
  '/verify': 'The offline verifier',
  '/admin': 'The authority dashboard (staff)',
};

export const pageDocs: RouteDoc[] = [
  ...Object.keys(PAGES).map((path): RouteDoc => ({
    method: 'get',
    path,
    tag: 'pages',
    auth: 'none',
    summary: PAGE_NAMES[path] ?? path,
    description: 'HTML; 503 (text) while the pages are not built.',
    ok: { status: 200, description: 'The page', type: 'text/html' },
  })),
  {
    method: 'get',
    path: '/assets/:name',
    tag: 'pages',
    auth: 'none',
    errors: ['NOT_FOUND'],
    params: z.strictObject({ name: z.string().regex(ASSET) }),
    summary: "A page's script or style sheet",
    description: 'Named by a hash of its content: cached for a year.',
    ok: { status: 200, description: 'JavaScript or CSS', type: 'application/javascript' },
  },
  {
    method: 'get',
    path: '/sw.js',
    tag: 'pages',
    auth: 'none',
    summary: "The verifier's service worker",
    ok: { status: 200, description: 'JavaScript', type: 'application/javascript' },
  },
  {
    method: 'get',
    path: '/verify-standalone.html',
    tag: 'pages',
    auth: 'none',
    summary: 'The offline verifier as one file to save',
    ok: { status: 200, description: 'The page, with everything inline', type: 'text/html' },
  },
];
