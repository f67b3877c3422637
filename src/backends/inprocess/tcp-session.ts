/**
 * One proxied TCP connection: connect to an endpoint with kube-proxy's retry schedule, then
 * shovel bytes both ways with backpressure, half-close and byte counters.
 *
 * The data path avoids `stream.pipe()` and its per-chunk bookkeeping: a `data` handler writes
 * the chunk to the other socket and pauses the source when the write buffer is full; `drain`
 * resumes it. So each direction buffers at most one socket write buffer (the high-water mark
 * plus one chunk), whatever the peers' speeds.
 *
 * @module
 */
import { connect as netConnect, type Socket, type TcpNetConnectOpts } from 'node:net';
import type { PickContext } from '../../balancers/balancer';
import type { Endpoint } from '../../core/snapshot';
import type { PortStats, TrafficStats } from './metrics';
import type { PortRoute, TrafficSide } from './route-table';

/**
 * Connect timeout of each attempt, in ms: 250, 500, 1000, 2000, i.e. four attempts with growing
 * patience, kube-proxy's userspace proxier's schedule (its `endpointDialTimeout`).
 */
export const DEFAULT_CONNECT_TIMEOUTS_MS: readonly number[] = [250, 500, 1000, 2000];

/**
 * Write buffer per socket before the other side is paused: 256 KiB. Node's default (16 KiB) is
 * smaller than one 64 KiB read, so every large read would stop and restart the source; a few
 * reads' worth keeps bulk transfers streaming while still bounding memory per connection.
 */
export const DEFAULT_SOCKET_BUFFER_BYTES = 256 * 1024;

/** What a session needs from its proxy. */
export interface TcpSessionHost {
  readonly connectTimeoutsMs: readonly number[];
  /** Write buffer per socket (stream high-water mark). */
  readonly socketBufferBytes: number;
  /** Pass the client address to the balancer (needed by ClientIP affinity; costs a syscall). */
  readonly passClientIP: boolean;
  readonly endpointStats: (port: PortStats, endpointKey: string) => TrafficStats;
  /** A connect attempt failed and another endpoint will be tried. */
  onRetry(session: TcpSession, endpoint: Endpoint, error: Error): void;
  /** The session failed before any endpoint took it. */
  onFailed(session: TcpSession, error: Error): void;
  /** The session ended (both sockets closed). */
  onClosed(session: TcpSession): void;
  /** The session connected to `endpoint`. */
  onConnected(session: TcpSession): void;
}

class ConnectTimeoutError extends Error {
  constructor(endpoint: Endpoint, ms: number) {
    super(`connect to ${endpoint.key} timed out after ${ms} ms`);
    this.name = 'ConnectTimeoutError';
  }
}

