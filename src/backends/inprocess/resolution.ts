/**
 * What a resolution is: the per-call options of `ServiceResolver.resolve()` and its result. A
 * module of its own so that `connectService()` can use them without importing the resolver,
 * which itself offers `connect()` on top of `connectService()`.
 *
 * @module
 */
import type { PickContext, PickOutcome } from '../../balancers/balancer';
import type { Endpoint, ServicePortInfo } from '../../core/snapshot';
import type { Protocol } from '../../core/types';
import type { TargetInput } from './target';

/** Per-call options of `ServiceResolver.resolve()` (and `connect()`). */
export interface ResolveOptions {
  /** Client address, for ClientIP session affinity. */
  readonly clientIP?: string;
  /** Namespace of a bare name for this call (overrides the resolver's). */
  readonly namespace?: string;
  /** Service port (number or name) when the target string carries none. */
  readonly port?: number | string;
  /** Protocol of the port; default: TCP when the service has it, else the only one it has. */
  readonly protocol?: Protocol;
  /** Extra pick context (hash keys for hashing policies). */
  readonly pick?: Omit<PickContext, 'clientIP'>;
  /** Endpoint keys to avoid when another endpoint is available (for retries). */
  readonly avoid?: ReadonlySet<string>;
}

/** A resolved target: where to connect, and a hook to report how the call went. */
export interface Resolution {
  /** Endpoint IP. */
  readonly ip: string;
  /** Endpoint port (the service's target port, named ports resolved per endpoint). */
  readonly port: number;
  /** The endpoint picked. */
  readonly endpoint: Endpoint;
  /** The service port that was resolved. */
  readonly servicePort: ServicePortInfo;
  /**
   * Reports the outcome of the call (default `{ ok: true }`) to policies that track it
   * (least-request, outlier detection, …). Call once; later calls are ignored.
   */
  done(outcome?: PickOutcome): void;
}

/** Anything that resolves targets the way `ServiceResolver.resolve()` does. */
export interface TargetResolver {
  /** Picks an endpoint for `target`; throws the resolver's typed errors when there is none. */
  resolve(target: TargetInput, opts?: ResolveOptions): Resolution;
}
