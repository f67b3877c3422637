/**
 * The CoreDNS kubernetes plugin's own ServeDNS table (handler_test.go), replayed against the
 * resolver with the same cluster fixture: every answer, rcode, SRV weight and additional record
 * must match what CoreDNS returns for it.
 */
import { describe, expect, it } from 'vitest';
import { type DnsRecord, DnsResolver, RCode, RRType } from '../../../src/backends/dns';
import { slice, state, svc } from './fixtures';

const http = [{ name: 'http', protocol: 'TCP' as const, port: 80 }];

function coreDnsFixture(): DnsResolver {
  const r = new DnsResolver();
  r.update(
    state(
      [
        svc('testns', 'svc1', {
          type: 'ClusterIP',
          clusterIP: '10.0.0.1',
          clusterIPs: ['10.0.0.1'],
          ports: http,
        }),
        svc('testns', 'svcempty', {
          type: 'ClusterIP',
          clusterIP: '10.0.0.1',
          clusterIPs: ['10.0.0.1'],
          ports: http,
        }),
        svc('testns', 'svc6', {
          type: 'ClusterIP',
          clusterIP: '1234:abcd::1',
          clusterIPs: ['1234:abcd::1'],
          ports: http,
        }),
        svc('testns', 'hdls1', { type: 'ClusterIP', clusterIP: 'None', clusterIPs: ['None'] }),
        svc('testns', 'hdlsprtls', { type: 'ClusterIP', clusterIP: 'None', clusterIPs: ['None'] }),
        svc('testns', 'external', { type: 'ExternalName', externalName: 'ext.interwebs.test', ports: http }),
        svc('testns', 'external-to-service', {
          type: 'ExternalName',
          externalName: 'svc1.testns.svc.cluster.local.',
          ports: http,
        }),
        svc('testns', 'svc-dual-stack', {
          type: 'ClusterIP',
          clusterIP: '10.0.0.3',
          clusterIPs: ['10.0.0.3', '10::3'],
          ports: http,
        }),
      ],
      [
        slice('testns', 'svc1', [{ addresses: ['172.0.0.1'], hostname: 'ep1a' }], http),
        slice('testns', 'svcempty', [], http),
        slice(
          'testns',
          'hdls1',
          [
            { addresses: ['172.0.0.2'] },
            { addresses: ['172.0.0.3'] },
            { addresses: ['172.0.0.4'], hostname: 'dup-name' },
            { addresses: ['172.0.0.5'], hostname: 'dup-name' },
          ],
          http,
        ),
        slice(
          'testns',
          'hdls1',
          [{ addresses: ['5678:abcd::1'] }, { addresses: ['5678:abcd::2'] }],
          http,
          'IPv6',
        ),
        slice('testns', 'hdlsprtls', [{ addresses: ['172.0.0.20'] }], undefined),
      ],
    ),
  );
  return r;
}

/** Records in dig-like text, sorted, for order-insensitive comparison (CoreDNS's SortAndCheck). */
function text(records: readonly DnsRecord[]): string[] {
  return records
    .map((r) => {
      switch (r.type) {
        case 'A':
        case 'AAAA':
          return `${r.name} ${r.ttl} ${r.type} ${r.address}`;
        case 'SRV':
          return `${r.name} ${r.ttl} SRV ${r.priority} ${r.weight} ${r.port} ${r.target}`;
        case 'TXT':
          return `${r.name} ${r.ttl} TXT ${r.text.join(' ')}`;
        case 'SOA':
          return `${r.name} ${r.ttl} SOA ${r.mname} ${r.rname} ${r.refresh} ${r.retry} ${r.expire} ${r.minimum}`;
        case 'RAW':
          return `${r.name} ${r.ttl} TYPE${r.rrtype} ${Buffer.from(r.rdata).toString('hex')}`;
        default:
          return `${r.name} ${r.ttl} ${r.type} ${r.target}`;
      }
    })
    .sort();
}

