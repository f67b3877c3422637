/**
 * The topology hints the EndpointSlice controller writes for `spec.trafficDistribution`
 * (Kubernetes v1.34). kube-proxy never reads `trafficDistribution` itself: it only follows the
 * hints on the endpoints (see `categorizeEndpoints`). Use this when building endpoints by
 * hand so they carry the hints a cluster would give them.
 *
 * - `PreferSameZone`, and its older name `PreferClose`: every ready endpoint with a zone is
 *   hinted for its own zone (and loses any node hint).
 * - `PreferSameNode`: additionally, every ready endpoint with a node name is hinted for its own
 *   node (kube-proxy falls back to the zone hints on nodes without a local endpoint).
 * - Unset or any other value: all hints are removed.
 * Endpoints that are not ready keep whatever hints they had, as the controller leaves them.
 * A service with the `service.kubernetes.io/topology-mode: Auto` annotation gets proportional
 * hints from the controller's topology cache instead, which this function does not compute.
 *
 * @module
 */
import type { Endpoint } from '../core/snapshot';
import { TRAFFIC_DISTRIBUTIONS } from '../validation';

/** The `trafficDistribution` values that produce hints. */
export const TRAFFIC_DISTRIBUTIONS_WITH_HINTS: ReadonlySet<string> = new Set(TRAFFIC_DISTRIBUTIONS);

/** The canonical mode for a `trafficDistribution` value: `PreferClose` is `PreferSameZone`. */
export function normalizeTrafficDistribution(
  value: string | undefined,
): 'PreferSameZone' | 'PreferSameNode' | undefined {
  if (value === 'PreferSameNode') return 'PreferSameNode';
  if (value === 'PreferClose' || value === 'PreferSameZone') return 'PreferSameZone';
  return undefined;
}

function withHints(ep: Endpoint, zone: string | undefined, node: string | undefined): Endpoint {
  const { zoneHints: _z, nodeHints: _n, ...rest } = ep;
  return {
    ...rest,
    ...(zone === undefined ? {} : { zoneHints: new Set([zone]) }),
    ...(node === undefined ? {} : { nodeHints: new Set([node]) }),
  };
}

/**
 * Returns `endpoints` with the hints the EndpointSlice controller sets for `trafficDistribution`
 * (see the module documentation). New objects are returned only for endpoints whose hints change.
 */
export function applyTrafficDistributionHints(
  trafficDistribution: string | undefined,
  endpoints: readonly Endpoint[],
): Endpoint[] {
  const mode = normalizeTrafficDistribution(trafficDistribution);
  return endpoints.map((ep) => {
    if (mode === undefined) {
      return ep.zoneHints === undefined && ep.nodeHints === undefined
        ? ep
        : withHints(ep, undefined, undefined);
    }
    if (!ep.ready) return ep;
    // Presence, not truthiness: the controller hints any zone the endpoint names, even ''.
    const zone = ep.zone;
    const node = mode === 'PreferSameNode' ? ep.nodeName : undefined;
    if (sameHint(ep.zoneHints, zone) && sameHint(ep.nodeHints, node)) return ep;
    return withHints(ep, zone, node);
  });
}

function sameHint(hints: ReadonlySet<string> | undefined, want: string | undefined): boolean {
  if (want === undefined) return hints === undefined || hints.size === 0;
  return hints !== undefined && hints.size === 1 && hints.has(want);
}
