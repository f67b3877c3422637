import { describe, expect, it } from 'vitest';
import type { PickResult } from '../../src/balancers/balancer';
import { UNAVAILABLE_ALL_EJECTED } from '../../src/balancers/balancer';
import { RoundRobinBalancer } from '../../src/balancers/round-robin';
import {
  OutlierDetectionBalancer,
  parseOutlierDetectionConfig,
} from '../../src/balancers/wrappers/outlier-detection';
import {
  parseSessionAffinityConfig,
  SessionAffinityBalancer,
} from '../../src/balancers/wrappers/session-affinity';
import { SeededRng } from '../../src/core/random';
import { balancerTestEndpoints } from '../../src/testing/balancer-conformance';
import { ManualClock } from './manual-clock';

const keyOf = (r: PickResult) => (r.kind === 'endpoint' ? r.endpoint.key : `unavailable: ${r.reason}`);

describe('session affinity wrapper (ClientIP, recent-module semantics)', () => {
  const setup = (timeoutSeconds = 10) => {
    const clock = new ManualClock();
    const b = new SessionAffinityBalancer(
      new RoundRobinBalancer({}, { rng: new SeededRng(1) }),
      { timeoutSeconds },
      { clock },
    );
    const eps = balancerTestEndpoints(4);
    b.update(eps);
    return { clock, b, eps };
  };

  it('keeps a client on its endpoint while it returns within the timeout, measured from its last connection', () => {
    const { clock, b } = setup(10);
    const first = keyOf(b.picker.pick({ clientIP: '10.0.0.1' }));
    for (let i = 0; i < 5; i++) {
      clock.advance(9_000); // 45 s in total, never 10 s idle
      expect(keyOf(b.picker.pick({ clientIP: '10.0.0.1' }))).toBe(first);
    }
  });

  it('a stamp exactly timeoutSeconds old still matches; one past it does not', () => {
    const { clock, b, eps } = setup(10);
    const first = keyOf(b.picker.pick({ clientIP: '10.0.0.1' }));
    clock.advance(10_000);
    expect(keyOf(b.picker.pick({ clientIP: '10.0.0.1' }))).toBe(first);
    clock.advance(10_001);
    expect(b.affinity.lookup('10.0.0.1', eps)).toBeUndefined();
    // Idle past the timeout: balanced afresh (round-robin's next endpoint), then sticky there.
    const next = keyOf(b.picker.pick({ clientIP: '10.0.0.1' }));
    expect(next).not.toBe(first);
    expect(keyOf(b.picker.pick({ clientIP: '10.0.0.1' }))).toBe(next);
  });

  it('moves a client whose endpoint left, and sticks to the new one', () => {
    const { b, eps } = setup(10);
    const first = keyOf(b.picker.pick({ clientIP: '10.0.0.1' }));
    b.update(eps.filter((e) => e.key !== first));
    const moved = keyOf(b.picker.pick({ clientIP: '10.0.0.1' }));
    expect(moved).not.toBe(first);
    for (let i = 0; i < 5; i++) expect(keyOf(b.picker.pick({ clientIP: '10.0.0.1' }))).toBe(moved);
  });

  it("forgets an endpoint's clients when it leaves (kube-proxy drops its recent list)", () => {
    const { b, eps } = setup(10);
    const first = keyOf(b.picker.pick({ clientIP: '10.0.0.1' }));
    const remaining = eps.filter((e) => e.key !== first);
    b.update(remaining);
    b.update(eps); // it comes back without its clients
    expect(b.affinity.lookup('10.0.0.1', eps)).toBeUndefined();
  });

  it('treats IPv4-mapped IPv6 and IPv4 as one client; picks without clientIP are not sticky', () => {
    const { b } = setup(10);
    const first = keyOf(b.picker.pick({ clientIP: '10.0.0.7' }));
    expect(keyOf(b.picker.pick({ clientIP: '::ffff:10.0.0.7' }))).toBe(first);
    const plain = new Set(Array.from({ length: 4 }, () => keyOf(b.picker.pick())));
    expect(plain.size).toBe(4);
  });

  it('validates timeoutSeconds like the API server (1..86400)', () => {
    expect(() => parseSessionAffinityConfig({ timeoutSeconds: 0 })).toThrow(
      'session_affinity.timeoutSeconds: Invalid value: 0: must be greater than 0 and less than 86400',
    );
    expect(() => parseSessionAffinityConfig({ timeoutSeconds: 86401 })).toThrow('Invalid value: 86401');
    expect(parseSessionAffinityConfig({})).toEqual({ timeoutSeconds: 10800 });
  });
});

