import type { ServicePortInfo } from '../../src/core/snapshot';
import type { CategorizeOptions, RoutingNode } from '../../src/routing/categorize';
import type { EpSpec } from './fixtures';

/**
 * Categorisation cases modelled on kube-proxy's topology tests: node-a in zone-a is "here".
 */
export const HERE = 'node-a';
export const THERE = 'node-b';
export const zoneA: RoutingNode = { name: HERE, labels: { 'topology.kubernetes.io/zone': 'zone-a' } };

export interface Case {
  name: string;
  info?: Partial<ServicePortInfo>;
  node?: RoutingNode;
  options?: CategorizeOptions;
  endpoints: EpSpec[];
  cluster: string[] | undefined;
  local: string[] | undefined;
  /** Defaults to whichever of cluster/local is set when only one is. */
  all?: string[];
  /** Expected hasAnyEndpoints; defaults to `all.length > 0`. */
  hasAny?: boolean;
}

export const nodePortLocal = { type: 'NodePort', nodePort: 30080, externalPolicyLocal: true } as const;
const ip = (n: number) => `10.1.2.${n}:80`;

export const cases: Case[] = [
  // --- zone hints (PreferSameZone / PreferClose produce these) ---
  {
    name: 'zone hints for this zone filter Cluster endpoints',
    node: zoneA,
    endpoints: [
      { ip: '10.1.2.3', zones: ['zone-a'] },
      { ip: '10.1.2.4', zones: ['zone-b'] },
      { ip: '10.1.2.5', zones: ['zone-c'] },
      { ip: '10.1.2.6', zones: ['zone-a'] },
    ],
    cluster: [ip(3), ip(6)],
    local: undefined,
  },
  {
    name: 'zone from node.zone wins over labels',
    node: { name: HERE, zone: 'zone-b', labels: { 'topology.kubernetes.io/zone': 'zone-a' } },
    endpoints: [
      { ip: '10.1.2.3', zones: ['zone-a'] },
      { ip: '10.1.2.4', zones: ['zone-b'] },
    ],
    cluster: [ip(4)],
    local: undefined,
  },
  {
    name: 'node without zone label ignores zone hints',
    node: { name: HERE, labels: {} },
    endpoints: [{ ip: '10.1.2.3', zones: ['zone-a'] }],
    cluster: [ip(3)],
    local: undefined,
  },
  {
    name: 'empty zone label ignores zone hints',
    node: { name: HERE, labels: { 'topology.kubernetes.io/zone': '' } },
    endpoints: [{ ip: '10.1.2.3', zones: ['zone-a'] }],
    cluster: [ip(3)],
    local: undefined,
  },
  {
    name: 'a node without zone matches an (odd but valid) empty zone hint, as upstream',
    node: { name: HERE },
    endpoints: [
      { ip: '10.1.2.3', zones: [''] },
      { ip: '10.1.2.4', zones: ['zone-b'] },
    ],
    cluster: [ip(3)],
    local: undefined,
  },
  {
    name: 'no hint for this zone: no filtering at all',
    node: { name: HERE, zone: 'zone-b' },
    endpoints: [
      { ip: '10.1.2.3', zones: ['zone-a'] },
      { ip: '10.1.2.4', zones: ['zone-c'] },
    ],
    cluster: [ip(3), ip(4)],
    local: undefined,
  },
  {
    name: 'one ready endpoint without hints disables filtering',
    node: zoneA,
    endpoints: [
      { ip: '10.1.2.3', zones: ['zone-a'] },
      { ip: '10.1.2.4', zones: ['zone-b'] },
      { ip: '10.1.2.5' },
      { ip: '10.1.2.6', zones: ['zone-a'] },
    ],
    cluster: [ip(3), ip(4), ip(5), ip(6)],
    local: undefined,
  },
  {
    name: 'an empty hint set counts as missing',
    node: zoneA,
    endpoints: [
      { ip: '10.1.2.3', zones: ['zone-a'] },
      { ip: '10.1.2.4', zones: [] },
    ],
    cluster: [ip(3), ip(4)],
    local: undefined,
  },
  {
    name: 'unready endpoints without hints do not disable filtering',
    node: zoneA,
    endpoints: [
      { ip: '10.1.2.3', zones: ['zone-a'] },
      { ip: '10.1.2.4', zones: ['zone-b'] },
      { ip: '10.1.2.5', ready: false },
    ],
    cluster: [ip(3)],
    local: undefined,
  },
  {
    name: 'unready endpoint in this zone is not used',
    node: zoneA,
    endpoints: [
      { ip: '10.1.2.3', zones: ['zone-a'] },
      { ip: '10.1.2.4', zones: ['zone-b'] },
      { ip: '10.1.2.5', zones: ['zone-c'] },
      { ip: '10.1.2.6', zones: ['zone-a'], ready: false },
    ],
    cluster: [ip(3)],
    local: undefined,
  },
  {
    name: 'only unready endpoints hinted for this zone: no filtering',
    node: zoneA,
    endpoints: [
      { ip: '10.1.2.3', zones: ['zone-a'], ready: false },
      { ip: '10.1.2.4', zones: ['zone-b'] },
      { ip: '10.1.2.5', zones: ['zone-c'] },
      { ip: '10.1.2.6', zones: ['zone-a'], ready: false },
    ],
    cluster: [ip(4), ip(5)],
    local: undefined,
  },
  {
    name: 'multiple zone hints per endpoint',
    node: { name: HERE, zone: 'zone-c' },
    endpoints: [
      { ip: '10.1.2.3', zones: ['zone-a', 'zone-b', 'zone-c'] },
      { ip: '10.1.2.4', zones: ['zone-b', 'zone-c'] },
      { ip: '10.1.2.5', zones: ['zone-b', 'zone-d'] },
      { ip: '10.1.2.6', zones: ['zone-c'] },
    ],
    cluster: [ip(3), ip(4), ip(6)],
    local: undefined,
  },
  {
    name: 'hints are honoured whatever trafficDistribution or annotation says (only hints matter)',
    info: { trafficDistribution: 'PreferClose', topologyMode: 'Disabled' },
    node: zoneA,
    endpoints: [
      { ip: '10.1.2.3', zones: ['zone-a'] },
      { ip: '10.1.2.4', zones: ['zone-b'] },
    ],
    cluster: [ip(3)],
    local: undefined,
  },
  {
    name: 'trafficDistribution without hints filters nothing',
    info: { trafficDistribution: 'PreferSameZone' },
    node: zoneA,
    endpoints: [
      { ip: '10.1.2.3', zone: 'zone-a' },
      { ip: '10.1.2.4', zone: 'zone-b' },
    ],
    cluster: [ip(3), ip(4)],
    local: undefined,
  },
  // --- node hints (PreferSameNode) ---
  {
    name: 'node hints for this node win over zone hints',
    node: zoneA,
    endpoints: [
      { ip: '10.1.2.3', zones: ['zone-a'], nodes: [HERE] },
      { ip: '10.1.2.4', zones: ['zone-a'], nodes: ['node-c'] },
      { ip: '10.1.2.5', zones: ['zone-b'], nodes: [THERE] },
    ],
    cluster: [ip(3)],
    local: undefined,
  },
  {
    name: 'node hints but none for this node: fall back to zone hints',
    node: { name: 'node-z', zone: 'zone-a' },
    endpoints: [
      { ip: '10.1.2.3', zones: ['zone-a'], nodes: [HERE] },
      { ip: '10.1.2.4', zones: ['zone-a'], nodes: ['node-c'] },
      { ip: '10.1.2.5', zones: ['zone-b'], nodes: [THERE] },
    ],
    cluster: [ip(3), ip(4)],
    local: undefined,
  },
  {
    name: 'node hints missing on one endpoint: zone hints used',
    node: zoneA,
    endpoints: [
      { ip: '10.1.2.3', zones: ['zone-a'], nodes: [HERE] },
      { ip: '10.1.2.4', zones: ['zone-a'] },
      { ip: '10.1.2.5', zones: ['zone-b'], nodes: [THERE] },
    ],
    cluster: [ip(3), ip(4)],
    local: undefined,
  },
  {
    name: 'node hints without zone hints, node matches',
    node: { name: HERE },
    endpoints: [
      { ip: '10.1.2.3', nodes: [HERE] },
      { ip: '10.1.2.4', nodes: [THERE] },
    ],
    cluster: [ip(3)],
    local: undefined,
  },
  {
    name: 'PreferSameTrafficDistribution gate off: node hints ignored',
    node: zoneA,
    options: { featureGates: { PreferSameTrafficDistribution: false } },
    endpoints: [
      { ip: '10.1.2.3', zones: ['zone-a'], nodes: [HERE] },
      { ip: '10.1.2.4', zones: ['zone-a'], nodes: ['node-c'] },
      { ip: '10.1.2.5', zones: ['zone-b'], nodes: [THERE] },
    ],
    cluster: [ip(3), ip(4)],
    local: undefined,
  },
  {
    name: 'node hints only, none for this node: no filtering',
    node: { name: 'node-z', zone: 'zone-a' },
    endpoints: [
      { ip: '10.1.2.3', nodes: [HERE] },
      { ip: '10.1.2.4', nodes: [THERE] },
    ],
    cluster: [ip(3), ip(4)],
    local: undefined,
  },
  {
    name: 'an unready endpoint without a node hint does not disable node hints',
    node: zoneA,
    endpoints: [
      { ip: '10.1.2.3', zones: ['zone-a'], nodes: [HERE] },
      { ip: '10.1.2.4', zones: ['zone-a'], nodes: [THERE] },
      { ip: '10.1.2.5', ready: false },
    ],
    cluster: [ip(3)],
    local: undefined,
  },
  {
    name: 'node hints on this node with a Local policy: Local ignores them, Cluster uses them',
    info: { type: 'NodePort', nodePort: 8080, externalPolicyLocal: true },
    node: zoneA,
    endpoints: [
      { ip: '10.1.2.3', node: THERE, zones: ['zone-a'], nodes: [HERE] },
      { ip: '10.1.2.4', node: HERE, zones: ['zone-a'], nodes: [THERE] },
    ],
    cluster: [ip(3)],
    local: [ip(4)],
    all: [ip(3), ip(4)],
  },
  // --- ready / serving / terminating fallback, Cluster ---
  {
    name: 'ready endpoints preferred over serving-terminating ones',
    endpoints: [
      { ip: '10.1.2.3' },
      { ip: '10.1.2.4', ready: false, serving: true, terminating: true },
      { ip: '10.1.2.5', ready: false, serving: false, terminating: true },
      { ip: '10.1.2.6', ready: false, serving: false, terminating: false },
    ],
    cluster: [ip(3)],
    local: undefined,
  },
  {
    name: 'no ready endpoint: serving-terminating ones are used',
    endpoints: [
      { ip: '10.1.2.4', ready: false, serving: true, terminating: true },
      { ip: '10.1.2.5', ready: false, serving: false, terminating: true },
      { ip: '10.1.2.6', ready: false, serving: false, terminating: false },
      { ip: '10.1.2.7', ready: false, serving: true, terminating: true },
    ],
    cluster: [ip(4), ip(7)],
    local: undefined,
  },
  {
    name: 'serving but not terminating (unready, not terminating) is never used',
    endpoints: [{ ip: '10.1.2.4', ready: false, serving: true, terminating: false }],
    cluster: [],
    local: undefined,
    hasAny: false,
  },
  {
    name: 'fallback to terminating ignores topology hints',
    node: zoneA,
    endpoints: [
      { ip: '10.1.2.3', ready: false, serving: true, terminating: true, zones: ['zone-b'] },
      { ip: '10.1.2.4', ready: false, serving: true, terminating: true, zones: ['zone-a'] },
    ],
    cluster: [ip(3), ip(4)],
    local: undefined,
  },
  {
    name: 'no endpoints at all: Cluster used but empty',
    endpoints: [],
    cluster: [],
    local: undefined,
    hasAny: false,
  },
  // --- internalTrafficPolicy Local ---
  {
    name: 'internalTrafficPolicy Local, no endpoints',
    info: { internalPolicyLocal: true },
    endpoints: [],
    cluster: undefined,
    local: [],
    hasAny: false,
  },
  {
    name: 'internalTrafficPolicy Local, all endpoints remote: dropped, not sent remote',
    info: { internalPolicyLocal: true },
    endpoints: [
      { ip: '10.0.0.0', node: THERE },
      { ip: '10.0.0.1', node: THERE },
    ],
    cluster: undefined,
    local: [],
    hasAny: true,
  },
  {
    name: 'internalTrafficPolicy Local, endpoints without nodeName are remote',
    info: { internalPolicyLocal: true },
    endpoints: [{ ip: '10.0.0.0' }],
    cluster: undefined,
    local: [],
    hasAny: true,
  },
  {
    name: 'internalTrafficPolicy Local, all local',
    info: { internalPolicyLocal: true },
    endpoints: [
      { ip: '10.0.0.0', node: HERE },
      { ip: '10.0.0.1', node: HERE },
    ],
    cluster: undefined,
    local: ['10.0.0.0:80', '10.0.0.1:80'],
  },
  {
    name: 'internalTrafficPolicy Local, some local',
    info: { internalPolicyLocal: true },
    endpoints: [
      { ip: '10.0.0.0', node: THERE },
      { ip: '10.0.0.1', node: HERE },
    ],
    cluster: undefined,
    local: ['10.0.0.1:80'],
  },
  {
    name: 'internalTrafficPolicy Local ignores topology hints',
    info: { internalPolicyLocal: true },
    node: zoneA,
    endpoints: [
      { ip: '10.0.0.0', node: HERE, zones: ['zone-b'] },
      { ip: '10.0.0.1', node: THERE, zones: ['zone-a'] },
    ],
    cluster: undefined,
    local: ['10.0.0.0:80'],
  },
  {
    name: 'internalTrafficPolicy Local, local only terminating: uses it',
    info: { internalPolicyLocal: true },
    endpoints: [
      { ip: '10.0.0.0', node: HERE, ready: false, serving: true, terminating: true },
      { ip: '10.0.0.1', node: THERE },
    ],
    cluster: undefined,
    local: ['10.0.0.0:80'],
  },
  {
    name: 'internalTrafficPolicy Local, local ready preferred over local terminating',
    info: { internalPolicyLocal: true },
    endpoints: [
      { ip: '10.0.0.0', node: HERE, ready: false, serving: true, terminating: true },
      { ip: '10.0.0.1', node: HERE },
    ],
    cluster: undefined,
    local: ['10.0.0.1:80'],
  },
  {
    name: 'internalTrafficPolicy Local, local not serving: none, but service has endpoints elsewhere',
    info: { internalPolicyLocal: true },
    endpoints: [
      { ip: '10.0.0.0', node: HERE, ready: false, serving: false, terminating: true },
      { ip: '10.0.0.1', node: THERE, ready: false, serving: true, terminating: true },
    ],
    cluster: undefined,
    local: [],
    hasAny: true,
  },
  {
    name: 'internalTrafficPolicy Local with a node port still computes Cluster endpoints (with topology)',
    info: { internalPolicyLocal: true, type: 'NodePort', nodePort: 30080 },
    node: zoneA,
    endpoints: [
      { ip: '10.1.2.3', zones: ['zone-a'], node: HERE },
      { ip: '10.1.2.4', zones: ['zone-b'], node: HERE },
      { ip: '10.1.2.5', zones: ['zone-c'], node: THERE },
      { ip: '10.1.2.6', zones: ['zone-a'], node: THERE },
    ],
    cluster: [ip(3), ip(6)],
    local: [ip(3), ip(4)],
    all: [ip(3), ip(4), ip(6)],
  },
  // --- externalTrafficPolicy Local ---
  {
    name: 'externalTrafficPolicy Local: topology applies to Cluster, not to Local',
    info: nodePortLocal,
    node: zoneA,
    endpoints: [
      { ip: '10.1.2.3', zones: ['zone-a'], node: HERE },
      { ip: '10.1.2.4', zones: ['zone-b'], node: HERE },
      { ip: '10.1.2.5', zones: ['zone-c'], node: THERE },
      { ip: '10.1.2.6', zones: ['zone-a'], node: THERE },
    ],
    cluster: [ip(3), ip(6)],
    local: [ip(3), ip(4)],
    all: [ip(3), ip(4), ip(6)],
  },
  {
    name: 'externalTrafficPolicy Local without external exposure is not Local at all',
    info: { externalPolicyLocal: true },
    endpoints: [{ ip: '10.0.0.0', node: THERE }],
    cluster: ['10.0.0.0:80'],
    local: undefined,
  },
  {
    name: 'externalTrafficPolicy Local via an external IP',
    info: { externalPolicyLocal: true, externalIPs: ['192.0.2.1'] },
    endpoints: [
      { ip: '10.0.0.0', node: THERE },
      { ip: '10.0.0.1', node: HERE },
    ],
    cluster: ['10.0.0.0:80', '10.0.0.1:80'],
    local: ['10.0.0.1:80'],
    all: ['10.0.0.0:80', '10.0.0.1:80'],
  },
  {
    name: 'externalTrafficPolicy Local via a load-balancer VIP, no local endpoints',
    info: { type: 'LoadBalancer', externalPolicyLocal: true, loadBalancerVIPs: ['192.0.2.2'] },
    endpoints: [{ ip: '10.0.0.0', node: THERE }],
    cluster: ['10.0.0.0:80'],
    local: [],
    all: ['10.0.0.0:80'],
  },
  {
    name: 'externalTrafficPolicy Local, only remote terminating: Cluster falls back, Local empty',
    info: nodePortLocal,
    endpoints: [
      { ip: '10.0.0.0', node: THERE, ready: false, serving: true, terminating: true },
      { ip: '10.0.0.1', node: THERE, ready: false, serving: false, terminating: true },
    ],
    cluster: ['10.0.0.0:80'],
    local: [],
    all: ['10.0.0.0:80'],
  },
  {
    name: 'externalTrafficPolicy Local, remote ready and local terminating: lists merged',
    info: nodePortLocal,
    endpoints: [
      { ip: '10.0.0.0', node: THERE },
      { ip: '10.0.0.1', node: HERE, ready: false, serving: true, terminating: true },
      { ip: '10.0.0.2', node: HERE, ready: false, serving: false, terminating: true },
    ],
    cluster: ['10.0.0.0:80'],
    local: ['10.0.0.1:80'],
    all: ['10.0.0.0:80', '10.0.0.1:80'],
  },
  {
    name: 'externalTrafficPolicy Local, local ready and local terminating: ready only',
    info: nodePortLocal,
    endpoints: [
      { ip: '10.0.0.0', node: HERE },
      { ip: '10.0.0.1', node: HERE, ready: false, serving: true, terminating: true },
      { ip: '10.0.0.2', node: THERE },
    ],
    cluster: ['10.0.0.0:80', '10.0.0.2:80'],
    local: ['10.0.0.0:80'],
    all: ['10.0.0.0:80', '10.0.0.2:80'],
  },
  {
    name: 'externalTrafficPolicy Local, nothing usable anywhere',
    info: nodePortLocal,
    endpoints: [
      { ip: '10.0.0.0', node: HERE, ready: false, serving: false, terminating: true },
      { ip: '10.0.0.1', node: THERE, ready: false, serving: false, terminating: false },
    ],
    cluster: [],
    local: [],
    all: [],
    hasAny: false,
  },
  {
    name: 'both policies Local with a node port',
    info: { ...nodePortLocal, internalPolicyLocal: true },
    endpoints: [
      { ip: '10.0.0.0', node: THERE },
      { ip: '10.0.0.1', node: HERE },
    ],
    cluster: ['10.0.0.0:80', '10.0.0.1:80'],
    local: ['10.0.0.1:80'],
    all: ['10.0.0.0:80', '10.0.0.1:80'],
  },
  // --- kube-proxy's traffic-policy table, case for case (IsLocal → on node-a) ---
  {
    name: 'Cluster policy, no endpoint ready: empty, nothing anywhere',
    endpoints: [
      { ip: '10.0.0.0', ready: false, serving: false },
      { ip: '10.0.0.1', ready: false, serving: false },
    ],
    cluster: [],
    local: undefined,
    hasAny: false,
  },
  {
    name: 'Cluster policy, some endpoints ready',
    endpoints: [
      { ip: '10.0.0.0', ready: false, serving: false },
      { ip: '10.0.0.1', ready: true },
    ],
    cluster: ['10.0.0.1:80'],
    local: undefined,
  },
  {
    name: 'Cluster policy, all endpoints serving-terminating, local or not',
    endpoints: [
      { ip: '10.0.0.0', ready: false, serving: true, terminating: true, node: HERE },
      { ip: '10.0.0.1', ready: false, serving: true, terminating: true, node: THERE },
    ],
    cluster: ['10.0.0.0:80', '10.0.0.1:80'],
    local: undefined,
  },
  {
    name: 'iTP Local, eTP Cluster with a node port, some endpoints local',
    info: { internalPolicyLocal: true, type: 'NodePort', nodePort: 8080 },
    endpoints: [
      { ip: '10.0.0.0', node: HERE },
      { ip: '10.0.0.1', node: THERE },
    ],
    cluster: ['10.0.0.0:80', '10.0.0.1:80'],
    local: ['10.0.0.0:80'],
    all: ['10.0.0.0:80', '10.0.0.1:80'],
  },
  {
    name: 'iTP Cluster, eTP Local, some endpoints local',
    info: { type: 'NodePort', nodePort: 8080, externalPolicyLocal: true },
    endpoints: [
      { ip: '10.0.0.0', node: HERE },
      { ip: '10.0.0.1', node: THERE },
    ],
    cluster: ['10.0.0.0:80', '10.0.0.1:80'],
    local: ['10.0.0.0:80'],
    all: ['10.0.0.0:80', '10.0.0.1:80'],
  },
  {
    name: 'iTP Local, eTP Local, all endpoints remote',
    info: { type: 'NodePort', nodePort: 8080, externalPolicyLocal: true, internalPolicyLocal: true },
    endpoints: [
      { ip: '10.0.0.0', node: THERE },
      { ip: '10.0.0.1', node: THERE },
    ],
    cluster: ['10.0.0.0:80', '10.0.0.1:80'],
    local: [],
    all: ['10.0.0.0:80', '10.0.0.1:80'],
  },
  {
    name: 'iTP Local, eTP Local, all endpoints remote and serving-terminating',
    info: { type: 'NodePort', nodePort: 8080, externalPolicyLocal: true, internalPolicyLocal: true },
    endpoints: [
      { ip: '10.0.0.0', node: THERE, ready: false, serving: true, terminating: true },
      { ip: '10.0.0.1', node: THERE, ready: false, serving: true, terminating: true },
    ],
    cluster: ['10.0.0.0:80', '10.0.0.1:80'],
    local: [],
    all: ['10.0.0.0:80', '10.0.0.1:80'],
  },
  {
    name: 'iTP Cluster, eTP Local, ready remote beats terminating for Cluster; Local uses local terminating',
    info: { type: 'NodePort', nodePort: 8080, externalPolicyLocal: true },
    endpoints: [
      { ip: '10.0.0.0', node: THERE },
      { ip: '10.0.0.1', node: HERE, ready: false, serving: false },
      { ip: '10.0.0.2', node: HERE, ready: false, serving: true, terminating: true },
      { ip: '10.0.0.3', node: THERE, ready: false, serving: true, terminating: true },
    ],
    cluster: ['10.0.0.0:80'],
    local: ['10.0.0.2:80'],
    all: ['10.0.0.0:80', '10.0.0.2:80'],
  },
  {
    name: 'eTP Local: local endpoints outside the hinted zone are merged into allReachable',
    info: { type: 'NodePort', nodePort: 8080, externalPolicyLocal: true },
    node: zoneA,
    endpoints: [
      { ip: '10.0.0.0', node: HERE, zones: ['zone-a'] },
      { ip: '10.0.0.1', node: HERE, zones: ['zone-b'] },
      { ip: '10.0.0.2', node: THERE, zones: ['zone-a'] },
      { ip: '10.0.0.3', node: THERE, zones: ['zone-b'] },
    ],
    cluster: ['10.0.0.0:80', '10.0.0.2:80'],
    local: ['10.0.0.0:80', '10.0.0.1:80'],
    all: ['10.0.0.0:80', '10.0.0.1:80', '10.0.0.2:80'],
  },
  {
    name: 'a node with an empty name owns no endpoint, not even ones without a node name',
    info: { internalPolicyLocal: true },
    node: { name: '' },
    endpoints: [{ ip: '10.0.0.0', node: '' }],
    cluster: undefined,
    local: [],
    hasAny: true,
  },
];
