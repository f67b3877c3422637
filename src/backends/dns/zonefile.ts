/** Renders what the resolver serves as an RFC 1035 zone file (for inspection or other servers). */
import { isIP } from 'node:net';
import { RRType } from './constants';
import { reverseName } from './names';
import type { DnsRecord } from './records';
import type { DnsResolver } from './resolver';

/**
 * The cluster zone as a zone file, every record exactly as the resolver answers it: SOA, NS,
 * the name server's glue (`ns.dns.<zone>` A/AAAA when the server knows its own addresses),
 * `dns-version` TXT, then per service (sorted by `namespace/name`) its A/AAAA, CNAME, SRV and
 * endpoint records, then the PTR records of the reverse zones (in-addr.arpa then ip6.arpa,
 * by address) for cluster IPs and endpoint IPs. Owner names are absolute, so the reverse
 * records keep their own zones. Pod records (answered on demand) are not listed.
 */
export function renderZoneFile(resolver: DnsResolver): string {
  const zone = resolver.zone;
  const lines: string[] = [`$ORIGIN ${zone}.`, `$TTL ${resolver.ttl}`];
  const seen = new Set<string>();
  const emit = (r: DnsRecord) => {
    const line = formatRecord(r);
    if (seen.has(line)) return;
    seen.add(line);
    lines.push(line);
  };
  emit(resolver.soa());
  const ns = resolver.resolve(zone, RRType.NS);
  // Without known server addresses the zone still needs its NS record (glue left out).
  if (ns.answers.length === 0) emit({ type: 'NS', name: zone, ttl: resolver.ttl, target: `ns.dns.${zone}` });
  for (const r of [...ns.answers, ...ns.additional]) emit(r);
  for (const type of [RRType.A, RRType.AAAA]) {
    for (const r of resolver.resolve(`ns.dns.${zone}`, type).answers) emit(r);
  }
  for (const r of resolver.resolve(`dns-version.${zone}`, RRType.TXT).answers) emit(r);
  for (const key of resolver.serviceKeys()) {
    lines.push(`; ${key}`);
    for (const name of resolver.namesOf(key)) {
      for (const type of [RRType.A, RRType.AAAA, RRType.SRV]) {
        const a = resolver.resolve(name, type);
        for (const r of a.answers) emit(r);
      }
    }
  }
  const reverse = resolver.reverseAddresses().sort(compareIPs);
  if (reverse.length > 0) lines.push('; reverse zones');
  for (const ip of reverse) {
    for (const r of resolver.resolve(reverseName(ip), RRType.PTR).answers) emit(r);
  }
  return `${lines.join('\n')}\n`;
}

/** IPv4 before IPv6, each in numeric order: the order of their reverse zones' contents. */
function compareIPs(a: string, b: string): number {
  const ka = ipSortKey(a);
  const kb = ipSortKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

function ipSortKey(ip: string): string {
  if (isIP(ip) === 4)
    return `4:${ip
      .split('.')
      .map((o) => o.padStart(3, '0'))
      .join('.')}`;
  // The nibble labels of the ip6.arpa name, least significant first: reversed, the full hex.
  const nibbles = reverseName(ip).split('.').slice(0, 32).reverse().join('');
  return `6:${nibbles}`;
}

/** One record in presentation format with an absolute owner name. */
export function formatRecord(r: DnsRecord): string {
  const head = `${r.name}.\t${r.ttl}\tIN\t${r.type}\t`;
  switch (r.type) {
    case 'A':
    case 'AAAA':
      return head + r.address;
    case 'CNAME':
    case 'PTR':
    case 'NS':
      return `${head}${r.target}.`;
    case 'SRV':
      return `${head}${r.priority} ${r.weight} ${r.port} ${r.target}.`;
    case 'TXT':
      return head + r.text.map((t) => JSON.stringify(t)).join(' ');
    case 'SOA':
      return `${head}${r.mname}. ${r.rname}. ${r.serial} ${r.refresh} ${r.retry} ${r.expire} ${r.minimum}`;
    case 'RAW':
      // RFC 3597 generic form: TYPEnnn \# length hex.
      return `${r.name}.\t${r.ttl}\tIN\tTYPE${r.rrtype}\t\\# ${r.rdata.length} ${Buffer.from(r.rdata).toString('hex')}`;
  }
}
