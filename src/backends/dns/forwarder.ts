/**
 * Relays queries for names outside the cluster zone to configured upstream servers, and only
 * to those (never an open resolver by accident). UDP goes through one socket per address
 * family, with query IDs rewritten so concurrent clients cannot collide and restored on the way
 * back; TCP uses one connection per query. Which transport is used follows CoreDNS's forward
 * plugin: the client's own by default, or `prefer_udp` / `force_tcp`.
 */
import dgram from 'node:dgram';
import net, { isIP } from 'node:net';
import { DEFAULT_FORWARD_TIMEOUT_MS } from './constants';

/**
 * How queries travel upstream, as CoreDNS's forward plugin chooses: `client` (its default) uses
 * the transport the query arrived on, so a truncated UDP answer goes back truncated and the
 * client retries over TCP; `prefer_udp` always starts with UDP and retries a truncated answer
 * over TCP; `force_tcp` always uses TCP.
 */
export type ForwardTransport = 'client' | 'prefer_udp' | 'force_tcp';

/** The transport a query arrived on. */
export type ClientTransport = 'udp' | 'tcp';

/** Header flag TC (truncated), in the second 16-bit word. */
const TC_BIT = 0x0200;

/** An upstream server address. */
export interface Upstream {
  readonly host: string;
  readonly port: number;
}

/** Parses `ip`, `ip:port` or `[ipv6]:port` (port 53 by default). Throws on anything else. */
export function parseUpstream(text: string): Upstream {
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracket?.[1]) return checked(bracket[1], bracket[2] ? Number(bracket[2]) : 53, text);
  if (isIP(text) === 6) return checked(text, 53, text);
  const i = text.lastIndexOf(':');
  if (i < 0) return checked(text, 53, text);
  return checked(text.slice(0, i), Number(text.slice(i + 1)), text);
}

function checked(host: string, port: number, text: string): Upstream {
  if (isIP(host) === 0) throw new Error(`upstream ${JSON.stringify(text)}: not an IP address`);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`upstream ${JSON.stringify(text)}: invalid port`);
  return { host, port };
}

interface Pending {
  readonly clientId: number;
  readonly query: Buffer;
  readonly reply: (response: Buffer | undefined) => void;
  /** The transport the first try with each upstream uses. */
  readonly start: ClientTransport;
  /** The transport of the try in flight. */
  transport: ClientTransport;
  attempt: number;
  upstream: Upstream;
  timer: NodeJS.Timeout;
  /** The connection of a TCP try in flight. */
  tcp: net.Socket | undefined;
}

/**
 * Forwards raw queries to upstreams in order, failing over on timeout or connection error.
 * Replies come back as the upstream sent them (client ID restored); fitting them to the
 * client's UDP size is the caller's job (the server does it with `truncateReply`).
 */
export class Forwarder {
  private readonly sockets = new Map<4 | 6, dgram.Socket>();
  private readonly pending = new Map<number, Pending>();
  private nextId = Math.floor(Math.random() * 0x10000);

  /**
   * @param timeoutMs how long each upstream gets (a TCP retry after a truncated UDP answer
   *   included) before the next one is tried.
   */
  constructor(
    private readonly upstreams: readonly Upstream[],
    private readonly timeoutMs: number = DEFAULT_FORWARD_TIMEOUT_MS,
    private readonly mode: ForwardTransport = 'client',
  ) {}

  /**
   * Sends `query` upstream; `reply` gets the upstream's response (with the client's ID) or
   * undefined when every upstream failed (the caller answers SERVFAIL). `via` is the transport
   * the client used, which picks the upstream transport in `client` mode.
   */
  forward(query: Buffer, reply: (response: Buffer | undefined) => void, via: ClientTransport = 'udp'): void {
    const first = this.upstreams[0];
    if (!first || query.length < 12 || this.pending.size >= 0xffff) {
      reply(undefined);
      return;
    }
    const id = this.allocateId();
    const copy = Buffer.from(query);
    const start: ClientTransport =
      this.mode === 'force_tcp' ? 'tcp' : this.mode === 'prefer_udp' ? 'udp' : via;
    const p: Pending = {
      clientId: copy.readUInt16BE(0),
      query: copy,
      reply,
      start,
      transport: start,
      attempt: 0,
      upstream: first,
      timer: setTimeout(() => this.retry(id), this.timeoutMs),
      tcp: undefined,
    };
    this.pending.set(id, p);
    this.send(id, p);
  }

