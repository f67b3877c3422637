import { describe, expect, it } from 'vitest';
import type { Picker } from '../../src/balancers/balancer';
import { BalancerConfigError } from '../../src/balancers/config';
import {
  normalizeReportedWeights,
  parseWeightedRoundRobinConfig,
  WeightedRoundRobinBalancer,
} from '../../src/balancers/weighted-round-robin';
import { SeededRng } from '../../src/core/random';
import { balancerTestEndpoints } from '../../src/testing/balancer-conformance';
import { ManualClock } from './manual-clock';

function seq(picker: Picker, n: number, keys: string[]): number[] {
  return Array.from({ length: n }, () => {
    const r = picker.pick();
    return r.kind === 'endpoint' ? keys.indexOf(r.endpoint.key) : -1;
  });
}

describe('weighted round-robin (static endpoint weights)', () => {
  it('is smooth: weights 3:1 interleave, never three of a kind followed by a long run', () => {
    const eps = balancerTestEndpoints(2, [3, 1]);
    const b = new WeightedRoundRobinBalancer({}, { rng: new SeededRng(5) });
    b.update(eps);
    const s = seq(
      b.picker,
      400,
      eps.map((e) => e.key),
    );
    // Every window of 4 consecutive picks holds exactly three 0s and one 1.
    for (let i = 0; i + 4 <= s.length; i += 4) {
      const w = s.slice(i, i + 4);
      expect(w.filter((x) => x === 1).length).toBeLessThanOrEqual(2);
    }
    expect(s.filter((x) => x === 0).length).toBeGreaterThanOrEqual(299);
    expect(s.filter((x) => x === 0).length).toBeLessThanOrEqual(301);
  });

  it('gives exact proportions over whole cycles (weights 1, 2, 3, 4)', () => {
    const eps = balancerTestEndpoints(4, [1, 2, 3, 4]);
    const b = new WeightedRoundRobinBalancer({}, { rng: new SeededRng(8) });
    b.update(eps);
    const s = seq(
      b.picker,
      10_000,
      eps.map((e) => e.key),
    );
    const counts = [0, 1, 2, 3].map((i) => s.filter((x) => x === i).length);
    counts.forEach((c, i) => {
      expect(Math.abs(c - (i + 1) * 1000)).toBeLessThanOrEqual(1);
    });
  });

  it('all equal weights behave as round-robin: every endpoint once per cycle', () => {
    const eps = balancerTestEndpoints(5, [7, 7, 7, 7, 7]);
    const b = new WeightedRoundRobinBalancer({}, { rng: new SeededRng(1) });
    b.update(eps);
    const s = seq(
      b.picker,
      50,
      eps.map((e) => e.key),
    );
    for (let i = 0; i < 50; i += 5) expect(new Set(s.slice(i, i + 5)).size).toBe(5);
  });

  it('a zero or invalid weight counts as unknown and gets the mean of the known weights (A58)', () => {
    const eps = balancerTestEndpoints(3, [2, 0, 4]);
    const b = new WeightedRoundRobinBalancer({}, { rng: new SeededRng(1) });
    b.update(eps);
    expect(b.currentWeights()).toEqual([2, 3, 4]);
    b.update(balancerTestEndpoints(2, [Number.NaN, -1]));
    expect(b.currentWeights()).toEqual([1, 1]);
    b.update(balancerTestEndpoints(2));
    expect(b.currentWeights()).toEqual([1, 1]);
  });
});