const SOA = 'cluster.local 5 SOA ns.dns.cluster.local hostmaster.cluster.local 7200 1800 86400 5';
const Z = 'testns.svc.cluster.local';

interface Case {
  readonly q: string;
  readonly t: number;
  readonly rcode: number;
  readonly answer?: string[];
  readonly extra?: string[];
  readonly ns?: string[];
}

const cases: Case[] = [
  { q: `svc1.${Z}`, t: RRType.A, rcode: RCode.NOERROR, answer: [`svc1.${Z} 5 A 10.0.0.1`] },
  { q: `svcempty.${Z}`, t: RRType.A, rcode: RCode.NOERROR, answer: [`svcempty.${Z} 5 A 10.0.0.1`] },
  {
    q: `svc1.${Z}`,
    t: RRType.SRV,
    rcode: RCode.NOERROR,
    answer: [`svc1.${Z} 5 SRV 0 100 80 svc1.${Z}`],
    extra: [`svc1.${Z} 5 A 10.0.0.1`],
  },
  {
    q: `svc6.${Z}`,
    t: RRType.SRV,
    rcode: RCode.NOERROR,
    answer: [`svc6.${Z} 5 SRV 0 100 80 svc6.${Z}`],
    extra: [`svc6.${Z} 5 AAAA 1234:abcd::1`],
  },
  {
    q: `_http._tcp.svcempty.${Z}`,
    t: RRType.SRV,
    rcode: RCode.NOERROR,
    answer: [`_http._tcp.svcempty.${Z} 5 SRV 0 100 80 svcempty.${Z}`],
    extra: [`svcempty.${Z} 5 A 10.0.0.1`],
  },
  {
    q: `hdls1.${Z}`,
    t: RRType.A,
    rcode: RCode.NOERROR,
    answer: ['172.0.0.2', '172.0.0.3', '172.0.0.4', '172.0.0.5'].map((ip) => `hdls1.${Z} 5 A ${ip}`),
  },
  { q: `hdlsprtls.${Z}`, t: RRType.A, rcode: RCode.NOERROR, answer: [`hdlsprtls.${Z} 5 A 172.0.0.20`] },
  {
    q: `172-0-0-20.hdlsprtls.${Z}`,
    t: RRType.A,
    rcode: RCode.NOERROR,
    answer: [`172-0-0-20.hdlsprtls.${Z} 5 A 172.0.0.20`],
  },
  {
    q: `dup-name.hdls1.${Z}`,
    t: RRType.A,
    rcode: RCode.NOERROR,
    answer: [`dup-name.hdls1.${Z} 5 A 172.0.0.4`, `dup-name.hdls1.${Z} 5 A 172.0.0.5`],
  },
  {
    q: `_http._tcp.hdls1.${Z}`,
    t: RRType.SRV,
    rcode: RCode.NOERROR,
    answer: ['172-0-0-2', '172-0-0-3', '5678-abcd--1', '5678-abcd--2', 'dup-name'].map(
      (h) => `_http._tcp.hdls1.${Z} 5 SRV 0 16 80 ${h}.hdls1.${Z}`,
    ),
    extra: [
      `172-0-0-2.hdls1.${Z} 5 A 172.0.0.2`,
      `172-0-0-3.hdls1.${Z} 5 A 172.0.0.3`,
      `5678-abcd--1.hdls1.${Z} 5 AAAA 5678:abcd::1`,
      `5678-abcd--2.hdls1.${Z} 5 AAAA 5678:abcd::2`,
      `dup-name.hdls1.${Z} 5 A 172.0.0.4`,
      `dup-name.hdls1.${Z} 5 A 172.0.0.5`,
    ],
  },
  {
    q: `5678-abcd--2.hdls1.${Z}`,
    t: RRType.AAAA,
    rcode: RCode.NOERROR,
    answer: [`5678-abcd--2.hdls1.${Z} 5 AAAA 5678:abcd::2`],
  },
  {
    q: `external.${Z}`,
    t: RRType.CNAME,
    rcode: RCode.NOERROR,
    answer: [`external.${Z} 5 CNAME ext.interwebs.test`],
  },
  {
    q: `external-to-service.${Z}`,
    t: RRType.A,
    rcode: RCode.NOERROR,
    answer: [`external-to-service.${Z} 5 CNAME svc1.${Z}`, `svc1.${Z} 5 A 10.0.0.1`],
  },
  { q: `svc1.${Z}`, t: RRType.AAAA, rcode: RCode.NOERROR, ns: [SOA] },
  { q: `svc0.${Z}`, t: RRType.AAAA, rcode: RCode.NXDOMAIN, ns: [SOA] },
  { q: `svc0.${Z}`, t: RRType.A, rcode: RCode.NXDOMAIN, ns: [SOA] },
  { q: 'svc0.svc-nons.svc.cluster.local', t: RRType.A, rcode: RCode.NXDOMAIN, ns: [SOA] },
  {
    q: 'dns-version.cluster.local',
    t: RRType.TXT,
    rcode: RCode.NOERROR,
    answer: ['dns-version.cluster.local 28800 TXT 1.1.0'],
  },
  { q: `bogusendpoint.hdls1.${Z}`, t: RRType.A, rcode: RCode.NXDOMAIN, ns: [SOA] },
  { q: `bogusendpoint.svc0.${Z}`, t: RRType.A, rcode: RCode.NXDOMAIN, ns: [SOA] },
  { q: `svc6.${Z}`, t: RRType.AAAA, rcode: RCode.NOERROR, answer: [`svc6.${Z} 5 AAAA 1234:abcd::1`] },
  {
    q: `hdls1.${Z}`,
    t: RRType.AAAA,
    rcode: RCode.NOERROR,
    answer: [`hdls1.${Z} 5 AAAA 5678:abcd::1`, `hdls1.${Z} 5 AAAA 5678:abcd::2`],
  },
  { q: 'svc.cluster.local', t: RRType.A, rcode: RCode.NOERROR, ns: [SOA] },
  { q: 'pod.cluster.local', t: RRType.A, rcode: RCode.NOERROR, ns: [SOA] },
  { q: 'testns.svc.cluster.local', t: RRType.A, rcode: RCode.NOERROR, ns: [SOA] },
  { q: 'svc.cluster.local', t: RRType.NS, rcode: RCode.NOERROR, ns: [SOA] },
  { q: 'testns.svc.cluster.local', t: RRType.NS, rcode: RCode.NOERROR, ns: [SOA] },
  { q: 'foo.cluster.local', t: RRType.NS, rcode: RCode.NXDOMAIN, ns: [SOA] },
  { q: 'foo.svc.cluster.local', t: RRType.NS, rcode: RCode.NXDOMAIN, ns: [SOA] },
  {
    q: `svc-dual-stack.${Z}`,
    t: RRType.A,
    rcode: RCode.NOERROR,
    answer: [`svc-dual-stack.${Z} 5 A 10.0.0.3`],
  },
  {
    q: `svc-dual-stack.${Z}`,
    t: RRType.AAAA,
    rcode: RCode.NOERROR,
    answer: [`svc-dual-stack.${Z} 5 AAAA 10::3`],
  },
  {
    q: `svc-dual-stack.${Z}`,
    t: RRType.SRV,
    rcode: RCode.NOERROR,
    answer: [`svc-dual-stack.${Z} 5 SRV 0 50 80 svc-dual-stack.${Z}`],
    extra: [`svc-dual-stack.${Z} 5 A 10.0.0.3`, `svc-dual-stack.${Z} 5 AAAA 10::3`],
  },
  { q: `endpoint.external.${Z}`, t: RRType.CNAME, rcode: RCode.NXDOMAIN, ns: [SOA] },
  // SOA exists only at the apex: any other name gets NODATA, even one that does not exist,
  // because the handler answers SOA questions without a lookup.
  { q: `svc1.${Z}`, t: RRType.SOA, rcode: RCode.NOERROR, ns: [SOA] },
  { q: `svc0.${Z}`, t: RRType.SOA, rcode: RCode.NOERROR, ns: [SOA] },
  { q: 'cluster.local', t: RRType.SOA, rcode: RCode.NOERROR, answer: [SOA] },
];

