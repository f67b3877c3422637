/**
 * Endpoint categorisation exactly as kube-proxy (v1.34) performs it in its `CategorizeEndpoints`:
 * which endpoints of a service port a given node sends Cluster-policy traffic to, which it sends
 * Local-policy traffic to, and whether the service has usable endpoints anywhere.
 *
 * Rules, in kube-proxy's order:
 * - "Usable" means ready. Only when no endpoint qualifies does a policy fall back to endpoints
 *   that are serving AND terminating; Cluster and Local make that decision independently.
 * - Cluster endpoints honour topology hints, but only when every ready endpoint carries a hint
 *   and at least one is hinted for this node (PreferSameNode) or this node's zone
 *   (PreferSameZone). Otherwise hints are ignored as a whole; there is never a partial filter.
 * - Local endpoints are the usable endpoints on this node. When there are none, Local traffic
 *   has nowhere to go: there is no fallback to remote endpoints.
 * - A policy the port never uses yields `undefined`, which is distinct from `[]` (used, empty).
 *
 * @module
 */
import type { Endpoint, ServicePortInfo } from '../core/snapshot';
import { LABEL_TOPOLOGY_ZONE } from '../core/types';

/** The node whose point of view routing is computed from. */
export interface RoutingNode {
  /** Node name; an endpoint is local when its `nodeName` equals this. */
  readonly name: string;
  /** The node's zone. When absent, the `topology.kubernetes.io/zone` label is used. */
  readonly zone?: string;
  /** The node's labels (only the zone label matters to routing). */
  readonly labels?: Readonly<Record<string, string>>;
}

/**
 * Feature gates that change categorisation. Defaults are those of Kubernetes v1.34.
 */
export interface RoutingFeatureGates {
  /**
   * `PreferSameTrafficDistribution`: honour node hints (PreferSameNode). Alpha in 1.33 (off),
   * beta and on by default since 1.34, so `true` when unset.
   */
  readonly PreferSameTrafficDistribution?: boolean;
}

/** `PreferSameTrafficDistribution` default in Kubernetes v1.34 (beta, enabled). */
export const DEFAULT_PREFER_SAME_TRAFFIC_DISTRIBUTION = true;

/** Options of {@link categorizeEndpoints}. */
export interface CategorizeOptions {
  readonly featureGates?: RoutingFeatureGates;
}

/** The outcome of {@link categorizeEndpoints}; mirrors kube-proxy's four return values. */
export interface CategorizedEndpoints {
  /**
   * Endpoints for Cluster-policy traffic, after topology filtering. `undefined` when the port
   * never uses Cluster policy (internalTrafficPolicy Local and not externally accessible).
   */
  readonly clusterEndpoints: Endpoint[] | undefined;
  /**
   * Endpoints on this node for Local-policy traffic. `undefined` when the port never uses Local
   * policy; `[]` when it does but this node has no usable endpoint (Local traffic is then
   * dropped or rejected, never sent to a remote endpoint).
   */
  readonly localEndpoints: Endpoint[] | undefined;
  /** Union of the two lists above, in input order, without duplicates. */
  readonly allReachableEndpoints: Endpoint[];
  /** The service has usable endpoints somewhere in the cluster (even if none reachable here). */
  readonly hasAnyEndpoints: boolean;
}

/** The topology mode kube-proxy settles on for one service port on one node. */
export type TopologyMode = '' | 'PreferSameZone' | 'PreferSameNode';

/** Why hints were not used; `undefined` when a mode was chosen or no endpoint carries hints. */
export type TopologyIgnoredReason =
  | 'node-hints-missing-on-some-endpoint'
  | 'no-node-hint-for-this-node'
  | 'zone-hints-missing-on-some-endpoint'
  | 'node-zone-unknown'
  | 'no-zone-hint-for-this-zone';

/** The detailed topology decision, for explanations. */
export interface TopologyDecision {
  readonly mode: TopologyMode;
  /** Why node hints were not used (only set when some endpoint carries node hints). */
  readonly nodeHintsIgnored?: TopologyIgnoredReason;
  /** Why zone hints were not used (only set when some endpoint carries zone hints). */
  readonly zoneHintsIgnored?: TopologyIgnoredReason;
}

