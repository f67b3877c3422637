/**
 * The native TCP relay engine of the userspace proxy (the add-on's `tcp` part), typed: accept,
 * connect and relay in C on Node's own event loop, with JavaScript deciding where each
 * connection goes. Absent (not built, not Linux, `SVCROUTE_NATIVE=0`), {@link loadTcpRelay}
 * returns undefined and the proxy relays in JavaScript.
 *
 * One engine serves many listeners. Per accepted connection the engine calls its event handler
 * once ({@link TcpRelayEventKind.Accept}) and connects to the endpoint handle the handler
 * answers; a failed attempt calls it again ({@link TcpRelayEventKind.Failed}). Connections the
 * handler marked as tracked also report {@link TcpRelayEventKind.Connected} and
 * {@link TcpRelayEventKind.Closed}. Counters are kept natively and read with
 * {@link TcpRelay.collect}.
 *
 * @module
 */
import { getSystemErrorMap } from 'node:util';
import { loadNative } from './load';

/** What the engine tells its event handler about. */
export enum TcpRelayEventKind {
  /** A connection was accepted: answer with an endpoint (see {@link relayAnswer}) or refuse. */
  Accept = 0,
  /** A connect attempt failed (`errno` 0 = timed out): answer with the next endpoint or refuse. */
  Failed = 1,
  /** A tracked connection reached its endpoint. The answer is ignored. */
  Connected = 2,
  /** A tracked connection closed (both sockets). The answer is ignored. */
  Closed = 3,
}

/**
 * The engine's event handler. Arguments: the kind, the connection id, the listener handle, the
 * endpoint handle (the failed one for `Failed`, the connected one for `Connected`/`Closed`, -1
 * when none), the attempt number about to be made (for `Failed`), the negative errno of a failed
 * attempt (0 = timeout), and for `Accept` on a listener opened with `wantClientIP` the client's
 * address. Returns {@link relayAnswer}'s encoding, or {@link RELAY_REFUSE}.
 */
export type TcpRelayHandler = (
  kind: TcpRelayEventKind,
  connectionId: number,
  listener: number,
  endpoint: number,
  attempt: number,
  errno: number,
  clientIP?: string,
) => number;

/** The answer that refuses a connection: the client gets a reset. */
export const RELAY_REFUSE = -1;

/** Encodes "connect to `endpoint`", `tracked` asking for `Connected`/`Closed` events. */
export function relayAnswer(endpoint: number, tracked: boolean): number {
  return endpoint * 2 + (tracked ? 1 : 0);
}

/** Numbers per row of {@link TcpRelay.collect}'s output. */
export const COLLECT_STRIDE = 7;
/** Column offsets in a row of {@link TcpRelay.collect}'s output. */
export const CollectColumn = {
  slot: 0,
  dead: 1,
  active: 2,
  total: 3,
  bytesToEndpoint: 4,
  bytesToClient: 5,
  errors: 6,
} as const;

/** An engine handle (opaque). */
export type TcpRelayEngine = { readonly __tcpRelayEngine: unique symbol };

/** The native `tcp` part, as the add-on exports it. */
export interface TcpRelay {
  /**
   * A new engine: `connectTimeoutsMs[i]` bounds attempt `i` (the last one repeats),
   * `idleTimeoutMs` > 0 closes connections with no byte either way for that long.
   */
  createEngine(
    handler: TcpRelayHandler,
    connectTimeoutsMs: readonly number[],
    idleTimeoutMs: number,
  ): TcpRelayEngine;
  /**
   * Opens a listener; returns `[handle, boundPort]`, or a negative errno when the socket could
   * not be bound (see {@link listenError}).
   */
  listen(
    engine: TcpRelayEngine,
    host: string,
    port: number,
    backlog: number,
    wantClientIP: boolean,
  ): readonly [number, number] | number;
  /** Whether accepts on `listener` pass the client's address to the handler. */
  setClientIP(engine: TcpRelayEngine, listener: number, want: boolean): void;
  /** Stops accepting on a listener; its connections go on. */
  closeListener(engine: TcpRelayEngine, listener: number): void;
  /** Registers an endpoint address; returns its handle. */
  endpoint(engine: TcpRelayEngine, ip: string, port: number): number;
  /**
   * Retires an endpoint handle: no new connection may use it, and its connections are closed
   * `graceMs` from now. Returns how many connections it had.
   */
  drainEndpoint(engine: TcpRelayEngine, endpoint: number, graceMs: number): number;
  /** Closes every connection now. */
  destroyAll(engine: TcpRelayEngine): void;
  /** Connections open (connecting or relaying). */
  count(engine: TcpRelayEngine): number;
  /**
   * Counter deltas since the last call, {@link COLLECT_STRIDE} numbers per listener or endpoint
   * handle that changed (see {@link CollectColumn}); a row with `dead` = 1 is that handle's last:
   * it was retired, has no connection left, and its number may be reused from now on.
   */
  collect(engine: TcpRelayEngine): Float64Array;
  /** Closes listeners and connections and releases the engine. */
  closeEngine(engine: TcpRelayEngine): void;
}

const METHODS = [
  'createEngine',
  'listen',
  'closeListener',
  'endpoint',
  'drainEndpoint',
  'destroyAll',
  'count',
  'collect',
  'closeEngine',
  'setClientIP',
] as const;

function isTcpRelay(v: unknown): v is TcpRelay {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return o['version'] === 1 && METHODS.every((m) => typeof o[m] === 'function');
}

/**
 * The native relay engine's functions, or undefined when the add-on or its `tcp` part is
 * absent, disabled, or of another version (the proxy then relays in JavaScript).
 */
export function loadTcpRelay(): TcpRelay | undefined {
  const part = loadNative()?.tcp;
  return isTcpRelay(part) ? part : undefined;
}

/**
 * The error Node's `server.listen()` gives for the same failure (`listen EADDRINUSE: address
 * already in use 127.0.0.1:80`), with `code`, `errno`, `syscall`, `address` and `port`.
 */
export function listenError(negErrno: number, address: string, port: number): NodeJS.ErrnoException {
  const [code, text] = getSystemErrorMap().get(negErrno) ?? [`E${-negErrno}`, 'unknown error'];
  const err: NodeJS.ErrnoException & { address?: string; port?: number } = new Error(
    `listen ${code}: ${text} ${address}:${port}`,
  );
  err.code = code;
  err.errno = negErrno;
  err.syscall = 'listen';
  err.address = address;
  err.port = port;
  return err;
}

/**
 * The error Node's `net.connect()` gives for a failed connect (`connect ECONNREFUSED
 * 127.0.0.1:80`), with `code`, `errno`, `syscall`, `address` and `port`.
 */
export function connectError(negErrno: number, address: string, port: number): NodeJS.ErrnoException {
  const [code] = getSystemErrorMap().get(negErrno) ?? [`E${-negErrno}`];
  const err: NodeJS.ErrnoException & { address?: string; port?: number } = new Error(
    `connect ${code} ${address}:${port}`,
  );
  err.code = code;
  err.errno = negErrno;
  err.syscall = 'connect';
  err.address = address;
  err.port = port;
  return err;
}
