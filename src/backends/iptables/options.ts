/**
 * Options of the iptables renderer, each defaulting as kube-proxy's flag of the same meaning.
 *
 * @module
 */
import { LABEL_TOPOLOGY_ZONE } from '../../core/types';
import {
  DEFAULT_MASQUERADE_BIT,
  DEFAULT_SYNC_PERIOD_MS,
  LARGE_CLUSTER_ENDPOINTS_THRESHOLD,
} from './constants';
import {
  cidrContains,
  type IpFamily,
  isZeroCidr,
  type ParsedCidr,
  type ParsedIp,
  parseCidr,
  parseIp,
} from './ip';

/** What kube-proxy would be told on the command line of the node being rendered for. */
export interface IptablesRenderOptions {
  /** `--hostname-override`: endpoints with this `nodeName` are local. Default `''` (none local). */
  readonly nodeName?: string;
  /**
   * The labels of the Node object named `nodeName`: topology hints are followed only when it
   * carries the `topology.kubernetes.io/zone` label (other labels are ignored, as by kube-proxy).
   * Default none.
   */
  readonly nodeLabels?: Readonly<Record<string, string>>;
  /**
   * The node's addresses. The first of the rendered family is kube-proxy's `nodeIP` (used by
   * loadBalancerSourceRanges); all of them, plus loopback, stand in for the interface addresses
   * `--nodeport-addresses` is matched against. Default none.
   */
  readonly nodeIPs?: readonly string[];
  /** `--cluster-cidr`: the local-traffic detector uses the first CIDR of the family. Default none. */
  readonly clusterCIDRs?: readonly string[];
  /** `--masquerade-all`. Default false. */
  readonly masqueradeAll?: boolean;
  /** `--iptables-masquerade-bit`, 0..31. Default 14. */
  readonly masqueradeBit?: number;
  /**
   * Append `--random-fully` to the MASQUERADE rule, as kube-proxy does when the node's iptables
   * supports it (1.6.2 and later). Default false.
   */
  readonly randomFully?: boolean;
  /** Emit nfacct counter matches, as on a kernel with nfacct support. Default false. */
  readonly nfacct?: boolean;
  /** `--iptables-localhost-nodeports`. Default true (IPv4 only; IPv6 never has them). */
  readonly localhostNodePorts?: boolean;
  /** `--nodeport-addresses` CIDRs, or `primary` for the node IPs. Default `[]`: every local address. */
  readonly nodePortAddresses?: readonly string[];
  /** IP family of the rules (`iptables` vs `ip6tables`). Default `IPv4`. */
  readonly ipFamily?: IpFamily;
  /** Endpoint count above which comments are dropped. Default 1000. */
  readonly largeClusterThreshold?: number;
  /**
   * `--iptables-sync-period`: in large-cluster mode kube-proxy deletes chains no longer in use
   * at most this often (the other syncs leave them, unreferenced, in the kernel). Default 30 s.
   * Only the stateful renderer keeps time; a one-off render always deletes them.
   */
  readonly syncPeriodMs?: number;
  /** The node sets `nf_conntrack_tcp_be_liberal`: no INVALID drop rule. Default false. */
  readonly conntrackTCPLiberal?: boolean;
}

/**
 * The node labels kube-proxy's endpoint filtering reads: since v1.34 its node-topology watcher
 * hands the proxier only the zone label, and a change of any other label causes no resync.
 */
export const TOPOLOGY_LABEL_KEYS: readonly string[] = [LABEL_TOPOLOGY_ZONE];

/** The {@link TOPOLOGY_LABEL_KEYS} entries of `labels` (a new object; empty when none). */
export function topologyLabelsOf(
  labels: Readonly<Record<string, string>> | undefined,
): Readonly<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const key of TOPOLOGY_LABEL_KEYS) {
    const value = labels?.[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/** Whether two label sets hold the same keys with the same values. */
export function sameLabels(
  a: Readonly<Record<string, string>>,
  b: Readonly<Record<string, string>>,
): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => Object.hasOwn(b, k) && b[k] === a[k]);
}

