import { describe, expect, it } from 'vitest';
import type { EndpointPick, PickResult } from '../../src/balancers/balancer';
import { LeastRequestBalancer, parseLeastRequestConfig } from '../../src/balancers/least-request';
import { PEAK_EWMA_PENALTY, PeakEwmaBalancer, parsePeakEwmaConfig } from '../../src/balancers/peak-ewma';
import type { Rng } from '../../src/core/random';
import { SeededRng } from '../../src/core/random';
import { balancerTestEndpoints } from '../../src/testing/balancer-conformance';
import { ManualClock } from './manual-clock';

/** An Rng that returns scripted int() values, for driving two-choice comparisons exactly. */
function scripted(values: number[]): Rng {
  let i = 0;
  return { next: () => 0, int: (n) => (values[i++ % values.length] as number) % n };
}

const endpointOf = (r: PickResult): EndpointPick => {
  if (r.kind !== 'endpoint') throw new Error(r.reason);
  return r;
};

describe('least-request', () => {
  it('takes the sample with fewer active requests; ties keep the first sample', () => {
    const eps = balancerTestEndpoints(3);
    const b = new LeastRequestBalancer({}, { rng: scripted([0, 1]) });
    b.update(eps);
    const first = endpointOf(b.picker.pick()); // samples 0 and 1, both idle: keeps 0
    expect(first.endpoint.key).toBe(eps[0]!.key);
    const second = endpointOf(b.picker.pick()); // 0 has one active, 1 none: takes 1
    expect(second.endpoint.key).toBe(eps[1]!.key);
    expect(b.activeRequests().get(eps[0]!.key)).toBe(1);
    first.done?.({ ok: true });
    first.done?.({ ok: true });
    expect(b.activeRequests().get(eps[0]!.key)).toBe(0);
  });

  it('samples choiceCount endpoints', () => {
    const eps = balancerTestEndpoints(4);
    const b = new LeastRequestBalancer({ choiceCount: 4 }, { rng: scripted([0, 1, 2, 3]) });
    b.update(eps);
    for (let i = 0; i < 3; i++) endpointOf(b.picker.pick()); // loads 0, 1, 2 become 1
    expect(endpointOf(b.picker.pick()).endpoint.key).toBe(eps[3]!.key);
  });

  it('keeps in-flight counts across updates, and done() of an old pick still lands', () => {
    const eps = balancerTestEndpoints(2);
    const b = new LeastRequestBalancer({}, { rng: new SeededRng(1) });
    b.update(eps);
    const r = endpointOf(b.picker.pick());
    b.update([...eps, ...balancerTestEndpoints(3).slice(2)]);
    expect(b.activeRequests().get(r.endpoint.key)).toBe(1);
    r.done?.({ ok: true });
    expect(b.activeRequests().get(r.endpoint.key)).toBe(0);
  });

  it('weighted: picks follow weight / (active + 1)^bias (Envoy), bias 0 is weighted round-robin', () => {
    const eps = balancerTestEndpoints(2, [1, 3]);
    const run = (bias: number, hold: boolean) => {
      const b = new LeastRequestBalancer({ activeRequestBias: bias }, { rng: new SeededRng(4) });
      b.update(eps);
      const counts = [0, 0];
      for (let i = 0; i < 4000; i++) {
        const r = endpointOf(b.picker.pick());
        counts[eps.indexOf(r.endpoint)]!++;
        if (!hold) r.done?.({ ok: true });
      }
      return counts;
    };
    // Requests finishing at once: active stays 0, shares follow the weights 1:3.
    expect(run(1, false)).toEqual([1000, 3000]);
    // Requests held open, bias 0: active counts are ignored, shares stay 1:3 exactly.
    expect(run(0, true)).toEqual([1000, 3000]);
    // Held open, bias b: an endpoint's k-th re-schedule adds (k+1)^b / w to its deadline, so
    // after k picks its deadline is ~k^(b+1) / ((b+1) w); EDF keeps deadlines level, giving
    // k1 / k0 = (w1 / w0)^(1 / (b+1)): sqrt(3) for bias 1, 3^(1/5) for bias 4.
    const held = run(1, true);
    expect(held[1]! / held[0]!).toBeCloseTo(Math.sqrt(3), 1);
    const strong = run(4, true);
    expect(strong[1]! / strong[0]!).toBeCloseTo(3 ** (1 / 5), 1);
  });

  it('validates choiceCount >= 2 and a non-negative bias', () => {
    expect(() => parseLeastRequestConfig({ choiceCount: 1 })).toThrow(
      'least_request.choiceCount: must be >= 2, got 1',
    );
    expect(() => parseLeastRequestConfig({ activeRequestBias: -0.5 })).toThrow(
      'least_request.activeRequestBias',
    );
    expect(parseLeastRequestConfig({})).toEqual({
      choiceCount: 2,
      activeRequestBias: 1,
      biasExplicit: false,
    });
  });
});

