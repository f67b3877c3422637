/**
 * The Service update strategy as the registry applies it: what an update stores after a type
 * change (type-dependent values the user left unchanged are dropped, the load-balancer status is
 * emptied), and that the values it drops are given back to the allocators.
 */
import { describe, expect, it } from 'vitest';
import { defaultService } from '../../src/core/defaults';
import { isStatusError, type StatusError } from '../../src/core/errors';
import { SeededRng } from '../../src/core/random';
import type { Service } from '../../src/core/types';
import { PoolLoadBalancerProvider } from '../../src/net';
import { Registry } from '../../src/registry';
import { FakeClock } from '../../src/testing/fake-clock';
import { svc } from './helpers';

const IPV4 = '10.96.0.50';
const IPV6 = 'fd00:96::50';

async function open(opts: ConstructorParameters<typeof Registry>[0] = {}) {
  return Registry.open({
    rng: new SeededRng(7),
    clock: new FakeClock(),
    serviceClusterIPRanges: ['10.96.0.0/16', 'fd00:96::/112'],
    ...opts,
  });
}

async function statusError(p: Promise<unknown>): Promise<StatusError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!isStatusError(e)) throw new Error(`expected a StatusError, got ${String(e)}`);
  return e;
}

const stored = (r: Registry, name = 'valid') => r.get('Service', 'default', name) as Promise<Service>;

/** A mutable copy of a stored object, as a client would send it back. */
const editable = (s: Service): Service => structuredClone(s) as Service;

type Tweak = (s: Service) => void;

// The tweaks of the upstream strategy test, on a dual-stack service the registry can store.
const setTypeExternalName: Tweak = (s) => {
  s.spec.type = 'ExternalName';
  // Not in the strategy's own test: validation requires it of an ExternalName service.
  s.spec.externalName = 'valid.example.com';
};
const setTypeNodePort: Tweak = (s) => {
  s.spec.type = 'NodePort';
};
const setTypeClusterIP: Tweak = (s) => {
  s.spec.type = 'ClusterIP';
};
const setTypeLoadBalancer: Tweak = (s) => {
  s.spec.type = 'LoadBalancer';
};
const clearClusterIPs: Tweak = (s) => {
  delete s.spec.clusterIP;
  delete s.spec.clusterIPs;
};
const changeClusterIPs: Tweak = (s) => {
  s.spec.clusterIP = '10.96.0.51';
  (s.spec.clusterIPs as string[])[0] = '10.96.0.51';
};
const setNodePorts: Tweak = (s) => {
  (s.spec.ports ?? []).forEach((p, i) => {
    p.nodePort = 30000 + i;
  });
};
const changeNodePorts: Tweak = (s) => {
  for (const p of s.spec.ports ?? []) p.nodePort = (p.nodePort ?? 0) + 100;
};
const setExternalIPs: Tweak = (s) => {
  s.spec.externalIPs = ['203.0.113.10'];
};
const clearExternalIPs: Tweak = (s) => {
  delete s.spec.externalIPs;
};
const setExternalTrafficPolicyCluster: Tweak = (s) => {
  s.spec.externalTrafficPolicy = 'Cluster';
};
const clearExternalTrafficPolicy: Tweak = (s) => {
  delete s.spec.externalTrafficPolicy;
};
const clearIPFamilies: Tweak = (s) => {
  delete s.spec.ipFamilies;
};
const changeIPFamilies: Tweak = (s) => {
  s.spec.ipFamilies = ['IPv6', 'IPv6'];
};
const clearIPFamilyPolicy: Tweak = (s) => {
  delete s.spec.ipFamilyPolicy;
};
const changeIPFamilyPolicy: Tweak = (s) => {
  s.spec.ipFamilyPolicy = 'SingleStack';
};
// Upstream adds a port numbered 0 (never validated there); a stored service needs a real number.
const addPort: Tweak = (s) => {
  s.spec.ports = [...(s.spec.ports ?? []), { name: 'new', protocol: 'TCP', port: 8080, targetPort: 8080 }];
};
const delPort: Tweak = (s) => {
  s.spec.ports = (s.spec.ports ?? []).slice(0, -1);
};
const changePort: Tweak = (s) => {
  const p = s.spec.ports?.[0];
  if (!p) return;
  p.port += 100;
  p.protocol = 'UDP';
};
const setHCNodePort: Tweak = (s) => {
  s.spec.externalTrafficPolicy = 'Local';
  s.spec.healthCheckNodePort = 32000;
};
const changeHCNodePort: Tweak = (s) => {
  s.spec.healthCheckNodePort = (s.spec.healthCheckNodePort ?? 0) + 100;
};
const setAllocateLoadBalancerNodePortsTrue: Tweak = (s) => {
  s.spec.allocateLoadBalancerNodePorts = true;
};
const setAllocateLoadBalancerNodePortsFalse: Tweak = (s) => {
  s.spec.allocateLoadBalancerNodePorts = false;
};
const clearAllocateLoadBalancerNodePorts: Tweak = (s) => {
  delete s.spec.allocateLoadBalancerNodePorts;
};
const setLoadBalancerClass: Tweak = (s) => {
  s.spec.loadBalancerClass = 'example.com/test-load-balancer-class';
};
const clearLoadBalancerClass: Tweak = (s) => {
  delete s.spec.loadBalancerClass;
};
const changeLoadBalancerClass: Tweak = (s) => {
  s.spec.loadBalancerClass = 'example.com/test-load-balancer-class-changed';
};

