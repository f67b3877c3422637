import { afterEach, describe, expect, it } from 'vitest';
import {
  NoEndpointsError,
  ServiceResolver,
  UnknownPortError,
  UnknownServiceError,
} from '../../../src/backends/inprocess';
import { FakeClock } from '../../../src/testing/fake-clock';
import { loopbackPod, registryWith, service } from './helpers';

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function setup(
  objects: Parameters<typeof registryWith>[0],
  opts: ConstructorParameters<typeof ServiceResolver>[1] = {},
) {
  const registry = await registryWith(objects);
  const resolver = new ServiceResolver(registry, opts);
  closers.push(
    () => registry.close(),
    () => resolver.close(),
  );
  return { registry, resolver };
}

const web = (extra: Record<string, unknown> = {}) =>
  service(
    'web',
    {
      selector: { app: 'web' },
      ports: [
        { name: 'http', port: 80, targetPort: 'web' },
        { name: 'metrics', port: 9090, targetPort: 9100 },
      ],
      ...extra,
    },
    'shop',
  );
const webPods = [
  loopbackPod(
    'w1',
    '127.0.0.11',
    { app: 'web' },
    { namespace: 'shop', ports: [{ name: 'web', containerPort: 8081 }], node: 'n1' },
  ),
  loopbackPod(
    'w2',
    '127.0.0.12',
    { app: 'web' },
    { namespace: 'shop', ports: [{ name: 'web', containerPort: 8082 }], node: 'n2' },
  ),
];

