/**
 * The DNS server with UDP on the native batched socket against the same server on node:dgram
 * (the reference): every answer must be the same bytes. Real clients (dig, Node's resolver), raw
 * queries of every kind the server distinguishes, malformed packets, forwarding and ExternalName
 * chasing through a fake upstream, IPv6, and a bounded burst from several client sockets. The
 * native socket's answer cache: every case sent twice (the miss JavaScript answers, then the
 * hit the socket answers alone) and answers changing at once when the cluster changes.
 * Loopback only.
 */
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { promises as dnsPromises } from 'node:dns';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import dnsPacket from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnsResolver, DnsServer } from '../../src/backends/dns';
import type { EndpointSlice, Service } from '../../src/core/types';
import { nativeUdpAvailable } from '../../src/native/udp';
import { seedState, state, svc } from '../backends/dns/fixtures';
import { udpExchange } from '../helpers/dns';

const run = promisify(execFile);
const DIG = '/usr/bin/dig';
const hasDig = existsSync(DIG);
if (!hasDig) console.warn('dig not found at /usr/bin/dig (install dnsutils): skipping dig-based DNS tests');
const available = nativeUdpAvailable();
if (!available && !process.env['CI'])
  console.warn('native udp part not built here (node scripts/build-native.mjs): skipping native DNS tests');

/** The seed cluster plus a headless service with 60 endpoints (answers past 512 bytes). */
function clusterState() {
  const seed = seedState();
  const wideSlice: EndpointSlice = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { namespace: 'big', name: 'wide-1', labels: { 'kubernetes.io/service-name': 'wide' } },
    addressType: 'IPv4',
    endpoints: Array.from({ length: 60 }, (_, i) => ({ addresses: [`127.0.9.${i + 1}`] })),
    ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
  };
  const services: Service[] = [
    ...seed.services.values(),
    svc('big', 'wide', { clusterIP: 'None', ports: [{ name: 'http', port: 80 }] }),
  ];
  const slices = [...[...seed.endpointSlices.values()].flat(), wideSlice];
  return state(services, slices, ['empty-ns']);
}

/** A fake upstream on 127.0.0.1: one A record (127.0.0.99, TTL 60) for every name. */
class FakeUpstream {
  port = 0;
  private readonly socket = dgram.createSocket('udp4');

  async start(): Promise<this> {
    this.socket.on('message', (m, r) => {
      const q = dnsPacket.decode(m);
      const question = q.questions?.[0];
      const reply = dnsPacket.encode({
        type: 'response',
        id: q.id,
        flags: dnsPacket.RECURSION_AVAILABLE | dnsPacket.RECURSION_DESIRED,
        questions: q.questions,
        answers: question ? [{ type: 'A', name: question.name, ttl: 60, data: '127.0.0.99' }] : [],
      });
      this.socket.send(reply, r.port, r.address);
    });
    await new Promise<void>((r) => this.socket.bind(0, '127.0.0.1', r));
    this.port = this.socket.address().port;
    return this;
  }

  close(): void {
    this.socket.close();
  }
}

interface Pair {
  readonly resolver: DnsResolver;
  readonly js: DnsServer;
  readonly native: DnsServer;
  readonly jsPort: number;
  readonly nativePort: number;
}

const servers: DnsServer[] = [];
async function pair(host: string, upstreams: string[] = []): Promise<Pair> {
  const resolver = new DnsResolver({ localIPs: [host === '::1' ? '::1' : '127.0.0.1'] });
  resolver.update(clusterState());
  const listen = host.includes(':') ? `[${host}]:0` : `${host}:0`;
  const js = new DnsServer(resolver, { listen, upstreams, native: false, forwardTimeoutMs: 500 });
  const native = new DnsServer(resolver, { listen, upstreams, forwardTimeoutMs: 500 });
  servers.push(js, native);
  const [{ port: jsPort }, { port: nativePort }] = await Promise.all([js.start(), native.start()]);
  return { resolver, js, native, jsPort, nativePort };
}

/** Sends `msg` from a fresh socket; the first datagram back, or undefined after `timeoutMs`. */
function exchange(host: string, port: number, msg: Buffer, timeoutMs = 400): Promise<Buffer | undefined> {
  return udpExchange(port, msg, timeoutMs, host);
}

