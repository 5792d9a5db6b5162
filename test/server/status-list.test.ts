import { expect } from 'chai';
import { randomBytes, randomInt } from 'node:crypto';
import {
  decodeCode,
  loadStatusList,
  prepareTrustList,
  signCode,
  verifyCode,
  type ResidentClaims,
  type StatusList,
} from '../../verifier/src';
import {
  COVER_RATE_RANGE,
  MIN_STATUS_LIST_SIZE,
  StatusBook,
  StatusCover,
  statusListSizeFor,
} from '../../server/issuer/status-book';
import type { ResidentRecord } from '../../server/services/residents';
import { buildTrustList, createTestIssuer, type TestIssuer } from '../support/issuer-fixture';
import { registerVenue, newResident, reportCloseContact, staffScan, type Resident } from '../support/scenario';
import { MINUTE, startTestService, type TestService } from '../support/service';
import { tempDir } from '../support/tmp';
import { Ledger } from '../../ledger/ledger';
import { join } from 'node:path';

const NOW = 1_780_000_000;

/** Residents of each colour, as a StatusBook holds them after their applications (indexes drawn as the service draws them). */
function bookOf(
  issuer: TestIssuer,
  people: { green?: number; yellow?: number; red?: number },
  cover: Uint8Array | StatusCover = randomBytes(32),
): StatusBook {
  const book = new StatusBook(issuer.id, 60, cover);
  const take = (value: number, n: number) => {
    for (let k = 0; k < n; k++) {
      let i: number;
      do i = randomInt(book.drawSpace(1));
      while (book.isIssued(i));
      book.set(i, value);
    }
  };
  take(0, people.green ?? 0);
  take(1, people.yellow ?? 0);
  take(2, people.red ?? 0);
  return book;
}

async function publish(issuer: TestIssuer, book: StatusBook): Promise<{ bytes: Uint8Array; list: StatusList }> {
  const { bytes } = await book.current(NOW, issuer.signer);
  const r = await loadStatusList(bytes, prepareTrustList(buildTrustList([issuer])));
  if (!r.valid) throw new Error(r.message);
  return { bytes, list: r.statusList };
}

function countColours(list: StatusList): { green: number; yellow: number; red: number; suspended: number } {
  const n = { green: 0, yellow: 0, red: 0, suspended: 0 };
  for (let i = 0; i < list.size; i++) n[list.get(i)!]++;
  return n;
}

