import type { DnsSourceState } from '../../../src/backends/dns';
import type { EndpointSlice, Service } from '../../../src/core/types';

export function svc(namespace: string, name: string, spec: Service['spec']): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { namespace, name }, spec };
}

export function slice(
  namespace: string,
  service: string,
  endpoints: EndpointSlice['endpoints'],
  ports: EndpointSlice['ports'],
  addressType: EndpointSlice['addressType'] = 'IPv4',
): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { namespace, name: `${service}-abc`, labels: { 'kubernetes.io/service-name': service } },
    addressType,
    endpoints,
    ...(ports ? { ports } : {}),
  };
}

export function state(
  services: Service[],
  slices: EndpointSlice[] = [],
  extraNamespaces: string[] = [],
): DnsSourceState {
  const servicesMap = new Map<string, Service>();
  const slicesMap = new Map<string, EndpointSlice[]>();
  const namespaces = new Set<string>(extraNamespaces);
  for (const s of services) {
    servicesMap.set(`${s.metadata.namespace}/${s.metadata.name}`, s);
    namespaces.add(s.metadata.namespace!);
  }
  for (const s of slices) {
    const key = `${s.metadata.namespace}/${s.metadata.labels!['kubernetes.io/service-name']}`;
    slicesMap.set(key, [...(slicesMap.get(key) ?? []), s]);
    namespaces.add(s.metadata.namespace!);
  }
  return { services: servicesMap, endpointSlices: slicesMap, namespaces };
}

/** The seed cluster: redis-master (ClusterIP), my-service in my-ns, a headless set, an ExternalName. */
export function seedState(): DnsSourceState {
  return state(
    [
      svc('default', 'redis-master', {
        type: 'ClusterIP',
        clusterIP: '10.0.0.11',
        clusterIPs: ['10.0.0.11'],
        ports: [{ name: 'redis', protocol: 'TCP', port: 6379, targetPort: 6379 }],
      }),
      svc('my-ns', 'my-service', {
        type: 'ClusterIP',
        clusterIP: '10.96.0.20',
        clusterIPs: ['10.96.0.20', 'fd00::20'],
        ports: [
          { name: 'http', protocol: 'TCP', port: 80 },
          { name: 'dns', protocol: 'UDP', port: 53 },
        ],
      }),
      svc('my-ns', 'backend-service', {
        type: 'ClusterIP',
        clusterIP: '10.96.0.21',
        clusterIPs: ['10.96.0.21'],
        ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
      }),
      svc('my-ns', 'db', {
        type: 'ClusterIP',
        clusterIP: 'None',
        clusterIPs: ['None'],
        ports: [{ name: 'pg', protocol: 'TCP', port: 5432 }],
      }),
      svc('my-ns', 'empty-headless', { type: 'ClusterIP', clusterIP: 'None', ports: [{ port: 80 }] }),
      svc('my-ns', 'ext', { type: 'ExternalName', externalName: 'example.com' }),
      svc('my-ns', 'alias', { type: 'ExternalName', externalName: 'my-service.my-ns.svc.cluster.local' }),
    ],
    [
      slice(
        'my-ns',
        'db',
        [
          { addresses: ['127.0.0.11'], hostname: 'db-0', conditions: { ready: true } },
          { addresses: ['127.0.0.12'], conditions: { ready: true } },
          { addresses: ['127.0.0.13'], hostname: 'db-2', conditions: { ready: false } },
        ],
        [{ name: 'pg', protocol: 'TCP', port: 5432 }],
      ),
      slice(
        'my-ns',
        'my-service',
        [{ addresses: ['127.0.0.21'], hostname: 'web-0', conditions: { ready: true } }],
        [{ name: 'http', protocol: 'TCP', port: 8080 }],
      ),
    ],
    ['empty-ns'],
  );
}
