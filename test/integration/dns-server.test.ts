import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { promises as dnsPromises } from 'node:dns';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { promisify } from 'node:util';
import dnsPacket from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnsBackend, DnsResolver, DnsServer, PodResolver, RRType } from '../../src/backends/dns';
import { seedState, state, svc } from '../backends/dns/fixtures';
import { udpExchange } from '../helpers/dns';

const run = promisify(execFile);
const DIG = '/usr/bin/dig';
const hasDig = existsSync(DIG);
if (!hasDig) console.warn('dig not found at /usr/bin/dig (install dnsutils): skipping dig-based DNS tests');

let server: DnsServer;
let port = 0;

async function dig(...args: string[]): Promise<string> {
  const { stdout } = await run(DIG, [
    '-p',
    String(port),
    '@127.0.0.1',
    '+norec',
    '+time=2',
    '+tries=1',
    ...args,
  ]);
  return stdout;
}

function status(out: string): string | undefined {
  return /status: ([A-Z]+)/.exec(out)?.[1];
}

function udpQuery(msg: Buffer, timeoutMs = 1000): Promise<Buffer | undefined> {
  return udpExchange(port, msg, timeoutMs);
}

function query(name: string, type: dnsPacket.RecordType, extra: Partial<dnsPacket.Packet> = {}): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id: 4242,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name }],
    ...extra,
  });
}

beforeAll(async () => {
  const resolver = new DnsResolver({ localIPs: ['127.0.0.1'] });
  resolver.update(seedState());
  server = new DnsServer(resolver, { listen: '127.0.0.1:0' });
  port = (await server.start()).port;
});

afterAll(async () => {
  await server?.close();
});

describe.skipIf(!hasDig)('DNS server with dig', () => {
  it('answers A with AA, TTL 5 and the query ID', async () => {
    const out = await dig('redis-master.default.svc.cluster.local', 'A');
    expect(status(out)).toBe('NOERROR');
    expect(out).toMatch(/flags: qr aa;/);
    expect(out).toMatch(/redis-master\.default\.svc\.cluster\.local\.\s+5\s+IN\s+A\s+10\.0\.0\.11/);
  });

  it('answers SRV with the additional A', async () => {
    const out = await dig('_redis._tcp.redis-master.default.svc.cluster.local', 'SRV');
    expect(out).toMatch(/SRV\s+0 100 6379 redis-master\.default\.svc\.cluster\.local\./);
    expect(out).toMatch(
      /ADDITIONAL SECTION:\nredis-master\.default\.svc\.cluster\.local\.\s+5\s+IN\s+A\s+10\.0\.0\.11/,
    );
  });

  it('NXDOMAIN and NODATA carry the SOA in the authority section', async () => {
    const nx = await dig('nope.default.svc.cluster.local', 'A');
    expect(status(nx)).toBe('NXDOMAIN');
    expect(nx).toMatch(
      /AUTHORITY SECTION:\ncluster\.local\.\s+5\s+IN\s+SOA\s+ns\.dns\.cluster\.local\. hostmaster\.cluster\.local\. \d+ 7200 1800 86400 5/,
    );
    const nodata = await dig('redis-master.default.svc.cluster.local', 'AAAA');
    expect(status(nodata)).toBe('NOERROR');
    expect(nodata).toMatch(/ANSWER: 0,/);
    expect(nodata).toMatch(/IN\s+SOA/);
  });

  it('preserves the query case (0x20) in the answer', async () => {
    const out = await dig('ReDiS-MaStEr.DeFaUlT.sVc.ClUsTeR.lOcAl', 'A');
    expect(out).toMatch(/ReDiS-MaStEr\.DeFaUlT\.sVc\.ClUsTeR\.lOcAl\.\s+5\s+IN\s+A\s+10\.0\.0\.11/);
  });

  it('serves dns-version TXT, PTR and refuses foreign names', async () => {
    expect(await dig('+short', 'dns-version.cluster.local', 'TXT')).toBe('"1.1.0"\n');
    expect(await dig('+short', '-x', '10.0.0.11')).toBe('redis-master.default.svc.cluster.local.\n');
    expect(status(await dig('example.com', 'A'))).toBe('REFUSED');
  });

  it('echoes EDNS0 and works without it', async () => {
    const withEdns = await dig('+edns=0', '+bufsize=1232', 'redis-master.default.svc.cluster.local', 'A');
    expect(withEdns).toMatch(/OPT PSEUDOSECTION:\n; EDNS: version: 0, flags:; udp: 1232/);
    const without = await dig('+noedns', 'redis-master.default.svc.cluster.local', 'A');
    expect(without).not.toMatch(/OPT PSEUDOSECTION/);
    expect(status(without)).toBe('NOERROR');
  });

  it('answers over TCP', async () => {
    const out = await dig('+tcp', 'db.my-ns.svc.cluster.local', 'A');
    expect(out).toMatch(/127\.0\.0\.11/);
    expect(out).toMatch(/127\.0\.0\.12/);
  });

  it('answers BADVERS for EDNS version 1', async () => {
    const out = await dig('+edns=1', '+noednsnegotiation', 'redis-master.default.svc.cluster.local', 'A');
    expect(status(out)).toBe('BADVERS');
  });
});

