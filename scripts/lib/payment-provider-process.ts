import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const ROOT = join(__dirname, '../..');
const ENTRY = join(ROOT, 'scripts/payment-provider.ts');

/** Settings of the stand-in provider (scripts/payment-provider.ts); ANKANG_URL and OPERATOR_KEYS are required. */
export interface PaymentProviderEnv {
  ANKANG_URL: string;
  OPERATOR_KEYS: string;
  ANKANG_FEED_TOKEN?: string;
  PROVIDER_ID?: string;
  ISSUER_ID?: string;
  DATA_FILE?: string;
  PORT?: string;
  TRUST_LIST_MIN_REFRESH_SECONDS?: string;
  TRUST_LIST_MAX_AGE_SECONDS?: string;
}

export interface PaymentProviderProcess {
  url: string;
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The process's last 1,000 stdout lines (its ready line and one line per answer: paths and codes, no bodies). */
  lines: string[];
  /** SIGTERM (or the signal given), then SIGKILL after 10 s; resolves with how it exited. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

/** Settings of the parent's environment the provider must not inherit. */
const INHERITED = ['PORT', 'HOST', 'ANKANG_URL', 'ANKANG_FEED_TOKEN', 'PROVIDER_ID', 'OPERATOR_KEYS', 'ISSUER_ID', 'DATA_FILE', 'TRUST_LIST_MIN_REFRESH_SECONDS', 'TRUST_LIST_MAX_AGE_SECONDS'];

/**
 * Starts the stand-in payment provider as its own process (`node --import tsx
 * scripts/payment-provider.ts`, PORT=0 unless given) and resolves once it prints its ready
 * line. For the tests and the demo.
 */
export function startPaymentProvider(env: PaymentProviderEnv, timeoutMs = 60_000): Promise<PaymentProviderProcess> {
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const k of INHERITED) delete base[k];
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY], { cwd: ROOT, env: { ...base, PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  const lines: string[] = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
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
      reject(new Error(`the payment provider did not start within ${timeoutMs / 1000} s: ${stderr}`));
    }, timeoutMs);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`the payment provider exited (${code ?? signal}) before it was ready: ${stderr}`));
    });
    // Read every line, so a chatty provider never blocks on a full pipe.
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      if (lines.length > 1000) lines.shift();
      try {
        const msg = JSON.parse(line) as { msg?: string; url?: string };
        if (msg.msg === 'ready' && msg.url) {
          clearTimeout(timer);
          resolve({ url: msg.url, child, exited, lines, stop });
        }
      } catch {
        // Not the line we wait for.
      }
    });
  });
}
