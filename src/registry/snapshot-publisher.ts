/**
 * Publishes routing snapshots: feeds Service and EndpointSlice changes (and namespace lifetimes)
 * to the {@link ChangeTracker}, and after each applied batch of store events flushes it once, in
 * a microtask, so a burst of writes yields one snapshot with the port-level changes.
 *
 * @module
 */
import type { RoutingSnapshot, SnapshotUpdate } from '../core/snapshot';
import type { EndpointSlice, Kind, KubeObject, Service } from '../core/types';
import { ChangeTracker, sliceServiceKey } from './change-tracker';
import { CLUSTER_SCOPED_KINDS } from './keys';

/** Options of {@link SnapshotPublisher}. */
export interface SnapshotPublisherOptions {
  /** Receives every non-empty update. */
  readonly publish: (update: SnapshotUpdate) => void;
  /** Called after each flush, published or not (the registry's quiet-state waiters). */
  readonly flushed: () => void;
  /** The revision the cache has applied, stamped on the snapshot. */
  readonly revision: () => number;
  readonly isClosed: () => boolean;
}

/** The change tracker and its flush scheduling. */
export class SnapshotPublisher {
  private readonly tracker = new ChangeTracker();
  private flushScheduled = false;

  constructor(private readonly options: SnapshotPublisherOptions) {}

  /** The current snapshot (immutable). */
  snapshot(): RoutingSnapshot {
    return this.tracker.snapshot();
  }

  /** True while a flush is scheduled. */
  busy(): boolean {
    return this.flushScheduled;
  }

  /** Records one cache change (`key` is the cache key). */
  objectChanged(kind: Kind, key: string, prev: KubeObject | undefined, next: KubeObject | undefined): void {
    const nsOf = (o: KubeObject | undefined) =>
      o && !CLUSTER_SCOPED_KINDS.has(kind) ? o.metadata.namespace : undefined;
    const pns = nsOf(prev);
    const nns = nsOf(next);
    // Namespaces count their objects: routing treats a namespace as present while anything lives in it.
    if (pns !== nns || !prev || !next) {
      if (pns !== undefined && prev) this.tracker.namespaceRef(pns, -1);
      if (nns !== undefined && next) this.tracker.namespaceRef(nns, 1);
    }
    if (kind === 'Namespace') {
      if (prev && !next) this.tracker.namespaceRef(prev.metadata.name ?? '', -1);
      if (next && !prev) this.tracker.namespaceRef(next.metadata.name ?? '', 1);
    }
    if (kind === 'Service') {
      this.tracker.setService(key, next as Service | undefined);
    } else if (kind === 'EndpointSlice') {
      const s = next as EndpointSlice | undefined;
      const o = prev as EndpointSlice | undefined;
      const oldSvc = o ? sliceServiceKey(o) : undefined;
      const newSvc = s ? sliceServiceKey(s) : undefined;
      const name = (s ?? o)?.metadata.name ?? '';
      if (oldSvc && oldSvc !== newSvc) this.tracker.setSlice(oldSvc, name, undefined);
      if (newSvc && s) this.tracker.setSlice(newSvc, name, s);
      else if (oldSvc && !s) this.tracker.setSlice(oldSvc, name, undefined);
    }
  }

  /** Schedules one flush for everything recorded so far (no-op when nothing is pending). */
  schedule(): void {
    if (this.flushScheduled || !this.tracker.pending()) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      if (this.options.isClosed()) return;
      const update = this.tracker.flush(this.options.revision());
      if (update) this.options.publish(update);
      this.options.flushed();
    });
  }
}
