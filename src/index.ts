/**
 * svcroute: Kubernetes Service routing as a library. This entry re-exports the core (object
 * model, selectors, validation, allocators, registry, routing, balancers); backends live under
 * their own subpaths (`svcroute/dns`, `svcroute/iptables`, …).
 *
 * @module
 */
export {
  type AttachedBackend,
  type AttachOptions,
  attachBackend,
  type Backend,
  mergeUpdates,
  type SnapshotSource,
} from './backends/backend';
export * from './balancers';
export * from './core/clock';
export * from './core/defaults';
export * from './core/errors';
export * from './core/random';
export * from './core/snapshot';
export * from './core/types';
export * from './manifest';
export * from './net';
export * from './registry';
export * from './routing';
export * from './selector';
export * from './validation';
