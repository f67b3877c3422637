import { describe, expect, it } from 'vitest';
import { probability } from '../../../src/backends/iptables/probability';

/**
 * Go's `fmt.Sprintf("%0.10f", 1.0/float64(n))`, computed independently: the exact binary value
 * of the float64 quotient, rounded to ten decimals half to even (strconv's rule for exact ties).
 */
function goFormat(n: number): string {
  const f = 1 / n;
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, f);
  const bits = view.getBigUint64(0);
  const exp = Number((bits >> 52n) & 0x7ffn);
  const frac = bits & ((1n << 52n) - 1n);
  // f = mantissa / 2^shift exactly.
  const mantissa = exp === 0 ? frac : frac | (1n << 52n);
  const shift = BigInt(1075 - (exp === 0 ? 1 : exp));
  const scaled = mantissa * 10n ** 10n;
  let q = scaled >> shift;
  const rem = scaled - (q << shift);
  const half = 1n << (shift - 1n);
  if (rem > half || (rem === half && q % 2n === 1n)) q += 1n;
  const s = q.toString().padStart(11, '0');
  return `${s.slice(0, -10)}.${s.slice(-10)}`;
}

describe('probability against the float64 quotient Go formats', () => {
  it('agrees for every n up to 20,000 and at decimal ties', () => {
    const ns = [
      ...Array.from({ length: 20000 }, (_, i) => i + 1),
      10240,
      20480,
      51200,
      102400,
      2048 * 5 ** 4,
    ];
    const bad = ns
      .filter((n) => probability(n) !== goFormat(n))
      .map((n) => `${n}: ${probability(n)} vs ${goFormat(n)}`);
    expect(bad).toEqual([]);
  });
});
