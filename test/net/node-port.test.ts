import { describe, expect, it } from 'vitest';
import { formatFieldError } from '../../src/core/errors';
import { SeededRng } from '../../src/core/random';
import {
  AllocationError,
  formatPortRange,
  healthCheckNodePortError,
  isAllocationError,
  NodePortAllocator,
  nodePortAllocationFieldError,
  nodePortExhaustedError,
  nodePortStaticBandSize,
  PortRangeParseError,
  parsePortRange,
  portRangeContains,
} from '../../src/net';

function errorOf(fn: () => unknown): AllocationError {
  try {
    fn();
  } catch (e) {
    if (e instanceof AllocationError) return e;
    throw e;
  }
  throw new Error('expected an AllocationError');
}

function drain(a: NodePortAllocator): number[] {
  const out: number[] = [];
  for (;;) {
    try {
      out.push(a.allocateNext());
    } catch (e) {
      if (isAllocationError(e, 'full')) return out;
      throw e;
    }
  }
}

describe('parsePortRange', () => {
  it('parses MIN-MAX, MIN+OFFSET and a single port', () => {
    expect(parsePortRange('30000-32767')).toEqual({ base: 30000, size: 2768 });
    expect(parsePortRange(' 30000+10 ')).toEqual({ base: 30000, size: 11 });
    expect(parsePortRange('8080')).toEqual({ base: 8080, size: 1 });
    expect(parsePortRange('')).toEqual({ base: 0, size: 0 });
    expect(formatPortRange(parsePortRange('30000+99'))).toBe('30000-30099');
    expect(formatPortRange({ base: 0, size: 0 })).toBe('');
    expect(portRangeContains(parsePortRange('1-10'), 10)).toBe(true);
    expect(portRangeContains(parsePortRange('1-10'), 11)).toBe(false);
  });

  it.each([
    ['30000-70000', 'the port range cannot be greater than 65535: 30000-70000'],
    ['32767-30000', 'end port cannot be less than start port: 32767-30000'],
    ['1-2+3', 'unable to parse port range: 1-2+3'],
    ['abc', 'strconv.Atoi: parsing "abc": invalid syntax'],
    ['30000-', 'strconv.Atoi: parsing "": invalid syntax'],
    ['-5', 'strconv.Atoi: parsing "": invalid syntax'],
    ['30000 - 32767', 'strconv.Atoi: parsing "30000 ": invalid syntax'],
  ])('rejects %j with %j', (text, message) => {
    expect(() => parsePortRange(text)).toThrow(PortRangeParseError);
    expect(() => parsePortRange(text)).toThrow(message);
  });
});

describe('static band size (KEP-3668)', () => {
  it.each([
    [10, 0],
    [16, 0],
    [17, 16],
    [512, 16],
    [1024, 32],
    [2768, 86],
    [4096, 128],
    [30000, 128],
  ])('%i ports → %i', (size, want) => {
    expect(nodePortStaticBandSize(size)).toBe(want);
  });
});

