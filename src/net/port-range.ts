/**
 * Port ranges in the syntax of `--service-node-port-range`.
 *
 * @module
 */

/** Default `--service-node-port-range` of the API server. */
export const DEFAULT_NODE_PORT_RANGE = '30000-32767';

/** An inclusive range of ports: `base` .. `base + size - 1`. */
export interface PortRange {
  readonly base: number;
  readonly size: number;
}

/** A port range that does not parse; `message` is the API server's text. */
export class PortRangeParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PortRangeParseError';
  }
}

// Go's strconv.Atoi: optional sign, decimal digits, nothing else.
function atoi(text: string): number {
  if (!/^[+-]?\d+$/.test(text)) {
    throw new PortRangeParseError(`strconv.Atoi: parsing ${JSON.stringify(text)}: invalid syntax`);
  }
  const n = Number(text);
  if (!Number.isSafeInteger(n)) {
    throw new PortRangeParseError(`strconv.Atoi: parsing ${JSON.stringify(text)}: value out of range`);
  }
  return n;
}

/**
 * Parses `MIN-MAX` (inclusive), `MIN+OFFSET` or a single port, as apimachinery's `PortRange.Set`
 * (surrounding whitespace ignored; an empty string is the empty range). Throws
 * {@link PortRangeParseError} with upstream's messages:
 * `the port range cannot be greater than 65535: 30000-70000`,
 * `end port cannot be less than start port: 32767-30000`,
 * `unable to parse port range: 1-2+3`, `strconv.Atoi: parsing "a": invalid syntax`.
 */
export function parsePortRange(text: string): PortRange {
  const value = text.trim();
  if (value === '') return { base: 0, size: 0 };
  const hyphen = value.indexOf('-');
  const plus = value.indexOf('+');
  let low: number;
  let high: number;
  if (hyphen < 0 && plus < 0) {
    low = high = atoi(value);
  } else if (plus < 0) {
    low = atoi(value.slice(0, hyphen));
    high = atoi(value.slice(hyphen + 1));
  } else if (hyphen < 0) {
    low = atoi(value.slice(0, plus));
    high = low + atoi(value.slice(plus + 1));
  } else {
    throw new PortRangeParseError(`unable to parse port range: ${value}`);
  }
  if (low > 65535 || high > 65535) {
    throw new PortRangeParseError(`the port range cannot be greater than 65535: ${value}`);
  }
  if (high < low) throw new PortRangeParseError(`end port cannot be less than start port: ${value}`);
  return { base: low, size: 1 + high - low };
}

/** `30000-32767`; empty for the empty range (as upstream's `PortRange.String`). */
export function formatPortRange(range: PortRange): string {
  return range.size === 0 ? '' : `${range.base}-${range.base + range.size - 1}`;
}

/** True when `port` lies in the range. */
export function portRangeContains(range: PortRange, port: number): boolean {
  return Number.isInteger(port) && port >= range.base && port < range.base + range.size;
}
