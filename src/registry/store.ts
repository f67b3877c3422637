/**
 * The storage contract under the {@link Registry}. The in-memory store is the embedded default;
 * the etcd store (`svcroute/etcd`) implements the same contract across hosts. Every write is an
 * all-or-nothing transaction guarded by per-key revisions, so allocations (a cluster IP, a node
 * port) can be reserved atomically with the object that holds them.
 *
 * @module
 */

/** A stored value with its revisions (etcd's mod/create revision; resourceVersion = modRevision). */
export interface StoreEntry {
  readonly key: string;
  /** A JSON-compatible value. Stores never hand out a value that a caller may mutate. */
  readonly value: unknown;
  readonly modRevision: number;
  readonly createRevision: number;
}

/** One operation of a transaction. */
export type StoreOp =
  | { readonly type: 'create'; readonly key: string; readonly value: unknown }
  | {
      readonly type: 'update';
      readonly key: string;
      readonly value: unknown;
      /** Compare-and-swap: fail unless the key's modRevision is exactly this. */
      readonly expectedModRevision?: number;
    }
  | { readonly type: 'delete'; readonly key: string; readonly expectedModRevision?: number };

/** Why a transaction failed: which key, and what it expected. */
export class StoreConflictError extends Error {
  constructor(
    /** The key whose precondition failed. */
    readonly key: string,
    /** `exists`: a create met an existing key; `missing`: update/delete of no key; `revision`: CAS failed. */
    readonly reason: 'exists' | 'missing' | 'revision',
  ) {
    super(
      `store: ${reason === 'exists' ? 'key already exists' : reason === 'missing' ? 'key not found' : 'revision mismatch'}: ${key}`,
    );
    this.name = 'StoreConflictError';
  }
}

/** Raised by a watch that asked for a revision the store has compacted away; relist and re-watch. */
export class StoreCompactedError extends Error {
  constructor(
    readonly requestedRevision: number,
    readonly compactRevision: number,
  ) {
    super(`store: revision ${requestedRevision} has been compacted (oldest available ${compactRevision})`);
    this.name = 'StoreCompactedError';
  }
}

/** A change seen by a watch. */
export interface StoreEvent {
  readonly type: 'put' | 'delete';
  readonly key: string;
  /** The new value (put) or undefined (delete). */
  readonly value: unknown;
  /** The value before the change, when the store knows it. */
  readonly prevValue?: unknown;
  readonly modRevision: number;
  /** True when a put created the key. */
  readonly created: boolean;
}

/** Receives watch events in revision order, in batches (one batch per store revision or more). */
export interface StoreWatchHandler {
  /**
   * A batch of changes in ascending modRevision order; a later call never carries a revision
   * lower than one already delivered. Not called after {@link StoreWatch.cancel} or `onError`.
   */
  onEvents(events: readonly StoreEvent[]): void;
  /** A fatal watch error (compaction, closed store). The watch is over when this is called. */
  onError(error: Error): void;
}

/** A running watch. */
export interface StoreWatch {
  /** Stops delivery: the handler is called no more after this returns. Idempotent. */
  cancel(): void;
}

/** Key/value storage with revisions, transactions and watch-from-revision. */
export interface Store {
  /** Short name for messages (`memory`, `etcd`). */
  readonly name: string;
  /** The entry at exactly `key` (no prefix match), or `undefined` when the key does not exist. */
  get(key: string): Promise<StoreEntry | undefined>;
  /** All entries under a prefix, and the store revision they were read at. */
  list(prefix: string): Promise<{ entries: StoreEntry[]; revision: number }>;
  /**
   * Applies every op or none. Resolves to the new store revision; rejects with
   * {@link StoreConflictError} naming the first key whose precondition failed.
   */
  commit(ops: readonly StoreOp[]): Promise<number>;
  /** Events for keys under `prefix` with modRevision > `afterRevision`, then live ones. */
  watch(prefix: string, afterRevision: number, handler: StoreWatchHandler): StoreWatch;
  /** Current store revision. */
  revision(): Promise<number>;
  /**
   * Releases the store's resources and ends every open watch with an error. Idempotent; other
   * calls made after it reject.
   */
  close(): Promise<void>;
}
