import { describe, expect, it } from 'vitest';
import {
  Cidr,
  CidrParseError,
  canonicalIP,
  cidrContains,
  cidrFamily,
  kubernetesRangeSize,
  parseIP,
  validateServiceCIDRs,
} from '../../src/net';

describe('parseIP', () => {
  it('parses dotted decimal IPv4 and IPv6', () => {
    expect(parseIP('10.96.0.1')).toEqual({ family: 'IPv4', value: 0x0a600001n });
    expect(parseIP('::1')).toEqual({ family: 'IPv6', value: 1n });
  });

  it('reads leading zeros as decimal, like the API server', () => {
    expect(parseIP('010.000.000.001')?.value).toBe(0x0a000001n);
  });

  it.each(['10.1', '0x0a.0.0.1', '256.0.0.1', '1.2.3.4.5', '', 'fe80::1%eth0', 'abc', '1.2.3.-1'])(
    'rejects %j',
    (text) => {
      expect(parseIP(text)).toBeUndefined();
    },
  );

  it('prints canonical forms', () => {
    expect(canonicalIP('2001:DB8:0:0:0:0:0:1')).toBe('2001:db8::1');
    expect(canonicalIP('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(canonicalIP('fd00:0:0:0:0:0:0:0')).toBe('fd00::');
    expect(canonicalIP('010.1.2.3')).toBe('10.1.2.3');
    expect(canonicalIP('nope')).toBeUndefined();
  });
});

describe('Cidr', () => {
  it('masks host bits and prints the canonical form', () => {
    const c = Cidr.parse('10.96.7.9/12');
    expect(c.toString()).toBe('10.96.0.0/12');
    expect(c.family).toBe('IPv4');
    expect(c.size).toBe(1048576n);
    expect(Cidr.parse('FD00:10:96::5/108').toString()).toBe('fd00:10:96::/108');
  });

  it('answers membership per family', () => {
    const c = Cidr.parse('10.0.0.0/30');
    expect(c.contains('10.0.0.0')).toBe(true);
    expect(c.contains('10.0.0.3')).toBe(true);
    expect(c.contains('10.0.0.4')).toBe(false);
    expect(c.contains('::a00:1')).toBe(false);
    expect(cidrContains('fd00::/120', 'fd00::ff')).toBe(true);
    expect(cidrContains('fd00::/120', 'fd00::100')).toBe(false);
    expect(cidrContains('bad', '10.0.0.1')).toBe(false);
    expect(cidrFamily('fd00::/64')).toBe('IPv6');
    expect(cidrFamily('10.0.0.0/33')).toBeUndefined();
  });

  it('indexes addresses like GetIndexedIP', () => {
    const c = Cidr.parse('10.96.0.0/12');
    expect(c.nth(1)).toBe('10.96.0.1');
    expect(c.nth(10)).toBe('10.96.0.10');
    expect(c.nth(c.size - 1n)).toBe('10.111.255.255');
    expect(() => c.nth(c.size)).toThrow(RangeError);
    expect(Cidr.parse('fd00::/64').nth(65536)).toBe('fd00::1:0');
  });

  it("rejects bad input with Go's message", () => {
    for (const bad of ['10.0.0.0', '10.0.0.0/33', '10.0.0/8', 'fd00::/129', '10.0.0.0/-1', '10.0.0.0/ 8']) {
      expect(() => Cidr.parse(bad)).toThrow(CidrParseError);
      expect(() => Cidr.parse(bad)).toThrow(`invalid CIDR address: ${bad}`);
    }
  });

  it('detects overlaps', () => {
    expect(Cidr.parse('10.0.0.0/8').overlaps(Cidr.parse('10.1.0.0/16'))).toBe(true);
    expect(Cidr.parse('10.0.0.0/16').overlaps(Cidr.parse('10.1.0.0/16'))).toBe(false);
  });

  it('reports RangeSize as upstream (0 for /0-/1, capped at 2^63-1)', () => {
    expect(kubernetesRangeSize(Cidr.parse('10.0.0.0/24'))).toBe(256n);
    expect(kubernetesRangeSize(Cidr.parse('0.0.0.0/1'))).toBe(0n);
    expect(kubernetesRangeSize(Cidr.parse('fd00::/64'))).toBe(2n ** 63n - 1n);
    expect(kubernetesRangeSize(Cidr.parse('fd00::/120'))).toBe(256n);
  });
});

describe('validateServiceCIDRs', () => {
  it('accepts one CIDR or a dual-stack pair', () => {
    expect(validateServiceCIDRs('10.96.0.0/12')).toEqual([]);
    expect(validateServiceCIDRs('10.96.0.0/12,fd00:10:96::/112')).toEqual([]);
    expect(validateServiceCIDRs(['fd00::/64', '10.0.0.0/16'])).toEqual([]);
  });

  it("reports the API server's messages", () => {
    expect(validateServiceCIDRs('10.96.0.0/12,10.200.0.0/16')).toEqual([
      '--service-cluster-ip-range[0] and --service-cluster-ip-range[1] must be of different IP family',
    ]);
    expect(validateServiceCIDRs('fd00::/48')).toEqual([
      'shortest allowed prefix length for service CIDR is 64, got 48',
    ]);
    expect(validateServiceCIDRs('10.0.0.0/8,fd00::/64,10.1.0.0/16')).toContain(
      '--service-cluster-ip-range must not contain more than two entries',
    );
    expect(validateServiceCIDRs('10.0.0.300/8')).toEqual(['invalid CIDR address: 10.0.0.300/8']);
    expect(validateServiceCIDRs('')).toEqual(['--service-cluster-ip-range must contain at least one entry']);
  });
});
