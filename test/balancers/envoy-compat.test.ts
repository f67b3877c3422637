import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BalancerConfigError } from '../../src/balancers/config';
import { mod64, modSafe } from '../../src/balancers/hash-input';
import { buildMaglevTable, MaglevBalancer, parseMaglevConfig } from '../../src/balancers/maglev';
import {
  buildHashRing,
  parseRingHashConfig,
  RingHashBalancer,
  ringLookup,
} from '../../src/balancers/ring-hash';
import { xxHash64 } from '../../src/balancers/xxhash64';
import type { Endpoint } from '../../src/core/snapshot';

// Hosts of Envoy's maglev_lb_test.cc and ring_hash_lb_test.cc: tcp://127.0.0.1:90 … :95.
function ep(port: number, extra: Partial<Endpoint> = {}): Endpoint {
  return {
    ip: '127.0.0.1',
    port,
    key: `127.0.0.1:${port}`,
    ready: true,
    serving: true,
    terminating: false,
    ...extra,
  };
}
const ports = [90, 91, 92, 93, 94, 95];
const hosts = ports.map((p) => ep(p));

function pickPort(
  b: { picker: { pick(ctx: { hash: number | bigint }): { kind: string } } },
  hash: number | bigint,
) {
  const r = b.picker.pick({ hash }) as { kind: string; endpoint?: Endpoint };
  return r.endpoint?.port;
}

describe('Maglev matches Envoy (maglev_lb_test.cc)', () => {
  it('Basic: table size 7, six hosts → [92, 94, 90, 91, 95, 90, 93]', () => {
    const b = new MaglevBalancer({ tableSize: 7 });
    b.update(hosts);
    expect(b.table().map((e) => e.port)).toEqual([92, 94, 90, 91, 95, 90, 93]);
    // Envoy picks table[hash % 7] for hash = 0..20
    const expected = [2, 4, 0, 1, 5, 0, 3];
    for (let i = 0; i < 21; i++) expect(pickPort(b, i)).toBe(ports[expected[i % 7]!]);
  });

  it('BasicWithHostName: hostnames "90"…"95" → [92, 95, 90, 93, 94, 91, 90]', () => {
    const b = new MaglevBalancer({ tableSize: 7, hostKey: 'hostname' });
    b.update(ports.map((p) => ep(p, { hostname: String(p) })));
    expect(b.table().map((e) => e.port)).toEqual([92, 95, 90, 93, 94, 91, 90]);
  });

  it('BasicStability: the table does not depend on host order', () => {
    const b = new MaglevBalancer({ tableSize: 7 });
    b.update([...hosts].reverse());
    expect(b.table().map((e) => e.port)).toEqual([92, 94, 90, 91, 95, 90, 93]);
  });

  it("Weighted: weights 1 and 2, table size 17 → Envoy's assignment (6 and 11 entries)", () => {
    const b = new MaglevBalancer({ tableSize: 17 });
    b.update([ep(90, { weight: 1 }), ep(91, { weight: 2 })]);
    const expected = [1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 0, 1].map((i) => 90 + i);
    expect(b.table().map((e) => e.port)).toEqual(expected);
    for (let i = 0; i < 51; i++) expect(pickPort(b, i)).toBe(expected[i % 17]);
  });

  it('SingleHost and WeightedSingleHost: every slot is the one host', () => {
    const b = new MaglevBalancer({ tableSize: 17 });
    b.update([ep(90, { weight: 7 })]);
    expect(new Set(b.table().map((e) => e.port))).toEqual(new Set([90]));
  });

  it('rejects a non-prime table size and defaults to 65537', () => {
    expect(() => parseMaglevConfig({ tableSize: 8 })).toThrow(BalancerConfigError);
    expect(() => parseMaglevConfig({ tableSize: 8 })).toThrow(
      'maglev.tableSize: must be a prime number, got 8',
    );
    expect(parseMaglevConfig({}).tableSize).toBe(65537);
    expect(() => buildMaglevTable([], 7)).toThrow(RangeError);
  });

  it('bigint and 64-bit hashes reduce modulo the table size like Envoy (hash % size)', () => {
    const b = new MaglevBalancer({ tableSize: 7 });
    b.update(hosts);
    const table = [92, 94, 90, 91, 95, 90, 93];
    for (const h of [2n ** 64n - 1n, 2n ** 63n + 12345n, 9007199254740991n]) {
      expect(pickPort(b, h)).toBe(table[Number(h % 7n)]);
    }
    expect(pickPort(b, 9007199254740991)).toBe(table[Number(9007199254740991n % 7n)]);
  });
});

