import { FakeClock } from '../../../src/testing/fake-clock';

/** Lets promise chains started by a timer (a sync and its restore) run to their end. */
export async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 50; i++) await Promise.resolve();
}

/**
 * A {@link FakeClock} whose `advance` also lets the promise chains each timer starts settle
 * before the next timer fires, as they would between real timer ticks.
 */
export class ManualClock extends FakeClock {
  override async advance(ms: number): Promise<void> {
    const end = this.now() + ms;
    await flushMicrotasks();
    for (let due = this.nextTimerAt(); due !== undefined && due <= end; due = this.nextTimerAt()) {
      this.runNext();
      await flushMicrotasks();
    }
    this.set(end);
  }
}
