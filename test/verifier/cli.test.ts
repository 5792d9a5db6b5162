import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import {
  chainKeyListedUntil,
  decodeCode,
  encodeCode,
  toRfc3339,
  trustListFromRegistry,
  verifyCode,
  type TrustListJson,
} from '../../verifier/src';
import { connectRegistry as readRegistry } from '../../verifier/src/registry-reader';
import { renderQrPng } from '../../verifier/src/qr';
import { FIXED_IAT, buildTrustList, createTestIssuer, type TestIssuer } from '../support/issuer-fixture';
import { startKeyScenario, type KeyScenario } from '../support/key-scenario';

const MAIN = resolve(__dirname, '../../verifier/cli/main.ts');
// tsx's ESM loader by absolute URL, so the CLI can run with a temp dir as its working directory.
const TSX = pathToFileURL(require.resolve('tsx')).href;

interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], cwd: string, stdin?: string): Promise<CliRun> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', TSX, MAIN, ...args], { cwd, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', fail);
    child.on('close', (status) => done({ status, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

// 10 minutes after FIXED_IAT (2026-11-28T10:30:00Z); codes expire at 11:30Z, 19:30 in Shanghai.
const NOW = '2026-11-28T10:40:00Z';

describe('ankang-verify', () => {
  let dir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ankang-cli-'));
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('when run with --help', () => {
    it('prints the usage listing every subcommand and exits 0', async () => {
      const r = await runCli(['--help'], dir);
      expect(r.status).to.equal(0);
      expect(r.stdout)
        .to.match(/^ {2}ankang-verify code /m)
        .and.match(/^ {2}ankang-verify qr /m);
      expect(r.stdout).to.include('Exit status: 0 valid, 1 invalid, 2 usage error');
    });
  });

  describe('when run without arguments', () => {
    it('prints the usage on stderr and exits 2', async () => {
      const r = await runCli([], dir);
      expect(r.status).to.equal(2);
      expect(r.stdout).to.equal('');
      expect(r.stderr).to.include('Usage:');
    });
  });

  describe('when the subcommand is unknown', () => {
    it('exits 2 naming it', async () => {
      const r = await runCli(['prove-everything'], dir);
      expect(r.status).to.equal(2);
      expect(r.stderr).to.include('unknown command "prove-everything"');
    });
  });
});

describe('ankang-verify code', () => {
  let dir: string;
  let issuer: TestIssuer;
  let green: string;

  const trustArgs = () => ['--trust-list', 'trust-list.json', '--now', NOW];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ankang-cli-'));
    issuer = createTestIssuer({ id: '340000', name: '安徽省' });
    writeFileSync(join(dir, 'trust-list.json'), JSON.stringify(buildTrustList([issuer])));
    green = await issuer.sign(issuer.residentClaims({ iat: FIXED_IAT, health: { statusIndex: 5 } }));
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('when the code is valid', () => {
    it('exits 0 and says in one line the colour, issuer and expiry in Shanghai time, that revocation was not checked, then how old the trust list is', async () => {
      const r = await runCli(['code', green, ...trustArgs()], dir);
      expect(r.stderr).to.equal('');
      expect(r.status).to.equal(0);
      const [verdict, unchecked, ages, ...rest] = r.stdout.split('\n');
      expect(verdict).to.equal('valid: green code from 安徽省 (340000), expires 2026-11-28 19:30:00 +08:00');
      expect(unchecked).to.match(/^  revocation not checked: no status list given \(/);
      expect(ages).to.match(/^  \(trust list issued \d+ (s|min|h|days) ago\)$/);
      expect(rest).to.deep.equal(['']);
    });

    it('prints exactly valid, code, message, claims and revocation with --json, revocation saying no status list was checked', async () => {
      const r = await runCli(['code', green, ...trustArgs(), '--json'], dir);
      expect(r.status).to.equal(0);
      const out = JSON.parse(r.stdout);
      expect(Object.keys(out)).to.deep.equal(['valid', 'code', 'message', 'claims', 'revocation']);
      expect(out).to.include({ valid: true, code: 'VALID' });
      expect(out.claims).to.deep.equal(decodeCode(green).claims);
      expect(out.revocation).to.deep.equal({ checked: false, reason: 'no status list given' });
    });

    it('reads the code from a .txt file', async () => {
      writeFileSync(join(dir, 'code.txt'), `${green}\n`);
      const r = await runCli(['code', 'code.txt', ...trustArgs()], dir);
      expect(r.status).to.equal(0);
      expect(r.stdout).to.match(/^valid: green code/);
    });

    it('reads the code from stdin for -', async () => {
      const r = await runCli(['code', '-', ...trustArgs()], dir, `${green}\n`);
      expect(r.status).to.equal(0);
      expect(r.stdout).to.match(/^valid: green code/);
    });
  });

  describe('when the code has expired', () => {
    it('exits 1 with EXPIRED and says when it expired', async () => {
      const r = await runCli(['code', green, '--trust-list', 'trust-list.json', '--now', '2026-11-28T12:00:00Z'], dir);
      expect(r.status).to.equal(1);
      expect(r.stdout.split('\n')[0]).to.equal(
        'invalid (EXPIRED): the code has expired; green code from 安徽省 (340000), expired 2026-11-28 19:30:00 +08:00',
      );
    });

    it('reports code EXPIRED with --json', async () => {
      const r = await runCli(
        ['code', green, '--trust-list', 'trust-list.json', '--now', '2026-11-28T12:00:00Z', '--json'],
        dir,
      );
      expect(r.status).to.equal(1);
      expect(JSON.parse(r.stdout)).to.include({ valid: false, code: 'EXPIRED' });
    });
  });

  describe('when the code was tampered with', () => {
    let tampered: string;

    before(async () => {
      // A red code re-encoded as green under the red code's signature.
      const red = decodeCode(await issuer.sign(issuer.residentClaims({ iat: FIXED_IAT, health: { colour: 'red' } })));
      if (red.claims.kind !== 'resident') throw new Error('expected a resident code');
      const claims = { ...red.claims, health: { ...red.claims.health, colour: 'green' as const } };
      tampered = encodeCode({ kid: red.kid, claims, signature: red.signature });
    });

    it('exits 1 with SIGNATURE_INVALID and shows no claims', async () => {
      const r = await runCli(['code', tampered, ...trustArgs(), '--json'], dir);
      expect(r.status).to.equal(1);
      const out = JSON.parse(r.stdout);
      expect(out).to.deep.equal({
        valid: false,
        code: 'SIGNATURE_INVALID',
        message: out.message,
        claims: null,
        revocation: null,
      });
    });

    it('does not print the unverified colour in the human line', async () => {
      const r = await runCli(['code', tampered, ...trustArgs()], dir);
      expect(r.status).to.equal(1);
      expect(r.stdout)
        .to.match(/^invalid \(SIGNATURE_INVALID\): /)
        .and.not.include('green');
    });
  });

  describe('when a current status list confirms the colour', () => {
    it('exits 0 without the "not checked" line, and --json says revocation was checked against a list of that age', async () => {
      writeFileSync(
        join(dir, 'current.cose'),
        await issuer.signStatusList({ issuedAt: FIXED_IAT + 300, statuses: [0, 0, 0, 0, 0, 0] }),
      );
      const text = await runCli(['code', green, ...trustArgs(), '--status-list', 'current.cose'], dir);
      expect(text.status).to.equal(0);
      expect(text.stdout).to.not.include('revocation not checked');
      expect(text.stdout.split('\n')[1]).to.match(/status list issued 5 min ago/);
      const json = JSON.parse(
        (await runCli(['code', green, ...trustArgs(), '--status-list', 'current.cose', '--json'], dir)).stdout,
      );
      expect(json.revocation).to.deep.equal({ checked: true, statusListAgeSeconds: 300 });
    });
  });

  describe('when the only status list given is of another issuer', () => {
    it('exits 0 but says revocation was not checked, naming the issuer whose list is missing', async () => {
      const other = createTestIssuer({ id: '310000', name: '上海市' });
      writeFileSync(join(dir, 'trust-two.json'), JSON.stringify(buildTrustList([issuer, other])));
      writeFileSync(
        join(dir, 'shanghai.cose'),
        await other.signStatusList({ issuedAt: FIXED_IAT + 300, statuses: [3, 3, 3, 3, 3, 3] }),
      );
      const args = ['code', green, '--trust-list', 'trust-two.json', '--now', NOW, '--status-list', 'shanghai.cose'];
      const text = await runCli(args, dir);
      expect(text.status).to.equal(0);
      expect(text.stdout.split('\n')[1]).to.match(
        /^  revocation not checked: no valid status list of issuer 340000 given/,
      );
      expect(JSON.parse((await runCli([...args, '--json'], dir)).stdout).revocation).to.deep.equal({
        checked: false,
        reason: 'no valid status list of issuer 340000 given',
      });
    });
  });

  describe('when a status list suspends the code', () => {
    it('exits 1 with REVOKED', async () => {
      const list = await issuer.signStatusList({ issuedAt: FIXED_IAT + 300, statuses: [0, 0, 0, 0, 0, 3] });
      writeFileSync(join(dir, 'status.cose'), list);
      const r = await runCli(['code', green, ...trustArgs(), '--status-list', 'status.cose', '--json'], dir);
      expect(r.status).to.equal(1);
      expect(JSON.parse(r.stdout)).to.include({ valid: false, code: 'REVOKED' });
    });
  });

  describe('when the status lists are given twice and the newest says another colour', () => {
    it('exits 1 with REVOKED naming the new colour', async () => {
      const old = await issuer.signStatusList({ issuedAt: FIXED_IAT + 60, statuses: [0, 0, 0, 0, 0, 0] });
      const now = await issuer.signStatusList({ issuedAt: FIXED_IAT + 300, statuses: [0, 0, 0, 0, 0, 2] });
      writeFileSync(join(dir, 'old.cose'), old);
      writeFileSync(join(dir, 'new.cose'), now);
      const r = await runCli(
        ['code', green, ...trustArgs(), '--status-list', 'old.cose', '--status-list', 'new.cose'],
        dir,
      );
      expect(r.status).to.equal(1);
      expect(r.stdout).to.match(/^invalid \(REVOKED\): the colour is now red/);
    });
  });

  describe('when a status list file does not verify', () => {
    it('warns on stderr and judges the code without it', async () => {
      const list = await createTestIssuer({ id: '340000' }).signStatusList({
        issuedAt: FIXED_IAT + 300,
        statuses: [3, 3, 3, 3, 3, 3],
      });
      writeFileSync(join(dir, 'forged.cose'), list);
      const r = await runCli(['code', green, ...trustArgs(), '--status-list', 'forged.cose'], dir);
      expect(r.status).to.equal(0);
      expect(r.stderr).to.include('warning: status list forged.cose ignored (UNKNOWN_KEY)');
    });
  });

  describe('when the code is a venue code', () => {
    it('exits 0 and names the venue', async () => {
      const venue = await issuer.sign(
        issuer.venueClaims({ iat: FIXED_IAT, venue: { name: '合肥市第一中学', type: 'school' } }),
      );
      const r = await runCli(['code', venue, ...trustArgs()], dir);
      expect(r.status).to.equal(0);
      expect(r.stdout.split('\n')[0]).to.equal(
        'valid: venue code 合肥市第一中学 (school) from 安徽省 (340000), expires 2026-11-28 19:30:00 +08:00',
      );
      // Venue codes have no status to revoke: nothing to warn about.
      expect(r.stdout).to.not.include('revocation');
      const json = JSON.parse((await runCli(['code', venue, ...trustArgs(), '--json'], dir)).stdout);
      expect(json.revocation).to.equal(null);
    });
  });

  describe('when the code is a JPEG of its QR code, as a phone saves it', () => {
    let photo: Buffer;

    before(async () => {
      const png = PNG.sync.read(Buffer.from(await renderQrPng(green)));
      photo = jpeg.encode({ width: png.width, height: png.height, data: png.data }, 90).data;
    });

    it('reads it from a .jpg file and exits 0', async () => {
      writeFileSync(join(dir, 'code.jpg'), photo);
      const r = await runCli(['code', 'code.jpg', ...trustArgs()], dir);
      expect(r.stderr).to.equal('');
      expect(r.status).to.equal(0);
      expect(r.stdout).to.match(/^valid: green code from 安徽省 \(340000\)/);
    });

    it('knows it by its bytes, whatever the file is called, and from stdin', async () => {
      writeFileSync(join(dir, 'IMG_0001.png'), photo);
      writeFileSync(join(dir, 'photo'), photo);
      for (const name of ['IMG_0001.png', 'photo']) {
        const r = await runCli(['code', name, ...trustArgs(), '--json'], dir);
        expect(r.status, r.stderr).to.equal(0);
        expect(JSON.parse(r.stdout).claims).to.deep.equal(decodeCode(green).claims);
      }
      const piped = await new Promise<CliRun>((done, fail) => {
        const child = spawn(process.execPath, ['--import', TSX, MAIN, 'code', '-', ...trustArgs()], {
          cwd: dir,
          stdio: 'pipe',
        });
        let stdout = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        child.on('error', fail);
        child.on('close', (status) => done({ status, stdout, stderr: '' }));
        child.stdin.end(photo);
      });
      expect(piped.status).to.equal(0);
      expect(piped.stdout).to.match(/^valid: green code/);
    });

    it('exits 2 for a truncated JPEG, saying it is not a readable JPEG', async () => {
      writeFileSync(join(dir, 'cut.jpg'), photo.subarray(0, 200));
      const r = await runCli(['code', 'cut.jpg', ...trustArgs()], dir);
      expect(r.status).to.equal(2);
      expect(r.stdout).to.equal('');
      expect(r.stderr).to.include('cut.jpg is not a readable JPEG image');
    });

    it('exits 2 for a JPEG without a QR code', async () => {
      const blank = jpeg.encode({ width: 64, height: 64, data: Buffer.alloc(64 * 64 * 4, 255) }, 90).data;
      writeFileSync(join(dir, 'blank.jpg'), blank);
      const r = await runCli(['code', 'blank.jpg', ...trustArgs()], dir);
      expect(r.status).to.equal(2);
      expect(r.stderr).to.include('no QR code found in blank.jpg');
    });
  });

  describe('when the issuer is not in the trust list', () => {
    it('exits 1 with UNKNOWN_ISSUER', async () => {
      const other = createTestIssuer({ id: '310000', name: '上海市' });
      const code = await other.sign(other.residentClaims({ iat: FIXED_IAT }));
      const r = await runCli(['code', code, ...trustArgs(), '--json'], dir);
      expect(r.status).to.equal(1);
      expect(JSON.parse(r.stdout)).to.include({ code: 'UNKNOWN_ISSUER', claims: null });
    });
  });

  describe('when a .txt file holds text that is not a code', () => {
    it('exits 1 with MALFORMED', async () => {
      writeFileSync(join(dir, 'junk.txt'), 'hello\n');
      const r = await runCli(['code', 'junk.txt', ...trustArgs(), '--json'], dir);
      expect(r.status).to.equal(1);
      expect(JSON.parse(r.stdout)).to.include({ code: 'MALFORMED' });
    });
  });

  describe('when the input cannot be read', () => {
    it('exits 2 for a file that does not exist', async () => {
      const r = await runCli(['code', 'missing.png', ...trustArgs()], dir);
      expect(r.status).to.equal(2);
      expect(r.stdout).to.equal('');
      expect(r.stderr).to.include('missing.png');
    });

    it('exits 2 for a .png file that is not a PNG', async () => {
      writeFileSync(join(dir, 'fake.png'), 'not an image');
      const r = await runCli(['code', 'fake.png', ...trustArgs()], dir);
      expect(r.status).to.equal(2);
    });

    it('exits 2 for an image in a format it does not read, naming the format and the ones it reads', async () => {
      writeFileSync(join(dir, 'code.gif'), Buffer.concat([Buffer.from('GIF89a'), Buffer.alloc(32)]));
      const r = await runCli(['code', 'code.gif', ...trustArgs()], dir);
      expect(r.status).to.equal(2);
      expect(r.stdout).to.equal('');
      expect(r.stderr).to.include('code.gif is a GIF image; only PNG and JPEG are read');
    });

    it('exits 2 for a .jpg file that is not an image', async () => {
      writeFileSync(join(dir, 'fake.jpg'), 'not an image');
      const r = await runCli(['code', 'fake.jpg', ...trustArgs()], dir);
      expect(r.status).to.equal(2);
      expect(r.stderr).to.include('fake.jpg is not a PNG or JPEG image');
    });

    it('exits 2 for a truncated PNG', async () => {
      writeFileSync(join(dir, 'broken.png'), Buffer.from('89504e470d0a1a0a0000000d4948', 'hex'));
      const r = await runCli(['code', 'broken.png', ...trustArgs()], dir);
      expect(r.status).to.equal(2);
      expect(r.stderr).to.include('not a readable PNG');
    });

    it('exits 2 for a PNG without a QR code', async () => {
      const blank = new PNG({ width: 64, height: 64 });
      blank.data.fill(255);
      writeFileSync(join(dir, 'blank.png'), PNG.sync.write(blank));
      const r = await runCli(['code', 'blank.png', ...trustArgs()], dir);
      expect(r.status).to.equal(2);
      expect(r.stderr).to.include('no QR code found in blank.png');
    });

    it('exits 2 for a trust list that is not JSON', async () => {
      writeFileSync(join(dir, 'bad.json'), '{"format": ');
      const r = await runCli(['code', green, '--trust-list', 'bad.json'], dir);
      expect(r.status).to.equal(2);
      expect(r.stderr).to.include('trust list bad.json is not JSON');
    });

    it('exits 2 for JSON that is not a trust list', async () => {
      writeFileSync(join(dir, 'wrong.json'), JSON.stringify({ format: 'something-else' }));
      const r = await runCli(['code', green, '--trust-list', 'wrong.json'], dir);
      expect(r.status).to.equal(2);
      expect(r.stderr).to.include('trust list wrong.json is not usable');
    });

    it('exits 2 for a status list file that does not exist', async () => {
      const r = await runCli(['code', green, ...trustArgs(), '--status-list', 'nowhere.cose'], dir);
      expect(r.status).to.equal(2);
    });
  });

  describe('when the command line is incomplete or wrong', () => {
    it('exits 2 without --trust-list', async () => {
      const r = await runCli(['code', green], dir);
      expect(r.status).to.equal(2);
      expect(r.stderr).to.include('--trust-list <file> is required').and.include('ankang-verify code --help');
    });

    it('exits 2 for an unknown option', async () => {
      const r = await runCli(['code', green, ...trustArgs(), '--colour-blind'], dir);
      expect(r.status).to.equal(2);
    });

    it('exits 2 for a --now that is not RFC 3339', async () => {
      const r = await runCli(['code', green, '--trust-list', 'trust-list.json', '--now', 'yesterday'], dir);
      expect(r.status).to.equal(2);
    });

    it('prints its own usage for --help and exits 0', async () => {
      const r = await runCli(['code', '--help'], dir);
      expect(r.status).to.equal(0);
      expect(r.stdout).to.match(/^Usage: ankang-verify code /);
    });
  });
});

describe('ankang-verify code, with the trust list of a service that rotated a key and had another revoked on chain', function () {
  this.timeout(180_000);
  let dir: string;
  let sc: KeyScenario;

  /** Saves the service's trust and status lists as files now, and verifies `code` with them as of the service's clock. */
  async function verifyNow(
    code: string,
    name: string,
  ): Promise<{ json: { valid: boolean; code: string; message: string }; line: string; status: number | null }> {
    writeFileSync(join(dir, `${name}.trust.json`), JSON.stringify(await sc.trustList()));
    writeFileSync(join(dir, `${name}.status.cose`), await sc.statusList());
    const args = [
      'code',
      code,
      '--trust-list',
      `${name}.trust.json`,
      '--status-list',
      `${name}.status.cose`,
      '--now',
      sc.svc.clock
        .now()
        .toISOString()
        .replace(/\.\d{3}Z$/, 'Z'),
    ];
    const [json, text] = await Promise.all([runCli([...args, '--json'], dir), runCli(args, dir)]);
    expect(json.stderr).to.equal('');
    expect(text.status).to.equal(json.status);
    return { json: JSON.parse(json.stdout), line: text.stdout.split('\n')[0], status: json.status };
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ankang-cli-keys-'));
    sc = await startKeyScenario();
  });
  after(async () => {
    await sc?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a code of the revoked key dated before the revocation: exit 1, KEY_REVOKED naming when', async () => {
    const r = await verifyNow(sc.forged.revokedPrinted, 'revoked');
    expect(r.status).to.equal(1);
    expect(r.json).to.include({ valid: false, code: 'KEY_REVOKED' });
    expect(r.line).to.match(new RegExp(`^invalid \\(KEY_REVOKED\\): key ${sc.b.kid} of issuer 340000 was revoked at `));
    expect((await verifyNow(sc.forged.revoked2036, 'revoked')).json.code).to.equal('KEY_REVOKED');
  });

  it('refuses codes over their lifetime cap: exit 1, LIFETIME_TOO_LONG', async () => {
    for (const code of [
      sc.forged.overCapDynamic,
      sc.forged.overCapPrinted,
      sc.forged.overCapVenue,
      sc.forged.retired2036,
    ]) {
      const r = await verifyNow(code, 'cap');
      expect(r.status).to.equal(1);
      expect(r.json.code, r.json.message).to.equal('LIFETIME_TOO_LONG');
    }
    const r = await verifyNow(sc.forged.overCapDynamic, 'cap');
    expect(r.line).to.match(
      /^invalid \(LIFETIME_TOO_LONG\): the code lives 3601 s; a dynamic code may live at most 3600 s; green code from 安徽省 \(340000\)/,
    );
  });

  it('refuses codes of the retired key once its last code has expired: exit 1, UNKNOWN_KEY', async () => {
    sc.passRetirementWindow();
    for (const code of [sc.forged.retiredPrinted, sc.forged.retired2036, sc.forged.retiredVenue]) {
      const r = await verifyNow(code, 'retired');
      expect(r.status).to.equal(1);
      expect(r.json.code, r.json.message).to.equal('UNKNOWN_KEY');
    }
    // The key, not the code, is what ran out: the printed code has days left.
    expect(decodeCode(sc.forged.retiredPrinted).claims.exp * 1000).to.be.greaterThan(sc.svc.clock.now().getTime());
  });

  it('still accepts a code of the key signing now, with the same files', async () => {
    const current = (await sc.svc.call('GET', '/v1/residents/me/code?mode=printed', { token: sc.resident.token })).body
      .code as string;
    const r = await verifyNow(current, 'current');
    expect(r.json, r.json.message).to.include({ valid: true, code: 'VALID' });
    expect(r.status).to.equal(0);
  });
});

describe("ankang-verify with a trust list synced from the chain after the issuer rotated its key (another province's view)", function () {
  this.timeout(180_000);
  let dir: string;
  let sc: KeyScenario;
  let sync: CliRun;
  const rfc3339 = (seconds: number) => new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

  /** Verifies `code` with the files `trust sync` wrote, as of `now` (Unix seconds). */
  async function verifyAt(
    code: string,
    now: number,
  ): Promise<{ json: { valid: boolean; code: string; message: string }; status: number | null }> {
    const r = await runCli(
      [
        'code',
        code,
        '--trust-list',
        'chain/trust.json',
        '--status-list',
        'chain/status-340000.cose',
        '--now',
        rfc3339(now),
        '--json',
      ],
      dir,
    );
    expect(r.stderr).to.equal('');
    return { json: JSON.parse(r.stdout), status: r.status };
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ankang-cli-chain-'));
    // startKeyScenario rotates A → B and waits for the anchorer's round to retire A on chain.
    sc = await startKeyScenario();
    sync = await runCli(
      ['trust', 'sync', '--rpc', sc.node.url, '--contract', sc.registry.address, '--out', 'chain/trust.json'],
      dir,
    );
  });
  after(async () => {
    await sc?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('holds the retired key with its retirement as notAfter, not the two years it was registered with', () => {
    expect(sync.status, sync.stdout + sync.stderr).to.equal(0);
    const list = JSON.parse(readFileSync(join(dir, 'chain/trust.json'), 'utf8')) as TrustListJson;
    const anhui = list.issuers.find((i) => i.id === '340000')!;
    expect(anhui.keys.find((k) => k.kid === sc.a.kid)).to.include({ notAfter: toRfc3339(sc.retiredAt) });
    expect(anhui.revokedKeys!.map((k) => k.kid)).to.deep.equal([sc.b.kid]);
  });

  it('refuses a code forged with the retired key dated after the retirement: exit 1, KEY_NOT_VALID', async () => {
    expect(decodeCode(sc.forged.retiredAfter).claims.iat).to.be.greaterThan(sc.retiredAt);
    const r = await verifyAt(sc.forged.retiredAfter, Math.floor(sc.svc.clock.now().getTime() / 1000));
    expect(r.json.code, r.json.message).to.equal('KEY_NOT_VALID');
    expect(r.status).to.equal(1);
  });

  it('accepts a code of the retired key dated before the retirement until it expires', async () => {
    const now = Math.floor(sc.svc.clock.now().getTime() / 1000);
    const r = await verifyAt(sc.forged.retiredPrinted, now);
    expect(r.json, r.json.message).to.include({ valid: true, code: 'VALID' });
    const { exp } = decodeCode(sc.forged.retiredPrinted).claims;
    expect((await verifyAt(sc.forged.retiredPrinted, exp + 61)).json.code).to.equal('EXPIRED');
  });

  it('drops the retired key from a list built from the chain once the longest code it could sign has expired: UNKNOWN_KEY', async () => {
    const chain = await readRegistry(sc.node.url, sc.registry.address);
    const issuers = await chain.readIssuers().finally(() => chain.close());
    const until = chainKeyListedUntil(sc.retiredAt);
    expect(until).to.equal(sc.retiredAt + 366 * 86_400 + 60);
    const kids = (now: number) =>
      trustListFromRegistry(issuers, now)
        .issuers.find((i) => i.id === '340000')!
        .keys.map((k) => k.kid);
    expect(kids(until)).to.include(sc.a.kid);
    expect(kids(until + 1)).to.deep.equal([sc.c.kid]);
    const r = await verifyCode(sc.forged.retiredVenue, {
      trustList: trustListFromRegistry(issuers, until + 1),
      now: (until + 1) * 1000,
    });
    expect(r.code, r.message).to.equal('UNKNOWN_KEY');
  });
});
