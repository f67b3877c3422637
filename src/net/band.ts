/**
 * The two-band value set behind the ClusterIP and NodePort allocators (KEP-3070, KEP-3668): the
 * lower band (the first `offset` values) is kept for values users request; dynamic allocation
 * draws from the upper band first and falls back to the lower band only when the upper is full.
 *
 * @module
 */
import type { Rng } from '../core/random';

const TWO_POW_32 = 4294967296;

/** A uniform bigint in [0, n) drawn from `rng` (n >= 1), exact for any size. */
export function randomBigInt(rng: Rng, n: bigint): bigint {
  if (n <= BigInt(TWO_POW_32)) return BigInt(rng.int(Number(n)));
  const bits = n.toString(2).length;
  const words = Math.ceil(bits / 32);
  const mask = (1n << BigInt(bits)) - 1n;
  // Rejection sampling over the smallest power of two >= n: at most 2 draws expected.
  for (;;) {
    let x = 0n;
    for (let i = 0; i < words; i++) x = (x << 32n) | BigInt(rng.int(TWO_POW_32));
    x &= mask;
    if (x < n) return x;
  }
}

/**
 * A set of taken values over the inclusive range [first, last], split at `first + offset`.
 * Sparse (a `Set`), so a /64 costs memory only for what is taken.
 */
export class BandedSet {
  private readonly taken = new Set<bigint>();
  private takenLower = 0;
  /** First value of the upper (dynamic) band. */
  readonly upperStart: bigint;

  constructor(
    readonly first: bigint,
    readonly last: bigint,
    /** Size of the lower (static) band; 0 means one band. */
    readonly offset: bigint,
  ) {
    this.upperStart = first + offset;
  }

  /** Number of values in the range (0 when last < first). */
  get size(): bigint {
    return this.last >= this.first ? this.last - this.first + 1n : 0n;
  }

  get used(): number {
    return this.taken.size;
  }

  inRange(v: bigint): boolean {
    return v >= this.first && v <= this.last;
  }

  has(v: bigint): boolean {
    return this.taken.has(v);
  }

  /** Marks `v` taken; false when it already was. Caller checks {@link inRange}. */
  add(v: bigint): boolean {
    if (this.taken.has(v)) return false;
    this.taken.add(v);
    if (v < this.upperStart) this.takenLower++;
    return true;
  }

  /** Frees `v`; false when it was not taken. */
  delete(v: bigint): boolean {
    if (!this.taken.delete(v)) return false;
    if (v < this.upperStart) this.takenLower--;
    return true;
  }

  values(): IterableIterator<bigint> {
    return this.taken.values();
  }

  /**
   * Picks (without taking) a free value: a random start in the upper band, scanning forward with
   * wrap-around, then the same in the lower band. `undefined` when the range is full. Each scan step
   * past the start hits a taken value, so a scan costs at most (taken in that band + 1) steps.
   */
  pickFree(rng: Rng): bigint | undefined {
    const upperSize = this.size - this.offset;
    const upperTaken = BigInt(this.taken.size - this.takenLower);
    if (upperSize > 0n && upperTaken < upperSize) {
      return this.scan(this.upperStart, upperSize, randomBigInt(rng, upperSize));
    }
    if (this.offset > 0n && BigInt(this.takenLower) < this.offset) {
      return this.scan(this.first, this.offset, randomBigInt(rng, this.offset));
    }
    return undefined;
  }

  private scan(start: bigint, size: bigint, from: bigint): bigint | undefined {
    for (let i = 0n; i < size; i++) {
      const v = start + ((from + i) % size);
      if (!this.taken.has(v)) return v;
    }
    return undefined;
  }
}
