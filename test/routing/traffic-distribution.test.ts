import { describe, expect, it } from 'vitest';
import { categorizeEndpoints } from '../../src/routing/categorize';
import {
  applyTrafficDistributionHints,
  normalizeTrafficDistribution,
} from '../../src/routing/traffic-distribution';
import { ep, keys, portInfo } from './fixtures';

const hints = (e: { zoneHints?: ReadonlySet<string>; nodeHints?: ReadonlySet<string> }) => ({
  zones: e.zoneHints && [...e.zoneHints],
  nodes: e.nodeHints && [...e.nodeHints],
});

describe('applyTrafficDistributionHints (EndpointSlice controller)', () => {
  const eps = [
    ep({ ip: '10.0.0.1', node: 'n1', zone: 'za' }),
    ep({ ip: '10.0.0.2', node: 'n2', zone: 'zb' }),
    ep({ ip: '10.0.0.3', node: 'n3' }),
    ep({ ip: '10.0.0.4', node: 'n4', zone: 'za', ready: false, zones: ['stale'] }),
  ];

  it('PreferClose is PreferSameZone', () => {
    expect(normalizeTrafficDistribution('PreferClose')).toBe('PreferSameZone');
    expect(normalizeTrafficDistribution('PreferSameZone')).toBe('PreferSameZone');
    expect(normalizeTrafficDistribution('PreferSameNode')).toBe('PreferSameNode');
    expect(normalizeTrafficDistribution('preferclose')).toBeUndefined();
    expect(normalizeTrafficDistribution(undefined)).toBeUndefined();
    const close = applyTrafficDistributionHints('PreferClose', eps).map(hints);
    expect(close).toEqual(applyTrafficDistributionHints('PreferSameZone', eps).map(hints));
  });

  it('hints ready endpoints for their own zone; zone-less and unready ones are left alone', () => {
    expect(applyTrafficDistributionHints('PreferSameZone', eps).map(hints)).toEqual([
      { zones: ['za'], nodes: undefined },
      { zones: ['zb'], nodes: undefined },
      { zones: undefined, nodes: undefined },
      { zones: ['stale'], nodes: undefined },
    ]);
  });

  it('PreferSameNode adds node hints', () => {
    expect(applyTrafficDistributionHints('PreferSameNode', eps).map(hints)).toEqual([
      { zones: ['za'], nodes: ['n1'] },
      { zones: ['zb'], nodes: ['n2'] },
      { zones: undefined, nodes: ['n3'] },
      { zones: ['stale'], nodes: undefined },
    ]);
  });

  it('unset removes every hint, unready included', () => {
    const out = applyTrafficDistributionHints(
      undefined,
      applyTrafficDistributionHints('PreferSameNode', eps),
    );
    expect(out.map(hints).every((h) => h.zones === undefined && h.nodes === undefined)).toBe(true);
  });

  it('returns the same object when nothing changes', () => {
    const once = applyTrafficDistributionHints('PreferSameZone', eps);
    const twice = applyTrafficDistributionHints('PreferSameZone', once);
    expect(twice.every((e, i) => e === once[i])).toBe(true);
  });

  it('end to end: PreferSameNode routes to the local endpoint, other nodes fall back to zone', () => {
    const withHints = applyTrafficDistributionHints('PreferSameNode', [
      ep({ ip: '10.0.0.1', node: 'n1', zone: 'za' }),
      ep({ ip: '10.0.0.2', node: 'n2', zone: 'za' }),
      ep({ ip: '10.0.0.3', node: 'n3', zone: 'zb' }),
    ]);
    const info = portInfo({ trafficDistribution: 'PreferSameNode' });
    expect(keys(categorizeEndpoints(info, withHints, { name: 'n1', zone: 'za' }).clusterEndpoints)).toEqual([
      '10.0.0.1:80',
    ]);
    expect(keys(categorizeEndpoints(info, withHints, { name: 'n9', zone: 'za' }).clusterEndpoints)).toEqual([
      '10.0.0.1:80',
      '10.0.0.2:80',
    ]);
    expect(keys(categorizeEndpoints(info, withHints, { name: 'n9', zone: 'zc' }).clusterEndpoints)).toEqual([
      '10.0.0.1:80',
      '10.0.0.2:80',
      '10.0.0.3:80',
    ]);
  });
});

describe('applyTrafficDistributionHints edge cases', () => {
  it('an endpoint naming the empty zone is hinted for it (presence, not truthiness)', () => {
    const [out] = applyTrafficDistributionHints('PreferSameZone', [ep({ ip: '10.0.0.1', zone: '' })]);
    expect(out && hints(out)).toEqual({ zones: [''], nodes: undefined });
  });

  it('PreferSameZone drops node hints a previous PreferSameNode left on ready endpoints', () => {
    const [out] = applyTrafficDistributionHints('PreferSameZone', [
      ep({ ip: '10.0.0.1', node: 'n1', zone: 'za', zones: ['za'], nodes: ['n1'] }),
    ]);
    expect(out && hints(out)).toEqual({ zones: ['za'], nodes: undefined });
  });
});
