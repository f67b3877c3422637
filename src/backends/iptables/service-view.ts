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

function byText(a: FamilyEndpoint, b: FamilyEndpoint): number {
  return a.text < b.text ? -1 : a.text > b.text ? 1 : 0;
}

/**
 * Maps categorised endpoints back to their family view. Categorisation keeps the order it was
 * given (the view's), so a single forward walk usually suffices; a map covers any other order.
 */
function familyLookup(endpoints: readonly FamilyEndpoint[]): FamilyServicePort['familyOf'] {
  let byEndpoint: Map<Endpoint, FamilyEndpoint> | undefined;
  const anyOrder = (subset: readonly Endpoint[]): FamilyEndpoint[] => {
    byEndpoint ??= new Map(endpoints.map((e) => [e.endpoint, e]));
    const out: FamilyEndpoint[] = [];
    for (const ep of subset) {
      const fe = byEndpoint.get(ep);
      if (fe) out.push(fe);
    }
    return out;
  };
  return (subset) => {
    if (subset === undefined) return [];
    const out: FamilyEndpoint[] = [];
    let j = 0;
    for (const ep of subset) {
      while (j < endpoints.length && endpoints[j]!.endpoint !== ep) j++;
      if (j === endpoints.length) return anyOrder(subset);
      out.push(endpoints[j++]!);
    }
    return out;
  };
}

/**
 * Chain names of `previous` (an earlier view of the same service port) by endpoint text, so that
 * an endpoint change re-hashes only the endpoints that are new: hashing dominates render time.
 */
function previousChains(
  previous: FamilyServicePort | undefined,
  name: string,
  protocol: string,
): ((text: string) => string | undefined) | undefined {
  // The hash covers the protocol, which a port may change while keeping its key.
  if (!sameHashInput(previous, name, protocol) || previous.endpoints.length === 0) return undefined;
  const eps = previous.endpoints;
  let byText: Map<string, string> | undefined;
  return (text) => {
    if (eps.length <= 16) return eps.find((e) => e.text === text)?.chain;
    byText ??= new Map(eps.map((e) => [e.text, e.chain]));
    return byText.get(text);
  };
}

/** The port's first cluster IP of `family`, canonical; kube-proxy ignores the port without one. */
function familyClusterIP(entry: ServicePortEntry, family: IpFamily): string | undefined {
  for (const ip of entry.info.clusterIPs) {
    const canonical = canonicalIp(ip, family);
    if (canonical !== undefined) return canonical;
  }
  return undefined;
}

function usablePort(ep: Endpoint): boolean {
  return ep.port > 0;
}

function sameHashInput(
  previous: FamilyServicePort | undefined,
  name: string,
  protocol: string,
): previous is FamilyServicePort {
  return previous !== undefined && previous.name === name && previous.protocol === protocol;
}

/**
 * Builds the family view of `entry`, or `undefined` when the port has no cluster IP of that
 * family (kube-proxy then does not track it at all for that family). `previous`, an earlier
 * view of the same port key, lends its chain names to whatever did not change.
 */
export function familyServicePort(
  entry: ServicePortEntry,
  family: IpFamily,
  previous?: FamilyServicePort,
): FamilyServicePort | undefined {
  const { info } = entry;
  const clusterIP = familyClusterIP(entry, family);
  if (clusterIP === undefined) return undefined;

  const name = info.key;
  const protocol = info.protocol.toLowerCase();
  const reuse = previousChains(previous, name, protocol);
  const endpoints: FamilyEndpoint[] = [];
  let sorted = true;
  for (const ep of entry.endpoints) {
    const ip = canonicalIp(ep.ip, family);
    if (ip === undefined || !usablePort(ep)) continue;
    const text = family === 'IPv6' ? `[${ip}]:${ep.port}` : `${ip}:${ep.port}`;
    const chain = reuse?.(text) ?? endpointChainName(name, protocol, text);
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
    chains: sameHashInput(previous, name, protocol) ? previous.chains : serviceChainNames(name, protocol),
    endpoints,
    familyOf: familyLookup(endpoints),
  };
}