/** Asks both servers of `p` each message; returns [reference, native] replies as hex. */
async function both(
  p: Pair,
  host: string,
  msgs: Buffer[],
  timeoutMs?: number,
): Promise<[string[], string[]]> {
  const hex = (b: Buffer | undefined) => b?.toString('hex') ?? 'no reply';
  const out: [string[], string[]] = [[], []];
  // A few at a time: each drop waits out the timeout, so serially this would take minutes.
  for (let i = 0; i < msgs.length; i += 50) {
    const chunk = msgs.slice(i, i + 50);
    const [js, native] = await Promise.all([
      Promise.all(chunk.map((m) => exchange(host, p.jsPort, m, timeoutMs))),
      Promise.all(chunk.map((m) => exchange(host, p.nativePort, m, timeoutMs))),
    ]);
    out[0].push(...js.map(hex));
    out[1].push(...native.map(hex));
  }
  return out;
}

function query(
  name: string,
  type: dnsPacket.RecordType,
  opts: { id?: number; edns?: { size: number; flags?: number; version?: number }; cls?: number } = {},
): Buffer {
  const msg = dnsPacket.encode({
    type: 'query',
    id: opts.id ?? 0x2a2a,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name }],
    ...(opts.edns
      ? {
          additionals: [
            {
              type: 'OPT',
              name: '.',
              udpPayloadSize: opts.edns.size,
              flags: opts.edns.flags ?? 0,
              ednsVersion: opts.edns.version ?? 0,
            } as never,
          ],
        }
      : {}),
  });
  if (opts.cls !== undefined) msg.writeUInt16BE(opts.cls, msg.length - 2 - (opts.edns ? 11 : 0));
  return msg;
}

/** Raw queries for every branch of the server: hits, misses, EDNS, truncation, rejections. */
function rawQueries(): Buffer[] {
  const wide = 'wide.big.svc.cluster.local';
  const qs = [
    query('redis-master.default.svc.cluster.local', 'A'),
    query('ReDiS-MaStEr.DeFault.SVC.Cluster.LOCAL', 'A', { id: 7 }),
    query('my-service.my-ns.svc.cluster.local', 'AAAA'),
    query('redis-master.default.svc.cluster.local', 'AAAA'),
    query('nope.default.svc.cluster.local', 'A'),
    query('nope.nowhere.svc.cluster.local', 'A'),
    query('_http._tcp.my-service.my-ns.svc.cluster.local', 'SRV'),
    query('_pg._tcp.db.my-ns.svc.cluster.local', 'SRV', { edns: { size: 1232 } }),
    query('db.my-ns.svc.cluster.local', 'A'),
    query('db-0.db.my-ns.svc.cluster.local', 'A'),
    query('20.0.96.10.in-addr.arpa', 'PTR'),
    query('ext.my-ns.svc.cluster.local', 'A'),
    query('alias.my-ns.svc.cluster.local', 'A'),
    query('cluster.local', 'SOA'),
    query('cluster.local', 'NS'),
    query('cluster.local', 'AXFR'),
    query('example.org', 'A'),
    query('redis-master.default.svc.cluster.local', 'A', { edns: { size: 4096, flags: 0x8000 } }),
    query('redis-master.default.svc.cluster.local', 'A', { edns: { size: 100 } }),
    query('redis-master.default.svc.cluster.local', 'A', { edns: { size: 1232, version: 1 } }),
    query('redis-master.default.svc.cluster.local', 'A', { cls: 3 }),
    query(wide, 'A'),
    query(wide, 'A', { edns: { size: 700 } }),
    query(wide, 'A', { edns: { size: 4096 } }),
    query(`_http._tcp.${wide}`, 'SRV', { edns: { size: 1232 } }),
  ];
  const base = qs[0]!;
  const edited = (edit: (b: Buffer) => void, from = base) => {
    const b = Buffer.from(from);
    edit(b);
    return b;
  };
  qs.push(
    edited((b) => (b[2] = b[2]! | 0x80)), // a response: dropped
    edited((b) => (b[2] = (b[2]! & 0x87) | (4 << 3))), // NOTIFY
    edited((b) => (b[2] = (b[2]! & 0x87) | (2 << 3))), // STATUS: NOTIMP
    edited((b) => b.writeUInt16BE(2, 4)), // two questions: FORMERR
    Buffer.concat([base, Buffer.from([0, 0])]), // trailing bytes
    base.subarray(0, 12), // header only
    base.subarray(0, 20), // cut inside the name
    base.subarray(0, 5), // shorter than a header
    Buffer.concat([base.subarray(0, 12), Buffer.from([0xc0, 0x0c, 0, 1, 0, 1])]), // pointer loop
  );
  return qs;
}

