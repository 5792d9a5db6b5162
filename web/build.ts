/**
 * `tsx web/build.ts` (part of `npm run build`): bundles the pages into web/dist with esbuild.
 *
 *   web/dist/index.html, scan.html, verify.html, admin.html   one page each, served by server/routes/pages.ts
 *   web/dist/assets/<page>-<hash>.js / .css                    one script and one stylesheet per page
 *   web/dist/assets/ankang-verify-<hash>.js                    the verifier's browser bundle (global AnkangVerify)
 *   web/dist/sw.js                                             the offline verifier's service worker
 *   web/dist/verify-standalone.html                            the verifier page in one file, everything inlined
 *   web/dist/manifest.json                                     which file is which
 *
 * Asset names carry a hash of their content, so they are cached for good and a new build
 * is picked up at once. The verifier's bundles are rebuilt first with verifier/build.mjs.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import * as esbuild from 'esbuild';

const ROOT = join(__dirname, '..');
export const WEB_DIST = join(__dirname, 'dist');
const VERIFIER_BUNDLE = join(ROOT, 'verifier', 'dist', 'ankang-verify.browser.js');

export const PAGES = {
  resident: { file: 'index.html', path: '/', title: '安康码 · Ankang code' },
  scan: { file: 'scan.html', path: '/scan', title: '场所核验 · 安康码' },
  verify: { file: 'verify.html', path: '/verify', title: '离线验码 · 安康码' },
  admin: { file: 'admin.html', path: '/admin', title: '卫健管理 · 安康码' },
} as const;
export type PageName = keyof typeof PAGES;

export interface WebManifest {
  pages: Record<PageName, { html: string; js: string; css: string }>;
  verifier: string;
  serviceWorker: string;
  standalone: string;
}

const hash = (data: string | Buffer) => createHash('sha256').update(data).digest('hex').slice(0, 10);

function html(opts: { title: string; page: string; head: string; scripts: string; standalone?: boolean }): string {
  return `<!doctype html>
<html lang="zh-CN"${opts.standalone ? ' data-standalone="1"' : ''}>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta name="theme-color" content="#0b7a53">
<meta name="color-scheme" content="light">
<link rel="icon" href="data:,">
<title>${opts.title}</title>
${opts.head}
</head>
<body data-page="${opts.page}">
<div id="app"><noscript>请启用 JavaScript / Please enable JavaScript.</noscript></div>
${opts.scripts}
</body>
</html>
`;
}

/** Inline text must not close its element early. */
const inlineScript = (js: string) => `<script>${js.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--')}</script>`;
const inlineStyle = (css: string) => `<style>${css.replace(/<\/(style)/gi, '<\\/$1')}</style>`;

export async function buildWeb(opts: { quiet?: boolean } = {}): Promise<WebManifest> {
  // Always rebuilt: a stale verifier bundle would check codes with yesterday's rules.
  execFileSync(process.execPath, [join(ROOT, 'verifier', 'build.mjs')], { cwd: join(ROOT, 'verifier'), stdio: opts.quiet ? 'ignore' : 'inherit' });
  rmSync(WEB_DIST, { recursive: true, force: true });
  const assets = join(WEB_DIST, 'assets');
  mkdirSync(assets, { recursive: true });

  const names = Object.keys(PAGES) as PageName[];
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: Object.fromEntries(names.map((n) => [n, join(__dirname, 'src', 'pages', `${n}.ts`)])),
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: ['es2020'],
    minify: true,
    charset: 'utf8',
    legalComments: 'none',
    entryNames: '[name]-[hash]',
    outdir: assets,
    metafile: true,
    logLevel: 'warning',
  });

  const pages = {} as WebManifest['pages'];
  for (const [out, meta] of Object.entries(result.metafile.outputs)) {
    if (!meta.entryPoint) continue;
    const page = basename(meta.entryPoint, '.ts') as PageName;
    pages[page] = { html: PAGES[page].file, js: `/assets/${basename(out)}`, css: meta.cssBundle ? `/assets/${basename(meta.cssBundle)}` : '' };
  }

  const verifierJs = readFileSync(VERIFIER_BUNDLE);
  const verifier = `/assets/ankang-verify-${hash(verifierJs)}.js`;
  writeFileSync(join(WEB_DIST, verifier), verifierJs);

  for (const page of names) {
    const p = pages[page];
    const scripts = [...(page === 'verify' ? [verifier] : []), p.js].map((src) => `<script src="${src}" defer></script>`).join('\n');
    writeFileSync(join(WEB_DIST, PAGES[page].file), html({ title: PAGES[page].title, page, head: p.css ? `<link rel="stylesheet" href="${p.css}">` : '', scripts }));
  }

  // The service worker keeps exactly what /verify needs; its cache name changes with any of them.
  const precache = [PAGES.verify.path, pages.verify.js, pages.verify.css, verifier].filter(Boolean);
  await esbuild.build({
    entryPoints: [join(__dirname, 'src', 'sw.ts')],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: ['es2020'],
    minify: true,
    outfile: join(WEB_DIST, 'sw.js'),
    define: { __PRECACHE__: JSON.stringify(precache), __CACHE__: JSON.stringify(`ankang-verify-${hash(precache.join('\n') + readFileSync(join(WEB_DIST, PAGES.verify.file)))}`) },
    logLevel: 'warning',
  });

  // One file that works from file:// or any static host: no fetches for its own parts.
  const read = (asset: string) => readFileSync(join(WEB_DIST, asset), 'utf8');
  const standalone = html({
    title: '安康码离线验码 · Ankang offline verifier',
    page: 'verify',
    standalone: true,
    head: pages.verify.css ? inlineStyle(read(pages.verify.css)) : '',
    scripts: `${inlineScript(read(verifier))}\n${inlineScript(read(pages.verify.js))}`,
  });
  writeFileSync(join(WEB_DIST, 'verify-standalone.html'), standalone);

  const manifest: WebManifest = { pages, verifier, serviceWorker: '/sw.js', standalone: '/verify-standalone.html' };
  writeFileSync(join(WEB_DIST, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  if (!opts.quiet) {
    const sizes = Object.keys(result.metafile.outputs).map((o) => `${relative(WEB_DIST, join(ROOT, o))} ${(result.metafile.outputs[o].bytes / 1024).toFixed(1)} KiB`);
    process.stdout.write(`web: built ${names.length} pages and verify-standalone.html (${(standalone.length / 1024).toFixed(0)} KiB) into ${relative(ROOT, WEB_DIST)}/\n  ${sizes.join('\n  ')}\n`);
  }
  return manifest;
}

if (require.main === module) {
  buildWeb().catch((e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(1);
  });
}
