/**
 * kube-proxy's userspace mode as a library: an {@link InprocessProxyBackend} opens one listener
 * per service port (and address), accepts TCP connections and UDP datagrams there, and forwards
 * them to endpoints picked by the port's balancer, following every snapshot.
 *
 * @module
 */
import { createServer, isIP, type Server, type Socket } from 'node:net';
import { EventEmitter } from 'eventemitter3';
import type { Endpoint, SnapshotUpdate } from '../../core/snapshot';
import { loadTcpRelay, type TcpRelay } from '../../native/tcp';
import type { Backend, SnapshotSource } from '../backend';
import { hostAddresses, type ListenerPlanOptions, type ListenerSpec, planListeners } from './listeners';
import { type PortStats, ProxyMetrics, renderPrometheus } from './metrics';
import { NativeRelay } from './native-relay';
import { type PortRoute, RouteTable, type RouteTableOptions } from './route-table';
import {
  DEFAULT_CONNECT_TIMEOUTS_MS,
  DEFAULT_SOCKET_BUFFER_BYTES,
  TcpSession,
  type TcpSessionHost,
} from './tcp-session';
import { DEFAULT_UDP_IDLE_TIMEOUT_MS, type UdpHost, UdpListener } from './udp-proxy';

/**
 * Grace period for connections to a removed endpoint: 30 s, the default
 * `terminationGracePeriodSeconds` of a pod, so a draining pod's connections outlive it no longer
 * than the pod would.
 */
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;
/** How long {@link InprocessProxyBackend.close} lets open connections finish: 5 s. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 5_000;
/** Accept backlog of each listener: 4096, above Linux's default `somaxconn` of 4096 since 5.4. */
export const DEFAULT_LISTEN_BACKLOG = 4096;

/** Options of {@link InprocessProxyBackend}. */
export interface InprocessProxyOptions extends RouteTableOptions, ListenerPlanOptions {
  /** Connect timeout per attempt; its length is the attempt count. Default {@link DEFAULT_CONNECT_TIMEOUTS_MS}. */
  readonly connectTimeoutsMs?: readonly number[];
  /** Write buffer per socket before the other side is paused. Default {@link DEFAULT_SOCKET_BUFFER_BYTES}. */
  readonly socketBufferBytes?: number;
  /** Hand every connection's client address to the balancer, not only for ClientIP affinity. */
  readonly passClientIP?: boolean;
  /** Close a TCP connection after this long with no byte either way; 0 (default) never, like kube-proxy. */
  readonly idleTimeoutMs?: number;
  /** Idle timeout of UDP sessions. Default {@link DEFAULT_UDP_IDLE_TIMEOUT_MS}. */
  readonly udpIdleTimeoutMs?: number;
  /** Grace period for connections to removed endpoints. Default {@link DEFAULT_DRAIN_TIMEOUT_MS}. */
  readonly drainTimeoutMs?: number;
  /** Grace period of {@link InprocessProxyBackend.close}. Default {@link DEFAULT_SHUTDOWN_TIMEOUT_MS}. */
  readonly shutdownTimeoutMs?: number;
  /** This host's addresses (to tell whether a cluster or external IP is local). Default: the interfaces'. */
  readonly localAddresses?: () => Iterable<string>;
  /**
   * Relay TCP in the native add-on's engine (accept, connect and copy in C on Node's event
   * loop) when it is built and not disabled by `SVCROUTE_NATIVE=0`. Default true (use it when
   * available); false always relays in JavaScript. Both behave the same: balancing, affinity,
   * retries, draining, idle timeout, events and metrics. UDP is always relayed in JavaScript.
   * The engine buffers at most one 64 KiB read per direction of a connection beyond the kernel's
   * socket buffers, so `socketBufferBytes` applies to the JavaScript path only.
   */
  readonly native?: boolean;
}

/** A listener as reported in events and {@link InprocessProxyBackend.openListeners}. */
export interface ListenerInfo extends ListenerSpec {
  /** The bound port (differs from `port` when that is 0). */
  readonly boundPort: number;
  /** `ns/name:port` of the service port. */
  readonly routeKey: string;
  /** Namespace of the service. */
  readonly namespace: string;
  /** Name of the service. */
  readonly service: string;
  /**
   * The service port number (`spec.ports[].port`) served, as of the last `listening` or
   * `listenerChanged` event of this listener: a `listenerClosed` event tells what was served.
   */
  readonly servicePort: number;
}

