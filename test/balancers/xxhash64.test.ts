import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { xxHash64, xxHash64Into } from '../../src/balancers/xxhash64';

// An independent, obviously-correct XXH64 on bigint, to cross-check the 32-bit-halves version.
const M = (1n << 64n) - 1n;
const P1 = 0x9e3779b185ebca87n;
const P2 = 0xc2b2ae3d27d4eb4fn;
const P3 = 0x165667b19e3779f9n;
const P4 = 0x85ebca77c2b2ae63n;
const P5 = 0x27d4eb2f165667c5n;
const rotl = (x: bigint, r: bigint) => ((x << r) | (x >> (64n - r))) & M;
const lane64 = (b: Uint8Array, i: number) => {
  let v = 0n;
  for (let k = 7; k >= 0; k--) v = (v << 8n) | BigInt(b[i + k]!);
  return v;
};
const lane32 = (b: Uint8Array, i: number) => {
  let v = 0n;
  for (let k = 3; k >= 0; k--) v = (v << 8n) | BigInt(b[i + k]!);
  return v;
};
const rnd = (acc: bigint, lane: bigint) => (rotl((acc + lane * P2) & M, 31n) * P1) & M;
function reference(b: Uint8Array, seed: bigint): bigint {
  let p = 0;
  let h: bigint;
  if (b.length >= 32) {
    let v1 = (seed + P1 + P2) & M;
    let v2 = (seed + P2) & M;
    let v3 = seed;
    let v4 = (seed - P1) & M;
    while (p + 32 <= b.length) {
      v1 = rnd(v1, lane64(b, p));
      v2 = rnd(v2, lane64(b, p + 8));
      v3 = rnd(v3, lane64(b, p + 16));
      v4 = rnd(v4, lane64(b, p + 24));
      p += 32;
    }
    h = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & M;
    for (const v of [v1, v2, v3, v4]) h = ((h ^ rnd(0n, v)) * P1 + P4) & M;
  } else {
    h = (seed + P5) & M;
  }
  h = (h + BigInt(b.length)) & M;
  for (; p + 8 <= b.length; p += 8) h = (rotl(h ^ rnd(0n, lane64(b, p)), 27n) * P1 + P4) & M;
  if (p + 4 <= b.length) {
    h = (rotl(h ^ ((lane32(b, p) * P1) & M), 23n) * P2 + P3) & M;
    p += 4;
  }
  for (; p < b.length; p++) h = (rotl(h ^ ((BigInt(b[p]!) * P5) & M), 11n) * P1) & M;
  h ^= h >> 33n;
  h = (h * P2) & M;
  h ^= h >> 29n;
  h = (h * P3) & M;
  h ^= h >> 32n;
  return h;
}

describe('xxHash64', () => {
  it('matches the values Envoy asserts for HashUtil::xxHash64', () => {
    expect(xxHash64('foo')).toBe(3728699739546630719n);
    expect(xxHash64('bar')).toBe(5234164152756840025n);
    expect(xxHash64('foo\nbar')).toBe(8917841378505826757n);
    expect(xxHash64('lyft')).toBe(4400747396090729504n);
    expect(xxHash64('')).toBe(17241709254077376921n);
  });

  it('matches the published XXH64 vectors (empty, one byte, 39 bytes, seeded)', () => {
    expect(xxHash64('')).toBe(0xef46db3751d8e999n);
    expect(xxHash64('a')).toBe(0xd24ec4f1a98c6e5bn);
    expect(xxHash64('abc')).toBe(0x44bc2cf5ad770999n);
    expect(xxHash64('Nobody inspects the spammish repetition')).toBe(0xfbcea83c8a378bf1n);
  });

  it('agrees with a bigint reference for every length 0..200 and several seeds', () => {
    const bytes = new Uint8Array(200);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + 7) & 0xff;
    for (const seed of [0, 1, 20141025, 2 ** 40 + 3]) {
      for (let n = 0; n <= 200; n++) {
        const b = bytes.subarray(0, n);
        expect(xxHash64(b, seed)).toBe(reference(b, BigInt(seed)));
      }
    }
  });

  it('hashes strings as UTF-8 (non-ASCII takes the encoder path)', () => {
    const s = 'héllo wörld ✓ 漢字 and a long enough tail to pass thirty-two bytes';
    expect(xxHash64(s)).toBe(reference(new TextEncoder().encode(s), 0n));
  });

  it('agrees with the reference on arbitrary byte strings (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.integer({ min: 0, max: 2 ** 31 }), (b, seed) => {
        expect(xxHash64(b, seed)).toBe(reference(b, BigInt(seed)));
      }),
      { numRuns: 300 },
    );
  });

  it('writes [low, high] halves without needing a bigint', () => {
    const out = new Uint32Array(2);
    xxHash64Into('foo', out);
    expect((BigInt(out[1]!) << 32n) | BigInt(out[0]!)).toBe(3728699739546630719n);
  });

  it('rejects seeds outside [0, 2^53)', () => {
    expect(() => xxHash64('x', -1)).toThrow(RangeError);
  });
});
