import { describe, expect, it } from 'vitest';
import { ClientIPAffinity } from '../../src/routing/affinity';
import { categorizeEndpoints } from '../../src/routing/categorize';
import { explain, explainInSnapshot, formatExplanation } from '../../src/routing/explain';
import { FakeClock } from '../../src/testing/fake-clock';
import { cases, HERE, nodePortLocal, THERE, zoneA } from './cases';
import { ep, keys, portInfo } from './fixtures';

describe('explain agrees with categorizeEndpoints', () => {
  for (const source of ['internal', 'external'] as const) {
    it.each(cases)(`${source}: $name`, (c) => {
      const info = portInfo(c.info);
      const eps = c.endpoints.map(ep);
      const node = c.node ?? { name: HERE };
      const cat = categorizeEndpoints(info, eps, node, c.options);
      const x = explain(info, eps, { node, source, ...c.options });
      const local =
        source === 'internal' ? info.internalPolicyLocal : info.externalPolicyLocal && nodePortish(c);
      const exposed = source === 'internal' || nodePortish(c);
      const expected = exposed ? ((local ? cat.localEndpoints : cat.clusterEndpoints) ?? []) : [];
      expect(keys(x.eligible)).toEqual(keys(expected));
      for (const e of x.endpoints) {
        expect(e.eligible).toBe(expected.includes(e.endpoint));
        expect(e.reasons.length === 0).toBe(e.eligible);
      }
    });
  }
});

function nodePortish(c: (typeof cases)[number]): boolean {
  const i = c.info ?? {};
  return (i.nodePort ?? 0) !== 0 || (i.externalIPs?.length ?? 0) > 0 || (i.loadBalancerVIPs?.length ?? 0) > 0;
}

