import { EventEmitter } from 'eventemitter3';
import { describe, expect, it } from 'vitest';
import { attachBackend, type Backend, mergeUpdates, type SnapshotSource } from '../../src/backends/backend';
import type { RoutingSnapshot, ServicePortEntry, SnapshotUpdate } from '../../src/core/snapshot';
import { makeServicePortInfo } from '../../src/testing/fixtures';

function snap(revision: number): RoutingSnapshot {
  return {
    revision,
    ports: new Map(),
    services: new Map(),
    endpointSlices: new Map(),
    namespaces: new Set(),
  };
}

function entry(service: string): ServicePortEntry {
  return { info: makeServicePortInfo({ service }), endpoints: [] };
}

class Source extends EventEmitter<{ snapshot: [SnapshotUpdate] }> implements SnapshotSource {
  current = snap(1);
  snapshot(): RoutingSnapshot {
    return this.current;
  }
  publish(update: Omit<SnapshotUpdate, 'previous' | 'current'>): SnapshotUpdate {
    const previous = this.current;
    this.current = snap(previous.revision + 1);
    const u = { previous, current: this.current, ...update };
    this.emit('snapshot', u);
    return u;
  }
}

/** A backend whose syncs wait until released, recording what it saw and any overlap. */
class GatedBackend implements Backend {
  readonly name = 'gated';
  seen: SnapshotUpdate[] = [];
  overlapped = false;
  private active = 0;
  private gates: (() => void)[] = [];
  async sync(u: SnapshotUpdate): Promise<void> {
    if (this.active++ > 0) this.overlapped = true;
    this.seen.push(u);
    await new Promise<void>((resolve) => this.gates.push(resolve));
    this.active--;
  }
  release(): void {
    for (const g of this.gates.splice(0)) g();
  }
  async close(): Promise<void> {}
}

const tick = () => new Promise((r) => setImmediate(r));

describe('attachBackend', () => {
  it('syncs the current snapshot first, then merges what arrives during a sync into one update', async () => {
    const source = new Source();
    const backend = new GatedBackend();
    const attached = attachBackend(source, backend);
    await tick();
    expect(backend.seen).toHaveLength(1);
    expect(backend.seen[0]?.previous).toBeUndefined();
    expect(backend.seen[0]?.current.revision).toBe(1);

    const a = entry('a');
    const b = entry('b');
    const b2 = entry('b');
    source.publish({ changes: [{ key: 'default/a', current: a }], changedServices: new Set(['default/a']) });
    source.publish({ changes: [{ key: 'default/b', current: b }], changedServices: new Set(['default/b']) });
    // a appears and goes again while the backend is busy: a no-op for it.
    source.publish({
      changes: [
        { key: 'default/a', previous: a },
        { key: 'default/b', previous: b, current: b2 },
      ],
      changedServices: new Set(['default/a', 'default/b']),
    });
    backend.release();
    await tick();
    expect(backend.seen).toHaveLength(2);
    const merged = backend.seen[1]!;
    expect(merged.previous?.revision).toBe(1);
    expect(merged.current.revision).toBe(4);
    expect(merged.changes).toEqual([{ key: 'default/b', current: b2 }]);
    expect([...merged.changedServices].sort()).toEqual(['default/a', 'default/b']);

    backend.release();
    await attached.idle();
    expect(backend.overlapped).toBe(false);
    attached.detach();
    source.publish({ changes: [], changedServices: new Set() });
    await tick();
    expect(backend.seen).toHaveLength(2);
  });

  it('reports a failed sync and keeps delivering', async () => {
    const source = new Source();
    const errors: string[] = [];
    let calls = 0;
    const backend: Backend = {
      name: 'flaky',
      sync() {
        calls++;
        if (calls === 1) throw new Error('first sync failed');
      },
      async close() {},
    };
    const attached = attachBackend(source, backend, { onError: (e) => errors.push(e.message) });
    await attached.idle();
    source.publish({ changes: [], changedServices: new Set() });
    await attached.idle();
    expect(errors).toEqual(['first sync failed']);
    expect(calls).toBe(2);
    attached.detach();
  });
});

describe('mergeUpdates', () => {
  it('keeps the first previous and the last current per port', () => {
    const x1 = entry('x');
    const x2 = entry('x');
    const x3 = entry('x');
    const m = mergeUpdates(
      {
        previous: snap(1),
        current: snap(2),
        changes: [{ key: 'k', previous: x1, current: x2 }],
        changedServices: new Set(),
      },
      {
        previous: snap(2),
        current: snap(3),
        changes: [{ key: 'k', previous: x2, current: x3 }],
        changedServices: new Set(),
      },
    );
    expect(m.changes).toEqual([{ key: 'k', previous: x1, current: x3 }]);
    expect(m.previous?.revision).toBe(1);
    expect(m.current.revision).toBe(3);
  });
});
