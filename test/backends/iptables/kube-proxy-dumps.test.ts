import { describe, it } from 'vitest';
import type { IptablesRenderOptions } from '../../../src/backends/iptables/options';
import { renderIptables } from '../../../src/backends/iptables/render';
import type { Endpoint, RoutingSnapshot } from '../../../src/core/snapshot';
import { entry, ep, port, snapshot, testLoadBalancerSnapshot } from './fixtures';
import { NODE, NODE_IP, POD_CIDR } from './golden';
import { expectSameDump, kubeProxyDump, nodePortJump } from './kube-proxy-dump';

// kube-proxy's fake proxier: the node, its address, the pod CIDR local-traffic detector, and
// localhost node ports on; its tests' dumps carry no nfacct matches.
const BASE: IptablesRenderOptions = { nodeName: NODE, nodeIPs: [NODE_IP], clusterCIDRs: [POD_CIDR] };
const NO_DETECTOR: IptablesRenderOptions = { nodeName: NODE, nodeIPs: [NODE_IP] };

interface DumpCase {
  readonly name: string;
  readonly snap: RoutingSnapshot;
  readonly options: IptablesRenderOptions;
  readonly expected: string;
}

const XPGD = 'XPGD46QRK7WJZT7O';
const SEP_180_0_1 = [
  '-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ',
  '-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80',
];
const SEP_180_2_1 = [
  '-A KUBE-SEP-ZX7GRIZKSNUQ3LAJ -m comment --comment ns1/svc1:p80 -s 10.180.2.1 -j KUBE-MARK-MASQ',
  '-A KUBE-SEP-ZX7GRIZKSNUQ3LAJ -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.2.1:80',
];
const svc1ClusterIP = (ip: string, chain = `KUBE-SVC-${XPGD}`) =>
  `-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d ${ip} --dport 80 -j ${chain}`;
const svc1Masq = (ip: string) =>
  `-A KUBE-SVC-${XPGD} -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d ${ip} --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ`;
const EXT_CLUSTER = [
  `-A KUBE-EXT-${XPGD} -m comment --comment "masquerade traffic for ns1/svc1:p80 external destinations" -j KUBE-MARK-MASQ`,
  `-A KUBE-EXT-${XPGD} -j KUBE-SVC-${XPGD}`,
];
/** The EXT chain of an externalTrafficPolicy: Local port; `pod` with a local-traffic detector. */
const extLocal = (name: string, hash: string, pod: boolean, toLocal: boolean) => [
  ...(pod
    ? [
        `-A KUBE-EXT-${hash} -m comment --comment "pod traffic for ${name} external destinations" -s 10.0.0.0/8 -j KUBE-SVC-${hash}`,
      ]
    : []),
  `-A KUBE-EXT-${hash} -m comment --comment "masquerade LOCAL traffic for ${name} external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ`,
  `-A KUBE-EXT-${hash} -m comment --comment "route LOCAL traffic for ${name} external destinations" -m addrtype --src-type LOCAL -j KUBE-SVC-${hash}`,
  ...(toLocal ? [`-A KUBE-EXT-${hash} -j KUBE-SVL-${hash}`] : []),
];
const TWO_EPS_SPLIT = [
  `-A KUBE-SVC-${XPGD} -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-SXIVWICOYRO3J4NJ`,
  `-A KUBE-SVC-${XPGD} -m comment --comment "ns1/svc1:p80 -> 10.180.2.1:80" -j KUBE-SEP-ZX7GRIZKSNUQ3LAJ`,
];
const LOCAL_ONLY_180_2_1 = `-A KUBE-SVL-${XPGD} -m comment --comment "ns1/svc1:p80 -> 10.180.2.1:80" -j KUBE-SEP-ZX7GRIZKSNUQ3LAJ`;

/** One remote and one local endpoint, as kube-proxy's traffic-policy tests use. */
const remoteAndLocal = (a = '10.180.0.1', b = '10.180.2.1') => [ep(a), ep(b, 80, { nodeName: NODE })];

/** A NodePort service with externalTrafficPolicy Local, as in kube-proxy's localhost node-port tests. */
function localNodePortSnap(clusterIP: string, nodePort: number, endpoints: ReturnType<typeof ep>[]) {
  return snapshot([
    entry(
      port('ns1', 'svc1', { type: 'NodePort', clusterIPs: [clusterIP], nodePort, externalPolicyLocal: true }),
      endpoints,
    ),
  ]);
}

