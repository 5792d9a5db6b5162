// Builds the publishable package: `node build.mjs` (run by `npm pack` via prepack).
//   dist/index.js                 library, CommonJS for Node 20+
//   dist/cli.js                   the `ankang-verify` command
//   dist/ankang-verify.browser.js the library as a <script> global, AnkangVerify
//   dist/types/                   declarations for dist/index.js
// Every dependency is bundled, so the installed package has no runtime dependencies.
import { execFileSync } from 'node:child_process';
import { chmodSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
const require = createRequire(import.meta.url);

rmSync(dist, { recursive: true, force: true });

const node = {
  absWorkingDir: here,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  logLevel: 'warning',
};

await Promise.all([
  esbuild.build({ ...node, entryPoints: ['src/index.ts'], outfile: 'dist/index.js' }),
  esbuild.build({
    ...node,
    entryPoints: ['cli/main.ts'],
    outfile: 'dist/cli.js',
    banner: { js: '#!/usr/bin/env node' },
  }),
  esbuild.build({
    absWorkingDir: here,
    entryPoints: ['src/index.ts'],
    outfile: 'dist/ankang-verify.browser.js',
    bundle: true,
    platform: 'browser',
    format: 'iife',
    globalName: 'AnkangVerify',
    target: ['es2022'],
    minify: true,
    // src/ed25519.ts requires node:crypto inside a try/catch; left external, the require
    // fails in a browser and the verifier falls back to WebCrypto (then noble).
    external: ['node:crypto'],
    logLevel: 'warning',
  }),
]);
chmodSync(join(dist, 'cli.js'), 0o755);

execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(here, 'tsconfig.build.json')], {
  stdio: 'inherit',
});
