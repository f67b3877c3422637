import { describe, expect, it } from 'vitest';
import type { IptablesRenderOptions } from '../../../src/backends/iptables/options';
import { renderIptables } from '../../../src/backends/iptables/render';
import type { Endpoint, RoutingSnapshot } from '../../../src/core/snapshot';
import { type TracePacket, tracePacket } from '../../../src/testing/iptables-tracer';
import { entry, ep, port, snapshot } from './fixtures';
import { NODE, NODE_IP, POD_CIDR } from './golden';

const BASE: IptablesRenderOptions = { nodeName: NODE, nodeIPs: [NODE_IP], clusterCIDRs: [POD_CIDR] };
const EXTERNAL_CLIENT = '203.0.113.2';

/**
 * One of kube-proxy's packet-flow expectations: where the first packet ends up, written as its
 * tests write it ("ip:port, ip:port" for the DNAT targets it may reach, "DROP", "REJECT",
 * "ACCEPT" for a filter-table accept, "" for no rule at all), and whether it is masqueraded.
 */
interface Flow {
  readonly name: string;
  readonly source: string;
  readonly destination: string;
  readonly port: number;
  readonly protocol?: TracePacket['protocol'];
  readonly output: string;
  readonly masq?: boolean;
}

function isNodeAddress(ip: string, node: readonly string[]): boolean {
  return node.includes(ip) || ip.startsWith('127.');
}

/** Checks each flow against `payload` with the tracer, as kube-proxy's runPacketFlowTests does. */
function expectFlows(payload: string, flows: readonly Flow[], node: readonly string[] = [NODE_IP]): void {
  for (const f of flows) {
    const outcomes = tracePacket(
      payload,
      {
        source: f.source,
        destination: f.destination,
        port: f.port,
        protocol: f.protocol ?? 'tcp',
        fromNode: isNodeAddress(f.source, node),
      },
      { localAddresses: node },
    );
    const verdicts = new Set(outcomes.map((o) => o.verdict));
    const targets = [...new Set(outcomes.flatMap((o) => (o.dnat ? [o.dnat] : [])))].sort();
    let output: string;
    if (targets.length > 0) {
      expect(verdicts, f.name).toEqual(new Set(['ACCEPT']));
      output = targets.join(', ');
    } else if (verdicts.size === 1 && !verdicts.has('ACCEPT')) {
      output = [...verdicts][0]!;
    } else {
      expect(verdicts, f.name).toEqual(new Set(['ACCEPT']));
      // An ACCEPT by kube-proxy's own filter rule (the walk stops in KUBE-NODEPORTS, the chain of
      // its only ACCEPT), or no rule of its at all (the walk goes on to the chain policy).
      const accepted = outcomes.every((o) => o.chains.at(-1) === 'filter:KUBE-NODEPORTS');
      output = accepted ? 'ACCEPT' : '';
    }
    expect(output, f.name).toBe(f.output);
    if (targets.length > 0 && f.masq !== undefined) {
      expect(
        outcomes.map((o) => o.masquerade),
        f.name,
      ).toEqual(outcomes.map(() => f.masq));
    }
  }
}

const render = (snap: RoutingSnapshot, options: IptablesRenderOptions = BASE) =>
  renderIptables(snap, options).payload;

