import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../src/core/random';
import { Registry } from '../../src/registry';
import { FakeClock } from '../../src/testing/fake-clock';
import { pod, svc } from './helpers';

async function setup(trafficDistribution: string | undefined, annotations: Record<string, string> = {}) {
  const r = await Registry.open({ rng: new SeededRng(5), clock: new FakeClock() });
  for (const [name, zone] of [
    ['n1', 'z1'],
    ['n2', 'z2'],
  ] as const) {
    await r.create({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name, labels: { 'topology.kubernetes.io/zone': zone } },
    });
  }
  await r.create(
    svc(
      'web',
      {
        selector: { app: 'web' },
        ports: [{ port: 80 }],
        ...(trafficDistribution ? { trafficDistribution } : {}),
      },
      { annotations },
    ),
  );
  await r.create(pod('web-a', { app: 'web' }, { ip: '10.1.0.1', node: 'n1' }));
  await r.create(pod('web-b', { app: 'web' }, { ip: '10.1.0.2', node: 'n2' }));
  await r.create(pod('web-c', { app: 'web' }, { ip: '10.1.0.3', node: 'n2', ready: false }));
  await r.settled();
  const slices = await r.list('EndpointSlice', { labelSelector: 'kubernetes.io/service-name=web' });
  const byIP = new Map(slices.flatMap((s) => s.endpoints.map((e) => [e.addresses[0], e] as const)));
  return { r, byIP };
}

describe('endpoints controller: trafficDistribution hints', () => {
  it.each(['PreferClose', 'PreferSameZone'])('%s hints every ready endpoint for its own zone', async (td) => {
    const { r, byIP } = await setup(td);
    expect(byIP.get('10.1.0.1')?.hints).toEqual({ forZones: [{ name: 'z1' }] });
    expect(byIP.get('10.1.0.2')?.hints).toEqual({ forZones: [{ name: 'z2' }] });
    expect(byIP.get('10.1.0.3')?.hints).toBeUndefined();
    const eps = r.snapshot().ports.get('default/web')?.endpoints ?? [];
    expect(eps.find((e) => e.ip === '10.1.0.1')?.zoneHints).toEqual(new Set(['z1']));
    await r.close();
  });

  it('PreferSameNode adds a hint for the endpoint own node', async () => {
    const { r, byIP } = await setup('PreferSameNode');
    expect(byIP.get('10.1.0.2')?.hints).toEqual({ forZones: [{ name: 'z2' }], forNodes: [{ name: 'n2' }] });
    await r.close();
  });

  it('writes no hints without trafficDistribution, or while topology-mode Auto owns them', async () => {
    const none = await setup(undefined);
    expect(none.byIP.get('10.1.0.1')?.hints).toBeUndefined();
    await none.r.close();
    const auto = await setup('PreferClose', { 'service.kubernetes.io/topology-mode': 'Auto' });
    expect(auto.byIP.get('10.1.0.1')?.hints).toBeUndefined();
    await auto.r.close();
  });
});
