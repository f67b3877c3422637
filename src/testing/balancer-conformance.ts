/**
 * The conformance suite every {@link Balancer} must pass, built-in or third-party. It takes the
 * test functions as parameters, so it works with vitest, jest or node:test and imports no test
 * framework itself:
 *
 * ```ts
 * import { describe, it, expect } from 'vitest';
 * runBalancerConformance({ name: 'mine', create: (deps) => new MyBalancer({}, deps) }, { describe, it, expect });
 * ```
 *
 * Checked: no endpoints → unavailable (before the first update, after an empty one, after
 * close); a single endpoint is always picked; a removed endpoint is never picked again while an
 * older picker keeps its own endpoint set; `done()` is safe to call, twice included; odd pick
 * contexts never throw; subscribers hear each new picker; equal seeds give equal picks;
 * picks spread uniformly over equal endpoints and in proportion to weights for weighted
 * policies (chi-square at p = 0.001 with fixed seeds, or a relative tolerance when asked).
 *
 * @module
 */
import type { Balancer, PickContext, PickResult } from '../balancers/balancer';
import type { Clock, TimerHandle } from '../core/clock';
import { type Rng, SeededRng } from '../core/random';
import type { Endpoint } from '../core/snapshot';
import { chiSquareTest, expectedCounts } from './stats';

/** The assertions the suite uses (a subset of vitest's and jest's `expect`). */
export interface BalancerConformanceMatchers {
  /** Throws unless the actual value is `Object.is`-identical to `expected`. */
  toBe(expected: unknown): void;
  /** Throws unless the actual value deep-equals `expected` (recursive structural equality). */
  toEqual(expected: unknown): void;
  /** Throws if the actual value is `undefined`. */
  toBeDefined(): void;
  /** Throws unless the actual number is strictly greater than `n`. */
  toBeGreaterThan(n: number): void;
  /** Throws unless the actual number is greater than or equal to `n`. */
  toBeGreaterThanOrEqual(n: number): void;
  /** Throws unless the actual object has every property of `expected` with deep-equal values. */
  toMatchObject(expected: Record<string, unknown>): void;
  /** Negated matchers. */
  readonly not: {
    /** Throws if the actual value is `Object.is`-identical to `expected`. */
    toBe(expected: unknown): void;
  };
}

/** The subset of a test framework the suite needs (vitest's and jest's shapes). */
export interface BalancerConformanceTestApi {
  /** Declares a test group; `body` runs synchronously to register the group's tests. */
  describe(name: string, body: () => void): void;
  /** Declares one test; a returned promise is awaited and a rejection or throw fails the test. */
  it(name: string, body: () => void | Promise<void>): void;
  /** Wraps `actual` for assertions; a failing matcher throws. */
  expect(actual: unknown): BalancerConformanceMatchers;
}

/** Services handed to `create`; the clock only moves when the suite moves it. */
export interface BalancerConformanceDeps {
  readonly rng: Rng;
  readonly clock: Clock;
}

/** How picks should spread over endpoints. */
export type BalancerDistributionExpectation =
  /** Chi-square goodness of fit at p = 0.001. */
  | 'chi-square'
  /** Every endpoint's share within this relative error of its expected share (for ring-hash). */
  | { readonly maxRelativeError: number }
  /** No claim (e.g. sticky or load-seeking policies). */
  | 'none';

/** What the suite needs to know about the policy under test. */
export interface BalancerConformanceOptions {
  /** Shown in the test names. */
  readonly name: string;
  /** A fresh balancer; use `deps` for its randomness and time so runs are reproducible. */
  readonly create: (deps: BalancerConformanceDeps) => Balancer;
  /** The policy honours `Endpoint.weight`. Default false. */
  readonly weighted?: boolean;
  /** Expected spread of picks over equal endpoints. Default `'chi-square'`. */
  readonly distribution?: BalancerDistributionExpectation;
  /** Context for the i-th pick (hashing policies: a distinct key per pick). Default: none. */
  readonly context?: (i: number, rng: Rng) => PickContext | undefined;
  /** Picks per distribution check. Default 20 000. */
  readonly picks?: number;
  /** Seed for the suite's generators. Default 20240601. */
  readonly seed?: number;
}

