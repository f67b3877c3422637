/**
 * Creating balancers from configuration objects through an explicit {@link BalancerRegistry}
 * instance. Nothing registers itself on import: {@link createBuiltinBalancerRegistry} returns a
 * new registry holding the built-in policies, which the caller may extend with its own.
 *
 * A config names one policy by its wire name: `{ maglev: { tableSize: 65537 } }`. A list of
 * such objects picks the first policy the registry knows (gRPC's `loadBalancingConfig` rule).
 * Wrappers take their child under `childPolicy`:
 * `{ outlier_detection: { consecutiveFailures: 5, childPolicy: { round_robin: {} } } }`.
 *
 * @module
 */
import type { Balancer, BalancerDeps } from './balancer';
import { BalancerConfigError } from './config';
import {
  LEAST_REQUEST_POLICY,
  LeastRequestBalancer,
  type LeastRequestConfig,
  parseLeastRequestConfig,
} from './least-request';
import { MAGLEV_POLICY, MaglevBalancer, type MaglevConfig, parseMaglevConfig } from './maglev';
import { PEAK_EWMA_POLICY, PeakEwmaBalancer, type PeakEwmaConfig, parsePeakEwmaConfig } from './peak-ewma';
import { parseRandomConfig, RANDOM_POLICY, RandomBalancer, type RandomConfig } from './random';
import { parseRingHashConfig, RING_HASH_POLICY, RingHashBalancer, type RingHashConfig } from './ring-hash';
import {
  parseRoundRobinConfig,
  ROUND_ROBIN_POLICY,
  RoundRobinBalancer,
  type RoundRobinConfig,
} from './round-robin';
import {
  parseWeightedRoundRobinConfig,
  WEIGHTED_ROUND_ROBIN_POLICY,
  WeightedRoundRobinBalancer,
  type WeightedRoundRobinConfig,
} from './weighted-round-robin';
import {
  OUTLIER_DETECTION_POLICY,
  OutlierDetectionBalancer,
  type OutlierDetectionConfig,
  parseOutlierDetectionConfig,
} from './wrappers/outlier-detection';
import {
  parseSessionAffinityConfig,
  SESSION_AFFINITY_POLICY,
  SessionAffinityBalancer,
  type SessionAffinityBalancerConfig,
} from './wrappers/session-affinity';

/** A config of one built-in policy, keyed by its wire name. */
export type BuiltinBalancerConfig =
  | { readonly [RANDOM_POLICY]: RandomConfig }
  | { readonly [ROUND_ROBIN_POLICY]: RoundRobinConfig }
  | { readonly [WEIGHTED_ROUND_ROBIN_POLICY]: WeightedRoundRobinConfig }
  | { readonly [LEAST_REQUEST_POLICY]: LeastRequestConfig }
  | { readonly [PEAK_EWMA_POLICY]: PeakEwmaConfig }
  | { readonly [RING_HASH_POLICY]: RingHashConfig }
  | { readonly [MAGLEV_POLICY]: MaglevConfig }
  | {
      readonly [SESSION_AFFINITY_POLICY]: SessionAffinityBalancerConfig & {
        readonly childPolicy: BalancerConfigJson;
      };
    }
  | {
      readonly [OUTLIER_DETECTION_POLICY]: OutlierDetectionConfig & {
        readonly childPolicy: BalancerConfigJson;
      };
    };

/** Any policy config: `{ <wireName>: options }`, or a list of them (first known wins). */
export type BalancerConfigJson =
  | BuiltinBalancerConfig
  | { readonly [name: string]: unknown }
  | readonly { readonly [name: string]: unknown }[];

/** Dependencies a factory receives: injectables plus the registry, for child policies. */
export interface BalancerFactoryDeps extends BalancerDeps {
  readonly registry: BalancerRegistry;
}

/**
 * How a registry builds one policy. `parse` validates the JSON options (throwing
 * {@link BalancerConfigError} with the field path) before anything is created.
 */
export interface BalancerFactory<C = unknown> {
  /** Wire name, unique within a registry. */
  readonly name: string;
  /**
   * Validates the policy's JSON options (the value under its wire name) and returns the typed
   * config. Pure: creates nothing, starts no timer. Throws {@link BalancerConfigError} whose path
   * starts with `path`; `registry` resolves nested child policies.
   */
  parse(options: unknown, path: string, registry: BalancerRegistry): C;
  /**
   * Builds a fresh balancer from a config previously returned by {@link parse}. Never throws for
   * a config that parsed; each call yields an independent instance.
   */
  create(config: C, deps: BalancerFactoryDeps): Balancer;
}

/** A validated config: the policy's factory with its parsed options. */
export interface ParsedBalancerConfig {
  readonly name: string;
  /** Builds a new, independent balancer from the already-validated options; does not throw. */
  readonly create: (deps: BalancerFactoryDeps) => Balancer;
}

/** An explicit name → factory map. Instances are independent; there is no global registry. */
export class BalancerRegistry {
  private readonly factories = new Map<string, BalancerFactory<unknown>>();

  constructor(factories: Iterable<BalancerFactory<never>> = []) {
    for (const f of factories) this.register(f);
  }

  /** Adds a factory; throws when its name is taken. Returns `this` for chaining. */
  register<C>(factory: BalancerFactory<C>): this {
    if (this.factories.has(factory.name))
      throw new Error(`balancer policy "${factory.name}" is already registered`);
    this.factories.set(factory.name, factory as BalancerFactory<unknown>);
    return this;
  }

  /** True when a policy of that wire name is registered. */
  has(name: string): boolean {
    return this.factories.has(name);
  }

