/**
 * One resumable etcd watch: a gRPC watch stream that is re-created after disconnects and etcd
 * restarts, always from the revision after the last one delivered, so that no event is lost or
 * repeated.
 *
 * @module
 */
import type { IDuplexStream, IWatchRequest, IWatchResponse } from 'etcd3';
import type { TimerHandle } from '../../core/clock';
import { StoreCompactedError, type StoreEvent, type StoreWatchHandler } from '../../registry/store';
import { rev, toEvent } from './codec';
import type { EtcdStoreInternals } from './internals';
import { backoffDelayMs } from './retry';

/**
 * etcd answered with an older revision than one already seen: it was restored from a backup or
 * re-created empty. Subclass of {@link StoreCompactedError} because the cure is the same: list
 * again and watch from the new revision.
 */
export class EtcdHistoryLostError extends StoreCompactedError {
  constructor(requestedRevision: number, currentRevision: number) {
    super(requestedRevision, currentRevision);
    this.message = `store: etcd went back to revision ${currentRevision} after revision ${requestedRevision - 1} was seen (restored or re-created); relist`;
    this.name = 'EtcdHistoryLostError';
  }
}

type WatchStream = IDuplexStream<IWatchRequest, IWatchResponse>;

/**
 * A watch on the keys under one prefix. `last` is the newest revision whose events (if any) have
 * all been handed to the handler; a new stream always starts at `last + 1`.
 *
 * Which revisions count as delivered: the mod revisions of delivered events, and the header
 * revision of progress notifications (etcd only sends those to watchers that have caught up).
 * The header revision of an event response is NOT used: while a watcher catches up, etcd sends
 * the current store revision there even though later events are still to come.
 */
export class EtcdWatchStream {
  private last: number;
  private stream: WatchStream | undefined;
  private timer: TimerHandle | undefined;
  private failures = 0;
  private done = false;

  constructor(
    private readonly store: EtcdStoreInternals,
    private readonly prefix: string,
    afterRevision: number,
    private readonly handler: StoreWatchHandler,
  ) {
    this.last = afterRevision;
  }

  /** The newest revision delivered (or known to hold no event for this watch). */
  lastRevision(): number {
    return this.last;
  }

  start(): void {
    void this.open();
  }

  /** Stops for good without telling the handler. */
  cancel(): void {
    if (this.done) return;
    this.done = true;
    this.teardown();
  }

  /** Stops for good and reports `error` to the handler. */
  close(error: Error): void {
    if (this.done) return;
    this.cancel();
    this.handler.onError(error);
  }

  private teardown(): void {
    if (this.timer) this.store.clock.clearTimeout(this.timer);
    this.timer = undefined;
    const s = this.stream;
    this.stream = undefined;
    if (s) {
      try {
        s.cancel();
      } catch {
        // Already gone.
      }
    }
  }

  private async open(): Promise<void> {
    if (this.done) return;
    let stream: WatchStream;
    try {
      stream = await this.store.client.watchClient.watch();
    } catch (e) {
      this.broken(undefined, e as Error);
      return;
    }
    if (this.done) {
      stream.cancel();
      return;
    }
    this.stream = stream;
    stream.on('data', (res) => this.onResponse(stream, res));
    stream.on('error', (err) => this.broken(stream, err));
    stream.on('end', () => this.broken(stream, new Error('watch stream ended')));
    const { key, range_end } = this.store.codec.range(this.prefix);
    stream.write({
      create_request: {
        key,
        range_end,
        start_revision: this.last + 1,
        prev_kv: true,
        progress_notify: true,
      },
    });
  }

  private onResponse(stream: WatchStream, res: IWatchResponse): void {
    if (stream !== this.stream || this.done) return;
    if (res.created) {
      this.failures = 0;
      this.store.reportState('ready');
      const current = rev(res.header.revision);
      if (current < this.last) {
        this.close(new EtcdHistoryLostError(this.last + 1, current));
        return;
      }
    }
    if (res.canceled) {
      const compacted = rev(res.compact_revision);
      if (compacted > 0) this.close(new StoreCompactedError(this.last + 1, compacted));
      else
        this.close(
          new Error(
            `store: etcd cancelled the watch on ${this.prefix}: ${res.cancel_reason || 'no reason given'}`,
          ),
        );
      return;
    }
    if (res.events.length === 0) {
      // A progress notification: every event up to the header revision has been sent.
      if (!res.created) this.last = Math.max(this.last, rev(res.header.revision));
      return;
    }
    const events: StoreEvent[] = [];
    let newest = this.last;
    for (const ev of res.events) {
      const e = toEvent(this.store.codec, ev);
      if (!e) continue;
      // Never hand out a revision twice, whatever the server resends.
      if (e.modRevision <= this.last) continue;
      events.push(e);
      if (e.modRevision > newest) newest = e.modRevision;
    }
    this.last = newest;
    if (events.length === 0) return;
    try {
      this.handler.onEvents(events);
    } catch (err) {
      // A throwing handler must not kill the stream; surface the error outside it.
      queueMicrotask(() => {
        throw err;
      });
    }
  }

  private broken(stream: WatchStream | undefined, err: Error): void {
    if (this.done || (stream && stream !== this.stream)) return;
    this.teardown();
    this.store.reportState('unavailable', err);
    const delay = backoffDelayMs(this.failures++, this.store.rng);
    this.timer = this.store.clock.setTimeout(() => {
      this.timer = undefined;
      void this.open();
    }, delay);
  }
}
