import { describe, expect, it } from 'vitest';
import { isStatusError, type StatusError } from '../../src/core/errors';
import { SeededRng } from '../../src/core/random';
import type { Pod, Service } from '../../src/core/types';
import { ipNotInRangeMessage, PoolLoadBalancerProvider } from '../../src/net';
import { MemoryStore, type ObjectEvent, Registry } from '../../src/registry';
import { FakeClock } from '../../src/testing/fake-clock';
import { pod, svc } from './helpers';

async function open(opts: ConstructorParameters<typeof Registry>[0] = {}) {
  return Registry.open({ rng: new SeededRng(1), clock: new FakeClock(), ...opts });
}

async function statusError(p: Promise<unknown>): Promise<StatusError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!isStatusError(e)) throw new Error(`expected a StatusError, got ${String(e)}`);
  return e;
}

describe('Registry CRUD', () => {
  it('creates with metadata, defaults and a cluster IP; kubernetes gets the first address', async () => {
    const r = await open();
    const k = await r.create(svc('kubernetes', { ports: [{ name: 'https', port: 443, targetPort: 6443 }] }));
    expect(k.spec.clusterIP).toBe('10.96.0.1');
    expect(k.spec.clusterIPs).toEqual(['10.96.0.1']);
    const web = await r.create(svc('web', { selector: { app: 'web' }, ports: [{ port: 80 }] }));
    expect(web.metadata).toMatchObject({
      namespace: 'default',
      generation: 1,
      creationTimestamp: '2025-01-01T00:00:00Z',
    });
    expect(web.metadata.uid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Number(web.metadata.resourceVersion)).toBe(
      (await r.store.revision()) - ((await r.store.revision()) - Number(web.metadata.resourceVersion)),
    );
    expect(web.spec).toMatchObject({
      type: 'ClusterIP',
      sessionAffinity: 'None',
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }],
    });
    expect(web.spec.clusterIP).not.toBe('10.96.0.1');
    expect(web.spec.clusterIP).toMatch(/^10\.(9[6-9]|10[0-9]|11[01])\./);
    expect(Object.isFrozen(web.spec)).toBe(true);
    expect(await r.get('Service', 'default', 'web')).toBe(web);
    await r.close();
  });

  it('reports AlreadyExists, NotFound and Conflict as the API server words them', async () => {
    const r = await open();
    const web = await r.create(svc('web', { ports: [{ port: 80 }] }));
    const dup = await statusError(r.create(svc('web', { ports: [{ port: 81 }] })));
    expect(dup.reason).toBe('AlreadyExists');
    expect(dup.message).toBe('services "web" already exists');
    const nf = await statusError(r.update(svc('nope', { ports: [{ port: 80 }] })));
    expect(nf.message).toBe('services "nope" not found');
    await r.update({ ...web, spec: { ...web.spec, sessionAffinity: 'ClientIP' } });
    const stale = await statusError(r.update({ ...web, spec: { ...web.spec, ports: [{ port: 8080 }] } }));
    expect(stale.reason).toBe('Conflict');
    expect(stale.message).toBe(
      'Operation cannot be fulfilled on services "web": the object has been modified; please apply your changes to the latest version and try again',
    );
    await expect(r.delete('Service', 'default', 'nope')).rejects.toMatchObject({ reason: 'NotFound' });
    await r.close();
  });

  it('rejects invalid objects with field errors', async () => {
    const r = await open();
    const e = await statusError(r.create(svc('web', { ports: [{ port: 0 }] })));
    expect(e.reason).toBe('Invalid');
    expect(e.message).toContain('The Service "web" is invalid');
    expect(e.message).toContain(
      'spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive',
    );
    await r.close();
  });

  it('lists by namespace and label selector, sorted', async () => {
    const r = await open();
    await r.create(svc('b', { ports: [{ port: 80 }] }, { labels: { tier: 'web' } }));
    await r.create(svc('a', { ports: [{ port: 80 }] }, { labels: { tier: 'db' } }));
    await r.create(svc('c', { ports: [{ port: 80 }] }, { namespace: 'other', labels: { tier: 'web' } }));
    expect((await r.list('Service')).map((s) => s.metadata.name)).toEqual(['a', 'b', 'c']);
    expect((await r.list('Service', { namespace: 'default' })).map((s) => s.metadata.name)).toEqual([
      'a',
      'b',
    ]);
    expect((await r.list('Service', { labelSelector: 'tier=web' })).map((s) => s.metadata.name)).toEqual([
      'b',
      'c',
    ]);
    expect((await r.list('Service', { labelSelector: 'tier!=web' })).map((s) => s.metadata.name)).toEqual([
      'a',
    ]);
    await r.close();
  });

  it('keeps clusterIP on update when omitted and refuses to change it', async () => {
    const r = await open();
    const web = await r.create(svc('web', { ports: [{ port: 80 }] }));
    const ip = web.spec.clusterIP;
    const u = await r.update(svc('web', { ports: [{ port: 81 }] }));
    expect(u.spec.clusterIP).toBe(ip);
    expect(u.metadata.generation).toBe(2);
    expect(u.metadata.uid).toBe(web.metadata.uid);
    const e = await statusError(r.update(svc('web', { clusterIP: '10.96.0.77', ports: [{ port: 81 }] })));
    expect(e.reason).toBe('Invalid');
    expect(e.message).toContain('may not change once set');
    await r.close();
  });

  it('emits added, modified and deleted with the old object', async () => {
    const r = await open();
    const seen: [string, string, string | undefined][] = [];
    for (const t of ['added', 'modified', 'deleted'] as const)
      r.on(t, (e: ObjectEvent) => seen.push([t, e.kind, e.oldObject?.metadata.resourceVersion]));
    const a = await r.create(svc('web', { ports: [{ port: 80 }] }));
    const b = await r.update(svc('web', { ports: [{ port: 81 }] }));
    await r.delete('Service', 'default', 'web');
    expect(seen).toEqual([
      ['added', 'Service', undefined],
      ['modified', 'Service', a.metadata.resourceVersion],
      ['deleted', 'Service', b.metadata.resourceVersion],
    ]);
    await r.close();
  });

  it('applies: created, configured, unchanged', async () => {
    const r = await open();
    const m = svc('web', { selector: { app: 'web' }, ports: [{ port: 80 }] });
    expect((await r.apply(m)).action).toBe('created');
    expect((await r.apply(m)).action).toBe('unchanged');
    const rev = await r.store.revision();
    expect((await r.apply(svc('web', { selector: { app: 'web' }, ports: [{ port: 8080 }] }))).action).toBe(
      'configured',
    );
    expect(await r.store.revision()).toBeGreaterThan(rev);
    await r.close();
  });
});

