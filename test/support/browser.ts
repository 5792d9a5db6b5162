import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { buildWeb } from '../../web/build';
import type { DayClock } from '../../scripts/demo/day-clock';
import { TestClock } from './service';
import { tempDir } from './tmp';

/** Debian's chromium (`apt-get install chromium`); playwright-core downloads no browser. */
export const CHROMIUM = '/usr/bin/chromium';
export const ZBARIMG = '/usr/bin/zbarimg';
/** Where the tests write page screenshots (gitignored). */
export const SCREENSHOTS = resolve(__dirname, '..', '..', 'test-output', 'screenshots');
/** The committed copies the README and docs show; refreshed only with ANKANG_UPDATE_SCREENSHOTS=1. */
export const DOC_SCREENSHOTS = resolve(__dirname, '..', '..', 'docs', 'screenshots');
const DOC_SHOTS = new Set([
  'resident-sign-in',
  'resident-apply',
  'resident-apply-errors',
  'resident-rebind',
  'resident-code',
  'resident-code-en',
  'resident-printed',
  'resident-self-scan',
  'scan-gate',
  'scan-admit',
  'scan-deny',
  'verify-valid',
  'verify-tampered',
  'verify-standalone',
  'admin-stats',
  'admin-rules',
  'admin-appeals',
  'admin-grid',
]);

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface LaunchOptions {
  /** A Y4M file the fake camera plays in a loop (getUserMedia then sees it). */
  fakeVideo?: string;
}

export interface PhoneBrowser {
  context: BrowserContext;
  page: Page;
  /** Closes the browser and removes its profile folder. */
  close(): Promise<void>;
}

/**
 * Chromium at phone size (390×844 CSS px, device scale 2, touch), with a fresh profile
 * folder per launch so no service worker, storage or permission leaks between tests.
 */
export async function launchPhone(opts: LaunchOptions = {}): Promise<PhoneBrowser> {
  await ensureWebBuilt();
  const profile = tempDir('ankang-chromium-');
  const args = [...ARGS];
  if (opts.fakeVideo) {
    args.push(
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-video-capture=${opts.fakeVideo}`,
      '--use-fake-ui-for-media-stream',
    );
  }
  // launchPersistentContext is how playwright takes a --user-data-dir.
  const context = await chromium.launchPersistentContext(profile.dir, {
    executablePath: CHROMIUM,
    headless: true,
    args,
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
  });
  if (opts.fakeVideo) await context.grantPermissions(['camera']);
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (e) => process.stderr.write(`[page error] ${e.message}\n`));
  let closed = false;
  return {
    context,
    page,
    async close() {
      if (closed) return;
      closed = true;
      await context.close().catch(() => undefined);
      profile.cleanup();
    },
  };
}

let built: Promise<unknown> | undefined;

/**
 * Builds web/dist when it is missing or was built from other sources, so a single test
 * file run with `npx mocha test/web/x.test.ts` tests the current pages (`npm test` has
 * just built them, and buildWeb then does nothing).
 */
export function ensureWebBuilt(): Promise<unknown> {
  built ??= buildWeb({ quiet: true });
  return built;
}

/** Saves a screenshot of the page to test-output/screenshots/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string, opts: { fullPage?: boolean } = {}): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = join(SCREENSHOTS, `${name}.png`);
  // A full-page capture of a scrolled page would draw the sticky header mid-page.
  if (opts.fullPage) await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: file, fullPage: opts.fullPage ?? false, animations: 'disabled' });
  if (process.env.ANKANG_UPDATE_SCREENSHOTS === '1' && DOC_SHOTS.has(name)) {
    mkdirSync(DOC_SCREENSHOTS, { recursive: true });
    copyFileSync(file, join(DOC_SCREENSHOTS, `${name}.png`));
  }
  return file;
}

/** The text of the QR code zbarimg finds in an image file. */
export function zbarimg(file: string): Promise<string> {
  return new Promise((done, fail) => {
    execFile(ZBARIMG, ['--raw', '-q', file], (err, stdout) => (err ? fail(err) : done(stdout.replace(/\n$/, ''))));
  });
}

/**
 * Writes a Y4M (YUV4MPEG2, 4:2:0) video of a still PNG centred on white, for chromium's
 * fake camera. Only luma carries the picture; both chroma planes are 128 (grey).
 */
export function writeY4m(
  png: Uint8Array,
  file: string,
  opts: { width?: number; height?: number; frames?: number } = {},
): void {
  const image = PNG.sync.read(Buffer.from(png));
  const width = even(opts.width ?? Math.max(640, image.width + 160));
  const height = even(opts.height ?? Math.max(480, image.height + 160));
  if (image.width > width || image.height > height)
    throw new Error(`a ${image.width}×${image.height} image does not fit ${width}×${height}`);
  const y = Buffer.alloc(width * height, 255);
  const left = Math.floor((width - image.width) / 2);
  const top = Math.floor((height - image.height) / 2);
  for (let row = 0; row < image.height; row++) {
    for (let col = 0; col < image.width; col++) {
      const i = (row * image.width + col) * 4;
      const a = image.data[i + 3] / 255;
      const luma = 0.299 * image.data[i] + 0.587 * image.data[i + 1] + 0.114 * image.data[i + 2];
      y[(top + row) * width + left + col] = Math.round(luma * a + 255 * (1 - a));
    }
  }
  const chroma = Buffer.alloc((width / 2) * (height / 2), 128);
  const frame = Buffer.concat([Buffer.from('FRAME\n'), y, chroma, chroma]);
  const parts = [Buffer.from(`YUV4MPEG2 W${width} H${height} F10:1 Ip A1:1 C420jpeg\n`)];
  for (let i = 0; i < (opts.frames ?? 20); i++) parts.push(frame);
  writeFileSync(file, Buffer.concat(parts));
}

const even = (n: number) => n + (n % 2);

/**
 * A clock that follows real time. The browser checks codes with its own clock, so a
 * service under a frozen test clock would hand it codes from another day.
 */
export function realClock(): TestClock {
  return followingClock(() => new Date());
}

/**
 * A clock that follows real time, moved ahead by `advance` (for expiring sessions while a
 * browser looks on). Sign in before moving it: the identity provider's tokens carry real time.
 */
export function movableClock(): TestClock {
  let offset = 0;
  const clock = followingClock(() => new Date(Date.now() + offset));
  Object.defineProperty(clock, 'advance', { value: (ms: number) => void (offset += ms) });
  return clock;
}

/** The service clock the embedded demo uses on a fresh folder (scripts/demo/day-clock.ts), as a TestClock. */
export function demoDayClock(day: DayClock): TestClock {
  return followingClock(day.clock);
}

/** A TestClock that reads `now` instead of standing still; advancing it does nothing. */
function followingClock(now: () => Date): TestClock {
  const clock = new TestClock(now().getTime());
  Object.defineProperty(clock, 'now', { value: now });
  Object.defineProperty(clock, 'ms', { get: () => now().getTime(), set: () => undefined });
  return clock;
}
