/**
 * EDNS0 and header handling against what CoreDNS sends: BADVERS for EDNS versions other than 0,
 * the OPT record of a reply (the client's payload size, DO echoed, no options), and the
 * rejections miekg/dns makes before CoreDNS sees a message (NOTIMP, FORMERR) or CoreDNS's
 * server makes itself (SERVFAIL for no question, REFUSED for another class). Real dig where it
 * fits, hand-built packets for the exact bytes.
 */

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnsResolver, DnsServer } from '../../src/backends/dns';
import { seedState } from '../backends/dns/fixtures';
import { udpExchange } from '../helpers/dns';

const run = promisify(execFile);
const DIG = '/usr/bin/dig';
const hasDig = existsSync(DIG);
if (!hasDig) console.warn('dig not found at /usr/bin/dig (install dnsutils): skipping dig-based DNS tests');

const NAME = 'redis-master.default.svc.cluster.local';
let server: DnsServer;
let port = 0;

beforeAll(async () => {
  const resolver = new DnsResolver({ localIPs: ['127.0.0.1'] });
  resolver.update(seedState());
  server = new DnsServer(resolver, { listen: '127.0.0.1:0' });
  port = (await server.start()).port;
});

afterAll(async () => {
  await server?.close();
});

async function dig(...args: string[]): Promise<string> {
  const { stdout } = await run(DIG, ['-p', String(port), '@127.0.0.1', '+time=2', '+tries=1', ...args]);
  return stdout;
}

function udp(msg: Buffer, timeoutMs = 1000): Promise<Buffer | undefined> {
  return udpExchange(port, msg, timeoutMs);
}

/** Header + one question (RD set) + an optional raw OPT record. */
function rawQuery(name: string, qtype: number, opt?: Buffer, flags = 0x0100): Buffer {
  const labels = name.split('.').filter(Boolean);
  const q = Buffer.concat([
    ...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])),
    Buffer.from([0, qtype >> 8, qtype & 0xff, 0, 1]),
  ]);
  const h = Buffer.alloc(12);
  h.writeUInt16BE(0xbeef, 0);
  h.writeUInt16BE(flags, 2);
  h.writeUInt16BE(1, 4);
  h.writeUInt16BE(opt ? 1 : 0, 10);
  return Buffer.concat([h, q, ...(opt ? [opt] : [])]);
}

/** An OPT record: payload size, version, flags word and raw options. */
function opt(size: number, version: number, flags: number, options: Buffer = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(11);
  b.writeUInt16BE(41, 1);
  b.writeUInt16BE(size, 3);
  b[6] = version;
  b.writeUInt16BE(flags, 7);
  b.writeUInt16BE(options.length, 9);
  return Buffer.concat([b, options]);
}

function option(code: number, data: Buffer): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(code, 0);
  b.writeUInt16BE(data.length, 2);
  return Buffer.concat([b, data]);
}

const EDNS_NSID = 3;
const EDNS_COOKIE = 10;
const EDNS_PADDING = 12;

describe('BADVERS (EDNS version other than 0)', () => {
  it('answers as CoreDNS: question echoed, no records, OPT version 0 size 0 with extended rcode 1', () => {
    const q = rawQuery('Redis-Master.default.svc.cluster.local', 1, opt(4096, 1, 0x8000));
    const r = server.respond(q, 'udp')!;
    const questionEnd = q.length - 11;
    expect(r.readUInt16BE(0)).toBe(0xbeef);
    // QR, opcode QUERY, RD copied, not AA, header rcode 0 (the low bits of 16).
    expect(r.readUInt16BE(2)).toBe(0x8100);
    expect([r.readUInt16BE(4), r.readUInt16BE(6), r.readUInt16BE(8), r.readUInt16BE(10)]).toEqual([
      1, 0, 0, 1,
    ]);
    expect(r.subarray(12, questionEnd)).toEqual(q.subarray(12, questionEnd)); // the question as asked
    // OPT: root, type 41, payload size 0, extended rcode 1, version 0, no flags (DO not echoed), no data.
    expect([...r.subarray(questionEnd)]).toEqual([0, 0, 41, 0, 0, 1, 0, 0, 0, 0, 0]);
    expect(r.length).toBe(questionEnd + 11);
  });

  it('is the same over TCP and for any version 1..255, name or type', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 255 }), fc.constantFrom(1, 28, 33, 16, 6), (version, qtype) => {
        const r = server.respond(rawQuery(NAME, qtype, opt(1232, version, 0)), 'tcp')!;
        const decoded = dnsPacket.decode(r);
        expect(decoded.answers).toEqual([]);
        expect(r.readUInt16BE(2) & 0xf).toBe(0);
        expect(r[r.length - 6]).toBe(1);
        expect(r[r.length - 5]).toBe(0);
      }),
      { numRuns: 50 },
    );
  });

  it('comes after the class check (another class with EDNS version 1 is REFUSED)', () => {
    const q = rawQuery(NAME, 1, opt(1232, 1, 0));
    q.writeUInt16BE(3, q.length - 11 - 2); // CH
    const r = server.respond(q, 'udp')!;
    expect(r.readUInt16BE(2) & 0xf).toBe(5);
  });

  it.skipIf(!hasDig)('dig +edns=1 sees BADVERS, an empty answer and EDNS version 0', async () => {
    const out = await dig('+norec', '+edns=1', '+noednsnegotiation', NAME, 'A');
    expect(out).toMatch(/status: BADVERS/);
    expect(out).toMatch(/flags: qr; QUERY: 1, ANSWER: 0, AUTHORITY: 0, ADDITIONAL: 1/);
    expect(out).toMatch(/; EDNS: version: 0, flags:; udp: 0/);
  });
});

