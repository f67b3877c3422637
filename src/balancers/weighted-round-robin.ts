/**
 * Weighted round-robin per gRFC A58: an earliest-deadline-first schedule (each endpoint a job
 * with period 1/weight, first deadline uniformly random in [0, period]) gives a smooth
 * interleaving, e.g. weights 3:1 give A A B A, not A A A B.
 *
 * Weights come from the endpoints (`Endpoint.weight`, the default) or, as in A58, from backend
 * load reports passed to `done({ backendMetrics })`: weight = qps / (utilization + eps/qps *
 * errorUtilizationPenalty), used only after reports have flowed for the blackout period and
 * dropped when none arrived for the expiration period; recomputed every update period.
 *
 * @module
 */
import { type Clock, systemClock, type TimerHandle } from '../core/clock';
import { mathRng, type Rng } from '../core/random';
import type { Endpoint } from '../core/snapshot';
import {
  type BackendMetrics,
  BalancerBase,
  type BalancerDeps,
  type EndpointPick,
  frozenResults,
  type Picker,
  type PickOutcome,
  type PickResult,
  resolveWeights,
  UNAVAILABLE_NO_ENDPOINTS,
  unavailablePicker,
  uniqueEndpoints,
} from './balancer';
import { choiceField, configObject, numberField } from './config';
import { EdfScheduler } from './edf';

/** Wire name of {@link WeightedRoundRobinBalancer} (gRPC's policy name). */
export const WEIGHTED_ROUND_ROBIN_POLICY = 'weighted_round_robin';
/** gRFC A58 `blackout_period` default: 10 s. */
export const DEFAULT_WRR_BLACKOUT_PERIOD_MS = 10_000;
/** gRFC A58 `weight_expiration_period` default: 3 min. */
export const DEFAULT_WRR_WEIGHT_EXPIRATION_PERIOD_MS = 180_000;
/** gRFC A58 `weight_update_period` default: 1 s. */
export const DEFAULT_WRR_WEIGHT_UPDATE_PERIOD_MS = 1_000;
/** gRFC A58: update periods below 100 ms are raised to 100 ms. */
export const MIN_WRR_WEIGHT_UPDATE_PERIOD_MS = 100;
/** gRFC A58 `error_utilization_penalty` default: 1.0. */
export const DEFAULT_WRR_ERROR_UTILIZATION_PENALTY = 1.0;
/** gRPC's scheduler caps a reported weight at 10x the mean of known weights. */
export const WRR_MAX_WEIGHT_RATIO = 10;
/** gRPC's scheduler raises a reported weight to at least 0.01x the mean of known weights. */
export const WRR_MIN_WEIGHT_RATIO = 0.01;

/** Config of {@link WeightedRoundRobinBalancer}. */
export interface WeightedRoundRobinConfig {
  /** `endpoint` (default): `Endpoint.weight`; `load_report`: A58 weights from `backendMetrics`. */
  readonly weightSource?: 'endpoint' | 'load_report';
  /** Reports must flow this long before a weight is used. Default 10 000 ms; 0 disables. */
  readonly blackoutPeriodMs?: number;
  /** A weight with no report for this long is dropped. Default 180 000 ms. */
  readonly weightExpirationPeriodMs?: number;
  /** How often reported weights are recomputed. Default 1 000 ms, at least 100 ms. */
  readonly weightUpdatePeriodMs?: number;
  /** Multiplier of eps/qps added to utilization. Default 1.0, must be >= 0. */
  readonly errorUtilizationPenalty?: number;
}

