/**
 * The native batched UDP socket on its own: batches in and out, IPv4 and IPv6, oversize
 * datagrams, late sends, counters, errors, closing, and environment teardown in a worker.
 * Loopback only; every wait is bounded.
 */
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import dnsPacket from 'dns-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeTemplate } from '../../src/backends/dns/wire';
import { nativeUdpAvailable, openUdpBatchSocket, type UdpBatchSocket } from '../../src/native/udp';

const available = nativeUdpAvailable();
if (!available && !process.env['CI'])
  console.warn('native udp part not built here (node scripts/build-native.mjs): skipping batched UDP tests');

const WAIT_MS = 2000;
const opened: UdpBatchSocket[] = [];
const clients: dgram.Socket[] = [];

afterEach(() => {
  for (const s of opened.splice(0)) s.close();
  for (const c of clients.splice(0)) c.close();
});

function open(options: Parameters<typeof openUdpBatchSocket>[0]): UdpBatchSocket {
  const s = openUdpBatchSocket(options);
  if (!s) throw new Error('native udp part unavailable');
  opened.push(s);
  return s;
}

/**
 * Echoes every readable slot back, QR-style: the reply is the datagram itself. Slots the answer
 * cache took (length -2) are skipped; replies go after the cache's, from `outStart`.
 */
function echo(s: UdpBatchSocket, batches: number[] = []): (count: number, outStart?: number) => void {
  return (count, outStart = 0) => {
    batches.push(count);
    let pos = outStart;
    for (let i = 0; i < count; i++) {
      const len = s.inLengths[i]!;
      if (len < 0) continue;
      s.inBuffer.copy(s.outBuffer, pos, i * s.slotBytes, i * s.slotBytes + len);
      s.outOffsets[i] = pos;
      s.outLengths[i] = len;
      pos += len;
    }
  };
}

async function client(type: 'udp4' | 'udp6' = 'udp4'): Promise<dgram.Socket> {
  const c = dgram.createSocket({ type, recvBufferSize: 1 << 20 });
  clients.push(c);
  await new Promise<void>((r) => c.bind(0, type === 'udp4' ? '127.0.0.1' : '::1', r));
  return c;
}

/** Resolves with the first `n` datagrams `c` receives; rejects after WAIT_MS. */
function collect(c: dgram.Socket, n: number): Promise<Buffer[]> {
  return new Promise((ok, fail) => {
    const got: Buffer[] = [];
    const timer = setTimeout(() => fail(new Error(`got ${got.length} of ${n} datagrams`)), WAIT_MS);
    c.on('message', (m) => {
      got.push(m);
      if (got.length === n) {
        clearTimeout(timer);
        ok(got);
      }
    });
  });
}

/** Resolves true when `c` receives nothing within `ms`. */
function silence(c: dgram.Socket, ms = 200): Promise<boolean> {
  return new Promise((ok) => {
    const onMessage = () => ok(false);
    c.once('message', onMessage);
    setTimeout(() => {
      c.off('message', onMessage);
      ok(true);
    }, ms);
  });
}

/** The add-on the loader picked: the override under test, else the package build. */
function addonPath(): string {
  const addon =
    process.env['SVCROUTE_NATIVE_ADDON'] ||
    fileURLToPath(new URL('../../build/Release/svcroute_native.node', import.meta.url));
  expect(existsSync(addon)).toBe(true);
  return addon;
}

function noError(err: Error): void {
  throw err;
}

describe('native udp part', () => {
  it.runIf(process.env['CI'])('is built under CI', () => {
    expect(available).toBe(true);
  });
});

