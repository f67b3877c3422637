import { describe, expect, it } from 'vitest';
import type { Node } from '../../src/core/types';
import { AllocationError, ClusterIPAllocator, PodIPAllocator } from '../../src/net';

function errorOf(fn: () => unknown): AllocationError {
  try {
    fn();
  } catch (e) {
    if (e instanceof AllocationError) return e;
    throw e;
  }
  throw new Error('expected an AllocationError');
}

describe('PodIPAllocator (host-local)', () => {
  it('reserves the gateway and hands out addresses in order after it', () => {
    const a = new PodIPAllocator('10.244.1.0/24');
    expect(a.gateway()).toBe('10.244.1.1');
    expect(a.allocate()).toEqual(['10.244.1.2']);
    expect(a.allocate()).toEqual(['10.244.1.3']);
    expect(a.has('10.244.1.3')).toBe(true);
    expect(a.used()).toBe(2);
    expect(a.free()).toBe(254n - 1n - 2n);
  });

  it('gives a recreated pod a new address, while a service keeps its cluster IP', () => {
    const pods = new PodIPAllocator('10.244.1.0/24');
    const services = new ClusterIPAllocator('10.96.0.0/12');
    const serviceIP = services.allocateNext();
    const [first] = pods.allocate();
    expect(first).toBe('10.244.1.2');
    // the pod goes away and comes back (a Deployment replacing it): host-local continues after the
    // last reserved address instead of reusing the one just freed
    pods.release(first as string);
    const [second] = pods.allocate();
    expect(second).toBe('10.244.1.3');
    expect(second).not.toBe(first);
    // the service was never released: its address is still its own
    expect(services.has(serviceIP)).toBe(true);
  });

  it('wraps around and reuses freed addresses only after the end of the range', () => {
    const a = new PodIPAllocator('10.0.0.0/29'); // .1 gateway, .2-.6 pods, .7 broadcast
    const got = [a.allocate(), a.allocate(), a.allocate(), a.allocate(), a.allocate()].flat();
    expect(got).toEqual(['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6']);
    const e = errorOf(() => a.allocate());
    expect(e.kind).toBe('full');
    expect(e.message).toBe('no IP addresses available in range set: 10.0.0.1-10.0.0.6');
    a.release('10.0.0.3');
    a.release('10.0.0.5');
    expect(a.allocate()).toEqual(['10.0.0.3']);
    expect(a.allocate()).toEqual(['10.0.0.5']);
  });

  it('enumerates a /30 exactly: one pod address beside the gateway', () => {
    const a = new PodIPAllocator('192.168.0.4/30');
    expect(a.allocate()).toEqual(['192.168.0.6']);
    expect(errorOf(() => a.allocate()).kind).toBe('full');
  });

  it('refuses networks with no room and host bits set', () => {
    expect(() => new PodIPAllocator('10.0.0.0/31')).toThrow('Network 10.0.0.0/31 too small to allocate from');
    expect(() => new PodIPAllocator('10.0.0.0/32')).toThrow('too small to allocate from');
    expect(() => new PodIPAllocator('10.0.0.5/24')).toThrow(
      'Network has host bits set. For a subnet mask of length 24 the network address is 10.0.0.0',
    );
    expect(() => new PodIPAllocator(['10.0.0.0/24', '10.1.0.0/24'])).toThrow(RangeError);
    expect(() => new PodIPAllocator([])).toThrow(RangeError);
  });

  it('allocates one address per family on a dual-stack node', () => {
    const a = new PodIPAllocator(['10.244.1.0/24', 'fd00:10:244:1::/64']);
    expect(a.families).toEqual(['IPv4', 'IPv6']);
    expect(a.gateway('IPv6')).toBe('fd00:10:244:1::1');
    expect(a.allocate()).toEqual(['10.244.1.2', 'fd00:10:244:1::2']);
    expect(a.rangeSetString()).toBe(
      '10.244.1.1-10.244.1.254,fd00:10:244:1::1-fd00:10:244:1:ffff:ffff:ffff:ffff',
    );
  });

  it('is all-or-nothing on a dual-stack node', () => {
    const a = new PodIPAllocator(['10.0.0.0/24', 'fd00::/126']); // IPv6: ::2, ::3 for pods
    a.allocate();
    a.allocate();
    expect(errorOf(() => a.allocate()).message).toBe(
      'no IP addresses available in range set: fd00::1-fd00::3',
    );
    expect(a.used()).toBe(4);
  });

  it('reserves requested addresses with host-local messages', () => {
    const a = new PodIPAllocator('10.244.1.0/24');
    a.allocateIP('10.244.1.50');
    expect(a.allocate()).toEqual(['10.244.1.51']);
    expect(errorOf(() => a.allocateIP('10.244.1.50')).message).toBe(
      'requested IP address 10.244.1.50 is not available in range set 10.244.1.1-10.244.1.254',
    );
    expect(errorOf(() => a.allocateIP('10.244.1.1')).message).toBe(
      "requested ip 10.244.1.1 is subnet's gateway",
    );
    expect(errorOf(() => a.allocateIP('10.244.2.1')).message).toBe(
      '10.244.2.1 not in range set 10.244.1.1-10.244.1.254',
    );
    expect(errorOf(() => a.allocateIP('10.244.1.255')).kind).toBe('not-in-range');
  });

  it('records existing addresses without moving the round-robin position', () => {
    const a = new PodIPAllocator('10.244.1.0/24');
    expect(a.markAllocated('10.244.1.2')).toBe(true);
    expect(a.markAllocated('10.244.1.2')).toBe(false);
    expect(a.markAllocated('192.168.1.10')).toBe(false); // a host-network pod's node IP
    expect(a.markAllocated('10.244.1.1')).toBe(false);
    expect(a.allocate()).toEqual(['10.244.1.3']);
    expect(a.release('10.244.1.99')).toBe(false);
    expect(a.release('bogus')).toBe(false);
  });

  it('reads pod CIDRs from a Node', () => {
    const node = (spec: Node['spec']): Node => ({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'n1' },
      ...(spec ? { spec } : {}),
    });
    expect(PodIPAllocator.podCIDRsOf(node({ podCIDR: '10.244.0.0/24' }))).toEqual(['10.244.0.0/24']);
    expect(
      PodIPAllocator.podCIDRsOf(node({ podCIDR: '10.244.0.0/24', podCIDRs: ['10.244.0.0/24', 'fd00::/64'] })),
    ).toEqual(['10.244.0.0/24', 'fd00::/64']);
    expect(PodIPAllocator.podCIDRsOf(node(undefined))).toEqual([]);
  });
});
