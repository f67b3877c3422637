import { describe, expect, it } from 'vitest';
import { endpointChainName } from '../../../src/backends/iptables/chain-names';
import { renderIptables } from '../../../src/backends/iptables/render';
import { parseIptablesRestore, tokenizeRule } from '../../../src/testing/iptables-parser';
import { outcomeDistribution, type TracePacket, tracePacket } from '../../../src/testing/iptables-tracer';
import { entry, ep, port, snapshot } from './fixtures';
import { NODE, NODE_IP, overallSnapshot, POD_CIDR } from './golden';

const OPTIONS = { nodeName: NODE, nodeIPs: [NODE_IP], clusterCIDRs: [POD_CIDR] };
const LOCAL = { localAddresses: [NODE_IP, '192.168.1.2', '192.168.99.11'] };
const rules = renderIptables(overallSnapshot(), OPTIONS).payload;

function trace(
  packet: Partial<TracePacket> & Pick<TracePacket, 'source' | 'destination' | 'port'>,
  recent?: string[],
) {
  return tracePacket(
    rules,
    { protocol: 'tcp', ...packet },
    { ...LOCAL, ...(recent ? { recentLists: recent } : {}) },
  );
}

function single(outcomes: ReturnType<typeof trace>) {
  expect(outcomes).toHaveLength(1);
  return outcomes[0]!;
}

describe('packet flows through the rendered rules (kube-proxy tracePacket cases)', () => {
  it('pod to cluster IP: DNAT, no masquerade', () => {
    const o = single(trace({ source: '10.0.0.2', destination: '172.30.0.41', port: 80 }));
    expect(o).toMatchObject({ verdict: 'ACCEPT', dnat: '10.180.0.1:80', masquerade: false });
  });

  it('external to cluster IP: DNAT and masquerade (not from the cluster CIDR)', () => {
    const o = single(trace({ source: '192.168.0.3', destination: '172.30.0.41', port: 80 }));
    expect(o).toMatchObject({ verdict: 'ACCEPT', dnat: '10.180.0.1:80', masquerade: true });
  });

  it('wrong port of a cluster IP is untouched', () => {
    const o = single(trace({ source: '10.0.0.2', destination: '172.30.0.41', port: 81 }));
    expect(o.verdict).toBe('ACCEPT');
    expect(o.dnat).toBeUndefined();
  });

  it('hairpin: an endpoint reaching itself through the service is masqueraded', () => {
    const o = single(trace({ source: '10.180.0.1', destination: '172.30.0.41', port: 80 }));
    expect(o).toMatchObject({ dnat: '10.180.0.1:80', masquerade: true });
  });

  it('cluster IP without endpoints is rejected', () => {
    const o = single(trace({ source: '10.0.0.2', destination: '172.30.0.46', port: 80 }));
    expect(o).toMatchObject({ verdict: 'REJECT', masquerade: false });
    expect(o.dnat).toBeUndefined();
  });

  it('node port from outside reaches the endpoint with masquerade', () => {
    const o = single(trace({ source: '203.0.113.2', destination: NODE_IP, port: 3003 }));
    expect(o).toMatchObject({ verdict: 'ACCEPT', dnat: '10.180.0.3:80', masquerade: true });
    expect(o.chains).toContain('nat:KUBE-NODEPORTS');
  });

  it('localhost node port from the node itself works (route_localnet)', () => {
    const o = single(trace({ source: '127.0.0.1', destination: '127.0.0.1', port: 3003, fromNode: true }));
    expect(o).toMatchObject({ verdict: 'ACCEPT', dnat: '10.180.0.3:80', masquerade: true });
  });

  it('externalTrafficPolicy Local without local endpoints: external clients dropped, pods short-circuited', () => {
    for (const destination of ['192.168.99.22', '1.2.3.4']) {
      expect(single(trace({ source: '203.0.113.2', destination, port: 80 })).verdict).toBe('DROP');
      const pod = single(trace({ source: '10.0.0.2', destination, port: 80 }));
      expect(pod).toMatchObject({ verdict: 'ACCEPT', dnat: '10.180.0.2:80', masquerade: false });
    }
    expect(single(trace({ source: '203.0.113.2', destination: NODE_IP, port: 3001 })).verdict).toBe('DROP');
    // From the node itself: routed to the cluster chain, masqueraded.
    const node = single(trace({ source: NODE_IP, destination: '1.2.3.4', port: 80, fromNode: true }));
    expect(node).toMatchObject({ verdict: 'ACCEPT', dnat: '10.180.0.2:80', masquerade: true });
  });

  it('loadBalancerSourceRanges: allowed range reaches the endpoint, others are dropped', () => {
    const ok = single(trace({ source: '203.0.113.2', destination: '5.6.7.8', port: 80 }));
    expect(ok).toMatchObject({ verdict: 'ACCEPT', dnat: '10.180.0.3:80', masquerade: true });
    const blocked = single(trace({ source: '203.0.113.130', destination: '5.6.7.8', port: 80 }));
    expect(blocked).toMatchObject({ verdict: 'DROP' });
    expect(blocked.dnat).toBeUndefined();
    expect(blocked.chains).toContain('filter:KUBE-PROXY-FIREWALL');
  });

  it('external IP with Cluster policy is masqueraded and load-balanced 50/50', () => {
    const outcomes = trace({ source: '203.0.113.2', destination: '192.168.99.33', port: 80 });
    expect(outcomes.every((o) => o.masquerade)).toBe(true);
    const dist = outcomeDistribution(outcomes);
    expect(dist.get('10.180.0.4:80')).toBeCloseTo(0.5, 10);
    expect(dist.get('10.180.0.5:80')).toBeCloseTo(0.5, 10);
  });

  it('ClientIP affinity: a known client sticks; a new one is recorded', () => {
    const sep = endpointChainName('ns5/svc5:p80', 'tcp', '10.180.0.3:80');
    const fresh = single(trace({ source: '10.0.0.2', destination: '172.30.0.45', port: 80 }));
    expect(fresh.recentSet).toEqual([sep]);
    const sticky = single(trace({ source: '10.0.0.2', destination: '172.30.0.45', port: 80 }, [sep]));
    expect(sticky).toMatchObject({ dnat: '10.180.0.3:80' });
    expect(sticky.recentSet).toEqual([sep]);
  });
});

