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
  /** Settles when the node has exited, however it ended (stop(), a signal, a crash). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Ends the node's whole process group; resolves once it is gone. Safe to call twice. */
  stop(): Promise<void>;
}

/** Why the node could not be started: the port was taken, what answers is not our node, it exited, or it never answered. */
export type DevNodeErrorCode = 'PORT_IN_USE' | 'NOT_OURS' | 'EXITED' | 'TIMEOUT';

export class DevNodeError extends Error {
  constructor(
    readonly code: DevNodeErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DevNodeError';
  }
}

// Groups still running, killed synchronously if the owning process exits without stopping them,
// so no orphaned node keeps its port (mocha runs with --exit). A SIGKILLed owner runs no
// handler: then the guard preloaded into the node (dev-node-guard.js) ends it.
const running = new Set<number>();
process.on('exit', () => {
  for (const pgid of running) killGroup(pgid, 'SIGKILL');
});

const GUARD = join(__dirname, 'dev-node-guard.js');

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
 * Whether a listener could open `host:port` now: undefined when it could, else the error code
 * (`EADDRINUSE`: another process listens there; `EACCES`: a privileged port; `EADDRNOTAVAIL`:
 * no such local address). Nothing is left listening.
 */
export function portProblem(port: number, host = '127.0.0.1'): Promise<string | undefined> {
  return new Promise((done) => {
    const server = createServer();
    server.unref();
    server.once('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
    server.listen({ port, host, exclusive: true }, () => server.close(() => done(undefined)));
  });
}

/**
 * Starts a Hardhat JSON-RPC node on 127.0.0.1 in its own process group (the embedded
 * development chain of `npm start`, and the real chain of the integration tests) and
 * resolves once it answers as ours. Its state lives in memory: every start is a fresh chain.
 * Without a port, the node listens on one the kernel picks.
 *
 * The node is owned by the calling process: it never attaches to a node already on the port
 * (PORT_IN_USE), accepts only its own child saying it listens there and answering as a
 * Hardhat node (else NOT_OURS), and dies with its owner, even when the owner is SIGKILLed
 * (a preloaded guard exits when the owner's end of its stdin closes).
 * @throws DevNodeError PORT_IN_USE, NOT_OURS, EXITED or TIMEOUT (60 s); the message ends with its output
 * @example
 * const node = await startDevNode();
 * after(() => node.stop());
 */
export async function startDevNode(opts: { port?: number; root?: string } = {}): Promise<DevNode> {
  return startOnce(opts.port ?? 0, opts.root ?? ROOT);
}

async function startOnce(requested: number, root: string): Promise<DevNode> {
  if (requested) {
    const problem = await portProblem(requested);
    if (problem === 'EADDRINUSE')
      throw new DevNodeError('PORT_IN_USE', `port ${requested} is in use by another process (EADDRINUSE)`);
    if (problem) throw new DevNodeError('PORT_IN_USE', `port ${requested} cannot be opened (${problem})`);
  }
  const child = spawn(
    process.execPath,
    [
      '--require',
      GUARD,
      realpathSync(join(root, 'node_modules/.bin/hardhat')),
      'node',
      '--hostname',
      '127.0.0.1',
      '--port',
      String(requested),
    ],
    {
      cwd: root,
      detached: true,
      // stdin is the guard's lifeline: the node exits when this process's end closes.
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, HARDHAT_DISABLE_TELEMETRY_PROMPT: 'true', FORCE_COLOR: '0', NO_COLOR: '1' },
    },
  );
  const pgid = child.pid;
  if (pgid === undefined) {
    const error = await new Promise<Error>((done) => child.once('error', done));
    throw new DevNodeError('EXITED', `could not start hardhat node: ${error.message}`);
  }
  running.add(pgid);
  // The owner must not wait for the node, and its pipes must keep draining or it blocks.
  child.unref();
  const output = { stdout: '', stderr: '' };
  let listening: number | undefined;
  const keep = (stream: 'stdout' | 'stderr') => (chunk: string) => {
    output[stream] = (output[stream] + chunk).slice(-OUTPUT_TAIL_CHARS);
    if (stream === 'stdout' && listening === undefined) {
      const m = /Started HTTP and WebSocket JSON-RPC server at http:\/\/127\.0\.0\.1:(\d+)\//.exec(output.stdout);
      if (m) listening = Number(m[1]);
    }
  };
  child.stdout!.setEncoding('utf8').on('data', keep('stdout'));
  child.stderr!.setEncoding('utf8').on('data', keep('stderr'));
  child.stdin!.on('error', () => undefined);
  for (const s of [child.stdin!, child.stdout!, child.stderr!]) (s as unknown as { unref?: () => void }).unref?.();

  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      done(exited);
    });
  });

  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= stopGroup(child, pgid, exit));

  const describeFailure = (code: DevNodeErrorCode, why: string) => {
    const stderr = output.stderr.trim() || output.stdout.trim().split('\n').slice(-20).join('\n');
    return new DevNodeError(
      code,
      `hardhat node on 127.0.0.1:${requested || '(any port)'} ${why}${stderr ? `; its output:\n${stderr}` : ' (no output)'}`,
    );
  };

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (exited) {
      await stop();
      if (/EADDRINUSE/.test(output.stderr + output.stdout))
        throw describeFailure('PORT_IN_USE', `could not listen: port ${requested} was taken by another process`);
      throw describeFailure('EXITED', `exited (code ${exited.code}, signal ${exited.signal}) before answering`);
    }
    // Only once our own child says it listens does anything answering on the port count.
    if (listening !== undefined && (await answersChainId(`http://127.0.0.1:${listening}`))) break;
    if (Date.now() > deadline) {
      await stop();
      throw describeFailure('TIMEOUT', `did not answer eth_chainId within ${START_TIMEOUT_MS / 1000} s`);
    }
    await sleep(POLL_INTERVAL_MS);
  }
  const port = listening!;
  const url = `http://127.0.0.1:${port}`;
  const version = await clientVersion(url);
  if (exited || (requested && port !== requested) || !version?.startsWith('HardhatNetwork')) {
    await stop();
    throw describeFailure('NOT_OURS', `is not the node answering on ${url} (it answers as ${version ?? 'nothing'})`);
  }
  return { url, port, pid: pgid, exited: exit, stop };
}

