import { expect } from 'chai';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureWebBuilt } from '../support/browser';
import { runChild } from '../support/service';
import { buildWeb, currentBuild, sourcesFingerprint, WEB_DIST } from '../../web/build';

const BUILD = join(__dirname, '..', '..', 'web', 'build.ts');
const buildScript = (...args: string[]) => runChild(process.execPath, ['--import', 'tsx', BUILD, ...args]);
const mtime = (file: string) => statSync(join(WEB_DIST, file)).mtimeMs;

describe('web/build.ts (npm run build, and npm start before the service)', function () {
  this.timeout(120_000);

  before(() => ensureWebBuilt());

  describe('when nothing it reads changed since the last build', () => {
    it('prints one line saying it skipped, exits 0 and leaves web/dist as it was', async () => {
      const manifest = JSON.parse(readFileSync(join(WEB_DIST, 'manifest.json'), 'utf8'));
      const before = [mtime('manifest.json'), mtime('index.html'), mtime(manifest.pages.verify.js.slice(1))];
      const r = await buildScript();
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.match(
        /^web: pages unchanged since the last build, skipped \(web\/dist\/ is current; --force rebuilds\)\n$/,
      );
      expect([mtime('manifest.json'), mtime('index.html'), mtime(manifest.pages.verify.js.slice(1))]).to.deep.equal(
        before,
      );
    });
  });

  describe('when a source file is added, changed or removed', () => {
    it('no longer takes the build as current, and takes it again once the sources are back', () => {
      const built = sourcesFingerprint();
      expect(currentBuild(built)).to.not.equal(undefined);
      const probe = join(__dirname, '..', '..', 'web', 'src', 'lib', `probe-${process.pid}.ts`);
      try {
        writeFileSync(probe, 'export const probe = 1;\n');
        const added = sourcesFingerprint();
        expect(added).to.not.equal(built);
        expect(currentBuild(added)).to.equal(undefined);
        writeFileSync(probe, 'export const probe = 2;\n');
        expect(sourcesFingerprint()).to.not.equal(added);
      } finally {
        rmSync(probe, { force: true });
      }
      expect(sourcesFingerprint()).to.equal(built);
    });
  });

  describe('when an output is missing', () => {
    it('builds again', async () => {
      rmSync(join(WEB_DIST, 'verify-standalone.html'));
      expect(currentBuild(sourcesFingerprint())).to.equal(undefined);
      await buildWeb({ quiet: true });
      expect(statSync(join(WEB_DIST, 'verify-standalone.html')).size).to.be.greaterThan(10_000);
    });
  });

  describe('with --force', () => {
    it('builds although nothing changed', async () => {
      const before = mtime('manifest.json');
      const r = await buildScript('--force');
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/^web: built 5 pages/m);
      expect(mtime('manifest.json')).to.be.greaterThan(before);
    });

    it('refuses any other argument with its usage and exit status 2', async () => {
      const r = await buildScript('--fast');
      expect(r.code).to.equal(2);
      expect(r.stderr).to.include('usage: tsx web/build.ts [--force]');
    });
  });
});
