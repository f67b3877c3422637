/**
 * The routing state the resolver and the proxy share: one {@link PortRoute} per service port,
 * holding that port's balancers, kept in step with snapshot updates, and indexes to find a
 * port by service name, by service IP and port, or by node port.
 *
 * Endpoint choice follows kube-proxy: endpoints are categorised by `categorizeEndpoints` for
 * this node; traffic addressed to the service name or a cluster IP uses the internal traffic
 * policy, traffic arriving on a node port, external IP or load-balancer VIP uses the external
 * one. ClientIP session affinity wraps the balancer when the service asks for it.
 *
 * @module
 */
import { isIP } from 'node:net';
import { RoundRobinBalancer } from '../../balancers';
import type { Balancer, PickContext, PickResult } from '../../balancers/balancer';
import { SessionAffinityBalancer } from '../../balancers/wrappers/session-affinity';
import type { Clock } from '../../core/clock';
import type {
  AffinitySpec,
  Endpoint,
  RoutingSnapshot,
  ServicePortEntry,
  ServicePortInfo,
  SnapshotUpdate,
} from '../../core/snapshot';
import type { Protocol } from '../../core/types';
import { canonicalIP } from '../../net/ip';
import { categorizeEndpoints, type RoutingNode } from '../../routing';

/**
 * Creates the balancer of one service port (and traffic side). The default is round-robin, the
 * policy of kube-proxy's userspace mode. ClientIP affinity is added around it by svcroute.
 */
export type BalancerFactory = (info: ServicePortInfo) => Balancer;

/** Default {@link BalancerFactory}: a new round-robin balancer per port. */
export const roundRobinFactory: BalancerFactory = () => new RoundRobinBalancer();

/** Options shared by every consumer of a {@link RouteTable}. */
export interface RouteTableOptions {
  /** Balancer per service port; default {@link roundRobinFactory}. */
  readonly balancer?: BalancerFactory;
  /**
   * The node this process routes for: decides which endpoints are local for Local traffic
   * policies and which topology hints apply. Default: a node named `''` (no endpoint is local).
   */
  readonly node?: RoutingNode;
  /** Clock for session affinity; default the system clock. */
  readonly clock?: Clock;
}

/** Which traffic policy applies: internal (name, cluster IP) or external (node port, external IP, VIP). */
export type TrafficSide = 'internal' | 'external';

function sameKeys(a: readonly Endpoint[], b: readonly Endpoint[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i]?.key !== b[i]?.key) return false;
  return true;
}

function sameAffinity(a: AffinitySpec, b: AffinitySpec): boolean {
  if (a.type !== b.type) return false;
  return a.type === 'None' || (b.type === 'ClientIP' && a.timeoutSeconds === b.timeoutSeconds);
}

/** Routing of one service port: its settings, its reachable endpoints and its balancers. */
export class PortRoute {
  info: ServicePortInfo;
  entry: ServicePortEntry;
  /** Endpoints internal traffic may go to (after traffic policy and topology). */
  internalEndpoints: readonly Endpoint[] = [];
  /** Endpoints external traffic may go to. */
  externalEndpoints: readonly Endpoint[] = [];
  /** The service has usable endpoints somewhere (even if none is reachable from this node). */
  hasAnyEndpoints = false;
  /** Keys of endpoints that may keep carrying traffic (reachable now); others get drained. */
  liveKeys: ReadonlySet<string> = new Set();
  private internal: Balancer;
  private external: Balancer | undefined;

  constructor(
    entry: ServicePortEntry,
    private readonly options: RouteTableOptions,
  ) {
    this.info = entry.info;
    this.entry = entry;
    this.internal = this.newBalancer();
    this.external = this.needsExternal() ? this.newBalancer() : undefined;
    this.refresh(entry, true);
  }

  /** `ns/name:port` (or `ns/name`), kube-proxy's service port name. */
  get key(): string {
    return this.info.key;
  }

  /** Picks an endpoint for traffic of `side`. */
  pick(side: TrafficSide, ctx?: PickContext): PickResult {
    return (side === 'external' && this.external !== undefined ? this.external : this.internal).picker.pick(
      ctx,
    );
  }

