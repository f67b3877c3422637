/**
 * Test helpers for code built on svcroute: seeded randomness, a fake clock, fixtures and the
 * conformance suites that every balancer, backend and store must pass.
 *
 * @module
 */
export { SeededRng, shuffle } from '../core/random';
export { FAKE_CLOCK_DEFAULT_WALL_MS, FakeClock, type FakeClockOptions } from './fake-clock';
