import cluster from 'node:cluster';
import { cpus } from 'node:os';
import { join } from 'node:path';

/**
 * The application and scan floors (floor.ts) spread over FLOOR_WORKERS processes (default:
 * one per core) that share one port through node:cluster and nothing else: each worker has
 * its own keys and its own LevelDB, so there is no single ledger writer and no hand-over
 * between processes. Any real design that spreads the work over processes pays for both,
 * so what this reaches bounds all of them from above.
 *
 * Same environment and `{"msg":"listening","url":...}` line as floor.ts, once every worker listens.
 */
const workers = Math.max(1, Number(process.env.FLOOR_WORKERS ?? cpus().length) || 1);
cluster.setupPrimary({ exec: join(__dirname, 'floor.ts') });

let url: string | undefined;
let listening = 0;
let stopping = false;
for (let i = 0; i < workers; i++) {
  cluster.fork().on('message', (m: { msg?: string; url?: string }) => {
    if (m.msg !== 'listening') return;
    url ??= m.url;
    if (++listening === workers)
      process.stdout.write(JSON.stringify({ msg: 'listening', url, processes: workers }) + '\n');
  });
}

cluster.on('exit', (worker, code, signal) => {
  if (stopping) {
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
    return;
  }
  // Fewer workers than announced would pass off a smaller figure as this one.
  process.stderr.write(`floor worker ${worker.id} exited (${code ?? signal})\n`);
  process.exit(1);
});

const stop = () => {
  stopping = true;
  for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
