import type { Endpoint, ServicePortInfo } from '../../src/core/snapshot';

/** A ClusterIP service port with kube-proxy defaults; override what a case needs. */
export function portInfo(over: Partial<ServicePortInfo> = {}): ServicePortInfo {
  return {
    name: { namespace: 'default', name: 'web', port: 'http', protocol: 'TCP' },
    key: 'default/web:http',
    type: 'ClusterIP',
    clusterIPs: ['10.96.0.10'],
    port: 80,
    protocol: 'TCP',
    targetPort: 8080,
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

export interface EpSpec {
  ip: string;
  ready?: boolean | undefined;
  serving?: boolean | undefined;
  terminating?: boolean | undefined;
  node?: string | undefined;
  zone?: string | undefined;
  zones?: string[] | undefined;
  nodes?: string[] | undefined;
}

/** An endpoint on port 80; `ready` defaults to true and `serving` to `ready`. */
export function ep(spec: EpSpec): Endpoint {
  const ready = spec.ready ?? true;
  return {
    ip: spec.ip,
    port: 80,
    key: `${spec.ip}:80`,
    ready,
    serving: spec.serving ?? ready,
    terminating: spec.terminating ?? false,
    ...(spec.node === undefined ? {} : { nodeName: spec.node }),
    ...(spec.zone === undefined ? {} : { zone: spec.zone }),
    ...(spec.zones === undefined ? {} : { zoneHints: new Set(spec.zones) }),
    ...(spec.nodes === undefined ? {} : { nodeHints: new Set(spec.nodes) }),
  };
}

export function keys(eps: readonly Endpoint[] | undefined): string[] | undefined {
  return eps?.map((e) => e.key);
}
