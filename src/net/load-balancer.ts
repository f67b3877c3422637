/**
 * LoadBalancer services: the provider interface (the part of a cloud controller that answers a
 * `type: LoadBalancer` request) and a pool provider that hands out addresses from configured ranges,
 * as MetalLB does on bare metal.
 *
 * Without a provider, a registry leaves `status.loadBalancer` empty: the service stays "pending",
 * exactly as in a cluster with no cloud controller. The service still gets its cluster IP and,
 * unless `allocateLoadBalancerNodePorts: false`, its node ports.
 *
 * @module
 */
import type { IPFamily, LoadBalancerIngress, Service } from '../core/types';
import { Cidr } from './cidr';
import { formatIP, parseIP } from './ip';

/**
 * Answers LoadBalancer requests. The registry calls {@link ensure} when a `LoadBalancer` service is
 * created or changed and writes the result to `status.loadBalancer.ingress`; it calls
 * {@link release} when the service is deleted or its type changes away from `LoadBalancer`. Both
 * may be asynchronous (a real cloud API); both must be idempotent, since the registry may repeat
 * them after a failure or a restart.
 */
export interface LoadBalancerProvider {
  /** Name for logs and events, e.g. `pool`. */
  readonly name: string;
  /**
   * Whether this provider is responsible for the service; a provider normally answers services
   * without `spec.loadBalancerClass` or with its own class. Absent means all services.
   */
  handles?(service: Service): boolean;
  /**
   * Creates or updates the load balancer and returns its ingress points. Throws
   * {@link LoadBalancerError} (or rejects) when it cannot; the service then stays pending.
   */
  ensure(service: Service): LoadBalancerIngress[] | Promise<LoadBalancerIngress[]>;
  /** Deletes the load balancer of the service (no-op when it has none). */
  release(service: Service): void | Promise<void>;
}

/** A provider could not satisfy a request; `message` says why, naming the address. */
export class LoadBalancerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LoadBalancerError';
  }
}

/** One contiguous block of a pool: inclusive bounds. */
interface PoolBlock {
  readonly family: IPFamily;
  readonly first: bigint;
  readonly last: bigint;
}

/**
 * Parses a pool entry: a CIDR (`192.0.2.0/28`) or an inclusive range (`192.0.2.10-192.0.2.20`), as
 * MetalLB's `IPAddressPool.spec.addresses`. Throws {@link LoadBalancerError}.
 */
function parsePoolEntry(entry: string): PoolBlock {
  const text = entry.trim();
  const dash = text.indexOf('-');
  if (dash >= 0) {
    const a = parseIP(text.slice(0, dash).trim());
    const b = parseIP(text.slice(dash + 1).trim());
    if (!a || !b) throw new LoadBalancerError(`invalid address range ${JSON.stringify(entry)}`);
    if (a.family !== b.family) {
      throw new LoadBalancerError(`invalid address range ${JSON.stringify(entry)}: mixed IP families`);
    }
    if (b.value < a.value) {
      throw new LoadBalancerError(`invalid address range ${JSON.stringify(entry)}: end is before start`);
    }
    return { family: a.family, first: a.value, last: b.value };
  }
  const cidr = Cidr.tryParse(text);
  if (!cidr) throw new LoadBalancerError(`invalid CIDR ${JSON.stringify(entry)} in address pool`);
  return { family: cidr.family, first: cidr.network, last: cidr.last };
}

/** Options of {@link PoolLoadBalancerProvider}. */
export interface PoolLoadBalancerProviderOptions {
  /** Address pool entries: CIDRs and `first-last` ranges, IPv4 and/or IPv6, in preference order. */
  pools: readonly string[];
  /**
   * Skip IPv4 addresses ending in `.0` or `.255` (MetalLB's `avoidBuggyIPs`, for clients that treat
   * them as network/broadcast addresses). Default false: as MetalLB, a CIDR pool hands out all its
   * addresses, since a LoadBalancer address is not on a shared subnet.
   */
  avoidBuggyIPs?: boolean;
  /**
   * The `spec.loadBalancerClass` this provider answers. Default: only services without a class (a
   * class names another implementation).
   */
  loadBalancerClass?: string;
  /** Provider name; default `pool`. */
  name?: string;
}

function serviceKey(service: Service): string {
  return `${service.metadata.namespace ?? 'default'}/${service.metadata.name}`;
}

function addressKey(family: IPFamily, value: bigint): string {
  return `${family}/${value}`;
}

/**
 * Hands out load balancer addresses from fixed pools (MetalLB-style). Each service gets one
 * address per IP family it needs (from `spec.ipFamilies`, else the family of its cluster IP, else
 * the first pool's family), the lowest free one in pool order. `spec.loadBalancerIP` is honoured:
 * it must lie in a pool and not belong to another service. An address stays with its service
 * across updates until {@link release}.
 */
export class PoolLoadBalancerProvider implements LoadBalancerProvider {
  readonly name: string;
  private readonly blocks: readonly PoolBlock[];
  private readonly avoidBuggyIPs: boolean;
  private readonly loadBalancerClass: string | undefined;
  /** address key → owner service key */
  private readonly owners = new Map<string, string>();
  /** service key → its address per family */
  private readonly byService = new Map<string, Map<IPFamily, bigint>>();

