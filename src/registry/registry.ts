/**
 * The {@link Registry}: Kubernetes' API server, controllers and kube-proxy's change tracking in
 * one embeddable object. Writes go to a {@link Store} as transactions (object plus the
 * reservation keys of its cluster IPs, node ports and pod IPs, with compare-and-swap); reads,
 * controllers and snapshots are fed by a watch on that store, informer style, so several
 * registries on one shared store (etcd) stay consistent and never hand out a value twice.
 *
 * This module wires the parts together: {@link ObjectCache} (list + watch + relist),
 * {@link WritePath} and {@link WritePreparation} (create/update/apply/delete with defaulting,
 * validation and allocation), {@link ObjectIndexes}, {@link EndpointsSync} (the EndpointSlice
 * controller loop) and {@link SnapshotPublisher} (routing snapshots).
 *
 * @module
 */
import EventEmitter from 'eventemitter3';
import type { SnapshotSource } from '../backends/backend';
import { type Clock, systemClock } from '../core/clock';
import { mathRng, type Rng } from '../core/random';
import type { RoutingSnapshot, SnapshotUpdate } from '../core/snapshot';
import type { Kind, KubeObject, Node, ObjectOfKind } from '../core/types';
import { DEFAULT_NODE_PORT_RANGE, DEFAULT_SERVICE_CIDR, type LoadBalancerProvider } from '../net';
import { Selector } from '../selector';
import { DEFAULT_MAX_ENDPOINTS_PER_SLICE } from './endpoints-controller';
import { EndpointsSync } from './endpoints-sync';
import { CLUSTER_SCOPED_KINDS, KeyLayout, type Reservation } from './keys';
import {
  DEFAULT_LEASE_NAME,
  DEFAULT_LEASE_NAMESPACE,
  type LeaderElectionTiming,
  LeaderElector,
} from './leader-election';
import { LocalAllocators } from './local-allocators';
import { MemoryStore } from './memory-store';
import { ObjectCache } from './object-cache';
import { ObjectIndexes } from './object-indexes';
import { type AllocationMode, allocationModes } from './service-allocation';
import { SnapshotPublisher } from './snapshot-publisher';
import type { Store } from './store';
import { WritePath } from './write-path';
import { WritePreparation } from './write-preparation';

/** Default service CIDRs of the API server (`--service-cluster-ip-range`). */
export const DEFAULT_SERVICE_CLUSTER_IP_RANGES: readonly string[] = [DEFAULT_SERVICE_CIDR];
/** Default node port range of the API server (`--service-node-port-range`). */
export const DEFAULT_SERVICE_NODE_PORT_RANGE: string = DEFAULT_NODE_PORT_RANGE;

/** Options of {@link Registry}. */
export interface RegistryOptions {
  /** Where objects live; default a new {@link MemoryStore}. */
  readonly store?: Store;
  /** Key prefix in the store; default `/registry`. */
  readonly keyPrefix?: string;
  /** Service CIDRs, primary family first (one, or two for dual-stack). Default `10.96.0.0/12`. */
  readonly serviceClusterIPRanges?: readonly string[];
  /** Node port range `MIN-MAX`; default `30000-32767`. */
  readonly serviceNodePortRange?: string;
  /**
   * `strict` (default): requested cluster IPs and node ports must lie in the ranges (Kubernetes'
   * messages otherwise). `as-is`: values already present in objects (a dump of a real cluster)
   * are taken as they are; missing ones are allocated. Duplicates are refused in both modes.
   * `{ clusterIPs, nodePorts }` sets the mode per kind of value (the health check node port
   * follows `nodePorts`), e.g. to check node ports against a known range while keeping a dump's
   * cluster IPs. A value outside these throws a TypeError from the constructor.
   */
  readonly allocationMode?: AllocationMode;
  readonly clock?: Clock;
  readonly rng?: Rng;
  /** Answers LoadBalancer services; without one they stay pending (empty status). */
  readonly loadBalancerProvider?: LoadBalancerProvider;
  /**
   * Accept loopback addresses (127.0.0.0/8, ::1) in EndpointSlices, which the API server rejects:
   * for local development, where processes on this host are the backends. Default false.
   */
  readonly allowLoopbackEndpoints?: boolean;
  /** Run the endpoints controller in this registry (default true; one per shared store is enough). */
  readonly runControllers?: boolean;
  /** Pod CIDRs per node name, in addition to Node objects' `spec.podCIDR(s)`. */
  readonly nodePodCIDRs?: Readonly<Record<string, string | readonly string[]>>;
  /** Endpoints per EndpointSlice (default 100, kube-controller-manager's default). */
  readonly maxEndpointsPerSlice?: number;
  /**
   * Run the controllers only while this registry holds a Lease in the store (as
   * kube-controller-manager's `--leader-elect`), so that of several registries on one shared
   * store exactly one reconciles at a time. Off by default (every registry with `runControllers`
   * runs them). Ignored when `runControllers` is false.
   */
  readonly leaderElection?: RegistryLeaderElection;
}

