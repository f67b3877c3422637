/**
 * The one interface every backend (in-process proxy, iptables, DNS, env) implements. A backend
 * is fed snapshots by {@link attachBackend} and redoes only what the changes name.
 *
 * @module
 */
import type { RoutingSnapshot, SnapshotUpdate } from '../core/snapshot';

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
  snapshot(): RoutingSnapshot;
  on(event: 'snapshot', listener: (update: SnapshotUpdate) => void): unknown;
  off(event: 'snapshot', listener: (update: SnapshotUpdate) => void): unknown;
}
