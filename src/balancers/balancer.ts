/**
 * The balancer family's contracts: a {@link Balancer} is a small state machine that takes
 * endpoint updates and publishes an immutable {@link Picker}; `pick()` is synchronous, cheap and
 * total — it returns a {@link PickResult} union, never `null`, never a throw.
 *
 * @module
 */
import type { Clock } from '../core/clock';
import type { Rng } from '../core/random';
import type { Endpoint } from '../core/snapshot';

/**
 * What a pick may look at. Every field is optional; a policy ignores the fields it does not use
 * (round-robin ignores all of them).
 */
export interface PickContext {
  /** Source address of the client; used by the session-affinity wrapper. */
  readonly clientIP?: string;
  /**
   * A request key for hashing policies (ring-hash, Maglev), hashed with xxHash64 (seed 0), the
   * way Envoy hashes a header value.
   */
  readonly hashKey?: string;
  /**
   * A precomputed 64-bit hash for hashing policies; wins over {@link hashKey}. A `number` must be
   * a non-negative safe integer (then Maglev picks without allocating); a `bigint` is reduced
   * modulo 2^64.
   */
  readonly hash?: number | bigint;
}

/** Per-call load report from a backend (ORCA-style), consumed by weighted round-robin. */
export interface BackendMetrics {
  /** Queries per second served by the backend. */
  readonly qps: number;
  /** Errors per second; 0 when unset. */
  readonly eps?: number;
  /** Utilization in [0, 1] or above (application or CPU utilization). */
  readonly utilization: number;
}

/** How a call sent to a picked endpoint ended, reported through {@link PickResult} `done`. */
export interface PickOutcome {
  /** `false` for a failed call (connect error, 5xx, …); outlier detection counts these. */
  readonly ok: boolean;
  /** Measured latency; when absent, latency-aware policies measure it with their clock. */
  readonly latencyMs?: number;
  /** Load report carried by the response, when the backend sends one. */
  readonly backendMetrics?: BackendMetrics;
}

/** The endpoint arm of {@link PickResult}. */
export interface EndpointPick {
  readonly kind: 'endpoint';
  readonly endpoint: Endpoint;
  /**
   * Call exactly once when the call ends. Present only when the policy (or a wrapper) needs the
   * outcome: least-request, peak-EWMA, weighted round-robin with load reports, outlier
   * detection. Calling it more than once is ignored.
   */
  readonly done?: (outcome: PickOutcome) => void;
}

/** The unavailable arm of {@link PickResult}: no endpoint can be picked right now. */
export interface UnavailablePick {
  readonly kind: 'unavailable';
  /** A human-readable reason, one of the `UNAVAILABLE_*` constants for built-in policies. */
  readonly reason: string;
}

/** The result of {@link Picker.pick}: a discriminated union, never `null`. */
export type PickResult = EndpointPick | UnavailablePick;

/** Reason given when the balancer has no endpoints. */
export const UNAVAILABLE_NO_ENDPOINTS = 'no endpoints';
/** Reason given by outlier detection when every endpoint is ejected. */
export const UNAVAILABLE_ALL_EJECTED = 'all endpoints ejected by outlier detection';
/** Reason given after {@link Balancer.close}. */
export const UNAVAILABLE_CLOSED = 'balancer closed';

/**
 * An immutable snapshot of a balancer's endpoint set. Its endpoint set never changes; it may keep
 * cheap internal cursors (a round-robin index). A picker stays usable after its balancer has
 * published a newer one, so a pick in flight never races an update.
 */
export interface Picker {
  /** Picks an endpoint. Synchronous, never throws, never returns `null`. */
  pick(ctx?: PickContext): PickResult;
}

/**
 * A load-balancing policy instance for one service port. `update()` replaces the endpoint set
 * and publishes a new {@link picker}; listeners registered with {@link subscribe} hear about every
 * published picker (also those a policy publishes on its own, e.g. after an outlier ejection).
 */
export interface Balancer {
  /** The policy's stable wire name (`round_robin`, `maglev`, …). */
  readonly name: string;
  /** The current picker; an unavailable picker until the first non-empty update. */
  readonly picker: Picker;
  /**
   * Replaces the endpoint set. Duplicate keys keep their first occurrence; the balancer uses the
   * endpoints as given (readiness filtering belongs to routing).
   */
  update(endpoints: readonly Endpoint[]): void;
  /** Calls `listener` with each newly published picker; returns an unsubscribe function. */
  subscribe(listener: (picker: Picker) => void): () => void;
  /** Stops timers and publishes an unavailable picker. Idempotent. */
  close(): void;
}