describe.skipIf(!available)('UdpBatchSocket', () => {
  it('echoes datagrams back in batches over IPv4, byte for byte, and counts them', async () => {
    const s = open({ address: '127.0.0.1', port: 0, slots: 8 });
    expect(s.port).toBeGreaterThan(0);
    expect(s.address).toBe('127.0.0.1');
    expect(s.family).toBe('IPv4');
    expect(s.inLengths).toHaveLength(8);
    const batches: number[] = [];
    s.start(echo(s, batches), noError);
    const c = await client();
    const sent = Array.from({ length: 40 }, (_, i) => Buffer.alloc(1 + i * 37, i + 1));
    const replies = collect(c, sent.length);
    for (const m of sent) c.send(m, s.port, '127.0.0.1');
    const got = await replies;
    const key = (b: Buffer) => `${b.length}:${b[0]}`;
    expect(got.map(key).sort()).toEqual(sent.map(key).sort());
    for (const m of got) expect(m.equals(sent[m[0]! - 1]!)).toBe(true);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(40);
    expect(Math.max(...batches)).toBeLessThanOrEqual(8);
    expect(s.stats()).toEqual({
      received: 40,
      sent: 40,
      dropped: 0,
      truncated: 0,
      batches: batches.length,
      cacheHits: 0,
      cacheEntries: 0,
      cacheBytes: 0,
    });
  });

  it('serves IPv6 and reports each slot’s source', async () => {
    const s = open({ address: '::1', port: 0 });
    expect(s.family).toBe('IPv6');
    const peers: { address: string; port: number; family: string }[] = [];
    const reply = echo(s);
    s.start((count) => {
      for (let i = 0; i < count; i++) peers.push(s.peer(i));
      reply(count);
    }, noError);
    const c = await client('udp6');
    const replies = collect(c, 1);
    c.send(Buffer.from('hello'), s.port, '::1');
    expect((await replies)[0]!.toString()).toBe('hello');
    expect(peers).toEqual([{ address: '::1', port: c.address().port, family: 'IPv6' }]);
  });

  it('hands oversize datagrams over as length -1 and never reads past the slot', async () => {
    const s = open({ address: '127.0.0.1', port: 0, slots: 4, slotBytes: 512 });
    const seen: number[] = [];
    const reply = echo(s);
    s.start((count) => {
      for (let i = 0; i < count; i++) seen.push(s.inLengths[i]!);
      reply(count);
    }, noError);
    const c = await client();
    const replies = collect(c, 2);
    c.send(Buffer.alloc(512, 1), s.port, '127.0.0.1');
    c.send(Buffer.alloc(513, 2), s.port, '127.0.0.1');
    c.send(Buffer.alloc(3000, 3), s.port, '127.0.0.1');
    c.send(Buffer.alloc(7, 4), s.port, '127.0.0.1');
    const got = await replies;
    expect(got.map((b) => b.length).sort((a, b) => a - b)).toEqual([7, 512]);
    expect(seen.sort((a, b) => a - b)).toEqual([-1, -1, 7, 512]);
    expect(await silence(c)).toBe(true);
    expect(s.stats()).toMatchObject({ received: 4, sent: 2, truncated: 2 });
  });

  it('sends the largest datagrams there are: 65,507 bytes over IPv4 from a batch and from send()', async () => {
    const s = open({ address: '127.0.0.1', port: 0, slots: 2 });
    const big = 65507;
    s.outBuffer.fill(0x5a, 0, big);
    s.start((count) => {
      for (let i = 0; i < count; i++) {
        s.outOffsets[i] = 0;
        s.outLengths[i] = big;
      }
    }, noError);
    const c = await client();
    const replies = collect(c, 2);
    c.send(Buffer.from('q'), s.port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 50));
    expect(s.send(Buffer.alloc(big, 0x33), 0, big, '127.0.0.1', c.address().port)).toBe(true);
    const got = await replies;
    expect(got.map((b) => [b.length, b[0], b[big - 1]])).toEqual([
      [big, 0x5a, 0x5a],
      [big, 0x33, 0x33],
    ]);
  });

  it('answers later with peer() and send(), on IPv4 and on an IPv6 socket serving IPv4 peers', async () => {
    for (const [address, clientAddress] of [
      ['127.0.0.1', '127.0.0.1'],
      // An IPv6 socket bound to a v4-mapped loopback address: IPv4 peers appear v4-mapped.
      ['::ffff:127.0.0.1', '127.0.0.1'],
    ] as const) {
      const s = open({ address, port: 0 });
      const later: { address: string; port: number; query: Buffer }[] = [];
      s.start((count) => {
        for (let i = 0; i < count; i++) {
          const at = i * s.slotBytes;
          later.push({ ...s.peer(i), query: Buffer.from(s.inBuffer.subarray(at, at + s.inLengths[i]!)) });
        }
      }, noError);
      const c = await client();
      const replies = collect(c, 1);
      c.send(Buffer.from('ping'), s.port, clientAddress);
      await expect.poll(() => later.length, { timeout: WAIT_MS }).toBe(1);
      const job = later[0]!;
      expect(job.port).toBe(c.address().port);
      expect(job.address).toBe(address);
      const answer = Buffer.concat([Buffer.from('pong:'), job.query]);
      // The peer's own text back, and the plain IPv4 form, both reach it.
      expect(s.send(answer, 0, answer.length, job.address, job.port)).toBe(true);
      expect((await replies)[0]!.toString()).toBe('pong:ping');
      const again = collect(c, 1);
      expect(s.send(answer, 5, 4, clientAddress, job.port)).toBe(true);
      expect((await again)[0]!.toString()).toBe('ping');
      expect(s.stats()).toMatchObject({ received: 1, sent: 2, dropped: 0 });
    }
  });

  it('sends nothing for slots left at length 0 or pointing outside the out buffer (counted as dropped)', async () => {
    const s = open({ address: '127.0.0.1', port: 0, slots: 4, outBytes: 65535 });
    s.start((count) => {
      for (let i = 0; i < count; i++) {
        const first = s.inBuffer[i * s.slotBytes]!;
        if (first === 1) continue; // no reply
        s.outOffsets[i] = first === 2 ? 65535 - 2 : first === 3 ? -1 : 0;
        s.outLengths[i] = first === 2 ? 3 : first === 3 ? 1 : 2;
        s.outBuffer.write('ok', 0);
      }
    }, noError);
    const c = await client();
    const replies = collect(c, 1);
    for (const first of [1, 2, 3, 4]) c.send(Buffer.from([first]), s.port, '127.0.0.1');
    expect((await replies)[0]!.toString()).toBe('ok');
    expect(await silence(c)).toBe(true);
    expect(s.stats()).toMatchObject({ received: 4, sent: 1, dropped: 2 });
  });

  it('reports a failing send to onError and keeps serving', async () => {
    const s = open({ address: '127.0.0.1', port: 0 });
    const errors: Error[] = [];
    s.start(echo(s), (err) => errors.push(err));
    expect(() => s.send(Buffer.from('x'), 0, 1, '127.0.0.1', 0)).toThrow(
      expect.objectContaining({ code: 'EINVAL', syscall: 'send' }),
    );
    expect(() => s.send(Buffer.from('x'), 0, 1, 'not-an-ip', 53)).toThrow(/EINVAL/);
    expect(() => s.send(Buffer.from('x'), 0, 2, '127.0.0.1', 53)).toThrow(RangeError);
    expect(() => s.peer(s.slots)).toThrow(RangeError);
    const c = await client();
    const replies = collect(c, 1);
    c.send(Buffer.from('still'), s.port, '127.0.0.1');
    expect((await replies)[0]!.toString()).toBe('still');
    expect(errors).toEqual([]);
  });

  it('throws bind errors as dgram does (EADDRINUSE, EADDRNOTAVAIL) and rejects bad options', async () => {
    const holder = await client();
    const port = holder.address().port;
    let caught: unknown;
    try {
      open({ address: '127.0.0.1', port });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(Error);
    expect(caught).toMatchObject({
      code: 'EADDRINUSE',
      syscall: 'bind',
      address: '127.0.0.1',
      port,
      message: `bind EADDRINUSE 127.0.0.1:${port}`,
    });
    // An address no interface has (TEST-NET-1): bind fails, nothing is sent anywhere.
    expect(() => open({ address: '192.0.2.1', port: 0 })).toThrow(
      expect.objectContaining({ code: 'EADDRNOTAVAIL', syscall: 'bind' }),
    );
    expect(() => open({ address: 'localhost', port: 0 })).toThrow(TypeError);
    expect(() => open({ address: '127.0.0.1', port: 70000 })).toThrow(RangeError);
    expect(() => open({ address: '127.0.0.1', port: 0, slots: 0 })).toThrow(RangeError);
    expect(() => open({ address: '127.0.0.1', port: 0, slotBytes: 100 })).toThrow(RangeError);
  });

  it('closes twice, from inside a batch, and frees the port; a closed socket refuses work', async () => {
    const s = open({ address: '127.0.0.1', port: 0 });
    const port = s.port;
    let batches = 0;
    s.start((count) => {
      batches++;
      echo(s)(count);
      s.close(); // the replies of this batch go nowhere now
    }, noError);
    const c = await client();
    c.send(Buffer.from('a'), port, '127.0.0.1');
    await expect.poll(() => batches, { timeout: WAIT_MS }).toBe(1);
    expect(await silence(c)).toBe(true);
    s.close();
    s.close();
    expect(() => s.start(echo(s), noError)).toThrow(/closed/);
    expect(() => s.send(Buffer.from('x'), 0, 1, '127.0.0.1', c.address().port)).toThrow(/closed/);
    // The port is free again.
    const again = open({ address: '127.0.0.1', port });
    expect(again.port).toBe(port);
    expect(() => again.start(() => {}, noError)).not.toThrow();
    expect(() => again.start(() => {}, noError)).toThrow(/already started/);
  });

  it('turns an exception thrown by onBatch into an uncaught exception, not a crash or silence', async () => {
    const addon = addonPath();
    const script = `
      const dgram = require('node:dgram');
      const { UdpBatchSocket } = require(${JSON.stringify(addon)}).udp;
      const s = new UdpBatchSocket({ address: '127.0.0.1', port: 0 });
      process.on('uncaughtException', (err) => {
        console.log('uncaught: ' + err.message);
        s.close();
        c.close();
      });
      s.start(() => { throw new Error('boom'); }, () => {});
      const c = dgram.createSocket('udp4');
      c.send(Buffer.from('x'), s.port, '127.0.0.1');
      setTimeout(() => process.exit(3), 3000).unref();`;
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { timeout: 5000 });
    expect(stdout).toBe('uncaught: boom\n');
  });

  it('is closed with its worker: terminated, or exiting on its own when unref()ed', async () => {
    const addon = addonPath();
    for (const mode of ['terminate', 'unref'] as const) {
      const worker = new Worker(
        `const { parentPort, workerData } = require('node:worker_threads');
         const { UdpBatchSocket } = require(workerData.addon).udp;
         const s = new UdpBatchSocket({ address: '127.0.0.1', port: 0 });
         s.start(() => {}, (e) => { throw e; });
         if (workerData.mode === 'unref') s.unref();
         parentPort.postMessage(s.port);`,
        { eval: true, workerData: { addon, mode } },
      );
      const port = await new Promise<number>((ok, fail) => {
        worker.once('message', ok);
        worker.once('error', fail);
      });
      const exited = new Promise<number>((ok) => worker.once('exit', ok));
      if (mode === 'terminate') await worker.terminate();
      await exited;
      // The environment's teardown closed the socket: its port can be bound again.
      const again = open({ address: '127.0.0.1', port });
      expect(again.port).toBe(port);
      again.close();
    }
  });
});

