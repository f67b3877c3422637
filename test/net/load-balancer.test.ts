import { describe, expect, it } from 'vitest';
import type { Service, ServiceSpec } from '../../src/core/types';
import {
  LoadBalancerError,
  type LoadBalancerProvider,
  PoolLoadBalancerProvider,
  poolEntrySize,
} from '../../src/net';

function svc(name: string, spec: Partial<ServiceSpec> = {}, namespace = 'default'): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace },
    spec: { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }], ...spec },
  };
}

describe('PoolLoadBalancerProvider', () => {
  it('hands out the lowest free address of the pools, stable across updates', () => {
    const p = new PoolLoadBalancerProvider({ pools: ['192.0.2.10-192.0.2.11', '198.51.100.0/30'] });
    expect(p.ensure(svc('a'))).toEqual([{ ip: '192.0.2.10', ipMode: 'VIP' }]);
    expect(p.ensure(svc('b'))).toEqual([{ ip: '192.0.2.11', ipMode: 'VIP' }]);
    expect(p.ensure(svc('c'))).toEqual([{ ip: '198.51.100.0', ipMode: 'VIP' }]);
    expect(p.ensure(svc('a'))).toEqual([{ ip: '192.0.2.10', ipMode: 'VIP' }]);
    expect(p.used()).toBe(3);
    expect(p.ownerOf('192.0.2.11')).toBe('default/b');
  });

  it('releases on delete or type change, and the address is reused', () => {
    const p = new PoolLoadBalancerProvider({ pools: ['192.0.2.0/31'] });
    p.ensure(svc('a'));
    p.ensure(svc('b'));
    expect(() => p.ensure(svc('c'))).toThrow('no available IPs in the IPv4 address pools');
    p.release(svc('a'));
    p.release(svc('a'));
    expect(p.ensure(svc('c'))).toEqual([{ ip: '192.0.2.0', ipMode: 'VIP' }]);
  });

  it('honours spec.loadBalancerIP and reports clear errors', () => {
    const p = new PoolLoadBalancerProvider({ pools: ['192.0.2.0/28'] });
    expect(p.ensure(svc('a', { loadBalancerIP: '192.0.2.9' }))).toEqual([{ ip: '192.0.2.9', ipMode: 'VIP' }]);
    expect(() => p.ensure(svc('b', { loadBalancerIP: '192.0.2.9' }))).toThrow(
      'loadBalancerIP 192.0.2.9 is already allocated to service default/a',
    );
    expect(() => p.ensure(svc('b', { loadBalancerIP: '203.0.113.9' }))).toThrow(
      'loadBalancerIP 203.0.113.9 is not in any address pool',
    );
    expect(() => p.ensure(svc('b', { loadBalancerIP: 'nope' }))).toThrow(LoadBalancerError);
    expect(() => p.ensure(svc('b', { loadBalancerIP: '2001:db8::1', ipFamilies: ['IPv4'] }))).toThrow(
      "loadBalancerIP 2001:db8::1 is not of the service's IP families (IPv4)",
    );
    // b's failures left nothing behind
    expect(p.used()).toBe(1);
    // changing a's requested address frees the old one
    p.ensure(svc('a', { loadBalancerIP: '192.0.2.3' }));
    expect(p.ownerOf('192.0.2.9')).toBeUndefined();
    expect(p.ensure(svc('b', { loadBalancerIP: '192.0.2.9' }))).toEqual([{ ip: '192.0.2.9', ipMode: 'VIP' }]);
  });

  it('gives dual-stack services one address per family', () => {
    const p = new PoolLoadBalancerProvider({ pools: ['192.0.2.0/29', '2001:db8::/126'] });
    expect(p.ensure(svc('a', { ipFamilies: ['IPv6', 'IPv4'], ipFamilyPolicy: 'RequireDualStack' }))).toEqual([
      { ip: '2001:db8::', ipMode: 'VIP' },
      { ip: '192.0.2.0', ipMode: 'VIP' },
    ]);
    expect(p.ensure(svc('b', { clusterIP: 'fd00::10' }))).toEqual([{ ip: '2001:db8::1', ipMode: 'VIP' }]);
  });

  it('skips a family without a pool only for PreferDualStack', () => {
    const p = new PoolLoadBalancerProvider({ pools: ['192.0.2.0/29'] });
    expect(p.ensure(svc('a', { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'PreferDualStack' }))).toEqual([
      { ip: '192.0.2.0', ipMode: 'VIP' },
    ]);
    expect(() =>
      p.ensure(svc('b', { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack' })),
    ).toThrow('no IPv6 address pool is configured');
  });

  it('avoids .0 and .255 when asked', () => {
    const p = new PoolLoadBalancerProvider({ pools: ['192.0.2.255-192.0.3.1'], avoidBuggyIPs: true });
    expect(p.ensure(svc('a'))).toEqual([{ ip: '192.0.3.1', ipMode: 'VIP' }]);
    expect(() => p.ensure(svc('b', { loadBalancerIP: '192.0.3.0' }))).toThrow('is not in any address pool');
  });

  it('answers only its load balancer class', () => {
    const plain = new PoolLoadBalancerProvider({ pools: ['192.0.2.0/29'] });
    expect(plain.handles(svc('a'))).toBe(true);
    expect(plain.handles(svc('a', { loadBalancerClass: 'example.com/lb' }))).toBe(false);
    const classed = new PoolLoadBalancerProvider({
      pools: ['192.0.2.0/29'],
      loadBalancerClass: 'example.com/lb',
    });
    expect(classed.handles(svc('a'))).toBe(false);
    expect(classed.handles(svc('a', { loadBalancerClass: 'example.com/lb' }))).toBe(true);
  });

  it('validates pool entries', () => {
    expect(() => new PoolLoadBalancerProvider({ pools: ['192.0.2.9-192.0.2.1'] })).toThrow(
      'end is before start',
    );
    expect(() => new PoolLoadBalancerProvider({ pools: ['192.0.2.1-2001:db8::1'] })).toThrow(
      'mixed IP families',
    );
    expect(() => new PoolLoadBalancerProvider({ pools: ['bogus'] })).toThrow(
      'invalid CIDR "bogus" in address pool',
    );
    expect(poolEntrySize('192.0.2.0/24')).toBe(256n);
    expect(poolEntrySize('192.0.2.10-192.0.2.20')).toBe(11n);
  });

  it('keeps services in different namespaces apart', () => {
    const p = new PoolLoadBalancerProvider({ pools: ['192.0.2.0/29'] });
    p.ensure(svc('web', {}, 'a'));
    p.ensure(svc('web', {}, 'b'));
    expect(p.ownerOf('192.0.2.0')).toBe('a/web');
    expect(p.ownerOf('192.0.2.1')).toBe('b/web');
  });

  it('fits the provider interface, which also admits asynchronous providers', async () => {
    const cloud: LoadBalancerProvider = {
      name: 'fake-cloud',
      ensure: async (s) => [{ hostname: `${s.metadata.name}.lb.example.com` }],
      release: async () => {},
    };
    const providers: LoadBalancerProvider[] = [
      new PoolLoadBalancerProvider({ pools: ['192.0.2.0/29'] }),
      cloud,
    ];
    const results = await Promise.all(providers.map((p) => p.ensure(svc('web'))));
    expect(results).toEqual([[{ ip: '192.0.2.0', ipMode: 'VIP' }], [{ hostname: 'web.lb.example.com' }]]);
  });
});