/** Options with defaults applied and addresses parsed for one family. */
export interface ResolvedOptions {
  readonly nodeName: string;
  readonly nodeLabels: Readonly<Record<string, string>>;
  readonly family: IpFamily;
  readonly isIPv6: boolean;
  readonly nodeIP: ParsedIp | undefined;
  readonly localAddresses: readonly ParsedIp[];
  readonly localCidr: string | undefined;
  readonly masqueradeAll: boolean;
  readonly masqueradeMark: string;
  readonly randomFully: boolean;
  readonly nfacct: boolean;
  readonly localhostNodePorts: boolean;
  readonly nodePortMatchAll: boolean;
  readonly nodePortCidrs: readonly ParsedCidr[];
  readonly largeClusterThreshold: number;
  readonly syncPeriodMs: number;
  readonly conntrackTCPLiberal: boolean;
}

/** Go's `fmt.Sprintf("%#08x", 1<<bit)`: eight zero-padded hex digits after `0x`. */
export function masqueradeMarkOf(bit: number): string {
  if (!Number.isInteger(bit) || bit < 0 || bit > 31) {
    throw new RangeError(`masqueradeBit must be an integer in [0, 31], got ${bit}`);
  }
  return `0x${(2 ** bit).toString(16).padStart(8, '0')}`;
}

/** Applies kube-proxy's defaults and derives what the renderer needs. */
export function resolveOptions(options: IptablesRenderOptions = {}): ResolvedOptions {
  const family = options.ipFamily ?? 'IPv4';
  const isIPv6 = family === 'IPv6';
  const nodeIPs = (options.nodeIPs ?? [])
    .map((ip) => parseIp(ip.trim()))
    .filter((ip): ip is ParsedIp => ip !== undefined && ip.family === family);
  const loopback = parseIp(isIPv6 ? '::1' : '127.0.0.1')!;
  const localAddresses = [...nodeIPs, loopback];

  const nodePortCidrs: ParsedCidr[] = [];
  let matchAll = false;
  for (const raw of options.nodePortAddresses ?? []) {
    const text = raw.trim();
    if (text === 'primary') {
      // kube-proxy turns `primary` into the node IP of each family as a host CIDR.
      const primary = nodeIPs[0];
      if (primary) nodePortCidrs.push(parseCidr(`${primary.text}/${isIPv6 ? 128 : 32}`)!);
      continue;
    }
    const cidr = parseCidr(text);
    if (!cidr || cidr.family !== family) continue;
    if (isZeroCidr(cidr)) matchAll = true;
    nodePortCidrs.push(cidr);
  }
  if (nodePortCidrs.length === 0) matchAll = true;
  // kube-proxy's ContainsIPv4Loopback: the range holds 127.0.0.0, or its own address is loopback
  // (so `127.0.0.5/32` counts even though it leaves out 127.0.0.1).
  const loopbackStart = parseIp('127.0.0.0')!;
  const containsIPv4Loopback =
    !isIPv6 &&
    (matchAll || nodePortCidrs.some((c) => c.network[0] === 127 || cidrContains(c, loopbackStart)));

  const localCidr = (options.clusterCIDRs ?? [])
    .map((c) => parseCidr(c.trim()))
    .find((c) => c !== undefined && c.family === family);

  return {
    nodeName: options.nodeName ?? '',
    nodeLabels: options.nodeLabels ?? {},
    family,
    isIPv6,
    nodeIP: nodeIPs[0],
    localAddresses,
    localCidr: localCidr?.text,
    masqueradeAll: options.masqueradeAll ?? false,
    masqueradeMark: masqueradeMarkOf(options.masqueradeBit ?? DEFAULT_MASQUERADE_BIT),
    randomFully: options.randomFully ?? false,
    nfacct: options.nfacct ?? false,
    // kube-proxy disables localhost node ports for IPv6 and when --nodeport-addresses excludes 127.0.0.1.
    localhostNodePorts: !isIPv6 && (options.localhostNodePorts ?? true) && containsIPv4Loopback,
    nodePortMatchAll: matchAll,
    nodePortCidrs,
    largeClusterThreshold: options.largeClusterThreshold ?? LARGE_CLUSTER_ENDPOINTS_THRESHOLD,
    syncPeriodMs: options.syncPeriodMs ?? DEFAULT_SYNC_PERIOD_MS,
    conntrackTCPLiberal: options.conntrackTCPLiberal ?? false,
  };
}
