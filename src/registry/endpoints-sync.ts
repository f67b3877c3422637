/**
 * Runs the EndpointSlice controller inside the registry: decides which services a cache change
 * affects, queues them, and syncs each queued service by reconciling its managed slices
 * ({@link reconcileSlices}) and committing the result with compare-and-swap, retrying a few times
 * after write conflicts. Also collects the slices of deleted services (the garbage collector's
 * job upstream).
 *
 * @module
 */
import type { Clock } from '../core/clock';
import type { Rng } from '../core/random';
import {
  ENDPOINTSLICE_CONTROLLER_NAME,
  type EndpointSlice,
  type Kind,
  type KubeObject,
  LABEL_MANAGED_BY,
  type Node,
  type Pod,
  type Service,
} from '../core/types';
import { sliceServiceKey } from './change-tracker';
import { reconcileSlices, type StoredSlice } from './endpoints-controller';
import type { KeyLayout } from './keys';
import type { ObjectCache } from './object-cache';
import { newUID, objKey, rfc3339 } from './object-identity';
import type { ObjectIndexes } from './object-indexes';
import { type Store, StoreConflictError, type StoreOp } from './store';
import { isNodeReady, TopologyCache } from './topology-cache';

/** How often the endpoints controller retries one service after write conflicts, per burst. */
const MAX_CONTROLLER_RETRIES = 8;

const ZONE_LABEL = 'topology.kubernetes.io/zone';

/** Options of {@link EndpointsSync}. */
export interface EndpointsSyncOptions {
  /**
   * False: nothing is queued (another registry on the same store runs the controller) until
   * {@link EndpointsSync.resume} is called.
   */
  readonly enabled: boolean;
  readonly store: Store;
  readonly keys: KeyLayout;
  readonly cache: ObjectCache;
  readonly indexes: ObjectIndexes;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly maxEndpointsPerSlice: number;
  readonly isClosed: () => boolean;
  /** A write that failed for good. */
  readonly onError: (err: Error) => void;
  /** Called when a drain ends (the registry's quiet-state waiters). */
  readonly idle: () => void;
}

const isManaged = (x: EndpointSlice | undefined) =>
  x?.metadata.labels?.[LABEL_MANAGED_BY] === ENDPOINTSLICE_CONTROLLER_NAME;

/** The controller's work queue and sync loop. */
export class EndpointsSync {
  private readonly queue = new Set<string>();
  private readonly retries = new Map<string, number>();
  /** uid of just-deleted services by key, whose owned slices are to be collected. */
  private readonly deletedOwners = new Map<string, string>();
  /** Slices the controller just wrote (generation written, or `deleted`), to skip their echo. */
  private readonly ownSliceWrites = new Map<string, number | 'deleted'>();
  private draining: Promise<void> | undefined;
  private inflight = 0;
  /** Zone ratios and per-service allocations for the topology annotation's Auto heuristic. */
  private readonly topology = new TopologyCache();
  /** Nodes changed in a way the topology cache cares about since it last read them. */
  private nodesChanged = true;
  /** Whether the loop runs: the `enabled` option, then switched by leadership. */
  private active: boolean;

  constructor(private readonly o: EndpointsSyncOptions) {
    this.active = o.enabled;
  }

  /**
   * Stops the loop at once (leadership lost): queued work is dropped and no new sync starts;
   * a commit already sent completes (it is compare-and-swap, so it cannot clobber a newer write).
   */
  pause(): void {
    this.active = false;
    this.queue.clear();
    this.retries.clear();
    this.deletedOwners.clear();
  }

  /**
   * Starts the loop (leadership gained) with a full resync: every cached service, plus the
   * managed slices whose service is gone (a previous leader may have stopped before collecting
   * them). The cache should have caught up with the store first.
   */
  resume(): void {
    if (this.o.isClosed()) return;
    this.active = true;
    this.nodesChanged = true;
    const services = this.o.cache.kind('Service');
    for (const e of this.o.cache.kind('EndpointSlice').values()) {
      const s = e.object as EndpointSlice;
      const svcKey = sliceServiceKey(s);
      if (!isManaged(s) || svcKey === undefined || services.has(svcKey)) continue;
      const owner = s.metadata.ownerReferences?.find((r) => r.kind === 'Service' && r.uid);
      if (owner && !this.deletedOwners.has(svcKey)) this.deletedOwners.set(svcKey, owner.uid);
      this.enqueue(svcKey);
    }
    this.enqueueAll();
  }

