import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Clock } from '../../src/core/clock';
import { SeededRng } from '../../src/core/random';
import type { EndpointSlice } from '../../src/core/types';
import {
  LeaderElector,
  type LeaderElectorOptions,
  type Lease,
  MemoryStore,
  Registry,
  type RegistryLeaderElection,
  type Store,
  type StoreOp,
  type StoreWatchHandler,
} from '../../src/registry';
import { FakeClock } from '../../src/testing/fake-clock';
import { pod, svc } from './helpers';

const LEASE_KEY = '/registry/leases/kube-system/test';
const REGISTRY_LEASE_KEY = '/registry/leases/kube-system/svcroute-controller-manager';

/** A view of a shared store that can be made to fail or hang, and logs its commits. */
class SwitchableStore implements Store {
  readonly name = 'switchable';
  mode: 'ok' | 'fail' | 'hang' = 'ok';
  /** How many of the next `revision()` calls fail. */
  failRevisions = 0;
  readonly commits: { at: number; keys: string[]; ok: boolean }[] = [];

  constructor(
    private readonly inner: Store,
    private readonly clock: Clock,
  ) {}

  get(key: string) {
    return this.gate(() => this.inner.get(key));
  }
  list(prefix: string) {
    return this.gate(() => this.inner.list(prefix));
  }
  async commit(ops: readonly StoreOp[]) {
    const at = this.clock.now();
    const keys = ops.map((o) => o.key);
    try {
      const rev = await this.gate(() => this.inner.commit(ops));
      this.commits.push({ at, keys, ok: true });
      return rev;
    } catch (e) {
      this.commits.push({ at, keys, ok: false });
      throw e;
    }
  }
  watch(prefix: string, after: number, handler: StoreWatchHandler) {
    return this.inner.watch(prefix, after, handler);
  }
  revision() {
    if (this.failRevisions > 0) {
      this.failRevisions--;
      return Promise.reject(new Error('revision unavailable'));
    }
    return this.gate(() => this.inner.revision());
  }
  async close() {}

  /** Successful commits touching keys under `prefix`. */
  writesUnder(prefix: string): number {
    return this.commits.filter((c) => c.ok && c.keys.some((k) => k.startsWith(prefix))).length;
  }

  private gate<T>(fn: () => Promise<T>): Promise<T> {
    if (this.mode === 'fail') return Promise.reject(new Error('store unavailable'));
    if (this.mode === 'hang') return new Promise<T>(() => {});
    return fn();
  }
}

/** Lets every pending promise chain (store calls, watch deliveries) run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r));
}

/** Advances the clock in small steps, letting async work run between steps; `check` runs after each. */
async function step(clock: FakeClock, ms: number, check?: () => void, stepMs = 100): Promise<void> {
  for (let t = 0; t < ms; t += stepMs) {
    clock.advance(Math.min(stepMs, ms - t));
    await flush();
    check?.();
  }
}

/** Steps until `cond` holds, at most `maxMs` of clock time; returns the clock time it took. */
async function until(
  clock: FakeClock,
  cond: () => boolean,
  maxMs: number,
  check?: () => void,
): Promise<number> {
  const start = clock.now();
  await flush();
  while (!cond()) {
    if (clock.now() - start >= maxMs) throw new Error(`condition not met within ${maxMs} ms of clock time`);
    await step(clock, 100, check);
  }
  return clock.now() - start;
}

interface Recorded {
  readonly elector: LeaderElector;
  readonly events: { at: number; event: string; arg?: string }[];
}

function candidate(
  clock: FakeClock,
  store: Store,
  identity: string,
  extra: Partial<LeaderElectorOptions> = {},
): Recorded {
  const elector = new LeaderElector({
    store,
    key: LEASE_KEY,
    identity,
    clock,
    rng: new SeededRng(identity.length * 7919),
    ...extra,
  });
  const events: Recorded['events'] = [];
  elector.on('startedLeading', () => events.push({ at: clock.now(), event: 'startedLeading' }));
  elector.on('stoppedLeading', () => events.push({ at: clock.now(), event: 'stoppedLeading' }));
  elector.on('newLeader', (id) => events.push({ at: clock.now(), event: 'newLeader', arg: id }));
  return { elector, events };
}

