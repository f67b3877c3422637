import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../src/core/random';
import type { SnapshotUpdate } from '../../src/core/snapshot';
import type { Service } from '../../src/core/types';
import {
  ChangeTracker,
  ChunkedMap,
  endpointsByServicePort,
  Registry,
  servicePortInfos,
} from '../../src/registry';
import { FakeClock } from '../../src/testing/fake-clock';
import { pod, slice, svc } from './helpers';

function stored(s: Service): Service {
  return { ...s, metadata: { namespace: 'default', ...s.metadata } };
}

describe('servicePortInfos (kube-proxy newBaseServiceInfo)', () => {
  it('skips headless, ExternalName and labelled services', () => {
    expect(servicePortInfos(stored(svc('h', { clusterIP: 'None', ports: [{ port: 80 }] })))).toEqual([]);
    expect(
      servicePortInfos(stored(svc('x', { type: 'ExternalName', externalName: 'a', ports: [{ port: 80 }] }))),
    ).toEqual([]);
    const labelled = svc(
      'l',
      { clusterIP: '10.0.0.1', ports: [{ port: 80 }] },
      { labels: { 'service.kubernetes.io/service-proxy-name': 'x' } },
    );
    expect(servicePortInfos(stored(labelled))).toEqual([]);
    const headlessLabel = svc(
      'l',
      { clusterIP: '10.0.0.1', ports: [{ port: 80 }] },
      { labels: { 'service.kubernetes.io/headless': '' } },
    );
    expect(servicePortInfos(stored(headlessLabel))).toEqual([]);
  });

  it('derives VIPs, policies, affinity and health check port as kube-proxy does', () => {
    const s = stored(
      svc('lb', {
        type: 'LoadBalancer',
        clusterIP: '10.0.0.1',
        clusterIPs: ['10.0.0.1'],
        externalTrafficPolicy: 'Local',
        internalTrafficPolicy: 'Local',
        healthCheckNodePort: 30999,
        sessionAffinity: 'ClientIP',
        sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } },
        ports: [{ name: 'http', port: 80, targetPort: 'web', nodePort: 30080, protocol: 'TCP' }],
      }),
    );
    s.status = {
      loadBalancer: {
        ingress: [{ ip: '192.0.2.1' }, { ip: '192.0.2.2', ipMode: 'Proxy' }, { hostname: 'lb.example' }],
      },
    };
    s.metadata.annotations = {
      'service.kubernetes.io/topology-mode': 'Auto',
      'service.kubernetes.io/topology-aware-hints': 'auto',
    };
    const [info] = servicePortInfos(s);
    expect(info).toMatchObject({
      key: 'default/lb:http',
      clusterIPs: ['10.0.0.1'],
      port: 80,
      nodePort: 30080,
      targetPort: 'web',
      loadBalancerVIPs: ['192.0.2.1'],
      externalPolicyLocal: true,
      internalPolicyLocal: true,
      healthCheckNodePort: 30999,
      sessionAffinity: { type: 'ClientIP', timeoutSeconds: 60 },
      topologyMode: 'auto',
    });
    // externalTrafficPolicy Local means nothing for a service reachable only inside the cluster.
    const internal = stored(
      svc('c', {
        clusterIP: '10.0.0.2',
        externalTrafficPolicy: 'Local',
        healthCheckNodePort: 1,
        ports: [{ port: 80 }],
      }),
    );
    expect(servicePortInfos(internal)[0]).toMatchObject({
      externalPolicyLocal: false,
      healthCheckNodePort: 0,
      key: 'default/c',
    });
  });
});

describe('endpointsByServicePort (kube-proxy EndpointSliceCache)', () => {
  it('defaults conditions, keeps hints apart, dedupes across slices and sorts by ip:port', () => {
    const a = slice('s-a', 'web', {
      addressType: 'IPv4',
      ports: [
        { name: 'http', port: 8080, protocol: 'TCP' },
        { name: 'noport', protocol: 'TCP' },
      ],
      endpoints: [
        { addresses: ['10.0.0.9', '10.0.0.99'], hints: { forZones: [{ name: 'z1' }] } },
        {
          addresses: ['10.0.0.10'],
          conditions: { ready: false, terminating: true },
          hints: { forZones: [] },
        },
        { addresses: [] },
      ],
    });
    const b = slice('s-b', 'web', {
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: [{ addresses: ['10.0.0.10'], conditions: { ready: true } }],
    });
    const fqdn = slice('s-c', 'web', {
      addressType: 'FQDN',
      ports: [{ name: 'http', port: 1 }],
      endpoints: [{ addresses: ['x.example'] }],
    });
    const m = endpointsByServicePort([b, fqdn, a]);
    expect([...m.keys()]).toEqual(['http/TCP']);
    const eps = m.get('http/TCP') ?? [];
    expect(eps.map((e) => e.key)).toEqual(['10.0.0.10:8080', '10.0.0.9:8080']);
    // The non-terminating copy wins; absent ready/serving mean true.
    expect(eps[0]).toMatchObject({ ready: true, serving: true, terminating: false });
    expect(eps[1]?.zoneHints).toEqual(new Set(['z1']));
    expect(eps[0]?.zoneHints).toBeUndefined();
  });
});

