/**
 * `--probability` values as kube-proxy prints them: Go's `fmt.Sprintf("%0.10f", 1.0/float64(n))`.
 *
 * @module
 */

const DIGITS = 10;
const SCALE = 10n ** BigInt(DIGITS);
const cache: string[] = [];
const view = new DataView(new ArrayBuffer(8));

/**
 * `1/n` with exactly ten decimals, rounded as Go rounds the float64 `1/n`: from the exact binary
 * value of the quotient (not the rational 1/n: at n = 10240 the float lies just above the decimal
 * tie and Go rounds up), with an exact tie going to the even digit (n = 2048).
 * `Number.prototype.toFixed` rounds such ties up instead.
 */
export function probability(n: number): string {
  if (!Number.isInteger(n) || n < 1)
    throw new RangeError(`probability: n must be a positive integer, got ${n}`);
  const hit = cache[n];
  if (hit !== undefined) return hit;
  view.setFloat64(0, 1 / n);
  const bits = view.getBigUint64(0);
  const exponent = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  // The float is mantissa / 2^shift exactly (subnormals never occur for 1/n with n < 2^53).
  const mantissa = exponent === 0 ? fraction : fraction | (1n << 52n);
  const shift = BigInt(1075 - (exponent === 0 ? 1 : exponent));
  const scaled = mantissa * SCALE;
  let q = scaled >> shift;
  const rem = scaled - (q << shift);
  const half = 1n << (shift - 1n);
  if (rem > half || (rem === half && q % 2n === 1n)) q += 1n;
  const whole = q / SCALE;
  const frac = (q % SCALE).toString().padStart(DIGITS, '0');
  const text = `${whole}.${frac}`;
  if (n < 100_000) cache[n] = text;
  return text;
}
