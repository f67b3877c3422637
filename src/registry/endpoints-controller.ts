/**
 * The EndpointSlice controller: for each Service with a selector, keeps EndpointSlices that list
 * the matching pods, with the semantics of Kubernetes' controller (staging endpointslice
 * reconciler and utils): which pods count, the ready/serving/terminating conditions, hostname,
 * nodeName, zone, targetRef, named target ports resolved per pod (pods that resolve differently
 * go to different slices), at most 100 endpoints per slice, and few writes per change (kept
 * endpoints stay in their slice; new ones fill slices that are being written anyway first).
 *
 * @module
 */
import type { Rng } from '../core/random';
import {
  type AddressType,
  ENDPOINTSLICE_CONTROLLER_NAME,
  type EndpointSlice,
  type EndpointSliceEndpoint,
  type EndpointSlicePort,
  LABEL_HEADLESS,
  LABEL_MANAGED_BY,
  LABEL_SERVICE_NAME,
  LABEL_TOPOLOGY_ZONE,
  type Node,
  type Pod,
  type Service,
  type ServicePort,
} from '../core/types';
import { ipFamilyOf } from '../net';
import { TRAFFIC_DISTRIBUTIONS } from '../validation';

/** Family of an address; the common dotted-quad case without parsing. */
function familyOf(ip: string): 'IPv4' | 'IPv6' | undefined {
  if (!ip.includes(':')) return /^\d+\.\d+\.\d+\.\d+$/.test(ip) ? 'IPv4' : ipFamilyOf(ip);
  return ipFamilyOf(ip);
}

import { jsonEqual } from './object-utils';
import { removeZoneHints, type TopologyCache, topologyHintsEnabled } from './topology-cache';

/** kube-controller-manager's default `--max-endpoints-per-slice` (the API allows up to 1000). */
export const DEFAULT_MAX_ENDPOINTS_PER_SLICE = 100;

/** Characters of generated name suffixes (apimachinery's utilrand alphabet: no vowels, no confusables). */
const NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
/** A generated suffix is 5 characters; names stay within 63 (apiserver's generateName rule). */
const GENERATED_SUFFIX_LENGTH = 5;
const MAX_GENERATED_PREFIX_LENGTH = 63 - GENERATED_SUFFIX_LENGTH;

/** An EndpointSlice in the registry with the revision it was read at (for compare-and-swap). */
export interface StoredSlice {
  readonly slice: EndpointSlice;
  readonly modRevision: number;
}

/** A set of slice writes for one service, committed together. */
export interface SliceWrites {
  readonly create: EndpointSlice[];
  readonly update: { slice: EndpointSlice; modRevision: number }[];
  readonly delete: StoredSlice[];
}

