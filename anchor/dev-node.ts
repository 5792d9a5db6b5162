import { spawn, type ChildProcess } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..');
const START_TIMEOUT_MS = 60_000;
const POLL_INTERVAL_MS = 200;
const KILL_GRACE_MS = 3_000;
/** Keep only the end of the child's output: the node logs every RPC call and this is for error messages. */
const OUTPUT_TAIL_CHARS = 8_000;

export interface DevNode {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** Process group of the node (tests pause it with SIGSTOP to take the chain down). */
  pid: number;
  /** Ends the node's whole process group; resolves once it is gone. Safe to call twice. */
  stop(): Promise<void>;
}

// Groups still running, killed synchronously if the test process exits without stopping them,
// so no orphaned node keeps its port (mocha runs with --exit).
const running = new Set<number>();
process.on('exit', () => {
  for (const pgid of running) killGroup(pgid, 'SIGKILL');
});

/** A port that was free a moment ago: the kernel's choice for a listener on port 0. */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.unref();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? done(port) : fail(new Error('could not find a free port'))));
    });
  });
}

/**
 * Starts a Hardhat JSON-RPC node on 127.0.0.1 in its own process group (the embedded
 * development chain of `npm start`, and the real chain of the integration tests) and
 * resolves once it answers `eth_chainId`. Its state lives in memory: every start is a
 * fresh chain. Without a port, a free one is picked (retrying if another process takes it).
 * @throws Error when the node exits or does not answer within 60 s; the message ends with its output
 * @example
 * const node = await startDevNode();
 * after(() => node.stop());
 */
export async function startDevNode(opts: { port?: number; root?: string } = {}): Promise<DevNode> {
  if (opts.port) return startOnce(opts.port, opts.root ?? ROOT);
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(await freePort(), opts.root ?? ROOT);
    } catch (e) {
      lastError = e as Error;
      if (!/EADDRINUSE/.test(lastError.message)) throw lastError;
    }
  }
  throw lastError!;
}

async function startOnce(port: number, root: string): Promise<DevNode> {
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    process.execPath,
    [realpathSync(join(root, 'node_modules/.bin/hardhat')), 'node', '--hostname', '127.0.0.1', '--port', String(port)],
    {
      cwd: root,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HARDHAT_DISABLE_TELEMETRY_PROMPT: 'true', FORCE_COLOR: '0', NO_COLOR: '1' },
    },
  );
  const pgid = child.pid;
  if (pgid === undefined) {
    const error = await new Promise<Error>((done) => child.once('error', done));
    throw new Error(`could not start hardhat node: ${error.message}`);
  }
  running.add(pgid);
  // The test process must not wait for the node, and its pipes must keep draining or it blocks.
  child.unref();
  const output = { stdout: '', stderr: '' };
  const keep = (stream: 'stdout' | 'stderr') => (chunk: string) => {
    output[stream] = (output[stream] + chunk).slice(-OUTPUT_TAIL_CHARS);
  };
  child.stdout!.setEncoding('utf8').on('data', keep('stdout'));
  child.stderr!.setEncoding('utf8').on('data', keep('stderr'));
  for (const s of [child.stdout!, child.stderr!]) (s as unknown as { unref?: () => void }).unref?.();

  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exit = new Promise<void>((done) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      done();
    });
  });

  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= stopGroup(child, pgid, exit));

  const describeFailure = (why: string) => {
    const stderr = output.stderr.trim() || output.stdout.trim().split('\n').slice(-20).join('\n');
    return new Error(`hardhat node on ${url} ${why}${stderr ? `; its output:\n${stderr}` : ' (no output)'}`);
  };

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (exited) {
      await stop();
      throw describeFailure(`exited (code ${exited.code}, signal ${exited.signal}) before answering eth_chainId`);
    }
    if (await answersChainId(url)) break;
    if (Date.now() > deadline) {
      await stop();
      throw describeFailure(`did not answer eth_chainId within ${START_TIMEOUT_MS / 1000} s`);
    }
    await sleep(POLL_INTERVAL_MS);
  }
  return { url, port, pid: pgid, stop };
}

async function answersChainId(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(2_000),
    });
    if (!res.ok) return false;
    const body = (await res.json()) as { result?: unknown };
    return typeof body.result === 'string';
  } catch {
    return false;
  }
}

/** SIGTERM to the whole group (hardhat may run helpers), SIGKILL if anything is left after 3 s. */
async function stopGroup(child: ChildProcess, pgid: number, exit: Promise<void>): Promise<void> {
  killGroup(pgid, 'SIGTERM');
  const deadline = Date.now() + KILL_GRACE_MS;
  while (groupAlive(pgid) && Date.now() < deadline) await sleep(50);
  if (groupAlive(pgid)) killGroup(pgid, 'SIGKILL');
  while (groupAlive(pgid)) await sleep(20);
  running.delete(pgid);
  // The leader has been reaped once 'exit' fired; don't hang if it fired before we listened.
  if (child.exitCode === null && child.signalCode === null) await Promise.race([exit, sleep(1_000)]);
  child.stdout?.destroy();
  child.stderr?.destroy();
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

