/**
 * An immutable map from service port key to the per-service chains of that port, cheap to
 * derive a changed copy from: entries are spread over fixed shards and a change copies only the
 * shards it touches. Each sync's result can then keep the chain set it leaves in the kernel
 * without a partial sync copying every port's entry.
 *
 * @module
 */

/** Shards per map: 10,000 ports give about 160 entries per shard, copied when one changes. */
const SHARDS = 64;

type Shard = ReadonlyMap<string, readonly string[]>;

const EMPTY_SHARD: Shard = new Map();

function shardOf(key: string): number {
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (Math.imul(h, 31) + key.charCodeAt(i)) | 0;
  return h & (SHARDS - 1);
}

/** Chains by service port key; never mutated once built. */
export class PortChains {
  /** The map with no ports. */
  static readonly EMPTY = new PortChains(new Array<Shard>(SHARDS).fill(EMPTY_SHARD), 0);

  private constructor(
    private readonly shards: readonly Shard[],
    /** Number of ports. */
    readonly size: number,
  ) {}

  /** A map of exactly `entries`. */
  static of(entries: Iterable<readonly [string, readonly string[]]>): PortChains {
    const shards: Map<string, readonly string[]>[] = [];
    for (let i = 0; i < SHARDS; i++) shards.push(new Map());
    let size = 0;
    for (const [key, chains] of entries) {
      const shard = shards[shardOf(key)]!;
      if (!shard.has(key)) size++;
      shard.set(key, chains);
    }
    return new PortChains(shards, size);
  }

  /** Chains of one port, `undefined` when the port has none recorded. */
  get(key: string): readonly string[] | undefined {
    return this.shards[shardOf(key)]!.get(key);
  }

  /** A copy with `changes` applied: a list sets the port's chains, `undefined` removes the port. */
  with(changes: ReadonlyMap<string, readonly string[] | undefined>): PortChains {
    if (changes.size === 0) return this;
    const shards = [...this.shards];
    const copied = new Set<number>();
    let size = this.size;
    for (const [key, chains] of changes) {
      const i = shardOf(key);
      let shard = shards[i]! as Map<string, readonly string[]>;
      if (!copied.has(i)) {
        shard = new Map(shard);
        shards[i] = shard;
        copied.add(i);
      }
      const had = shard.has(key);
      if (chains === undefined) {
        if (had) {
          shard.delete(key);
          size--;
        }
      } else {
        if (!had) size++;
        shard.set(key, chains);
      }
    }
    return new PortChains(shards, size);
  }

  /** Every `[port key, chains]` entry, in no particular order. */
  *entries(): IterableIterator<readonly [string, readonly string[]]> {
    for (const shard of this.shards) yield* shard;
  }

  /** A plain map of the same entries. */
  toMap(): Map<string, readonly string[]> {
    const out = new Map<string, readonly string[]>();
    for (const [key, chains] of this.entries()) out.set(key, chains);
    return out;
  }
}
