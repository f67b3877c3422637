import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { IptablesRenderOptions } from '../../../src/backends/iptables/options';
import { resolveOptions } from '../../../src/backends/iptables/options';
import { renderIptables, renderWith } from '../../../src/backends/iptables/render';
import { IptablesRenderer } from '../../../src/backends/iptables/renderer';
import type { Endpoint, RoutingSnapshot, ServicePortEntry, SnapshotUpdate } from '../../../src/core/snapshot';
import { FakeClock } from '../../../src/testing/fake-clock';
import { IptablesState } from '../../../src/testing/iptables-state';
import { entry, ep, port, snapshot } from './fixtures';
import { NODE, NODE_IP, POD_CIDR } from './golden';
import { updateBetween } from './kube-proxy-dump';
import { referenceRender } from './reference';

const SERVICES = 10;

/** What one service looks like; each field is one thing a random step can change. */
interface ServiceModel {
  readonly present: boolean;
  /** Number of ports, 1–3 (the third one UDP). */
  readonly ports: number;
  /** Endpoints per port. */
  readonly endpoints: number;
  /** Moves the endpoint addresses (new SEP chains). */
  readonly shift: number;
  /** 0 ClusterIP, 1 NodePort, 2 LoadBalancer, 3 ClusterIP with an external IP. */
  readonly kind: number;
  /** externalTrafficPolicy Local (kinds 1–3). */
  readonly externalLocal: boolean;
  readonly internalLocal: boolean;
  readonly affinity: boolean;
  readonly sourceRanges: boolean;
  /** 0 IPv4 cluster IP, 1 IPv6 only, 2 dual-stack. */
  readonly families: number;
  /** Some endpoints on the rendered node. */
  readonly onNode: boolean;
}

const FIELDS = [
  'present',
  'ports',
  'endpoints',
  'shift',
  'kind',
  'externalLocal',
  'internalLocal',
  'affinity',
  'sourceRanges',
  'families',
  'onNode',
] as const;
type Field = (typeof FIELDS)[number];

function withField(m: ServiceModel, field: Field, value: number): ServiceModel {
  switch (field) {
    case 'present':
    case 'externalLocal':
    case 'internalLocal':
    case 'affinity':
    case 'sourceRanges':
    case 'onNode':
      return { ...m, [field]: value % 2 === 1 };
    case 'ports':
      return { ...m, ports: 1 + (value % 3) };
    case 'endpoints':
      return { ...m, endpoints: value % 5 };
    case 'shift':
      return { ...m, shift: value % 7 };
    case 'kind':
      return { ...m, kind: value % 4 };
    case 'families':
      return { ...m, families: value % 3 };
  }
}

function portsOf(i: number, m: ServiceModel): ServicePortEntry[] {
  if (!m.present) return [];
  const out: ServicePortEntry[] = [];
  const clusterIPs =
    m.families === 0
      ? [`172.30.1.${i}`]
      : m.families === 1
        ? [`fd00::1:${i}`]
        : [`172.30.1.${i}`, `fd00::1:${i}`];
  for (let j = 0; j < m.ports; j++) {
    const external = m.kind !== 0;
    const info = port(`ns${i % 3}`, `svc${i}`, {
      portName: `p${j}`,
      port: 80 + j,
      protocol: j === 2 ? 'UDP' : 'TCP',
      clusterIPs,
      type: m.kind === 1 ? 'NodePort' : m.kind === 2 ? 'LoadBalancer' : 'ClusterIP',
      nodePort: m.kind === 1 || m.kind === 2 ? 30000 + i * 4 + j : 0,
      externalIPs: m.kind === 3 ? [`192.168.99.${i}`, `2001:db8::99:${i}`] : [],
      loadBalancerVIPs: m.kind === 2 ? [`1.2.3.${i}`, `2001:db8::4:${i}`] : [],
      loadBalancerSourceRanges: m.kind === 2 && m.sourceRanges ? ['203.0.113.0/25', '2001:db8:1::/64'] : [],
      externalPolicyLocal: external && m.externalLocal,
      internalPolicyLocal: m.internalLocal,
      healthCheckNodePort: m.kind === 2 && m.externalLocal ? 32000 + i : 0,
      sessionAffinity: m.affinity ? { type: 'ClientIP', timeoutSeconds: 10800 } : { type: 'None' },
    });
    const eps: Endpoint[] = [];
    for (let e = 0; e < m.endpoints; e++) {
      const extra = m.onNode && e % 2 === 0 ? { nodeName: NODE } : { nodeName: 'other-node' };
      if (m.families !== 1) eps.push(ep(`10.${i}.${j}.${e + m.shift}`, 8080, extra));
      if (m.families !== 0) eps.push(ep(`fd00:10::${i}:${j}:${e + m.shift}`, 8080, extra));
    }
    out.push(entry(info, eps));
  }
  return out;
}