/** kube-proxy's `ExternallyAccessible`: the port has a node port, a load-balancer VIP or an external IP. */
export function isExternallyAccessible(info: ServicePortInfo): boolean {
  return info.nodePort !== 0 || info.loadBalancerVIPs.length > 0 || info.externalIPs.length > 0;
}

/** kube-proxy's `ExternalPolicyLocal`: externalTrafficPolicy Local on an externally accessible port. */
export function isExternalPolicyLocal(info: ServicePortInfo): boolean {
  return info.externalPolicyLocal && isExternallyAccessible(info);
}

/**
 * kube-proxy's `UsesClusterEndpoints`: internal traffic uses Cluster policy, or the port is
 * externally accessible (even with externalTrafficPolicy Local, traffic from pods and from the
 * node itself short-circuits to the Cluster endpoints).
 */
export function usesClusterEndpoints(info: ServicePortInfo): boolean {
  return !info.internalPolicyLocal || isExternallyAccessible(info);
}

/** kube-proxy's `UsesLocalEndpoints`: internal or (effective) external traffic policy is Local. */
export function usesLocalEndpoints(info: ServicePortInfo): boolean {
  return info.internalPolicyLocal || isExternalPolicyLocal(info);
}

/** The zone of `node`: its explicit `zone`, else its zone label, else `''` (unknown). */
export function nodeZone(node: RoutingNode): string {
  return node.zone ?? node.labels?.[LABEL_TOPOLOGY_ZONE] ?? '';
}

/**
 * Endpoint is on `node` (kube-proxy's `IsLocal`): its `nodeName` equals the node's name. A node
 * without a name owns no endpoint, as kube-proxy's endpoint cache never matches an empty name.
 */
export function isLocalEndpoint(ep: Endpoint, node: RoutingNode): boolean {
  return node.name !== '' && ep.nodeName === node.name;
}

/** Usable only as a fallback: serving while terminating. */
export function isServingTerminating(ep: Endpoint): boolean {
  return ep.serving && ep.terminating;
}

function hintCount(hints: ReadonlySet<string> | undefined): number {
  return hints === undefined ? 0 : hints.size;
}

/**
 * Decides which hints, if any, kube-proxy honours for these endpoints on this node (its
 * `topologyModeFromHints`). Only ready endpoints are inspected. Node hints win over zone hints
 * when every ready endpoint has one and one names this node (and the gate is on); zone hints
 * apply when every ready endpoint has one and one names this node's zone.
 */
export function decideTopology(
  endpoints: readonly Endpoint[],
  node: RoutingNode,
  options: CategorizeOptions = {},
): TopologyDecision {
  const zone = nodeZone(node);
  let hasReady = false;
  let allHaveNodeHints = true;
  let anyHasNodeHints = false;
  let hasForNode = false;
  let allHaveZoneHints = true;
  let anyHasZoneHints = false;
  let hasForZone = false;
  for (const ep of endpoints) {
    if (!ep.ready) continue;
    hasReady = true;
    if (hintCount(ep.nodeHints) === 0) {
      allHaveNodeHints = false;
    } else {
      anyHasNodeHints = true;
      if (ep.nodeHints?.has(node.name)) hasForNode = true;
    }
    if (hintCount(ep.zoneHints) === 0) {
      allHaveZoneHints = false;
    } else {
      anyHasZoneHints = true;
      // As upstream, an unknown zone is '' and matches only a (valid, if odd) empty hint name.
      if (ep.zoneHints?.has(zone)) hasForZone = true;
    }
  }
  if (!hasReady) return { mode: '' };

  let nodeHintsIgnored: TopologyIgnoredReason | undefined;
  if (options.featureGates?.PreferSameTrafficDistribution ?? DEFAULT_PREFER_SAME_TRAFFIC_DISTRIBUTION) {
    if (allHaveNodeHints) {
      if (hasForNode) return { mode: 'PreferSameNode' };
      nodeHintsIgnored = 'no-node-hint-for-this-node';
    } else if (anyHasNodeHints) {
      nodeHintsIgnored = 'node-hints-missing-on-some-endpoint';
    }
  }
  const withNode = nodeHintsIgnored === undefined ? {} : { nodeHintsIgnored };
  if (allHaveZoneHints) {
    if (hasForZone) return { mode: 'PreferSameZone', ...withNode };
    return {
      mode: '',
      ...withNode,
      zoneHintsIgnored: zone === '' ? 'node-zone-unknown' : 'no-zone-hint-for-this-zone',
    };
  }
  if (anyHasZoneHints)
    return { mode: '', ...withNode, zoneHintsIgnored: 'zone-hints-missing-on-some-endpoint' };
  return { mode: '', ...withNode };
}

