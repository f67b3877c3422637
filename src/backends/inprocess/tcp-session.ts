/**
 * One proxied TCP connection: connect to an endpoint with kube-proxy's retry schedule, then
 * shovel bytes both ways with backpressure, half-close and byte counters.
 *
 * The data path avoids `stream.pipe()` and its per-chunk bookkeeping: each read is written to
 * the other socket at once, and the source is paused while that socket's write buffer is full;
 * `drain` resumes it. So each direction buffers at most one socket write buffer (the high-water
 * mark plus one chunk), whatever the peers' speeds.
 *
 * The endpoint → client direction (where bulk responses flow) reads into a buffer the session
 * reuses (`onread`) instead of a fresh 64 KiB allocation per read. Those per-read allocations
 * are external memory to V8, and their sheer rate is what drove full garbage collections many
 * times a second under bulk load, each one costing in proportion to the whole heap. A buffer is
 * reused only when the previous write of it finished synchronously; if the write was queued,
 * the queue keeps that buffer and the next read gets a new one.
 *
 * @module
 */
import { connect as netConnect, type Socket, type TcpNetConnectOpts } from 'node:net';
import type { PickContext, PickOutcome } from '../../balancers/balancer';
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

/**
 * Read buffer of a session whose endpoint sends little at a time: 4 KiB, one page, so thousands
 * of idle keep-alive connections hold little memory while a typical small response still fits
 * one read.
 */
const SMALL_READ_BUFFER_BYTES = 4 * 1024;
/** Read buffer once reads fill the small one: 64 KiB, the size Node itself reads with. */
const LARGE_READ_BUFFER_BYTES = 64 * 1024;
/** Consecutive short reads before a large read buffer is given back for a small one. */
const SHORT_READS_TO_SHRINK = 4;
/** Small read buffers kept for new sessions: 1024 (4 MiB), so connection churn allocates none. */
const FREE_SMALL_BUFFERS_MAX = 1024;
const freeSmallBuffers: Buffer[] = [];

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
  /**
   * The session failed before any endpoint took it: every attempt failed (`error` is the last
   * one's) or no endpoint could be picked (`error` is the balancer's reason, a string, so that
   * nothing is built when nobody listens for failures).
   */
  onFailed(session: TcpSession, error: Error | string): void;
  /** The session ended (both sockets closed). */
  onClosed(session: TcpSession): void;
  /** The session connected to `endpoint`. */
  onConnected(session: TcpSession): void;
}

/** A connect attempt that did not complete within its timeout. */
export class ConnectTimeoutError extends Error {
  constructor(endpoint: Endpoint, ms: number) {
    super(`connect to ${endpoint.key} timed out after ${ms} ms`);
    this.name = 'ConnectTimeoutError';
  }
}

type PickDone = (outcome: PickOutcome) => void;
const OK: PickOutcome = Object.freeze({ ok: true });
const FAILED: PickOutcome = Object.freeze({ ok: false });

/**
 * A client connection being proxied to one endpoint.
 *
 * Per connection the session adds to what the two sockets cost anyway only a few closures and
 * one connect timer: `drain` listeners are added only when a write buffer actually fills, a
 * socket whose other direction is already finished is closed rather than shut down first (see
 * `onClientEnd`), and the idle timeout is the proxy's sweep over sessions,
 * not a timer per socket (Node's `setTimeout` on a socket is re-armed on every read and write).
 */