describe('the status list (herd privacy)', () => {
  const issuer = createTestIssuer();

  describe('its size', () => {
    it('is 2^18 entries up to 131,072 residents, then doubles so that at most half is held', () => {
      expect(statusListSizeFor(0)).to.equal(MIN_STATUS_LIST_SIZE);
      expect(MIN_STATUS_LIST_SIZE).to.equal(262_144);
      expect(statusListSizeFor(10)).to.equal(262_144);
      expect(statusListSizeFor(100_000)).to.equal(262_144);
      expect(statusListSizeFor(131_072)).to.equal(262_144);
      expect(statusListSizeFor(131_073)).to.equal(524_288);
      expect(statusListSizeFor(10_000_000)).to.equal(1 << 25);
      expect(statusListSizeFor(1 << 30)).to.equal(1 << 26);
    });
  });

  describe('of 10 residents and of 100,000 (1% red, 2% yellow)', () => {
    let small: { bytes: Uint8Array; list: StatusList };
    let large: { bytes: Uint8Array; list: StatusList };
    let largeBook: StatusBook;

    before(async () => {
      small = await publish(issuer, bookOf(issuer, { green: 10 }));
      largeBook = bookOf(issuer, { green: 97_000, yellow: 2_000, red: 1_000 });
      large = await publish(issuer, largeBook);
    });

    it('has as many entries', () => {
      expect(small.list.size).to.equal(262_144);
      expect(large.list.size).to.equal(262_144);
      expect(largeBook.size).to.equal(100_000);
    });

    it("is as many gzip'd bytes as a list of 10 residents can be, whatever the cover rates", async () => {
      // The bytes follow the share of non-green entries, which the secret cover rates set: the
      // two ends of the public range bound what a list of 10 residents weighs.
      const at = (rate: number) => new StatusCover(randomBytes(32), { yellow: rate, red: rate });
      const lightest = (await publish(issuer, bookOf(issuer, { green: 10 }, at(COVER_RATE_RANGE.red[0])))).bytes.length;
      const heaviest = (await publish(issuer, bookOf(issuer, { green: 10 }, at(COVER_RATE_RANGE.red[1])))).bytes.length;
      for (const b of [small.bytes.length, large.bytes.length])
        expect(b).to.be.within(lightest * 0.97, heaviest * 1.03);
    });

    it('shows colour shares that cover alone could give, for any of its cover keys', async () => {
      // Whatever a list holds, a list of 10 residents under some secret rates in the public range
      // publishes the same shares (within binomial noise): the counts give neither the population nor its split.
      for (const { list } of [small, large]) {
        const n = countColours(list);
        expect(n.suspended).to.equal(0);
        for (const colour of ['yellow', 'red'] as const) {
          const [lo, hi] = COVER_RATE_RANGE[colour];
          const noise = 5 * Math.sqrt(list.size * hi);
          expect(n[colour], colour).to.be.within(lo * list.size - noise, hi * list.size + noise);
        }
      }
    });
  });

  describe('read by an outsider who knows the public cover range but not the secret rates', () => {
    it('cannot read the red count: its estimate errs by more than twice the gap between 10 red residents and 1,000 among 100,000', async function () {
      this.timeout(120_000);
      // The simple estimator: red residents ≈ red entries − (the range's middle rate × entries).
      // Over many issuers (cover keys) of each world, its root-mean-square error must exceed
      // twice the gap between the worlds' true counts, so one list cannot place its issuer in
      // either. With public fixed rates the error would be binomial noise (about 100).
      const mid = (COVER_RATE_RANGE.red[0] + COVER_RATE_RANGE.red[1]) / 2;
      const rmsError = async (people: { green?: number; yellow?: number; red: number }) => {
        let sum = 0;
        for (let k = 0; k < 60; k++) {
          const { list } = await publish(issuer, bookOf(issuer, people));
          sum += (countColours(list).red - mid * list.size - people.red) ** 2;
        }
        return Math.sqrt(sum / 60);
      };
      const gap = 1_000 - 10;
      expect(await rmsError({ red: 10 }), '10 red residents').to.be.above(2 * gap);
      expect(await rmsError({ green: 97_000, yellow: 2_000, red: 1_000 }), '1,000 red among 100,000').to.be.above(
        2 * gap,
      );
    });
  });

  describe('its cover', () => {
    it('is the same at every signing, and an entry freed by its resident returns to its cover value', async () => {
      const key = randomBytes(32);
      const book = bookOf(issuer, { green: 50 }, key);
      const first = (await publish(issuer, book)).list;
      const again = (await publish(issuer, bookOf(issuer, {}, key))).list;
      const cover = new StatusCover(key);
      let held = -1;
      // One assertion over the 2^18 entries, not one each: the loop must stay cheap on a loaded machine.
      const differing: number[] = [];
      for (let i = 0; i < first.size; i++) {
        if (book.isIssued(i)) held = i;
        else if (first.get(i) !== again.get(i)) differing.push(i);
      }
      expect(differing, 'cover entries that changed between signings').to.deep.equal([]);
      book.set(held, 2);
      book.release(held);
      expect(book.isIssued(held)).to.equal(false);
      expect(book.size).to.equal(49);
      const after = (await publish(issuer, book)).list;
      expect(after.get(held)).to.equal(['green', 'yellow', 'red'][cover.valueAt(held)]);
    });

    it('never holds suspended (3): the issuer never suspends, so a 3 would mark an entry as cover', async () => {
      expect(countColours((await publish(issuer, bookOf(issuer, {}))).list).suspended).to.equal(0);
    });
  });

  describe('checked by a verifier', () => {
    it('gives the right colour for held entries, and REVOKED for a superseded or suspended code', async () => {
      const book = new StatusBook(issuer.id, 60, randomBytes(32));
      book.set(7, 0);
      book.set(70_000, 2);
      book.set(200_000, 3);
      const { bytes } = await publish(issuer, book);
      const trustList = buildTrustList([issuer]);
      const verify = async (statusIndex: number, colour: 'green' | 'yellow' | 'red') =>
        verifyCode(
          await issuer.sign(issuer.residentClaims({ iat: NOW - 60, exp: NOW + 540, health: { statusIndex, colour } })),
          { trustList, statusLists: [bytes], now: new Date(NOW * 1000) },
        );
      expect(await verify(7, 'green')).to.include({ valid: true, code: 'VALID' });
      expect(await verify(70_000, 'red')).to.include({ valid: true, code: 'VALID' });
      expect(await verify(70_000, 'green')).to.include({ valid: false, code: 'REVOKED' });
      expect(await verify(200_000, 'green')).to.include({ valid: false, code: 'REVOKED' });
    });
  });
});

