/**
 * An immutable string-keyed map with structural sharing: a new version copies one small bucket
 * and a fixed-size bucket table, never all entries. This is what lets a pod change produce a new
 * {@link RoutingSnapshot} without copying ten thousand service ports.
 *
 * @module
 */

const BUCKET_BITS = 10;
const BUCKETS = 1 << BUCKET_BITS;

function bucketOf(key: string): number {
  // FNV-1a, 32 bits: cheap and well spread for short keys.
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) & (BUCKETS - 1);
}

const EMPTY_BUCKETS: readonly (ReadonlyMap<string, unknown> | undefined)[] = Object.freeze(
  new Array<undefined>(BUCKETS).fill(undefined),
);

/**
 * A persistent map: {@link ChunkedMap.withChanges} returns a new map, leaving this one untouched.
 * Iteration order is by bucket, then insertion order within a bucket (stable between versions for
 * keys that did not change), not global insertion order.
 */
export class ChunkedMap<V> implements ReadonlyMap<string, V> {
  private constructor(
    private readonly buckets: readonly (ReadonlyMap<string, V> | undefined)[],
    readonly size: number,
  ) {}

  /** The empty map. */
  static empty<V>(): ChunkedMap<V> {
    return new ChunkedMap<V>(EMPTY_BUCKETS as readonly (ReadonlyMap<string, V> | undefined)[], 0);
  }

  /** A map holding `entries`. */
  static from<V>(entries: Iterable<readonly [string, V]>): ChunkedMap<V> {
    const changes = new Map<string, V>();
    for (const [k, v] of entries) changes.set(k, v);
    return ChunkedMap.empty<V>().withChanges(changes);
  }

  /** A new version with `changes` applied; `undefined` values delete. Returns `this` if nothing changed. */
  withChanges(changes: ReadonlyMap<string, V | undefined>): ChunkedMap<V> {
    if (changes.size === 0) return this;
    let table: (ReadonlyMap<string, V> | undefined)[] | undefined;
    const touched = new Map<number, Map<string, V>>();
    let size = this.size;
    for (const [key, value] of changes) {
      const b = bucketOf(key);
      let bucket = touched.get(b);
      if (!bucket) {
        const old = this.buckets[b];
        const had = old?.has(key) ?? false;
        if (value === undefined && !had) continue;
        if (value !== undefined && had && old?.get(key) === value) continue;
        bucket = new Map(old);
        touched.set(b, bucket);
      }
      const had = bucket.has(key);
      if (value === undefined) {
        if (had) {
          bucket.delete(key);
          size--;
        }
      } else {
        if (!had) size++;
        bucket.set(key, value);
      }
    }
    if (touched.size === 0) return this;
    table = this.buckets.slice();
    for (const [b, bucket] of touched) table[b] = bucket.size ? bucket : undefined;
    return new ChunkedMap(table, size);
  }

  /** The value at `key`, or `undefined`. O(1): hashes to one bucket. */
  get(key: string): V | undefined {
    return this.buckets[bucketOf(key)]?.get(key);
  }

  /** Whether `key` is present. O(1): hashes to one bucket. */
  has(key: string): boolean {
    return this.buckets[bucketOf(key)]?.has(key) ?? false;
  }

  /** Calls `fn` for every entry in iteration order (by bucket, not insertion); `map` is this map. */
  forEach(fn: (value: V, key: string, map: ReadonlyMap<string, V>) => void, thisArg?: unknown): void {
    for (const [k, v] of this) fn.call(thisArg, v, k, this);
  }

  *entries(): MapIterator<[string, V]> {
    for (const b of this.buckets) if (b) yield* b.entries();
  }

  *keys(): MapIterator<string> {
    for (const b of this.buckets) if (b) yield* b.keys();
  }

  *values(): MapIterator<V> {
    for (const b of this.buckets) if (b) yield* b.values();
  }

  /** Same as {@link entries}: `[key, value]` pairs by bucket, then insertion within a bucket. */
  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries();
  }
}
