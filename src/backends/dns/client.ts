/**
 * The client side of cluster DNS: what a pod's `/etc/resolv.conf` says (kubelet's ClusterFirst
 * policy) and a resolver that applies the same search-list and ndots rules, so a program can
 * look up `backend-service` the way code inside namespace `my-ns` would.
 */
import { promises as dnsPromises } from 'node:dns';
import { DEFAULT_CLUSTER_ZONE } from './constants';
import { normalizeName } from './names';

/** kubelet's ndots for ClusterFirst pods. */
export const POD_NDOTS = 5;

/** What defines a pod's DNS configuration. */
export interface PodDnsConfig {
  /** The pod's namespace. */
  readonly namespace: string;
  /** Cluster domain (default `cluster.local`). */
  readonly zone?: string;
  /** Name servers (the cluster DNS service IP; `ip` or `ip:port`). */
  readonly nameservers: readonly string[];
  /** Extra search domains appended after the cluster ones (the node's, or `dnsConfig.searches`). */
  readonly extraSearches?: readonly string[];
  /** `ndots` (default 5). */
  readonly ndots?: number;
}

/** The search list kubelet writes: `<ns>.svc.<zone> svc.<zone> <zone>` then any extras. */
export function podSearchList(config: Pick<PodDnsConfig, 'namespace' | 'zone' | 'extraSearches'>): string[] {
  const zone = normalizeName(config.zone ?? DEFAULT_CLUSTER_ZONE);
  return [
    `${config.namespace}.svc.${zone}`,
    `svc.${zone}`,
    zone,
    ...(config.extraSearches ?? []).map(normalizeName),
  ];
}

/** A pod's `/etc/resolv.conf` as kubelet renders it for `dnsPolicy: ClusterFirst`. */
export function renderResolvConf(config: PodDnsConfig): string {
  const lines = [
    `search ${podSearchList(config).join(' ')}`,
    ...config.nameservers.map((ns) => `nameserver ${ns}`),
    `options ndots:${config.ndots ?? POD_NDOTS}`,
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * The absolute names a resolver tries for `name`, in order (glibc/musl rules): a name ending
 * in `.` is tried as is; one with at least `ndots` dots is tried as is first, then with each
 * search domain; otherwise the search domains come first and the bare name last.
 */
export function candidateNames(name: string, search: readonly string[], ndots: number = POD_NDOTS): string[] {
  if (name.endsWith('.')) return [normalizeName(name)];
  const bare = normalizeName(name);
  const searched = search.map((s) => `${bare}.${s}`);
  const dots = bare.split('.').length - 1;
  return dots >= ndots ? [bare, ...searched] : [...searched, bare];
}

/** One successful lookup: which candidate answered and with what. */
export interface PodLookupResult<T> {
  readonly name: string;
  readonly records: T;
}

/**
 * Resolves names with a pod's search rules against the configured name servers (Node's
 * `dns.Resolver`). NXDOMAIN, NODATA and REFUSED move on to the next candidate; other errors
 * (timeouts, SERVFAIL) are thrown.
 */
export class PodResolver {
  readonly search: readonly string[];
  readonly ndots: number;
  private readonly resolver: dnsPromises.Resolver;

  constructor(config: PodDnsConfig & { readonly timeoutMs?: number; readonly tries?: number }) {
    this.search = podSearchList(config);
    this.ndots = config.ndots ?? POD_NDOTS;
    this.resolver = new dnsPromises.Resolver({ timeout: config.timeoutMs ?? 2000, tries: config.tries ?? 2 });
    this.resolver.setServers([...config.nameservers]);
  }

  /** IPv4 addresses of `name` (first candidate with an answer). */
  resolve4(name: string): Promise<PodLookupResult<string[]>> {
    return this.first(name, (n) => this.resolver.resolve4(n));
  }

  /** IPv6 addresses of `name`. */
  resolve6(name: string): Promise<PodLookupResult<string[]>> {
    return this.first(name, (n) => this.resolver.resolve6(n));
  }

  /** SRV records of `name` (e.g. `_http._tcp.my-service`). */
  resolveSrv(name: string): Promise<PodLookupResult<import('node:dns').SrvRecord[]>> {
    return this.first(name, (n) => this.resolver.resolveSrv(n));
  }

  private async first<T>(name: string, lookup: (n: string) => Promise<T>): Promise<PodLookupResult<T>> {
    const tried = candidateNames(name, this.search, this.ndots);
    for (const candidate of tried) {
      try {
        return { name: candidate, records: await lookup(candidate) };
      } catch (err) {
        const code = (err as { code?: string }).code;
        // Like res_search: a candidate that does not exist (or is refused) moves on to the next one.
        if (code === 'ENOTFOUND' || code === 'ENODATA' || code === 'EREFUSED') continue;
        throw err;
      }
    }
    const err = new Error(`${name}: not found (tried ${tried.join(', ')})`) as Error & { code: string };
    err.code = 'ENOTFOUND';
    throw err;
  }
}
