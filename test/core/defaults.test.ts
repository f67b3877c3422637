import { describe, expect, it } from 'vitest';
import {
  DEFAULT_CLIENT_IP_AFFINITY_TIMEOUT_S,
  defaultEndpointSlice,
  defaultPod,
  defaultService,
} from '../../src/core/defaults';
import type { EndpointSlice, Pod, Service, ServiceSpec } from '../../src/core/types';

const svc = (spec: ServiceSpec): Service => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 's' },
  spec,
});

describe('defaultService', () => {
  it('ClusterIP defaults', () => {
    const d = defaultService(
      svc({
        ports: [
          { port: 80 },
          { port: 81, targetPort: 0 },
          { port: 82, targetPort: '' },
          { port: 83, targetPort: 'http' },
        ],
      }),
    );
    expect(d.spec).toEqual({
      type: 'ClusterIP',
      sessionAffinity: 'None',
      internalTrafficPolicy: 'Cluster',
      ports: [
        { port: 80, protocol: 'TCP', targetPort: 80 },
        { port: 81, protocol: 'TCP', targetPort: 81 },
        { port: 82, protocol: 'TCP', targetPort: 82 },
        { port: 83, protocol: 'TCP', targetPort: 'http' },
      ],
    });
  });
  it('externalTrafficPolicy only for externally accessible services', () => {
    expect(defaultService(svc({ type: 'NodePort' })).spec.externalTrafficPolicy).toBe('Cluster');
    expect(defaultService(svc({ type: 'LoadBalancer' })).spec.externalTrafficPolicy).toBe('Cluster');
    expect(defaultService(svc({ externalIPs: ['1.2.3.4'] })).spec.externalTrafficPolicy).toBe('Cluster');
    expect(defaultService(svc({})).spec.externalTrafficPolicy).toBeUndefined();
    expect(
      defaultService(svc({ type: 'ExternalName', externalName: 'x.y' })).spec.externalTrafficPolicy,
    ).toBeUndefined();
  });
  it('internalTrafficPolicy not for ExternalName; allocateLoadBalancerNodePorts only for LoadBalancer', () => {
    expect(defaultService(svc({ type: 'ExternalName' })).spec.internalTrafficPolicy).toBeUndefined();
    expect(defaultService(svc({ type: 'LoadBalancer' })).spec.allocateLoadBalancerNodePorts).toBe(true);
    expect(
      defaultService(svc({ type: 'LoadBalancer', allocateLoadBalancerNodePorts: false })).spec
        .allocateLoadBalancerNodePorts,
    ).toBe(false);
    expect(defaultService(svc({ type: 'NodePort' })).spec.allocateLoadBalancerNodePorts).toBeUndefined();
  });
  it('session affinity', () => {
    expect(defaultService(svc({ sessionAffinity: 'ClientIP' })).spec.sessionAffinityConfig).toEqual({
      clientIP: { timeoutSeconds: DEFAULT_CLIENT_IP_AFFINITY_TIMEOUT_S },
    });
    expect(DEFAULT_CLIENT_IP_AFFINITY_TIMEOUT_S).toBe(10800);
    expect(
      defaultService(
        svc({ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 5 } } }),
      ).spec.sessionAffinityConfig,
    ).toEqual({
      clientIP: { timeoutSeconds: 5 },
    });
    expect(
      defaultService(svc({ sessionAffinityConfig: { clientIP: { timeoutSeconds: 5 } } })).spec
        .sessionAffinityConfig,
    ).toBeUndefined();
  });
  it('LoadBalancer ingress ipMode VIP when an IP is set', () => {
    const s = svc({ type: 'LoadBalancer' });
    s.status = {
      loadBalancer: {
        ingress: [{ ip: '1.2.3.4' }, { hostname: 'lb.example.com' }, { ip: '1.2.3.5', ipMode: 'Proxy' }],
      },
    };
    expect(defaultService(s).status?.loadBalancer?.ingress).toEqual([
      { ip: '1.2.3.4', ipMode: 'VIP' },
      { hostname: 'lb.example.com' },
      { ip: '1.2.3.5', ipMode: 'Proxy' },
    ]);
  });
  it('returns a new object, never mutates, and is idempotent', () => {
    const s = svc({ ports: [{ port: 80 }], selector: { app: 'x' } });
    const before = structuredClone(s);
    const d = defaultService(s);
    expect(s).toEqual(before);
    expect(d).not.toBe(s);
    expect(d.spec.ports).not.toBe(s.spec.ports);
    expect(defaultService(d)).toEqual(d);
  });
});

describe('defaultPod', () => {
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p' },
    spec: {
      containers: [{ name: 'a', ports: [{ containerPort: 80 }] }],
      initContainers: [{ name: 'i', ports: [{ containerPort: 9 }] }],
    },
  };
  it('port protocol, service links, grace period', () => {
    const d = defaultPod(pod);
    expect(d.spec.containers[0]?.ports?.[0]).toEqual({ containerPort: 80, protocol: 'TCP' });
    expect(d.spec.initContainers?.[0]?.ports?.[0]?.protocol).toBe('TCP');
    expect(d.spec.enableServiceLinks).toBe(true);
    expect(d.spec.terminationGracePeriodSeconds).toBe(30);
    expect(pod.spec.containers[0]?.ports?.[0]?.protocol).toBeUndefined();
  });
  it('hostNetwork: hostPort = containerPort', () => {
    const d = defaultPod({ ...pod, spec: { ...pod.spec, hostNetwork: true } });
    expect(d.spec.containers[0]?.ports?.[0]?.hostPort).toBe(80);
  });
  it('podIP and podIPs as the API server stores them (the singular field wins when they disagree)', () => {
    const withStatus = (status: NonNullable<Pod['status']>) => defaultPod({ ...pod, status }).status;
    expect(withStatus({ podIP: '10.0.0.1' })).toMatchObject({
      podIP: '10.0.0.1',
      podIPs: [{ ip: '10.0.0.1' }],
    });
    expect(withStatus({ podIPs: [{ ip: '10.0.0.1' }, { ip: 'fd00::1' }] })).toMatchObject({
      podIP: '10.0.0.1',
      podIPs: [{ ip: '10.0.0.1' }, { ip: 'fd00::1' }],
    });
    expect(
      withStatus({ podIP: '10.0.0.1', podIPs: [{ ip: '10.0.0.1' }, { ip: 'fd00::1' }] })?.podIPs,
    ).toHaveLength(2);
    expect(withStatus({ podIP: '10.0.0.9', podIPs: [{ ip: '10.0.0.1' }, { ip: 'fd00::1' }] })).toMatchObject({
      podIP: '10.0.0.9',
      podIPs: [{ ip: '10.0.0.9' }],
    });
    expect(withStatus({ hostIP: '192.0.2.1' })).toMatchObject({
      hostIP: '192.0.2.1',
      hostIPs: [{ ip: '192.0.2.1' }],
    });
    expect(withStatus({ phase: 'Pending' })).toEqual({ phase: 'Pending' });
  });
});

describe('defaultEndpointSlice', () => {
  it('port name "" and protocol TCP; conditions untouched', () => {
    const s: EndpointSlice = {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 's' },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['10.0.0.1'] }],
      ports: [{ port: 80 }],
    };
    const d = defaultEndpointSlice(s);
    expect(d.ports).toEqual([{ port: 80, name: '', protocol: 'TCP' }]);
    expect(d.endpoints[0]?.conditions).toBeUndefined();
    expect(s.ports?.[0]?.name).toBeUndefined();
  });
});