/** Events of {@link InprocessProxyBackend}. */
export interface InprocessProxyEvents {
  /** A listener opened. */
  listening: (l: ListenerInfo) => void;
  /** A listener closed (its service port went away or changed); `l` is what it served. */
  listenerClosed: (l: ListenerInfo) => void;
  /**
   * A listener stays open but the service port it serves changed number: a NodePort listener,
   * or a portal with `portalPort: 'auto'`, after `spec.ports[].port` changed (a listener on the
   * service port itself is closed and another opened instead). `l` is the listener now,
   * `previous` what the last event said. A `targetPort` change emits nothing.
   */
  listenerChanged: (l: ListenerInfo, previous: ListenerInfo) => void;
  /** A listener could not be opened (address in use, address not on this host, …). */
  listenError: (spec: ListenerSpec, error: Error) => void;
  /** A connect attempt failed; another endpoint is tried. */
  retry: (routeKey: string, endpoint: Endpoint, error: Error) => void;
  /** A connection was refused for good: no endpoint, or every attempt failed. */
  connectionFailed: (routeKey: string, error: Error) => void;
  /** Connections to endpoints no longer reachable were put on a drain deadline. */
  draining: (routeKey: string, endpointKeys: readonly string[]) => void;
}

interface OpenListener {
  readonly spec: ListenerSpec;
  route: PortRoute;
  /** The port's stats, fetched on the first accept after each sync (which may prune them). */
  stats?: PortStats | undefined;
  /** The set tracking this listener's route's sessions (shared by the route's listeners). */
  sessions?: Set<TcpSession>;
  boundPort: number;
  /** What the last `listening` or `listenerChanged` event said (unset until bound). */
  announced?: ListenerInfo;
  server?: Server;
  udp?: UdpListener;
  /** The native engine's listener handle, when the native relay serves this listener. */
  nativeHandle?: number;
}

function listenerInfo(l: OpenListener): ListenerInfo {
  const { name, port } = l.route.info;
  return {
    ...l.spec,
    boundPort: l.boundPort,
    namespace: name.namespace,
    service: name.name,
    servicePort: port,
  };
}

