/**
 * Pod IP allocation from a node's pod CIDR(s), as the CNI `host-local` IPAM plugin does it behind a
 * bridge (the model of the old docker0 bridge): the first address (network + 1) is the bridge's
 * gateway and never given to a pod; pods get addresses from network + 1 up to the last address
 * (the broadcast address excluded for IPv4), handed out round-robin from just after the last one
 * reserved. So a pod that is deleted and recreated gets a NEW address, while a service's cluster IP
 * stays the same for the service's whole life.
 *
 * @module
 */
import type { IPFamily, Node } from '../core/types';
import { Cidr } from './cidr';
import { AllocationError } from './errors';
import { formatIP, parseIP } from './ip';

/** One host-local range: one pod CIDR of one family. */
class HostLocalRange {
  readonly start: bigint;
  readonly end: bigint;
  readonly gateway: bigint;
  readonly taken = new Set<bigint>();
  /** host-local's "last reserved IP": the next scan starts just after it. */
  lastReserved: bigint | undefined;

  constructor(readonly cidr: Cidr) {
    this.start = cidr.network + 1n;
    this.end = cidr.family === 'IPv4' ? cidr.last - 1n : cidr.last;
    this.gateway = this.start;
  }

  get family(): IPFamily {
    return this.cidr.family;
  }

  contains(v: bigint): boolean {
    return v >= this.start && v <= this.end;
  }

  /** `10.244.1.1-10.244.1.254` */
  toString(): string {
    return `${formatIP(this.family, this.start)}-${formatIP(this.family, this.end)}`;
  }

  next(): bigint | undefined {
    const count = this.end - this.start + 1n;
    const from =
      this.lastReserved !== undefined && this.contains(this.lastReserved)
        ? this.lastReserved + 1n - this.start
        : 0n;
    // Each step past the first either hits a taken address or the gateway, so a scan is bounded
    // by the number of pods on the node + 2.
    for (let i = 0n; i < count; i++) {
      const v = this.start + ((from + i) % count);
      if (v !== this.gateway && !this.taken.has(v)) return v;
    }
    return undefined;
  }
}

/**
 * Host-local IPAM for one node: one range per pod CIDR (two for a dual-stack node). Not
 * thread-shared: keep one per node.
 */
export class PodIPAllocator {
  private readonly ranges: HostLocalRange[];

  /**
   * @param podCIDRs the node's `spec.podCIDRs` (or `spec.podCIDR`), primary first.
   * @throws Error for a bad CIDR, host bits set, a network too small (/31, /32, /127, /128: there
   *   is no address left beside the gateway), or two CIDRs of one family.
   */
  constructor(podCIDRs: string | readonly string[]) {
    const list = typeof podCIDRs === 'string' ? [podCIDRs] : [...podCIDRs];
    if (list.length === 0) throw new RangeError('no pod CIDR');
    this.ranges = list.map((text) => {
      const cidr = Cidr.parse(text);
      const given = parseIP(text.slice(0, text.indexOf('/')));
      if (given && given.value !== cidr.network) {
        throw new RangeError(
          `Network has host bits set. For a subnet mask of length ${cidr.prefixLength} the network address is ${formatIP(cidr.family, cidr.network)}`,
        );
      }
      if (cidr.hostBits < 2) throw new RangeError(`Network ${cidr.toString()} too small to allocate from`);
      return new HostLocalRange(cidr);
    });
    if (new Set(this.ranges.map((r) => r.family)).size !== this.ranges.length) {
      throw new RangeError('pod CIDRs must be of different IP families');
    }
  }

  /** The node's pod CIDRs from a Node object (`spec.podCIDRs`, else `spec.podCIDR`); may be empty. */
  static podCIDRsOf(node: Node): string[] {
    const cidrs = node.spec?.podCIDRs;
    if (cidrs && cidrs.length > 0) return [...cidrs];
    return node.spec?.podCIDR ? [node.spec.podCIDR] : [];
  }

  /** Families of the ranges, primary first. */
  get families(): IPFamily[] {
    return this.ranges.map((r) => r.family);
  }