describe.skipIf(!available)('UdpBatchSocket answer cache', () => {
  /** A template for `name` A with `count` addresses, as the DNS server encodes them. */
  function template(name: string, count: number) {
    const answers = Array.from({ length: count }, (_, i) => ({
      type: 'A' as const,
      name,
      ttl: 5,
      address: `10.0.${i >> 8}.${i & 0xff}`,
    }));
    const answer = {
      rcode: 0,
      authoritative: true,
      answers,
      authority: [],
      additional: [],
      scope: 'zone' as const,
    };
    return encodeTemplate(name, 1, 1, { ...answer, cacheable: true });
  }
  const put = (s: UdpBatchSocket, t: ReturnType<typeof template>) =>
    s.cacheSet(
      t.buf,
      Uint32Array.from(t.recordEnds),
      t.questionEnd,
      t.answerCount,
      t.authorityCount,
      t.additionalCount,
    );
  const ask = (name: string, id: number, udpPayloadSize?: number) =>
    dnsPacket.encode({
      type: 'query',
      id,
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ type: 'A', name }],
      ...(udpPayloadSize ? { additionals: [{ type: 'OPT', name: '.', udpPayloadSize } as never] } : {}),
    });

  it('is off unless asked for, and refuses templates it cannot key', () => {
    const off = open({ address: '127.0.0.1', port: 0 });
    expect(put(off, template('a.example', 1))).toBe(-1);
    const s = open({ address: '127.0.0.1', port: 0, cacheEntries: 10 });
    const t = template('a.example', 1);
    expect(put(s, t)).toBeGreaterThanOrEqual(0);
    const upper = Buffer.from(t.buf);
    upper[13] = 0x41; // 'A': keys are lowercase
    expect(s.cacheSet(upper, Uint32Array.from(t.recordEnds), t.questionEnd, 1, 0, 0)).toBe(-1);
    expect(s.cacheSet(t.buf, Uint32Array.from([t.buf.length + 1]), t.questionEnd, 1, 0, 0)).toBe(-1);
    expect(s.cacheSet(t.buf, Uint32Array.from(t.recordEnds), t.questionEnd, 2, 0, 0)).toBe(-1);
    expect(s.cacheSet(t.buf, Uint32Array.from(t.recordEnds), t.questionEnd + 1, 1, 0, 0)).toBe(-1);
    expect(() => s.cacheSet(t.buf, t.recordEnds as never, t.questionEnd, 1, 0, 0)).toThrow(/cacheSet/);
    expect(s.stats()).toMatchObject({ cacheEntries: 1 });
  });

  it('answers hits without calling onBatch, any case, truncating to the UDP size; misses still go to onBatch', async () => {
    const s = open({ address: '127.0.0.1', port: 0, slots: 8, cacheEntries: 10 });
    const batches: number[] = [];
    const starts: number[] = [];
    const echoRest = echo(s, batches);
    s.start((count, outStart) => {
      starts.push(outStart);
      echoRest(count, outStart);
    }, noError);
    expect(put(s, template('hit.example', 1))).toBeGreaterThanOrEqual(0);
    expect(put(s, template('wide.example', 60))).toBeGreaterThanOrEqual(0);
    const c = await client();
    const replies = collect(c, 4);
    c.send(ask('HiT.Example', 7), s.port, '127.0.0.1');
    c.send(ask('wide.example', 8), s.port, '127.0.0.1');
    c.send(ask('wide.example', 9, 4096), s.port, '127.0.0.1');
    c.send(ask('miss.example', 10), s.port, '127.0.0.1');
    const got = await replies;
    const byId = new Map(got.map((m) => [m.readUInt16BE(0), m]));
    const hit = dnsPacket.decode(byId.get(7)!);
    expect(hit.flags! & dnsPacket.RECURSION_DESIRED).toBeTruthy();
    expect(hit.questions?.[0]?.name).toBe('HiT.Example');
    expect(hit.answers?.map((a) => (a as { data?: unknown }).data)).toEqual(['10.0.0.0']);
    const cut = byId.get(8)!;
    expect(cut.length).toBeLessThanOrEqual(512);
    expect(cut[2]! & 0x02).toBe(0x02); // TC
    const whole = dnsPacket.decode(byId.get(9)!);
    expect(whole.answers).toHaveLength(60);
    expect(whole.additionals?.[0]).toMatchObject({ type: 'OPT', udpPayloadSize: 4096 });
    expect(byId.get(10)!.equals(ask('miss.example', 10))).toBe(true); // echoed by onBatch
    expect(batches.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(4);
    expect(s.stats()).toMatchObject({ cacheHits: 3, cacheEntries: 2 });
    // A batch of hits alone makes no call.
    const calls = batches.length;
    const again = collect(c, 1);
    c.send(ask('hit.example', 11), s.port, '127.0.0.1');
    expect((await again)[0]!.readUInt16BE(0)).toBe(11);
    expect(batches.length).toBe(calls);
    // Emptied: the same question goes to onBatch again.
    s.cacheClear();
    expect(s.stats()).toMatchObject({ cacheEntries: 0, cacheBytes: 0 });
    const echoed = collect(c, 1);
    c.send(ask('hit.example', 12), s.port, '127.0.0.1');
    expect((await echoed)[0]!.equals(ask('hit.example', 12))).toBe(true);
    expect(batches.length).toBe(calls + 1);
  });

  it('stays within its entry bound: a full cache empties itself and says so by its generation', () => {
    const s = open({ address: '127.0.0.1', port: 0, cacheEntries: 2 });
    const g0 = put(s, template('a.example', 1));
    expect(put(s, template('b.example', 1))).toBe(g0);
    expect(put(s, template('b.example', 2))).toBe(g0); // replaces, no growth
    expect(s.stats()).toMatchObject({ cacheEntries: 2 });
    const g1 = put(s, template('c.example', 1));
    expect(g1).not.toBe(g0);
    expect(s.stats()).toMatchObject({ cacheEntries: 1 });
    const tiny = open({ address: '127.0.0.1', port: 0, cacheEntries: 10, cacheBytes: 100 });
    expect(put(tiny, template('wide.example', 60))).toBe(-1);
  });
});
