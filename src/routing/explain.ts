/**
 * Why traffic to a service port goes where it goes: for one node, one traffic source (internal:
 * to a cluster IP; external: to a node port, external IP or load-balancer VIP) and optionally
 * one client, which endpoints are eligible and, for every other endpoint, why not. The rules are
 * those of {@link categorizeEndpoints}; this module only attributes them to endpoints.
 *
 * @module
 */
import type { Endpoint, RoutingSnapshot, ServicePortInfo } from '../core/snapshot';
import { cidrContains } from '../net/cidr';
import { type ClientIPAffinity, normalizeClientIP } from './affinity';
import {
  availableForTopology,
  type CategorizeOptions,
  categorizeEndpoints,
  decideTopology,
  isExternallyAccessible,
  isExternalPolicyLocal,
  isLocalEndpoint,
  isServingTerminating,
  nodeZone,
  type RoutingNode,
  type TopologyDecision,
  type TopologyIgnoredReason,
} from './categorize';

/** Where the traffic enters: a cluster IP (internal) or a node port / external IP / LB VIP. */
export type TrafficSource = 'internal' | 'external';

/** Options of {@link explain}. */
export interface ExplainOptions extends CategorizeOptions {
  /** The node doing the routing. */
  readonly node: RoutingNode;
  readonly source: TrafficSource;
  /** The client, to report session affinity for. */
  readonly clientIP?: string;
  /** The port's affinity table, to report which endpoint `clientIP` currently sticks to. */
  readonly affinity?: ClientIPAffinity;
}

/** Why one endpoint does not receive the traffic. */
export type IneligibleReason =
  /** External traffic, but the port has no node port, external IP or load-balancer VIP. */
  | { readonly code: 'not-exposed' }
  /** Neither ready nor a serving-terminating fallback candidate. */
  | { readonly code: 'not-ready'; readonly serving: boolean; readonly terminating: boolean }
  | { readonly code: 'terminating-while-ready-exist' }
  | { readonly code: 'not-local'; readonly endpointNode: string | undefined }
  | {
      readonly code: 'topology';
      readonly mode: 'PreferSameZone' | 'PreferSameNode';
      /** The zone or node the hints had to name. */
      readonly want: string;
      /** The zones or nodes the endpoint is hinted for. */
      readonly hintedFor: readonly string[];
    };

/** One endpoint's verdict. `reasons` is empty exactly when `eligible`. */
export interface EndpointExplanation {
  readonly endpoint: Endpoint;
  readonly eligible: boolean;
  /** On the routing node. */
  readonly local: boolean;
  readonly reasons: readonly IneligibleReason[];
}

/**
 * What the node does with the traffic:
 * - `forward`: to one of the eligible endpoints;
 * - `drop`: the policy is Local, this node has no usable endpoint, others do (silently dropped);
 * - `reject`: no usable endpoint anywhere (refused with ICMP port unreachable / TCP reset);
 * - `not-exposed`: external traffic to a port that has no node port, external IP or LB VIP.
 */
export type RoutingOutcome = 'forward' | 'drop' | 'reject' | 'not-exposed';

/** Session affinity as it applies to this request. */
export type AffinityExplanation =
  | { readonly type: 'None' }
  | {
      readonly type: 'ClientIP';
      readonly timeoutSeconds: number;
      readonly clientIP?: string;
      /** Key of the endpoint the client sticks to, when an affinity table was given and it has one. */
      readonly stickyEndpoint?: string;
    };

/** The structured answer of {@link explain}. */
export interface Explanation {
  /** `ns/name:port`. */
  readonly service: string;
  readonly protocol: string;
  readonly port: number;
  readonly targetPort: number | string;
  /** 0 when none. */
  readonly nodePort: number;
  readonly clusterIPs: readonly string[];
  readonly externalIPs: readonly string[];
  readonly loadBalancerVIPs: readonly string[];
  readonly source: TrafficSource;
  readonly node: { readonly name: string; readonly zone: string };
  /** The traffic policy that decides, and the field it comes from. */
  readonly policy: 'Cluster' | 'Local';
  readonly policyField: 'internalTrafficPolicy' | 'externalTrafficPolicy';
  /** The topology decision; only `applied` when the policy is Cluster and a mode was chosen. */
  readonly topology: TopologyDecision & { readonly applied: boolean };
  /** No ready endpoint qualified, so serving-terminating endpoints are used. */
  readonly terminatingFallback: boolean;
  readonly outcome: RoutingOutcome;
  readonly endpoints: readonly EndpointExplanation[];
  /** The eligible endpoints, in input order. */
  readonly eligible: readonly Endpoint[];
  readonly affinity: AffinityExplanation;
  /** Further facts worth knowing (source NAT, short-circuiting…), as sentences. */
  readonly notes: readonly string[];
}

