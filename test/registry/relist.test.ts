import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../src/core/random';
import { MemoryStore, Registry } from '../../src/registry';
import type { Store, StoreWatch, StoreWatchHandler } from '../../src/registry/store';
import { FakeClock } from '../../src/testing/fake-clock';
import { svc } from './helpers';

/** A MemoryStore whose watches can be broken and whose list can be made to fail. */
class FlakyStore implements Store {
  readonly name = 'flaky';
  listFailures = 0;
  private readonly live: { handler: StoreWatchHandler; watch: StoreWatch }[] = [];
  constructor(readonly inner: MemoryStore) {}
  get: Store['get'] = (k) => this.inner.get(k);
  commit: Store['commit'] = (ops) => this.inner.commit(ops);
  revision: Store['revision'] = () => this.inner.revision();
  close: Store['close'] = () => this.inner.close();
  list: Store['list'] = async (prefix) => {
    if (this.listFailures > 0) {
      this.listFailures--;
      throw new Error('store unreachable');
    }
    return this.inner.list(prefix);
  };
  watch(prefix: string, after: number, handler: StoreWatchHandler): StoreWatch {
    const watch = this.inner.watch(prefix, after, handler);
    this.live.push({ handler, watch });
    return watch;
  }
  /** Ends every live watch with a non-compaction error, as a lost connection would. */
  breakWatches(): void {
    for (const { handler, watch } of this.live.splice(0)) {
      watch.cancel();
      handler.onError(new Error('watch stream lost'));
    }
  }
}

describe('registry recovery after a lost watch', () => {
  it('lists again with backoff until the store answers, then reports exactly what changed', async () => {
    const clock = new FakeClock();
    const inner = new MemoryStore();
    const store = new FlakyStore(inner);
    const r = await Registry.open({ store, clock, rng: new SeededRng(1), runControllers: false });
    const added: string[] = [];
    r.on('added', (ev) => added.push(ev.object.metadata.name ?? ''));
    const errors: string[] = [];
    r.on('error', (e) => errors.push(e.message));
    await r.create(svc('kept', { ports: [{ port: 80 }] }));

    // A second writer changes the store while our watch is down.
    const other = await Registry.open({ store: inner, rng: new SeededRng(2), runControllers: false });
    store.listFailures = 2;
    store.breakWatches();
    await other.create(svc('added-while-down', { ports: [{ port: 81 }] }));

    for (let i = 0; i < 5 && added.length < 2; i++) {
      // Let the failed list settle, then move past the backoff so the retry fires.
      await new Promise((resolve) => setImmediate(resolve));
      clock.advance(1_000);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(errors).toEqual(['watch stream lost', 'store unreachable', 'store unreachable']);
    expect(added).toEqual(['kept', 'added-while-down']);
    expect(await r.get('Service', 'default', 'added-while-down')).toBeDefined();

    // And the new watch is live again.
    await other.create(svc('after-recovery', { ports: [{ port: 82 }] }));
    await r.settled();
    expect(added).toEqual(['kept', 'added-while-down', 'after-recovery']);
    await other.close();
    await r.close();
  });
});