async function storedLease(store: Store, key = LEASE_KEY): Promise<Lease> {
  const e = await store.get(key);
  if (!e) throw new Error('no lease stored');
  return e.value as Lease;
}

/** Fails the test the moment two candidates lead at once. */
function noOverlap(...cs: LeaderElector[]): () => void {
  return () => {
    const leaders = cs.filter((c) => c.isLeader()).map((c) => c.identity);
    if (leaders.length > 1) throw new Error(`two leaders at once: ${leaders.join(', ')}`);
  };
}

describe('LeaderElector', () => {
  it('acquires an absent lease at once and writes a coordination.k8s.io/v1 Lease', async () => {
    const clock = new FakeClock();
    const store = new MemoryStore();
    const a = candidate(clock, store, 'a');
    a.elector.start();
    await flush();
    expect(a.elector.isLeader()).toBe(true);
    expect(a.events.map((e) => e.event)).toEqual(['newLeader', 'startedLeading']);
    expect(a.events[0]?.arg).toBe('a');
    expect(await storedLease(store)).toEqual({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'svcroute-controller-manager', namespace: 'kube-system' },
      spec: {
        holderIdentity: 'a',
        leaseDurationSeconds: 15,
        acquireTime: '2025-01-01T00:00:00.000000Z',
        renewTime: '2025-01-01T00:00:00.000000Z',
        leaseTransitions: 0,
      },
    });
    await a.elector.close({ release: false });
  });

  it('renews every retry period, keeping acquireTime; a second candidate waits and reports the leader', async () => {
    const clock = new FakeClock();
    const shared = new MemoryStore();
    const sa = new SwitchableStore(shared, clock);
    const a = candidate(clock, sa, 'a');
    const b = candidate(clock, shared, 'b');
    a.elector.start();
    await flush();
    b.elector.start();
    await step(clock, 60_000, noOverlap(a.elector, b.elector));
    expect(a.elector.isLeader()).toBe(true);
    expect(b.elector.isLeader()).toBe(false);
    expect(b.elector.leader()).toBe('a');
    expect(b.events.map((e) => [e.event, e.arg])).toEqual([['newLeader', 'a']]);
    // One renewal per 2 s retry period, plus the acquisition.
    expect(sa.writesUnder(LEASE_KEY)).toBe(31);
    const lease = await storedLease(shared);
    expect(lease.spec).toMatchObject({
      holderIdentity: 'a',
      acquireTime: '2025-01-01T00:00:00.000000Z',
      renewTime: '2025-01-01T00:01:00.000000Z',
      leaseTransitions: 0,
    });
    await a.elector.close();
    await b.elector.close();
  });

  it('takes over from a crashed leader only after a whole lease duration without change, by its own clock', async () => {
    const clock = new FakeClock();
    const shared = new MemoryStore();
    const sa = new SwitchableStore(shared, clock);
    const a = candidate(clock, sa, 'a');
    const b = candidate(clock, shared, 'b');
    a.elector.start();
    await flush();
    b.elector.start();
    await step(clock, 10_000);
    await a.elector.close({ release: false }); // a crash: the lease is left as it is
    const lastRenew = Math.max(...sa.commits.filter((c) => c.ok).map((c) => c.at));
    await until(clock, () => b.elector.isLeader(), 30_000);
    const took = b.events.find((e) => e.event === 'startedLeading')?.at ?? Number.NaN;
    expect(took).toBeGreaterThanOrEqual(lastRenew + 15_000);
    // b polls every 2-4.4 s: it saw the last renewal within one poll and acts within one more.
    expect(took).toBeLessThanOrEqual(lastRenew + 15_000 + 2 * 4_400);
    expect(b.events.map((e) => e.event)).toEqual(['newLeader', 'newLeader', 'startedLeading']);
    expect(b.events.map((e) => e.arg).filter(Boolean)).toEqual(['a', 'b']);
    const lease = await storedLease(shared);
    expect(lease.spec.holderIdentity).toBe('b');
    expect(lease.spec.leaseTransitions).toBe(1);
    await b.elector.close();
  });

  it('release on close hands over at the next retry instead of after expiry', async () => {
    const clock = new FakeClock();
    const store = new MemoryStore();
    const a = candidate(clock, store, 'a');
    const b = candidate(clock, store, 'b');
    a.elector.start();
    await flush();
    b.elector.start();
    await step(clock, 5_000);
    await a.elector.close();
    expect(a.events.at(-1)?.event).toBe('stoppedLeading');
    const released = await storedLease(store);
    expect(released.spec).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 0 });
    const waited = await until(clock, () => b.elector.isLeader(), 15_000);
    expect(waited).toBeLessThanOrEqual(4_400);
    expect((await storedLease(store)).spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
    await b.elector.close();
  });

  it('a leader that cannot renew steps down before anyone may acquire', async () => {
    const clock = new FakeClock();
    const shared = new MemoryStore();
    const sa = new SwitchableStore(shared, clock);
    const a = candidate(clock, sa, 'a');
    const b = candidate(clock, shared, 'b');
    const errors: Error[] = [];
    a.elector.on('error', (e) => errors.push(e));
    a.elector.start();
    await flush();
    b.elector.start();
    await step(clock, 7_000);
    const lastRenew = Math.max(...sa.commits.filter((c) => c.ok).map((c) => c.at));
    sa.mode = 'fail';
    const check = noOverlap(a.elector, b.elector);
    await until(clock, () => b.elector.isLeader(), 40_000, check);
    const stopped = a.events.find((e) => e.event === 'stoppedLeading')?.at ?? Number.NaN;
    const started = b.events.find((e) => e.event === 'startedLeading')?.at ?? Number.NaN;
    expect(stopped).toBeLessThanOrEqual(lastRenew + 10_000);
    expect(stopped).toBeGreaterThan(lastRenew + 8_000);
    expect(started).toBeGreaterThanOrEqual(lastRenew + 15_000);
    expect(errors.length).toBeGreaterThan(0);
    // Back online, a finds b's lease valid and stays a follower.
    sa.mode = 'ok';
    await step(clock, 20_000, check);
    expect(a.elector.isLeader()).toBe(false);
    expect(a.elector.leader()).toBe('b');
    await a.elector.close();
    await b.elector.close();
  });

  it('a renewal that hangs past the renew deadline ends leadership on time', async () => {
    const clock = new FakeClock();
    const shared = new MemoryStore();
    const sa = new SwitchableStore(shared, clock);
    const a = candidate(clock, sa, 'a');
    a.elector.start();
    await flush();
    await step(clock, 3_000);
    const lastRenew = Math.max(...sa.commits.filter((c) => c.ok).map((c) => c.at));
    sa.mode = 'hang';
    await until(clock, () => !a.elector.isLeader(), 11_000);
    expect(a.events.at(-1)).toEqual({ at: lastRenew + 10_000, event: 'stoppedLeading' });
    // close() does not wait for the hung call longer than the renew deadline.
    const closing = a.elector.close();
    await step(clock, 10_000);
    await closing;
  });

  it('steps down at once when another holder has taken the lease', async () => {
    const clock = new FakeClock();
    const store = new MemoryStore();
    const a = candidate(clock, store, 'a');
    a.elector.start();
    await flush();
    const cur = await store.get(LEASE_KEY);
    const lease = cur?.value as Lease;
    await store.commit([
      {
        type: 'update',
        key: LEASE_KEY,
        value: { ...lease, spec: { ...lease.spec, holderIdentity: 'intruder' } },
        expectedModRevision: cur?.modRevision ?? 0,
      },
    ]);
    await step(clock, 2_000);
    expect(a.elector.isLeader()).toBe(false);
    expect(a.events.map((e) => [e.event, e.arg])).toEqual([
      ['newLeader', 'a'],
      ['startedLeading', undefined],
      ['newLeader', 'intruder'],
      ['stoppedLeading', undefined],
    ]);
    // Closing a follower does not release someone else's lease.
    await a.elector.close();
    expect((await storedLease(store)).spec.holderIdentity).toBe('intruder');
  });

  it('refuses inconsistent timing with client-go messages', () => {
    const store = new MemoryStore();
    const make = (o: Partial<LeaderElectorOptions>) => () =>
      new LeaderElector({ store, key: LEASE_KEY, ...o });
    expect(make({ leaseDurationMs: 10_000, renewDeadlineMs: 10_000 })).toThrow(
      'leaseDuration must be greater than renewDeadline',
    );
    expect(make({ renewDeadlineMs: 2_400, retryPeriodMs: 2_000 })).toThrow(
      'renewDeadline must be greater than retryPeriod*JitterFactor',
    );
    expect(make({ retryPeriodMs: 0 })).toThrow('retryPeriod must be greater than zero');
    expect(make({ identity: '' })).toThrow('identity is empty');
    expect(new LeaderElector({ store, key: LEASE_KEY }).identity).toMatch(/^.+_[0-9a-f-]{36}$/);
  });

  it('never has two leaders under random store outages and crashes (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            who: fc.integer({ min: 0, max: 2 }),
            mode: fc.constantFrom('ok', 'fail', 'hang', 'crash') as fc.Arbitrary<
              'ok' | 'fail' | 'hang' | 'crash'
            >,
            afterMs: fc.integer({ min: 0, max: 20_000 }),
          }),
          { minLength: 1, maxLength: 8 },
        ),
        async (script) => {
          const clock = new FakeClock();
          const shared = new MemoryStore();
          const views = [0, 1, 2].map(() => new SwitchableStore(shared, clock));
          const cs = views.map((v, i) => candidate(clock, v, `c${i}`));
          for (const c of cs) c.elector.start();
          const check = noOverlap(...cs.map((c) => c.elector));
          const crashed = new Set<number>();
          for (const s of script) {
            await step(clock, s.afterMs, check, 250);
            if (s.mode === 'crash') {
              crashed.add(s.who);
              void (cs[s.who] as Recorded).elector.close({ release: false });
            } else (views[s.who] as SwitchableStore).mode = s.mode;
          }
          // Outages end (a hung call stays hung); within two lease durations a live candidate leads.
          for (const v of views) if (v.mode === 'fail') v.mode = 'ok';
          await step(clock, 40_000, check, 250);
          const healthy = [0, 1, 2].filter((i) => !crashed.has(i) && views[i]?.mode === 'ok');
          if (healthy.length > 0) expect(cs.filter((c) => c.elector.isLeader())).toHaveLength(1);
          for (const c of cs) await closeNow(clock, c.elector);
        },
      ),
      { numRuns: 25 },
    );
  });
});