/**
 * Explains how `node` routes `source` traffic for one service port, attributing kube-proxy's
 * rules to each endpoint. Pure, apart from reading (and lazily reaping) the affinity table.
 */
export function explain(
  info: ServicePortInfo,
  endpoints: readonly Endpoint[],
  options: ExplainOptions,
): Explanation {
  const { node, source } = options;
  const categorized = categorizeEndpoints(info, endpoints, node, options);
  const isLocalPolicy = source === 'internal' ? info.internalPolicyLocal : isExternalPolicyLocal(info);
  const policy = isLocalPolicy ? 'Local' : 'Cluster';
  const exposed = source === 'internal' || isExternallyAccessible(info);
  const eligible = exposed
    ? ((isLocalPolicy ? categorized.localEndpoints : categorized.clusterEndpoints) ?? [])
    : [];
  const eligibleKeys = new Set(eligible.map((e) => e.key));

  const decision = decideTopology(endpoints, node, options);
  const topologyApplied = !isLocalPolicy && decision.mode !== '';
  const terminatingFallback = eligible.length > 0 && eligible.every((e) => !e.ready);
  const anyLocalReady = endpoints.some((e) => e.ready && isLocalEndpoint(e, node));
  const anyReady = endpoints.some((e) => e.ready);

  const explained = endpoints.map((ep): EndpointExplanation => {
    const local = isLocalEndpoint(ep, node);
    if (eligibleKeys.has(ep.key)) return { endpoint: ep, eligible: true, local, reasons: [] };
    if (!exposed) return { endpoint: ep, eligible: false, local, reasons: [{ code: 'not-exposed' }] };
    const reasons: IneligibleReason[] = [];
    if (!ep.ready && !isServingTerminating(ep)) {
      reasons.push({ code: 'not-ready', serving: ep.serving, terminating: ep.terminating });
    }
    if (isLocalPolicy && !local) reasons.push({ code: 'not-local', endpointNode: ep.nodeName });
    if (isServingTerminating(ep) && !ep.ready && (isLocalPolicy ? anyLocalReady : anyReady)) {
      reasons.push({ code: 'terminating-while-ready-exist' });
    }
    if (
      !isLocalPolicy &&
      ep.ready &&
      decision.mode !== '' &&
      !availableForTopology(ep, decision.mode, node)
    ) {
      reasons.push(
        decision.mode === 'PreferSameNode'
          ? { code: 'topology', mode: decision.mode, want: node.name, hintedFor: [...(ep.nodeHints ?? [])] }
          : {
              code: 'topology',
              mode: decision.mode,
              want: nodeZone(node),
              hintedFor: [...(ep.zoneHints ?? [])],
            },
      );
    }
    return { endpoint: ep, eligible: false, local, reasons };
  });

  let outcome: RoutingOutcome;
  if (!exposed) outcome = 'not-exposed';
  else if (eligible.length > 0) outcome = 'forward';
  else if (categorized.hasAnyEndpoints) outcome = 'drop';
  else outcome = 'reject';

  return {
    service: info.key,
    protocol: info.protocol,
    port: info.port,
    targetPort: info.targetPort,
    nodePort: info.nodePort,
    clusterIPs: info.clusterIPs,
    externalIPs: info.externalIPs,
    loadBalancerVIPs: info.loadBalancerVIPs,
    source,
    node: { name: node.name, zone: nodeZone(node) },
    policy,
    policyField: source === 'internal' ? 'internalTrafficPolicy' : 'externalTrafficPolicy',
    topology: { ...decision, applied: topologyApplied },
    terminatingFallback,
    outcome,
    endpoints: explained,
    eligible,
    affinity: explainAffinity(info, eligible, options),
    notes: notesFor(info, source, isLocalPolicy, outcome, options.clientIP),
  };
}

