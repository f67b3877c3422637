import { promises as dnsPromises } from 'node:dns';
import { describe, expect, it, vi } from 'vitest';
import { serveDns } from '../../src/backends/dns';
import type { Pod, Service } from '../../src/core/types';
import { Registry } from '../../src/registry';

describe('DNS following a live Registry', () => {
  it('answers a new service at once and forgets a deleted one', async () => {
    const registry = new Registry();
    await registry.ready();
    const dns = await serveDns(registry, { listen: '127.0.0.1:0' });
    const r = new dnsPromises.Resolver({ timeout: 1000, tries: 1 });
    r.setServers([`127.0.0.1:${dns.server.address().port}`]);
    try {
      await expect(r.resolve4('my-service.my-ns.svc.cluster.local')).rejects.toMatchObject({
        code: 'ENOTFOUND',
      });
      const created: Service = await registry.create<Service>({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'my-service', namespace: 'my-ns' },
        spec: { ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
      });
      await registry.settled();
      const ip = created.spec.clusterIP!;
      expect(ip).toMatch(/^10\./);
      await vi.waitFor(async () =>
        expect(await r.resolve4('my-service.my-ns.svc.cluster.local')).toEqual([ip]),
      );
      expect(await r.resolveSrv('_http._tcp.my-service.my-ns.svc.cluster.local')).toEqual([
        { name: 'my-service.my-ns.svc.cluster.local', port: 80, priority: 0, weight: 100 },
      ]);
      await registry.delete('Service', 'my-ns', 'my-service');
      await registry.settled();
      await vi.waitFor(async () =>
        expect(r.resolve4('my-service.my-ns.svc.cluster.local')).rejects.toMatchObject({ code: 'ENOTFOUND' }),
      );
    } finally {
      await dns.close();
      await registry.close();
    }
  });

  it('publishes a not-ready pod of a headless service only with publishNotReadyAddresses', async () => {
    const registry = new Registry();
    await registry.ready();
    const dns = await serveDns(registry, { listen: '127.0.0.1:0' });
    const r = new dnsPromises.Resolver({ timeout: 1000, tries: 1 });
    r.setServers([`127.0.0.1:${dns.server.address().port}`]);
    const headless = (name: string, publish: boolean): Service => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: 'db-ns' },
      spec: {
        clusterIP: 'None',
        selector: { app: 'db' },
        publishNotReadyAddresses: publish,
        ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }],
      },
    });
    try {
      await registry.create<Service>(headless('db-all', true));
      await registry.create<Service>(headless('db-ready', false));
      await registry.create<Pod>({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'db-0', namespace: 'db-ns', labels: { app: 'db' } },
        spec: { containers: [{ name: 'pg', image: 'postgres' }] },
        status: {
          phase: 'Running',
          podIP: '127.0.0.31',
          podIPs: [{ ip: '127.0.0.31' }],
          conditions: [{ type: 'Ready', status: 'False' }],
        },
      });
      await registry.settled();
      await vi.waitFor(async () =>
        expect(await r.resolve4('db-all.db-ns.svc.cluster.local')).toEqual(['127.0.0.31']),
      );
      await expect(r.resolve4('db-ready.db-ns.svc.cluster.local')).rejects.toMatchObject({
        code: 'ENOTFOUND',
      });
    } finally {
      await dns.close();
      await registry.close();
    }
  });
});
