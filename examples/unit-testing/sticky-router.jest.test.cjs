// Jest over the CJS build: `npx jest --config examples/unit-testing/jest.config.cjs`. The
// `require('svcroute')` lines are what a Jest project writes; `describe`, `it` and `expect` are
// Jest's globals.
const { SeededRng } = require('svcroute');
const { FakeClock } = require('svcroute/testing');
const { endpoint, servicePort } = require('./fixtures.cjs');
const { StickyRouter } = require('./sticky-router.cjs');

const info = servicePort();
const endpoints = [endpoint(1), endpoint(2), endpoint(3)];

describe('StickyRouter (CommonJS)', () => {
  it('sticks within the affinity timeout and forgets after it', () => {
    const clock = new FakeClock();
    const router = new StickyRouter({ clock, rng: new SeededRng(7), timeoutSeconds: 30 });
    const first = router.route('10.0.0.5', info, endpoints);
    clock.advance(30_000); // exactly the timeout: still sticky (the kernel's rule)
    expect(router.route('10.0.0.5', info, endpoints)).toBe(first);
    const seen = new Set();
    for (let i = 0; i < 50; i++) {
      clock.advance(31_000);
      seen.add(router.route('10.0.0.5', info, endpoints).key);
    }
    expect(seen.size).toBe(3);
  });

  it('gives the same picks for the same seed', () => {
    const run = (seed) => {
      const router = new StickyRouter({ clock: new FakeClock(), rng: new SeededRng(seed) });
      return endpoints.map((_, i) => router.route(`10.0.1.${i}`, info, endpoints).key).join();
    };
    expect(run(11)).toBe(run(11));
  });

  it('skips endpoints that are not ready', () => {
    const router = new StickyRouter({ clock: new FakeClock(), rng: new SeededRng(1) });
    for (let i = 0; i < 20; i++)
      expect(router.route(`10.0.2.${i}`, info, [endpoint(1, { ready: false }), endpoint(2)]).key).toBe(
        '127.0.0.2:8080',
      );
  });
});