/** The userspace TCP/UDP proxy backend. Feed it with `attachBackend` or call {@link sync}. */
export class InprocessProxyBackend extends EventEmitter<InprocessProxyEvents> implements Backend {
  readonly name = 'inprocess-proxy';
  /** Counters per service port and endpoint. */
  readonly metrics = new ProxyMetrics();
  readonly table: RouteTable;
  private readonly open = new Map<string, OpenListener>();
  private readonly sessions = new Map<string, Set<TcpSession>>();
  private readonly udpByRoute = new Map<string, Set<UdpListener>>();
  private readonly tcpHost: TcpSessionHost;
  private readonly udpHost: UdpHost;
  private idleSweeper: NodeJS.Timeout | undefined;
  /** The native relay engine: created with the first native listener; null = not available. */
  private nativeRelay: NativeRelay | null | undefined;
  private closing: Promise<void> | undefined;
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly options: InprocessProxyOptions = {}) {
    super();
    this.table = new RouteTable(options);
    const endpointStats = (p: PortStats, key: string) => this.metrics.endpoint(p, key);
    this.tcpHost = {
      connectTimeoutsMs: options.connectTimeoutsMs ?? DEFAULT_CONNECT_TIMEOUTS_MS,
      socketBufferBytes: options.socketBufferBytes ?? DEFAULT_SOCKET_BUFFER_BYTES,
      passClientIP: options.passClientIP ?? false,
      endpointStats,
      onRetry: (s, ep, err) => this.emit('retry', s.route.key, ep, err),
      onFailed: (s, err) => {
        // A flood of refused connections (no endpoints) should not build errors nobody reads.
        if (this.listenerCount('connectionFailed') === 0) return;
        this.emit('connectionFailed', s.route.key, typeof err === 'string' ? new Error(err) : err);
      },
      onConnected: (s) => {
        // The endpoint may have been removed while connecting: drain at once.
        if (s.endpoint && !s.route.liveKeys.has(s.endpoint.key)) this.scheduleDrain(s);
      },
      onClosed: (s) => this.sessionsOf(s.route.key).delete(s),
    };
    this.udpHost = {
      udpIdleTimeoutMs: options.udpIdleTimeoutMs ?? DEFAULT_UDP_IDLE_TIMEOUT_MS,
      endpointStats,
      onNoEndpoint: (l, reason) => {
        if (this.listenerCount('connectionFailed') === 0) return;
        this.emit('connectionFailed', l.route.key, new Error(`no endpoints (${reason})`));
      },
    };
    const idle = options.idleTimeoutMs ?? 0;
    if (idle > 0) {
      const every = Math.max(10, Math.floor(idle / 2));
      this.idleSweeper = setInterval(() => this.sweepIdle(Math.ceil(idle / every)), every);
      this.idleSweeper.unref();
    }
  }

  /**
   * Follows `source`: syncs its current snapshot now, then every update it publishes, one at a
   * time in order. Resolves once the first sync is done; the returned function stops following.
   */
  async attach(source: SnapshotSource): Promise<() => void> {
    const listener = (u: SnapshotUpdate) => this.enqueue(u);
    source.on('snapshot', listener);
    const current = source.snapshot();
    this.enqueue({ previous: undefined, current, changes: [], changedServices: new Set() });
    await this.idle();
    return () => {
      source.off('snapshot', listener);
    };
  }

  /** Resolves when every update received through {@link attach} has been applied. */
  idle(): Promise<void> {
    return this.queue;
  }

  private enqueue(u: SnapshotUpdate): void {
    this.queue = this.queue.then(
      () => this.sync(u),
      () => this.sync(u),
    );
  }

  /** Applies a snapshot: updates balancers, drains connections to removed endpoints, opens/closes listeners. */
  async sync(update: SnapshotUpdate): Promise<void> {
    if (this.closing) return;
    const changes = this.table.apply(update);
    for (const r of [...changes.updated, ...changes.removed]) this.drainStale(r, changes.removed.includes(r));
    const local = new Set(this.options.localAddresses ? this.options.localAddresses() : hostAddresses());
    const plan = planListeners(
      [...this.table.all.values()].map((r) => r.info),
      this.options,
      local,
    );
    const wanted = new Map(plan.map((s) => [s.id, s]));
    const closing: Promise<void>[] = [];
    for (const [id, l] of this.open) {
      if (!wanted.has(id)) closing.push(this.closeListener(id, l));
      else {
        l.route = this.table.all.get(l.spec.routeKey) ?? l.route;
        const before = l.announced;
        if (before !== undefined && before.servicePort !== l.route.info.port) {
          l.announced = listenerInfo(l);
          this.emit('listenerChanged', l.announced, before);
        }
      }
    }
    const opening: Promise<void>[] = [];
    for (const spec of plan) if (!this.open.has(spec.id)) opening.push(this.openListener(spec));
    await Promise.all([...closing, ...opening]);
    this.nativeRelay?.refreshListeners();
    this.metrics.prune(new Set(this.table.all.keys()));
    // Pruning may have dropped a listener's stats object: the next accept fetches it again.
    for (const l of this.open.values()) l.stats = undefined;
    for (const [key, set] of this.sessions)
      if (set.size === 0 && !this.table.all.has(key)) this.sessions.delete(key);
  }

  /**
   * True when TCP listeners are relayed by the native engine (known once the first TCP listener
   * opened; see {@link InprocessProxyOptions.native}), false when JavaScript relays them.
   */
  get nativeTcp(): boolean {
    return this.nativeRelay !== undefined && this.nativeRelay !== null;
  }

  /** The listeners open now. */
  openListeners(): ListenerInfo[] {
    const out: ListenerInfo[] = [];
    for (const l of this.open.values()) if (l.announced) out.push(l.announced);
    return out;
  }

  /** Counters in the Prometheus text format. */
  prometheus(): string {
    return renderPrometheus(this.metrics);
  }

  /**
   * Stops accepting, lets open TCP connections finish for up to `shutdownTimeoutMs`, then closes
   * what is left. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    if (this.idleSweeper) clearInterval(this.idleSweeper);
    await Promise.all([...this.open].map(([id, l]) => this.closeListener(id, l)));
    const deadline = Date.now() + (this.options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS);
    const active = () => this.activeSessions() + (this.nativeRelay?.active() ?? 0);
    while (active() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const set of this.sessions.values()) for (const s of [...set]) s.destroy();
    if (this.nativeRelay) {
      this.nativeRelay.destroyAll();
      this.nativeRelay.close();
      this.metrics.setCollector(undefined);
    }
    this.table.clear();
  }

  private activeSessions(): number {
    let n = 0;
    for (const set of this.sessions.values()) n += set.size;
    return n;
  }

  private async openListener(spec: ListenerSpec): Promise<void> {
    const route = this.table.all.get(spec.routeKey);
    if (route === undefined) return;
    const l: OpenListener = { spec, route, boundPort: 0 };
    this.open.set(spec.id, l);
    const stats = this.metrics.port(
      route.key,
      route.info.name.namespace,
      route.info.name.name,
      route.info.name.port,
      route.info.protocol,
    );
    const native = spec.protocol === 'TCP' ? this.relayFor(spec) : undefined;
    try {
      if (spec.protocol === 'UDP') {
        const udp = new UdpListener(isIP(spec.address) === 6 ? 6 : 4, route, spec.side, stats, this.udpHost);
        l.udp = udp;
        l.boundPort = await udp.bind(spec.address, spec.port);
        let set = this.udpByRoute.get(spec.routeKey);
        if (!set) {
          set = new Set();
          this.udpByRoute.set(spec.routeKey, set);
        }
        set.add(udp);
      } else if (native !== undefined) {
        const [handle, bound] = native.listen(l, spec.address, spec.port, DEFAULT_LISTEN_BACKLOG);
        l.nativeHandle = handle;
        l.boundPort = bound;
      } else {
        const highWaterMark = this.tcpHost.socketBufferBytes;
        // Not `pauseOnConnect`: the client socket starts reading at once and its first bytes
        // wait in its stream (bounded by the high-water mark) while the endpoint connects. That
        // saves an event-loop turn per connection (the read no longer has to wait for the
        // connect) and notices a client that resets before the endpoint answers.
        const server = createServer({ allowHalfOpen: true, noDelay: true, highWaterMark }, (c) =>
          this.accept(l, c),
        );
        l.server = server;
        l.boundPort = await new Promise<number>((resolve, reject) => {
          server.once('error', reject);
          server.listen(
            { host: spec.address, port: spec.port, backlog: DEFAULT_LISTEN_BACKLOG, exclusive: true },
            () => {
              server.removeListener('error', reject);
              const addr = server.address();
              resolve(typeof addr === 'object' && addr !== null ? addr.port : spec.port);
            },
          );
        });
      }
    } catch (e) {
      this.open.delete(spec.id);
      l.udp?.close();
      this.emit('listenError', spec, e instanceof Error ? e : new Error(String(e)));
      return;
    }
    if (this.open.get(spec.id) !== l) {
      // Closed (by a sync or shutdown) while binding: nothing was announced, release the socket.
      if (l.udp) {
        this.udpByRoute.get(spec.routeKey)?.delete(l.udp);
        l.udp.close();
      }
      if (l.server?.listening) l.server.close();
      if (l.nativeHandle !== undefined) this.nativeRelay?.closeListener(l.nativeHandle);
      return;
    }
    // The route as of now: a sync may have changed it while the socket was binding.
    l.announced = listenerInfo(l);
    this.emit('listening', l.announced);
  }

  private closeListener(id: string, l: OpenListener): Promise<void> {
    if (this.open.get(id) === l) this.open.delete(id);
    if (l.udp) {
      this.udpByRoute.get(l.spec.routeKey)?.delete(l.udp);
      l.udp.close();
    }
    // Closing a server stops accepting; connections it accepted are left to finish or drain.
    // (The close callback waits for those connections, so it is not awaited.)
    if (l.server?.listening) l.server.close();
    if (l.nativeHandle !== undefined) this.nativeRelay?.closeListener(l.nativeHandle);
    if (l.announced) this.emit('listenerClosed', l.announced);
    return Promise.resolve();
  }

  /** The hot path: everything it needs hangs off the listener, so it looks nothing up. */
  private accept(l: OpenListener, client: Socket): void {
    const route = l.route;
    const stats = l.stats ?? this.listenerStats(l);
    const sessions = l.sessions ?? this.listenerSessions(l);
    sessions.add(new TcpSession(client, route, l.spec.side, stats, this.tcpHost));
  }

  private listenerStats(l: OpenListener): PortStats {
    const { key, info } = l.route;
    l.stats = this.metrics.port(key, info.name.namespace, info.name.name, info.name.port, info.protocol);
    return l.stats;
  }

  private listenerSessions(l: OpenListener): Set<TcpSession> {
    l.sessions = this.sessionsOf(l.spec.routeKey);
    return l.sessions;
  }

  private sessionsOf(routeKey: string): Set<TcpSession> {
    let set = this.sessions.get(routeKey);
    if (!set) {
      set = new Set();
      this.sessions.set(routeKey, set);
    }
    return set;
  }

  /**
   * The native engine for a TCP listener on `spec`, created on first use; undefined when the
   * JavaScript path serves it (option `native: false`, add-on absent or disabled, or an address
   * the engine cannot parse).
   */
  private relayFor(spec: ListenerSpec): NativeRelay | undefined {
    // Zoned IPv6 addresses (`fe80::1%eth0`) need the interface lookup Node does: JavaScript serves them.
    if (this.options.native === false || isIP(spec.address) === 0 || spec.address.includes('%'))
      return undefined;
    if (this.nativeRelay === undefined) {
      const relay = loadTcpRelay();
      this.nativeRelay = null;
      if (relay !== undefined) {
        const native = this.createNativeRelay(relay);
        if (native !== undefined) {
          this.nativeRelay = native;
          this.metrics.setCollector(() => native.collect());
        }
      }
    }
    return this.nativeRelay ?? undefined;
  }

  /** A native engine for this proxy; undefined (JavaScript relays) when the engine cannot start. */
  private createNativeRelay(relay: TcpRelay): NativeRelay | undefined {
    try {
      return new NativeRelay(relay, {
        connectTimeoutsMs: this.tcpHost.connectTimeoutsMs,
        idleTimeoutMs: this.options.idleTimeoutMs ?? 0,
        passClientIP: this.tcpHost.passClientIP,
        metrics: this.metrics,
        onRetry: (key, ep, err) => this.emit('retry', key, ep, err),
        onFailed: (key, err) => {
          if (this.listenerCount('connectionFailed') === 0) return;
          this.emit('connectionFailed', key, typeof err === 'string' ? new Error(err) : err);
        },
      });
    } catch {
      // Out of descriptors or memory for an epoll instance: the JavaScript path still works.
      return undefined;
    }
  }

  private drainStale(route: PortRoute, removed: boolean): void {
    const set = this.sessions.get(route.key);
    const drained: string[] = [];
    if (this.nativeRelay)
      drained.push(
        ...this.nativeRelay.drain(route, removed, this.options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS),
      );
    if (set) {
      for (const s of set) {
        if (s.drainTimer || s.endpoint === undefined) continue;
        if (removed || !route.liveKeys.has(s.endpoint.key)) {
          this.scheduleDrain(s);
          drained.push(s.endpoint.key);
        }
      }
    }
    for (const udp of this.udpByRoute.get(route.key) ?? [])
      udp.dropEndpointsNotIn(removed ? new Set() : route.liveKeys);
    if (drained.length > 0) this.emit('draining', route.key, [...new Set(drained)]);
  }

  private scheduleDrain(s: TcpSession): void {
    if (s.drainTimer) return;
    const ms = this.options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
    s.drainTimer = setTimeout(() => s.destroy(), ms);
    s.drainTimer.unref();
  }

  private sweepIdle(limit: number): void {
    for (const set of this.sessions.values()) {
      for (const s of set) {
        if (s.activity) {
          s.activity = false;
          s.idleSweeps = 0;
        } else if (++s.idleSweeps >= limit) {
          s.destroy();
        }
      }
    }
  }
}
