import { describe, expect, it } from 'vitest';
import { formatFieldError, isStatusError, type StatusError } from '../../src/core/errors';
import { SeededRng } from '../../src/core/random';
import type { Service, ServiceSpec } from '../../src/core/types';
import { ipNotInRangeMessage, PoolLoadBalancerProvider } from '../../src/net';
import { MemoryStore, Registry, type Store, type StoreOp } from '../../src/registry';
import { FakeClock } from '../../src/testing/fake-clock';
import { svc } from './helpers';

type Options = ConstructorParameters<typeof Registry>[0];

async function open(opts: Options = {}): Promise<Registry> {
  return Registry.open({ rng: new SeededRng(7), clock: new FakeClock(), ...opts });
}

async function refusal(p: Promise<unknown>): Promise<StatusError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!isStatusError(e)) throw new Error(`expected a StatusError, got ${String(e)}`);
  return e;
}

const lines = (e: StatusError) => e.causes.map(formatFieldError);

async function reservationKeys(r: Registry): Promise<string[]> {
  return (await r.store.list(`${r.keys.prefix}/`)).entries
    .map((e) => e.key)
    .filter((k) => k.includes('/ipaddresses/') || k.includes('/servicenodeports/'))
    .sort();
}

const BAD_PORT_NAME = 'HTTP_1';
const BAD_SELECTOR = { 'bad key!': 'x' };

// The API server's Service storage allocates in BeginCreate/BeginUpdate (IP family fields, then
// cluster IPs, then node ports, stopping at the first failure) and validates afterwards, in the
// strategy's Validate. A service that is both unallocatable and invalid gets the allocation error.
describe('create: allocation errors come before validation errors', () => {
  it('a requested clusterIP out of range wins over an invalid port name', async () => {
    const r = await open();
    const e = await refusal(
      r.create(svc('web', { clusterIP: '10.0.0.1', ports: [{ name: BAD_PORT_NAME, port: 80 }] })),
    );
    expect(e.reason).toBe('Invalid');
    expect(lines(e)).toEqual([
      `spec.clusterIPs: Invalid value: []string{"10.0.0.1"}: failed to allocate IP 10.0.0.1: ${ipNotInRangeMessage('10.96.0.0/12')}`,
    ]);
    await r.close();
  });

  it('a requested nodePort already in use wins over an invalid selector', async () => {
    const r = await open();
    await r.create(svc('a', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }));
    const e = await refusal(
      r.create(
        svc('b', { type: 'NodePort', selector: BAD_SELECTOR, ports: [{ port: 80, nodePort: 30080 }] }),
      ),
    );
    expect(lines(e)).toEqual([
      'spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated',
    ]);
    await r.close();
  });

  it('a nodePort out of range wins over an invalid name', async () => {
    const r = await open();
    const e = await refusal(
      r.create(svc('Not_A_Name', { type: 'NodePort', ports: [{ port: 80, nodePort: 80 }] })),
    );
    expect(lines(e)).toEqual([
      'spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767',
    ]);
    await r.close();
  });

  it('cluster IPs are allocated before node ports, and only the first failure is reported', async () => {
    const r = await open();
    await r.create(svc('a', { clusterIP: '10.96.0.10', ports: [{ port: 80 }] }));
    const e = await refusal(
      r.create(
        svc('b', {
          clusterIP: '10.96.0.10',
          type: 'NodePort',
          ports: [
            { name: 'x', port: 80, nodePort: 80 },
            { name: 'y', port: 81, nodePort: 81 },
          ],
        }),
      ),
    );
    expect(lines(e)).toEqual([
      'spec.clusterIPs: Invalid value: []string{"10.96.0.10"}: failed to allocate IP 10.96.0.10: provided IP is already allocated',
    ]);
    const two = await refusal(
      r.create(
        svc('c', {
          type: 'NodePort',
          ports: [
            { name: 'x', port: 80, nodePort: 80 },
            { name: 'y', port: 81, nodePort: 81 },
          ],
        }),
      ),
    );
    expect(lines(two)).toEqual([
      'spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767',
    ]);
    await r.close();
  });

  it('IP family errors come before everything else', async () => {
    const r = await open();
    const e = await refusal(
      r.create(
        svc('web', {
          ipFamilyPolicy: 'RequireDualStack',
          clusterIP: '10.0.0.1',
          ports: [{ name: BAD_PORT_NAME, port: 80 }],
        }),
      ),
    );
    expect(lines(e)).toEqual([
      'spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is not configured for dual-stack services',
    ]);
    await r.close();
  });

  it('an allocatable but invalid service gets every validation error and keeps nothing', async () => {
    const r = await open({ serviceClusterIPRanges: ['10.96.0.0/29'], serviceNodePortRange: '30000-30001' });
    for (let i = 0; i < 10; i++) {
      const e = await refusal(
        r.create(
          svc(`bad${i}`, {
            type: 'NodePort',
            selector: BAD_SELECTOR,
            ports: [{ name: BAD_PORT_NAME, port: 80 }],
          }),
        ),
      );
      expect(e.reason).toBe('Invalid');
      expect(lines(e).map((l) => l.split(':')[0])).toEqual(['spec.ports[0].name', 'spec.selector']);
    }
    expect(await reservationKeys(r)).toEqual([]);
    // The candidates the refused creates took were given back: the whole (tiny) range is free.
    for (const name of ['a', 'b'])
      await r.create(svc(name, { type: 'NodePort', selector: { app: name }, ports: [{ port: 80 }] }));
    expect(await reservationKeys(r)).toHaveLength(4);
    await r.close();
  });

  it('IP fields on an ExternalName service are left to validation', async () => {
    const r = await open();
    const e = await refusal(
      r.create(svc('x', { type: 'ExternalName', externalName: 'example.com', clusterIP: '10.96.0.5' })),
    );
    expect(lines(e)).toEqual(['spec.clusterIPs: Forbidden: may not be set for ExternalName services']);
    await r.close();
  });
});