describe('endpointsByServicePort IPv6', () => {
  it('canonicalises the address and brackets it in the key', () => {
    const s = slice('v6', 'web', {
      addressType: 'IPv6',
      ports: [{ name: '', port: 80, protocol: 'TCP' }],
      endpoints: [{ addresses: ['FD00:0:0::1'] }],
    });
    expect(
      endpointsByServicePort([s])
        .get('/TCP')
        ?.map((e) => [e.ip, e.key]),
    ).toEqual([['fd00::1', '[fd00::1]:80']]);
  });
});

describe('snapshots', () => {
  it('reports {previous, current} per changed port and drops no-ops', async () => {
    const r = await Registry.open({ rng: new SeededRng(5), clock: new FakeClock() });
    const updates: SnapshotUpdate[] = [];
    r.on('snapshot', (u) => updates.push(u));
    await r.create(svc('web', { selector: { app: 'web' }, ports: [{ port: 80 }] }));
    const p = await r.create(pod('w', { app: 'web' }, { ip: '10.1.0.1' }));
    await r.settled();
    const last = updates.at(-1);
    expect(
      last?.changes.map((c) => [c.key, c.previous?.endpoints.length, c.current?.endpoints.length]),
    ).toEqual([['default/web', 0, 1]]);
    const n = updates.length;
    // A label nobody selects on: nothing routable changes, so no snapshot at all.
    await r.update({ ...p, metadata: { ...p.metadata, labels: { app: 'web', extra: 'x' } } });
    await r.settled();
    expect(updates.length).toBe(n);
    await r.delete('Service', 'default', 'web');
    await r.settled();
    const after = updates.slice(n);
    // The port goes with the service; the controller's slice clean-up follows as a service-only change.
    expect(after.flatMap((u) => u.changes).map((c) => [c.key, !!c.previous, !!c.current])).toEqual([
      ['default/web', true, false],
    ]);
    expect(after.every((u) => u.changedServices.has('default/web'))).toBe(true);
    expect(r.snapshot().services.has('default/web')).toBe(false);
    await r.close();
  });

  it('batches a burst of writes into one snapshot update', async () => {
    const r = await Registry.open({ rng: new SeededRng(6), clock: new FakeClock() });
    const updates: SnapshotUpdate[] = [];
    r.on('snapshot', (u) => updates.push(u));
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => r.create(svc(`s${i}`, { ports: [{ port: 80 }] }))),
    );
    await r.settled();
    expect(updates).toHaveLength(1);
    expect(updates[0]?.changes).toHaveLength(20);
    expect(updates[0]?.previous).toBeUndefined();
    await r.close();
  });

  it('shares structure between snapshots', () => {
    const t = new ChangeTracker();
    for (let i = 0; i < 2000; i++)
      t.setService(
        `default/s${i}`,
        stored(svc(`s${i}`, { clusterIP: `10.0.${i >> 8}.${i & 255}`, ports: [{ port: 80 }] })),
      );
    const first = t.flush(1);
    expect(first?.current.ports.size).toBe(2000);
    t.setSlice('default/s1', 's1-a', {
      ...slice('s1-a', 's1', {
        addressType: 'IPv4',
        ports: [{ name: '', port: 80 }],
        endpoints: [{ addresses: ['10.9.0.1'] }],
      }),
      metadata: { name: 's1-a', namespace: 'default', labels: { 'kubernetes.io/service-name': 's1' } },
    });
    const second = t.flush(2);
    expect(second?.changes.map((c) => c.key)).toEqual(['default/s1']);
    expect(second?.previous).toBe(first?.current);
    expect(second?.current.ports.get('default/s2')).toBe(first?.current.ports.get('default/s2'));
    expect(second?.current.services).toBe(first?.current.services);
    expect(t.flush(3)).toBeUndefined();
  });

  it('ChunkedMap behaves like a map and leaves old versions alone', () => {
    const a = ChunkedMap.from([
      ['x', 1],
      ['y', 2],
    ]);
    const b = a.withChanges(
      new Map([
        ['x', undefined],
        ['z', 3],
      ]),
    );
    expect([...a.entries()].sort()).toEqual([
      ['x', 1],
      ['y', 2],
    ]);
    expect([...b.entries()].sort()).toEqual([
      ['y', 2],
      ['z', 3],
    ]);
    expect(b.size).toBe(2);
    expect(b.withChanges(new Map([['q', undefined]]))).toBe(b);
  });
});
