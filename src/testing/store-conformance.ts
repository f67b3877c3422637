/**
 * A conformance suite for {@link Store} implementations: revisions, all-or-nothing transactions
 * with compare-and-swap, conflict reporting, and watch-from-revision with etcd's semantics. It
 * takes the test framework's `describe`, `it` and `expect` as parameters, so it runs under any
 * Jest-compatible runner without importing one.
 *
 * ```ts
 * import { describe, it, expect } from 'vitest';
 * storeConformance('memory', async () => ({ store: new MemoryStore(), close: async () => {} }), { describe, it, expect });
 * ```
 *
 * @module
 */
import {
  type Store,
  StoreCompactedError,
  StoreConflictError,
  type StoreEvent,
  type StoreWatch,
} from '../registry/store';

/** A store under test and how to dispose of it. */
export interface StoreHarness {
  readonly store: Store;
  /** Drops history up to `revision`, when the store supports it (enables the compaction tests). */
  compact?(revision: number): Promise<void> | void;
  /** Closes the store and anything the harness started. */
  close(): Promise<void>;
}

/** The assertions the suite needs (a subset of Jest's / Vitest's `expect`). */
export type ConformanceExpect = (
  actual: unknown,
) => ConformanceMatchers & { readonly not: ConformanceMatchers };

/** Matchers used by the suite. */
export interface ConformanceMatchers {
  /** Throws unless the actual value is `Object.is`-identical to `expected`. */
  toBe(expected: unknown): void;
  /** Throws unless the actual value deep-equals `expected` (recursive structural equality). */
  toEqual(expected: unknown): void;
  /** Throws unless the actual value is `undefined`. */
  toBeUndefined(): void;
  /** Throws unless the actual number is strictly greater than `n`. */
  toBeGreaterThan(n: number): void;
  /** Throws unless the actual number is greater than or equal to `n`. */
  toBeGreaterThanOrEqual(n: number): void;
  /** Throws unless the actual value's `length` property equals `n`. */
  toHaveLength(n: number): void;
  /** Throws unless the actual value is an instance of `ctor` (prototype chain check). */
  toBeInstanceOf(ctor: abstract new (...args: never[]) => unknown): void;
}

/** The framework functions the suite registers its tests with. */
export interface ConformanceFramework {
  /** Declares a test group; `fn` runs synchronously to register the group's tests. */
  describe(name: string, fn: () => void): void;
  /**
   * Declares one async test; a rejection fails it, and so does running longer than `timeoutMs`
   * milliseconds when given.
   */
  it(name: string, fn: () => Promise<void>, timeoutMs?: number): void;
  /** Wraps a value for assertions; a failing matcher throws. */
  expect: ConformanceExpect;
}

/** Options of {@link storeConformance}. */
export interface StoreConformanceOptions {
  /** Per-test timeout (default 10 s). */
  readonly timeoutMs?: number;
  /** How long to wait for an expected watch event (default 5 s). */
  readonly eventWaitMs?: number;
}

const DEFAULT_TEST_TIMEOUT_MS = 10_000;
const DEFAULT_EVENT_WAIT_MS = 5_000;

/** Collects a watch's events and errors, and waits for them. */
class Recorder {
  readonly events: StoreEvent[] = [];
  readonly batches: StoreEvent[][] = [];
  readonly errors: Error[] = [];
  private wake: (() => void) | undefined;

  readonly handler = {
    onEvents: (events: readonly StoreEvent[]) => {
      this.batches.push([...events]);
      this.events.push(...events);
      this.wake?.();
    },
    onError: (error: Error) => {
      this.errors.push(error);
      this.wake?.();
    },
  };

  async until(cond: () => boolean, waitMs: number, what: string): Promise<void> {
    const deadline = Date.now() + waitMs;
    while (!cond()) {
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `timed out waiting for ${what}; saw ${this.events.length} events, ${this.errors.length} errors`,
        );
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 50));
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }
}

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  return undefined;
}

let seq = 0;
/** A key prefix no other test uses, so tests may share one store. */
function uniquePrefix(): string {
  seq++;
  return `/conformance-${process.pid}-${Date.now().toString(36)}-${seq}/`;
}