describe('weighted round-robin with load reports (gRFC A58)', () => {
  const setup = () => {
    const clock = new ManualClock();
    const b = new WeightedRoundRobinBalancer(
      { weightSource: 'load_report' },
      { rng: new SeededRng(2), clock },
    );
    const eps = balancerTestEndpoints(2);
    b.update(eps);
    return { clock, b, eps };
  };
  const reportBoth = (b: WeightedRoundRobinBalancer, keys: string[], a: number, c: number) => {
    b.report(keys[0]!, { qps: a, utilization: 0.5 });
    b.report(keys[1]!, { qps: c, utilization: 0.5 });
  };

  it('behaves as round-robin until weights have been reported for the blackout period', () => {
    const { clock, b, eps } = setup();
    const keys = eps.map((e) => e.key);
    expect(b.currentWeights()).toEqual([1, 1]);
    reportBoth(b, keys, 100, 300);
    clock.advance(5_000);
    expect(b.currentWeights()).toEqual([1, 1]);
    reportBoth(b, keys, 100, 300);
    clock.advance(5_000); // 10 s since the first report: blackout over at the next update tick
    reportBoth(b, keys, 100, 300);
    clock.advance(1_000);
    expect(b.currentWeights()).toEqual([200, 600]);
  });

  it('weight = qps / (utilization + eps/qps * penalty)', () => {
    const clock = new ManualClock();
    const b = new WeightedRoundRobinBalancer(
      { weightSource: 'load_report', blackoutPeriodMs: 0, errorUtilizationPenalty: 2 },
      { rng: new SeededRng(2), clock },
    );
    const eps = balancerTestEndpoints(2);
    b.update(eps);
    b.report(eps[0]!.key, { qps: 100, eps: 10, utilization: 0.3 }); // 100 / (0.3 + 0.1 * 2) = 200
    b.report(eps[1]!.key, { qps: 100, utilization: 0.25 }); // 400
    clock.advance(1_000);
    expect(b.currentWeights()).toEqual([200, 400]);
  });

  it('ignores empty reports (zero qps or utilization)', () => {
    const { clock, b, eps } = setup();
    b.report(eps[0]!.key, { qps: 0, utilization: 0.5 });
    b.report(eps[1]!.key, { qps: 10, utilization: 0 });
    clock.advance(20_000);
    expect(b.currentWeights()).toEqual([1, 1]);
  });

  it('drops weights not refreshed within the expiration period, and blackout applies again', () => {
    const clock = new ManualClock();
    const b = new WeightedRoundRobinBalancer(
      { weightSource: 'load_report', blackoutPeriodMs: 1_000, weightExpirationPeriodMs: 10_000 },
      { rng: new SeededRng(2), clock },
    );
    const eps = balancerTestEndpoints(2);
    const keys = eps.map((e) => e.key);
    b.update(eps);
    reportBoth(b, keys, 100, 300);
    clock.advance(2_000);
    expect(b.currentWeights()).toEqual([200, 600]);
    clock.advance(8_000); // 10 s since the last report: expired
    expect(b.currentWeights()).toEqual([1, 1]);
    reportBoth(b, keys, 100, 300);
    clock.advance(500);
    expect(b.currentWeights()).toEqual([1, 1]); // blackout again after expiry
    clock.advance(1_000);
    expect(b.currentWeights()).toEqual([200, 600]);
  });

  it('an endpoint without reports gets the mean weight; extremes are clamped to [0.01, 10] x mean', () => {
    expect(Array.from(normalizeReportedWeights([0, 10, 30]))).toEqual([20, 10, 30]);
    const w = Array.from(normalizeReportedWeights([1000, ...new Array<number>(19).fill(1)]));
    const mean = 1019 / 20;
    expect(w[0]).toBeCloseTo(mean * 10, 9);
    expect(w[1]).toBe(1);
    expect(Array.from(normalizeReportedWeights([1e-6, 1]))).toEqual([0.5000005 * 0.01, 1]);
    expect(Array.from(normalizeReportedWeights([0, 0]))).toEqual([1, 1]);
  });

  it('takes reports through done({ backendMetrics }) and keeps them across updates', () => {
    const clock = new ManualClock();
    const b = new WeightedRoundRobinBalancer(
      { weightSource: 'load_report', blackoutPeriodMs: 0 },
      { rng: new SeededRng(2), clock },
    );
    const eps = balancerTestEndpoints(3);
    b.update(eps);
    for (let i = 0; i < 30; i++) {
      const r = b.picker.pick();
      if (r.kind !== 'endpoint') throw new Error('unavailable');
      const qps = r.endpoint.key === eps[0]!.key ? 300 : 100;
      r.done?.({ ok: true, backendMetrics: { qps, utilization: 1 } });
    }
    clock.advance(1_000);
    expect(b.currentWeights()).toEqual([300, 100, 100]);
    b.update([eps[0]!, eps[1]!]);
    expect(b.currentWeights()).toEqual([300, 100]);
  });

  it('stops its update timer on close', () => {
    const { clock, b } = setup();
    expect(clock.pendingTimers).toBe(1);
    b.close();
    expect(clock.pendingTimers).toBe(0);
  });

  it('validates config with A58 defaults and the 100 ms floor', () => {
    const d = parseWeightedRoundRobinConfig({});
    expect(d).toEqual({
      weightSource: 'endpoint',
      blackoutPeriodMs: 10_000,
      weightExpirationPeriodMs: 180_000,
      weightUpdatePeriodMs: 1_000,
      errorUtilizationPenalty: 1,
    });
    expect(parseWeightedRoundRobinConfig({ weightUpdatePeriodMs: 5 }).weightUpdatePeriodMs).toBe(100);
    expect(() => parseWeightedRoundRobinConfig({ errorUtilizationPenalty: -1 })).toThrow(BalancerConfigError);
    expect(() => parseWeightedRoundRobinConfig({ blackout: 1 })).toThrow(
      'weighted_round_robin.blackout: unknown field',
    );
  });
});
