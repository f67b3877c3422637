import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../src/core/random';
import type { EndpointSliceEndpoint, Node } from '../../src/core/types';
import { Registry } from '../../src/registry';
import {
  allocateZoneHints,
  givingAndReceivingZones,
  TOPOLOGY_HINTS_MESSAGES as MSG,
  redistributeHints,
  removeZoneHints,
  serviceOverloaded,
  storedHintsByZone,
  TopologyCache,
  topologyHintsEnabled,
  zoneAllocations,
  zoneCPURatios,
} from '../../src/registry/topology-cache';
import { milliValue } from '../../src/registry/topology-quantity';
import { FakeClock } from '../../src/testing/fake-clock';
import { pod, svc } from './helpers';

const ZONE = 'topology.kubernetes.io/zone';

function node(
  name: string,
  zone: string | undefined,
  cpu: string | null = '1000m',
  opts: { ready?: boolean | 'none'; labels?: Record<string, string> } = {},
): Node {
  const labels: Record<string, string> = { ...(opts.labels ?? {}) };
  if (zone !== undefined) labels[ZONE] = zone;
  const status: Record<string, unknown> = {};
  if (opts.ready !== 'none')
    status.conditions = [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True' }];
  if (cpu !== null) status.allocatable = { cpu, memory: '8Gi' };
  return { apiVersion: 'v1', kind: 'Node', metadata: { name, labels }, status } as Node;
}

/** A ready endpoint in `zone` (undefined: no zone), optionally already hinted. */
function ep(
  ip: string,
  zone: string | undefined,
  opts: { ready?: boolean | 'unset'; hint?: string | string[] } = {},
): EndpointSliceEndpoint {
  const e: EndpointSliceEndpoint = { addresses: [ip] };
  if (opts.ready !== 'unset') e.conditions = { ready: opts.ready ?? true };
  if (zone !== undefined) e.zone = zone;
  if (opts.hint !== undefined)
    e.hints = { forZones: (Array.isArray(opts.hint) ? opts.hint : [opts.hint]).map((name) => ({ name })) };
  return e;
}

const hintOf = (e: EndpointSliceEndpoint | undefined) => e?.hints?.forZones?.map((z) => z.name).join(',');
const ratios = (r: Record<string, number>) => new Map(Object.entries(r));

describe('milliValue (allocatable CPU)', () => {
  it.each([
    ['1000m', 1000],
    ['1', 1000],
    ['1.5', 1500],
    ['3800m', 3800],
    ['0.0001', 1],
    ['100u', 1],
    ['2k', 2_000_000],
    ['1Ki', 1_024_000],
    ['5e2', 500_000],
    ['1E-3', 1],
    ['.5', 500],
    ['+2', 2000],
    [4, 4000],
    ['0', 0],
    ['', 0],
    ['four', 0],
    ['1 cores', 0],
    [undefined, 0],
  ] as const)('%s -> %d', (q, want) => {
    expect(milliValue(q)).toBe(want);
  });
});

describe('topologyHintsEnabled', () => {
  it.each([
    [{}, false],
    [{ 'service.kubernetes.io/topology-mode': 'Auto' }, true],
    [{ 'service.kubernetes.io/topology-mode': 'auto' }, true],
    [{ 'service.kubernetes.io/topology-mode': 'AUTO' }, false],
    [{ 'service.kubernetes.io/topology-mode': 'PreferZone' }, false],
    [{ 'service.kubernetes.io/topology-aware-hints': 'auto' }, true],
    [{ 'service.kubernetes.io/topology-aware-hints': 'Auto' }, true],
    // The deprecated key wins whenever it is present.
    [
      {
        'service.kubernetes.io/topology-aware-hints': 'disabled',
        'service.kubernetes.io/topology-mode': 'Auto',
      },
      false,
    ],
    [
      {
        'service.kubernetes.io/topology-aware-hints': 'auto',
        'service.kubernetes.io/topology-mode': 'Disabled',
      },
      true,
    ],
    [
      { 'service.kubernetes.io/topology-aware-hints': '', 'service.kubernetes.io/topology-mode': 'Auto' },
      false,
    ],
  ])('%j -> %s', (annotations, want) => {
    expect(topologyHintsEnabled(annotations)).toBe(want);
  });
});

describe('zoneCPURatios (the cache reading nodes)', () => {
  it.each<[string, Node[], Record<string, number> | undefined]>([
    ['no nodes', [], undefined],
    ['a single node', [node('a1', 'zone-a')], undefined],
    ['a single zone', [node('a1', 'zone-a'), node('a2', 'zone-a')], undefined],
    ['two zones', [node('a1', 'zone-a'), node('b1', 'zone-b')], { 'zone-a': 0.5, 'zone-b': 0.5 }],
    [
      'the only node of a zone is not ready',
      [node('a1', 'zone-a', '1000m', { ready: false }), node('b1', 'zone-b')],
      undefined,
    ],
    [
      'the only node of a zone has no Ready condition',
      [node('a1', 'zone-a', '1000m', { ready: 'none' }), node('b1', 'zone-b')],
      undefined,
    ],
    [
      'the only node of a zone is a control-plane node',
      [
        node('a1', 'zone-a'),
        node('b1', 'zone-b', '1000m', { labels: { 'node-role.kubernetes.io/control-plane': '' } }),
      ],
      undefined,
    ],
    [
      'a master-labelled node is left out',
      [
        node('a1', 'zone-a'),
        node('b1', 'zone-b'),
        node('b2', 'zone-b', '8', { labels: { 'node-role.kubernetes.io/master': 'true' } }),
      ],
      { 'zone-a': 0.5, 'zone-b': 0.5 },
    ],
    [
      'an unready node is left out of its zone',
      [node('a1', 'zone-a'), node('b1', 'zone-b'), node('b2', 'zone-b', '1000m', { ready: false })],
      { 'zone-a': 0.5, 'zone-b': 0.5 },
    ],
    [
      'three zones of different sizes',
      [
        node('a1', 'zone-a'),
        node('a2', 'zone-a'),
        node('a3', 'zone-a'),
        node('a4', 'zone-a', '2000m'),
        node('b1', 'zone-b', '3000m'),
        node('b2', 'zone-b', '1500m'),
        node('c1', 'zone-c', '500m'),
      ],
      { 'zone-a': 0.5, 'zone-b': 0.45, 'zone-c': 0.05 },
    ],
    [
      'a ready node without a zone spoils everything',
      [node('a1', 'zone-a'), node('b1', 'zone-b'), node('x', undefined)],
      undefined,
    ],
    [
      'a ready node with an empty zone',
      [node('a1', 'zone-a'), node('b1', 'zone-b'), node('x', '')],
      undefined,
    ],
    [
      'a ready node without allocatable CPU',
      [node('a1', 'zone-a'), node('b1', 'zone-b'), node('x', 'zone-b', null)],
      undefined,
    ],
    [
      'a ready node with zero CPU',
      [node('a1', 'zone-a'), node('b1', 'zone-b'), node('x', 'zone-b', '0')],
      undefined,
    ],
    [
      'an unready node without zone or CPU does not matter',
      [node('a1', 'zone-a'), node('b1', 'zone-b'), node('x', undefined, null, { ready: false })],
      { 'zone-a': 0.5, 'zone-b': 0.5 },
    ],
  ])('%s', (_name, nodes, want) => {
    const got = zoneCPURatios(nodes);
    expect(got === undefined ? undefined : Object.fromEntries(got)).toEqual(want);
  });
});

describe('zoneAllocations', () => {
  it('refuses without ratios, with fewer endpoints than zones, and when minimums overflow', () => {
    expect(zoneAllocations(undefined, 10)).toEqual({ ok: false, message: MSG.insufficientNodeInfo });
    expect(zoneAllocations(ratios({ a: 1 }), 10)).toEqual({
      ok: false,
      message: MSG.nodesReadyInOneZoneOnly,
    });
    expect(zoneAllocations(ratios({ a: 0.3, b: 0.4, c: 0.3 }), 2)).toEqual({
      ok: false,
      message: 'Insufficient number of endpoints (2 endpoints, 3 zones)',
    });
    // 4 endpoints over 3 equal zones: each needs ceil(1.33 / 1.2) = 2, 6 > 4.
    expect(zoneAllocations(ratios({ a: 1 / 3, b: 1 / 3, c: 1 / 3 }), 4)).toEqual({
      ok: false,
      message:
        'Unable to allocate minimum required endpoints to each zone without exceeding overload threshold (4 endpoints, 3 zones)',
    });
  });

  it('gives each zone its proportional share with a 20% overload margin', () => {
    const r = zoneAllocations(ratios({ a: 0.5, b: 0.45, c: 0.05 }), 20);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    // desired 10, 9, 1; minimum ceil(desired / 1.2) = 9, 8, 1; slack 20 - 18 = 2.
    expect(Object.fromEntries(r.allocations)).toEqual({
      a: { minimum: 9, maximum: 11, desired: 10 },
      b: { minimum: 8, maximum: 10, desired: 9 },
      c: { minimum: 1, maximum: 3, desired: 1 },
    });
  });

  it('raises a desired share below its minimum to the minimum', () => {
    const r = zoneAllocations(ratios({ a: 0.99, b: 0.01 }), 10);
    expect(r.ok && r.allocations.get('b')).toEqual({ minimum: 1, maximum: 1, desired: 1 });
  });
});

describe('givingAndReceivingZones', () => {
  const desired = (d: Record<string, number>) =>
    new Map(Object.entries(d).map(([z, v]) => [z, { desired: v }]));
  it.each<
    [string, Record<string, number>, Record<string, number>, Record<string, number>, Record<string, number>]
  >([
    ['nothing to balance', {}, {}, {}, {}],
    ['already close enough', { a: 1.2, b: 1.1, c: 1.0 }, { a: 1, b: 1, c: 1 }, {}, {}],
    [
      'a zone keeps its endpoint when giving it would barely help',
      { a: 5.1, b: 5.1, c: 5.8 },
      { a: 16 },
      { a: 10 },
      { b: 5, c: 5 },
    ],
    [
      'the neediest zone gets the last endpoint',
      { a: 5.0, b: 5.6, c: 5.4 },
      { a: 16 },
      { a: 11 },
      { b: 6, c: 5 },
    ],
    [
      'the zone with the largest surplus gives first',
      { a: 5.0, b: 5.6, c: 5.4 },
      { b: 8, c: 8 },
      { b: 2, c: 3 },
      { a: 5 },
    ],
    ['more allocated than desired everywhere', { a: 5, b: 5, c: 5 }, { a: 6, b: 6, c: 6 }, {}, {}],
    ['negative desired counts', { a: -5, b: -5, c: -5 }, { a: 6, b: 6, c: 6 }, {}, {}],
    ['negative allocated counts', { a: 5, b: 5, c: 5 }, { a: -4, b: -3, c: -2 }, {}, {}],
    ['one negative zone', { a: 5, b: 5, c: 5 }, { a: -40, b: 20, c: 20 }, { b: 15, c: 15 }, { a: 30 }],
  ])('%s', (_name, d, allocated, giving, receiving) => {
    const got = givingAndReceivingZones(desired(d), new Map(Object.entries(allocated)));
    expect(Object.fromEntries(got.giving)).toEqual(giving);
    expect(Object.fromEntries(got.receiving)).toEqual(receiving);
  });
});

describe('redistributeHints', () => {
  it('moves nothing without giving or receiving zones', () => {
    expect(Object.fromEntries(redistributeHints([], new Map(), new Map()))).toEqual({});
  });

  it('re-hints one endpoint', () => {
    const slices = [[ep('10.0.0.1', 'a', { hint: 'a' })]];
    const changes = redistributeHints(slices, new Map([['a', 1]]), new Map([['b', 1]]));
    expect(Object.fromEntries(changes)).toEqual({ a: -1, b: 1 });
    expect(hintOf(slices[0]?.[0])).toBe('b');
  });

  it('spreads endpoints of one zone over two others, skipping unready ones', () => {
    const slices = [
      [
        ep('10.0.0.1', 'a', { hint: 'a', ready: false }),
        ep('10.0.0.2', 'a', { hint: 'a' }),
        ep('10.0.0.3', 'a', { hint: 'a' }),
        ep('10.0.0.4', 'a', { hint: 'a' }),
      ],
    ];
    const changes = redistributeHints(
      slices,
      new Map([['a', 2]]),
      new Map([
        ['b', 1],
        ['c', 1],
      ]),
    );
    expect(Object.fromEntries(changes)).toEqual({ a: -2, b: 1, c: 1 });
    expect(slices[0]?.map(hintOf)).toEqual(['a', 'b', 'c', 'a']);
  });
});

describe('storedHintsByZone', () => {
  const max = (m: Record<string, number>) => new Map(Object.entries(m).map(([z, v]) => [z, { maximum: v }]));
  it.each<
    [
      string,
      EndpointSliceEndpoint[],
      Record<string, number>,
      Record<string, number>,
      Record<string, number> | undefined,
    ]
  >([
    ['empty slice', [], {}, {}, {}],
    ['one hint', [ep('10.0.0.1', 'a', { hint: 'a' })], { a: 1 }, { a: 3 }, { a: 1 }],
    [
      'unready and unknown-readiness endpoints are not counted',
      [
        ep('10.0.0.1', 'a', { hint: 'a' }),
        ep('10.0.0.2', 'a', { hint: 'a', ready: false }),
        ep('10.0.0.3', 'a', { hint: 'a', ready: 'unset' }),
      ],
      { a: 1 },
      { a: 3 },
      { a: 1 },
    ],
    [
      'several zones',
      [
        ep('10.0.0.1', 'a', { hint: 'a' }),
        ep('10.0.0.2', 'a', { hint: 'b' }),
        ep('10.0.0.3', 'b', { hint: 'b' }),
      ],
      { a: 1, b: 1, c: 1 },
      { a: 3, b: 3, c: 3 },
      { a: 1, b: 2 },
    ],
    [
      'a hint for a zone without allocation',
      [ep('10.0.0.1', 'a', { hint: 'gone' })],
      {},
      { a: 3 },
      undefined,
    ],
    ['a ready endpoint without hints', [ep('10.0.0.1', 'a')], {}, { a: 3 }, undefined],
    [
      'a ready endpoint with an empty hint list',
      [ep('10.0.0.1', 'a', { hint: [] })],
      {},
      { a: 3 },
      undefined,
    ],
    [
      'more than the maximum with what is already allocated',
      [ep('10.0.0.1', 'a', { hint: 'a' }), ep('10.0.0.2', 'a', { hint: 'a' })],
      { a: 1 },
      { a: 2 },
      undefined,
    ],
  ])('%s', (_name, endpoints, allocated, maxima, want) => {
    const got = storedHintsByZone(endpoints, new Map(Object.entries(allocated)), max(maxima));
    expect(got === undefined ? undefined : Object.fromEntries(got)).toEqual(want);
  });
});

describe('allocateZoneHints (AddHints)', () => {
  it('removes hints without node information, even with nothing to hint', () => {
    const none = allocateZoneHints(undefined, { written: [], unchanged: [] });
    expect(none.hintsByZone).toBeUndefined();
    expect(none.disabledMessage).toBe(MSG.insufficientNodeInfo);
    const one = allocateZoneHints(undefined, { written: [[ep('10.1.2.3', 'zone-a')]], unchanged: [] });
    expect(one.written).toEqual([[ep('10.1.2.3', 'zone-a')]]);
  });

  it('removes hints with fewer ready endpoints than zones', () => {
    const out = allocateZoneHints(ratios({ 'zone-a': 0.3, 'zone-b': 0.4, 'zone-c': 0.3 }), {
      written: [[ep('10.1.2.3', 'zone-a', { hint: 'zone-a' }), ep('10.1.2.4', 'zone-b')]],
      unchanged: [],
    });
    expect(out.disabledMessage).toBe('Insufficient number of endpoints (2 endpoints, 3 zones)');
    expect(out.written[0]?.map(hintOf)).toEqual([undefined, undefined]);
  });

  it('hints each endpoint for its own zone when that fits', () => {
    const out = allocateZoneHints(ratios({ 'zone-a': 0.45, 'zone-b': 0.55 }), {
      written: [[ep('10.1.2.3', 'zone-a'), ep('10.1.2.4', 'zone-b')]],
      unchanged: [],
    });
    expect(out.written[0]?.map(hintOf)).toEqual(['zone-a', 'zone-b']);
    expect(Object.fromEntries(out.hintsByZone ?? [])).toEqual({ 'zone-a': 1, 'zone-b': 1 });
  });

  it('leaves unready and unknown-readiness endpoints alone and uncounted', () => {
    const unready = ep('10.1.2.5', 'zone-b', { ready: false, hint: 'zone-a' });
    const unknown = ep('10.1.2.6', 'zone-b', { ready: 'unset' });
    const out = allocateZoneHints(ratios({ 'zone-a': 0.45, 'zone-b': 0.55 }), {
      written: [[ep('10.1.2.3', 'zone-a'), ep('10.1.2.4', 'zone-b'), unready, unknown]],
      unchanged: [],
    });
    expect(out.written[0]?.map(hintOf)).toEqual(['zone-a', 'zone-b', 'zone-a', undefined]);
    expect(Object.fromEntries(out.hintsByZone ?? [])).toEqual({ 'zone-a': 1, 'zone-b': 1 });
  });

  it('moves a surplus endpoint to the zone short of one (three zones, creates then updates)', () => {
    const out = allocateZoneHints(ratios({ 'zone-a': 0.35, 'zone-b': 0.35, 'zone-c': 0.3 }), {
      written: [
        [ep('10.1.2.3', 'zone-a'), ep('10.1.2.4', 'zone-b')],
        [ep('10.1.3.3', 'zone-c'), ep('10.1.3.4', 'zone-c'), ep('10.1.3.5', 'zone-a')],
        [ep('10.2.2.3', 'zone-a'), ep('10.2.2.4', 'zone-a')],
        [ep('10.2.3.3', 'zone-b'), ep('10.2.3.4', 'zone-c'), ep('10.2.3.5', 'zone-a')],
      ],
      unchanged: [],
    });
    expect(out.written.map((s) => s.map(hintOf))).toEqual([
      ['zone-b', 'zone-b'],
      ['zone-c', 'zone-c', 'zone-a'],
      ['zone-a', 'zone-a'],
      ['zone-b', 'zone-c', 'zone-a'],
    ]);
    expect(Object.fromEntries(out.hintsByZone ?? [])).toEqual({ 'zone-a': 4, 'zone-b': 3, 'zone-c': 3 });
  });

  it('removes every hint, stored ones included, when a ready endpoint has no zone', () => {
    const stored = [
      ep('10.0.0.9', 'zone-a', { hint: 'zone-a' }),
      ep('10.0.0.8', 'zone-b', { hint: 'zone-b' }),
    ];
    const out = allocateZoneHints(ratios({ 'zone-a': 0.5, 'zone-b': 0.5 }), {
      written: [[ep('10.0.0.1', 'zone-a'), ep('10.0.0.2', undefined)]],
      unchanged: [stored],
    });
    expect(out.disabledMessage).toBe(MSG.noZoneSpecified);
    expect(out.written[0]?.map(hintOf)).toEqual([undefined, undefined]);
    expect(out.unchanged[0]?.map(hintOf)).toEqual([undefined, undefined]);
    expect(stored[0]?.hints).toBeDefined(); // inputs are not modified
  });

  it('an unready endpoint without a zone does not matter', () => {
    const out = allocateZoneHints(ratios({ 'zone-a': 0.5, 'zone-b': 0.5 }), {
      written: [
        [ep('10.0.0.1', 'zone-a'), ep('10.0.0.2', 'zone-b'), ep('10.0.0.3', undefined, { ready: false })],
      ],
      unchanged: [],
    });
    expect(out.written[0]?.map(hintOf)).toEqual(['zone-a', 'zone-b', undefined]);
  });

  it('keeps stored slices whose hints still fit and rewrites the others', () => {
    const good = [ep('10.0.0.1', 'zone-a', { hint: 'zone-a' }), ep('10.0.0.2', 'zone-b', { hint: 'zone-b' })];
    const unhinted = [ep('10.0.0.3', 'zone-a'), ep('10.0.0.4', 'zone-b')];
    const out = allocateZoneHints(ratios({ 'zone-a': 0.5, 'zone-b': 0.5 }), {
      written: [],
      unchanged: [good, unhinted],
    });
    expect(out.unchanged[0]).toBeUndefined();
    expect(out.unchanged[1]?.map(hintOf)).toEqual(['zone-a', 'zone-b']);
    expect(Object.fromEntries(out.hintsByZone ?? [])).toEqual({ 'zone-a': 2, 'zone-b': 2 });
  });

  it('endpoints in a zone with no ready node keep their own-zone hint', () => {
    // zone-c has no allocation: nothing asks its endpoints to move, and nothing removes them.
    const eps = ['zone-a', 'zone-a', 'zone-a', 'zone-b', 'zone-b', 'zone-b', 'zone-c'].map((z, i) =>
      ep(`10.0.0.${i}`, z),
    );
    const out = allocateZoneHints(ratios({ 'zone-a': 0.5, 'zone-b': 0.5 }), {
      written: [eps],
      unchanged: [],
    });
    expect(out.written[0]?.map(hintOf)).toEqual([
      'zone-a',
      'zone-a',
      'zone-a',
      'zone-b',
      'zone-b',
      'zone-b',
      'zone-c',
    ]);
  });

  it('removeZoneHints rewrites only stored slices that carry hints', () => {
    const out = removeZoneHints({
      written: [[ep('10.0.0.1', 'a', { hint: 'a' })]],
      unchanged: [[ep('10.0.0.2', 'a')], [ep('10.0.0.3', 'a', { hint: 'b', ready: false })]],
    });
    expect(out.written[0]?.[0]?.hints).toBeUndefined();
    expect(out.unchanged[0]).toBeUndefined();
    expect(out.unchanged[1]?.[0]).toEqual(ep('10.0.0.3', 'a', { ready: false }));
  });
});

describe('TopologyCache', () => {
  const two = [node('a1', 'zone-a'), node('b1', 'zone-b')];
  const slices = { written: [[ep('10.0.0.1', 'zone-a'), ep('10.0.0.2', 'zone-b')]], unchanged: [] };

  it('reports hints turned on once, and why they went', () => {
    const cache = new TopologyCache();
    cache.setNodes(two);
    expect(cache.addHints('ns/svc', 'IPv4', slices).events).toEqual([
      {
        type: 'Normal',
        reason: 'TopologyAwareHintsEnabled',
        message: 'Topology Aware Hints has been enabled, addressType: IPv4',
      },
    ]);
    expect(cache.addHints('ns/svc', 'IPv4', slices).events).toEqual([]);
    expect(cache.hasPopulatedHints('ns/svc')).toBe(true);
    cache.setNodes([node('a1', 'zone-a')]);
    expect(cache.addHints('ns/svc', 'IPv6', slices).events).toEqual([
      {
        type: 'Warning',
        reason: 'TopologyAwareHintsDisabled',
        message: `${MSG.insufficientNodeInfo}, addressType: IPv6`,
      },
    ]);
    expect(cache.hasPopulatedHints('ns/svc')).toBe(false);
  });

  it('finds services a node change overloads', () => {
    const cache = new TopologyCache();
    cache.setNodes(two);
    cache.addHints('ns/svc', 'IPv4', slices);
    expect(cache.overloadedServices()).toEqual([]);
    cache.setNodes([...two, node('b2', 'zone-b', '2000m')]); // zone-b now 75%: 1 of 2 is too few
    expect(cache.overloadedServices()).toEqual(['ns/svc']);
    cache.setNodes([node('a1', 'zone-a')]);
    expect(cache.overloadedServices()).toEqual(['ns/svc']);
    cache.removeHints('ns/svc', 'IPv4');
    expect(cache.overloadedServices()).toEqual([]);
  });

  it('serviceOverloaded: a zone missing from the hints, or below its minimum', () => {
    expect(serviceOverloaded(new Map(), undefined)).toBe(false);
    expect(serviceOverloaded(new Map([['a', 1]]), undefined)).toBe(true);
    expect(serviceOverloaded(new Map([['a', 3]]), ratios({ a: 0.5, b: 0.5 }))).toBe(true);
    expect(
      serviceOverloaded(
        new Map([
          ['a', 5],
          ['b', 5],
        ]),
        ratios({ a: 0.55, b: 0.45 }),
      ),
    ).toBe(false);
    expect(
      serviceOverloaded(
        new Map([
          ['a', 2],
          ['b', 8],
        ]),
        ratios({ a: 0.5, b: 0.5 }),
      ),
    ).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// The controller inside the registry

const AUTO = { 'service.kubernetes.io/topology-mode': 'Auto' };

async function cluster(nodes: Node[]) {
  const r = await Registry.open({ rng: new SeededRng(9), clock: new FakeClock() });
  for (const n of nodes) await r.create(n);
  return r;
}

/** Ten 100m nodes in each of zone-a, zone-b, zone-c (`node-<zone>-<i>`). */
function threeZones(): Node[] {
  const out: Node[] = [];
  for (const z of ['zone-a', 'zone-b', 'zone-c'])
    for (let i = 0; i < 10; i++) out.push(node(`node-${z}-${i}`, z, '100m'));
  return out;
}

async function addPods(r: Registry, perZone: Record<string, number>) {
  let ip = 1;
  for (const [zone, n] of Object.entries(perZone))
    for (let i = 0; i < n; i++)
      await r.create(
        pod(`web-${zone}-${i}`, { app: 'web' }, { ip: `10.1.0.${ip++}`, node: `node-${zone}-${i}` }),
      );
}

async function hints(r: Registry) {
  await r.settled();
  const slices = await r.list('EndpointSlice', { labelSelector: 'kubernetes.io/service-name=web' });
  const byZone: Record<string, number> = {};
  let crossZone = 0;
  let unhinted = 0;
  for (const s of slices)
    for (const e of s.endpoints) {
      const h = hintOf(e);
      if (h === undefined) {
        unhinted++;
        continue;
      }
      byZone[h] = (byZone[h] ?? 0) + 1;
      if (h !== e.zone) crossZone++;
    }
  return { byZone, crossZone, unhinted, slices };
}

function webService(annotations: Record<string, string>, trafficDistribution?: string) {
  return svc(
    'web',
    {
      selector: { app: 'web' },
      ports: [{ port: 80 }],
      ...(trafficDistribution ? { trafficDistribution } : {}),
    },
    { annotations },
  );
}

describe('endpoints controller: topology-mode Auto', () => {
  it('spreads endpoints of a single zone over all zones', async () => {
    const r = await cluster(threeZones());
    await r.create(webService({ 'service.kubernetes.io/topology-aware-hints': 'auto' }));
    await addPods(r, { 'zone-c': 3 });
    const h = await hints(r);
    expect(h.byZone).toEqual({ 'zone-a': 1, 'zone-b': 1, 'zone-c': 1 });
    expect(h.crossZone).toBe(2);
    await r.close();
  });

  it('writes no hints when the minimum per zone cannot be met', async () => {
    const r = await cluster(threeZones());
    await r.create(webService(AUTO));
    await addPods(r, { 'zone-a': 2, 'zone-c': 2 });
    const h = await hints(r);
    expect(h.byZone).toEqual({});
    expect(h.unhinted).toBe(4);
    await r.close();
  });

  it('balances nine endpoints 3/3/3 with one cross-zone hint', async () => {
    const r = await cluster(threeZones());
    await r.create(webService(AUTO));
    await addPods(r, { 'zone-a': 4, 'zone-b': 3, 'zone-c': 2 });
    const h = await hints(r);
    expect(h.byZone).toEqual({ 'zone-a': 3, 'zone-b': 3, 'zone-c': 3 });
    expect(h.crossZone).toBe(1);
    await r.close();
  });

  it('writes no hints for other annotation values', async () => {
    const r = await cluster(threeZones());
    await r.create(webService({ 'service.kubernetes.io/topology-aware-hints': 'disabled' }));
    await addPods(r, { 'zone-a': 4, 'zone-b': 3, 'zone-c': 2 });
    expect((await hints(r)).unhinted).toBe(9);
    await r.close();
  });

  it('takes precedence over trafficDistribution', async () => {
    const r = await cluster(['zone-a', 'zone-b', 'zone-c'].map((z) => node(`node-${z}-0`, z, '100m')));
    await r.create(webService(AUTO, 'PreferClose'));
    let ip = 1;
    for (const [zone, n] of [
      ['zone-a', 1],
      ['zone-b', 3],
      ['zone-c', 2],
    ] as const)
      for (let i = 0; i < n; i++)
        await r.create(
          pod(`web-${zone}-${i}`, { app: 'web' }, { ip: `10.1.0.${ip++}`, node: `node-${zone}-0` }),
        );
    const h = await hints(r);
    expect(h.byZone).toEqual({ 'zone-a': 2, 'zone-b': 2, 'zone-c': 2 });
    expect(h.crossZone).toBe(1);
    await r.close();
  });

  it('switches to trafficDistribution hints when the annotation goes', async () => {
    const r = await cluster(threeZones());
    await r.create(webService(AUTO, 'PreferClose'));
    await addPods(r, { 'zone-a': 4, 'zone-b': 3, 'zone-c': 2 });
    expect((await hints(r)).crossZone).toBe(1);
    const s = await r.get('Service', 'default', 'web');
    await r.update({
      ...structuredClone(s),
      metadata: { ...structuredClone(s?.metadata), annotations: {} },
    } as never);
    const h = await hints(r);
    expect(h.byZone).toEqual({ 'zone-a': 4, 'zone-b': 3, 'zone-c': 2 });
    expect(h.crossZone).toBe(0);
    await r.close();
  });

  it('does not rewrite slices whose hints still fit', async () => {
    const r = await cluster(threeZones());
    await r.create(webService(AUTO));
    await addPods(r, { 'zone-a': 4, 'zone-b': 3, 'zone-c': 2 });
    const before = (await hints(r)).slices.map((s) => s.metadata.resourceVersion);
    // A label change on a selected pod makes the controller look again; nothing should move.
    const p = await r.get('Pod', 'default', 'web-zone-a-0');
    const copy = structuredClone(p) as NonNullable<typeof p>;
    copy.metadata.labels = { ...copy.metadata.labels, tier: 'front' };
    await r.update(copy);
    const after = (await hints(r)).slices.map((s) => s.metadata.resourceVersion);
    expect(after).toEqual(before);
    await r.close();
  });

  it('removes hints when a node change leaves only one zone, and restores them on the next sync', async () => {
    const r = await cluster(threeZones());
    await r.create(webService(AUTO));
    await addPods(r, { 'zone-a': 4, 'zone-b': 3, 'zone-c': 2 });
    expect((await hints(r)).unhinted).toBe(0);
    for (const z of ['zone-b', 'zone-c'])
      for (let i = 0; i < 10; i++) await r.update(node(`node-${z}-${i}`, z, '100m', { ready: false }));
    expect((await hints(r)).unhinted).toBe(9);
    for (const z of ['zone-b', 'zone-c'])
      for (let i = 0; i < 10; i++) await r.update(node(`node-${z}-${i}`, z, '100m'));
    // Upstream requeues only services that hold hints; this one gets them back on its next sync.
    await r.create(pod('web-zone-b-9', { app: 'web' }, { ip: '10.1.0.99', node: 'node-zone-b-9' }));
    const h = await hints(r);
    expect(h.unhinted).toBe(0);
    // 4/4/2 over three equal zones: one endpoint moves to zone-c (from zone-a: ties go by name).
    expect(h.byZone).toEqual({ 'zone-a': 3, 'zone-b': 4, 'zone-c': 3 });
    await r.close();
  });

  it('removes hints when a ready node has no allocatable CPU', async () => {
    const r = await cluster([...threeZones(), node('extra', 'zone-a', null)]);
    await r.create(webService(AUTO));
    await addPods(r, { 'zone-a': 4, 'zone-b': 3, 'zone-c': 2 });
    expect((await hints(r)).unhinted).toBe(9);
    await r.close();
  });

  it('removes hints when a ready endpoint has no zone', async () => {
    const r = await cluster(threeZones());
    await r.create(webService(AUTO));
    await addPods(r, { 'zone-a': 4, 'zone-b': 3, 'zone-c': 2 });
    expect((await hints(r)).unhinted).toBe(0);
    // A control-plane node is left out of the capacity count, so its missing zone does not
    // spoil the ratios; but the endpoint on it has no zone.
    await r.create(node('cp', undefined, '4', { labels: { 'node-role.kubernetes.io/control-plane': '' } }));
    await r.create(pod('web-cp', { app: 'web' }, { ip: '10.1.0.50', node: 'cp' }));
    expect((await hints(r)).unhinted).toBe(10);
    await r.close();
  });
});
