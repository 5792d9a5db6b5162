import { expect } from 'chai';
import { join } from 'node:path';
import type { OutboxEntry } from '../../server/identity/sms';
import { latestCode, OutboxSmsSender } from '../../server/identity/sms';
import { codeLine, followOutbox, type OutboxFollower } from '../../scripts/demo/outbox-follow';
import { until } from '../../scripts/lib/wait';
import { applicant, startTestService, type TestService } from '../support/service';
import { tempDir } from '../support/tmp';

describe('followOutbox (npm run demo prints one-time codes as they are sent)', function () {
  this.timeout(30_000);

  describe('while a person signs in on the service', () => {
    let svc: TestService;
    let follower: OutboxFollower;
    const seen: OutboxEntry[] = [];

    before(async () => {
      svc = await startTestService();
      // A sign-in before following starts: its codes are not new.
      await svc.signIn(applicant());
      follower = await followOutbox(svc.outbox, (e) => seen.push(e), { intervalMs: 20 });
    });
    after(async () => {
      await follower?.stop();
      await svc?.close();
    });

    it('reports the sign-in code and the sign-up confirmation once each, masked, and nothing written before it started', async () => {
      const person = applicant();
      const since = Date.now();
      await svc.signIn(person);
      await until('both codes', () => seen.length >= 2, 5000, 20);
      await new Promise((r) => setTimeout(r, 100));
      const masked = `${person.phone.slice(0, 3)}****${person.phone.slice(-4)}`;
      expect(seen.map((e) => [e.to, e.purpose])).to.deep.equal([
        [masked, 'login'],
        [masked, 'id-confirm'],
      ]);
      expect(seen[0].code).to.equal(await latestCode(svc.outbox, { phone: person.phone, purpose: 'login', after: since }));
      expect(codeLine(seen[0])).to.equal(`one-time code for ${masked} (login): ${seen[0].code}`);
    });
  });

  describe('when the service trims the outbox by replacing the file', () => {
    let tmp: ReturnType<typeof tempDir>;
    before(() => {
      tmp = tempDir('ankang-outbox-');
    });
    after(() => tmp?.cleanup());

    it('reports only the message written after it started, once', async () => {
      const file = join(tmp.dir, 'sms-outbox.jsonl');
      let now = Date.parse('2026-11-28T08:00:00Z');
      const sender = new OutboxSmsSender(file, () => new Date(now));
      await sender.send({ to: '13800001111', purpose: 'login', code: '111111' });
      const seen: OutboxEntry[] = [];
      const follower = await followOutbox(file, (e) => seen.push(e), { intervalMs: 20 });
      try {
        // Two hours on, the old line is dropped and the file is rewritten with the new one only.
        now += 2 * 3_600_000;
        await sender.send({ to: '13800002222', purpose: 'rebind', code: '222222' });
        await until('the new code', () => seen.length > 0, 5000, 20);
        await new Promise((r) => setTimeout(r, 100));
        expect(seen.map((e) => [e.to, e.purpose, e.code])).to.deep.equal([['138****2222', 'rebind', '222222']]);
      } finally {
        await follower.stop();
      }
      await sender.send({ to: '13800003333', purpose: 'login', code: '333333' });
      await new Promise((r) => setTimeout(r, 100));
      expect(seen).to.have.length(1);
    });
  });
});
