import { expect } from 'chai';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createContext, runInContext } from 'node:vm';
import { FIXED_IAT, buildTrustList, createTestIssuer } from '../support/issuer-fixture';
import { installedVerifier, runCommand as run, type InstalledVerifier } from '../support/installed-verifier';

const TSC = require.resolve('typescript/bin/tsc');
const NOW = '2026-11-28T10:40:00Z';

describe('ankang-verify package', function () {
  this.timeout(120_000);

  describe('when packed with npm pack and installed into an empty project', () => {
    let project: string;
    let packed: InstalledVerifier['packed'];
    let code: string;

    before(async () => {
      ({ project, packed } = await installedVerifier());
      const issuer = createTestIssuer({ id: '340000', name: '安徽省' });
      writeFileSync(join(project, 'tl.json'), JSON.stringify(buildTrustList([issuer])));
      code = await issuer.sign(issuer.residentClaims({ iat: FIXED_IAT }));
    });

    it('ships the node bundle, the CLI, the browser bundle and the type declarations', () => {
      const paths = packed.files.map((f) => f.path);
      expect(paths).to.include.members([
        'package.json',
        'README.md',
        'dist/index.js',
        'dist/cli.js',
        'dist/ankang-verify.browser.js',
        'dist/types/index.d.ts',
      ]);
      expect(paths.filter((p) => /^(src|cli)\//.test(p) || p.endsWith('.tgz'))).to.deep.equal([]);
    });

    it('installs with no runtime dependencies', () => {
      expect(readdirSync(join(project, 'node_modules')).filter((n) => !n.startsWith('.'))).to.deep.equal([
        'ankang-verify',
      ]);
      const manifest = JSON.parse(readFileSync(join(project, 'node_modules/ankang-verify/package.json'), 'utf8'));
      expect(manifest.dependencies ?? {}).to.deep.equal({});
    });

    it('installs an executable cli.js with a node shebang', () => {
      const cli = join(project, 'node_modules/ankang-verify/dist/cli.js');
      expect(readFileSync(cli, 'utf8').split('\n')[0]).to.equal('#!/usr/bin/env node');
      expect(statSync(cli).mode & 0o111).to.not.equal(0);
    });

    it('runs node_modules/.bin/ankang-verify code ... --json and reports VALID', async () => {
      const r = await run(
        join(project, 'node_modules/.bin/ankang-verify'),
        ['code', code, '--trust-list', 'tl.json', '--now', NOW, '--json'],
        project,
      );
      expect(r.status, r.stderr).to.equal(0);
      expect(JSON.parse(r.stdout)).to.include({ valid: true, code: 'VALID' });
    });

    it('lets require("ankang-verify") verify a code', async () => {
      const script = `
        const { verifyCode } = require('ankang-verify');
        const trustList = require('./tl.json');
        verifyCode(process.argv[1], { trustList, now: process.argv[2] }).then((r) => console.log(r.code));
      `;
      const r = await run(process.execPath, ['-e', script, code, NOW], project);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout.trim()).to.equal('VALID');
    });

    it('has a browser bundle that defines AnkangVerify and verifies without Node APIs', async () => {
      // A bare context: no require, process or Buffer, as on a web page.
      const page = createContext({ TextEncoder, TextDecoder, atob, btoa, crypto: globalThis.crypto });
      runInContext(
        readFileSync(join(project, 'node_modules/ankang-verify/dist/ankang-verify.browser.js'), 'utf8'),
        page,
      );
      const verify = page.AnkangVerify;
      expect(verify.defaultBackend()).to.equal('webcrypto');
      const trustList = JSON.parse(readFileSync(join(project, 'tl.json'), 'utf8'));
      const r = await verify.verifyCode(code, { trustList, now: NOW });
      expect(r.code, r.message).to.equal('VALID');
    });

    it('has type declarations a strict TypeScript project can use without DOM or Node types', async () => {
      writeFileSync(
        join(project, 'consumer.ts'),
        [
          "import { verifyCode, type CodeClaims, type VerifyResult } from 'ankang-verify';",
          'export async function colour(text: string, trustList: unknown): Promise<string> {',
          '  const r: VerifyResult = await verifyCode(text, { trustList });',
          '  const c: CodeClaims | undefined = r.claims;',
          "  return c?.kind === 'resident' ? c.health.colour : r.code;",
          '}',
        ].join('\n'),
      );
      const compilerOptions = {
        strict: true,
        module: 'commonjs',
        moduleResolution: 'node10',
        target: 'es2022',
        lib: ['es2022'],
        types: [],
        noEmit: true,
      };
      writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['consumer.ts'] }));
      const r = await run(process.execPath, [TSC, '-p', project], project);
      expect(r.status, r.stdout + r.stderr).to.equal(0);
    });
  });
});