/** Seeded mutations of valid queries: bit flips, cuts, junk appended. */
function fuzzQueries(count: number): Buffer[] {
  let seed = 0x5eed1234;
  const rnd = (n: number) => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed % n;
  };
  const seeds = rawQueries().slice(0, 25);
  return Array.from({ length: count }, () => {
    const b = Buffer.from(seeds[rnd(seeds.length)]!);
    const kind = rnd(3);
    if (kind === 0) for (let k = 0; k < 1 + rnd(4); k++) b[rnd(b.length)] = rnd(256);
    if (kind === 1) return b.subarray(0, rnd(b.length));
    if (kind === 2)
      return Buffer.concat([b, Buffer.from(Array.from({ length: 1 + rnd(20) }, () => rnd(256)))]);
    return b;
  });
}

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

describe('native DNS path availability', () => {
  it.runIf(process.env['CI'])('is built under CI', () => {
    expect(available).toBe(true);
  });

  it('uses node:dgram when told native: false, the batched socket otherwise when available', async () => {
    const p = await pair('127.0.0.1');
    expect(p.js.usesNativeUdp()).toBe(false);
    expect(p.native.usesNativeUdp()).toBe(available);
    await p.native.close();
    expect(p.native.usesNativeUdp()).toBe(false);
  });
});