/** Leader election of a registry's controllers (see {@link RegistryOptions.leaderElection}). */
export interface RegistryLeaderElection extends LeaderElectionTiming {
  /** This registry's identity among the candidates; default `<hostname>_<uuid>`. */
  readonly identity?: string;
  /**
   * Name of the Lease (in namespace `kube-system`, stored at `<keyPrefix>/leases/kube-system/<name>`);
   * default `svcroute-controller-manager`. Registries with different lease names elect separately.
   */
  readonly leaseName?: string;
}

/** Options of {@link Registry.delete}. */
export interface DeleteOptions {
  /**
   * Pods only: keep the pod for this many seconds with `deletionTimestamp` set (its endpoints
   * turn terminating), then remove it. 0 or absent: remove now.
   */
  readonly gracePeriodSeconds?: number;
  /** Compare-and-swap: fail with a Conflict unless the object is at this resourceVersion. */
  readonly resourceVersion?: string;
}

/** Options of {@link Registry.list}. */
export interface ListOptions {
  /** Only this namespace (all namespaces when absent). */
  readonly namespace?: string;
  /** A label selector string (`app=web,tier!=db`) or a parsed {@link Selector}. */
  readonly labelSelector?: string | Selector;
}

/** What {@link Registry.apply} did. */
export interface ApplyResult<T extends KubeObject = KubeObject> {
  readonly object: T;
  readonly action: 'created' | 'configured' | 'unchanged';
}

/** An object event. `oldObject` is set for `modified` and `deleted`. */
export interface ObjectEvent<K extends Kind = Kind> {
  readonly kind: K;
  readonly object: ObjectOfKind<K>;
  readonly oldObject?: ObjectOfKind<K>;
}

/** Events a {@link Registry} emits. */
export interface RegistryEvents {
  /**
   * An object the registry's cache had not seen appeared (written here or by another writer to
   * the same store); the object is frozen and carries its `resourceVersion`.
   */
  added: (e: ObjectEvent) => void;
  /** A cached object changed; `oldObject` is the cached version it replaces. */
  modified: (e: ObjectEvent) => void;
  /** A cached object was removed; `object` and `oldObject` are both its last known version. */
  deleted: (e: ObjectEvent) => void;
  /** A new routing snapshot with the port-level changes (never for a no-op). */
  snapshot: (u: SnapshotUpdate) => void;
  /** Background failures (watch lost, controller write failed for good). */
  error: (err: Error) => void;
}

/**
 * Services, Pods, EndpointSlices, Nodes, Namespaces and legacy Endpoints over a {@link Store},
 * with the API server's defaulting, validation and allocation, the EndpointSlice controller, and
 * an always-current {@link RoutingSnapshot}.
 *
 * Objects returned by reads and events are deep-frozen: copy before changing (`structuredClone`).
 * Every write resolves after the registry's own cache has seen it (read-your-writes).
 */
