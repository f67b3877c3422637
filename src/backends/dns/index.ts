/**
 * Cluster DNS: an authoritative server for the Kubernetes zone that answers as CoreDNS's
 * kubernetes plugin does (DNS specification 1.1.0), the pure resolver behind it, a zone-file
 * renderer, and the pod-side helpers (resolv.conf, search-list resolution).
 *
 * @module
 */

export type { UdpBatchStats } from '../../native/udp';
export { DnsBackend, type DnsBackendOptions, serveDns } from './backend';
export {
  candidateNames,
  POD_NDOTS,
  type PodDnsConfig,
  type PodLookupResult,
  PodResolver,
  podSearchList,
  renderResolvConf,
} from './client';
export {
  DEFAULT_CLUSTER_ZONE,
  DEFAULT_TTL_S,
  DNS_SCHEMA_VERSION,
  RCode,
  RRType,
} from './constants';
export { type ForwardTransport, parseUpstream, type Upstream } from './forwarder';
export { addressFromReverse, endpointHostname, reverseName } from './names';
export type {
  AddressRecord,
  DnsAnswer,
  DnsRecord,
  NameRecord,
  RawRecord,
  SoaRecord,
  SrvRecord,
  TxtRecord,
} from './records';
export { DnsResolver, type DnsResolverOptions, type DnsSourceState, type PodMode } from './resolver';
export { DnsServer, type DnsServerAddress, type DnsServerOptions, parseListenAddress } from './server';
export { formatRecord, renderZoneFile } from './zonefile';