/** True when the pod's Ready condition is True (podutil.IsPodReady). */
export function isPodReady(pod: Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** The pod's IPs, `podIPs` first, falling back to `podIP`. */
export function podIPs(pod: Pod): string[] {
  const list = pod.status?.podIPs?.map((p) => p.ip).filter((ip) => ip) ?? [];
  if (list.length) return list;
  return pod.status?.podIP ? [pod.status.podIP] : [];
}

/** Whether a pod belongs in endpoints at all: it has an IP and is not terminal (terminating pods stay). */
export function shouldPodBeInEndpoints(pod: Pod): boolean {
  if (podIPs(pod).length === 0) return false;
  const phase = pod.status?.phase;
  return phase !== 'Succeeded' && phase !== 'Failed';
}

/** The container port a service port targets in this pod, or undefined when the name is not found. */
export function findPort(pod: Pod, sp: ServicePort): number | undefined {
  const target = sp.targetPort ?? sp.port;
  if (typeof target === 'number') return target;
  if (/^\d+$/.test(target)) return Number(target);
  const protocol = sp.protocol ?? 'TCP';
  for (const c of pod.spec.containers ?? [])
    for (const p of c.ports ?? [])
      if (p.name === target && (p.protocol ?? 'TCP') === protocol) return p.containerPort;
  // Sidecars are init containers with restartPolicy Always; the type leaves restartPolicy out, so
  // read it loosely.
  for (const c of pod.spec.initContainers ?? []) {
    if ((c as { restartPolicy?: string }).restartPolicy !== 'Always') continue;
    for (const p of c.ports ?? [])
      if (p.name === target && (p.protocol ?? 'TCP') === protocol) return p.containerPort;
  }
  return undefined;
}

/** The slice ports for one pod (service ports whose target resolves in it). */
export function endpointPorts(svc: Service, pod: Pod): EndpointSlicePort[] {
  const out: EndpointSlicePort[] = [];
  for (const sp of svc.spec.ports ?? []) {
    const port = findPort(pod, sp);
    if (port === undefined) continue;
    out.push({
      name: sp.name ?? '',
      port,
      protocol: sp.protocol ?? 'TCP',
      ...(sp.appProtocol !== undefined ? { appProtocol: sp.appProtocol } : {}),
    });
  }
  return out;
}

/** Address types a service's slices use, from `spec.ipFamilies` (or the cluster IP's family). */
export function addressTypesForService(svc: Service): AddressType[] {
  const out: AddressType[] = [];
  for (const f of svc.spec.ipFamilies ?? []) if (!out.includes(f)) out.push(f);
  if (out.length) return out;
  const ip = svc.spec.clusterIP;
  if (ip && ip !== 'None') return [familyOf(ip) ?? 'IPv4'];
  return ['IPv4', 'IPv6'];
}

/** The endpoint for `pod` in a slice of `addressType` (upstream podToEndpoint). */
export function podToEndpoint(
  pod: Pod,
  node: Node | undefined,
  svc: Service,
  addressType: AddressType,
): EndpointSliceEndpoint {
  const serving = isPodReady(pod);
  const terminating = pod.metadata.deletionTimestamp !== undefined;
  // Ready is never true for a terminating pod unless the service publishes not-ready addresses.
  const ready = svc.spec.publishNotReadyAddresses === true || (serving && !terminating);
  const ep: EndpointSliceEndpoint = {
    addresses: podIPs(pod).filter((ip) => familyOf(ip) === addressType),
    conditions: { ready, serving, terminating },
    targetRef: {
      kind: 'Pod',
      namespace: pod.metadata.namespace ?? 'default',
      name: pod.metadata.name ?? '',
      ...(pod.metadata.uid !== undefined ? { uid: pod.metadata.uid } : {}),
    },
  };
  if (pod.spec.nodeName) ep.nodeName = pod.spec.nodeName;
  const zone = node?.metadata.labels?.[LABEL_TOPOLOGY_ZONE];
  if (zone) ep.zone = zone;
  if (
    pod.spec.hostname &&
    pod.spec.subdomain === svc.metadata.name &&
    (pod.metadata.namespace ?? 'default') === (svc.metadata.namespace ?? 'default')
  )
    ep.hostname = pod.spec.hostname;
  const hints = trafficDistributionHints(svc, ep);
  if (hints) ep.hints = hints;
  return ep;
}

// Every value the API server accepts asks for hints.
const CLOSE_TRAFFIC_DISTRIBUTIONS: ReadonlySet<string> = new Set(TRAFFIC_DISTRIBUTIONS);

/**
 * The hints the controller writes for `spec.trafficDistribution` (upstream's trafficdist
 * heuristic): a ready endpoint is hinted for its own zone, and with PreferSameNode also for its
 * own node. The topology annotation's `Auto` heuristic takes precedence: while it is set, hints
 * come from the topology cache after the slices are laid out ({@link reconcileSlices}).
 */
function trafficDistributionHints(svc: Service, ep: EndpointSliceEndpoint): EndpointSliceEndpoint['hints'] {
  const mode = svc.spec.trafficDistribution;
  if (mode === undefined || !CLOSE_TRAFFIC_DISTRIBUTIONS.has(mode)) return undefined;
  if (topologyHintsEnabled(svc.metadata.annotations)) return undefined;
  if (ep.conditions?.ready !== true) return undefined;
  const forZones = ep.zone !== undefined ? [{ name: ep.zone }] : undefined;
  const forNodes =
    mode === 'PreferSameNode' && ep.nodeName !== undefined ? [{ name: ep.nodeName }] : undefined;
  if (!forZones && !forNodes) return undefined;
  return { ...(forZones ? { forZones } : {}), ...(forNodes ? { forNodes } : {}) };
}

/** The labels the controller puts on a service's slices: the service's own plus the reserved ones. */
export function sliceLabels(svc: Service): Record<string, string> {
  const labels: Record<string, string> = Object.create(null);
  for (const [k, v] of Object.entries(svc.metadata.labels ?? {})) {
    if (k === LABEL_SERVICE_NAME || k === LABEL_MANAGED_BY || k === LABEL_HEADLESS) continue;
    labels[k] = v;
  }
  const ip = svc.spec.clusterIP;
  if (!ip || ip === 'None') labels[LABEL_HEADLESS] = '';
  labels[LABEL_SERVICE_NAME] = svc.metadata.name ?? '';
  labels[LABEL_MANAGED_BY] = ENDPOINTSLICE_CONTROLLER_NAME;
  return labels;
}

/** A name from `generateName` (prefix cut to 58 characters, 5 random characters appended). */
export function generateName(prefix: string, rng: Rng): string {
  let s = prefix.slice(0, MAX_GENERATED_PREFIX_LENGTH);
  for (let i = 0; i < GENERATED_SUFFIX_LENGTH; i++) s += NAME_ALPHABET[rng.int(NAME_ALPHABET.length)];
  return s;
}

function slicePrefix(serviceName: string): string {
  // `<svc>-` unless that would not be a valid DNS subdomain (too long), then the bare name.
  const p = `${serviceName}-`;
  return p.length > 253 ? serviceName : p;
}

function endpointIdentity(ep: EndpointSliceEndpoint): string {
  return ep.targetRef?.name !== undefined ? `pod/${ep.targetRef.name}` : `ip/${ep.addresses[0] ?? ''}`;
}

interface Group {
  readonly addressType: AddressType;
  readonly ports: EndpointSlicePort[];
  readonly desired: Map<string, EndpointSliceEndpoint>;
}

/**
 * Computes the slice writes that bring `existing` (the service's managed slices) to what the
 * selected `pods` say. As upstream, a missing service, one without selector and an ExternalName
 * service are left alone (no writes): slices of a deleted service go by garbage collection of
 * their owner reference, which the registry does.
 *
 * For a service with the topology annotation set to Auto, zone hints come from `topology` (its
 * zone ratios and the service's current allocation, which this call updates); without a
 * `topology` such a service gets no hints at all, as upstream with the topology cache off.
 */
export function reconcileSlices(
  svc: Service | undefined,
  pods: readonly Pod[],
  nodeOf: (name: string) => Node | undefined,
  existing: readonly StoredSlice[],
  rng: Rng,
  maxPerSlice = DEFAULT_MAX_ENDPOINTS_PER_SLICE,
  topology?: TopologyCache,
): SliceWrites {
  const writes: SliceWrites = { create: [], update: [], delete: [] };
  const selector = svc?.spec.selector;
  if (!svc || !selector || Object.keys(selector).length === 0 || svc.spec.type === 'ExternalName')
    return writes;
  const addressTypes = addressTypesForService(svc);
  // Under Auto, hints are the topology cache's business: endpoints compare without them and slices
  // that stay as they are keep their stored hints (upstream's EndpointsEqualBeyondHash).
  const autoHints = topologyHintsEnabled(svc.metadata.annotations);
  const sameEndpoint = autoHints ? equalIgnoringHints : jsonEqual;
  const unchangedSlices: { slice: EndpointSlice; modRevision: number }[] = [];
  const groups = new Map<string, Group>();
  const sortedPods = [...pods].sort((a, b) => cmp(a.metadata.name ?? '', b.metadata.name ?? ''));
  for (const pod of sortedPods) {
    if (!shouldPodBeInEndpoints(pod)) continue;
    const ports = endpointPorts(svc, pod);
    for (const at of addressTypes) {
      const ep = podToEndpoint(pod, pod.spec.nodeName ? nodeOf(pod.spec.nodeName) : undefined, svc, at);
      if (ep.addresses.length === 0) continue;
      const gk = groupKey(at, ports);
      let g = groups.get(gk);
      if (!g) {
        g = { addressType: at, ports, desired: new Map() };
        groups.set(gk, g);
      }
      g.desired.set(endpointIdentity(ep), ep);
    }
  }
  const labels = sliceLabels(svc);
  const ownerRef = {
    apiVersion: 'v1',
    kind: 'Service',
    name: svc.metadata.name ?? '',
    uid: svc.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
  const newSlice = (
    addressType: AddressType,
    endpoints: EndpointSliceEndpoint[],
    ports: readonly EndpointSlicePort[],
  ): EndpointSlice => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: generateName(slicePrefix(svc.metadata.name ?? ''), rng),
      generateName: slicePrefix(svc.metadata.name ?? ''),
      namespace: svc.metadata.namespace ?? 'default',
      labels: { ...labels },
      ownerReferences: [{ ...ownerRef }],
    },
    addressType,
    endpoints,
    ports: ports.map((p) => ({ ...p })),
  });
  const existingByGroup = new Map<string, StoredSlice[]>();
  for (const s of existing) {
    // Slices of an earlier service with the same name go (upstream ownedBy).
    if (!ownedBy(s.slice, svc)) {
      writes.delete.push(s);
      continue;
    }
    const gk = groupKey(s.slice.addressType, normalizePorts(s.slice.ports ?? []));
    if (!groups.has(gk)) {
      writes.delete.push(s);
      continue;
    }
    const list = existingByGroup.get(gk) ?? [];
    list.push(s);
    existingByGroup.set(gk, list);
  }
  for (const [gk, g] of groups) {
    const remaining = new Map(g.desired);
    const toUpdate: { slice: EndpointSlice; modRevision: number }[] = [];
    const unchanged: { slice: EndpointSlice; modRevision: number }[] = [];
    for (const s of existingByGroup.get(gk) ?? []) {
      let changed = false;
      const kept: EndpointSliceEndpoint[] = [];
      for (const ep of s.slice.endpoints ?? []) {
        const id = endpointIdentity(ep);
        const want = remaining.get(id);
        if (!want) {
          changed = true;
          continue;
        }
        remaining.delete(id);
        if (!sameEndpoint(want, ep)) changed = true;
        kept.push(want);
      }
      if (kept.length === 0) {
        writes.delete.push(s);
        continue;
      }
      const labelsChanged = !jsonEqual({ ...(s.slice.metadata.labels ?? {}) }, { ...labels });
      const next: EndpointSlice = {
        ...s.slice,
        metadata: { ...s.slice.metadata, labels: { ...labels } },
        endpoints: autoHints && !changed ? [...s.slice.endpoints] : kept,
      };
      if (changed || labelsChanged) toUpdate.push({ slice: next, modRevision: s.modRevision });
      else unchanged.push({ slice: next, modRevision: s.modRevision });
    }
    // New endpoints go first to slices being written anyway, then to new slices; a remainder that
    // fits an unchanged slice goes there rather than into a new one (upstream's order).
    const pending = [...remaining.values()];
    for (const u of toUpdate) {
      while (pending.length && u.slice.endpoints.length < maxPerSlice)
        u.slice.endpoints.push(pending.shift() as EndpointSliceEndpoint);
    }
    while (pending.length >= maxPerSlice || (pending.length > 0 && !fillUnchanged())) {
      writes.create.push(newSlice(g.addressType, pending.splice(0, maxPerSlice), g.ports));
    }
    writes.update.push(...toUpdate);
    unchangedSlices.push(...unchanged);
    function fillUnchanged(): boolean {
      let best: { slice: EndpointSlice; modRevision: number } | undefined;
      let bestDiff = maxPerSlice;
      for (const u of unchanged) {
        const diff = maxPerSlice - (pending.length + u.slice.endpoints.length);
        if (diff >= 0 && diff < bestDiff) {
          bestDiff = diff;
          best = u;
        }
      }
      if (!best) return false;
      best.slice.endpoints.push(...pending.splice(0));
      unchanged.splice(unchanged.indexOf(best), 1);
      writes.update.push(best);
      return true;
    }
  }
  // A service with no endpoints of a type keeps one empty placeholder slice of that type.
  for (const at of addressTypes) {
    const existingOfType = existing.filter((e) => e.slice.addressType === at).length;
    const deletes = writes.delete.filter((e) => e.slice.addressType === at);
    if (existingOfType !== deletes.length || writes.create.some((c) => c.addressType === at)) continue;
    const placeholder = newSlice(at, [], []);
    const only = deletes[0];
    if (deletes.length === 1 && only && isSamePlaceholder(only.slice, placeholder))
      writes.delete.splice(writes.delete.indexOf(only), 1);
    else writes.create.push(placeholder);
  }
  reconcileTopologyHints(svc, addressTypes, autoHints, writes, unchangedSlices, topology);
  // Creates reuse the names of owned slices of the same type that would be deleted (upstream finalize).
  for (let i = 0; i < writes.delete.length && writes.create.length > 0; ) {
    const del = writes.delete[i] as StoredSlice;
    const create = writes.create[writes.create.length - 1] as EndpointSlice;
    if (del.slice.addressType === create.addressType && ownedBy(del.slice, svc)) {
      create.metadata.name = del.slice.metadata.name as string;
      writes.create.pop();
      writes.update.push({ slice: create, modRevision: del.modRevision });
      writes.delete.splice(i, 1);
    } else i++;
  }
  return writes;
}

