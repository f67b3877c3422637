/**
 * Reads a Kubernetes resource quantity (`"4"`, `"3800m"`, `"1.5"`, `"2k"`, `"1Ki"`, `"5e2"`) as
 * a whole number of thousandths, rounded up, as apimachinery's `Quantity.MilliValue()` does.
 * Only the topology cache needs it (node allocatable CPU), hence its place here.
 *
 * @module
 */

const QUANTITY_RE = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?\d+))?$/;

/** Power of ten of each decimal SI suffix. */
const DECIMAL_SUFFIX_EXPONENT: Readonly<Record<string, number>> = {
  n: -9,
  u: -6,
  m: -3,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};

/** Power of 1024 of each binary SI suffix. */
const BINARY_SUFFIX_POWER: Readonly<Record<string, number>> = { Ki: 1, Mi: 2, Gi: 3, Ti: 4, Pi: 5, Ei: 6 };

/**
 * The quantity in thousandths, rounded up (away from zero for negatives, like apimachinery's
 * scaled values); 0 for an absent or unparsable quantity, which is what `Cpu()` reports for a
 * missing entry. A YAML number (`cpu: 4`) is read as its decimal text.
 */
export function milliValue(quantity: string | number | undefined): number {
  if (quantity === undefined) return 0;
  const m = QUANTITY_RE.exec(typeof quantity === 'number' ? String(quantity) : quantity.trim());
  if (!m) return 0;
  const [, sign, number = '0', suffix, exponentText] = m;
  const [whole = '', fraction = ''] = number.split('.');
  let numerator = BigInt(`${whole}${fraction}` || '0') * 1000n;
  let denominator = 10n ** BigInt(fraction.length);
  let exponent = 0;
  if (exponentText !== undefined) exponent = Number(exponentText);
  else if (suffix !== undefined && suffix in BINARY_SUFFIX_POWER)
    numerator *= 1024n ** BigInt(BINARY_SUFFIX_POWER[suffix] as number);
  else if (suffix !== undefined) exponent = DECIMAL_SUFFIX_EXPONENT[suffix] as number;
  if (exponent >= 0) numerator *= 10n ** BigInt(exponent);
  else denominator *= 10n ** BigInt(-exponent);
  const rounded = (numerator + denominator - 1n) / denominator;
  return Number(sign === '-' ? -rounded : rounded);
}
