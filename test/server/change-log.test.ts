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

  it('counts the changes to a key since a question, so an answer can own the ones its own transaction made', () => {
    const log = new ChangeLog();
    const asked = log.now();
    expect(log.changesSince(asked, 'p:erin')).to.equal(0);
    // The writer re-issued Erin's code in the answer's own transaction: one notice, named once.
    log.change('p:erin');
    expect(log.changesSince(asked, 'p:erin')).to.equal(1);
    // Someone else's write to her record after that: two, more than the answer made.
    log.change('p:erin');
    expect(log.changesSince(asked, 'p:erin')).to.equal(2);
    expect(log.changesSince(log.now(), 'p:erin')).to.equal(0);
    log.changeAll();
    expect(log.changesSince(asked, 'p:erin')).to.equal(Infinity);
  });

  it('cannot count past the changes it keeps per key, and says so', () => {
    const log = new ChangeLog();
    log.change('p:frank');
    const asked = log.now();
    for (let i = 0; i < 7; i++) log.change('p:frank');
    // Eight kept, the first of them before the question: it can still count the seven after it.
    expect(log.changesSince(asked, 'p:frank')).to.equal(7);
    log.change('p:frank');
    // The change before the question is let go: the oldest kept is after it, so more may have been.
    expect(log.changesSince(asked, 'p:frank')).to.equal(Infinity);
    expect(log.unchangedSince(asked, 'p:frank')).to.equal(false);
    expect(log.unchangedSince(log.now(), 'p:frank')).to.equal(true);
  });
});
