/**
 * `connect()`: a TCP socket straight to an endpoint of a service, with the proxy's retry rule
 * (another endpoint on refusal or timeout, bounded attempts with growing timeouts).
 *
 * @module
 */
import { connect as netConnect, type Socket } from 'node:net';
import type { ResolveOptions, TargetResolver } from './resolution';
import type { TargetInput } from './target';
import { DEFAULT_CONNECT_TIMEOUTS_MS } from './tcp-session';

/** Options of {@link connectService}. */
export interface ConnectServiceOptions extends Omit<ResolveOptions, 'avoid'> {
  /** Connect timeout per attempt (its length is the attempt count). Default 250, 500, 1000, 2000 ms. */
  readonly connectTimeoutsMs?: readonly number[];
  /** Disable Nagle's algorithm on the socket. Default true. */
  readonly noDelay?: boolean;
  /** Keep the socket half-open after the peer's FIN. Default false. */
  readonly allowHalfOpen?: boolean;
  /** Aborts the attempts. */
  readonly signal?: AbortSignal;
}

/** Every attempt failed; `errors` holds each attempt's error in order. */
export class ConnectFailedError extends Error {
  constructor(
    target: string,
    readonly errors: readonly Error[],
  ) {
    super(
      `cannot connect to ${JSON.stringify(target)} after ${errors.length} attempt(s): ${errors.map((e) => e.message).join('; ')}`,
    );
    this.name = 'ConnectFailedError';
  }
}

function attempt(ip: string, port: number, timeoutMs: number, opts: ConnectServiceOptions): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({
      host: ip,
      port,
      noDelay: opts.noDelay ?? true,
      allowHalfOpen: opts.allowHalfOpen ?? false,
    });
    const fail = (err: Error) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(err);
    };
    const onAbort = () =>
      fail(opts.signal?.reason instanceof Error ? opts.signal.reason : new Error('aborted'));
    const timer = setTimeout(
      () => fail(new Error(`connect to ${ip}:${port} timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('error', fail);
    socket.once('connect', () => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      socket.removeListener('error', fail);
      resolve(socket);
    });
  });
}

/**
 * Connects to an endpoint of `target` (see `ServiceResolver.resolve()` for target forms); the
 * same as `resolver.connect(target, opts)`, and exported as `connect` too.
 * A refused or timed-out attempt is retried on another endpoint when there is one; affinity is
 * ignored after the first failure, as kube-proxy does. The pick's outcome is reported when the
 * socket closes (`ok` unless it closed with an error).
 *
 * @throws the resolver's errors (unknown service or port, no endpoints) at once
 * @throws ConnectFailedError when every attempt failed
 */
export async function connectService(
  resolver: TargetResolver,
  target: TargetInput,
  opts: ConnectServiceOptions = {},
): Promise<Socket> {
  const timeouts = opts.connectTimeoutsMs ?? DEFAULT_CONNECT_TIMEOUTS_MS;
  const avoid = new Set<string>();
  const errors: Error[] = [];
  const { connectTimeoutsMs: _t, noDelay: _n, allowHalfOpen: _h, signal: _s, ...resolveOpts } = opts;
  for (let i = 0; i < timeouts.length; i++) {
    opts.signal?.throwIfAborted();
    const r = resolver.resolve(target, {
      ...resolveOpts,
      ...(i > 0 ? { clientIP: undefined } : {}),
      avoid,
    } as typeof resolveOpts);
    try {
      const socket = await attempt(r.ip, r.port, timeouts[i] ?? 1000, opts);
      socket.once('close', (hadError) => r.done({ ok: !hadError }));
      return socket;
    } catch (e) {
      r.done({ ok: false });
      const err = e instanceof Error ? e : new Error(String(e));
      if (opts.signal?.aborted) throw err;
      errors.push(err);
      avoid.add(r.endpoint.key);
    }
  }
  throw new ConnectFailedError(typeof target === 'string' ? target : `node port ${target.nodePort}`, errors);
}