describe('status indexes of a resident', () => {
  let svc: TestService;
  let resident: Resident;
  let operator: string;
  let venueId: string;
  const index = (code: string) => (decodeCode(code).claims as ResidentClaims).health.statusIndex;
  const code = async (mode: 'dynamic' | 'printed' = 'dynamic') => {
    const r = await svc.call('GET', `/v1/residents/me/code?mode=${mode}`, { token: resident.token });
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    return r.body.code as string;
  };
  const statusListBytes = async () => new Uint8Array((await svc.call('GET', '/v1/status-list')).bytes);
  const trustList = async () => (await svc.call('GET', '/v1/trust-list')).body;

  before(async () => {
    svc = await startTestService();
    operator = await svc.token('operator');
    venueId = (
      await registerVenue(svc, operator, {
        type: 'crowded-place',
        subtype: 'mall',
        name: '合肥某商场',
        district: '340104',
      })
    ).id;
    resident = await newResident(svc);
  });
  after(() => svc?.close());

  it('are drawn at random across the whole list, not one after another', async () => {
    const others = [await newResident(svc), await newResident(svc), await newResident(svc)];
    const indexes = [resident, ...others].map((r) => index(r.code));
    expect(new Set(indexes).size).to.equal(4);
    // Four sequential draws would all be below 4; four random ones from 2^18 all are with odds 2^-64.
    expect(Math.max(...indexes)).to.be.at.least(4);
    for (const i of indexes) expect(i).to.be.below(svc.running.app.statusBook.listSize);
  });

  it('stay the same for every code issued while one that carries the index lives', async () => {
    const first = index(resident.code);
    const printed = await code('printed');
    expect(index(printed)).to.equal(first);
    // The dynamic code expires after 10 minutes; the printed one, which carries the same index, lives on.
    svc.clock.advance(30 * MINUTE);
    expect(index(await code())).to.equal(first);
    expect(svc.running.app.statusBook.isIssued(first)).to.equal(true);
  });

  describe('once every code that carried the index has expired', () => {
    let oldIndex: number;
    let fresh: string;
    let newIndex: number;

    before(async () => {
      oldIndex = index(resident.code);
      const record = (await svc.running.app.ledger.read<ResidentRecord>('residents', resident.pseudonym))!;
      expect(record.statusIndexUntil).to.be.a('number');
      svc.clock.ms = (record.statusIndexUntil! + 61) * 1000;
      fresh = await code();
      newIndex = index(fresh);
    });

    it('the next code carries a new index, which codes within its lifetime then share', async () => {
      expect(newIndex).to.not.equal(oldIndex);
      svc.clock.advance(5 * MINUTE);
      expect(index(await code())).to.equal(newIndex);
      const me = await svc.call('GET', '/v1/residents/me', { token: resident.token });
      expect(me.body.resident.statusIndex).to.equal(newIndex);
    });

    it('frees the old index and records the new one alone in a status.reindexed event', async () => {
      const { ledger, statusBook } = svc.running.app;
      expect(await ledger.read('residentsByIndex', String(oldIndex))).to.equal(undefined);
      expect(await ledger.read('residentsByIndex', String(newIndex))).to.equal(resident.pseudonym);
      expect(statusBook.isIssued(oldIndex)).to.equal(false);
      expect(statusBook.isIssued(newIndex)).to.equal(true);
      const seqs = await ledger.subjectSeqs(`r:${resident.pseudonym}`);
      const events = await Promise.all(seqs.map((s) => ledger.getEvent(s)));
      const reindexed = events.filter((e) => e!.type === 'status.reindexed');
      expect(reindexed).to.have.length(1);
      expect(reindexed[0]!.data).to.deep.equal({ statusIndex: newIndex });
    });

    it('a verifier holding the fresh status list admits the new code in its colour', async () => {
      const v = await verifyCode(fresh, {
        trustList: await trustList(),
        statusLists: [await statusListBytes()],
        now: svc.clock.now(),
      });
      expect(v).to.include({ valid: true, code: 'VALID' });
    });

    it('a code naming the freed index is refused at a staff scan with STATUS_INDEX_UNKNOWN', async () => {
      const claims = decodeCode(fresh).claims as ResidentClaims;
      const forged = await signCode(
        { ...claims, cti: 'c0000000000000aa', health: { ...claims.health, statusIndex: oldIndex } },
        svc.running.app.keys.active().signer,
      );
      const r = await staffScan(svc, operator, { venueId, code: forged });
      expect(r.body).to.include({ decision: 'deny', codeResult: 'STATUS_INDEX_UNKNOWN' });
      expect((await staffScan(svc, operator, { venueId, code: fresh })).body).to.include({
        decision: 'admit',
        codeResult: 'VALID',
      });
    });
  });

  describe('when the colour changes after every code that carried the index has expired', () => {
    it('the change lands on a newly drawn index, and the old entry returns to its cover value', async () => {
      const other = await newResident(svc);
      const oldIndex = index(other.code);
      const before = (await svc.call('GET', '/v1/residents/me', { token: other.token })).body.resident.statusIndex;
      expect(before).to.equal(oldIndex);
      svc.clock.advance(30 * MINUTE);
      await reportCloseContact(svc, await svc.token('feed', { source: 'telecom' }), other);
      const { ledger, statusBook } = svc.running.app;
      const record = (await ledger.read<ResidentRecord>('residents', other.pseudonym))!;
      expect(record.colour).to.equal('red');
      expect(record.statusIndex).to.not.equal(oldIndex);
      expect(record.statusIndexUntil).to.equal(null);
      expect(statusBook.isIssued(oldIndex)).to.equal(false);
      expect(statusBook.get(record.statusIndex)).to.equal(2);
      const seqs = await ledger.subjectSeqs(`r:${other.pseudonym}`);
      const types = (await Promise.all(seqs.map((s) => ledger.getEvent(s)))).map(
        (e) => `${e!.type} ${e!.data.statusIndex ?? ''}`,
      );
      expect(types.slice(-2)).to.deep.equal([
        `status.reindexed ${record.statusIndex}`,
        `status.changed ${record.statusIndex}`,
      ]);
      const signed = await loadStatusList(await statusListBytes(), prepareTrustList(await trustList()));
      if (!signed.valid) throw new Error(signed.message);
      expect(signed.statusList.get(oldIndex)).to.equal(
        ['green', 'yellow', 'red'][new StatusCover(svc.running.app.secrets.statusCoverKey).valueAt(oldIndex)],
      );
      expect(signed.statusList.get(record.statusIndex)).to.equal('red');
      // The next code carries the index the change landed on.
      const r = await svc.call('GET', '/v1/residents/me/code', { token: other.token });
      expect(index(r.body.code)).to.equal(record.statusIndex);
      expect(r.body.colour).to.equal('red');
    });
  });
});

