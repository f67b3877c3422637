/**
 * Peak-EWMA, Finagle's latency-aware policy (also Linkerd's): each endpoint keeps an
 * exponentially weighted moving average of its latency that jumps up at once to any slower
 * sample (the "peak") and decays toward faster ones with time constant `decayTimeMs`. Its load
 * is `ewma * (pending + 1)`; an endpoint with no latency data yet but requests in flight gets a
 * huge penalty so new endpoints are probed without being flooded. Picks compare two distinct
 * random endpoints (power of two choices) and take the lower load.
 *
 * @module
 */
import { type Clock, systemClock } from '../core/clock';
import { mathRng, type Rng } from '../core/random';
import type { Endpoint } from '../core/snapshot';
import {
  type BalancerDeps,
  EndpointSetBalancer,
  type Picker,
  type PickOutcome,
  type PickResult,
} from './balancer';
import { configObject, numberField } from './config';

/** Wire name of {@link PeakEwmaBalancer}. */
export const PEAK_EWMA_POLICY = 'peak_ewma';
/** Finagle's `decayTime` default for its PeakEwma balancer: 10 s (Linkerd uses 10 s as well). */
export const DEFAULT_PEAK_EWMA_DECAY_TIME_MS = 10_000;
/** Finagle's penalty for an endpoint with pending requests and no latency data: `Long.MaxValue >> 16`. */
export const PEAK_EWMA_PENALTY = 140737488355327;

/** Config of {@link PeakEwmaBalancer}. */
export interface PeakEwmaConfig {
  /** Time constant of the moving average. Default 10 000 ms. */
  readonly decayTimeMs?: number;
  /**
   * Latency assumed before the first sample (Linkerd's default RTT, e.g. 30 ms). Unset by
   * default: Finagle's behaviour (cost 0, penalty while requests are pending).
   */
  readonly defaultRttMs?: number;
}

/** Validates the inner object of `{ peak_ewma: {...} }`. */
export function parsePeakEwmaConfig(
  json: unknown,
  path = PEAK_EWMA_POLICY,
): PeakEwmaConfig & { decayTimeMs: number } {
  const o = configObject(json, path, ['decayTimeMs', 'defaultRttMs']);
  const decayTimeMs = numberField(o, 'decayTimeMs', path, DEFAULT_PEAK_EWMA_DECAY_TIME_MS, {
    min: 0,
    exclusiveMin: true,
  });
  if (o['defaultRttMs'] === undefined) return { decayTimeMs };
  return { decayTimeMs, defaultRttMs: numberField(o, 'defaultRttMs', path, 0, { min: 0 }) };
}

/** Latency state of one endpoint, shared by every picker of one balancer. */
class EwmaLoad {
  pending = 0;
  private cost: number;
  private stamp: number;

  constructor(
    public endpoint: Endpoint,
    private readonly tauMs: number,
    initialCost: number,
    now: number,
  ) {
    this.cost = initialCost;
    this.stamp = now;
  }

  /** Folds a latency sample in: peaks are taken at once, lower values decay in. */
  observe(rttMs: number, now: number): void {
    const td = Math.max(now - this.stamp, 0);
    const w = Math.exp(-td / this.tauMs);
    this.cost = rttMs > this.cost ? rttMs : this.cost * w + rttMs * (1 - w);
    this.stamp = now;
  }

  /** Current load; reading it decays the average toward 0, as Finagle's does. */
  load(now: number): number {
    this.observe(0, now);
    if (this.cost === 0 && this.pending !== 0) return PEAK_EWMA_PENALTY + this.pending;
    return this.cost * (this.pending + 1);
  }
}

class PeakEwmaPicker implements Picker {
  constructor(
    private readonly loads: readonly EwmaLoad[],
    private readonly rng: Rng,
    private readonly clock: Clock,
  ) {}

  pick(): PickResult {
    const n = this.loads.length;
    const now = this.clock.now();
    let chosen: EwmaLoad;
    if (n === 1) {
      chosen = this.loads[0] as EwmaLoad;
    } else {
      const a = this.rng.int(n);
      let b = this.rng.int(n - 1);
      if (b >= a) b++;
      const la = this.loads[a] as EwmaLoad;
      const lb = this.loads[b] as EwmaLoad;
      chosen = la.load(now) <= lb.load(now) ? la : lb;
    }
    chosen.pending++;
    const start = now;
    let open = true;
    const clock = this.clock;
    return {
      kind: 'endpoint',
      endpoint: chosen.endpoint,
      done: (outcome: PickOutcome) => {
        if (!open) return;
        open = false;
        const end = clock.now();
        chosen.pending--;
        chosen.observe(outcome.latencyMs ?? end - start, end);
      },
    };
  }
}

/** Peak-EWMA with power of two choices (Finagle / Linkerd). Ignores weights. */
export class PeakEwmaBalancer extends EndpointSetBalancer {
  readonly name = PEAK_EWMA_POLICY;
  private readonly config: ReturnType<typeof parsePeakEwmaConfig>;
  private readonly rng: Rng;
  private readonly clock: Clock;
  private loads = new Map<string, EwmaLoad>();

  constructor(config: PeakEwmaConfig = {}, deps: BalancerDeps = {}) {
    super();
    this.config = parsePeakEwmaConfig(config);
    this.rng = deps.rng ?? mathRng;
    this.clock = deps.clock ?? systemClock;
  }

  protected override onEmpty(): void {
    this.loads = new Map();
  }

  protected build(eps: Endpoint[]): Picker {
    const now = this.clock.now();
    const next = new Map<string, EwmaLoad>();
    const loads = eps.map((e) => {
      // Endpoints that stay keep their latency history and pending count.
      const load =
        this.loads.get(e.key) ?? new EwmaLoad(e, this.config.decayTimeMs, this.config.defaultRttMs ?? 0, now);
      load.endpoint = e;
      next.set(e.key, load);
      return load;
    });
    this.loads = next;
    return new PeakEwmaPicker(loads, this.rng, this.clock);
  }

  /** Current load per endpoint key (decayed to now), for inspection and tests. */
  loadByKey(): Map<string, number> {
    const now = this.clock.now();
    return new Map([...this.loads].map(([k, l]) => [k, l.load(now)]));
  }
}
