/**
 * The change tracker: keeps the latest Service and EndpointSlice objects, remembers which
 * services were touched, and on {@link ChangeTracker.flush} turns them into a new immutable
 * {@link RoutingSnapshot} plus `{previous, current}` per service port that really changed
 * (kube-proxy's service and endpoints change trackers, merged). Work per flush is proportional to
 * the touched services, never to the size of the cluster.
 *
 * @module
 */
import {
  type Endpoint,
  namespacedKey,
  type RoutingSnapshot,
  type ServicePortEntry,
  type ServicePortInfo,
  type SnapshotChange,
  type SnapshotUpdate,
} from '../core/snapshot';
import { type EndpointSlice, LABEL_SERVICE_NAME, type Service } from '../core/types';
import { ChunkedMap } from './chunked-map';
import { jsonEqual } from './object-utils';
import { servicePortInfos } from './service-info';
import { endpointEqual, endpointsByServicePort, portProtocolKey } from './slice-endpoints';

/** The `ns/name` of the service an EndpointSlice belongs to, or undefined without the label. */
export function sliceServiceKey(slice: EndpointSlice): string | undefined {
  const svc = slice.metadata.labels?.[LABEL_SERVICE_NAME];
  if (!svc || !slice.metadata.namespace || !slice.metadata.name) return undefined;
  return namespacedKey(slice.metadata.namespace, svc);
}

const EMPTY_ENDPOINTS: readonly Endpoint[] = Object.freeze([]);

/** The routable ports of one service with their endpoints. */
export function serviceEntries(
  svc: Service | undefined,
  slices: readonly EndpointSlice[],
): ServicePortEntry[] {
  if (!svc) return [];
  const infos = servicePortInfos(svc);
  if (infos.length === 0) return [];
  const eps = endpointsByServicePort(slices);
  return infos.map((info) => ({
    info,
    endpoints: eps.get(portProtocolKey(info.name.port, info.protocol)) ?? EMPTY_ENDPOINTS,
  }));
}

function infoEqual(a: ServicePortInfo, b: ServicePortInfo): boolean {
  return a === b || jsonEqual(a, b);
}

/** True when two entries route identically. */
export function entryEqual(a: ServicePortEntry, b: ServicePortEntry): boolean {
  if (a === b) return true;
  if (!infoEqual(a.info, b.info) || a.endpoints.length !== b.endpoints.length) return false;
  for (let i = 0; i < a.endpoints.length; i++)
    if (!endpointEqual(a.endpoints[i] as Endpoint, b.endpoints[i] as Endpoint)) return false;
  return true;
}

/** What matters about a Service beyond its ports (for `changedServices`): everything but bookkeeping. */
function serviceContentEqual(a: Service | undefined, b: Service | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  return (
    jsonEqual(a.spec, b.spec) &&
    jsonEqual(a.status, b.status) &&
    jsonEqual(a.metadata.labels, b.metadata.labels) &&
    jsonEqual(a.metadata.annotations, b.metadata.annotations)
  );
}

function sliceContentEqual(a: EndpointSlice, b: EndpointSlice): boolean {
  return (
    a === b ||
    (a.addressType === b.addressType &&
      jsonEqual(a.endpoints, b.endpoints) &&
      jsonEqual(a.ports, b.ports) &&
      jsonEqual(a.metadata.labels, b.metadata.labels))
  );
}

