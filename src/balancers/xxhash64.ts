/**
 * xxHash64 (XXH64), the hash Envoy uses for ring-hash and Maglev host keys and request hashes.
 * Implemented on 32-bit halves so hashing a request key allocates nothing; {@link xxHash64}
 * wraps it for callers that want a `bigint`.
 *
 * @module
 */

// The five 64-bit primes of XXH64, as [high, low] 32-bit halves.
const P1H = 0x9e3779b1 | 0;
const P1L = 0x85ebca87 | 0;
const P2H = 0xc2b2ae3d | 0;
const P2L = 0x27d4eb4f;
const P3H = 0x165667b1;
const P3L = 0x9e3779f9 | 0;
const P4H = 0x85ebca77 | 0;
const P4L = 0xc2b2ae63 | 0;
const P5H = 0x27d4eb2f;
const P5L = 0x165667c5;

// All 32-bit halves are kept as SIGNED int32 values (`| 0`): V8 passes and stores those
// unboxed, while uint32 values above 2^31 become heap numbers, an allocation per operation.
// Results of the 64-bit helpers below as [high, low] (a typed array stores them unboxed too).
const R = new Int32Array(2);

/** High 32 bits of the unsigned 64-bit product of two 32-bit integers. */
function mulHi32(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const m1 = a1 * b0 + ((a0 * b0) >>> 16);
  const m2 = a0 * b1 + (m1 & 0xffff);
  return (a1 * b1 + (m1 >>> 16) + (m2 >>> 16)) | 0;
}

/** (aH:aL) * (bH:bL) mod 2^64 into R[0]!:R[1]!. */
function mul64(aH: number, aL: number, bH: number, bL: number): void {
  R[1] = Math.imul(aL, bL) | 0;
  R[0] = (mulHi32(aL, bL) + Math.imul(aH, bL) + Math.imul(aL, bH)) | 0;
}

/** (aH:aL) + (bH:bL) mod 2^64 into R[0]!:R[1]!. */
function add64(aH: number, aL: number, bH: number, bL: number): void {
  const lo = (aL >>> 0) + (bL >>> 0);
  R[1] = lo | 0;
  R[0] = (aH + bH + (lo > 0xffffffff ? 1 : 0)) | 0;
}

/** Rotate left by 0 < r < 32 into R[0]!:R[1]!. */
function rotl64(h: number, l: number, r: number): void {
  R[0] = (h << r) | (l >>> (32 - r)) | 0;
  R[1] = (l << r) | (h >>> (32 - r)) | 0;
}

/** XXH64 round: rotl(acc + lane * P2, 31) * P1, into R[0]!:R[1]!. */
function round(accH: number, accL: number, laneH: number, laneL: number): void {
  mul64(laneH, laneL, P2H, P2L);
  add64(accH, accL, R[0]!, R[1]!);
  rotl64(R[0]!, R[1]!, 31);
  mul64(R[0]!, R[1]!, P1H, P1L);
}

function readU32(b: Uint8Array, i: number): number {
  return (
    ((b[i] as number) |
      ((b[i + 1] as number) << 8) |
      ((b[i + 2] as number) << 16) |
      ((b[i + 3] as number) << 24)) >>>
    0
  );
}

let scratch = new Uint8Array(256);
const encoder = new TextEncoder();

/** UTF-8 bytes of `s` in a reused buffer; returns the byte length. ASCII takes the fast path. */
function encodeScratch(s: string): number {
  const n = s.length;
  if (scratch.length < n * 3) scratch = new Uint8Array(Math.max(n * 3, scratch.length * 2));
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) return encoder.encodeInto(s, scratch).written;
    scratch[i] = c;
  }
  return n;
}

/**
 * XXH64 of `input` (a string is hashed as its UTF-8 bytes) with a seed below 2^53, written to
 * `out` as `[low, high]` 32-bit halves. Allocates nothing for ASCII strings and byte arrays.
 */
