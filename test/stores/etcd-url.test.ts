import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyCodec, prefixEnd } from '../../src/stores/etcd/codec';
import { isEtcdUrl, parseEtcdUrl } from '../../src/stores/etcd/url';

describe('parseEtcdUrl', () => {
  it('reads host, port and prefix', () => {
    expect(parseEtcdUrl('etcd://127.0.0.1:2379')).toEqual({
      endpoints: ['http://127.0.0.1:2379'],
      prefix: '',
    });
    expect(parseEtcdUrl('etcd://localhost/svcroute/')).toEqual({
      endpoints: ['http://localhost:2379'],
      prefix: '/svcroute',
    });
    expect(parseEtcdUrl('etcds://a:1,b:2,[::1]:3/x/y')).toEqual({
      endpoints: ['https://a:1', 'https://b:2', 'https://[::1]:3'],
      prefix: '/x/y',
    });
  });

  it('refuses what is not an etcd URL, quoting it', () => {
    for (const bad of [
      'http://127.0.0.1:2379',
      'etcd://',
      'etcd://h:0',
      'etcd://h:70000',
      'etcd://h:p',
      'etcd://a b',
    ])
      expect(() => parseEtcdUrl(bad)).toThrow(JSON.stringify(bad));
    expect(isEtcdUrl('etcd://x')).toBe(true);
    expect(isEtcdUrl('memory')).toBe(false);
  });

  it('round-trips any host, port and prefix', () => {
    fc.assert(
      fc.property(
        fc.domain(),
        fc.integer({ min: 1, max: 65535 }),
        fc.array(fc.stringMatching(/^[a-z0-9_-]{1,8}$/), { maxLength: 3 }),
        (host, port, segments) => {
          const prefix = segments.map((s) => `/${s}`).join('');
          const u = parseEtcdUrl(`etcd://${host}:${port}${prefix}`);
          expect(u).toEqual({ endpoints: [`http://${host}:${port}`], prefix });
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('etcd key layout', () => {
  it('prefixEnd bounds exactly the keys that start with the prefix', () => {
    expect(prefixEnd(Buffer.from('/a/'))).toEqual(Buffer.from('/a0'));
    expect(prefixEnd(Buffer.from([0x61, 0xff]))).toEqual(Buffer.from([0x62]));
    expect(prefixEnd(Buffer.from([0xff, 0xff]))).toEqual(Buffer.from([0]));
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 6 }),
        fc.uint8Array({ maxLength: 6 }),
        (p, rest) => {
          const prefix = Buffer.from(p);
          const end = prefixEnd(prefix);
          const inside = Buffer.concat([prefix, Buffer.from(rest)]);
          if (end.length === 1 && end[0] === 0) return; // to the end of the keyspace
          expect(Buffer.compare(inside, end)).toBe(-1);
          expect(Buffer.compare(prefix, end)).toBe(-1);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('maps store keys under the prefix and back', () => {
    const c = new KeyCodec('/tenant/');
    expect(c.encode('/registry/x').toString()).toBe('/tenant/registry/x');
    expect(c.decode(Buffer.from('/tenant/registry/x'))).toBe('/registry/x');
    expect(c.decode(Buffer.from('/other/registry/x'))).toBeUndefined();
  });
});