/** Expected dump of {@link localNodePortSnap} with two endpoints whose SEP lines are given. */
function localNodePortDump(opts: {
  clusterIP: string;
  nodePort: number;
  seps: { chain: string; text: string; ip: string }[];
  detector: boolean;
  localhostFirewall: boolean;
  nodePortJumps: string[];
}): string {
  const [a, b] = opts.seps as [(typeof opts.seps)[0], (typeof opts.seps)[0]];
  return kubeProxyDump({
    localhostFirewall: opts.localhostFirewall,
    nodePortJumps: opts.nodePortJumps,
    natChains: [`KUBE-EXT-${XPGD}`, a.chain, b.chain, `KUBE-SVC-${XPGD}`, `KUBE-SVL-${XPGD}`],
    nat: [
      `-A KUBE-NODEPORTS -m comment --comment ns1/svc1:p80 -m tcp -p tcp --dport ${opts.nodePort} -j KUBE-EXT-${XPGD}`,
      svc1ClusterIP(opts.clusterIP),
      ...extLocal('ns1/svc1:p80', XPGD, opts.detector, true),
      ...[a, b].flatMap((s) => [
        `-A ${s.chain} -m comment --comment ns1/svc1:p80 -s ${s.ip} -j KUBE-MARK-MASQ`,
        `-A ${s.chain} -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination ${s.text}`,
      ]),
      ...(opts.detector ? [svc1Masq(opts.clusterIP)] : []),
      `-A KUBE-SVC-${XPGD} -m comment --comment "ns1/svc1:p80 -> ${a.text}" -m statistic --mode random --probability 0.5000000000 -j ${a.chain}`,
      `-A KUBE-SVC-${XPGD} -m comment --comment "ns1/svc1:p80 -> ${b.text}" -j ${b.chain}`,
      `-A KUBE-SVL-${XPGD} -m comment --comment "ns1/svc1:p80 -> ${b.text}" -j ${b.chain}`,
    ],
  });
}

const V4_SEPS = [
  { chain: 'KUBE-SEP-6KG6DFHVBKBK53RU', text: '10.244.0.1:80', ip: '10.244.0.1' },
  { chain: 'KUBE-SEP-KDGX2M2ONE25PSWH', text: '10.244.2.1:80', ip: '10.244.2.1' },
];
const V6_SEPS = [
  { chain: 'KUBE-SEP-LIGRYQQLSZN4UWQ5', text: '[ff06::c1]:80', ip: 'ff06::c1' },
  { chain: 'KUBE-SEP-XJJ5QXWGJG344QDZ', text: '[ff06::c2]:80', ip: 'ff06::c2' },
];
const V1_SEPS = [
  { chain: 'KUBE-SEP-SXIVWICOYRO3J4NJ', text: '10.180.0.1:80', ip: '10.180.0.1' },
  { chain: 'KUBE-SEP-ZX7GRIZKSNUQ3LAJ', text: '10.180.2.1:80', ip: '10.180.2.1' },
];

