import { expect } from 'chai';
import { ChangeLog } from '../../server/cluster/worker';

describe("ChangeLog: which of a worker's cached answers crossed a change the writer announced", () => {
  it('keeps an answer asked for after the last change to its key, and drops one asked for before it', () => {
    const log = new ChangeLog();
    const before = log.now();
    log.change('p:alice');
    const after = log.now();
    expect(log.unchangedSince(before, 'p:alice')).to.equal(false);
    expect(log.unchangedSince(after, 'p:alice')).to.equal(true);
    // Another resident's change crosses nothing of Alice's.
    log.change('p:bob');
    expect(log.unchangedSince(after, 'p:alice')).to.equal(true);
    expect(log.unchangedSince(after, 'p:alice', 'p:bob')).to.equal(false);
  });

  it('drops every answer asked for before a change of everything (new rules or keys, a lost writer)', () => {
    const log = new ChangeLog();
    const before = log.now();
    log.changeAll();
    expect(log.unchangedSince(before, 'p:carol')).to.equal(false);
    expect(log.unchangedSince(log.now(), 'p:carol')).to.equal(true);
  });

  it('forgets changes past its size only by treating every earlier question as crossed', () => {
    const log = new ChangeLog();
    const before = log.now();
    for (let i = 0; i <= 50_000; i++) log.change(`p:${i}`);
    // p:dave never changed, yet the log no longer knows that for questions this old.
    expect(log.unchangedSince(before, 'p:dave')).to.equal(false);
    expect(log.unchangedSince(log.now(), 'p:dave')).to.equal(true);
  });
});
