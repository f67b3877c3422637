/**
 * The authoritative DNS server (UDP + TCP) in front of a {@link DnsResolver}. Responses are
 * encoded once per (name, type) and kept as wire templates; answering a cached question copies
 * the template, patches the query's ID, RD/CD bits and question bytes, appends an OPT record
 * for EDNS0 clients, and sends. Anything unusual goes to a slow path built on dns-packet.
 *
 * UDP runs on the native add-on's batched socket when it is available (`recvmmsg` into fixed
 * slots, one JavaScript call per batch, one `sendmmsg` for the replies), else on `node:dgram`;
 * both feed the same `produce`, so the answers are the same bytes either way. The native socket
 * also gets a copy of every cacheable template and answers repeated ordinary questions itself,
 * patching exactly as `patch` below does; a batch it answers whole costs no JavaScript at all.
 */
import dgram from 'node:dgram';
import dns from 'node:dns';
import net, { isIP } from 'node:net';
import dnsPacket from 'dns-packet';
import { openUdpBatchSocket, type UdpBatchSocket, type UdpBatchStats } from '../../native/udp';
import {
  CLASS_IN,
  CLASSIC_UDP_MAX_BYTES,
  MAX_CACHED_RESPONSES,
  Opcode,
  RCODE_BADVERS,
  RCode,
  RRType,
  TCP_IDLE_TIMEOUT_MS,
} from './constants';
import { Forwarder, type ForwardTransport, parseUpstream } from './forwarder';
import type { DnsAnswer } from './records';
import type { DnsResolver } from './resolver';
import {
  adoptClientOpt,
  emptyParsedQuery,
  encodeError,
  encodeQuery,
  encodeRejection,
  encodeTemplate,
  FLAG_CD,
  FLAG_QR,
  FLAG_RD,
  FLAG_TC,
  findOptRecord,
  OPT_RECORD_BYTES,
  type ParsedQuery,
  parseQuery,
  type ResponseTemplate,
  readQuestionName,
  readUpstreamAnswers,
  sameName,
  truncateReply,
} from './wire';

/** Where and how the server listens and what it does with foreign names. */
export interface DnsServerOptions {
  /** `host:port` or `[v6]:port`; port 0 picks a free port (UDP and TCP share it). */
  readonly listen: string;
  /** Upstreams (`ip[:port]`) for names outside the zone; none = REFUSED (the default). */
  readonly upstreams?: readonly string[];
  /** Per-upstream timeout before failing over (default 2000 ms). */
  readonly forwardTimeoutMs?: number;
  /**
   * Transport towards the upstreams, as CoreDNS's forward plugin: `client` (default) the one
   * the query came on, `prefer_udp` UDP with a TCP retry of truncated answers, `force_tcp`.
   */
  readonly forwardTransport?: ForwardTransport;
  /** Called with errors the server survived (socket errors); never throws into the server. */
  readonly onError?: (err: Error) => void;
  /**
   * Whether UDP may use the native add-on's batched socket when it is available (the default,
   * `true`); `false` keeps `node:dgram`. Answers are the same either way. TCP always uses
   * `node:net`.
   */
  readonly native?: boolean;
  /**
   * Whether the native UDP socket may answer repeated questions from its own copy of the
   * response cache, without calling JavaScript (default `true`; only with `native`). The bytes
   * are the same either way; `false` runs every query through JavaScript.
   */
  readonly nativeAnswerCache?: boolean;
}

/** The bound address once {@link DnsServer.start} resolves. */
export interface DnsServerAddress {
  readonly host: string;
  readonly port: number;
}

interface CacheEntry {
  /** The question's hash ({@link ParsedQuery.hash}). */
  readonly hash: number;
  readonly tpl: ResponseTemplate;
  /** Offset of the end of the question name in the template. */
  readonly nameEnd: number;
  /** Set when the answer ends in an out-of-zone CNAME whose target upstreams should resolve. */
  readonly chase: ChaseJob['answer'] | undefined;
  /** The lowercase question name (kept only with `chase`). */
  readonly qname: string;
  next: CacheEntry | undefined;
  /**
   * The native answer cache's generation this entry was copied into it at; NOT_IN_NATIVE before
   * that, NEVER_NATIVE when it must not go there (not cacheable, chased, or refused).
   */
  nativeGeneration: number;
}

const NOT_IN_NATIVE = -1;
const NEVER_NATIVE = -2;

/** An answer waiting for its out-of-zone CNAME target to be resolved upstream. */
interface ChaseJob {
  readonly qname: string;
  readonly qtype: number;
  readonly qclass: number;
  readonly answer: DnsAnswer;
  /** The query's own bytes (or a stand-in header + question) for patching. */
  readonly msg: Uint8Array;
  readonly query: ParsedQuery;
  readonly limit: number;
}

/** {@link DnsServer} `produce` results other than a byte count. */
const DROP = 0;
const FORWARD = -1;
const CHASE = -2;

