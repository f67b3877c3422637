/**
 * What the API server's Service strategy does to an object before validating it: keep
 * `clusterIP` and `clusterIPs` in step, and on a type change drop the fields the new type no
 * longer uses (when the user left them unchanged). Pure functions returning new objects.
 *
 * @module
 */

import type { Service, ServiceSpec } from '../core/types';

function clone<T>(v: T): T {
  return structuredClone(v);
}

const needsClusterIP = (s: ServiceSpec) => (s.type ?? 'ClusterIP') !== 'ExternalName';
// The strategy asks only about the type here: turning allocateLoadBalancerNodePorts off keeps
// the node ports a LoadBalancer already has (they must be removed explicitly).
const needsNodePort = (s: ServiceSpec) => s.type === 'NodePort' || s.type === 'LoadBalancer';
const needsHealthCheck = (s: ServiceSpec) => s.type === 'LoadBalancer' && s.externalTrafficPolicy === 'Local';

/** `type` is NodePort or LoadBalancer, or ClusterIP with external IPs (apiservice `ExternallyAccessible`). */
export function externallyAccessible(spec: ServiceSpec): boolean {
  return (
    spec.type === 'LoadBalancer' ||
    spec.type === 'NodePort' ||
    (spec.type === 'ClusterIP' && (spec.externalIPs?.length ?? 0) > 0)
  );
}

/** LoadBalancer with `externalTrafficPolicy: Local` (apiservice `NeedsHealthCheck`). */
export function needsHealthCheckNodePort(spec: ServiceSpec): boolean {
  return needsHealthCheck(spec);
}

const sameList = (a: readonly unknown[] | undefined, b: readonly unknown[] | undefined) =>
  (a?.length ?? 0) === (b?.length ?? 0) && (a ?? []).every((x, i) => x === b?.[i]);

/**
 * On create: a client that set only `clusterIP` gets `clusterIPs: [clusterIP]` (the strategy's
 * NormalizeClusterIPs). Returns a new object.
 */
export function prepareServiceCreate(svc: Service): Service {
  const out = clone(svc);
  if (!out.spec) out.spec = {};
  const s = out.spec;
  if (s.clusterIP && !s.clusterIPs?.length) s.clusterIPs = [s.clusterIP];
  return out;
}

/**
 * On update: NormalizeClusterIPs for the update case (an old client that omitted `clusterIPs`
 * keeps them; changing or clearing only `clusterIP` is carried into `clusterIPs`), then, when the
 * type changes, drop `clusterIP(s)`/`ipFamilies`/`ipFamilyPolicy`, `nodePort`s,
 * `healthCheckNodePort`, `allocateLoadBalancerNodePorts`, `loadBalancerClass` and
 * `externalTrafficPolicy` that the new type does not use and that the user left as they were
 * (node ports count as unchanged when none of them is new), and empty the load-balancer status
 * of a service that is no longer a LoadBalancer.
 */
export function prepareServiceUpdate(next: Service, prev: Service): Service {
  const out = clone(next);
  if (!out.spec) out.spec = {};
  const s = out.spec;
  const o = prev.spec ?? {};
  if (
    (o.clusterIPs?.length ?? 0) > 0 &&
    !s.clusterIPs?.length &&
    (o.clusterIP ?? '') === (s.clusterIP ?? '')
  ) {
    s.clusterIPs = [...(o.clusterIPs ?? [])];
  }
  if ((o.clusterIP ?? '') !== (s.clusterIP ?? '')) {
    const same = sameList(o.clusterIPs, s.clusterIPs);
    if (o.clusterIP && !s.clusterIP && same) delete s.clusterIPs;
    else if (same) s.clusterIPs = [s.clusterIP ?? ''];
  }

  if (needsClusterIP(o) && !needsClusterIP(s)) {
    if ((s.clusterIP ?? '') === (o.clusterIP ?? '') && sameList(s.clusterIPs, o.clusterIPs)) {
      delete s.clusterIP;
      delete s.clusterIPs;
    }
    if (sameList(s.ipFamilies, o.ipFamilies)) delete s.ipFamilies;
    if (s.ipFamilyPolicy === o.ipFamilyPolicy) delete s.ipFamilyPolicy;
  }
  if (needsNodePort(o) && !needsNodePort(s)) {
    // "the same node ports": ports may be added, removed or edited as long as no node port is
    // new (the strategy's sameNodePorts is a superset test on the sets of values)
    const oldNodePorts = new Set((o.ports ?? []).map((p) => p.nodePort ?? 0).filter((n) => n !== 0));
    const noneNew = (s.ports ?? []).every((p) => !p.nodePort || oldNodePorts.has(p.nodePort));
    if (noneNew) for (const p of s.ports ?? []) delete p.nodePort;
  }
  if (needsHealthCheck(o) && !needsHealthCheck(s) && s.healthCheckNodePort === o.healthCheckNodePort) {
    delete s.healthCheckNodePort;
  }
  if (o.type === 'LoadBalancer' && s.type !== 'LoadBalancer') {
    if (s.allocateLoadBalancerNodePorts === o.allocateLoadBalancerNodePorts)
      delete s.allocateLoadBalancerNodePorts;
    if (s.loadBalancerClass === o.loadBalancerClass) delete s.loadBalancerClass;
  }
  if (
    externallyAccessible(o) &&
    !externallyAccessible(s) &&
    s.externalTrafficPolicy === o.externalTrafficPolicy
  ) {
    delete s.externalTrafficPolicy;
  }
  // Only a LoadBalancer may carry load-balancer status, whatever the type was before; the guard
  // keeps an already-empty status as it is so a re-apply is not reported as a change.
  if (
    s.type !== 'LoadBalancer' &&
    out.status?.loadBalancer &&
    Object.keys(out.status.loadBalancer).length > 0
  ) {
    out.status = { ...out.status, loadBalancer: {} };
  }
  return out;
}
