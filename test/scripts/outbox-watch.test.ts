import { expect } from 'chai';
import { join } from 'node:path';
import { latestCode, OutboxSmsSender, type OutboxEntry } from '../../server/identity/sms';
import { outboxLine, watchOutbox } from '../../scripts/lib/outbox-watch';
import { until } from '../../scripts/lib/wait';
import { applicant, startTestService, type TestService } from '../support/service';
import { tempDir } from '../support/tmp';

/** Long enough for a few polls at the watcher's 20 ms. */
const settle = () => new Promise((r) => setTimeout(r, 150));

describe('watchOutbox (npm start and npm run demo print one-time codes as they are sent)', function () {
  this.timeout(30_000);

  describe('while a person signs in on the service', () => {
    let svc: TestService;
    let watcher: { stop(): void };
    const seen: OutboxEntry[] = [];

    before(async () => {
      svc = await startTestService();
      // A sign-in before watching starts: its codes are not new.
      await svc.signIn(applicant());
      watcher = watchOutbox(svc.outbox, (e) => seen.push(e), 20);
    });
    after(async () => {
      watcher?.stop();
      await svc?.close();
    });

    it('reports the sign-in code and the sign-up confirmation once each, masked, and nothing written before it started', async () => {
      const person = applicant();
      const since = Date.now();
      await svc.signIn(person);
      await until('both codes', () => seen.length >= 2, 5000, 20);
      await settle();
      const masked = `${person.phone.slice(0, 3)}****${person.phone.slice(-4)}`;
      expect(seen.map((e) => [e.to, e.purpose])).to.deep.equal([
        [masked, 'login'],
        [masked, 'id-confirm'],
      ]);
      expect(seen[0].code).to.equal(
        await latestCode(svc.outbox, { phone: person.phone, purpose: 'login', after: since }),
      );
      expect(outboxLine(seen[0])).to.equal(`  SMS to ${masked} (login): ${seen[0].code}`);
    });
  });

  describe('on an outbox the service writes to', () => {
    let tmp: ReturnType<typeof tempDir>;
    let file: string;
    let now: number;
    let sender: OutboxSmsSender;
    beforeEach(() => {
      tmp = tempDir('ankang-outbox-');
      file = join(tmp.dir, 'sms-outbox.jsonl');
      now = Date.parse('2026-11-28T08:00:00Z');
      sender = new OutboxSmsSender(file, () => new Date(now));
    });
    afterEach(() => tmp?.cleanup());

    it('reports codes written in the same millisecond, whatever their numbers', async () => {
      const seen: OutboxEntry[] = [];
      const watcher = watchOutbox(file, (e) => seen.push(e), 20);
      try {
        await sender.send({ to: '13800002222', purpose: 'login', code: '222222' });
        await sender.send({ to: '13800001111', purpose: 'login', code: '111111' });
        await until('two codes', () => seen.length >= 2, 2000, 20).catch(() => undefined);
        await settle();
        expect(seen.map((e) => e.code)).to.deep.equal(['222222', '111111']);
      } finally {
        watcher.stop();
      }
    });

    it('reports only what was written after it started, once, when the file is replaced by a trim', async () => {
      await sender.send({ to: '13800001111', purpose: 'login', code: '111111' });
      const seen: OutboxEntry[] = [];
      const watcher = watchOutbox(file, (e) => seen.push(e), 20);
      try {
        await sender.send({ to: '13800002222', purpose: 'login', code: '222222' });
        await until('the second code', () => seen.length > 0, 2000, 20);
        // Two hours on, the old lines are dropped and the file is rewritten with the new one only.
        now += 2 * 3_600_000;
        await sender.send({ to: '13800003333', purpose: 'rebind', code: '333333' });
        await until('the third code', () => seen.length > 1, 2000, 20);
        await settle();
        expect(seen.map((e) => [e.to, e.purpose, e.code])).to.deep.equal([
          ['138****2222', 'login', '222222'],
          ['138****3333', 'rebind', '333333'],
        ]);
      } finally {
        watcher.stop();
      }
      await sender.send({ to: '13800004444', purpose: 'login', code: '444444' });
      await settle();
      expect(seen).to.have.length(2);
    });
  });
});