const serviceModel: fc.Arbitrary<ServiceModel> = fc.record({
  present: fc.boolean(),
  ports: fc.integer({ min: 1, max: 3 }),
  endpoints: fc.integer({ min: 0, max: 4 }),
  shift: fc.integer({ min: 0, max: 6 }),
  kind: fc.integer({ min: 0, max: 3 }),
  externalLocal: fc.boolean(),
  internalLocal: fc.boolean(),
  affinity: fc.boolean(),
  sourceRanges: fc.boolean(),
  families: fc.integer({ min: 0, max: 2 }),
  onNode: fc.boolean(),
});

type Step =
  | {
      readonly kind: 'edit';
      readonly edits: readonly { svc: number; field: Field; value: number }[];
      /** Note the update with a `previous` that is not the object noted before (notes no longer chain). */
      readonly detached: boolean;
    }
  | { readonly kind: 'render' }
  | { readonly kind: 'applied' }
  | { readonly kind: 'failed' }
  | { readonly kind: 'resync' }
  | { readonly kind: 'tick'; readonly ms: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('edit' as const),
      edits: fc.array(
        fc.record({
          svc: fc.integer({ min: 0, max: SERVICES - 1 }),
          field: fc.constantFrom(...FIELDS),
          value: fc.nat(),
        }),
        { minLength: 1, maxLength: 3 },
      ),
      detached: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
    }),
  },
  { weight: 4, arbitrary: fc.constant({ kind: 'render' as const }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'applied' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'failed' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'resync' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 40_000 }) }),
  },
);

/** Chains of `kernel` after a sync that uses `active` and deletes `deleted`: unused ones stay. */
function kernelAfter(
  kernel: ReadonlyMap<string, readonly string[]>,
  active: ReadonlyMap<string, readonly string[]>,
  deleted: readonly string[],
): Map<string, readonly string[]> {
  const gone = new Set(deleted);
  const out = new Map<string, readonly string[]>();
  for (const key of new Set([...kernel.keys(), ...active.keys()])) {
    const now = active.get(key) ?? [];
    const kept = (kernel.get(key) ?? []).filter((c) => !gone.has(c) && !now.includes(c));
    if (now.length + kept.length > 0) out.set(key, [...now, ...kept]);
  }
  return out;
}

/** Builds the snapshot of `models`, keeping the entry objects of services not in `touched`. */
function build(
  models: readonly ServiceModel[],
  previous: RoutingSnapshot | undefined,
  touched: ReadonlySet<number>,
): RoutingSnapshot {
  const list: ServicePortEntry[] = [];
  models.forEach((m, i) => {
    for (const e of portsOf(i, m)) {
      const old = previous?.ports.get(e.info.key);
      list.push(old && !touched.has(i) ? old : e);
    }
  });
  return snapshot(list, (previous?.revision ?? 0) + 1);
}

/** The update a registry would report between two snapshots, `touched` services included. */
function updateOf(
  previous: RoutingSnapshot | undefined,
  current: RoutingSnapshot,
  touched: Iterable<string>,
): SnapshotUpdate {
  const update = updateBetween(previous, current);
  return { ...update, changedServices: new Set([...touched, ...update.changedServices]) };
}