  /** @throws LoadBalancerError for a pool entry that does not parse. */
  constructor(options: PoolLoadBalancerProviderOptions) {
    this.name = options.name ?? 'pool';
    this.blocks = options.pools.map(parsePoolEntry);
    this.avoidBuggyIPs = options.avoidBuggyIPs ?? false;
    this.loadBalancerClass = options.loadBalancerClass;
  }

  handles(service: Service): boolean {
    return (service.spec.loadBalancerClass ?? undefined) === this.loadBalancerClass;
  }

  /**
   * Assigns (or confirms) the service's addresses and returns `[{ ip, ipMode: 'VIP' }, …]`. Throws
   * {@link LoadBalancerError}: `loadBalancerIP 203.0.113.9 is not in any address pool`,
   * `loadBalancerIP 192.0.2.1 is already allocated to service default/other`,
   * `no available IPs in the IPv4 address pools`, `no IPv6 address pool is configured`. On error the
   * service keeps what it had.
   */
  ensure(service: Service): LoadBalancerIngress[] {
    const key = serviceKey(service);
    const current = this.byService.get(key) ?? new Map<IPFamily, bigint>();
    const next = new Map<IPFamily, bigint>();
    const requested = service.spec.loadBalancerIP ? parseIP(service.spec.loadBalancerIP) : undefined;
    if (service.spec.loadBalancerIP && !requested) {
      throw new LoadBalancerError(`loadBalancerIP ${service.spec.loadBalancerIP} is not a valid IP address`);
    }
    const families = this.familiesFor(service, requested?.family);
    if (requested && !families.includes(requested.family)) {
      throw new LoadBalancerError(
        `loadBalancerIP ${service.spec.loadBalancerIP} is not of the service's IP families (${families.join(', ')})`,
      );
    }
    const optional = families.length === 2 && service.spec.ipFamilyPolicy === 'PreferDualStack';
    for (const family of families) {
      if (!this.blocks.some((b) => b.family === family)) {
        if (optional) continue;
        throw new LoadBalancerError(`no ${family} address pool is configured`);
      }
      if (requested && requested.family === family) {
        const ip = formatIP(family, requested.value);
        if (!this.inPool(family, requested.value)) {
          throw new LoadBalancerError(`loadBalancerIP ${ip} is not in any address pool`);
        }
        const owner = this.owners.get(addressKey(family, requested.value));
        if (owner !== undefined && owner !== key) {
          throw new LoadBalancerError(`loadBalancerIP ${ip} is already allocated to service ${owner}`);
        }
        next.set(family, requested.value);
        continue;
      }
      const held = current.get(family);
      if (held !== undefined && this.inPool(family, held)) {
        next.set(family, held);
        continue;
      }
      const free = this.lowestFree(family, next);
      if (free === undefined) throw new LoadBalancerError(`no available IPs in the ${family} address pools`);
      next.set(family, free);
    }
    for (const [family, v] of current) {
      if (next.get(family) !== v) this.owners.delete(addressKey(family, v));
    }
    for (const [family, v] of next) this.owners.set(addressKey(family, v), key);
    if (next.size === 0) this.byService.delete(key);
    else this.byService.set(key, next);
    return [...next].map(([family, v]) => ({ ip: formatIP(family, v), ipMode: 'VIP' as const }));
  }

  /** Frees the service's addresses (no-op when it holds none). */
  release(service: Service): void {
    const key = serviceKey(service);
    const held = this.byService.get(key);
    if (!held) return;
    for (const [family, v] of held) this.owners.delete(addressKey(family, v));
    this.byService.delete(key);
  }

  /** The service (`namespace/name`) holding `ip`, if any. */
  ownerOf(ip: string): string | undefined {
    const p = parseIP(ip);
    return p && this.owners.get(addressKey(p.family, p.value));
  }

  /** Number of addresses handed out. */
  used(): number {
    return this.owners.size;
  }

  private familiesFor(service: Service, requestedFamily: IPFamily | undefined): IPFamily[] {
    const fromSpec = service.spec.ipFamilies;
    if (fromSpec && fromSpec.length > 0) return [...fromSpec];
    const clusterIPFamily = service.spec.clusterIP ? parseIP(service.spec.clusterIP)?.family : undefined;
    const family = requestedFamily ?? clusterIPFamily ?? this.blocks[0]?.family ?? 'IPv4';
    return [family];
  }

  private inPool(family: IPFamily, v: bigint): boolean {
    return (
      this.blocks.some((b) => b.family === family && v >= b.first && v <= b.last) && !this.buggy(family, v)
    );
  }

  private buggy(family: IPFamily, v: bigint): boolean {
    if (!this.avoidBuggyIPs || family !== 'IPv4') return false;
    const low = v & 0xffn;
    return low === 0n || low === 0xffn;
  }

  private lowestFree(family: IPFamily, pending: Map<IPFamily, bigint>): bigint | undefined {
    for (const b of this.blocks) {
      if (b.family !== family) continue;
      // Each step past the first hits a taken or skipped address: bounded by the pool's use + 2.
      for (let v = b.first; v <= b.last; v++) {
        if (this.buggy(family, v) || this.owners.has(addressKey(family, v))) continue;
        if (pending.get(family) === v) continue;
        return v;
      }
    }
    return undefined;
  }
}

/** Number of addresses in a pool entry (for documentation tools and checks). */
export function poolEntrySize(entry: string): bigint {
  const b = parsePoolEntry(entry);
  return b.last - b.first + 1n;
}