  /** Resolves when no sync is running (the work in flight when leadership was lost is done). */
  drained(): Promise<void> {
    return (this.draining ?? Promise.resolve()).catch(() => {});
  }

  /** True while work is queued, draining or being written. */
  busy(): boolean {
    return this.queue.size > 0 || this.inflight > 0 || this.draining !== undefined;
  }

  /** Queues every cached service (after the initial list). */
  enqueueAll(): void {
    if (this.active) for (const k of this.o.cache.kind('Service').keys()) this.enqueue(k);
  }

  /** Queues the services one cache change may affect; indexes must already reflect it. */
  objectChanged(kind: Kind, key: string, prev: KubeObject | undefined, next: KubeObject | undefined): void {
    switch (kind) {
      case 'Service': {
        const old = prev as Service | undefined;
        // Deleting a service deletes the slices it owns (the garbage collector's job upstream).
        if (!next && old?.metadata.uid) {
          // While inactive, the leader collects; a resync on gaining leadership finds orphans.
          if (this.active) this.deletedOwners.set(key, old.metadata.uid);
        } else this.deletedOwners.delete(key);
        this.enqueue(key);
        break;
      }
      case 'Pod': {
        const pod = next as Pod | undefined;
        const old = prev as Pod | undefined;
        const ns = (pod ?? old)?.metadata.namespace ?? 'default';
        if (this.active && this.o.indexes.hasSelectors(ns)) {
          if (old)
            for (const s of this.o.indexes.servicesSelecting(ns, old.metadata.labels ?? {})) this.enqueue(s);
          if (pod)
            for (const s of this.o.indexes.servicesSelecting(ns, pod.metadata.labels ?? {})) this.enqueue(s);
        }
        break;
      }
      case 'EndpointSlice': {
        const s = next as EndpointSlice | undefined;
        const o = prev as EndpointSlice | undefined;
        // A managed slice changed behind the controller's back: let it check. Its own writes
        // come back here too; those need no second look (upstream's slice tracker does the same).
        const own = this.ownSliceWrites.get(key);
        if (own !== undefined && (s ? s.metadata.generation === own : own === 'deleted')) {
          this.ownSliceWrites.delete(key);
          break;
        }
        const oldSvc = o ? sliceServiceKey(o) : undefined;
        const newSvc = s ? sliceServiceKey(s) : undefined;
        if (isManaged(o) && oldSvc) this.enqueue(oldSvc);
        if (isManaged(s) && newSvc) this.enqueue(newSvc);
        break;
      }
      case 'Node': {
        const n = next as Node | undefined;
        const o = prev as Node | undefined;
        const name = (n ?? o)?.metadata.name ?? '';
        // The topology cache re-reads nodes when one comes or goes, or its readiness or zone
        // changes (upstream's node handlers); then services whose hints no longer fit are synced.
        if (
          !n ||
          !o ||
          isNodeReady(n) !== isNodeReady(o) ||
          n.metadata.labels?.[ZONE_LABEL] !== o.metadata.labels?.[ZONE_LABEL]
        )
          this.topologyChanged();
        if (n?.metadata.labels?.[ZONE_LABEL] !== o?.metadata.labels?.[ZONE_LABEL]) {
          // Endpoints carry the node's zone: revisit services of pods on this node.
          const pods = this.o.cache.kind('Pod');
          for (const podKey of this.o.indexes.podsOnNode(name)) {
            const pod = pods.get(podKey)?.object as Pod | undefined;
            if (pod)
              for (const s of this.o.indexes.servicesSelecting(
                pod.metadata.namespace ?? 'default',
                pod.metadata.labels ?? {},
              ))
                this.enqueue(s);
          }
        }
        break;
      }
      default:
        break;
    }
  }

  private enqueue(serviceKey: string): void {
    if (!this.active || this.o.isClosed()) return;
    this.queue.add(serviceKey);
    if (!this.draining) this.draining = this.drain();
  }

  /** Marks the nodes as changed; the next drain turn refreshes the topology cache once for all of them. */
  private topologyChanged(): void {
    this.nodesChanged = true;
    if (!this.active || this.o.isClosed()) return;
    if (!this.draining) this.draining = this.drain();
  }

  /** Re-reads the nodes into the topology cache if they changed, and queues overloaded services. */
  private refreshTopology(): void {
    if (!this.nodesChanged) return;
    this.nodesChanged = false;
    const nodes: Node[] = [];
    for (const e of this.o.cache.kind('Node').values()) nodes.push(e.object as Node);
    this.topology.setNodes(nodes);
    for (const key of this.topology.overloadedServices()) this.enqueue(key);
  }

