import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resolveOptions } from '../../../src/backends/iptables/options';
import { renderIptables, renderWith } from '../../../src/backends/iptables/render';
import { IptablesRenderer } from '../../../src/backends/iptables/renderer';
import type { RoutingSnapshot, ServicePortEntry } from '../../../src/core/snapshot';
import { entry, ep, port, snapshot } from './fixtures';
import { NODE, NODE_IP, POD_CIDR } from './golden';

const OPTIONS = { nodeName: NODE, nodeIPs: [NODE_IP], clusterCIDRs: [POD_CIDR] };
const SERVICES = 300; // several joined blocks of service ports

function service(i: number, shift: number): ServicePortEntry {
  const eps = [];
  for (let e = 0; e < 1 + (i % 3); e++) eps.push(ep(`10.1.${i & 255}.${(e + shift) & 255}`, 8080));
  return entry(
    port(`ns${i % 7}`, `svc${i}`, {
      clusterIPs: [`172.30.${i >> 8}.${i & 255}`],
      ...(i % 5 === 0 ? { type: 'NodePort' as const, nodePort: 30000 + i } : {}),
    }),
    i % 11 === 0 ? [] : eps,
  );
}

describe('IptablesRenderer caches', () => {
  it('produce exactly what an uncached render of the same request produces', () => {
    const resolved = resolveOptions(OPTIONS);
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: 0, max: SERVICES + 20 }), { minLength: 1, maxLength: 4 }), {
          minLength: 1,
          maxLength: 6,
        }),
        (steps) => {
          const shifts = new Map<number, number>();
          const build = (): RoutingSnapshot => {
            const list: ServicePortEntry[] = [];
            for (let i = 0; i < SERVICES + 20; i++) {
              const s = shifts.get(i) ?? 0;
              if (i >= SERVICES && s === 0) continue; // extra services appear once touched
              if (s === 5) continue; // and a service disappears on its fifth touch
              list.push(service(i, s));
            }
            return snapshot(list);
          };
          const renderer = new IptablesRenderer(OPTIONS);
          let prev = build();
          renderer.note({ previous: undefined, current: prev, changes: [], changedServices: new Set() });
          const first = renderer.render(prev);
          expect(first.payload).toBe(renderIptables(prev, OPTIONS).payload);
          renderer.applied();
          let kernel = first.chainsByPort;
          for (const touched of steps) {
            const changed = new Set<string>();
            for (const i of touched) {
              shifts.set(i, (shifts.get(i) ?? 0) + 1);
              changed.add(`ns${i % 7}/svc${i}`);
            }
            // Unchanged services keep their (immutable) entry objects, as the registry's do.
            const fresh = build();
            const ports = new Map<string, ServicePortEntry>();
            for (const [k, v] of fresh.ports) {
              const old = prev.ports.get(k);
              const svc = `${v.info.name.namespace}/${v.info.name.name}`;
              ports.set(k, old && !changed.has(svc) ? old : v);
            }
            const next: RoutingSnapshot = { ...fresh, ports };
            renderer.note({ previous: prev, current: next, changes: [], changedServices: changed });
            const got = renderer.render(next);
            const want = renderWith(next, resolved, {
              full: false,
              changedServices: changed,
              kernelChains: kernel,
            });
            expect(got.full).toBe(false);
            expect(got.payload).toBe(want.payload);
            expect(got.stats).toEqual(want.stats);
            renderer.applied();
            kernel = got.chainsByPort;
            prev = next;
          }
          // A full resync after all that still equals a from-scratch render.
          renderer.requestFullSync();
          expect(renderer.render(prev).payload).toBe(renderIptables(prev, OPTIONS).payload);
        },
      ),
      { numRuns: 15 },
    );
  });
});
