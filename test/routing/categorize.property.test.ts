import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Endpoint } from '../../src/core/snapshot';
import {
  categorizeEndpoints,
  isLocalEndpoint,
  usesClusterEndpoints,
  usesLocalEndpoints,
} from '../../src/routing/categorize';
import { ep, portInfo } from './fixtures';

const NODES = ['n1', 'n2', 'n3'];
const ZONES = ['za', 'zb'];

const endpointArb = fc
  .record({
    ready: fc.boolean(),
    serving: fc.boolean(),
    terminating: fc.boolean(),
    node: fc.option(fc.constantFrom(...NODES), { nil: undefined }),
    zones: fc.option(fc.subarray(ZONES), { nil: undefined }),
    nodes: fc.option(fc.subarray(NODES), { nil: undefined }),
  })
  // The API ties serving to ready for endpoints that are not terminating.
  .map((r) => ({ ...r, serving: r.ready || (r.serving && r.terminating) }));

const scenarioArb = fc.record({
  eps: fc.array(endpointArb, { maxLength: 7 }),
  internalPolicyLocal: fc.boolean(),
  externalPolicyLocal: fc.boolean(),
  nodePort: fc.constantFrom(0, 30080),
  nodeName: fc.constantFrom(...NODES),
  zone: fc.option(fc.constantFrom(...ZONES, 'zc'), { nil: undefined }),
  gate: fc.boolean(),
});

const usable = (e: Endpoint) => e.ready || (e.serving && e.terminating);

describe('categorizeEndpoints invariants', () => {
  it('holds kube-proxy invariants for arbitrary endpoint sets', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const endpoints = s.eps.map((e, i) => ep({ ip: `10.0.0.${i + 1}`, ...e }));
        const info = portInfo({
          internalPolicyLocal: s.internalPolicyLocal,
          externalPolicyLocal: s.externalPolicyLocal,
          nodePort: s.nodePort,
        });
        const node = { name: s.nodeName, ...(s.zone === undefined ? {} : { zone: s.zone }) };
        const r = categorizeEndpoints(info, endpoints, node, {
          featureGates: { PreferSameTrafficDistribution: s.gate },
        });

        expect(r.clusterEndpoints === undefined).toBe(!usesClusterEndpoints(info));
        expect(r.localEndpoints === undefined).toBe(!usesLocalEndpoints(info));
        expect(r.hasAnyEndpoints).toBe(endpoints.some(usable));

        const anyReady = endpoints.some((e) => e.ready);
        if (r.clusterEndpoints) {
          for (const e of r.clusterEndpoints)
            expect(anyReady ? e.ready : e.serving && e.terminating).toBe(true);
          // Non-empty whenever anything is usable: topology never empties the list.
          expect(r.clusterEndpoints.length > 0).toBe(endpoints.some(usable));
          // Without hints on every ready endpoint there is no filtering.
          const ready = endpoints.filter((e) => e.ready);
          const allZone = ready.every((e) => (e.zoneHints?.size ?? 0) > 0);
          const allNode = ready.every((e) => (e.nodeHints?.size ?? 0) > 0);
          if (!allZone && !(s.gate && allNode))
            expect(r.clusterEndpoints).toEqual(anyReady ? ready : r.clusterEndpoints);
        }
        if (r.localEndpoints) {
          const mine = endpoints.filter((e) => isLocalEndpoint(e, node));
          const mineReady = mine.some((e) => e.ready);
          for (const e of r.localEndpoints) {
            expect(isLocalEndpoint(e, node)).toBe(true);
            expect(mineReady ? e.ready : e.serving && e.terminating).toBe(true);
          }
          expect(r.localEndpoints.length > 0).toBe(mine.some(usable));
        }
        const union = new Set([...(r.clusterEndpoints ?? []), ...(r.localEndpoints ?? [])].map((e) => e.key));
        expect(new Set(r.allReachableEndpoints.map((e) => e.key))).toEqual(union);
        expect(r.allReachableEndpoints.length).toBe(union.size);
      }),
      { numRuns: 500, seed: 42 },
    );
  });
});
