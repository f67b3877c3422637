/**
 * Load balancers: the {@link Balancer}/{@link Picker} contracts, the built-in policies (random,
 * round-robin, weighted round-robin, least-request, peak-EWMA, ring-hash, Maglev), wrappers
 * (session affinity, outlier detection) and an explicit config registry. Re-exports only.
 *
 * @module
 */
export * from './balancer';
export { BalancerConfigError } from './config';
export * from './edf';
export type { HostKeySource } from './hash-input';
export * from './least-request';
export * from './maglev';
export * from './peak-ewma';
export * from './random';
export * from './registry';
export * from './ring-hash';
export * from './round-robin';
export * from './weighted-round-robin';
export * from './wrappers/outlier-detection';
export * from './wrappers/session-affinity';
export * from './xxhash64';
