/**
 * The rendered zone file against the live resolver: every record in the file is one the
 * resolver answers for that owner name and type (compared through the resolver API), and every
 * service, port, endpoint and reverse name the resolver answers for appears in the file.
 */
import { describe, expect, it } from 'vitest';
import {
  DnsResolver,
  type DnsResolverOptions,
  type DnsSourceState,
  endpointHostname,
  formatRecord,
  RCode,
  RRType,
  renderZoneFile,
  reverseName,
} from '../../../src/backends/dns';
import { seedState, slice, state, svc } from './fixtures';

/** The seed cluster plus dual-stack and IPv6 endpoints, a slice without a service, and the DNS service. */
function richState(): DnsSourceState {
  const seed = seedState();
  const extra = state(
    [
      svc('kube-system', 'kube-dns', {
        type: 'ClusterIP',
        clusterIP: '10.96.0.10',
        clusterIPs: ['10.96.0.10'],
        ports: [
          { name: 'dns', protocol: 'UDP', port: 53 },
          { name: 'dns-tcp', protocol: 'TCP', port: 53 },
        ],
      }),
      svc('v6', 'web6', {
        type: 'ClusterIP',
        clusterIP: 'fd00::100',
        clusterIPs: ['fd00::100'],
        ports: [{ name: 'http', protocol: 'TCP', port: 80 }],
      }),
      svc('v6', 'headless6', {
        type: 'ClusterIP',
        clusterIP: 'None',
        clusterIPs: ['None'],
        ports: [{ name: 'grpc', protocol: 'TCP', port: 9000 }],
      }),
    ],
    [
      slice(
        'kube-system',
        'kube-dns',
        [{ addresses: ['127.0.0.53'], conditions: { ready: true } }],
        [
          { name: 'dns', protocol: 'UDP', port: 53 },
          { name: 'dns-tcp', protocol: 'TCP', port: 53 },
        ],
      ),
      slice(
        'v6',
        'headless6',
        [
          { addresses: ['fd00::1:2'], hostname: 'h-0', conditions: { ready: true } },
          { addresses: ['fd00::1:3'], conditions: { ready: true } },
        ],
        [{ name: 'grpc', protocol: 'TCP', port: 9000 }],
        'IPv6',
      ),
      slice('v6', 'gone', [{ addresses: ['fd00::9'], conditions: { ready: true } }], [{ port: 80 }], 'IPv6'),
    ],
  );
  return {
    services: new Map([...seed.services, ...extra.services]),
    endpointSlices: new Map([...seed.endpointSlices, ...extra.endpointSlices]),
    namespaces: new Set([...seed.namespaces, ...extra.namespaces]),
  };
}

interface ZoneLine {
  readonly owner: string;
  readonly type: string;
  readonly text: string;
}

function parseZone(text: string): ZoneLine[] {
  return text
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('$') && !l.startsWith(';'))
    .map((text) => {
      const [owner = '', , , type = ''] = text.split('\t');
      return { owner: owner.replace(/\.$/, ''), type, text };
    });
}

function answered(r: DnsResolver, name: string, type: string): string[] {
  const code = RRType[type as keyof typeof RRType];
  return r
    .resolve(name, code)
    .answers.filter((rec) => rec.name.toLowerCase() === name.toLowerCase() && rec.type === type)
    .map(formatRecord);
}

/** Owner names the state itself says the resolver should know, derived without the renderer. */
function expectedNames(s: DnsSourceState, zone: string): { forward: string[]; reverse: string[] } {
  const forward: string[] = [];
  const reverse: string[] = [];
  for (const service of s.services.values()) {
    const base = `${service.metadata.name}.${service.metadata.namespace}.svc.${zone}`;
    forward.push(base);
    for (const p of service.spec?.ports ?? [])
      if (p.name) forward.push(`_${p.name}._${(p.protocol ?? 'TCP').toLowerCase()}.${base}`);
    for (const ip of service.spec?.clusterIPs ?? []) if (ip !== 'None') reverse.push(reverseName(ip));
  }
  for (const [key, slices] of s.endpointSlices) {
    const [namespace, name] = key.split('/');
    for (const sl of slices)
      for (const ep of sl.endpoints ?? [])
        for (const ip of ep.addresses ?? []) {
          forward.push(`${endpointHostname(ip, ep.hostname)}.${name}.${namespace}.svc.${zone}`);
          reverse.push(reverseName(ip));
        }
  }
  return { forward, reverse };
}

const cases: [string, DnsResolverOptions][] = [
  ['without known server addresses', {}],
  ['with server addresses outside the endpoints (ns.dns glue)', { localIPs: ['10.0.0.53', 'fd00::53'] }],
  ['with the server behind kube-dns', { localIPs: ['127.0.0.53'] }],
  ['with another zone and TTL', { zone: 'example.internal', ttl: 30, localIPs: ['10.0.0.53'] }],
];