function makeValidService(...tweaks: Tweak[]): Service {
  const s = svc('valid', {
    selector: { key: 'val' },
    sessionAffinity: 'None',
    type: 'ClusterIP',
    ports: [
      { name: 'p', protocol: 'TCP', port: 8675, targetPort: 8675 },
      { name: 'q', protocol: 'TCP', port: 309, targetPort: 309 },
    ],
    clusterIP: IPV4,
    clusterIPs: [IPV4, IPV6],
    ipFamilyPolicy: 'PreferDualStack',
    ipFamilies: ['IPv4', 'IPv6'],
    internalTrafficPolicy: 'Cluster',
  });
  for (const t of tweaks) t(s);
  return s;
}

/** The fields the upstream strategy test compares. */
function strategyFields(s: Service) {
  const spec = s.spec;
  return {
    type: spec.type,
    clusterIP: spec.clusterIP,
    clusterIPs: spec.clusterIPs,
    ipFamilies: spec.ipFamilies,
    ipFamilyPolicy: spec.ipFamilyPolicy,
    nodePorts: (spec.ports ?? []).map((p) => p.nodePort),
    healthCheckNodePort: spec.healthCheckNodePort,
    allocateLoadBalancerNodePorts: spec.allocateLoadBalancerNodePorts,
    loadBalancerClass: spec.loadBalancerClass,
    externalTrafficPolicy: spec.externalTrafficPolicy,
  };
}

/**
 * What the registry stores for an expected strategy result: the server defaults before it
 * stores, and a service whose type needs node ports gets one allocated for every port left
 * without (any number: the strategy's own test never allocates).
 */
function expectedFields(want: Service) {
  const fields = strategyFields(defaultService(want));
  const needsNodePorts = want.spec.type === 'NodePort' || want.spec.type === 'LoadBalancer';
  return {
    ...fields,
    nodePorts: fields.nodePorts.map((p) => (p === undefined && needsNodePorts ? expect.any(Number) : p)),
  };
}

interface StrategyCase {
  readonly name: string;
  readonly svc: Service;
  readonly patch?: Tweak[];
  /** The stored result, or the field the refusal names (the user changed it: validation reports it). */
  readonly expect: Service | { readonly invalid: string };
}