/**
 * UDP replies are written into a ring this big and sent from there: a few thousand replies
 * between wraps, small enough to stay cache-resident. The ring is reused only once no send from
 * it is still queued (see onUdp), so a reply is never overwritten before the kernel took it.
 */
const SLAB_BYTES = 256 << 10;
/** Tries at a port both UDP and TCP can have when the caller asked for any (port 0). */
const EPHEMERAL_BIND_ATTEMPTS = 20;
const MAX_MESSAGE_BYTES = 65535;
/**
 * Datagrams per native batch: 64 spreads the JavaScript call and the two system calls over
 * many queries under load while a batch's replies stay a few kilobytes.
 */
const NATIVE_BATCH_SLOTS = 64;

/**
 * Bytes the native answer cache may hold: 200,000 typical templates (a few hundred bytes each
 * with bookkeeping) fit; past it the native cache empties itself and refills from misses.
 */
const NATIVE_CACHE_BYTES = 64 << 20;

/** Kernel socket buffers: room for bursts of thousands of queries before the kernel drops any. */
const UDP_SOCKET_BUFFER_BYTES = 4 << 20;

/**
 * The UDP socket's `lookup`: replies go to `rinfo.address`, always an IP literal, which
 * `dns.lookup` would also hand back unchanged but only on the next tick, so every send paid for
 * a deferred callback. This answers at once; names (never seen here) still go to `dns.lookup`.
 */
function lookupLiteral(
  address: string,
  family: number | dns.LookupOneOptions,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  const literal = isIP(address);
  if (literal !== 0) callback(null, address, literal);
  else dns.lookup(address, family as dns.LookupOneOptions, callback);
}

/** Splits `host:port` / `[v6]:port`. Throws a clear error on anything else. */
export function parseListenAddress(text: string): DnsServerAddress {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  const host = m?.[1];
  const port = Number(m?.[2]);
  if (!host || isIP(host) === 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`invalid listen address ${JSON.stringify(text)}: want IP:PORT (e.g. 127.0.0.1:5353)`);
  }
  return { host, port };
}

/** An authoritative UDP+TCP server for a resolver's zone. */
export class DnsServer {
  private readonly listenAt: DnsServerAddress;
  private readonly forwarder: Forwarder | undefined;
  private readonly onError: (err: Error) => void;
  private udp: dgram.Socket | undefined;
  /** The native batched socket, when UDP runs on it (then `udp` is unset). */
  private batch: UdpBatchSocket | undefined;
  private readonly allowNative: boolean;
  private readonly allowNativeCache: boolean;
  /** The native socket when its answer cache is on: cacheable templates are copied into it. */
  private nativeCache: UdpBatchSocket | undefined;
  /** The native cache's latest known generation (see {@link UdpBatchSocket.cacheSet}). */
  private nativeGeneration = 0;
  private tcp: net.Server | undefined;
  private readonly tcpSockets = new Set<net.Socket>();
  /**
   * The response cache: chains of entries in buckets picked by the low bits of the question's
   * hash. An array indexed by a small integer is cheaper per query than a Map keyed by the full
   * 32-bit hash (mostly not a small integer to V8); it doubles as entries come in.
   */
  private buckets = emptyBuckets(INITIAL_CACHE_BUCKETS);
  private cacheSize = 0;
  private slab = Buffer.allocUnsafe(SLAB_BYTES);
  private slabPos = 0;
  private readonly query: ParsedQuery = emptyParsedQuery();
  private bound: DnsServerAddress | undefined;
  /** Set by `produce` when it returns CHASE; taken by the caller at once. */
  private chaseJob: ChaseJob | undefined;

  constructor(
    readonly resolver: DnsResolver,
    options: DnsServerOptions,
  ) {
    this.listenAt = parseListenAddress(options.listen);
    const upstreams = (options.upstreams ?? []).map(parseUpstream);
    for (const u of upstreams) {
      if (isSelf(u, this.listenAt))
        throw new Error(
          `upstream ${u.host}:${u.port} is this server's own listen address: forwarding to it would loop`,
        );
    }
    this.forwarder = upstreams.length
      ? new Forwarder(upstreams, options.forwardTimeoutMs, options.forwardTransport)
      : undefined;
    this.onError = options.onError ?? (() => {});
    this.allowNative = options.native !== false;
    this.allowNativeCache = options.nativeAnswerCache !== false;
  }

