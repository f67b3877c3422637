/**
 * ClientIP session affinity as a wrapper over any policy, with kube-proxy's semantics (the
 * iptables `recent` match, reproduced by the routing layer's `ClientIPAffinity`): a client that
 * comes back within `timeoutSeconds` of its last connection gets the same endpoint; an idle one,
 * or one whose endpoint left, is balanced by the child policy and sticks to the new endpoint.
 *
 * Picks without `clientIP` go straight to the child. Sticky picks bypass the child, so they
 * carry no `done` hook and are not counted by a load-aware child.
 *
 * @module
 */
import type { Clock } from '../../core/clock';
import type { Endpoint } from '../../core/snapshot';
import { ClientIPAffinity, checkAffinityTimeout, DEFAULT_AFFINITY_TIMEOUT_S } from '../../routing/affinity';
import {
  type Balancer,
  BalancerBase,
  type BalancerDeps,
  type EndpointPick,
  type PickContext,
  type Picker,
  type PickResult,
  uniqueEndpoints,
} from '../balancer';
import { BalancerConfigError, configObject, numberField } from '../config';

/** Wire name of {@link SessionAffinityBalancer}. */
export const SESSION_AFFINITY_POLICY = 'session_affinity';

/** Options of {@link SessionAffinityBalancer}. */
export interface SessionAffinityBalancerConfig {
  /** Idle timeout, 1..86400 s. Default 10800 (the API server's default). */
  readonly timeoutSeconds?: number;
  /** Most clients remembered; the least recently seen are evicted beyond it. */
  readonly maxClients?: number;
}

/** Validates `{ timeoutSeconds, maxClients }` with the API server's rule for the timeout. */
export function parseSessionAffinityConfig(
  json: unknown,
  path = SESSION_AFFINITY_POLICY,
  extraKeys: readonly string[] = [],
): SessionAffinityBalancerConfig & { timeoutSeconds: number } {
  const o = configObject(json, path, ['timeoutSeconds', 'maxClients', ...extraKeys]);
  const timeoutSeconds = numberField(o, 'timeoutSeconds', path, DEFAULT_AFFINITY_TIMEOUT_S);
  const problem = checkAffinityTimeout(timeoutSeconds);
  if (problem)
    throw new BalancerConfigError(`${path}.timeoutSeconds`, `Invalid value: ${timeoutSeconds}: ${problem}`);
  if (o['maxClients'] === undefined) return { timeoutSeconds };
  return { timeoutSeconds, maxClients: numberField(o, 'maxClients', path, 0, { integer: true, min: 1 }) };
}

class AffinityPicker implements Picker {
  constructor(
    private readonly child: Picker,
    private readonly eligible: readonly Endpoint[],
    private readonly sticky: ReadonlyMap<string, EndpointPick>,
    private readonly table: ClientIPAffinity,
  ) {}

  pick(ctx?: PickContext): PickResult {
    const ip = ctx?.clientIP;
    if (ip === undefined || ip === '') return this.child.pick(ctx);
    const stuck = this.table.lookup(ip, this.eligible);
    if (stuck !== undefined) {
      this.table.record(ip, stuck);
      return this.sticky.get(stuck.key) as EndpointPick;
    }
    const result = this.child.pick(ctx);
    if (result.kind === 'endpoint') this.table.record(ip, result.endpoint);
    return result;
  }
}

/** Wraps `child` with ClientIP session affinity. The wrapper owns `child` and closes it. */
export class SessionAffinityBalancer extends BalancerBase {
  readonly name: string;
  /** The affinity table (exposed for inspection). */
  readonly affinity: ClientIPAffinity;
  private eligible: Endpoint[] = [];
  private sticky = new Map<string, EndpointPick>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly child: Balancer,
    config: SessionAffinityBalancerConfig = {},
    deps: Pick<BalancerDeps, 'clock'> & { affinity?: ClientIPAffinity } = {},
  ) {
    super();
    this.name = `${SESSION_AFFINITY_POLICY}(${child.name})`;
    const parsed = parseSessionAffinityConfig(config);
    const clock: Clock | undefined = deps.clock;
    this.affinity =
      deps.affinity ??
      new ClientIPAffinity({
        timeoutSeconds: parsed.timeoutSeconds,
        ...(parsed.maxClients !== undefined ? { maxClients: parsed.maxClients } : {}),
        ...(clock ? { clock } : {}),
      });
    this.unsubscribe = child.subscribe((p) => this.republish(p));
    this.republish(child.picker);
  }

  update(endpoints: readonly Endpoint[]): void {
    if (this.closed) return;
    this.eligible = uniqueEndpoints(endpoints);
    this.sticky = new Map(
      this.eligible.map((e) => [e.key, Object.freeze({ kind: 'endpoint' as const, endpoint: e })]),
    );
    // kube-proxy deletes a departed endpoint's recent list with its chain.
    this.affinity.retainEndpoints(new Set(this.sticky.keys()));
    this.child.update(this.eligible);
  }

  protected override onClose(): void {
    this.unsubscribe();
    this.child.close();
    this.affinity.clear();
  }

  private republish(childPicker: Picker): void {
    this.publish(new AffinityPicker(childPicker, this.eligible, this.sticky, this.affinity));
  }
}
