/**
 * The little IP handling the renderer needs, with Go's `net` semantics as kube-proxy uses them
 * (`netutils.ParseIPSloppy` / `ParseCIDRSloppy`): IPv4 parts may carry leading zeros and stay
 * decimal, IPv4-mapped IPv6 addresses count as IPv4, output is the canonical text
 * (`net.IP.String()`), CIDRs are reduced to their network address.
 *
 * @module
 */
import ipaddr from 'ipaddr.js';

/** `IPv4` or `IPv6`, as Kubernetes spells IP families. */
export type IpFamily = 'IPv4' | 'IPv6';

/** A parsed address: canonical text, family and bytes. */
export interface ParsedIp {
  /** `IPv4` also for IPv4-mapped IPv6 input (`::ffff:a.b.c.d`), as Go's `net.IP.To4` sees it. */
  readonly family: IpFamily;
  /** Canonical text (`net.IP.String()`): IPv4 dotted decimal without leading zeros, IPv6 per RFC 5952. */
  readonly text: string;
  /** Network-order bytes: 4 for IPv4, 16 for IPv6. */
  readonly bytes: readonly number[];
}

/** A parsed CIDR, network address canonicalised. */
export interface ParsedCidr {
  /** Family of the address part. */
  readonly family: IpFamily;
  /** Canonical `network/prefix` text, host bits cleared (`10.1.2.3/8` becomes `10.0.0.0/8`). */
  readonly text: string;
  /** Network-order bytes of the network address (host bits zero): 4 for IPv4, 16 for IPv6. */
  readonly network: readonly number[];
  /** Prefix length in bits: 0–32 for IPv4, 0–128 for IPv6. */
  readonly prefix: number;
}

/** Four dot-separated decimal parts of 1–3 digits each, each ≤ 255 (leading zeros allowed). */
function parseV4(text: string): number[] | undefined {
  const parts: number[] = [];
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 46; // a virtual trailing '.'
    if (c >= 48 && c <= 57) {
      if (++digits > 3) return undefined;
      value = value * 10 + (c - 48);
    } else if (c === 46) {
      if (digits === 0 || value > 255 || parts.length === 4) return undefined;
      parts.push(value);
      value = 0;
      digits = 0;
    } else {
      return undefined;
    }
  }
  return parts.length === 4 ? parts : undefined;
}

/** Parses an IP like Go's sloppy parser; `undefined` when invalid. Surrounding spaces are invalid. */
export function parseIp(text: string): ParsedIp | undefined {
  const v4 = parseV4(text);
  if (v4) return { family: 'IPv4', text: v4.join('.'), bytes: v4 };
  if (!text.includes(':') || !ipaddr.IPv6.isValid(text)) return undefined;
  let addr: ipaddr.IPv6;
  try {
    addr = ipaddr.IPv6.parse(text);
  } catch {
    return undefined;
  }
  if (addr.zoneId) return undefined;
  if (addr.isIPv4MappedAddress()) {
    const b = addr.toIPv4Address().toByteArray();
    return { family: 'IPv4', text: b.join('.'), bytes: b };
  }
  return { family: 'IPv6', text: addr.toRFC5952String(), bytes: addr.toByteArray() };
}

/**
 * Whether `text` is an IPv4 address already in canonical form (no leading zeros), checked
 * without allocating: endpoint addresses nearly always are, and there are many of them.
 */
function isCanonicalV4(text: string): boolean {
  let parts = 0;
  let digits = 0;
  let value = 0;
  let leadingZero = false;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 46;
    if (c >= 48 && c <= 57) {
      if (digits === 1 && value === 0) leadingZero = true;
      value = value * 10 + (c - 48);
      digits++;
    } else if (c === 46) {
      if (digits === 0 || digits > 3 || value > 255 || leadingZero || ++parts > 4) return false;
      digits = 0;
      value = 0;
    } else {
      return false;
    }
  }
  return parts === 4;
}

/** Canonical text of `text` when it is an IP of `family`, else `undefined`. */
export function canonicalIp(text: string, family: IpFamily): string | undefined {
  if (family === 'IPv4' && isCanonicalV4(text)) return text;
  const ip = parseIp(text);
  return ip && ip.family === family ? ip.text : undefined;
}

/** Parses `ip/prefix` like Go's `ParseCIDRSloppy`; `undefined` when invalid. */
export function parseCidr(text: string): ParsedCidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIp(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(prefixText)) return undefined;
  // An IPv4-mapped IPv6 CIDR keeps IPv6 prefix semantics in Go; such input is too odd to keep.
  if (ip.family === 'IPv4' && text.slice(0, slash).includes(':')) return undefined;
  const prefix = Number.parseInt(prefixText, 10);
  const bits = ip.bytes.length * 8;
  if (prefix > bits) return undefined;
  const network = ip.bytes.map((b, i) => {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    return b & ((0xff << (8 - keep)) & 0xff);
  });
  const base = ip.family === 'IPv4' ? network.join('.') : ipaddr.fromByteArray([...network]).toString();
  return { family: ip.family, text: `${base}/${prefix}`, network, prefix };
}

/** Whether `cidr` contains `ip` (families must match). */
export function cidrContains(cidr: ParsedCidr, ip: ParsedIp): boolean {
  if (cidr.family !== ip.family) return false;
  for (let i = 0; i < cidr.network.length; i++) {
    const keep = Math.max(0, Math.min(8, cidr.prefix - i * 8));
    const mask = (0xff << (8 - keep)) & 0xff;
    if (((ip.bytes[i] ?? 0) & mask) !== cidr.network[i]) return false;
  }
  return true;
}

/** Whether an IP is a loopback address (127.0.0.0/8 or ::1). */
export function isLoopback(ip: ParsedIp): boolean {
  return ip.family === 'IPv4' ? ip.bytes[0] === 127 : ip.text === '::1';
}

/** Whether a CIDR covers the whole address space of its family (`0.0.0.0/0`, `::/0`). */
export function isZeroCidr(cidr: ParsedCidr): boolean {
  return cidr.prefix === 0;
}
