/**
 * The registry's informer: a cache of every object and reservation under the key prefix, loaded
 * by a list and kept current by a watch from the listed revision. When the watch ends (compaction,
 * a lost connection) it lists again with backoff, turns what moved meanwhile into events, and
 * watches from there, so readers never see a gap or a duplicate.
 *
 * @module
 */
import type { Clock } from '../core/clock';
import type { Kind, KubeObject } from '../core/types';
import { CLUSTER_SCOPED_KINDS, type KeyLayout, type Reservation } from './keys';
import { KINDS, objKey, ownerId } from './object-identity';
import { deepFreeze } from './object-utils';
import { type Store, StoreCompactedError, type StoreEvent, type StoreWatch } from './store';

/** Period of the timer that keeps Node running while a write waits (it does nothing). */
const KEEPALIVE_INTERVAL_MS = 60_000;

/** First wait before listing again after a lost watch; doubles per failure up to the cap. */
const RELIST_BACKOFF_INITIAL_MS = 100;
const RELIST_BACKOFF_MAX_MS = 10_000;

/** A cached object (frozen, `resourceVersion` set) and the store revision it was written at. */
export interface CacheEntry {
  readonly object: KubeObject;
  readonly modRevision: number;
}

/** A cached reservation and the store revision it was written at. */
export interface ReservationEntry {
  readonly value: Reservation;
  readonly modRevision: number;
}

/** What the cache tells its owner, synchronously, while it applies store events. */
export interface CacheListener {
  /** An object appeared, changed or went (`prev`/`next` undefined accordingly); the cache already holds `next`. */
  objectChanged(kind: Kind, key: string, prev: KubeObject | undefined, next: KubeObject | undefined): void;
  /** A reservation appeared, changed owner or went. */
  reservationChanged(prev: Reservation | undefined, next: Reservation | undefined): void;
  /** A batch of events is applied and the cache revision advanced. */
  batchApplied(): void;
  /** A background failure (watch lost other than by compaction, relist failed). */
  error(err: Error): void;
}

/** Options of {@link ObjectCache}. */
export interface ObjectCacheOptions {
  readonly store: Store;
  readonly keys: KeyLayout;
  readonly clock: Clock;
  readonly listener: CacheListener;
}

/**
 * Objects and reservations as last seen in the store. Contract: every change reaches the
 * listener exactly once and in revision order; {@link waitForRevision} resolves once a write at
 * that revision is visible here (read-your-writes for the registry's own writes).
 */
export class ObjectCache {
  private readonly store: Store;
  private readonly keys: KeyLayout;
  private readonly clock: Clock;
  private readonly listener: CacheListener;
  private readonly objects = new Map<Kind, Map<string, CacheEntry>>();
  private readonly reservationEntries = new Map<string, ReservationEntry>();
  private readonly keysByOwner = new Map<string, Set<string>>();
  private revisionSeen = 0;
  private waiters: { revision: number; resolve: () => void }[] = [];
  /**
   * Referenced while a write waits for its revision to come back through the watch. A store's
   * watch may hold nothing that keeps Node running (gRPC's streams and reconnect timers are
   * unreferenced), so without it a short-lived program whose write is waiting, while the store
   * reconnects, would end with status 0 before the write returned.
   */
  private keepAlive: ReturnType<typeof setInterval> | undefined;
  private watch: StoreWatch | undefined;
  private relistFailures = 0;
  private closed = false;

  constructor(options: ObjectCacheOptions) {
    this.store = options.store;
    this.keys = options.keys;
    this.clock = options.clock;
    this.listener = options.listener;
    for (const k of KINDS) this.objects.set(k, new Map());
  }

  /** The highest store revision applied. */
  get revision(): number {
    return this.revisionSeen;
  }

  /** Loads the store's content and starts watching after it. */
  async start(): Promise<void> {
    const { entries, revision } = await this.store.list(this.keys.root());
    const events: StoreEvent[] = entries.map((e) => ({
      type: 'put',
      key: e.key,
      value: e.value,
      modRevision: e.modRevision,
      created: true,
    }));
    this.applyEvents(events, revision);
    this.startWatch(revision);
  }

  /** Stops the watch and releases every waiter. Idempotent. */
  close(): void {
    this.closed = true;
    this.watch?.cancel();
    for (const w of this.waiters) w.resolve();
    this.waiters = [];
    this.releaseKeepAlive();
  }

  /** Cached objects of one kind by cache key (`ns/name` or `name`). */
  kind(kind: Kind): ReadonlyMap<string, CacheEntry> {
    return this.objects.get(kind) as Map<string, CacheEntry>;
  }

  /** One cached object; cluster-scoped kinds ignore `namespace`. */
  get(kind: Kind, namespace: string, name: string): CacheEntry | undefined {
    return this.kind(kind).get(objKey(kind, CLUSTER_SCOPED_KINDS.has(kind) ? '' : namespace, name));
  }

  /** The reservation stored under `key`. */
  reservation(key: string): ReservationEntry | undefined {
    return this.reservationEntries.get(key);
  }

  /** Reservation keys held by an owner id (see `ownerId`). */
  reservationsOf(owner: string): ReadonlySet<string> {
    return this.keysByOwner.get(owner) ?? EMPTY;
  }

