import { createSocket } from 'node:dgram';
import { connect, createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { InprocessProxyBackend, type InprocessProxyOptions } from '../../src/backends/inprocess';
import type { Pod, Service } from '../../src/core/types';
import {
  closeServer,
  echoServer,
  exchange,
  httpGet,
  listen,
  loopbackPod,
  nameServer,
  registryWith,
  service,
  waitFor,
} from '../backends/inprocess/helpers';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function proxyFor(objects: (Service | Pod)[], opts: InprocessProxyOptions = {}) {
  const registry = await registryWith(objects);
  const proxy = new InprocessProxyBackend({
    portalAddresses: ['127.0.0.1'],
    portalPort: 'auto',
    shutdownTimeoutMs: 200,
    ...opts,
  });
  cleanups.push(
    () => registry.close(),
    () => proxy.close(),
  );
  await proxy.attach(registry);
  const portOf = (routeKey: string, kind = 'portal') => {
    const l = proxy.openListeners().find((x) => x.routeKey === routeKey && x.kind === kind);
    if (!l) throw new Error(`no ${kind} listener for ${routeKey}`);
    return l.boundPort;
  };
  const settle = async () => {
    await registry.settled();
    await proxy.idle();
  };
  return { registry, proxy, portOf, settle };
}

async function httpPods(ips: string[], label = 'web'): Promise<Pod[]> {
  const pods: Pod[] = [];
  for (const [i, ip] of ips.entries()) {
    const { server, port } = await nameServer(ip, `pod-${i}`);
    cleanups.push(() => closeServer(server));
    pods.push(
      loopbackPod(`${label}-${i}`, ip, { app: label }, { ports: [{ name: 'http', containerPort: port }] }),
    );
  }
  return pods;
}

const webService = (extra: Partial<Service['spec']> = {}) =>
  service('web', { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 'http' }], ...extra });