describe('explain reasons', () => {
  it('attributes topology filtering, readiness and terminating', () => {
    const info = portInfo();
    const eps = [
      ep({ ip: '10.0.0.1', node: HERE, zone: 'zone-a', zones: ['zone-a'] }),
      ep({ ip: '10.0.0.2', node: THERE, zone: 'zone-b', zones: ['zone-b'] }),
      ep({ ip: '10.0.0.3', node: THERE, ready: false }),
      ep({ ip: '10.0.0.4', node: THERE, ready: false, serving: true, terminating: true }),
      ep({ ip: '10.0.0.5', node: THERE, ready: false, serving: false, terminating: true }),
    ];
    const x = explain(info, eps, { node: zoneA, source: 'internal' });
    expect(x.policy).toBe('Cluster');
    expect(x.policyField).toBe('internalTrafficPolicy');
    expect(x.topology).toEqual({ mode: 'PreferSameZone', applied: true });
    expect(x.outcome).toBe('forward');
    expect(x.endpoints.map((e) => e.reasons)).toEqual([
      [],
      [{ code: 'topology', mode: 'PreferSameZone', want: 'zone-a', hintedFor: ['zone-b'] }],
      [{ code: 'not-ready', serving: false, terminating: false }],
      [{ code: 'terminating-while-ready-exist' }],
      [{ code: 'not-ready', serving: false, terminating: true }],
    ]);
    const text = formatExplanation(x);
    expect(text).toContain('Topology: PreferSameZone (zone zone-a)');
    expect(text).toContain('+ 10.0.0.1:80  [node-a zone-a, local]  eligible');
    expect(text).toContain('- 10.0.0.2:80  [node-b zone-b]  filtered by topology hints (PreferSameZone)');
    expect(text).toContain('terminating; used only when no ready endpoint exists');
  });

  it('Local policy: remote endpoints are not-local and the node drops', () => {
    const info = portInfo({ internalPolicyLocal: true });
    const x = explain(info, [ep({ ip: '10.0.0.1', node: THERE })], {
      node: { name: HERE },
      source: 'internal',
    });
    expect(x.policy).toBe('Local');
    expect(x.outcome).toBe('drop');
    expect(x.endpoints[0]?.reasons).toEqual([{ code: 'not-local', endpointNode: THERE }]);
    expect(formatExplanation(x)).toContain('DROP');
    expect(x.notes.join(' ')).toContain('never falls back');
  });

  it('no usable endpoints anywhere rejects', () => {
    const x = explain(portInfo(), [ep({ ip: '10.0.0.1', ready: false })], {
      node: { name: HERE },
      source: 'internal',
    });
    expect(x.outcome).toBe('reject');
    expect(x.eligible).toEqual([]);
  });

  it('terminating fallback is reported', () => {
    const eps = [ep({ ip: '10.0.0.1', ready: false, serving: true, terminating: true })];
    const x = explain(portInfo(), eps, { node: { name: HERE }, source: 'internal' });
    expect(x.terminatingFallback).toBe(true);
    expect(formatExplanation(x)).toContain('falling back to serving terminating endpoints');
  });

  it('external traffic: Local policy vs Cluster for internal traffic of the same port', () => {
    const info = portInfo(nodePortLocal);
    const eps = [ep({ ip: '10.0.0.1', node: THERE }), ep({ ip: '10.0.0.2', node: HERE })];
    const ext = explain(info, eps, { node: { name: HERE }, source: 'external' });
    expect(ext.policy).toBe('Local');
    expect(ext.policyField).toBe('externalTrafficPolicy');
    expect(keys(ext.eligible)).toEqual(['10.0.0.2:80']);
    expect(ext.notes.join(' ')).toContain('short-circuited');
    const int = explain(info, eps, { node: { name: HERE }, source: 'internal' });
    expect(int.policy).toBe('Cluster');
    expect(keys(int.eligible)).toEqual(['10.0.0.1:80', '10.0.0.2:80']);
  });

  it('external traffic to a ClusterIP-only port is not exposed', () => {
    const x = explain(portInfo(), [ep({ ip: '10.0.0.1' })], { node: { name: HERE }, source: 'external' });
    expect(x.outcome).toBe('not-exposed');
    expect(x.eligible).toEqual([]);
    expect(x.endpoints[0]?.reasons).toEqual([{ code: 'not-exposed' }]);
  });

  it('reports why hints were ignored', () => {
    const eps = [ep({ ip: '10.0.0.1', zones: ['zone-a'] }), ep({ ip: '10.0.0.2' })];
    const x = explain(portInfo(), eps, { node: zoneA, source: 'internal' });
    expect(x.topology).toEqual({
      mode: '',
      applied: false,
      zoneHintsIgnored: 'zone-hints-missing-on-some-endpoint',
    });
    expect(formatExplanation(x)).toContain('zone hints ignored: some ready endpoint has no zone hint');
  });

  it('PreferSameNode filtering names the node', () => {
    const eps = [ep({ ip: '10.0.0.1', nodes: [HERE] }), ep({ ip: '10.0.0.2', nodes: [THERE] })];
    const x = explain(portInfo(), eps, { node: { name: HERE }, source: 'internal' });
    expect(x.endpoints[1]?.reasons).toEqual([
      { code: 'topology', mode: 'PreferSameNode', want: HERE, hintedFor: [THERE] },
    ]);
  });

  it('session affinity: config, and the sticky endpoint when a table is given', () => {
    const info = portInfo({ sessionAffinity: { type: 'ClientIP', timeoutSeconds: 30 } });
    const eps = [ep({ ip: '10.0.0.1' }), ep({ ip: '10.0.0.2' })];
    const clock = new FakeClock();
    const affinity = new ClientIPAffinity({ clock, timeoutSeconds: 30 });
    affinity.record('192.0.2.7', eps[1]!);
    const x = explain(info, eps, {
      node: { name: HERE },
      source: 'internal',
      clientIP: '192.0.2.7',
      affinity,
    });
    expect(x.affinity).toEqual({
      type: 'ClientIP',
      timeoutSeconds: 30,
      clientIP: '192.0.2.7',
      stickyEndpoint: '10.0.0.2:80',
    });
    expect(formatExplanation(x)).toContain('client 192.0.2.7 sticks to 10.0.0.2:80');
    clock.advance(31_000);
    const later = explain(info, eps, {
      node: { name: HERE },
      source: 'internal',
      clientIP: '192.0.2.7',
      affinity,
    });
    expect(later.affinity).toEqual({ type: 'ClientIP', timeoutSeconds: 30, clientIP: '192.0.2.7' });
    expect(explain(portInfo(), eps, { node: { name: HERE }, source: 'internal' }).affinity).toEqual({
      type: 'None',
    });
  });

  it('formats a full explanation', () => {
    const info = portInfo({ type: 'NodePort', nodePort: 30080 });
    const x = explain(info, [ep({ ip: '10.0.0.1', node: HERE, zone: 'zone-a' })], {
      node: zoneA,
      source: 'external',
    });
    expect(formatExplanation(x)).toBe(
      [
        'Service default/web:http (TCP)',
        '  port 80 -> targetPort 8080 -> nodePort 30080',
        '  cluster IPs: 10.96.0.10',
        'Traffic: external, routed by node node-a (zone zone-a)',
        'Policy: externalTrafficPolicy Cluster',
        'Topology: none',
        'Outcome: forward to 1 of 1 endpoint(s)',
        'Endpoints:',
        '  + 10.0.0.1:80  [node-a zone-a, local]  eligible',
        'Session affinity: None',
        'Notes:',
        '  - externalTrafficPolicy Cluster: the client source IP is masqueraded to the node IP.',
        '',
      ].join('\n'),
    );
  });
});