function byName(a: EndpointSlice, b: EndpointSlice): number {
  const x = a.metadata.name ?? '';
  const y = b.metadata.name ?? '';
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * Builds a snapshot from scratch (no sharing): the reference the incremental tracker must always
 * agree with, and handy for tests and one-shot tools.
 */
export function buildSnapshot(
  services: Iterable<Service>,
  slices: Iterable<EndpointSlice>,
  namespaces: Iterable<string>,
  revision: number,
): RoutingSnapshot {
  const svcMap = new Map<string, Service>();
  for (const s of services)
    svcMap.set(namespacedKey(s.metadata.namespace ?? 'default', s.metadata.name ?? ''), s);
  const sliceMap = new Map<string, EndpointSlice[]>();
  for (const sl of slices) {
    const k = sliceServiceKey(sl);
    if (!k) continue;
    const list = sliceMap.get(k) ?? [];
    list.push(sl);
    sliceMap.set(k, list);
  }
  for (const list of sliceMap.values()) list.sort(byName);
  const ports = new Map<string, ServicePortEntry>();
  for (const [k, s] of svcMap)
    for (const e of serviceEntries(s, sliceMap.get(k) ?? [])) ports.set(e.info.key, e);
  return {
    revision,
    ports: ChunkedMap.from(ports),
    services: ChunkedMap.from(svcMap),
    endpointSlices: ChunkedMap.from(sliceMap),
    namespaces: new Set(namespaces),
  };
}

/** Incremental snapshot maintenance; see the module comment. */
export class ChangeTracker {
  private readonly services = new Map<string, Service>();
  private readonly slices = new Map<string, Map<string, EndpointSlice>>();
  /** Port keys each service contributed to the current snapshot. */
  private readonly portKeys = new Map<string, readonly string[]>();
  private readonly dirty = new Set<string>();
  private readonly changedContent = new Set<string>();
  private readonly namespaceRefs = new Map<string, number>();
  private namespacesDirty = false;
  private current: RoutingSnapshot;
  private published: RoutingSnapshot | undefined;

  constructor() {
    this.current = {
      revision: 0,
      ports: ChunkedMap.empty(),
      services: ChunkedMap.empty(),
      endpointSlices: ChunkedMap.empty(),
      namespaces: new Set(),
    };
  }

  /** The latest built snapshot. */
  snapshot(): RoutingSnapshot {
    return this.current;
  }

  /** True when something awaits {@link flush}. */
  pending(): boolean {
    return this.dirty.size > 0 || this.namespacesDirty;
  }

  /** Records a service add/update (`svc`) or delete (`undefined`). */
  setService(key: string, svc: Service | undefined): void {
    const prev = this.services.get(key);
    if (svc) this.services.set(key, svc);
    else this.services.delete(key);
    this.dirty.add(key);
    if (!serviceContentEqual(prev, svc)) this.changedContent.add(key);
  }

  /** Records an EndpointSlice add/update or delete. `serviceKey` is the owner label's `ns/name`. */
  setSlice(serviceKey: string, sliceName: string, slice: EndpointSlice | undefined): void {
    let m = this.slices.get(serviceKey);
    const prev = m?.get(sliceName);
    if (slice) {
      if (!m) {
        m = new Map();
        this.slices.set(serviceKey, m);
      }
      m.set(sliceName, slice);
    } else if (m) {
      m.delete(sliceName);
      if (m.size === 0) this.slices.delete(serviceKey);
    }
    this.dirty.add(serviceKey);
    if (!prev || !slice || !sliceContentEqual(prev, slice)) this.changedContent.add(serviceKey);
  }

  /** Counts an object living in `namespace` (+1) or gone from it (-1). */
  namespaceRef(namespace: string, delta: 1 | -1): void {
    const n = (this.namespaceRefs.get(namespace) ?? 0) + delta;
    const had = this.current.namespaces.has(namespace);
    if (n <= 0) this.namespaceRefs.delete(namespace);
    else this.namespaceRefs.set(namespace, n);
    if (had !== n > 0) this.namespacesDirty = true;
  }

  /**
   * Builds the next snapshot at `revision` from everything recorded since the last flush.
   * Returns undefined (and keeps the snapshot) when nothing observable changed.
   */
  flush(revision: number): SnapshotUpdate | undefined {
    if (!this.pending()) return undefined;
    const portChanges = new Map<string, ServicePortEntry | undefined>();
    const svcChanges = new Map<string, Service | undefined>();
    const sliceChanges = new Map<string, readonly EndpointSlice[] | undefined>();
    const changes: SnapshotChange[] = [];
    const changedServices = new Set<string>();
    const prev = this.current;
    for (const key of this.dirty) {
      const svc = this.services.get(key);
      const sliceList = [...(this.slices.get(key)?.values() ?? [])].sort(byName);
      if (this.changedContent.has(key)) {
        changedServices.add(key);
        if (prev.services.get(key) !== svc) svcChanges.set(key, svc);
        sliceChanges.set(key, sliceList.length ? Object.freeze(sliceList) : undefined);
      }
      const entries = serviceEntries(svc, sliceList);
      const newKeys = entries.map((e) => e.info.key);
      for (const e of entries) {
        const old = prev.ports.get(e.info.key);
        if (old && entryEqual(old, e)) continue;
        portChanges.set(e.info.key, e);
        changes.push(old ? { key: e.info.key, previous: old, current: e } : { key: e.info.key, current: e });
      }
      for (const k of this.portKeys.get(key) ?? []) {
        if (newKeys.includes(k)) continue;
        const old = prev.ports.get(k);
        if (!old) continue;
        portChanges.set(k, undefined);
        changes.push({ key: k, previous: old });
      }
      if (newKeys.length) this.portKeys.set(key, newKeys);
      else this.portKeys.delete(key);
    }
    this.dirty.clear();
    this.changedContent.clear();
    const namespacesChanged = this.namespacesDirty;
    this.namespacesDirty = false;
    if (changes.length === 0 && changedServices.size === 0 && !namespacesChanged) return undefined;
    changes.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    this.current = {
      revision,
      ports: (prev.ports as ChunkedMap<ServicePortEntry>).withChanges(portChanges),
      services: (prev.services as ChunkedMap<Service>).withChanges(svcChanges),
      endpointSlices: (prev.endpointSlices as ChunkedMap<readonly EndpointSlice[]>).withChanges(sliceChanges),
      namespaces: namespacesChanged ? new Set(this.namespaceRefs.keys()) : prev.namespaces,
    };
    const update: SnapshotUpdate = {
      previous: this.published,
      current: this.current,
      changes,
      changedServices,
    };
    this.published = this.current;
    return update;
  }
}