/**
 * The topology annotation's part of a sync, per address type (upstream reconciler): under Auto the
 * topology cache sets or removes zone hints on the slices being written and on stored slices whose
 * hints no longer fit (those join the updates); otherwise the service's cached allocation is
 * forgotten. A stored slice whose new content equals what is stored is not written.
 */
function reconcileTopologyHints(
  svc: Service,
  addressTypes: readonly AddressType[],
  autoHints: boolean,
  writes: SliceWrites,
  unchangedSlices: readonly { slice: EndpointSlice; modRevision: number }[],
  topology: TopologyCache | undefined,
): void {
  const serviceKey = `${svc.metadata.namespace ?? 'default'}/${svc.metadata.name ?? ''}`;
  for (const at of ['IPv4', 'IPv6'] as const) {
    const inUse = autoHints && addressTypes.includes(at);
    if (!inUse && topology?.hintsOf(serviceKey, at) !== undefined) topology.removeHints(serviceKey, at);
  }
  if (!autoHints) return;
  for (const at of addressTypes) {
    const written = [
      ...writes.create.filter((s) => s.addressType === at),
      ...writes.update.filter((u) => u.slice.addressType === at).map((u) => u.slice),
    ];
    const stored = unchangedSlices.filter((u) => u.slice.addressType === at);
    const input = {
      written: written.map((s) => s.endpoints),
      unchanged: stored.map((u) => u.slice.endpoints),
    };
    const outcome = topology ? topology.addHints(serviceKey, at, input).outcome : removeZoneHints(input);
    written.forEach((s, i) => {
      s.endpoints = outcome.written[i] ?? s.endpoints;
    });
    stored.forEach((u, i) => {
      const endpoints = outcome.unchanged[i];
      if (endpoints && !jsonEqual(endpoints, u.slice.endpoints))
        writes.update.push({ slice: { ...u.slice, endpoints }, modRevision: u.modRevision });
    });
  }
}

