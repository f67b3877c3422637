import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../src/core/random';
import type { EndpointSlice } from '../../src/core/types';
import { Registry } from '../../src/registry';
import { FakeClock } from '../../src/testing/fake-clock';
import { pod, slice, svc } from './helpers';

async function open() {
  return Registry.open({ rng: new SeededRng(3), clock: new FakeClock() });
}

async function slicesOf(r: Registry, service: string, ns = 'default'): Promise<EndpointSlice[]> {
  await r.settled();
  return r.list('EndpointSlice', { namespace: ns, labelSelector: `kubernetes.io/service-name=${service}` });
}

describe('endpoints controller', () => {
  it('writes slices with upstream metadata, conditions and target refs', async () => {
    const r = await open();
    await r.create({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'n1', labels: { 'topology.kubernetes.io/zone': 'z1' } },
    });
    const s = await r.create(
      svc('web', { selector: { app: 'web' }, ports: [{ port: 80 }] }, { labels: { team: 'a' } }),
    );
    const p = await r.create(
      pod('web-0', { app: 'web' }, { ip: '10.1.0.1', node: 'n1', hostname: 'h0', subdomain: 'web' }),
    );
    const [sl, ...rest] = await slicesOf(r, 'web');
    expect(rest).toEqual([]);
    expect(sl?.metadata.generateName).toBe('web-');
    expect(sl?.metadata.name).toMatch(/^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    expect(sl?.metadata.labels).toEqual({
      team: 'a',
      'kubernetes.io/service-name': 'web',
      'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
    });
    expect(sl?.metadata.ownerReferences).toEqual([
      {
        apiVersion: 'v1',
        kind: 'Service',
        name: 'web',
        uid: s.metadata.uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(sl?.addressType).toBe('IPv4');
    expect(sl?.ports).toEqual([{ name: '', port: 80, protocol: 'TCP' }]);
    expect(sl?.endpoints).toEqual([
      {
        addresses: ['10.1.0.1'],
        conditions: { ready: true, serving: true, terminating: false },
        targetRef: { kind: 'Pod', namespace: 'default', name: 'web-0', uid: p.metadata.uid },
        nodeName: 'n1',
        zone: 'z1',
        hostname: 'h0',
      },
    ]);
    await r.close();
  });

  it('resolves named target ports per pod; pods resolving differently get different slices', async () => {
    const r = await open();
    await r.create(
      svc('web', { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] }),
    );
    await r.create(
      pod('a', { app: 'web' }, { ip: '10.1.0.1', ports: [{ name: 'http', containerPort: 8080 }] }),
    );
    await r.create(
      pod('b', { app: 'web' }, { ip: '10.1.0.2', ports: [{ name: 'http', containerPort: 9090 }] }),
    );
    // Same name, other protocol: does not resolve, so the pod's slice has no ports.
    await r.create(
      pod(
        'c',
        { app: 'web' },
        { ip: '10.1.0.3', ports: [{ name: 'http', containerPort: 7070, protocol: 'UDP' }] },
      ),
    );
    const slices = await slicesOf(r, 'web');
    const byPorts = slices
      .map((s) => [JSON.stringify(s.ports), s.endpoints.map((e) => e.addresses[0])])
      .sort();
    expect(byPorts).toEqual([
      ['[]', ['10.1.0.3']],
      ['[{"name":"http","port":8080,"protocol":"TCP"}]', ['10.1.0.1']],
      ['[{"name":"http","port":9090,"protocol":"TCP"}]', ['10.1.0.2']],
    ]);
    const eps = r
      .snapshot()
      .ports.get('default/web:http')
      ?.endpoints.map((e) => e.key);
    expect(eps).toEqual(['10.1.0.1:8080', '10.1.0.2:9090']);
    await r.close();
  });

  it('follows readiness, terminal phases and publishNotReadyAddresses', async () => {
    const r = await open();
    await r.create(svc('web', { selector: { app: 'web' }, ports: [{ port: 80 }] }));
    await r.create(
      svc('pub', { selector: { app: 'web' }, publishNotReadyAddresses: true, ports: [{ port: 80 }] }),
    );
    await r.create(pod('ready', { app: 'web' }, { ip: '10.1.0.1' }));
    await r.create(pod('notready', { app: 'web' }, { ip: '10.1.0.2', ready: false }));
    await r.create(pod('done', { app: 'web' }, { ip: '10.1.0.3', phase: 'Succeeded' }));
    await r.create(pod('noip', { app: 'web' }, {}));
    const conds = (s: EndpointSlice[]) =>
      Object.fromEntries(s.flatMap((x) => x.endpoints).map((e) => [e.targetRef?.name, e.conditions]));
    expect(conds(await slicesOf(r, 'web'))).toEqual({
      ready: { ready: true, serving: true, terminating: false },
      notready: { ready: false, serving: false, terminating: false },
    });
    expect(conds(await slicesOf(r, 'pub'))).toEqual({
      ready: { ready: true, serving: true, terminating: false },
      notready: { ready: true, serving: false, terminating: false },
    });
    await r.delete('Pod', 'default', 'ready', { gracePeriodSeconds: 10 });
    expect(conds(await slicesOf(r, 'web')).ready).toEqual({ ready: false, serving: true, terminating: true });
    expect(conds(await slicesOf(r, 'pub')).ready).toEqual({ ready: true, serving: true, terminating: true });
    await r.close();
  });

  it('puts at most 100 endpoints in a slice and touches few slices on a change', async () => {
    const r = await open();
    await r.create(svc('big', { selector: { app: 'big' }, ports: [{ port: 80 }] }));
    for (let i = 0; i < 250; i++)
      await r.create(pod(`p${i}`, { app: 'big' }, { ip: `10.2.${i >> 8}.${(i & 255) + 1}` }));
    const slices = await slicesOf(r, 'big');
    expect(slices.map((s) => s.endpoints.length).sort((a, b) => a - b)).toEqual([50, 100, 100]);
    const before = new Map(slices.map((s) => [s.metadata.name, s.metadata.resourceVersion]));
    await r.delete('Pod', 'default', 'p7');
    const after = await slicesOf(r, 'big');
    const changed = after.filter((s) => before.get(s.metadata.name) !== s.metadata.resourceVersion);
    expect(changed).toHaveLength(1);
    expect(after.reduce((n, s) => n + s.endpoints.length, 0)).toBe(249);
    expect(r.snapshot().ports.get('default/big')?.endpoints).toHaveLength(249);
    await r.close();
  });

  it('moves pods between services on label or selector changes', async () => {
    const r = await open();
    await r.create(svc('a', { selector: { app: 'a' }, ports: [{ port: 80 }] }));
    await r.create(svc('b', { selector: { app: 'b' }, ports: [{ port: 80 }] }));
    const p = await r.create(pod('x', { app: 'a' }, { ip: '10.1.0.9' }));
    await r.settled();
    const ips = (name: string) =>
      r
        .snapshot()
        .ports.get(`default/${name}`)
        ?.endpoints.map((e) => e.ip);
    expect([ips('a'), ips('b')]).toEqual([['10.1.0.9'], []]);
    await r.update({ ...p, metadata: { ...p.metadata, labels: { app: 'b' } } });
    await r.settled();
    expect([ips('a'), ips('b')]).toEqual([[], ['10.1.0.9']]);
    await r.update(svc('a', { selector: { app: 'b' }, ports: [{ port: 80 }] }));
    await r.settled();
    expect([ips('a'), ips('b')]).toEqual([['10.1.0.9'], ['10.1.0.9']]);
    await r.delete('Service', 'default', 'a');
    expect(await slicesOf(r, 'a')).toEqual([]);
    await r.close();
  });

  it('leaves user-managed slices of selectorless services alone', async () => {
    const r = await open();
    await r.create(svc('ext', { ports: [{ port: 80 }] }));
    await r.create(
      slice('ext-1', 'ext', {
        addressType: 'IPv4',
        endpoints: [{ addresses: ['192.0.2.1'] }],
        ports: [{ port: 8080 }],
      }),
    );
    const s = await slicesOf(r, 'ext');
    expect(s.map((x) => x.metadata.name)).toEqual(['ext-1']);
    expect(s[0]?.ports).toEqual([{ name: '', port: 8080, protocol: 'TCP' }]);
    expect(r.snapshot().ports.get('default/ext')?.endpoints).toMatchObject([
      { ip: '192.0.2.1', port: 8080, ready: true, serving: true, terminating: false },
    ]);
    await r.close();
  });

  it('keeps one empty placeholder slice per address type while no pod matches, and reuses its name', async () => {
    const r = await open();
    await r.create(svc('idle', { selector: { app: 'idle' }, ports: [{ port: 80 }] }));
    const [ph, ...none] = await slicesOf(r, 'idle');
    expect(none).toEqual([]);
    expect(ph).toMatchObject({ addressType: 'IPv4', endpoints: [], ports: [] });
    // A re-sync (service relabelled in a way that does not touch slices) leaves it alone.
    const rv = ph?.metadata.resourceVersion;
    await r.update(
      svc('idle', { selector: { app: 'idle' }, ports: [{ port: 80 }] }, { annotations: { a: 'b' } }),
    );
    expect((await slicesOf(r, 'idle'))[0]?.metadata.resourceVersion).toBe(rv);
    await r.create(pod('p', { app: 'idle' }, { ip: '10.1.0.1' }));
    const [real, ...rest] = await slicesOf(r, 'idle');
    expect(rest).toEqual([]);
    expect(real?.metadata.name).toBe(ph?.metadata.name);
    expect(real?.metadata.uid).toBe(ph?.metadata.uid);
    expect(real?.endpoints.map((e) => e.addresses[0])).toEqual(['10.1.0.1']);
    await r.delete('Pod', 'default', 'p');
    const [back] = await slicesOf(r, 'idle');
    expect(back).toMatchObject({ metadata: { name: ph?.metadata.name }, endpoints: [], ports: [] });
    await r.close();
  });

  it('removes managed slices owned by an earlier service of the same name', async () => {
    const r = await open();
    await r.create({
      ...slice('old-abcde', 'web', {
        addressType: 'IPv4',
        endpoints: [{ addresses: ['10.9.9.9'] }],
        ports: [{ port: 80 }],
      }),
      metadata: {
        name: 'old-abcde',
        labels: {
          'kubernetes.io/service-name': 'web',
          'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
        },
        ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: 'web', uid: 'gone', controller: true }],
      },
    });
    await r.create(svc('web', { selector: { app: 'web' }, ports: [{ port: 80 }] }));
    await r.create(pod('p', { app: 'web' }, { ip: '10.1.0.1' }));
    const names = (await slicesOf(r, 'web')).map((s) => s.metadata.name);
    expect(names).toHaveLength(1);
    expect(names).not.toContain('old-abcde');
    await r.close();
  });

  it('leaves slices alone when the selector goes, and collects them when the service goes', async () => {
    const r = await open();
    await r.create(svc('web', { selector: { app: 'web' }, ports: [{ port: 80 }] }));
    await r.create(pod('p', { app: 'web' }, { ip: '10.1.0.1' }));
    const before = await slicesOf(r, 'web');
    await r.update(svc('web', { ports: [{ port: 80 }] }));
    // Upstream's controller does not touch services without a selector, whatever they had.
    expect((await slicesOf(r, 'web')).map((s) => s.metadata.resourceVersion)).toEqual(
      before.map((s) => s.metadata.resourceVersion),
    );
    await r.delete('Service', 'default', 'web');
    expect(await slicesOf(r, 'web')).toEqual([]);
    await r.close();
  });

  it('gives ExternalName services no managed slices', async () => {
    const r = await open();
    await r.create(svc('x', { type: 'ExternalName', externalName: 'a.example', selector: { app: 'x' } }));
    await r.create(pod('p', { app: 'x' }, { ip: '10.1.0.1' }));
    expect(await slicesOf(r, 'x')).toEqual([]);
    await r.close();
  });
});
