import { expect } from 'chai';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import jsQR from 'jsqr';
import { PNG } from 'pngjs';
import * as QRCode from 'qrcode';
import { createQr, renderQrPng, renderQrSvg } from '../../verifier/src/qr';
import { FIXED_IAT, buildTrustList, createTestIssuer, type TestIssuer } from '../support/issuer-fixture';

const MAIN = resolve(__dirname, '../../verifier/cli/main.ts');
const TSX = pathToFileURL(require.resolve('tsx')).href;
const ZBARIMG = '/usr/bin/zbarimg';

function runCli(args: string[], cwd: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', TSX, MAIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', fail);
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

function zbarimg(file: string): Promise<string> {
  return new Promise((done, fail) => {
    execFile(ZBARIMG, ['--raw', '-q', file], (err, stdout) => (err ? fail(err) : done(stdout.replace(/\n$/, ''))));
  });
}

function jsqrDecode(png: Uint8Array): string | undefined {
  const image = PNG.sync.read(Buffer.from(png));
  return jsQR(new Uint8ClampedArray(image.data), image.width, image.height)?.data;
}

describe('ankang-verify qr', () => {
  let dir: string;
  let issuer: TestIssuer;
  let code: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ankang-qr-'));
    issuer = createTestIssuer({ id: '340000', name: '安徽省' });
    writeFileSync(join(dir, 'trust-list.json'), JSON.stringify(buildTrustList([issuer])));
    code = await issuer.sign(
      issuer.residentClaims({ iat: FIXED_IAT, health: { statusIndex: 1_234_567, ruleVersion: 42 } }),
    );
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('when a resident code is rendered to PNG', () => {
    let file: string;

    before(async () => {
      file = join(dir, 'resident.png');
      writeFileSync(file, await renderQrPng(code));
    });

    it('decodes back to exactly the same text with jsQR', () => {
      expect(jsqrDecode(readFileSync(file))).to.equal(code);
    });

    it('decodes back to exactly the same text with zbarimg', async function () {
      expect(existsSync(ZBARIMG), `${ZBARIMG} is missing: apt-get install zbar-tools`).to.equal(true);
      expect(await zbarimg(file)).to.equal(code);
    });

    it('is one alphanumeric segment of QR version 10 or less at level M', () => {
      const qr = QRCode.create([{ data: code, mode: 'alphanumeric' }], { errorCorrectionLevel: 'M' });
      expect(qr.version).to.be.at.most(10);
      expect(createQr(code).version).to.equal(qr.version);
      expect(qr.segments.map((s) => s.mode.id)).to.deep.equal(['Alphanumeric']);
    });

    it('is at most 270 characters', () => {
      expect(code.length).to.be.at.most(270);
    });
  });

  describe('when the resident claims are at their realistic largest', () => {
    it('still fits version 10 at level M in 270 characters', async () => {
      const claims = issuer.residentClaims({
        iat: FIXED_IAT,
        exp: FIXED_IAT + 7 * 24 * 3600,
        health: {
          statusIndex: (1 << 26) - 1,
          ruleVersion: 65_535,
          maskedName: '欧阳*华',
          idLast4: '000X',
          mode: 'printed',
          colour: 'yellow',
        },
      });
      const text = await issuer.sign(claims);
      expect(text.length).to.be.at.most(270);
      expect(createQr(text).version).to.be.at.most(10);
      expect(jsqrDecode(await renderQrPng(text))).to.equal(text);
    });
  });

  describe('when rendered through the CLI', () => {
    it('writes a PNG that `ankang-verify code` verifies', async () => {
      const made = await runCli(['qr', code, '--out', 'cli.png'], dir);
      expect(made.status, made.stderr).to.equal(0);
      expect(await zbarimg(join(dir, 'cli.png'))).to.equal(code);
      const checked = await runCli(
        ['code', 'cli.png', '--trust-list', 'trust-list.json', '--now', '2026-11-28T10:40:00Z'],
        dir,
      );
      expect(checked.status, checked.stderr).to.equal(0);
      expect(checked.stdout).to.match(/^valid: green code from 安徽省 \(340000\)/);
    });

    it('writes an SVG for --out code.svg', async () => {
      const made = await runCli(['qr', code, '--out', 'code.svg'], dir);
      expect(made.status, made.stderr).to.equal(0);
      const svg = readFileSync(join(dir, 'code.svg'), 'utf8');
      expect(svg).to.match(/^<svg[\s>]/);
      expect(svg).to.equal(await renderQrSvg(code));
    });

    it('renders a venue code too', async () => {
      const venue = await issuer.sign(issuer.venueClaims({ iat: FIXED_IAT }));
      const made = await runCli(['qr', venue, '--out', 'venue.png'], dir);
      expect(made.status, made.stderr).to.equal(0);
      expect(await zbarimg(join(dir, 'venue.png'))).to.equal(venue);
    });
  });

  describe('when the text is not an AK1 code', () => {
    for (const text of ['HELLO WORLD', 'AK1:NOT-BASE45', 'https://example.com/']) {
      it(`refuses ${JSON.stringify(text)} with exit status 2 and writes nothing`, async () => {
        const r = await runCli(['qr', text, '--out', 'refused.png'], dir);
        expect(r.status).to.equal(2);
        expect(existsSync(join(dir, 'refused.png'))).to.equal(false);
      });
    }
  });

  describe('when --out is missing or names another format', () => {
    it('exits 2 without --out', async () => {
      expect((await runCli(['qr', code], dir)).status).to.equal(2);
    });

    it('exits 2 for --out code.jpg', async () => {
      expect((await runCli(['qr', code, '--out', 'code.jpg'], dir)).status).to.equal(2);
    });
  });
});
