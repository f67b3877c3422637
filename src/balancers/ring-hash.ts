/**
 * Ketama-style consistent hash ring, built exactly as Envoy's `ring_hash_lb.cc` builds it: each
 * host gets `scale * normalizedWeight` points hashed with xxHash64 of `"<key>_<i>"`, where
 * `scale = min(ceil(minWeight * minRingSize) / minWeight, maxRingSize)`; a request hash maps to
 * the first point at or after it, wrapping to the start. Pick is a binary search, O(log ring).
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
  type PickContext,
  type Picker,
  type PickResult,
} from './balancer';
import { BalancerConfigError, choiceField, configObject, numberField } from './config';
import { type HostKeySource, hashedHosts, requestHash } from './hash-input';
import { xxHash64Into } from './xxhash64';

/** Wire name of {@link RingHashBalancer}. */
export const RING_HASH_POLICY = 'ring_hash';
/** Envoy's `DefaultMinRingSize`. */
export const DEFAULT_MIN_RING_SIZE = 1024;
/** Envoy's `DefaultMaxRingSize` (8M), also the largest size its config accepts. */
export const DEFAULT_MAX_RING_SIZE = 8 * 1024 * 1024;

/** Config of {@link RingHashBalancer} (`{ ring_hash: { minimumRingSize: 1024 } }`). */
export interface RingHashConfig {
  /** Lower bound on ring points. Default {@link DEFAULT_MIN_RING_SIZE}. */
  readonly minimumRingSize?: number;
  /** Upper bound on ring points. Default and maximum {@link DEFAULT_MAX_RING_SIZE}. */
  readonly maximumRingSize?: number;
  /** Hash hosts by `address` (default) or `hostname` (Envoy's `use_hostname_for_hashing`). */
  readonly hostKey?: HostKeySource;
}

/** Validates the inner object of `{ ring_hash: {...} }`; rejects min > max with Envoy's wording. */
export function parseRingHashConfig(json: unknown, path = RING_HASH_POLICY): Required<RingHashConfig> {
  const o = configObject(json, path, ['minimumRingSize', 'maximumRingSize', 'hostKey']);
  const opts = { integer: true, min: 1, max: DEFAULT_MAX_RING_SIZE };
  const minimumRingSize = numberField(o, 'minimumRingSize', path, DEFAULT_MIN_RING_SIZE, opts);
  const maximumRingSize = numberField(o, 'maximumRingSize', path, DEFAULT_MAX_RING_SIZE, opts);
  if (minimumRingSize > maximumRingSize) {
    throw new BalancerConfigError(
      path,
      `minimum_ring_size (${minimumRingSize}) > maximum_ring_size (${maximumRingSize})`,
    );
  }
  return {
    minimumRingSize,
    maximumRingSize,
    hostKey: choiceField(o, 'hostKey', path, 'address', ['address', 'hostname']),
  };
}

/** A built ring: point hashes as 32-bit halves, sorted ascending, and the host index of each. */
export interface HashRing {
  readonly high: Uint32Array;
  readonly low: Uint32Array;
  readonly host: Uint32Array;
}

/**
 * Builds a ring for `hosts` (key and positive weight, in host-set order) the way Envoy does.
 * Throws on an empty host list.
 */
