/**
 * Randomness, injectable and seedable. Every random choice in svcroute (balancers, allocators,
 * shuffles) draws from an {@link Rng} so tests can fix the seed and check distributions.
 *
 * @module
 */

/** A source of uniform random numbers. */
export interface Rng {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n), unbiased, for 1 <= n <= 2^32. */
  int(n: number): number;
}

/** `Math.random`-backed generator: the default outside tests. */
export const mathRng: Rng = {
  next: () => Math.random(),
  int: (n) => Math.floor(Math.random() * n),
};

/**
 * A fast, seedable generator (sfc32, 128-bit state, seeded through splitmix32). Good statistical
 * quality for simulation and balancing; not for cryptography.
 */
export class SeededRng implements Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const split = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) | 0;
    };
    this.a = split();
    this.b = split();
    this.c = split();
    this.d = split();
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    // State words are kept as int32 (`| 0`) so V8 holds them unboxed; the bits, and therefore the
    // sequence, are the same as sfc32's unsigned arithmetic.
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  next(): number {
    return this.nextUint32() / 4294967296;
  }

  // -1 is never a valid n, so the first call (and every invalid n) goes through the range check.
  private lastN = -1;
  private lastLimit = 0;

  int(n: number): number {
    if (n !== this.lastN) {
      if (!(n >= 1 && n <= 4294967296)) throw new RangeError(`int(n) needs 1 <= n <= 2^32, got ${n}`);
      // Rejection sampling above the largest multiple of n removes the modulo bias of `x % n`.
      this.lastLimit = 4294967296 - (4294967296 % n);
      this.lastN = n;
    }
    for (;;) {
      const x = this.nextUint32();
      if (x < this.lastLimit) return x % n;
    }
  }
}

/** Fisher–Yates shuffle in place (all n! orders equally likely); returns `items`. */
export function shuffle<T>(items: T[], rng: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = items[i] as T;
    items[i] = items[j] as T;
    items[j] = t;
  }
  return items;
}