  private allocateId(): number {
    for (;;) {
      this.nextId = (this.nextId + 1) & 0xffff;
      if (!this.pending.has(this.nextId)) return this.nextId;
    }
  }

  private socket(family: 4 | 6): dgram.Socket {
    let s = this.sockets.get(family);
    if (!s) {
      s = dgram.createSocket(family === 4 ? 'udp4' : 'udp6');
      s.on('message', (msg, rinfo) => this.onResponse(msg, rinfo));
      s.on('error', () => {});
      s.unref();
      this.sockets.set(family, s);
    }
    return s;
  }

  private send(id: number, p: Pending): void {
    const out = Buffer.from(p.query);
    out.writeUInt16BE(id, 0);
    if (p.transport === 'tcp') this.sendTcp(id, p, out);
    else this.socket(isIP(p.upstream.host) === 6 ? 6 : 4).send(out, p.upstream.port, p.upstream.host);
  }

  /** One connection per query: write the framed query, read one framed response, close. */
  private sendTcp(id: number, p: Pending, query: Buffer): void {
    const socket = net.connect({ host: p.upstream.host, port: p.upstream.port });
    p.tcp = socket;
    socket.setNoDelay(true);
    const framed = Buffer.allocUnsafe(query.length + 2);
    framed.writeUInt16BE(query.length, 0);
    query.copy(framed, 2);
    socket.write(framed);
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 2) return;
      const len = buf.readUInt16BE(0);
      if (buf.length < len + 2) return;
      socket.destroy();
      if (this.pending.get(id) !== p || p.tcp !== socket) return;
      p.tcp = undefined;
      const msg = buf.subarray(2, len + 2);
      if (msg.length < 12 || msg.readUInt16BE(0) !== id) this.failFast(id, p);
      else this.finish(id, p, msg);
    });
    // A refused or reset connection fails this upstream at once, as in CoreDNS (no waiting
    // out the timeout); the next upstream is tried.
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      if (this.pending.get(id) === p && p.tcp === socket) {
        p.tcp = undefined;
        this.failFast(id, p);
      }
    });
  }

  private failFast(id: number, p: Pending): void {
    clearTimeout(p.timer);
    this.retry(id);
  }

  private retry(id: number): void {
    const p = this.pending.get(id);
    if (!p) return;
    p.tcp?.destroy();
    p.tcp = undefined;
    p.attempt++;
    const next = this.upstreams[p.attempt];
    if (!next) {
      this.pending.delete(id);
      p.reply(undefined);
      return;
    }
    p.upstream = next;
    p.transport = p.start;
    p.timer = setTimeout(() => this.retry(id), this.timeoutMs);
    this.send(id, p);
  }

  private onResponse(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (msg.length < 12) return;
    const id = msg.readUInt16BE(0);
    const p = this.pending.get(id);
    // Only the upstream we asked may answer (no spoofed replies from elsewhere).
    if (!p) return;
    if (p.transport !== 'udp' || rinfo.port !== p.upstream.port || rinfo.address !== p.upstream.host) return;
    if (this.mode === 'prefer_udp' && (msg.readUInt16BE(2) & TC_BIT) !== 0) {
      // CoreDNS's forward retries a truncated answer over TCP only with prefer_udp; the
      // upstream's time budget keeps running.
      p.transport = 'tcp';
      this.send(id, p);
      return;
    }
    this.finish(id, p, msg);
  }

  private finish(id: number, p: Pending, msg: Buffer): void {
    clearTimeout(p.timer);
    this.pending.delete(id);
    const out = Buffer.from(msg);
    out.writeUInt16BE(p.clientId, 0);
    p.reply(out);
  }

  /** Drops pending queries and closes the sockets. */
  close(): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.tcp?.destroy();
      p.tcp = undefined;
    }
    this.pending.clear();
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
  }
}
