/**
 * TCP listeners of the userspace proxy served by the native relay engine (`src/native/tcp`):
 * the engine accepts, connects and relays in C; this module makes its decisions with the same
 * route table, balancers and connect schedule as the JavaScript sessions of `tcp-session.ts`,
 * and keeps the proxy's metrics, events and draining the same.
 *
 * Per connection JavaScript runs once (the pick) — twice more only when the balancer wants the
 * outcome (`done()`), the connection is retried, or it fails. Counters are collected from the
 * engine when metrics are read.
 *
 * @module
 */
import type { PickContext, PickOutcome, PickResult } from '../../balancers/balancer';
import type { Endpoint } from '../../core/snapshot';
import {
  COLLECT_STRIDE,
  CollectColumn,
  connectError,
  listenError,
  RELAY_REFUSE,
  relayAnswer,
  type TcpRelay,
  type TcpRelayEngine,
  TcpRelayEventKind,
} from '../../native/tcp';
import type { PortStats, ProxyMetrics, TrafficStats } from './metrics';
import type { PortRoute, TrafficSide } from './route-table';
import { ConnectTimeoutError } from './tcp-session';

/** What a native listener serves: the proxy's listener record (its route follows syncs). */
export interface NativeListenerTarget {
  readonly route: PortRoute;
  readonly spec: { readonly side: TrafficSide; readonly routeKey: string };
}

/** What the relay needs from its proxy. */
export interface NativeRelayHost {
  readonly connectTimeoutsMs: readonly number[];
  readonly idleTimeoutMs: number;
  readonly passClientIP: boolean;
  readonly metrics: ProxyMetrics;
  /** A connect attempt failed and another endpoint will be tried. */
  onRetry(routeKey: string, endpoint: Endpoint, error: Error): void;
  /** A connection failed for good (as `TcpSessionHost.onFailed`). */
  onFailed(routeKey: string, error: Error | string): void;
}

/** Labels of a port's stats, kept so counters can land after the route itself is gone. */
interface PortLabels {
  readonly key: string;
  readonly namespace: string;
  readonly service: string;
  readonly port: string;
  readonly protocol: string;
}

interface ListenerState {
  readonly target: NativeListenerTarget;
  labels: PortLabels;
  wantIP: boolean;
}

interface EndpointHandle {
  readonly id: number;
  readonly endpoint: Endpoint;
  readonly labels: PortLabels;
  /** Key in `byKey` while new connections may use it. */
  readonly mapKey: string;
}

/** State of a connection JavaScript follows: a pending outcome, or endpoints that failed. */
interface Tracked {
  done: ((outcome: PickOutcome) => void) | undefined;
  failed: Set<string> | undefined;
}

/**
 * How often the engine's counters are brought into the stats objects even when nobody reads
 * them through `ProxyMetrics` (code holding a stats object sees them move): 200 ms.
 */
export const NATIVE_COLLECT_INTERVAL_MS = 200;

/** Longest timer the engine takes, in ms (about 24.8 days, as Node's `setTimeout`). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A timer length the engine accepts: a whole number of ms in [0, {@link MAX_TIMER_MS}]. */
function timerMs(ms: number): number {
  return Number.isFinite(ms) ? Math.min(MAX_TIMER_MS, Math.max(0, Math.ceil(ms))) : MAX_TIMER_MS;
}

const OK: PickOutcome = Object.freeze({ ok: true });
const FAILED: PickOutcome = Object.freeze({ ok: false });

function labelsOf(route: PortRoute): PortLabels {
  const { info } = route;
  return {
    key: route.key,
    namespace: info.name.namespace,
    service: info.name.name,
    port: info.name.port,
    protocol: info.protocol,
  };
}

function portStats(metrics: ProxyMetrics, l: PortLabels): PortStats {
  return metrics.port(l.key, l.namespace, l.service, l.port, l.protocol);
}

function wantsClientIP(host: NativeRelayHost, route: PortRoute): boolean {
  return host.passClientIP || route.info.sessionAffinity.type === 'ClientIP';
}

/** One native engine serving every native TCP listener of a proxy. */
export class NativeRelay {
  private readonly engine: TcpRelayEngine;
  private readonly listeners = new Map<number, ListenerState>();
  private readonly handles = new Map<number, EndpointHandle>();
  /** Live handles by `routeKey \0 endpointKey`. */
  private readonly byKey = new Map<string, EndpointHandle>();
  private readonly byRoute = new Map<string, Set<EndpointHandle>>();
  private readonly tracked = new Map<number, Tracked>();
  private closed = false;
  private readonly collector: NodeJS.Timeout;

  constructor(
    private readonly relay: TcpRelay,
    private readonly host: NativeRelayHost,
  ) {
    this.engine = relay.createEngine(
      (kind, id, listener, endpoint, attempt, errno, ip) =>
        this.onEvent(kind, id, listener, endpoint, attempt, errno, ip),
      host.connectTimeoutsMs.map(timerMs),
      timerMs(host.idleTimeoutMs),
    );
    this.collector = setInterval(() => this.collect(), NATIVE_COLLECT_INTERVAL_MS);
    this.collector.unref();
  }

