/**
 * ClusterIP allocation from one or two service CIDRs, following the API server's allocator.
 *
 * Shared-storage flow (etcd): allocators here are the local, synchronous view of what is taken.
 * To allocate across processes, the registry
 * 1. takes a candidate with `allocateNext()` (or `allocate(ip)` for a requested address);
 * 2. commits a reservation key for that address together with the Service, in one store
 *    transaction that requires the key to be absent;
 * 3. on a conflict (another host holds the key), leaves the candidate marked — it IS taken — and
 *    goes back to 1; on any other failure, calls `release(candidate)`;
 * 4. applies reservations seen in the watch stream with `markAllocated(ip)` (idempotent) and
 *    deletions with `release(ip)`, and rebuilds from a listing the same way after a restart.
 * Every step is O(1) or a short scan, so retries are cheap.
 *
 * @module
 */
import { mathRng, type Rng } from '../core/random';
import type { IPFamily } from '../core/types';
import { BandedSet } from './band';
import { Cidr } from './cidr';
import {
  AllocationError,
  familyNotConfiguredMessage,
  IP_ALLOCATED_MESSAGE,
  IP_NOT_IN_RANGE_MESSAGE,
  RANGE_FULL_MESSAGE,
} from './errors';
import { formatIP, type ParsedIP, parseIP } from './ip';
import { serviceIPStaticBandSize } from './range-offset';
import { MIN_IPV6_SERVICE_PREFIX } from './service-cidr';

/** Options of the cluster IP allocators. */
export interface ClusterIPAllocatorOptions {
  /** Source of the random start of each dynamic scan; default `mathRng`. */
  rng?: Rng;
}

/**
 * The allocator of one service CIDR (one family). Allocatable addresses: from network+1 to the last
 * address of the block, minus the broadcast address for IPv4 (IPv6 has none, so its last address is
 * allocatable). IPv6 blocks are not capped: since Kubernetes 1.33 the IPAddress-based allocator
 * uses the whole block (the older bitmap allocator used only the first 65536 addresses), and
 * prefixes shorter than /64 are refused.
 */
export class ClusterIPRange {
  /** The service CIDR, canonical. */
  readonly cidr: Cidr;
  /** Size of the static band (KEP-3070), counted from the first usable address. */
  readonly staticBandSize: number;
  private readonly set: BandedSet;
  private readonly rng: Rng;

  constructor(cidr: string | Cidr, options: ClusterIPAllocatorOptions = {}) {
    this.cidr = typeof cidr === 'string' ? Cidr.parse(cidr) : cidr;
    if (this.cidr.family === 'IPv6' && this.cidr.prefixLength < MIN_IPV6_SERVICE_PREFIX) {
      throw new RangeError(
        `shortest allowed prefix length for service CIDR is ${MIN_IPV6_SERVICE_PREFIX}, got ${this.cidr.prefixLength}`,
      );
    }
    this.rng = options.rng ?? mathRng;
    const first = this.cidr.network + 1n;
    const last = this.cidr.family === 'IPv4' ? this.cidr.last - 1n : this.cidr.last;
    this.staticBandSize = serviceIPStaticBandSize(this.cidr);
    this.set = new BandedSet(first, last, BigInt(this.staticBandSize));
  }

  /** `IPv4` or `IPv6`. */
  get family(): IPFamily {
    return this.cidr.family;
  }

  /** Number of allocatable addresses (IPv4: 2^h - 2, IPv6: 2^h - 1; 0 for /31, /32, /128). */
  get size(): bigint {
    return this.set.size;
  }

  /**
   * Reserves a requested address. Throws {@link AllocationError}: `not-in-range` (outside the
   * allocatable addresses, e.g. the network or broadcast address, or another family: `the provided
   * network does not match the current range`) or `allocated` (`provided IP is already allocated`).
   */
  allocate(ip: string): void {
    const v = this.requireInRange(ip);
    if (!this.set.add(v)) throw new AllocationError('allocated', IP_ALLOCATED_MESSAGE);
  }

  /**
   * Reserves a free address: random start in the upper band, scanning forward; the lower (static)
   * band only when the upper band is full. Throws {@link AllocationError} `full`.
   */
  allocateNext(): string {
    const v = this.set.pickFree(this.rng);
    if (v === undefined) throw new AllocationError('full', RANGE_FULL_MESSAGE);
    this.set.add(v);
    return formatIP(this.cidr.family, v);
  }

  /**
   * Marks an address taken without failing when it already is (rebuilding state from storage, or
   * learning that another host reserved it). Returns true when it was newly marked. Throws
   * `not-in-range` for an address this range cannot hold.
   */
  markAllocated(ip: string): boolean {
    return this.set.add(this.requireInRange(ip));
  }

  /** Frees an address; a no-op (false) when it is not allocated or not in this range. */
  release(ip: string): boolean {
    const p = parseIP(ip);
    return p !== undefined && this.containsParsed(p) && this.set.delete(p.value);
  }

  /** True when the address is allocated (a call to `allocate(ip)` would fail with `allocated`). */
  has(ip: string): boolean {
    const p = parseIP(ip);
    return p !== undefined && this.containsParsed(p) && this.set.has(p.value);
  }

  /** True when the address is one this range may hand out (in the block, not network/broadcast). */
  contains(ip: string): boolean {
    const p = parseIP(ip);
    return p !== undefined && this.containsParsed(p);
  }

  /** True when the address lies in the static band (the one kept for requested addresses). */
  inStaticBand(ip: string): boolean {
    const p = parseIP(ip);
    return p !== undefined && this.containsParsed(p) && p.value < this.set.upperStart;
  }

  /** Number of allocated addresses. */
  used(): number {
    return this.set.used;
  }