const CASES: DumpCase[] = [
  {
    name: 'TestLoadBalancer: source ranges, two ingress IPs, node IP allowed',
    snap: testLoadBalancerSnapshot(),
    options: BASE,
    expected: kubeProxyDump({
      filter: ['1.2.3.4', '5.6.7.8'].map(
        (ip) =>
          `-A KUBE-PROXY-FIREWALL -m comment --comment "ns1/svc1:p80 traffic not accepted by KUBE-FW-${XPGD}" -m tcp -p tcp -d ${ip} --dport 80 -j DROP`,
      ),
      natChains: [`KUBE-EXT-${XPGD}`, `KUBE-FW-${XPGD}`, 'KUBE-SEP-SXIVWICOYRO3J4NJ', `KUBE-SVC-${XPGD}`],
      nat: [
        `-A KUBE-NODEPORTS -m comment --comment ns1/svc1:p80 -m tcp -p tcp --dport 3001 -j KUBE-EXT-${XPGD}`,
        svc1ClusterIP('172.30.0.41'),
        `-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 loadbalancer IP" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j KUBE-FW-${XPGD}`,
        `-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 loadbalancer IP" -m tcp -p tcp -d 5.6.7.8 --dport 80 -j KUBE-FW-${XPGD}`,
        ...EXT_CLUSTER,
        ...['192.168.0.0/24', '203.0.113.0/25', '1.2.3.4', '5.6.7.8'].map(
          (s) =>
            `-A KUBE-FW-${XPGD} -m comment --comment "ns1/svc1:p80 loadbalancer IP" -s ${s} -j KUBE-EXT-${XPGD}`,
        ),
        `-A KUBE-FW-${XPGD} -m comment --comment "other traffic to ns1/svc1:p80 will be dropped by KUBE-PROXY-FIREWALL"`,
        ...SEP_180_0_1,
        svc1Masq('172.30.0.41'),
        `-A KUBE-SVC-${XPGD} -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -j KUBE-SEP-SXIVWICOYRO3J4NJ`,
      ],
    }),
  },
  {
    name: 'TestNodePort',
    snap: snapshot([
      entry(port('ns1', 'svc1', { type: 'NodePort', clusterIPs: ['172.30.0.41'], nodePort: 3001 }), [
        ep('10.180.0.1'),
      ]),
    ]),
    options: BASE,
    expected: kubeProxyDump({
      natChains: [`KUBE-EXT-${XPGD}`, 'KUBE-SEP-SXIVWICOYRO3J4NJ', `KUBE-SVC-${XPGD}`],
      nat: [
        `-A KUBE-NODEPORTS -m comment --comment ns1/svc1:p80 -m tcp -p tcp --dport 3001 -j KUBE-EXT-${XPGD}`,
        svc1ClusterIP('172.30.0.41'),
        ...EXT_CLUSTER,
        ...SEP_180_0_1,
        svc1Masq('172.30.0.41'),
        `-A KUBE-SVC-${XPGD} -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -j KUBE-SEP-SXIVWICOYRO3J4NJ`,
      ],
    }),
  },
  {
    name: 'TestHealthCheckNodePort: no endpoints, node ports only on 127.0.0.0/8',
    snap: snapshot([
      entry(
        port('ns1', 'svc1', {
          type: 'LoadBalancer',
          clusterIPs: ['172.30.0.42'],
          nodePort: 3001,
          healthCheckNodePort: 30000,
          externalPolicyLocal: true,
        }),
      ),
    ]),
    options: { ...BASE, nodePortAddresses: ['127.0.0.0/8'] },
    expected: kubeProxyDump({
      filter: [
        '-A KUBE-NODEPORTS -m comment --comment "ns1/svc1:p80 health check node port" -m tcp -p tcp --dport 30000 -j ACCEPT',
        '-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.42 --dport 80 -j REJECT',
        '-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns1/svc1:p80 has no endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 3001 -j REJECT',
      ],
      nodePortJumps: [nodePortJump('-d 127.0.0.1')],
    }),
  },
  {
    name: 'TestMasqueradeRule without --random-fully',
    snap: snapshot([]),
    options: BASE,
    expected: kubeProxyDump({}),
  },
  {
    name: 'TestMasqueradeRule with --random-fully',
    snap: snapshot([]),
    options: { ...BASE, randomFully: true },
    expected: kubeProxyDump({ masqueradeSuffix: ' --random-fully' }),
  },
  {
    name: 'TestExternalTrafficPolicyLocal: external IP, LB IP and node port to the local endpoint',
    snap: snapshot([
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
        remoteAndLocal(),
      ),
    ]),
    options: BASE,
    expected: kubeProxyDump({
      filter: [
        '-A KUBE-NODEPORTS -m comment --comment "ns1/svc1:p80 health check node port" -m tcp -p tcp --dport 30000 -j ACCEPT',
      ],
      natChains: [
        `KUBE-EXT-${XPGD}`,
        'KUBE-SEP-SXIVWICOYRO3J4NJ',
        'KUBE-SEP-ZX7GRIZKSNUQ3LAJ',
        `KUBE-SVC-${XPGD}`,
        `KUBE-SVL-${XPGD}`,
      ],
      nat: [
        `-A KUBE-NODEPORTS -m comment --comment ns1/svc1:p80 -m tcp -p tcp --dport 3001 -j KUBE-EXT-${XPGD}`,
        svc1ClusterIP('172.30.0.41'),
        `-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 external IP" -m tcp -p tcp -d 192.168.99.11 --dport 80 -j KUBE-EXT-${XPGD}`,
        `-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 loadbalancer IP" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j KUBE-EXT-${XPGD}`,
        ...extLocal('ns1/svc1:p80', XPGD, true, true),
        ...SEP_180_0_1,
        ...SEP_180_2_1,
        svc1Masq('172.30.0.41'),
        ...TWO_EPS_SPLIT,
        LOCAL_ONLY_180_2_1,
      ],
    }),
  },
  {
    name: 'TestNonLocalExternalIPs: Cluster policy masquerades external-IP traffic',
    snap: snapshot([
      entry(
        port('ns1', 'svc1', { clusterIPs: ['172.30.0.41'], externalIPs: ['192.168.99.11'] }),
        remoteAndLocal(),
      ),
    ]),
    options: BASE,
    expected: kubeProxyDump({
      natChains: [
        `KUBE-EXT-${XPGD}`,
        'KUBE-SEP-SXIVWICOYRO3J4NJ',
        'KUBE-SEP-ZX7GRIZKSNUQ3LAJ',
        `KUBE-SVC-${XPGD}`,
      ],
      nat: [
        svc1ClusterIP('172.30.0.41'),
        `-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 external IP" -m tcp -p tcp -d 192.168.99.11 --dport 80 -j KUBE-EXT-${XPGD}`,
        ...EXT_CLUSTER,
        ...SEP_180_0_1,
        ...SEP_180_2_1,
        svc1Masq('172.30.0.41'),
        ...TWO_EPS_SPLIT,
      ],
    }),
  },
  {
    name: 'TestEnableLocalhostNodePortsIPv4 (no local-traffic detector)',
    snap: localNodePortSnap('10.69.0.10', 30001, remoteAndLocal('10.244.0.1', '10.244.2.1')),
    options: { ...NO_DETECTOR, localhostNodePorts: true },
    expected: localNodePortDump({
      clusterIP: '10.69.0.10',
      nodePort: 30001,
      seps: V4_SEPS,
      detector: false,
      localhostFirewall: true,
      nodePortJumps: [nodePortJump('-m addrtype --dst-type LOCAL')],
    }),
  },
  {
    name: 'TestDisableLocalhostNodePortsIPv4',
    snap: localNodePortSnap('10.69.0.10', 30001, remoteAndLocal('10.244.0.1', '10.244.2.1')),
    options: { ...NO_DETECTOR, localhostNodePorts: false },
    expected: localNodePortDump({
      clusterIP: '10.69.0.10',
      nodePort: 30001,
      seps: V4_SEPS,
      detector: false,
      localhostFirewall: false,
      nodePortJumps: [nodePortJump('-m addrtype --dst-type LOCAL ! -d 127.0.0.0/8')],
    }),
  },
  {
    name: 'TestDisableLocalhostNodePortsIPv4WithNodeAddress: only loopback allowed, so no jump at all',
    snap: localNodePortSnap('10.69.0.10', 30001, remoteAndLocal('10.244.0.1', '10.244.2.1')),
    options: { ...NO_DETECTOR, localhostNodePorts: false, nodePortAddresses: ['127.0.0.0/8'] },
    expected: localNodePortDump({
      clusterIP: '10.69.0.10',
      nodePort: 30001,
      seps: V4_SEPS,
      detector: false,
      localhostFirewall: false,
      nodePortJumps: [],
    }),
  },
  ...[true, false].map(
    (localhost): DumpCase => ({
      name: `Test${localhost ? 'Enable' : 'Disable'}LocalhostNodePortsIPv6: never on IPv6`,
      snap: snapshot([
        entry(
          port('ns1', 'svc1', {
            type: 'NodePort',
            clusterIPs: ['fd00:ab34::20'],
            nodePort: 30001,
            externalPolicyLocal: true,
          }),
          [ep('ff06::c1'), ep('ff06::c2', 80, { nodeName: NODE })],
        ),
      ]),
      options: { nodeName: NODE, ipFamily: 'IPv6', localhostNodePorts: localhost },
      expected: localNodePortDump({
        clusterIP: 'fd00:ab34::20',
        nodePort: 30001,
        seps: V6_SEPS,
        detector: false,
        localhostFirewall: false,
        nodePortJumps: [nodePortJump('-m addrtype --dst-type LOCAL ! -d ::1/128')],
      }),
    }),
  ),
  ...[false, true].map(
    (detector): DumpCase => ({
      name: `TestOnlyLocalNodePorts${detector ? '' : 'NoClusterCIDR'}: node ports on the node IP only`,
      snap: localNodePortSnap('172.30.0.41', 3001, remoteAndLocal()),
      options: {
        ...(detector ? BASE : NO_DETECTOR),
        localhostNodePorts: false,
        nodePortAddresses: ['192.168.0.0/24', '2001:db8::/64'],
      },
      expected: localNodePortDump({
        clusterIP: '172.30.0.41',
        nodePort: 3001,
        seps: V1_SEPS,
        detector,
        localhostFirewall: false,
        nodePortJumps: [nodePortJump('-d 192.168.0.2')],
      }),
    }),
  ),
];