describe("kube-proxy's packet-flow tests", () => {
  it('TestNoEndpointsReject: every address of a service without endpoints rejects', () => {
    const payload = render(
      snapshot([
        entry(
          port('ns1', 'svc1', {
            type: 'LoadBalancer',
            clusterIPs: ['172.30.0.41'],
            nodePort: 3001,
            externalIPs: ['192.168.99.11'],
            loadBalancerVIPs: ['1.2.3.4'],
          }),
        ),
      ]),
    );
    expectFlows(
      payload,
      [
        ['10.0.0.2', '172.30.0.41', 80],
        [EXTERNAL_CLIENT, '192.168.99.11', 80],
        ['10.0.0.2', NODE_IP, 3001],
        [EXTERNAL_CLIENT, NODE_IP, 3001],
        ['10.0.0.2', '1.2.3.4', 80],
        [EXTERNAL_CLIENT, '1.2.3.4', 80],
      ].map(([source, destination, p]) => ({
        name: `${source} -> ${destination}:${p}`,
        source: source as string,
        destination: destination as string,
        port: p as number,
        output: 'REJECT',
      })),
    );
  });

  it('TestClusterIPGeneral: target ports, hairpin masquerade, TCP and SCTP on one port', () => {
    const local = { nodeName: NODE };
    const svc2 = (portName: string, p: number, protocol: 'TCP' | 'SCTP') =>
      port('ns2', 'svc2', { clusterIPs: ['172.30.0.42'], portName, port: p, protocol });
    const both = (target: number): Endpoint[] => [ep('10.180.0.1', target, local), ep('10.180.2.1', target)];
    const payload = render(
      snapshot([
        entry(port('ns1', 'svc1', { clusterIPs: ['172.30.0.41'], portName: 'http' }), [
          ep('10.180.0.1', 80, local),
        ]),
        entry(svc2('http', 80, 'TCP'), both(80)),
        entry(svc2('https', 443, 'TCP'), both(8443)),
        entry(svc2('dns-sctp', 53, 'SCTP'), both(53)),
        entry(svc2('dns-tcp', 53, 'TCP'), both(5353)),
      ]),
    );
    expectFlows(payload, [
      {
        name: 'simple clusterIP',
        source: '10.180.0.2',
        destination: '172.30.0.41',
        port: 80,
        output: '10.180.0.1:80',
        masq: false,
      },
      {
        name: 'hairpin',
        source: '10.180.0.1',
        destination: '172.30.0.41',
        port: 80,
        output: '10.180.0.1:80',
        masq: true,
      },
      {
        name: 'multiple endpoints',
        source: '10.180.0.2',
        destination: '172.30.0.42',
        port: 80,
        output: '10.180.0.1:80, 10.180.2.1:80',
        masq: false,
      },
      {
        name: 'target port',
        source: '10.180.0.2',
        destination: '172.30.0.42',
        port: 443,
        output: '10.180.0.1:8443, 10.180.2.1:8443',
        masq: false,
      },
      {
        name: 'TCP on a shared port',
        source: '10.180.0.2',
        destination: '172.30.0.42',
        port: 53,
        output: '10.180.0.1:5353, 10.180.2.1:5353',
        masq: false,
      },
      {
        name: 'SCTP on a shared port',
        source: '10.180.0.2',
        destination: '172.30.0.42',
        port: 53,
        protocol: 'sctp',
        output: '10.180.0.1:53, 10.180.2.1:53',
        masq: false,
      },
      {
        name: 'TCP-only port ignores UDP',
        source: '10.180.0.2',
        destination: '172.30.0.42',
        port: 80,
        protocol: 'udp',
        output: '',
      },
      {
        name: "svc1 ignores svc2's ports",
        source: '10.180.0.2',
        destination: '172.30.0.41',
        port: 443,
        output: '',
      },
    ]);
  });

  it('TestNodePort: external, node and localhost clients all masqueraded', () => {
    const payload = render(
      snapshot([
        entry(port('ns1', 'svc1', { type: 'NodePort', clusterIPs: ['172.30.0.41'], nodePort: 3001 }), [
          ep('10.180.0.1'),
        ]),
      ]),
    );
    expectFlows(payload, [
      {
        name: 'pod to cluster IP',
        source: '10.0.0.2',
        destination: '172.30.0.41',
        port: 80,
        output: '10.180.0.1:80',
        masq: false,
      },
      {
        name: 'external to nodePort',
        source: EXTERNAL_CLIENT,
        destination: NODE_IP,
        port: 3001,
        output: '10.180.0.1:80',
        masq: true,
      },
      {
        name: 'node to nodePort',
        source: NODE_IP,
        destination: NODE_IP,
        port: 3001,
        output: '10.180.0.1:80',
        masq: true,
      },
      {
        name: 'localhost to nodePort',
        source: '127.0.0.1',
        destination: '127.0.0.1',
        port: 3001,
        output: '10.180.0.1:80',
        masq: true,
      },
    ]);
  });

  it('TestHealthCheckNodePort: accepted while the service exists, then no rule', () => {
    const svc = entry(
      port('ns1', 'svc1', {
        type: 'LoadBalancer',
        clusterIPs: ['172.30.0.42'],
        nodePort: 3001,
        healthCheckNodePort: 30000,
        externalPolicyLocal: true,
      }),
    );
    const options = { ...BASE, nodePortAddresses: ['127.0.0.0/8'] };
    const flow = { name: 'health check', source: '1.2.3.4', destination: NODE_IP, port: 30000 };
    expectFlows(render(snapshot([svc]), options), [{ ...flow, output: 'ACCEPT' }]);
    expectFlows(render(snapshot([]), options), [{ ...flow, output: '' }]);
  });

  it('TestExternalTrafficPolicyLocal and TestNonLocalExternalIPs', () => {
    const eps = [ep('10.180.0.1'), ep('10.180.2.1', 80, { nodeName: NODE })];
    const local = render(
      snapshot([
        entry(
          port('ns1', 'svc1', {
            type: 'LoadBalancer',
            clusterIPs: ['172.30.0.41'],
            nodePort: 3001,
            healthCheckNodePort: 30000,
            externalIPs: ['192.168.99.11'],
            loadBalancerVIPs: ['1.2.3.4'],
            externalPolicyLocal: true,
          }),
          eps,
        ),
      ]),
    );
    expectFlows(local, [
      {
        name: 'pod to cluster IP',
        source: '10.0.0.2',
        destination: '172.30.0.41',
        port: 80,
        output: '10.180.0.1:80, 10.180.2.1:80',
        masq: false,
      },
      {
        name: 'external to external IP',
        source: EXTERNAL_CLIENT,
        destination: '192.168.99.11',
        port: 80,
        output: '10.180.2.1:80',
        masq: false,
      },
      {
        name: 'external to LB IP',
        source: EXTERNAL_CLIENT,
        destination: '1.2.3.4',
        port: 80,
        output: '10.180.2.1:80',
        masq: false,
      },
      {
        name: 'external to node port',
        source: EXTERNAL_CLIENT,
        destination: NODE_IP,
        port: 3001,
        output: '10.180.2.1:80',
        masq: false,
      },
    ]);
    const cluster = render(
      snapshot([
        entry(port('ns1', 'svc1', { clusterIPs: ['172.30.0.41'], externalIPs: ['192.168.99.11'] }), eps),
      ]),
    );
    expectFlows(cluster, [
      {
        name: 'pod to cluster IP',
        source: '10.0.0.2',
        destination: '172.30.0.41',
        port: 80,
        output: '10.180.0.1:80, 10.180.2.1:80',
        masq: false,
      },
      {
        name: 'external to external IP',
        source: EXTERNAL_CLIENT,
        destination: '192.168.99.11',
        port: 80,
        output: '10.180.0.1:80, 10.180.2.1:80',
        masq: true,
      },
    ]);
  });

  it.each([
    ['with', true],
    ['without', false],
  ])('onlyLocalNodePorts %s a local-traffic detector', (_w, detector) => {
    const payload = render(
      snapshot([
        entry(
          port('ns1', 'svc1', {
            type: 'NodePort',
            clusterIPs: ['172.30.0.41'],
            nodePort: 3001,
            externalPolicyLocal: true,
          }),
          [ep('10.180.0.1'), ep('10.180.2.1', 80, { nodeName: NODE })],
        ),
      ]),
      {
        nodeName: NODE,
        nodeIPs: [NODE_IP],
        ...(detector ? { clusterCIDRs: [POD_CIDR] } : {}),
        localhostNodePorts: false,
        nodePortAddresses: ['192.168.0.0/24', '2001:db8::/64'],
      },
    );
    expectFlows(payload, [
      {
        name: 'pod to cluster IP',
        source: '10.0.0.2',
        destination: '172.30.0.41',
        port: 80,
        output: '10.180.0.1:80, 10.180.2.1:80',
        masq: false,
      },
      {
        name: 'external to node port',
        source: EXTERNAL_CLIENT,
        destination: NODE_IP,
        port: 3001,
        output: '10.180.2.1:80',
        masq: false,
      },
      {
        name: 'pod to localhost (not a node-port address)',
        source: '10.0.0.2',
        destination: '127.0.0.1',
        port: 3001,
        output: '',
      },
      // Without a detector, pod traffic to a node port is taken for external traffic.
      {
        name: 'pod to node port',
        source: '10.0.0.2',
        destination: NODE_IP,
        port: 3001,
        output: detector ? '10.180.0.1:80, 10.180.2.1:80' : '10.180.2.1:80',
        masq: false,
      },
    ]);
  });
});

