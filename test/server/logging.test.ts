import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { signIn } from '../../scripts/lib/sign-in';
import { until } from '../../scripts/lib/wait';
import { createLogger } from '../../server/http/log';
import { applicant, apply, ROOT, startTestService, type Application, type TestService } from '../support/service';
import { tempDir } from '../support/tmp';

const LEVELS = ['debug', 'info', 'warn', 'error'];
/** The fields of a request line, and nothing else. */
const REQUEST_KEYS = ['level', 'method', 'ms', 'msg', 'pid', 'route', 'status', 'time'];

type Line = Record<string, unknown> & { level: string; time: string; msg: string };

/** Parses every line as JSON and checks the fields every entry has. */
function parseLines(lines: string[]): Line[] {
  return lines.map((raw) => {
    let line: Line;
    try {
      line = JSON.parse(raw) as Line;
    } catch {
      throw new Error(`not a JSON line: ${raw}`);
    }
    expect(LEVELS, raw).to.include(line.level);
    expect(new Date(line.time).toISOString(), raw).to.equal(line.time);
    expect(line.msg, raw).to.be.a('string').and.not.equal('');
    return line;
  });
}

/** Checks a request line's fields: the route pattern, never a path with a query, and no body. */
function checkRequestLine(line: Line): void {
  expect(line.level).to.equal('info');
  expect(Object.keys(line).sort()).to.deep.equal(REQUEST_KEYS);
  expect(line.method).to.be.a('string');
  expect(line.route).to.be.a('string').and.not.include('?');
  expect(line.status).to.be.a('number');
  expect(line.ms).to.be.a('number').and.at.least(0);
}

/** Things a person's requests carried that no log line may hold. */
function secretsOf(person: Application, ...more: string[]): string[] {
  return [person.name, person.phone, person.idNumber, ...more];
}

