/**
 * ExternalName targets outside the zone: with upstreams the server resolves the target through
 * them and appends the answers after the CNAME (as CoreDNS does through its own upstream);
 * without upstreams the CNAME alone is the answer. A fake upstream on 127.0.0.1 stands in.
 */

import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { promises as dnsPromises } from 'node:dns';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { promisify } from 'node:util';
import dnsPacket from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnsResolver, DnsServer } from '../../src/backends/dns';
import type { ForwardTransport } from '../../src/backends/dns/forwarder';
import { encodeResponse } from '../../src/backends/dns/wire';
import { state, svc } from '../backends/dns/fixtures';
import { udpAnswer } from '../helpers/dns';

const run = promisify(execFile);
const DIG = '/usr/bin/dig';
const hasDig = existsSync(DIG);
if (!hasDig) console.warn('dig not found at /usr/bin/dig (install dnsutils): skipping dig-based DNS tests');

const zoneState = () =>
  state([
    svc('my-ns', 'ext', { type: 'ExternalName', externalName: 'ext.example.test' }),
    svc('my-ns', 'chain', { type: 'ExternalName', externalName: 'ext.my-ns.svc.cluster.local' }),
    svc('my-ns', 'silent', { type: 'ExternalName', externalName: 'silent.example.test' }),
    svc('my-ns', 'trunc', { type: 'ExternalName', externalName: 'trunc.example.test' }),
    svc('my-ns', 'packed', { type: 'ExternalName', externalName: 'packed.example.test' }),
    svc('my-ns', 'local', { clusterIP: '10.0.0.5', ports: [{ port: 80 }] }),
  ]);

/** The fake upstream (UDP and TCP on one port): what it was asked, and its answers per name. */
const asked: string[] = [];
const askedOverTcp: string[] = [];
/** The OPT record of each UDP question (payload size and DO), or `none`. */
const askedEdns: string[] = [];
let upstream: dgram.Socket;
let upstreamTcp: net.Server;
let upstreamPort = 0;

function upstreamAnswer(q: dnsPacket.DecodedPacket, tcp = false): Buffer | undefined {
  const question = q.questions![0]!;
  const base = { type: 'response' as const, id: q.id, questions: q.questions };
  switch (question.name.toLowerCase()) {
    case 'ext.example.test':
      if (question.type === 'A')
        return dnsPacket.encode({
          ...base,
          flags: dnsPacket.RECURSION_AVAILABLE,
          answers: [
            { type: 'CNAME', name: question.name, ttl: 60, data: 'edge.example.test' },
            { type: 'A', name: 'edge.example.test', ttl: 30, data: '127.0.0.99' },
          ],
        });
      if (question.type === 'TXT')
        return dnsPacket.encode({
          ...base,
          answers: [{ type: 'TXT', name: question.name, ttl: 60, data: ['hello'] }],
        });
      return dnsPacket.encode({ ...base, flags: 3 }); // NXDOMAIN
    case 'trunc.example.test': // truncated over UDP, complete over TCP
      return dnsPacket.encode({
        ...base,
        flags: tcp ? 0 : dnsPacket.TRUNCATED_RESPONSE,
        answers: [
          { type: 'A', name: question.name, ttl: 60, data: '127.0.0.98' },
          ...(tcp ? [{ type: 'A' as const, name: question.name, ttl: 60, data: '127.0.0.96' }] : []),
        ],
      });
    case 'packed.example.test': // Compressed names (a pointer into the question), and a record type with a name in it
      // (MX) that cannot be relayed verbatim and is left out.
      {
        const packed = encodeResponse('packed.example.test', 1, 1, {
          rcode: 0,
          authoritative: false,
          answers: [
            { type: 'AAAA', name: 'packed.example.test', ttl: 7, address: 'fd00::1' },
            { type: 'A', name: 'packed.example.test', ttl: 7, address: '127.0.0.97' },
            { type: 'NS', name: 'packed.example.test', ttl: 7, target: 'ns.example.test' },
          ],
          authority: [],
          additional: [],
          scope: 'zone',
          cacheable: true,
        });
        packed.writeUInt16BE(q.id ?? 0, 0);
        return packed;
      }
    default:
      return undefined; // silent: never answers
  }
}

