/**
 * One service port as a single-family kube-proxy sees it: its cluster IP of that family, the
 * external IPs, load-balancer VIPs and source ranges of that family in canonical form (others
 * and invalid ones dropped, as kube-proxy's service change tracker does), its chain names and
 * its endpoints of that family in kube-proxy's order.
 *
 * @module
 */
import type { Endpoint, ServicePortEntry, ServicePortInfo } from '../../core/snapshot';
import { endpointChainName, type ServiceChainNames, serviceChainNames } from './chain-names';
import { canonicalIp, type IpFamily, isZeroCidr, type ParsedCidr, parseCidr } from './ip';

/** An endpoint with its canonical `ip:port` text and KUBE-SEP- chain. */
export interface FamilyEndpoint {
  readonly endpoint: Endpoint;
  readonly ip: string;
  /** `ip:port`, `[ip]:port` for IPv6: kube-proxy's `Endpoint.String()`. */
  readonly text: string;
  readonly chain: string;
}

/** A service port reduced to one IP family. */
export interface FamilyServicePort {
  readonly info: ServicePortInfo;
  /** kube-proxy's `ServicePortName.String()`. */
  readonly name: string;
  /** `ns/name`: the unit of partial sync. */
  readonly service: string;
  readonly protocol: string;
  readonly clusterIP: string;
  readonly externalIPs: readonly string[];
  readonly loadBalancerVIPs: readonly string[];
  readonly sourceRanges: readonly ParsedCidr[];
  readonly chains: ServiceChainNames;
  readonly endpoints: readonly FamilyEndpoint[];
  /** The family endpoints of a subset of `endpoints[i].endpoint` objects (categorisation output). */
  familyOf(subset: readonly Endpoint[] | undefined): FamilyEndpoint[];
}

function canonicalList(values: readonly string[], family: IpFamily): string[] {
  const out: string[] = [];
  for (const v of values) {
    const ip = canonicalIp(v.trim(), family);
    if (ip !== undefined) out.push(ip);
  }
  return out;
}

/** Memo of SEP chain names: hashing dominates render time, and endpoints rarely change. */
export type ChainNameCache = Map<string, string>;

function byText(a: FamilyEndpoint, b: FamilyEndpoint): number {
  return a.text < b.text ? -1 : a.text > b.text ? 1 : 0;
}

/** Maps categorised endpoints back to their family view; a map only pays off for long lists. */
function familyLookup(endpoints: readonly FamilyEndpoint[]): FamilyServicePort['familyOf'] {
  const SMALL = 16;
  if (endpoints.length <= SMALL) {
    return (subset) => {
      const out: FamilyEndpoint[] = [];
      if (subset) {
        for (const ep of subset) {
          const fe = endpoints.find((e) => e.endpoint === ep);
          if (fe) out.push(fe);
        }
      }
      return out;
    };
  }
  let byEndpoint: Map<Endpoint, FamilyEndpoint> | undefined;
  return (subset) => {
    byEndpoint ??= new Map(endpoints.map((e) => [e.endpoint, e]));
    const out: FamilyEndpoint[] = [];
    for (const ep of subset ?? []) {
      const fe = byEndpoint.get(ep);
      if (fe) out.push(fe);
    }
    return out;
  };
}

/**
 * Builds the family view of `entry`, or `undefined` when the port has no cluster IP of that
 * family (kube-proxy then does not track it at all for that family).
 */
export function familyServicePort(
  entry: ServicePortEntry,
  family: IpFamily,
  sepCache?: ChainNameCache,
): FamilyServicePort | undefined {
  const { info } = entry;
  let clusterIP: string | undefined;
  for (const ip of info.clusterIPs) {
    clusterIP = canonicalIp(ip, family);
    if (clusterIP !== undefined) break;
  }
  if (clusterIP === undefined) return undefined;

  const name = info.key;
  const protocol = info.protocol.toLowerCase();
  const endpoints: FamilyEndpoint[] = [];
  let sorted = true;
  for (const ep of entry.endpoints) {
    const ip = canonicalIp(ep.ip, family);
    if (ip === undefined || !(ep.port > 0)) continue;
    const text = family === 'IPv6' ? `[${ip}]:${ep.port}` : `${ip}:${ep.port}`;
    let chain: string | undefined;
    if (sepCache) {
      const cacheKey = `${name}\u0000${protocol}\u0000${text}`;
      chain = sepCache.get(cacheKey);
      if (chain === undefined) {
        chain = endpointChainName(name, protocol, text);
        sepCache.set(cacheKey, chain);
      }
    } else {
      chain = endpointChainName(name, protocol, text);
    }
    const fe: FamilyEndpoint = { endpoint: ep, ip, text, chain };
    const prev = endpoints[endpoints.length - 1];
    if (prev && prev.text > text) sorted = false;
    endpoints.push(fe);
  }
  // kube-proxy keeps each service port's endpoints sorted by their `ip:port` text.
  if (!sorted) endpoints.sort(byText);

  let sourceRanges: ParsedCidr[] = [];
  for (const r of info.loadBalancerSourceRanges) {
    const cidr = parseCidr(r.trim());
    if (cidr && cidr.family === family) sourceRanges.push(cidr);
  }
  // kube-proxy reads a zero-masked range (0.0.0.0/0, ::/0) as "allow any": no firewall chain.
  if (sourceRanges.some(isZeroCidr)) sourceRanges = [];

  const externalIPs = canonicalList(info.externalIPs, family);
  const loadBalancerVIPs = canonicalList(info.loadBalancerVIPs, family);
  // kube-proxy's per-family service info only holds addresses of its family, and everything
  // derived from it (externally accessible, policies) sees those filtered lists.
  const sameLists =
    externalIPs.length === info.externalIPs.length &&
    loadBalancerVIPs.length === info.loadBalancerVIPs.length;
  return {
    info: sameLists ? info : { ...info, externalIPs, loadBalancerVIPs },
    name,
    service: `${info.name.namespace}/${info.name.name}`,
    protocol,
    clusterIP,
    externalIPs,
    loadBalancerVIPs,
    sourceRanges,
    chains: serviceChainNames(name, protocol),
    endpoints,
    familyOf: familyLookup(endpoints),
  };
}
