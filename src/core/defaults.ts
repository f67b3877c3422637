/**
 * Defaulting as the API server applies it when it decodes an object (`SetDefaults_*` of
 * core/v1 and discovery/v1, plus the `+default` markers of the v1 types). Every function
 * returns a new, deep-copied object and never mutates its input; applying one twice changes
 * nothing more (idempotent).
 *
 * @module
 */

import type { EndpointSlice, Pod, Service, ServiceSpec } from './types';

/** ClientIP affinity timeout when none is given: 3 hours (core/v1 `DefaultClientIPServiceAffinitySeconds`). */
export const DEFAULT_CLIENT_IP_AFFINITY_TIMEOUT_S = 10800;
/** Upper bound of the ClientIP affinity timeout: 1 day (core/v1 `MaxClientIPServiceAffinitySeconds`). */
export const MAX_CLIENT_IP_AFFINITY_TIMEOUT_S = 86400;
/** Pod grace period when none is given (core/v1 `DefaultTerminationGracePeriodSeconds`). */
export const DEFAULT_TERMINATION_GRACE_PERIOD_S = 30;
/** Default of `spec.enableServiceLinks` (core/v1 `DefaultEnableServiceLinks`). */
export const DEFAULT_ENABLE_SERVICE_LINKS = true;

function externallyAccessible(spec: ServiceSpec): boolean {
  return (
    spec.type === 'LoadBalancer' ||
    spec.type === 'NodePort' ||
    (spec.type === 'ClusterIP' && (spec.externalIPs?.length ?? 0) > 0)
  );
}

/**
 * A Service with the API server's defaults (`SetDefaults_Service`):
 * - `sessionAffinity` → `None`; with `None`, `sessionAffinityConfig` is dropped; with `ClientIP`
 *   and no timeout, `sessionAffinityConfig.clientIP.timeoutSeconds` → 10800;
 * - `type` → `ClusterIP`;
 * - each port: `protocol` → `TCP`; `targetPort` absent, `0` or `""` → the port's `port`;
 * - `externalTrafficPolicy` → `Cluster` for externally accessible services only (NodePort,
 *   LoadBalancer, or ClusterIP with externalIPs);
 * - `internalTrafficPolicy` → `Cluster` for ClusterIP/NodePort/LoadBalancer (not ExternalName);
 * - `allocateLoadBalancerNodePorts` → `true` for LoadBalancer;
 * - `status.loadBalancer.ingress[].ipMode` → `VIP` for LoadBalancer ingress entries with an IP.
 *
 * Values the API server allocates (clusterIP(s), ipFamilies, ipFamilyPolicy, nodePorts,
 * healthCheckNodePort) are not defaults and are left alone (see `initServiceIPFamilies` in
 * the validation module for the IP family fields).
 */
export function defaultService(svc: Service): Service {
  const out = structuredClone(svc);
  if (!out.spec) out.spec = {};
  const s = out.spec;
  if (!s.sessionAffinity) s.sessionAffinity = 'None';
  if (s.sessionAffinity === 'None') delete s.sessionAffinityConfig;
  if (s.sessionAffinity === 'ClientIP' && s.sessionAffinityConfig?.clientIP?.timeoutSeconds === undefined) {
    s.sessionAffinityConfig = { clientIP: { timeoutSeconds: DEFAULT_CLIENT_IP_AFFINITY_TIMEOUT_S } };
  }
  if (!s.type) s.type = 'ClusterIP';
  for (const p of s.ports ?? []) {
    if (!p.protocol) p.protocol = 'TCP';
    if (p.targetPort === undefined || p.targetPort === 0 || p.targetPort === '') p.targetPort = p.port;
  }
  if (externallyAccessible(s) && !s.externalTrafficPolicy) s.externalTrafficPolicy = 'Cluster';
  if (
    s.internalTrafficPolicy === undefined &&
    (s.type === 'ClusterIP' || s.type === 'NodePort' || s.type === 'LoadBalancer')
  ) {
    s.internalTrafficPolicy = 'Cluster';
  }
  if (s.type === 'LoadBalancer') {
    if (s.allocateLoadBalancerNodePorts === undefined) s.allocateLoadBalancerNodePorts = true;
    for (const ing of out.status?.loadBalancer?.ingress ?? []) if (ing.ip && !ing.ipMode) ing.ipMode = 'VIP';
  }
  return out;
}

/**
 * A Pod with the API server's defaults that routing and env rendering see:
 * container (and init container) port `protocol` → `TCP` (v1 `+default="TCP"`);
 * `enableServiceLinks` → `true` (`SetDefaults_Pod`); with `hostNetwork`, each port's `hostPort`
 * → its `containerPort` (`SetDefaults_Pod`); `terminationGracePeriodSeconds` → 30
 * (`SetDefaults_PodSpec`).
 */
export function defaultPod(pod: Pod): Pod {
  const out = structuredClone(pod);
  if (!out.spec) out.spec = { containers: [] };
  const s = out.spec;
  for (const c of [...(s.containers ?? []), ...(s.initContainers ?? [])]) {
    for (const p of c.ports ?? []) {
      if (!p.protocol) p.protocol = 'TCP';
      if (s.hostNetwork && !p.hostPort) p.hostPort = p.containerPort;
    }
  }
  if (s.enableServiceLinks === undefined) s.enableServiceLinks = DEFAULT_ENABLE_SERVICE_LINKS;
  if (s.terminationGracePeriodSeconds === undefined)
    s.terminationGracePeriodSeconds = DEFAULT_TERMINATION_GRACE_PERIOD_S;
  if (out.status) {
    const st = out.status;
    const pod = reconcileIPPair(st.podIP, st.podIPs);
    if (pod) [st.podIP, st.podIPs] = pod;
    const host = reconcileIPPair(st.hostIP, st.hostIPs);
    if (host) [st.hostIP, st.hostIPs] = host;
  }
  return out;
}

/**
 * The API server stores a v1 Pod through its internal version, which keeps only the list: a
 * singular `podIP` that disagrees with `podIPs[0]` wins and replaces the list (older clients write
 * only the singular field), a singular field alone becomes a one-entry list, and the singular
 * field read back is always the list's first entry. `hostIP`/`hostIPs` follow the same rule.
 * Undefined when there is nothing to reconcile.
 */
function reconcileIPPair(
  single: string | undefined,
  list: { ip: string }[] | undefined,
): [string, { ip: string }[]] | undefined {
  const first = list?.[0]?.ip;
  if (single && (first === undefined || first !== single)) return [single, [{ ip: single }]];
  if (!single && first) return [first, list ?? []];
  return undefined;
}

/**
 * An EndpointSlice with the API server's defaults (discovery/v1 `SetDefaults_EndpointPort`):
 * each port's `name` → `""` and `protocol` → `TCP`. Endpoint conditions are NOT defaulted (an
 * absent `ready` is read as ready by consumers, but stays absent in the object).
 */
export function defaultEndpointSlice(slice: EndpointSlice): EndpointSlice {
  const out = structuredClone(slice);
  for (const p of out.ports ?? []) {
    if (p.name === undefined) p.name = '';
    if (!p.protocol) p.protocol = 'TCP';
  }
  if (!out.endpoints) out.endpoints = [];
  return out;
}
