import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { InprocessProxyBackend } from '../../src/backends/inprocess';
import {
  closeServer,
  echoServer,
  loopbackPod,
  registryWith,
  service,
  waitFor,
} from '../backends/inprocess/helpers';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function echoProxy(ip: string, port: number) {
  const registry = await registryWith([
    service('echo', { selector: { app: 'echo' }, ports: [{ port: 7, targetPort: 'tcp' }] }),
    loopbackPod('echo', ip, { app: 'echo' }, { ports: [{ name: 'tcp', containerPort: port }] }),
  ]);
  const proxy = new InprocessProxyBackend({
    portalAddresses: ['127.0.0.1'],
    portalPort: 'auto',
    shutdownTimeoutMs: 100,
  });
  cleanups.push(
    () => registry.close(),
    () => proxy.close(),
  );
  await proxy.attach(registry);
  const listener = proxy.openListeners()[0];
  if (!listener) throw new Error('no listener');
  return { proxy, port: listener.boundPort };
}

describe('userspace proxy under load', () => {
  it('carries a 256 MiB stream both ways with identical checksums', async () => {
    const echo = await echoServer('127.0.0.50');
    cleanups.push(() => closeServer(echo.server));
    const { port, proxy } = await echoProxy('127.0.0.50', echo.port);
    const TOTAL = 256 * 1024 * 1024;
    const CHUNK = 1024 * 1024;
    const sent = createHash('sha256');
    const received = createHash('sha256');
    let receivedBytes = 0;
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const done = new Promise<void>((resolve, reject) => {
      socket.on('data', (c: Buffer) => {
        received.update(c);
        receivedBytes += c.length;
      });
      socket.on('end', () => resolve());
      socket.on('error', reject);
    });
    // Write with backpressure: a fresh random chunk each time, waiting for drain when full.
    for (let off = 0; off < TOTAL; off += CHUNK) {
      const chunk = randomBytes(CHUNK);
      sent.update(chunk);
      if (!socket.write(chunk)) await new Promise((r) => socket.once('drain', r));
    }
    socket.end();
    await done;
    expect(receivedBytes).toBe(TOTAL);
    expect(received.digest('hex')).toBe(sent.digest('hex'));
    const stats = proxy.metrics.get('default/echo');
    expect(stats?.bytesToEndpoint).toBe(TOTAL);
    expect(stats?.bytesToClient).toBe(TOTAL);
  }, 120_000);

  it('keeps endpoint-to-client data intact for a reader that keeps pausing (reused read buffers)', async () => {
    // The endpoint → client direction reads into buffers it reuses when a write completes at
    // once; a slow, pausing client forces queued writes, which must keep their own buffers.
    const echo = await echoServer('127.0.0.51');
    cleanups.push(() => closeServer(echo.server));
    const { port } = await echoProxy('127.0.0.51', echo.port);
    const TOTAL = 48 * 1024 * 1024;
    const sent = createHash('sha256');
    const received = createHash('sha256');
    let receivedBytes = 0;
    let chunks = 0;
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const done = new Promise<void>((resolve, reject) => {
      socket.on('data', (c: Buffer) => {
        received.update(c);
        receivedBytes += c.length;
        if (++chunks % 16 === 0) {
          socket.pause();
          setTimeout(() => socket.resume(), 2);
        }
      });
      socket.on('end', () => resolve());
      socket.on('error', reject);
    });
    // Small and odd-sized writes, so reads on the proxy side come in every size.
    for (let off = 0; off < TOTAL; ) {
      const chunk = randomBytes(Math.min(TOTAL - off, 1000 + ((off / 7) % 70_000)));
      off += chunk.length;
      sent.update(chunk);
      if (!socket.write(chunk)) await new Promise((r) => socket.once('drain', r));
    }
    socket.end();
    await done;
    expect(receivedBytes).toBe(TOTAL);
    expect(received.digest('hex')).toBe(sent.digest('hex'));
  }, 120_000);

  it('holds 5,000 concurrent connections with bounded memory', async () => {
    // The backend lives in a child process so that this process stays within its descriptor
    // limit (client + accepted + upstream socket per connection here).
    const N = 5000;
    const child: ChildProcess = spawn(
      process.execPath,
      [
        '-e',
        `const net=require('node:net');const s=net.createServer(c=>{c.on('error',()=>{});c.pipe(c)});` +
          `s.listen({host:'127.0.0.51',port:0,backlog:8192},()=>console.log(s.address().port));`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    cleanups.push(() => child.kill('SIGKILL'));
    const backendPort = await new Promise<number>((resolve, reject) => {
      child.stdout?.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
      child.once('exit', () => reject(new Error('backend exited')));
    });
    const { port, proxy } = await echoProxy('127.0.0.51', backendPort);
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const sockets: Socket[] = [];
    cleanups.push(() => {
      for (const s of sockets) s.destroy();
    });
    let echoed = 0;
    const deadline = Date.now() + 60_000;
    // Open in batches so the accept queue is never the limit being tested.
    for (let i = 0; i < N && Date.now() < deadline; i += 500) {
      const batch = Array.from({ length: Math.min(500, N - i) }, () => {
        const s = connect({ host: '127.0.0.1', port });
        sockets.push(s);
        return new Promise<void>((resolve, reject) => {
          s.once('data', () => {
            echoed++;
            resolve();
          });
          s.once('error', reject);
          s.write('ping');
        });
      });
      await Promise.all(batch);
    }
    expect(echoed).toBe(N);
    const stats = proxy.metrics.get('default/echo');
    expect(stats?.active).toBe(N);
    const perConnection = (process.memoryUsage().heapUsed - heapBefore) / N;
    // Client socket + proxied pair in this process: a few KiB each, never unbounded buffers.
    expect(perConnection).toBeLessThan(16 * 1024);
    for (const s of sockets) s.destroy();
    await waitFor(() => stats?.active === 0, 20_000);
  }, 120_000);
});
