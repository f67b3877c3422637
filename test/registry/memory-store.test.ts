import { describe, expect, it } from 'vitest';
import { MemoryStore, StoreCompactedError, StoreConflictError, type StoreEvent } from '../../src/registry';

function collect(store: MemoryStore, prefix: string, after: number) {
  const events: StoreEvent[] = [];
  const errors: Error[] = [];
  const w = store.watch(prefix, after, {
    onEvents: (e) => events.push(...e),
    onError: (e) => errors.push(e),
  });
  return { events, errors, w };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('MemoryStore', () => {
  it('assigns one revision per transaction and keeps create revisions', async () => {
    const s = new MemoryStore();
    expect(
      await s.commit([
        { type: 'create', key: '/a', value: 1 },
        { type: 'create', key: '/b', value: 2 },
      ]),
    ).toBe(1);
    expect(await s.commit([{ type: 'update', key: '/a', value: 3 }])).toBe(2);
    const a = await s.get('/a');
    expect(a).toMatchObject({ value: 3, modRevision: 2, createRevision: 1 });
    expect(await s.revision()).toBe(2);
    const l = await s.list('/');
    expect(l.revision).toBe(2);
    expect(l.entries.map((e) => e.key)).toEqual(['/a', '/b']);
  });

  it('is all-or-nothing and names the key whose precondition failed', async () => {
    const s = new MemoryStore();
    await s.commit([{ type: 'create', key: '/a', value: 1 }]);
    const err = await s
      .commit([
        { type: 'create', key: '/new', value: 1 },
        { type: 'update', key: '/a', value: 2, expectedModRevision: 7 },
      ])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreConflictError);
    expect(err).toMatchObject({ key: '/a', reason: 'revision' });
    expect(await s.get('/new')).toBeUndefined();
    expect(await s.revision()).toBe(1);
    await expect(s.commit([{ type: 'create', key: '/a', value: 1 }])).rejects.toMatchObject({
      reason: 'exists',
    });
    await expect(s.commit([{ type: 'delete', key: '/zz' }])).rejects.toMatchObject({ reason: 'missing' });
    await expect(s.commit([{ type: 'update', key: '/zz', value: 1 }])).rejects.toMatchObject({
      reason: 'missing',
    });
  });

  it('never lets callers mutate stored values', async () => {
    const s = new MemoryStore();
    const v = { spec: { x: 1 } };
    await s.commit([{ type: 'create', key: '/a', value: v }]);
    v.spec.x = 2;
    const got = (await s.get('/a'))?.value as { spec: { x: number } };
    expect(got.spec.x).toBe(1);
    expect(() => {
      got.spec.x = 3;
    }).toThrow(TypeError);
  });

  it('replays history from a revision, then live events, filtered by prefix', async () => {
    const s = new MemoryStore();
    await s.commit([{ type: 'create', key: '/x/a', value: 1 }]);
    await s.commit([{ type: 'create', key: '/y/b', value: 1 }]);
    await s.commit([{ type: 'update', key: '/x/a', value: 2 }]);
    const c = collect(s, '/x/', 1);
    await tick();
    expect(c.events.map((e) => [e.key, e.modRevision, e.value])).toEqual([['/x/a', 3, 2]]);
    expect(c.events[0]?.prevValue).toBe(1);
    await s.commit([{ type: 'delete', key: '/x/a' }]);
    await tick();
    expect(c.events.at(-1)).toMatchObject({ type: 'delete', key: '/x/a', modRevision: 4, prevValue: 2 });
    c.w.cancel();
    await s.commit([{ type: 'create', key: '/x/c', value: 1 }]);
    await tick();
    expect(c.events).toHaveLength(2);
  });

  it('fails a watch from a compacted revision', async () => {
    const s = new MemoryStore({ historyRevisions: 2 });
    for (let i = 0; i < 5; i++) await s.commit([{ type: 'create', key: `/k${i}`, value: i }]);
    const old = collect(s, '/', 1);
    await tick();
    expect(old.errors[0]).toBeInstanceOf(StoreCompactedError);
    const recent = collect(s, '/', 3);
    await tick();
    expect(recent.errors).toEqual([]);
    expect(recent.events.map((e) => e.modRevision)).toEqual([4, 5]);
    s.compact(5);
    const after = collect(s, '/', 4);
    await tick();
    expect(after.errors[0]).toBeInstanceOf(StoreCompactedError);
  });

  it('delivers asynchronously, never inside commit', async () => {
    const s = new MemoryStore();
    const c = collect(s, '/', 0);
    s.commitSync([{ type: 'create', key: '/a', value: 1 }]);
    expect(c.events).toHaveLength(0);
    await tick();
    expect(c.events).toHaveLength(1);
  });
});
