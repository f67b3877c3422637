/**
 * Maglev consistent hashing (Eisenbud et al., NSDI 2016, section 3.4), built exactly as Envoy's
 * `maglev_lb.cc` builds it, so the same hosts give the same table: hosts sorted by key, offset
 * `xxHash64(key) % M`, skip `xxHash64(key, seed 1) % (M - 1) + 1`, weighted fill by normalized
 * weight. A pick is one table lookup: O(1), allocation-free for `number` hashes and keys.
 *
 * @module
 */
import { mathRng, type Rng } from '../core/random';
import type { Endpoint } from '../core/snapshot';
import {
  type BalancerDeps,
  type EndpointPick,
  EndpointSetBalancer,
  frozenResults,
  type PickContext,
  type Picker,
  type PickResult,
} from './balancer';
import { BalancerConfigError, choiceField, configObject, isPrime, numberField } from './config';
import { type HostKeySource, hashedHosts, mod64, modSafe, requestHash } from './hash-input';
import { xxHash64 } from './xxhash64';

/** Wire name of {@link MaglevBalancer}. */
export const MAGLEV_POLICY = 'maglev';
/** Envoy's default table size (`MaglevTable::DefaultTableSize`), the paper's recommendation (section 5.3). */
export const DEFAULT_MAGLEV_TABLE_SIZE = 65537;
/** Largest table size Envoy's config accepts (`table_size` validation `lte: 5000011`). */
export const MAX_MAGLEV_TABLE_SIZE = 5000011;

/** Config of {@link MaglevBalancer} (`{ maglev: { tableSize: 65537 } }`). */
export interface MaglevConfig {
  /** Number of table slots; must be prime. Default {@link DEFAULT_MAGLEV_TABLE_SIZE}. */
  readonly tableSize?: number;
  /** Hash hosts by `address` (default, Envoy's default) or `hostname` (`use_hostname_for_hashing`). */
  readonly hostKey?: HostKeySource;
}

/** Validates the inner object of `{ maglev: {...} }`. */
export function parseMaglevConfig(json: unknown, path = MAGLEV_POLICY): Required<MaglevConfig> {
  const o = configObject(json, path, ['tableSize', 'hostKey']);
  const tableSize = numberField(o, 'tableSize', path, DEFAULT_MAGLEV_TABLE_SIZE, {
    integer: true,
    min: 2,
    max: MAX_MAGLEV_TABLE_SIZE,
  });
  if (!isPrime(tableSize)) {
    throw new BalancerConfigError(`${path}.tableSize`, `must be a prime number, got ${tableSize}`);
  }
  return { tableSize, hostKey: choiceField(o, 'hostKey', path, 'address', ['address', 'hostname']) };
}

/** One host as the Maglev table builder sees it. */
export interface MaglevHost {
  /** The string hashed for offset and skip (Envoy: address or hostname). */
  readonly key: string;
  /** Positive weight; only ratios matter. */
  readonly weight: number;
}

/**
 * Builds a Maglev lookup table of `tableSize` slots (prime); slot values index `hosts`. Follows
 * Envoy's construction step for step (including its float arithmetic for weights), so tables
 * match Envoy's for the same keys and weights. Throws on a non-prime size or an empty host list.
 */