  private async drain(): Promise<void> {
    await Promise.resolve();
    try {
      while ((this.queue.size || this.nodesChanged) && this.active && !this.o.isClosed()) {
        this.refreshTopology();
        const keys = [...this.queue];
        this.queue.clear();
        await Promise.all(keys.map((k) => this.syncService(k)));
      }
    } finally {
      this.draining = undefined;
      this.retries.clear();
      // Retries queued by syncs that were in flight when the loop was paused.
      if (!this.active) this.queue.clear();
      this.o.idle();
    }
  }

  private async syncService(key: string): Promise<void> {
    const { cache, indexes, keys } = this.o;
    const svc = cache.kind('Service').get(key)?.object as Service | undefined;
    const existing: StoredSlice[] = [];
    const slices = cache.kind('EndpointSlice');
    for (const sk of indexes.slicesOf(key)) {
      const e = slices.get(sk);
      const s = e?.object as EndpointSlice | undefined;
      if (!e || !s || !isManaged(s)) continue;
      existing.push({ slice: s, modRevision: e.modRevision });
    }
    const pods = svc ? indexes.podsFor(svc, cache.kind('Pod')) : [];
    const goneUID = svc ? undefined : this.deletedOwners.get(key);
    if (goneUID !== undefined) {
      this.deletedOwners.delete(key);
      // Garbage collection: every slice whose owner reference names the deleted service.
      existing.length = 0;
      for (const sk of indexes.slicesOf(key)) {
        const e = slices.get(sk);
        const sl = e?.object as EndpointSlice | undefined;
        if (e && sl?.metadata.ownerReferences?.some((o) => o.uid === goneUID))
          existing.push({ slice: sl, modRevision: e.modRevision });
      }
    }
    this.refreshTopology();
    if (!svc) this.topology.forgetService(key);
    const writes = reconcileSlices(
      svc,
      pods,
      (n) => cache.get('Node', '', n)?.object as Node | undefined,
      existing,
      this.o.rng,
      this.o.maxEndpointsPerSlice,
      this.topology,
    );
    if (goneUID !== undefined) writes.delete.push(...existing);
    const ops: StoreOp[] = [];
    const stamp = (s: EndpointSlice, prev?: EndpointSlice): EndpointSlice => {
      const m = s.metadata;
      m.uid = prev?.metadata.uid ?? newUID(this.o.rng);
      m.creationTimestamp = prev?.metadata.creationTimestamp ?? rfc3339(this.o.clock.wallNow());
      m.generation = prev ? (prev.metadata.generation ?? 1) + 1 : 1;
      delete m.resourceVersion;
      return s;
    };
    const sliceKey = (s: EndpointSlice) =>
      keys.objectKey('EndpointSlice', s.metadata.namespace ?? '', s.metadata.name ?? '');
    for (const s of writes.create) ops.push({ type: 'create', key: sliceKey(s), value: stamp(s) });
    for (const u of writes.update) {
      const prev = existing.find((e) => e.slice.metadata.name === u.slice.metadata.name)?.slice;
      ops.push({
        type: 'update',
        key: sliceKey(u.slice),
        value: stamp(u.slice, prev),
        expectedModRevision: u.modRevision,
      });
    }
    for (const d of writes.delete)
      ops.push({ type: 'delete', key: sliceKey(d.slice), expectedModRevision: d.modRevision });
    if (ops.length === 0) return;
    const written: string[] = [];
    for (const op of ops) {
      const parsed = keys.parse(op.key);
      if (parsed?.type !== 'object') continue;
      const k = objKey('EndpointSlice', parsed.namespace, parsed.name);
      written.push(k);
      this.ownSliceWrites.set(
        k,
        op.type === 'delete' ? 'deleted' : ((op.value as EndpointSlice).metadata.generation ?? 1),
      );
    }
    this.inflight++;
    try {
      const rev = await this.o.store.commit(ops);
      await cache.waitForRevision(rev);
    } catch (e) {
      for (const k of written) this.ownSliceWrites.delete(k);
      if (e instanceof StoreConflictError) {
        const n = (this.retries.get(key) ?? 0) + 1;
        this.retries.set(key, n);
        if (n <= MAX_CONTROLLER_RETRIES) {
          await cache.waitForRevision(cache.revision + 1).catch(() => {});
          this.queue.add(key);
          return;
        }
      }
      if (!this.o.isClosed()) this.o.onError(e as Error);
    } finally {
      this.inflight--;
    }
  }
}