describe('create of an existing name: allocation and validation answer before AlreadyExists', () => {
  it('says "already allocated" for a requested clusterIP, Invalid for a bad spec, AlreadyExists otherwise', async () => {
    const r = await open({ serviceClusterIPRanges: ['10.96.0.0/29'], serviceNodePortRange: '30000-30001' });
    await r.create(
      svc('web', { clusterIP: '10.96.0.2', type: 'NodePort', ports: [{ port: 80, nodePort: 30000 }] }),
    );
    const ip = await refusal(r.create(svc('web', { clusterIP: '10.96.0.2', ports: [{ port: 80 }] })));
    expect(lines(ip)).toEqual([
      'spec.clusterIPs: Invalid value: []string{"10.96.0.2"}: failed to allocate IP 10.96.0.2: provided IP is already allocated',
    ]);
    const port = await refusal(
      r.create(svc('web', { type: 'NodePort', ports: [{ port: 80, nodePort: 30000 }] })),
    );
    expect(lines(port)).toEqual([
      'spec.ports[0].nodePort: Invalid value: 30000: provided port is already allocated',
    ]);
    const bad = await refusal(r.create(svc('web', { ports: [{ name: BAD_PORT_NAME, port: 80 }] })));
    expect(bad.reason).toBe('Invalid');
    for (let i = 0; i < 8; i++) {
      const dup = await refusal(r.create(svc('web', { type: 'NodePort', ports: [{ port: 80 }] })));
      expect(dup.reason).toBe('AlreadyExists');
      expect(dup.message).toBe('services "web" already exists');
    }
    // The refused re-creates kept nothing: the rest of the tiny ranges is still free.
    for (const name of ['a', 'b', 'c', 'd']) await r.create(svc(name, { ports: [{ port: 80 }] }));
    await r.create(svc('np', { type: 'NodePort', ports: [{ port: 80 }] }));
    expect(await reservationKeys(r)).toHaveLength(8);
    await r.close();
  });
});

