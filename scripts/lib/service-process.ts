import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const ROOT = join(__dirname, '../..');

export type Exit = { code: number | null; signal: NodeJS.Signals | null };

export interface ServiceProcess {
  url: string;
  child: ChildProcess;
  exited: Promise<Exit>;
  /** The process's last 1,000 stdout lines. */
  lines: string[];
  /** Under WORKERS (server/cluster/), the pids its listening line names; otherwise none and undefined. */
  workers: number[];
  writer: number | undefined;
  /** SIGTERM (or the signal given), then SIGKILL after 10 s; resolves with how it exited. */
  stop(signal?: NodeJS.Signals): Promise<Exit>;
}

export interface ProcessOptions {
  /** The `msg` of the JSON line that says it is up, with its `url` (default `listening`). */
  ready?: string;
  /** Settings the child must not inherit from the parent (default: the service's). */
  strip?: readonly string[];
  /** What to call it in errors. */
  name?: string;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

/** Settings a child must not inherit from the parent's environment. */
const INHERITED = [
  'CHAIN_RPC_URL',
  'CHAIN_DEV',
  'ANCHOR_CONTRACT',
  'ADMIN_TOKEN',
  'ANKANG_PSEUDONYM_KEY',
  'ANKANG_ENCRYPTION_KEY',
  'ANKANG_SIGNING_KEY',
  'PUBLIC_URL',
  'DATA_DIR',
  'SECRETS_DIR',
  'PORT',
];

/**
 * Starts a TypeScript entry point (by default the service, `server/main.ts`) as its own
 * process under tsx and resolves once it prints its `{"msg":"listening","url":…}` line (or
 * the `ready` message given). Used where a real separate process matters: crash tests,
 * benchmarks, federation, the stand-in payment provider.
 */
export function startServiceProcess(
  env: Record<string, string>,
  entry = join(ROOT, 'server/main.ts'),
  timeoutMs = 60_000,
  opts: ProcessOptions = {},
): Promise<ServiceProcess> {
  const ready = opts.ready ?? 'listening';
  const name = opts.name ?? entry;
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const k of opts.strip ?? INHERITED) delete base[k];
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: ROOT,
    // One process unless `env` says otherwise: `WORKERS` defaults to the cores, and a test or a
    // bench that wants workers asks for them.
    env: { ...base, WORKERS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const lines: string[] = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<Exit>((done) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      done({ code, signal });
    }),
  );
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    return exited;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`${name} did not start within ${timeoutMs / 1000} s: ${stderr}`));
    }, timeoutMs);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}) before it was ready: ${stderr}`));
    });
    // Read every line, so a chatty child never blocks on a full pipe.
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      if (lines.length > 1000) lines.shift();
      try {
        const msg = JSON.parse(line) as { msg?: string; url?: string; workers?: number[]; writer?: number };
        if (msg.msg === ready && msg.url) {
          clearTimeout(timer);
          resolve({ url: msg.url, child, exited, lines, stop, workers: msg.workers ?? [], writer: msg.writer });
        }
      } catch {
        // Not the line we wait for.
      }
    });
  });
}
