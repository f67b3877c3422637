/**
 * Round-robin, the policy of kube-proxy's old userspace mode and of gRPC's `round_robin`: each
 * picker walks its endpoints in order, starting at a random offset so that many clients
 * created at once do not all hit the first endpoint together. With `shuffle`, it does what the
 * userspace proxy did instead: shuffle the endpoints when the set changes and start at the first.
 *
 * @module
 */
import { mathRng, type Rng, shuffle } from '../core/random';
import type { Endpoint } from '../core/snapshot';
import {
  type BalancerDeps,
  type EndpointPick,
  EndpointSetBalancer,
  frozenResults,
  type Picker,
  type PickResult,
} from './balancer';
import { booleanField, configObject } from './config';

/** Wire name of {@link RoundRobinBalancer}. */
export const ROUND_ROBIN_POLICY = 'round_robin';

/** Config of {@link RoundRobinBalancer}. */
export interface RoundRobinConfig {
  /**
   * Shuffle the endpoint order whenever the endpoint set changes and start at the first
   * (kube-proxy userspace's `LoadBalancerRR`), instead of keeping the given order with a random
   * start offset (gRPC). Default false.
   */
  readonly shuffle?: boolean;
}

/** Validates `{ round_robin: {...} }`'s inner object. */
export function parseRoundRobinConfig(json: unknown, path = ROUND_ROBIN_POLICY): Required<RoundRobinConfig> {
  const o = configObject(json, path, ['shuffle']);
  return { shuffle: booleanField(o, 'shuffle', path, false) };
}

/** Cycles through frozen shared results; the cursor is the picker's only mutable state. */
class RoundRobinPicker implements Picker {
  /** Index of the next pick. */
  next: number;

  constructor(
    private readonly results: readonly EndpointPick[],
    start: number,
  ) {
    this.next = start;
  }

  pick(): PickResult {
    const i = this.next;
    this.next = i + 1 === this.results.length ? 0 : i + 1;
    return this.results[i] as EndpointPick;
  }
}

/** Round-robin over the endpoints in the order given from a random start, or shuffled (`shuffle`). Ignores weights. */
export class RoundRobinBalancer extends EndpointSetBalancer {
  readonly name = ROUND_ROBIN_POLICY;
  private readonly rng: Rng;
  private readonly shuffle: boolean;
  private lastSet = '';
  private order: string[] = [];
  private current: RoundRobinPicker | undefined;

  constructor(config: RoundRobinConfig = {}, deps: BalancerDeps = {}) {
    super();
    this.rng = deps.rng ?? mathRng;
    this.shuffle = parseRoundRobinConfig(config).shuffle;
  }

  protected override onEmpty(): void {
    this.lastSet = '';
    this.current = undefined;
  }

  protected build(eps: Endpoint[]): Picker {
    if (!this.shuffle) return new RoundRobinPicker(frozenResults(eps), this.rng.int(eps.length));
    // The userspace proxy reshuffled (and restarted at index 0) only when the set changed.
    const set = eps
      .map((e) => e.key)
      .sort()
      .join(',');
    if (set === this.lastSet && this.current) {
      // Same endpoints (their details may have changed): keep the order and the position.
      const byKey = new Map(eps.map((e) => [e.key, e]));
      const same = this.order.map((k) => byKey.get(k) as Endpoint);
      this.current = new RoundRobinPicker(frozenResults(same), this.current.next);
    } else {
      const shuffled = shuffle(eps, this.rng);
      this.lastSet = set;
      this.order = shuffled.map((e) => e.key);
      this.current = new RoundRobinPicker(frozenResults(shuffled), 0);
    }
    return this.current;
  }
}
