/**
 * Batched UDP sockets from the native add-on (Linux): datagrams are received with `recvmmsg`
 * into slots of a Buffer shared with JavaScript, handed over in ONE call per batch, and the
 * replies JavaScript leaves in a shared out Buffer go back with ONE `sendmmsg`. This saves
 * Node's per-datagram costs (a system call each way, a callback, a send request and a Buffer per
 * packet) for servers that answer many small datagrams, such as DNS.
 *
 * Absent when the add-on was not built, failed to load, or `SVCROUTE_NATIVE=0`; callers then
 * use `node:dgram`.
 *
 * @module
 */
import { loadNative } from './load';

/** What {@link openUdpBatchSocket} binds and how big its batches are. */
export interface UdpBatchSocketOptions {
  /** IPv4 or IPv6 literal to bind (`0.0.0.0` / `::` for all). An IPv6 socket is dual-stack. */
  readonly address: string;
  /** Port to bind; 0 picks a free one (read it from {@link UdpBatchSocket.port}). */
  readonly port: number;
  /** Datagrams per batch (1–1024; default 64). */
  readonly slots?: number;
  /** Bytes per receive slot (512–65536; default 65536, so no datagram is ever cut off). */
  readonly slotBytes?: number;
  /** Size of the shared out Buffer (default `slots × 65535`: a largest reply per slot). */
  readonly outBytes?: number;
  /** SO_RCVBUF request (default 4 MiB; capped by the kernel's `rmem_max`). */
  readonly recvBufferBytes?: number;
  /** SO_SNDBUF request (default 4 MiB; capped by the kernel's `wmem_max`). */
  readonly sendBufferBytes?: number;
  /**
   * Most DNS answers the socket's answer cache holds (0–1,000,000; default 0 = no cache; see
   * {@link UdpBatchSocket.cacheSet}). A full cache is emptied before the next entry goes in.
   */
  readonly cacheEntries?: number;
  /** Most bytes the answer cache holds, templates and bookkeeping (default 32 MiB). */
  readonly cacheBytes?: number;
}

/** A datagram's source, as `node:dgram`'s `rinfo`. */
export interface UdpPeer {
  readonly address: string;
  readonly port: number;
  readonly family: 'IPv4' | 'IPv6';
}

/** Counters since the socket opened. */
export interface UdpBatchStats {
  /** Datagrams received (oversize ones included). */
  readonly received: number;
  /** Datagrams the kernel accepted for sending. */
  readonly sent: number;
  /** Replies not sent: socket buffer full (never queued), send errors, or out-of-range slots. */
  readonly dropped: number;
  /** Datagrams bigger than a slot, handed over with length -1. */
  readonly truncated: number;
  /** Batches received: `received / batches` is the mean batch size. */
  readonly batches: number;
  /** Datagrams the answer cache answered without calling `onBatch` for them. */
  readonly cacheHits: number;
  /** Answers in the cache now. */
  readonly cacheEntries: number;
  /** Bytes the cache holds now. */
  readonly cacheBytes: number;
}

/**
 * A bound, nonblocking UDP socket moving datagrams in batches. Contract of a batch:
 * `onBatch(count, outStart)` is called with slots `0 … count-1` filled: slot `i`'s bytes are
 * `inBuffer[i × slotBytes, i × slotBytes + inLengths[i])`; `inLengths[i] === -1` when the
 * datagram was bigger than a slot, `-2` when the answer cache already answered it (either way
 * its bytes must be ignored). To reply to slot `i`, write the reply into `outBuffer` at or after
 * `outStart` (the cache's replies lie before it) and set `outOffsets[i]` / `outLengths[i]`
 * before `onBatch` returns (lengths start at 0 = no reply). A batch the cache answered whole
 * makes no call. Slots and their sources are reused by the next batch: copy what must outlive
 * the call, and ask {@link peer} during it.
 */
