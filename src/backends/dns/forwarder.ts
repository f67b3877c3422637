/**
 * Relays queries for names outside the cluster zone to configured upstream servers, and only
 * to those (never an open resolver by accident). One UDP socket per address family; query IDs
 * are rewritten so concurrent clients cannot collide, and restored on the way back.
 */
import dgram from 'node:dgram';
import { isIP } from 'node:net';
import { DEFAULT_FORWARD_TIMEOUT_MS } from './constants';

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
  attempt: number;
  upstream: Upstream;
  timer: NodeJS.Timeout;
}

/** Forwards raw queries to upstreams in order, failing over on timeout. */
export class Forwarder {
  private readonly sockets = new Map<4 | 6, dgram.Socket>();
  private readonly pending = new Map<number, Pending>();
  private nextId = Math.floor(Math.random() * 0x10000);

  constructor(
    private readonly upstreams: readonly Upstream[],
    private readonly timeoutMs: number = DEFAULT_FORWARD_TIMEOUT_MS,
  ) {}

  /**
   * Sends `query` upstream; `reply` gets the upstream's response (with the client's ID) or
   * undefined when every upstream timed out (the caller answers SERVFAIL).
   */
  forward(query: Buffer, reply: (response: Buffer | undefined) => void): void {
    const first = this.upstreams[0];
    if (!first || query.length < 12 || this.pending.size >= 0xffff) {
      reply(undefined);
      return;
    }
    const id = this.allocateId();
    const copy = Buffer.from(query);
    const p: Pending = {
      clientId: copy.readUInt16BE(0),
      query: copy,
      reply,
      attempt: 0,
      upstream: first,
      timer: setTimeout(() => this.retry(id), this.timeoutMs),
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
    this.socket(isIP(p.upstream.host) === 6 ? 6 : 4).send(out, p.upstream.port, p.upstream.host);
  }

  private retry(id: number): void {
    const p = this.pending.get(id);
    if (!p) return;
    p.attempt++;
    const next = this.upstreams[p.attempt];
    if (!next) {
      this.pending.delete(id);
      p.reply(undefined);
      return;
    }
    p.upstream = next;
    p.timer = setTimeout(() => this.retry(id), this.timeoutMs);
    this.send(id, p);
  }

  private onResponse(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (msg.length < 12) return;
    const id = msg.readUInt16BE(0);
    const p = this.pending.get(id);
    // Only the upstream we asked may answer (no spoofed replies from elsewhere).
    if (!p || rinfo.port !== p.upstream.port || rinfo.address !== p.upstream.host) return;
    clearTimeout(p.timer);
    this.pending.delete(id);
    const out = Buffer.from(msg);
    out.writeUInt16BE(p.clientId, 0);
    p.reply(out);
  }

  /** Drops pending queries and closes the sockets. */
  close(): void {
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
  }
}