describe('a data folder written before random status indexes', () => {
  it('keeps its sequential indexes held until their codes expire, then re-draws them', async function () {
    this.timeout(60_000);
    const tmp = tempDir();
    let svc: TestService | undefined;
    try {
      svc = await startTestService({ dir: tmp.dir });
      const residents = [await newResident(svc), await newResident(svc)];
      const clock = svc.clock;
      await svc.stop();
      // What the old code wrote: indexes 0 and 1, a meta/nextStatusIndex counter, no statusIndexUntil.
      const ledger = await Ledger.open(join(tmp.dir, 'ledger'));
      for (const [i, r] of residents.entries()) {
        const rec = (await ledger.read<ResidentRecord>('residents', r.pseudonym))!;
        await ledger.space('residentsByIndex').del(String(rec.statusIndex));
        await ledger.space('residentsByIndex').put(String(i), r.pseudonym);
        const { statusIndexUntil: _, ...old } = { ...rec, statusIndex: i };
        await ledger.space('residents').put(r.pseudonym, old);
      }
      await ledger.space('meta').put('nextStatusIndex', 2);
      await ledger.close();

      svc = await startTestService({ dir: tmp.dir, clock });
      const book = svc.running.app.statusBook;
      expect([book.isIssued(0), book.isIssued(1), book.size, book.listSize]).to.deep.equal([
        true,
        true,
        2,
        MIN_STATUS_LIST_SIZE,
      ]);
      const codeOf = async (r: Resident) =>
        (await svc!.call('GET', '/v1/residents/me/code', { token: r.token })).body.code as string;
      // A code re-issued (past the refresh margin) within the old code's life keeps the index.
      const exp = (decodeCode(residents[0].code).claims as ResidentClaims).exp;
      svc.clock.ms = (exp - 60) * 1000;
      expect(index(await codeOf(residents[0]))).to.equal(0);
      svc.clock.advance(20 * MINUTE);
      const fresh = await codeOf(residents[1]);
      expect(index(fresh)).to.not.equal(1);
      expect(book.isIssued(1)).to.equal(false);
      expect(book.isIssued(index(fresh))).to.equal(true);
      expect(await svc.running.app.ledger.read('residentsByIndex', '1')).to.equal(undefined);
    } finally {
      await svc?.stop();
      tmp.cleanup();
    }
  });
});

function index(code: string): number {
  return (decodeCode(code).claims as ResidentClaims).health.statusIndex;
}