describe('ring hash matches Envoy (ring_hash_lb_test.cc)', () => {
  it("Basic: minimum ring size 12 gives Envoy's 12 points and picks", () => {
    const b = new RingHashBalancer({ minimumRingSize: 12 });
    b.update(hosts);
    const ring = b.ring();
    expect(ring.map((p) => [p.endpoint.port, p.hash])).toEqual([
      [94, 833437586790550860n],
      [92, 928266305478181108n],
      [90, 1033482794131418490n],
      [95, 3551244743356806947n],
      [93, 3851675632748031481n],
      [91, 5583722120771150861n],
      [91, 6311230543546372928n],
      [93, 7700377290971790572n],
      [95, 13144177310400110813n],
      [92, 13444792449719432967n],
      [94, 15516499411664133160n],
      [90, 16117243373044804889n],
    ]);
    expect(pickPort(b, 0)).toBe(94);
    expect(pickPort(b, 2n ** 64n - 1n)).toBe(94);
    expect(pickPort(b, 3551244743356806947n)).toBe(95);
    expect(pickPort(b, 3551244743356806948n)).toBe(93);
    expect(pickPort(b, 16117243373044804880n)).toBe(90);
  });

  it("BasicWithHostName: hostnames hash to Envoy's positions", () => {
    const b = new RingHashBalancer({ minimumRingSize: 12, hostKey: 'hostname' });
    b.update(ports.map((p) => ep(p, { hostname: String(p) })));
    expect(b.ring().map((p) => [p.endpoint.port, p.hash])).toEqual([
      [95, 1975508444536362413n],
      [95, 2376063919839173711n],
      [93, 2386806903309390596n],
      [94, 6749904478991551885n],
      [93, 6803900775736438537n],
      [92, 7225015537174310577n],
      [90, 8787465352164086522n],
      [92, 11282020843382717940n],
      [91, 13723418369486627818n],
      [90, 13776502110861797421n],
      [91, 14338313586354474791n],
      [94, 15364271037087512980n],
    ]);
    expect(pickPort(b, 0)).toBe(95);
    expect(pickPort(b, 7225015537174310577n)).toBe(92);
    expect(pickPort(b, 6803900775736438537n)).toBe(93);
  });

  it('sizes the ring like Envoy: default minimum 1024, whole points per lightest host, capped by the maximum', () => {
    expect(buildHashRing([{ key: 'a', weight: 1 }], 1024).host.length).toBe(1024);
    expect(
      buildHashRing(
        hosts.map((h) => ({ key: h.key, weight: 1 })),
        1024,
      ).host.length,
    ).toBe(1026);
    expect(
      buildHashRing(
        hosts.map((h) => ({ key: h.key, weight: 1 })),
        12,
        6,
      ).host.length,
    ).toBe(6);
    const weighted = buildHashRing(
      [
        { key: 'a', weight: 1 },
        { key: 'b', weight: 3 },
      ],
      8,
    );
    const counts = [0, 0];
    for (const h of weighted.host) counts[h]!++;
    expect(counts).toEqual([2, 6]);
  });

  it("rejects minimum > maximum with Envoy's message", () => {
    expect(() => parseRingHashConfig({ minimumRingSize: 20, maximumRingSize: 10 })).toThrow(
      'ring_hash: minimum_ring_size (20) > maximum_ring_size (10)',
    );
  });
});

describe('request hash reduction', () => {
  it('mod64 and modSafe equal bigint arithmetic (property)', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        fc.integer({ min: 1, max: 5000011 }),
        (h, m) => {
          const low = Number(h & 0xffffffffn);
          const high = Number(h >> 32n);
          expect(mod64(low, high, m)).toBe(Number(h % BigInt(m)));
          const small = h & ((1n << 52n) - 1n);
          expect(modSafe(Number(small), m)).toBe(Number(small % BigInt(m)));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('hashKey is xxHash64 of the key, as Envoy hashes a header value', () => {
  it('picking by hashKey equals picking by its xxHash64 (Maglev and ring hash)', () => {
    const m = new MaglevBalancer({ tableSize: 7 });
    const r = new RingHashBalancer({ minimumRingSize: 12 });
    m.update(hosts);
    r.update(hosts);
    for (const key of ['', 'user-1', 'session=abc', 'ünï', 'x'.repeat(100)]) {
      const h = xxHash64(key);
      expect(pickPort(m, h)).toBe((m.picker.pick({ hashKey: key }) as { endpoint: Endpoint }).endpoint.port);
      expect(pickPort(r, h)).toBe((r.picker.pick({ hashKey: key }) as { endpoint: Endpoint }).endpoint.port);
    }
  });
});

describe('ring lookup', () => {
  it('is the first point at or after the hash, wrapping to the first point (property)', () => {
    const ring = buildHashRing(
      hosts.map((h) => ({ key: h.key, weight: 1 })),
      64,
    );
    const points = Array.from(ring.high, (hi, i) => (BigInt(hi) << 32n) | BigInt(ring.low[i]!));
    const lowerBound = (h: bigint) => {
      const i = points.findIndex((p) => p >= h);
      return Math.max(i, 0);
    };
    const check = (h: bigint) => {
      expect(ringLookup(ring, Number(h & 0xffffffffn), Number(h >> 32n))).toBe(lowerBound(h));
    };
    for (const p of points) {
      check(p);
      check(p + 1n);
      if (p > 0n) check(p - 1n);
    }
    check(1n);
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }), (h) => check(h)),
      { numRuns: 2000 },
    );
  });
});