describe('outlier detection wrapper', () => {
  const setup = (config = {}, n = 10) => {
    const clock = new ManualClock();
    const b = new OutlierDetectionBalancer(new RoundRobinBalancer({}, { rng: new SeededRng(1) }), config, {
      clock,
    });
    const eps = balancerTestEndpoints(n);
    b.update(eps);
    return { clock, b, eps };
  };
  /** Sends calls until `key` has failed `times` times in a row (other endpoints succeed). */
  const fail = (b: OutlierDetectionBalancer, key: string, times: number) => {
    let failed = 0;
    for (let guard = 0; failed < times && guard < 10_000; guard++) {
      const r = b.picker.pick();
      if (r.kind !== 'endpoint') return;
      const bad = r.endpoint.key === key;
      r.done?.({ ok: !bad });
      if (bad) failed++;
    }
  };

  it('ejects after consecutiveFailures in a row and never picks the endpoint while ejected', () => {
    const { b, eps } = setup();
    const bad = eps[3]!.key;
    fail(b, bad, 4);
    expect(b.ejected()).toEqual([]);
    fail(b, bad, 1);
    expect(b.ejected()).toEqual([bad]);
    for (let i = 0; i < 100; i++) expect(keyOf(b.picker.pick())).not.toBe(bad);
  });

  it('a success resets the failure streak', () => {
    const { b, eps } = setup();
    const key = eps[0]!.key;
    b.record(key, false);
    b.record(key, false);
    b.record(key, false);
    b.record(key, false);
    b.record(key, true);
    b.record(key, false);
    expect(b.ejected()).toEqual([]);
  });

  it('returns the endpoint after baseEjectionTime x times ejected, capped at maxEjectionTime', () => {
    const { clock, b, eps } = setup({
      baseEjectionTimeMs: 30_000,
      maxEjectionTimeMs: 70_000,
      intervalMs: 1e9,
    });
    const key = eps[0]!.key;
    const ejectFor = () => {
      for (let i = 0; i < 5; i++) b.record(key, false);
      expect(b.ejected()).toEqual([key]);
      const start = clock.now();
      while (b.ejected().length > 0) clock.advance(1_000);
      return clock.now() - start;
    };
    expect(ejectFor()).toBe(30_000);
    expect(ejectFor()).toBe(60_000);
    expect(ejectFor()).toBe(70_000);
  });

  it('forgives one past ejection per interval spent un-ejected', () => {
    const { clock, b, eps } = setup({ baseEjectionTimeMs: 10_000, intervalMs: 5_000 });
    const key = eps[0]!.key;
    const eject = () => {
      for (let i = 0; i < 5; i++) b.record(key, false);
    };
    eject();
    clock.advance(10_000);
    eject();
    clock.advance(20_000); // second ejection lasted 2 x base
    expect(b.ejected()).toEqual([]);
    clock.advance(10_000); // two intervals un-ejected: count 2 → 0
    eject();
    let t = 0;
    while (b.ejected().length > 0) {
      clock.advance(1_000);
      t += 1_000;
    }
    expect(t).toBe(10_000);
  });

  it('never ejects more than maxEjectionPercent of the endpoints', () => {
    const { b, eps } = setup({ maxEjectionPercent: 20 });
    for (const e of eps) for (let i = 0; i < 5; i++) b.record(e.key, false);
    expect(b.ejected().length).toBe(2);
  });

  it('small services: the strict share ejects nothing below 10 endpoints; ejectAtLeastOne allows one (Envoy)', () => {
    const strict = setup({}, 3);
    for (let i = 0; i < 5; i++) strict.b.record(strict.eps[0]!.key, false);
    expect(strict.b.ejected()).toEqual([]);
    const envoy = setup({ ejectAtLeastOne: true }, 3);
    for (const e of envoy.eps) for (let i = 0; i < 5; i++) envoy.b.record(e.key, false);
    expect(envoy.b.ejected()).toEqual([envoy.eps[0]!.key]);
  });

  it('with 100 % allowed and all ejected, answers unavailable; time brings them back', () => {
    const { clock, b, eps } = setup({ maxEjectionPercent: 100 }, 2);
    for (const e of eps) for (let i = 0; i < 5; i++) b.record(e.key, false);
    const r = b.picker.pick();
    expect(r).toEqual({ kind: 'unavailable', reason: UNAVAILABLE_ALL_EJECTED });
    clock.advance(30_000);
    expect(b.picker.pick().kind).toBe('endpoint');
  });

  it('passes done() through to the child and clears timers on close', () => {
    const { clock, b, eps } = setup();
    for (let i = 0; i < 5; i++) b.record(eps[0]!.key, false);
    expect(clock.pendingTimers).toBe(1);
    b.close();
    expect(clock.pendingTimers).toBe(0);
    expect(b.picker.pick().kind).toBe('unavailable');
  });

  it('validates its config', () => {
    expect(parseOutlierDetectionConfig({})).toEqual({
      consecutiveFailures: 5,
      baseEjectionTimeMs: 30_000,
      maxEjectionTimeMs: 300_000,
      maxEjectionPercent: 10,
      intervalMs: 10_000,
      ejectAtLeastOne: false,
    });
    expect(() => parseOutlierDetectionConfig({ maxEjectionPercent: 101 })).toThrow(
      'outlier_detection.maxEjectionPercent: must be <= 100, got 101',
    );
  });
});