/** Validates the inner object of `{ weighted_round_robin: {...} }` and applies A58's defaults. */
export function parseWeightedRoundRobinConfig(
  json: unknown,
  path = WEIGHTED_ROUND_ROBIN_POLICY,
): Required<WeightedRoundRobinConfig> {
  const o = configObject(json, path, [
    'weightSource',
    'blackoutPeriodMs',
    'weightExpirationPeriodMs',
    'weightUpdatePeriodMs',
    'errorUtilizationPenalty',
  ]);
  return {
    weightSource: choiceField(o, 'weightSource', path, 'endpoint', ['endpoint', 'load_report']),
    blackoutPeriodMs: numberField(o, 'blackoutPeriodMs', path, DEFAULT_WRR_BLACKOUT_PERIOD_MS, { min: 0 }),
    weightExpirationPeriodMs: numberField(
      o,
      'weightExpirationPeriodMs',
      path,
      DEFAULT_WRR_WEIGHT_EXPIRATION_PERIOD_MS,
      { min: 0, exclusiveMin: true },
    ),
    weightUpdatePeriodMs: Math.max(
      MIN_WRR_WEIGHT_UPDATE_PERIOD_MS,
      numberField(o, 'weightUpdatePeriodMs', path, DEFAULT_WRR_WEIGHT_UPDATE_PERIOD_MS, { min: 0 }),
    ),
    errorUtilizationPenalty: numberField(
      o,
      'errorUtilizationPenalty',
      path,
      DEFAULT_WRR_ERROR_UTILIZATION_PENALTY,
      { min: 0 },
    ),
  };
}

/**
 * Scheduler weights from reported weights (0 = unknown), as gRPC's scheduler derives them:
 * unknown weights get the mean of the known ones, known ones are clamped to
 * [0.01, 10] x that mean; with no known weight every endpoint gets 1 (plain round-robin).
 */
export function normalizeReportedWeights(reported: ArrayLike<number>): Float64Array {
  const n = reported.length;
  const out = new Float64Array(n);
  let sum = 0;
  let known = 0;
  for (let i = 0; i < n; i++) {
    const w = reported[i] as number;
    if (w > 0) {
      sum += w;
      known++;
    }
  }
  if (known === 0) return out.fill(1);
  const mean = sum / known;
  for (let i = 0; i < n; i++) {
    const w = reported[i] as number;
    out[i] = w > 0 ? Math.min(Math.max(w, mean * WRR_MIN_WEIGHT_RATIO), mean * WRR_MAX_WEIGHT_RATIO) : mean;
  }
  return out;
}

/** EDF over fixed weights; results are shared per picker. */
class EdfPicker implements Picker {
  private readonly edf: EdfScheduler;
  private readonly period: Float64Array;

  constructor(
    private readonly results: readonly EndpointPick[],
    weights: Float64Array,
    rng: Rng,
  ) {
    const n = results.length;
    this.edf = new EdfScheduler(n);
    this.period = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      this.period[i] = 1 / (weights[i] as number);
      // A58: a random first deadline in [0, period] keeps clients from moving in lockstep.
      this.edf.add(i, rng.next() * (this.period[i] as number));
    }
  }

  pick(): PickResult {
    const i = this.edf.peek();
    this.edf.reschedule(this.edf.peekDeadline() + (this.period[i] as number));
    return this.results[i] as EndpointPick;
  }
}

/** Per-endpoint load-report state (A58's `last_updated` and `non_empty_since`). */
interface ReportState {
  weight: number;
  lastUpdated: number;
  nonEmptySince: number;
}

/** Smooth weighted round-robin (EDF), with static or load-reported weights per gRFC A58. */
export class WeightedRoundRobinBalancer extends BalancerBase {
  readonly name = WEIGHTED_ROUND_ROBIN_POLICY;
  private readonly config: Required<WeightedRoundRobinConfig>;
  private readonly rng: Rng;
  private readonly clock: Clock;
  private endpoints: Endpoint[] = [];
  private readonly reports = new Map<string, ReportState>();
  private results: EndpointPick[] = [];
  private lastWeights: Float64Array = new Float64Array(0);
  private timer: TimerHandle | undefined;

