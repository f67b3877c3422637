import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { kubeProxyChangedServices } from '../../../src/backends/iptables/family-changes';
import type { IpFamily } from '../../../src/backends/iptables/ip';
import { renderIptables } from '../../../src/backends/iptables/render';
import type {
  Endpoint,
  RoutingSnapshot,
  ServicePortEntry,
  ServicePortInfo,
} from '../../../src/core/snapshot';
import { entry, ep, port, snapshot } from './fixtures';
import { NODE, NODE_IP, POD_CIDR } from './golden';
import { updateBetween } from './kube-proxy-dump';

const DUAL = ['172.30.0.41', 'fd00:172:30::41'];
const info = (over: Partial<Omit<ServicePortInfo, 'name' | 'key'>> = {}) =>
  port('ns1', 'svc1', { clusterIPs: DUAL, ...over });
const V4 = ep('10.180.0.1');
const V6 = ep('fd00:10::1');

/** What each family's kube-proxy reports for the update from `a` to `b` (one port each). */
function changed(a: ServicePortEntry | undefined, b: ServicePortEntry | undefined) {
  const before = snapshot(a ? [a] : []);
  const after = snapshot(b ? [b] : [], 2);
  const update = updateBetween(before, after);
  return {
    IPv4: kubeProxyChangedServices(update, 'IPv4').has('ns1/svc1'),
    IPv6: kubeProxyChangedServices(update, 'IPv6').has('ns1/svc1'),
  };
}

