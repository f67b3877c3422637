/**
 * `svcroute/etcd`: the registry's {@link index!Store} on etcd v3, for many processes and hosts sharing
 * one consistent set of services, plus the allocator repair pass that cleans up after crashes.
 *
 * @module
 */

export { EtcdUnavailableError, isEtcdUnavailableError } from './errors';
export type { EtcdConnectionState } from './internals';
export {
  AllocationRepair,
  type AllocationRepairOptions,
  DEFAULT_REPAIR_INTERVAL_MS,
  type DuplicateAllocation,
  NUM_REPAIRS_BEFORE_LEAK_CLEANUP,
  type RepairReport,
} from './repair';
export {
  DEFAULT_ATTEMPT_TIMEOUT_MS,
  DEFAULT_DIAL_TIMEOUT_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  EtcdStore,
  type EtcdStoreOptions,
  type EtcdTLSOptions,
} from './store';
export { DEFAULT_ETCD_CLIENT_PORT, type EtcdUrl, isEtcdUrl, parseEtcdUrl } from './url';
export { EtcdHistoryLostError } from './watch';
