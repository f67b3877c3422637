import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../src/core/random';
import type { Service } from '../../src/core/types';
import {
  Cidr,
  ClusterIPRange,
  formatIP,
  isAllocationError,
  NodePortAllocator,
  PodIPAllocator,
  PoolLoadBalancerProvider,
} from '../../src/net';

type Op =
  | { kind: 'next' }
  | { kind: 'request'; i: number }
  | { kind: 'mark'; i: number }
  | { kind: 'release'; i: number };

const op = (max: number): fc.Arbitrary<Op> =>
  fc.oneof(
    fc.constant<Op>({ kind: 'next' }),
    fc.integer({ min: 0, max }).map<Op>((i) => ({ kind: 'request', i })),
    fc.integer({ min: 0, max }).map<Op>((i) => ({ kind: 'mark', i })),
    fc.integer({ min: 0, max }).map<Op>((i) => ({ kind: 'release', i })),
  );

/**
 * Runs random operations against an allocator and a model (a Set of what is held). Checks after
 * every step: the allocator agrees with the model, never hands out something held, and
 * used() + free() stays equal to the range size.
 */
function checkAgainstModel<T>(
  ops: Op[],
  size: number,
  valueAt: (i: number) => T,
  a: {
    allocate(v: T): void;
    allocateNext(): T;
    markAllocated(v: T): boolean;
    release(v: T): boolean;
    has(v: T): boolean;
    contains(v: T): boolean;
    used(): number;
    free(): number | bigint;
  },
): void {
  const held = new Set<T>();
  for (const o of ops) {
    if (o.kind === 'next') {
      try {
        const v = a.allocateNext();
        expect(held.has(v)).toBe(false);
        expect(a.contains(v)).toBe(true);
        held.add(v);
      } catch (e) {
        if (!isAllocationError(e, 'full')) throw e;
        expect(held.size).toBe(size);
      }
    } else {
      const v = valueAt(o.i);
      const inRange = a.contains(v);
      if (o.kind === 'request') {
        try {
          a.allocate(v);
          expect(inRange && !held.has(v)).toBe(true);
          held.add(v);
        } catch (e) {
          if (!isAllocationError(e)) throw e;
          expect(e.kind).toBe(inRange ? 'allocated' : 'not-in-range');
        }
      } else if (o.kind === 'mark') {
        if (inRange) {
          expect(a.markAllocated(v)).toBe(!held.has(v));
          held.add(v);
        } else {
          expect(() => a.markAllocated(v)).toThrow();
        }
      } else {
        expect(a.release(v)).toBe(held.delete(v));
      }
    }
    expect(a.used()).toBe(held.size);
    expect(BigInt(a.used()) + BigInt(a.free())).toBe(BigInt(size));
  }
  for (const v of held) expect(a.has(v)).toBe(true);
}

describe('ClusterIPRange properties', () => {
  it('matches a set model over random operations (small IPv4 and IPv6 ranges)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(
          '10.0.0.0/30',
          '10.0.0.0/29',
          '10.0.0.0/27',
          '10.0.0.0/26',
          'fd00::/124',
          'fd00::/122',
        ),
        fc.integer(),
        fc.array(op(80), { maxLength: 200 }),
        (cidrText, seed, ops) => {
          const cidr = Cidr.parse(cidrText);
          const r = new ClusterIPRange(cidr, { rng: new SeededRng(seed) });
          // values around the block: network, broadcast and neighbours included
          const valueAt = (i: number) => formatIP(cidr.family, cidr.network - 4n + BigInt(i));
          checkAgainstModel(ops, Number(r.size), valueAt, r);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('hands out every usable address exactly once when drained', () => {
    fc.assert(
      fc.property(fc.integer({ min: 24, max: 30 }), fc.integer(), (prefix, seed) => {
        const r = new ClusterIPRange(`172.16.0.0/${prefix}`, { rng: new SeededRng(seed) });
        const order: string[] = [];
        for (let i = 0; i < Number(r.size); i++) order.push(r.allocateNext());
        const seen = new Set(order);
        expect(seen.size).toBe(Number(r.size));
        expect(seen.has('172.16.0.0')).toBe(false);
        expect(() => r.allocateNext()).toThrow('range is full');
        // upper band first: once a static-band address is handed out, only static ones follow
        const firstStatic = order.findIndex((ip) => r.inStaticBand(ip));
        const upperSize = Number(r.size) - r.staticBandSize;
        expect(firstStatic === -1 ? order.length : firstStatic).toBe(upperSize);
        expect(order.slice(upperSize).every((ip) => r.inStaticBand(ip))).toBe(true);
      }),
      { numRuns: 30 },
    );
  });
});

describe('NodePortAllocator properties', () => {
  it('matches a set model over random operations', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 }),
        fc.integer(),
        fc.array(op(70), { maxLength: 200 }),
        (size, seed, ops) => {
          const a = new NodePortAllocator({ base: 30000, size }, { rng: new SeededRng(seed) });
          checkAgainstModel(ops, size, (i) => 29995 + i, a);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('prefers the upper band for dynamic allocation', () => {
    fc.assert(
      fc.property(fc.integer({ min: 17, max: 300 }), fc.integer(), (size, seed) => {
        const a = new NodePortAllocator({ base: 30000, size }, { rng: new SeededRng(seed) });
        const upper = size - a.staticBandSize;
        for (let i = 0; i < upper; i++) expect(a.inStaticBand(a.allocateNext())).toBe(false);
        expect(a.inStaticBand(a.allocateNext())).toBe(true);
      }),
      { numRuns: 50 },
    );
  });
});

describe('PodIPAllocator properties', () => {
  it('never hands out an address twice, nor the gateway, and never leaks', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 26, max: 30 }),
        fc.array(fc.oneof(fc.constant(-1), fc.nat(70)), { maxLength: 200 }),
        (prefix, steps) => {
          const a = new PodIPAllocator(`10.1.0.0/${prefix}`);
          const capacity = 2 ** (32 - prefix) - 3;
          const live: string[] = [];
          for (const s of steps) {
            if (s < 0 || live.length === 0) {
              try {
                const [ip] = a.allocate();
                expect(ip).not.toBe('10.1.0.1');
                expect(live).not.toContain(ip);
                live.push(ip as string);
              } catch (e) {
                if (!isAllocationError(e, 'full')) throw e;
                expect(live.length).toBe(capacity);
              }
            } else {
              const [ip] = live.splice(s % live.length, 1);
              expect(a.release(ip as string)).toBe(true);
            }
            expect(a.used()).toBe(live.length);
            expect(a.free()).toBe(BigInt(capacity - live.length));
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('PoolLoadBalancerProvider properties', () => {
  const svc = (i: number): Service => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: `s${i}`, namespace: 'default' },
    spec: { type: 'LoadBalancer' },
  });

  it('never gives one address to two services and frees on release', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat(12)), { maxLength: 150 }), (steps) => {
        const p = new PoolLoadBalancerProvider({ pools: ['192.0.2.0/29'] });
        const owner = new Map<number, string>();
        for (const [create, i] of steps) {
          if (create) {
            try {
              const [ingress] = p.ensure(svc(i));
              owner.set(i, ingress?.ip as string);
            } catch (e) {
              expect(owner.has(i)).toBe(false);
              expect(owner.size).toBe(8);
              expect(String(e)).toContain('no available IPs');
            }
          } else {
            p.release(svc(i));
            owner.delete(i);
          }
          expect(new Set(owner.values()).size).toBe(owner.size);
          expect(p.used()).toBe(owner.size);
        }
      }),
      { numRuns: 100 },
    );
  });
});
