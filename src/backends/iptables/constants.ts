/**
 * Names and defaults of kube-proxy's iptables mode (v1.34, `pkg/proxy/iptables/proxier.go`), kept
 * in one place so the renderer, the applier and the tracer agree on them.
 *
 * @module
 */

/** nat + filter: entry chain for every service VIP. */
export const KUBE_SERVICES = 'KUBE-SERVICES';
/** filter: rejects/drops for external destinations (external IPs, LB IPs, node ports). */
export const KUBE_EXTERNAL_SERVICES = 'KUBE-EXTERNAL-SERVICES';
/** nat: node-port captures; filter: health-check node port accepts. */
export const KUBE_NODEPORTS = 'KUBE-NODEPORTS';
/** nat: the masquerade decision taken in POSTROUTING. */
export const KUBE_POSTROUTING = 'KUBE-POSTROUTING';
/** nat: marks a packet for masquerade. */
export const KUBE_MARK_MASQ = 'KUBE-MARK-MASQ';
/** filter: lets marked and established service traffic through FORWARD. */
export const KUBE_FORWARD = 'KUBE-FORWARD';
/** filter: drops load-balancer traffic the per-service KUBE-FW- chain did not accept. */
export const KUBE_PROXY_FIREWALL = 'KUBE-PROXY-FIREWALL';
/** filter: kube-proxy's copy of kubelet's anti-martian rule for localhost node ports. */
export const KUBE_FIREWALL = 'KUBE-FIREWALL';

/**
 * Per-service-port chain prefixes (hashed suffix, see `chain-names.ts`). `KUBE-SVC-`: the
 * cluster-wide endpoint chain, jumped to for traffic that may go to any ready endpoint.
 */
export const SVC_CHAIN_PREFIX = 'KUBE-SVC-';
/**
 * `KUBE-SVL-`: the node-local endpoint chain, used instead of `KUBE-SVC-` when a traffic policy
 * is `Local`; shares the service port's hash suffix.
 */
export const SVL_CHAIN_PREFIX = 'KUBE-SVL-';
/**
 * `KUBE-FW-`: the load-balancer ingress chain that enforces `loadBalancerSourceRanges`; shares
 * the service port's hash suffix.
 */
export const FW_CHAIN_PREFIX = 'KUBE-FW-';
/**
 * `KUBE-EXT-`: the chain for externally-originated traffic (node ports, external and
 * load-balancer IPs); shares the service port's hash suffix.
 */
export const EXT_CHAIN_PREFIX = 'KUBE-EXT-';
/**
 * `KUBE-SEP-`: one chain per endpoint that DNATs to it; its hash suffix also covers the
 * endpoint's `ip:port`, so it differs from the service port's.
 */
export const SEP_CHAIN_PREFIX = 'KUBE-SEP-';
/** Every per-service prefix: a chain with one of these is owned by the renderer. */
export const SERVICE_CHAIN_PREFIXES: readonly string[] = [
  SVC_CHAIN_PREFIX,
  SVL_CHAIN_PREFIX,
  SEP_CHAIN_PREFIX,
  FW_CHAIN_PREFIX,
  EXT_CHAIN_PREFIX,
];

/** kube-proxy's `--iptables-masquerade-bit` default (`0x4000` mark). */
export const DEFAULT_MASQUERADE_BIT = 14;
/** Above this many endpoints (all service ports summed) kube-proxy drops per-endpoint comments. */
export const LARGE_CLUSTER_ENDPOINTS_THRESHOLD = 1000;
/** kube-proxy's `--min-sync-period` default for the iptables mode (1 s). */
export const DEFAULT_MIN_SYNC_PERIOD_MS = 1000;
/**
 * kube-proxy's `--iptables-sync-period` default (30 s): retry delay after a failed restore, and
 * how often stale chains are deleted in large-cluster mode.
 */
export const DEFAULT_SYNC_PERIOD_MS = 30_000;
/** kube-proxy forces a full (non-partial) sync at least this often (`proxyutil.FullSyncPeriod`, 1 h). */
export const FULL_SYNC_PERIOD_MS = 3_600_000;

/** nfacct counter on the INVALID-conntrack drop rule (kube-proxy metrics). */
export const NFACCT_CT_STATE_INVALID_DROPPED = 'ct_state_invalid_dropped_pkts';
/** nfacct counter on the localhost node-port accept rule (kube-proxy metrics). */
export const NFACCT_LOCALHOST_NODEPORTS_ACCEPTED = 'localhost_nps_accepted_pkts';

/** A rule kube-proxy ensures in a built-in chain so traffic reaches its own chains. */
export interface BaseChainJump {
  readonly table: 'filter' | 'nat';
  /** Built-in chain the rule lives in. */
  readonly from: string;
  /** kube-proxy chain the rule jumps to. */
  readonly to: string;
  /** Arguments before `-j` (conntrack match and comment). */
  readonly args: readonly string[];
}

const NEW_ONLY = ['-m', 'conntrack', '--ctstate', 'NEW'] as const;
function jump(
  table: 'filter' | 'nat',
  to: string,
  from: string,
  comment: string,
  extra: readonly string[] = [],
): BaseChainJump {
  const args = comment ? [...extra, '-m', 'comment', '--comment', comment] : [...extra];
  return { table, from, to, args };
}

/**
 * kube-proxy's `iptablesJumpChains` followed by its copies of kubelet's jumps, in the order it
 * ensures them. Each is *prepended* to its built-in chain, so within one built-in chain the
 * last entry here ends up first.
 */
export const BASE_CHAIN_JUMPS: readonly BaseChainJump[] = [
  jump('filter', KUBE_EXTERNAL_SERVICES, 'INPUT', 'kubernetes externally-visible service portals', NEW_ONLY),
  jump(
    'filter',
    KUBE_EXTERNAL_SERVICES,
    'FORWARD',
    'kubernetes externally-visible service portals',
    NEW_ONLY,
  ),
  jump('filter', KUBE_NODEPORTS, 'INPUT', 'kubernetes health check service ports'),
  jump('filter', KUBE_SERVICES, 'FORWARD', 'kubernetes service portals', NEW_ONLY),
  jump('filter', KUBE_SERVICES, 'OUTPUT', 'kubernetes service portals', NEW_ONLY),
  jump('filter', KUBE_FORWARD, 'FORWARD', 'kubernetes forwarding rules'),
  jump('filter', KUBE_PROXY_FIREWALL, 'INPUT', 'kubernetes load balancer firewall', NEW_ONLY),
  jump('filter', KUBE_PROXY_FIREWALL, 'OUTPUT', 'kubernetes load balancer firewall', NEW_ONLY),
  jump('filter', KUBE_PROXY_FIREWALL, 'FORWARD', 'kubernetes load balancer firewall', NEW_ONLY),
  jump('nat', KUBE_SERVICES, 'OUTPUT', 'kubernetes service portals'),
  jump('nat', KUBE_SERVICES, 'PREROUTING', 'kubernetes service portals'),
  jump('nat', KUBE_POSTROUTING, 'POSTROUTING', 'kubernetes postrouting rules'),
  jump('filter', KUBE_FIREWALL, 'INPUT', ''),
  jump('filter', KUBE_FIREWALL, 'OUTPUT', ''),
];

/** The rule tokens of a base-chain jump, as given to `iptables -C/-I/-D <from>`. */
export function baseJumpRuleArgs(j: BaseChainJump): string[] {
  return [...j.args, '-j', j.to];
}