describe('ServiceResolver', () => {
  it('resolves every name form, named target ports per endpoint, and round-robins', async () => {
    const { resolver } = await setup([web(), ...webPods]);
    const seen = new Set<string>();
    for (const t of ['web.shop:http', 'web.shop.svc:80', 'web.shop.svc.cluster.local:http', 'web.shop:80']) {
      const r = resolver.resolve(t);
      expect(r.servicePort.key).toBe('shop/web:http');
      seen.add(`${r.ip}:${r.port}`);
    }
    expect(seen).toEqual(new Set(['127.0.0.11:8081', '127.0.0.12:8082']));
    expect(resolver.resolve('web', { namespace: 'shop', port: 9090 }).port).toBe(9100);
    expect(resolver.resolve('web:metrics', { namespace: 'shop' }).port).toBe(9100);
  });

  it('resolves by cluster IP and port, and by node port', async () => {
    const { resolver, registry } = await setup([web({ type: 'NodePort' }), ...webPods]);
    const svc = await registry.get('Service', 'shop', 'web');
    const ip = svc?.spec.clusterIP as string;
    const nodePort = svc?.spec.ports?.[0]?.nodePort as number;
    expect(resolver.resolve(`${ip}:80`).servicePort.key).toBe('shop/web:http');
    expect(resolver.resolve({ nodePort }).servicePort.key).toBe('shop/web:http');
    expect(() => resolver.resolve(`${ip}:81`)).toThrow(`no service port 81 on ${ip}`);
    expect(() => resolver.resolve('10.255.255.254:80')).toThrow(UnknownServiceError);
    expect(() => resolver.resolve({ nodePort: 1 })).toThrow('no service has node port 1');
  });

  it('tells unknown service, unknown port and no endpoints apart', async () => {
    const { resolver } = await setup([
      web(),
      service('empty', { selector: { app: 'none' }, ports: [{ port: 80 }] }),
    ]);
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e;
      }
      throw new Error('did not throw');
    };
    const unknown = err(() => resolver.resolve('nope.shop'));
    expect(unknown).toBeInstanceOf(UnknownServiceError);
    expect((unknown as Error).message).toBe('cannot resolve "nope.shop": service shop/nope not found');
    const port = err(() => resolver.resolve('web.shop:8080'));
    expect(port).toBeInstanceOf(UnknownPortError);
    expect((port as Error).message).toBe(
      'cannot resolve "web.shop:8080": service shop/web has no port 8080 (it has http 80/TCP, metrics 9090/TCP)',
    );
    expect(err(() => resolver.resolve('web.shop'))).toBeInstanceOf(UnknownPortError);
    const none = err(() => resolver.resolve('empty'));
    expect(none).toBeInstanceOf(NoEndpointsError);
    expect((none as NoEndpointsError).code).toBe('NoEndpoints');
    expect((none as Error).message).toBe('cannot resolve "empty": default/empty has no endpoints');
  });

  it('explains headless and ExternalName services', async () => {
    const { resolver } = await setup([
      service('h', { clusterIP: 'None', selector: { app: 'web' }, ports: [{ port: 80 }] }),
      service('x', { type: 'ExternalName', externalName: 'db.example.com' }),
    ]);
    expect(() => resolver.resolve('h')).toThrow(/headless/);
    expect(() => resolver.resolve('x')).toThrow(/ExternalName service \(db.example.com\)/);
  });

  it('follows registry changes live', async () => {
    const { resolver, registry } = await setup([web(), webPods[0] as never]);
    expect(resolver.resolve('web.shop:http').ip).toBe('127.0.0.11');
    await registry.delete('Pod', 'shop', 'w1');
    await registry.settled();
    expect(() => resolver.resolve('web.shop:http')).toThrow(NoEndpointsError);
    await registry.apply(webPods[1] as never);
    await registry.settled();
    expect(resolver.resolve('web.shop:http').ip).toBe('127.0.0.12');
    await registry.delete('Service', 'shop', 'web');
    await registry.settled();
    expect(() => resolver.resolve('web.shop:http')).toThrow(UnknownServiceError);
  });

  it('keeps ClientIP affinity per client until the timeout', async () => {
    const clock = new FakeClock();
    const { resolver } = await setup(
      [
        web({ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } }),
        ...webPods,
      ],
      { clock },
    );
    const first = resolver.resolve('web.shop:http', { clientIP: '10.1.0.1' }).ip;
    for (let i = 0; i < 10; i++)
      expect(resolver.resolve('web.shop:http', { clientIP: '10.1.0.1' }).ip).toBe(first);
    const other = new Set<string>();
    for (let i = 0; i < 10; i++) other.add(resolver.resolve('web.shop:http').ip);
    expect(other.size).toBe(2);
  });

  it('applies internalTrafficPolicy Local for the configured node', async () => {
    const { resolver } = await setup([web({ internalTrafficPolicy: 'Local' }), ...webPods], {
      node: { name: 'n2' },
    });
    for (let i = 0; i < 4; i++) expect(resolver.resolve('web.shop:http').ip).toBe('127.0.0.12');
    const { resolver: elsewhere } = await setup([web({ internalTrafficPolicy: 'Local' }), ...webPods], {
      node: { name: 'n9' },
    });
    expect(() => elsewhere.resolve('web.shop:http')).toThrow(
      'cannot resolve "web.shop:http": shop/web:http has no endpoints on this node (n9) and its internal traffic policy is Local',
    );
  });

  it('skips endpoints named in avoid when another exists', async () => {
    const { resolver } = await setup([web(), ...webPods]);
    for (let i = 0; i < 4; i++)
      expect(resolver.resolve('web.shop:http', { avoid: new Set(['127.0.0.11:8081']) }).ip).toBe(
        '127.0.0.12',
      );
  });

  it('sends node-port traffic by the external policy and prefers TCP when a port has both protocols', async () => {
    const { resolver, registry } = await setup(
      [
        web({ type: 'NodePort', externalTrafficPolicy: 'Local' }),
        ...webPods,
        service(
          'dns',
          {
            selector: { app: 'web' },
            ports: [
              { name: 'dns-udp', port: 53, targetPort: 5353, protocol: 'UDP' },
              { name: 'dns-tcp', port: 53, targetPort: 5353, protocol: 'TCP' },
            ],
          },
          'shop',
        ),
      ],
      { node: { name: 'n1' } },
    );
    const svc = await registry.get('Service', 'shop', 'web');
    const nodePort = svc?.spec.ports?.[0]?.nodePort as number;
    for (let i = 0; i < 4; i++) expect(resolver.resolve({ nodePort }).ip).toBe('127.0.0.11');
    // Internal traffic still uses every endpoint (internalTrafficPolicy is Cluster).
    const internal = new Set([0, 1, 2, 3].map(() => resolver.resolve('web.shop:http').ip));
    expect(internal.size).toBe(2);
    expect(resolver.resolve('dns.shop:53').servicePort.protocol).toBe('TCP');
    expect(resolver.resolve('dns.shop:53', { protocol: 'UDP' }).servicePort.key).toBe('shop/dns:dns-udp');
  });

  it('keeps routing when a service switches its external traffic policy', async () => {
    const { resolver, registry } = await setup([web({ type: 'NodePort' }), ...webPods], {
      node: { name: 'n2' },
    });
    const svc = (await registry.get('Service', 'shop', 'web')) as NonNullable<
      Awaited<ReturnType<typeof registry.get<'Service'>>>
    >;
    const nodePort = svc.spec.ports?.[0]?.nodePort as number;
    expect(new Set([0, 1, 2, 3].map(() => resolver.resolve({ nodePort }).ip)).size).toBe(2);
    await registry.update({ ...svc, spec: { ...svc.spec, externalTrafficPolicy: 'Local' } });
    await registry.settled();
    for (let i = 0; i < 4; i++) expect(resolver.resolve({ nodePort }).ip).toBe('127.0.0.12');
  });
});
