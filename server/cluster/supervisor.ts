import cluster, { type Worker } from 'node:cluster';
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Config } from '../config';
import type { Logger } from '../http/log';
import { ENV, type SupervisorMessage } from './protocol';

/** A writer that dies this many times within RESTART_WINDOW_MS is not restarted again: the service stops. */
const MAX_WRITER_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;
const RESTART_DELAY_MS = 250;

export interface Supervised {
  /** The public URL (the workers' port). */
  url: string;
  writerPid: () => number | undefined;
  workerPids: () => number[];
  /** Stops the workers (they drain), then the writer; resolves with the exit code to use. */
  stop(): Promise<number>;
  /** Settles when the service stops by itself (a writer that keeps dying), with the exit code. */
  ended: Promise<number>;
}

/**
 * `npm run serve` with WORKERS > 0: this process owns one ledger writer (this entry point
 * with ANKANG_PROCESS=writer, a child) and WORKERS HTTP workers (cluster workers sharing
 * PORT). It relays the writer's internal ports to the workers, restarts a worker or the
 * writer that dies (the workers answer 503 meanwhile and reconnect), and on a signal stops the
 * workers first, so every request they hold reaches the writer, then the writer.
 */
export async function supervise(config: Config, log: Logger): Promise<Supervised> {
  const secret = randomBytes(32).toString('base64url');
  const env = { ...process.env, PORT: String(config.PORT), [ENV.secret]: secret };
  let writer: ChildProcess | undefined;
  let writerPorts: Extract<SupervisorMessage, { op: 'writer' }> | undefined;
  const workers = new Set<Worker>();
  let stopping = false;
  /** Until every process has started once, a death is a failed start (reported by supervise's caller), never restarted. */
  let started = false;
  const restarts: number[] = [];
  let endWith!: (code: number) => void;
  const ended = new Promise<number>((resolve) => (endWith = resolve));

  const broadcast = (msg: SupervisorMessage) => {
    for (const w of workers) if (w.isConnected()) w.send(msg);
  };

  /** Starts the writer; resolves once its ports are known, rejects if it exits first (its one line is on stderr). */
  const startWriter = () =>
    new Promise<void>((resolve, reject) => {
      const child = fork(process.argv[1], [], { env: { ...env, [ENV.role]: 'writer' }, stdio: 'inherit' });
      writer = child;
      child.on('message', (msg: SupervisorMessage) => {
        if (msg.op !== 'writer') return;
        writerPorts = msg;
        broadcast(msg);
        resolve();
      });
      child.once('exit', (code, signal) => {
        reject(new WriterExit(code, signal));
        if (writer !== child) return;
        writer = undefined;
        writerPorts = undefined;
        broadcast({ op: 'writer-down' });
        if (stopping || !started) return;
        log.error('the ledger writer exited; restarting it', { writer: child.pid, code, signal });
        const now = Date.now();
        restarts.push(now);
        while (restarts.length && restarts[0] < now - RESTART_WINDOW_MS) restarts.shift();
        if (restarts.length > MAX_WRITER_RESTARTS) {
          log.error('the ledger writer keeps exiting; stopping', { restarts: restarts.length });
          void stop().then(() => endWith(1));
          return;
        }
        setTimeout(() => {
          if (!stopping)
            startWriter().catch((e: Error) => log.error('the ledger writer could not restart', { error: e.message }));
        }, RESTART_DELAY_MS);
      });
    });

  const startWorker = () =>
    new Promise<number>((resolve, reject) => {
      const w = cluster.fork({ ...env, [ENV.role]: 'worker' });
      workers.add(w);
      w.on('message', (msg: SupervisorMessage) => {
        if (msg.op !== 'listening') return;
        if (writerPorts) w.send(writerPorts);
        resolve(msg.port);
      });
      w.once('exit', (code, signal) => {
        workers.delete(w);
        reject(new Error(`an HTTP worker exited before it listened (${signal ?? `exit code ${code}`})`));
        if (stopping || !started) return;
        log.error('an HTTP worker exited; starting another', { worker: w.process.pid, code, signal });
        startWorker().catch((e: Error) => log.error('an HTTP worker could not start', { error: e.message }));
      });
    });

  let stopped: Promise<number> | undefined;
  const stop = () => (stopped ??= stopAll());
  async function stopAll(): Promise<number> {
    stopping = true;
    const exits = [...workers].map((w) => new Promise<void>((r) => (w.isDead() ? r() : w.once('exit', () => r()))));
    broadcast({ op: 'stop' });
    const late = setTimeout(() => {
      for (const w of workers) w.process.kill('SIGKILL');
    }, config.DRAIN_TIMEOUT_MS + 5_000);
    await Promise.all(exits);
    clearTimeout(late);
    const w = writer;
    if (w && w.exitCode === null && w.signalCode === null) {
      const exited = new Promise<void>((r) => w.once('exit', () => r()));
      w.kill('SIGTERM');
      await exited;
    }
    return 0;
  }

  try {
    await startWriter();
    cluster.setupPrimary({ exec: process.argv[1] });
    const ports = await Promise.all(Array.from({ length: config.WORKERS }, startWorker));
    started = true;
    return {
      url: `http://${config.HOST}:${ports[0]}`,
      writerPid: () => writer?.pid,
      workerPids: () => [...workers].map((w) => w.process.pid!),
      stop,
      ended,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** The writer ended before it was ready: it has said why on stderr. */
export class WriterExit extends Error {
  constructor(
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
  ) {
    super(`the ledger writer exited (${signal ?? `exit code ${exitCode}`})`);
  }
}
