/**
 * Client-side service resolution with no proxy hop: `resolve('backend.my-ns')` picks an endpoint
 * the way kube-proxy would for a connection from this node, following the snapshot source live.
 *
 * @module
 */

import type { Socket } from 'node:net';
import type { PickContext, PickOutcome, PickResult } from '../../balancers/balancer';
import type { SnapshotUpdate } from '../../core/snapshot';
import type { SnapshotSource } from '../backend';
import { type ConnectServiceOptions, connectService } from './connect';
import { NoEndpointsError, UnknownPortError, UnknownServiceError } from './errors';
import type { Resolution, ResolveOptions } from './resolution';
import { type PortRoute, RouteTable, type RouteTableOptions, type TrafficSide } from './route-table';
import {
  DEFAULT_CLUSTER_ZONE,
  DEFAULT_NAMESPACE,
  describePort,
  parseTarget,
  type TargetInput,
} from './target';

/** Options of {@link ServiceResolver}. */
export interface ServiceResolverOptions extends RouteTableOptions {
  /** Namespace of bare service names; default `default`. */
  readonly namespace?: string;
  /** Cluster domain accepted in fully qualified names; default `cluster.local`. */
  readonly zone?: string;
}

export type { Resolution, ResolveOptions } from './resolution';

const OK: PickOutcome = { ok: true };

/** Describes the ports of a service for error messages: `http 80/TCP`, `53/UDP`. */
function describePorts(routes: readonly PortRoute[]): string[] {
  return [...routes]
    .sort((a, b) => a.info.port - b.info.port || a.info.protocol.localeCompare(b.info.protocol))
    .map((r) => `${r.info.name.port ? `${r.info.name.port} ` : ''}${r.info.port}/${r.info.protocol}`);
}

/**
 * Resolves service targets to endpoints, following a {@link SnapshotSource} (a `Registry`)
 * live. One balancer per service port (round-robin unless told otherwise), ClientIP session
 * affinity from the service, traffic policies and topology from the routing layer.
 *
 * Targets: `name`, `name.ns`, `name.ns.svc`, `name.ns.svc.<zone>`, each optionally with
 * `:port` (number or port name); `clusterIP:port` (also external IPs and load-balancer VIPs,
 * which use the external traffic policy); `{ nodePort }` (external traffic policy).
 */
export class ServiceResolver {
  readonly table: RouteTable;
  private readonly listener = (u: SnapshotUpdate) => this.table.apply(u);
  private closed = false;

  constructor(
    private readonly source: SnapshotSource,
    private readonly options: ServiceResolverOptions = {},
  ) {
    this.table = new RouteTable(options);
    const current = source.snapshot();
    this.table.apply({ previous: undefined, current, changes: [], changedServices: new Set() });
    source.on('snapshot', this.listener);
  }

  /**
   * Picks an endpoint for `target`.
   *
   * @throws UnknownServiceError when nothing matches the name, address or node port
   * @throws UnknownPortError when the service has no such port (or several and none was named)
   * @throws NoEndpointsError when the port has no endpoint reachable from this node
   * @throws TargetSyntaxError when `target` is not a service reference at all
   */
  resolve(target: TargetInput, opts: ResolveOptions = {}): Resolution {
    const { route, side, label } = this.lookup(target, opts);
    const ctx: PickContext =
      opts.clientIP !== undefined ? { ...opts.pick, clientIP: opts.clientIP } : (opts.pick ?? {});
    const r: PickResult =
      opts.avoid && opts.avoid.size > 0 ? route.pickAvoiding(side, opts.avoid, ctx) : route.pick(side, ctx);
    if (r.kind !== 'endpoint') throw noEndpoints(label, route, side, this.options.node?.name);
    const pickDone = r.done;
    let finished = false;
    return {
      ip: r.endpoint.ip,
      port: r.endpoint.port,
      endpoint: r.endpoint,
      servicePort: route.info,
      done(outcome = OK) {
        if (finished) return;
        finished = true;
        pickDone?.(outcome);
      },
    };
  }

