import type { Clock, TimerHandle } from '../../../src/core/clock';

/** Lets promise chains started by a timer (a sync and its restore) run to their end. */
export async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 50; i++) await Promise.resolve();
}

/** A clock whose timers run only when the test advances time, in due order. */
export class ManualClock implements Clock {
  t = 0;
  private timers: Array<{ at: number; fn: () => void; handle: TimerHandle }> = [];
  now(): number {
    return this.t;
  }
  wallNow(): Date {
    return new Date(this.t);
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const handle = { __timer: true } as TimerHandle;
    this.timers.push({ at: this.t + ms, fn, handle });
    return handle;
  }
  clearTimeout(handle: TimerHandle): void {
    this.timers = this.timers.filter((t) => t.handle !== handle);
  }
  /** Timers not yet run. */
  get pending(): number {
    return this.timers.length;
  }
  /** Moves time forward by `ms`, running every timer due on the way. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    await flushMicrotasks();
    for (;;) {
      const next = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.t = next.at;
      next.fn();
      await flushMicrotasks();
    }
    this.t = end;
  }
}