describe('Registry allocation', () => {
  it('strict mode checks requested values against the ranges with Kubernetes messages', async () => {
    const r = await open();
    const out = await statusError(r.create(svc('a', { clusterIP: '10.0.0.1', ports: [{ port: 80 }] })));
    expect(out.message).toContain(
      `* spec.clusterIPs: Invalid value: []string{"10.0.0.1"}: failed to allocate IP 10.0.0.1: ${ipNotInRangeMessage('10.96.0.0/12')}`,
    );
    const np = await statusError(
      r.create(svc('b', { type: 'NodePort', ports: [{ port: 80, nodePort: 80 }] })),
    );
    expect(np.message).toContain(
      'spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767',
    );
    await r.create(
      svc('c', { clusterIP: '10.96.0.10', type: 'NodePort', ports: [{ port: 53, nodePort: 30053 }] }),
    );
    const dupIP = await statusError(r.create(svc('d', { clusterIP: '10.96.0.10', ports: [{ port: 53 }] })));
    expect(dupIP.message).toContain('failed to allocate IP 10.96.0.10: provided IP is already allocated');
    const dupPort = await statusError(
      r.create(svc('e', { type: 'NodePort', ports: [{ port: 1, nodePort: 30053 }] })),
    );
    expect(dupPort.message).toContain(
      'spec.ports[0].nodePort: Invalid value: 30053: provided port is already allocated',
    );
    await r.close();
  });

  it('as-is mode takes present values, allocates missing ones, still refuses duplicates', async () => {
    const r = await open({ allocationMode: 'as-is' });
    const a = await r.create(
      svc('a', { clusterIP: '172.20.0.5', type: 'NodePort', ports: [{ port: 80, nodePort: 80 }] }),
    );
    expect(a.spec.clusterIP).toBe('172.20.0.5');
    expect(a.spec.ports?.[0]?.nodePort).toBe(80);
    const b = await r.create(svc('b', { type: 'NodePort', ports: [{ port: 80 }] }));
    expect(b.spec.clusterIP).toMatch(/^10\./);
    expect(b.spec.ports?.[0]?.nodePort).toBeGreaterThanOrEqual(30000);
    const dup = await statusError(r.create(svc('c', { clusterIP: '172.20.0.5', ports: [{ port: 80 }] })));
    expect(dup.message).toContain('provided IP is already allocated');
    await r.close();
  });

  it('releases node ports on NodePort→ClusterIP and the cluster IP on →ExternalName, everything on delete', async () => {
    const r = await open();
    const a = await r.create(
      svc('a', { clusterIP: '10.96.0.20', type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }),
    );
    expect(a.spec.ports?.[0]?.nodePort).toBe(30080);
    const b = await r.update({ ...a, spec: { ...a.spec, type: 'ClusterIP' } });
    expect(b.spec.ports?.[0]?.nodePort).toBeUndefined();
    await r.create(svc('p', { type: 'NodePort', ports: [{ port: 1, nodePort: 30080 }] }));
    const c = await r.update(
      svc('a', { type: 'ExternalName', externalName: 'example.com', ports: [{ port: 80 }] }),
    );
    expect(c.spec.clusterIP).toBeUndefined();
    expect(c.spec.ipFamilies).toBeUndefined();
    await r.create(svc('q', { clusterIP: '10.96.0.20', ports: [{ port: 1 }] }));
    await r.delete('Service', 'default', 'q');
    await r.delete('Service', 'default', 'p');
    await r.create(
      svc('q2', { clusterIP: '10.96.0.20', type: 'NodePort', ports: [{ port: 1, nodePort: 30080 }] }),
    );
    const keys = (await r.store.list(`${r.keys.prefix}/`)).entries.map((e) => e.key);
    expect(keys.filter((k) => k.includes('/ipaddresses/') || k.includes('/servicenodeports/'))).toEqual([
      '/registry/ipaddresses/10.96.0.20',
      '/registry/servicenodeports/30080',
    ]);
    await r.close();
  });

  it('headless gets None, ExternalName none; LB node ports follow allocateLoadBalancerNodePorts', async () => {
    const r = await open();
    const h = await r.create(svc('h', { clusterIP: 'None', selector: { a: 'b' }, ports: [{ port: 80 }] }));
    expect(h.spec.clusterIPs).toEqual(['None']);
    const x = await r.create(svc('x', { type: 'ExternalName', externalName: 'example.com' }));
    expect(x.spec.clusterIP).toBeUndefined();
    const lb = await r.create(
      svc('lb', { type: 'LoadBalancer', allocateLoadBalancerNodePorts: false, ports: [{ port: 80 }] }),
    );
    expect(lb.spec.ports?.[0]?.nodePort).toBeUndefined();
    expect(lb.status?.loadBalancer?.ingress).toBeUndefined();
    const local = await r.create(
      svc('local', {
        type: 'LoadBalancer',
        externalTrafficPolicy: 'Local',
        ports: [
          { name: 't', port: 80 },
          { name: 'u', port: 80, protocol: 'UDP' },
        ],
      }),
    );
    // Ports sharing a number share one node port; Local LB services get a health check port.
    expect(local.spec.ports?.[0]?.nodePort).toBe(local.spec.ports?.[1]?.nodePort);
    expect(local.spec.healthCheckNodePort).toBeGreaterThanOrEqual(30000);
    await r.close();
  });

  it('asks the LoadBalancer provider and releases on type change', async () => {
    const provider = new PoolLoadBalancerProvider({ pools: ['192.0.2.0/30'] });
    const r = await open({ loadBalancerProvider: provider });
    const lb = await r.create(svc('lb', { type: 'LoadBalancer', ports: [{ port: 80 }] }));
    const ip = lb.status?.loadBalancer?.ingress?.[0]?.ip;
    expect(ip).toMatch(/^192\.0\.2\./);
    const back = await r.update({ ...lb, metadata: { name: 'lb' }, spec: { ...lb.spec, type: 'ClusterIP' } });
    expect(back.status?.loadBalancer?.ingress).toBeUndefined();
    expect(provider.ownerOf(ip as string)).toBeUndefined();
    await r.close();
  });

  it('dual-stack: PreferDualStack gets one address per family', async () => {
    const r = await open({ serviceClusterIPRanges: ['10.96.0.0/16', 'fd00:10:96::/112'] });
    const s = await r.create(svc('d', { ipFamilyPolicy: 'PreferDualStack', ports: [{ port: 80 }] }));
    expect(s.spec.ipFamilies).toEqual(['IPv4', 'IPv6']);
    expect(s.spec.clusterIPs?.[1]).toMatch(/^fd00:10:96::/);
    await r.close();
  });

  it('gives a pod an address from its node, a new one when recreated, while the ClusterIP stays', async () => {
    const r = await open({ nodePodCIDRs: { n1: '10.244.1.0/24' } });
    const s = await r.create(svc('web', { selector: { app: 'web' }, ports: [{ port: 80 }] }));
    const p1 = await r.create(pod('web-0', { app: 'web' }, { node: 'n1' }));
    expect(p1.status?.podIP).toMatch(/^10\.244\.1\./);
    await r.delete('Pod', 'default', 'web-0');
    const p2 = await r.create(pod('web-0', { app: 'web' }, { node: 'n1' }));
    expect(p2.status?.podIP).toMatch(/^10\.244\.1\./);
    expect(p2.status?.podIP).not.toBe(p1.status?.podIP);
    await r.settled();
    expect((await r.get('Service', 'default', 'web'))?.spec.clusterIP).toBe(s.spec.clusterIP);
    expect(
      r
        .snapshot()
        .ports.get('default/web')
        ?.endpoints.map((e) => e.ip),
    ).toEqual([p2.status?.podIP]);
    await r.close();
  });

  it('pods on a Node object with podCIDR get addresses too; release on delete', async () => {
    const r = await open();
    await r.create({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'n2' },
      spec: { podCIDR: '10.244.2.0/24' },
    });
    const p = (await r.create(pod('a', {}, { node: 'n2' }))) as Pod;
    expect(p.status?.podIP).toMatch(/^10\.244\.2\./);
    await r.delete('Pod', 'default', 'a');
    const keys = (await r.store.list('/registry/podipaddresses/')).entries;
    expect(keys).toEqual([]);
    await r.close();
  });

  it('two registries on one store never hand out the same address', async () => {
    const store = new MemoryStore();
    const a = await open({ store, rng: new SeededRng(7), serviceClusterIPRanges: ['10.96.0.0/29'] });
    const b = await open({
      store,
      rng: new SeededRng(7),
      serviceClusterIPRanges: ['10.96.0.0/29'],
      runControllers: false,
    });
    const made: Service[] = await Promise.all(
      Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).create(svc(`s${i}`, { ports: [{ port: 80 }] }))),
    );
    const ips = made.map((s) => s.spec.clusterIP);
    expect(new Set(ips).size).toBe(6);
    const full = await statusError(a.create(svc('s7', { ports: [{ port: 80 }] })));
    expect(full.message).toBe('Internal error occurred: failed to allocate a serviceIP: range is full');
    await a.close();
    await b.close();
  });
});