  /**
   * Picks an endpoint other than those in `avoid` when one exists (used on connect retries).
   * Tries the policy a few times, then walks the eligible list; returns the policy's own
   * answer when every endpoint has failed already.
   */
  pickAvoiding(side: TrafficSide, avoid: ReadonlySet<string>, ctx?: PickContext): PickResult {
    const first = this.pick(side, ctx);
    if (first.kind !== 'endpoint' || !avoid.has(first.endpoint.key)) return first;
    const eligible = this.endpointsFor(side);
    for (let i = 0; i < eligible.length; i++) {
      const r = this.pick(side, ctx);
      if (r.kind === 'endpoint' && !avoid.has(r.endpoint.key)) return r;
    }
    for (const endpoint of eligible) if (!avoid.has(endpoint.key)) return { kind: 'endpoint', endpoint };
    return first;
  }

  /** The endpoints traffic of `side` may reach. */
  endpointsFor(side: TrafficSide): readonly Endpoint[] {
    return side === 'external' && this.external !== undefined
      ? this.externalEndpoints
      : this.internalEndpoints;
  }

  /** Applies a new entry for the same port. */
  update(entry: ServicePortEntry): void {
    const affinityChanged = !sameAffinity(entry.info.sessionAffinity, this.info.sessionAffinity);
    this.info = entry.info;
    this.entry = entry;
    if (affinityChanged) {
      this.internal.close();
      this.external?.close();
      this.internal = this.newBalancer();
      this.external = undefined;
    }
    const wantExternal = this.needsExternal();
    let freshExternal = false;
    if (wantExternal && this.external === undefined) {
      this.external = this.newBalancer();
      freshExternal = true;
    }
    if (!wantExternal && this.external !== undefined) {
      this.external.close();
      this.external = undefined;
    }
    this.refresh(entry, affinityChanged, freshExternal);
  }

  /** Closes the balancers. */
  close(): void {
    this.internal.close();
    this.external?.close();
  }

  private needsExternal(): boolean {
    // Separate external balancing only matters when the two policies differ.
    return this.info.externalPolicyLocal !== this.info.internalPolicyLocal;
  }

  private refresh(entry: ServicePortEntry, force: boolean, forceExternal = force): void {
    const node = this.options.node ?? { name: '' };
    const cat = categorizeEndpoints(entry.info, entry.endpoints, node);
    const internal = (entry.info.internalPolicyLocal ? cat.localEndpoints : cat.clusterEndpoints) ?? [];
    const external = (entry.info.externalPolicyLocal ? cat.localEndpoints : cat.clusterEndpoints) ?? [];
    this.hasAnyEndpoints = cat.hasAnyEndpoints;
    if (force || !sameKeys(internal, this.internalEndpoints)) this.internal.update(internal);
    if (
      this.external !== undefined &&
      (forceExternal || force || !sameKeys(external, this.externalEndpoints))
    )
      this.external.update(external);
    this.internalEndpoints = internal;
    this.externalEndpoints = external;
    this.liveKeys = new Set(cat.allReachableEndpoints.map((e) => e.key));
  }

  private newBalancer(): Balancer {
    const base = (this.options.balancer ?? roundRobinFactory)(this.info);
    const aff = this.info.sessionAffinity;
    if (aff.type !== 'ClientIP') return base;
    return new SessionAffinityBalancer(
      base,
      { timeoutSeconds: aff.timeoutSeconds },
      this.options.clock ? { clock: this.options.clock } : {},
    );
  }
}

/** What {@link RouteTable.apply} changed, by service port key. */
export interface RouteChanges {
  readonly added: readonly PortRoute[];
  readonly updated: readonly PortRoute[];
  readonly removed: readonly PortRoute[];
}

/** `ip|port|protocol` index key, with the IP in canonical form. */
export function addressKey(ip: string, port: number, protocol: Protocol): string {
  return `${canonicalIP(ip) ?? ip}|${port}|${protocol}`;
}

/** Every service port of a snapshot as a {@link PortRoute}, with lookup indexes. */
export class RouteTable {
  private readonly routes = new Map<string, PortRoute>();
  private readonly byService = new Map<string, PortRoute[]>();
  private readonly byAddress = new Map<string, PortRoute>();
  private readonly byNodePort = new Map<string, PortRoute>();
  private current: RoutingSnapshot | undefined;

  constructor(private readonly options: RouteTableOptions = {}) {}

  /** The last snapshot applied. */
  get snapshot(): RoutingSnapshot | undefined {
    return this.current;
  }

  /** Every route, by service port key. */
  get all(): ReadonlyMap<string, PortRoute> {
    return this.routes;
  }

