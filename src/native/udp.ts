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
  /** `onBatch` calls: `received / batches` is the mean batch size. */
  readonly batches: number;
}

/**
 * A bound, nonblocking UDP socket moving datagrams in batches. Contract of a batch:
 * `onBatch(count)` is called with slots `0 … count-1` filled: slot `i`'s bytes are
 * `inBuffer[i × slotBytes, i × slotBytes + inLengths[i])`, or `inLengths[i] === -1` when the
 * datagram was bigger than a slot (its bytes must be ignored). To reply to slot `i`, write the
 * reply anywhere in `outBuffer` and set `outOffsets[i]` / `outLengths[i]` before `onBatch`
 * returns (lengths start at 0 = no reply). Slots and their sources are reused by the next batch:
 * copy what must outlive the call, and ask {@link peer} during it.
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
  start(onBatch: (count: number) => void, onError: (err: Error) => void): void;
  /** The source of slot `slot` of the current batch (valid during `onBatch` only). */
  peer(slot: number): UdpPeer;
  /**
   * Sends one datagram at once (replies that come later than their batch). Returns false when
   * the kernel's buffer is full and the datagram was dropped; throws on other errors.
   */
  send(buffer: Uint8Array, offset: number, length: number, address: string, port: number): boolean;
  stats(): UdpBatchStats;
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
  return ['start', 'peer', 'send', 'stats', 'ref', 'unref', 'close'].every(
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