  /** The bridge gateway (network + 1) of `family` (default primary). */
  gateway(family?: IPFamily): string {
    const r = this.rangeFor(family);
    return formatIP(r.family, r.gateway);
  }

  /**
   * Allocates one address per range (the pod's `podIPs`, primary first), each the first free one
   * after the last reserved. All-or-nothing: throws {@link AllocationError} `full`
   * (`no IP addresses available in range set: 10.244.1.1-10.244.1.254`) and keeps nothing.
   */
  allocate(): string[] {
    const picked: bigint[] = [];
    for (const r of this.ranges) {
      const v = r.next();
      if (v === undefined) {
        throw new AllocationError('full', `no IP addresses available in range set: ${r.toString()}`);
      }
      picked.push(v);
    }
    return this.ranges.map((r, i) => {
      const v = picked[i] as bigint;
      r.taken.add(v);
      r.lastReserved = v;
      return formatIP(r.family, v);
    });
  }

  /**
   * Reserves a requested address. Throws {@link AllocationError}: `not-in-range` (`10.0.0.5 not in
   * range set 10.244.1.1-10.244.1.254`, also for the gateway: `requested ip 10.244.1.1 is subnet's
   * gateway`) or `allocated` (`requested IP address 10.244.1.7 is not available in range set …`).
   */
  allocateIP(ip: string): void {
    const p = parseIP(ip);
    const sameFamily = p && this.ranges.find((x) => x.family === p.family);
    if (!p || !sameFamily?.contains(p.value)) {
      const set = sameFamily ? sameFamily.toString() : this.rangeSetString();
      throw new AllocationError('not-in-range', `${ip} not in range set ${set}`);
    }
    const r = sameFamily;
    if (p.value === r.gateway) {
      throw new AllocationError('not-in-range', `requested ip ${ip} is subnet's gateway`);
    }
    if (r.taken.has(p.value)) {
      throw new AllocationError(
        'allocated',
        `requested IP address ${ip} is not available in range set ${r.toString()}`,
      );
    }
    r.taken.add(p.value);
    r.lastReserved = p.value;
  }

  /**
   * Records an address already in use (a pod registered with its IP). Idempotent; returns false
   * (and records nothing) for an address outside the ranges, such as a host-network pod's node IP.
   * Does not move the round-robin position.
   */
  markAllocated(ip: string): boolean {
    const p = parseIP(ip);
    const r = p && this.ranges.find((x) => x.family === p.family && x.contains(p.value));
    if (!p || !r || p.value === r.gateway || r.taken.has(p.value)) return false;
    r.taken.add(p.value);
    return true;
  }

  /** Frees an address; a no-op (false) when not allocated. The round-robin position stays. */
  release(ip: string): boolean {
    const p = parseIP(ip);
    if (!p) return false;
    return this.ranges.find((x) => x.family === p.family)?.taken.delete(p.value) ?? false;
  }

  /** True when the address is allocated to a pod. */
  has(ip: string): boolean {
    const p = parseIP(ip);
    return p !== undefined && this.ranges.some((r) => r.family === p.family && r.taken.has(p.value));
  }

  /** Allocated addresses of all ranges. */
  used(): number {
    return this.ranges.reduce((n, r) => n + r.taken.size, 0);
  }

  /** Free addresses of `family` (default primary): range size, minus gateway, minus allocated. */
  free(family?: IPFamily): bigint {
    const r = this.rangeFor(family);
    return r.end - r.start + 1n - 1n - BigInt(r.taken.size);
  }

  /** `10.244.1.1-10.244.1.254,fd00:10:244:1::1-fd00:10:244:1::ffff` (host-local's RangeSet text). */
  rangeSetString(): string {
    return this.ranges.map((r) => r.toString()).join(',');
  }

  private rangeFor(family: IPFamily | undefined): HostLocalRange {
    const r = family ? this.ranges.find((x) => x.family === family) : this.ranges[0];
    if (!r) throw new AllocationError('family-not-configured', `${family} is not configured on this node`);
    return r;
  }
}