/** A clock that moves only when told; timers never fire on their own. */
class StillClock implements Clock {
  private t = 1_000;
  now(): number {
    return this.t;
  }
  wallNow(): Date {
    return new Date(this.t);
  }
  setTimeout(): TimerHandle {
    return { __timer: true };
  }
  clearTimeout(): void {}
}

/** `n` test endpoints on loopback addresses (127.0.0.1, 127.0.0.2, …), port 8080, optional weights. */
export function balancerTestEndpoints(n: number, weights?: readonly number[]): Endpoint[] {
  return Array.from({ length: n }, (_, i) => {
    const k = i + 1;
    const ip = `127.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}`;
    const w = weights?.[i];
    return {
      ip,
      port: 8080,
      key: `${ip}:8080`,
      ready: true,
      serving: true,
      terminating: false,
      ...(w !== undefined ? { weight: w } : {}),
    };
  });
}

/** Registers the conformance tests for one policy with the given test framework. */
export function runBalancerConformance(
  options: BalancerConformanceOptions,
  t: BalancerConformanceTestApi,
): void {
  const { describe, it, expect } = t;
  const seed = options.seed ?? 20240601;
  const picks = options.picks ?? 20_000;
  const distribution = options.distribution ?? 'chi-square';
  const make = (s = seed) => {
    const rng = new SeededRng(s);
    return {
      balancer: options.create({ rng, clock: new StillClock() }),
      ctxRng: new SeededRng(s ^ 0x5bd1e995),
    };
  };
  const ctxAt = (i: number, rng: Rng) => options.context?.(i, rng);
  const finish = (r: PickResult) => {
    if (r.kind === 'endpoint') r.done?.({ ok: true, latencyMs: 1 });
  };
  const countPicks = (balancer: Balancer, endpoints: readonly Endpoint[], n: number, rng: Rng) => {
    const index = new Map(endpoints.map((e, i) => [e.key, i]));
    const counts = new Array<number>(endpoints.length).fill(0);
    for (let i = 0; i < n; i++) {
      const r = balancer.picker.pick(ctxAt(i, rng));
      expect(r.kind).toBe('endpoint');
      if (r.kind !== 'endpoint') continue;
      const k = index.get(r.endpoint.key);
      expect(k).toBeDefined();
      counts[k as number]!++;
      finish(r);
    }
    return counts;
  };
  const checkSpread = (counts: number[], expected: number[]) => {
    if (distribution === 'none') return;
    if (distribution === 'chi-square') {
      const { pValue, statistic } = chiSquareTest(counts, expected);
      expect({ pValue, statistic, counts, ok: pValue > 0.001 }).toMatchObject({ ok: true });
      return;
    }
    for (let i = 0; i < counts.length; i++) {
      const rel = Math.abs((counts[i] as number) - (expected[i] as number)) / (expected[i] as number);
      expect({ endpoint: i, rel, ok: rel <= distribution.maxRelativeError }).toMatchObject({ ok: true });
    }
  };

  describe(`balancer conformance: ${options.name}`, () => {
    it('is unavailable before the first update, after an empty update, and after close', () => {
      const { balancer } = make();
      const before = balancer.picker.pick();
      expect(before.kind).toBe('unavailable');
      if (before.kind === 'unavailable') expect(typeof before.reason).toBe('string');
      balancer.update(balancerTestEndpoints(3));
      expect(balancer.picker.pick(ctxAt(0, new SeededRng(1))).kind).toBe('endpoint');
      balancer.update([]);
      const empty = balancer.picker.pick(ctxAt(1, new SeededRng(1)));
      expect(empty.kind).toBe('unavailable');
      if (empty.kind === 'unavailable') expect(empty.reason.length).toBeGreaterThan(0);
      balancer.update(balancerTestEndpoints(2));
      balancer.close();
      expect(balancer.picker.pick().kind).toBe('unavailable');
      balancer.close();
    });

    it('always picks the only endpoint', () => {
      const { balancer, ctxRng } = make();
      const [only] = balancerTestEndpoints(1);
      balancer.update([only as Endpoint]);
      for (let i = 0; i < 200; i++) {
        const r = balancer.picker.pick(ctxAt(i, ctxRng));
        expect(r.kind === 'endpoint' ? r.endpoint.key : r.reason).toBe(only?.key);
        finish(r);
      }
    });

    it('never picks a removed endpoint again, while an older picker keeps its set', () => {
      const { balancer, ctxRng } = make();
      const eps = balancerTestEndpoints(5);
      balancer.update(eps);
      const old = balancer.picker;
      const gone = eps[2] as Endpoint;
      balancer.update(eps.filter((e) => e !== gone));
      for (let i = 0; i < 2_000; i++) {
        const r = balancer.picker.pick(ctxAt(i, ctxRng));
        expect(r.kind).toBe('endpoint');
        if (r.kind === 'endpoint') expect(r.endpoint.key).not.toBe(gone.key);
        finish(r);
      }
      const keys = new Set(eps.map((e) => e.key));
      for (let i = 0; i < 200; i++) {
        const r = old.pick(ctxAt(i, ctxRng));
        if (r.kind === 'endpoint') expect(keys.has(r.endpoint.key)).toBe(true);
        finish(r);
      }
    });

    it('ignores duplicate endpoint keys and tolerates done() twice', () => {
      const { balancer, ctxRng } = make();
      const eps = balancerTestEndpoints(3);
      balancer.update([...eps, ...eps]);
      for (let i = 0; i < 100; i++) {
        const r = balancer.picker.pick(ctxAt(i, ctxRng));
        expect(r.kind).toBe('endpoint');
        if (r.kind === 'endpoint' && r.done) {
          r.done({ ok: i % 7 !== 0, latencyMs: 2 });
          r.done({ ok: true, latencyMs: 2 });
        }
      }
    });

    it('never throws on odd pick contexts', () => {
      const { balancer } = make();
      balancer.update(balancerTestEndpoints(4));
      const odd: (PickContext | undefined)[] = [
        undefined,
        {},
        { hashKey: '' },
        { hashKey: 'ünïcødé ✓' },
        { hash: 0 },
        { hash: -1 },
        { hash: Number.NaN },
        { hash: 2 ** 60 },
        { hash: -(2n ** 70n) },
        { clientIP: '' },
        { clientIP: '::ffff:127.0.0.9' },
      ];
      for (const ctx of odd) {
        const r = balancer.picker.pick(ctx);
        expect(r.kind).toBe('endpoint');
        finish(r);
      }
    });

    it('tells subscribers about each new picker until they unsubscribe', () => {
      const { balancer } = make();
      let heard = 0;
      const off = balancer.subscribe(() => {
        heard++;
      });
      balancer.update(balancerTestEndpoints(2));
      expect(heard).toBeGreaterThanOrEqual(1);
      const seen = heard;
      off();
      balancer.update(balancerTestEndpoints(3));
      expect(heard).toBe(seen);
      balancer.close();
    });

    it('gives the same picks for the same seed', () => {
      const run = () => {
        const { balancer, ctxRng } = make(seed + 1);
        balancer.update(balancerTestEndpoints(7));
        const out: string[] = [];
        for (let i = 0; i < 300; i++) {
          const r = balancer.picker.pick(ctxAt(i, ctxRng));
          out.push(r.kind === 'endpoint' ? r.endpoint.key : r.reason);
          finish(r);
        }
        return out;
      };
      expect(run()).toEqual(run());
    });

    if (distribution !== 'none') {
      it(`spreads picks evenly over equal endpoints (${picks} picks)`, () => {
        const { balancer, ctxRng } = make();
        const eps = balancerTestEndpoints(10);
        balancer.update(eps);
        checkSpread(countPicks(balancer, eps, picks, ctxRng), expectedCounts(picks, eps.length));
      });
    }

    if (options.weighted && distribution !== 'none') {
      it('picks in proportion to endpoint weights', () => {
        const { balancer, ctxRng } = make();
        const weights = [1, 2, 3, 4];
        const eps = balancerTestEndpoints(4, weights);
        balancer.update(eps);
        checkSpread(countPicks(balancer, eps, picks, ctxRng), expectedCounts(picks, weights));
      });
    }
  });
}
