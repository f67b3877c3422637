/**
 * In-process backend: a service resolver for apps (no proxy hop: `resolve()`, `connect()`)
 * and a userspace TCP/UDP proxy, kube-proxy's userspace mode rebuilt as a library. The undici
 * dispatcher for `fetch` is in its own entry, `svcroute/inprocess/fetch`, so that nothing here
 * loads undici.
 *
 * @module
 */
import { connectService } from './connect';

export { ConnectFailedError, type ConnectServiceOptions, connectService } from './connect';

/**
 * The same function as {@link connectService} (and `ServiceResolver.prototype.connect`):
 * `connect(resolver, 'redis.cache:6379')` resolves to a `net.Socket` connected to an endpoint of
 * the service, retrying another endpoint when one refuses or times out.
 */
export const connect: typeof connectService = connectService;
export {
  NoEndpointsError,
  ResolveError,
  type ResolveErrorCode,
  UnknownPortError,
  UnknownServiceError,
} from './errors';
export {
  hostAddresses,
  isProxiable,
  type ListenerKind,
  type ListenerPlanOptions,
  type ListenerSpec,
  planListeners,
} from './listeners';
export {
  escapeLabelValue,
  METRIC_PREFIX,
  type PortStats,
  ProxyMetrics,
  renderPrometheus,
  type TrafficStats,
} from './metrics';
export { NATIVE_COLLECT_INTERVAL_MS } from './native-relay';
export {
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_LISTEN_BACKLOG,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  InprocessProxyBackend,
  type InprocessProxyEvents,
  type InprocessProxyOptions,
  type ListenerInfo,
} from './proxy';
export type { TargetResolver } from './resolution';
export {
  type Resolution,
  type ResolveOptions,
  ServiceResolver,
  type ServiceResolverOptions,
} from './resolver';
export {
  type BalancerFactory,
  PortRoute,
  type RouteChanges,
  RouteTable,
  type RouteTableOptions,
  roundRobinFactory,
  type ServiceIP,
  serviceIPs,
  type TrafficSide,
} from './route-table';
export {
  type AddressTarget,
  DEFAULT_CLUSTER_ZONE,
  DEFAULT_NAMESPACE,
  type NameTarget,
  type NodePortTarget,
  type ParsedTarget,
  type ParseTargetOptions,
  parseTarget,
  type TargetInput,
  TargetSyntaxError,
} from './target';
export { ConnectTimeoutError, DEFAULT_CONNECT_TIMEOUTS_MS, DEFAULT_SOCKET_BUFFER_BYTES } from './tcp-session';
export { DEFAULT_UDP_IDLE_TIMEOUT_MS } from './udp-proxy';
