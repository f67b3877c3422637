import type { EndpointSlice, Pod, Service, ServiceSpec } from '../../src/core/types';

/** A Service manifest. */
export function svc(name: string, spec: ServiceSpec, extra: Partial<Service['metadata']> = {}): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, ...extra }, spec };
}

/** A Pod manifest: running and ready unless told otherwise. */
export function pod(
  name: string,
  labels: Record<string, string>,
  opts: {
    ip?: string;
    ready?: boolean;
    node?: string;
    ports?: { name?: string; containerPort: number; protocol?: 'TCP' | 'UDP' }[];
    phase?: 'Running' | 'Succeeded' | 'Failed' | 'Pending';
    namespace?: string;
    hostname?: string;
    subdomain?: string;
  } = {},
): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels, ...(opts.namespace ? { namespace: opts.namespace } : {}) },
    spec: {
      containers: [{ name: 'c', ports: opts.ports ?? [] }],
      ...(opts.node ? { nodeName: opts.node } : {}),
      ...(opts.hostname ? { hostname: opts.hostname } : {}),
      ...(opts.subdomain ? { subdomain: opts.subdomain } : {}),
    },
    status: {
      phase: opts.phase ?? 'Running',
      ...(opts.ip ? { podIP: opts.ip, podIPs: [{ ip: opts.ip }] } : {}),
      conditions: [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True' }],
    },
  };
}

/** A user-managed EndpointSlice. */
export function slice(
  name: string,
  service: string,
  spec: Omit<EndpointSlice, 'apiVersion' | 'kind' | 'metadata'>,
): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, labels: { 'kubernetes.io/service-name': service } },
    ...spec,
  };
}
