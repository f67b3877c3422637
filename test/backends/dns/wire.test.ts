import dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DnsResolver, DnsServer } from '../../../src/backends/dns';
import {
  adoptClientOpt,
  findOptRecord,
  type ParsedQuery,
  parseQuery,
  readName,
  readUpstreamAnswers,
} from '../../../src/backends/dns/wire';
import { seedState, slice, state, svc } from './fixtures';

const label = fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/);
const names = fc.oneof(
  fc.constantFrom(
    'redis-master.default.svc.cluster.local',
    'db.my-ns.svc.cluster.local',
    '_pg._tcp.db.my-ns.svc.cluster.local',
    'MY-SERVICE.my-ns.SVC.cluster.local',
    'cluster.local',
    'dns-version.cluster.local',
    '11.0.0.10.in-addr.arpa',
    'example.com',
  ),
  fc.array(label, { minLength: 1, maxLength: 6 }).map((ls) => [...ls, 'cluster', 'local'].join('.')),
);
const types = fc.constantFrom<dnsPacket.RecordType>(
  'A',
  'AAAA',
  'SRV',
  'TXT',
  'PTR',
  'CNAME',
  'SOA',
  'NS',
  'MX',
);

describe('parseQuery', () => {
  it('reads what dns-packet writes (property)', () => {
    fc.assert(
      fc.property(names, types, fc.integer({ min: 0, max: 0xffff }), fc.boolean(), (name, type, id, edns) => {
        const msg = dnsPacket.encode({
          type: 'query',
          id,
          questions: [{ name, type }],
          ...(edns ? { additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232 } as never] } : {}),
        });
        const q = {} as ParsedQuery;
        expect(parseQuery(msg, q)).toBe(true);
        expect(q.edns).toBe(edns);
        expect(q.ednsSize).toBe(edns ? 1232 : 0);
        expect(q.nameEnd).toBe(12 + name.length + 2);
        expect(q.qclass).toBe(1);
      }),
      { numRuns: 200 },
    );
  });

  it('reads the OPT payload size, version and flag bytes of any OPT record (property)', () => {
    fc.assert(
      fc.property(
        names,
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 0xffff }),
        (name, size, version, flags) => {
          const msg = dnsPacket.encode({
            type: 'query',
            id: 1,
            questions: [{ name, type: 'A' }],
            additionals: [{ type: 'OPT', name: '.', udpPayloadSize: size, flags } as never],
          });
          msg[msg.length - 5] = version; // dns-packet always writes version 0
          const q = {} as ParsedQuery;
          expect(parseQuery(msg, q)).toBe(true);
          expect(q.ednsSize).toBe(size);
          expect(q.ednsVersion).toBe(version);
          expect(q.ednsFlagsHigh).toBe(flags >> 8);
          expect(q.dnssecOk).toBe((flags & 0x8000) !== 0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('hashes names case-insensitively', () => {
    const a = {} as ParsedQuery;
    const b = {} as ParsedQuery;
    parseQuery(
      dnsPacket.encode({ type: 'query', id: 1, questions: [{ name: 'Abc.Cluster.Local', type: 'A' }] }),
      a,
    );
    parseQuery(
      dnsPacket.encode({ type: 'query', id: 2, questions: [{ name: 'abc.cluster.local', type: 'A' }] }),
      b,
    );
    expect(a.hash).toBe(b.hash);
  });
});

describe('server responses (property)', () => {
  it('a cached answer equals a fresh one for every name, type, case and ID', () => {
    const resolver = new DnsResolver({ localIPs: ['127.0.0.1'], serial: () => 1 });
    resolver.update(seedState());
    const server = new DnsServer(resolver, { listen: '127.0.0.1:0' });
    fc.assert(
      fc.property(names, types, fc.integer({ min: 0, max: 0xffff }), fc.boolean(), (name, type, id, rd) => {
        const msg = dnsPacket.encode({
          type: 'query',
          id,
          flags: rd ? dnsPacket.RECURSION_DESIRED : 0,
          questions: [{ name, type }],
        });
        const first = server.respond(msg, 'udp')!;
        const again = server.respond(msg, 'udp')!;
        expect(again.equals(first)).toBe(true);
        const d = dnsPacket.decode(first);
        expect(d.id).toBe(id);
        expect(d.flag_rd).toBe(rd);
        expect(d.questions).toEqual([{ name, type, class: 'IN' }]);
        const expected = resolver.resolve(name, typeNumber(type));
        expect(d.answers?.length).toBe(expected.answers.length);
        expect(d.authorities?.length).toBe(expected.authority.length);
        expect(rcodeOf(d)).toBe(
          ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'][expected.rcode],
        );
        // Owners keep the query's spelling (the SOA's owner is the zone apex, as CoreDNS writes it).
        for (const a of d.answers ?? []) {
          if (a.type === 'SOA') expect(name.toLowerCase().endsWith(a.name)).toBe(true);
          else expect(a.name).toBe(name);
        }
      }),
      { numRuns: 300 },
    );
  });
});

function typeNumber(t: dnsPacket.RecordType): number {
  return { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33 }[t as 'A'] ?? 0;
}

/** dns-packet sets `rcode` on decoded packets; its typings leave it out. */
function rcodeOf(p: dnsPacket.DecodedPacket): string {
  return (p as unknown as { rcode: string }).rcode;
}

describe('names the wire format cannot carry', () => {
  it('never shortens a label over 63 bytes: that answer is not sent, the rest of the service still is', () => {
    const resolver = new DnsResolver();
    resolver.update(
      state(
        [svc('ns', 'h', { clusterIP: 'None', ports: [{ name: 'http', port: 80 }] })],
        [
          slice(
            'ns',
            'h',
            [{ addresses: ['10.0.0.1'], hostname: 'a'.repeat(64) }, { addresses: ['10.0.0.2'] }],
            [{ name: 'http', protocol: 'TCP', port: 80 }],
          ),
        ],
      ),
    );
    const server = new DnsServer(resolver, { listen: '127.0.0.1:0' });
    const query = (name: string, type: dnsPacket.RecordType) =>
      dnsPacket.encode({ type: 'query', id: 7, questions: [{ name, type }] });
    const a = dnsPacket.decode(server.respond(query('h.ns.svc.cluster.local', 'A'), 'udp')!);
    expect((a.answers ?? []).map((r) => (r.type === 'A' ? r.data : r.type))).toEqual([
      '10.0.0.1',
      '10.0.0.2',
    ]);
    // CoreDNS cannot pack the SRV target either: the query goes unanswered rather than naming a
    // truncated target that does not exist.
    expect(() => server.respond(query('_http._tcp.h.ns.svc.cluster.local', 'SRV'), 'udp')).toThrow(
      RangeError,
    );
  });
});

describe('reading upstream names and answers', () => {
  it('follows compression pointers backwards only, and refuses loops and forward pointers', () => {
    // "a.b" at 12, then a pointer to it at 17.
    const msg = Uint8Array.from([...new Array(12).fill(0), 1, 0x61, 1, 0x62, 0, 0xc0, 12]);
    expect(readName(msg, 17)).toEqual({ name: 'a.b', end: 19 });
    const self = Uint8Array.from([...new Array(12).fill(0), 0xc0, 12]);
    expect(readName(self, 12)).toBeUndefined();
    const forward = Uint8Array.from([...new Array(12).fill(0), 0xc0, 14, 0]);
    expect(readName(forward, 12)).toBeUndefined();
    const odd = Uint8Array.from([...new Array(12).fill(0), 3, 0x61, 0x2e, 0x5c, 0]);
    expect(readName(odd, 12)?.name).toBe('a\\046\\092');
  });

  it('takes only a response to the very question asked', () => {
    const response = Buffer.from(
      dnsPacket.encode({
        type: 'response',
        id: 1,
        questions: [{ type: 'A', name: 'x.example.test' }],
        answers: [{ type: 'A', name: 'x.example.test', ttl: 9, data: '127.0.0.9' }],
      }),
    );
    expect(readUpstreamAnswers(response, 'X.example.test', 1)?.records).toEqual([
      { type: 'A', name: 'x.example.test', ttl: 9, address: '127.0.0.9' },
    ]);
    expect(readUpstreamAnswers(response, 'y.example.test', 1)).toBeUndefined();
    expect(readUpstreamAnswers(response, 'x.example.test', 28)).toBeUndefined();
    const asQuery = Buffer.from(response);
    asQuery[2] = asQuery[2]! & 0x7f;
    expect(readUpstreamAnswers(asQuery, 'x.example.test', 1)).toBeUndefined();
    expect(
      readUpstreamAnswers(response.subarray(0, response.length - 2), 'x.example.test', 1),
    ).toBeUndefined();
  });
});

describe('adoptClientOpt (CoreDNS SizeAndDo on forwarded replies)', () => {
  const optOf = (p: dnsPacket.DecodedPacket) =>
    (p.additionals ?? []).filter((a) => a.type === 'OPT') as unknown as {
      udpPayloadSize: number;
      flags: number;
      options: { code: number }[];
    }[];

  it('gives the reply the client payload size and DO, keeping its own options (property)', () => {
    fc.assert(
      fc.property(
        names,
        fc.option(
          // dns-packet writes 4096 for a payload size of 0, so sizes start at 1.
          fc.record({
            size: fc.integer({ min: 1, max: 0xffff }),
            flags: fc.integer({ min: 0, max: 0xffff }),
          }),
        ),
        fc.option(
          fc.record({
            size: fc.integer({ min: 1, max: 0xffff }),
            flags: fc.integer({ min: 0, max: 0xffff }),
          }),
        ),
        fc.integer({ min: 0, max: 3 }),
        (name, client, upstream, nAnswers) => {
          const query = dnsPacket.encode({
            type: 'query',
            id: 1,
            questions: [{ name, type: 'A' }],
            ...(client
              ? {
                  additionals: [
                    { type: 'OPT', name: '.', udpPayloadSize: client.size, flags: client.flags } as never,
                  ],
                }
              : {}),
          });
          const answers = Array.from({ length: nAnswers }, (_, i) => ({
            type: 'A' as const,
            name,
            ttl: 30,
            data: `127.0.0.${i + 1}`,
          }));
          const reply = dnsPacket.encode({
            type: 'response',
            id: 1,
            questions: [{ name, type: 'A' }],
            answers,
            additionals: [
              { type: 'A', name: 'glue.example', ttl: 1, data: '127.0.1.1' },
              ...(upstream
                ? [
                    {
                      type: 'OPT',
                      name: '.',
                      udpPayloadSize: upstream.size,
                      flags: upstream.flags,
                      options: [{ code: 10, data: Buffer.alloc(8, 7) }],
                    } as never,
                  ]
                : []),
            ],
          });
          const out = dnsPacket.decode(adoptClientOpt(reply, query));
          expect(out.answers?.map((a) => (a as { data: unknown }).data)).toEqual(answers.map((a) => a.data));
          const opts = optOf(out);
          if (!client) {
            expect(opts.length).toBe(upstream ? 1 : 0);
            return;
          }
          expect(opts.length).toBe(1);
          const o = opts[0]!;
          expect(o.udpPayloadSize).toBe(client.size);
          if (upstream) {
            expect(o.flags).toBe((upstream.flags & 0xff00) | (client.flags & 0x8000));
            expect(o.options.map((x) => x.code)).toEqual([10]);
          } else {
            expect(o.flags).toBe(client.flags & 0xff00);
            expect(o.options).toEqual([]);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('leaves messages it cannot walk alone, and never throws on random bytes (property)', () => {
    const query = dnsPacket.encode({
      type: 'query',
      id: 1,
      questions: [{ name: 'a.example', type: 'A' }],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232 } as never],
    });
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 80 }), (bytes) => {
        const b = Buffer.from(bytes);
        const found = findOptRecord(b);
        const out = adoptClientOpt(b, query);
        if (found === undefined) expect(out).toBe(b);
      }),
      { numRuns: 300 },
    );
  });
});