// kube-proxy's terminating-endpoint and internalTrafficPolicy tests: service ns1/svc1 (one
// unnamed TCP port 80, cluster IP 172.30.1.1) and endpoints 10.0.1.x, in every readiness state.
const AQI = 'AQI2S6QIMU7PVVRP';
const SEP_OF: Record<string, string> = {
  '10.0.1.1': 'KUBE-SEP-3JOIVZTXZZRGORX4',
  '10.0.1.2': 'KUBE-SEP-IO5XOSKPAXIFQXAJ',
  '10.0.1.3': 'KUBE-SEP-XGJFVO3L2O5SRFNT',
  '10.0.1.5': 'KUBE-SEP-EQCHZ7S2PJ72OHAY',
};
const READY = { ready: true, serving: true, terminating: false };
const SERVING_TERMINATING = { ready: false, serving: true, terminating: true };
const GONE = { ready: false, serving: false, terminating: true };
const at = (ip: string, state: typeof READY, nodeName: string) => ep(ip, 80, { ...state, nodeName });
const PROBABILITIES: Record<number, string[]> = {
  1: [],
  2: ['0.5000000000'],
  3: ['0.3333333333', '0.5000000000'],
};

/** An endpoint chain's two rules, with the `recent --set` of ClientIP affinity when asked. */
function sepRules(ip: string, affinity: boolean): string[] {
  const sep = SEP_OF[ip]!;
  const recent = affinity ? ` -m recent --name ${sep} --set` : '';
  return [
    `-A ${sep} -m comment --comment ns1/svc1 -s ${ip} -j KUBE-MARK-MASQ`,
    `-A ${sep} -m comment --comment ns1/svc1${recent} -m tcp -p tcp -j DNAT --to-destination ${ip}:80`,
  ];
}

