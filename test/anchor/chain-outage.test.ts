import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import { Backoff } from '../../anchor/backoff';
import { startDevNode, type DevNode } from '../../anchor/dev-node';
import { startService, type RunningService } from '../../server/bootstrap';
import { configSchema } from '../../server/config';
import { createLogger } from '../../server/http/log';
import { until } from '../../scripts/lib/wait';
import { applyAsNewResident } from '../support/running-service';
import { tempDir } from '../support/tmp';

/** The outage, in real time: with delays from 5 ms to 200 ms it stands for over an hour at 1 s to 60 s (300 delays at the cap). */
const WINDOW_MS = 20_000;
const RETRY_MIN_MS = 5;
const RETRY_MAX_MS = 200;
const FEDERATION_REFRESH_SECONDS = 1;

/** What stands on the chain's port while it is down: answers every request 503 and counts them. */
function countingListener(port: number): Promise<{ server: Server; requests: () => number }> {
  let n = 0;
  const server = createServer((req, res) => {
    n++;
    req.resume();
    res.writeHead(503, { connection: 'close' }).end('down for maintenance');
  });
  return new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => done({ server, requests: () => n }));
  });
}

describe('an hour-long chain outage, in 20 s (CHAIN_RETRY_MIN_MS=5, CHAIN_RETRY_MAX_MS=200)', function () {
  this.timeout(120_000);
  let tmp: ReturnType<typeof tempDir>;
  let node: DevNode | undefined;
  let svc: RunningService | undefined;
  let listener: Server | undefined;
  const lines: Array<{ level: string; msg: string; t: string }> = [];
  let probes = 0;
  let consoleLines = 0;
  let headWhileDown = 0;
  let restored: { treeSize: number } | undefined;
  let linesDuring: typeof lines = [];

  before(async () => {
    tmp = tempDir();
    node = await startDevNode();
    const port = node.port;
    const config = configSchema.parse({
      PORT: '0',
      DATA_DIR: tmp.dir,
      LOG_LEVEL: 'info',
      CHAIN_RPC_URL: node.url,
      CHAIN_DEV: 'true',
      CHECKPOINT_INTERVAL_SECONDS: '1',
      FEDERATION_REFRESH_SECONDS: String(FEDERATION_REFRESH_SECONDS),
      CHAIN_RETRY_MIN_MS: String(RETRY_MIN_MS),
      CHAIN_RETRY_MAX_MS: String(RETRY_MAX_MS),
    });
    svc = await startService(config, { env: {}, log: createLogger('info', (l) => lines.push(JSON.parse(l))) });
    expect(await applyAsNewResident(svc)).to.equal(201);
    await until('a first checkpoint', async () => svc!.app.anchorer!.checkpoint);

    // ethers prints its complaints with console.log: count any that appear.
    const log = console.log;
    console.log = (...args: unknown[]) => {
      consoleLines++;
      log(...args);
    };
    try {
      await node.stop();
      node = undefined;
      const counting = await countingListener(port);
      listener = counting.server;
      const from = lines.length;
      for (let i = 0; i < 3; i++) expect(await applyAsNewResident(svc)).to.equal(201);
      headWhileDown = svc.app.ledger.getHead().seq;
      await new Promise((r) => setTimeout(r, WINDOW_MS));
      probes = counting.requests();
      if (process.env.OUTAGE_REPORT) process.stderr.write(`probes in ${WINDOW_MS} ms: ${probes}\n`);
      linesDuring = lines.slice(from);
      await new Promise<void>((r) => counting.server.close(() => r()));
      listener = undefined;
    } finally {
      console.log = log;
    }
    // A chain is back on the same port (a fresh development chain: the anchorer deploys again and re-anchors).
    node = await startDevNode({ port });
    restored = await until(
      'a checkpoint covering the events written during the outage',
      async () => {
        const cp = svc!.app.anchorer!.checkpoint;
        return cp && cp.treeSize >= headWhileDown ? cp : undefined;
      },
      60_000,
    );
  });

  after(async () => {
    await svc?.close();
    listener?.close();
    await node?.stop();
    tmp?.cleanup();
  });

  it('keeps retrying, but probes the chain at most about once per half the longest delay', () => {
    // Equal jitter: at the cap every delay is at least RETRY_MAX_MS / 2. The anchorer's ramp
    // is a handful of attempts; the federation asks once per refresh.
    const anchorerBound = WINDOW_MS / (RETRY_MAX_MS / 2) + 10;
    const federationBound = WINDOW_MS / (FEDERATION_REFRESH_SECONDS * 1000) + 2;
    expect(probes).to.be.at.most(anchorerBound + federationBound);
    // …and it did go on trying all along (at least once per longest delay, with margin).
    expect(probes).to.be.at.least(WINDOW_MS / RETRY_MAX_MS / 2);
  });

  it('logs the outage when it starts, then only as it doubles in length, and prints nothing but JSON', () => {
    const anchor = linesDuring.filter((l) => l.msg.startsWith('anchor:'));
    const down = anchor.filter((l) => l.msg === 'anchor: chain unavailable, will retry');
    const still = anchor.filter((l) => l.msg === 'anchor: chain still unavailable');
    expect(down).to.have.length(1);
    expect(down[0]).to.have.property('error').that.is.a('string').and.not.empty;
    // Reports at 0.2, 0.4, 0.8 … 12.8 s into the outage: log2(window / max) + 1 of them, and no more.
    expect(still.length).to.be.within(1, Math.ceil(Math.log2(WINDOW_MS / RETRY_MAX_MS)) + 1);
    expect(anchor.length).to.equal(down.length + still.length);
    const federation = linesDuring.filter((l) => l.msg.startsWith('federation:'));
    expect(federation.length).to.be.within(
      1,
      Math.ceil(Math.log2(WINDOW_MS / (5 * FEDERATION_REFRESH_SECONDS * 1000))) + 2,
    );
    // Every request is logged at info too; those are the test's own writes, not the outage's.
    expect(linesDuring.filter((l) => l.msg !== 'request').length).to.be.below(30);
    expect(consoleLines).to.equal(0);
  });

  it('says once that the chain is back, and catches up with the events written meanwhile', () => {
    const back = lines.filter((l) => l.msg === 'anchor: chain reachable again');
    expect(back).to.have.length(1);
    // It noticed the outage at its next checkpoint after the writes (CHECKPOINT_INTERVAL_SECONDS=1).
    expect(back[0])
      .to.have.property('downForMs')
      .that.is.at.least(WINDOW_MS - 2_000);
    expect(restored!.treeSize).to.be.at.least(headWhileDown);
    expect(svc!.app.anchorer!.state).to.equal('up');
  });
});

describe('Backoff', () => {
  it('doubles from the first delay up to the cap, keeping at least half of each step', () => {
    const low = new Backoff(1000, 60_000, () => 0);
    expect(Array.from({ length: 9 }, () => low.next())).to.deep.equal([
      500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000,
    ]);
    const high = new Backoff(1000, 60_000, () => 1);
    expect(Array.from({ length: 8 }, () => high.next())).to.deep.equal([
      1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000,
    ]);
  });

  it('starts again from the first delay after a success', () => {
    const b = new Backoff(5, 200, () => 1);
    for (let i = 0; i < 10; i++) b.next();
    b.reset();
    expect(b.next()).to.equal(5);
  });

  it('refuses a first delay above the cap', () => {
    expect(() => new Backoff(10, 5)).to.throw(/min/);
  });
});