  /** Binds UDP then TCP on the same port. Resolves with the bound address. */
  async start(): Promise<DnsServerAddress> {
    // With port 0 the UDP port is picked first; if TCP cannot have the same one, pick again.
    const attempts = this.listenAt.port === 0 ? EPHEMERAL_BIND_ATTEMPTS : 1;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.bindBoth();
      } catch (err) {
        if (attempt >= attempts || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      }
    }
  }

  private async bindBoth(): Promise<DnsServerAddress> {
    const batch = this.allowNative
      ? openUdpBatchSocket({
          address: this.listenAt.host,
          port: this.listenAt.port,
          slots: NATIVE_BATCH_SLOTS,
          recvBufferBytes: UDP_SOCKET_BUFFER_BYTES,
          sendBufferBytes: UDP_SOCKET_BUFFER_BYTES,
          cacheEntries: this.allowNativeCache ? MAX_CACHED_RESPONSES : 0,
          cacheBytes: NATIVE_CACHE_BYTES,
        })
      : undefined;
    if (batch) {
      try {
        await this.listenTcp(batch.port);
      } catch (err) {
        batch.close();
        throw err;
      }
      const slots = Array.from({ length: batch.slots }, (_, i) =>
        batch.inBuffer.subarray(i * batch.slotBytes, (i + 1) * batch.slotBytes),
      );
      batch.start(
        (count, outStart) => this.onBatch(batch, slots, count, outStart),
        (err) => this.onError(err),
      );
      this.batch = batch;
      if (this.allowNativeCache) this.nativeCache = batch;
      this.bound = { host: this.listenAt.host, port: batch.port };
      return this.bound;
    }
    const family = isIP(this.listenAt.host) === 6 ? 'udp6' : 'udp4';
    const udp = dgram.createSocket({
      type: family,
      recvBufferSize: UDP_SOCKET_BUFFER_BYTES,
      sendBufferSize: UDP_SOCKET_BUFFER_BYTES,
      lookup: lookupLiteral,
    });
    udp.on('message', (msg, rinfo) => this.onUdp(msg, rinfo));
    udp.on('error', (err) => this.onError(err));
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(this.listenAt.port, this.listenAt.host, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    const port = udp.address().port;
    try {
      await this.listenTcp(port);
    } catch (err) {
      await new Promise<void>((r) => udp.close(() => r()));
      throw err;
    }
    this.udp = udp;
    this.bound = { host: this.listenAt.host, port };
    return this.bound;
  }

  /** Listens for TCP on the UDP socket's port (sets `tcp`); rejects with the listen error. */
  private async listenTcp(port: number): Promise<void> {
    const tcp = net.createServer((socket) => this.onTcp(socket));
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen({ port, host: this.listenAt.host, exclusive: true }, () => {
        tcp.off('error', reject);
        resolve();
      });
    });
    tcp.on('error', (err) => this.onError(err));
    this.tcp = tcp;
  }

  /** Whether UDP runs on the native add-on's batched socket (after {@link start}). */
  usesNativeUdp(): boolean {
    return this.batch !== undefined;
  }

  /**
   * The native UDP socket's counters (datagrams received, replies sent, replies dropped because
   * the socket buffer was full, oversize datagrams, batches); undefined on `node:dgram`.
   */
  nativeUdpStats(): UdpBatchStats | undefined {
    return this.batch?.stats();
  }

  /** The bound address (after {@link start}). */
  address(): DnsServerAddress {
    if (!this.bound) throw new Error('DNS server not started');
    return this.bound;
  }

  /** Forgets every precomputed response; call after the resolver's state changed. */
  invalidate(): void {
    this.buckets = emptyBuckets(INITIAL_CACHE_BUCKETS);
    this.cacheSize = 0;
    this.nativeCache?.cacheClear();
  }

  /** Stops listening and closes open TCP connections. Idempotent. */
  async close(): Promise<void> {
    this.forwarder?.close();
    const udp = this.udp;
    const tcp = this.tcp;
    this.batch?.close();
    this.batch = undefined;
    this.nativeCache = undefined;
    this.udp = undefined;
    this.tcp = undefined;
    for (const s of this.tcpSockets) s.destroy();
    this.tcpSockets.clear();
    await Promise.all([
      udp ? new Promise<void>((r) => udp.close(() => r())) : undefined,
      tcp ? new Promise<void>((r) => tcp.close(() => r())) : undefined,
    ]);
  }

  /**
   * Computes the response to one query message as it would go out over `transport`; undefined
   * when the message is dropped, must be forwarded, or waits on an upstream (an ExternalName
   * target to resolve). Exposed for tests and benchmarks.
   */
  respond(msg: Buffer, transport: 'udp' | 'tcp'): Buffer | undefined {
    const scratch = Buffer.allocUnsafe(MAX_MESSAGE_BYTES + OPT_RECORD_BYTES);
    const n = this.produce(msg, msg.length, transport === 'udp' ? -1 : MAX_MESSAGE_BYTES, scratch, 0);
    this.chaseJob = undefined;
    return n > 0 ? Buffer.from(scratch.subarray(0, n)) : undefined;
  }

  private onUdp(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const udp = this.udp;
    if (!udp) return;
    if (this.slabPos + MAX_MESSAGE_BYTES + OPT_RECORD_BYTES > SLAB_BYTES) {
      // Reuse the ring only when the kernel has taken every reply sent from it; a send still
      // queued (the socket buffer was full) keeps the old ring, and a fresh one takes over.
      if (udp.getSendQueueCount() > 0) this.slab = Buffer.allocUnsafe(SLAB_BYTES);
      this.slabPos = 0;
    }
    const pos = this.slabPos;
    let n: number;
    try {
      n = this.produce(msg, msg.length, -1, this.slab, pos);
    } catch (err) {
      this.onError(err as Error);
      return;
    }
    if (n > 0) {
      this.slabPos = pos + n;
      udp.send(this.slab, pos, n, rinfo.port, rinfo.address);
      return;
    }
    if (n === DROP) return;
    const { port, address } = rinfo;
    this.answerUdpLater(msg, n, (out) => this.udp?.send(out, port, address));
  }

  /**
   * One native batch: slot `i`'s query is the first `inLengths[i]` bytes of `slots[i]`; its
   * reply goes into the shared out Buffer from `outStart` on (the native cache's replies come
   * before), one after another, for the socket to send with the rest. Slots the native cache
   * answered have length -2. The cached path allocates nothing per query.
   */
  private onBatch(batch: UdpBatchSocket, slots: readonly Buffer[], count: number, outStart: number): void {
    const lengths = batch.inLengths;
    const offsets = batch.outOffsets;
    const outLengths = batch.outLengths;
    const out = batch.outBuffer;
    // A UDP reply is at most MAX_MESSAGE_BYTES (the client's EDNS size caps it), and the out
    // Buffer holds that much per slot: the guard below never fires, it only keeps it so.
    const lastStart = out.length - MAX_MESSAGE_BYTES;
    let pos = outStart;
    for (let i = 0; i < count; i++) {
      const len = lengths[i]!;
      // -1: bigger than a slot (never with 64 KiB slots), unreadable; -2: answered natively.
      if (len < 0 || pos > lastStart) continue;
      const msg = slots[i]!;
      let n: number;
      try {
        n = this.produce(msg, len, -1, out, pos);
      } catch (err) {
        this.onError(err as Error);
        continue;
      }
      if (n > 0) {
        offsets[i] = pos;
        outLengths[i] = n;
        pos += n;
      } else if (n !== DROP) {
        // Answered later: the slot is reused by the next batch, so keep a copy of the query.
        const { address, port } = batch.peer(i);
        const query = Buffer.from(msg.subarray(0, len));
        this.answerUdpLater(query, n, (reply) => this.sendNative(reply, address, port));
      }
    }
  }

  /** Sends a late UDP reply (forwarded, chased) on the native socket, if still open. */
  private sendNative(reply: Buffer, address: string, port: number): void {
    const batch = this.batch;
    if (!batch) return;
    try {
      batch.send(reply, 0, reply.length, address, port);
    } catch (err) {
      this.onError(err as Error);
    }
  }

  /** Starts the upstream work for a UDP query `produce` returned FORWARD or CHASE for. */
  private answerUdpLater(msg: Buffer, n: number, reply: (out: Buffer) => void): void {
    if (n === CHASE) this.chase(this.takeChaseJob(), true, reply);
    else
      this.forwarder?.forward(
        msg,
        (upstream) => {
          const out = relayed(upstream, msg, udpLimitOf(msg));
          if (out) reply(out);
        },
        'udp',
      );
  }

  private takeChaseJob(): ChaseJob {
    const job = this.chaseJob;
    this.chaseJob = undefined;
    if (!job) throw new Error('internal: CHASE without a job');
    return job;
  }

  private onTcp(socket: net.Socket): void {
    this.tcpSockets.add(socket);
    socket.setTimeout(TCP_IDLE_TIMEOUT_MS, () => socket.destroy());
    socket.setNoDelay(true);
    let pending: Buffer = Buffer.alloc(0);
    const scratch = Buffer.allocUnsafe(MAX_MESSAGE_BYTES + OPT_RECORD_BYTES);
    const write = (out: Buffer) => {
      if (socket.destroyed) return;
      const framed = Buffer.allocUnsafe(out.length + 2);
      framed.writeUInt16BE(out.length, 0);
      out.copy(framed, 2);
      socket.write(framed);
    };
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      while (pending.length >= 2) {
        const len = pending.readUInt16BE(0);
        if (pending.length < len + 2) break;
        const msg = Buffer.from(pending.subarray(2, len + 2));
        pending = pending.subarray(len + 2);
        let n: number;
        try {
          n = this.produce(msg, msg.length, MAX_MESSAGE_BYTES, scratch, 0);
        } catch (err) {
          this.onError(err as Error);
          socket.destroy();
          return;
        }
        if (n > 0) write(scratch.subarray(0, n));
        else if (n === CHASE) this.chase(this.takeChaseJob(), false, write);
        else if (n === FORWARD)
          this.forwarder?.forward(
            msg,
            (reply) => {
              const out = relayed(reply, msg, MAX_MESSAGE_BYTES);
              if (out) write(out);
            },
            'tcp',
          );
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.tcpSockets.delete(socket));
  }

  /**
   * Writes the response to the query in `msg`'s first `len` bytes into `out` at `pos`. `limit`
   * is the size cap (-1 = UDP: 512 or the client's EDNS0 size). Returns the byte count, DROP,
   * FORWARD (relay the query upstream) or CHASE (the job in `chaseJob` needs an upstream lookup
   * first). Nothing returned refers to `msg`, which a native receive slot reuses.
   */
  private produce(msg: Buffer, len: number, limit: number, out: Buffer, pos: number): number {
    const q = this.query;
    if (!parseQuery(msg, q, len) || q.qclass !== CLASS_IN || (q.edns && q.ednsVersion !== 0)) {
      return this.slowPath(len === msg.length ? msg : msg.subarray(0, len), limit, out, pos);
    }
    const buckets = this.buckets;
    let entry = buckets[q.hash & (buckets.length - 1)];
    while (
      entry &&
      !(entry.hash === q.hash && entry.nameEnd === q.nameEnd && sameName(msg, entry.tpl.buf, q.nameEnd))
    )
      entry = entry.next;
    if (!entry) {
      // The name parsed within `len` above, so reading it from `msg` stops inside the query.
      const labels = readQuestionName(msg, 12);
      if (!labels) return this.slowPath(msg.subarray(0, len), limit, out, pos);
      const name = labels.labels.join('.');
      const answer = this.answerFor(name, q.qtype);
      if (!answer) return FORWARD;
      const tpl = encodeTemplate(name, q.qtype, CLASS_IN, answer);
      const chase = answer.chase && this.forwarder ? answer : undefined;
      entry = {
        hash: q.hash,
        tpl,
        nameEnd: q.nameEnd,
        chase,
        qname: chase ? name : '',
        next: undefined,
        // The native cache keys on the template's question, so only a template whose question
        // is this query's (lowercased) can go there; chased answers need JavaScript.
        nativeGeneration:
          answer.cacheable && !chase && tpl.questionEnd === q.nameEnd + 4 && sameName(msg, tpl.buf, q.nameEnd)
            ? NOT_IN_NATIVE
            : NEVER_NATIVE,
      };
      if (answer.cacheable) this.remember(entry);
    }
    if (
      this.nativeCache &&
      entry.nativeGeneration !== this.nativeGeneration &&
      entry.nativeGeneration !== NEVER_NATIVE
    )
      this.copyToNative(this.nativeCache, entry);
    const udpLimit =
      limit >= 0 ? limit : q.edns ? Math.max(CLASSIC_UDP_MAX_BYTES, q.ednsSize) : CLASSIC_UDP_MAX_BYTES;
    if (entry.chase) {
      this.chaseJob = {
        qname: entry.qname,
        qtype: q.qtype,
        qclass: CLASS_IN,
        answer: entry.chase,
        // Only the header and the name are patched in later: keep a copy of those.
        msg: Buffer.from(msg.subarray(0, q.nameEnd)),
        query: { ...q },
        limit: udpLimit,
      };
      return CHASE;
    }
    return patch(entry.tpl, msg, q, udpLimit, out, pos);
  }

  /**
   * Resolves a job's out-of-zone CNAME target through the upstreams and hands `send` the full
   * response: the zone's records, then whatever the upstream answered (CNAME chain and
   * addresses, its TTLs kept). A failed, refused or timed-out lookup leaves the CNAME alone, as
   * in CoreDNS; a truncated upstream answer makes the UDP response truncated too.
   */
  private chase(job: ChaseJob, udp: boolean, send: (response: Buffer) => void): void {
    const target = job.answer.chase;
    const forwarder = this.forwarder;
    if (!target || !forwarder) return;
    let query: Buffer;
    try {
      // CoreDNS looks the target up by running a copy of the client's query, question
      // replaced, through itself: the client's EDNS (payload size, DO) goes along.
      const q = job.query;
      query = encodeQuery(
        target.name,
        target.type,
        q.edns ? { udpSize: q.ednsSize, flagsHigh: q.ednsFlagsHigh } : null,
      );
    } catch (err) {
      // A target the wire format cannot carry cannot be asked about: the CNAME alone, then.
      this.onError(err as Error);
      const out = Buffer.allocUnsafe(MAX_MESSAGE_BYTES + OPT_RECORD_BYTES);
      send(out.subarray(0, renderChase(job, job.answer, out)));
      return;
    }
    forwarder.forward(
      query,
      (reply) => {
        const upstream = reply ? readUpstreamAnswers(reply, target.name, target.type) : undefined;
        const out = Buffer.allocUnsafe(MAX_MESSAGE_BYTES + OPT_RECORD_BYTES);
        let n: number;
        try {
          const answers = upstream ? [...job.answer.answers, ...upstream.records] : job.answer.answers;
          n = renderChase(job, { ...job.answer, answers }, out);
        } catch (err) {
          // Upstream names the wire format cannot carry: answer with the zone's own records.
          this.onError(err as Error);
          n = renderChase(job, job.answer, out);
        }
        if (udp && upstream?.truncated) out[2] = out[2]! | (FLAG_TC >> 8);
        send(out.subarray(0, n));
      },
      udp ? 'udp' : 'tcp',
    );
  }

  /**
   * Copies an entry into the native answer cache: on its first use, and again after the native
   * cache emptied itself (full) since it went in.
   */
  private copyToNative(cache: UdpBatchSocket, entry: CacheEntry): void {
    const t = entry.tpl;
    const generation = cache.cacheSet(
      t.buf,
      Uint32Array.from(t.recordEnds),
      t.questionEnd,
      t.answerCount,
      t.authorityCount,
      t.additionalCount,
    );
    if (generation < 0) {
      entry.nativeGeneration = NEVER_NATIVE;
      return;
    }
    entry.nativeGeneration = generation;
    this.nativeGeneration = generation;
  }

  private remember(entry: CacheEntry): void {
    if (this.cacheSize >= MAX_CACHED_RESPONSES) this.invalidate();
    if (this.cacheSize >= this.buckets.length) this.buckets = rehashed(this.buckets, this.buckets.length * 2);
    const buckets = this.buckets;
    const at = entry.hash & (buckets.length - 1);
    entry.next = buckets[at];
    buckets[at] = entry;
    this.cacheSize++;
  }

  /** Resolves a question; undefined means "forward it". */
  private answerFor(name: string, qtype: number): DnsAnswer | undefined {
    if (qtype === RRType.AXFR || qtype === RRType.IXFR) {
      return {
        rcode: RCode.REFUSED,
        authoritative: false,
        answers: [],
        authority: [],
        additional: [],
        scope: 'zone',
        cacheable: true,
      };
    }
    const answer = this.resolver.resolve(name, qtype);
    if (answer.scope !== 'zone' && this.forwarder) return undefined;
    return answer;
  }

  /**
   * Everything the fast path declined: decoded with dns-packet, never throwing. The checks and
   * their order are CoreDNS's: miekg/dns's accept function first (responses dropped, opcodes
   * other than QUERY and NOTIFY NOTIMP, odd section counts FORMERR), then its parse (FORMERR),
   * then CoreDNS's server (no question SERVFAIL, class other than IN REFUSED, EDNS version other
   * than 0 BADVERS).
   */
  private slowPath(msg: Buffer, limit: number, out: Buffer, pos: number): number {
    if (msg.length < 12) return DROP;
    const id = msg.readUInt16BE(0);
    const flags = msg.readUInt16BE(2);
    if (flags & FLAG_QR) return DROP; // a response: never answer those (no reflection loops)
    const opcode = (flags >> 11) & 0xf;
    if (opcode !== Opcode.QUERY && opcode !== Opcode.NOTIFY)
      return copyOut(encodeRejection(id, opcode, flags, RCode.NOTIMP), out, pos);
    const qdcount = msg.readUInt16BE(4);
    if (qdcount !== 1 || msg.readUInt16BE(6) > 1 || msg.readUInt16BE(8) > 1 || msg.readUInt16BE(10) > 2)
      return copyOut(encodeRejection(id, Opcode.QUERY, flags, RCode.FORMERR), out, pos);
    // SetReply keeps RD and CD only for QUERY; a NOTIFY reply carries its opcode and neither.
    const replyFlags = (opcode << 11) | (opcode === Opcode.QUERY ? flags & (FLAG_RD | FLAG_CD) : 0);
    // A bare header parses as a message without a question, which CoreDNS answers SERVFAIL.
    if (msg.length === 12) return copyOut(encodeError(id, opcode, replyFlags, RCode.SERVFAIL), out, pos);
    const parsedName = readQuestionName(msg, 12);
    const questionBytes =
      parsedName && parsedName.end + 4 <= msg.length ? msg.subarray(12, parsedName.end + 4) : undefined;
    let decoded: dnsPacket.Packet;
    try {
      decoded = dnsPacket.decode(msg);
    } catch {
      return copyOut(encodeRejection(id, Opcode.QUERY, flags, RCode.FORMERR, questionBytes), out, pos);
    }
    // Read the question from the bytes (dns-packet only vouched that the message parses).
    if (!parsedName || !questionBytes)
      return copyOut(encodeRejection(id, Opcode.QUERY, flags, RCode.FORMERR), out, pos);
    const qtype = msg.readUInt16BE(parsedName.end);
    const qclass = msg.readUInt16BE(parsedName.end + 2);
    const name = parsedName.labels.join('.');
    const opt = (decoded.additionals ?? []).find((r) => r.type === 'OPT') as
      | { udpPayloadSize?: number; ednsVersion?: number; flags?: number }
      | undefined;
    const edns = opt !== undefined;
    const fakeQuery = (tpl: ResponseTemplate): ParsedQuery => ({
      nameEnd: tpl.questionEnd - 4,
      qtype,
      qclass,
      hash: 0,
      edns,
      ednsSize: opt?.udpPayloadSize ?? 0,
      ednsVersion: 0,
      dnssecOk: ((opt?.flags ?? 0) & 0x8000) !== 0,
      ednsFlagsHigh: ((opt?.flags ?? 0) >> 8) & 0xff,
    });
    // The template's own lowercase question stands in for the query's bytes.
    const standIn = (tpl: ResponseTemplate): Buffer => {
      const header = Buffer.from(tpl.buf.subarray(0, tpl.questionEnd));
      header.writeUInt16BE(id, 0);
      header.writeUInt16BE(replyFlags, 2);
      return header;
    };
    const udpLimit = edns ? Math.max(CLASSIC_UDP_MAX_BYTES, opt?.udpPayloadSize ?? 0) : CLASSIC_UDP_MAX_BYTES;
    const effectiveLimit = limit >= 0 ? limit : udpLimit;
    if (qclass !== CLASS_IN || !/^[\x21-\x7e]*$/.test(name)) {
      const tpl = encodeTemplate(
        name.replace(/[^\x21-\x7e]/g, '-'),
        qtype,
        qclass,
        emptyAnswer(RCode.REFUSED),
      );
      return patch(tpl, standIn(tpl), fakeQuery(tpl), effectiveLimit, out, pos);
    }
    if (opt && (opt.ednsVersion ?? 0) !== 0) {
      // CoreDNS's BADVERS reply: the question echoed (since CoreDNS 1.10.1), nothing else but an
      // OPT of version 0 with payload size 0, no flags and extended rcode 1 (16 >> 4); the
      // header's rcode holds the low bits, 0. It is written as is, never truncated.
      const n = copyOut(encodeError(id, opcode, replyFlags, RCode.NOERROR, questionBytes), out, pos);
      out.writeUInt16BE(1, pos + 10);
      writeOpt(out, pos + n, 0, RCODE_BADVERS >> 4, 0);
      return n + OPT_RECORD_BYTES;
    }
    const answer = this.answerFor(name, qtype);
    if (!answer) return FORWARD;
    const tpl = encodeTemplate(name, qtype, qclass, answer);
    const header = standIn(tpl);
    const fake = fakeQuery(tpl);
    if (answer.chase && this.forwarder) {
      this.chaseJob = { qname: name, qtype, qclass, answer, msg: header, query: fake, limit: effectiveLimit };
      return CHASE;
    }
    return patch(tpl, header, fake, effectiveLimit, out, pos);
  }
}