// Upstream TestDropTypeDependentFields, case by case. Where the upstream test feeds the strategy
// an object the server never stores (a nil allocateLoadBalancerNodePorts on a LoadBalancer, which
// defaulting sets to true) or keeps a value validation refuses, the registry's answer is given.
const cases: readonly StrategyCase[] = [
  // clusterIP cases
  { name: "don't clear clusterIP et al", svc: makeValidService(), expect: makeValidService() },
  {
    name: 'clear clusterIP et al',
    svc: makeValidService(),
    patch: [setTypeExternalName],
    expect: makeValidService(setTypeExternalName, clearClusterIPs, clearIPFamilies, clearIPFamilyPolicy),
  },
  {
    name: "don't clear changed clusterIP",
    svc: makeValidService(),
    patch: [setTypeExternalName, changeClusterIPs],
    expect: { invalid: 'spec.clusterIPs' },
  },
  {
    name: "don't clear changed ipFamilies",
    svc: makeValidService(),
    patch: [setTypeExternalName, changeIPFamilies],
    expect: { invalid: 'spec.ipFamilies' },
  },
  {
    name: "don't clear changed ipFamilyPolicy",
    svc: makeValidService(),
    patch: [setTypeExternalName, changeIPFamilyPolicy],
    expect: { invalid: 'spec.ipFamilyPolicy' },
  },
  // nodePort cases
  {
    name: "don't clear nodePorts for type=NodePort",
    svc: makeValidService(setTypeNodePort, setNodePorts),
    expect: makeValidService(setTypeNodePort, setNodePorts),
  },
  {
    name: "don't clear nodePorts for type=LoadBalancer",
    svc: makeValidService(setTypeLoadBalancer, setNodePorts),
    expect: makeValidService(setTypeLoadBalancer, setNodePorts),
  },
  {
    name: 'clear nodePorts',
    svc: makeValidService(setTypeLoadBalancer, setNodePorts),
    patch: [setTypeClusterIP],
    expect: makeValidService(),
  },
  {
    name: "don't clear changed nodePorts",
    svc: makeValidService(setTypeLoadBalancer, setNodePorts),
    patch: [setTypeClusterIP, changeNodePorts],
    expect: { invalid: 'spec.ports[0].nodePort' },
  },
  {
    name: 'clear nodePorts when adding a port',
    svc: makeValidService(setTypeLoadBalancer, setNodePorts),
    patch: [setTypeClusterIP, addPort],
    expect: makeValidService(addPort),
  },
  {
    name: "don't clear nodePorts when adding a port with NodePort",
    svc: makeValidService(setTypeLoadBalancer, setNodePorts),
    patch: [setTypeClusterIP, addPort, setNodePorts],
    expect: { invalid: 'spec.ports[2].nodePort' },
  },
  {
    name: 'clear nodePorts when removing a port',
    svc: makeValidService(setTypeLoadBalancer, setNodePorts),
    patch: [setTypeClusterIP, delPort],
    expect: makeValidService(delPort),
  },
  {
    name: 'clear nodePorts when changing a port',
    svc: makeValidService(setTypeLoadBalancer, setNodePorts),
    patch: [setTypeClusterIP, changePort],
    expect: makeValidService(changePort),
  },
  // healthCheckNodePort cases
  {
    name: "don't clear healthCheckNodePort for type=LoadBalancer",
    svc: makeValidService(setTypeLoadBalancer, setHCNodePort),
    expect: makeValidService(setTypeLoadBalancer, setHCNodePort),
  },
  {
    name: 'clear healthCheckNodePort',
    svc: makeValidService(setTypeLoadBalancer, setHCNodePort),
    patch: [setTypeClusterIP],
    expect: makeValidService(),
  },
  {
    name: "don't clear changed healthCheckNodePort",
    svc: makeValidService(setTypeLoadBalancer, setHCNodePort),
    patch: [setTypeClusterIP, changeHCNodePort],
    expect: { invalid: 'spec.healthCheckNodePort' },
  },
  // allocateLoadBalancerNodePorts cases
  {
    name: 'clear allocatedLoadBalancerNodePorts true -> true',
    svc: makeValidService(setTypeLoadBalancer, setAllocateLoadBalancerNodePortsTrue),
    patch: [setTypeNodePort],
    expect: makeValidService(setTypeNodePort),
  },
  {
    name: 'clear allocatedLoadBalancerNodePorts false -> false',
    svc: makeValidService(setTypeLoadBalancer, setAllocateLoadBalancerNodePortsFalse),
    patch: [setTypeNodePort],
    expect: makeValidService(setTypeNodePort),
  },
  {
    // Stored as true (defaulted), so setting true again leaves it unchanged: dropped.
    name: 'set allocatedLoadBalancerNodePorts nil -> true',
    svc: makeValidService(setTypeLoadBalancer),
    patch: [setTypeNodePort, setAllocateLoadBalancerNodePortsTrue],
    expect: makeValidService(setTypeNodePort),
  },
  {
    // Stored as true (defaulted): false is a change, kept, and refused on a NodePort service.
    name: 'set allocatedLoadBalancerNodePorts nil -> false',
    svc: makeValidService(setTypeLoadBalancer),
    patch: [setTypeNodePort, setAllocateLoadBalancerNodePortsFalse],
    expect: { invalid: 'spec.allocateLoadBalancerNodePorts' },
  },
  {
    name: 'set allocatedLoadBalancerNodePorts true -> nil',
    svc: makeValidService(setTypeLoadBalancer, setAllocateLoadBalancerNodePortsTrue),
    patch: [setTypeNodePort, clearAllocateLoadBalancerNodePorts],
    expect: makeValidService(setTypeNodePort),
  },
  {
    name: 'set allocatedLoadBalancerNodePorts false -> nil',
    svc: makeValidService(setTypeLoadBalancer, setAllocateLoadBalancerNodePortsFalse),
    patch: [setTypeNodePort, clearAllocateLoadBalancerNodePorts],
    expect: makeValidService(setTypeNodePort),
  },
  {
    name: 'set allocatedLoadBalancerNodePorts true -> false',
    svc: makeValidService(setTypeLoadBalancer, setAllocateLoadBalancerNodePortsTrue),
    patch: [setTypeNodePort, setAllocateLoadBalancerNodePortsFalse],
    expect: { invalid: 'spec.allocateLoadBalancerNodePorts' },
  },
  {
    name: 'set allocatedLoadBalancerNodePorts false -> true',
    svc: makeValidService(setTypeLoadBalancer, setAllocateLoadBalancerNodePortsFalse),
    patch: [setTypeNodePort, setAllocateLoadBalancerNodePortsTrue],
    expect: { invalid: 'spec.allocateLoadBalancerNodePorts' },
  },
  // loadBalancerClass cases
  {
    name: 'clear loadBalancerClass when set Service type LoadBalancer -> non LoadBalancer',
    svc: makeValidService(setTypeLoadBalancer, setLoadBalancerClass),
    patch: [setTypeClusterIP],
    expect: makeValidService(setTypeClusterIP, clearLoadBalancerClass),
  },
  {
    // The class of a LoadBalancer is immutable: validation refuses what the strategy keeps.
    name: 'update loadBalancerClass load balancer class name',
    svc: makeValidService(setTypeLoadBalancer, setLoadBalancerClass),
    patch: [changeLoadBalancerClass],
    expect: { invalid: 'spec.loadBalancerClass' },
  },
  {
    name: 'clear load balancer class name',
    svc: makeValidService(setTypeLoadBalancer, setLoadBalancerClass),
    patch: [clearLoadBalancerClass],
    expect: { invalid: 'spec.loadBalancerClass' },
  },
  {
    name: 'change service type and load balancer class',
    svc: makeValidService(setTypeLoadBalancer, setLoadBalancerClass),
    patch: [setTypeClusterIP, changeLoadBalancerClass],
    expect: { invalid: 'spec.loadBalancerClass' },
  },
  {
    name: 'change service type to load balancer and set load balancer class',
    svc: makeValidService(setTypeClusterIP),
    patch: [setTypeLoadBalancer, setLoadBalancerClass],
    expect: makeValidService(setTypeLoadBalancer, setLoadBalancerClass),
  },
  {
    name: "don't clear load balancer class for Type=LoadBalancer",
    svc: makeValidService(setTypeLoadBalancer, setLoadBalancerClass),
    expect: makeValidService(setTypeLoadBalancer, setLoadBalancerClass),
  },
  {
    name: 'clear externalTrafficPolicy when removing externalIPs for Type=ClusterIP',
    svc: makeValidService(setTypeClusterIP, setExternalIPs, setExternalTrafficPolicyCluster),
    patch: [clearExternalIPs],
    expect: makeValidService(setTypeClusterIP, clearExternalTrafficPolicy),
  },
];

