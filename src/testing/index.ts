/**
 * Test helpers for code built on svcroute: seeded randomness, a fake clock, fixtures and the
 * conformance suites that every balancer, backend and store must pass.
 *
 * @module
 */
export { SeededRng, shuffle } from '../core/random';
export {
  type BalancerConformanceDeps,
  type BalancerConformanceMatchers,
  type BalancerConformanceOptions,
  type BalancerConformanceTestApi,
  type BalancerDistributionExpectation,
  balancerTestEndpoints,
  runBalancerConformance,
} from './balancer-conformance';
export { FAKE_CLOCK_DEFAULT_WALL_MS, FakeClock, type FakeClockOptions } from './fake-clock';
export { makeEndpoint, makeServicePortInfo, type ServicePortFixture } from './fixtures';
export type { IptablesCommand, IptablesMatch, IptablesRule, IptablesTableBlock } from './iptables-parser';
export { IptablesParseError, parseIptablesRestore, parseRule, tokenizeRule } from './iptables-parser';
export type { IptablesTable } from './iptables-state';
export { IptablesState } from './iptables-state';
export type { TraceOptions, TraceOutcome, TracePacket } from './iptables-tracer';
export { outcomeDistribution, tracePacket } from './iptables-tracer';
export {
  type ChiSquareResult,
  chiSquareCriticalValue,
  chiSquarePValue,
  chiSquareStatistic,
  chiSquareTest,
  enumerateOutcomes,
  expectedCounts,
} from './stats';
export {
  type ConformanceExpect,
  type ConformanceFramework,
  type ConformanceMatchers,
  type StoreConformanceOptions,
  type StoreHarness,
  storeConformance,
} from './store-conformance';