/** Endpoint equality that leaves hints out (they are recomputed after the slices are laid out). */
function equalIgnoringHints(a: EndpointSliceEndpoint, b: EndpointSliceEndpoint): boolean {
  return jsonEqual({ ...a, hints: undefined }, { ...b, hints: undefined });
}

/** Identifies a slice group: address type plus the exact port list (order matters, as upstream's hash). */
function groupKey(addressType: AddressType, ports: readonly EndpointSlicePort[]): string {
  let k = addressType;
  for (const p of ports)
    k += `|${p.name ?? ''}/${p.port ?? ''}/${p.protocol ?? 'TCP'}/${p.appProtocol ?? ''}`;
  return k;
}

/** True when the service owns the slice (owner reference with its uid, upstream ownedBy). */
function ownedBy(slice: EndpointSlice, svc: Service): boolean {
  return (slice.metadata.ownerReferences ?? []).some(
    (o) => o.uid === svc.metadata.uid && o.kind === 'Service' && o.apiVersion === 'v1',
  );
}

/** An existing slice that already is the placeholder we would write (no churn on re-sync). */
function isSamePlaceholder(existing: EndpointSlice, placeholder: EndpointSlice): boolean {
  return (
    existing.addressType === placeholder.addressType &&
    (existing.endpoints ?? []).length === 0 &&
    (existing.ports ?? []).length === 0 &&
    jsonEqual({ ...(existing.metadata.labels ?? {}) }, { ...(placeholder.metadata.labels ?? {}) }) &&
    ownedByRef(existing, placeholder)
  );
}

function ownedByRef(a: EndpointSlice, b: EndpointSlice): boolean {
  const uid = b.metadata.ownerReferences?.[0]?.uid;
  return (a.metadata.ownerReferences ?? []).some((o) => o.uid === uid);
}

function normalizePorts(ports: readonly EndpointSlicePort[]): EndpointSlicePort[] {
  return ports.map((p) => ({
    name: p.name ?? '',
    port: p.port as number,
    protocol: p.protocol ?? 'TCP',
    ...(p.appProtocol !== undefined ? { appProtocol: p.appProtocol } : {}),
  }));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