beforeAll(async () => {
  upstreamTcp = net.createServer((socket) => {
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= buf.readUInt16BE(0) + 2) {
        const q = dnsPacket.decode(buf.subarray(2, buf.readUInt16BE(0) + 2));
        buf = buf.subarray(buf.readUInt16BE(0) + 2);
        const question = q.questions?.[0];
        if (!question) continue;
        askedOverTcp.push(`${question.name} ${question.type}`);
        const out = upstreamAnswer(q, true);
        if (out) socket.write(Buffer.concat([Buffer.from([out.length >> 8, out.length & 0xff]), out]));
      }
    });
    socket.on('error', () => socket.destroy());
  });
  // UDP and TCP on the same port: retry with a fresh port when TCP cannot have it.
  for (let attempt = 0; attempt < 20; attempt++) {
    upstream = dgram.createSocket('udp4');
    upstream.on('message', onUpstreamUdp);
    await new Promise<void>((r) => upstream.bind(0, '127.0.0.1', () => r()));
    upstreamPort = upstream.address().port;
    const ok = await new Promise<boolean>((r) => {
      upstreamTcp.once('error', () => r(false));
      upstreamTcp.listen(upstreamPort, '127.0.0.1', () => r(true));
    });
    if (ok) return;
    upstream.close();
  }
  throw new Error('no port free for both UDP and TCP');
});

function onUpstreamUdp(m: Buffer, r: dgram.RemoteInfo): void {
  const q = dnsPacket.decode(m);
  const question = q.questions?.[0];
  if (!question) return;
  asked.push(`${question.name} ${question.type}`);
  const optRecord = q.additionals?.find((a) => a.type === 'OPT') as
    | { udpPayloadSize: number; flags?: number }
    | undefined;
  askedEdns.push(
    optRecord ? `${optRecord.udpPayloadSize}${(optRecord.flags ?? 0) & 0x8000 ? ' do' : ''}` : 'none',
  );
  const out = upstreamAnswer(q);
  if (out) upstream.send(out, r.port, r.address);
}

afterAll(() => {
  upstream?.close();
  upstreamTcp?.close();
});

async function withServer<T>(
  upstreams: string[],
  body: (server: DnsServer, port: number) => Promise<T>,
  forwardTransport: ForwardTransport = 'client',
): Promise<T> {
  const resolver = new DnsResolver();
  resolver.update(zoneState());
  const server = new DnsServer(resolver, {
    listen: '127.0.0.1:0',
    upstreams,
    forwardTimeoutMs: 300,
    forwardTransport,
  });
  const { port } = await server.start();
  try {
    return await body(server, port);
  } finally {
    await server.close();
  }
}

function query(name: string, type: dnsPacket.RecordType): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id: 77,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name }],
  });
}

async function ask(port: number, msg: Buffer, timeoutMs = 2000): Promise<dnsPacket.DecodedPacket> {
  return dnsPacket.decode(await udpAnswer(port, msg, timeoutMs));
}

const rr = (p: dnsPacket.DecodedPacket) =>
  (p.answers ?? []).map((a) => {
    const { ttl, data } = a as { ttl?: number; data: unknown };
    return `${a.name} ${ttl} ${a.type} ${JSON.stringify(data)}`;
  });