  /**
   * Opens a listener for `target` on `address:port`; returns the handle and bound port. Throws
   * the error Node's `listen()` would (with `code`) when the address cannot be bound.
   */
  listen(target: NativeListenerTarget, address: string, port: number, backlog: number): [number, number] {
    const wantIP = wantsClientIP(this.host, target.route);
    const r = this.relay.listen(this.engine, address, port, backlog, wantIP);
    if (typeof r === 'number') throw listenError(r, address, port);
    const [handle, bound] = r;
    this.listeners.set(handle, { target, labels: labelsOf(target.route), wantIP });
    return [handle, bound];
  }

  /** Stops accepting on a listener; accepted connections go on. */
  closeListener(handle: number): void {
    if (this.closed) return;
    this.relay.closeListener(this.engine, handle);
  }

  /** Follows a sync: listeners whose route's affinity changed pass (or stop passing) client IPs. */
  refreshListeners(): void {
    if (this.closed) return;
    for (const [handle, l] of this.listeners) {
      const want = wantsClientIP(this.host, l.target.route);
      if (want !== l.wantIP) {
        l.wantIP = want;
        this.relay.setClientIP(this.engine, handle, want);
      }
    }
  }

  /**
   * Puts connections to endpoints of `route` no longer reachable (all, when `removed`) on a
   * `graceMs` deadline; returns the keys of endpoints that had connections.
   */
  drain(route: PortRoute, removed: boolean, graceMs: number): string[] {
    const set = this.byRoute.get(route.key);
    if (set === undefined || this.closed) return [];
    const drained: string[] = [];
    for (const h of set) {
      if (!removed && route.liveKeys.has(h.endpoint.key)) continue;
      set.delete(h);
      this.byKey.delete(h.mapKey);
      if (this.relay.drainEndpoint(this.engine, h.id, timerMs(graceMs)) > 0) drained.push(h.endpoint.key);
    }
    if (set.size === 0) this.byRoute.delete(route.key);
    return drained;
  }

  /** Connections open now (connecting or relaying). */
  active(): number {
    return this.closed ? 0 : this.relay.count(this.engine);
  }

  /** Closes every connection now. */
  destroyAll(): void {
    if (!this.closed) this.relay.destroyAll(this.engine);
  }

  /** Adds the engine's counters since the last call to the proxy's metrics. */
  collect(): void {
    if (this.closed) return;
    const rows = this.relay.collect(this.engine);
    const metrics = this.host.metrics;
    for (let i = 0; i + COLLECT_STRIDE <= rows.length; i += COLLECT_STRIDE) {
      const slot = rows[i + CollectColumn.slot] as number;
      const dead = rows[i + CollectColumn.dead] === 1;
      const listener = this.listeners.get(slot);
      const handle = listener === undefined ? this.handles.get(slot) : undefined;
      let changed = false;
      for (let k = CollectColumn.active; k < COLLECT_STRIDE; k++) if (rows[i + k] !== 0) changed = true;
      let stats: TrafficStats | undefined;
      // A last row with nothing new must not bring back the stats of a port pruned since.
      if (!changed) stats = undefined;
      else if (listener !== undefined) stats = portStats(metrics, listener.labels);
      else if (handle !== undefined)
        stats = metrics.endpoint(portStats(metrics, handle.labels), handle.endpoint.key);
      if (stats !== undefined) {
        stats.active += rows[i + CollectColumn.active] as number;
        stats.total += rows[i + CollectColumn.total] as number;
        stats.bytesToEndpoint += rows[i + CollectColumn.bytesToEndpoint] as number;
        stats.bytesToClient += rows[i + CollectColumn.bytesToClient] as number;
        stats.errors += rows[i + CollectColumn.errors] as number;
      }
      if (dead) {
        this.listeners.delete(slot);
        this.handles.delete(slot);
      }
    }
  }

  /** Closes the engine (listeners and connections). */
  close(): void {
    if (this.closed) return;
    clearInterval(this.collector);
    this.collect();
    // Closed first: a `done()` or event handler run by the engine's close may call close() again.
    this.closed = true;
    this.relay.closeEngine(this.engine);
    for (const t of this.tracked.values()) t.done?.(OK);
    this.tracked.clear();
  }

  private onEvent(
    kind: TcpRelayEventKind,
    id: number,
    listener: number,
    endpoint: number,
    attempt: number,
    errno: number,
    ip: string | undefined,
  ): number {
    switch (kind) {
      case TcpRelayEventKind.Accept:
        return this.onAccept(id, listener, ip);
      case TcpRelayEventKind.Failed:
        return this.onConnectFailed(id, listener, endpoint, attempt, errno);
      case TcpRelayEventKind.Connected: {
        const t = this.tracked.get(id);
        if (t?.done !== undefined) {
          const done = t.done;
          t.done = undefined;
          done(OK);
        }
        return 0;
      }
      case TcpRelayEventKind.Closed: {
        // Closed while connecting: the endpoint is not at fault, but the pick is over.
        this.tracked.get(id)?.done?.(OK);
        this.tracked.delete(id);
        return 0;
      }
      default:
        return RELAY_REFUSE;
    }
  }