export function buildMaglevTable(hosts: readonly MaglevHost[], tableSize: number): Uint32Array {
  if (!isPrime(tableSize)) throw new RangeError(`maglev table size must be prime, got ${tableSize}`);
  if (hosts.length === 0) throw new RangeError('maglev table needs at least one host');
  const m = BigInt(tableSize);
  const mMinus1 = BigInt(tableSize - 1);
  let sum = 0;
  for (const h of hosts) sum += h.weight;
  // Envoy normalizes each weight to weight / sum and fills by the largest normalized weight.
  const order = hosts.map((_, i) => i).sort((a, b) => compareKeys(hosts[a]!.key, hosts[b]!.key));
  const n = order.length;
  const offset = new Float64Array(n);
  const skip = new Float64Array(n);
  const weight = new Float64Array(n);
  const target = new Float64Array(n);
  const next = new Float64Array(n);
  let maxWeight = 0;
  for (let j = 0; j < n; j++) {
    const h = hosts[order[j]!]!;
    offset[j] = Number(xxHash64(h.key) % m);
    skip[j] = Number(xxHash64(h.key, 1) % mMinus1) + 1;
    weight[j] = (h.weight * 1.0) / sum;
    if (weight[j]! > maxWeight) maxWeight = weight[j]!;
  }
  const table = new Uint32Array(tableSize);
  const filled = new Uint8Array(tableSize);
  let placed = 0;
  for (let iteration = 1; placed < tableSize; iteration++) {
    for (let j = 0; j < n && placed < tableSize; j++) {
      // A host of weight max/k takes a slot every k-th iteration.
      if (iteration * weight[j]! < target[j]!) continue;
      target[j]! += maxWeight;
      let c = (offset[j]! + skip[j]! * next[j]!) % tableSize;
      while (filled[c] === 1) {
        next[j]!++;
        c = (offset[j]! + skip[j]! * next[j]!) % tableSize;
      }
      table[c] = order[j]!;
      filled[c] = 1;
      next[j]!++;
      placed++;
    }
  }
  return table;
}

/** Byte-wise order of the keys' UTF-16 code units; equal to C++'s for ASCII keys. */
function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Looks a request hash up in a prebuilt table; shared frozen results. */
class MaglevPicker implements Picker {
  private readonly h = new Uint32Array(2);
  private readonly size: number;
  private readonly twoPow32ModSize: number;

  constructor(
    private readonly table: Uint32Array,
    private readonly results: readonly EndpointPick[],
    private readonly rng: Rng,
  ) {
    this.size = table.length;
    this.twoPow32ModSize = modSafe(4294967296, table.length);
  }

  pick(ctx?: PickContext): PickResult {
    const hash = ctx?.hash;
    let slot: number;
    if (typeof hash === 'number' && hash >= 0 && hash < 4503599627370496 && Number.isInteger(hash)) {
      // The common case, straight from the number: table[hash % size], as Envoy indexes.
      slot = modSafe(hash, this.size);
    } else {
      requestHash(ctx, this.rng, this.h);
      slot = mod64(this.h[0] as number, this.h[1] as number, this.size, this.twoPow32ModSize);
    }
    return this.results[this.table[slot] as number] as EndpointPick;
  }
}

/**
 * Maglev consistent hashing, Envoy-compatible. Requests carry their hash in
 * {@link PickContext.hash} or {@link PickContext.hashKey}; without either a pick is random.
 * Rebuilding the table costs O(M) per update (M = table size), picks are O(1).
 */
export class MaglevBalancer extends EndpointSetBalancer {
  readonly name = MAGLEV_POLICY;
  private readonly config: Required<MaglevConfig>;
  private readonly rng: Rng;
  private lastTable: { endpoints: readonly Endpoint[]; table: Uint32Array } | undefined;

  constructor(config: MaglevConfig = {}, deps: BalancerDeps = {}) {
    super();
    this.config = parseMaglevConfig(config);
    this.rng = deps.rng ?? mathRng;
  }

  protected override onEmpty(): void {
    this.lastTable = undefined;
  }

  protected build(eps: Endpoint[]): Picker {
    const table = buildMaglevTable(hashedHosts(eps, this.config.hostKey), this.config.tableSize);
    this.lastTable = { endpoints: eps, table };
    return new MaglevPicker(table, frozenResults(eps), this.rng);
  }

  /** The current table as endpoints per slot (for inspection and tests); empty when there are none. */
  table(): Endpoint[] {
    const t = this.lastTable;
    if (!t) return [];
    return Array.from(t.table, (i) => t.endpoints[i] as Endpoint);
  }
}