async function rpc(url: string, method: string): Promise<unknown> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: [] }),
      signal: AbortSignal.timeout(2_000),
    });
    if (!res.ok) return undefined;
    return ((await res.json()) as { result?: unknown }).result;
  } catch {
    return undefined;
  }
}

async function answersChainId(url: string): Promise<boolean> {
  return typeof (await rpc(url, 'eth_chainId')) === 'string';
}

/** `web3_clientVersion`, e.g. "HardhatNetwork/2.29.1/@nomicfoundation/edr/…". */
async function clientVersion(url: string): Promise<string | undefined> {
  const v = await rpc(url, 'web3_clientVersion');
  return typeof v === 'string' ? v : undefined;
}

/** SIGTERM to the whole group (hardhat may run helpers), SIGKILL if anything is left after 3 s. */
async function stopGroup(child: ChildProcess, pgid: number, exit: Promise<unknown>): Promise<void> {
  killGroup(pgid, 'SIGTERM');
  const deadline = Date.now() + KILL_GRACE_MS;
  while (groupAlive(pgid) && Date.now() < deadline) await sleep(50);
  if (groupAlive(pgid)) killGroup(pgid, 'SIGKILL');
  while (groupAlive(pgid)) await sleep(20);
  running.delete(pgid);
  // The leader has been reaped once 'exit' fired; don't hang if it fired before we listened.
  if (child.exitCode === null && child.signalCode === null) await Promise.race([exit, sleep(1_000)]);
  child.stdin?.destroy();
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