  constructor(config: WeightedRoundRobinConfig = {}, deps: BalancerDeps = {}) {
    super();
    this.config = parseWeightedRoundRobinConfig(config);
    this.rng = deps.rng ?? mathRng;
    this.clock = deps.clock ?? systemClock;
  }

  update(endpoints: readonly Endpoint[]): void {
    if (this.closed) return;
    this.endpoints = uniqueEndpoints(endpoints);
    if (this.config.weightSource === 'load_report') {
      const keep = new Set(this.endpoints.map((e) => e.key));
      for (const k of this.reports.keys()) if (!keep.has(k)) this.reports.delete(k);
      this.results = this.endpoints.map((endpoint) => {
        const done = (outcome: PickOutcome) => {
          if (outcome.backendMetrics) this.report(endpoint.key, outcome.backendMetrics);
        };
        return Object.freeze({ kind: 'endpoint' as const, endpoint, done });
      });
    } else {
      this.results = frozenResults(this.endpoints);
    }
    this.rebuild(true);
    this.schedule();
  }

  /**
   * Records a backend load report for `endpointKey` (what `done({ backendMetrics })` does).
   * Reports with zero qps or utilization carry no weight and are ignored, as in A58.
   */
  report(endpointKey: string, metrics: BackendMetrics): void {
    if (this.config.weightSource !== 'load_report' || this.closed) return;
    let { utilization } = metrics;
    const { qps } = metrics;
    const eps = metrics.eps ?? 0;
    if (!(qps > 0) || !(utilization > 0)) return;
    utilization += (eps / qps) * this.config.errorUtilizationPenalty;
    const weight = qps / utilization;
    if (!(weight > 0) || !Number.isFinite(weight)) return;
    const now = this.clock.now();
    let s = this.reports.get(endpointKey);
    if (!s) {
      s = { weight: 0, lastUpdated: now, nonEmptySince: Number.POSITIVE_INFINITY };
      this.reports.set(endpointKey, s);
    }
    if (s.nonEmptySince === Number.POSITIVE_INFINITY) s.nonEmptySince = now;
    s.lastUpdated = now;
    s.weight = weight;
  }

  /** The weights the current picker schedules by (after defaults, blackout and clamping). */
  currentWeights(): number[] {
    return Array.from(this.lastWeights);
  }

  protected override onClose(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** A58's GetWeight: 0 (unknown) while blacked out or after expiry. */
  private weightOf(key: string, now: number): number {
    const s = this.reports.get(key);
    if (!s) return 0;
    if (now - s.lastUpdated >= this.config.weightExpirationPeriodMs) {
      s.nonEmptySince = Number.POSITIVE_INFINITY;
      return 0;
    }
    if (this.config.blackoutPeriodMs > 0 && now - s.nonEmptySince < this.config.blackoutPeriodMs) return 0;
    return s.weight;
  }

  private rebuild(force: boolean): void {
    if (this.endpoints.length === 0) {
      this.lastWeights = new Float64Array(0);
      this.publish(unavailablePicker(UNAVAILABLE_NO_ENDPOINTS));
      return;
    }
    let weights: Float64Array;
    if (this.config.weightSource === 'load_report') {
      const now = this.clock.now();
      weights = normalizeReportedWeights(this.endpoints.map((e) => this.weightOf(e.key, now)));
    } else {
      weights = resolveWeights(this.endpoints);
    }
    if (!force && sameWeights(weights, this.lastWeights)) return;
    this.lastWeights = weights;
    this.publish(new EdfPicker(this.results, weights, this.rng));
  }

  private schedule(): void {
    if (this.config.weightSource !== 'load_report' || this.timer || this.closed) return;
    const tick = () => {
      this.timer = undefined;
      if (this.closed || this.endpoints.length === 0) return;
      this.rebuild(false);
      this.schedule();
    };
    this.timer = this.clock.setTimeout(tick, this.config.weightUpdatePeriodMs);
  }
}

function sameWeights(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