/**
 * Explains every matching service port of a snapshot. `key` is a port key (`ns/name:port`, or
 * `ns/name` for an unnamed single port) or a service (`ns/name`, all its ports). Results are in
 * port-key order; empty when nothing matches (or the service is not routable, e.g. headless).
 */
export function explainInSnapshot(
  snapshot: RoutingSnapshot,
  key: string,
  options: ExplainOptions,
): Explanation[] {
  const exact = snapshot.ports.get(key);
  if (exact !== undefined) return [explain(exact.info, exact.endpoints, options)];
  const out: Explanation[] = [];
  const keys = [...snapshot.ports.keys()].sort();
  for (const k of keys) {
    const entry = snapshot.ports.get(k);
    if (entry === undefined) continue;
    const n = entry.info.name;
    if (`${n.namespace}/${n.name}` === key) out.push(explain(entry.info, entry.endpoints, options));
  }
  return out;
}

function explainAffinity(
  info: ServicePortInfo,
  eligible: readonly Endpoint[],
  options: ExplainOptions,
): AffinityExplanation {
  const spec = info.sessionAffinity;
  if (spec.type === 'None') return { type: 'None' };
  const { clientIP, affinity } = options;
  if (clientIP === undefined) return { type: 'ClientIP', timeoutSeconds: spec.timeoutSeconds };
  const sticky = affinity?.lookup(clientIP, eligible);
  return {
    type: 'ClientIP',
    timeoutSeconds: spec.timeoutSeconds,
    clientIP,
    ...(sticky === undefined ? {} : { stickyEndpoint: sticky.key }),
  };
}

function notesFor(
  info: ServicePortInfo,
  source: TrafficSource,
  isLocalPolicy: boolean,
  outcome: RoutingOutcome,
  clientIP: string | undefined,
): string[] {
  const notes: string[] = [];
  if (source === 'external' && info.loadBalancerVIPs.length > 0 && info.loadBalancerSourceRanges.length > 0) {
    const ranges = info.loadBalancerSourceRanges.join(', ');
    let note = `Traffic to the load-balancer IPs is accepted only from ${ranges}`;
    if (clientIP !== undefined) {
      const ip = normalizeClientIP(clientIP);
      const allowed = info.loadBalancerSourceRanges.some((r) => cidrContains(r.trim(), ip));
      note += allowed
        ? `; client ${clientIP} is inside them`
        : `; client ${clientIP} is outside them and is dropped`;
    }
    notes.push(`${note} (node ports and external IPs are not restricted).`);
  }
  if (source === 'external' && outcome !== 'not-exposed') {
    if (isLocalPolicy) {
      notes.push(
        'externalTrafficPolicy Local keeps the client source IP; traffic from pods or from the node itself ' +
          'to this external address is short-circuited to the Cluster endpoints instead.',
      );
    } else {
      notes.push('externalTrafficPolicy Cluster: the client source IP is masqueraded to the node IP.');
    }
  }
  if (source === 'internal' && info.internalPolicyLocal && outcome === 'drop') {
    notes.push('internalTrafficPolicy Local never falls back to endpoints on other nodes.');
  }
  if (source === 'external' && info.externalPolicyLocal && outcome === 'drop') {
    notes.push(
      'externalTrafficPolicy Local never falls back to other nodes; load balancers are expected to ' +
        'avoid this node (its health check node port reports no local endpoints).',
    );
  }
  return notes;
}

function describeReason(r: IneligibleReason): string {
  switch (r.code) {
    case 'not-exposed':
      return 'the port is not exposed outside the cluster';
    case 'not-ready':
      if (r.terminating) return 'terminating and no longer serving';
      return r.serving ? 'not ready (serving but not terminating: never used as a fallback)' : 'not ready';
    case 'terminating-while-ready-exist':
      return 'terminating; used only when no ready endpoint exists';
    case 'not-local':
      return `not on this node (on ${r.endpointNode ?? 'an unknown node'}) under the Local policy`;
    case 'topology': {
      const what = r.mode === 'PreferSameNode' ? 'node' : 'zone';
      const hinted = r.hintedFor.length > 0 ? r.hintedFor.join(', ') : 'nothing';
      return `filtered by topology hints (${r.mode}): hinted for ${what} ${hinted}, not ${r.want}`;
    }
  }
}

