import { describe, expect, it } from 'vitest';
import { BalancerConfigError } from '../../src/balancers/config';
import { MaglevBalancer } from '../../src/balancers/maglev';
import { RandomBalancer } from '../../src/balancers/random';
import {
  BalancerRegistry,
  builtinBalancerFactories,
  createBalancer,
  createBuiltinBalancerRegistry,
} from '../../src/balancers/registry';
import { RoundRobinBalancer } from '../../src/balancers/round-robin';
import { SeededRng } from '../../src/core/random';
import { balancerTestEndpoints } from '../../src/testing/balancer-conformance';

describe('BalancerRegistry', () => {
  it('creates each built-in policy by wire name', () => {
    const reg = createBuiltinBalancerRegistry();
    expect(reg.names()).toEqual([
      'random',
      'round_robin',
      'weighted_round_robin',
      'least_request',
      'peak_ewma',
      'ring_hash',
      'maglev',
      'session_affinity',
      'outlier_detection',
    ]);
    expect(reg.create({ maglev: { tableSize: 65537 } })).toBeInstanceOf(MaglevBalancer);
    expect(reg.create({ round_robin: {} }).name).toBe('round_robin');
    expect(
      reg.create({
        outlier_detection: { childPolicy: { session_affinity: { childPolicy: { random: {} } } } },
      }).name,
    ).toBe('outlier_detection(session_affinity(random))');
  });

  it('takes the first known policy of a list (gRPC loadBalancingConfig rule)', () => {
    const b = createBalancer([{ fancy_future_policy: {} }, { random: {} }]);
    expect(b).toBeInstanceOf(RandomBalancer);
    expect(() => createBalancer([{ nope: {} }])).toThrow('loadBalancingConfig: no known policy in the list');
  });

  it('rejects bad configs with field paths', () => {
    const reg = createBuiltinBalancerRegistry();
    const err = (json: unknown) => {
      try {
        reg.parse(json as never);
      } catch (e) {
        expect(e).toBeInstanceOf(BalancerConfigError);
        return (e as Error).message;
      }
      return 'no error';
    };
    expect(err({ maglev: { tableSize: 65536 } })).toBe(
      'loadBalancingConfig.maglev.tableSize: must be a prime number, got 65536',
    );
    expect(err({ maglev: { tableSize: 5000017 } })).toBe(
      'loadBalancingConfig.maglev.tableSize: must be <= 5000011, got 5000017',
    );
    expect(err({ maglev: {}, random: {} })).toBe(
      'loadBalancingConfig: must name exactly one policy, got maglev, random',
    );
    expect(err({ unknown: {} })).toMatch(/^loadBalancingConfig: unknown policy "unknown"/);
    expect(err({ session_affinity: {} })).toBe(
      'loadBalancingConfig.session_affinity.childPolicy: Required value',
    );
    expect(err({ outlier_detection: { childPolicy: { ring_hash: { minimumRingSize: 0 } } } })).toBe(
      'loadBalancingConfig.outlier_detection.childPolicy.ring_hash.minimumRingSize: must be >= 1, got 0',
    );
    expect(err({ random: { seed: 1 } })).toBe('loadBalancingConfig.random.seed: unknown field (known: none)');
    expect(err('random')).toBe('loadBalancingConfig: must be an object with exactly one policy name as key');
  });

  it('is an explicit instance: registering in one does not affect another', () => {
    const a = new BalancerRegistry(builtinBalancerFactories());
    a.register({ name: 'mine', parse: () => ({}), create: () => new RoundRobinBalancer() });
    expect(a.has('mine')).toBe(true);
    expect(createBuiltinBalancerRegistry().has('mine')).toBe(false);
    expect(() =>
      a.register({ name: 'mine', parse: () => ({}), create: () => new RoundRobinBalancer() }),
    ).toThrow('already registered');
  });

  it('passes the injected rng to the policy', () => {
    const picks = (seed: number) => {
      const b = createBalancer({ random: {} }, { rng: new SeededRng(seed) });
      b.update(balancerTestEndpoints(50));
      return Array.from({ length: 20 }, () => {
        const r = b.picker.pick();
        return r.kind === 'endpoint' ? r.endpoint.key : '';
      });
    };
    expect(picks(1)).toEqual(picks(1));
    expect(picks(1)).not.toEqual(picks(2));
  });
});

describe('hot path: shared frozen results', () => {
  it('random, round-robin and Maglev return frozen results shared across picks', () => {
    for (const b of [
      new RandomBalancer(),
      new RoundRobinBalancer(),
      new MaglevBalancer({ tableSize: 251 }),
    ]) {
      b.update(balancerTestEndpoints(1));
      const a = b.picker.pick({ hash: 1 });
      const c = b.picker.pick({ hashKey: 'x' });
      expect(a).toBe(c);
      expect(Object.isFrozen(a)).toBe(true);
    }
  });
});
