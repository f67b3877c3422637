import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../src/core/random';
import { IP_NOT_IN_RANGE_MESSAGE, ipNotInRangeMessage } from '../../src/net';
import { BandedSet, randomBigInt } from '../../src/net/band';

describe('randomBigInt', () => {
  it('stays in [0, n) for small and huge n', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 2n ** 130n }), fc.integer(), (n, seed) => {
        const rng = new SeededRng(seed);
        for (let i = 0; i < 5; i++) {
          const x = randomBigInt(rng, n);
          expect(x >= 0n && x < n).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('reaches values above 2^53 in a 2^64 range', () => {
    const rng = new SeededRng(1);
    const draws = Array.from({ length: 20 }, () => randomBigInt(rng, 2n ** 64n));
    expect(draws.some((x) => x > 2n ** 53n)).toBe(true);
  });
});

describe('BandedSet', () => {
  it('splits the range at the offset and counts each band', () => {
    const s = new BandedSet(10n, 19n, 4n); // lower 10-13, upper 14-19
    expect(s.size).toBe(10n);
    expect(s.upperStart).toBe(14n);
    const rng = new SeededRng(5);
    const picked: bigint[] = [];
    for (let i = 0; i < 10; i++) {
      const v = s.pickFree(rng);
      expect(v).toBeDefined();
      s.add(v as bigint);
      picked.push(v as bigint);
    }
    expect(picked.slice(0, 6).every((v) => v >= 14n)).toBe(true);
    expect(picked.slice(6).every((v) => v < 14n)).toBe(true);
    expect(s.pickFree(rng)).toBeUndefined();
    expect(s.delete(12n)).toBe(true);
    expect(s.pickFree(rng)).toBe(12n);
  });

  it('an empty range is always full', () => {
    expect(new BandedSet(5n, 4n, 0n).pickFree(new SeededRng(1))).toBeUndefined();
  });
});

describe('ipNotInRangeMessage', () => {
  it('gives the 1.33+ text whatever range it is given', () => {
    expect(ipNotInRangeMessage('10.96.0.0/12')).toBe(IP_NOT_IN_RANGE_MESSAGE);
    expect(IP_NOT_IN_RANGE_MESSAGE).toBe('the provided network does not match the current range');
  });
});
