/**
 * Secondary indexes over the registry's cache, so that one object change costs work in
 * proportion to what it touches: pods per label pair (service → pods), service selectors per
 * namespace (pod → services), pods per node, and managed slices per service.
 *
 * @module
 */
import type { EndpointSlice, Kind, KubeObject, Pod, Service } from '../core/types';
import { LabelIndex } from '../selector';
import { sliceServiceKey } from './change-tracker';
import type { CacheEntry } from './object-cache';

function pairKey(k: string, v: string): string {
  return `${k}\u0000${v}`;
}

function addTo<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  let set = map.get(key);
  if (!set) {
    set = new Set();
    map.set(key, set);
  }
  set.add(value);
}

const NONE: ReadonlySet<string> = new Set();

/** The indexes; fed every cache change through {@link ObjectIndexes.objectChanged}. */
export class ObjectIndexes {
  /** Pods per namespace per label pair (services → pods). */
  private readonly podLabelIndex = new Map<string, Map<string, Set<string>>>();
  /** Service selectors per namespace (pods → services). */
  private readonly serviceIndex = new Map<string, LabelIndex<string>>();
  private readonly podsByNode = new Map<string, Set<string>>();
  /** Slices per service key (the `kubernetes.io/service-name` label). */
  private readonly slicesByService = new Map<string, Set<string>>();

  /** Keeps the indexes in step with one cache change (`key` is the cache key). */
  objectChanged(kind: Kind, key: string, prev: KubeObject | undefined, next: KubeObject | undefined): void {
    switch (kind) {
      case 'Service': {
        const svc = next as Service | undefined;
        const ns = (svc ?? (prev as Service | undefined))?.metadata.namespace ?? 'default';
        let idx = this.serviceIndex.get(ns);
        if (!idx) {
          idx = new LabelIndex<string>();
          this.serviceIndex.set(ns, idx);
        }
        const sel = svc?.spec.selector;
        if (sel && Object.keys(sel).length > 0) idx.set(key, sel);
        else idx.delete(key);
        break;
      }
      case 'Pod': {
        const pod = next as Pod | undefined;
        const old = prev as Pod | undefined;
        const ns = (pod ?? old)?.metadata.namespace ?? 'default';
        if (old) this.unindexPod(ns, key, old);
        if (pod) this.indexPod(ns, key, pod);
        break;
      }
      case 'EndpointSlice': {
        const s = next as EndpointSlice | undefined;
        const o = prev as EndpointSlice | undefined;
        const oldSvc = o ? sliceServiceKey(o) : undefined;
        const newSvc = s ? sliceServiceKey(s) : undefined;
        if (oldSvc && oldSvc !== newSvc) this.slicesByService.get(oldSvc)?.delete(key);
        if (newSvc && s) addTo(this.slicesByService, newSvc, key);
        else if (oldSvc && !s) this.slicesByService.get(oldSvc)?.delete(key);
        break;
      }
      default:
        break;
    }
  }

  /** Keys (`ns/name`) of the services in `namespace` whose selector matches `labels`. */
  servicesSelecting(namespace: string, labels: Readonly<Record<string, string>>): Iterable<string> {
    return this.serviceIndex.get(namespace)?.match(labels) ?? [];
  }

  /** Whether any service in `namespace` has a selector (cheap pre-check before matching). */
  hasSelectors(namespace: string): boolean {
    return this.serviceIndex.has(namespace);
  }

  /** Cache keys of the pods bound to `node`. */
  podsOnNode(node: string): ReadonlySet<string> {
    return this.podsByNode.get(node) ?? NONE;
  }

  /** Cache keys of the slices labelled for service `serviceKey` (`ns/name`). */
  slicesOf(serviceKey: string): ReadonlySet<string> {
    return this.slicesByService.get(serviceKey) ?? NONE;
  }

  /** Pods in the service's namespace matching its selector, via the smallest label-pair bucket. */
  podsFor(svc: Service, pods: ReadonlyMap<string, CacheEntry>): Pod[] {
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
    for (const key of smallest ?? []) {
      const pod = pods.get(key)?.object as Pod | undefined;
      const labels = pod?.metadata.labels ?? {};
      if (pod && pairs.every(([k, v]) => labels[k] === v)) out.push(pod);
    }
    return out;
  }

  private indexPod(ns: string, key: string, pod: Pod): void {
    let byPair = this.podLabelIndex.get(ns);
    if (!byPair) {
      byPair = new Map();
      this.podLabelIndex.set(ns, byPair);
    }
    for (const [k, v] of Object.entries(pod.metadata.labels ?? {})) addTo(byPair, pairKey(k, v), key);
    const node = pod.spec.nodeName;
    if (node) addTo(this.podsByNode, node, key);
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
}
