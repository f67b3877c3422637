/**
 * The {@link Registry}: Kubernetes' API server, controllers and kube-proxy's change tracking in
 * one embeddable object. Writes go to a {@link Store} as transactions (object plus the
 * reservation keys of its cluster IPs, node ports and pod IPs, with compare-and-swap); reads,
 * controllers and snapshots are fed by a watch on that store, informer style, so several
 * registries on one shared store (etcd) stay consistent and never hand out a value twice.
 *
 * @module
 */
import EventEmitter from 'eventemitter3';
import type { SnapshotSource } from '../backends/backend';
import { type Clock, systemClock } from '../core/clock';
import { defaultEndpointSlice, defaultPod, defaultService } from '../core/defaults';
import {
  alreadyExistsError,
  conflictError,
  type ErrorList,
  fieldErrors,
  invalidError,
  notFoundError,
  OBJECT_MODIFIED,
  StatusError,
} from '../core/errors';
import { mathRng, type Rng } from '../core/random';
import { namespacedKey, type RoutingSnapshot, type SnapshotUpdate } from '../core/snapshot';
import {
  ENDPOINTSLICE_CONTROLLER_NAME,
  type EndpointSlice,
  type Kind,
  type KubeObject,
  LABEL_MANAGED_BY,
  type Node,
  type ObjectOfKind,
  type Pod,
  type Service,
} from '../core/types';
import {
  AllocationError,
  ClusterIPRange,
  canonicalIP,
  clusterIPAllocationFieldError,
  DEFAULT_NODE_PORT_RANGE,
  DEFAULT_SERVICE_CIDR,
  IP_ALLOCATED_MESSAGE,
  isAllocationError,
  type LoadBalancerProvider,
  NodePortAllocator,
  PORT_ALLOCATED_MESSAGE,
  PodIPAllocator,
} from '../net';
import { LabelIndex, Selector } from '../selector';
import {
  validateEndpointSlice,
  validateObject,
  validatePod,
  validateService,
  validateServiceUpdate,
} from '../validation';
import { ChangeTracker, sliceServiceKey } from './change-tracker';
import {
  DEFAULT_MAX_ENDPOINTS_PER_SLICE,
  generateName,
  reconcileSlices,
  type StoredSlice,
} from './endpoints-controller';
import {
  CLUSTER_SCOPED_KINDS,
  KeyLayout,
  RESOURCE_NAME,
  type Reservation,
  type ReservationType,
} from './keys';
import { MemoryStore } from './memory-store';
import { cloneJSON, deepFreeze, jsonEqual } from './object-utils';
import {
  type AllocationMode,
  planServiceAllocation,
  prepareServiceForUpdate,
  type ReservationRef,
  type ServiceAllocationContext,
  type ServiceAllocationPlan,
  unmarkPlan,
} from './service-allocation';
import {
  type Store,
  StoreCompactedError,
  StoreConflictError,
  type StoreEvent,
  type StoreOp,
  type StoreWatch,
} from './store';

/** Default service CIDRs of the API server (`--service-cluster-ip-range`). */
export const DEFAULT_SERVICE_CLUSTER_IP_RANGES: readonly string[] = [DEFAULT_SERVICE_CIDR];
/** Default node port range of the API server (`--service-node-port-range`). */
export const DEFAULT_SERVICE_NODE_PORT_RANGE: string = DEFAULT_NODE_PORT_RANGE;
/** How often a write retries with new candidates after losing a reservation race. */
const MAX_ALLOCATION_ATTEMPTS = 16;
/** How often the endpoints controller retries one service after write conflicts, per burst. */
const MAX_CONTROLLER_RETRIES = 8;
/** First wait before listing again after a lost watch; doubles per failure up to the cap. */
const RELIST_BACKOFF_INITIAL_MS = 100;
const RELIST_BACKOFF_MAX_MS = 10_000;

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
   */
  readonly allocationMode?: AllocationMode;
  readonly clock?: Clock;
  readonly rng?: Rng;
  /** Answers LoadBalancer services; without one they stay pending (empty status). */
  readonly loadBalancerProvider?: LoadBalancerProvider;
  /** Run the endpoints controller in this registry (default true; one per shared store is enough). */
  readonly runControllers?: boolean;
  /** Pod CIDRs per node name, in addition to Node objects' `spec.podCIDR(s)`. */
  readonly nodePodCIDRs?: Readonly<Record<string, string | readonly string[]>>;
  /** Endpoints per EndpointSlice (default 100, kube-controller-manager's default). */
  readonly maxEndpointsPerSlice?: number;
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

interface CacheEntry {
  readonly object: KubeObject;
  readonly modRevision: number;
}

interface ReservationEntry {
  readonly value: Reservation;
  readonly modRevision: number;
}

/** The registry defaults before validating; the validators need not do it again. */
const ALREADY_DEFAULTED = { applyDefaults: false } as const;

const KINDS: readonly Kind[] = ['Service', 'Pod', 'EndpointSlice', 'Endpoints', 'Node', 'Namespace'];
const API_VERSION: Readonly<Record<Kind, string>> = {
  Service: 'v1',
  Pod: 'v1',
  Endpoints: 'v1',
  Node: 'v1',
  Namespace: 'v1',
  EndpointSlice: 'discovery.k8s.io/v1',
};

function objKey(kind: Kind, namespace: string, name: string): string {
  return CLUSTER_SCOPED_KINDS.has(kind) ? name : `${namespace}/${name}`;
}

function ownerId(kind: Kind, namespace: string, name: string): string {
  return `${kind}/${objKey(kind, namespace, name)}`;
}

function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z');
}

