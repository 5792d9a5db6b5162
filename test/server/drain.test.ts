import { expect } from 'chai';
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Ledger } from '../../ledger/ledger';
import { startServiceProcess, type ServiceProcess } from '../../scripts/lib/service-process';
import { signIn } from '../../scripts/lib/sign-in';
import { until } from '../../scripts/lib/wait';
import { applicant, type Application } from '../support/service';
import { SIGN_UP_LIMITS } from '../support/running-service';
import { tempDir } from '../support/tmp';

const IN_FLIGHT = 32;
const IDLE_KEEP_ALIVE = 4;

interface Answer {
  status: number;
  connection: string | undefined;
  body: { resident?: { pseudonym: string; statusIndex: number }; error?: { code: string } };
}

/** A POST /v1/residents whose headers and first half of the body are sent now, the rest by `finish()`. */
function startApplication(
  url: string,
  access: string,
  body: Application,
): { req: ClientRequest; finish(): void; answer: Promise<Answer> } {
  const bytes = Buffer.from(JSON.stringify(body));
  const half = Math.floor(bytes.length / 2);
  const req = request(`${url}/v1/residents`, {
    method: 'POST',
    agent: false,
    headers: {
      'content-type': 'application/json',
      'content-length': String(bytes.length),
      authorization: `Bearer ${access}`,
    },
  });
  const answer = new Promise<Answer>((resolve, reject) => {
    req.once('error', reject);
    req.once('response', (res: IncomingMessage) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.once('error', reject);
      res.once('end', () =>
        resolve({ status: res.statusCode!, connection: res.headers.connection, body: JSON.parse(text) }),
      );
    });
  });
  req.flushHeaders();
  req.write(bytes.subarray(0, half));
  return { req, finish: () => req.end(bytes.subarray(half)), answer };
}

/** A keep-alive connection that made one request and now sits idle; resolves `closed` when the server closes it. */
async function idleKeepAlive(url: string): Promise<{ socket: Socket; closed: Promise<void> }> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.on('data', (d: Buffer) => {
      seen += d.toString();
      if (seen.includes('"ok":true')) resolve();
    });
    socket.write(`GET /healthz HTTP/1.1\r\nHost: ${hostname}\r\nConnection: keep-alive\r\n\r\n`);
  });
  return { socket, closed };
}

/** Whether a new connection to the service's port is refused. */
function refusesConnections(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const s = connect(Number(port), hostname);
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

describe('SIGTERM with requests in flight', function () {
  this.timeout(180_000);
  let tmp: ReturnType<typeof tempDir>;
  let server: ServiceProcess | undefined;
  const lines: Array<Record<string, unknown>> = [];
  const people = Array.from({ length: IN_FLIGHT }, () => applicant());
  const tokens: string[] = [];
  let answers: Answer[] = [];
  let exit: { code: number | null; signal: NodeJS.Signals | null };
  let idleClosedBeforeBodies = 0;
  let refusedNewConnections = false;

  const spawn = (extra: Record<string, string> = {}) =>
    startServiceProcess({
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: tmp.dir,
      LOG_LEVEL: 'info',
      ...SIGN_UP_LIMITS,
      ...extra,
    });

  before(async () => {
    tmp = tempDir('ankang-drain-');
    // Idle keep-alive sockets would hold a plain server.close() for a minute, and the drain window is generous:
    // the test shows neither is waited for.
    server = await spawn({ KEEP_ALIVE_TIMEOUT_MS: '60000', DRAIN_TIMEOUT_MS: '60000' });
    createInterface({ input: server.child.stdout! }).on('line', (l) => {
      try {
        lines.push(JSON.parse(l));
      } catch {
        // not a log line
      }
    });
    const url = server.url;
    for (let i = 0; i < people.length; i += 8) {
      const batch = people.slice(i, i + 8);
      const sessions = await Promise.all(
        batch.map((p) =>
          signIn(
            url,
            { idType: p.idType, idNumber: p.idNumber, name: p.name, phone: p.phone },
            { codes: join(tmp.dir, 'sms-outbox.jsonl') },
          ),
        ),
      );
      tokens.push(...sessions.map((s) => s.access));
    }
    const idle = await Promise.all(Array.from({ length: IDLE_KEEP_ALIVE }, () => idleKeepAlive(url)));
    const pending = people.map((p, i) => startApplication(url, tokens[i], p));
    // Every request's headers have reached the server: it counts their sockets open.
    await until('the requests to be open on the server', async () => {
      const metrics = await (await fetch(`${url}/metrics`)).text();
      const open = Number(/^ankang_connections_open (\d+)/m.exec(metrics)?.[1] ?? 0);
      return open >= IN_FLIGHT + IDLE_KEEP_ALIVE ? true : undefined;
    });
    await new Promise((r) => setTimeout(r, 300));

    server.child.kill('SIGTERM');
    await until('the service to stop accepting connections', async () =>
      (await refusesConnections(url)) ? true : undefined,
    );
    refusedNewConnections = true;
    await Promise.all(idle.map((c) => c.closed));
    idleClosedBeforeBodies = idle.length;
    for (const p of pending) p.finish();
    answers = await Promise.all(pending.map((p) => p.answer));
    exit = await server.exited;
    server = undefined;
  });

  after(async () => {
    await server?.stop();
    tmp?.cleanup();
  });

  it('stops accepting new connections and closes idle keep-alive sockets at once', () => {
    expect(refusedNewConnections).to.equal(true);
    expect(idleClosedBeforeBodies).to.equal(IDLE_KEEP_ALIVE);
  });

  it('answers every request in flight completely, with Connection: close', () => {
    expect(answers.map((a) => a.status)).to.deep.equal(Array(IN_FLIGHT).fill(201));
    expect(answers.map((a) => a.connection)).to.deep.equal(Array(IN_FLIGHT).fill('close'));
    expect(new Set(answers.map((a) => a.body.resident!.pseudonym)).size).to.equal(IN_FLIGHT);
  });

  it('exits 0 having drained without destroying a socket', () => {
    expect(exit).to.deep.equal({ code: 0, signal: null });
    const drained = lines.find((l) => l.msg === 'http: drained');
    expect(drained, JSON.stringify(lines.slice(-5))).to.include({ forced: 0 });
    expect(drained!.inFlight).to.be.at.least(IN_FLIGHT);
  });

  describe('after a restart', () => {
    before(async () => {
      server = await spawn();
    });

    it('knows every resident a 201 was sent to', async () => {
      const found = await Promise.all(
        tokens.map(async (t) => {
          const r = await fetch(`${server!.url}/v1/residents/me`, { headers: { authorization: `Bearer ${t}` } });
          return r.status === 200
            ? ((await r.json()) as { resident: { pseudonym: string } }).resident.pseudonym
            : `status ${r.status}`;
        }),
      );
      expect(found).to.deep.equal(answers.map((a) => a.body.resident!.pseudonym));
    });

    it('holds exactly the acknowledged residents, no more', async () => {
      await server!.stop();
      server = undefined;
      const ledger = await Ledger.open(join(tmp.dir, 'ledger'));
      try {
        let n = 0;
        for await (const _ of ledger.space('residents').keys()) n++;
        expect(n).to.equal(IN_FLIGHT);
      } finally {
        await ledger.close();
      }
    });
  });
});