describe('the OPT record of a reply', () => {
  it('echoes the payload size and DO, and strips every option (NSID, COOKIE, PADDING, unknown)', () => {
    const options = Buffer.concat([
      option(EDNS_NSID, Buffer.alloc(0)),
      option(EDNS_COOKIE, Buffer.from('0123456789abcdef', 'hex')),
      option(EDNS_PADDING, Buffer.alloc(4)),
      option(65001, Buffer.from('x')),
    ]);
    for (const transport of ['udp', 'tcp'] as const) {
      const q = rawQuery(NAME, 1, opt(1400, 0, 0x8000, options));
      const r = server.respond(q, transport)!;
      const tail = [...r.subarray(r.length - 11)];
      expect(tail).toEqual([0, 0, 41, 1400 >> 8, 1400 & 0xff, 0, 0, 0x80, 0, 0, 0]);
      const decoded = dnsPacket.decode(r);
      expect(decoded.answers?.map((a) => (a as { data: unknown }).data)).toEqual(['10.0.0.11']);
    }
  });

  it('keeps the upper flag byte and clears the lower one, as CoreDNS (ttl & 0xff00)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), (flags, size) => {
        const r = server.respond(rawQuery(NAME, 1, opt(size, 0, flags)), 'udp')!;
        expect(r.readUInt16BE(r.length - 8)).toBe(size);
        expect(r[r.length - 4]).toBe(flags >> 8);
        expect(r[r.length - 3]).toBe(0);
        expect(r.readUInt16BE(r.length - 2)).toBe(0);
      }),
      { numRuns: 100 },
    );
  });

  it('is the same on the slow path (a class CoreDNS refuses) as on the fast path', () => {
    const q = rawQuery(NAME, 1, opt(1232, 0, 0x8000, option(EDNS_COOKIE, Buffer.alloc(8, 1))));
    q.writeUInt16BE(3, q.length - 23 - 2);
    const r = server.respond(q, 'udp')!;
    expect(r.readUInt16BE(2) & 0xf).toBe(5);
    expect([...r.subarray(r.length - 11)]).toEqual([0, 0, 41, 1232 >> 8, 1232 & 0xff, 0, 0, 0x80, 0, 0, 0]);
  });

  it.skipIf(!hasDig)('dig +dnssec gets "do" back; +nsid and +cookie get no NSID or COOKIE', async () => {
    const dnssec = await dig('+dnssec', '+bufsize=1232', NAME, 'A');
    expect(dnssec).toMatch(/; EDNS: version: 0, flags: do; udp: 1232/);
    expect(dnssec).toMatch(/10\.0\.0\.11/);
    const nsid = await dig('+nsid', '+cookie', NAME, 'A');
    expect(nsid).toMatch(/status: NOERROR/);
    expect(nsid).not.toMatch(/NSID:/);
    expect(nsid).not.toMatch(/COOKIE:/);
    const plain = await dig('+nocookie', '+edns=0', NAME, 'A');
    expect(plain).toMatch(/; EDNS: version: 0, flags:; udp: \d+/);
  });

  it('never echoes an option from random option lists', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: 16 })), {
          maxLength: 4,
        }),
        async (opts) => {
          const data = Buffer.concat(opts.map(([code, d]) => option(code, Buffer.from(d))));
          const r = await udp(rawQuery(NAME, 1, opt(1232, 0, 0, data)));
          expect(r).toBeDefined();
          expect(r!.readUInt16BE(r!.length - 2)).toBe(0); // RDLENGTH 0
          expect(r!.readUInt16BE(r!.length - 10)).toBe(41);
        },
      ),
      { numRuns: 30 },
    );
  });
});

