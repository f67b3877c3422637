/**
 * Statistics helpers for testing randomized code with fixed seeds: Pearson's chi-square
 * statistic and its p-value (regularized incomplete gamma), critical values, and exact
 * enumeration of every outcome of a procedure driven by a small number of random choices.
 *
 * @module
 */
import type { Rng } from '../core/random';

/** Pearson's chi-square statistic of `observed` counts against `expected` counts (same length, expected > 0). */
export function chiSquareStatistic(observed: readonly number[], expected: readonly number[]): number {
  if (observed.length !== expected.length) throw new RangeError('observed and expected differ in length');
  let chi2 = 0;
  for (let i = 0; i < observed.length; i++) {
    const e = expected[i] as number;
    if (!(e > 0)) throw new RangeError(`expected[${i}] must be > 0, got ${e}`);
    const d = (observed[i] as number) - e;
    chi2 += (d * d) / e;
  }
  return chi2;
}

/** Expected counts for `total` draws split by `weights` (uniform when `weights` is a number of bins). */
export function expectedCounts(total: number, weights: number | readonly number[]): number[] {
  const w = typeof weights === 'number' ? new Array<number>(weights).fill(1) : [...weights];
  const sum = w.reduce((a, b) => a + b, 0);
  return w.map((x) => (total * x) / sum);
}

/** Natural log of the gamma function (Lanczos approximation, ~15 significant digits). */
function logGamma(x: number): number {
  const g = 7;
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const xm = x - 1;
  let a = c[0] as number;
  const t = xm + g + 0.5;
  for (let i = 1; i < g + 2; i++) a += (c[i] as number) / (xm + i);
  return 0.5 * Math.log(2 * Math.PI) + (xm + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Regularized upper incomplete gamma Q(s, x). */
function gammaQ(s: number, x: number): number {
  if (x <= 0) return 1;
  if (x < s + 1) {
    // Series for P(s, x), then Q = 1 - P.
    let sum = 1 / s;
    let term = sum;
    for (let n = 1; n < 1000; n++) {
      term *= x / (s + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-15) break;
    }
    return 1 - sum * Math.exp(-x + s * Math.log(x) - logGamma(s));
  }
  // Continued fraction (modified Lentz) for Q(s, x).
  const tiny = 1e-300;
  let b = x + 1 - s;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - s);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return Math.exp(-x + s * Math.log(x) - logGamma(s)) * h;
}

/** Upper-tail p-value of a chi-square statistic with `df` degrees of freedom. */
export function chiSquarePValue(statistic: number, df: number): number {
  if (!(df > 0)) throw new RangeError(`df must be > 0, got ${df}`);
  return gammaQ(df / 2, statistic / 2);
}

/** The statistic whose upper-tail p-value is `alpha` for `df` degrees of freedom (bisection). */
export function chiSquareCriticalValue(df: number, alpha: number): number {
  let lo = 0;
  let hi = Math.max(10, df * 10);
  while (chiSquarePValue(hi, df) > alpha) hi *= 2;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (chiSquarePValue(mid, df) > alpha) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Result of {@link chiSquareTest}. */
export interface ChiSquareResult {
  readonly statistic: number;
  readonly df: number;
  readonly pValue: number;
}

/** Goodness of fit of `observed` to `expected` counts with `observed.length - 1` degrees of freedom. */
export function chiSquareTest(observed: readonly number[], expected: readonly number[]): ChiSquareResult {
  const statistic = chiSquareStatistic(observed, expected);
  const df = observed.length - 1;
  return { statistic, df, pValue: chiSquarePValue(statistic, df) };
}

/**
 * Runs `procedure` once for every possible sequence of random choices and counts the results
 * by `key`. The procedure must draw only through `rng.int(n)` (not `next()`), with a bounded
 * number of draws; each complete path has probability prod(1/n_i), so for a procedure whose
 * draws have fixed ranges (like Fisher–Yates) equal counts mean equal probabilities. Throws
 * when more than `maxPaths` paths exist.
 */
export function enumerateOutcomes<T>(
  procedure: (rng: Rng) => T,
  key: (result: T) => string = (r) => JSON.stringify(r),
  maxPaths = 1_000_000,
): Map<string, number> {
  const counts = new Map<string, number>();
  // Depth-first over choice sequences: `script` holds the choices of the current path and
  // `ranges` the range each was drawn from; advance like an odometer from the last draw.
  const script: number[] = [];
  const ranges: number[] = [];
  let paths = 0;
  for (;;) {
    let depth = 0;
    const rng: Rng = {
      next: () => {
        throw new Error('enumerateOutcomes: the procedure must draw with rng.int(n)');
      },
      int: (n: number) => {
        if (depth < script.length) {
          if (ranges[depth] !== n)
            throw new Error('enumerateOutcomes: the procedure must be deterministic given its draws');
          return script[depth++] as number;
        }
        script.push(0);
        ranges.push(n);
        depth++;
        return 0;
      },
    };
    const result = procedure(rng);
    script.length = depth;
    ranges.length = depth;
    const k = key(result);
    counts.set(k, (counts.get(k) ?? 0) + 1);
    if (++paths > maxPaths) throw new Error(`enumerateOutcomes: more than ${maxPaths} paths`);
    let i = script.length - 1;
    while (i >= 0 && (script[i] as number) + 1 >= (ranges[i] as number)) i--;
    if (i < 0) return counts;
    script[i] = (script[i] as number) + 1;
    script.length = i + 1;
    ranges.length = i + 1;
  }
}