describe("kube-proxy's TestNodePorts (node-port addresses, localhost, IPv4 and IPv6)", () => {
  // kube-proxy's fake node has two addresses per family on eth0 besides loopback.
  const V4 = {
    node: NODE_IP,
    alt: '192.168.1.2',
    clusterIP: '172.30.0.41',
    pod: '10.0.0.2',
    ep: '10.180.0.1',
  };
  const V6 = {
    node: '2001:db8::1',
    alt: '2001:db8:1::2',
    clusterIP: 'fd00:172:30::41',
    pod: 'fd00:10::2',
    ep: 'fd00:10:180::1',
  };
  const MIXED = ['192.168.0.0/24', '192.168.1.0/24', '2001:db8::/64'];
  it.each([
    ['ipv4, localhost node ports on', V4, true, [], true, true],
    ['ipv4, localhost node ports off', V4, false, [], true, false],
    [
      'ipv4, off, loopback in node-port addresses',
      V4,
      false,
      ['192.168.0.0/24', '127.0.0.1/32'],
      false,
      false,
    ],
    ['ipv4, on, node-port addresses without loopback', V4, true, MIXED, true, false],
    ['ipv6, localhost node ports on', V6, true, [], true, false],
    ['ipv6, localhost node ports off', V6, false, [], true, false],
    ['ipv6, off, several node-port addresses', V6, false, MIXED, false, false],
  ] as const)('%s', (_name, f, localhost, addresses, allowAlt, firewall) => {
    const v6 = f === V6;
    const payload = renderIptables(
      snapshot([
        entry(port('ns1', 'svc1', { type: 'NodePort', clusterIPs: [f.clusterIP], nodePort: 3001 }), [
          ep(f.ep),
        ]),
      ]),
      {
        nodeName: NODE,
        nodeIPs: [f.node, f.alt],
        clusterCIDRs: [v6 ? 'fd00:10::/64' : POD_CIDR],
        ipFamily: v6 ? 'IPv6' : 'IPv4',
        localhostNodePorts: localhost,
        nodePortAddresses: addresses,
      },
    ).payload;
    const target = v6 ? `[${f.ep}]:80` : `${f.ep}:80`;
    const flows: Flow[] = [
      {
        name: 'pod to cluster IP',
        source: f.pod,
        destination: f.clusterIP,
        port: 80,
        output: target,
        masq: false,
      },
      {
        name: 'external to node port',
        source: v6 ? '2600:5200::1' : EXTERNAL_CLIENT,
        destination: f.node,
        port: 3001,
        output: target,
        masq: true,
      },
      {
        name: 'node to node port',
        source: f.node,
        destination: f.node,
        port: 3001,
        output: target,
        masq: true,
      },
      {
        name: 'alternate node IP',
        source: v6 ? '2600:5200::1' : EXTERNAL_CLIENT,
        destination: f.alt,
        port: 3001,
        output: allowAlt ? target : '',
        masq: true,
      },
    ];
    if (!v6) {
      flows.push({
        name: 'localhost to node port',
        source: '127.0.0.1',
        destination: '127.0.0.1',
        port: 3001,
        output: firewall ? target : '',
        masq: true,
      });
    }
    expectFlows(payload, flows, [f.node, f.alt]);
    expect(payload.includes('-A KUBE-FIREWALL ')).toBe(firewall);
  });
});