describe('rejections before the lookup (miekg/dns accept function, CoreDNS server)', () => {
  const withOpcode = (opcode: number, extraFlags = 0) => {
    const q = rawQuery(NAME, 6, opt(1232, 0, 0x8000));
    q.writeUInt16BE(0x0100 | (opcode << 11) | extraFlags, 2);
    return q;
  };

  it('answers UPDATE, IQUERY, STATUS and unassigned opcodes NOTIMP, opcode kept, every section empty', () => {
    for (const opcode of [1, 2, 3, 5, 6, 15]) {
      const r = server.respond(withOpcode(opcode, 0x0010 | 0x0020 | 0x0400), 'udp')!;
      expect(r.length).toBe(12);
      // QR, the opcode, RD + AD + CD kept, AA dropped, rcode NOTIMP.
      expect(r.readUInt16BE(2)).toBe(0x8000 | (opcode << 11) | 0x0100 | 0x0020 | 0x0010 | 4);
      expect(r.subarray(4, 12)).toEqual(Buffer.alloc(8));
    }
  });

  it('answers NOTIFY like a query, with the NOTIFY opcode and without RD', () => {
    const r = server.respond(withOpcode(4), 'udp')!;
    const decoded = dnsPacket.decode(r);
    expect((decoded as unknown as { opcode: string }).opcode).toBe('NOTIFY');
    expect(decoded.flag_rd).toBe(false);
    expect(decoded.flag_aa).toBe(true);
    expect(decoded.answers).toEqual([]); // NODATA below the apex, SOA in the authority section
    expect(decoded.authorities?.[0]?.type).toBe('SOA');
  });

  it('answers FORMERR with no question for QDCOUNT 0 or 2, ANCOUNT/NSCOUNT > 1, ARCOUNT > 2', () => {
    const two = dnsPacket.encode({
      type: 'query',
      id: 9,
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [
        { type: 'A', name: NAME },
        { type: 'A', name: NAME },
      ],
    });
    const counts = (q: Buffer, at: number, n: number) => {
      const c = Buffer.from(q);
      c.writeUInt16BE(n, at);
      return c;
    };
    const base = rawQuery(NAME, 1);
    for (const msg of [
      two,
      counts(base, 4, 0),
      counts(base, 6, 2),
      counts(base, 8, 2),
      counts(base, 10, 3),
    ]) {
      const r = server.respond(msg, 'udp')!;
      expect(r.length).toBe(12);
      expect(r.readUInt16BE(2)).toBe(0x8000 | 0x0100 | 1);
    }
  });

  it('answers SERVFAIL without a question for a bare header claiming one (CoreDNS: no question)', () => {
    const h = rawQuery(NAME, 1).subarray(0, 12);
    const r = server.respond(Buffer.from(h), 'udp')!;
    expect(r.length).toBe(12);
    expect(r.readUInt16BE(2)).toBe(0x8000 | 0x0100 | 2);
  });

  it('echoes the question in a FORMERR for a message that breaks after it', () => {
    const q = rawQuery(NAME, 1, opt(1232, 0, 0));
    q.writeUInt16BE(50, q.length - 2); // OPT RDLENGTH past the end
    const r = server.respond(q, 'udp')!;
    expect(r.readUInt16BE(2) & 0xf).toBe(1);
    expect(r.readUInt16BE(4)).toBe(1);
    expect(r.subarray(12)).toEqual(q.subarray(12, q.length - 11));
  });

  it('drops responses', () => {
    expect(server.respond(rawQuery(NAME, 1, undefined, 0x8100), 'udp')).toBeUndefined();
  });

  it.skipIf(!hasDig)('dig +opcode=update gets NOTIMP, +opcode=notify an answer', async () => {
    expect(await dig('+opcode=update', NAME, 'SOA')).toMatch(/opcode: UPDATE, status: NOTIMP/);
    expect(await dig('+opcode=notify', NAME, 'A')).toMatch(/opcode: NOTIFY, status: NOERROR/);
  });
});