  /** Resolves once the cache has applied `revision` (or at once when closed). */
  waitForRevision(revision: number): Promise<void> {
    if (revision <= this.revisionSeen || this.closed) return Promise.resolve();
    this.keepAlive ??= setInterval(() => {}, KEEPALIVE_INTERVAL_MS);
    return new Promise((resolve) => this.waiters.push({ revision, resolve }));
  }

  private releaseKeepAlive(): void {
    if (this.waiters.length > 0 || this.keepAlive === undefined) return;
    clearInterval(this.keepAlive);
    this.keepAlive = undefined;
  }

  private startWatch(fromRevision: number): void {
    this.watch = this.store.watch(this.keys.root(), fromRevision, {
      onEvents: (events) => {
        const last = events[events.length - 1];
        this.applyEvents(events, last ? last.modRevision : this.revisionSeen);
      },
      onError: (err) => {
        if (this.closed) return;
        // A watch that ended for any reason is recovered the same way: list, diff, watch again.
        // Compaction is routine and not reported; anything else is, but does not stop the cache.
        if (!(err instanceof StoreCompactedError)) this.listener.error(err);
        void this.relist();
      },
    });
  }

  /** After a lost watch: list again, apply the difference as events, watch from there. */
  private async relist(): Promise<void> {
    try {
      const { entries, revision } = await this.store.list(this.keys.root());
      const seen = new Set<string>();
      const events: StoreEvent[] = [];
      for (const e of entries) {
        seen.add(e.key);
        // Only what moved while we were not watching becomes an event.
        const parsed = this.keys.parse(e.key);
        const known =
          parsed?.type === 'object'
            ? this.get(parsed.kind, parsed.namespace, parsed.name)?.modRevision
            : this.reservationEntries.get(e.key)?.modRevision;
        if (known === e.modRevision) continue;
        events.push({ type: 'put', key: e.key, value: e.value, modRevision: e.modRevision, created: false });
      }
      for (const kind of KINDS)
        for (const [k, entry] of this.kind(kind)) {
          const key = this.keys.objectKey(
            kind,
            entry.object.metadata.namespace ?? '',
            entry.object.metadata.name ?? k,
          );
          if (!seen.has(key))
            events.push({ type: 'delete', key, value: undefined, modRevision: revision, created: false });
        }
      for (const key of this.reservationEntries.keys())
        if (!seen.has(key))
          events.push({ type: 'delete', key, value: undefined, modRevision: revision, created: false });
      this.applyEvents(events, revision);
      this.relistFailures = 0;
      this.startWatch(revision);
    } catch (e) {
      if (this.closed) return;
      this.listener.error(e as Error);
      // The store is unreachable: keep trying until it is back or the registry is closed.
      const delay = Math.min(RELIST_BACKOFF_MAX_MS, RELIST_BACKOFF_INITIAL_MS * 2 ** this.relistFailures++);
      this.clock.setTimeout(() => {
        if (!this.closed) void this.relist();
      }, delay);
    }
  }

  private applyEvents(events: readonly StoreEvent[], revision: number): void {
    if (this.closed) return;
    for (const ev of events) {
      const parsed = this.keys.parse(ev.key);
      if (!parsed) continue;
      if (parsed.type === 'reservation') this.applyReservation(ev);
      else this.applyObject(parsed.kind, parsed.namespace, parsed.name, ev);
    }
    if (revision > this.revisionSeen) this.revisionSeen = revision;
    if (this.waiters.length) {
      const still: typeof this.waiters = [];
      for (const w of this.waiters)
        if (w.revision <= this.revisionSeen) w.resolve();
        else still.push(w);
      this.waiters = still;
      this.releaseKeepAlive();
    }
    this.listener.batchApplied();
  }

  private applyReservation(ev: StoreEvent): void {
    const prev = this.reservationEntries.get(ev.key);
    if (prev) {
      const o = prev.value.owner;
      this.keysByOwner.get(ownerId(o.kind, o.namespace, o.name))?.delete(ev.key);
    }
    if (ev.type === 'delete') {
      this.reservationEntries.delete(ev.key);
      if (prev) this.listener.reservationChanged(prev.value, undefined);
      return;
    }
    const value = ev.value as Reservation;
    this.reservationEntries.set(ev.key, { value, modRevision: ev.modRevision });
    const id = ownerId(value.owner.kind, value.owner.namespace, value.owner.name);
    let set = this.keysByOwner.get(id);
    if (!set) {
      set = new Set();
      this.keysByOwner.set(id, set);
    }
    set.add(ev.key);
    this.listener.reservationChanged(prev?.value, value);
  }

  private applyObject(kind: Kind, namespace: string, name: string, ev: StoreEvent): void {
    const map = this.objects.get(kind) as Map<string, CacheEntry>;
    const k = objKey(kind, namespace, name);
    const prev = map.get(k);
    let object: KubeObject | undefined;
    if (ev.type === 'put') {
      const stored = ev.value as KubeObject;
      object = deepFreeze({
        ...stored,
        metadata: { ...stored.metadata, resourceVersion: String(ev.modRevision) },
      }) as KubeObject;
      map.set(k, { object, modRevision: ev.modRevision });
    } else {
      if (!prev) return;
      map.delete(k);
    }
    this.listener.objectChanged(kind, k, prev?.object, object);
  }
}

const EMPTY: ReadonlySet<string> = new Set();
