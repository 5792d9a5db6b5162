/**
 * `tsx web/build.ts` (part of `npm run build`): bundles the pages into web/dist with esbuild.
 *
 *   web/dist/index.html, scan.html, desk.html, verify.html, admin.html  one page each, served by server/routes/pages.ts
 *   web/dist/assets/<page>-<hash>.js / .css                    one script and one stylesheet per page
 *   web/dist/assets/ankang-verify-<hash>.js                    the verifier's browser bundle (global AnkangVerify)
 *   web/dist/sw.js                                             the offline verifier's service worker
 *   web/dist/verify-standalone.html                            the verifier page in one file, everything inlined
 *   web/dist/manifest.json                                     which file is which
 *
 * Asset names carry a hash of their content, so they are cached for good and a new build
 * is picked up at once. The verifier's bundles are rebuilt first with verifier/build.mjs.
 *
 * `npm start` and `npm run build` call this every time: when nothing the build reads has
 * changed since the last one (the fingerprint of its sources in manifest.json is the same
 * and every output is there), it prints one line and does nothing. `--force` rebuilds.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import * as esbuild from 'esbuild';

const ROOT = join(__dirname, '..');
export const WEB_DIST = join(__dirname, 'dist');
const VERIFIER_BUNDLE = join(ROOT, 'verifier', 'dist', 'ankang-verify.browser.js');

export const PAGES = {
  resident: { file: 'index.html', path: '/', title: '安康码 · Ankang code' },
  scan: { file: 'scan.html', path: '/scan', title: '场所核验 · 安康码' },
  desk: { file: 'desk.html', path: '/desk', title: '服务窗口 · 安康码' },
  verify: { file: 'verify.html', path: '/verify', title: '离线验码 · 安康码' },
  admin: { file: 'admin.html', path: '/admin', title: '卫健管理 · 安康码' },
} as const;
export type PageName = keyof typeof PAGES;

export interface WebManifest {
  pages: Record<PageName, { html: string; js: string; css: string }>;
  verifier: string;
  serviceWorker: string;
  standalone: string;
  /** `sourcesFingerprint()` when this was built: the next build is skipped while it matches. */
  sources: string;
}

/**
 * Everything the build reads that can change between two runs: the pages' sources, the
 * verifier (bundled into /verify and rebuilt into verifier/dist), both build scripts, and
 * the lock file (a dependency's new version changes the bundles too).
 */
const SOURCES = [
  'web/src',
  'web/build.ts',
  'verifier/src',
  'verifier/cli',
  'verifier/build.mjs',
  'verifier/package.json',
  'verifier/tsconfig.build.json',
  'package-lock.json',
];
/** What verifier/build.mjs writes that others load: a skipped build must not leave them missing. */
const VERIFIER_OUTPUTS = ['index.js', 'cli.js', 'ankang-verify.browser.js', 'types/index.d.ts'].map((f) =>
  join(ROOT, 'verifier', 'dist', f),
);

function listFiles(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path).flatMap((name) => listFiles(join(path, name)));
}

/**
 * A hash of the names and contents of every file the build reads. Contents, not times: a
 * `git checkout` or a copy touches times without changing what would be built.
 */
export function sourcesFingerprint(): string {
  const h = createHash('sha256');
  for (const file of SOURCES.flatMap((s) => listFiles(join(ROOT, s))).sort()) {
    h.update(relative(ROOT, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  return h.digest('hex');
}

/** The manifest of the build in web/dist when it is complete and built from `fingerprint`, else undefined. */
export function currentBuild(fingerprint: string): WebManifest | undefined {
  let manifest: WebManifest;
  try {
    manifest = JSON.parse(readFileSync(join(WEB_DIST, 'manifest.json'), 'utf8')) as WebManifest;
  } catch {
    return undefined;
  }
  if (manifest.sources !== fingerprint) return undefined;
  const files = [
    ...Object.values(manifest.pages ?? {}).flatMap((p) => [p.html, p.js, p.css]),
    manifest.verifier,
    manifest.serviceWorker,
    manifest.standalone,
  ].filter(Boolean);
  if (!files.every((f) => existsSync(join(WEB_DIST, f)))) return undefined;
  return VERIFIER_OUTPUTS.every((f) => existsSync(f)) ? manifest : undefined;
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
const inlineScript = (js: string) =>
  `<script>${js.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--')}</script>`;
const inlineStyle = (css: string) => `<style>${css.replace(/<\/(style)/gi, '<\\/$1')}</style>`;

/**
 * Builds web/dist (and verifier/dist) unless the last build was made from the same sources
 * and is complete; `force` builds anyway. Returns the manifest of what web/dist now holds.
 */
export async function buildWeb(opts: { quiet?: boolean; force?: boolean } = {}): Promise<WebManifest> {
  const sources = sourcesFingerprint();
  const built = opts.force ? undefined : currentBuild(sources);
  if (built) {
    if (!opts.quiet)
      process.stdout.write(
        `web: pages unchanged since the last build, skipped (${relative(ROOT, WEB_DIST)}/ is current; --force rebuilds)\n`,
      );
    return built;
  }
  // Rebuilt with the pages: a stale verifier bundle would check codes with yesterday's rules.
  execFileSync(process.execPath, [join(ROOT, 'verifier', 'build.mjs')], {
    cwd: join(ROOT, 'verifier'),
    stdio: opts.quiet ? 'ignore' : 'inherit',
  });
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
    pages[page] = {
      html: PAGES[page].file,
      js: `/assets/${basename(out)}`,
      css: meta.cssBundle ? `/assets/${basename(meta.cssBundle)}` : '',
    };
  }

  const verifierJs = readFileSync(VERIFIER_BUNDLE);
  const verifier = `/assets/ankang-verify-${hash(verifierJs)}.js`;
  writeFileSync(join(WEB_DIST, verifier), verifierJs);

  for (const page of names) {
    const p = pages[page];
    const scripts = [...(page === 'verify' ? [verifier] : []), p.js]
      .map((src) => `<script src="${src}" defer></script>`)
      .join('\n');
    writeFileSync(
      join(WEB_DIST, PAGES[page].file),
      html({ title: PAGES[page].title, page, head: p.css ? `<link rel="stylesheet" href="${p.css}">` : '', scripts }),
    );
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
    define: {
      __PRECACHE__: JSON.stringify(precache),
      __CACHE__: JSON.stringify(
        `ankang-verify-${hash(precache.join('\n') + readFileSync(join(WEB_DIST, PAGES.verify.file)))}`,
      ),
    },
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

  const manifest: WebManifest = {
    pages,
    verifier,
    serviceWorker: '/sw.js',
    standalone: '/verify-standalone.html',
    sources,
  };
  writeFileSync(join(WEB_DIST, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  if (!opts.quiet) {
    const sizes = Object.keys(result.metafile.outputs).map(
      (o) => `${relative(WEB_DIST, join(ROOT, o))} ${(result.metafile.outputs[o].bytes / 1024).toFixed(1)} KiB`,
    );
    process.stdout.write(
      `web: built ${names.length} pages and verify-standalone.html (${(standalone.length / 1024).toFixed(0)} KiB) into ${relative(ROOT, WEB_DIST)}/\n  ${sizes.join('\n  ')}\n`,
    );
  }
  return manifest;
}

if (require.main === module) {
  const args = process.argv.slice(2);
  if (args.some((a) => a !== '--force')) {
    process.stderr.write('usage: tsx web/build.ts [--force]   (--force rebuilds even when no source changed)\n');
    process.exit(2);
  }
  buildWeb({ force: args.includes('--force') }).catch((e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(1);
  });
}
