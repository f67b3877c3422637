/**
 * NodePort allocation from `--service-node-port-range`, following the API server's allocator,
 * with the static band of KEP-3668. The shared-storage flow (candidate, transactional reservation,
 * `markAllocated` on conflict) is the same as for cluster IPs; see `cluster-ip`.
 *
 * @module
 */
import { mathRng, type Rng } from '../core/random';
import { BandedSet } from './band';
import { AllocationError, PORT_ALLOCATED_MESSAGE, portNotInRangeMessage, RANGE_FULL_MESSAGE } from './errors';
import { DEFAULT_NODE_PORT_RANGE, formatPortRange, type PortRange, parsePortRange } from './port-range';
import { nodePortStaticBandSize } from './range-offset';

/** Options of {@link NodePortAllocator}. */
export interface NodePortAllocatorOptions {
  /** Source of the random start of each dynamic scan; default `mathRng`. */
  rng?: Rng;
}

/**
 * Allocates node ports (also used for `healthCheckNodePort`). Every port of the range is
 * allocatable; the first {@link staticBandSize} ports are kept for requested ports: dynamic
 * allocation takes them only once the rest of the range is full.
 */
export class NodePortAllocator {
  /** The range, parsed. */
  readonly range: PortRange;
  /** Size of the static band, counted from the first port of the range (KEP-3668). */
  readonly staticBandSize: number;
  private readonly set: BandedSet;
  private readonly rng: Rng;

  /**
   * @param range `MIN-MAX` (default `30000-32767`) or a parsed range; a bad string throws
   *   `PortRangeParseError` with the API server's message.
   */
  constructor(range: string | PortRange = DEFAULT_NODE_PORT_RANGE, options: NodePortAllocatorOptions = {}) {
    this.range = typeof range === 'string' ? parsePortRange(range) : { base: range.base, size: range.size };
    this.rng = options.rng ?? mathRng;
    this.staticBandSize = nodePortStaticBandSize(this.range.size);
    const first = BigInt(this.range.base);
    this.set = new BandedSet(first, first + BigInt(this.range.size) - 1n, BigInt(this.staticBandSize));
  }

  /** Number of ports in the range. */
  get size(): number {
    return this.range.size;
  }

  /** `30000-32767`. */
  rangeString(): string {
    return formatPortRange(this.range);
  }

  /**
   * Reserves a requested port. Throws {@link AllocationError}: `not-in-range` (`provided port is not
   * in the valid range. The range of valid ports is 30000-32767`) or `allocated`.
   */
  allocate(port: number): void {
    this.requireInRange(port);
    if (!this.set.add(BigInt(port))) throw new AllocationError('allocated', PORT_ALLOCATED_MESSAGE);
  }

  /** Reserves a free port, upper band first. Throws {@link AllocationError} `full`. */
  allocateNext(): number {
    const v = this.set.pickFree(this.rng);
    if (v === undefined) throw new AllocationError('full', RANGE_FULL_MESSAGE);
    this.set.add(v);
    return Number(v);
  }

  /** Marks a port taken, idempotently; true when newly marked. Throws `not-in-range`. */
  markAllocated(port: number): boolean {
    this.requireInRange(port);
    return this.set.add(BigInt(port));
  }

  /** Frees a port; a no-op (false) when not allocated or outside the range. */
  release(port: number): boolean {
    return this.contains(port) && this.set.delete(BigInt(port));
  }

  /** True when the port is allocated. */
  has(port: number): boolean {
    return this.contains(port) && this.set.has(BigInt(port));
  }

  /** True when the port lies in the range. */
  contains(port: number): boolean {
    return Number.isInteger(port) && this.set.inRange(BigInt(port));
  }

  /** True when the port lies in the static band. */
  inStaticBand(port: number): boolean {
    return this.contains(port) && BigInt(port) < this.set.upperStart;
  }

  /** Number of allocated ports. */
  used(): number {
    return this.set.used;
  }

  /** Number of free ports. */
  free(): number {
    return this.range.size - this.set.used;
  }

  /** Allocated ports, in no particular order. */
  *allocated(): IterableIterator<number> {
    for (const v of this.set.values()) yield Number(v);
  }

  private requireInRange(port: number): void {
    if (!this.contains(port)) {
      throw new AllocationError('not-in-range', portNotInRangeMessage(this.rangeString()));
    }
  }
}