describe('logs', function () {
  this.timeout(120_000);

  describe('of a service in this process, at LOG_LEVEL=info', () => {
    let svc: TestService;
    const person = applicant();
    let access: string;
    let refresh: string;
    const querySecret = 'q-secret-7f3a9c';

    before(async () => {
      svc = await startTestService({ captureLog: 'info' });
      const r = await apply(svc, person);
      expect(r.status).to.equal(201);
      access = r.token;
      refresh = r.session.refresh;
      expect(
        (await svc.call('GET', `/v1/residents/me?token=${querySecret}&phone=${person.phone}`, { token: access }))
          .status,
      ).to.equal(200);
      // A refused body that names the person, and a path holding the ID number.
      expect(
        (await svc.call('POST', '/v1/residents', { token: access, json: { ...person, district: 'nowhere' } })).status,
      ).to.equal(400);
      expect(
        (await svc.call('GET', `/v1/residents/${person.idNumber}/${querySecret}`, { token: access })).status,
      ).to.equal(404);
      expect((await svc.call('POST', '/v1/auth/refresh', { json: { refreshToken: refresh } })).status).to.equal(200);
    });
    after(async () => {
      await svc?.close();
    });

    it('writes JSON lines, each with level, an ISO time and msg', () => {
      expect(svc.logs.length).to.be.greaterThan(5);
      parseLines(svc.logs);
    });

    it('logs every request at info with method, route pattern, status and ms, and nothing else', () => {
      const requests = parseLines(svc.logs).filter((l) => l.msg === 'request');
      for (const line of requests) checkRequestLine(line);
      const seen = requests.map((l) => `${l.method} ${l.route} ${l.status}`);
      expect(seen).to.include.members([
        'POST /v1/residents 201',
        'GET /v1/residents/me 200',
        'POST /v1/residents 400',
        'GET unmatched 404',
        'POST /v1/auth/refresh 200',
        // The sign-in through the embedded provider: its requests are logged too, under one route.
        'GET /idp/* 200',
      ]);
    });

    it('holds no body, query string, token, name, phone or ID number the requests carried', () => {
      const text = svc.logs.join('\n');
      for (const s of secretsOf(person, access, refresh, querySecret))
        expect(text, `the log holds ${s}`).to.not.include(s);
      for (const line of parseLines(svc.logs)) expect(line).to.not.have.any.keys('body', 'query', 'headers');
    });
  });

  describe('createLogger', () => {
    const capture = (level: Parameters<typeof createLogger>[0]) => {
      const lines: string[] = [];
      return { lines, log: createLogger(level, (l) => lines.push(l)) };
    };

    it('censors fields that could carry a credential or personal data, at the top level and one level down', () => {
      const { lines, log } = capture('info');
      log.info('slip', {
        phone: '13912345678',
        idNumber: '340104199001011234',
        ok: 1,
        req: { authorization: 'Bearer abc', name: '张三', route: '/v1/x' },
      });
      expect(lines).to.have.length(1);
      expect(lines[0])
        .to.not.include('13912345678')
        .and.not.include('340104199001011234')
        .and.not.include('Bearer abc')
        .and.not.include('张三');
      const [line] = parseLines(lines);
      expect(line).to.deep.include({
        level: 'info',
        msg: 'slip',
        phone: '[redacted]',
        idNumber: '[redacted]',
        ok: 1,
        req: { authorization: '[redacted]', name: '[redacted]', route: '/v1/x' },
      });
    });

    it('writes nothing below its level, and nothing at all when silent', () => {
      const warn = capture('warn');
      warn.log.debug('d');
      warn.log.info('i');
      warn.log.warn('w', { n: 1 });
      warn.log.error('e');
      expect(parseLines(warn.lines).map((l) => [l.level, l.msg])).to.deep.equal([
        ['warn', 'w'],
        ['error', 'e'],
      ]);
      const silent = capture('silent');
      silent.log.error('e');
      expect(silent.lines).to.deep.equal([]);
    });
  });

  describe('of server/main.ts as its own process', () => {
    let tmp: ReturnType<typeof tempDir>;
    let child: ChildProcess | undefined;
    const lines: string[] = [];
    let stderr = '';
    const person = applicant();
    let access = '';

    before(async () => {
      tmp = tempDir('ankang-logging-');
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        PORT: '0',
        HOST: '127.0.0.1',
        DATA_DIR: tmp.dir,
        LOG_LEVEL: 'info',
      };
      for (const k of ['CHAIN_RPC_URL', 'CHAIN_DEV', 'ANCHOR_CONTRACT', 'ADMIN_TOKEN', 'PUBLIC_URL']) delete env[k];
      child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'server/main.ts')], {
        cwd: ROOT,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stderr!.on('data', (d) => (stderr += d));
      createInterface({ input: child.stdout! }).on('line', (l) => lines.push(l));
      const listening = await until(
        'the listening line',
        () => lines.map((l) => JSON.parse(l) as { msg: string; url?: string }).find((l) => l.msg === 'listening'),
        60_000,
        50,
      );
      const url = listening.url!;
      access = (await signIn(url, person, { codes: join(tmp.dir, 'sms-outbox.jsonl') })).access;
      const r = await fetch(`${url}/v1/residents?token=${access}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${access}` },
        body: JSON.stringify(person),
      });
      expect(r.status).to.equal(201);
      await until("the application's request line", () => lines.some((l) => l.includes('"route":"/v1/residents"')));
    });
    after(async () => {
      if (child && child.exitCode === null) {
        const exited = new Promise((done) => child!.once('exit', done));
        child.kill('SIGTERM');
        await exited;
      }
      tmp?.cleanup();
    });

    it('writes only JSON lines on stdout, the listening line among them, and nothing on stderr', () => {
      const parsed = lines.map((l) => JSON.parse(l) as { msg: string });
      expect(parsed.map((l) => l.msg)).to.include('listening');
      parseLines(lines.filter((l) => !l.startsWith('{"msg":"listening"')));
      expect(stderr).to.equal('');
    });

    it('logs the application at info without the person or the token', () => {
      const requests = parseLines(lines.filter((l) => !l.startsWith('{"msg":"listening"'))).filter(
        (l) => l.msg === 'request',
      );
      for (const line of requests) checkRequestLine(line);
      expect(requests.map((l) => `${l.method} ${l.route} ${l.status}`)).to.include('POST /v1/residents 201');
      const text = lines.join('\n');
      for (const s of secretsOf(person, access)) expect(text, `stdout holds ${s}`).to.not.include(s);
    });
  });
});