  /** Number of free addresses (`size - used()`; a bigint because IPv6 blocks exceed 2^53). */
  free(): bigint {
    return this.set.size - BigInt(this.set.used);
  }

  /**
   * The first usable address (network + 1), which the API server gives the `kubernetes` service in
   * `default`. It lies in the static band, so dynamic allocation does not take it early. Throws
   * RangeError for a block without usable addresses.
   */
  firstAddress(): string {
    if (this.set.size === 0n) throw new RangeError(`${this.cidr.toString()} has no usable addresses`);
    return formatIP(this.cidr.family, this.set.first);
  }

  /** Allocated addresses, in no particular order. */
  *allocated(): IterableIterator<string> {
    for (const v of this.set.values()) yield formatIP(this.cidr.family, v);
  }

  private containsParsed(p: ParsedIP): boolean {
    return p.family === this.cidr.family && this.set.inRange(p.value);
  }

  private requireInRange(ip: string): bigint {
    const p = parseIP(ip);
    if (p === undefined || !this.containsParsed(p)) {
      throw new AllocationError('not-in-range', IP_NOT_IN_RANGE_MESSAGE);
    }
    return p.value;
  }
}

/**
 * Cluster IP allocation for a single-stack or dual-stack cluster: one {@link ClusterIPRange} per
 * family behind one object. The first CIDR's family is the cluster's primary family (the default
 * of `spec.ipFamilies`). Requested addresses are routed to the range of their family.
 */
export class ClusterIPAllocator {
  /** Family of the first CIDR. */
  readonly primaryFamily: IPFamily;
  private readonly ranges = new Map<IPFamily, ClusterIPRange>();

  /**
   * @param cidrs one CIDR, or two of different families (`'10.96.0.0/12'`,
   *   `['10.96.0.0/12', 'fd00:10:96::/112']`, or the comma-separated flag form).
   * @throws Error with the API server's message when the configuration is invalid.
   */
  constructor(cidrs: string | readonly string[], options: ClusterIPAllocatorOptions = {}) {
    const list = typeof cidrs === 'string' ? cidrs.split(',').map((s) => s.trim()) : [...cidrs];
    if (list.length === 0 || list.length > 2) {
      throw new RangeError('--service-cluster-ip-range must contain one or two entries');
    }
    for (const text of list) {
      const range = new ClusterIPRange(text, options);
      if (this.ranges.has(range.family)) {
        throw new RangeError(
          '--service-cluster-ip-range[0] and --service-cluster-ip-range[1] must be of different IP family',
        );
      }
      this.ranges.set(range.family, range);
    }
    this.primaryFamily = this.ranges.keys().next().value as IPFamily;
  }

  /** Configured families, primary first. */
  get families(): IPFamily[] {
    return [...this.ranges.keys()];
  }

  /** True when both families are configured. */
  get dualStack(): boolean {
    return this.ranges.size === 2;
  }

  /** True when a range of `family` is configured. */
  hasFamily(family: IPFamily): boolean {
    return this.ranges.has(family);
  }

  /** The range of `family`; throws `family-not-configured`. */
  forFamily(family: IPFamily): ClusterIPRange {
    const r = this.ranges.get(family);
    if (!r) throw new AllocationError('family-not-configured', familyNotConfiguredMessage(family));
    return r;
  }

  /** The service CIDRs, primary first, canonical. */
  cidrs(): string[] {
    return [...this.ranges.values()].map((r) => r.cidr.toString());
  }

  /**
   * Reserves a requested address in the range of its family. Throws {@link AllocationError}
   * (`not-in-range` also for text that is not an IP; `family-not-configured` when no range of the
   * address's family exists).
   */
  allocate(ip: string): void {
    this.rangeOf(ip).allocate(ip);
  }

  /** Reserves a free address of `family` (default: primary). See {@link ClusterIPRange.allocateNext}. */
  allocateNext(family: IPFamily = this.primaryFamily): string {
    return this.forFamily(family).allocateNext();
  }

  /** See {@link ClusterIPRange.markAllocated}. */
  markAllocated(ip: string): boolean {
    return this.rangeOf(ip).markAllocated(ip);
  }

  /** Frees an address (no-op, false, when not allocated or outside every range). */
  release(ip: string): boolean {
    const family = parseIP(ip)?.family;
    return family !== undefined && (this.ranges.get(family)?.release(ip) ?? false);
  }

  /** True when the address is allocated. */
  has(ip: string): boolean {
    const family = parseIP(ip)?.family;
    return family !== undefined && (this.ranges.get(family)?.has(ip) ?? false);
  }

  /** True when some configured range may hand out the address. */
  contains(ip: string): boolean {
    const family = parseIP(ip)?.family;
    return family !== undefined && (this.ranges.get(family)?.contains(ip) ?? false);
  }

  /** Allocated addresses of one family, or of all. */
  used(family?: IPFamily): number {
    if (family) return this.forFamily(family).used();
    let n = 0;
    for (const r of this.ranges.values()) n += r.used();
    return n;
  }

  /** Free addresses of one family, or of all. */
  free(family?: IPFamily): bigint {
    if (family) return this.forFamily(family).free();
    let n = 0n;
    for (const r of this.ranges.values()) n += r.free();
    return n;
  }

  /** First usable address of `family` (default primary): the `kubernetes` service's cluster IP. */
  firstAddress(family: IPFamily = this.primaryFamily): string {
    return this.forFamily(family).firstAddress();
  }

  private rangeOf(ip: string): ClusterIPRange {
    const p = parseIP(ip);
    if (!p) throw new AllocationError('not-in-range', IP_NOT_IN_RANGE_MESSAGE);
    return this.forFamily(p.family);
  }
}