describe('CoreDNS handler_test.go table', () => {
  const r = coreDnsFixture();
  for (const c of cases) {
    it(`${c.q} type ${c.t}`, () => {
      const a = r.resolve(`${c.q}.`, c.t);
      expect(a.rcode).toBe(c.rcode);
      expect(text(a.answers)).toEqual([...(c.answer ?? [])].sort());
      expect(text(a.additional)).toEqual([...(c.extra ?? [])].sort());
      expect(text(a.authority)).toEqual([...(c.ns ?? [])].sort());
    });
  }
});

describe('CoreDNS object conversion and handler edge cases', () => {
  it('a ClusterIP service without ports still answers A (sentinel port), with no SRV', () => {
    const r = new DnsResolver();
    r.update(
      state([svc('ns', 'bare', { type: 'ClusterIP', clusterIP: '10.0.0.9', clusterIPs: ['10.0.0.9'] })]),
    );
    expect(text(r.resolve('bare.ns.svc.cluster.local', RRType.A).answers)).toEqual([
      'bare.ns.svc.cluster.local 5 A 10.0.0.9',
    ]);
    const srv = r.resolve('bare.ns.svc.cluster.local', RRType.SRV);
    expect(srv.rcode).toBe(RCode.NOERROR);
    expect(srv.answers).toEqual([]);
    expect(r.resolve('_http._tcp.bare.ns.svc.cluster.local', RRType.SRV).rcode).toBe(RCode.NXDOMAIN);
  });

  it('SOA in a reverse zone: the apex answers, any other name is NODATA', () => {
    const r = coreDnsFixture();
    const apex = r.resolve('in-addr.arpa', RRType.SOA);
    expect(apex.rcode).toBe(RCode.NOERROR);
    expect(apex.answers).toMatchObject([{ type: 'SOA', name: 'in-addr.arpa' }]);
    const below = r.resolve('1.0.0.10.in-addr.arpa', RRType.SOA);
    expect(below.rcode).toBe(RCode.NOERROR);
    expect(below.answers).toEqual([]);
    expect(below.authority).toMatchObject([{ type: 'SOA', name: 'in-addr.arpa' }]);
  });
});

