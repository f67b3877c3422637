import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isStatusError } from '../../src/core/errors';
import { SeededRng } from '../../src/core/random';
import type { RoutingSnapshot } from '../../src/core/snapshot';
import type { ServiceType } from '../../src/core/types';
import { buildSnapshot, entryEqual, Registry } from '../../src/registry';
import { FakeClock } from '../../src/testing/fake-clock';
import { pod, svc } from './helpers';

type Cmd =
  | {
      op: 'svc';
      name: number;
      type: ServiceType;
      app: number;
      nodePort: number | undefined;
      headless: boolean;
    }
  | { op: 'pod'; name: number; app: number; ready: boolean }
  | { op: 'delSvc'; name: number }
  | { op: 'delPod'; name: number };

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({
    op: fc.constant('svc' as const),
    name: fc.integer({ min: 0, max: 5 }),
    type: fc.constantFrom<ServiceType>('ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'),
    app: fc.integer({ min: 0, max: 2 }),
    nodePort: fc.option(fc.integer({ min: 30000, max: 30007 }), { nil: undefined }),
    headless: fc.boolean(),
  }),
  fc.record({
    op: fc.constant('pod' as const),
    name: fc.integer({ min: 0, max: 7 }),
    app: fc.integer({ min: 0, max: 2 }),
    ready: fc.boolean(),
  }),
  fc.record({ op: fc.constant('delSvc' as const), name: fc.integer({ min: 0, max: 5 }) }),
  fc.record({ op: fc.constant('delPod' as const), name: fc.integer({ min: 0, max: 7 }) }),
);

function sameRouting(a: RoutingSnapshot, b: RoutingSnapshot): boolean {
  if (a.ports.size !== b.ports.size) return false;
  for (const [k, e] of a.ports) {
    const o = b.ports.get(k);
    if (!o || !entryEqual(e, o)) return false;
  }
  return true;
}

async function apply(r: Registry, c: Cmd): Promise<void> {
  try {
    if (c.op === 'svc') {
      const spec =
        c.type === 'ExternalName'
          ? { type: c.type, externalName: 'x.example' }
          : {
              type: c.type,
              selector: { app: `a${c.app}` },
              ...(c.headless && c.type === 'ClusterIP' ? { clusterIP: 'None' } : {}),
              ports: [
                { port: 80, ...(c.nodePort && c.type !== 'ClusterIP' ? { nodePort: c.nodePort } : {}) },
              ],
            };
      await r.apply(svc(`s${c.name}`, spec));
    } else if (c.op === 'pod') {
      await r.apply(pod(`p${c.name}`, { app: `a${c.app}` }, { ip: `10.1.0.${c.name + 1}`, ready: c.ready }));
    } else if (c.op === 'delSvc') {
      await r.delete('Service', 'default', `s${c.name}`);
    } else {
      await r.delete('Pod', 'default', `p${c.name}`);
    }
  } catch (e) {
    // Refusals (port taken, range full, immutable fields) are part of the game; nothing else is.
    if (!isStatusError(e) || !['Invalid', 'NotFound', 'InternalError'].includes(e.reason)) throw e;
  }
}

async function checkInvariants(r: Registry): Promise<void> {
  await r.settled();
  const services = await r.list('Service');
  const ips = services.flatMap((s) => (s.spec.clusterIPs ?? []).filter((ip) => ip !== 'None'));
  expect(new Set(ips).size).toBe(ips.length);
  const ports = services.flatMap((s) => [
    ...new Set(
      [...(s.spec.ports ?? []).map((p) => p.nodePort ?? 0), s.spec.healthCheckNodePort ?? 0].filter((p) => p),
    ),
  ]);
  expect(new Set(ports).size).toBe(ports.length);
  // Reservations are exactly what live services hold: nothing leaked, nothing unguarded.
  const reserved = (await r.store.list('/registry/')).entries
    .map((e) => e.key)
    .filter((k) => k.startsWith('/registry/ipaddresses/') || k.startsWith('/registry/servicenodeports/'))
    .sort();
  const held = [
    ...ips.map((ip) => `/registry/ipaddresses/${ip}`),
    ...ports.map((p) => `/registry/servicenodeports/${p}`),
  ].sort();
  expect(reserved).toEqual(held);
  const rebuilt = buildSnapshot(services, await r.list('EndpointSlice'), [], 0);
  expect(sameRouting(r.snapshot(), rebuilt)).toBe(true);
}

describe('registry properties', () => {
  it('never duplicates, never leaks, and the snapshot always equals a rebuild', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(cmd, { maxLength: 25 }), fc.integer(), async (cmds, seed) => {
        const r = await Registry.open({
          rng: new SeededRng(seed),
          clock: new FakeClock(),
          serviceClusterIPRanges: ['10.96.0.0/29'],
          serviceNodePortRange: '30000-30007',
        });
        try {
          for (const c of cmds) {
            await apply(r, c);
          }
          await checkInvariants(r);
          for (const s of await r.list('Service'))
            await r.delete('Service', 'default', s.metadata.name ?? '');
          for (const p of await r.list('Pod')) await r.delete('Pod', 'default', p.metadata.name ?? '');
          await r.settled();
          const left = (await r.store.list('/registry/')).entries.map((e) => e.key);
          expect(left).toEqual([]);
          expect(r.snapshot().ports.size).toBe(0);
        } finally {
          await r.close();
        }
      }),
      { numRuns: 40 },
    );
  });
});