  /** The hot path: one pick per accepted connection. */
  private onAccept(id: number, listener: number, ip: string | undefined): number {
    const l = this.listeners.get(listener);
    if (l === undefined) return RELAY_REFUSE;
    const route = l.target.route;
    const ctx: PickContext | undefined = ip !== undefined ? { clientIP: ip } : undefined;
    const pick = route.pick(l.target.spec.side, ctx);
    const h = this.handleOfPick(route, pick);
    if (h === undefined || pick.kind !== 'endpoint') return RELAY_REFUSE;
    if (pick.done === undefined) return relayAnswer(h.id, false);
    this.tracked.set(id, { done: pick.done, failed: undefined });
    return relayAnswer(h.id, true);
  }

  private onConnectFailed(
    id: number,
    listener: number,
    endpoint: number,
    attempt: number,
    errno: number,
  ): number {
    const answer = this.retryAfterFailure(id, listener, endpoint, attempt, errno);
    // A refused connection may never report Closed (only connections answered as tracked do):
    // forget it here, or every such connection would stay in the map.
    if (answer === RELAY_REFUSE) this.tracked.delete(id);
    return answer;
  }

  private retryAfterFailure(
    id: number,
    listener: number,
    endpoint: number,
    attempt: number,
    errno: number,
  ): number {
    const l = this.listeners.get(listener);
    const h = this.handles.get(endpoint);
    let t = this.tracked.get(id);
    if (t?.done !== undefined) {
      const done = t.done;
      t.done = undefined;
      done(FAILED);
    }
    if (l === undefined || h === undefined) return RELAY_REFUSE;
    const route = l.target.route;
    const ep = h.endpoint;
    const timeouts = this.host.connectTimeoutsMs;
    const error =
      errno === 0
        ? new ConnectTimeoutError(ep, timeouts[Math.min(attempt - 1, timeouts.length - 1)] ?? 1000)
        : connectError(errno, ep.ip, ep.port);
    if (attempt >= timeouts.length) {
      this.fail(route, error);
      return RELAY_REFUSE;
    }
    const stats = portStats(this.host.metrics, l.labels);
    stats.retries++;
    this.host.metrics.endpoint(portStats(this.host.metrics, h.labels), ep.key).retries++;
    this.host.onRetry(route.key, ep, error);
    if (t === undefined) {
      t = { done: undefined, failed: undefined };
      this.tracked.set(id, t);
    }
    t.failed ??= new Set();
    t.failed.add(ep.key);
    // As kube-proxy does after a failed attempt, later attempts ignore session affinity.
    const pick = route.pickAvoiding(l.target.spec.side, t.failed);
    const next = this.handleOfPick(route, pick);
    if (next === undefined || pick.kind !== 'endpoint') return RELAY_REFUSE;
    t.done = pick.done;
    return relayAnswer(next.id, true);
  }

  private fail(route: PortRoute, error: Error | string): void {
    portStats(this.host.metrics, labelsOf(route)).errors++;
    this.host.onFailed(route.key, error);
  }

  /**
   * The engine's handle for `endpoint` of `route`, registered on first use; undefined (and the
   * connection failed) when the engine cannot take the address.
   */
  /**
   * The engine handle of a pick's endpoint; undefined when the balancer had none (reported as a
   * failed connection) or the endpoint cannot be registered (the pick's outcome is a failure).
   */
  private handleOfPick(route: PortRoute, pick: PickResult): EndpointHandle | undefined {
    if (pick.kind !== 'endpoint') {
      this.fail(route, `${route.key} has no endpoints (${pick.reason})`);
      return undefined;
    }
    const h = this.handleFor(route, pick.endpoint);
    if (h === undefined) pick.done?.(FAILED);
    return h;
  }

  private handleFor(route: PortRoute, endpoint: Endpoint): EndpointHandle | undefined {
    const mapKey = `${route.key}\0${endpoint.key}`;
    const known = this.byKey.get(mapKey);
    if (known !== undefined) return known;
    let id: number;
    try {
      id = this.relay.endpoint(this.engine, endpoint.ip, endpoint.port);
    } catch (e) {
      this.fail(route, e instanceof Error ? e : new Error(String(e)));
      return undefined;
    }
    const h: EndpointHandle = { id, endpoint, labels: labelsOf(route), mapKey };
    this.handles.set(id, h);
    this.byKey.set(mapKey, h);
    let set = this.byRoute.get(route.key);
    if (set === undefined) {
      set = new Set();
      this.byRoute.set(route.key, set);
    }
    set.add(h);
    return h;
  }
}
