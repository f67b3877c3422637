/**
 * A {@link Clock} driven by hand, for deterministic tests of anything that takes a clock
 * (balancers, affinity tables, outlier detection, timeouts). It never touches real timers.
 *
 * @module
 */
import type { Clock, TimerHandle } from '../core/clock';

/** Default wall-clock origin of a {@link FakeClock}: 2025-01-01T00:00:00Z, so output is stable. */
export const FAKE_CLOCK_DEFAULT_WALL_MS = Date.UTC(2025, 0, 1);

/** Options of {@link FakeClock}. */
export interface FakeClockOptions {
  /** Initial monotonic time in ms. Default 0. */
  readonly now?: number;
  /** Wall-clock time at the initial `now`, as a Date or epoch ms. Default {@link FAKE_CLOCK_DEFAULT_WALL_MS}. */
  readonly wall?: Date | number;
}

interface FakeTimer extends TimerHandle {
  readonly due: number;
  readonly seq: number;
  readonly fn: () => void;
}

function makeTimer(due: number, seq: number, fn: () => void): FakeTimer {
  return { __timer: true, due, seq, fn };
}

/**
 * A manual clock. `now()` only moves through {@link FakeClock.advance} and {@link FakeClock.set};
 * `wallNow()` moves with it from its origin. Timers fire synchronously inside `advance`/`set`,
 * in due-time order (ties in scheduling order), with `now()` equal to each timer's due time while
 * it runs; timers scheduled by a callback fire in the same call when they fall due within it.
 * A delay that is negative or not finite counts as 0, and a 0 ms timer fires on the next
 * `advance` (even `advance(0)`).
 */
export class FakeClock implements Clock {
  private current: number;
  private readonly wallOrigin: number;
  private readonly monoOrigin: number;
  private seq = 0;
  private timers: FakeTimer[] = [];

  constructor(options: FakeClockOptions = {}) {
    this.current = options.now ?? 0;
    this.monoOrigin = this.current;
    const wall = options.wall ?? FAKE_CLOCK_DEFAULT_WALL_MS;
    this.wallOrigin = typeof wall === 'number' ? wall : wall.getTime();
  }

  /** Current time in ms. */
  now(): number {
    return this.current;
  }

  /** Wall-clock origin plus the time advanced since construction. */
  wallNow(): Date {
    return new Date(this.wallOrigin + (this.current - this.monoOrigin));
  }

  /** Schedules `fn` at `now() + ms`. */
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    const timer = makeTimer(this.current + delay, this.seq++, fn);
    this.timers.push(timer);
    return timer;
  }

  /** Cancels a pending timer; unknown or already-fired handles are ignored. */
  clearTimeout(handle: TimerHandle): void {
    this.timers = this.timers.filter((t) => t !== handle);
  }

  /** Number of timers not yet fired. */
  get pendingTimers(): number {
    return this.timers.length;
  }

  /** Due time of the next timer, or `undefined` when none is pending. */
  nextTimerAt(): number | undefined {
    return this.nextTimer()?.due;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due on the way.
   * @throws RangeError when `ms` is negative or not finite.
   */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`FakeClock.advance: ms must be >= 0, got ${ms}`);
    this.runUntil(this.current + ms);
  }

  /**
   * Moves time to `ms` (absolute, same scale as `now()`), firing due timers.
   * @throws RangeError when `ms` is before `now()` (a Clock never goes backwards).
   */
  set(ms: number): void {
    if (!Number.isFinite(ms) || ms < this.current) {
      throw new RangeError(`FakeClock.set: time cannot go backwards (now ${this.current}, asked ${ms})`);
    }
    this.runUntil(ms);
  }

  /**
   * Fires the next pending timer, moving time to its due time. Returns false when none is pending.
   */
  runNext(): boolean {
    const next = this.nextTimer();
    if (next === undefined) return false;
    this.runUntil(Math.max(next.due, this.current), true);
    return true;
  }

  /**
   * Fires timers until none is pending, at most `limit` of them (timers that keep rescheduling
   * themselves would never end). Returns how many fired.
   * @throws Error when `limit` timers fired and more remain.
   */
  runAll(limit = 10_000): number {
    let fired = 0;
    while (this.timers.length > 0) {
      if (fired === limit)
        throw new Error(`FakeClock.runAll: still ${this.timers.length} timer(s) after ${limit}`);
      this.runNext();
      fired++;
    }
    return fired;
  }

  private nextTimer(): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const t of this.timers) {
      if (best === undefined || t.due < best.due || (t.due === best.due && t.seq < best.seq)) best = t;
    }
    return best;
  }

  private runUntil(target: number, onlyOne = false): void {
    for (;;) {
      const next = this.nextTimer();
      if (next === undefined || next.due > target) break;
      this.timers = this.timers.filter((t) => t !== next);
      // A timer created with a 0 delay may be "due" before a later set(); time never rewinds.
      if (next.due > this.current) this.current = next.due;
      next.fn();
      if (onlyOne) return;
    }
    this.current = target;
  }
}
