import { describe, expect, it } from 'vitest';
import type { Service } from '../../src/core/types';
import { MemoryStore, Registry } from '../../src/registry';
import { AllocationRepair } from '../../src/stores/etcd/repair';
import { FakeClock } from '../../src/testing/fake-clock';

function svc(name: string, extra: Partial<Service['spec']> = {}): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'default' },
    spec: { type: 'NodePort', selector: { app: name }, ports: [{ port: 80, protocol: 'TCP' }], ...extra },
  };
}

const reservation = (type: string, value: string, name: string) => ({
  kind: 'Reservation',
  type,
  value,
  owner: { kind: 'Service', namespace: 'default', name, uid: 'u-1' },
});

describe('AllocationRepair', () => {
  it('releases a reservation without owner after three passes, not before', async () => {
    const store = new MemoryStore();
    const registry = await Registry.open({ store, runControllers: false });
    await registry.create(svc('kept'));
    // A crash between "allocate" and "create": the reservation exists, the service does not.
    await store.commit([
      {
        type: 'create',
        key: '/registry/ipaddresses/10.96.0.77',
        value: reservation('serviceIP', '10.96.0.77', 'ghost'),
      },
    ]);
    const repair = new AllocationRepair({ store });
    const r1 = await repair.runOnce();
    expect(r1.leaking).toEqual(['/registry/ipaddresses/10.96.0.77']);
    expect(r1.released).toEqual([]);
    expect((await repair.runOnce()).released).toEqual([]);
    const r3 = await repair.runOnce();
    expect(r3.released).toEqual(['/registry/ipaddresses/10.96.0.77']);
    expect(await store.get('/registry/ipaddresses/10.96.0.77')).toBeUndefined();
    // The live service's reservations are untouched.
    expect((await store.list('/registry/ipaddresses/')).entries).toHaveLength(1);
    expect((await store.list('/registry/servicenodeports/')).entries).toHaveLength(1);
    expect(r3.created).toEqual([]);
    await registry.close();
  });

  it('forgets a suspected leak once an owner carries the value again', async () => {
    const store = new MemoryStore();
    await store.commit([
      {
        type: 'create',
        key: '/registry/servicenodeports/30080',
        value: reservation('nodePort', '30080', 'late'),
      },
    ]);
    const repair = new AllocationRepair({ store, passesBeforeCleanup: 2 });
    expect((await repair.runOnce()).leaking).toHaveLength(1);
    const late = svc('late');
    late.metadata.uid = 'u-1';
    (late.spec.ports as { nodePort?: number }[])[0] = { port: 80, nodePort: 30080 } as never;
    await store.commit([{ type: 'create', key: '/registry/services/specs/default/late', value: late }]);
    const r = await repair.runOnce();
    expect(r.leaking).toEqual([]);
    expect(r.released).toEqual([]);
    expect(await store.get('/registry/servicenodeports/30080')).toBeDefined();
  });

  it('reserves values a service carries without reservation, and reports duplicates', async () => {
    const store = new MemoryStore();
    // Written behind the registry's back (a restore): no reservation keys.
    const imported = svc('imported', { clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'] });
    imported.spec.ports = [{ port: 53, protocol: 'UDP', nodePort: 30053 }];
    await store.commit([
      { type: 'create', key: '/registry/services/specs/default/imported', value: imported },
    ]);
    const twin = svc('twin', { clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'] });
    twin.spec.ports = [{ port: 80, protocol: 'TCP', nodePort: 30054 }];
    await store.commit([{ type: 'create', key: '/registry/services/specs/default/twin', value: twin }]);
    const report = await new AllocationRepair({ store }).runOnce();
    expect(report.created.sort()).toEqual([
      '/registry/ipaddresses/10.96.0.10',
      '/registry/servicenodeports/30053',
      '/registry/servicenodeports/30054',
    ]);
    expect(report.duplicates).toEqual([
      {
        key: '/registry/ipaddresses/10.96.0.10',
        holder: 'Service/default/imported',
        other: 'Service/default/twin',
      },
    ]);
    // The registry now refuses to hand the repaired IP to a new service.
    const registry = await Registry.open({ store, runControllers: false });
    const err = await registry
      .create(svc('third', { type: 'ClusterIP', clusterIP: '10.96.0.10' }))
      .catch((e: Error) => e);
    expect((err as Error).message).toContain('provided IP is already allocated');
    await registry.close();
  });

  it('start() runs a pass every interval on the injected clock', async () => {
    const store = new MemoryStore();
    await store.commit([
      {
        type: 'create',
        key: '/registry/ipaddresses/10.96.0.5',
        value: reservation('serviceIP', '10.96.0.5', 'x'),
      },
    ]);
    const clock = new FakeClock();
    const reports: number[] = [];
    const repair = new AllocationRepair({
      store,
      clock,
      intervalMs: 1000,
      onReport: (r) => reports.push(r.released.length),
    });
    repair.start();
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 5));
      clock.advance(1000);
    }
    await new Promise((r) => setTimeout(r, 5));
    repair.stop();
    expect(reports).toEqual([0, 0, 1, 0]);
    expect(await store.get('/registry/ipaddresses/10.96.0.5')).toBeUndefined();
  });
});
