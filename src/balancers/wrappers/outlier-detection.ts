/**
 * Outlier detection as a wrapper over any policy, after Envoy's consecutive-failure detector:
 * an endpoint whose calls fail `consecutiveFailures` times in a row (reported through
 * `done({ ok: false })`) is ejected — hidden from the child policy — for
 * `baseEjectionTimeMs x times ejected`, capped at `maxEjectionTimeMs`; the ejection count
 * decays by one per `intervalMs` spent un-ejected, so a flapping endpoint stays out longer and
 * a recovered one is forgiven. At most `maxEjectionPercent` of the endpoints are ever ejected
 * at once. Ejected endpoints return on time (an injectable clock's timer).
 *
 * @module
 */
import { type Clock, systemClock, type TimerHandle } from '../../core/clock';
import type { Endpoint } from '../../core/snapshot';
import {
  type Balancer,
  BalancerBase,
  type BalancerDeps,
  type PickContext,
  type Picker,
  type PickOutcome,
  type PickResult,
  UNAVAILABLE_ALL_EJECTED,
  unavailablePicker,
  uniqueEndpoints,
} from '../balancer';
import { booleanField, configObject, numberField } from '../config';

/** Wire name of {@link OutlierDetectionBalancer}. */
export const OUTLIER_DETECTION_POLICY = 'outlier_detection';
/** Envoy `consecutive_5xx` default: 5. */
export const DEFAULT_CONSECUTIVE_FAILURES = 5;
/** Envoy `base_ejection_time` default: 30 s. */
export const DEFAULT_BASE_EJECTION_TIME_MS = 30_000;
/** Envoy `max_ejection_time` default: 300 s. */
export const DEFAULT_MAX_EJECTION_TIME_MS = 300_000;
/** Envoy `max_ejection_percent` default: 10 %. */
export const DEFAULT_MAX_EJECTION_PERCENT = 10;
/** Envoy `interval` default: 10 s (here: how fast the ejection count decays). */
export const DEFAULT_OUTLIER_INTERVAL_MS = 10_000;

/** Config of {@link OutlierDetectionBalancer}. */
export interface OutlierDetectionConfig {
  /** Failures in a row that eject an endpoint. Default 5. */
  readonly consecutiveFailures?: number;
  /** Ejection time per time ejected. Default 30 000 ms. */
  readonly baseEjectionTimeMs?: number;
  /** Longest ejection (never below the base time). Default 300 000 ms. */
  readonly maxEjectionTimeMs?: number;
  /** Largest share of endpoints ejected at once, 0..100. Default 10. */
  readonly maxEjectionPercent?: number;
  /** Each full interval un-ejected forgives one past ejection. Default 10 000 ms. */
  readonly intervalMs?: number;
  /**
   * Envoy's exception to the share: allow one ejection whatever `maxEjectionPercent` says (so
   * small services get outlier detection at all). Default false: the share is never exceeded.
   */
  readonly ejectAtLeastOne?: boolean;
}

/** Validates the outlier-detection options (the `childPolicy` key is the registry's business). */
export function parseOutlierDetectionConfig(
  json: unknown,
  path = OUTLIER_DETECTION_POLICY,
  extraKeys: readonly string[] = [],
): Required<OutlierDetectionConfig> {
  const o = configObject(json, path, [
    'consecutiveFailures',
    'baseEjectionTimeMs',
    'maxEjectionTimeMs',
    'maxEjectionPercent',
    'intervalMs',
    'ejectAtLeastOne',
    ...extraKeys,
  ]);
  return {
    consecutiveFailures: numberField(o, 'consecutiveFailures', path, DEFAULT_CONSECUTIVE_FAILURES, {
      integer: true,
      min: 1,
    }),
    baseEjectionTimeMs: numberField(o, 'baseEjectionTimeMs', path, DEFAULT_BASE_EJECTION_TIME_MS, {
      min: 0,
      exclusiveMin: true,
    }),
    maxEjectionTimeMs: numberField(o, 'maxEjectionTimeMs', path, DEFAULT_MAX_EJECTION_TIME_MS, {
      min: 0,
      exclusiveMin: true,
    }),
    maxEjectionPercent: numberField(o, 'maxEjectionPercent', path, DEFAULT_MAX_EJECTION_PERCENT, {
      min: 0,
      max: 100,
    }),
    intervalMs: numberField(o, 'intervalMs', path, DEFAULT_OUTLIER_INTERVAL_MS, {
      min: 0,
      exclusiveMin: true,
    }),
    ejectAtLeastOne: booleanField(o, 'ejectAtLeastOne', path, false),
  };
}

/** Failure and ejection history of one endpoint key. */
interface Health {
  consecutiveFailures: number;
  timesEjected: number;
  ejectedUntil: number | undefined;
  lastUnejectedAt: number;
  timer: TimerHandle | undefined;
}

