/**
 * The registry: storage contract and in-memory store, the {@link Registry} with its API-server
 * behaviour (defaulting, validation, allocation), the EndpointSlice controller, and the change
 * tracker that turns objects into routing snapshots.
 *
 * @module
 */
export { buildSnapshot, ChangeTracker, entryEqual, serviceEntries, sliceServiceKey } from './change-tracker';
export { ChunkedMap } from './chunked-map';
export {
  addressTypesForService,
  DEFAULT_MAX_ENDPOINTS_PER_SLICE,
  endpointPorts,
  findPort,
  isPodReady,
  podToEndpoint,
  reconcileSlices,
  type SliceWrites,
  type StoredSlice,
  shouldPodBeInEndpoints,
  sliceLabels,
} from './endpoints-controller';
export {
  DEFAULT_KEY_PREFIX,
  KeyLayout,
  type ParsedKey,
  RESOURCE_NAME,
  type Reservation,
  type ReservationType,
} from './keys';
export {
  DEFAULT_LEASE_DURATION_MS,
  DEFAULT_LEASE_NAME,
  DEFAULT_LEASE_NAMESPACE,
  DEFAULT_RENEW_DEADLINE_MS,
  DEFAULT_RETRY_PERIOD_MS,
  LEADER_ELECTION_JITTER_FACTOR,
  type LeaderElectionTiming,
  LeaderElector,
  type LeaderElectorCloseOptions,
  type LeaderElectorEvents,
  type LeaderElectorOptions,
  type Lease,
  type LeaseSpec,
} from './leader-election';
export { DEFAULT_HISTORY_REVISIONS, MemoryStore, type MemoryStoreOptions } from './memory-store';
export {
  type ApplyResult,
  DEFAULT_SERVICE_CLUSTER_IP_RANGES,
  DEFAULT_SERVICE_NODE_PORT_RANGE,
  type DeleteOptions,
  type ListOptions,
  type ObjectEvent,
  Registry,
  type RegistryEvents,
  type RegistryLeaderElection,
  type RegistryOptions,
} from './registry';
export type { AllocationMode, AllocationModes, ValueAllocationMode } from './service-allocation';
export { allocationModes } from './service-allocation';
export {
  isSkippedByProxy,
  needsHealthCheck,
  servicePortInfos,
} from './service-info';
export { endpointEqual, endpointKey, endpointsByServicePort, portProtocolKey } from './slice-endpoints';
export * from './store';
export {
  allocateZoneHints,
  givingAndReceivingZones,
  removeZoneHints,
  TOPOLOGY_HINTS_MESSAGES,
  TOPOLOGY_OVERLOAD_THRESHOLD,
  TopologyCache,
  type TopologyEvent,
  topologyHintsEnabled,
  type ZoneAllocation,
  type ZoneAllocationResult,
  type ZoneHintOutcome,
  type ZoneHintSlices,
  type ZoneRatios,
  zoneAllocations,
  zoneCPURatios,
} from './topology-cache';