/** Endpoint passes the filter of topology `mode` (no fallback here: that was decided already). */
export function availableForTopology(ep: Endpoint, mode: TopologyMode, node: RoutingNode): boolean {
  switch (mode) {
    case '':
      return true;
    case 'PreferSameNode':
      return ep.nodeHints?.has(node.name) ?? false;
    case 'PreferSameZone':
      return ep.zoneHints?.has(nodeZone(node)) ?? false;
  }
}

/**
 * Splits the endpoints of one service port into what `node` routes to, with kube-proxy's exact
 * semantics (see the module documentation). Pure; the input is not modified and result arrays
 * are fresh (never aliases of `endpoints`), though `allReachableEndpoints` may be the same array
 * as `clusterEndpoints` or `localEndpoints` when it equals one of them.
 */
export function categorizeEndpoints(
  info: ServicePortInfo,
  endpoints: readonly Endpoint[],
  node: RoutingNode,
  options: CategorizeOptions = {},
): CategorizedEndpoints {
  let clusterEndpoints: Endpoint[] | undefined;
  let localEndpoints: Endpoint[] | undefined;
  let hasAnyEndpoints = false;
  let mode: TopologyMode = '';
  let localUsesServingTerminating = false;

  const usesCluster = usesClusterEndpoints(info);
  if (usesCluster) {
    mode = decideTopology(endpoints, node, options).mode;
    clusterEndpoints = endpoints.filter((ep) => ep.ready && availableForTopology(ep, mode, node));
    // No ready endpoint survived. The topology mode is only ever chosen when a ready endpoint
    // matches it, so this means nothing is ready anywhere: fall back, ignoring topology.
    if (clusterEndpoints.length === 0) clusterEndpoints = endpoints.filter(isServingTerminating);
    if (clusterEndpoints.length > 0) hasAnyEndpoints = true;
  }

  if (!usesLocalEndpoints(info)) {
    return {
      clusterEndpoints,
      localEndpoints,
      allReachableEndpoints: clusterEndpoints ?? [],
      hasAnyEndpoints,
    };
  }

  localEndpoints = [];
  let hasLocalReady = false;
  let hasLocalServingTerminating = false;
  for (const ep of endpoints) {
    if (ep.ready) {
      hasAnyEndpoints = true;
      if (isLocalEndpoint(ep, node)) hasLocalReady = true;
    } else if (isServingTerminating(ep)) {
      hasAnyEndpoints = true;
      if (isLocalEndpoint(ep, node)) hasLocalServingTerminating = true;
    }
  }
  if (hasLocalReady) {
    localEndpoints = endpoints.filter((ep) => ep.ready && isLocalEndpoint(ep, node));
  } else if (hasLocalServingTerminating) {
    localUsesServingTerminating = true;
    localEndpoints = endpoints.filter((ep) => isServingTerminating(ep) && isLocalEndpoint(ep, node));
  }

  if (!usesCluster || clusterEndpoints === undefined) {
    return { clusterEndpoints, localEndpoints, allReachableEndpoints: localEndpoints, hasAnyEndpoints };
  }
  // Without topology, the cluster list holds every ready endpoint, so it already contains the
  // (ready) local ones.
  if (mode === '' && !localUsesServingTerminating) {
    return { clusterEndpoints, localEndpoints, allReachableEndpoints: clusterEndpoints, hasAnyEndpoints };
  }
  const inUnion = new Set<string>();
  for (const ep of clusterEndpoints) inUnion.add(ep.key);
  for (const ep of localEndpoints) inUnion.add(ep.key);
  // Input order keeps results deterministic (kube-proxy's order here is map order, i.e. none).
  const allReachableEndpoints = endpoints.filter((ep) => inUnion.delete(ep.key));
  return { clusterEndpoints, localEndpoints, allReachableEndpoints, hasAnyEndpoints };
}
