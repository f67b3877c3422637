/**
 * Turns a {@link PickContext} into the 64-bit request hash that ring-hash and Maglev look up,
 * as `[low, high]` 32-bit halves, without allocating for `number` hashes and ASCII keys.
 *
 * @module
 */
import type { Rng } from '../core/random';
import type { Endpoint } from '../core/snapshot';
import { type PickContext, resolveWeights } from './balancer';
import { xxHash64Into } from './xxhash64';

const TWO_32 = 4294967296;

/**
 * Writes the request hash to `out` (`[low, high]`): `ctx.hash` when set, else xxHash64 of
 * `ctx.hashKey`, else a random 64-bit value — Envoy's behaviour when a request yields no hash,
 * which makes a hashing policy act as random. A non-finite `number` hash counts as 0; other
 * numbers are truncated and their magnitude used; a `bigint` is taken modulo 2^64.
 */
export function requestHash(ctx: PickContext | undefined, rng: Rng, out: Uint32Array): void {
  const h = ctx?.hash;
  if (typeof h === 'number') {
    const v = Number.isFinite(h) ? Math.trunc(Math.abs(h)) : 0;
    out[0] = v >>> 0;
    out[1] = Math.floor(v / TWO_32) >>> 0;
    return;
  }
  if (typeof h === 'bigint') {
    const v = BigInt.asUintN(64, h);
    out[0] = Number(v & 0xffffffffn);
    out[1] = Number(v >> 32n);
    return;
  }
  if (ctx?.hashKey !== undefined) {
    xxHash64Into(ctx.hashKey, out);
    return;
  }
  out[0] = rng.int(TWO_32);
  out[1] = rng.int(TWO_32);
}

/**
 * `x mod m` for integers `0 <= x < 2^52` and `1 <= m < 2^26`, exact, without the float modulo
 * (a libm call) that `%` compiles to once `x` leaves the int32 range.
 */
export function modSafe(x: number, m: number): number {
  let r = x - Math.floor(x / m) * m;
  // The quotient may round across an integer; one correction step restores the exact remainder.
  if (r < 0) r += m;
  else if (r >= m) r -= m;
  return r;
}

/**
 * `(high * 2^32 + low) mod m` for `m` below 2^26, exact in doubles; `twoPow32ModM` is
 * `2^32 mod m`, precomputed by the caller.
 */
export function mod64(
  low: number,
  high: number,
  m: number,
  twoPow32ModM: number = modSafe(TWO_32, m),
): number {
  return modSafe(modSafe(high, m) * twoPow32ModM + modSafe(low, m), m);
}

/** Which string identifies an endpoint on a hash ring or Maglev table. */
export type HostKeySource = 'address' | 'hostname';

/**
 * The string Envoy hashes for a host: its address as `ip:port` (`[ip]:port` for IPv6, which is
 * {@link Endpoint.key}), or with `hostname` its hostname (falling back to the address when the
 * endpoint has none).
 */
export function hostKey(e: Endpoint, source: HostKeySource): string {
  return source === 'hostname' && e.hostname ? e.hostname : e.key;
}

/** A host as the hash policies place it: its key (per `source`) and its resolved weight. */
export interface HashedHost {
  readonly key: string;
  readonly weight: number;
}

/** The hosts a ring-hash or Maglev table is built from, in endpoint order. */
export function hashedHosts(endpoints: readonly Endpoint[], source: HostKeySource): HashedHost[] {
  const weights = resolveWeights(endpoints);
  return endpoints.map((e, i) => ({ key: hostKey(e, source), weight: weights[i] as number }));
}