describe('kubeProxyChangedServices', () => {
  it.each([
    [
      'an IPv6 endpoint is added',
      entry(info(), [V4, V6]),
      entry(info(), [V4, V6, ep('fd00:10::2')]),
      false,
      true,
    ],
    [
      'an IPv4 endpoint turns not ready',
      entry(info(), [V4, V6]),
      entry(info(), [ep('10.180.0.1', 80, { ready: false }), V6]),
      true,
      false,
    ],
    [
      'only hostname and targetRef change (kube-proxy keeps neither)',
      entry(info(), [V4]),
      entry(info(), [ep('10.180.0.1', 80, { hostname: 'a', targetRef: { kind: 'Pod', name: 'a' } })]),
      false,
      false,
    ],
    [
      'an endpoint moves between two remote nodes',
      entry(info(), [ep('10.180.0.1', 80, { nodeName: 'a' })]),
      entry(info(), [ep('10.180.0.1', 80, { nodeName: 'b' })]),
      true,
      false,
    ],
    [
      'an IPv6 external IP is added',
      entry(info(), [V4]),
      entry(info({ externalIPs: ['2001:db8::9'] }), [V4]),
      false,
      true,
    ],
    [
      'an IPv4 source range is added (no LB IP yet)',
      entry(info()),
      entry(info({ loadBalancerSourceRanges: ['10.0.0.0/8'] })),
      true,
      false,
    ],
    [
      'NodePort becomes LoadBalancer without ingress (Cluster policy)',
      entry(info({ type: 'NodePort', nodePort: 30001 })),
      entry(info({ type: 'LoadBalancer', nodePort: 30001 })),
      false,
      false,
    ],
    ['the port goes away', entry(info(), [V4]), undefined, true, true],
    [
      'an IPv6-only service appears',
      undefined,
      entry(port('ns1', 'svc1', { clusterIPs: ['fd00::1'] })),
      false,
      true,
    ],
  ] as const)('%s', (_name, a, b, v4, v6) => {
    expect(changed(a, b)).toEqual({ IPv4: v4, IPv6: v6 });
  });

  it('ignores a service named only for its object (labels, annotations)', () => {
    const e = entry(info(), [V4]);
    const s1 = snapshot([e]);
    const s2 = { ...snapshot([e], 2), ports: s1.ports };
    const update = { previous: s1, current: s2, changes: [], changedServices: new Set(['ns1/svc1']) };
    expect(kubeProxyChangedServices(update, 'IPv4').size).toBe(0);
  });

  it('judges a named service by its ports even when the update lists no port change', () => {
    const s1 = snapshot([entry(info(), [V4])]);
    const s2 = snapshot([entry(info(), [V4, ep('10.180.0.2')])], 2);
    const update = { previous: s1, current: s2, changes: [], changedServices: new Set(['ns1/svc1']) };
    expect([...kubeProxyChangedServices(update, 'IPv4')]).toEqual(['ns1/svc1']);
  });

  it('names every service of a first update', () => {
    const s1 = snapshot([entry(info(), [V4])]);
    expect([...kubeProxyChangedServices(updateBetween(undefined, s1), 'IPv6')]).toEqual(['ns1/svc1']);
  });

  // A service left out of a partial sync keeps its old chains in the kernel: that is only right
  // when its rules would be written exactly as before.
  it('never leaves out a service whose rules change', () => {
    const pick = <T>(xs: readonly T[]) => fc.constantFrom(...xs);
    const endpointArb: fc.Arbitrary<Endpoint> = fc
      .record({
        ip: pick(['10.180.0.1', '10.180.0.2', '010.180.0.1', 'fd00:10::1', 'fd00:10:0::2']),
        port: pick([80, 8080, 0]),
        ready: fc.boolean(),
        serving: fc.boolean(),
        terminating: fc.boolean(),
        nodeName: pick([NODE, 'other', undefined]),
        zone: pick(['a', 'b', undefined]),
        zoneHints: pick([undefined, ['a'], ['b']]),
        hostname: pick(['h1', undefined]),
      })
      .map(({ ip, port: p, zoneHints, nodeName, zone, hostname, ...rest }) =>
        ep(ip, p, {
          ...rest,
          ...(nodeName ? { nodeName } : {}),
          ...(zone ? { zone } : {}),
          ...(hostname ? { hostname } : {}),
          ...(zoneHints ? { zoneHints: new Set(zoneHints) } : {}),
        }),
      );
    const recordArb = fc.record({
      type: pick(['ClusterIP', 'NodePort', 'LoadBalancer'] as const),
      clusterIPs: pick([DUAL, ['172.30.0.41'], ['fd00:172:30::41'], ['172.30.0.42']]),
      protocol: pick(['TCP', 'UDP'] as const),
      nodePort: pick([0, 30001]),
      healthCheckNodePort: pick([0, 30000]),
      externalIPs: pick([[], ['192.168.99.1'], ['2001:db8::9'], [' 192.168.99.1']]),
      loadBalancerVIPs: pick([[], ['1.2.3.4'], ['2001:db8::4']]),
      loadBalancerSourceRanges: pick([[], ['203.0.113.0/25'], ['2001:db8::/64'], ['0.0.0.0/0']]),
      externalPolicyLocal: fc.boolean(),
      internalPolicyLocal: fc.boolean(),
      affinity: fc.boolean(),
      endpoints: fc.array(endpointArb, { maxLength: 4 }),
      /** A hostname on every endpoint: something kube-proxy does not keep. */
      hostname: pick([undefined, 'h2']),
    });
    type PortRecord = typeof recordArb extends fc.Arbitrary<infer R> ? R : never;
    const RECORD_KEYS: (keyof PortRecord)[] = [
      'type',
      'clusterIPs',
      'protocol',
      'nodePort',
      'healthCheckNodePort',
      'externalIPs',
      'loadBalancerVIPs',
      'loadBalancerSourceRanges',
      'externalPolicyLocal',
      'internalPolicyLocal',
      'affinity',
      'endpoints',
      'hostname',
    ];
    const toEntry = ({ endpoints, affinity, hostname, ...over }: PortRecord): ServicePortEntry =>
      entry(
        info({
          ...over,
          sessionAffinity: affinity ? { type: 'ClientIP', timeoutSeconds: 10800 } : { type: 'None' },
        }),
        endpoints.map((e) => (hostname ? { ...e, hostname } : e)),
      );
    // The second port is the first with a few fields taken from another: often a change that
    // leaves one family (or both) untouched, the case the property is about.
    const pairArb = fc.tuple(recordArb, recordArb, fc.subarray(RECORD_KEYS)).map(([a, other, keys]) => {
      const b: Record<string, unknown> = { ...a };
      for (const k of keys) b[k] = other[k];
      return [toEntry(a), toEntry(b as PortRecord)] as const;
    });
    const render = (s: RoutingSnapshot, family: IpFamily) =>
      renderIptables(s, {
        nodeName: NODE,
        nodeIPs: [NODE_IP, 'fd00::2'],
        clusterCIDRs: [POD_CIDR, 'fd00:10::/64'],
        ipFamily: family,
      }).payload;
    fc.assert(
      fc.property(pairArb, ([a, b]) => {
        const s1 = snapshot([a]);
        const s2 = snapshot([b], 2);
        const update = updateBetween(s1, s2);
        for (const family of ['IPv4', 'IPv6'] as const) {
          if (!kubeProxyChangedServices(update, family).has('ns1/svc1')) {
            expect(render(s2, family)).toBe(render(s1, family));
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