describe('CoreDNS Service conversion', () => {
  it('reads headlessness from clusterIPs[0] when clusterIP is not set', () => {
    const r = new DnsResolver();
    r.update(
      state(
        [svc('ns', 'h', { type: 'ClusterIP', clusterIPs: ['None'], ports: http })],
        [slice('ns', 'h', [{ addresses: ['10.1.0.5'] }], http)],
      ),
    );
    expect(text(r.resolve('h.ns.svc.cluster.local', RRType.A).answers)).toEqual([
      'h.ns.svc.cluster.local 5 A 10.1.0.5',
    ]);
  });
});

describe('CoreDNS IPv4 leading-zero stripping', () => {
  it('serves legacy zero-padded IPv4 addresses as decimal (cluster IP, endpoints, verified pods)', () => {
    const r = new DnsResolver({
      pods: 'verified',
      listPods: () => [
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { namespace: 'ns', name: 'p' },
          spec: { containers: [] },
          status: { podIP: '010.002.000.009' },
        },
      ],
    });
    r.update(
      state(
        [
          svc('ns', 'c', { type: 'ClusterIP', clusterIP: '010.000.000.012', ports: http }),
          svc('ns', 'h', { type: 'ClusterIP', clusterIP: 'None', ports: http }),
        ],
        [slice('ns', 'h', [{ addresses: ['010.001.000.005'] }], http)],
      ),
    );
    expect(text(r.resolve('c.ns.svc.cluster.local', RRType.A).answers)).toEqual([
      'c.ns.svc.cluster.local 5 A 10.0.0.12',
    ]);
    expect(text(r.resolve('10-1-0-5.h.ns.svc.cluster.local', RRType.A).answers)).toEqual([
      '10-1-0-5.h.ns.svc.cluster.local 5 A 10.1.0.5',
    ]);
    expect(text(r.resolve('10-2-0-9.ns.pod.cluster.local', RRType.A).answers)).toEqual([
      '10-2-0-9.ns.pod.cluster.local 5 A 10.2.0.9',
    ]);
    expect(r.resolve('12.0.0.10.in-addr.arpa', RRType.PTR).answers).toMatchObject([
      { target: 'c.ns.svc.cluster.local' },
    ]);
  });
});