describe('Registry update strategy: upstream TestDropTypeDependentFields through update()', () => {
  for (const tc of cases) {
    it(tc.name, async () => {
      const r = await open();
      try {
        const before = await r.create(tc.svc);
        const next = editable(before);
        for (const t of tc.patch ?? []) t(next);
        if ('invalid' in tc.expect) {
          const err = await statusError(r.update(next));
          expect(err.reason).toBe('Invalid');
          expect(err.causes.map((c) => c.field)).toContain(tc.expect.invalid);
          // Nothing was written.
          expect(await stored(r)).toBe(before);
        } else {
          const after = await r.update(next);
          expect(strategyFields(after)).toEqual(expectedFields(tc.expect));
          expect(strategyFields(await stored(r))).toEqual(strategyFields(after));
        }
      } finally {
        await r.close();
      }
    });
  }
});

describe('Registry update strategy: dropped values are released', () => {
  it('cluster IPs dropped on a change to ExternalName can be requested by another service', async () => {
    const r = await open();
    await r.create(makeValidService());
    const next = editable(await stored(r));
    setTypeExternalName(next);
    await r.update(next);
    const other = await r.create(
      svc('other', {
        ports: [{ port: 80 }],
        clusterIP: IPV4,
        clusterIPs: [IPV4, IPV6],
        ipFamilyPolicy: 'RequireDualStack',
      }),
    );
    expect(other.spec.clusterIPs).toEqual([IPV4, IPV6]);
    await r.close();
  });

  it('node ports and the health check node port dropped on LoadBalancer → ClusterIP can be requested again', async () => {
    const r = await open();
    await r.create(makeValidService(setTypeLoadBalancer, setNodePorts, setHCNodePort));
    const next = editable(await stored(r));
    setTypeClusterIP(next);
    await r.update(next);
    const other = await r.create(
      svc('other', {
        type: 'NodePort',
        ports: [
          { name: 'a', port: 80, nodePort: 30000 },
          { name: 'b', port: 81, nodePort: 30001 },
          { name: 'c', port: 82, nodePort: 32000 },
        ],
      }),
    );
    expect(other.spec.ports?.map((p) => p.nodePort)).toEqual([30000, 30001, 32000]);
    await r.close();
  });

  it('a node port the update would keep is not released when the update is refused', async () => {
    const r = await open();
    await r.create(makeValidService(setTypeLoadBalancer, setNodePorts));
    const next = editable(await stored(r));
    setTypeClusterIP(next);
    changeNodePorts(next);
    await statusError(r.update(next));
    const err = await statusError(
      r.create(svc('other', { type: 'NodePort', ports: [{ port: 80, nodePort: 30000 }] })),
    );
    expect(err.message).toContain('provided port is already allocated');
    await r.close();
  });
});

