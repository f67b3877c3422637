/**
 * `--probability` values as kube-proxy prints them: Go's `fmt.Sprintf("%0.10f", 1.0/float64(n))`.
 *
 * @module
 */

const DIGITS = 10;
const SCALE = 10n ** BigInt(DIGITS);
const cache: string[] = [];

/**
 * `1/n` with exactly ten decimals, rounded as Go rounds the float64 `1/n`: the exact quotient
 * decides, and a tie (only possible when `1/n` is exactly representable, n a power of two) goes
 * to the even digit. `Number.prototype.toFixed` rounds ties up, which differs at n = 2048.
 */
export function probability(n: number): string {
  if (!Number.isInteger(n) || n < 1)
    throw new RangeError(`probability: n must be a positive integer, got ${n}`);
  const hit = cache[n];
  if (hit !== undefined) return hit;
  const big = BigInt(n);
  let q = SCALE / big;
  const twiceRem = (SCALE % big) * 2n;
  if (twiceRem > big || (twiceRem === big && q % 2n === 1n)) q += 1n;
  const whole = q / SCALE;
  const frac = (q % SCALE).toString().padStart(DIGITS, '0');
  const text = `${whole}.${frac}`;
  if (n < 100_000) cache[n] = text;
  return text;
}