describe('userspace proxy (TCP)', () => {
  it('spreads new connections across real backends round-robin', async () => {
    const pods = await httpPods(['127.0.0.21', '127.0.0.22']);
    const { portOf, proxy } = await proxyFor([webService(), ...pods]);
    const port = portOf('default/web');
    const counts = new Map<string, number>();
    for (let i = 0; i < 20; i++) {
      const body = await httpGet('127.0.0.1', port);
      counts.set(body, (counts.get(body) ?? 0) + 1);
    }
    expect(counts).toEqual(new Map([...counts.keys()].map((k) => [k, 10])));
    expect(counts.size).toBe(2);
    const stats = proxy.metrics.get('default/web');
    expect(stats?.total).toBe(20);
    await waitFor(() => stats?.active === 0);
    expect(stats?.bytesToClient).toBeGreaterThan(0);
  });

  it('keeps a client on one backend with ClientIP affinity', async () => {
    const pods = await httpPods(['127.0.0.23', '127.0.0.24']);
    const { portOf } = await proxyFor([webService({ sessionAffinity: 'ClientIP' }), ...pods]);
    const port = portOf('default/web');
    const bodies = new Set<string>();
    for (let i = 0; i < 10; i++) bodies.add(await httpGet('127.0.0.1', port));
    expect(bodies.size).toBe(1);
  });

  it('retries on another endpoint when one refuses, with no failed client connection', async () => {
    const pods = await httpPods(['127.0.0.25', '127.0.0.26']);
    // A ready endpoint with nothing listening: every connect to it is refused.
    const dead = loopbackPod(
      'web-dead',
      '127.0.0.27',
      { app: 'web' },
      { ports: [{ name: 'http', containerPort: 1 }] },
    );
    const { portOf, proxy } = await proxyFor([webService(), ...pods, dead]);
    const retries: string[] = [];
    proxy.on('retry', (_k, ep) => retries.push(ep.key));
    const port = portOf('default/web');
    for (let i = 0; i < 30; i++) expect(await httpGet('127.0.0.1', port)).toMatch(/^pod-[01]$/);
    expect(retries.length).toBeGreaterThanOrEqual(9);
    expect(new Set(retries)).toEqual(new Set(['127.0.0.27:1']));
    expect(proxy.metrics.get('default/web')?.retries).toBe(retries.length);
    expect(proxy.metrics.get('default/web')?.errors).toBe(0);
  });

  it('loses no client connection while a backend is killed under load', async () => {
    const a = await nameServer('127.0.0.28', 'a');
    const b = await nameServer('127.0.0.29', 'b');
    cleanups.push(
      () => closeServer(a.server),
      () => closeServer(b.server),
    );
    const pods = [
      loopbackPod(
        'web-a',
        '127.0.0.28',
        { app: 'web' },
        { ports: [{ name: 'http', containerPort: a.port }] },
      ),
      loopbackPod(
        'web-b',
        '127.0.0.29',
        { app: 'web' },
        { ports: [{ name: 'http', containerPort: b.port }] },
      ),
    ];
    const { portOf } = await proxyFor([webService(), ...pods]);
    const port = portOf('default/web');
    const results: string[] = [];
    let failures = 0;
    const deadline = Date.now() + 10_000;
    const worker = async () => {
      while (results.length + failures < 400 && Date.now() < deadline) {
        try {
          results.push(await httpGet('127.0.0.1', port));
        } catch {
          failures++;
        }
        if (results.length === 100) a.server.close();
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    expect(failures).toBe(0);
    expect(results.length).toBeGreaterThanOrEqual(400);
    expect(results.slice(-50).every((r) => r === 'b')).toBe(true);
  });

  it('propagates half-close both ways and carries data after the client FIN', async () => {
    const echo = await echoServer('127.0.0.30');
    cleanups.push(() => closeServer(echo.server));
    const pod = loopbackPod(
      'echo',
      '127.0.0.30',
      { app: 'echo' },
      { ports: [{ name: 'tcp', containerPort: echo.port }] },
    );
    const { portOf } = await proxyFor([
      service('echo', { selector: { app: 'echo' }, ports: [{ port: 7, targetPort: 'tcp' }] }),
      pod,
    ]);
    // The client half-closes right after writing; the echo still arrives, then EOF.
    const reply = await exchange('127.0.0.1', portOf('default/echo'), 'hello, half-open world');
    expect(reply.toString()).toBe('hello, half-open world');
  });

  it('carries client data after the endpoint FIN, then closes with every byte delivered', async () => {
    // An endpoint that greets, half-closes at once, and records what it still receives.
    const received: Buffer[] = [];
    let endpointSawEnd = false;
    const server = createServer({ allowHalfOpen: true }, (s) => {
      s.on('error', () => {});
      s.on('data', (c: Buffer) => received.push(c));
      s.on('end', () => {
        endpointSawEnd = true;
      });
      s.end('hello');
    });
    const port = await listen(server, '127.0.0.33');
    cleanups.push(() => closeServer(server));
    const pod = loopbackPod(
      'greeter',
      '127.0.0.33',
      { app: 'greeter' },
      { ports: [{ name: 'tcp', containerPort: port }] },
    );
    const { portOf } = await proxyFor([
      service('greeter', { selector: { app: 'greeter' }, ports: [{ port: 9, targetPort: 'tcp' }] }),
      pod,
    ]);
    // A small tail is written at once, so the endpoint socket is closed without a shutdown; a
    // large one may still be queued when the client's FIN arrives, and is then ended after it.
    for (const size of [1024, 512 * 1024]) {
      received.length = 0;
      endpointSawEnd = false;
      const tail = Buffer.alloc(size, 0x5a);
      const greeting = await new Promise<string>((resolve, reject) => {
        const c = connect({ host: '127.0.0.1', port: portOf('default/greeter'), allowHalfOpen: true });
        const chunks: Buffer[] = [];
        c.on('error', reject);
        c.on('data', (d: Buffer) => chunks.push(d));
        // Only after the endpoint's FIN has arrived does the client send, then half-close.
        c.on('end', () => {
          c.end(tail);
          resolve(Buffer.concat(chunks).toString());
        });
      });
      expect(greeting).toBe('hello');
      await waitFor(() => endpointSawEnd);
      expect(Buffer.concat(received).equals(tail)).toBe(true);
    }
  });

  it('keeps what a client sends before the endpoint answers, across a refused attempt', async () => {
    const echo = await echoServer('127.0.0.31');
    cleanups.push(() => closeServer(echo.server));
    const ports = [{ name: 'tcp', containerPort: echo.port }];
    const live = loopbackPod('echo-live', '127.0.0.31', { app: 'echo' }, { ports });
    // Nothing listens on port 1 there: every attempt on it is refused and retried elsewhere.
    const dead = loopbackPod(
      'echo-dead',
      '127.0.0.32',
      { app: 'echo' },
      { ports: [{ name: 'tcp', containerPort: 1 }] },
    );
    const { portOf, proxy } = await proxyFor([
      service('echo', { selector: { app: 'echo' }, ports: [{ port: 7, targetPort: 'tcp' }] }),
      live,
      dead,
    ]);
    const port = portOf('default/echo');
    // 1 MiB written and half-closed at once: more than a socket's buffer, so the client side
    // also pauses and resumes before the first endpoint has been tried.
    const payload = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + (i >> 10)) & 0xff;
    for (let i = 0; i < 4; i++)
      expect((await exchange('127.0.0.1', port, payload)).equals(payload)).toBe(true);
    expect(proxy.metrics.get('default/echo')?.retries).toBeGreaterThanOrEqual(1);
    expect(proxy.metrics.get('default/echo')?.errors).toBe(0);
  });

  it('resets connections at once when the service has no endpoints', async () => {
    const { portOf, proxy } = await proxyFor([
      service('empty', { selector: { app: 'none' }, ports: [{ port: 80, targetPort: 8080 }] }),
    ]);
    const port = portOf('default/empty');
    const attempt = () =>
      new Promise<Error>((resolve) => {
        const s = connect({ host: '127.0.0.1', port });
        s.on('error', resolve);
        s.on('close', () => resolve(new Error('closed')));
      });
    // Refused and counted even with nobody listening for failure events.
    const unheard = await attempt();
    expect(['ECONNRESET', undefined]).toContain((unheard as NodeJS.ErrnoException).code);
    const failed: string[] = [];
    proxy.on('connectionFailed', (k, e) => failed.push(`${k}: ${e.message}`));
    const err = await attempt();
    expect(['ECONNRESET', undefined]).toContain((err as NodeJS.ErrnoException).code);
    expect(failed).toEqual([expect.stringMatching(/^default\/empty: default\/empty has no endpoints/)]);
    await waitFor(() => proxy.metrics.get('default/empty')?.errors === 2);
  });

  it('opens and closes listeners as services come and go, NodePorts on node addresses', async () => {
    const pods = await httpPods(['127.0.0.31']);
    const { registry, proxy, settle, portOf } = await proxyFor(pods, { nodeAddresses: ['127.0.0.1'] });
    const events: string[] = [];
    proxy.on('listening', (l) => events.push(`+${l.kind} ${l.routeKey}`));
    proxy.on('listenerClosed', (l) => events.push(`-${l.kind} ${l.routeKey}`));
    expect(proxy.openListeners()).toEqual([]);
    await registry.apply(webService({ type: 'NodePort' }));
    await settle();
    expect(events.sort()).toEqual(['+nodePort default/web', '+portal default/web']);
    const svc = (await registry.get('Service', 'default', 'web')) as Service;
    const nodePort = svc.spec.ports?.[0]?.nodePort as number;
    expect(portOf('default/web', 'nodePort')).toBe(nodePort);
    expect(await httpGet('127.0.0.1', nodePort)).toBe('pod-0');
    expect(await httpGet('127.0.0.1', portOf('default/web'))).toBe('pod-0');
    await registry.delete('Service', 'default', 'web');
    await settle();
    expect(proxy.openListeners()).toEqual([]);
    await expect(httpGet('127.0.0.1', nodePort)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('drains connections to a removed endpoint and routes new ones elsewhere', async () => {
    const e1 = await echoServer('127.0.0.32');
    const e2 = await echoServer('127.0.0.33');
    cleanups.push(
      () => closeServer(e1.server),
      () => closeServer(e2.server),
    );
    const pods = [
      loopbackPod('e1', '127.0.0.32', { app: 'echo' }, { ports: [{ name: 'tcp', containerPort: e1.port }] }),
      loopbackPod('e2', '127.0.0.33', { app: 'echo' }, { ports: [{ name: 'tcp', containerPort: e2.port }] }),
    ];
    const { registry, proxy, settle, portOf } = await proxyFor(
      [service('echo', { selector: { app: 'echo' }, ports: [{ port: 7, targetPort: 'tcp' }] }), ...pods],
      { drainTimeoutMs: 300 },
    );
    const port = portOf('default/echo');
    const held = [connect({ host: '127.0.0.1', port }), connect({ host: '127.0.0.1', port })];
    await waitFor(() => e1.sockets.size === 1 && e2.sockets.size === 1);
    const closed = held.map((s) => new Promise<void>((r) => s.on('close', () => r())));
    for (const s of held) s.on('error', () => {});
    const drained: string[][] = [];
    proxy.on('draining', (_k, eps) => drained.push([...eps]));
    await registry.delete('Pod', 'default', 'e1');
    await settle();
    expect(drained).toEqual([[`127.0.0.32:${e1.port}`]]);
    // New connections avoid the removed endpoint at once.
    for (let i = 0; i < 4; i++) expect((await exchange('127.0.0.1', port, 'x')).toString()).toBe('x');
    expect(proxy.metrics.get('default/echo')?.endpoints.get(`127.0.0.32:${e1.port}`)?.total).toBe(1);
    // The connection to the removed endpoint is closed after the grace period; the other stays.
    await Promise.race([closed[0], closed[1]]);
    await new Promise((r) => setTimeout(r, 50));
    expect(e1.sockets.size).toBe(0);
    expect(e2.sockets.size).toBe(1);
    for (const s of held) s.destroy();
  });

  it('exports per port and per endpoint counters in the Prometheus text format', async () => {
    const pods = await httpPods(['127.0.0.34']);
    const { portOf, proxy } = await proxyFor([webService(), ...pods]);
    await httpGet('127.0.0.1', portOf('default/web'));
    await waitFor(() => proxy.metrics.get('default/web')?.active === 0);
    const text = proxy.prometheus();
    expect(text).toContain('# TYPE svcroute_proxy_connections_total counter');
    expect(text).toContain(
      'svcroute_proxy_connections_total{namespace="default",service="web",port="",protocol="TCP"} 1',
    );
    expect(text).toMatch(
      /svcroute_proxy_endpoint_connections_total\{namespace="default",service="web",port="",protocol="TCP",endpoint="127\.0\.0\.34:\d+"\} 1/,
    );
    expect(text).toContain(
      'svcroute_proxy_connections_active{namespace="default",service="web",port="",protocol="TCP"} 0',
    );
  });

  it('closes idle connections after the idle timeout', async () => {
    const echo = await echoServer('127.0.0.35');
    cleanups.push(() => closeServer(echo.server));
    const pod = loopbackPod(
      'echo',
      '127.0.0.35',
      { app: 'echo' },
      { ports: [{ name: 'tcp', containerPort: echo.port }] },
    );
    const { portOf } = await proxyFor(
      [service('echo', { selector: { app: 'echo' }, ports: [{ port: 7, targetPort: 'tcp' }] }), pod],
      { idleTimeoutMs: 200 },
    );
    const s = connect({ host: '127.0.0.1', port: portOf('default/echo') });
    s.on('error', () => {});
    const started = Date.now();
    await new Promise<void>((r) => s.on('close', () => r()));
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(150);
    expect(took).toBeLessThan(2000);
  });
});

describe('userspace proxy shutdown', () => {
  it('stops accepting, lets open connections finish, then closes the rest', async () => {
    const echo = await echoServer('127.0.0.37');
    cleanups.push(() => closeServer(echo.server));
    const pod = loopbackPod(
      'echo',
      '127.0.0.37',
      { app: 'echo' },
      { ports: [{ name: 'tcp', containerPort: echo.port }] },
    );
    const { portOf, proxy } = await proxyFor(
      [service('echo', { selector: { app: 'echo' }, ports: [{ port: 7, targetPort: 'tcp' }] }), pod],
      { shutdownTimeoutMs: 300 },
    );
    const port = portOf('default/echo');
    const lingering = connect({ host: '127.0.0.1', port });
    lingering.on('error', () => {});
    await waitFor(() => echo.sockets.size === 1);
    const closedAt = new Promise<number>((r) => lingering.on('close', () => r(Date.now())));
    const started = Date.now();
    await proxy.close();
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(250);
    expect((await closedAt) - started).toBeLessThan(2000);
    await expect(exchange('127.0.0.1', port, 'x')).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('userspace proxy (UDP)', () => {
  it('answers request/response through per-client sessions that expire when idle', async () => {
    const server = createSocket('udp4');
    server.on('message', (msg, rinfo) =>
      server.send(Buffer.concat([Buffer.from('echo:'), msg]), rinfo.port, rinfo.address),
    );
    await new Promise<void>((r) => server.bind({ address: '127.0.0.36', port: 0 }, () => r()));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const pod = loopbackPod(
      'dns',
      '127.0.0.36',
      { app: 'dns' },
      {
        ports: [{ name: 'dns', containerPort: server.address().port, protocol: 'UDP' }],
      },
    );
    const { portOf, proxy } = await proxyFor(
      [
        service('dns', {
          selector: { app: 'dns' },
          ports: [{ port: 53, targetPort: 'dns', protocol: 'UDP' }],
        }),
        pod,
      ],
      { udpIdleTimeoutMs: 100 },
    );
    const port = portOf('default/dns');
    const client = createSocket('udp4');
    cleanups.push(() => new Promise<void>((r) => client.close(() => r())));
    const replies: string[] = [];
    client.on('message', (m) => replies.push(m.toString()));
    for (const q of ['a', 'b', 'c']) client.send(q, port, '127.0.0.1');
    await waitFor(() => replies.length === 3);
    expect(replies.sort()).toEqual(['echo:a', 'echo:b', 'echo:c']);
    const stats = proxy.metrics.get('default/dns');
    expect(stats?.total).toBe(1);
    expect(stats?.active).toBe(1);
    await waitFor(() => stats?.active === 0, 2000);
    client.send('d', port, '127.0.0.1');
    await waitFor(() => replies.length === 4);
    expect(stats?.total).toBe(2);
  });
});
