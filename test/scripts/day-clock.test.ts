import { expect } from 'chai';
import { dayClock } from '../../scripts/demo/day-clock';

const HOUR = 3_600_000;
/** An instant given as Asia/Shanghai wall time on 2026-11-28. */
const shanghai = (hhmm: string) => Date.parse(`2026-11-28T${hhmm}:00+08:00`);

describe('the demo day clock (scripts/demo/day-clock)', () => {
  it('runs the story from 06:00 to 19:00 of today when the day is past it, jumping forward only', () => {
    let real = shanghai('20:30');
    const day = dayClock(real, () => real)!;
    expect(day.from.getTime()).to.equal(shanghai('06:00'));
    expect(day.to.getTime()).to.equal(shanghai('19:00'));
    expect(day.clock().getTime()).to.equal(shanghai('06:00'));
    real += 10_000;
    expect(day.clock().getTime(), 'runs at real speed between jumps').to.equal(shanghai('06:00') + 10_000);
    day.advanceTo(8);
    expect(day.clock().getTime()).to.equal(shanghai('08:00'));
    day.advanceTo(7);
    expect(day.clock().getTime(), 'never backwards').to.equal(shanghai('08:00'));
    day.advanceTo(16.5);
    expect(day.clock().getTime()).to.equal(shanghai('16:30'));
    day.release();
    expect(day.clock().getTime()).to.equal(real);
  });

  it('squeezes the story into what has passed of today, ending five minutes ago', () => {
    const real = shanghai('09:00');
    const day = dayClock(real, () => real)!;
    expect(day.from.getTime()).to.equal(shanghai('00:00'));
    expect(day.to.getTime()).to.equal(shanghai('08:55'));
    day.advanceTo(12.5);
    expect(day.clock().getTime()).to.equal(shanghai('00:00') + (6.5 / 13) * (8 + 55 / 60) * HOUR);
  });

  it('never runs ahead of real time, whatever hour it is asked for', () => {
    let real = shanghai('20:30');
    const day = dayClock(real, () => real)!;
    day.advanceTo(30);
    expect(day.clock().getTime()).to.equal(shanghai('19:00'));
    real = shanghai('18:00'); // a clock stepped back under it
    day.advanceTo(19);
    expect(day.clock().getTime()).to.be.at.most(real);
  });

  it('is not used in the first hour of the day', () => {
    expect(dayClock(shanghai('00:50'))).to.equal(undefined);
    expect(dayClock(shanghai('01:10'))).to.not.equal(undefined);
  });
});
