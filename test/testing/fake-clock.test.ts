import { describe, expect, it } from 'vitest';
import { FAKE_CLOCK_DEFAULT_WALL_MS, FakeClock } from '../../src/testing/fake-clock';

describe('FakeClock', () => {
  it('starts at the given time and only moves by hand', () => {
    const c = new FakeClock({ now: 500 });
    expect(c.now()).toBe(500);
    expect(c.now()).toBe(500);
    c.advance(250);
    expect(c.now()).toBe(750);
    c.set(1000);
    expect(c.now()).toBe(1000);
  });

  it('derives wall time from the origin', () => {
    const c = new FakeClock({ now: 10, wall: new Date('2030-05-01T00:00:00Z') });
    c.advance(1500);
    expect(c.wallNow().toISOString()).toBe('2030-05-01T00:00:01.500Z');
    expect(new FakeClock().wallNow().getTime()).toBe(FAKE_CLOCK_DEFAULT_WALL_MS);
  });

  it('refuses to go backwards or advance by a negative amount', () => {
    const c = new FakeClock({ now: 100 });
    expect(() => c.set(99)).toThrow(RangeError);
    expect(() => c.advance(-1)).toThrow(RangeError);
    expect(() => c.advance(Number.NaN)).toThrow(RangeError);
    expect(c.now()).toBe(100);
  });

  it('fires timers in due order, ties in scheduling order, with now() at the due time', () => {
    const c = new FakeClock();
    const log: string[] = [];
    c.setTimeout(() => log.push(`b@${c.now()}`), 20);
    c.setTimeout(() => log.push(`a@${c.now()}`), 10);
    c.setTimeout(() => log.push(`c@${c.now()}`), 20);
    c.setTimeout(() => log.push(`late@${c.now()}`), 31);
    c.advance(30);
    expect(log).toEqual(['a@10', 'b@20', 'c@20']);
    expect(c.now()).toBe(30);
    expect(c.pendingTimers).toBe(1);
    c.advance(1);
    expect(log.at(-1)).toBe('late@31');
  });

  it('fires a timer exactly at its due time, not before', () => {
    const c = new FakeClock();
    let fired = false;
    c.setTimeout(() => {
      fired = true;
    }, 100);
    c.advance(99);
    expect(fired).toBe(false);
    c.advance(1);
    expect(fired).toBe(true);
  });

  it('runs timers scheduled by callbacks when they fall due in the same advance', () => {
    const c = new FakeClock();
    const log: number[] = [];
    const tick = () => {
      log.push(c.now());
      if (log.length < 5) c.setTimeout(tick, 10);
    };
    c.setTimeout(tick, 10);
    c.advance(35);
    expect(log).toEqual([10, 20, 30]);
    c.advance(100);
    expect(log).toEqual([10, 20, 30, 40, 50]);
  });

  it('clearTimeout cancels; unknown handles are ignored', () => {
    const c = new FakeClock();
    let n = 0;
    const h = c.setTimeout(() => n++, 5);
    c.setTimeout(() => n++, 6);
    c.clearTimeout(h);
    c.clearTimeout(h);
    c.advance(10);
    expect(n).toBe(1);
  });

  it('zero and invalid delays fire on the next advance, even advance(0)', () => {
    const c = new FakeClock();
    const log: string[] = [];
    c.setTimeout(() => log.push('zero'), 0);
    c.setTimeout(() => log.push('neg'), -5);
    c.setTimeout(() => log.push('nan'), Number.NaN);
    expect(log).toEqual([]);
    c.advance(0);
    expect(log).toEqual(['zero', 'neg', 'nan']);
  });

  it('set() fires due timers', () => {
    const c = new FakeClock({ now: 1000 });
    const seen: number[] = [];
    c.setTimeout(() => seen.push(c.now()), 500);
    c.set(2000);
    expect(seen).toEqual([1500]);
    expect(c.now()).toBe(2000);
  });

  it('runNext and runAll jump to due times; runAll stops runaway timers', () => {
    const c = new FakeClock();
    const seen: number[] = [];
    c.setTimeout(() => seen.push(c.now()), 300);
    c.setTimeout(() => seen.push(c.now()), 100);
    expect(c.nextTimerAt()).toBe(100);
    expect(c.runNext()).toBe(true);
    expect(seen).toEqual([100]);
    expect(c.runAll()).toBe(1);
    expect(seen).toEqual([100, 300]);
    expect(c.runNext()).toBe(false);
    expect(c.nextTimerAt()).toBeUndefined();

    const forever = () => c.setTimeout(forever, 1);
    forever();
    expect(() => c.runAll(50)).toThrow(/after 50/);
  });
});
