import { describe, expect, it } from 'vitest';
import { formatFieldError } from '../../src/core/errors';
import { SeededRng } from '../../src/core/random';
import {
  AllocationError,
  bitmapIPNotInRangeMessage,
  Cidr,
  ClusterIPAllocator,
  ClusterIPRange,
  clusterIPAllocationFieldError,
  clusterIPExhaustedError,
  clusterIPFamilyFieldError,
  isAllocationError,
  parseIP,
  serviceIPStaticBandSize,
} from '../../src/net';

const rng = () => new SeededRng(42);

function errorOf(fn: () => unknown): AllocationError {
  try {
    fn();
  } catch (e) {
    if (e instanceof AllocationError) return e;
    throw e;
  }
  throw new Error('expected an AllocationError');
}

function drain(r: ClusterIPRange): string[] {
  const out: string[] = [];
  for (;;) {
    try {
      out.push(r.allocateNext());
    } catch (e) {
      if (isAllocationError(e, 'full')) return out;
      throw e;
    }
  }
}

describe('static band size (KEP-3070)', () => {
  it.each([
    ['10.0.0.0/30', 0],
    ['10.0.0.0/28', 0],
    ['10.0.0.0/27', 16],
    ['10.0.0.0/24', 16],
    ['10.0.0.0/22', 64],
    ['10.0.0.0/20', 256],
    ['10.96.0.0/12', 256],
    ['fd00::/124', 0],
    ['fd00::/120', 16],
    ['fd00::/108', 256],
    ['fd00::/64', 256],
  ])('%s → %i', (cidr, want) => {
    expect(serviceIPStaticBandSize(Cidr.parse(cidr))).toBe(want);
  });
});