describe('ExternalName with upstreams: the target is resolved and appended', () => {
  it('appends the upstream chain (its TTLs kept) after the CNAME, in the case of the query', async () => {
    await withServer([`127.0.0.1:${upstreamPort}`], async (_s, port) => {
      const a = await ask(port, query('Ext.My-NS.svc.cluster.local', 'A'));
      expect((a as unknown as { rcode: string }).rcode).toBe('NOERROR');
      expect(a.flag_aa).toBe(true);
      expect(rr(a)).toEqual([
        'Ext.My-NS.svc.cluster.local 5 CNAME "ext.example.test"',
        'ext.example.test 60 CNAME "edge.example.test"',
        'edge.example.test 30 A "127.0.0.99"',
      ]);
      const r = new dnsPromises.Resolver({ timeout: 2000, tries: 1 });
      r.setServers([`127.0.0.1:${port}`]);
      expect(await r.resolve4('ext.my-ns.svc.cluster.local')).toEqual(['127.0.0.99']);
    });
  });

  it('asks with the EDNS of the client, as CoreDNS runs a copy of the query through itself', async () => {
    await withServer([`127.0.0.1:${upstreamPort}`], async (_s, port) => {
      askedEdns.length = 0;
      await ask(port, query('ext.my-ns.svc.cluster.local', 'A'));
      const withDo = dnsPacket.encode({
        type: 'query',
        id: 78,
        flags: dnsPacket.RECURSION_DESIRED,
        questions: [{ type: 'A', name: 'ext.my-ns.svc.cluster.local' }],
        additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4000, flags: dnsPacket.DNSSEC_OK } as never],
      });
      const reply = await ask(port, withDo);
      expect(askedEdns).toEqual(['none', '4000 do']);
      const optRecord = reply.additionals?.find((a) => a.type === 'OPT') as
        | { udpPayloadSize: number }
        | undefined;
      expect(optRecord?.udpPayloadSize).toBe(4000);
    });
  });

  it('follows an in-zone ExternalName chain to the out-of-zone target', async () => {
    await withServer([`127.0.0.1:${upstreamPort}`], async (_s, port) => {
      const a = await ask(port, query('chain.my-ns.svc.cluster.local', 'A'));
      expect(rr(a)).toEqual([
        'chain.my-ns.svc.cluster.local 5 CNAME "ext.my-ns.svc.cluster.local"',
        'ext.my-ns.svc.cluster.local 5 CNAME "ext.example.test"',
        'ext.example.test 60 CNAME "edge.example.test"',
        'edge.example.test 30 A "127.0.0.99"',
      ]);
    });
  });

  it('keeps the CNAME alone when the upstream has nothing, is silent, or is not asked (CNAME/TXT questions)', async () => {
    await withServer([`127.0.0.1:${upstreamPort}`], async (s, port) => {
      const nx = await ask(port, query('ext.my-ns.svc.cluster.local', 'AAAA'));
      expect((nx as unknown as { rcode: string }).rcode).toBe('NOERROR');
      expect(rr(nx)).toEqual(['ext.my-ns.svc.cluster.local 5 CNAME "ext.example.test"']);
      const silent = await ask(port, query('silent.my-ns.svc.cluster.local', 'A'));
      expect(rr(silent)).toEqual(['silent.my-ns.svc.cluster.local 5 CNAME "silent.example.test"']);
      const before = asked.length;
      expect(rr(dnsPacket.decode(s.respond(query('ext.my-ns.svc.cluster.local', 'CNAME'), 'udp')!))).toEqual([
        'ext.my-ns.svc.cluster.local 5 CNAME "ext.example.test"',
      ]);
      // CoreDNS answers TXT in the zone only for dns-version: NODATA, nothing asked upstream.
      const txt = dnsPacket.decode(s.respond(query('ext.my-ns.svc.cluster.local', 'TXT'), 'udp')!);
      expect(txt.answers).toEqual([]);
      expect(asked.length).toBe(before);
    });
  });

  it('asks over the transport of the client: TC over UDP from a truncated answer, all of it over TCP', async () => {
    await withServer([`127.0.0.1:${upstreamPort}`], async (_s, port) => {
      const udp = await ask(port, query('trunc.my-ns.svc.cluster.local', 'A'));
      expect(udp.flag_tc).toBe(true);
      expect(rr(udp)).toEqual([
        'trunc.my-ns.svc.cluster.local 5 CNAME "trunc.example.test"',
        'trunc.example.test 60 A "127.0.0.98"',
      ]);
      if (!hasDig) return;
      const { stdout } = await run(DIG, [
        '-p',
        String(port),
        '@127.0.0.1',
        '+tcp',
        '+time=2',
        '+tries=1',
        'trunc.my-ns.svc.cluster.local',
        'A',
      ]);
      expect(stdout).toMatch(/flags: qr aa rd;/);
      expect(stdout).toMatch(/trunc\.example\.test\.\s+60\s+IN\s+A\s+127\.0\.0\.98/);
      expect(stdout).toMatch(/trunc\.example\.test\.\s+60\s+IN\s+A\s+127\.0\.0\.96/);
      expect(askedOverTcp).toContain('trunc.example.test A');
    });
  });

  it('decompresses upstream names and leaves out records it cannot relay verbatim', async () => {
    await withServer([`127.0.0.1:${upstreamPort}`], async (_s, port) => {
      const a = await ask(port, query('packed.my-ns.svc.cluster.local', 'A'));
      expect(rr(a)).toEqual([
        'packed.my-ns.svc.cluster.local 5 CNAME "packed.example.test"',
        'packed.example.test 7 AAAA "fd00::1"',
        'packed.example.test 7 A "127.0.0.97"',
      ]);
    });
  });

  it('refuses an upstream that is the server itself', () => {
    expect(
      () => new DnsServer(new DnsResolver(), { listen: '127.0.0.1:5353', upstreams: ['127.0.0.1:5353'] }),
    ).toThrow(/loop/);
    expect(
      () => new DnsServer(new DnsResolver(), { listen: '0.0.0.0:5353', upstreams: ['127.0.0.2:5353'] }),
    ).toThrow(/loop/);
  });
});

describe.skipIf(!hasDig)('ExternalName without upstreams', () => {
  it('answers the CNAME alone and asks nobody', async () => {
    await withServer([], async (_s, port) => {
      const before = asked.length;
      const { stdout } = await run(DIG, [
        '-p',
        String(port),
        '@127.0.0.1',
        '+time=2',
        '+tries=1',
        'ext.my-ns.svc.cluster.local',
        'A',
      ]);
      expect(stdout).toMatch(/status: NOERROR/);
      expect(stdout).toMatch(/ANSWER: 1,/);
      expect(stdout).toMatch(/ext\.my-ns\.svc\.cluster\.local\.\s+5\s+IN\s+CNAME\s+ext\.example\.test\./);
      expect(asked.length).toBe(before);
    });
  });
});