describe('load balancing and affinity across several endpoints', () => {
  const eps = ['10.180.0.1', '10.180.0.2', '10.180.0.3', '10.180.0.4', '10.180.0.5'].map((ip) =>
    ep(ip, 8080),
  );
  const affinity = renderIptables(
    snapshot([
      entry(
        port('ns1', 'svc1', {
          clusterIPs: ['172.30.0.41'],
          sessionAffinity: { type: 'ClientIP', timeoutSeconds: 60 },
        }),
        eps,
      ),
    ]),
    OPTIONS,
  ).payload;

  it('gives every endpoint exactly 1/n of new connections', () => {
    const outcomes = tracePacket(affinity, {
      source: '10.0.0.2',
      protocol: 'tcp',
      destination: '172.30.0.41',
      port: 80,
    });
    expect(outcomes).toHaveLength(5);
    const dist = outcomeDistribution(outcomes);
    for (const e of eps) expect(dist.get(e.key)).toBeCloseTo(0.2, 9);
    const total = outcomes.reduce((s, o) => s + o.probability, 0);
    expect(total).toBeCloseTo(1, 12);
  });

  it('sends a client already in an endpoint list straight to that endpoint', () => {
    const chain = endpointChainName('ns1/svc1:p80', 'tcp', '10.180.0.4:8080');
    const outcomes = tracePacket(
      affinity,
      { source: '10.0.0.2', protocol: 'tcp', destination: '172.30.0.41', port: 80 },
      { recentLists: [chain] },
    );
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).toMatchObject({ dnat: '10.180.0.4:8080', probability: 1 });
    expect(affinity).toContain(`--rcheck --seconds 60 --reap -j ${chain}`);
  });

  it('masquerades everything with masqueradeAll', () => {
    const all = renderIptables(snapshot([entry(port('ns1', 'svc1', { clusterIPs: ['172.30.0.41'] }), eps)]), {
      ...OPTIONS,
      masqueradeAll: true,
    }).payload;
    const outcomes = tracePacket(all, {
      source: '10.0.0.2',
      protocol: 'tcp',
      destination: '172.30.0.41',
      port: 80,
    });
    expect(outcomes.every((o) => o.masquerade && o.dnat !== undefined)).toBe(true);
  });

  it('UDP does not match a TCP service', () => {
    const outcomes = tracePacket(affinity, {
      source: '10.0.0.2',
      protocol: 'udp',
      destination: '172.30.0.41',
      port: 80,
    });
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]!.dnat).toBeUndefined();
  });

  it('IPv6 rules trace with bracketed targets', () => {
    const v6 = renderIptables(
      snapshot([entry(port('ns1', 'svc1', { clusterIPs: ['fd00:172:30::41'] }), [ep('fd00:10::5', 8080)])]),
      { nodeName: NODE, nodeIPs: ['2001:db8::1'], clusterCIDRs: ['fd00:10::/64'], ipFamily: 'IPv6' },
    ).payload;
    const o = tracePacket(v6, {
      source: '2001:db8::99',
      protocol: 'tcp',
      destination: 'fd00:172:30::41',
      port: 80,
    });
    expect(o).toHaveLength(1);
    expect(o[0]).toMatchObject({ dnat: '[fd00:10::5]:8080', masquerade: true });
  });
});