/** Injectable services every built-in policy accepts. */
export interface BalancerDeps {
  /** Randomness; defaults to `mathRng`. Pass a `SeededRng` for reproducible picks. */
  readonly rng?: Rng;
  /** Time; defaults to `systemClock`. */
  readonly clock?: Clock;
}

/** A picker that always answers unavailable with one frozen result (allocation-free). */
export function unavailablePicker(reason: string): Picker {
  const result: UnavailablePick = Object.freeze({ kind: 'unavailable', reason });
  return Object.freeze({ pick: () => result });
}

/**
 * Shared publish/subscribe plumbing for balancers. Subclasses call {@link publish} with each new
 * picker; listener errors are isolated so one bad listener cannot break the others.
 */
export abstract class BalancerBase implements Balancer {
  abstract readonly name: string;
  #current: Picker = unavailablePicker(UNAVAILABLE_NO_ENDPOINTS);
  readonly #listeners = new Set<(picker: Picker) => void>();
  protected closed = false;

  get picker(): Picker {
    return this.#current;
  }

  abstract update(endpoints: readonly Endpoint[]): void;

  subscribe(listener: (picker: Picker) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  close(): void {
    if (this.closed) return;
    this.onClose();
    this.publish(unavailablePicker(UNAVAILABLE_CLOSED));
    this.closed = true;
    this.#listeners.clear();
  }

  /** Hook for subclasses to stop timers; runs once, before the closed picker is published. */
  protected onClose(): void {}

  /**
   * Makes `picker` current and hands it to every listener, in subscription order. A no-op once the
   * balancer is closed, so a late timer cannot resurrect a closed balancer. A throwing listener
   * is skipped; the remaining listeners still run.
   */
  protected publish(picker: Picker): void {
    if (this.closed) return;
    this.#current = picker;
    for (const listener of [...this.#listeners]) {
      try {
        listener(picker);
      } catch {
        // A listener's failure is its own; the balancer keeps serving.
      }
    }
  }
}

/**
 * A balancer that rebuilds its picker from the de-duplicated endpoint set on every update. An
 * empty set always publishes the no-endpoints picker (after {@link EndpointSetBalancer.onEmpty}
 * drops per-endpoint state); any other set publishes what {@link EndpointSetBalancer.build} returns.
 */
export abstract class EndpointSetBalancer extends BalancerBase {
  update(endpoints: readonly Endpoint[]): void {
    const eps = uniqueEndpoints(endpoints);
    if (eps.length === 0) {
      this.onEmpty();
      this.publish(unavailablePicker(UNAVAILABLE_NO_ENDPOINTS));
      return;
    }
    this.publish(this.build(eps));
  }

  /** The picker for a non-empty endpoint set (a fresh array the policy may reorder). */
  protected abstract build(endpoints: Endpoint[]): Picker;

  /** Drops per-endpoint state when the set becomes empty. */
  protected onEmpty(): void {}
}

/** Drops later duplicates by `key`, keeping the first occurrence and the input order. */
export function uniqueEndpoints(endpoints: readonly Endpoint[]): Endpoint[] {
  const seen = new Set<string>();
  const out: Endpoint[] = [];
  for (const e of endpoints) {
    if (seen.has(e.key)) continue;
    seen.add(e.key);
    out.push(e);
  }
  return out;
}

/**
 * The endpoints' weights as policies use them: a missing weight is 1 (the {@link Endpoint}
 * contract); a zero, negative or non-finite weight is "unknown" and gets the mean of the known
 * weights (gRFC A58's rule for zero weights); when no weight is known, all are 1.
 */
export function resolveWeights(endpoints: readonly Endpoint[]): Float64Array {
  const out = new Float64Array(endpoints.length);
  let sum = 0;
  let known = 0;
  for (let i = 0; i < endpoints.length; i++) {
    const w = endpoints[i]?.weight ?? 1;
    if (Number.isFinite(w) && w > 0) {
      out[i] = w;
      sum += w;
      known++;
    }
  }
  const mean = known > 0 ? sum / known : 1;
  for (let i = 0; i < out.length; i++) if (out[i] === 0) out[i] = mean;
  return out;
}

/** Frozen `{kind:'endpoint', endpoint}` results, shared by every pick of one picker. */
export function frozenResults(endpoints: readonly Endpoint[]): EndpointPick[] {
  return endpoints.map((endpoint) => Object.freeze({ kind: 'endpoint' as const, endpoint }));
}
