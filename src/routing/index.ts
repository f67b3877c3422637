/**
 * Kubernetes Service routing semantics as kube-proxy (v1.34) applies them: endpoint
 * categorisation (readiness, terminating fallback, traffic policies, topology hints), ClientIP
 * session affinity, and explanations of both.
 *
 * @module
 */
export {
  ClientIPAffinity,
  type ClientIPAffinityOptions,
  checkAffinityTimeout,
  DEFAULT_AFFINITY_MAX_CLIENTS,
  DEFAULT_AFFINITY_TIMEOUT_S,
  type Keyed,
  MAX_AFFINITY_TIMEOUT_S,
  normalizeClientIP,
} from './affinity';
export {
  availableForTopology,
  type CategorizedEndpoints,
  type CategorizeOptions,
  categorizeEndpoints,
  DEFAULT_PREFER_SAME_TRAFFIC_DISTRIBUTION,
  decideTopology,
  isExternallyAccessible,
  isExternalPolicyLocal,
  isLocalEndpoint,
  isServingTerminating,
  nodeZone,
  type RoutingFeatureGates,
  type RoutingNode,
  type TopologyDecision,
  type TopologyIgnoredReason,
  type TopologyMode,
  usesClusterEndpoints,
  usesLocalEndpoints,
} from './categorize';
export {
  type AffinityExplanation,
  type EndpointExplanation,
  type ExplainOptions,
  type Explanation,
  explain,
  explainInSnapshot,
  formatExplanation,
  type IneligibleReason,
  type RoutingOutcome,
  type TrafficSource,
} from './explain';
export {
  applyTrafficDistributionHints,
  normalizeTrafficDistribution,
  TRAFFIC_DISTRIBUTIONS_WITH_HINTS,
} from './traffic-distribution';