describe('Registry update strategy: the stored object is the validated one', () => {
  const nodePortService = () =>
    svc('web', {
      type: 'NodePort',
      selector: { app: 'web' },
      ports: [
        { name: 'a', port: 80, nodePort: 30080 },
        { name: 'b', port: 81, nodePort: 30081 },
      ],
    });

  it('NodePort → ClusterIP with the port list edited stores no node port and releases both', async () => {
    const r = await open();
    await r.create(nodePortService());
    const next = editable(await stored(r, 'web'));
    next.spec.type = 'ClusterIP';
    delete next.spec.externalTrafficPolicy;
    // Port `a` removed; `b` still carries the node port it had.
    next.spec.ports = (next.spec.ports ?? []).filter((p) => p.name === 'b');
    const after = await r.update(next);
    expect(after.spec.type).toBe('ClusterIP');
    expect(after.spec.ports).toEqual([{ name: 'b', port: 81, protocol: 'TCP', targetPort: 81 }]);
    expect((await stored(r, 'web')).spec.ports?.[0]?.nodePort).toBeUndefined();
    const other = await r.create(
      svc('other', {
        type: 'NodePort',
        ports: [
          { name: 'a', port: 80, nodePort: 30080 },
          { name: 'b', port: 81, nodePort: 30081 },
        ],
      }),
    );
    expect(other.spec.ports?.map((p) => p.nodePort)).toEqual([30080, 30081]);
    await r.close();
  });

  it('the same through apply(): the port list reordered and renamed, no node port new', async () => {
    const r = await open();
    await r.apply(nodePortService());
    const res = await r.apply(
      svc('web', {
        type: 'ClusterIP',
        selector: { app: 'web' },
        ports: [
          { name: 'second', port: 8081, nodePort: 30081 },
          { name: 'first', port: 8080, nodePort: 30080 },
        ],
      }),
    );
    expect(res.action).toBe('configured');
    expect(res.object.spec.ports?.map((p) => p.nodePort)).toEqual([undefined, undefined]);
    expect(res.object.spec.externalTrafficPolicy).toBeUndefined();
    const again = await r.apply(
      svc('web', {
        type: 'ClusterIP',
        selector: { app: 'web' },
        ports: [
          { name: 'second', port: 8081 },
          { name: 'first', port: 8080 },
        ],
      }),
    );
    expect(again.action).toBe('unchanged');
    const other = await r.create(svc('other', { type: 'NodePort', ports: [{ port: 80, nodePort: 30081 }] }));
    expect(other.spec.ports?.[0]?.nodePort).toBe(30081);
    await r.close();
  });

  it('a node port that is new on NodePort → ClusterIP is refused, not stored', async () => {
    const r = await open();
    const before = await r.create(nodePortService());
    const next = editable(before);
    next.spec.type = 'ClusterIP';
    next.spec.ports = [{ name: 'a', port: 80, nodePort: 30999 }];
    const err = await statusError(r.update(next));
    expect(err.message).toContain(
      "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
    );
    expect(await stored(r, 'web')).toBe(before);
    await r.close();
  });

  it('LoadBalancer → ClusterIP drops an unchanged loadBalancerClass (apply)', async () => {
    const r = await open();
    await r.apply(
      svc('lb', {
        type: 'LoadBalancer',
        loadBalancerClass: 'example.com/internal',
        ports: [{ port: 80 }],
      }),
    );
    const res = await r.apply(
      svc('lb', { type: 'ClusterIP', loadBalancerClass: 'example.com/internal', ports: [{ port: 80 }] }),
    );
    expect(res.object.spec.type).toBe('ClusterIP');
    expect(res.object.spec.loadBalancerClass).toBeUndefined();
    expect(res.object.spec.allocateLoadBalancerNodePorts).toBeUndefined();
    expect(res.object.spec.ports?.[0]?.nodePort).toBeUndefined();
    await r.close();
  });

  it('LoadBalancer → ClusterIP empties the load-balancer status the provider had set', async () => {
    const provider = new PoolLoadBalancerProvider({ pools: ['192.0.2.0/30'] });
    const r = await open({ loadBalancerProvider: provider });
    const lb = await r.create(svc('lb', { type: 'LoadBalancer', ports: [{ port: 80 }] }));
    expect(lb.status?.loadBalancer?.ingress?.length).toBe(1);
    const next = editable(lb);
    next.spec.type = 'ClusterIP';
    const after = await r.update(next);
    expect(after.status).toEqual({ loadBalancer: {} });
    expect((await stored(r, 'lb')).status).toEqual({ loadBalancer: {} });
    await r.close();
  });

  it('LoadBalancer → ClusterIP empties a stored status without a provider, and a client status is ignored', async () => {
    const r = await open();
    const lb = await r.create({
      ...svc('lb', { type: 'LoadBalancer', ports: [{ port: 80 }] }),
      status: { loadBalancer: { ingress: [{ ip: '192.0.2.10', ipMode: 'VIP' }] } },
    });
    expect(lb.status?.loadBalancer?.ingress).toEqual([{ ip: '192.0.2.10', ipMode: 'VIP' }]);
    const next = editable(lb);
    next.spec.type = 'ClusterIP';
    next.status = { loadBalancer: { ingress: [{ ip: '192.0.2.99', ipMode: 'VIP' }] } };
    const after = await r.update(next);
    expect(after.status).toEqual({ loadBalancer: {} });
    await r.close();
  });

  it('an update that stays LoadBalancer keeps the stored status, whatever the client sends', async () => {
    const r = await open();
    const lb = await r.create({
      ...svc('lb', { type: 'LoadBalancer', ports: [{ port: 80 }] }),
      status: { loadBalancer: { ingress: [{ ip: '192.0.2.10', ipMode: 'VIP' }] } },
    });
    const next = editable(lb);
    next.spec.sessionAffinity = 'ClientIP';
    next.status = { loadBalancer: {} };
    const after = await r.update(next);
    expect(after.status).toEqual({ loadBalancer: { ingress: [{ ip: '192.0.2.10', ipMode: 'VIP' }] } });
    await r.close();
  });
});
