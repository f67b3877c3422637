/**
 * Forwarding transports, as CoreDNS's forward plugin: by default the query goes upstream over
 * the transport it came on (a truncated UDP answer reaches the client truncated and the client
 * retries over TCP); `prefer_udp` retries a truncated UDP answer over TCP itself; `force_tcp`
 * only uses TCP. Fake upstreams on 127.0.0.1 truncate over UDP and answer in full over TCP.
 */

import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { promisify } from 'node:util';
import dnsPacket from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnsResolver, DnsServer } from '../../src/backends/dns';
import type { ForwardTransport } from '../../src/backends/dns/forwarder';
import { seedState } from '../backends/dns/fixtures';
import { udpAnswer } from '../helpers/dns';

const run = promisify(execFile);
const DIG = '/usr/bin/dig';
const hasDig = existsSync(DIG);
if (!hasDig) console.warn('dig not found at /usr/bin/dig (install dnsutils): skipping dig-based DNS tests');

const FULL = ['127.0.0.51', '127.0.0.52', '127.0.0.53'];

type TcpBehaviour = 'answer' | 'silent' | 'none';

/** A fake upstream: UDP answers truncated (first address, TC), TCP as `tcp` says. */
class FakeUpstream {
  readonly seen: string[] = [];
  port = 0;
  private udp: dgram.Socket | undefined;
  private tcp: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly tcpBehaviour: TcpBehaviour) {}

  private answer(msg: Buffer, truncated: boolean): Buffer {
    const q = dnsPacket.decode(msg);
    const name = q.questions?.[0]?.name ?? '';
    return dnsPacket.encode({
      type: 'response',
      id: q.id,
      flags: dnsPacket.RECURSION_AVAILABLE | (truncated ? dnsPacket.TRUNCATED_RESPONSE : 0),
      questions: q.questions,
      answers: (truncated ? FULL.slice(0, 1) : FULL).map((data) => ({
        type: 'A' as const,
        name,
        ttl: 30,
        data,
      })),
    });
  }

  async start(): Promise<this> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const udp = dgram.createSocket('udp4');
      udp.on('message', (m, r) => {
        this.seen.push('udp');
        udp.send(this.answer(m, true), r.port, r.address);
      });
      await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
      this.udp = udp;
      this.port = udp.address().port;
      if (this.tcpBehaviour === 'none') return this;
      const tcp = net.createServer((socket) => this.onTcp(socket));
      const ok = await new Promise<boolean>((r) => {
        tcp.once('error', () => r(false));
        tcp.listen(this.port, '127.0.0.1', () => r(true));
      });
      if (ok) {
        this.tcp = tcp;
        return this;
      }
      udp.close();
    }
    throw new Error('no port free for both UDP and TCP');
  }

  private onTcp(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 2 || buf.length < buf.readUInt16BE(0) + 2) return;
      this.seen.push('tcp');
      if (this.tcpBehaviour === 'silent') return;
      const out = this.answer(buf.subarray(2, buf.readUInt16BE(0) + 2), false);
      socket.write(Buffer.concat([Buffer.from([out.length >> 8, out.length & 0xff]), out]));
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.udp?.close();
    const tcp = this.tcp;
    if (tcp) await new Promise<void>((r) => tcp.close(() => r()));
  }
}

const upstreams: FakeUpstream[] = [];
async function fake(tcp: TcpBehaviour): Promise<FakeUpstream> {
  const u = await new FakeUpstream(tcp).start();
  upstreams.push(u);
  return u;
}

let answering: FakeUpstream;
beforeAll(async () => {
  answering = await fake('answer');
});
afterAll(async () => {
  await Promise.all(upstreams.map((u) => u.close()));
});

async function withServer<T>(
  to: FakeUpstream[],
  forwardTransport: ForwardTransport | undefined,
  body: (port: number) => Promise<T>,
  forwardTimeoutMs = 400,
): Promise<T> {
  const resolver = new DnsResolver();
  resolver.update(seedState());
  const server = new DnsServer(resolver, {
    listen: '127.0.0.1:0',
    upstreams: to.map((u) => `127.0.0.1:${u.port}`),
    forwardTimeoutMs,
    ...(forwardTransport ? { forwardTransport } : {}),
  });
  const { port } = await server.start();
  try {
    return await body(port);
  } finally {
    await server.close();
  }
}

async function ask(
  port: number,
  name = 'www.example.test',
  timeoutMs = 3000,
): Promise<dnsPacket.DecodedPacket> {
  const msg = dnsPacket.encode({
    type: 'query',
    id: 4711,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: 'A', name }],
  });
  return dnsPacket.decode(await udpAnswer(port, msg, timeoutMs));
}

const addresses = (p: dnsPacket.DecodedPacket) => (p.answers ?? []).map((a) => (a as { data: unknown }).data);
const rcodeOf = (p: dnsPacket.DecodedPacket) => (p as unknown as { rcode: string }).rcode;