/**
 * Registers the Store conformance tests under `describe(name)`. `open` is called once per test
 * and must return a fresh store (or a fresh view of a shared one); the suite closes it.
 */
export function storeConformance(
  name: string,
  open: () => Promise<StoreHarness>,
  framework: ConformanceFramework,
  options: StoreConformanceOptions = {},
): void {
  const { describe, it, expect } = framework;
  const timeout = options.timeoutMs ?? DEFAULT_TEST_TIMEOUT_MS;
  const waitMs = options.eventWaitMs ?? DEFAULT_EVENT_WAIT_MS;

  const test = (title: string, body: (h: StoreHarness, p: string) => Promise<void>) =>
    it(
      title,
      async () => {
        const h = await open();
        try {
          await body(h, uniquePrefix());
        } finally {
          await h.close();
        }
      },
      timeout,
    );

  describe(`Store conformance: ${name}`, () => {
    test('create, get and list report values and revisions', async ({ store }, p) => {
      const r1 = await store.commit([{ type: 'create', key: `${p}b`, value: { n: 1 } }]);
      const r2 = await store.commit([{ type: 'create', key: `${p}a`, value: { n: 2, list: [1, 'x'] } }]);
      expect(r2).toBeGreaterThan(r1);
      const a = await store.get(`${p}a`);
      expect(a?.value).toEqual({ n: 2, list: [1, 'x'] });
      expect(a?.modRevision).toBe(r2);
      expect(a?.createRevision).toBe(r2);
      expect(await store.get(`${p}missing`)).toBeUndefined();
      const listed = await store.list(p);
      expect(listed.entries.map((e) => e.key)).toEqual([`${p}a`, `${p}b`]);
      expect(listed.revision).toBeGreaterThanOrEqual(r2);
      expect(await store.revision()).toBeGreaterThanOrEqual(r2);
      // A sibling prefix sharing the first characters is not listed.
      await store.commit([{ type: 'create', key: `${p.slice(0, -1)}x/c`, value: 1 }]);
      expect((await store.list(p)).entries).toHaveLength(2);
    });

    test('update keeps createRevision and moves modRevision', async ({ store }, p) => {
      const r1 = await store.commit([{ type: 'create', key: `${p}k`, value: 'v1' }]);
      const r2 = await store.commit([{ type: 'update', key: `${p}k`, value: 'v2', expectedModRevision: r1 }]);
      const e = await store.get(`${p}k`);
      expect(e?.value).toBe('v2');
      expect(e?.createRevision).toBe(r1);
      expect(e?.modRevision).toBe(r2);
      const r3 = await store.commit([{ type: 'update', key: `${p}k`, value: 'v3' }]);
      expect((await store.get(`${p}k`))?.modRevision).toBe(r3);
    });

    test('values handed out cannot be changed by the caller', async ({ store }, p) => {
      const input = { a: { b: 1 } };
      await store.commit([{ type: 'create', key: `${p}k`, value: input }]);
      input.a.b = 2;
      const e = await store.get(`${p}k`);
      expect(e?.value).toEqual({ a: { b: 1 } });
      const v = e?.value as { a: { b: number } };
      try {
        v.a.b = 3;
      } catch {
        // Frozen values throw in strict mode; either way the store must not change.
      }
      expect((await store.get(`${p}k`))?.value).toEqual({ a: { b: 1 } });
    });

    test('create of an existing key fails with reason exists', async ({ store }, p) => {
      await store.commit([{ type: 'create', key: `${p}k`, value: 1 }]);
      const err = await caught(store.commit([{ type: 'create', key: `${p}k`, value: 2 }]));
      expect(err).toBeInstanceOf(StoreConflictError);
      expect((err as StoreConflictError).key).toBe(`${p}k`);
      expect((err as StoreConflictError).reason).toBe('exists');
      expect((await store.get(`${p}k`))?.value).toBe(1);
    });

    test('update and delete of a missing key fail with reason missing', async ({ store }, p) => {
      const u = await caught(store.commit([{ type: 'update', key: `${p}k`, value: 1 }]));
      expect((u as StoreConflictError).reason).toBe('missing');
      const d = await caught(store.commit([{ type: 'delete', key: `${p}k` }]));
      expect(d).toBeInstanceOf(StoreConflictError);
      expect((d as StoreConflictError).reason).toBe('missing');
      const c = await caught(
        store.commit([{ type: 'update', key: `${p}k`, value: 1, expectedModRevision: 5 }]),
      );
      expect((c as StoreConflictError).key).toBe(`${p}k`);
    });

    test('compare-and-swap on a stale revision fails with reason revision', async ({ store }, p) => {
      const r1 = await store.commit([{ type: 'create', key: `${p}k`, value: 1 }]);
      await store.commit([{ type: 'update', key: `${p}k`, value: 2, expectedModRevision: r1 }]);
      const err = await caught(
        store.commit([{ type: 'update', key: `${p}k`, value: 3, expectedModRevision: r1 }]),
      );
      expect(err).toBeInstanceOf(StoreConflictError);
      expect((err as StoreConflictError).reason).toBe('revision');
      const del = await caught(store.commit([{ type: 'delete', key: `${p}k`, expectedModRevision: r1 }]));
      expect((del as StoreConflictError).reason).toBe('revision');
      expect((await store.get(`${p}k`))?.value).toBe(2);
    });

    test('a transaction applies all ops at one revision or none', async ({ store }, p) => {
      const r0 = await store.commit([{ type: 'create', key: `${p}x`, value: 0 }]);
      const r1 = await store.commit([
        { type: 'create', key: `${p}a`, value: 1 },
        { type: 'create', key: `${p}b`, value: 2 },
        { type: 'update', key: `${p}x`, value: 3, expectedModRevision: r0 },
      ]);
      for (const k of ['a', 'b', 'x']) expect((await store.get(`${p}${k}`))?.modRevision).toBe(r1);
      const before = await store.revision();
      const err = await caught(
        store.commit([
          { type: 'create', key: `${p}c`, value: 4 },
          { type: 'delete', key: `${p}a` },
          { type: 'create', key: `${p}b`, value: 5 },
        ]),
      );
      expect((err as StoreConflictError).key).toBe(`${p}b`);
      expect((err as StoreConflictError).reason).toBe('exists');
      expect(await store.get(`${p}c`)).toBeUndefined();
      expect((await store.get(`${p}a`))?.value).toBe(1);
      expect(await store.revision()).toBe(before);
    });

    test('the first failing op is the one named', async ({ store }, p) => {
      await store.commit([{ type: 'create', key: `${p}a`, value: 1 }]);
      const err = await caught(
        store.commit([
          { type: 'create', key: `${p}new`, value: 1 },
          { type: 'update', key: `${p}gone`, value: 1 },
          { type: 'create', key: `${p}a`, value: 1 },
        ]),
      );
      expect((err as StoreConflictError).key).toBe(`${p}gone`);
      expect((err as StoreConflictError).reason).toBe('missing');
    });

    test('a transaction naming one key twice is refused', async ({ store }, p) => {
      const err = await caught(
        store.commit([
          { type: 'create', key: `${p}a`, value: 1 },
          { type: 'update', key: `${p}a`, value: 2 },
        ]),
      );
      expect(err).toBeInstanceOf(Error);
      expect(await store.get(`${p}a`)).toBeUndefined();
    });

    test('an empty transaction changes nothing', async ({ store }) => {
      const before = await store.revision();
      expect(await store.commit([])).toBe(before);
    });

    test('concurrent compare-and-swap writers: exactly one wins', async ({ store }, p) => {
      const r = await store.commit([{ type: 'create', key: `${p}k`, value: 0 }]);
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) =>
          store.commit([{ type: 'update', key: `${p}k`, value: i + 1, expectedModRevision: r }]),
        ),
      );
      const won = results.filter((x) => x.status === 'fulfilled');
      expect(won).toHaveLength(1);
      for (const x of results)
        if (x.status === 'rejected') expect(x.reason).toBeInstanceOf(StoreConflictError);
    });

    test('watch replays history after a revision, then live events, in order', async ({ store }, p) => {
      const r1 = await store.commit([{ type: 'create', key: `${p}a`, value: 1 }]);
      const r2 = await store.commit([{ type: 'update', key: `${p}a`, value: 2 }]);
      await store.commit([{ type: 'create', key: `${p.slice(0, -1)}-other/z`, value: 1 }]);
      const rec = new Recorder();
      const w = store.watch(p, r1, rec.handler);
      try {
        await rec.until(() => rec.events.length >= 1, waitMs, 'the replayed update');
        const r3 = await store.commit([
          { type: 'create', key: `${p}b`, value: 3 },
          { type: 'delete', key: `${p}a` },
        ]);
        await rec.until(() => rec.events.length >= 3, waitMs, 'live events');
        expect(rec.events).toEqual([
          { type: 'put', key: `${p}a`, value: 2, prevValue: 1, modRevision: r2, created: false },
          { type: 'put', key: `${p}b`, value: 3, modRevision: r3, created: true },
          { type: 'delete', key: `${p}a`, value: undefined, prevValue: 2, modRevision: r3, created: false },
        ]);
        // Both ops of one transaction arrive in one batch.
        expect(rec.batches[rec.batches.length - 1]?.map((e) => e.modRevision)).toEqual([r3, r3]);
        expect(rec.errors).toHaveLength(0);
      } finally {
        w.cancel();
      }
    });

    test('watch delivers every revision exactly once under concurrent writers', async ({ store }, p) => {
      const start = await store.revision();
      const rec = new Recorder();
      const w = store.watch(p, start, rec.handler);
      const N = 40;
      try {
        await Promise.all(
          Array.from({ length: N }, (_, i) => store.commit([{ type: 'create', key: `${p}k${i}`, value: i }])),
        );
        await rec.until(() => rec.events.length >= N, waitMs, `${N} events`);
        await new Promise((r) => setTimeout(r, 50));
        expect(rec.events).toHaveLength(N);
        expect(new Set(rec.events.map((e) => e.key)).size).toBe(N);
        const revs = rec.events.map((e) => e.modRevision);
        expect(revs).toEqual([...revs].sort((a, b) => a - b));
      } finally {
        w.cancel();
      }
    });

    test('a cancelled watch delivers nothing more', async ({ store }, p) => {
      const rec = new Recorder();
      const w: StoreWatch = store.watch(p, await store.revision(), rec.handler);
      await store.commit([{ type: 'create', key: `${p}a`, value: 1 }]);
      await rec.until(() => rec.events.length >= 1, waitMs, 'first event');
      w.cancel();
      await store.commit([{ type: 'create', key: `${p}b`, value: 1 }]);
      await new Promise((r) => setTimeout(r, 100));
      expect(rec.events).toHaveLength(1);
    });

    test('a watch from a compacted revision fails with StoreCompactedError', async (h, p) => {
      const { store } = h;
      if (!h.compact) return;
      const r1 = await store.commit([{ type: 'create', key: `${p}a`, value: 1 }]);
      await store.commit([{ type: 'update', key: `${p}a`, value: 2 }]);
      const r3 = await store.commit([{ type: 'update', key: `${p}a`, value: 3 }]);
      await h.compact(r3);
      const rec = new Recorder();
      const w = store.watch(p, r1, rec.handler);
      try {
        await rec.until(() => rec.errors.length >= 1, waitMs, 'the compaction error');
        expect(rec.errors[0]).toBeInstanceOf(StoreCompactedError);
        expect((rec.errors[0] as StoreCompactedError).requestedRevision).toBe(r1 + 1);
        expect(rec.events).toHaveLength(0);
        // Data survives compaction; a watch from the current revision works.
        expect((await store.get(`${p}a`))?.value).toBe(3);
        const rec2 = new Recorder();
        const w2 = store.watch(p, r3, rec2.handler);
        await store.commit([{ type: 'update', key: `${p}a`, value: 4 }]);
        await rec2.until(() => rec2.events.length >= 1, waitMs, 'an event after compaction');
        expect(rec2.events[0]?.value).toBe(4);
        w2.cancel();
      } finally {
        w.cancel();
      }
    });

    test('closing the store ends its watches with an error', async ({ store }, p) => {
      const rec = new Recorder();
      store.watch(p, await store.revision(), rec.handler);
      await store.close();
      await rec.until(() => rec.errors.length >= 1, waitMs, 'the close error');
      expect(rec.errors).toHaveLength(1);
    });
  });
}