export class Registry extends EventEmitter<RegistryEvents> implements SnapshotSource {
  readonly store: Store;
  readonly keys: KeyLayout;
  /** {@link RegistryOptions.allocationMode} as given (the object form as a frozen copy). */
  readonly allocationMode: AllocationMode;
  private readonly cache: ObjectCache;
  private readonly indexes = new ObjectIndexes();
  private readonly allocators: LocalAllocators;
  private readonly publisher: SnapshotPublisher;
  private readonly controller: EndpointsSync;
  /** The controllers' leader election, when {@link RegistryOptions.leaderElection} is set. */
  readonly leaderElector: LeaderElector | undefined;
  private readonly writes: WritePath;
  private readonly started: Promise<void>;
  private readonly ownsStore: boolean;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(options: RegistryOptions = {}) {
    super();
    this.store = options.store ?? new MemoryStore();
    this.ownsStore = options.store === undefined;
    this.keys = new KeyLayout(options.keyPrefix);
    const mode = options.allocationMode ?? 'strict';
    // Checked here so a bad value fails at construction rather than at the first write; the
    // object form is copied so the caller's object cannot change this registry's mode later.
    const modes = allocationModes(mode);
    this.allocationMode = typeof mode === 'string' ? mode : modes;
    const clock: Clock = options.clock ?? systemClock;
    const rng: Rng = options.rng ?? mathRng;
    const isClosed = () => this.closed;
    const onError = (err: Error) => this.emit('error', err);
    this.allocators = new LocalAllocators({
      serviceClusterIPRanges: options.serviceClusterIPRanges ?? DEFAULT_SERVICE_CLUSTER_IP_RANGES,
      serviceNodePortRange: options.serviceNodePortRange ?? DEFAULT_SERVICE_NODE_PORT_RANGE,
      nodePodCIDRs: options.nodePodCIDRs ?? {},
      rng,
      onError,
    });
    this.cache = new ObjectCache({
      store: this.store,
      keys: this.keys,
      clock,
      listener: {
        objectChanged: (kind, key, prev, next) => this.objectChanged(kind, key, prev, next),
        reservationChanged: (prev, next) => this.reservationChanged(prev, next),
        batchApplied: () => this.publisher.schedule(),
        error: onError,
      },
    });
    this.publisher = new SnapshotPublisher({
      publish: (update) => this.emit('snapshot', update),
      flushed: () => this.wakeIdle(),
      revision: () => this.cache.revision,
      isClosed,
    });
    const runControllers = options.runControllers ?? true;
    const election = runControllers ? options.leaderElection : undefined;
    this.controller = new EndpointsSync({
      enabled: runControllers && election === undefined,
      store: this.store,
      keys: this.keys,
      cache: this.cache,
      indexes: this.indexes,
      clock,
      rng,
      maxEndpointsPerSlice: options.maxEndpointsPerSlice ?? DEFAULT_MAX_ENDPOINTS_PER_SLICE,
      isClosed,
      onError,
      idle: () => this.wakeIdle(),
    });
    this.leaderElector = election && this.electorFor(election, clock, rng);
    const lbProvider = options.loadBalancerProvider;
    this.writes = new WritePath({
      store: this.store,
      keys: this.keys,
      cache: this.cache,
      preparation: new WritePreparation({
        keys: this.keys,
        cache: this.cache,
        indexes: this.indexes,
        allocators: this.allocators,
        allocationMode: this.allocationMode,
        allowLoopbackEndpoints: options.allowLoopbackEndpoints ?? false,
        clock,
        rng,
        lbProvider,
        onError,
      }),
      clock,
      rng,
      lbProvider,
      isClosed,
      onError,
    });
    this.started = this.start();
    // Start-up failures surface through every call; avoid an unhandled rejection meanwhile.
    this.started.catch(() => {});
  }

  /** Creates a registry and waits until its cache holds the store's content. */
  static async open(options: RegistryOptions = {}): Promise<Registry> {
    const r = new Registry(options);
    await r.ready();
    return r;
  }

  /** Resolves once the initial list is loaded and the watch runs. */
  ready(): Promise<void> {
    return this.started;
  }

  // -------------------------------------------------------------------------------------------
  // Reads

  /** The object, or undefined. Cluster-scoped kinds ignore `namespace`. */
  async get<K extends Kind>(kind: K, namespace: string, name: string): Promise<ObjectOfKind<K> | undefined> {
    await this.started;
    return this.cache.get(kind, namespace || 'default', name)?.object as ObjectOfKind<K> | undefined;
  }

  /** Objects of a kind in the API server's list order (by `namespace/name`), optionally filtered. */
  async list<K extends Kind>(kind: K, options: ListOptions = {}): Promise<ObjectOfKind<K>[]> {
    await this.started;
    const selector =
      typeof options.labelSelector === 'string'
        ? Selector.parse(options.labelSelector)
        : options.labelSelector;
    const out: ObjectOfKind<K>[] = [];
    for (const e of this.cache.kind(kind).values()) {
      const o = e.object as ObjectOfKind<K>;
      if (
        options.namespace !== undefined &&
        !CLUSTER_SCOPED_KINDS.has(kind) &&
        o.metadata.namespace !== options.namespace
      )
        continue;
      if (selector && !selector.matches(o.metadata.labels ?? {})) continue;
      out.push(o);
    }
    // The API server lists in storage-key order, `<namespace>/<name>` compared as bytes, so
    // namespace `shop-dev` comes before `shop` ('-' sorts before '/'); names are ASCII.
    const keyOf = (o: ObjectOfKind<K>) => `${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`;
    return out.sort((a, b) => cmp(keyOf(a), keyOf(b)));
  }

  /** The current routing snapshot (immutable). */
  snapshot(): RoutingSnapshot {
    return this.publisher.snapshot();
  }

  /**
   * Resolves when the registry is quiet: no controller work queued or in flight and the snapshot
   * reflects every change seen. Handy after loading a batch of objects.
   */
  async settled(): Promise<void> {
    await this.started;
    const busy = () => this.controller.busy() || this.publisher.busy();
    for (;;) {
      if (!busy()) {
        // One more turn: a commit may be in its delivery microtasks.
        await new Promise<void>((r) => setTimeout(r, 0));
        if (!busy()) return;
        continue;
      }
      await new Promise<void>((r) => this.idleWaiters.push(r));
    }
  }