export function buildHashRing(
  hosts: readonly { readonly key: string; readonly weight: number }[],
  minRingSize = DEFAULT_MIN_RING_SIZE,
  maxRingSize = DEFAULT_MAX_RING_SIZE,
): HashRing {
  if (hosts.length === 0) throw new RangeError('hash ring needs at least one host');
  let sum = 0;
  for (const h of hosts) sum += h.weight;
  let minWeight = 1;
  const normalized = hosts.map((h) => {
    const w = (h.weight * 1.0) / sum;
    if (w < minWeight) minWeight = w;
    return w;
  });
  // Scale so the lightest host gets a whole number of points, capped by the maximum size.
  const scale = Math.min(Math.ceil(minWeight * minRingSize) / minWeight, maxRingSize);
  const hi: number[] = [];
  const lo: number[] = [];
  const owner: number[] = [];
  const out = new Uint32Array(2);
  let current = 0;
  let target = 0;
  for (let j = 0; j < hosts.length; j++) {
    const prefix = `${hosts[j]!.key}_`;
    target += scale * normalized[j]!;
    for (let i = 0; current < target; i++, current++) {
      xxHash64Into(prefix + i, out);
      lo.push(out[0]!);
      hi.push(out[1]!);
      owner.push(j);
    }
  }
  const idx = owner.map((_, i) => i);
  idx.sort((a, b) => hi[a]! - hi[b]! || lo[a]! - lo[b]! || a - b);
  const ring: HashRing = {
    high: Uint32Array.from(idx, (i) => hi[i]!),
    low: Uint32Array.from(idx, (i) => lo[i]!),
    host: Uint32Array.from(idx, (i) => owner[i]!),
  };
  return ring;
}

/**
 * Index of the ring point serving hash `high:low`: Envoy's port of ketama's search (first point
 * whose hash is >= the request hash, wrapping to point 0), including its edge cases.
 */
export function ringLookup(ring: HashRing, low: number, high: number): number {
  const size = ring.high.length;
  let lowp = 0;
  let highp = size;
  for (;;) {
    const midp = Math.floor((lowp + highp) / 2);
    if (midp === size) return 0;
    const mh = ring.high[midp]!;
    const ml = ring.low[midp]!;
    // h <= midval
    const leMid = high < mh || (high === mh && low <= ml);
    // h > midval1 (midval1 = 0 before the first point)
    const gtPrev =
      midp === 0
        ? high > 0 || low > 0
        : high > ring.high[midp - 1]! || (high === ring.high[midp - 1]! && low > ring.low[midp - 1]!);
    if (leMid && gtPrev) return midp;
    if (!leMid) lowp = midp + 1;
    else highp = midp - 1;
    if (lowp > highp) return 0;
  }
}

class RingHashPicker implements Picker {
  private readonly h = new Uint32Array(2);

  constructor(
    private readonly ring: HashRing,
    private readonly results: readonly EndpointPick[],
    private readonly rng: Rng,
  ) {}

  pick(ctx?: PickContext): PickResult {
    requestHash(ctx, this.rng, this.h);
    const point = ringLookup(this.ring, this.h[0] as number, this.h[1] as number);
    return this.results[this.ring.host[point] as number] as EndpointPick;
  }
}

/**
 * Ring-hash consistent hashing, Envoy-compatible (xxHash64 points). Requests carry their hash in
 * {@link PickContext.hash} or {@link PickContext.hashKey}; without either a pick is random.
 */
export class RingHashBalancer extends EndpointSetBalancer {
  readonly name = RING_HASH_POLICY;
  private readonly config: Required<RingHashConfig>;
  private readonly rng: Rng;
  private built: { ring: HashRing; endpoints: readonly Endpoint[] } | undefined;

  constructor(config: RingHashConfig = {}, deps: BalancerDeps = {}) {
    super();
    this.config = parseRingHashConfig(config);
    this.rng = deps.rng ?? mathRng;
  }

  protected override onEmpty(): void {
    this.built = undefined;
  }

  protected build(eps: Endpoint[]): Picker {
    const ring = buildHashRing(
      hashedHosts(eps, this.config.hostKey),
      this.config.minimumRingSize,
      this.config.maximumRingSize,
    );
    this.built = { ring, endpoints: eps };
    return new RingHashPicker(ring, frozenResults(eps), this.rng);
  }

  /** The current ring as `{hash, endpoint}` points in ring order (for inspection and tests). */
  ring(): { hash: bigint; endpoint: Endpoint }[] {
    const c = this.built;
    if (!c) return [];
    return Array.from(c.ring.host, (h, i) => ({
      hash: (BigInt(c.ring.high[i]!) << 32n) | BigInt(c.ring.low[i]!),
      endpoint: c.endpoints[h] as Endpoint,
    }));
  }
}