describe.skipIf(!hasDig)('UDP truncation with dig', () => {
  it('retries a truncated UDP answer over TCP and gets every record', async () => {
    const resolver = new DnsResolver();
    resolver.update(wideState(60, 2));
    const s = new DnsServer(resolver, { listen: '127.0.0.1:0' });
    const { port: p } = await s.start();
    try {
      const { stdout } = await run(DIG, [
        '-p',
        String(p),
        '@127.0.0.1',
        '+noedns',
        '+time=2',
        '+tries=1',
        'wide.big.svc.cluster.local',
        'A',
      ]);
      expect(stdout).toMatch(/Truncated, retrying in TCP mode/);
      expect(stdout).toMatch(/ANSWER: 60,/);
    } finally {
      await s.close();
    }
  });
});

describe('DNS server over the wire', () => {
  it('works with Node dns.Resolver and the pod search list', async () => {
    const r = new dnsPromises.Resolver({ timeout: 1000, tries: 1 });
    r.setServers([`127.0.0.1:${port}`]);
    expect(await r.resolve4('my-service.my-ns.svc.cluster.local')).toEqual(['10.96.0.20']);
    const srv = await r.resolveSrv('_http._tcp.my-service.my-ns.svc.cluster.local');
    expect(srv).toEqual([{ name: 'my-service.my-ns.svc.cluster.local', port: 80, priority: 0, weight: 50 }]);
    const pod = new PodResolver({
      namespace: 'my-ns',
      nameservers: [`127.0.0.1:${port}`],
      timeoutMs: 1000,
      tries: 1,
    });
    expect(await pod.resolve4('backend-service')).toEqual({
      name: 'backend-service.my-ns.svc.cluster.local',
      records: ['10.96.0.21'],
    });
    expect((await pod.resolve4('redis-master.default')).records).toEqual(['10.0.0.11']);
    await expect(pod.resolve4('nothing-here')).rejects.toThrow(/not found/);
  });

  it('truncates over UDP past 512 bytes without EDNS and serves the whole answer over TCP', async () => {
    const resolver = new DnsResolver();
    resolver.update(wideState(60, 1));
    const s = new DnsServer(resolver, { listen: '127.0.0.1:0' });
    await s.start();
    try {
      const udp = s.respond(query('wide.big.svc.cluster.local', 'A'), 'udp')!;
      const dec = dnsPacket.decode(udp);
      // As CoreDNS (miekg/dns Msg.Truncate): as many whole records as fit, then TC.
      expect(dec.flag_tc).toBe(true);
      expect(udp.length).toBeLessThanOrEqual(512);
      expect(dec.answers).toHaveLength(29);
      expect(udp.readUInt16BE(6)).toBe(29);
      expect(dec.answers!.map((a) => (a as { data: unknown }).data)).toEqual(
        Array.from({ length: 29 }, (_, i) => `127.0.1.${i + 1}`),
      );
      expect(dec.id).toBe(4242);
      // With a small EDNS0 size the OPT record still goes out and the size is echoed.
      const small = s.respond(
        query('wide.big.svc.cluster.local', 'A', {
          additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 600 }] as never,
        }),
        'udp',
      )!;
      const smallDec = dnsPacket.decode(small);
      expect(small.length).toBeLessThanOrEqual(600);
      expect(smallDec.flag_tc).toBe(true);
      expect(smallDec.answers!.length).toBe(Math.floor((600 - 11 - (12 + 32)) / 16));
      expect(smallDec.additionals).toMatchObject([{ type: 'OPT', udpPayloadSize: 600 }]);
      const big = s.respond(
        query('wide.big.svc.cluster.local', 'A', {
          additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096 }] as never,
        }),
        'udp',
      )!;
      expect(dnsPacket.decode(big).answers).toHaveLength(60);
      const tcp = dnsPacket.decode(s.respond(query('wide.big.svc.cluster.local', 'A'), 'tcp')!);
      expect(tcp.flag_tc).toBe(false);
      expect(tcp.answers).toHaveLength(60);
    } finally {
      await s.close();
    }
  });

  it('handles several queries on one TCP connection, split across writes', async () => {
    const a = query('redis-master.default.svc.cluster.local', 'A');
    const b = query('db.my-ns.svc.cluster.local', 'A');
    const frame = (m: Buffer) => Buffer.concat([Buffer.from([m.length >> 8, m.length & 0xff]), m]);
    const data = Buffer.concat([frame(a), frame(b)]);
    const replies = await new Promise<Buffer[]>((resolve, reject) => {
      const sock = net.connect(port, '127.0.0.1');
      const got: Buffer[] = [];
      let buf = Buffer.alloc(0);
      sock.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 2 && buf.length >= buf.readUInt16BE(0) + 2) {
          got.push(buf.subarray(2, buf.readUInt16BE(0) + 2));
          buf = buf.subarray(buf.readUInt16BE(0) + 2);
        }
        if (got.length === 2) {
          sock.destroy();
          resolve(got);
        }
      });
      sock.on('error', reject);
      sock.write(data.subarray(0, 7));
      setTimeout(() => sock.write(data.subarray(7)), 20);
    });
    expect(replies.map((r) => dnsPacket.decode(r).answers?.length)).toEqual([1, 2]);
  });

  it('answers FORMERR, NOTIMP or nothing to malformed packets and never crashes (fuzz)', async () => {
    const seedMsgs = [
      query('redis-master.default.svc.cluster.local', 'A'),
      query('_pg._tcp.db.my-ns.svc.cluster.local', 'SRV', {
        additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232 }] as never,
      }),
      query('11.0.0.10.in-addr.arpa', 'PTR'),
    ];
    let seed = 12345;
    const rnd = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    for (let i = 0; i < 3000; i++) {
      let msg: Buffer;
      if (i % 3 === 0) {
        msg = Buffer.alloc(Math.floor(rnd() * 80));
        for (let j = 0; j < msg.length; j++) msg[j] = Math.floor(rnd() * 256);
      } else {
        msg = Buffer.from(seedMsgs[i % seedMsgs.length]!);
        const flips = 1 + Math.floor(rnd() * 4);
        for (let k = 0; k < flips; k++) msg[Math.floor(rnd() * msg.length)] = Math.floor(rnd() * 256);
        if (rnd() < 0.2) msg = msg.subarray(0, Math.floor(rnd() * msg.length));
      }
      for (const t of ['udp', 'tcp'] as const) {
        const out = server.respond(msg, t);
        if (out) {
          expect(out.length).toBeGreaterThanOrEqual(12);
          expect(out[2]! & 0x80).toBe(0x80);
          expect(() => dnsPacket.decode(out)).not.toThrow();
        }
      }
    }
    // Still alive and answering after the garbage, over real UDP.
    for (let i = 0; i < 200; i++) {
      const b = Buffer.alloc(1 + (i % 40));
      for (let j = 0; j < b.length; j++) b[j] = (i * 31 + j * 7) & 0xff;
      const sock = dgram.createSocket('udp4');
      sock.send(b, port, '127.0.0.1', () => sock.close());
    }
    const reply = await udpQuery(query('redis-master.default.svc.cluster.local', 'A'));
    expect(dnsPacket.decode(reply!).answers).toHaveLength(1);
  });

  it('answers FORMERR for two questions and NOTIMP for UPDATE', () => {
    const two = dnsPacket.encode({
      type: 'query',
      id: 7,
      questions: [
        { type: 'A', name: 'a.cluster.local' },
        { type: 'A', name: 'b.cluster.local' },
      ],
    });
    expect(rcodeOf(dnsPacket.decode(server.respond(two, 'udp')!))).toBe('FORMERR');
    const update = Buffer.from(query('cluster.local', 'SOA'));
    update[2] = (update[2]! & 0x87) | (5 << 3);
    expect(rcodeOf(dnsPacket.decode(server.respond(update, 'udp')!))).toBe('NOTIMP');
    const response = Buffer.from(query('cluster.local', 'SOA'));
    response[2] = response[2]! | 0x80;
    expect(server.respond(response, 'udp')).toBeUndefined();
  });

  it('forwards foreign names only to configured upstreams', async () => {
    const upstream = dgram.createSocket('udp4');
    upstream.on('message', (m, r) => {
      const q = dnsPacket.decode(m);
      upstream.send(
        dnsPacket.encode({
          type: 'response',
          id: q.id,
          flags: dnsPacket.RECURSION_AVAILABLE,
          questions: q.questions,
          answers: [{ type: 'A', name: q.questions![0]!.name, ttl: 60, data: '127.0.0.99' }],
        }),
        r.port,
        r.address,
      );
    });
    await new Promise<void>((r) => upstream.bind(0, '127.0.0.1', () => r()));
    const backend = new DnsBackend({
      listen: '127.0.0.1:0',
      upstreams: [`127.0.0.1:${upstream.address().port}`],
    });
    backend.load(seedState());
    const { port: p } = await backend.start();
    try {
      const r = new dnsPromises.Resolver({ timeout: 1000, tries: 1 });
      r.setServers([`127.0.0.1:${p}`]);
      expect(await r.resolve4('example.com')).toEqual(['127.0.0.99']);
      expect(await r.resolve4('redis-master.default.svc.cluster.local')).toEqual(['10.0.0.11']);
    } finally {
      await backend.close();
      upstream.close();
    }
  });

  it('follows state changes live (new service answers at once, deleted one is gone)', async () => {
    const backend = new DnsBackend({ listen: '127.0.0.1:0' });
    const s0 = seedState();
    backend.load(s0);
    const { port: p } = await backend.start();
    const ask = async (name: string) => {
      const reply = await new Promise<Buffer>((resolve) => {
        const sock = dgram.createSocket('udp4');
        sock.on('message', (m) => {
          sock.close();
          resolve(m);
        });
        sock.send(query(name, 'A'), p, '127.0.0.1');
      });
      return dnsPacket.decode(reply);
    };
    try {
      expect(rcodeOf(await ask('late.default.svc.cluster.local'))).toBe('NXDOMAIN');
      const services = new Map(s0.services);
      services.set('default/late', svc('default', 'late', { clusterIP: '10.0.0.77', ports: [{ port: 80 }] }));
      services.delete('default/redis-master');
      backend.sync({
        previous: undefined as never,
        current: { ...s0, services, revision: 2, ports: new Map() },
        changes: [],
        changedServices: new Set(['default/late', 'default/redis-master']),
      });
      backend.sync({
        previous: { ...s0, revision: 1, ports: new Map() },
        current: { ...s0, services, revision: 2, ports: new Map() },
        changes: [],
        changedServices: new Set(['default/late', 'default/redis-master']),
      });
      expect((await ask('late.default.svc.cluster.local')).answers).toMatchObject([{ data: '10.0.0.77' }]);
      expect(rcodeOf(await ask('redis-master.default.svc.cluster.local'))).toBe('NXDOMAIN');
    } finally {
      await backend.close();
    }
  });

  it('answers an unusual qtype via the fast path with the right NODATA/NXDOMAIN', () => {
    const mx = dnsPacket.decode(
      server.respond(query('redis-master.default.svc.cluster.local', 'MX'), 'udp')!,
    );
    expect(rcodeOf(mx)).toBe('NOERROR');
    expect(mx.answers).toHaveLength(0);
    expect(mx.authorities).toHaveLength(1);
    const axfr = dnsPacket.decode(server.respond(query('cluster.local', 'AXFR'), 'tcp')!);
    expect(rcodeOf(axfr)).toBe('REFUSED');
    expect(RRType.SRV).toBe(33);
  });
});

