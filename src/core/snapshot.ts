/**
 * The routing view every backend consumes: per service port, the port's settings and its
 * endpoints, exactly the state kube-proxy keeps (its ServicePortMap and EndpointsMap) but
 * independent of any one node. Snapshots are immutable; the change tracker reports what moved
 * between two of them as `{previous, current}` pairs with no-ops dropped.
 *
 * @module
 */
import type { EndpointSlice, Protocol, Service, ServiceType } from './types';

/** Identifies one port of one service (kube-proxy's ServicePortName). */
export interface ServicePortName {
  readonly namespace: string;
  readonly name: string;
  /** The port's `name`; empty for the single unnamed port of a service. */
  readonly port: string;
  readonly protocol: Protocol;
}

/** `ns/name` or `ns/name:port`, kube-proxy's `ServicePortName.String()`; the key of {@link RoutingSnapshot.ports}. */
export function servicePortKey(n: Pick<ServicePortName, 'namespace' | 'name' | 'port'>): string {
  return n.port ? `${n.namespace}/${n.name}:${n.port}` : `${n.namespace}/${n.name}`;
}

/** `ns/name`, the key of per-service maps. */
export function namespacedKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** Session affinity of a service port. `timeoutSeconds` defaults to 10800 (API server default). */
export type AffinitySpec =
  | { readonly type: 'None' }
  | { readonly type: 'ClientIP'; readonly timeoutSeconds: number };

/**
 * A service port as kube-proxy sees it (its `BaseServicePortInfo`): everything needed to route
 * traffic for that port, derived from the Service object.
 */
export interface ServicePortInfo {
  readonly name: ServicePortName;
  /** {@link servicePortKey} of `name`. */
  readonly key: string;
  readonly type: ServiceType;
  /** Cluster IPs, primary family first (`spec.clusterIPs`). */
  readonly clusterIPs: readonly string[];
  readonly port: number;
  readonly protocol: Protocol;
  /** `spec.ports[].targetPort` as written: a number or a container port name. */
  readonly targetPort: number | string;
  /** 0 when the port has no node port. */
  readonly nodePort: number;
  readonly appProtocol?: string;
  readonly sessionAffinity: AffinitySpec;
  readonly externalIPs: readonly string[];
  /** `status.loadBalancer.ingress[].ip` values that are VIPs (not `ipMode: Proxy`). */
  readonly loadBalancerVIPs: readonly string[];
  readonly loadBalancerSourceRanges: readonly string[];
  /** externalTrafficPolicy Local on an externally reachable service (kube-proxy's ExternalPolicyLocal). */
  readonly externalPolicyLocal: boolean;
  /** internalTrafficPolicy Local. */
  readonly internalPolicyLocal: boolean;
  /** 0 when none. */
  readonly healthCheckNodePort: number;
  /** `spec.trafficDistribution`, when set. */
  readonly trafficDistribution?: string;
  /** Value of the topology-mode (or legacy topology-aware-hints) annotation, when set. */
  readonly topologyMode?: string;
}

/**
 * One endpoint of one service port, as kube-proxy's `BaseEndpointInfo` holds it. Hints are
 * `undefined` when the endpoint carries none, which is not the same as an empty set.
 */
export interface Endpoint {
  /** The endpoint's IP (first address of the slice endpoint). */
  readonly ip: string;
  /** The resolved target port. */
  readonly port: number;
  /** `ip:port`, or `[ip]:port` for IPv6: unique within a service port. */
  readonly key: string;
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
  readonly nodeName?: string;
  readonly zone?: string;
  readonly zoneHints?: ReadonlySet<string>;
  readonly nodeHints?: ReadonlySet<string>;
  readonly hostname?: string;
  readonly targetRef?: { readonly kind?: string; readonly namespace?: string; readonly name?: string };
  /** Relative weight for weighted policies; 1 when unset. */
  readonly weight?: number;
}

/** A service port with its endpoints, sorted the way kube-proxy orders them. */
export interface ServicePortEntry {
  readonly info: ServicePortInfo;
  readonly endpoints: readonly Endpoint[];
}

/** An immutable view of the routing state at one registry revision. */
export interface RoutingSnapshot {
  /** Registry revision this snapshot reflects. */
  readonly revision: number;
  /**
   * Routable service ports by {@link servicePortKey}. Like kube-proxy, this leaves out headless
   * services, ExternalName services and services labelled with a service-proxy-name.
   */
  readonly ports: ReadonlyMap<string, ServicePortEntry>;
  /** Every service by `ns/name` (headless and ExternalName included), defaulted. */
  readonly services: ReadonlyMap<string, Service>;
  /** EndpointSlices per owning service, by `ns/name` of the service. */
  readonly endpointSlices: ReadonlyMap<string, readonly EndpointSlice[]>;
  /** Namespaces known to exist (a Namespace object, or any object in it). */
  readonly namespaces: ReadonlySet<string>;
}

/** What changed for one service port between two snapshots; at least one side is set. */
export interface SnapshotChange {
  readonly key: string;
  readonly previous?: ServicePortEntry;
  readonly current?: ServicePortEntry;
}

/** A new snapshot with the port-level changes since the previous one (no-ops dropped). */
export interface SnapshotUpdate {
  readonly previous: RoutingSnapshot | undefined;
  readonly current: RoutingSnapshot;
  readonly changes: readonly SnapshotChange[];
  /** `ns/name` of every service whose object or slices changed (DNS/env care beyond ports). */
  readonly changedServices: ReadonlySet<string>;
}
