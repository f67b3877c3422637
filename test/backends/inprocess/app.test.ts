import { createServer, type Socket } from 'node:net';
import { fetch, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ConnectFailedError,
  connect,
  connectService,
  NoEndpointsError,
  ServiceResolver,
} from '../../../src/backends/inprocess';
import { ServiceDispatcher } from '../../../src/backends/inprocess/fetch';
import { closeServer, echoServer, loopbackPod, nameServer, registryWith, service } from './helpers';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function twoBackends(ns = 'my-ns') {
  const a = await nameServer('127.0.0.61', 'a');
  const b = await nameServer('127.0.0.62', 'b');
  cleanups.push(
    () => closeServer(a.server),
    () => closeServer(b.server),
  );
  const registry = await registryWith([
    service(
      'backend-service',
      { selector: { app: 'be' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
      ns,
    ),
    loopbackPod(
      'a',
      '127.0.0.61',
      { app: 'be' },
      { namespace: ns, ports: [{ name: 'http', containerPort: a.port }] },
    ),
    loopbackPod(
      'b',
      '127.0.0.62',
      { app: 'be' },
      { namespace: ns, ports: [{ name: 'http', containerPort: b.port }] },
    ),
  ]);
  const resolver = new ServiceResolver(registry);
  cleanups.push(
    () => registry.close(),
    () => resolver.close(),
  );
  return { registry, resolver };
}

describe('ServiceDispatcher', () => {
  it('routes fetch by service name, balancing per request and keeping the Host header', async () => {
    const { resolver } = await twoBackends();
    const dispatcher = new ServiceDispatcher(resolver, { fallback: null });
    cleanups.push(() => dispatcher.close());
    const bodies: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await fetch('http://backend-service.my-ns/path', { dispatcher });
      expect(res.headers.get('x-host')).toBe('backend-service.my-ns');
      bodies.push(await res.text());
    }
    expect(bodies.filter((b) => b === 'a')).toHaveLength(3);
    expect(bodies.filter((b) => b === 'b')).toHaveLength(3);
    expect(dispatcher.poolCount).toBe(2);
  });

  it('lets go of the pool of an endpoint that left', async () => {
    const { resolver, registry } = await twoBackends();
    const dispatcher = new ServiceDispatcher(resolver, { fallback: null });
    cleanups.push(() => dispatcher.close());
    for (let i = 0; i < 2; i++) await (await fetch('http://backend-service.my-ns/', { dispatcher })).text();
    expect(dispatcher.poolCount).toBe(2);
    await registry.delete('Pod', 'my-ns', 'a');
    await registry.settled();
    for (let i = 0; i < 3; i++)
      expect(await (await fetch('http://backend-service.my-ns/', { dispatcher })).text()).toBe('b');
    expect(dispatcher.poolCount).toBe(1);
  });

  it('serves undici.request and reports resolution errors to the caller', async () => {
    const { resolver, registry } = await twoBackends();
    const dispatcher = new ServiceDispatcher(resolver, { fallback: null });
    cleanups.push(() => dispatcher.close());
    const res = await request('http://backend-service.my-ns.svc.cluster.local:80/', { dispatcher });
    expect(['a', 'b']).toContain(await res.body.text());
    await expect(fetch('http://backend-service.my-ns:8080/', { dispatcher })).rejects.toThrow(/fetch failed/);
    await expect(request('http://backend-service.my-ns:8080/', { dispatcher })).rejects.toThrow(
      'cannot resolve "backend-service.my-ns:8080": service my-ns/backend-service has no port 8080/TCP (it has http 80/TCP)',
    );
    await registry.delete('Pod', 'my-ns', 'a');
    await registry.delete('Pod', 'my-ns', 'b');
    await registry.settled();
    await expect(request('http://backend-service.my-ns/', { dispatcher })).rejects.toThrow(NoEndpointsError);
  });

  it('sends names that are not services to the fallback dispatcher', async () => {
    const { resolver } = await twoBackends();
    const outside = await nameServer('127.0.0.63', 'outside');
    cleanups.push(() => closeServer(outside.server));
    const dispatcher = new ServiceDispatcher(resolver);
    cleanups.push(() => dispatcher.close());
    const res = await fetch(`http://127.0.0.63:${outside.port}/`, { dispatcher });
    expect(await res.text()).toBe('outside');
  });
});

describe('connectService', () => {
  it('connects to an endpoint and retries another when one refuses', async () => {
    const echo = await echoServer('127.0.0.64');
    cleanups.push(() => closeServer(echo.server));
    const registry = await registryWith([
      service('echo', { selector: { app: 'echo' }, ports: [{ port: 7, targetPort: 'tcp' }] }),
      loopbackPod(
        'live',
        '127.0.0.64',
        { app: 'echo' },
        { ports: [{ name: 'tcp', containerPort: echo.port }] },
      ),
      loopbackPod('dead', '127.0.0.65', { app: 'echo' }, { ports: [{ name: 'tcp', containerPort: 1 }] }),
    ]);
    const resolver = new ServiceResolver(registry);
    cleanups.push(
      () => registry.close(),
      () => resolver.close(),
    );
    for (let i = 0; i < 4; i++) {
      const socket = await connectService(resolver, 'echo');
      expect(socket.remoteAddress).toBe('127.0.0.64');
      socket.destroy();
    }
    await registry.delete('Pod', 'default', 'live');
    await registry.settled();
    const err = await connectService(resolver, 'echo', { connectTimeoutsMs: [100, 100] }).catch((e) => e);
    expect(err).toBeInstanceOf(ConnectFailedError);
    expect((err as ConnectFailedError).errors).toHaveLength(2);
  });
});

describe('ServiceResolver.connect and the connect alias', () => {
  /** A port on 127.0.0.1 that refuses: bound once, then closed. */
  async function refusingPort(): Promise<number> {
    const server = createServer();
    const port = await new Promise<number>((resolve) =>
      server.listen({ host: '127.0.0.1', port: 0 }, () => {
        const a = server.address();
        resolve(typeof a === 'object' && a ? a.port : 0);
      }),
    );
    await closeServer(server);
    return port;
  }

  async function refusingThenLive() {
    const echo = await echoServer('127.0.0.1');
    cleanups.push(() => closeServer(echo.server));
    const dead = await refusingPort();
    // Two endpoints on 127.0.0.1: a port nobody listens on, and the echo server.
    const registry = await registryWith([
      service('echo', { selector: { app: 'echo' }, ports: [{ port: 7, targetPort: 'tcp' }] }),
      loopbackPod('dead', '127.0.0.1', { app: 'echo' }, { ports: [{ name: 'tcp', containerPort: dead }] }),
      loopbackPod(
        'live',
        '127.0.0.1',
        { app: 'echo' },
        { ports: [{ name: 'tcp', containerPort: echo.port }] },
      ),
    ]);
    const resolver = new ServiceResolver(registry);
    cleanups.push(
      () => registry.close(),
      () => resolver.close(),
    );
    expect(resolver.table.servicePorts('default', 'echo')[0]?.liveKeys.size).toBe(2);
    return { echo, dead, resolver };
  }

  async function roundTrip(socket: Socket): Promise<string> {
    const reply = new Promise<string>((resolve, reject) => {
      socket.once('data', (b: Buffer) => resolve(b.toString()));
      socket.once('error', reject);
    });
    socket.write('ping');
    const text = await reply;
    socket.destroy();
    return text;
  }

  it('resolver.connect() reaches the live endpoint whichever the balancer picks first', async () => {
    const { echo, dead, resolver } = await refusingThenLive();
    // Round-robin over two endpoints: at least two of these picks start on the refusing one.
    for (let i = 0; i < 4; i++) {
      const socket = await resolver.connect('echo', { connectTimeoutsMs: [500, 500] });
      expect(socket.remotePort).toBe(echo.port);
      expect(socket.remotePort).not.toBe(dead);
      expect(await roundTrip(socket)).toBe('ping');
    }
    // With a single attempt, the pick that starts on the refusing endpoint fails: the successes
    // above were retries, not luck.
    const single = await Promise.allSettled(
      [0, 1].map(() => resolver.connect('echo', { connectTimeoutsMs: [500] })),
    );
    expect(single.filter((r) => r.status === 'rejected')).toHaveLength(1);
    for (const r of single) if (r.status === 'fulfilled') r.value.destroy();
  });

  it('connect() from the entry is connectService, with its retry', async () => {
    expect(connect).toBe(connectService);
    const { echo, resolver } = await refusingThenLive();
    for (let i = 0; i < 2; i++) {
      const socket = await connect(resolver, 'echo.default.svc.cluster.local:7');
      expect(socket.remotePort).toBe(echo.port);
      expect(await roundTrip(socket)).toBe('ping');
    }
  });

  it('resolver.connect() fails with every attempt listed when no endpoint answers', async () => {
    const dead = await refusingPort();
    const registry = await registryWith([
      service('gone', { selector: { app: 'gone' }, ports: [{ port: 7, targetPort: dead }] }),
      loopbackPod('gone-1', '127.0.0.1', { app: 'gone' }),
    ]);
    const resolver = new ServiceResolver(registry);
    cleanups.push(
      () => registry.close(),
      () => resolver.close(),
    );
    const err = await resolver.connect('gone', { connectTimeoutsMs: [200, 200, 200] }).catch((e) => e);
    expect(err).toBeInstanceOf(ConnectFailedError);
    expect((err as ConnectFailedError).errors).toHaveLength(3);
    expect((err as ConnectFailedError).errors[0]?.message).toMatch(/ECONNREFUSED/);
    await expect(resolver.connect('nope')).rejects.toThrow('service default/nope not found');
  });
});