function sortedEntries(m: ReadonlyMap<string, readonly string[]>): [string, readonly string[]][] {
  return [...m].sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

/**
 * Drives an {@link IptablesRenderer} through `steps` and checks every render against the plain
 * reference renderer given the same request (full or partial, the services noted since the last
 * successful apply, the chains of the last successful apply), and every applied payload against
 * a model of the kernel (which rejects e.g. deleting a chain still referenced).
 */
function runScenario(
  options: IptablesRenderOptions,
  initial: readonly ServiceModel[],
  steps: readonly Step[],
): void {
  const resolved = resolveOptions(options);
  const clock = new FakeClock();
  const renderer = new IptablesRenderer(options, clock);
  const kernel = new IptablesState();
  let models = [...initial];
  let current = build(models, undefined, new Set());
  renderer.note(updateOf(undefined, current, []));
  // The reference model of what the renderer must remember.
  let needFull = true;
  /** Every per-service chain in the kernel, used or left unused (large-cluster mode), by port. */
  let kernelChains: ReadonlyMap<string, readonly string[]> = new Map();
  let lastCleanup = Number.NEGATIVE_INFINITY;
  let generation = 1;
  const noted = new Map<string, number>();
  for (const s of updateOf(undefined, current, []).changedServices) noted.set(s, generation);
  let pending:
    | {
        payload: string;
        chains: ReadonlyMap<string, readonly string[]>;
        deleted: readonly string[];
        generation: number;
      }
    | undefined;

  for (const st of steps) {
    if (st.kind === 'edit') {
      const touched = new Set<number>();
      const services = new Set<string>();
      for (const e of st.edits) {
        models[e.svc] = withField(models[e.svc]!, e.field, e.value);
        touched.add(e.svc);
        services.add(`ns${e.svc % 3}/svc${e.svc}`);
      }
      models = [...models];
      const next = build(models, current, touched);
      const update = updateOf(current, next, services);
      renderer.note(st.detached ? { ...update, previous: { ...current } } : update);
      generation++;
      for (const s of update.changedServices) noted.set(s, generation);
      current = next;
    } else if (st.kind === 'render') {
      const got = renderer.render(current);
      const request = { full: needFull, changedServices: new Set(noted.keys()), kernelChains };
      let want = referenceRender(current, resolved, request);
      const cleanup = !want.largeClusterMode || clock.now() - lastCleanup > resolved.syncPeriodMs;
      if (cleanup) lastCleanup = clock.now();
      else want = referenceRender(current, resolved, { ...request, cleanup: false });
      expect(got.full).toBe(needFull);
      expect(got.payload).toBe(want.payload);
      expect(got.deletedChains).toEqual(want.deletedChains);
      expect(got.stats).toEqual(want.stats);
      expect(got.largeClusterMode).toBe(want.largeClusterMode);
      expect(sortedEntries(got.chainsByPort)).toEqual(sortedEntries(want.chainsByPort));
      // The one-off renderer, which writes the ports in a single streaming pass, agrees too.
      const oneOff = renderWith(current, resolved, request);
      const wantOneOff = cleanup ? want : referenceRender(current, resolved, request);
      expect(oneOff.payload).toBe(wantOneOff.payload);
      expect(oneOff.stats).toEqual(wantOneOff.stats);
      expect(sortedEntries(oneOff.chainsByPort)).toEqual(sortedEntries(wantOneOff.chainsByPort));
      pending = { payload: got.payload, chains: want.chainsByPort, deleted: want.deletedChains, generation };
    } else if (st.kind === 'applied') {
      if (!pending) continue;
      kernel.restore(pending.payload, { noflush: true });
      renderer.applied();
      kernelChains = kernelAfter(kernelChains, pending.chains, pending.deleted);
      for (const [s, g] of noted) if (g <= pending.generation) noted.delete(s);
      needFull = false;
      expect(renderer.serviceChains).toEqual(new Set([...kernelChains.values()].flat()));
      pending = undefined;
    } else if (st.kind === 'failed') {
      if (!pending) continue;
      renderer.failed();
      needFull = true;
      pending = undefined;
    } else if (st.kind === 'tick') {
      clock.advance(st.ms);
    } else {
      renderer.requestFullSync();
      needFull = true;
    }
  }
}

const OPTIONS: IptablesRenderOptions = {
  nodeName: NODE,
  nodeIPs: [NODE_IP, 'fd00::2'],
  clusterCIDRs: [POD_CIDR, 'fd00:10::/64'],
  // Small enough for random steps to cross it both ways.
  largeClusterThreshold: 12,
};

describe('IptablesRenderer incremental rendering', () => {
  const scenario = fc.tuple(
    fc.array(serviceModel, { minLength: SERVICES, maxLength: SERVICES }),
    fc.array(step, { minLength: 1, maxLength: 30 }),
  );

  it('renders exactly what a from-scratch render of the same request gives (IPv4)', () => {
    fc.assert(
      fc.property(scenario, ([initial, steps]) => runScenario(OPTIONS, initial, steps)),
      { numRuns: 120 },
    );
  });

  it('renders exactly what a from-scratch render of the same request gives (IPv6)', () => {
    fc.assert(
      fc.property(scenario, ([initial, steps]) =>
        runScenario({ ...OPTIONS, ipFamily: 'IPv6' }, initial, steps),
      ),
      { numRuns: 60 },
    );
  });

  it('renders exactly the same with other node options', () => {
    const other: IptablesRenderOptions = {
      ...OPTIONS,
      masqueradeAll: true,
      randomFully: true,
      nfacct: true,
      nodePortAddresses: ['192.168.0.0/16', '127.0.0.0/8'],
      largeClusterThreshold: 30,
    };
    fc.assert(
      fc.property(scenario, ([initial, steps]) => runScenario(other, initial, steps)),
      { numRuns: 40 },
    );
  });

  it('a full render equals the reference and the stateless renderer on many blocks of ports', () => {
    // Enough ports for several blocks, with removals and insertions across block boundaries.
    const many = (n: number, skip: (i: number) => boolean, shift = 0): RoutingSnapshot => {
      const list: ServicePortEntry[] = [];
      for (let i = 0; i < n; i++) {
        if (skip(i)) continue;
        list.push(
          entry(port(`ns${i % 7}`, `svc${i}`, { clusterIPs: [`172.30.${i >> 8}.${i & 255}`] }), [
            ep(`10.1.${i & 255}.${(1 + shift) & 255}`, 8080),
          ]),
        );
      }
      return snapshot(list);
    };
    // Below the large-cluster threshold, so that every sync deletes the chains it stops using.
    const options = { ...OPTIONS, largeClusterThreshold: 100_000 };
    const resolved = resolveOptions(options);
    const renderer = new IptablesRenderer(options);
    let prev: RoutingSnapshot | undefined;
    let kernelChains: ReadonlyMap<string, readonly string[]> = new Map();
    for (const [n, skip, full] of [
      [700, () => false, true],
      [700, (i: number) => i % 3 === 0, false],
      [900, (i: number) => i > 100 && i < 600, true],
      [900, (i: number) => i % 2 === 1, false],
      [50, () => false, false],
      [1200, (i: number) => i % 5 === 0, true],
    ] as const) {
      const next = many(n, skip, n);
      const update = updateOf(prev, next, []);
      renderer.note(update);
      if (full) renderer.requestFullSync();
      const got = renderer.render(next);
      renderer.applied();
      const want = referenceRender(next, resolved, {
        full: full || prev === undefined,
        changedServices: update.changedServices,
        kernelChains,
      });
      expect(got.payload).toBe(want.payload);
      expect(got.stats).toEqual(want.stats);
      if (full)
        expect(renderIptables(next, options).payload).toBe(
          referenceRender(next, resolved, { full: true, changedServices: new Set(), kernelChains: new Map() })
            .payload,
        );
      kernelChains = want.chainsByPort;
      prev = next;
    }
  });

  it('takes a snapshot it was never told about by comparing every port', () => {
    const resolved = resolveOptions(OPTIONS);
    const renderer = new IptablesRenderer(OPTIONS);
    const models = Array.from({ length: SERVICES }, (_, i) =>
      withField(
        {
          present: true,
          ports: 2,
          endpoints: 2,
          shift: 0,
          kind: i % 4,
          externalLocal: false,
          internalLocal: false,
          affinity: false,
          sourceRanges: false,
          families: 0,
          onNode: false,
        },
        'kind',
        i,
      ),
    );
    const s1 = build(models, undefined, new Set());
    renderer.note(updateOf(undefined, s1, []));
    renderer.render(s1);
    renderer.applied();
    // An update whose `changes` leave out an added port and that is then not the one rendered.
    models[3] = withField(models[3]!, 'ports', 2);
    const s2 = build(models, s1, new Set([3]));
    renderer.note({ previous: s1, current: s2, changes: [], changedServices: new Set(['ns0/svc3']) });
    const got = renderer.render(s2);
    const want = renderWith(s2, resolved, {
      full: false,
      changedServices: new Set(['ns0/svc3']),
      kernelChains: buildKernel(s1),
    });
    expect(got.payload).toBe(want.payload);
    expect(got.payload).toContain('ns0/svc3:p2 cluster IP');
  });
});

function buildKernel(s: RoutingSnapshot): ReadonlyMap<string, readonly string[]> {
  return renderIptables(s, OPTIONS).chainsByPort;
}
