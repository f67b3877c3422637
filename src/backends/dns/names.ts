/** Name helpers shared by the resolver, the zone-file renderer and the client helpers. */
import { isIP } from 'node:net';

/** Lowercases a domain name and drops one trailing dot (`Foo.Cluster.Local.` → `foo.cluster.local`). */
export function normalizeName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** True when `name` equals `zone` or lies below it; both normalised. */
export function isInZone(name: string, zone: string): boolean {
  return (
    name === zone ||
    (name.length > zone.length && name.endsWith(zone) && name[name.length - zone.length - 1] === '.')
  );
}

/**
 * The DNS label of an endpoint, as CoreDNS derives it: the endpoint's `hostname` when set,
 * otherwise its IP with `.` (IPv4) or `:` (IPv6) replaced by `-`.
 */
export function endpointHostname(ip: string, hostname: string | undefined): string {
  if (hostname) return hostname;
  if (ip.includes('.')) return ip.replaceAll('.', '-');
  if (ip.includes(':')) return ip.replaceAll(':', '-');
  return '';
}

/**
 * The IP a pod label names (`1-2-3-4` → `1.2.3.4`; anything else has `-` read as `:`), the way
 * CoreDNS parses `<ip>.<ns>.pod.<zone>`; undefined when the result is not an IP.
 */
export function podLabelToIP(label: string): string | undefined {
  const dashes = label.split('-').length - 1;
  const ip = dashes === 3 && !label.includes('--') ? label.replaceAll('-', '.') : label.replaceAll('-', ':');
  return isIP(ip) ? ip : undefined;
}

/** The `in-addr.arpa` / `ip6.arpa` name of an IP address (for PTR queries). */
export function reverseName(ip: string): string {
  if (isIP(ip) === 4) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  const nibbles = expandIPv6(ip).replaceAll(':', '').split('').reverse();
  return `${nibbles.join('.')}.ip6.arpa`;
}

/** The address a reverse name stands for, or '' when the name is not a complete reverse name. */
export function addressFromReverse(name: string): string {
  if (name.endsWith('.in-addr.arpa')) {
    const parts = name.slice(0, -'.in-addr.arpa'.length).split('.');
    if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255))
      return '';
    return parts.reverse().join('.');
  }
  if (name.endsWith('.ip6.arpa')) {
    const parts = name.slice(0, -'.ip6.arpa'.length).split('.');
    if (parts.length !== 32 || !parts.every((p) => /^[0-9a-f]$/.test(p))) return '';
    const hex = parts.reverse().join('');
    const groups: string[] = [];
    for (let i = 0; i < 32; i += 4) groups.push(hex.slice(i, i + 4));
    return canonicalIP(groups.join(':'));
  }
  return '';
}

/**
 * Drops leading zeros from the octets of a dotted IPv4 address (`010.001.0.07` → `10.1.0.7`).
 * Kubernetes still accepts such legacy addresses in objects and reads them as decimal; CoreDNS
 * strips the zeros when it loads Services, EndpointSlices and Pods, so they resolve. Anything
 * else is returned unchanged.
 */
export function stripLeadingZerosIPv4(ip: string): string {
  if (ip.includes(':')) return ip;
  const octets = ip.split('.');
  if (octets.length !== 4) return ip;
  return octets.map((o) => o.replace(/^0+(?=.)/, '')).join('.');
}

/** Canonical text form of an IP (IPv6 compressed and lowercase) so map lookups agree. */
export function canonicalIP(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  const groups = expandIPv6(ip)
    .split(':')
    .map((g) => g.replace(/^0+(?=.)/, ''));
  // RFC 5952: compress the longest run (≥ 2) of zero groups, the first when tied.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return groups.join(':');
  return `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLen).join(':')}`;
}

/** Eight 4-digit hex groups of an IPv6 address (embedded IPv4 tails converted). */
function expandIPv6(ip: string): string {
  let text = ip.toLowerCase();
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1]) {
    const o = v4[1].split('.').map(Number);
    const hi = (((o[0] ?? 0) << 8) | (o[1] ?? 0)).toString(16);
    const lo = (((o[2] ?? 0) << 8) | (o[3] ?? 0)).toString(16);
    text = `${text.slice(0, -v4[1].length)}${hi}:${lo}`;
  }
  const [head = '', tail] = text.split('::');
  const headParts = head ? head.split(':') : [];
  const tailParts = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : new Array<string>(8 - headParts.length - tailParts.length).fill('0');
  return [...headParts, ...fill, ...tailParts].map((g) => g.padStart(4, '0')).join(':');
}