function pairKey(k: string, v: string): string {
  return `${k}\u0000${v}`;
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
  readonly allocationMode: AllocationMode;
  private readonly clock: Clock;
  private readonly rng: Rng;
  private readonly lbProvider: LoadBalancerProvider | undefined;
  private readonly runControllers: boolean;
  private readonly maxPerSlice: number;
  private readonly serviceRanges: ClusterIPRange[];
  private readonly nodePorts: NodePortAllocator;
  private readonly nodePodCIDRs: ReadonlyMap<string, readonly string[]>;
  private readonly podIPAM = new Map<string, PodIPAllocator | null>();

  private readonly cache = new Map<Kind, Map<string, CacheEntry>>();
  private readonly reservations = new Map<string, ReservationEntry>();
  private readonly reservationsByOwner = new Map<string, Set<string>>();
  /** Pods per namespace per label pair (services → pods). */
  private readonly podLabelIndex = new Map<string, Map<string, Set<string>>>();
  /** Service selectors per namespace (pods → services). */
  private readonly serviceIndex = new Map<string, LabelIndex<string>>();
  private readonly podsByNode = new Map<string, Set<string>>();
  /** Managed slices per service key. */
  private readonly slicesByService = new Map<string, Set<string>>();
  /** uid of just-deleted services by key, whose owned slices are to be collected. */
  private readonly deletedOwners = new Map<string, string>();
  /** Slices the controller just wrote (generation written, or `deleted`), to skip their echo. */
  private readonly ownSliceWrites = new Map<string, number | 'deleted'>();
  private readonly tracker = new ChangeTracker();
  private cacheRevision = 0;
  private waiters: { revision: number; resolve: () => void }[] = [];
  private watch: StoreWatch | undefined;
  private readonly started: Promise<void>;
  private closed = false;
  private readonly ownsStore: boolean;
  private flushScheduled = false;

  private readonly queue = new Set<string>();
  private readonly retries = new Map<string, number>();
  private draining: Promise<void> | undefined;
  private inflight = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly graceTimers = new Set<ReturnType<Clock['setTimeout']>>();

  constructor(options: RegistryOptions = {}) {
    super();
    this.store = options.store ?? new MemoryStore();
    this.ownsStore = options.store === undefined;
    this.keys = new KeyLayout(options.keyPrefix);
    this.allocationMode = options.allocationMode ?? 'strict';
    this.clock = options.clock ?? systemClock;
    this.rng = options.rng ?? mathRng;
    this.lbProvider = options.loadBalancerProvider;
    this.runControllers = options.runControllers ?? true;
    this.maxPerSlice = options.maxEndpointsPerSlice ?? DEFAULT_MAX_ENDPOINTS_PER_SLICE;
    const cidrs = options.serviceClusterIPRanges ?? DEFAULT_SERVICE_CLUSTER_IP_RANGES;
    this.serviceRanges = cidrs.map((c) => new ClusterIPRange(c, { rng: this.rng }));
    this.nodePorts = new NodePortAllocator(options.serviceNodePortRange ?? DEFAULT_SERVICE_NODE_PORT_RANGE, {
      rng: this.rng,
    });
    const m = new Map<string, readonly string[]>();
    for (const [node, c] of Object.entries(options.nodePodCIDRs ?? {}))
      m.set(node, typeof c === 'string' ? [c] : c);
    this.nodePodCIDRs = m;
    for (const k of KINDS) this.cache.set(k, new Map());
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
    return this.getCached(kind, namespace || 'default', name)?.object as ObjectOfKind<K> | undefined;
  }

  /** Objects of a kind, sorted by namespace then name, optionally filtered. */
  async list<K extends Kind>(kind: K, options: ListOptions = {}): Promise<ObjectOfKind<K>[]> {
    await this.started;
    const selector =
      typeof options.labelSelector === 'string'
        ? Selector.parse(options.labelSelector)
        : options.labelSelector;
    const out: ObjectOfKind<K>[] = [];
    for (const e of this.kindCache(kind).values()) {
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
    return out.sort(
      (a, b) =>
        cmp(a.metadata.namespace ?? '', b.metadata.namespace ?? '') ||
        cmp(a.metadata.name ?? '', b.metadata.name ?? ''),
    );
  }

  /** The current routing snapshot (immutable). */
  snapshot(): RoutingSnapshot {
    return this.tracker.snapshot();
  }

  /**
   * Resolves when the registry is quiet: no controller work queued or in flight and the snapshot
   * reflects every change seen. Handy after loading a batch of objects.
   */
  async settled(): Promise<void> {
    await this.started;
    for (;;) {
      if (this.queue.size === 0 && this.inflight === 0 && !this.draining && !this.flushScheduled) {
        // One more turn: a commit may be in its delivery microtasks.
        await new Promise<void>((r) => setTimeout(r, 0));
        if (this.queue.size === 0 && this.inflight === 0 && !this.draining && !this.flushScheduled) return;
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
    const obj = this.normalizeInput(input);
    const kind = obj.kind;
    const ns = this.namespaceOf(obj);
    if (!obj.metadata.name && obj.metadata.generateName)
      obj.metadata.name = generateName(obj.metadata.generateName, this.rng);
    const name = obj.metadata.name ?? '';
    if (!name)
      throw invalidError(kind, '', [
        { kind: 'Required', field: 'metadata.name', value: '', detail: 'name or generateName is required' },
      ]);
    const resource = RESOURCE_NAME[kind];
    for (let attempt = 0; ; attempt++) {
      if (this.getCached(kind, ns, name)) throw alreadyExistsError(resource, name, kind);
      const prepared = await this.prepare(obj, undefined);
      const ops: StoreOp[] = [
        { type: 'create', key: this.keys.objectKey(kind, ns, name), value: this.toStored(prepared.object) },
        ...prepared.ops,
      ];
      try {
        const rev = await this.store.commit(ops);
        await this.waitForRevision(rev);
        return this.getCached(kind, ns, name)?.object as T;
      } catch (e) {
        const retry = this.onCommitError(e, prepared, attempt, resource, name, kind);
        if (!retry) throw e;
      }
    }
  }

  /**
   * Replaces an object. With `metadata.resourceVersion` set the write is compare-and-swap (a
   * Conflict when it moved). Allocated values the input leaves out (cluster IPs, node ports, pod
   * IPs) are kept, as the API server does; changing a cluster IP is refused.
   */
  async update<T extends KubeObject>(input: T): Promise<T> {
    await this.started;
    const obj = this.normalizeInput(input);
    const kind = obj.kind;
    const ns = this.namespaceOf(obj);
    const name = obj.metadata.name ?? '';
    const resource = RESOURCE_NAME[kind];
    for (let attempt = 0; ; attempt++) {
      const cur = this.getCached(kind, ns, name);
      if (!cur) throw notFoundError(resource, name, kind);
      const rv = input.metadata.resourceVersion;
      if (rv !== undefined && rv !== '' && rv !== String(cur.modRevision))
        throw conflictError(resource, name, OBJECT_MODIFIED, kind);
      const prepared = await this.prepare(obj, cur);
      const ops: StoreOp[] = [
        {
          type: 'update',
          key: this.keys.objectKey(kind, ns, name),
          value: this.toStored(prepared.object),
          expectedModRevision: cur.modRevision,
        },
        ...prepared.ops,
      ];
      try {
        const rev = await this.store.commit(ops);
        await this.waitForRevision(rev);
        return this.getCached(kind, ns, name)?.object as T;
      } catch (e) {
        if (e instanceof StoreConflictError && e.key === this.keys.objectKey(kind, ns, name)) {
          this.releasePlan(prepared);
          if (rv !== undefined && rv !== '') throw conflictError(resource, name, OBJECT_MODIFIED, kind);
          if (attempt < MAX_ALLOCATION_ATTEMPTS) {
            await this.waitForRevision(this.cacheRevision + 1).catch(() => {});
            continue;
          }
          throw conflictError(resource, name, OBJECT_MODIFIED, kind);
        }
        const retry = this.onCommitError(e, prepared, attempt, resource, name, kind);
        if (!retry) throw e;
      }
    }
  }

  /**
   * Creates the object or brings the stored one to it (`kubectl apply`): `unchanged` when the
   * result would equal what is stored (nothing is written).
   */
  async apply<T extends KubeObject>(input: T): Promise<ApplyResult<T>> {
    await this.started;
    const obj = this.normalizeInput(input);
    const ns = this.namespaceOf(obj);
    const name = obj.metadata.name ?? '';
    const cur = name ? this.getCached(obj.kind, ns, name) : undefined;
    if (!cur) return { object: await this.create(input), action: 'created' };
    const prepared = await this.prepare(obj, cur, { dryRun: true });
    this.releasePlan(prepared);
    if (sameContent(prepared.object, cur.object)) return { object: cur.object as T, action: 'unchanged' };
    const { resourceVersion: _rv, ...meta } = obj.metadata;
    return { object: await this.update({ ...obj, metadata: meta } as T), action: 'configured' };
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
    const ns = CLUSTER_SCOPED_KINDS.has(kind) ? '' : namespace || 'default';
    const resource = RESOURCE_NAME[kind];
    for (let attempt = 0; ; attempt++) {
      const cur = this.getCached(kind, ns, name);
      if (!cur) throw notFoundError(resource, name, kind);
      if (options.resourceVersion && options.resourceVersion !== String(cur.modRevision))
        throw conflictError(resource, name, OBJECT_MODIFIED, kind);
      const grace = options.gracePeriodSeconds ?? 0;
      if (kind === 'Pod' && grace > 0) {
        const pod = cur.object as Pod;
        if (pod.metadata.deletionTimestamp) return pod as ObjectOfKind<K>;
        const at = new Date(this.clock.wallNow().getTime() + grace * 1000);
        const next = cloneJSON(pod);
        next.metadata.deletionTimestamp = rfc3339(at);
        next.metadata.deletionGracePeriodSeconds = grace;
        try {
          const rev = await this.store.commit([
            {
              type: 'update',
              key: this.keys.objectKey(kind, ns, name),
              value: this.toStored(next),
              expectedModRevision: cur.modRevision,
            },
          ]);
          await this.waitForRevision(rev);
        } catch (e) {
          if (e instanceof StoreConflictError && attempt < MAX_ALLOCATION_ATTEMPTS) continue;
          throw e;
        }
        const timer = this.clock.setTimeout(() => {
          this.graceTimers.delete(timer);
          if (this.closed) return;
          this.delete('Pod', ns, name).catch((err: unknown) => {
            if (!(err instanceof StatusError && err.reason === 'NotFound')) this.emit('error', err as Error);
          });
        }, grace * 1000);
        this.graceTimers.add(timer);
        return this.getCached(kind, ns, name)?.object as ObjectOfKind<K>;
      }
      const ops: StoreOp[] = [
        { type: 'delete', key: this.keys.objectKey(kind, ns, name), expectedModRevision: cur.modRevision },
      ];
      for (const key of this.reservationsByOwner.get(ownerId(kind, ns, name)) ?? [])
        ops.push({ type: 'delete', key });
      if (kind === 'Service' && this.lbProvider && (cur.object as Service).spec.type === 'LoadBalancer')
        await this.lbProvider.release(cur.object as Service);
      try {
        const rev = await this.store.commit(ops);
        await this.waitForRevision(rev);
        return cur.object as ObjectOfKind<K>;
      } catch (e) {
        if (e instanceof StoreConflictError && attempt < MAX_ALLOCATION_ATTEMPTS) {
          await this.waitForRevision(this.cacheRevision + 1).catch(() => {});
          continue;
        }
        throw e;
      }
    }
  }

  /** Stops the watch, timers and controllers. The store is closed only if the registry made it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.watch?.cancel();
    for (const t of this.graceTimers) this.clock.clearTimeout(t);
    this.graceTimers.clear();
    for (const w of this.waiters) w.resolve();
    this.waiters = [];
    this.wakeIdle();
    this.removeAllListeners();
    if (this.ownsStore) await this.store.close();
  }

  // -------------------------------------------------------------------------------------------
  // Preparation: defaulting, validation, allocation

  private normalizeInput<T extends KubeObject>(input: T): T {
    if (!input || typeof input !== 'object' || !KINDS.includes(input.kind))
      throw new StatusError(
        'BadRequest',
        `unsupported object kind ${JSON.stringify((input as { kind?: unknown })?.kind)}`,
      );
    const obj: T = cloneJSON(input);
    const kind: Kind = (input as KubeObject).kind;
    obj.apiVersion = (obj.apiVersion || API_VERSION[kind]) as T['apiVersion'];
    obj.metadata = obj.metadata ?? {};
    if (CLUSTER_SCOPED_KINDS.has(obj.kind)) delete obj.metadata.namespace;
    else obj.metadata.namespace = obj.metadata.namespace || 'default';
    return obj;
  }

  private namespaceOf(obj: KubeObject): string {
    return CLUSTER_SCOPED_KINDS.has(obj.kind) ? '' : (obj.metadata.namespace ?? 'default');
  }

  private newUID(): string {
    const b: number[] = [];
    for (let i = 0; i < 16; i++) b.push(this.rng.int(256));
    b[6] = ((b[6] as number) & 0x0f) | 0x40;
    b[8] = ((b[8] as number) & 0x3f) | 0x80;
    const h = b.map((x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  private async prepare(
    obj: KubeObject,
    cur: CacheEntry | undefined,
    opts: { dryRun?: boolean } = {},
  ): Promise<Prepared> {
    const meta = obj.metadata;
    if (cur) {
      const old = cur.object.metadata;
      meta.uid = old.uid ?? this.newUID();
      if (old.creationTimestamp) meta.creationTimestamp = old.creationTimestamp;
      if (old.deletionTimestamp && !meta.deletionTimestamp) meta.deletionTimestamp = old.deletionTimestamp;
      if (old.deletionGracePeriodSeconds !== undefined && meta.deletionGracePeriodSeconds === undefined)
        meta.deletionGracePeriodSeconds = old.deletionGracePeriodSeconds;
      if (old.generateName && !meta.generateName) meta.generateName = old.generateName;
    } else {
      meta.uid ||= this.newUID();
      meta.creationTimestamp ||= rfc3339(this.clock.wallNow());
    }
    delete meta.resourceVersion;
    switch (obj.kind) {
      case 'Service':
        return this.prepareService(obj, cur, opts);
      case 'Pod':
        return this.preparePod(obj, cur);
      case 'EndpointSlice': {
        const s = defaultEndpointSlice(obj);
        this.throwIfInvalid(s, validateEndpointSlice(s, ALREADY_DEFAULTED));
        return { object: this.withGeneration(s, cur), ops: [] };
      }
      default:
        this.throwIfInvalid(obj, validateObject(obj));
        return { object: this.withGeneration(obj, cur), ops: [] };
    }
  }

  private withGeneration<T extends KubeObject>(obj: T, cur: CacheEntry | undefined): T {
    const prev = cur?.object;
    const spec = (o: KubeObject) =>
      (o as { spec?: unknown }).spec ?? (o as { endpoints?: unknown }).endpoints;
    obj.metadata.generation = !prev
      ? 1
      : (prev.metadata.generation ?? 1) +
        (jsonEqual(spec(obj), spec(prev)) &&
        jsonEqual((obj as { ports?: unknown }).ports, (prev as { ports?: unknown }).ports)
          ? 0
          : 1);
    return obj;
  }

  private throwIfInvalid(obj: KubeObject, errors: ErrorList): void {
    if (errors.length) throw invalidError(obj.kind, obj.metadata.name ?? '', errors);
  }

  private allocationContext(): ServiceAllocationContext {
    return {
      mode: this.allocationMode,
      serviceRanges: this.serviceRanges,
      nodePorts: this.nodePorts,
      holder: (type, value) => {
        const r = this.reservations.get(this.keys.reservationKey(type, value));
        return r ? namespacedKey(r.value.owner.namespace, r.value.owner.name) : undefined;
      },
    };
  }

  private async prepareService(
    input: Service,
    cur: CacheEntry | undefined,
    opts: { dryRun?: boolean },
  ): Promise<Prepared> {
    const prev = cur?.object as Service | undefined;
    let svc = defaultService(input);
    const ns = svc.metadata.namespace ?? 'default';
    const name = svc.metadata.name ?? '';
    // Allocated values the client left out are carried over before validation (the REST layer's
    // order), so an update without clusterIP is not mistaken for unsetting it.
    if (prev) svc = prepareServiceForUpdate(svc, prev);
    this.throwIfInvalid(
      svc,
      prev ? validateServiceUpdate(svc, prev, ALREADY_DEFAULTED) : validateService(svc, ALREADY_DEFAULTED),
    );
    const ctx = this.allocationContext();
    const plan = planServiceAllocation(ctx, svc, prev, namespacedKey(ns, name), {
      firstAddress: !prev && ns === 'default' && name === 'kubernetes',
    });
    if (plan.errors.length) {
      unmarkPlan(ctx, plan);
      throw invalidError('Service', name, plan.errors);
    }
    if (plan.internalError) {
      unmarkPlan(ctx, plan);
      throw plan.internalError;
    }
    const out = plan.service;
    // Status is the controllers' business: an update keeps the stored status.
    if (prev) {
      if (prev.status) out.status = cloneJSON(prev.status);
      else delete out.status;
    }
    if (!opts.dryRun && this.lbProvider) {
      const wasLB = prev?.spec.type === 'LoadBalancer';
      const isLB = out.spec.type === 'LoadBalancer';
      if (isLB && (this.lbProvider.handles?.(out) ?? true)) {
        try {
          const ingress = await this.lbProvider.ensure(out);
          out.status = { ...(out.status ?? {}), loadBalancer: ingress.length ? { ingress } : {} };
        } catch (e) {
          this.emit('error', e as Error);
        }
      } else if (wasLB && !isLB) {
        await this.lbProvider.release(prev as Service);
      }
    }
    if (prev?.spec.type === 'LoadBalancer' && out.spec.type !== 'LoadBalancer')
      out.status = { loadBalancer: {} };
    const owner = { kind: 'Service' as const, namespace: ns, name, uid: out.metadata.uid ?? '' };
    const ops: StoreOp[] = [];
    for (const r of plan.reserve) ops.push(this.reservationCreate(r.type, r.value, owner));
    for (const r of plan.release) {
      const key = this.keys.reservationKey(r.type, r.value);
      const held = this.reservations.get(key);
      if (
        held &&
        held.value.owner.namespace === ns &&
        held.value.owner.name === name &&
        held.value.owner.kind === 'Service'
      )
        ops.push({ type: 'delete', key, expectedModRevision: held.modRevision });
    }
    return { object: this.withGeneration(out, cur), ops, plan, ctx };
  }

  private reservationCreate(type: ReservationType, value: string, owner: Reservation['owner']): StoreOp {
    const r: Reservation = { kind: 'Reservation', type, value, owner };
    return { type: 'create', key: this.keys.reservationKey(type, value), value: r };
  }

  private podAllocator(node: string): PodIPAllocator | undefined {
    const cached = this.podIPAM.get(node);
    if (cached !== undefined) return cached ?? undefined;
    const nodeObj = this.getCached('Node', '', node)?.object as Node | undefined;
    const cidrs = nodeObj ? PodIPAllocator.podCIDRsOf(nodeObj) : [];
    const list = cidrs.length ? cidrs : (this.nodePodCIDRs.get(node) ?? []);
    if (list.length === 0) return undefined;
    let alloc: PodIPAllocator | null;
    try {
      alloc = new PodIPAllocator(list);
    } catch (e) {
      this.emit('error', e as Error);
      alloc = null;
    }
    this.podIPAM.set(node, alloc);
    if (alloc) {
      for (const key of this.podsByNode.get(node) ?? []) {
        const pod = this.kindCache('Pod').get(key)?.object as Pod | undefined;
        for (const ip of pod ? podIPsOf(pod) : []) alloc.markAllocated(ip);
      }
    }
    return alloc ?? undefined;
  }

  private async preparePod(input: Pod, cur: CacheEntry | undefined): Promise<Prepared> {
    const prev = cur?.object as Pod | undefined;
    const pod = defaultPod(input);
    const ns = pod.metadata.namespace ?? 'default';
    const name = pod.metadata.name ?? '';
    // The pod IP belongs to the kubelet (status): an update that leaves it out keeps it.
    if (prev && !podIPsOf(pod).length && podIPsOf(prev).length) {
      pod.status = { ...(pod.status ?? {}), podIP: prev.status?.podIP as string };
      if (prev.status?.podIPs) pod.status.podIPs = prev.status.podIPs.map((p) => ({ ip: p.ip }));
    }
    this.throwIfInvalid(pod, validatePod(pod, ALREADY_DEFAULTED));
    const ops: StoreOp[] = [];
    const reserve: ReservationRef[] = [];
    const owner = { kind: 'Pod' as const, namespace: ns, name, uid: pod.metadata.uid ?? '' };
    const node = pod.spec.nodeName;
    if (!podIPsOf(pod).length && node && !pod.spec.hostNetwork) {
      const alloc = this.podAllocator(node);
      if (alloc) {
        let ips: string[];
        try {
          ips = alloc.allocate();
        } catch (e) {
          if (isAllocationError(e))
            throw new StatusError('InternalError', `Internal error occurred: ${e.message}`, 'Pod', name);
          throw e;
        }
        pod.status = { ...(pod.status ?? {}), podIP: ips[0] as string, podIPs: ips.map((ip) => ({ ip })) };
        for (const ip of ips) {
          reserve.push({ type: 'podIP', value: ip, auto: true, field: 'status.podIPs' });
          ops.push(this.reservationCreate('podIP', ip, owner));
        }
      }
    }
    // Release pod IP reservations the pod no longer uses.
    const now = new Set(podIPsOf(pod).map((ip) => canonicalIP(ip) ?? ip));
    for (const key of this.reservationsByOwner.get(ownerId('Pod', ns, name)) ?? []) {
      const r = this.reservations.get(key);
      if (r && !now.has(r.value.value)) ops.push({ type: 'delete', key, expectedModRevision: r.modRevision });
    }
    return { object: this.withGeneration(pod, cur), ops, podReserve: reserve, podNode: node };
  }

  /** Releases candidates marked by a prepared write that will not be committed. */
  private releasePlan(p: Prepared, keep?: string): void {
    if (p.plan && p.ctx) {
      const k = p.plan.reserve.find((r) => this.keys.reservationKey(r.type, r.value) === keep);
      unmarkPlan(p.ctx, p.plan, k);
    }
    if (p.podReserve && p.podNode) {
      const alloc = this.podIPAM.get(p.podNode);
      for (const r of p.podReserve)
        if (this.keys.reservationKey(r.type, r.value) !== keep) alloc?.release(r.value);
    }
  }

  /** Decides whether a failed commit is retried (a lost race for an automatically chosen value). */
  private onCommitError(
    e: unknown,
    prepared: Prepared,
    attempt: number,
    resource: string,
    name: string,
    kind: Kind,
  ): boolean {
    if (!(e instanceof StoreConflictError)) {
      this.releasePlan(prepared);
      return false;
    }
    const parsed = this.keys.parse(e.key);
    if (parsed?.type === 'object') {
      this.releasePlan(prepared);
      if (e.reason === 'exists') throw alreadyExistsError(resource, name, kind);
      throw conflictError(resource, name, OBJECT_MODIFIED, kind);
    }
    const refs = [...(prepared.plan?.reserve ?? []), ...(prepared.podReserve ?? [])];
    const ref = refs.find((r) => this.keys.reservationKey(r.type, r.value) === e.key);
    // Keep the lost candidate marked (another writer holds it) and try again with a fresh one.
    this.releasePlan(prepared, e.key);
    if (ref?.auto && attempt < MAX_ALLOCATION_ATTEMPTS) return true;
    if (ref && !ref.auto) {
      // Another writer took a requested value between our check and our commit.
      const svc = prepared.object as Service;
      const fe =
        ref.type === 'serviceIP'
          ? clusterIPAllocationFieldError(
              svc.spec.clusterIPs ?? [ref.value],
              ref.value,
              new AllocationError('allocated', IP_ALLOCATED_MESSAGE),
            )
          : fieldErrors.invalid(ref.field, Number(ref.value), PORT_ALLOCATED_MESSAGE);
      throw invalidError(kind, name, [fe]);
    }
    if (attempt < MAX_ALLOCATION_ATTEMPTS) return true;
    return false;
  }

  /** The stored form: without resourceVersion (the store's revision is the truth). `obj` is ours. */
  private toStored(obj: KubeObject): unknown {
    if (obj.metadata.resourceVersion === undefined) return obj;
    const { resourceVersion: _rv, ...metadata } = obj.metadata;
    return { ...obj, metadata };
  }

  // -------------------------------------------------------------------------------------------
  // Cache (informer)

  private kindCache(kind: Kind): Map<string, CacheEntry> {
    return this.cache.get(kind) as Map<string, CacheEntry>;
  }

  private getCached(kind: Kind, namespace: string, name: string): CacheEntry | undefined {
    return this.kindCache(kind).get(objKey(kind, CLUSTER_SCOPED_KINDS.has(kind) ? '' : namespace, name));
  }

  private async start(): Promise<void> {
    const { entries, revision } = await this.store.list(this.keys.root());
    const events: StoreEvent[] = entries.map((e) => ({
      type: 'put',
      key: e.key,
      value: e.value,
      modRevision: e.modRevision,
      created: true,
    }));
    this.applyEvents(events, revision);
    this.startWatch(revision);
    if (this.runControllers) for (const k of this.kindCache('Service').keys()) this.enqueue(k);
  }

  private startWatch(fromRevision: number): void {
    this.watch = this.store.watch(this.keys.root(), fromRevision, {
      onEvents: (events) => {
        const last = events[events.length - 1];
        this.applyEvents(events, last ? last.modRevision : this.cacheRevision);
      },
      onError: (err) => {
        if (this.closed) return;
        // A watch that ended for any reason is recovered the same way: list, diff, watch again.
        // Compaction is routine and not reported; anything else is, but does not stop the cache.
        if (!(err instanceof StoreCompactedError)) this.emit('error', err);
        void this.relist();
      },
    });
  }

  private relistFailures = 0;

  /** After compaction: list again, apply the difference as events, watch from there. */
  private async relist(): Promise<void> {
    try {
      const { entries, revision } = await this.store.list(this.keys.root());
      const seen = new Set<string>();
      const events: StoreEvent[] = [];
      for (const e of entries) {
        seen.add(e.key);
        // Only what moved while we were not watching becomes an event.
        const parsed = this.keys.parse(e.key);
        const known =
          parsed?.type === 'object'
            ? this.getCached(parsed.kind, parsed.namespace, parsed.name)?.modRevision
            : this.reservations.get(e.key)?.modRevision;
        if (known === e.modRevision) continue;
        events.push({ type: 'put', key: e.key, value: e.value, modRevision: e.modRevision, created: false });
      }
      for (const kind of KINDS)
        for (const [k, entry] of this.kindCache(kind)) {
          const key = this.keys.objectKey(
            kind,
            entry.object.metadata.namespace ?? '',
            entry.object.metadata.name ?? k,
          );
          if (!seen.has(key))
            events.push({ type: 'delete', key, value: undefined, modRevision: revision, created: false });
        }
      for (const key of this.reservations.keys())
        if (!seen.has(key))
          events.push({ type: 'delete', key, value: undefined, modRevision: revision, created: false });
      this.applyEvents(events, revision);
      this.relistFailures = 0;
      this.startWatch(revision);
    } catch (e) {
      if (this.closed) return;
      this.emit('error', e as Error);
      // The store is unreachable: keep trying until it is back or the registry is closed.
      const delay = Math.min(RELIST_BACKOFF_MAX_MS, RELIST_BACKOFF_INITIAL_MS * 2 ** this.relistFailures++);
      this.clock.setTimeout(() => {
        if (!this.closed) void this.relist();
      }, delay);
    }
  }

  private applyEvents(events: readonly StoreEvent[], revision: number): void {
    if (this.closed) return;
    for (const ev of events) {
      const parsed = this.keys.parse(ev.key);
      if (!parsed) continue;
      if (parsed.type === 'reservation') this.applyReservation(ev);
      else this.applyObject(parsed.kind, parsed.namespace, parsed.name, ev);
    }
    if (revision > this.cacheRevision) this.cacheRevision = revision;
    if (this.waiters.length) {
      const still: typeof this.waiters = [];
      for (const w of this.waiters)
        if (w.revision <= this.cacheRevision) w.resolve();
        else still.push(w);
      this.waiters = still;
    }
    this.scheduleFlush();
  }

  private applyReservation(ev: StoreEvent): void {
    const prev = this.reservations.get(ev.key);
    if (prev) {
      const o = prev.value.owner;
      this.reservationsByOwner.get(ownerId(o.kind, o.namespace, o.name))?.delete(ev.key);
      this.markReservation(prev.value, false);
    }
    if (ev.type === 'delete') {
      this.reservations.delete(ev.key);
      return;
    }
    const value = ev.value as Reservation;
    this.reservations.set(ev.key, { value, modRevision: ev.modRevision });
    const id = ownerId(value.owner.kind, value.owner.namespace, value.owner.name);
    let set = this.reservationsByOwner.get(id);
    if (!set) {
      set = new Set();
      this.reservationsByOwner.set(id, set);
    }
    set.add(ev.key);
    this.markReservation(value, true);
  }

  /** Keeps the local allocators in step with the reservations in the store. */
  private markReservation(r: Reservation, taken: boolean): void {
    if (r.type === 'nodePort') {
      const port = Number(r.value);
      if (!this.nodePorts.contains(port)) return;
      if (taken) this.nodePorts.markAllocated(port);
      else this.nodePorts.release(port);
    } else if (r.type === 'serviceIP') {
      for (const range of this.serviceRanges) {
        if (!range.contains(r.value)) continue;
        if (taken) range.markAllocated(r.value);
        else range.release(r.value);
      }
    } else if (r.type === 'podIP') {
      for (const alloc of this.podIPAM.values()) {
        if (!alloc) continue;
        if (taken) alloc.markAllocated(r.value);
        else alloc.release(r.value);
      }
    }
  }

  private applyObject(kind: Kind, namespace: string, name: string, ev: StoreEvent): void {
    const map = this.kindCache(kind);
    const k = objKey(kind, namespace, name);
    const prev = map.get(k);
    let object: KubeObject | undefined;
    if (ev.type === 'put') {
      const stored = ev.value as KubeObject;
      object = deepFreeze({
        ...stored,
        metadata: { ...stored.metadata, resourceVersion: String(ev.modRevision) },
      }) as KubeObject;
      map.set(k, { object, modRevision: ev.modRevision });
    } else {
      if (!prev) return;
      map.delete(k);
    }
    this.index(kind, k, prev?.object, object);
    if (object) {
      if (prev) this.emit('modified', { kind, object, oldObject: prev.object } as ObjectEvent);
      else this.emit('added', { kind, object } as ObjectEvent);
    } else if (prev) {
      this.emit('deleted', { kind, object: prev.object, oldObject: prev.object } as ObjectEvent);
    }
  }

  /** Updates indexes, the change tracker and the controller queue for one object change. */
  private index(kind: Kind, key: string, prev: KubeObject | undefined, next: KubeObject | undefined): void {
    const nsOf = (o: KubeObject | undefined) =>
      o && !CLUSTER_SCOPED_KINDS.has(kind) ? o.metadata.namespace : undefined;
    const pns = nsOf(prev);
    const nns = nsOf(next);
    if (pns !== nns || !prev || !next) {
      if (pns !== undefined && prev) this.tracker.namespaceRef(pns, -1);
      if (nns !== undefined && next) this.tracker.namespaceRef(nns, 1);
    }
    if (kind === 'Namespace') {
      if (prev && !next) this.tracker.namespaceRef(prev.metadata.name ?? '', -1);
      if (next && !prev) this.tracker.namespaceRef(next.metadata.name ?? '', 1);
    }
    switch (kind) {
      case 'Service': {
        const svc = next as Service | undefined;
        const old = prev as Service | undefined;
        const ns = (svc ?? old)?.metadata.namespace ?? 'default';
        let idx = this.serviceIndex.get(ns);
        if (!idx) {
          idx = new LabelIndex<string>();
          this.serviceIndex.set(ns, idx);
        }
        const sel = svc?.spec.selector;
        if (sel && Object.keys(sel).length > 0) idx.set(key, sel);
        else idx.delete(key);
        this.tracker.setService(key, svc);
        // Deleting a service deletes the slices it owns (the garbage collector's job upstream).
        if (!svc && old?.metadata.uid) this.deletedOwners.set(key, old.metadata.uid);
        else this.deletedOwners.delete(key);
        this.enqueue(key);
        break;
      }
      case 'Pod': {
        const pod = next as Pod | undefined;
        const old = prev as Pod | undefined;
        const ns = (pod ?? old)?.metadata.namespace ?? 'default';
        if (old) this.unindexPod(ns, key, old);
        if (pod) this.indexPod(ns, key, pod);
        const idx = this.serviceIndex.get(ns);
        if (idx && this.runControllers) {
          if (old) for (const s of idx.match(old.metadata.labels ?? {})) this.enqueue(s);
          if (pod) for (const s of idx.match(pod.metadata.labels ?? {})) this.enqueue(s);
        }
        break;
      }
      case 'EndpointSlice': {
        const s = next as EndpointSlice | undefined;
        const o = prev as EndpointSlice | undefined;
        const oldSvc = o ? sliceServiceKey(o) : undefined;
        const newSvc = s ? sliceServiceKey(s) : undefined;
        const name = (s ?? o)?.metadata.name ?? '';
        if (oldSvc && oldSvc !== newSvc) {
          this.tracker.setSlice(oldSvc, name, undefined);
          this.slicesByService.get(oldSvc)?.delete(key);
        }
        if (newSvc && s) {
          this.tracker.setSlice(newSvc, name, s);
          let set = this.slicesByService.get(newSvc);
          if (!set) {
            set = new Set();
            this.slicesByService.set(newSvc, set);
          }
          set.add(key);
        } else if (oldSvc && !s) {
          this.tracker.setSlice(oldSvc, name, undefined);
          this.slicesByService.get(oldSvc)?.delete(key);
        }
        // A managed slice changed behind the controller's back: let it check. Its own writes
        // come back here too; those need no second look (upstream's slice tracker does the same).
        const own = this.ownSliceWrites.get(key);
        if (own !== undefined && (s ? s.metadata.generation === own : own === 'deleted')) {
          this.ownSliceWrites.delete(key);
          break;
        }
        const managed = (x: EndpointSlice | undefined) =>
          x?.metadata.labels?.[LABEL_MANAGED_BY] === ENDPOINTSLICE_CONTROLLER_NAME;
        if (managed(o) && oldSvc) this.enqueue(oldSvc);
        if (managed(s) && newSvc) this.enqueue(newSvc);
        break;
      }
      case 'Node': {
        const n = next as Node | undefined;
        const o = prev as Node | undefined;
        const name = (n ?? o)?.metadata.name ?? '';
        if (!jsonEqual(n?.spec, o?.spec)) this.podIPAM.delete(name);
        if (
          n?.metadata.labels?.['topology.kubernetes.io/zone'] !==
          o?.metadata.labels?.['topology.kubernetes.io/zone']
        ) {
          // Endpoints carry the node's zone: revisit services of pods on this node.
          for (const podKey of this.podsByNode.get(name) ?? []) {
            const pod = this.kindCache('Pod').get(podKey)?.object as Pod | undefined;
            const idx = pod ? this.serviceIndex.get(pod.metadata.namespace ?? 'default') : undefined;
            if (pod && idx) for (const s of idx.match(pod.metadata.labels ?? {})) this.enqueue(s);
          }
        }
        break;
      }
      default:
        break;
    }
  }

  private indexPod(ns: string, key: string, pod: Pod): void {
    let byPair = this.podLabelIndex.get(ns);
    if (!byPair) {
      byPair = new Map();
      this.podLabelIndex.set(ns, byPair);
    }
    for (const [k, v] of Object.entries(pod.metadata.labels ?? {})) {
      const pk = pairKey(k, v);
      let set = byPair.get(pk);
      if (!set) {
        set = new Set();
        byPair.set(pk, set);
      }
      set.add(key);
    }
    const node = pod.spec.nodeName;
    if (node) {
      let set = this.podsByNode.get(node);
      if (!set) {
        set = new Set();
        this.podsByNode.set(node, set);
      }
      set.add(key);
    }
  }

  private unindexPod(ns: string, key: string, pod: Pod): void {
    const byPair = this.podLabelIndex.get(ns);
    for (const [k, v] of Object.entries(pod.metadata.labels ?? {})) {
      const pk = pairKey(k, v);
      const set = byPair?.get(pk);
      set?.delete(key);
      if (set?.size === 0) byPair?.delete(pk);
    }
    const node = pod.spec.nodeName;
    if (node) this.podsByNode.get(node)?.delete(key);
  }

  /** Pods in the service's namespace matching its selector, via the smallest label-pair bucket. */
  private podsFor(svc: Service): Pod[] {
    const sel = svc.spec.selector ?? {};
    const pairs = Object.entries(sel);
    if (pairs.length === 0) return [];
    const byPair = this.podLabelIndex.get(svc.metadata.namespace ?? 'default');
    if (!byPair) return [];
    let smallest: Set<string> | undefined;
    for (const [k, v] of pairs) {
      const set = byPair.get(pairKey(k, v));
      if (!set) return [];
      if (!smallest || set.size < smallest.size) smallest = set;
    }
    const out: Pod[] = [];
    const pods = this.kindCache('Pod');
    for (const key of smallest ?? []) {
      const pod = pods.get(key)?.object as Pod | undefined;
      const labels = pod?.metadata.labels ?? {};
      if (pod && pairs.every(([k, v]) => labels[k] === v)) out.push(pod);
    }
    return out;
  }

  private waitForRevision(revision: number): Promise<void> {
    if (revision <= this.cacheRevision || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ revision, resolve }));
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || !this.tracker.pending()) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      if (this.closed) return;
      const update = this.tracker.flush(this.cacheRevision);
      if (update) this.emit('snapshot', update);
      this.wakeIdle();
    });
  }

  // -------------------------------------------------------------------------------------------
  // Endpoints controller

  private enqueue(serviceKey: string): void {
    if (!this.runControllers || this.closed) return;
    this.queue.add(serviceKey);
    if (!this.draining) this.draining = this.drain();
  }

  private async drain(): Promise<void> {
    await Promise.resolve();
    try {
      while (this.queue.size && !this.closed) {
        const keys = [...this.queue];
        this.queue.clear();
        await Promise.all(keys.map((k) => this.syncService(k)));
      }
    } finally {
      this.draining = undefined;
      this.retries.clear();
      this.wakeIdle();
    }
  }

  private async syncService(key: string): Promise<void> {
    const svc = this.kindCache('Service').get(key)?.object as Service | undefined;
    const existing: StoredSlice[] = [];
    const slices = this.kindCache('EndpointSlice');
    for (const sk of this.slicesByService.get(key) ?? []) {
      const e = slices.get(sk);
      const s = e?.object as EndpointSlice | undefined;
      if (!e || !s || s.metadata.labels?.[LABEL_MANAGED_BY] !== ENDPOINTSLICE_CONTROLLER_NAME) continue;
      existing.push({ slice: s, modRevision: e.modRevision });
    }
    const pods = svc ? this.podsFor(svc) : [];
    const goneUID = svc ? undefined : this.deletedOwners.get(key);
    if (goneUID !== undefined) {
      this.deletedOwners.delete(key);
      // Garbage collection: every slice whose owner reference names the deleted service.
      existing.length = 0;
      for (const sk of this.slicesByService.get(key) ?? []) {
        const e = slices.get(sk);
        const sl = e?.object as EndpointSlice | undefined;
        if (e && sl?.metadata.ownerReferences?.some((o) => o.uid === goneUID))
          existing.push({ slice: sl, modRevision: e.modRevision });
      }
    }
    const writes = reconcileSlices(
      svc,
      pods,
      (n) => this.getCached('Node', '', n)?.object as Node | undefined,
      existing,
      this.rng,
      this.maxPerSlice,
    );
    if (goneUID !== undefined) writes.delete.push(...existing);
    const ops: StoreOp[] = [];
    const stamp = (s: EndpointSlice, prev?: EndpointSlice): EndpointSlice => {
      const m = s.metadata;
      m.uid = prev?.metadata.uid ?? this.newUID();
      m.creationTimestamp = prev?.metadata.creationTimestamp ?? rfc3339(this.clock.wallNow());
      m.generation = prev ? (prev.metadata.generation ?? 1) + 1 : 1;
      delete m.resourceVersion;
      return s;
    };
    for (const s of writes.create)
      ops.push({
        type: 'create',
        key: this.keys.objectKey('EndpointSlice', s.metadata.namespace ?? '', s.metadata.name ?? ''),
        value: stamp(s),
      });
    for (const u of writes.update) {
      const prev = existing.find((e) => e.slice.metadata.name === u.slice.metadata.name)?.slice;
      ops.push({
        type: 'update',
        key: this.keys.objectKey(
          'EndpointSlice',
          u.slice.metadata.namespace ?? '',
          u.slice.metadata.name ?? '',
        ),
        value: stamp(u.slice, prev),
        expectedModRevision: u.modRevision,
      });
    }
    for (const d of writes.delete)
      ops.push({
        type: 'delete',
        key: this.keys.objectKey(
          'EndpointSlice',
          d.slice.metadata.namespace ?? '',
          d.slice.metadata.name ?? '',
        ),
        expectedModRevision: d.modRevision,
      });
    if (ops.length === 0) return;
    const written: string[] = [];
    for (const op of ops) {
      const parsed = this.keys.parse(op.key);
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
      const rev = await this.store.commit(ops);
      await this.waitForRevision(rev);
    } catch (e) {
      for (const k of written) this.ownSliceWrites.delete(k);
      if (e instanceof StoreConflictError) {
        const n = (this.retries.get(key) ?? 0) + 1;
        this.retries.set(key, n);
        if (n <= MAX_CONTROLLER_RETRIES) {
          await this.waitForRevision(this.cacheRevision + 1).catch(() => {});
          this.queue.add(key);
          return;
        }
      }
      if (!this.closed) this.emit('error', e as Error);
    } finally {
      this.inflight--;
    }
  }

  private wakeIdle(): void {
    const ws = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of ws) w();
  }
}

interface Prepared {
  readonly object: KubeObject;
  readonly ops: StoreOp[];
  readonly plan?: ServiceAllocationPlan;
  readonly ctx?: ServiceAllocationContext;
  readonly podReserve?: ReservationRef[];
  readonly podNode?: string | undefined;
}

function podIPsOf(pod: Pod): string[] {
  const l = pod.status?.podIPs?.map((p) => p.ip).filter((x) => x) ?? [];
  if (l.length) return l;
  return pod.status?.podIP ? [pod.status.podIP] : [];
}

function sameContent(a: KubeObject, b: KubeObject): boolean {
  const strip = (o: KubeObject) => {
    const { resourceVersion: _r, generation: _g, ...meta } = o.metadata;
    return { ...o, metadata: meta };
  };
  return jsonEqual(strip(a), strip(b));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