describe('automatic node ports never take a value the service requests itself', () => {
  it('for the health check port and for a port listed before the requesting one', async () => {
    for (let seed = 0; seed < 12; seed++) {
      const r = await Registry.open({
        rng: new SeededRng(seed),
        clock: new FakeClock(),
        serviceNodePortRange: '30000-30001',
      });
      const lb = await r.create(
        svc('lb', {
          type: 'LoadBalancer',
          externalTrafficPolicy: 'Local',
          ports: [{ port: 80, nodePort: 30000 }],
        }),
      );
      expect(lb.spec.healthCheckNodePort).toBe(30001);
      await r.delete('Service', 'default', 'lb');
      const np = await r.create(
        svc('np', {
          type: 'NodePort',
          ports: [
            { name: 'a', port: 80 },
            { name: 'b', port: 81, nodePort: 30000 },
          ],
        }),
      );
      expect(np.spec.ports?.map((p) => p.nodePort)).toEqual([30001, 30000]);
      await r.close();
    }
  });
});

describe('update: what the server allocates on update, before validating', () => {
  it('a new nodePort already in use wins over an invalid selector', async () => {
    const r = await open();
    await r.create(svc('a', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }));
    const b = await r.create(svc('b', { selector: { app: 'b' }, ports: [{ port: 80 }] }));
    const e = await refusal(
      r.update({
        ...b,
        spec: { ...b.spec, type: 'NodePort', selector: BAD_SELECTOR, ports: [{ port: 80, nodePort: 30080 }] },
      } as Service),
    );
    expect(lines(e)).toEqual([
      'spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated',
    ]);
    await r.close();
  });

  it('a changed clusterIP is left to validation, even out of range', async () => {
    const r = await open();
    const a = await r.create(svc('a', { ports: [{ port: 80 }] }));
    const e = await refusal(
      r.update({ ...a, spec: { ...a.spec, clusterIP: '10.0.0.1', clusterIPs: ['10.0.0.1'] } }),
    );
    expect(lines(e)).toEqual([
      'spec.clusterIPs[0]: Invalid value: []string{"10.0.0.1"}: may not change once set',
    ]);
    await r.close();
  });

  it('a changed healthCheckNodePort is immutable, not an allocation problem', async () => {
    const r = await open();
    const lb = await r.create(
      svc('lb', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', ports: [{ port: 80 }] }),
    );
    const e = await refusal(r.update({ ...lb, spec: { ...lb.spec, healthCheckNodePort: 80 } }));
    expect(lines(e)).toEqual(['spec.healthCheckNodePort: Forbidden: field is immutable']);
    await r.close();
  });

  it('from ExternalName every cluster IP is allocated again, with range checks', async () => {
    const r = await open();
    const x = await r.create(svc('x', { type: 'ExternalName', externalName: 'example.com' }));
    const spec: ServiceSpec = {
      type: 'ClusterIP',
      clusterIP: '10.0.0.1',
      selector: BAD_SELECTOR,
      ports: [{ port: 80 }],
    };
    const e = await refusal(r.update({ ...x, spec }));
    expect(lines(e)).toEqual([
      `spec.clusterIPs: Invalid value: []string{"10.0.0.1"}: failed to allocate IP 10.0.0.1: ${ipNotInRangeMessage('10.96.0.0/12')}`,
    ]);
    await r.close();
  });

  it('ports sharing a number share a node port on create but each gets its own on update', async () => {
    const r = await open();
    const ports = [
      { name: 'dns', port: 53, protocol: 'UDP' as const },
      { name: 'dns-tcp', port: 53, protocol: 'TCP' as const },
    ];
    const created = await r.create(svc('c', { type: 'NodePort', ports }));
    expect(created.spec.ports?.[0]?.nodePort).toBe(created.spec.ports?.[1]?.nodePort);
    const plain = await r.create(svc('u', { ports }));
    const updated = await r.update({ ...plain, spec: { ...plain.spec, type: 'NodePort' } });
    const [p0, p1] = updated.spec.ports ?? [];
    expect(p0?.nodePort).toBeGreaterThanOrEqual(30000);
    expect(p1?.nodePort).toBeGreaterThanOrEqual(30000);
    expect(p0?.nodePort).not.toBe(p1?.nodePort);
    expect(await reservationKeys(r)).toHaveLength(5);
    await r.close();
  });
});