/**
 * Copies a template into `out` and patches ID, RD/CD, the question's name bytes and the OPT
 * record. Past the size limit it keeps as many whole records as fit (answers, then authority,
 * then additional, stopping at the first that does not) and sets TC when any was left out: what
 * CoreDNS sends, as its response writer truncates every reply with miekg/dns `Msg.Truncate`.
 */
function patch(
  t: ResponseTemplate,
  msg: Uint8Array,
  q: ParsedQuery,
  limit: number,
  out: Buffer,
  pos: number,
): number {
  const tpl = t.buf;
  const optBytes = q.edns ? OPT_RECORD_BYTES : 0;
  let body = tpl.length;
  let truncated = false;
  let kept = 0;
  if (body + optBytes > limit) {
    const ends = t.recordEnds;
    const budget = limit - optBytes;
    while (kept < ends.length && ends[kept]! <= budget) kept++;
    body = kept > 0 ? ends[kept - 1]! : t.questionEnd;
    truncated = kept < ends.length;
  }
  // A whole template (the usual case) goes straight through TypedArray#set, skipping the
  // argument handling of Buffer#copy; `out` always has room for the reply.
  if (body === tpl.length) out.set(tpl, pos);
  else tpl.copy(out, pos, 0, body);
  out[pos] = msg[0]!;
  out[pos + 1] = msg[1]!;
  // Opcode (0 on the fast path, NOTIFY's 4 from the slow path's stand-in header) and RD.
  out[pos + 2] = out[pos + 2]! | (msg[2]! & (OPCODE_BITS | (FLAG_RD >> 8))) | (truncated ? FLAG_TC >> 8 : 0);
  out[pos + 3] = out[pos + 3]! | (msg[3]! & FLAG_CD);
  for (let i = 12; i < q.nameEnd; i++) out[pos + i] = msg[i]!;
  let arcount = t.additionalCount;
  if (truncated) {
    const an = Math.min(kept, t.answerCount);
    const ns = Math.min(kept - an, t.authorityCount);
    arcount = kept - an - ns;
    out.writeUInt16BE(an, pos + 6);
    out.writeUInt16BE(ns, pos + 8);
  }
  if (q.edns) arcount++;
  out[pos + 10] = arcount >> 8;
  out[pos + 11] = arcount & 0xff;
  if (!q.edns) return body;
  // The OPT record is the requester's own as CoreDNS's SizeAndDo reuses it: its payload size,
  // version 0, the upper flag byte (DO and the Z bits next to it) kept, the lower one cleared,
  // and no options (CoreDNS copies only options a plugin registered; none of its defaults do).
  writeOpt(out, pos + body, q.ednsSize, 0, q.ednsFlagsHigh);
  return body + OPT_RECORD_BYTES;
}