/** A KUBE-SVC-/KUBE-SVL- chain's jumps to `ips` (affinity checks first, then the random split). */
function balanceRules(chain: string, ips: string[], affinity: boolean): string[] {
  const head = (ip: string) => `-A ${chain} -m comment --comment "ns1/svc1 -> ${ip}:80"`;
  const probs = PROBABILITIES[ips.length]!;
  return [
    ...(affinity
      ? ips.map(
          (ip) =>
            `${head(ip)} -m recent --name ${SEP_OF[ip]} --rcheck --seconds 10800 --reap -j ${SEP_OF[ip]}`,
        )
      : []),
    ...ips.map((ip, i) => {
      const p = probs[i];
      return `${head(ip)}${p ? ` -m statistic --mode random --probability ${p}` : ''} -j ${SEP_OF[ip]}`;
    }),
  ];
}

const svc1Capture = (chain: string) =>
  `-A KUBE-SERVICES -m comment --comment "ns1/svc1 cluster IP" -m tcp -p tcp -d 172.30.1.1 --dport 80 -j ${chain}`;
const svc1MasqIn = (chain: string) =>
  `-A ${chain} -m comment --comment "ns1/svc1 cluster IP" -m tcp -p tcp -d 172.30.1.1 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ`;
const LB_CAPTURE = `-A KUBE-SERVICES -m comment --comment "ns1/svc1 loadbalancer IP" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j KUBE-EXT-${AQI}`;
const HCNP_ACCEPT =
  '-A KUBE-NODEPORTS -m comment --comment "ns1/svc1 health check node port" -m tcp -p tcp --dport 30000 -j ACCEPT';

/** The LoadBalancer service of kube-proxy's terminating-endpoint tests, with `local` eTP or not. */
function terminatingSnap(local: boolean, endpoints: Endpoint[]): RoutingSnapshot {
  return snapshot([
    entry(
      port('ns1', 'svc1', {
        portName: '',
        type: 'LoadBalancer',
        clusterIPs: ['172.30.1.1'],
        loadBalancerVIPs: ['1.2.3.4'],
        healthCheckNodePort: 30000,
        externalPolicyLocal: local,
        sessionAffinity: { type: 'ClientIP', timeoutSeconds: 10800 },
      }),
      endpoints,
    ),
  ]);
}

