import { describe, expect, it } from 'vitest';
import {
  ClientIPAffinity,
  checkAffinityTimeout,
  DEFAULT_AFFINITY_TIMEOUT_S,
  MAX_AFFINITY_TIMEOUT_S,
  normalizeClientIP,
} from '../../src/routing/affinity';
import { FakeClock } from '../../src/testing/fake-clock';
import { ep } from './fixtures';

const A = ep({ ip: '10.0.0.1' });
const B = ep({ ip: '10.0.0.2' });
const C = ep({ ip: '10.0.0.3' });
const S = 1000;

function setup(timeoutSeconds = 60, maxClients?: number) {
  const clock = new FakeClock();
  const table = new ClientIPAffinity({ clock, timeoutSeconds, ...(maxClients ? { maxClients } : {}) });
  return { clock, table };
}

describe('ClientIPAffinity', () => {
  it('defaults to 10800 s and accepts 1..86400', () => {
    expect(new ClientIPAffinity().timeoutSeconds).toBe(DEFAULT_AFFINITY_TIMEOUT_S);
    expect(DEFAULT_AFFINITY_TIMEOUT_S).toBe(10800);
    expect(MAX_AFFINITY_TIMEOUT_S).toBe(86400);
    expect(new ClientIPAffinity({ timeoutSeconds: 86400 }).timeoutSeconds).toBe(86400);
    expect(new ClientIPAffinity({ timeoutSeconds: 1 }).timeoutSeconds).toBe(1);
    for (const bad of [0, -1, 86401, 1.5, Number.NaN]) {
      expect(() => new ClientIPAffinity({ timeoutSeconds: bad })).toThrow(RangeError);
      expect(checkAffinityTimeout(bad)).toBe('must be greater than 0 and less than 86400');
    }
    expect(() => new ClientIPAffinity({ maxClients: 0 })).toThrow(RangeError);
  });

  it('unknown client has no endpoint', () => {
    const { table } = setup();
    expect(table.lookup('192.0.2.1', [A, B])).toBeUndefined();
  });

  it('sticks while the client returns within the timeout of its LAST connection', () => {
    const { clock, table } = setup(60);
    table.record('192.0.2.1', B);
    for (let i = 0; i < 10; i++) {
      clock.advance(50 * S); // total 500 s, far beyond 60 s, but never idle for 60 s
      expect(table.lookup('192.0.2.1', [A, B, C])).toBe(B);
      table.record('192.0.2.1', B);
    }
  });

  it('a stamp exactly T old still matches; T + 1 ms does not', () => {
    const { clock, table } = setup(60);
    table.record('192.0.2.1', B);
    clock.advance(60 * S);
    expect(table.lookup('192.0.2.1', [A, B])).toBe(B);
    clock.advance(1);
    expect(table.lookup('192.0.2.1', [A, B])).toBeUndefined();
    expect(table.size).toBe(0);
  });

  it('lookup alone does not refresh the stamp (only record does)', () => {
    const { clock, table } = setup(10);
    table.record('192.0.2.1', A);
    clock.advance(6 * S);
    expect(table.lookup('192.0.2.1', [A])).toBe(A);
    clock.advance(6 * S);
    expect(table.lookup('192.0.2.1', [A])).toBeUndefined();
  });

  it('moves when the sticky endpoint is no longer eligible, and sticks to the new one', () => {
    const { table, clock } = setup(60);
    table.record('192.0.2.1', A);
    expect(table.lookup('192.0.2.1', [B, C])).toBeUndefined();
    table.record('192.0.2.1', C);
    clock.advance(S);
    expect(table.lookup('192.0.2.1', [B, C])).toBe(C);
  });

  it('with fresh stamps on several endpoints, the first eligible one wins (service chain order)', () => {
    const { table } = setup(60);
    table.record('192.0.2.1', C);
    table.record('192.0.2.1', A);
    expect(table.lookup('192.0.2.1', [C, A])).toBe(C);
    expect(table.lookup('192.0.2.1', [A, C])).toBe(A);
  });

  it('retainEndpoints forgets stamps of removed endpoints', () => {
    const { table } = setup(60);
    table.record('192.0.2.1', A);
    table.retainEndpoints(new Set([B.key]));
    expect(table.lookup('192.0.2.1', [A, B])).toBeUndefined();
    expect(table.size).toBe(0);
  });

  it('clients are independent and IPv4-mapped addresses match their IPv4 form', () => {
    const { table } = setup(60);
    table.record('::ffff:192.0.2.1', A);
    table.record('192.0.2.2', B);
    expect(table.lookup('192.0.2.1', [A, B])).toBe(A);
    expect(table.lookup('192.0.2.2', [A, B])).toBe(B);
    expect(normalizeClientIP('2001:DB8::1')).toBe('2001:db8::1');
  });

  it('route: sticky first, else the policy choice, and records what it used', () => {
    const { table } = setup(60);
    let calls = 0;
    const choose = (eps: readonly (typeof A)[]) => {
      calls++;
      return eps.at(-1);
    };
    expect(table.route('192.0.2.1', [A, B], choose)).toBe(B);
    expect(table.route('192.0.2.1', [A, B, C], choose)).toBe(B);
    expect(calls).toBe(1);
    expect(table.route('192.0.2.9', [], choose)).toBeUndefined();
    expect(table.lookup('192.0.2.9', [A])).toBeUndefined();
  });

  it('is bounded: least recently seen clients are evicted past maxClients', () => {
    const { table, clock } = setup(60, 3);
    for (let i = 1; i <= 5; i++) {
      table.record(`192.0.2.${i}`, A);
      clock.advance(1);
    }
    expect(table.size).toBe(3);
    expect(table.lookup('192.0.2.1', [A])).toBeUndefined();
    expect(table.lookup('192.0.2.5', [A])).toBe(A);
  });

  it('reaps expired clients lazily', () => {
    const { table, clock } = setup(10);
    for (let i = 1; i <= 4; i++) table.record(`192.0.2.${i}`, A);
    clock.advance(11 * S);
    table.record('192.0.2.100', B);
    table.lookup('192.0.2.100', [B]);
    expect(table.size).toBe(1);
  });
});

describe('normalizeClientIP', () => {
  it.each([
    ['192.0.2.1', '192.0.2.1'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['::FFFF:192.0.2.1', '192.0.2.1'],
    ['2001:DB8:0:0::1', '2001:db8::1'],
    ['not-an-ip', 'not-an-ip'],
  ])('%s → %s', (input, want) => {
    expect(normalizeClientIP(input)).toBe(want);
  });
});