describe('explain: load-balancer source ranges', () => {
  const info = portInfo({
    type: 'LoadBalancer',
    nodePort: 30080,
    loadBalancerVIPs: ['192.0.2.100'],
    loadBalancerSourceRanges: ['198.51.100.0/24'],
  });
  const eps = [ep({ ip: '10.0.0.1' })];

  it('says whether the client is allowed', () => {
    const inside = explain(info, eps, { node: { name: HERE }, source: 'external', clientIP: '198.51.100.7' });
    expect(inside.notes[0]).toContain('client 198.51.100.7 is inside them');
    const outside = explain(info, eps, {
      node: { name: HERE },
      source: 'external',
      clientIP: '::ffff:203.0.113.9',
    });
    expect(outside.notes[0]).toContain('is outside them and is dropped');
    const internal = explain(info, eps, {
      node: { name: HERE },
      source: 'internal',
      clientIP: '203.0.113.9',
    });
    expect(internal.notes.join(' ')).not.toContain('load-balancer IPs');
  });
});

describe('explainInSnapshot', () => {
  const http = portInfo();
  const https = portInfo({
    name: { namespace: 'default', name: 'web', port: 'https', protocol: 'TCP' },
    key: 'default/web:https',
    port: 443,
  });
  const snapshot = {
    revision: 1,
    ports: new Map([
      [https.key, { info: https, endpoints: [ep({ ip: '10.0.0.1' })] }],
      [http.key, { info: http, endpoints: [] }],
    ]),
    services: new Map(),
    endpointSlices: new Map(),
    namespaces: new Set(['default']),
  };
  const opts = { node: { name: HERE }, source: 'internal' } as const;

  it('finds one port by port key, or every port of a service', () => {
    expect(explainInSnapshot(snapshot, 'default/web:https', opts).map((x) => x.port)).toEqual([443]);
    expect(explainInSnapshot(snapshot, 'default/web', opts).map((x) => x.service)).toEqual([
      'default/web:http',
      'default/web:https',
    ]);
    expect(explainInSnapshot(snapshot, 'default/nope', opts)).toEqual([]);
  });
});