const TOPOLOGY_IGNORED_TEXT: Record<TopologyIgnoredReason, string> = {
  'node-hints-missing-on-some-endpoint': 'some ready endpoint has no node hint',
  'no-node-hint-for-this-node': 'no endpoint is hinted for this node',
  'zone-hints-missing-on-some-endpoint': 'some ready endpoint has no zone hint',
  'node-zone-unknown': 'this node has no topology.kubernetes.io/zone label',
  'no-zone-hint-for-this-zone': 'no endpoint is hinted for this zone',
};

function describeTopology(e: Explanation): string {
  const t = e.topology;
  const ignored: string[] = [];
  if (t.nodeHintsIgnored) ignored.push(`node hints ignored: ${TOPOLOGY_IGNORED_TEXT[t.nodeHintsIgnored]}`);
  if (t.zoneHintsIgnored) ignored.push(`zone hints ignored: ${TOPOLOGY_IGNORED_TEXT[t.zoneHintsIgnored]}`);
  let head: string;
  if (t.applied) {
    head =
      t.mode === 'PreferSameNode'
        ? `PreferSameNode (node ${e.node.name})`
        : `PreferSameZone (zone ${e.node.zone})`;
  } else if (e.policy === 'Local' && t.mode !== '') {
    head = 'hints not used: the Local policy ignores topology';
  } else {
    head = 'none';
  }
  return ignored.length > 0 ? `${head}; ${ignored.join('; ')}` : head;
}

function describeOutcome(e: Explanation): string {
  switch (e.outcome) {
    case 'forward':
      return `forward to ${e.eligible.length} of ${e.endpoints.length} endpoint(s)${
        e.terminatingFallback ? ' (falling back to serving terminating endpoints: none is ready)' : ''
      }`;
    case 'drop':
      return 'DROP: no usable endpoint on this node under the Local policy';
    case 'reject':
      return 'REJECT: the service has no usable endpoints';
    case 'not-exposed':
      return 'not exposed externally (no node port, external IP or load-balancer VIP)';
  }
}

/** Renders an {@link Explanation} as plain, line-oriented text for terminals. */
export function formatExplanation(e: Explanation): string {
  const lines: string[] = [];
  lines.push(`Service ${e.service} (${e.protocol})`);
  const ports = [`port ${e.port}`, `targetPort ${e.targetPort}`];
  if (e.nodePort !== 0) ports.push(`nodePort ${e.nodePort}`);
  lines.push(`  ${ports.join(' -> ')}`);
  if (e.clusterIPs.length > 0) lines.push(`  cluster IPs: ${e.clusterIPs.join(', ')}`);
  if (e.externalIPs.length > 0) lines.push(`  external IPs: ${e.externalIPs.join(', ')}`);
  if (e.loadBalancerVIPs.length > 0) lines.push(`  load-balancer IPs: ${e.loadBalancerVIPs.join(', ')}`);
  lines.push(`Traffic: ${e.source}, routed by node ${e.node.name} (zone ${e.node.zone || 'unknown'})`);
  lines.push(`Policy: ${e.policyField} ${e.policy}`);
  lines.push(`Topology: ${describeTopology(e)}`);
  lines.push(`Outcome: ${describeOutcome(e)}`);
  lines.push('Endpoints:');
  if (e.endpoints.length === 0) lines.push('  (none)');
  for (const x of e.endpoints) {
    const where = [x.endpoint.nodeName ?? 'node ?', x.endpoint.zone ?? 'zone ?'].join(' ');
    const mark = x.eligible ? '+' : '-';
    const why = x.eligible ? 'eligible' : x.reasons.map(describeReason).join('; ');
    lines.push(`  ${mark} ${x.endpoint.key}  [${where}${x.local ? ', local' : ''}]  ${why}`);
  }
  const a = e.affinity;
  if (a.type === 'None') {
    lines.push('Session affinity: None');
  } else {
    let line = `Session affinity: ClientIP, timeout ${a.timeoutSeconds}s`;
    if (a.clientIP !== undefined) {
      line += a.stickyEndpoint
        ? `; client ${a.clientIP} sticks to ${a.stickyEndpoint}`
        : `; client ${a.clientIP} has no sticky endpoint (next connection is balanced, then sticks)`;
    }
    lines.push(line);
  }
  if (e.notes.length > 0) {
    lines.push('Notes:');
    for (const n of e.notes) lines.push(`  - ${n}`);
  }
  return `${lines.join('\n')}\n`;
}
