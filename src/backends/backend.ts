/**
 * The one interface every backend (in-process proxy, iptables, DNS, env) implements. A backend
 * is fed snapshots by {@link attachBackend} and redoes only what the changes name.
 *
 * @module
 */
import type { RoutingSnapshot, SnapshotChange, SnapshotUpdate } from '../core/snapshot';

/** A consumer of routing snapshots. */
export interface Backend {
  /** Short name for logs and errors (`dns`, `iptables`, …). */
  readonly name: string;
  /**
   * Brings the backend to `update.current`. Called once with `previous: undefined` for the first
   * snapshot, then for every later one, never concurrently (the next call waits for this one).
   */
  sync(update: SnapshotUpdate): void | Promise<void>;
  /** Releases sockets, rules and timers. Idempotent. */
  close(): Promise<void>;
}

/** Anything that publishes snapshot updates (the {@link Registry} does). */
export interface SnapshotSource {
  /** The current immutable snapshot; cheap to call, never blocks on I/O. */
  snapshot(): RoutingSnapshot;
  /**
   * Registers `listener` for every update published after this call, delivered in publication
   * order. The return value is ignored.
   */
  on(event: 'snapshot', listener: (update: SnapshotUpdate) => void): unknown;
  /** Removes a listener added with {@link on}; unknown listeners are ignored. The return value is ignored. */
  off(event: 'snapshot', listener: (update: SnapshotUpdate) => void): unknown;
}

/** A backend fed by {@link attachBackend}. */
export interface AttachedBackend {
  /** Resolves once no sync is running or waiting (call after the source has settled). */
  idle(): Promise<void>;
  /** Stops feeding the backend; a sync already running completes. Does not close the backend. */
  detach(): void;
}

/** Options of {@link attachBackend}. */
export interface AttachOptions {
  /** Receives errors thrown by `sync`; the next update is still delivered (default: ignored). */
  onError?: (error: Error) => void;
}

/**
 * Feeds `source`'s snapshots to `backend`: first the current snapshot (with `previous:
 * undefined`), then every update, never two syncs at once. Updates that arrive while a sync runs
 * are merged into one — the oldest `previous`, the newest `current`, per service port the first
 * `previous` and the last `current` — so a slow backend does one catch-up sync instead of a queue.
 */
export function attachBackend(
  source: SnapshotSource,
  backend: Backend,
  options: AttachOptions = {},
): AttachedBackend {
  let pending: SnapshotUpdate | undefined = {
    previous: undefined,
    current: source.snapshot(),
    changes: [],
    changedServices: new Set(),
  };
  let running: Promise<void> | undefined;
  let detached = false;

  const drain = async (): Promise<void> => {
    while (pending && !detached) {
      const update = pending;
      pending = undefined;
      try {
        await backend.sync(update);
      } catch (e) {
        options.onError?.(e instanceof Error ? e : new Error(String(e)));
      }
    }
  };
  const kick = (): void => {
    if (running) return;
    // The bookkeeping runs after the drain settles (a sync may complete synchronously), and an
    // update that arrived in that gap starts the next drain.
    running = drain().finally(() => {
      running = undefined;
      if (pending && !detached) kick();
    });
  };
  const listener = (update: SnapshotUpdate) => {
    pending = pending ? mergeUpdates(pending, update) : update;
    kick();
  };
  source.on('snapshot', listener);
  kick();
  return {
    idle: async () => {
      while (running) await running;
    },
    detach: () => {
      detached = true;
      source.off('snapshot', listener);
    },
  };
}

/** One update equivalent to applying `a` then `b`. */
export function mergeUpdates(a: SnapshotUpdate, b: SnapshotUpdate): SnapshotUpdate {
  const byKey = new Map<string, SnapshotChange>();
  for (const c of a.changes) byKey.set(c.key, c);
  for (const c of b.changes) {
    const first = byKey.get(c.key);
    const previous = first ? first.previous : c.previous;
    const current = c.current;
    if (previous === current) byKey.delete(c.key);
    else
      byKey.set(c.key, {
        key: c.key,
        ...(previous ? { previous } : {}),
        ...(current ? { current } : {}),
      });
  }
  return {
    previous: a.previous,
    current: b.current,
    changes: [...byKey.values()],
    changedServices: new Set([...a.changedServices, ...b.changedServices]),
  };
}