class OutlierPicker implements Picker {
  constructor(
    private readonly child: Picker,
    private readonly owner: OutlierDetectionBalancer,
  ) {}

  pick(ctx?: PickContext): PickResult {
    const result = this.child.pick(ctx);
    if (result.kind !== 'endpoint') return result;
    const { endpoint, done: childDone } = result;
    const owner = this.owner;
    let open = true;
    return {
      kind: 'endpoint',
      endpoint,
      done: (outcome: PickOutcome) => {
        if (!open) return;
        open = false;
        childDone?.(outcome);
        owner.record(endpoint.key, outcome.ok);
      },
    };
  }
}

/** Wraps `child` with consecutive-failure outlier detection. The wrapper owns `child` and closes it. */
export class OutlierDetectionBalancer extends BalancerBase {
  readonly name: string;
  private readonly config: Required<OutlierDetectionConfig>;
  private readonly clock: Clock;
  private endpoints: Endpoint[] = [];
  private health = new Map<string, Health>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly child: Balancer,
    config: OutlierDetectionConfig = {},
    deps: Pick<BalancerDeps, 'clock'> = {},
  ) {
    super();
    this.name = `${OUTLIER_DETECTION_POLICY}(${child.name})`;
    this.config = parseOutlierDetectionConfig(config);
    this.clock = deps.clock ?? systemClock;
    this.unsubscribe = child.subscribe((p) => this.republish(p));
  }

  update(endpoints: readonly Endpoint[]): void {
    if (this.closed) return;
    this.endpoints = uniqueEndpoints(endpoints);
    const next = new Map<string, Health>();
    for (const e of this.endpoints) {
      next.set(
        e.key,
        this.health.get(e.key) ?? {
          consecutiveFailures: 0,
          timesEjected: 0,
          ejectedUntil: undefined,
          lastUnejectedAt: this.clock.now(),
          timer: undefined,
        },
      );
    }
    for (const [key, h] of this.health) if (!next.has(key) && h.timer) this.clock.clearTimeout(h.timer);
    this.health = next;
    this.pushToChild();
  }

  /** Keys of the endpoints ejected right now. */
  ejected(): string[] {
    return [...this.health].filter(([, h]) => h.ejectedUntil !== undefined).map(([k]) => k);
  }

  /** Records one call outcome for `key` (what the wrapped `done()` does). Unknown keys are ignored. */
  record(key: string, ok: boolean): void {
    const h = this.health.get(key);
    if (!h || this.closed) return;
    if (ok) {
      h.consecutiveFailures = 0;
      return;
    }
    h.consecutiveFailures++;
    if (h.ejectedUntil === undefined && h.consecutiveFailures >= this.config.consecutiveFailures)
      this.eject(key, h);
  }

  protected override onClose(): void {
    this.unsubscribe();
    for (const h of this.health.values()) if (h.timer) this.clock.clearTimeout(h.timer);
    this.child.close();
  }

  private eject(key: string, h: Health): void {
    let ejectedNow = 0;
    for (const other of this.health.values()) if (other.ejectedUntil !== undefined) ejectedNow++;
    // Never exceed the configured share, counting the endpoint about to go (Envoy lets the first
    // one through regardless; that is opt-in here).
    const withinShare = (ejectedNow + 1) * 100 <= this.config.maxEjectionPercent * this.health.size;
    if (!withinShare && !(this.config.ejectAtLeastOne && ejectedNow === 0)) return;
    const now = this.clock.now();
    const forgiven = Math.floor((now - h.lastUnejectedAt) / this.config.intervalMs);
    h.timesEjected = Math.max(0, h.timesEjected - forgiven) + 1;
    const duration = Math.min(
      this.config.baseEjectionTimeMs * h.timesEjected,
      Math.max(this.config.baseEjectionTimeMs, this.config.maxEjectionTimeMs),
    );
    h.ejectedUntil = now + duration;
    h.consecutiveFailures = 0;
    h.timer = this.clock.setTimeout(() => this.uneject(key, h), duration);
    this.pushToChild();
  }

  private uneject(key: string, h: Health): void {
    h.timer = undefined;
    if (this.closed || this.health.get(key) !== h) return;
    h.ejectedUntil = undefined;
    h.lastUnejectedAt = this.clock.now();
    this.pushToChild();
  }

  private pushToChild(): void {
    const eligible = this.endpoints.filter((e) => this.health.get(e.key)?.ejectedUntil === undefined);
    this.child.update(eligible);
    if (eligible.length === 0 && this.endpoints.length > 0)
      this.publish(unavailablePicker(UNAVAILABLE_ALL_EJECTED));
  }

  private republish(childPicker: Picker): void {
    const allEjected = this.endpoints.length > 0 && this.ejected().length === this.endpoints.length;
    this.publish(
      allEjected ? unavailablePicker(UNAVAILABLE_ALL_EJECTED) : new OutlierPicker(childPicker, this),
    );
  }
}
