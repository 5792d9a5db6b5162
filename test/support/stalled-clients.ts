// A slow-client attack, run as its own process so the test process measures only the server:
// `node --import tsx test/support/stalled-clients.ts <port> <count> <localAddress> <deadlineMs>`
// opens <count> sockets from <localAddress> (in waves, so the listen backlog never overflows),
// each sends part of a request and then nothing. Prints {"msg":"started"}, {"msg":"connected"} once all are
// connected, then one JSON summary when all have closed or <deadlineMs> after that.
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

const [port, count, localAddress, deadlineMs] = process.argv.slice(2);
const total = Number(count);
const WAVE = 200;

/** Halves stop in the request line, halves in the headers. */
const partial = (i: number) =>
  i % 2 ? 'POST /v1/resid' : 'POST /v1/residents HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty';

interface Stalled {
  connectedAt: number;
  closedAt?: number;
  answer: string;
  error?: string;
}
const sockets: Stalled[] = [];
let closed = 0;

function open(i: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s: Socket = connect({ host: '127.0.0.1', port: Number(port), localAddress });
    const rec: Stalled = { connectedAt: 0, answer: '' };
    s.once('connect', () => {
      rec.connectedAt = performance.now();
      sockets.push(rec);
      s.write(partial(i));
      resolve();
    });
    s.on('data', (d) => (rec.answer += d.toString('latin1')));
    s.on('error', (e) => {
      rec.error = (e as NodeJS.ErrnoException).code ?? e.message;
      if (!rec.connectedAt) reject(e);
    });
    s.once('close', () => {
      rec.closedAt = performance.now();
      if (rec.connectedAt) closed++;
      if (closed === total) report();
    });
  });
}

let reported = false;
function report(): void {
  if (reported) return;
  reported = true;
  const lifetimes = sockets.map((r) => (r.closedAt === undefined ? null : Math.round(r.closedAt - r.connectedAt)));
  const answers: Record<string, number> = {};
  for (const r of sockets) {
    const k = r.answer.split('\r\n')[0] || (r.error ? `(${r.error})` : '(nothing)');
    answers[k] = (answers[k] ?? 0) + 1;
  }
  process.stdout.write(JSON.stringify({ msg: 'done', connected: sockets.length, closed, lifetimes, answers }) + '\n');
  process.exit(0);
}

async function main(): Promise<void> {
  process.stdout.write(JSON.stringify({ msg: 'started' }) + '\n');
  for (let i = 0; i < total; i += WAVE) {
    await Promise.all(Array.from({ length: Math.min(WAVE, total - i) }, (_, k) => open(i + k)));
  }
  process.stdout.write(JSON.stringify({ msg: 'connected', connected: sockets.length }) + '\n');
  setTimeout(report, Number(deadlineMs)).unref();
  // Keep the process alive until the report, whatever the sockets do.
  setInterval(() => undefined, 1000);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