describe('parser', () => {
  it('tokenizes quoted comments', () => {
    expect(tokenizeRule('-A X -m comment --comment "a b" -j Y')).toEqual([
      '-A',
      'X',
      '-m',
      'comment',
      '--comment',
      'a b',
      '-j',
      'Y',
    ]);
  });
  it('reads every rule kube-proxy writes', () => {
    const blocks = parseIptablesRestore(
      renderIptables(overallSnapshot(), { ...OPTIONS, nfacct: true, randomFully: true }).payload,
    );
    expect(blocks.map((b) => b.table)).toEqual(['filter', 'nat']);
    const nat = blocks[1]!.commands;
    const masq = nat.find((c) => c.kind === 'append' && c.rule.target === 'MASQUERADE');
    expect(masq?.kind === 'append' && masq.rule.randomFully).toBe(true);
  });
  it('rejects unknown options and unterminated tables with the line number', () => {
    expect(() => parseIptablesRestore('*nat\n:X - [0:0]\n-A X --bogus 1 -j ACCEPT\nCOMMIT\n')).toThrow(
      /line 3/,
    );
    expect(() => parseIptablesRestore('*nat\n:X - [0:0]\n')).toThrow(/not committed/);
  });
});

describe('externalTrafficPolicy Local with a local endpoint', () => {
  const payload = renderIptables(
    snapshot([
      entry(
        port('ns2', 'svc2', {
          type: 'LoadBalancer',
          clusterIPs: ['172.30.0.42'],
          nodePort: 3001,
          loadBalancerVIPs: ['1.2.3.4'],
          healthCheckNodePort: 30000,
          externalPolicyLocal: true,
        }),
        [ep('10.180.0.2', 80, { nodeName: NODE }), ep('10.180.0.3', 80, { nodeName: 'other-node' })],
      ),
    ]),
    OPTIONS,
  ).payload;

  it('keeps the client address and uses only the local endpoint for external clients', () => {
    for (const [destination, p] of [
      ['1.2.3.4', 80],
      [NODE_IP, 3001],
    ] as const) {
      const o = tracePacket(payload, { source: '203.0.113.2', protocol: 'tcp', destination, port: p }, LOCAL);
      expect(o).toHaveLength(1);
      expect(o[0]).toMatchObject({ verdict: 'ACCEPT', dnat: '10.180.0.2:80', masquerade: false });
      expect(o[0]!.chains.some((c) => c.startsWith('nat:KUBE-SVL-'))).toBe(true);
    }
  });

  it('still spreads cluster IP traffic over every endpoint', () => {
    const dist = outcomeDistribution(
      tracePacket(
        payload,
        { source: '10.0.0.2', protocol: 'tcp', destination: '172.30.0.42', port: 80 },
        LOCAL,
      ),
    );
    expect(dist.get('10.180.0.2:80')).toBeCloseTo(0.5, 10);
    expect(dist.get('10.180.0.3:80')).toBeCloseTo(0.5, 10);
  });

  it('accepts the health-check node port in filter', () => {
    expect(payload).toContain(
      '-A KUBE-NODEPORTS -m comment --comment "ns2/svc2:p80 health check node port" -m tcp -p tcp --dport 30000 -j ACCEPT',
    );
  });
});

describe('terminating endpoints', () => {
  it('fall back to serving+terminating endpoints when none is ready', () => {
    const payload = renderIptables(
      snapshot([
        entry(port('ns1', 'svc1', { clusterIPs: ['172.30.0.41'] }), [
          ep('10.180.0.1', 80, { ready: false, serving: true, terminating: true }),
          ep('10.180.0.2', 80, { ready: false, serving: false, terminating: true }),
        ]),
      ]),
      OPTIONS,
    ).payload;
    const o = tracePacket(payload, {
      source: '10.0.0.2',
      protocol: 'tcp',
      destination: '172.30.0.41',
      port: 80,
    });
    expect(o).toHaveLength(1);
    expect(o[0]!.dnat).toBe('10.180.0.1:80');
  });
});