  /** Registered wire names, in registration order. */
  names(): string[] {
    return [...this.factories.keys()];
  }

  /** Validates a config without creating anything. Throws {@link BalancerConfigError}. */
  parse(json: BalancerConfigJson, path = 'loadBalancingConfig'): ParsedBalancerConfig {
    if (Array.isArray(json)) {
      const list = json as readonly unknown[];
      for (let i = 0; i < list.length; i++) {
        const item = list[i];
        const name = singleKey(item, `${path}[${i}]`);
        if (this.factories.has(name)) return this.parse(item as BalancerConfigJson, `${path}[${i}]`);
      }
      throw new BalancerConfigError(path, `no known policy in the list (known: ${this.names().join(', ')})`);
    }
    const name = singleKey(json, path);
    const factory = this.factories.get(name);
    if (!factory)
      throw new BalancerConfigError(path, `unknown policy "${name}" (known: ${this.names().join(', ')})`);
    const config = factory.parse((json as Record<string, unknown>)[name], `${path}.${name}`, this);
    return { name, create: (deps) => factory.create(config, deps) };
  }

  /** Validates `json` and creates the balancer it describes. */
  create(json: BalancerConfigJson, deps: BalancerDeps = {}): Balancer {
    return this.parse(json).create({ ...deps, registry: this });
  }
}

function singleKey(json: unknown, path: string): string {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new BalancerConfigError(path, 'must be an object with exactly one policy name as key');
  }
  const keys = Object.keys(json);
  if (keys.length !== 1) {
    throw new BalancerConfigError(
      path,
      `must name exactly one policy, got ${keys.length ? keys.join(', ') : 'none'}`,
    );
  }
  return keys[0] as string;
}

function injectables(deps: BalancerFactoryDeps): BalancerDeps {
  return {
    ...(deps.rng ? { rng: deps.rng } : {}),
    ...(deps.clock ? { clock: deps.clock } : {}),
  };
}

function childOf(options: unknown, path: string, registry: BalancerRegistry): ParsedBalancerConfig {
  const child = (options as { childPolicy?: unknown } | undefined)?.childPolicy;
  if (child === undefined) throw new BalancerConfigError(`${path}.childPolicy`, 'Required value');
  return registry.parse(child as BalancerConfigJson, `${path}.childPolicy`);
}

function simple<C>(
  name: string,
  parse: (json: unknown, path: string) => C,
  make: (config: C, deps: BalancerDeps) => Balancer,
): BalancerFactory<C> {
  return { name, parse: (o, p) => parse(o, p), create: (c, d) => make(c, injectables(d)) };
}

/** Fresh factories for every built-in policy and wrapper. */
export function builtinBalancerFactories(): BalancerFactory<never>[] {
  const factories = [
    simple(RANDOM_POLICY, parseRandomConfig, (c, d) => new RandomBalancer(c, d)),
    simple(ROUND_ROBIN_POLICY, parseRoundRobinConfig, (c, d) => new RoundRobinBalancer(c, d)),
    simple(
      WEIGHTED_ROUND_ROBIN_POLICY,
      parseWeightedRoundRobinConfig,
      (c, d) => new WeightedRoundRobinBalancer(c, d),
    ),
    simple(
      LEAST_REQUEST_POLICY,
      parseLeastRequestConfig,
      (c, d) =>
        new LeastRequestBalancer(
          {
            choiceCount: c.choiceCount,
            ...(c.biasExplicit ? { activeRequestBias: c.activeRequestBias } : {}),
          },
          d,
        ),
    ),
    simple(PEAK_EWMA_POLICY, parsePeakEwmaConfig, (c, d) => new PeakEwmaBalancer(c, d)),
    simple(RING_HASH_POLICY, parseRingHashConfig, (c, d) => new RingHashBalancer(c, d)),
    simple(MAGLEV_POLICY, parseMaglevConfig, (c, d) => new MaglevBalancer(c, d)),
    {
      name: SESSION_AFFINITY_POLICY,
      parse: (o: unknown, path: string, registry: BalancerRegistry) => ({
        options: parseSessionAffinityConfig(o, path, ['childPolicy']),
        child: childOf(o, path, registry),
      }),
      create: (
        c: { options: SessionAffinityBalancerConfig; child: ParsedBalancerConfig },
        deps: BalancerFactoryDeps,
      ) =>
        new SessionAffinityBalancer(c.child.create(deps), c.options, deps.clock ? { clock: deps.clock } : {}),
    },
    {
      name: OUTLIER_DETECTION_POLICY,
      parse: (o: unknown, path: string, registry: BalancerRegistry) => ({
        options: parseOutlierDetectionConfig(o, path, ['childPolicy']),
        child: childOf(o, path, registry),
      }),
      create: (
        c: { options: OutlierDetectionConfig; child: ParsedBalancerConfig },
        deps: BalancerFactoryDeps,
      ) =>
        new OutlierDetectionBalancer(
          c.child.create(deps),
          c.options,
          deps.clock ? { clock: deps.clock } : {},
        ),
    },
  ];
  return factories as BalancerFactory<never>[];
}

/** A new registry holding the built-in policies (each call returns an independent instance). */
export function createBuiltinBalancerRegistry(): BalancerRegistry {
  return new BalancerRegistry(builtinBalancerFactories());
}

/**
 * Creates a balancer from a config through `registry` (default: a fresh built-in registry).
 * Throws {@link BalancerConfigError} for an invalid config.
 */
export function createBalancer(
  json: BalancerConfigJson,
  deps: BalancerDeps = {},
  registry: BalancerRegistry = createBuiltinBalancerRegistry(),
): Balancer {
  return registry.create(json, deps);
}
