import { expect } from 'chai';
import { join } from 'node:path';
import { Level } from 'level';
import type { ResidentRecord } from '../../server/services/residents';
import { ensureResidentIndexes } from '../../server/services/resident-index';
import { applicant, apply, MINUTE, startTestService, type TestService } from '../support/service';
import { tempDir } from '../support/tmp';

const DAY = 24 * 60 * MINUTE;

interface IndexState {
  atRisk: string[];
  counts: Record<string, Record<string, number>>;
}

/** The indexes as stored, and as they should be when recomputed from every resident record. */
async function indexes(svc: TestService): Promise<{ stored: IndexState; expected: IndexState }> {
  const { ledger } = svc.running.app;
  const stored: IndexState = { atRisk: [], counts: {} };
  for await (const [k, v] of ledger.space('index').iterator({ gt: 'atrisk/', lt: 'atrisk/~' }))
    stored.atRisk.push(`${k}=${String(v)}`);
  for await (const [k, v] of ledger.space('index').iterator({ gt: 'colours/', lt: 'colours/~' })) {
    const c = v as Record<string, number>;
    if (c.green + c.yellow + c.red > 0) stored.counts[k.slice('colours/'.length)] = c;
  }
  const expected: IndexState = { atRisk: [], counts: {} };
  for await (const value of ledger.space('residents').values()) {
    const r = value as ResidentRecord;
    if (r.colour !== 'green') expected.atRisk.push(`atrisk/${r.district}/${r.pseudonym}=${r.colour}`);
    const c = (expected.counts[r.district] ??= { green: 0, yellow: 0, red: 0 });
    c[r.colour]++;
  }
  expected.atRisk.sort();
  return { stored, expected };
}

describe('resident indexes (at-risk list and colour counts)', function () {
  this.timeout(60_000);
  let svc: TestService;
  let health: string;
  let tmp: { dir: string; cleanup: () => void };
  const people = [
    applicant({ district: '340104' }),
    applicant({ district: '340104' }),
    applicant({ district: '340102' }),
    applicant({ district: '340102' }),
    applicant({ district: '340202' }),
    applicant({ district: '340202' }),
  ];

  before(async () => {
    tmp = tempDir('ankang-index-');
    svc = await startTestService({ dir: tmp.dir });
    health = await svc.token('health');
  });
  after(async () => {
    await svc?.close();
    tmp?.cleanup();
  });

  it('follows applications, a fever, a move, a close-contact feed and the end of a quarantine', async () => {
    const tokens: string[] = [];
    for (const p of people) tokens.push((await apply(svc, p)).token);
    let { stored, expected } = await indexes(svc);
    expect(stored).to.deep.equal(expected);
    expect(expected.atRisk).to.deep.equal([]);

    svc.clock.advance(MINUTE);
    expect(
      (await apply(svc, { ...people[0], declaration: { ...people[0].declaration, temperatureC: 38.1 } })).body.resident
        .colour,
    ).to.equal('yellow');
    // A yellow resident moves: the index follows them to the new district.
    expect(
      (
        await apply(svc, {
          ...people[0],
          district: '340111',
          declaration: { ...people[0].declaration, temperatureC: 38.1 },
        })
      ).body.resident.district,
    ).to.equal('340111');
    const feed = await svc.call('POST', '/v1/feeds/close-contacts', {
      token: health,
      json: {
        records: [2, 4].map((i) => ({
          idType: people[i].idType,
          idNumber: people[i].idNumber,
          degree: 1,
          exposedAt: svc.clock.now().toISOString(),
        })),
      },
    });
    expect(feed.body).to.include({ changed: 2 });
    ({ stored, expected } = await indexes(svc));
    expect(stored).to.deep.equal(expected);
    expect(expected.atRisk.map((k) => k.replace(/\/[^/]+=/, '='))).to.have.members([
      'atrisk/340111=yellow',
      'atrisk/340102=red',
      'atrisk/340202=red',
    ]);

    const grid = await svc.call('GET', '/v1/grid/residents', { token: health });
    expect(grid.body.counts).to.deep.equal({ red: 2, yellow: 1 });
    const stats = await svc.call('GET', '/v1/stats/colours?by=city', { token: health });
    expect(stats.body.total).to.deep.equal({ green: 3, yellow: 1, red: 2, total: 6 });
    expect(stats.body.groups.map((g: { code: string; red: number }) => [g.code, g.red])).to.deep.equal([
      ['340100', 1],
      ['340200', 1],
    ]);

    // Past the quarantine window the reds return to green with nobody touching them.
    svc.clock.advance(15 * DAY);
    await svc.running.services.reevaluator.reviewDue();
    ({ stored, expected } = await indexes(svc));
    expect(stored).to.deep.equal(expected);
    expect((await svc.call('GET', '/v1/grid/residents?colour=red', { token: health })).body.counts.red).to.equal(0);
  });

  it('is rebuilt at start for a data folder written before the indexes existed', async () => {
    const before = (await svc.call('GET', '/v1/stats/colours', { token: health })).body;
    const grid = (await svc.call('GET', '/v1/grid/residents', { token: health })).body;
    await svc.stop();
    // What an older data folder looks like: no version mark, no entries, or wrong ones.
    const db = new Level<string, string>(join(tmp.dir, 'ledger'), { valueEncoding: 'utf8' });
    await db.open();
    const batch = db
      .batch()
      .del('!meta!residentIndex')
      .put('!index!colours/340104', JSON.stringify({ green: 99, yellow: 0, red: 0 }));
    for await (const k of db.keys({ gt: '!index!atrisk/', lt: '!index!atrisk/~' })) batch.del(k);
    batch.put('!index!atrisk/340999/forged', JSON.stringify('red'));
    await batch.write();
    await db.close();

    svc = await startTestService({ dir: tmp.dir, clock: svc.clock });
    const { stored, expected } = await indexes(svc);
    expect(stored).to.deep.equal(expected);
    const after = (await svc.call('GET', '/v1/stats/colours', { token: health })).body;
    expect({ ...after, at: undefined }).to.deep.equal({ ...before, at: undefined });
    expect((await svc.call('GET', '/v1/grid/residents', { token: health })).body).to.deep.equal(grid);
  });

  it('rebuilds in small chunks to the same indexes, and only when the version mark is missing', async () => {
    const { ledger } = svc.running.app;
    expect(await ensureResidentIndexes(ledger, 2)).to.deep.equal({ rebuilt: false, residents: 0 });
    await ledger.transact((tx) => {
      tx.del('meta', 'residentIndex');
      tx.put('index', 'atrisk/340999/forged', 'red');
    });
    expect(await ensureResidentIndexes(ledger, 2)).to.deep.equal({ rebuilt: true, residents: people.length });
    const { stored, expected } = await indexes(svc);
    expect(stored).to.deep.equal(expected);
  });
});
