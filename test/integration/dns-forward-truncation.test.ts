/**
 * Forwarded UDP replies are cut to what the client can take, as CoreDNS's response writer does
 * for every reply: 512 bytes without EDNS0, else the advertised payload size; whole records
 * only, TC set when any was left out. A fake upstream on 127.0.0.1 answers over UDP with more
 * A records than fit in 512 bytes.
 */
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnsResolver, DnsServer } from '../../src/backends/dns';
import { seedState } from '../backends/dns/fixtures';
import { udpAnswer } from '../helpers/dns';

/** 60 addresses on loopback: about 1.9 KB of answers, well over 512 and under 4096. */
const MANY = Array.from({ length: 60 }, (_, i) => `127.0.1.${i + 1}`);

let upstream: dgram.Socket;
let upstreamPort = 0;
let server: DnsServer;
let port = 0;

beforeAll(async () => {
  upstream = dgram.createSocket('udp4');
  upstream.on('message', (m, r) => {
    const q = dnsPacket.decode(m);
    const name = q.questions?.[0]?.name ?? '';
    const reply = dnsPacket.encode({
      type: 'response',
      id: q.id,
      flags: dnsPacket.RECURSION_AVAILABLE | dnsPacket.RECURSION_DESIRED,
      questions: q.questions,
      answers: MANY.map((data) => ({ type: 'A' as const, name, ttl: 30, data })),
      additionals: (q.additionals ?? []).some((a) => a.type === 'OPT')
        ? [{ type: 'OPT', name: '.', udpPayloadSize: 1232 } as never]
        : [],
    });
    upstream.send(reply, r.port, r.address);
  });
  await new Promise<void>((r) => upstream.bind(0, '127.0.0.1', () => r()));
  upstreamPort = upstream.address().port;
  const resolver = new DnsResolver();
  resolver.update(seedState());
  server = new DnsServer(resolver, {
    listen: '127.0.0.1:0',
    upstreams: [`127.0.0.1:${upstreamPort}`],
    forwardTimeoutMs: 1000,
  });
  ({ port } = await server.start());
});

afterAll(async () => {
  await server.close();
  upstream.close();
});

function query(id: number, ednsSize?: number): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: 'A', name: 'big.example.test' }],
    ...(ednsSize ? { additionals: [{ type: 'OPT', name: '.', udpPayloadSize: ednsSize } as never] } : {}),
  });
}

const addresses = (p: dnsPacket.DecodedPacket) => (p.answers ?? []).map((a) => (a as { data: unknown }).data);

describe('forwarded UDP replies', () => {
  it('are cut to 512 bytes of whole records with TC for a client without EDNS0', async () => {
    const raw = await udpAnswer(port, query(41));
    expect(raw.length).toBeLessThanOrEqual(512);
    const reply = dnsPacket.decode(raw);
    expect(reply.id).toBe(41);
    expect(reply.flag_tc).toBe(true);
    const got = addresses(reply);
    expect(got.length).toBeGreaterThan(0);
    expect(got.length).toBeLessThan(MANY.length);
    // Whole records, the first ones, in the upstream's order (a decode of a cut record fails).
    expect(got).toEqual(MANY.slice(0, got.length));
    expect(
      reply.answers?.every((a) => a.name === 'big.example.test' && (a as { ttl?: number }).ttl === 30),
    ).toBe(true);
    // As many as fit: one more would not.
    const recordBytes = (raw.length - 12 - (16 + 2 + 4)) / got.length;
    expect(raw.length + recordBytes).toBeGreaterThan(512);
    expect(reply.additionals ?? []).toEqual([]);
  });

  it('carry the full answer to a client advertising 4096 bytes', async () => {
    const raw = await udpAnswer(port, query(42, 4096));
    expect(raw.length).toBeGreaterThan(512);
    const reply = dnsPacket.decode(raw);
    expect(reply.flag_tc).toBe(false);
    expect(addresses(reply)).toEqual(MANY);
    const opt = reply.additionals?.find((a) => a.type === 'OPT') as unknown as { udpPayloadSize: number };
    expect(opt.udpPayloadSize).toBe(4096);
  });

  it('keep the OPT record when cut for a small EDNS0 size', async () => {
    const raw = await udpAnswer(port, query(43, 700));
    expect(raw.length).toBeLessThanOrEqual(700);
    expect(raw.length).toBeGreaterThan(512);
    const reply = dnsPacket.decode(raw);
    expect(reply.flag_tc).toBe(true);
    const got = addresses(reply);
    expect(got).toEqual(MANY.slice(0, got.length));
    const opt = reply.additionals?.find((a) => a.type === 'OPT') as unknown as { udpPayloadSize: number };
    expect(opt.udpPayloadSize).toBe(700);
  });
});
