import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalIp, cidrContains, parseCidr, parseIp } from '../../../src/backends/iptables/ip';
import { probability } from '../../../src/backends/iptables/probability';
import { parseRule, tokenizeRule } from '../../../src/testing/iptables-parser';

describe('ip parsing with Go sloppy semantics', () => {
  it('keeps leading-zero IPv4 parts decimal', () => {
    expect(canonicalIp('010.001.000.009', 'IPv4')).toBe('10.1.0.9');
    expect(parseIp('256.1.1.1')).toBeUndefined();
    expect(parseIp('1.2.3')).toBeUndefined();
    expect(parseIp(' 1.2.3.4')).toBeUndefined();
    expect(parseIp('1.2.3.4.')).toBeUndefined();
  });
  it('canonicalises IPv6 and treats IPv4-mapped addresses as IPv4', () => {
    expect(canonicalIp('2001:DB8:0:0:0:0:0:1', 'IPv6')).toBe('2001:db8::1');
    expect(canonicalIp('::ffff:1.2.3.4', 'IPv4')).toBe('1.2.3.4');
    expect(canonicalIp('::ffff:1.2.3.4', 'IPv6')).toBeUndefined();
    expect(parseIp('fe80::1%eth0')).toBeUndefined();
  });
  it('canonicalIp agrees with parseIp on dotted digit strings (leading zeros, overflow, part counts)', () => {
    const part = fc.oneof(
      fc.integer({ min: 0, max: 300 }).map(String),
      fc.stringMatching(/^[0-9]{1,4}$/),
      fc.constant(''),
    );
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 5 }), (parts) => {
        const text = parts.join('.');
        const parsed = parseIp(text);
        expect(canonicalIp(text, 'IPv4')).toBe(parsed?.family === 'IPv4' ? parsed.text : undefined);
      }),
      { numRuns: 500 },
    );
    expect(canonicalIp('10.0.0.1', 'IPv4')).toBe('10.0.0.1');
    expect(canonicalIp('10.00.0.1', 'IPv4')).toBe('10.0.0.1');
  });
  it('reduces CIDRs to their network', () => {
    expect(parseCidr('203.0.113.7/25')?.text).toBe('203.0.113.0/25');
    expect(parseCidr('2001:db8::1/64')?.text).toBe('2001:db8::/64');
    expect(parseCidr('10.0.0.0/33')).toBeUndefined();
    expect(parseCidr('10.0.0.0')).toBeUndefined();
  });
  it('round-trips every IPv4 address and agrees with containment', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 32 }), (ip, prefix) => {
        const parsed = parseIp(ip);
        expect(parsed?.text).toBe(ip);
        const cidr = parseCidr(`${ip}/${prefix}`)!;
        expect(cidrContains(cidr, parsed!)).toBe(true);
        expect(parseCidr(cidr.text)?.text).toBe(cidr.text);
      }),
      { numRuns: 300 },
    );
  });
  it('parses what ipaddr-normalised IPv6 text prints back identically', () => {
    fc.assert(
      fc.property(fc.ipV6(), (ip) => {
        const parsed = parseIp(ip);
        expect(parsed).toBeDefined();
        expect(parseIp(parsed!.text)?.text).toBe(parsed!.text);
      }),
      { numRuns: 300 },
    );
  });
});

describe('probability formatting', () => {
  it('is 1/n to ten places, within half a unit of the last place', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000 }), (n) => {
        const text = probability(n);
        expect(text).toMatch(/^[01]\.\d{10}$/);
        expect(Math.abs(Number(text) - 1 / n)).toBeLessThanOrEqual(0.5e-10 + 1e-16);
      }),
      { numRuns: 500 },
    );
  });
});

describe('rule parser', () => {
  it('reads back generated kube-proxy-style rules', () => {
    const word = fc.stringMatching(/^[A-Za-z0-9/._:-]{1,12}$/);
    fc.assert(
      fc.property(
        fc.record({
          comment: fc.stringMatching(/^[a-z0-9/ :>.-]{1,20}$/),
          src: fc.option(fc.ipV4(), { nil: undefined }),
          negate: fc.boolean(),
          port: fc.integer({ min: 1, max: 65535 }),
          target: word,
        }),
        ({ comment, src, negate, port, target }) => {
          const parts = ['-m', 'comment', '--comment', `"${comment}"`, '-m', 'tcp', '-p', 'tcp'];
          if (src) parts.push(...(negate ? ['!'] : []), '-s', src);
          parts.push('--dport', String(port), '-j', target);
          const text = `-A CHAIN ${parts.join(' ')}`;
          const words = tokenizeRule(text);
          const rule = parseRule('CHAIN', words.slice(2), text);
          expect(rule.comment).toBe(comment);
          expect(rule.target).toBe(target);
          expect(rule.matches).toContainEqual({ kind: 'dport', negate: false, from: port, to: port });
          if (src) expect(rule.matches).toContainEqual({ kind: 'source', negate, cidr: src });
        },
      ),
      { numRuns: 200 },
    );
  });
});
