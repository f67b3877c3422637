/**
 * Address and port allocation: CIDR helpers, the ClusterIP and NodePort allocators of the API
 * server (with the static bands of KEP-3070 and KEP-3668), host-local pod IPAM, and LoadBalancer
 * providers. Everything here is synchronous and in memory; see `ClusterIPAllocator` for how the
 * registry drives it over a shared store.
 *
 * @module
 */
export { Cidr, CidrParseError, cidrContains, cidrFamily, kubernetesRangeSize } from './cidr';
export {
  ClusterIPAllocator,
  type ClusterIPAllocatorOptions,
  ClusterIPRange,
} from './cluster-ip';
export {
  AllocationError,
  type AllocationErrorKind,
  bitmapIPNotInRangeMessage,
  clusterIPAllocationFieldError,
  clusterIPExhaustedError,
  clusterIPFamilyFieldError,
  familyNotConfiguredMessage,
  healthCheckNodePortError,
  IP_ALLOCATED_MESSAGE,
  IP_NOT_IN_RANGE_MESSAGE,
  ipNotInRangeMessage,
  isAllocationError,
  nodePortAllocationFieldError,
  nodePortExhaustedError,
  PORT_ALLOCATED_MESSAGE,
  portNotInRangeMessage,
  RANGE_FULL_MESSAGE,
} from './errors';
export { ADDRESS_BITS, canonicalIP, formatIP, ipFamilyOf, type ParsedIP, parseIP } from './ip';
export {
  LoadBalancerError,
  type LoadBalancerProvider,
  PoolLoadBalancerProvider,
  type PoolLoadBalancerProviderOptions,
  poolEntrySize,
} from './load-balancer';
export { NodePortAllocator, type NodePortAllocatorOptions } from './node-port';
export { PodIPAllocator } from './pod-ip';
export {
  DEFAULT_NODE_PORT_RANGE,
  formatPortRange,
  type PortRange,
  PortRangeParseError,
  parsePortRange,
  portRangeContains,
} from './port-range';
export {
  NODE_PORT_BAND,
  nodePortStaticBandSize,
  SERVICE_IP_BAND,
  serviceIPStaticBandSize,
} from './range-offset';
export { DEFAULT_SERVICE_CIDR, MIN_IPV6_SERVICE_PREFIX, validateServiceCIDRs } from './service-cidr';
