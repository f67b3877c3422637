/**
 * Least-request, as Envoy's `least_request` policy does it. With equal weights: sample
 * `choiceCount` endpoints uniformly (with replacement) and take the one with the fewest active
 * requests, the earlier sample on a tie — "power of two choices" by default. With unequal weights
 * (or an explicit `activeRequestBias`, as in current Envoy): an EDF schedule over the dynamic
 * weight `weight / (active + 1)^activeRequestBias`, each endpoint re-scheduled with its weight
 * at the moment it is picked.
 *
 * Active requests are counted from pick until `done()`, per endpoint key, across updates.
 *
 * @module
 */
import { mathRng, type Rng } from '../core/random';
import type { Endpoint } from '../core/snapshot';
import {
  type BalancerDeps,
  EndpointSetBalancer,
  type Picker,
  type PickResult,
  resolveWeights,
} from './balancer';
import { configObject, numberField } from './config';
import { EdfScheduler } from './edf';

/** Wire name of {@link LeastRequestBalancer} (Envoy's and gRPC's policy name). */
export const LEAST_REQUEST_POLICY = 'least_request';
/** Envoy's `choice_count` default: 2 (power of two choices). */
export const DEFAULT_LEAST_REQUEST_CHOICE_COUNT = 2;
/** Envoy's `active_request_bias` default: 1.0. */
export const DEFAULT_ACTIVE_REQUEST_BIAS = 1.0;

/** Config of {@link LeastRequestBalancer}. */
export interface LeastRequestConfig {
  /** Endpoints sampled per pick when weights are equal; at least 2. Default 2. */
  readonly choiceCount?: number;
  /**
   * Exponent of `(active + 1)` dividing the weight in the weighted path; 0 makes it weighted
   * round-robin. Default 1.0. Setting it explicitly selects the weighted path even when all
   * weights are equal (Envoy's current behaviour).
   */
  readonly activeRequestBias?: number;
}

/** Validates the inner object of `{ least_request: {...} }`. */
export function parseLeastRequestConfig(
  json: unknown,
  path = LEAST_REQUEST_POLICY,
): Required<LeastRequestConfig> & { readonly biasExplicit: boolean } {
  const o = configObject(json, path, ['choiceCount', 'activeRequestBias']);
  return {
    choiceCount: numberField(o, 'choiceCount', path, DEFAULT_LEAST_REQUEST_CHOICE_COUNT, {
      integer: true,
      min: 2,
    }),
    activeRequestBias: numberField(o, 'activeRequestBias', path, DEFAULT_ACTIVE_REQUEST_BIAS, { min: 0 }),
    biasExplicit: o['activeRequestBias'] !== undefined,
  };
}

/** Per-endpoint load shared by every picker of one balancer. */
interface Load {
  endpoint: Endpoint;
  active: number;
}

function pickWithDone(load: Load): PickResult {
  load.active++;
  let open = true;
  return {
    kind: 'endpoint',
    endpoint: load.endpoint,
    done: () => {
      if (!open) return;
      open = false;
      load.active--;
    },
  };
}

/** Equal weights: best of `choiceCount` uniform samples. */
class ChoicesPicker implements Picker {
  constructor(
    private readonly loads: readonly Load[],
    private readonly choices: number,
    private readonly rng: Rng,
  ) {}

  pick(): PickResult {
    const n = this.loads.length;
    let best = this.loads[this.rng.int(n)] as Load;
    for (let c = 1; c < this.choices; c++) {
      const sample = this.loads[this.rng.int(n)] as Load;
      if (sample.active < best.active) best = sample;
    }
    return pickWithDone(best);
  }
}

/** Unequal weights: EDF over `weight / (active + 1)^bias`, evaluated at each re-schedule. */
class WeightedLeastRequestPicker implements Picker {
  private readonly edf: EdfScheduler;

  constructor(
    private readonly loads: readonly Load[],
    private readonly weights: Float64Array,
    private readonly bias: number,
    rng: Rng,
  ) {
    const n = loads.length;
    this.edf = new EdfScheduler(n);
    for (let i = 0; i < n; i++) this.edf.add(i, 1 / this.effectiveWeight(i));
    // Start at a random point of the schedule so that clients built together do not align.
    for (let k = rng.int(n); k > 0; k--)
      this.edf.reschedule(this.edf.peekDeadline() + 1 / this.effectiveWeight(this.edf.peek()));
  }

  pick(): PickResult {
    const i = this.edf.peek();
    const load = this.loads[i] as Load;
    const result = pickWithDone(load);
    this.edf.reschedule(this.edf.peekDeadline() + 1 / this.effectiveWeight(i));
    return result;
  }

  private effectiveWeight(i: number): number {
    const w = this.weights[i] as number;
    const active = (this.loads[i] as Load).active + 1;
    if (this.bias === 0) return w;
    return this.bias === 1 ? w / active : w / active ** this.bias;
  }
}

/** Least-request balancing (power of two choices; Envoy's active_request_bias when weighted). */
export class LeastRequestBalancer extends EndpointSetBalancer {
  readonly name = LEAST_REQUEST_POLICY;
  private readonly config: ReturnType<typeof parseLeastRequestConfig>;
  private readonly rng: Rng;
  private loads = new Map<string, Load>();

  constructor(config: LeastRequestConfig = {}, deps: BalancerDeps = {}) {
    super();
    this.config = parseLeastRequestConfig(config);
    this.rng = deps.rng ?? mathRng;
  }

  protected override onEmpty(): void {
    this.loads = new Map();
  }

  protected build(eps: Endpoint[]): Picker {
    const next = new Map<string, Load>();
    const loads = eps.map((e) => {
      // Endpoints that stay keep their load object, so `done()` of earlier picks still lands.
      const load = this.loads.get(e.key) ?? { endpoint: e, active: 0 };
      load.endpoint = e;
      next.set(e.key, load);
      return load;
    });
    this.loads = next;
    const weights = resolveWeights(eps);
    const equal = weights.every((w) => w === weights[0]);
    return equal && !this.config.biasExplicit
      ? new ChoicesPicker(loads, this.config.choiceCount, this.rng)
      : new WeightedLeastRequestPicker(loads, weights, this.config.activeRequestBias, this.rng);
  }

  /** Requests picked and not yet `done()` per endpoint key (for inspection and tests). */
  activeRequests(): Map<string, number> {
    return new Map([...this.loads].map(([k, l]) => [k, l.active]));
  }
}