/** Expected dump of {@link terminatingSnap} routing cluster traffic to `cluster` and local to `local`. */
function terminatingDump(eTPLocal: boolean, cluster: string[], local: string[]): string {
  const sepIPs = [...new Set([...cluster, ...local])].sort((a, b) => SEP_OF[a]!.localeCompare(SEP_OF[b]!));
  return kubeProxyDump({
    filter: [
      ...(eTPLocal ? [HCNP_ACCEPT] : []),
      ...(eTPLocal && local.length === 0
        ? [
            '-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns1/svc1 has no local endpoints" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j DROP',
          ]
        : []),
    ],
    natChains: [
      `KUBE-EXT-${AQI}`,
      ...sepIPs.map((ip) => SEP_OF[ip]!),
      `KUBE-SVC-${AQI}`,
      ...(local.length > 0 ? [`KUBE-SVL-${AQI}`] : []),
    ],
    nat: [
      svc1Capture(`KUBE-SVC-${AQI}`),
      LB_CAPTURE,
      ...(eTPLocal
        ? extLocal('ns1/svc1', AQI, true, local.length > 0)
        : [
            `-A KUBE-EXT-${AQI} -m comment --comment "masquerade traffic for ns1/svc1 external destinations" -j KUBE-MARK-MASQ`,
            `-A KUBE-EXT-${AQI} -j KUBE-SVC-${AQI}`,
          ]),
      ...sepIPs.flatMap((ip) => sepRules(ip, true)),
      svc1MasqIn(`KUBE-SVC-${AQI}`),
      ...balanceRules(`KUBE-SVC-${AQI}`, cluster, true),
      ...(local.length > 0 ? balanceRules(`KUBE-SVL-${AQI}`, local, true) : []),
    ],
  });
}

/** Expected dump when no endpoint of the terminating-endpoint service is usable anywhere. */
function noUsableDump(eTPLocal: boolean): string {
  return kubeProxyDump({
    filter: [
      ...(eTPLocal ? [HCNP_ACCEPT] : []),
      '-A KUBE-SERVICES -m comment --comment "ns1/svc1 has no endpoints" -m tcp -p tcp -d 172.30.1.1 --dport 80 -j REJECT',
      '-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns1/svc1 has no endpoints" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j REJECT',
    ],
  });
}

