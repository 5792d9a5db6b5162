import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';

export interface DevNode {
  url: string;
  port: number;
  /** Process group of the node (tests pause it with SIGSTOP to take the chain down). */
  pid: number;
  stop(): Promise<void>;
}

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function rpcReady(url: string): Promise<boolean> {
  try {
    const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }) });
    return r.ok;
  } catch {
    return false;
  }
}

/**
 * Starts a Hardhat JSON-RPC node on 127.0.0.1 as a child process (the embedded development
 * chain) and waits until it answers. Its state lives in memory: every start is a fresh chain.
 */
export async function startDevNode(opts: { port?: number; root?: string; timeoutMs?: number } = {}): Promise<DevNode> {
  const root = opts.root ?? join(__dirname, '..');
  const port = opts.port ?? (await freePort());
  const child: ChildProcess = spawn(join(root, 'node_modules/.bin/hardhat'), ['node', '--hostname', '127.0.0.1', '--port', String(port)], {
    cwd: root,
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  while (!(await rpcReady(url))) {
    if (exited || Date.now() > deadline) {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
      throw new Error(`the Hardhat node did not start on ${url}: ${stderr.trim() || 'no output'}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    port,
    pid: child.pid!,
    async stop() {
      if (exited) return;
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        return;
      }
      const t = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }, 3000);
      await gone;
      clearTimeout(t);
    },
  };
}
