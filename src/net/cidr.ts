/**
 * CIDR blocks: parsing, membership, size and indexed addresses.
 *
 * @module
 */
import type { IPFamily } from '../core/types';
import { ADDRESS_BITS, formatIP, type ParsedIP, parseIP } from './ip';

/** A parse failure of a CIDR string: `invalid CIDR address: TEXT`, as Go's `net.ParseCIDR`. */
export class CidrParseError extends Error {
  constructor(
    readonly input: string,
    /** What is wrong, for logs; the message itself is Go's `net.ParseCIDR` text. */
    readonly reason: string,
  ) {
    super(`invalid CIDR address: ${input}`);
    this.name = 'CidrParseError';
  }
}

/**
 * An immutable CIDR block. Host bits in the input are masked off (`10.0.0.7/24` is `10.0.0.0/24`),
 * as Go's `net.ParseCIDR` does for the network it returns.
 */
export class Cidr {
  /** First address of the block (all host bits zero). */
  readonly network: bigint;
  /** Last address of the block (all host bits one; the IPv4 broadcast address). */
  readonly last: bigint;

  private constructor(
    readonly family: IPFamily,
    network: bigint,
    readonly prefixLength: number,
  ) {
    const hostBits = BigInt(ADDRESS_BITS[family] - prefixLength);
    this.network = (network >> hostBits) << hostBits;
    this.last = this.network + (1n << hostBits) - 1n;
  }

  /** Parses `addr/prefix`; throws {@link CidrParseError}. */
  static parse(text: string): Cidr {
    const slash = text.indexOf('/');
    if (slash < 0) throw new CidrParseError(text, 'missing prefix length');
    const ip = parseIP(text.slice(0, slash));
    if (!ip) throw new CidrParseError(text, 'bad address');
    const prefixText = text.slice(slash + 1);
    const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : Number.NaN;
    if (!(prefix >= 0 && prefix <= ADDRESS_BITS[ip.family]))
      throw new CidrParseError(text, 'bad prefix length');
    return new Cidr(ip.family, ip.value, prefix);
  }

  /** Like {@link Cidr.parse} but returns `undefined` instead of throwing. */
  static tryParse(text: string): Cidr | undefined {
    try {
      return Cidr.parse(text);
    } catch {
      return undefined;
    }
  }

  /** Number of addresses in the block, network and broadcast included (2^hostBits). */
  get size(): bigint {
    return this.last - this.network + 1n;
  }

  /** Number of host bits (address width minus prefix length). */
  get hostBits(): number {
    return ADDRESS_BITS[this.family] - this.prefixLength;
  }

  /** True when `ip` (text or parsed) lies in the block and has the same family. */
  contains(ip: string | ParsedIP): boolean {
    const p = typeof ip === 'string' ? parseIP(ip) : ip;
    return p !== undefined && p.family === this.family && p.value >= this.network && p.value <= this.last;
  }

  /**
   * The address at `index` from the network address (index 0 is the network address), as
   * Kubernetes' `GetIndexedIP`; throws RangeError outside the block.
   */
  nth(index: bigint | number): string {
    const i = BigInt(index);
    if (i < 0n || i >= this.size) throw new RangeError(`index ${i} is out of range of ${this.toString()}`);
    return formatIP(this.family, this.network + i);
  }

  /** Canonical text, e.g. `10.96.0.0/12` or `fd00::/108`. */
  toString(): string {
    return `${formatIP(this.family, this.network)}/${this.prefixLength}`;
  }

  /** True when both blocks share at least one address. */
  overlaps(other: Cidr): boolean {
    return this.family === other.family && this.network <= other.last && other.network <= this.last;
  }
}

/** Family of a CIDR string, or `undefined` when it does not parse. */
export function cidrFamily(text: string): IPFamily | undefined {
  return Cidr.tryParse(text)?.family;
}

/** True when `ip` is inside `cidr` (both given as text); false if either does not parse. */
export function cidrContains(cidr: string, ip: string): boolean {
  return Cidr.tryParse(cidr)?.contains(ip) ?? false;
}

/**
 * Size of a block as Kubernetes' `RangeSize` reports it: 2^hostBits, except 0 for IPv4 /0-/1 and
 * IPv6 /0-/1 (an overflow guard upstream) and a cap at 2^63-1 for 63 or more host bits. Used only
 * for the static-band formula, where that exact behaviour matters.
 */
export function kubernetesRangeSize(cidr: Cidr): bigint {
  const hostBits = cidr.hostBits;
  const width = ADDRESS_BITS[cidr.family];
  if ((width === 32 && hostBits >= 31) || (width === 128 && hostBits >= 127)) return 0n;
  if (hostBits >= 63) return (1n << 63n) - 1n;
  return 1n << BigInt(hostBits);
}
