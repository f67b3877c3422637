/**
 * Time, injectable. Everything in svcroute that waits or stamps goes through a {@link Clock}, so
 * tests can drive time by hand (see `FakeClock` in `svcroute/testing`).
 *
 * @module
 */

/** Opaque handle returned by {@link Clock.setTimeout}. */
export interface TimerHandle {
  readonly __timer: true;
}

/** A source of time and timers. `now()` is in milliseconds and must never go backwards. */
export interface Clock {
  /** Milliseconds on a monotonic scale (not necessarily the epoch). */
  now(): number;
  /** Wall-clock time, used for timestamps written into objects. */
  wallNow(): Date;
  /** Calls `fn` once after `ms`. Timers never keep the process alive. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer; unknown handles are ignored. */
  clearTimeout(handle: TimerHandle): void;
}

/** The real clock: `performance.now()` and unref'd Node timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => new Date(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t as unknown as TimerHandle;
  },
  clearTimeout(handle) {
    clearTimeout(handle as unknown as NodeJS.Timeout);
  },
};
