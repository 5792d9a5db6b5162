import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const VERIFIER = resolve(__dirname, '../../verifier');

/** The verifier package as another province gets it: packed with `npm pack`, installed into an empty project. */
export interface InstalledVerifier {
  /** The temp folder holding the tarball and the project; removed when the test process exits. */
  dir: string;
  /** What `npm pack --json` reported for the tarball. */
  packed: { filename: string; files: Array<{ path: string }> };
  /** The project the tarball is installed into (its own package.json and node_modules). */
  project: string;
  /** `<project>/node_modules/.bin/ankang-verify`. */
  bin: string;
}

export interface CommandRun {
  /** The exit status; -1 when the command could not be run or ended by a signal. */
  status: number;
  stdout: string;
  stderr: string;
}

// npm passes npm_config_* to whatever runs under `npm test`; an inherited prefix or
// workspace setting would point the inner npm back at this repository.
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
}

/** Runs a command outside the repository's npm environment and collects its output. */
export function runCommand(file: string, args: string[], cwd: string): Promise<CommandRun> {
  return new Promise((done) => {
    execFile(file, args, { cwd, env: cleanEnv(), maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const status = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      done({ status, stdout, stderr });
    });
  });
}

async function packAndInstall(): Promise<InstalledVerifier> {
  const dir = mkdtempSync(join(tmpdir(), 'ankang-pack-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  // `npm pack` runs the package's prepack build, so the tarball holds a fresh dist/.
  const pack = await runCommand('npm', ['pack', '--json', '--pack-destination', dir], VERIFIER);
  if (pack.status !== 0) throw new Error(`npm pack in ${VERIFIER} exited ${pack.status}:\n${pack.stderr}`);
  const [packed] = JSON.parse(pack.stdout) as InstalledVerifier['packed'][];

  const project = join(dir, 'project');
  mkdirSync(project);
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'province-gate', version: '1.0.0', private: true }),
  );
  const install = await runCommand(
    'npm',
    ['install', join(dir, packed.filename), '--offline', '--no-audit', '--no-fund'],
    project,
  );
  if (install.status !== 0)
    throw new Error(`npm install of ${packed.filename} exited ${install.status}:\n${install.stderr}`);
  return { dir, packed, project, bin: join(project, 'node_modules/.bin/ankang-verify') };
}

let installing: Promise<InstalledVerifier> | undefined;

/**
 * Packs `verifier/` and installs the tarball into an empty temp project, once per test
 * process: every test file that runs the installed `ankang-verify` shares that install.
 * Tests may add files to the project, but must not install anything else into it.
 * @throws Error when `npm pack` or `npm install` fails, with npm's output
 * @example
 * const { bin, project } = await installedVerifier();
 * const r = await runCommand(bin, ['proof', 'bundle.json', '--rpc', url, '--contract', address], project);
 */
export function installedVerifier(): Promise<InstalledVerifier> {
  return (installing ??= packAndInstall());
}