describe("kube-proxy's TestInternalExternalMasquerade", () => {
  const snap = snapshot([
    entry(
      port('ns1', 'svc1', {
        type: 'LoadBalancer',
        clusterIPs: ['172.30.0.41'],
        nodePort: 3001,
        healthCheckNodePort: 30001,
        loadBalancerVIPs: ['1.2.3.4'],
      }),
      [ep('10.180.0.1', 80, { nodeName: NODE }), ep('10.180.1.1', 80, { nodeName: 'remote' })],
    ),
    entry(
      port('ns2', 'svc2', {
        type: 'LoadBalancer',
        clusterIPs: ['172.30.0.42'],
        nodePort: 3002,
        healthCheckNodePort: 30002,
        externalPolicyLocal: true,
        loadBalancerVIPs: ['5.6.7.8'],
      }),
      [ep('10.180.0.2', 80, { nodeName: NODE }), ep('10.180.1.2', 80, { nodeName: 'remote' })],
    ),
    entry(
      port('ns3', 'svc3', {
        type: 'LoadBalancer',
        clusterIPs: ['172.30.0.43'],
        nodePort: 3003,
        healthCheckNodePort: 30003,
        internalPolicyLocal: true,
        loadBalancerVIPs: ['9.10.11.12'],
      }),
      [ep('10.180.0.3', 80, { nodeName: NODE }), ep('10.180.1.3', 80, { nodeName: 'remote' })],
    ),
  ]);
  const all1 = '10.180.0.1:80, 10.180.1.1:80';
  const all2 = '10.180.0.2:80, 10.180.1.2:80';
  const all3 = '10.180.0.3:80, 10.180.1.3:80';
  const POD = '10.0.0.2';
  const flows: Flow[] = [
    {
      name: 'pod to ClusterIP',
      source: POD,
      destination: '172.30.0.41',
      port: 80,
      output: all1,
      masq: false,
    },
    { name: 'pod to NodePort', source: POD, destination: NODE_IP, port: 3001, output: all1, masq: true },
    { name: 'pod to LB', source: POD, destination: '1.2.3.4', port: 80, output: all1, masq: true },
    {
      name: 'node to ClusterIP',
      source: NODE_IP,
      destination: '172.30.0.41',
      port: 80,
      output: all1,
      masq: true,
    },
    { name: 'node to NodePort', source: NODE_IP, destination: NODE_IP, port: 3001, output: all1, masq: true },
    {
      name: 'localhost to NodePort',
      source: '127.0.0.1',
      destination: '127.0.0.1',
      port: 3001,
      output: all1,
      masq: true,
    },
    { name: 'node to LB', source: NODE_IP, destination: '1.2.3.4', port: 80, output: all1, masq: true },
    {
      name: 'external to ClusterIP',
      source: EXTERNAL_CLIENT,
      destination: '172.30.0.41',
      port: 80,
      output: all1,
      masq: true,
    },
    {
      name: 'external to NodePort',
      source: EXTERNAL_CLIENT,
      destination: NODE_IP,
      port: 3001,
      output: all1,
      masq: true,
    },
    {
      name: 'external to LB',
      source: EXTERNAL_CLIENT,
      destination: '1.2.3.4',
      port: 80,
      output: all1,
      masq: true,
    },
    {
      name: 'pod to ClusterIP with eTP:Local',
      source: POD,
      destination: '172.30.0.42',
      port: 80,
      output: all2,
      masq: false,
    },
    {
      name: 'pod to NodePort with eTP:Local',
      source: POD,
      destination: NODE_IP,
      port: 3002,
      output: all2,
      masq: false,
    },
    {
      name: 'pod to LB with eTP:Local',
      source: POD,
      destination: '5.6.7.8',
      port: 80,
      output: all2,
      masq: false,
    },
    {
      name: 'node to ClusterIP with eTP:Local',
      source: NODE_IP,
      destination: '172.30.0.42',
      port: 80,
      output: all2,
      masq: true,
    },
    {
      name: 'localhost to NodePort with eTP:Local',
      source: '127.0.0.1',
      destination: '127.0.0.1',
      port: 3002,
      output: all2,
      masq: true,
    },
    {
      name: 'node to LB with eTP:Local',
      source: NODE_IP,
      destination: '5.6.7.8',
      port: 80,
      output: all2,
      masq: true,
    },
    {
      name: 'external to ClusterIP with eTP:Local',
      source: EXTERNAL_CLIENT,
      destination: '172.30.0.42',
      port: 80,
      output: all2,
      masq: true,
    },
    {
      name: 'external to NodePort with eTP:Local',
      source: EXTERNAL_CLIENT,
      destination: NODE_IP,
      port: 3002,
      output: '10.180.0.2:80',
      masq: false,
    },
    {
      name: 'external to LB with eTP:Local',
      source: EXTERNAL_CLIENT,
      destination: '5.6.7.8',
      port: 80,
      output: '10.180.0.2:80',
      masq: false,
    },
    {
      name: 'pod to ClusterIP with iTP:Local',
      source: POD,
      destination: '172.30.0.43',
      port: 80,
      output: '10.180.0.3:80',
      masq: false,
    },
    {
      name: 'pod to NodePort with iTP:Local',
      source: POD,
      destination: NODE_IP,
      port: 3003,
      output: all3,
      masq: true,
    },
    {
      name: 'pod to LB with iTP:Local',
      source: POD,
      destination: '9.10.11.12',
      port: 80,
      output: all3,
      masq: true,
    },
    {
      name: 'node to ClusterIP with iTP:Local',
      source: NODE_IP,
      destination: '172.30.0.43',
      port: 80,
      output: '10.180.0.3:80',
      masq: true,
    },
    {
      name: 'node to NodePort with iTP:Local',
      source: NODE_IP,
      destination: NODE_IP,
      port: 3003,
      output: all3,
      masq: true,
    },
    {
      name: 'localhost to NodePort with iTP:Local',
      source: '127.0.0.1',
      destination: '127.0.0.1',
      port: 3003,
      output: all3,
      masq: true,
    },
    {
      name: 'node to LB with iTP:Local',
      source: NODE_IP,
      destination: '9.10.11.12',
      port: 80,
      output: all3,
      masq: true,
    },
    {
      name: 'external to ClusterIP with iTP:Local',
      source: EXTERNAL_CLIENT,
      destination: '172.30.0.43',
      port: 80,
      output: '10.180.0.3:80',
      masq: true,
    },
    {
      name: 'external to NodePort with iTP:Local',
      source: EXTERNAL_CLIENT,
      destination: NODE_IP,
      port: 3003,
      output: all3,
      masq: true,
    },
    {
      name: 'external to LB with iTP:Local',
      source: EXTERNAL_CLIENT,
      destination: '9.10.11.12',
      port: 80,
      output: all3,
      masq: true,
    },
  ];
  const override = (changes: Record<string, Partial<Flow>>): Flow[] =>
    flows.map((f) => ({ ...f, ...(changes[f.name] ?? {}) }));
  const noDetector = {
    'node to ClusterIP': { masq: false },
    'node to ClusterIP with eTP:Local': { masq: false },
    'node to ClusterIP with iTP:Local': { masq: false },
    'external to ClusterIP': { masq: false },
    'external to ClusterIP with eTP:Local': { masq: false },
    'external to ClusterIP with iTP:Local': { masq: false },
    'pod to NodePort with eTP:Local': { output: '10.180.0.2:80' },
    'pod to LB with eTP:Local': { output: '10.180.0.2:80' },
  };
  const masqueradeAll = {
    'pod to ClusterIP': { masq: true },
    'pod to ClusterIP with eTP:Local': { masq: true },
    'pod to ClusterIP with iTP:Local': { masq: true },
  };
  const DETECTOR = { nodeName: NODE, nodeIPs: [NODE_IP], clusterCIDRs: [POD_CIDR] };
  const NONE = { nodeName: NODE, nodeIPs: [NODE_IP] };

  it.each([
    ['base', DETECTOR, flows],
    ['no local-traffic detector', NONE, override(noDetector)],
    ['masqueradeAll', { ...DETECTOR, masqueradeAll: true }, override(masqueradeAll)],
    [
      'masqueradeAll without a detector',
      { ...NONE, masqueradeAll: true },
      override({
        ...masqueradeAll,
        'pod to NodePort with eTP:Local': noDetector['pod to NodePort with eTP:Local'],
        'pod to LB with eTP:Local': noDetector['pod to LB with eTP:Local'],
      }),
    ],
  ] as const)('%s', (_name, options, expected) => {
    expectFlows(render(snap, options), expected);
  });
});
