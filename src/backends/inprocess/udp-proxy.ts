/**
 * The UDP side of the userspace proxy: one socket per listener, and per client address a
 * session with its own upstream socket to the endpoint picked for that client, closed after an
 * idle period (no datagram either way), as kube-proxy's userspace proxier does.
 *
 * @module
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import type { Endpoint } from '../../core/snapshot';
import type { PortStats, TrafficStats } from './metrics';
import type { PortRoute, TrafficSide } from './route-table';

/** Idle timeout of a UDP session: 250 ms, kube-proxy's `--udp-timeout` default for userspace mode. */
export const DEFAULT_UDP_IDLE_TIMEOUT_MS = 250;

/** What a UDP listener needs from its proxy. */
export interface UdpHost {
  readonly udpIdleTimeoutMs: number;
  readonly endpointStats: (port: PortStats, endpointKey: string) => TrafficStats;
  onNoEndpoint(listener: UdpListener, reason: string): void;
}

interface UdpSession {
  readonly upstream: Socket;
  readonly endpoint: Endpoint;
  readonly stats: TrafficStats;
  readonly timer: NodeJS.Timeout;
}

/** A bound UDP socket proxying datagrams of one service port. */
export class UdpListener {
  readonly socket: Socket;
  private readonly sessions = new Map<string, UdpSession>();
  private closed = false;

  constructor(
    family: 4 | 6,
    public route: PortRoute,
    readonly side: TrafficSide,
    readonly stats: PortStats,
    private readonly host: UdpHost,
  ) {
    this.socket = createSocket({ type: family === 6 ? 'udp6' : 'udp4', ipv6Only: family === 6 });
    this.socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
  }

  /** Binds; resolves with the bound port. */
  bind(address: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.socket.once('error', onError);
      this.socket.bind({ address, port, exclusive: true }, () => {
        this.socket.removeListener('error', onError);
        // Errors after binding (ICMP-driven send errors) are per datagram; never fatal.
        this.socket.on('error', () => {});
        resolve(this.socket.address().port);
      });
    });
  }

  /** Number of client sessions open. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Closes sessions whose endpoint is not in `live` (UDP has no graceful drain). */
  dropEndpointsNotIn(live: ReadonlySet<string>): void {
    for (const [key, s] of this.sessions) if (!live.has(s.endpoint.key)) this.endSession(key, s);
  }

  /** Closes the socket and every session. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const [key, s] of this.sessions) this.endSession(key, s);
    this.socket.close();
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    const key = `${rinfo.address}|${rinfo.port}`;
    let s = this.sessions.get(key);
    if (s === undefined) {
      const created = this.open(key, rinfo);
      if (created === undefined) return;
      s = created;
    }
    s.timer.refresh();
    this.stats.bytesToEndpoint += msg.length;
    s.stats.bytesToEndpoint += msg.length;
    s.upstream.send(msg, s.endpoint.port, s.endpoint.ip);
  }

  private open(key: string, rinfo: RemoteInfo): UdpSession | undefined {
    const pick = this.route.pick(this.side, { clientIP: rinfo.address });
    if (pick.kind !== 'endpoint') {
      this.stats.errors++;
      this.host.onNoEndpoint(this, pick.reason);
      return undefined;
    }
    const endpoint = pick.endpoint;
    pick.done?.({ ok: true });
    const upstream = createSocket(isIP(endpoint.ip) === 6 ? 'udp6' : 'udp4');
    const stats = this.host.endpointStats(this.stats, endpoint.key);
    const timer = setTimeout(() => {
      const cur = this.sessions.get(key);
      if (cur !== undefined) this.endSession(key, cur);
    }, this.host.udpIdleTimeoutMs);
    const session: UdpSession = { upstream, endpoint, stats, timer };
    upstream.on('message', (reply, from) => {
      if (from.port !== endpoint.port) return;
      timer.refresh();
      this.stats.bytesToClient += reply.length;
      stats.bytesToClient += reply.length;
      if (!this.closed) this.socket.send(reply, rinfo.port, rinfo.address);
    });
    upstream.on('error', () => {
      this.stats.errors++;
      stats.errors++;
      const cur = this.sessions.get(key);
      if (cur === session) this.endSession(key, session);
    });
    this.sessions.set(key, session);
    this.stats.active++;
    this.stats.total++;
    stats.active++;
    stats.total++;
    return session;
  }

  private endSession(key: string, s: UdpSession): void {
    if (this.sessions.get(key) !== s) return;
    this.sessions.delete(key);
    clearTimeout(s.timer);
    s.upstream.close();
    this.stats.active--;
    s.stats.active--;
  }
}