describe.skipIf(!available)('DNS over the native UDP path answers as the node:dgram path', () => {
  let v4: Pair;
  beforeAll(async () => {
    v4 = await pair('127.0.0.1');
  });

  it('gives byte-identical replies to every kind of query, and to what respond() computes', async () => {
    const msgs = rawQueries();
    const [js, native] = await both(v4, '127.0.0.1', msgs);
    expect(native).toEqual(js);
    const reference = msgs.map((m) => v4.js.respond(m, 'udp')?.toString('hex') ?? 'no reply');
    expect(js).toEqual(reference);
    // The cases meant to exercise a branch did: TC set, BADVERS, NOTIMP, drops.
    const flags = (h: string) => Number.parseInt(h.slice(4, 8), 16);
    expect(flags(native[21]!) & 0x0200).toBe(0x0200); // wide A without EDNS: truncated
    expect(flags(native[23]!) & 0x0200).toBe(0); // with 4096 bytes: whole
    expect(native.filter((h) => h === 'no reply').length).toBeGreaterThanOrEqual(2);
  });

  it('survives malformed packets, answering each as the reference does, and keeps serving', async () => {
    const msgs = fuzzQueries(300);
    const [js, native] = await both(v4, '127.0.0.1', msgs, 300);
    expect(native).toEqual(js);
    const [, after] = await both(v4, '127.0.0.1', [query('redis-master.default.svc.cluster.local', 'A')]);
    expect(after[0]).not.toBe('no reply');
  });

  it('serves IPv6 clients the same bytes', async () => {
    const v6 = await pair('::1');
    expect(v6.native.usesNativeUdp()).toBe(true);
    const [js, native] = await both(v6, '::1', rawQueries().slice(0, 25));
    expect(native).toEqual(js);
    expect(native.every((h) => h !== 'no reply')).toBe(true);
  });

  it('fails to start on a taken UDP port with the same error as node:dgram', async () => {
    const holder = dgram.createSocket('udp4');
    await new Promise<void>((r) => holder.bind(0, '127.0.0.1', r));
    const listen = `127.0.0.1:${holder.address().port}`;
    try {
      const resolver = new DnsResolver();
      const failures = await Promise.all(
        [true, false].map((native) =>
          new DnsServer(resolver, { listen, native }).start().then(
            () => undefined,
            (err: NodeJS.ErrnoException) => ({ code: err.code, syscall: err.syscall }),
          ),
        ),
      );
      expect(failures).toEqual([
        { code: 'EADDRINUSE', syscall: 'bind' },
        { code: 'EADDRINUSE', syscall: 'bind' },
      ]);
    } finally {
      holder.close();
    }
  });

  it('answers Node’s dns.Resolver the same way', async () => {
    const ask = async (port: number) => {
      const r = new dnsPromises.Resolver({ timeout: 1000, tries: 1 });
      r.setServers([`127.0.0.1:${port}`]);
      const settle = <T>(p: Promise<T>) =>
        p.then(
          (v) => ({ ok: v }),
          (e: NodeJS.ErrnoException) => ({ err: e.code }),
        );
      return {
        a: await settle(r.resolve4('my-service.my-ns.svc.cluster.local', { ttl: true })),
        aaaa: await settle(r.resolve6('my-service.my-ns.svc.cluster.local')),
        srv: await settle(r.resolveSrv('_http._tcp.my-service.my-ns.svc.cluster.local')),
        headless: await settle(r.resolve4('db.my-ns.svc.cluster.local')),
        ptr: await settle(r.reverse('10.96.0.20')),
        cname: await settle(r.resolveCname('ext.my-ns.svc.cluster.local')),
        nodata: await settle(r.resolve6('redis-master.default.svc.cluster.local')),
        nxdomain: await settle(r.resolve4('nope.default.svc.cluster.local')),
        // Past 512 bytes over UDP: the resolver retries over TCP and gets all 60.
        wide: await settle(r.resolve4('wide.big.svc.cluster.local')),
      };
    };
    const js = await ask(v4.jsPort);
    const native = await ask(v4.nativePort);
    expect(native).toEqual(js);
    expect(native.a).toEqual({ ok: [{ address: '10.96.0.20', ttl: 5 }] });
    expect(native.nxdomain).toEqual({ err: 'ENOTFOUND' });
    expect(native.nodata).toEqual({ err: 'ENODATA' });
    expect((native.wide as { ok: string[] }).ok).toHaveLength(60);
  });

  it.skipIf(!hasDig)(
    'answers dig the same way (EDNS, DO, mixed case, truncation, NXDOMAIN, SRV)',
    async () => {
      const dig = async (port: number, args: string[]) => {
        const { stdout } = await run(DIG, ['-p', String(port), '@127.0.0.1', '+time=2', '+tries=1', ...args]);
        return stdout
          .split('\n')
          .filter((l) => !/^;; (Query time|SERVER|WHEN|MSG SIZE)|^; <<>> DiG/.test(l))
          .join('\n')
          .replace(/id: \d+/, 'id: N');
      };
      const cases = [
        ['redis-master.default.svc.cluster.local', 'A'],
        ['REDIS-master.Default.svc.cluster.local', 'A', '+dnssec'],
        ['_http._tcp.my-service.my-ns.svc.cluster.local', 'SRV'],
        ['nope.default.svc.cluster.local', 'A'],
        ['redis-master.default.svc.cluster.local', 'AAAA', '+noedns'],
        ['wide.big.svc.cluster.local', 'A', '+noedns', '+ignore'],
        ['wide.big.svc.cluster.local', 'A', '+bufsize=800'],
        ['redis-master.default.svc.cluster.local', 'A', '+edns=1'],
      ];
      for (const c of cases) {
        const [js, native] = await Promise.all([dig(v4.jsPort, c), dig(v4.nativePort, c)]);
        expect(native).toEqual(js);
        expect(native).toMatch(/status: (NOERROR|NXDOMAIN|BADVERS)/);
      }
    },
  );

  it('answers a burst of 5,000 queries from 5 client sockets, every reply as respond() computes it', async () => {
    const names = [
      ['redis-master.default.svc.cluster.local', 'A'],
      ['_http._tcp.my-service.my-ns.svc.cluster.local', 'SRV'],
      ['nope.default.svc.cluster.local', 'A'],
      ['redis-master.default.svc.cluster.local', 'AAAA'],
      ['db.my-ns.svc.cluster.local', 'A'],
    ] as const;
    const CLIENTS = 5;
    const PER_CLIENT = 1000;
    const WINDOW = 32;
    const results = await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        const sock = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 20 });
        await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
        const queries = Array.from({ length: PER_CLIENT }, (_, i) => {
          const [name, type] = names[(i + c) % names.length]!;
          return query(name, type, { id: i, ...(i % 3 === 0 ? { edns: { size: 1232 } } : {}) });
        });
        let next = 0;
        let mismatched = 0;
        const answered = new Set<number>();
        const send = () => {
          const q = queries[next++];
          if (q) sock.send(q, v4.nativePort, '127.0.0.1');
        };
        await new Promise<void>((done) => {
          const timer = setTimeout(done, 15000);
          sock.on('message', (m) => {
            const id = m.readUInt16BE(0);
            if (answered.has(id)) return;
            answered.add(id);
            if (!m.equals(v4.js.respond(queries[id]!, 'udp')!)) mismatched++;
            send();
            if (answered.size === PER_CLIENT) {
              clearTimeout(timer);
              done();
            }
          });
          for (let i = 0; i < WINDOW; i++) send();
        });
        sock.close();
        return { answered: answered.size, mismatched };
      }),
    );
    expect(results).toEqual(Array.from({ length: CLIENTS }, () => ({ answered: PER_CLIENT, mismatched: 0 })));
  });

  describe('answer cache in the native socket', () => {
    const hits = (p: Pair) => p.native.nativeUdpStats()?.cacheHits ?? 0;

    /** Ordinary queries the native cache may answer: case, IDs, RD/CD, EDNS sizes, DO. */
    function cacheCases(): Buffer[] {
      const names: [string, dnsPacket.RecordType][] = [
        ['redis-master.default.svc.cluster.local', 'A'],
        ['Redis-Master.DEFAULT.svc.Cluster.Local', 'A'],
        ['redis-master.default.svc.cluster.local', 'AAAA'], // NODATA
        ['nope.default.svc.cluster.local', 'A'], // NXDOMAIN
        ['NoPe.Nowhere.Svc.Cluster.Local', 'TXT'],
        ['_http._tcp.my-service.my-ns.svc.cluster.local', 'SRV'],
        ['_HTTP._Tcp.My-Service.my-ns.svc.cluster.local', 'SRV'],
        ['db.my-ns.svc.cluster.local', 'A'],
        ['DB-0.db.my-ns.svc.cluster.local', 'A'],
        ['20.0.96.10.in-addr.arpa', 'PTR'],
        ['Cluster.Local', 'SOA'],
        ['cluster.local', 'AXFR'],
        ['example.org', 'A'],
        ['WIDE.big.svc.cluster.local', 'A'],
        ['_http._tcp.wide.big.svc.cluster.local', 'SRV'],
      ];
      const ednsVariants = [
        undefined,
        { size: 0 },
        { size: 511 },
        { size: 512 },
        { size: 700, flags: 0x8000 },
        { size: 1232 },
        { size: 1232, flags: 0xffff },
        { size: 65535, flags: 0x8000 },
      ];
      const out: Buffer[] = [];
      let id = 1;
      for (const [name, type] of names)
        for (const edns of ednsVariants) out.push(query(name, type, { id: id++, ...(edns ? { edns } : {}) }));
      // Header bits the reply copies: RD clear, CD set, both, with an odd ID.
      const base = query('redis-master.default.svc.cluster.local', 'A', { id: 0xbeef, edns: { size: 1232 } });
      for (const [b2, b3] of [
        [0x00, 0x00],
        [0x01, 0x10],
        [0x00, 0x10],
        [0x01, 0xff],
      ] as const) {
        const b = Buffer.from(base);
        b[2] = b2;
        b[3] = b3;
        out.push(b);
      }
      // An OPT record carrying an option (a cookie): echoed without it, as the reference does.
      const withOption = Buffer.concat([base, Buffer.from([0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8])]);
      withOption.writeUInt16BE(12, base.length - 2);
      out.push(withOption);
      return out;
    }

    it('answers every case the same on the miss and on the hit, and the hits come from the socket', async () => {
      const p = await pair('127.0.0.1');
      const msgs = cacheCases();
      const [js1, native1] = await both(p, '127.0.0.1', msgs);
      expect(native1).toEqual(js1);
      const afterMisses = hits(p);
      const [js2, native2] = await both(p, '127.0.0.1', msgs);
      expect(native2).toEqual(js2);
      expect(js2).toEqual(js1);
      expect(native2).toEqual(msgs.map((m) => p.js.respond(m, 'udp')?.toString('hex') ?? 'no reply'));
      expect(native2.every((h) => h !== 'no reply')).toBe(true);
      // Every second-round query was an ordinary question already answered once.
      expect(hits(p) - afterMisses).toBe(msgs.length);
      // Truncation happened on hits too: the wide answer without EDNS and at 511/512 bytes.
      const tc = (h: string) => (Number.parseInt(h.slice(4, 8), 16) & 0x0200) !== 0;
      expect(native2.filter(tc).length).toBeGreaterThan(0);
      expect(native2.filter((h) => !tc(h)).length).toBeGreaterThan(0);
    });

    it('leaves unusual queries to JavaScript and answers them as the reference, twice', async () => {
      const p = await pair('127.0.0.1');
      const msgs = [...rawQueries(), ...fuzzQueries(200)];
      const [js1, native1] = await both(p, '127.0.0.1', msgs, 300);
      expect(native1).toEqual(js1);
      const [js2, native2] = await both(p, '127.0.0.1', msgs, 300);
      expect(native2).toEqual(js2);
      expect(native2).toEqual(native1);
      expect(hits(p)).toBeGreaterThan(0);
    });

    it('changes an answer at once when a service is added or removed', async () => {
      const p = await pair('127.0.0.1');
      const ask = () =>
        both(p, '127.0.0.1', [
          query('fresh.default.svc.cluster.local', 'A'),
          query('Fresh.Default.svc.cluster.local', 'A', { id: 3, edns: { size: 1232 } }),
          query('redis-master.default.svc.cluster.local', 'A'),
        ]);
      const change = (services: Service[]) => {
        const base = clusterState();
        const slices = [...base.endpointSlices.values()].flat();
        p.resolver.update(state([...base.services.values(), ...services], slices, ['empty-ns']));
        p.js.invalidate();
        p.native.invalidate();
      };
      await ask();
      const [, before] = await ask(); // cached (hits) now
      expect(hits(p)).toBeGreaterThanOrEqual(3);
      const rcode = (h: string) => Number.parseInt(h.slice(4, 8), 16) & 0xf;
      expect(rcode(before[0]!)).toBe(3); // NXDOMAIN
      change([svc('default', 'fresh', { clusterIP: '10.96.7.7', ports: [{ name: 'http', port: 80 }] })]);
      const [jsAdded, added] = await ask();
      expect(added).toEqual(jsAdded);
      expect(rcode(added[0]!)).toBe(0);
      expect(dnsPacket.decode(Buffer.from(added[1]!, 'hex')).answers?.[0]).toMatchObject({
        data: '10.96.7.7',
      });
      await ask(); // cache the new answers
      change([]);
      const [jsRemoved, removed] = await ask();
      expect(removed).toEqual(jsRemoved);
      expect(rcode(removed[0]!)).toBe(3);
    });

    it('answers the same with the native cache off (every query through JavaScript)', async () => {
      const resolver = new DnsResolver({ localIPs: ['127.0.0.1'] });
      resolver.update(clusterState());
      const off = new DnsServer(resolver, { listen: '127.0.0.1:0', nativeAnswerCache: false });
      servers.push(off);
      const { port } = await off.start();
      const p = await pair('127.0.0.1');
      const msgs = cacheCases();
      for (let round = 0; round < 2; round++) {
        const [js, native] = await both(p, '127.0.0.1', msgs);
        const plain = await both({ ...p, nativePort: port }, '127.0.0.1', msgs);
        expect(plain[1]).toEqual(js);
        expect(native).toEqual(js);
      }
      expect(off.nativeUdpStats()?.cacheHits).toBe(0);
      expect(off.nativeUdpStats()?.cacheEntries).toBe(0);
    });
  });

  describe('with an upstream', () => {
    let upstream: FakeUpstream;
    let fwd: Pair;
    beforeAll(async () => {
      upstream = await new FakeUpstream().start();
      fwd = await pair('127.0.0.1', [`127.0.0.1:${upstream.port}`]);
    });
    afterAll(() => upstream?.close());

    it('relays forwarded queries and chased ExternalName targets byte for byte as the reference', async () => {
      const msgs = [
        query('example.org', 'A'),
        query('Example.ORG', 'A', { id: 99, edns: { size: 1232, flags: 0x8000 } }),
        query('ext.my-ns.svc.cluster.local', 'A'),
        query('ext.my-ns.svc.cluster.local', 'A', { id: 5, edns: { size: 4096 } }),
        query('redis-master.default.svc.cluster.local', 'A'),
      ];
      const [js, native] = await both(fwd, '127.0.0.1', msgs, 1500);
      expect(native).toEqual(js);
      expect(native.every((h) => h !== 'no reply')).toBe(true);
      const chased = dnsPacket.decode(Buffer.from(native[2]!, 'hex'));
      expect(chased.answers?.map((a) => a.type)).toEqual(['CNAME', 'A']);
    });
  });
});
