import { fetch, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ConnectFailedError,
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
