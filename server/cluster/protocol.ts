import type { Socket } from 'node:net';
import { deserialize, serialize } from 'node:v8';
import type { CodeMode, TrustListJson } from '../../verifier/src';
import type { FieldError } from '../errors';
import type { Principal } from '../http/auth';
import type { SeriesJson } from '../http/metrics';
import type { ApplyInput, IssuedCode } from '../services/residents';
import type { ScanVerdict, staffScanSchema } from '../services/scans';
import type { z } from 'zod';

/**
 * What HTTP workers and the ledger writer say to each other (server/cluster/).
 *
 * Two channels, both on 127.0.0.1 ports the writer picks, both opened only by processes the
 * supervisor started, proven by the secret it gave them:
 * - HTTP: the worker forwards any request it does not serve itself, with the client's
 *   address in `WORKER_CLIENT_HEADER` and the secret in `WORKER_SECRET_HEADER`;
 * - a message channel: length-prefixed frames (v8 serialisation), requests with an `id`
 *   answered by the writer, and numbered notices the writer pushes (trust list, changed tokens,
 *   changed statuses, changed resident records and bindings, new rules or keys), which each
 *   worker acknowledges once its caches hold them; the writer answers nothing (over HTTP, or
 *   to another worker) while a notice is unacknowledged (server/cluster/notices.ts).
 */

/** The client's address as the worker saw it (after TRUST_PROXY); believed only with the secret. */
export const WORKER_CLIENT_HEADER = 'x-ankang-client';
/** The supervisor's per-start secret, proving a request comes from one of its workers. */
export const WORKER_SECRET_HEADER = 'x-ankang-worker';
/** Environment variables the supervisor hands its processes. */
export const ENV = {
  role: 'ANKANG_PROCESS',
  secret: 'ANKANG_WORKER_SECRET',
} as const;

/** The trust a worker verifies shown codes with; `version` changes whenever either list does. */
export interface TrustSnapshot {
  version: number;
  trustList: TrustListJson;
  statusLists: Uint8Array[];
}

export type WorkerRequest =
  | { id: number; op: 'hello'; secret: string }
  | { id: number; op: 'auth'; hash: string }
  /**
   * An application the worker has authenticated (a resident session), validated and read the
   * Idempotency-Key of; the writer counts it against the abuse limits for `address` and applies.
   */
  | { id: number; op: 'apply'; principal: Principal; address: string; key: string | undefined; input: ApplyInput }
  /** The signed status list as the writer holds it now (re-signed first if it changed or aged). */
  | { id: number; op: 'status-list' }
  /** A resident's own record, as GET /v1/residents/me answers it (`requireRole` passed in the worker). */
  | { id: number; op: 'record'; principal: Principal }
  /** A resident session's masked identity, for GET /v1/auth/session (a resident principal the worker authenticated). */
  | { id: number; op: 'session'; principal: Principal }
  /** A resident's current code of a mode (`requireRole` passed in the worker); answered with a `CodeAnswer`. */
  | { id: number; op: 'code'; principal: Principal; mode: CodeMode }
  /** The worker's own series (requests it answered, its connections), sent every METRICS_PUSH_MS. */
  | { id: number; op: 'metrics'; series: SeriesJson[] }
  /** The worker has applied every notice up to `seq` to its caches (server/cluster/notices.ts). */
  | { id: number; op: 'ack'; seq: number }
  | {
      id: number;
      op: 'scan';
      principal: Principal;
      /** The body as the worker's `staffScanSchema` parsed it. */
      input: z.infer<typeof staffScanSchema>;
      verdict?: ScanVerdict;
      /** The trust version the worker verified with; the writer verifies again if its own has moved on. */
      trustVersion: number;
    };

/** A refusal as the writer's route would give it: the worker answers it in the API's error shape. */
export interface WireError {
  status: number;
  code: string;
  message: string;
  fields?: FieldError[];
  retryAfterSeconds?: number;
}

export type WriterReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: WireError };

export type WriterNotice =
  | { op: 'trust'; trust: TrustSnapshot }
  /** Keys of the `tokens` space (token hashes) that a durable write changed: drop them from any cache. */
  | { op: 'tokens'; hashes: string[] }
  /** A status changed: any signed status list a worker holds is out of date. */
  | { op: 'statuses' }
  /** Residents (by pseudonym) whose record or account binding a durable write changed: their records, codes and principals are stale. */
  | { op: 'residents'; pseudonyms: string[] }
  /** The rules, the risk areas or the issuer's keys changed: every code answer a worker holds is stale. */
  | { op: 'codes' };

/** A notice as sent: numbered, so that a worker can acknowledge it (`ack`). */
export type NoticeFrame = WriterNotice & { seq: number };

/** The writer's answer to `code`: the code, and until when it stays the answer barring a `residents` or `codes` notice. */
export interface CodeAnswer {
  code: IssuedCode;
  until: number;
  /**
   * The writes to the resident's record and binding that the answer's own transaction made
   * (a new code is written into the record): each reaches the worker in a `residents` notice
   * before the answer does, and crosses nothing the answer does not already hold.
   */
  wrote: number;
}

/** Messages between the supervisor and its processes (Node's IPC channel). */
export type SupervisorMessage =
  | { op: 'writer'; http: number; channel: number }
  | { op: 'writer-down' }
  | { op: 'listening'; port: number }
  | { op: 'stop' };

/** How often a worker sends the writer its metrics: a scrape of the writer's /metrics is at most this stale for the workers' series. */
export const METRICS_PUSH_MS = 1000;

const MAX_FRAME = 16 * 1024 * 1024;

/**
 * Writes one frame: a 4-byte big-endian length, then the v8-serialised value. Frames written in
 * the same tick leave in one write (cork, then uncork on the next tick): a ledger group's answers
 * are sent together, as one system call rather than one each.
 */
export function sendFrame(socket: Socket, value: unknown): void {
  sendEncoded(socket, serialize(value));
}

/** Writes one frame of an already serialised value (a notice sent to every worker is serialised once). */
export function sendEncoded(socket: Socket, body: Buffer): void {
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32BE(body.length, 0);
  if (!socket.writableCorked) {
    socket.cork();
    process.nextTick(() => socket.uncork());
  }
  socket.write(head);
  socket.write(body);
}

/**
 * Calls `onFrame` with each whole frame the socket delivers. A frame over `maxBytes()` (asked
 * again for each frame; 16 MiB unless given) or one that does not decode ends the connection.
 */
export function readFrames(socket: Socket, onFrame: (value: unknown) => void, maxBytes = () => MAX_FRAME): void {
  let buf: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    while (buf.length >= 4) {
      const len = buf.readUInt32BE(0);
      if (len > maxBytes()) {
        socket.destroy();
        return;
      }
      if (buf.length < 4 + len) break;
      const frame = buf.subarray(4, 4 + len);
      buf = buf.subarray(4 + len);
      let value: unknown;
      try {
        value = deserialize(frame);
      } catch {
        socket.destroy();
        return;
      }
      onFrame(value);
    }
  });
}