  // -------------------------------------------------------------------------------------------
  // Writes

  /** Creates an object: defaulting, validation, allocation. Rejects with a {@link StatusError}. */
  async create<T extends KubeObject>(input: T): Promise<T> {
    await this.started;
    return this.writes.create(input);
  }

  /**
   * Replaces an object. With `metadata.resourceVersion` set the write is compare-and-swap (a
   * Conflict when it moved). Allocated values the input leaves out (cluster IPs, node ports, pod
   * IPs) are kept, as the API server does; changing a cluster IP is refused.
   */
  async update<T extends KubeObject>(input: T): Promise<T> {
    await this.started;
    return this.writes.update(input);
  }

  /**
   * Creates the object or brings the stored one to it (`kubectl apply`): `unchanged` when the
   * result would equal what is stored (nothing is written).
   */
  async apply<T extends KubeObject>(input: T): Promise<ApplyResult<T>> {
    await this.started;
    return this.writes.apply(input);
  }

  /**
   * Deletes an object and releases what it held. Pods with `gracePeriodSeconds` > 0 first turn
   * terminating (deletionTimestamp set) and go when the grace period ends. Resolves to the
   * deleted (or now terminating) object.
   */
  async delete<K extends Kind>(
    kind: K,
    namespace: string,
    name: string,
    options: DeleteOptions = {},
  ): Promise<ObjectOfKind<K>> {
    await this.started;
    return this.writes.delete(kind, namespace, name, options);
  }

  /** Stops the watch, timers and controllers. The store is closed only if the registry made it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Stop reconciling, let the writes in flight land, then hand the lease over at once.
    await this.leaderElector?.close({ beforeRelease: () => this.controller.drained() });
    this.cache.close();
    this.writes.close();
    this.wakeIdle();
    this.removeAllListeners();
    if (this.ownsStore) await this.store.close();
  }

  // -------------------------------------------------------------------------------------------
  // Wiring

  private async start(): Promise<void> {
    await this.cache.start();
    this.controller.enqueueAll();
    if (!this.closed) this.leaderElector?.start();
  }

  private electorFor(election: RegistryLeaderElection, clock: Clock, rng: Rng): LeaderElector {
    const leaseName = election.leaseName ?? DEFAULT_LEASE_NAME;
    const elector = new LeaderElector({
      ...election,
      store: this.store,
      key: `${this.keys.prefix}/leases/${DEFAULT_LEASE_NAMESPACE}/${leaseName}`,
      leaseName,
      leaseNamespace: DEFAULT_LEASE_NAMESPACE,
      clock,
      rng,
    });
    elector.on('startedLeading', () => void this.lead(elector, clock));
    elector.on('stoppedLeading', () => this.controller.pause());
    return elector;
  }

  /**
   * Leadership gained: catch up with the store first, so that the full resync sees every slice
   * the previous leader wrote (and does not create them a second time), then run the loop.
   */
  private async lead(elector: LeaderElector, clock: Clock): Promise<void> {
    for (;;) {
      if (this.closed || !elector.isLeader()) return;
      try {
        await this.cache.waitForRevision(await this.store.revision());
        break;
      } catch (e) {
        if (!this.closed) this.emit('error', e as Error);
        await new Promise<void>((r) => clock.setTimeout(r, elector.retryPeriodMs));
      }
    }
    if (!this.closed && elector.isLeader()) this.controller.resume();
  }

  /**
   * One cache change, fanned out in a fixed order: snapshot tracker, indexes, allocators, then
   * the controller (which reads the indexes), and last the object event.
   */
  private objectChanged(
    kind: Kind,
    key: string,
    prev: KubeObject | undefined,
    next: KubeObject | undefined,
  ): void {
    this.publisher.objectChanged(kind, key, prev, next);
    this.indexes.objectChanged(kind, key, prev, next);
    if (kind === 'Node') this.allocators.nodeChanged(key, prev as Node | undefined, next as Node | undefined);
    this.controller.objectChanged(kind, key, prev, next);
    if (next) {
      if (prev) this.emit('modified', { kind, object: next, oldObject: prev } as ObjectEvent);
      else this.emit('added', { kind, object: next } as ObjectEvent);
    } else if (prev) {
      this.emit('deleted', { kind, object: prev, oldObject: prev } as ObjectEvent);
    }
  }

  private reservationChanged(prev: Reservation | undefined, next: Reservation | undefined): void {
    if (prev) this.allocators.mark(prev, false);
    if (next) this.allocators.mark(next, true);
  }

  private wakeIdle(): void {
    const ws = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of ws) w();
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
