// Unit tests with vitest, through the ESM build. Run: npx vitest run --config examples/unit-testing/vitest.config.mjs

import { SeededRng } from 'svcroute';
import { FakeClock } from 'svcroute/testing';
import { describe, expect, it } from 'vitest';
import { endpoint, servicePort } from './fixtures.cjs';
import { StickyRouter } from './sticky-router.mjs';

const info = servicePort();
const endpoints = [endpoint(1), endpoint(2), endpoint(3)];

describe('StickyRouter', () => {
  it('keeps a client on its endpoint until it has been idle for the timeout', () => {
    const clock = new FakeClock();
    const router = new StickyRouter({ clock, rng: new SeededRng(7), timeoutSeconds: 60 });
    const first = router.route('10.0.0.5', info, endpoints);
    for (let i = 0; i < 20; i++) {
      clock.advance(59_000); // each connection comes back within the timeout: still sticky
      expect(router.route('10.0.0.5', info, endpoints)).toBe(first);
    }
    // Idle for longer than 60 s: balanced afresh. Collect where it goes over many idle periods.
    const seen = new Set();
    for (let i = 0; i < 50; i++) {
      clock.advance(61_000);
      seen.add(router.route('10.0.0.5', info, endpoints)?.key);
    }
    expect(seen.size).toBe(3);
  });

  it('is reproducible: the same seed gives the same picks', () => {
    const picks = (seed) => {
      const router = new StickyRouter({ clock: new FakeClock(), rng: new SeededRng(seed) });
      return Array.from({ length: 30 }, (_, i) => router.route(`10.0.1.${i}`, info, endpoints)?.key);
    };
    expect(picks(42)).toEqual(picks(42));
    expect(picks(42)).not.toEqual(picks(43));
  });

  it('never picks a not-ready endpoint while a ready one exists', () => {
    const router = new StickyRouter({ clock: new FakeClock(), rng: new SeededRng(1) });
    const mixed = [
      endpoint(1, { ready: false }),
      endpoint(2),
      endpoint(3, { ready: false, serving: true, terminating: true }),
    ];
    for (let i = 0; i < 40; i++) expect(router.route(`10.0.2.${i}`, info, mixed)?.key).toBe('127.0.0.2:8080');
  });

  it('falls back to serving terminating endpoints when none is ready, as kube-proxy does', () => {
    const router = new StickyRouter({ clock: new FakeClock(), rng: new SeededRng(1) });
    const draining = [
      endpoint(1, { ready: false, serving: true, terminating: true }),
      endpoint(2, { ready: false }),
    ];
    expect(router.route('10.0.3.1', info, draining)?.key).toBe('127.0.0.1:8080');
    expect(router.route('10.0.3.2', info, [endpoint(2, { ready: false })])).toBeUndefined();
  });

  it('honours internalTrafficPolicy Local: only endpoints on its own node', () => {
    const local = servicePort({ internalPolicyLocal: true });
    const router = new StickyRouter({ clock: new FakeClock(), rng: new SeededRng(3), node: 'node-b' });
    const spread = [endpoint(1, { nodeName: 'node-a' }), endpoint(2, { nodeName: 'node-b' })];
    for (let i = 0; i < 10; i++)
      expect(router.route(`10.0.4.${i}`, local, spread)?.key).toBe('127.0.0.2:8080');
  });
});
