import type { Endpoint, ServicePortInfo } from '../../src/core/snapshot';
import { makeEndpoint, makeServicePortInfo } from '../../src/testing/fixtures';

/** A ClusterIP service port with kube-proxy defaults; override what a case needs. */
export function portInfo(over: Partial<ServicePortInfo> = {}): ServicePortInfo {
  return makeServicePortInfo({ portName: 'http', clusterIPs: ['10.96.0.10'], targetPort: 8080, ...over });
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
  return makeEndpoint(spec.ip, 80, {
    ...(spec.ready === undefined ? {} : { ready: spec.ready }),
    ...(spec.serving === undefined ? {} : { serving: spec.serving }),
    ...(spec.terminating === undefined ? {} : { terminating: spec.terminating }),
    ...(spec.node === undefined ? {} : { nodeName: spec.node }),
    ...(spec.zone === undefined ? {} : { zone: spec.zone }),
    ...(spec.zones === undefined ? {} : { zoneHints: new Set(spec.zones) }),
    ...(spec.nodes === undefined ? {} : { nodeHints: new Set(spec.nodes) }),
  });
}

export function keys(eps: readonly Endpoint[] | undefined): string[] | undefined {
  return eps?.map((e) => e.key);
}