  /**
   * Finds the service port `target` names without picking.
   *
   * @throws the same errors as {@link resolve}, except NoEndpointsError
   */
  lookup(
    target: TargetInput,
    opts: ResolveOptions = {},
  ): { route: PortRoute; side: TrafficSide; label: string } {
    const label = typeof target === 'string' ? target : `node port ${target.nodePort}`;
    const parsed = parseTarget(target, {
      namespace: opts.namespace ?? this.options.namespace ?? DEFAULT_NAMESPACE,
      zone: this.options.zone ?? DEFAULT_CLUSTER_ZONE,
    });
    if (parsed.kind === 'nodePort') {
      const route =
        opts.protocol !== undefined
          ? this.table.byNode(parsed.nodePort, opts.protocol)
          : (this.table.byNode(parsed.nodePort, 'TCP') ?? this.table.byNode(parsed.nodePort, 'UDP'));
      if (!route) throw new UnknownServiceError(label, `no service has node port ${parsed.nodePort}`);
      return { route, side: 'external', label };
    }
    if (parsed.kind === 'address') {
      const port = parsed.port ?? (typeof opts.port === 'number' ? opts.port : undefined);
      if (port === undefined) throw new UnknownServiceError(label, 'an IP target needs a port');
      const route =
        opts.protocol !== undefined
          ? this.table.byServiceAddress(parsed.ip, port, opts.protocol)
          : (this.table.byServiceAddress(parsed.ip, port, 'TCP') ??
            this.table.byServiceAddress(parsed.ip, port, 'UDP'));
      if (route)
        return { route, side: route.info.clusterIPs.includes(parsed.ip) ? 'internal' : 'external', label };
      if (this.table.isServiceIP(parsed.ip))
        throw new UnknownServiceError(label, `no service port ${port} on ${parsed.ip}`);
      throw new UnknownServiceError(label, `${parsed.ip} is not the IP of any service`);
    }
    const key = `${parsed.namespace}/${parsed.name}`;
    const routes = this.table.servicePorts(parsed.namespace, parsed.name);
    if (routes.length === 0) {
      const svc = this.table.snapshot?.services.get(key);
      if (svc === undefined) throw new UnknownServiceError(label, `service ${key} not found`);
      if (svc.spec.type === 'ExternalName')
        throw new UnknownServiceError(
          label,
          `service ${key} is an ExternalName service (${svc.spec.externalName ?? ''}); resolve it through DNS`,
        );
      if (svc.spec.clusterIP === 'None')
        throw new UnknownServiceError(
          label,
          `service ${key} is headless; it has no virtual IP to balance, resolve its endpoints through DNS`,
        );
      throw new UnknownServiceError(label, `service ${key} is not handled by this proxy`);
    }
    const wanted = parsed.port ?? opts.port;
    const byProto =
      opts.protocol !== undefined ? routes.filter((r) => r.info.protocol === opts.protocol) : routes;
    let candidates: readonly PortRoute[];
    if (wanted === undefined) {
      candidates = byProto;
      if (candidates.length > 1) {
        const tcp = candidates.filter((r) => r.info.protocol === 'TCP');
        if (
          tcp.length === 1 &&
          opts.protocol === undefined &&
          new Set(candidates.map((r) => r.info.port)).size === 1
        )
          candidates = tcp;
      }
      if (candidates.length !== 1)
        throw new UnknownPortError(
          label,
          key,
          candidates.length === 0 ? 'for that protocol' : '(several ports; name one)',
          describePorts(routes),
        );
    } else {
      candidates = byProto.filter((r) =>
        typeof wanted === 'number' ? r.info.port === wanted : r.info.name.port === wanted,
      );
      // The same port number over TCP and UDP (DNS on 53): prefer TCP unless asked otherwise.
      if (candidates.length > 1) candidates = candidates.filter((r) => r.info.protocol === 'TCP');
      if (candidates.length !== 1)
        throw new UnknownPortError(label, key, describePort(wanted, opts.protocol), describePorts(routes));
    }
    return { route: candidates[0] as PortRoute, side: 'internal', label };
  }

  /**
   * Opens a TCP socket to an endpoint of `target`, retrying another endpoint when one refuses
   * or times out: {@link connectService} with this resolver.
   *
   * @throws the errors of {@link resolve} (unknown service or port, no endpoints) at once
   * @throws ConnectFailedError when every attempt failed
   */
  connect(target: TargetInput, opts?: ConnectServiceOptions): Promise<Socket> {
    return connectService(this, target, opts);
  }

  /** Stops following the source and closes the balancers. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.source.off('snapshot', this.listener);
    this.table.clear();
  }
}

function noEndpoints(
  label: string,
  route: PortRoute,
  side: TrafficSide,
  node: string | undefined,
): NoEndpointsError {
  const local = side === 'external' ? route.info.externalPolicyLocal : route.info.internalPolicyLocal;
  const reason =
    route.hasAnyEndpoints && local
      ? `has no endpoints on this node${node ? ` (${node})` : ''} and its ${side} traffic policy is Local`
      : 'has no endpoints';
  return new NoEndpointsError(label, route.key, reason);
}