describe('peak-EWMA', () => {
  it('prefers the endpoint with lower latency, and the peak moves up at once', () => {
    const clock = new ManualClock();
    const eps = balancerTestEndpoints(2);
    const b = new PeakEwmaBalancer({}, { rng: scripted([0, 0]), clock });
    b.update(eps);
    // Samples always (0, 1): equal load keeps 0. Teach 0 that it is slow.
    const r = endpointOf(b.picker.pick());
    expect(r.endpoint.key).toBe(eps[0]!.key);
    clock.advance(200);
    r.done?.({ ok: true });
    expect(b.loadByKey().get(eps[0]!.key)).toBeCloseTo(200, 6);
    expect(endpointOf(b.picker.pick()).endpoint.key).toBe(eps[1]!.key);
  });

  it('decays toward faster samples with time constant decayTimeMs', () => {
    const clock = new ManualClock();
    const eps = balancerTestEndpoints(1);
    const b = new PeakEwmaBalancer({ decayTimeMs: 1_000 }, { rng: new SeededRng(1), clock });
    b.update(eps);
    endpointOf(b.picker.pick()).done?.({ ok: true, latencyMs: 100 });
    clock.advance(1_000);
    // Reading decays toward 0 as Finagle's does: 100 * e^-1.
    expect(b.loadByKey().get(eps[0]!.key)).toBeCloseTo(100 * Math.exp(-1), 6);
  });

  it("an endpoint with requests pending and no data yet carries Finagle's penalty", () => {
    const clock = new ManualClock();
    const eps = balancerTestEndpoints(2);
    const b = new PeakEwmaBalancer({}, { rng: scripted([0, 0]), clock });
    b.update(eps);
    endpointOf(b.picker.pick()); // pending on endpoint 0, no latency yet
    expect(b.loadByKey().get(eps[0]!.key)).toBe(PEAK_EWMA_PENALTY + 1);
    expect(endpointOf(b.picker.pick()).endpoint.key).toBe(eps[1]!.key);
  });

  it('load is ewma * (pending + 1); a default RTT seeds new endpoints (Linkerd style)', () => {
    const clock = new ManualClock();
    const eps = balancerTestEndpoints(2);
    const b = new PeakEwmaBalancer({ defaultRttMs: 30 }, { rng: scripted([0, 0]), clock });
    b.update(eps);
    expect(b.loadByKey().get(eps[0]!.key)).toBe(30);
    endpointOf(b.picker.pick());
    expect(b.loadByKey().get(eps[0]!.key)).toBe(60);
  });

  it('validates decayTimeMs > 0', () => {
    expect(() => parsePeakEwmaConfig({ decayTimeMs: 0 })).toThrow(
      'peak_ewma.decayTimeMs: must be > 0, got 0',
    );
    expect(parsePeakEwmaConfig({})).toEqual({ decayTimeMs: 10_000 });
  });
});