export class TcpSession {
  /** The endpoint socket: the attempt in flight while connecting, then the connected one. */
  upstream: Socket | undefined;
  endpoint: Endpoint | undefined;
  /** Set by the data path; the idle sweeper clears it and counts quiet sweeps. */
  activity = true;
  idleSweeps = 0;
  /** A drain deadline timer, once the endpoint was removed. */
  drainTimer: NodeJS.Timeout | undefined;
  private epStats: TrafficStats | undefined;
  /** The balancer's outcome callback of the attempt in flight, when the policy wants one. */
  private pickDone: PickDone | undefined;
  private attempt = 0;
  private failed: Set<string> | undefined;
  private finished = false;
  private wired = false;
  private clientClosed = false;
  private upstreamClosed = false;
  /** The client is paused until the upstream's write buffer drains (a listener is waiting). */
  private clientPaused = false;
  /** The upstream is paused until the client's write buffer drains (a listener is waiting). */
  private upstreamPaused = false;
  private connectTimer: NodeJS.Timeout | undefined;
  /** Free read buffer for the endpoint → client direction; undefined while a write holds it. */
  private readBuffer: Buffer | undefined;
  /** Size of the last upstream read and of the buffer it went into (to grow or shrink it). */
  private lastReadBytes = 0;
  private lastReadBufferBytes = 0;
  private shortReads = 0;

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
      this.fail(`${this.route.key} has no endpoints (${pick.reason})`);
      return;
    }
    const endpoint = pick.endpoint;
    const ms = timeouts[Math.min(this.attempt, timeouts.length - 1)] ?? 1000;
    // `highWaterMark` reaches the socket's stream options (Node >= 18.17); older typings omit it.
    const connectOptions: TcpNetConnectOpts & { highWaterMark: number } = {
      host: endpoint.ip,
      port: endpoint.port,
      allowHalfOpen: true,
      noDelay: true,
      highWaterMark: this.host.socketBufferBytes,
      onread: { buffer: () => this.nextReadBuffer(), callback: (n, buf) => this.onEndpointRead(n, buf) },
    };
    const up = netConnect(connectOptions);
    this.upstream = up;
    this.endpoint = endpoint;
    this.pickDone = pick.done;
    this.connectTimer = setTimeout(() => up.destroy(new ConnectTimeoutError(endpoint, ms)), ms);
    // One listener per event for the socket's whole life: each checks it still is the session's.
    up.on('error', (err: Error) => this.onUpstreamError(up, err));
    up.on('connect', () => this.onUpstreamConnect(up));
  }

  private onUpstreamConnect(up: Socket): void {
    if (up !== this.upstream) return;
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    this.reportPick(OK);
    if (this.finished) {
      up.destroy();
      return;
    }
    this.wire(up);
  }

  private onUpstreamError(up: Socket, err: Error): void {
    // An abandoned attempt's late error, or the session's socket failing after it connected.
    if (up !== this.upstream) return;
    if (this.wired) {
      this.abort(true);
      return;
    }
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    this.reportPick(FAILED);
    const endpoint = this.endpoint as Endpoint;
    up.destroy();
    this.upstream = undefined;
    this.endpoint = undefined;
    if (this.finished) return;
    this.attempt++;
    if (this.failed === undefined) this.failed = new Set();
    this.failed.add(endpoint.key);
    if (this.attempt >= this.host.connectTimeoutsMs.length) {
      this.fail(err);
      return;
    }
    this.stats.retries++;
    this.host.endpointStats(this.stats, endpoint.key).retries++;
    this.host.onRetry(this, endpoint, err);
    this.tryNext();
  }

  private reportPick(outcome: PickOutcome): void {
    const done = this.pickDone;
    if (done === undefined) return;
    this.pickDone = undefined;
    done(outcome);
  }

  private wire(up: Socket): void {
    const client = this.client;
    const port = this.stats;
    const ep = this.host.endpointStats(port, (this.endpoint as Endpoint).key);
    this.epStats = ep;
    ep.active++;
    ep.total++;
    this.wired = true;
    this.host.onConnected(this);
    // The 'data' listener starts the flow, with what the client sent while the endpoint connected.
    client.on('data', (chunk: Buffer) => {
      this.activity = true;
      port.bytesToEndpoint += chunk.length;
      ep.bytesToEndpoint += chunk.length;
      if (!up.write(chunk) && !this.clientPaused) {
        this.clientPaused = true;
        client.pause();
        up.once('drain', () => {
          this.clientPaused = false;
          client.resume();
        });
      }
    });
    client.on('end', () => this.onClientEnd(up));
    up.on('end', () => this.onUpstreamEnd());
    up.on('close', () => this.onUpstreamClose());
  }

  /**
   * The client's FIN: passed on to the endpoint once what is buffered for it is written. When the
   * endpoint has sent its FIN already and nothing is buffered, closing the socket sends that FIN
   * just as a shutdown would (the kernel still delivers what it holds, then FIN), and saves the
   * shutdown request, its system call and the stream's finish steps: in the common
   * request/response exchange this is how every connection ends.
   */
  private onClientEnd(up: Socket): void {
    if (up.readableEnded && up.writableLength === 0) up.destroy();
    else up.end();
  }

  /** The endpoint's FIN, passed on to the client the same way (see `onClientEnd`). */
  private onUpstreamEnd(): void {
    const client = this.client;
    if (client.readableEnded && client.writableLength === 0) client.destroy();
    else client.end();
  }

  private onUpstreamClose(): void {
    this.upstreamClosed = true;
    const client = this.client;
    if (this.clientClosed) this.finish();
    else if (!(client.readableEnded && client.writableEnded)) client.destroy();
  }

  /**
   * Bytes from the endpoint (the upstream socket's `onread` callback): forwards them and, by
   * returning false when the client's write buffer is full, pauses the upstream until `drain`.
   */
  private onEndpointRead(n: number, buf: Uint8Array): boolean {
    const client = this.client;
    this.activity = true;
    this.stats.bytesToClient += n;
    // Set on connect, before the first read.
    if (this.epStats !== undefined) this.epStats.bytesToClient += n;
    this.lastReadBytes = n;
    this.lastReadBufferBytes = buf.length;
    const ok = client.write(n === buf.length ? buf : buf.subarray(0, n));
    // A write that did not complete at once still references the buffer: leave it to the write.
    if (client.writableLength > 0) this.readBuffer = undefined;
    if (!ok && !this.upstreamPaused) {
      this.upstreamPaused = true;
      client.once('drain', () => {
        this.upstreamPaused = false;
        this.upstream?.resume();
      });
    }
    return ok;
  }

  /** The buffer the next upstream read goes into (asked for after every read). */
  private nextReadBuffer(): Buffer {
    const n = this.lastReadBytes;
    this.shortReads = n < SMALL_READ_BUFFER_BYTES ? this.shortReads + 1 : 0;
    let size = this.lastReadBufferBytes || SMALL_READ_BUFFER_BYTES;
    if (n > 0 && n === this.lastReadBufferBytes) size = LARGE_READ_BUFFER_BYTES;
    else if (this.shortReads >= SHORT_READS_TO_SHRINK) size = SMALL_READ_BUFFER_BYTES;
    const current = this.readBuffer;
    if (current !== undefined && current.length === size) return current;
    // Unpooled: a pooled slice would pin its whole 8 KiB slab for the session's life. Only the
    // bytes of each read are ever sent, so a recycled buffer's old contents never leave it.
    const next =
      (size === SMALL_READ_BUFFER_BYTES ? freeSmallBuffers.pop() : undefined) ?? Buffer.allocUnsafeSlow(size);
    this.readBuffer = next;
    return next;
  }

  private onClientClose(): void {
    this.clientClosed = true;
    const up = this.upstream;
    if (!this.wired) {
      // Closed while connecting (or after failing): drop the attempt in flight. The endpoint is
      // not at fault, but the balancer still hears that the pick is over.
      this.reportPick(OK);
      up?.destroy();
      this.finish();
    } else if (this.upstreamClosed) {
      this.finish();
    } else if (up !== undefined && !(up.readableEnded && up.writableEnded)) {
      up.destroy();
    }
  }

  private fail(error: Error | string): void {
    this.stats.errors++;
    this.host.onFailed(this, error);
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
    // Both sockets are closed, so no read lands in the buffer any more, and a defined buffer is
    // not held by a pending write (see onEndpointRead).
    const buf = this.readBuffer;
    this.readBuffer = undefined;
    if (buf?.length === SMALL_READ_BUFFER_BYTES && freeSmallBuffers.length < FREE_SMALL_BUFFERS_MAX)
      freeSmallBuffers.push(buf);
    this.host.onClosed(this);
  }
}