export function xxHash64Into(input: string | Uint8Array, out: Uint32Array, seed = 0): void {
  let b: Uint8Array;
  let len: number;
  if (typeof input === 'string') {
    len = encodeScratch(input);
    b = scratch;
  } else {
    b = input;
    len = input.length;
  }
  const sL = seed | 0;
  const sH = Math.floor(seed / 4294967296) | 0;
  let hH: number;
  let hL: number;
  let p = 0;
  if (len >= 32) {
    add64(sH, sL, P1H, P1L);
    add64(R[0]!, R[1]!, P2H, P2L);
    let v1H = R[0]!;
    let v1L = R[1]!;
    add64(sH, sL, P2H, P2L);
    let v2H = R[0]!;
    let v2L = R[1]!;
    let v3H = sH;
    let v3L = sL;
    // seed - P1 == seed + (2^64 - P1)
    add64(sH, sL, ~P1H | 0, (~P1L + 1) | 0);
    let v4H = R[0]!;
    let v4L = R[1]!;
    const limit = len - 32;
    do {
      round(v1H, v1L, readU32(b, p + 4), readU32(b, p));
      v1H = R[0]!;
      v1L = R[1]!;
      round(v2H, v2L, readU32(b, p + 12), readU32(b, p + 8));
      v2H = R[0]!;
      v2L = R[1]!;
      round(v3H, v3L, readU32(b, p + 20), readU32(b, p + 16));
      v3H = R[0]!;
      v3L = R[1]!;
      round(v4H, v4L, readU32(b, p + 28), readU32(b, p + 24));
      v4H = R[0]!;
      v4L = R[1]!;
      p += 32;
    } while (p <= limit);
    rotl64(v1H, v1L, 1);
    hH = R[0]!;
    hL = R[1]!;
    rotl64(v2H, v2L, 7);
    add64(hH, hL, R[0]!, R[1]!);
    hH = R[0]!;
    hL = R[1]!;
    rotl64(v3H, v3L, 12);
    add64(hH, hL, R[0]!, R[1]!);
    hH = R[0]!;
    hL = R[1]!;
    rotl64(v4H, v4L, 18);
    add64(hH, hL, R[0]!, R[1]!);
    hH = R[0]!;
    hL = R[1]!;
    for (let k = 0; k < 4; k++) {
      const vH = k === 0 ? v1H : k === 1 ? v2H : k === 2 ? v3H : v4H;
      const vL = k === 0 ? v1L : k === 1 ? v2L : k === 2 ? v3L : v4L;
      round(0, 0, vH, vL);
      hH = (hH ^ R[0]!) | 0;
      hL = (hL ^ R[1]!) | 0;
      mul64(hH, hL, P1H, P1L);
      add64(R[0]!, R[1]!, P4H, P4L);
      hH = R[0]!;
      hL = R[1]!;
    }
  } else {
    add64(sH, sL, P5H, P5L);
    hH = R[0]!;
    hL = R[1]!;
  }
  add64(hH, hL, Math.floor(len / 4294967296) | 0, len | 0);
  hH = R[0]!;
  hL = R[1]!;
  while (p + 8 <= len) {
    round(0, 0, readU32(b, p + 4), readU32(b, p));
    hH = (hH ^ R[0]!) | 0;
    hL = (hL ^ R[1]!) | 0;
    rotl64(hH, hL, 27);
    mul64(R[0]!, R[1]!, P1H, P1L);
    add64(R[0]!, R[1]!, P4H, P4L);
    hH = R[0]!;
    hL = R[1]!;
    p += 8;
  }
  if (p + 4 <= len) {
    mul64(0, readU32(b, p), P1H, P1L);
    hH = (hH ^ R[0]!) | 0;
    hL = (hL ^ R[1]!) | 0;
    rotl64(hH, hL, 23);
    mul64(R[0]!, R[1]!, P2H, P2L);
    add64(R[0]!, R[1]!, P3H, P3L);
    hH = R[0]!;
    hL = R[1]!;
    p += 4;
  }
  while (p < len) {
    mul64(0, b[p] as number, P5H, P5L);
    hH = (hH ^ R[0]!) | 0;
    hL = (hL ^ R[1]!) | 0;
    rotl64(hH, hL, 11);
    mul64(R[0]!, R[1]!, P1H, P1L);
    hH = R[0]!;
    hL = R[1]!;
    p++;
  }
  // Avalanche: h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3; h ^= h >> 32.
  hL = (hL ^ (hH >>> 1)) | 0;
  mul64(hH, hL, P2H, P2L);
  hH = R[0]!;
  hL = (R[1]! ^ ((R[1]! >>> 29) | (R[0]! << 3))) | 0;
  hH = (hH ^ (hH >>> 29)) | 0;
  mul64(hH, hL, P3H, P3L);
  out[0] = (R[1]! ^ R[0]!) | 0;
  out[1] = R[0]!;
}

const bigOut = new Uint32Array(2);

/**
 * XXH64 of `input` (strings as UTF-8) as an unsigned 64-bit `bigint`. `seed` defaults to 0, the
 * seed Envoy's `HashUtil::xxHash64` uses; Maglev's skip uses seed 1.
 */
export function xxHash64(input: string | Uint8Array, seed: number | bigint = 0): bigint {
  const s = typeof seed === 'bigint' ? seed : BigInt(seed);
  if (s < 0n || s >= 1n << 53n) throw new RangeError(`xxHash64 seed must be in [0, 2^53), got ${seed}`);
  xxHash64Into(input, bigOut, Number(s));
  return ((BigInt(bigOut[1] as number) << 32n) | BigInt(bigOut[0] as number)) as bigint;
}
