import { describe, expect, it } from 'vitest';
import { SeededRng, shuffle } from '../../src/core/random';

describe('SeededRng', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const a = new SeededRng(42);
    const b = new SeededRng(42);
    const c = new SeededRng(43);
    const xs = Array.from({ length: 8 }, () => a.nextUint32());
    expect(Array.from({ length: 8 }, () => b.nextUint32())).toEqual(xs);
    expect(Array.from({ length: 8 }, () => c.nextUint32())).not.toEqual(xs);
  });

  it('int(n) is uniform (chi-square, 9 degrees of freedom)', () => {
    const rng = new SeededRng(7);
    const n = 10;
    const draws = 100_000;
    const counts = new Array<number>(n).fill(0);
    for (let i = 0; i < draws; i++) counts[rng.int(n)]!++;
    const expected = draws / n;
    const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    // p = 0.001 critical value for 9 df is 27.88
    expect(chi2).toBeLessThan(27.88);
  });

  it('rejects out-of-range n', () => {
    expect(() => new SeededRng(1).int(0)).toThrow(RangeError);
  });
});

describe('shuffle', () => {
  it('produces all 24 orders of 4 items equally often (exact enumeration, chi-square 23 df)', () => {
    const rng = new SeededRng(1234);
    const counts = new Map<string, number>();
    const rounds = 48_000;
    for (let i = 0; i < rounds; i++) {
      const k = shuffle([0, 1, 2, 3], rng).join('');
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    expect(counts.size).toBe(24);
    const expected = rounds / 24;
    let chi2 = 0;
    for (const c of counts.values()) chi2 += (c - expected) ** 2 / expected;
    // p = 0.001 critical value for 23 df is 49.73
    expect(chi2).toBeLessThan(49.73);
  });
});