/** A headless service `wide.big` with `n` ready endpoints on 127.0.<third>.x, port `http` 80. */
function wideState(n: number, third: number) {
  return state(
    [svc('big', 'wide', { clusterIP: 'None', ports: [{ name: 'http', port: 80 }] })],
    [
      {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { namespace: 'big', name: 'wide-1', labels: { 'kubernetes.io/service-name': 'wide' } },
        addressType: 'IPv4',
        endpoints: Array.from({ length: n }, (_, i) => ({ addresses: [`127.0.${third}.${i + 1}`] })),
        ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
      },
    ],
  );
}

describe('UDP truncation keeps whole records (CoreDNS / miekg Msg.Truncate)', () => {
  it('for every payload size: fits, keeps a prefix of the full answer, TC exactly when something was cut', async () => {
    const resolver = new DnsResolver();
    resolver.update(wideState(60, 4));
    const s = new DnsServer(resolver, { listen: '127.0.0.1:0' });
    const names: [string, dnsPacket.RecordType][] = [
      ['wide.big.svc.cluster.local', 'A'],
      ['_http._tcp.wide.big.svc.cluster.local', 'SRV'],
    ];
    for (const [name, type] of names) {
      const full = dnsPacket.decode(s.respond(query(name, type), 'tcp')!);
      const fullRecords = [...(full.answers ?? []), ...(full.additionals ?? [])];
      for (let size = 512; size <= 4096; size += 97) {
        const out = s.respond(
          query(name, type, { additionals: [{ type: 'OPT', name: '.', udpPayloadSize: size }] as never }),
          'udp',
        )!;
        expect(out.length).toBeLessThanOrEqual(size);
        const dec = dnsPacket.decode(out);
        const kept = [...(dec.answers ?? []), ...(dec.additionals ?? []).filter((r) => r.type !== 'OPT')];
        expect(kept).toEqual(fullRecords.slice(0, kept.length));
        expect(dec.flag_tc).toBe(kept.length < fullRecords.length);
        // Answers are cut before any additional record is kept.
        if ((dec.answers ?? []).length < (full.answers ?? []).length)
          expect(kept).toHaveLength(dec.answers!.length);
      }
    }
  });

  it.skipIf(!hasDig)('dig +ignore shows the truncated UDP answer; Node falls back to TCP', async () => {
    const resolver = new DnsResolver();
    resolver.update(wideState(120, 5));
    const s = new DnsServer(resolver, { listen: '127.0.0.1:0' });
    const { port: p } = await s.start();
    try {
      const { stdout } = await run(DIG, [
        '-p',
        String(p),
        '@127.0.0.1',
        '+ignore',
        '+noedns',
        '+time=2',
        '+tries=1',
        'wide.big.svc.cluster.local',
        'A',
      ]);
      expect(stdout).toMatch(/flags: qr aa tc rd;/);
      expect(stdout).toMatch(/ANSWER: 29,/);
      const r = new dnsPromises.Resolver({ timeout: 2000, tries: 1 });
      r.setServers([`127.0.0.1:${p}`]);
      const all = await r.resolve4('wide.big.svc.cluster.local');
      expect(all.sort()).toEqual(Array.from({ length: 120 }, (_, i) => `127.0.5.${i + 1}`).sort());
    } finally {
      await s.close();
    }
  });
});

/** dns-packet sets `rcode` on decoded packets; its typings leave it out. */
function rcodeOf(p: dnsPacket.DecodedPacket): string {
  return (p as unknown as { rcode: string }).rcode;
}