describe('forwarding transports', () => {
  it('by default relays a truncated UDP answer as is (the client retries over TCP)', async () => {
    answering.seen.length = 0;
    await withServer([answering], undefined, async (port) => {
      const r = await ask(port);
      expect(r.id).toBe(4711);
      expect(r.flag_tc).toBe(true);
      expect(addresses(r)).toEqual(FULL.slice(0, 1));
      expect(answering.seen).toEqual(['udp']);
    });
  });

  it.skipIf(!hasDig)('by default forwards a TCP query over TCP, so dig gets everything', async () => {
    answering.seen.length = 0;
    await withServer([answering], 'client', async (port) => {
      const { stdout } = await run(DIG, [
        '-p',
        String(port),
        '@127.0.0.1',
        '+time=2',
        '+tries=1',
        'www.example.test',
      ]);
      expect(stdout).toMatch(/Truncated, retrying in TCP mode/);
      for (const a of FULL) expect(stdout).toContain(a);
      expect(answering.seen).toEqual(['udp', 'tcp']);
    });
  });

  it('with prefer_udp retries a truncated answer over TCP itself', async () => {
    answering.seen.length = 0;
    await withServer([answering], 'prefer_udp', async (port) => {
      const r = await ask(port);
      expect(r.id).toBe(4711);
      expect(r.flag_tc).toBe(false);
      expect(addresses(r)).toEqual(FULL);
      expect(answering.seen).toEqual(['udp', 'tcp']);
    });
  });

  it('puts the client OPT on a forwarded reply that has none (payload size, DO, no options)', async () => {
    await withServer([answering], 'force_tcp', async (port) => {
      const msg = dnsPacket.encode({
        type: 'query',
        id: 12,
        flags: dnsPacket.RECURSION_DESIRED,
        questions: [{ type: 'A', name: 'www.example.test' }],
        additionals: [
          {
            type: 'OPT',
            name: '.',
            udpPayloadSize: 3000,
            flags: dnsPacket.DNSSEC_OK,
            options: [{ code: 'COOKIE', data: Buffer.alloc(8, 3) }],
          } as never,
        ],
      });
      const reply = await new Promise<dnsPacket.DecodedPacket>((resolve, reject) => {
        const s = dgram.createSocket('udp4');
        const timer = setTimeout(() => {
          s.close();
          reject(new Error('no answer'));
        }, 3000);
        s.on('message', (m) => {
          clearTimeout(timer);
          s.close();
          resolve(dnsPacket.decode(m));
        });
        s.send(msg, port, '127.0.0.1');
      });
      expect(addresses(reply)).toEqual(FULL);
      const o = reply.additionals?.find((a) => a.type === 'OPT') as unknown as {
        udpPayloadSize: number;
        flags: number;
        options: unknown[];
      };
      expect(o.udpPayloadSize).toBe(3000);
      expect(o.flags & 0x8000).toBe(0x8000);
      expect(o.options).toEqual([]);
    });
  });

  it('with force_tcp asks over TCP only', async () => {
    answering.seen.length = 0;
    await withServer([answering], 'force_tcp', async (port) => {
      const r = await ask(port);
      expect(addresses(r)).toEqual(FULL);
      expect(answering.seen).toEqual(['tcp']);
    });
  });

  it('fails over at once when an upstream refuses the TCP connection', async () => {
    const noTcp = await fake('none');
    answering.seen.length = 0;
    // A 2 s per-upstream timeout the client (3 s) would notice if the refusal were waited out twice.
    await withServer(
      [noTcp, answering],
      'force_tcp',
      async (port) => {
        const r = await ask(port, 'www.example.test', 3000);
        expect(addresses(r)).toEqual(FULL);
        expect(answering.seen).toEqual(['tcp']);
      },
      2000,
    );
  });

  it('bounds the TCP retry by the upstream timeout: SERVFAIL when it never answers', async () => {
    const silent = await fake('silent');
    await withServer([silent], 'prefer_udp', async (port) => {
      const r = await ask(port, 'WWW.example.test');
      expect(rcodeOf(r)).toBe('SERVFAIL');
      expect(silent.seen).toEqual(['udp', 'tcp']);
      // CoreDNS's SERVFAIL: the question echoed as asked, RD copied.
      expect(r.questions).toEqual([{ name: 'WWW.example.test', type: 'A', class: 'IN' }]);
      expect(r.flag_rd).toBe(true);
    });
  });

  it('forwards the query of a TCP client over TCP (raw packets)', async () => {
    answering.seen.length = 0;
    const resolver = new DnsResolver();
    const base = seedState();
    resolver.update(base);
    const server = new DnsServer(resolver, {
      listen: '127.0.0.1:0',
      upstreams: [`127.0.0.1:${answering.port}`],
      forwardTimeoutMs: 400,
    });
    await server.start();
    try {
      // The slow path over TCP with an out-of-zone name is a plain forward over TCP.
      const msg = dnsPacket.encode({
        type: 'query',
        id: 5,
        questions: [{ type: 'A', name: 'x.example.test' }],
      });
      const { port } = server.address();
      const reply = await new Promise<Buffer>((resolve, reject) => {
        const s = net.connect(port, '127.0.0.1', () => {
          s.write(Buffer.concat([Buffer.from([msg.length >> 8, msg.length & 0xff]), msg]));
        });
        let buf = Buffer.alloc(0);
        s.on('data', (c: Buffer) => {
          buf = Buffer.concat([buf, c]);
          if (buf.length >= 2 && buf.length >= buf.readUInt16BE(0) + 2) {
            s.destroy();
            resolve(buf.subarray(2));
          }
        });
        s.on('error', reject);
        setTimeout(() => reject(new Error('no answer')), 3000);
      });
      expect(addresses(dnsPacket.decode(reply))).toEqual(FULL);
      expect(answering.seen).toEqual(['tcp']);
    } finally {
      await server.close();
    }
  });
});