/** Writes `answer` as the response to a chased query into `out`; returns its length. */
function renderChase(job: ChaseJob, answer: DnsAnswer, out: Buffer): number {
  return patch(
    encodeTemplate(job.qname, job.qtype, job.qclass, answer),
    job.msg,
    job.query,
    job.limit,
    out,
    0,
  );
}

/**
 * The client's response to a forwarded `query`: the upstream `reply` with the client's own OPT,
 * cut to `limit` bytes; SERVFAIL when no upstream answered.
 */
function relayed(reply: Buffer | undefined, query: Buffer, limit: number): Buffer | undefined {
  return reply ? truncateReply(adoptClientOpt(reply, query), limit) : servfail(query);
}

/**
 * The most a UDP reply to `query` may carry, as CoreDNS's `Request.Size`: the client's EDNS0
 * payload size (never under 512), or 512 without an OPT record.
 */
function udpLimitOf(query: Buffer): number {
  const at = findOptRecord(query);
  if (at === undefined || at < 0 || at + 5 > query.length) return CLASSIC_UDP_MAX_BYTES;
  return Math.max(CLASSIC_UDP_MAX_BYTES, query.readUInt16BE(at + 3));
}

/** Buckets of a fresh response cache (a power of two; it doubles at one entry per bucket). */
const INITIAL_CACHE_BUCKETS = 1024;

