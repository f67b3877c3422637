/**
 * Uniform random choice, the distribution kube-proxy's iptables mode produces: its chain of
 * `-m statistic --mode random --probability 1/(n-i)` rules gives every endpoint 1/n.
 *
 * @module
 */
import { mathRng, type Rng } from '../core/random';
import type { Endpoint } from '../core/snapshot';
import {
  type BalancerDeps,
  type EndpointPick,
  EndpointSetBalancer,
  frozenResults,
  type Picker,
  type PickResult,
} from './balancer';
import { configObject } from './config';

/** Wire name of {@link RandomBalancer}. */
export const RANDOM_POLICY = 'random';

/** Config of {@link RandomBalancer}: no options. */
export type RandomConfig = Record<string, never>;

/** Validates `{ random: {} }`'s inner object. */
export function parseRandomConfig(json: unknown, path = RANDOM_POLICY): RandomConfig {
  configObject(json, path, []);
  return {};
}

const TWO_32 = 4294967296;

const INV_TWO_32 = 1 / TWO_32;

/**
 * Picks uniformly at random; results are frozen objects shared per picker (no allocation per
 * pick). Maps a 32-bit draw `u` to `floor(u * n / 2^32)` and rejects the `2^32 mod n` draws that
 * would bias it (Lemire's method): exactly uniform for a 32-bit generator, multiplications only
 * (`u * n` < 2^42 and scaling by 2^-32 are exact in doubles).
 */
class RandomPicker implements Picker {
  private readonly n: number;
  private readonly threshold: number;

  constructor(
    private readonly results: readonly EndpointPick[],
    private readonly rng: Rng,
  ) {
    this.n = results.length;
    this.threshold = TWO_32 % results.length;
  }

  pick(): PickResult {
    for (;;) {
      const m = Math.floor(this.rng.next() * TWO_32) * this.n;
      const index = Math.floor(m * INV_TWO_32);
      if (m - index * TWO_32 >= this.threshold) return this.results[index] as EndpointPick;
    }
  }
}

/**
 * The default (unseeded) hot path. `Math.random()` costs several times a bare array index, so
 * this picker runs Marsaglia's xorshift128 inline on int32 fields (unboxed, no call, no
 * allocation), seeded from `Math.random()` when the picker is built; same unbiased mapping.
 * Used only when no generator was injected: an injected {@link Rng} drives every pick itself.
 */
class FastRandomPicker implements Picker {
  private readonly n: number;
  private readonly small: boolean;
  private readonly threshold: number;
  private x: number;
  private y: number;
  private z: number;
  private w: number;

  constructor(private readonly results: readonly EndpointPick[]) {
    this.n = results.length;
    this.small = results.length <= 65536;
    this.threshold = this.small ? 65536 % results.length : TWO_32 % results.length;
    const seed = () => Math.floor(Math.random() * TWO_32) | 0;
    this.x = seed();
    this.y = seed();
    this.z = seed();
    // xorshift128's state must not be all zero.
    this.w = seed() | 1;
  }

  pick(): PickResult {
    for (;;) {
      const t = this.x ^ (this.x << 11);
      this.x = this.y;
      this.y = this.z;
      this.z = this.w;
      this.w = (this.w ^ (this.w >>> 19) ^ (t ^ (t >>> 8))) | 0;
      if (this.small) {
        // n <= 2^16: Lemire on the top 16 bits, in integer arithmetic only.
        const m = (this.w >>> 16) * this.n;
        if ((m & 0xffff) >= this.threshold) return this.results[m >>> 16] as EndpointPick;
        continue;
      }
      const m = (this.w >>> 0) * this.n;
      const index = Math.floor(m * INV_TWO_32);
      if (m - index * TWO_32 >= this.threshold) return this.results[index] as EndpointPick;
    }
  }
}

/** Uniform random balancing (kube-proxy iptables mode). Ignores weights. */
export class RandomBalancer extends EndpointSetBalancer {
  readonly name = RANDOM_POLICY;
  private readonly rng: Rng;

  constructor(_config: RandomConfig = {}, deps: BalancerDeps = {}) {
    super();
    this.rng = deps.rng ?? mathRng;
  }

  protected build(eps: Endpoint[]): Picker {
    const results = frozenResults(eps);
    return this.rng === mathRng ? new FastRandomPicker(results) : new RandomPicker(results, this.rng);
  }
}