/** A client connection being proxied to one endpoint. */
export class TcpSession {
  upstream: Socket | undefined;
  endpoint: Endpoint | undefined;
  /** Set by the data path; the idle sweeper clears it and counts quiet sweeps. */
  activity = true;
  idleSweeps = 0;
  /** A drain deadline timer, once the endpoint was removed. */
  drainTimer: NodeJS.Timeout | undefined;
  private epStats: TrafficStats | undefined;
  private attempt = 0;
  private failed: Set<string> | undefined;
  private finished = false;
  private wired = false;
  private clientClosed = false;
  private upstreamClosed = false;
  private connectTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly client: Socket,
    readonly route: PortRoute,
    readonly side: TrafficSide,
    readonly stats: PortStats,
    private readonly host: TcpSessionHost,
  ) {
    stats.active++;
    stats.total++;
    client.on('error', () => this.abort(true));
    client.on('close', () => this.onClientClose());
    this.tryNext();
  }

  /** Closes both sockets now (drain deadline, shutdown, idle timeout). */
  destroy(): void {
    this.abort(false);
  }

  private tryNext(): void {
    if (this.finished) return;
    const timeouts = this.host.connectTimeoutsMs;
    // As kube-proxy does after a failed attempt, later attempts ignore session affinity.
    const wantsIP =
      this.attempt === 0 && (this.host.passClientIP || this.route.info.sessionAffinity.type === 'ClientIP');
    const clientIP = wantsIP ? this.client.remoteAddress : undefined;
    const ctx: PickContext | undefined = clientIP !== undefined ? { clientIP } : undefined;
    const pick =
      this.failed === undefined
        ? this.route.pick(this.side, ctx)
        : this.route.pickAvoiding(this.side, this.failed, ctx);
    if (pick.kind !== 'endpoint') {
      this.fail(new Error(`${this.route.key} has no endpoints (${pick.reason})`));
      return;
    }
    const endpoint = pick.endpoint;
    const done = pick.done;
    const ms = timeouts[Math.min(this.attempt, timeouts.length - 1)] ?? 1000;
    // `highWaterMark` reaches the socket's stream options (Node >= 18.17); older typings omit it.
    const connectOptions: TcpNetConnectOpts & { highWaterMark: number } = {
      host: endpoint.ip,
      port: endpoint.port,
      allowHalfOpen: true,
      noDelay: true,
      highWaterMark: this.host.socketBufferBytes,
    };
    const up = netConnect(connectOptions);
    this.upstream = up;
    this.endpoint = endpoint;
    const timer = setTimeout(() => up.destroy(new ConnectTimeoutError(endpoint, ms)), ms);
    this.connectTimer = timer;
    const onError = (err: Error) => {
      clearTimeout(timer);
      done?.({ ok: false });
      up.destroy();
      this.upstream = undefined;
      this.endpoint = undefined;
      if (this.finished) return;
      this.attempt++;
      if (this.failed === undefined) this.failed = new Set();
      this.failed.add(endpoint.key);
      if (this.attempt >= timeouts.length) {
        this.fail(err);
        return;
      }
      this.stats.retries++;
      this.host.endpointStats(this.stats, endpoint.key).retries++;
      this.host.onRetry(this, endpoint, err);
      this.tryNext();
    };
    up.on('error', onError);
    up.once('connect', () => {
      clearTimeout(timer);
      up.removeListener('error', onError);
      done?.({ ok: true });
      if (this.finished) {
        up.destroy();
        return;
      }
      this.wire(up, endpoint);
    });
  }

  private wire(up: Socket, endpoint: Endpoint): void {
    const client = this.client;
    const port = this.stats;
    const ep = this.host.endpointStats(port, endpoint.key);
    this.epStats = ep;
    ep.active++;
    ep.total++;
    this.wired = true;
    this.host.onConnected(this);
    client.on('data', (chunk: Buffer) => {
      this.activity = true;
      port.bytesToEndpoint += chunk.length;
      ep.bytesToEndpoint += chunk.length;
      if (!up.write(chunk)) client.pause();
    });
    up.on('data', (chunk: Buffer) => {
      this.activity = true;
      port.bytesToClient += chunk.length;
      ep.bytesToClient += chunk.length;
      if (!client.write(chunk)) up.pause();
    });
    up.on('drain', () => client.resume());
    client.on('drain', () => up.resume());
    // Half-close: a FIN from one side becomes a FIN to the other once buffered data is out.
    client.on('end', () => up.end());
    up.on('end', () => client.end());
    up.on('error', () => this.abort(true));
    up.on('close', () => {
      this.upstreamClosed = true;
      if (this.clientClosed) this.finish();
      else if (!(client.readableEnded && client.writableEnded)) client.destroy();
    });
    client.resume();
  }

  private onClientClose(): void {
    this.clientClosed = true;
    const up = this.upstream;
    if (!this.wired) {
      // Closed while connecting (or after failing): drop the attempt in flight.
      up?.destroy();
      this.finish();
    } else if (this.upstreamClosed) {
      this.finish();
    } else if (up !== undefined && !(up.readableEnded && up.writableEnded)) {
      up.destroy();
    }
  }

  private fail(err: Error): void {
    this.stats.errors++;
    this.host.onFailed(this, err);
    // A reset tells the client at once that nothing is there, as kube-proxy's REJECT does.
    this.client.resetAndDestroy();
  }

  private abort(isError: boolean): void {
    if (isError && !this.finished) {
      this.stats.errors++;
      if (this.epStats) this.epStats.errors++;
    }
    this.client.destroy();
    this.upstream?.destroy();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.connectTimer) clearTimeout(this.connectTimer);
    if (this.drainTimer) clearTimeout(this.drainTimer);
    this.stats.active--;
    if (this.epStats) this.epStats.active--;
    this.host.onClosed(this);
  }
}