function emptyBuckets(n: number): (CacheEntry | undefined)[] {
  return new Array<CacheEntry | undefined>(n).fill(undefined);
}

/** The same entries spread over `n` buckets. */
function rehashed(buckets: readonly (CacheEntry | undefined)[], n: number): (CacheEntry | undefined)[] {
  const next = emptyBuckets(n);
  for (let entry of buckets) {
    while (entry) {
      const following = entry.next;
      const at = entry.hash & (n - 1);
      entry.next = next[at];
      next[at] = entry;
      entry = following;
    }
  }
  return next;
}

/** Opcode bits in the header's third byte. */
const OPCODE_BITS = 0x78;

/** Writes an OPT record without options; `flagsHigh` is the upper byte of its flags (DO = 0x80). */
function writeOpt(out: Buffer, at: number, udpSize: number, extRcode: number, flagsHigh: number): void {
  out[at] = 0;
  out[at + 1] = 0;
  out[at + 2] = RRType.OPT;
  out[at + 3] = udpSize >> 8;
  out[at + 4] = udpSize & 0xff;
  out[at + 5] = extRcode;
  out[at + 6] = 0;
  out[at + 7] = flagsHigh;
  out[at + 8] = 0;
  out[at + 9] = 0;
  out[at + 10] = 0;
}