describe('NodePortAllocator', () => {
  it('defaults to 30000-32767 with an 86-port static band', () => {
    const a = new NodePortAllocator();
    expect(a.rangeString()).toBe('30000-32767');
    expect(a.size).toBe(2768);
    expect(a.staticBandSize).toBe(86);
    expect(a.inStaticBand(30085)).toBe(true);
    expect(a.inStaticBand(30086)).toBe(false);
  });

  it("checks requested ports with the API server's messages", () => {
    const a = new NodePortAllocator('30000-32767');
    a.allocate(30080);
    const taken = errorOf(() => a.allocate(30080));
    expect(taken.kind).toBe('allocated');
    expect(taken.message).toBe('provided port is already allocated');
    const out = errorOf(() => a.allocate(80));
    expect(out.kind).toBe('not-in-range');
    expect(out.message).toBe(
      'provided port is not in the valid range. The range of valid ports is 30000-32767',
    );
    expect(errorOf(() => a.allocate(32768)).kind).toBe('not-in-range');
    expect(errorOf(() => a.allocate(30000.5)).kind).toBe('not-in-range');
    a.allocate(30000);
    a.allocate(32767);
    expect(a.used()).toBe(3);
  });

  it('quotes a custom range in the message', () => {
    const a = new NodePortAllocator('20000+9');
    expect(errorOf(() => a.allocate(20010)).message).toBe(
      'provided port is not in the valid range. The range of valid ports is 20000-20009',
    );
  });

  it('hands out the upper band first, then the static band, then reports full', () => {
    const a = new NodePortAllocator('30000-30099', { rng: new SeededRng(3) }); // band 16
    const ports = drain(a);
    expect(ports).toHaveLength(100);
    expect(new Set(ports).size).toBe(100);
    expect(ports.slice(0, 84).every((p) => p >= 30016)).toBe(true);
    expect(ports.slice(84).sort((x, y) => x - y)).toEqual(Array.from({ length: 16 }, (_, i) => 30000 + i));
    const e = errorOf(() => a.allocateNext());
    expect(e.kind).toBe('full');
    expect(e.message).toBe('range is full');
  });

  it('enumerates a tiny range exactly', () => {
    const a = new NodePortAllocator('30000-30002', { rng: new SeededRng(1) });
    expect(a.staticBandSize).toBe(0);
    expect(drain(a).sort()).toEqual([30000, 30001, 30002]);
    expect(a.free()).toBe(0);
    expect(a.release(30001)).toBe(true);
    expect(a.allocateNext()).toBe(30001);
  });

  it('releases and re-allocates; release outside the range is a no-op', () => {
    const a = new NodePortAllocator();
    a.allocate(31000);
    expect(a.release(31000)).toBe(true);
    expect(a.release(31000)).toBe(false);
    expect(a.release(80)).toBe(false);
    a.allocate(31000);
    expect(a.has(31000)).toBe(true);
    expect(a.has(80)).toBe(false);
  });

  it('markAllocated is idempotent and range-checked', () => {
    const a = new NodePortAllocator();
    expect(a.markAllocated(30500)).toBe(true);
    expect(a.markAllocated(30500)).toBe(false);
    expect([...a.allocated()]).toEqual([30500]);
    expect(errorOf(() => a.markAllocated(1)).kind).toBe('not-in-range');
  });

  it('an empty range is always full', () => {
    const a = new NodePortAllocator('');
    expect(a.size).toBe(0);
    expect(errorOf(() => a.allocateNext()).kind).toBe('full');
  });
});

describe('node port errors as the API server words them', () => {
  it('field errors', () => {
    const a = new NodePortAllocator();
    a.allocate(30080);
    const e = errorOf(() => a.allocate(30080));
    expect(formatFieldError(nodePortAllocationFieldError(1, 30080, e))).toBe(
      'spec.ports[1].nodePort: Invalid value: 30080: provided port is already allocated',
    );
    const out = errorOf(() => a.allocate(8080));
    expect(formatFieldError(nodePortAllocationFieldError(0, 8080, out))).toBe(
      'spec.ports[0].nodePort: Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-32767',
    );
  });

  it('internal errors', () => {
    const full = new AllocationError('full', 'range is full');
    expect(nodePortExhaustedError(full).message).toBe(
      'Internal error occurred: failed to allocate a nodePort: range is full',
    );
    expect(healthCheckNodePortError(full).message).toBe(
      'Internal error occurred: failed to allocate a HealthCheck NodePort 0: range is full',
    );
    const taken = new AllocationError('allocated', 'provided port is already allocated');
    expect(healthCheckNodePortError(taken, 30500).message).toBe(
      'Internal error occurred: failed to allocate requested HealthCheck NodePort 30500: provided port is already allocated',
    );
  });
});