describe('ClusterIPRange', () => {
  it('never hands out the network or IPv4 broadcast address', () => {
    const r = new ClusterIPRange('10.0.0.0/24', { rng: rng() });
    expect(r.size).toBe(254n);
    expect(r.contains('10.0.0.0')).toBe(false);
    expect(r.contains('10.0.0.255')).toBe(false);
    expect(r.contains('10.0.0.1')).toBe(true);
    expect(r.contains('10.0.0.254')).toBe(true);
    const e = errorOf(() => r.allocate('10.0.0.255'));
    expect(e.kind).toBe('not-in-range');
    expect(e.message).toBe('the provided network does not match the current range');
    expect(errorOf(() => r.allocate('10.0.0.0')).kind).toBe('not-in-range');
    expect(errorOf(() => r.allocate('10.0.1.1')).kind).toBe('not-in-range');
    expect(errorOf(() => r.allocate('fd00::1')).kind).toBe('not-in-range');
  });

  it('reserves requested addresses once', () => {
    const r = new ClusterIPRange('10.0.0.0/24', { rng: rng() });
    r.allocate('10.0.0.10');
    expect(r.has('10.0.0.10')).toBe(true);
    const e = errorOf(() => r.allocate('10.0.0.10'));
    expect(e.kind).toBe('allocated');
    expect(e.message).toBe('provided IP is already allocated');
    expect(r.used()).toBe(1);
    expect(r.free()).toBe(253n);
  });

  it('releases, and a released address can be requested again', () => {
    const r = new ClusterIPRange('10.0.0.0/24', { rng: rng() });
    r.allocate('10.0.0.10');
    expect(r.release('10.0.0.10')).toBe(true);
    expect(r.release('10.0.0.10')).toBe(false);
    expect(r.release('192.168.0.1')).toBe(false);
    expect(r.release('garbage')).toBe(false);
    expect(r.has('10.0.0.10')).toBe(false);
    r.allocate('10.0.0.10');
    expect(r.used()).toBe(1);
  });

  it('gives the kubernetes service the first usable address, inside the static band', () => {
    expect(new ClusterIPRange('10.96.0.0/12').firstAddress()).toBe('10.96.0.1');
    expect(new ClusterIPRange('fd00:10:96::/112').firstAddress()).toBe('fd00:10:96::1');
    const r = new ClusterIPRange('10.96.0.0/12');
    expect(r.inStaticBand('10.96.0.1')).toBe(true);
    expect(r.inStaticBand('10.96.1.0')).toBe(true); // offset 256: .0.1 … .1.0
    expect(r.inStaticBand('10.96.1.1')).toBe(false);
  });

  it('allocates dynamically from the upper band first, then the lower band, then reports full', () => {
    const r = new ClusterIPRange('10.0.0.0/24', { rng: rng() });
    const all = drain(r);
    expect(all).toHaveLength(254);
    expect(new Set(all).size).toBe(254);
    const offsets = all.map((ip) => Number((parseIP(ip)?.value ?? 0n) - 0x0a000000n));
    // the first 238 come from .17-.254, the last 16 from .1-.16
    expect(offsets.slice(0, 238).every((o) => o >= 17 && o <= 254)).toBe(true);
    expect(offsets.slice(238).sort((a, b) => a - b)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    const e = errorOf(() => r.allocateNext());
    expect(e.kind).toBe('full');
    expect(e.message).toBe('range is full');
  });

  it('leaves requested static addresses alone while the upper band has room', () => {
    const r = new ClusterIPRange('10.0.0.0/27', { rng: rng() }); // 30 usable, band 16
    r.allocate('10.0.0.5');
    for (let i = 0; i < 14; i++) expect(r.inStaticBand(r.allocateNext())).toBe(false);
    expect(r.inStaticBand(r.allocateNext())).toBe(true);
  });

  it('enumerates a /30 exactly', () => {
    const r = new ClusterIPRange('192.168.1.0/30', { rng: rng() });
    expect(r.size).toBe(2n);
    expect(drain(r).sort()).toEqual(['192.168.1.1', '192.168.1.2']);
    expect(r.free()).toBe(0n);
  });

  it('enumerates an IPv4 /28 exactly (no band: 16 addresses or fewer)', () => {
    const r = new ClusterIPRange('10.1.2.16/28', { rng: rng() });
    expect(r.staticBandSize).toBe(0);
    const want = Array.from({ length: 14 }, (_, i) => `10.1.2.${17 + i}`);
    expect(drain(r).sort()).toEqual([...want].sort());
  });

  it.each(['10.0.0.0/31', '10.0.0.7/32', 'fd00::/128'])('has no usable address in %s', (cidr) => {
    const r = new ClusterIPRange(cidr, { rng: rng() });
    expect(r.size).toBe(0n);
    expect(errorOf(() => r.allocateNext()).kind).toBe('full');
    expect(errorOf(() => r.allocate(Cidr.parse(cidr).nth(0))).kind).toBe('not-in-range');
    expect(() => r.firstAddress()).toThrow(RangeError);
  });

  it('IPv6 /127 has one usable address (no broadcast in IPv6)', () => {
    const r = new ClusterIPRange('fd00::/127', { rng: rng() });
    expect(drain(r)).toEqual(['fd00::1']);
  });

  it('IPv6 /120: the last address is usable, the band is 16', () => {
    const r = new ClusterIPRange('fd00::/120', { rng: rng() });
    expect(r.size).toBe(255n);
    expect(r.staticBandSize).toBe(16);
    r.allocate('fd00::ff');
    const all = drain(r);
    expect(all).toHaveLength(254);
    expect(all.slice(0, 255 - 16 - 1).every((ip) => !r.inStaticBand(ip))).toBe(true);
  });

  it('IPv6 /64 uses the whole block (no 65536 cap since the IPAddress allocator) and refuses /63', () => {
    const r = new ClusterIPRange('fd00:1::/64', { rng: rng() });
    expect(r.size).toBe(2n ** 64n - 1n);
    r.allocate('fd00:1::ffff:ffff:ffff:ffff');
    r.allocate('fd00:1::1:0'); // beyond what the old bitmap allocator covered
    for (let i = 0; i < 50; i++) {
      const ip = r.allocateNext();
      expect(Cidr.parse('fd00:1::/64').contains(ip)).toBe(true);
      expect(r.inStaticBand(ip)).toBe(false);
    }
    expect(r.used()).toBe(52);
    expect(r.free()).toBe(2n ** 64n - 1n - 52n);
    expect(() => new ClusterIPRange('fd00::/63')).toThrow(
      'shortest allowed prefix length for service CIDR is 64, got 63',
    );
  });

  it('markAllocated is idempotent and range-checked', () => {
    const r = new ClusterIPRange('10.0.0.0/24');
    expect(r.markAllocated('10.0.0.9')).toBe(true);
    expect(r.markAllocated('10.0.0.9')).toBe(false);
    expect(r.used()).toBe(1);
    expect(errorOf(() => r.markAllocated('10.0.0.255')).kind).toBe('not-in-range');
    expect([...r.allocated()]).toEqual(['10.0.0.9']);
  });

  it('is deterministic for a seeded Rng', () => {
    const a = new ClusterIPRange('10.96.0.0/12', { rng: new SeededRng(7) });
    const b = new ClusterIPRange('10.96.0.0/12', { rng: new SeededRng(7) });
    const seqA = Array.from({ length: 20 }, () => a.allocateNext());
    const seqB = Array.from({ length: 20 }, () => b.allocateNext());
    expect(seqA).toEqual(seqB);
  });
});

describe('ClusterIPAllocator', () => {
  it('routes families in a dual-stack cluster', () => {
    const a = new ClusterIPAllocator(['10.96.0.0/16', 'fd00:10:96::/112'], { rng: rng() });
    expect(a.primaryFamily).toBe('IPv4');
    expect(a.families).toEqual(['IPv4', 'IPv6']);
    expect(a.dualStack).toBe(true);
    expect(a.cidrs()).toEqual(['10.96.0.0/16', 'fd00:10:96::/112']);
    expect(parseIP(a.allocateNext())?.family).toBe('IPv4');
    expect(parseIP(a.allocateNext('IPv6'))?.family).toBe('IPv6');
    a.allocate('fd00:10:96::a');
    expect(a.has('fd00:10:96::a')).toBe(true);
    expect(a.forFamily('IPv6').used()).toBe(2);
    expect(a.used()).toBe(3);
    expect(a.free('IPv4')).toBe(65534n - 1n);
    expect(a.firstAddress()).toBe('10.96.0.1');
    expect(a.firstAddress('IPv6')).toBe('fd00:10:96::1');
    expect(a.release('fd00:10:96::a')).toBe(true);
    expect(a.contains('fd00:10:96::ffff')).toBe(true);
    expect(a.contains('10.97.0.1')).toBe(false);
  });

  it('takes the comma-separated flag form; the first entry is primary', () => {
    const a = new ClusterIPAllocator('fd00::/108,10.0.0.0/16');
    expect(a.primaryFamily).toBe('IPv6');
    expect(a.firstAddress()).toBe('fd00::1');
  });

  it('reports a family that is not configured', () => {
    const a = new ClusterIPAllocator('10.96.0.0/12');
    const e = errorOf(() => a.allocate('fd00::1'));
    expect(e.kind).toBe('family-not-configured');
    expect(e.message).toBe('IPv6 is not configured on this cluster');
    expect(errorOf(() => a.allocateNext('IPv6')).kind).toBe('family-not-configured');
    expect(a.release('fd00::1')).toBe(false);
    expect(a.has('fd00::1')).toBe(false);
    expect(errorOf(() => a.allocate('not-an-ip')).message).toBe(
      'the provided network does not match the current range',
    );
  });

  it('refuses two CIDRs of one family, or none', () => {
    expect(() => new ClusterIPAllocator(['10.0.0.0/16', '10.1.0.0/16'])).toThrow(
      '--service-cluster-ip-range[0] and --service-cluster-ip-range[1] must be of different IP family',
    );
    expect(() => new ClusterIPAllocator([])).toThrow(RangeError);
  });

  it('supports the reservation flow of a shared store without duplicates', () => {
    // Two hosts with their own local view and one store of reservation keys (create-if-absent).
    const store = new Set<string>();
    const hosts = [1, 2].map((seed) => new ClusterIPAllocator('10.0.0.0/26', { rng: new SeededRng(seed) }));
    const commit = (ip: string) => {
      if (store.has(ip)) return false;
      store.add(ip);
      return true;
    };
    const owned: string[] = [];
    for (let i = 0; i < 62; i++) {
      const host = hosts[i % 2] as ClusterIPAllocator;
      for (;;) {
        const candidate = host.allocateNext();
        if (commit(candidate)) {
          owned.push(candidate);
          // the other host learns it from the watch stream
          (hosts[(i + 1) % 2] as ClusterIPAllocator).markAllocated(candidate);
          break;
        }
        // conflict: the candidate stays marked locally; try again
      }
    }
    expect(new Set(owned).size).toBe(62);
    expect(hosts.every((h) => h.free() === 0n)).toBe(true);
  });
});

describe('field errors', () => {
  it("words a requested-IP failure as the API server's REST layer", () => {
    const a = new ClusterIPAllocator('10.0.0.0/24');
    a.allocate('10.0.0.1');
    const e = errorOf(() => a.allocate('10.0.0.1'));
    expect(formatFieldError(clusterIPAllocationFieldError(['10.0.0.1'], '10.0.0.1', e))).toBe(
      'spec.clusterIPs: Invalid value: []string{"10.0.0.1"}: failed to allocate IP 10.0.0.1: provided IP is already allocated',
    );
    const out = errorOf(() => a.allocate('10.1.0.1'));
    expect(formatFieldError(clusterIPAllocationFieldError(['10.1.0.1', 'fd00::1'], '10.1.0.1', out))).toBe(
      'spec.clusterIPs: Invalid value: []string{"10.1.0.1", "fd00::1"}: failed to allocate IP 10.1.0.1: the provided network does not match the current range',
    );
    expect(formatFieldError(clusterIPFamilyFieldError(['10.0.0.1', 'fd00::1'], 1, 'IPv6'))).toBe(
      'spec.clusterIPs[1]: Invalid value: []string{"10.0.0.1", "fd00::1"}: IPv6 is not configured on this cluster',
    );
  });

  it('keeps the older bitmap wording available', () => {
    expect(bitmapIPNotInRangeMessage('10.0.0.0', '10.0.0.0/24')).toBe(
      'the provided IP (10.0.0.0) is not in the valid range. The range of valid IPs is 10.0.0.0/24',
    );
  });

  it('reports exhaustion as an internal error', () => {
    const s = clusterIPExhaustedError(new AllocationError('full', 'range is full'));
    expect(s.reason).toBe('InternalError');
    expect(s.code).toBe(500);
    expect(s.message).toBe('Internal error occurred: failed to allocate a serviceIP: range is full');
  });
});