/** A memory store that refuses every commit creating a Service while `down` is set. */
class DownForServices implements Store {
  readonly name = 'down-for-services';
  down = false;
  constructor(private readonly inner: MemoryStore) {}
  get: Store['get'] = (k) => this.inner.get(k);
  list: Store['list'] = (p) => this.inner.list(p);
  watch: Store['watch'] = (p, after, h) => this.inner.watch(p, after, h);
  revision: Store['revision'] = () => this.inner.revision();
  close: Store['close'] = () => this.inner.close();
  commit(ops: readonly StoreOp[]): Promise<number> {
    if (this.down && ops.some((op) => op.type === 'create' && op.key.includes('/services/specs/')))
      return Promise.reject(new Error('store unavailable'));
    return this.inner.commit(ops);
  }
}

describe('a create whose commit fails keeps nothing', () => {
  it('neither allocator candidates nor the load balancer address', async () => {
    const store = new DownForServices(new MemoryStore());
    const provider = new PoolLoadBalancerProvider({ pools: ['192.0.2.0/31'] });
    const r = await open({
      store,
      serviceClusterIPRanges: ['10.96.0.0/30'],
      serviceNodePortRange: '30000-30001',
      loadBalancerProvider: provider,
    });
    const lb = (name: string) => svc(name, { type: 'LoadBalancer', ports: [{ port: 80 }] });
    store.down = true;
    for (const name of ['x', 'y', 'z']) await expect(r.create(lb(name))).rejects.toThrow('store unavailable');
    store.down = false;
    const a = await r.create(lb('a'));
    const b = await r.create(lb('b'));
    const ips = [a, b].map((s) => s.status?.loadBalancer?.ingress?.[0]?.ip);
    expect(new Set(ips).size).toBe(2);
    expect(ips.every((ip) => ip?.startsWith('192.0.2.'))).toBe(true);
    expect(await reservationKeys(r)).toHaveLength(4);
    await r.close();
    await store.close();
  });
});

describe('comparison-only preparation (apply) takes nothing', () => {
  it('gives back the candidates and asks no LoadBalancer provider', async () => {
    const provider = new PoolLoadBalancerProvider({ pools: ['192.0.2.0/31'] });
    const r = await open({ serviceNodePortRange: '30000-30000', loadBalancerProvider: provider });
    const m = svc('web', { selector: { app: 'web' }, ports: [{ port: 80 }] });
    await r.apply(m);
    // apply compares a prepared NodePort version first; that preparation must not hold the only port.
    const np = await r.apply(
      svc('web', { type: 'NodePort', selector: { app: 'web' }, ports: [{ port: 80 }] }),
    );
    expect(np.action).toBe('configured');
    expect(np.object.spec.ports?.[0]?.nodePort).toBe(30000);
    const lb = svc('lb', {
      type: 'LoadBalancer',
      allocateLoadBalancerNodePorts: false,
      ports: [{ port: 80 }],
    });
    const first = await r.apply(lb);
    const ip = first.object.status?.loadBalancer?.ingress?.[0]?.ip;
    expect(ip).toMatch(/^192\.0\.2\./);
    expect((await r.apply(lb)).action).toBe('unchanged');
    // One pool address is still free: the unchanged apply did not ask for a second one.
    const other = await r.create(
      svc('lb2', { type: 'LoadBalancer', allocateLoadBalancerNodePorts: false, ports: [{ port: 80 }] }),
    );
    expect(other.status?.loadBalancer?.ingress?.[0]?.ip).toMatch(/^192\.0\.2\./);
    expect(other.status?.loadBalancer?.ingress?.[0]?.ip).not.toBe(ip);
    await r.close();
  });
});
