/** Renders what the resolver serves as an RFC 1035 zone file (for inspection or other servers). */
import { RRType } from './constants';
import type { DnsRecord } from './records';
import type { DnsResolver } from './resolver';

/**
 * The cluster zone as a zone file: SOA, NS, `dns-version` TXT, then per service (sorted) its
 * A/AAAA, CNAME, SRV and endpoint records exactly as the resolver answers them. Reverse (PTR)
 * records live in other zones and are not included.
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
  return `${lines.join('\n')}\n`;
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
