/**
 * Which sockets the userspace proxy opens for a set of service ports: a pure plan, so the
 * backend only diffs plans and opens or closes the difference.
 *
 * - ClusterIP: on the cluster IP itself when that address is on this host; otherwise on each
 *   portal address (e.g. `127.0.0.1`), with the service port or an automatic port.
 * - NodePort: on every node address, with the node port.
 * - External IPs and load-balancer VIPs: on the address itself, when it is on this host.
 *
 * @module
 */
import { networkInterfaces } from 'node:os';
import type { ServicePortInfo } from '../../core/snapshot';
import type { Protocol } from '../../core/types';
import { canonicalIP } from '../../net/ip';
import { serviceIPs, type TrafficSide } from './route-table';

/** Why a listener exists. */
export type ListenerKind = 'clusterIP' | 'portal' | 'nodePort' | 'externalIP' | 'loadBalancer';

/** One socket the proxy should have open. */
export interface ListenerSpec {
  /** Stable identity: same id in two plans = same socket. */
  readonly id: string;
  readonly kind: ListenerKind;
  readonly protocol: Protocol;
  readonly address: string;
  /** 0 = any free port. */
  readonly port: number;
  /** Service port key (`ns/name:port`). */
  readonly routeKey: string;
  /** Traffic policy side the listener's traffic counts as. */
  readonly side: TrafficSide;
}

/** How service ports map to listening addresses. */
export interface ListenerPlanOptions {
  /** Addresses NodePorts listen on (the node's IPs; `0.0.0.0` for all). Default none. */
  readonly nodeAddresses?: readonly string[];
  /** Addresses ClusterIP ports listen on when the cluster IP is not on this host. Default none. */
  readonly portalAddresses?: readonly string[];
  /** Port used on portal addresses: the service's port (default) or any free port. */
  readonly portalPort?: 'service' | 'auto';
  /** Listen on cluster IPs, external IPs and VIPs that are on this host. Default true. */
  readonly bindLocalServiceIPs?: boolean;
}

/** The IPs configured on this host's interfaces, canonical. */
export function hostAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) out.add(canonicalIP(a.address.replace(/%.*$/, '')) ?? a.address);
  }
  return out;
}

/** Protocols the userspace proxy can carry (SCTP cannot be proxied from Node). */
export function isProxiable(protocol: Protocol): boolean {
  return protocol === 'TCP' || protocol === 'UDP';
}

/** The listeners `ports` need. `local` holds this host's addresses (see {@link hostAddresses}). */
export function planListeners(
  ports: Iterable<ServicePortInfo>,
  options: ListenerPlanOptions,
  local: ReadonlySet<string>,
): ListenerSpec[] {
  const out: ListenerSpec[] = [];
  const bindLocal = options.bindLocalServiceIPs ?? true;
  for (const info of ports) {
    if (!isProxiable(info.protocol)) continue;
    const add = (kind: ListenerKind, address: string, port: number, side: TrafficSide) => {
      out.push({
        id: `${info.protocol}|${address}|${port === 0 ? `auto:${info.key}` : port}|${kind}|${info.key}`,
        kind,
        protocol: info.protocol,
        address,
        port,
        routeKey: info.key,
        side,
      });
    };
    let clusterIPLocal = false;
    for (const sip of serviceIPs(info)) {
      if (!bindLocal || !local.has(sip.ip)) continue;
      if (sip.kind === 'clusterIP') clusterIPLocal = true;
      add(sip.kind, sip.ip, info.port, sip.kind === 'clusterIP' ? 'internal' : 'external');
    }
    if (!clusterIPLocal && info.clusterIPs.length > 0) {
      for (const portal of options.portalAddresses ?? [])
        add('portal', portal, options.portalPort === 'auto' ? 0 : info.port, 'internal');
    }
    if (info.nodePort !== 0) {
      for (const addr of options.nodeAddresses ?? []) add('nodePort', addr, info.nodePort, 'external');
    }
  }
  return out;
}