function copyOut(b: Buffer, out: Buffer, pos: number): number {
  b.copy(out, pos);
  return b.length;
}

/** Whether an upstream is the server itself (same port on its address, loopback or any). */
function isSelf(u: { host: string; port: number }, listen: DnsServerAddress): boolean {
  if (listen.port === 0 || u.port !== listen.port) return false;
  const unspecified = listen.host === '0.0.0.0' || listen.host === '::';
  const loopback = (h: string) => h.startsWith('127.') || h === '::1';
  return u.host === listen.host || unspecified || (loopback(u.host) && loopback(listen.host));
}

function emptyAnswer(rcode: number): DnsAnswer {
  return {
    rcode,
    authoritative: false,
    answers: [],
    authority: [],
    additional: [],
    scope: 'zone',
    cacheable: false,
  };
}

/**
 * The reply when every upstream failed: CoreDNS's SERVFAIL, the question echoed (case kept),
 * RD/CD copied and the client's OPT record reused. A header alone for queries the fast path
 * cannot read.
 */
function servfail(query: Buffer): Buffer | undefined {
  if (query.length < 12) return undefined;
  const q = emptyParsedQuery();
  const labels = parseQuery(query, q) ? readQuestionName(query, 12) : undefined;
  if (labels) {
    try {
      const tpl = encodeTemplate(labels.labels.join('.'), q.qtype, q.qclass, emptyAnswer(RCode.SERVFAIL));
      const out = Buffer.allocUnsafe(tpl.buf.length + OPT_RECORD_BYTES);
      return out.subarray(0, patch(tpl, query, q, MAX_MESSAGE_BYTES, out, 0));
    } catch {
      // A name the encoder refuses: the header alone, below.
    }
  }
  return encodeError(query.readUInt16BE(0), 0, query.readUInt16BE(2), RCode.SERVFAIL);
}
