import type { Socket } from 'node:net';
import { serialize } from 'node:v8';
import { sendEncoded, sendFrame, type NoticeFrame, type WriterNotice } from './protocol';

/**
 * How long the writer holds an answer for the workers' acknowledgements of the notices sent
 * before it. A worker that has not acknowledged by then loses its link: it drops every cache
 * and forwards requests until it has linked again.
 */
export const NOTICE_ACK_TIMEOUT_MS = 1_000;

/** Answers waiting for every linked worker to acknowledge notice `seq`, and since when. */
interface Waiting {
  seq: number;
  since: number;
  /** Each answer, and the worker it goes to over the channel (which reads the notices before it anyway). */
  answers: Array<{ send: () => void; to?: Socket }>;
}

/** How often the writer looks for answers that have waited past the timeout. */
const EXPIRY_CHECK_MS = 250;

/**
 * The writer's notices to its HTTP workers, numbered, and what each worker has acknowledged.
 *
 * A worker answers from caches (tokens, records, codes, the status list) that notices keep
 * current. A client that got an answer from the writer through one worker may ask the other
 * next; that one must already have read every notice the answer's write sent. So the writer
 * answers only once every linked worker has acknowledged every notice sent so far
 * (`whenSettled`): one local round trip, only while notices are unacknowledged.
 */
export class WorkerNotices {
  private seq = 0;
  /** Each linked worker's channel, and the last notice it acknowledged. */
  private readonly acked = new Map<Socket, number>();
  /** Oldest first (ascending `seq`): one entry per notice number answers wait for. */
  private waiting: Waiting[] = [];
  private readonly expiry: NodeJS.Timeout;

  constructor(
    /** Called with how many workers lost their link for not acknowledging in time. */
    private readonly onLate: (dropped: number) => void = () => undefined,
    private readonly timeoutMs = NOTICE_ACK_TIMEOUT_MS,
  ) {
    this.expiry = setInterval(() => this.expire(), Math.min(EXPIRY_CHECK_MS, timeoutMs));
    this.expiry.unref();
  }

  /** A worker has proven itself; its caches are empty, so no earlier notice concerns it. */
  link(socket: Socket, first?: WriterNotice): void {
    this.acked.set(socket, this.seq);
    if (first) sendFrame(socket, { ...first, seq: this.seq } satisfies NoticeFrame);
  }

  unlink(socket: Socket): void {
    if (this.acked.delete(socket)) this.wake();
  }

  /** Sends `notice` to every linked worker. */
  send(notice: WriterNotice): void {
    const frame = serialize({ ...notice, seq: ++this.seq } satisfies NoticeFrame);
    for (const s of this.acked.keys()) sendEncoded(s, frame);
  }

  /** The worker on `socket` has applied every notice up to `seq`. */
  ack(socket: Socket, seq: unknown): void {
    const had = this.acked.get(socket);
    if (had === undefined || typeof seq !== 'number' || !(seq > had && seq <= this.seq)) return;
    this.acked.set(socket, seq);
    this.wake();
  }

  /**
   * Runs `send` once every linked worker has acknowledged every notice sent so far: now, when
   * they have; otherwise once they have, or once the laggards have lost their links (after
   * `timeoutMs`). An answer that goes `to` a worker over its channel does not wait for that
   * worker: the channel delivers the notices before the answer.
   */
  whenSettled(send: () => void, to?: Socket): void {
    const seq = this.seq;
    if (this.caughtUp(seq, to)) return send();
    const last = this.waiting[this.waiting.length - 1];
    if (last?.seq === seq) last.answers.push({ send, to });
    else this.waiting.push({ seq, since: Date.now(), answers: [{ send, to }] });
  }

  /** `whenSettled` as a promise: undefined when nothing is to be waited for. */
  settled(): Promise<void> | undefined {
    if (this.caughtUp(this.seq)) return undefined;
    return new Promise((resolve) => this.whenSettled(resolve));
  }

  close(): void {
    clearInterval(this.expiry);
  }

  private caughtUp(seq: number, except?: Socket): boolean {
    for (const [s, n] of this.acked) if (n < seq && s !== except) return false;
    return true;
  }

  /** Drops the link of every worker still short of a notice an answer has waited on past the timeout. */
  private expire(): void {
    const old = this.waiting.filter((w) => Date.now() - w.since >= this.timeoutMs).pop();
    if (!old) return;
    let dropped = 0;
    for (const [s, n] of this.acked)
      if (n < old.seq) {
        this.acked.delete(s);
        s.destroy();
        dropped++;
      }
    if (dropped) this.onLate(dropped);
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiting) {
      const ready = w.answers.filter((a) => this.caughtUp(w.seq, a.to));
      if (ready.length === w.answers.length) w.answers = [];
      else if (ready.length) w.answers = w.answers.filter((a) => !ready.includes(a));
      for (const a of ready) a.send();
    }
    this.waiting = this.waiting.filter((w) => w.answers.length);
  }
}
