import { describe, expect, it } from 'vitest';
import type { ServicePortInfo } from '../../src/core/snapshot';
import {
  categorizeEndpoints,
  decideTopology,
  usesClusterEndpoints,
  usesLocalEndpoints,
} from '../../src/routing/categorize';
import { cases, HERE, nodePortLocal, THERE, zoneA } from './cases';
import { ep, keys, portInfo } from './fixtures';

describe('categorizeEndpoints (kube-proxy CategorizeEndpoints)', () => {
  it.each(cases)('$name', (c) => {
    const info = portInfo(c.info);
    const got = categorizeEndpoints(info, c.endpoints.map(ep), c.node ?? { name: HERE }, c.options);
    expect(keys(got.clusterEndpoints)).toEqual(c.cluster);
    expect(keys(got.localEndpoints)).toEqual(c.local);
    const all = c.all ?? c.cluster ?? c.local ?? [];
    expect(keys(got.allReachableEndpoints)).toEqual(all);
    expect(got.hasAnyEndpoints).toBe(c.hasAny ?? all.length > 0);
  });

  it('does not mutate or alias the input', () => {
    const eps = [ep({ ip: '10.0.0.1' }), ep({ ip: '10.0.0.2' })];
    const frozen = Object.freeze([...eps]);
    const got = categorizeEndpoints(portInfo(), frozen, { name: HERE });
    expect(got.clusterEndpoints).not.toBe(frozen);
    expect(got.clusterEndpoints).toEqual(eps);
  });

  it('keeps input order in the merged list and never duplicates', () => {
    const info = portInfo(nodePortLocal);
    const eps = [
      ep({ ip: '10.0.0.9', node: HERE, zones: ['zone-b'] }),
      ep({ ip: '10.0.0.1', node: THERE, zones: ['zone-a'] }),
      ep({ ip: '10.0.0.5', node: HERE, zones: ['zone-a'] }),
    ];
    const got = categorizeEndpoints(info, eps, zoneA);
    expect(keys(got.allReachableEndpoints)).toEqual(['10.0.0.9:80', '10.0.0.1:80', '10.0.0.5:80']);
  });
});

describe('policy usage', () => {
  it.each([
    [{}, true, false],
    [{ internalPolicyLocal: true }, false, true],
    [{ internalPolicyLocal: true, nodePort: 30000 }, true, true],
    [{ externalPolicyLocal: true }, true, false],
    [{ externalPolicyLocal: true, nodePort: 30000 }, true, true],
    [{ externalPolicyLocal: true, externalIPs: ['192.0.2.1'] }, true, true],
  ] as [Partial<ServicePortInfo>, boolean, boolean][])(
    '%j → cluster %s, local %s',
    (over, cluster, local) => {
      const info = portInfo(over);
      expect(usesClusterEndpoints(info)).toBe(cluster);
      expect(usesLocalEndpoints(info)).toBe(local);
    },
  );
});

describe('decideTopology reasons', () => {
  it('names why zone hints were ignored', () => {
    expect(decideTopology([ep({ ip: '1.1.1.1', zones: ['zone-a'] })], { name: HERE })).toEqual({
      mode: '',
      zoneHintsIgnored: 'node-zone-unknown',
    });
    expect(
      decideTopology([ep({ ip: '1.1.1.1', zones: ['zone-a'] })], { name: HERE, zone: 'zone-q' }),
    ).toEqual({
      mode: '',
      zoneHintsIgnored: 'no-zone-hint-for-this-zone',
    });
    expect(decideTopology([ep({ ip: '1.1.1.1', zones: ['zone-a'] }), ep({ ip: '1.1.1.2' })], zoneA)).toEqual({
      mode: '',
      zoneHintsIgnored: 'zone-hints-missing-on-some-endpoint',
    });
    expect(decideTopology([ep({ ip: '1.1.1.1' })], zoneA)).toEqual({ mode: '' });
  });

  it('names why node hints were ignored while zone hints applied', () => {
    const d = decideTopology([ep({ ip: '1.1.1.1', zones: ['zone-a'], nodes: [THERE] })], zoneA);
    expect(d).toEqual({ mode: 'PreferSameZone', nodeHintsIgnored: 'no-node-hint-for-this-node' });
  });

  it('only ready endpoints count', () => {
    expect(decideTopology([ep({ ip: '1.1.1.1', ready: false, zones: ['zone-a'] })], zoneA)).toEqual({
      mode: '',
    });
  });
});