/** close() bounded by the clock: drives the clock while it waits. */
async function closeNow(clock: FakeClock, e: LeaderElector): Promise<void> {
  let done = false;
  const p = e.close({ release: false }).then(() => {
    done = true;
  });
  await until(clock, () => done, 20_000);
  await p;
}

// ---------------------------------------------------------------------------------------------
// The registry under leader election

const ELECTION: RegistryLeaderElection = {};
const SLICES = '/registry/endpointslices/';

interface Node {
  readonly registry: Registry;
  readonly store: SwitchableStore;
}

async function openPair(clock: FakeClock, shared: MemoryStore, election = ELECTION): Promise<[Node, Node]> {
  const make = async (identity: string, seed: number): Promise<Node> => {
    const store = new SwitchableStore(shared, clock);
    const registry = await Registry.open({
      store,
      clock,
      rng: new SeededRng(seed),
      leaderElection: { ...election, identity },
    });
    return { registry, store };
  };
  const a = await make('a', 1);
  await flush();
  const b = await make('b', 2);
  await flush();
  return [a, b];
}

async function slicesOf(r: Registry, service: string): Promise<EndpointSlice[]> {
  return r.list('EndpointSlice', { labelSelector: `kubernetes.io/service-name=${service}` });
}

function addresses(slices: readonly EndpointSlice[]): string[] {
  return slices.flatMap((s) => s.endpoints.flatMap((e) => e.addresses)).sort();
}