export interface UdpBatchSocket {
  /** The bound address and port. */
  readonly address: string;
  readonly port: number;
  readonly family: 'IPv4' | 'IPv6';
  readonly slots: number;
  readonly slotBytes: number;
  readonly inBuffer: Buffer;
  readonly inLengths: Int32Array;
  readonly outBuffer: Buffer;
  readonly outOffsets: Int32Array;
  readonly outLengths: Int32Array;
  /**
   * Starts receiving (once). `onError` gets socket errors the socket survives (a failed send, with
   * `code`/`syscall`/`address`/`port` as Node's system errors); an exception thrown by either
   * callback is an uncaught exception, as from a `dgram` listener.
   */
  start(onBatch: (count: number, outStart: number) => void, onError: (err: Error) => void): void;
  /** The source of slot `slot` of the current batch (valid during `onBatch` only). */
  peer(slot: number): UdpPeer;
  /**
   * Sends one datagram at once (replies that come later than their batch). Returns false when
   * the kernel's buffer is full and the datagram was dropped; throws on other errors.
   */
  send(buffer: Uint8Array, offset: number, length: number, address: string, port: number): boolean;
  stats(): UdpBatchStats;
  /**
   * Caches a DNS response template (as the DNS server encodes them: ID 0, QR set, RD/CD clear,
   * QDCOUNT 1, the question name in lowercase and uncompressed, class IN; `recordEnds` the
   * offset past each record, answers then authority then additional). From then on a query for
   * that name (any case) and type that is ordinary — opcode QUERY, one question, no answer or
   * authority records, at most one OPT record of EDNS version 0 — is answered by the socket
   * itself: the template with the query's ID, RD and CD bits and question bytes, the query's OPT
   * echoed (payload size and upper flag byte kept), cut after the last whole record that fits
   * the client's UDP size (512 or its larger EDNS size) with TC set when records were left out.
   * Replaces an entry for the same question. Returns the cache's generation (a number that
   * changes each time the cache is emptied, by {@link cacheClear} or because it was full), or -1
   * when the cache is off or the template unusable.
   */
  cacheSet(
    template: Uint8Array,
    recordEnds: Uint32Array,
    questionEnd: number,
    answerCount: number,
    authorityCount: number,
    additionalCount: number,
  ): number;
  /** Empties the answer cache (its generation changes). */
  cacheClear(): void;
  /** Whether the open socket keeps the event loop alive (it does by default). */
  ref(): void;
  unref(): void;
  /** Stops receiving and closes the socket; idempotent, allowed inside `onBatch`. */
  close(): void;
}

interface UdpPart {
  readonly UdpBatchSocket: new (options: UdpBatchSocketOptions) => UdpBatchSocket;
}

function isUdpPart(part: unknown): part is UdpPart {
  if (typeof part !== 'object' || part === null) return false;
  const ctor = (part as { UdpBatchSocket?: unknown }).UdpBatchSocket;
  if (typeof ctor !== 'function') return false;
  const proto = (ctor as { prototype?: Record<string, unknown> }).prototype;
  return ['start', 'peer', 'send', 'stats', 'cacheSet', 'cacheClear', 'ref', 'unref', 'close'].every(
    (m) => typeof proto?.[m] === 'function',
  );
}

/** True when batched UDP sockets are available (add-on built, loaded and enabled). */
export function nativeUdpAvailable(): boolean {
  return isUdpPart(loadNative()?.udp);
}

/**
 * Opens and binds a batched UDP socket; undefined when the native part is unavailable. Throws
 * bind errors as `node:dgram` reports them (`code` `EADDRINUSE`, `EADDRNOTAVAIL`, …, `syscall`
 * `bind`, `address`, `port`), a TypeError for an address that is not an IP literal, and a
 * RangeError for out-of-range options.
 */
export function openUdpBatchSocket(options: UdpBatchSocketOptions): UdpBatchSocket | undefined {
  const part = loadNative()?.udp;
  if (!isUdpPart(part)) return undefined;
  return new part.UdpBatchSocket(options);
}