const TERMINATING_CASES: DumpCase[] = [
  {
    name: 'TestTerminatingEndpointsTrafficPolicyLocal: ready endpoints exist',
    snap: terminatingSnap(true, [
      at('10.0.1.1', READY, NODE),
      at('10.0.1.2', READY, NODE),
      at('10.0.1.3', SERVING_TERMINATING, NODE),
      at('10.0.1.4', GONE, NODE),
      at('10.0.1.5', READY, 'host-1'),
    ]),
    options: BASE,
    expected: terminatingDump(true, ['10.0.1.1', '10.0.1.2', '10.0.1.5'], ['10.0.1.1', '10.0.1.2']),
  },
  {
    name: 'TestTerminatingEndpointsTrafficPolicyLocal: only terminating endpoints are local',
    snap: terminatingSnap(true, [
      at('10.0.1.2', SERVING_TERMINATING, NODE),
      at('10.0.1.3', SERVING_TERMINATING, NODE),
      at('10.0.1.4', GONE, NODE),
      at('10.0.1.5', READY, 'host-1'),
    ]),
    options: BASE,
    expected: terminatingDump(true, ['10.0.1.5'], ['10.0.1.2', '10.0.1.3']),
  },
  {
    name: 'TestTerminatingEndpointsTrafficPolicyLocal: terminating endpoint on a remote node only',
    snap: terminatingSnap(true, [at('10.0.1.5', SERVING_TERMINATING, 'host-1')]),
    options: BASE,
    expected: terminatingDump(true, ['10.0.1.5'], []),
  },
  {
    name: 'TestTerminatingEndpointsTrafficPolicyLocal: no usable endpoint on any node',
    snap: terminatingSnap(true, [at('10.0.1.5', GONE, NODE), at('10.0.1.5', GONE, 'host-1')]),
    options: BASE,
    expected: noUsableDump(true),
  },
  {
    name: 'TestTerminatingEndpointsTrafficPolicyCluster: ready endpoints exist',
    snap: terminatingSnap(false, [
      at('10.0.1.1', READY, NODE),
      at('10.0.1.2', READY, NODE),
      at('10.0.1.3', SERVING_TERMINATING, 'another-host'),
      at('10.0.1.4', GONE, 'another-host'),
      at('10.0.1.5', READY, 'another-host'),
    ]),
    options: BASE,
    expected: terminatingDump(false, ['10.0.1.1', '10.0.1.2', '10.0.1.5'], []),
  },
  {
    name: 'TestTerminatingEndpointsTrafficPolicyCluster: only terminating endpoints exist',
    snap: terminatingSnap(false, [
      at('10.0.1.2', SERVING_TERMINATING, NODE),
      at('10.0.1.3', SERVING_TERMINATING, NODE),
      at('10.0.1.4', GONE, 'another-host'),
      at('10.0.1.5', SERVING_TERMINATING, 'another-host'),
    ]),
    options: BASE,
    expected: terminatingDump(false, ['10.0.1.2', '10.0.1.3', '10.0.1.5'], []),
  },
  {
    name: 'TestTerminatingEndpointsTrafficPolicyCluster: terminating endpoint on a remote node',
    snap: terminatingSnap(false, [at('10.0.1.5', SERVING_TERMINATING, 'host-1')]),
    options: BASE,
    expected: terminatingDump(false, ['10.0.1.5'], []),
  },
  {
    name: 'TestTerminatingEndpointsTrafficPolicyCluster: no usable endpoint on any node',
    snap: terminatingSnap(false, [at('10.0.1.5', GONE, NODE), at('10.0.1.5', GONE, 'host-1')]),
    options: BASE,
    expected: noUsableDump(false),
  },
  ...(['Cluster', 'Local'] as const).flatMap((policy): DumpCase[] => {
    const snapWith = (nodes: string[]) =>
      snapshot([
        entry(
          port('ns1', 'svc1', {
            portName: '',
            clusterIPs: ['172.30.1.1'],
            internalPolicyLocal: policy === 'Local',
          }),
          ['10.0.1.1', '10.0.1.2', '10.0.1.3'].map((ip, i) => at(ip, READY, nodes[i]!)),
        ),
      ]);
    if (policy === 'Cluster') {
      const ips = ['10.0.1.1', '10.0.1.2', '10.0.1.3'];
      return [
        {
          name: 'TestInternalTrafficPolicyE2E: Cluster',
          snap: snapWith([NODE, 'host1', 'host2']),
          options: BASE,
          expected: kubeProxyDump({
            natChains: [...ips.map((ip) => SEP_OF[ip]!), `KUBE-SVC-${AQI}`],
            nat: [
              svc1Capture(`KUBE-SVC-${AQI}`),
              ...ips.flatMap((ip) => sepRules(ip, false)),
              svc1MasqIn(`KUBE-SVC-${AQI}`),
              ...balanceRules(`KUBE-SVC-${AQI}`, ips, false),
            ],
          }),
        },
      ];
    }
    return [
      {
        name: 'TestInternalTrafficPolicyE2E: Local with a local endpoint',
        snap: snapWith([NODE, 'host1', 'host2']),
        options: BASE,
        expected: kubeProxyDump({
          natChains: [SEP_OF['10.0.1.1']!, `KUBE-SVL-${AQI}`],
          nat: [
            svc1Capture(`KUBE-SVL-${AQI}`),
            ...sepRules('10.0.1.1', false),
            svc1MasqIn(`KUBE-SVL-${AQI}`),
            ...balanceRules(`KUBE-SVL-${AQI}`, ['10.0.1.1'], false),
          ],
        }),
      },
      {
        name: 'TestInternalTrafficPolicyE2E: Local without a local endpoint',
        snap: snapWith(['host0', 'host1', 'host2']),
        options: BASE,
        expected: kubeProxyDump({
          filter: [
            '-A KUBE-SERVICES -m comment --comment "ns1/svc1 has no local endpoints" -m tcp -p tcp -d 172.30.1.1 --dport 80 -j DROP',
          ],
        }),
      },
    ];
  }),
];

describe("kube-proxy's terminating-endpoint and traffic-policy dumps", () => {
  it.each(TERMINATING_CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expectSameDump(renderIptables(c.snap, c.options).payload, c.expected);
  });
});

describe("kube-proxy's single-sync rule dumps", () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expectSameDump(renderIptables(c.snap, c.options).payload, c.expected);
  });
});
