/**
 * Builders for the routing view's objects, for tests of code that consumes snapshots (balancers,
 * backends, custom proxies). Every field gets the value the registry would derive for a plain
 * ClusterIP service; pass only what a case is about.
 *
 * @module
 */
import { type Endpoint, type ServicePortInfo, servicePortKey } from '../core/snapshot';
import type { Protocol } from '../core/types';
import { endpointKey } from '../registry/slice-endpoints';

/** Identity of a fixture service port; the rest of {@link ServicePortInfo} may be overridden. */
export interface ServicePortFixture extends Partial<Omit<ServicePortInfo, 'name' | 'key'>> {
  namespace?: string;
  /** Service name (default `web`). */
  service?: string;
  /** Port name (default empty: the single unnamed port). */
  portName?: string;
}

/** A ClusterIP service port as the registry derives it: no node port, no affinity, Cluster policies. */
export function makeServicePortInfo(fixture: ServicePortFixture = {}): ServicePortInfo {
  const { namespace = 'default', service = 'web', portName = '', ...over } = fixture;
  const protocol: Protocol = over.protocol ?? 'TCP';
  const name = { namespace, name: service, port: portName, protocol };
  return {
    name,
    key: servicePortKey(name),
    type: 'ClusterIP',
    clusterIPs: [],
    port: 80,
    protocol,
    targetPort: over.port ?? 80,
    nodePort: 0,
    sessionAffinity: { type: 'None' },
    externalIPs: [],
    loadBalancerVIPs: [],
    loadBalancerSourceRanges: [],
    externalPolicyLocal: false,
    internalPolicyLocal: false,
    healthCheckNodePort: 0,
    ...over,
  };
}

/** A ready, serving endpoint (`serving` follows `ready` unless given); `key` is derived. */
export function makeEndpoint(
  ip: string,
  port = 80,
  extra: Partial<Omit<Endpoint, 'ip' | 'port' | 'key'>> = {},
): Endpoint {
  const ready = extra.ready ?? true;
  return {
    ip,
    port,
    key: endpointKey(ip, port),
    ready,
    serving: extra.serving ?? ready,
    terminating: false,
    ...extra,
  };
}
