import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const ROOT = join(__dirname, '../..');

export interface ServiceProcess {
  url: string;
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after 10 s; resolves once the process is gone. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

/** Settings a child must not inherit from the parent's environment. */
const INHERITED = ['CHAIN_RPC_URL', 'CHAIN_DEV', 'ANCHOR_CONTRACT', 'ADMIN_TOKEN', 'ANKANG_PSEUDONYM_KEY', 'ANKANG_ENCRYPTION_KEY', 'ANKANG_SIGNING_KEY', 'PUBLIC_URL', 'DATA_DIR', 'SECRETS_DIR', 'PORT'];

/**
 * Starts a TypeScript entry point (by default the service, `server/main.ts`) as its own
 * process under tsx and resolves once it prints its `{"msg":"listening","url":…}` line.
 * Used where a real separate process matters: crash tests, benchmarks, federation.
 */
export function startServiceProcess(env: Record<string, string>, entry = join(ROOT, 'server/main.ts'), timeoutMs = 60_000): Promise<ServiceProcess> {
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const k of INHERITED) delete base[k];
  const child = spawn(process.execPath, ['--import', 'tsx', entry], { cwd: ROOT, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      done({ code, signal });
    }),
  );
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`${entry} did not start within ${timeoutMs / 1000} s: ${stderr}`));
    }, timeoutMs);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${entry} exited (${code ?? signal}) before listening: ${stderr}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const msg = JSON.parse(line) as { msg?: string; url?: string };
        if (msg.msg === 'listening' && msg.url) {
          clearTimeout(timer);
          resolve({ url: msg.url, child, exited, stop });
        }
      } catch {
        // Not the line we wait for.
      }
    });
  });
}