describe('renderZoneFile against the resolver', () => {
  for (const [title, options] of cases) {
    it(`lists only what the resolver answers, and all of it: ${title}`, () => {
      const s = richState();
      const r = new DnsResolver({ ...options, serial: () => 3 });
      r.update(s);
      const text = renderZoneFile(r);
      const lines = parseZone(text);
      expect(lines.length).toBeGreaterThan(10);

      // Every line is an answer of the resolver for its owner and type. The one exception is
      // the apex NS a server without known addresses does not answer, which a zone file needs.
      for (const line of lines) {
        if (line.type === 'NS' && !options.localIPs) {
          expect(r.resolve(r.zone, RRType.NS).answers).toEqual([]);
          expect(line.text).toBe(`${r.zone}.\t${r.ttl}\tIN\tNS\tns.dns.${r.zone}.`);
          continue;
        }
        expect(answered(r, line.owner, line.type), line.text).toContain(line.text);
      }
      // …and for each owner/type in the file, every record the resolver answers is there.
      const groups = new Set(lines.map((l) => `${l.owner}\t${l.type}`));
      for (const g of groups) {
        const [owner = '', type = ''] = g.split('\t');
        if (type === 'NS' && !options.localIPs) continue;
        for (const rec of answered(r, owner, type)) expect(text).toContain(rec);
      }

      // Every name the resolver answers for is an owner in the file.
      const owners = new Set(lines.map((l) => l.owner.toLowerCase()));
      const { forward, reverse } = expectedNames(s, r.zone);
      let forwardAnswered = 0;
      for (const name of forward) {
        const any = [RRType.A, RRType.AAAA, RRType.SRV].some((t) => {
          const a = r.resolve(name, t);
          return a.rcode === RCode.NOERROR && a.answers.length > 0;
        });
        if (!any) continue;
        forwardAnswered++;
        expect(owners, name).toContain(name.toLowerCase());
      }
      let reverseAnswered = 0;
      for (const name of reverse) {
        if (r.resolve(name, RRType.PTR).answers.length === 0) continue;
        reverseAnswered++;
        expect(owners, name).toContain(name);
        expect(answered(r, name, 'PTR').every((p) => text.includes(p))).toBe(true);
      }
      expect(forwardAnswered).toBeGreaterThan(15);
      expect(reverseAnswered).toBeGreaterThan(10);
      // Glue: ns.dns.<zone> has exactly the addresses the server answers for it.
      for (const type of ['A', 'AAAA']) {
        const glue = answered(r, `ns.dns.${r.zone}`, type);
        for (const g of glue) expect(text).toContain(g);
      }
    });
  }

  it('writes PTR records with the targets the server answers, in address order', () => {
    const r = new DnsResolver({ serial: () => 1, localIPs: ['10.0.0.53', 'fd00::53'] });
    r.update(richState());
    const text = renderZoneFile(r);
    expect(text).toContain('11.0.0.10.in-addr.arpa.\t5\tIN\tPTR\tredis-master.default.svc.cluster.local.');
    expect(text).toContain('11.0.0.127.in-addr.arpa.\t5\tIN\tPTR\tdb-0.db.my-ns.svc.cluster.local.');
    // Endpoints without a hostname go by their dashed IP.
    expect(text).toContain('12.0.0.127.in-addr.arpa.\t5\tIN\tPTR\t127-0-0-12.db.my-ns.svc.cluster.local.');
    expect(text).toContain(
      `${reverseName('fd00::1:3')}.\t5\tIN\tPTR\tfd00--1-3.headless6.v6.svc.cluster.local.`,
    );
    // A slice whose service is gone still answers its PTR, as in CoreDNS.
    expect(text).toContain(`${reverseName('fd00::9')}.\t5\tIN\tPTR\tfd00--9.gone.v6.svc.cluster.local.`);
    // Not-ready endpoints have none.
    expect(text).not.toContain('13.0.0.127.in-addr.arpa.');
    expect(text).toContain('ns.dns.cluster.local.\t5\tIN\tA\t10.0.0.53');
    expect(text).toContain('ns.dns.cluster.local.\t5\tIN\tAAAA\tfd00::53');

    const ptrOwners = parseZone(text)
      .filter((l) => l.type === 'PTR')
      .map((l) => l.owner);
    const v4 = ptrOwners.filter((o) => o.endsWith('.in-addr.arpa'));
    const v6 = ptrOwners.filter((o) => o.endsWith('.ip6.arpa'));
    expect(ptrOwners).toEqual([...v4, ...v6]);
    const v4Ips = v4.map((o) => o.split('.').slice(0, 4).reverse().map(Number));
    const numeric = (ip: number[]) => ip.reduce((acc, o) => acc * 256 + o, 0);
    expect(v4Ips.map(numeric)).toEqual([...v4Ips.map(numeric)].sort((a, b) => a - b));
    // Stable: the same state renders the same text.
    const again = new DnsResolver({ serial: () => 1, localIPs: ['10.0.0.53', 'fd00::53'] });
    again.update(richState());
    expect(renderZoneFile(again)).toBe(text);
  });

  it('leaves out PTR records when reverse zones are off', () => {
    const r = new DnsResolver({ reverseZones: false });
    r.update(seedState());
    expect(renderZoneFile(r)).not.toContain('arpa.');
  });
});