const web = () => svc('web', { selector: { app: 'web' }, ports: [{ port: 80 }] });

describe('Registry with leader election', () => {
  it('runs the controller in exactly one registry; slices are written once', async () => {
    const clock = new FakeClock();
    const shared = new MemoryStore();
    const [a, b] = await openPair(clock, shared);
    expect(a.registry.leaderElector?.isLeader()).toBe(true);
    expect(b.registry.leaderElector?.isLeader()).toBe(false);
    await b.registry.create(web());
    for (let i = 1; i <= 3; i++)
      await b.registry.create(pod(`web-${i}`, { app: 'web' }, { ip: `127.0.0.${i}` }));
    await step(clock, 1_000);
    await a.registry.settled();
    await b.registry.settled();
    const slices = await slicesOf(b.registry, 'web');
    expect(slices).toHaveLength(1);
    expect(addresses(slices)).toEqual(['127.0.0.1', '127.0.0.2', '127.0.0.3']);
    expect(b.store.writesUnder(SLICES)).toBe(0);
    expect(a.store.commits.filter((c) => c.keys.some((k) => k.startsWith(SLICES))).every((c) => c.ok)).toBe(
      true,
    );
    // Unrelated lease renewals are no routing change.
    const snapshots: unknown[] = [];
    b.registry.on('snapshot', (u) => snapshots.push(u));
    await step(clock, 10_000);
    expect(snapshots).toEqual([]);
    await b.registry.close();
    await a.registry.close();
  });

  it('closing the leader hands over at once (release); the new leader keeps slices current', async () => {
    const clock = new FakeClock();
    const shared = new MemoryStore();
    const [a, b] = await openPair(clock, shared);
    await a.registry.create(web());
    await a.registry.create(pod('web-1', { app: 'web' }, { ip: '127.0.0.1' }));
    await step(clock, 500);
    await a.registry.settled();
    await a.registry.close();
    expect((await storedLease(shared, REGISTRY_LEASE_KEY)).spec.holderIdentity).toBe('');
    const waited = await until(clock, () => b.registry.leaderElector?.isLeader() === true, 15_000);
    expect(waited).toBeLessThanOrEqual(4_400);
    await b.registry.create(pod('web-2', { app: 'web' }, { ip: '127.0.0.2' }));
    await b.registry.delete('Pod', 'default', 'web-1');
    await step(clock, 500);
    await b.registry.settled();
    const slices = await slicesOf(b.registry, 'web');
    expect(slices).toHaveLength(1);
    expect(addresses(slices)).toEqual(['127.0.0.2']);
    await b.registry.close();
  });

  it('after a leader crash: nothing reconciles until the lease expires, then a full resync (and orphan collection)', async () => {
    const clock = new FakeClock();
    const shared = new MemoryStore();
    const [a, b] = await openPair(clock, shared);
    await b.registry.create(web());
    await b.registry.create(svc('gone', { selector: { app: 'gone' }, ports: [{ port: 81 }] }));
    await b.registry.create(pod('web-1', { app: 'web' }, { ip: '127.0.0.1' }));
    await b.registry.create(pod('gone-1', { app: 'gone' }, { ip: '127.0.0.9' }));
    await step(clock, 500);
    await a.registry.settled();
    expect(await slicesOf(b.registry, 'gone')).toHaveLength(1);
    a.store.mode = 'hang'; // the leader's host dies: no more writes from it
    const crashedAt = clock.now();
    await b.registry.create(pod('web-2', { app: 'web' }, { ip: '127.0.0.2' }));
    await b.registry.delete('Service', 'default', 'gone');
    await step(clock, 5_000);
    expect(addresses(await slicesOf(b.registry, 'web'))).toEqual(['127.0.0.1']);
    expect(await slicesOf(b.registry, 'gone')).toHaveLength(1);
    const check = noOverlap(
      a.registry.leaderElector as LeaderElector,
      b.registry.leaderElector as LeaderElector,
    );
    await until(clock, () => b.registry.leaderElector?.isLeader() === true, 30_000, check);
    expect(clock.now() - crashedAt).toBeGreaterThanOrEqual(15_000 - 2_000);
    await step(clock, 500);
    await b.registry.settled();
    const slices = await slicesOf(b.registry, 'web');
    expect(slices).toHaveLength(1);
    expect(addresses(slices)).toEqual(['127.0.0.1', '127.0.0.2']);
    expect(await slicesOf(b.registry, 'gone')).toEqual([]);
    await b.registry.close();
    const closing = a.registry.close();
    await step(clock, 10_000);
    await closing;
  });

  it('a leader that cannot write stops its controller before the other starts', async () => {
    const clock = new FakeClock();
    const shared = new MemoryStore();
    const [a, b] = await openPair(clock, shared);
    await b.registry.create(web());
    await step(clock, 500);
    a.store.mode = 'fail';
    const ea = a.registry.leaderElector as LeaderElector;
    const eb = b.registry.leaderElector as LeaderElector;
    let stoppedAt: number | undefined;
    let startedAt: number | undefined;
    ea.on('stoppedLeading', () => {
      stoppedAt = clock.now();
    });
    eb.on('startedLeading', () => {
      startedAt = clock.now();
    });
    await until(clock, () => eb.isLeader(), 40_000, noOverlap(ea, eb));
    expect(stoppedAt).toBeDefined();
    expect(startedAt).toBeGreaterThan((stoppedAt as number) + 4_000);
    a.store.mode = 'ok';
    const before = a.store.writesUnder(SLICES);
    await b.registry.create(pod('web-1', { app: 'web' }, { ip: '127.0.0.1' }));
    await step(clock, 1_000);
    await b.registry.settled();
    expect(addresses(await slicesOf(a.registry, 'web'))).toEqual(['127.0.0.1']);
    expect(a.store.writesUnder(SLICES)).toBe(before);
    await a.registry.close();
    await b.registry.close();
  });

  it('a new leader that cannot read the store revision retries before it resyncs', async () => {
    const clock = new FakeClock();
    const store = new SwitchableStore(new MemoryStore(), clock);
    store.failRevisions = 2;
    const r = await Registry.open({ store, clock, rng: new SeededRng(3), leaderElection: { identity: 'a' } });
    const errors: string[] = [];
    r.on('error', (e) => errors.push(e.message));
    await r.create(web());
    await r.create(pod('web-1', { app: 'web' }, { ip: '127.0.0.1' }));
    await flush();
    expect(r.leaderElector?.isLeader()).toBe(true);
    expect(await slicesOf(r, 'web')).toEqual([]);
    await step(clock, 4_100);
    await r.settled();
    expect(errors).toEqual(['revision unavailable', 'revision unavailable']);
    expect(addresses(await slicesOf(r, 'web'))).toEqual(['127.0.0.1']);
    await r.close();
  });

  it('is off by default and ignored without controllers', async () => {
    const plain = await Registry.open({ clock: new FakeClock() });
    expect(plain.leaderElector).toBeUndefined();
    const reader = await Registry.open({ clock: new FakeClock(), runControllers: false, leaderElection: {} });
    expect(reader.leaderElector).toBeUndefined();
    expect(await reader.store.get(REGISTRY_LEASE_KEY)).toBeUndefined();
    await plain.close();
    await reader.close();
  });
});