describe('Registry on a shared store', () => {
  it('lets exactly one of two writers have a requested cluster IP', async () => {
    const store = new MemoryStore();
    const a = await open({ store });
    const b = await open({ store, runControllers: false });
    const results = await Promise.allSettled([
      a.create(svc('one', { clusterIP: '10.96.0.50', ports: [{ port: 80 }] })),
      b.create(svc('two', { clusterIP: '10.96.0.50', ports: [{ port: 80 }] })),
    ]);
    expect(results.map((x) => x.status).sort()).toEqual(['fulfilled', 'rejected']);
    const failed = results.find((x) => x.status === 'rejected') as PromiseRejectedResult;
    expect(String(failed.reason.message)).toContain(
      'spec.clusterIPs: Invalid value: []string{"10.96.0.50"}: failed to allocate IP 10.96.0.50: provided IP is already allocated',
    );
    // Both caches converge on the same objects.
    await a.settled();
    await b.settled();
    expect((await a.list('Service')).map((s) => s.metadata.name)).toEqual(
      (await b.list('Service')).map((s) => s.metadata.name),
    );
    await a.close();
    await b.close();
  });

  it('resumes after compaction by listing again', async () => {
    const store = new MemoryStore({ historyRevisions: 1 });
    const r = await open({ store, runControllers: false });
    const seen: string[] = [];
    r.on('added', (e: ObjectEvent) => seen.push(e.object.metadata.name ?? ''));
    // Writes straight to the store, many revisions at once, outrunning the history.
    for (let i = 0; i < 5; i++)
      store.commitSync([
        {
          type: 'create',
          key: `/registry/namespaces/ns${i}`,
          value: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: `ns${i}` } },
        },
      ]);
    await r.settled();
    await new Promise((res) => setTimeout(res, 10));
    expect((await r.list('Namespace')).map((n) => n.metadata.name)).toEqual([
      'ns0',
      'ns1',
      'ns2',
      'ns3',
      'ns4',
    ]);
    expect(seen.sort()).toEqual(['ns0', 'ns1', 'ns2', 'ns3', 'ns4']);
    await r.close();
  });
});

describe('Registry pod deletion with a grace period', () => {
  it('marks the pod terminating, then removes it when the grace period ends', async () => {
    const clock = new FakeClock();
    const r = await open({ clock });
    await r.create(svc('web', { selector: { app: 'web' }, ports: [{ port: 80 }] }));
    await r.create(pod('web-0', { app: 'web' }, { ip: '10.1.0.1' }));
    await r.settled();
    const p = await r.delete('Pod', 'default', 'web-0', { gracePeriodSeconds: 30 });
    expect(p.metadata.deletionTimestamp).toBe('2025-01-01T00:00:30Z');
    await r.settled();
    const ep = r.snapshot().ports.get('default/web')?.endpoints[0];
    expect(ep).toMatchObject({ ip: '10.1.0.1', ready: false, serving: true, terminating: true });
    clock.advance(30_000);
    await r.settled();
    expect(await r.get('Pod', 'default', 'web-0')).toBeUndefined();
    expect(r.snapshot().ports.get('default/web')?.endpoints).toEqual([]);
    await r.close();
  });
});