  /**
   * Brings the table to `update.current`. When `update.previous` is not the snapshot last
   * applied (the first update, or a gap), the whole snapshot is reconciled instead of the changes.
   */
  apply(update: SnapshotUpdate): RouteChanges {
    const added: PortRoute[] = [];
    const updated: PortRoute[] = [];
    const removed: PortRoute[] = [];
    const incremental = this.current !== undefined && update.previous === this.current;
    this.current = update.current;
    const keys = incremental
      ? update.changes.map((c) => c.key)
      : [...new Set([...this.routes.keys(), ...update.current.ports.keys()])];
    for (const key of keys) {
      const entry = update.current.ports.get(key);
      const route = this.routes.get(key);
      if (entry === undefined) {
        if (route === undefined) continue;
        this.unindex(route);
        this.routes.delete(key);
        route.close();
        removed.push(route);
      } else if (route === undefined) {
        const r = new PortRoute(entry, this.options);
        this.routes.set(key, r);
        this.index(r);
        added.push(r);
      } else if (route.entry !== entry) {
        this.unindex(route);
        route.update(entry);
        this.index(route);
        updated.push(route);
      }
    }
    return { added, updated, removed };
  }

  /** Closes every balancer and forgets all routes. */
  clear(): void {
    for (const r of this.routes.values()) r.close();
    this.routes.clear();
    this.byService.clear();
    this.byAddress.clear();
    this.byNodePort.clear();
  }

  /** The routable ports of service `ns/name`, in snapshot order. */
  servicePorts(namespace: string, name: string): readonly PortRoute[] {
    return this.byService.get(`${namespace}/${name}`) ?? [];
  }

  /** The port reached at `ip:port` (a cluster IP, external IP or load-balancer VIP). */
  byServiceAddress(ip: string, port: number, protocol: Protocol): PortRoute | undefined {
    return this.byAddress.get(addressKey(ip, port, protocol));
  }

  /** True when `ip` is an IP of some service (whatever the port). */
  isServiceIP(ip: string): boolean {
    const c = canonicalIP(ip) ?? ip;
    for (const r of this.routes.values()) if (serviceIPs(r.info).some((s) => s.ip === c)) return true;
    return false;
  }

  /** The port reached at node port `nodePort`. */
  byNode(nodePort: number, protocol: Protocol): PortRoute | undefined {
    return this.byNodePort.get(`${nodePort}|${protocol}`);
  }

  private index(r: PortRoute): void {
    const sk = `${r.info.name.namespace}/${r.info.name.name}`;
    const list = this.byService.get(sk) ?? [];
    list.push(r);
    this.byService.set(sk, list);
    for (const { ip } of serviceIPs(r.info))
      this.byAddress.set(addressKey(ip, r.info.port, r.info.protocol), r);
    if (r.info.nodePort !== 0) this.byNodePort.set(`${r.info.nodePort}|${r.info.protocol}`, r);
  }

  private unindex(r: PortRoute): void {
    const sk = `${r.info.name.namespace}/${r.info.name.name}`;
    const list = (this.byService.get(sk) ?? []).filter((x) => x !== r);
    if (list.length === 0) this.byService.delete(sk);
    else this.byService.set(sk, list);
    for (const { ip } of serviceIPs(r.info)) {
      const k = addressKey(ip, r.info.port, r.info.protocol);
      if (this.byAddress.get(k) === r) this.byAddress.delete(k);
    }
    const nk = `${r.info.nodePort}|${r.info.protocol}`;
    if (r.info.nodePort !== 0 && this.byNodePort.get(nk) === r) this.byNodePort.delete(nk);
  }
}

/** One address a service port is reachable at, with the traffic side it counts as. */
export interface ServiceIP {
  readonly ip: string;
  readonly kind: 'clusterIP' | 'externalIP' | 'loadBalancer';
}

/** The cluster IPs, external IPs and load-balancer VIPs of a port, canonical and de-duplicated. */
export function serviceIPs(info: ServicePortInfo): ServiceIP[] {
  const out: ServiceIP[] = [];
  const seen = new Set<string>();
  const add = (raw: string, kind: ServiceIP['kind']) => {
    if (isIP(raw) === 0) return;
    const ip = canonicalIP(raw) ?? raw;
    if (seen.has(ip)) return;
    seen.add(ip);
    out.push({ ip, kind });
  };
  for (const ip of info.clusterIPs) add(ip, 'clusterIP');
  for (const ip of info.externalIPs) add(ip, 'externalIP');
  for (const ip of info.loadBalancerVIPs) add(ip, 'loadBalancer');
  return out;
}