describe('Kubernetes DNS spec 1.1.0 / CoreDNS audit', () => {
  const pg = [{ name: 'pg', protocol: 'TCP' as const, port: 5432 }];

  it('publishes endpoints by their ready condition only: unset is ready, terminating ones follow ready', () => {
    const r = new DnsResolver();
    r.update(
      state(
        [
          svc('ns', 'h', { clusterIP: 'None', ports: pg }),
          // publishNotReadyAddresses is the endpoints controller's business (it marks such
          // endpoints ready); DNS reads only the slice, as CoreDNS does.
          svc('ns', 'p', { clusterIP: 'None', publishNotReadyAddresses: true, ports: pg }),
        ],
        [
          slice(
            'ns',
            'h',
            [
              { addresses: ['10.1.0.1'] },
              { addresses: ['10.1.0.2'], conditions: {} },
              { addresses: ['10.1.0.3'], conditions: { ready: false, serving: true, terminating: true } },
              { addresses: ['10.1.0.4'], conditions: { ready: true, serving: true, terminating: true } },
              { addresses: ['10.1.0.5'], conditions: { ready: false } },
            ],
            pg,
          ),
          slice('ns', 'p', [{ addresses: ['10.1.1.1'], conditions: { ready: false } }], pg),
        ],
      ),
    );
    expect(text(r.resolve('h.ns.svc.cluster.local', RRType.A).answers)).toEqual(
      ['10.1.0.1', '10.1.0.2', '10.1.0.4'].map((ip) => `h.ns.svc.cluster.local 5 A ${ip}`),
    );
    expect(r.resolve('10-1-0-3.h.ns.svc.cluster.local', RRType.A).rcode).toBe(RCode.NXDOMAIN);
    expect(r.resolve('3.0.1.10.in-addr.arpa', RRType.PTR).rcode).toBe(RCode.NXDOMAIN);
    expect(r.resolve('p.ns.svc.cluster.local', RRType.A).rcode).toBe(RCode.NXDOMAIN);
  });

  it('PTR of an endpoint: its hostname when set, else the dashed IP; one per service holding it', () => {
    const r = new DnsResolver();
    r.update(
      state(
        [svc('ns', 'a', { clusterIP: 'None', ports: pg }), svc('ns', 'b', { clusterIP: 'None', ports: pg })],
        [
          slice('ns', 'a', [{ addresses: ['10.2.0.1'], hostname: 'db-0' }, { addresses: ['10.2.0.2'] }], pg),
          slice('ns', 'b', [{ addresses: ['10.2.0.1'] }], pg),
        ],
      ),
    );
    expect(text(r.resolve('1.0.2.10.in-addr.arpa', RRType.PTR).answers)).toEqual([
      '1.0.2.10.in-addr.arpa 5 PTR 10-2-0-1.b.ns.svc.cluster.local',
      '1.0.2.10.in-addr.arpa 5 PTR db-0.a.ns.svc.cluster.local',
    ]);
    expect(text(r.resolve('2.0.2.10.in-addr.arpa', RRType.PTR).answers)).toEqual([
      '2.0.2.10.in-addr.arpa 5 PTR 10-2-0-2.a.ns.svc.cluster.local',
    ]);
  });

  it('PTR also covers slices whose service does not exist (CoreDNS indexes every slice by IP)', () => {
    const r = new DnsResolver();
    const withOrphan = state([], [slice('ns', 'gone', [{ addresses: ['10.2.1.1'], hostname: 'w-0' }], pg)]);
    r.update(withOrphan);
    expect(text(r.resolve('1.1.2.10.in-addr.arpa', RRType.PTR).answers)).toEqual([
      '1.1.2.10.in-addr.arpa 5 PTR w-0.gone.ns.svc.cluster.local',
    ]);
    expect(r.resolve('gone.ns.svc.cluster.local', RRType.A).rcode).toBe(RCode.NXDOMAIN);
    r.update(state([], [], ['ns']), ['ns/gone']);
    expect(r.resolve('1.1.2.10.in-addr.arpa', RRType.PTR).rcode).toBe(RCode.NXDOMAIN);
  });

  it('SRV of an ExternalName service is NODATA (CoreDNS drops CNAME targets from SRV)', () => {
    const a = coreDnsFixture().resolve(`_http._tcp.external.${Z}`, RRType.SRV);
    expect(a.rcode).toBe(RCode.NOERROR);
    expect(a.answers).toEqual([]);
    expect(text(a.authority)).toEqual([SOA]);
  });

  it('an out-of-zone ExternalName target is marked for upstream resolution, in-zone ones are not', () => {
    const r = coreDnsFixture();
    expect(r.resolve(`external.${Z}`, RRType.A).chase).toEqual({
      name: 'ext.interwebs.test',
      type: RRType.A,
    });
    expect(r.resolve(`external.${Z}`, RRType.AAAA).chase).toEqual({
      name: 'ext.interwebs.test',
      type: RRType.AAAA,
    });
    expect(r.resolve(`external.${Z}`, RRType.CNAME).chase).toBeUndefined();
    expect(r.resolve(`external-to-service.${Z}`, RRType.A).chase).toBeUndefined();
  });

  it('wildcard labels are plain names since CoreDNS 1.9 (NXDOMAIN)', () => {
    const r = coreDnsFixture();
    for (const q of [
      `*.${Z}`,
      `any.${Z}`,
      '*.*.svc.cluster.local',
      `*.hdls1.${Z}`,
      'svc1.*.svc.cluster.local',
    ])
      expect(r.resolve(q, RRType.A).rcode).toBe(RCode.NXDOMAIN);
  });

  it('SOA: mname ns.dns.<zone>, rname hostmaster.<zone>, minimum = TTL, serial moves forward on change', () => {
    const r = new DnsResolver({ ttl: 30 });
    r.update(state([svc('ns', 'a', { clusterIP: '10.3.0.1', ports: pg })]));
    const first = r.soa();
    expect(first).toMatchObject({
      name: 'cluster.local',
      ttl: 30,
      mname: 'ns.dns.cluster.local',
      rname: 'hostmaster.cluster.local',
      refresh: 7200,
      retry: 1800,
      expire: 86400,
      minimum: 30,
    });
    r.update(state([svc('ns', 'a', { clusterIP: '10.3.0.2', ports: pg })]));
    expect(r.soa().serial).toBeGreaterThan(first.serial);
    expect(new DnsResolver({ ttl: 3600 }).soa().ttl).toBe(300);
  });

  it('dns-version answers in any case', () => {
    expect(text(coreDnsFixture().resolve('DNS-Version.Cluster.LOCAL.', RRType.TXT).answers)).toEqual([
      'dns-version.cluster.local 28800 TXT 1.1.0',
    ]);
  });
});
