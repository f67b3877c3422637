/**
 * An undici {@link Dispatcher} that sends HTTP requests for service names straight to endpoints:
 * `fetch('http://backend.my-ns/path', { dispatcher })`. Each request is balanced on its own
 * (per-request, not per-connection), and connections are pooled and reused per endpoint. The
 * `Host` header keeps the name the caller used. Names that are not service references go to a
 * fallback dispatcher (ordinary DNS), unless told otherwise.
 *
 * @module
 */
import { isIP } from 'node:net';
import { Agent, Dispatcher, Pool } from 'undici';
import type { PickOutcome } from '../../balancers/balancer';
import { UnknownServiceError } from './errors';
import type { Resolution, ResolveOptions, ServiceResolver } from './resolver';
import { TargetSyntaxError } from './target';

/** Options of {@link ServiceDispatcher}. */
export interface ServiceDispatcherOptions {
  /**
   * Where requests for names that are not services go. Default: a new undici `Agent`. Pass
   * `null` to fail such requests with the resolver's error instead.
   */
  readonly fallback?: Dispatcher | null;
  /** Options of each per-endpoint `Pool` (connections, keep-alive timeouts, …). */
  readonly pool?: Pool.Options;
  /** Resolver options for every request (namespace of bare names, client IP for affinity). */
  readonly resolve?: Omit<ResolveOptions, 'port' | 'avoid'>;
}

const HANDLER_METHODS = [
  'onRequestStart',
  'onRequestUpgrade',
  'onResponseStart',
  'onResponseData',
  'onResponseEnd',
  'onResponseError',
  'onConnect',
  'onError',
  'onUpgrade',
  'onResponseStarted',
  'onHeaders',
  'onData',
  'onComplete',
  'onBodySent',
] as const;

type AnyFn = (...args: unknown[]) => unknown;

/** Forwards every callback to `inner`, reporting the end of the exchange to `done` first. */
function reportingHandler(
  inner: Dispatcher.DispatchHandler,
  done: (o: PickOutcome) => void,
): Dispatcher.DispatchHandler {
  const src = inner as unknown as Record<string, AnyFn | undefined>;
  const out: Record<string, AnyFn> = {};
  for (const name of HANDLER_METHODS) {
    const fn = src[name];
    if (typeof fn !== 'function') continue;
    const ending = name === 'onResponseEnd' || name === 'onComplete';
    const failing = name === 'onResponseError' || name === 'onError';
    out[name] =
      ending || failing
        ? (...args: unknown[]) => {
            done({ ok: ending });
            return fn.apply(inner, args);
          }
        : (...args: unknown[]) => fn.apply(inner, args);
  }
  return out as unknown as Dispatcher.DispatchHandler;
}

/** Reports `err` to a handler of either undici callback style. */
function failHandler(handler: Dispatcher.DispatchHandler, err: Error): boolean {
  if (typeof handler.onResponseError === 'function' && typeof handler.onRequestStart === 'function') {
    const controller = {
      abort() {},
      pause() {},
      resume() {},
      paused: false,
      aborted: true,
      reason: err,
    };
    handler.onResponseError(controller as unknown as Dispatcher.DispatchController, err);
    return false;
  }
  if (typeof handler.onError === 'function') {
    handler.onError(err);
    return false;
  }
  throw err;
}

function defaultPort(protocol: string): number {
  return protocol === 'https:' ? 443 : 80;
}

/** Routes HTTP requests for service names through a {@link ServiceResolver}. */
export class ServiceDispatcher extends Dispatcher {
  private readonly pools = new Map<string, Pool>();
  private seenSnapshot: unknown;
  private readonly fallback: Dispatcher | null;
  private readonly ownsFallback: boolean;

  constructor(
    private readonly resolver: ServiceResolver,
    private readonly options: ServiceDispatcherOptions = {},
  ) {
    super();
    this.ownsFallback = options.fallback === undefined;
    this.fallback = options.fallback === undefined ? new Agent() : options.fallback;
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    let url: URL;
    try {
      url = new URL(String(options.origin));
    } catch (e) {
      return failHandler(handler, e instanceof Error ? e : new Error(String(e)));
    }
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const port = url.port === '' ? defaultPort(url.protocol) : Number(url.port);
    let res: Resolution;
    const target = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    try {
      res = this.resolver.resolve(target, { ...this.options.resolve, protocol: 'TCP' });
    } catch (e) {
      // Anything that is not a service (another host name, an IP no service owns) is ordinary
      // traffic; a service IP with a wrong port is a mistake worth reporting.
      const notService =
        e instanceof TargetSyntaxError ||
        (e instanceof UnknownServiceError && !(isIP(host) !== 0 && this.resolver.table.isServiceIP(host)));
      if (notService && this.fallback) return this.fallback.dispatch(options, handler);
      return failHandler(handler, e instanceof Error ? e : new Error(String(e)));
    }
    // After the routing state moved, let go of pools of endpoints that left (in the background).
    const snap = this.resolver.table.snapshot;
    if (snap !== this.seenSnapshot) {
      if (this.seenSnapshot !== undefined) void this.prune();
      this.seenSnapshot = snap;
    }
    const ipHost = res.ip.includes(':') ? `[${res.ip}]` : res.ip;
    const origin = `${url.protocol}//${ipHost}:${res.port}`;
    let pool = this.pools.get(origin);
    if (pool === undefined) {
      pool = new Pool(origin, this.options.pool);
      this.pools.set(origin, pool);
    }
    const hostHeader = url.port === '' ? url.hostname : `${url.hostname}:${url.port}`;
    const headers = withHost(options.headers, hostHeader);
    return pool.dispatch(
      { ...options, origin, headers },
      reportingHandler(handler, (o) => res.done(o)),
    );
  }

  /** Number of endpoint pools open. */
  get poolCount(): number {
    return this.pools.size;
  }

  /**
   * Closes every endpoint pool whose endpoint is no longer used by any service port (requests in
   * flight on them finish first). Runs by itself on the first request after a routing change.
   */
  async prune(): Promise<void> {
    const live = new Set<string>();
    for (const r of this.resolver.table.all.values())
      for (const e of [...r.internalEndpoints, ...r.externalEndpoints]) live.add(e.key);
    const closing: Promise<void>[] = [];
    for (const [origin, pool] of this.pools) {
      const key = origin.slice(origin.indexOf('//') + 2);
      if (!live.has(key)) {
        this.pools.delete(origin);
        closing.push(pool.close());
      }
    }
    await Promise.all(closing);
  }

  override async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.close()));
    if (this.ownsFallback) await this.fallback?.close();
  }

  override async destroy(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.destroy()));
    if (this.ownsFallback) await this.fallback?.destroy();
  }
}

type Headers = Dispatcher.DispatchOptions['headers'];

/** `headers` with `host` set, in the same shape undici accepts (object, array, iterable). */
function withHost(headers: Headers, host: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  if (headers == null) {
    // nothing to copy
  } else if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) out[String(headers[i])] = String(headers[i + 1]);
  } else if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const pair of headers as Iterable<[string, string | string[] | undefined]>) {
      if (pair[1] !== undefined) out[pair[0]] = pair[1];
    }
  } else {
    for (const [k, v] of Object.entries(headers as Record<string, string | string[] | undefined>))
      if (v !== undefined) out[k] = v;
  }
  for (const k of Object.keys(out)) if (k.toLowerCase() === 'host') return out;
  out['host'] = host;
  return out;
}
