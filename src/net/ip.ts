/**
 * IP address parsing and integer arithmetic. Addresses are handled as `bigint` so that IPv4 and
 * IPv6 share one code path and IPv6 offsets never lose precision.
 *
 * @module
 */
import ipaddr from 'ipaddr.js';
import type { IPFamily } from '../core/types';

/** A parsed IP address: its family and its value as an unsigned integer. */
export interface ParsedIP {
  readonly family: IPFamily;
  readonly value: bigint;
}

/** Address width in bits per family. */
export const ADDRESS_BITS: Readonly<Record<IPFamily, number>> = { IPv4: 32, IPv6: 128 };

// Dotted decimal only: ipaddr.js's lenient IPv4 parser also accepts `10.1`, hex and octal forms,
// which Kubernetes never treats as addresses. Leading zeros are read as decimal, as Go's
// ParseIPSloppy (used throughout the API server) does.
const IPV4_DOTTED = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/**
 * Parses an IPv4 (dotted decimal) or IPv6 address. Returns `undefined` for anything else,
 * including IPv6 zone identifiers (`fe80::1%eth0`), which are not valid service addresses.
 */
export function parseIP(text: string): ParsedIP | undefined {
  const m = IPV4_DOTTED.exec(text);
  if (m) {
    let value = 0n;
    for (let i = 1; i <= 4; i++) {
      const octet = Number(m[i]);
      if (octet > 255) return undefined;
      value = (value << 8n) | BigInt(octet);
    }
    return { family: 'IPv4', value };
  }
  if (!text.includes(':') || text.includes('%') || !ipaddr.IPv6.isValid(text)) return undefined;
  const parts = ipaddr.IPv6.parse(text).parts;
  let value = 0n;
  for (const part of parts) value = (value << 16n) | BigInt(part);
  return { family: 'IPv6', value };
}

/** The family of `text`, or `undefined` when it is not an IP address. */
export function ipFamilyOf(text: string): IPFamily | undefined {
  return parseIP(text)?.family;
}

/**
 * Formats an address value in its canonical form: dotted decimal for IPv4, RFC 5952 (the form Go's
 * `net.IP.String()` prints: lower case, longest zero run compressed) for IPv6.
 */
export function formatIP(family: IPFamily, value: bigint): string {
  if (family === 'IPv4') {
    return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
  }
  const parts: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) parts.push(Number((value >> shift) & 0xffffn));
  return new ipaddr.IPv6(parts).toRFC5952String();
}

/** Canonical form of an address (`2001:DB8:0::1` → `2001:db8::1`), or `undefined` if invalid. */
export function canonicalIP(text: string): string | undefined {
  const ip = parseIP(text);
  return ip && formatIP(ip.family, ip.value);
}
