/**
 * The embedded {@link Store}: revisions, all-or-nothing transactions with compare-and-swap, and
 * watch-from-revision over a bounded history, with etcd's semantics so that code written against
 * it behaves the same on the etcd store.
 *
 * @module
 */
import { frozenCopy } from './object-utils';
import {
  type Store,
  StoreCompactedError,
  StoreConflictError,
  type StoreEntry,
  type StoreEvent,
  type StoreOp,
  type StoreWatch,
  type StoreWatchHandler,
} from './store';

/** Revisions kept for watchers that resume from the past, unless told otherwise. */
export const DEFAULT_HISTORY_REVISIONS = 1_000;

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * How many past revisions a watch may resume from; older ones are compacted away and a watch
   * asking for them fails with {@link StoreCompactedError} (as etcd does after compaction).
   */
  readonly historyRevisions?: number;
}

interface Batch {
  readonly revision: number;
  readonly events: readonly StoreEvent[];
}

interface Watcher {
  readonly prefix: string;
  readonly handler: StoreWatchHandler;
  /** Last revision handed to the handler. */
  delivered: number;
  active: boolean;
}

/**
 * An in-memory {@link Store}. Values are deep-copied and frozen on the way in, so callers can
 * neither change what was stored nor what they read. Watch handlers are called asynchronously
 * (never inside `commit`), in revision order, one batch per revision.
 */
export class MemoryStore implements Store {
  readonly name = 'memory';
  private readonly data = new Map<string, StoreEntry>();
  private rev = 0;
  /** Ring of the last `historyLimit` revisions' events. */
  private readonly history: Batch[] = [];
  private historyStart = 0;
  /** Every revision <= this one has been compacted away. */
  private compacted = 0;
  private readonly historyLimit: number;
  private readonly watchers = new Set<Watcher>();
  private closed = false;
  private flushScheduled = false;

  constructor(options: MemoryStoreOptions = {}) {
    this.historyLimit = Math.max(1, options.historyRevisions ?? DEFAULT_HISTORY_REVISIONS);
  }

  /** The entry at exactly `key`, or `undefined`; the value is deep-frozen. Rejects once closed. */
  async get(key: string): Promise<StoreEntry | undefined> {
    this.assertOpen();
    return this.data.get(key);
  }

  async list(prefix: string): Promise<{ entries: StoreEntry[]; revision: number }> {
    this.assertOpen();
    const entries: StoreEntry[] = [];
    for (const [k, e] of this.data) if (k.startsWith(prefix)) entries.push(e);
    entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return { entries, revision: this.rev };
  }

  async revision(): Promise<number> {
    this.assertOpen();
    return this.rev;
  }

  /** Synchronous form of {@link commit}, for callers that need the write to happen in this tick. */
  commitSync(ops: readonly StoreOp[]): number {
    this.assertOpen();
    if (ops.length === 0) return this.rev;
    const seen = new Set<string>();
    for (const op of ops) {
      // etcd rejects a transaction naming one key twice; so do we.
      if (seen.has(op.key)) throw new Error(`store: duplicate key in transaction: ${op.key}`);
      seen.add(op.key);
      const cur = this.data.get(op.key);
      if (op.type === 'create') {
        if (cur) throw new StoreConflictError(op.key, 'exists');
      } else {
        if (!cur) throw new StoreConflictError(op.key, 'missing');
        if (op.expectedModRevision !== undefined && cur.modRevision !== op.expectedModRevision)
          throw new StoreConflictError(op.key, 'revision');
      }
    }
    const revision = ++this.rev;
    const events: StoreEvent[] = [];
    for (const op of ops) {
      const prev = this.data.get(op.key);
      if (op.type === 'delete') {
        this.data.delete(op.key);
        events.push({
          type: 'delete',
          key: op.key,
          value: undefined,
          prevValue: prev?.value,
          modRevision: revision,
          created: false,
        });
      } else {
        const value = frozenCopy(op.value);
        const entry: StoreEntry = {
          key: op.key,
          value,
          modRevision: revision,
          createRevision: prev?.createRevision ?? revision,
        };
        this.data.set(op.key, entry);
        events.push(
          prev
            ? {
                type: 'put',
                key: op.key,
                value,
                prevValue: prev.value,
                modRevision: revision,
                created: false,
              }
            : { type: 'put', key: op.key, value, modRevision: revision, created: true },
        );
      }
    }
    this.record({ revision, events });
    this.scheduleFlush();
    return revision;
  }

  async commit(ops: readonly StoreOp[]): Promise<number> {
    return this.commitSync(ops);
  }

  watch(prefix: string, afterRevision: number, handler: StoreWatchHandler): StoreWatch {
    const w: Watcher = { prefix, handler, delivered: afterRevision, active: true };
    if (this.closed) {
      queueMicrotask(() => handler.onError(new Error('store: closed')));
      return { cancel() {} };
    }
    this.watchers.add(w);
    this.scheduleFlush();
    return {
      cancel: () => {
        w.active = false;
        this.watchers.delete(w);
      },
    };
  }

  /**
   * Drops history up to and including `revision` (etcd's compaction); watches that need older
   * revisions fail with {@link StoreCompactedError}.
   */
  compact(revision: number): void {
    const upTo = Math.min(revision, this.rev);
    while (
      this.history.length > this.historyStart &&
      (this.history[this.historyStart]?.revision ?? Infinity) <= upTo
    )
      this.historyStart++;
    this.compacted = Math.max(this.compacted, upTo);
    this.trimHistory();
    this.scheduleFlush();
  }

  /** Ends every watch with a `store: closed` error; later reads and commits reject. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const ws = [...this.watchers];
    this.watchers.clear();
    for (const w of ws) {
      w.active = false;
      w.handler.onError(new Error('store: closed'));
    }
  }

  private record(batch: Batch): void {
    this.history.push(batch);
    if (this.history.length - this.historyStart > this.historyLimit) {
      const dropped = this.history[this.historyStart];
      this.historyStart++;
      if (dropped) this.compacted = Math.max(this.compacted, dropped.revision);
    }
    this.trimHistory();
  }

  /** Keeps the array from growing without bound: slice off the consumed head now and then. */
  private trimHistory(): void {
    if (this.historyStart > 1024 && this.historyStart * 2 > this.history.length) {
      this.history.splice(0, this.historyStart);
      this.historyStart = 0;
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    for (const w of [...this.watchers]) {
      if (!w.active || w.delivered >= this.rev) continue;
      if (w.delivered < this.compacted) {
        w.active = false;
        this.watchers.delete(w);
        w.handler.onError(new StoreCompactedError(w.delivered + 1, this.compacted + 1));
        continue;
      }
      // Binary search for the first batch after w.delivered.
      let lo = this.historyStart;
      let hi = this.history.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((this.history[mid]?.revision ?? 0) <= w.delivered) lo = mid + 1;
        else hi = mid;
      }
      for (let i = lo; i < this.history.length && w.active; i++) {
        const batch = this.history[i] as Batch;
        w.delivered = batch.revision;
        const events = batch.events.filter((e) => e.key.startsWith(w.prefix));
        if (events.length === 0) continue;
        try {
          w.handler.onEvents(events);
        } catch (err) {
          // A throwing handler must not break delivery to the others; surface it asynchronously.
          queueMicrotask(() => {
            throw err;
          });
        }
      }
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('store: closed');
  }
}
