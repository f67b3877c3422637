/**
 * {@link EtcdStore}: the {@link Store} contract on etcd v3, so that registries in many processes
 * and on many hosts share one consistent set of objects and reservations.
 *
 * @module
 */
import { Etcd3, type ICompare, type IOptions, type IRequestOp, type ITxnRequest } from 'etcd3';
import { type Clock, systemClock } from '../../core/clock';
import { mathRng, type Rng } from '../../core/random';
import {
  type Store,
  StoreConflictError,
  type StoreEntry,
  type StoreOp,
  type StoreWatch,
  type StoreWatchHandler,
} from '../../registry/store';
import { encodeValue, KeyCodec, rev, toEntry } from './codec';
import { EtcdUnavailableError } from './errors';
import type { EtcdConnectionState, EtcdStoreInternals } from './internals';
import { backoffDelayMs, isTransientEtcdError, sleep } from './retry';
import { parseEtcdUrl } from './url';
import { EtcdWatchStream } from './watch';

/**
 * How long a call waits for a connection before failing (the API server's etcd dial timeout,
 * 20 s).
 */
export const DEFAULT_DIAL_TIMEOUT_MS = 20_000;
/** How long one store operation keeps retrying while etcd is unreachable before it fails. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** Upper bound of one RPC attempt; a hung connection is abandoned and retried after this. */
export const DEFAULT_ATTEMPT_TIMEOUT_MS = 5_000;
/** How long past an attempt's deadline its keep-alive timer lasts, so the deadline fires first. */
const ATTEMPT_KEEPALIVE_SLACK_MS = 1_000;

/** gRPC keepalive ping interval and timeout on the etcd connection (the API server's: 30 s / 10 s). */
export const KEEPALIVE_TIME_MS = 30_000;
export const KEEPALIVE_TIMEOUT_MS = 10_000;
/** Keys per page when listing, so that a large registry never needs one huge response. */
export const LIST_PAGE_SIZE = 500;
/** How often a paged list starts over when compaction overtakes it. */
const MAX_LIST_RESTARTS = 3;
/** etcd's ErrCompacted text. */
const COMPACTED_MESSAGE = 'required revision has been compacted';
/** Largest response accepted from etcd (a catch-up watch batch can be big). */
const MAX_RECEIVE_MESSAGE_BYTES = 64 * 1024 * 1024;

/** PEM material for TLS to etcd (`--cacert`, `--cert`, `--key` of etcdctl). */
export interface EtcdTLSOptions {
  /** CA bundle that signed the etcd server certificates (system roots when absent). */
  readonly ca?: Buffer | string;
  /** Client certificate chain, for etcd's `--client-cert-auth`. */
  readonly cert?: Buffer | string;
  /** Private key of the client certificate. */
  readonly key?: Buffer | string;
}

/** Options of {@link EtcdStore}. */
export interface EtcdStoreOptions {
  /** `http://HOST:PORT` / `https://HOST:PORT` (or bare `HOST:PORT`), one or several members. */
  readonly endpoints: string | readonly string[];
  /**
   * Prepended to every key in etcd (`/svcroute` → `/svcroute/registry/services/specs/…`), so one
   * etcd can hold several independent registries. Default: none.
   */
  readonly prefix?: string;
  /** TLS; also implied by `https://` endpoints (system roots). */
  readonly tls?: EtcdTLSOptions;
  /** etcd user and password (etcd's `--auth-token` flow). */
  readonly auth?: { readonly username: string; readonly password: string };
  /** How long a call waits for a connection (default {@link DEFAULT_DIAL_TIMEOUT_MS}). */
  readonly dialTimeoutMs?: number;
  /** How long an operation retries while etcd is unreachable (default {@link DEFAULT_REQUEST_TIMEOUT_MS}). */
  readonly requestTimeoutMs?: number;
  /** Upper bound of one RPC attempt (default {@link DEFAULT_ATTEMPT_TIMEOUT_MS}). */
  readonly attemptTimeoutMs?: number;
  /** Timers for retry backoff and watch reconnects. */
  readonly clock?: Clock;
  /** Jitter of the backoff. */
  readonly rng?: Rng;
  /** Told when etcd becomes unreachable and when it answers again. */
  readonly onStateChange?: (state: EtcdConnectionState, error?: Error) => void;
}

/** Per-call gRPC options (deadline), as etcd3's RPC methods take them. */
type CallOptions = NonNullable<Parameters<Etcd3['kv']['range']>[1]>;

/**
 * The policy object etcd3 expects, doing nothing but calling through: retries and backoff are
 * this store's business, because only the store knows when a retry is safe (a commit whose reply
 * was lost must be checked, not blindly repeated).
 */
type EtcdPolicy = NonNullable<NonNullable<IOptions['faultHandling']>['global']>;
function passThroughPolicy(): EtcdPolicy {
  const never = new AbortController().signal;
  const noEvent = () => ({ dispose() {} });
  return {
    onSuccess: noEvent,
    onFailure: noEvent,
    execute: async <T>(fn: (ctx: { signal: AbortSignal }) => PromiseLike<T> | T) => fn({ signal: never }),
  } as unknown as EtcdPolicy;
}

function normalizeEndpoint(e: string, tls: boolean): string {
  if (/^https?:\/\//.test(e)) return e;
  return `${tls ? 'https' : 'http'}://${e}`;
}

function pem(v: Buffer | string | undefined): Buffer | undefined {
  return v === undefined ? undefined : typeof v === 'string' ? Buffer.from(v) : v;
}

/**
 * A {@link Store} on etcd v3. Values are JSON under the configured prefix; the store revision is
 * etcd's revision, and an entry's `modRevision` is what the registry reports as resourceVersion.
 *
 * - `commit` is one etcd transaction: a compare per op (create → the key's create revision is 0;
 *   update/delete with `expectedModRevision` → its mod revision equals it; otherwise → the key
 *   exists), then the puts and deletes. When a compare fails, the failure branch reads every key
 *   at the same revision so the rejection names the first op whose precondition failed.
 * - Operations retry with backoff while etcd is unreachable, up to `requestTimeoutMs`, then fail
 *   with {@link EtcdUnavailableError}. A commit whose reply was lost is checked before it is
 *   repeated, so a write is never applied twice and never reported as a conflict with itself
 *   (unless another writer changed the same keys in between).
 * - Watches resume after disconnects and etcd restarts from the last revision they delivered,
 *   and fail with `StoreCompactedError` when that revision has been compacted away.
 */
export class EtcdStore implements Store {
  readonly name = 'etcd';
  /** The endpoints in use, with scheme. */
  readonly endpoints: readonly string[];
  /** The key prefix in etcd (`''` for none). */
  readonly prefix: string;
  private readonly client: Etcd3;
  private readonly codec: KeyCodec;
  private readonly clock: Clock;
  private readonly rng: Rng;
  private readonly requestTimeoutMs: number;
  private readonly attemptTimeoutMs: number;
  private readonly onStateChange: EtcdStoreOptions['onStateChange'];
  private readonly watches = new Set<EtcdWatchStream>();
  private state: EtcdConnectionState = 'ready';
  private closed = false;

  constructor(options: EtcdStoreOptions) {
    const tls = options.tls !== undefined;
    const list = typeof options.endpoints === 'string' ? [options.endpoints] : [...options.endpoints];
    if (list.length === 0) throw new TypeError('etcd store: no endpoints given');
    this.endpoints = list.map((e) => normalizeEndpoint(e, tls));
    this.codec = new KeyCodec(options.prefix ?? '');
    this.prefix = this.codec.prefix;
    this.clock = options.clock ?? systemClock;
    this.rng = options.rng ?? mathRng;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS;
    this.onStateChange = options.onStateChange;
    const ca = pem(options.tls?.ca);
    const key = pem(options.tls?.key);
    const cert = pem(options.tls?.cert);
    const etcdOptions: IOptions = {
      hosts: [...this.endpoints],
      dialTimeout: options.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS,
      faultHandling: { global: passThroughPolicy(), host: () => passThroughPolicy() },
      grpcOptions: {
        'grpc.max_receive_message_length': MAX_RECEIVE_MESSAGE_BYTES,
        'grpc.keepalive_time_ms': KEEPALIVE_TIME_MS,
        'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
        // Reconnect quickly once etcd is back instead of grpc's default of up to two minutes.
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 2_000,
      },
      ...(options.auth ? { auth: { username: options.auth.username, password: options.auth.password } } : {}),
      ...(ca || key || cert
        ? {
            credentials: {
              // null selects the system roots (grpc's createSsl); an empty buffer would trust nothing.
              rootCertificate: ca ?? (null as unknown as Buffer),
              ...(key ? { privateKey: key } : {}),
              ...(cert ? { certChain: cert } : {}),
            },
          }
        : {}),
    };
    this.client = new Etcd3(etcdOptions);
  }

  /**
   * Opens a store and checks that etcd answers, failing fast with an {@link EtcdUnavailableError}
   * naming the endpoint when it does not (within `dialTimeoutMs`, default 20 s).
   */
  static async connect(options: EtcdStoreOptions): Promise<EtcdStore> {
    const store = new EtcdStore(options);
    try {
      await store.call(
        'connect',
        (o) => store.client.kv.range({ key: store.codec.encode('/'), limit: 1 }, o),
        {
          timeoutMs: options.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS,
        },
      );
    } catch (e) {
      await store.close();
      throw e;
    }
    return store;
  }

  /** Opens a store from an `etcd://HOST:PORT[/prefix]` URL (see {@link parseEtcdUrl}). */
  static fromUrl(url: string, options: Omit<EtcdStoreOptions, 'endpoints' | 'prefix'> = {}): EtcdStore {
    const u = parseEtcdUrl(url);
    return new EtcdStore({ ...options, endpoints: u.endpoints, prefix: u.prefix });
  }

  /** One linearizable range read of exactly `key` (under the store prefix), or `undefined`. */
  async get(key: string): Promise<StoreEntry | undefined> {
    const res = await this.call('get', (o) => this.client.kv.range({ key: this.codec.encode(key) }, o));
    const kv = res.kvs[0];
    return kv ? toEntry(this.codec, kv) : undefined;
  }

  async list(prefix: string): Promise<{ entries: StoreEntry[]; revision: number }> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.listOnce(prefix);
      } catch (e) {
        // A compaction between two pages removed the snapshot revision: start over at a new one.
        if (attempt >= MAX_LIST_RESTARTS || !(e instanceof Error) || !e.message.includes(COMPACTED_MESSAGE))
          throw e;
      }
    }
  }

  private async listOnce(prefix: string): Promise<{ entries: StoreEntry[]; revision: number }> {
    const { key, range_end } = this.codec.range(prefix);
    const entries: StoreEntry[] = [];
    let revision = 0;
    let from = key;
    for (;;) {
      // Later pages are read at the first page's revision: one consistent snapshot.
      const res = await this.call('list', (o) =>
        this.client.kv.range(
          {
            key: from,
            range_end,
            limit: LIST_PAGE_SIZE,
            sort_order: 'Ascend',
            sort_target: 'Key',
            ...(revision ? { revision } : {}),
          },
          o,
        ),
      );
      if (!revision) revision = rev(res.header.revision);
      for (const kv of res.kvs) {
        const e = toEntry(this.codec, kv);
        if (e) entries.push(e);
      }
      const last = res.kvs[res.kvs.length - 1];
      if (!res.more || !last) break;
      from = Buffer.concat([last.key, Buffer.from([0])]);
    }
    return { entries, revision };
  }

  async revision(): Promise<number> {
    const res = await this.call('revision', (o) =>
      this.client.kv.range({ key: this.codec.encode('/'), limit: 1, keys_only: true }, o),
    );
    return rev(res.header.revision);
  }

  async commit(ops: readonly StoreOp[]): Promise<number> {
    this.assertOpen();
    if (ops.length === 0) return this.revision();
    const seen = new Set<string>();
    for (const op of ops) {
      // etcd refuses a transaction that writes one key twice; say so with the key.
      if (seen.has(op.key)) throw new Error(`store: duplicate key in transaction: ${op.key}`);
      seen.add(op.key);
    }
    const txn = this.buildTxn(ops);
    let unsure = false;
    return this.call('commit', async (o) => {
      if (unsure) {
        // The previous attempt may have been applied with its reply lost: look before repeating.
        const applied = await this.appliedRevision(ops, o);
        if (applied !== undefined) return applied;
      }
      let res: Awaited<ReturnType<Etcd3['kv']['txn']>>;
      try {
        res = await this.client.kv.txn(txn, o);
      } catch (e) {
        unsure = true;
        throw e;
      }
      if (res.succeeded) return rev(res.header.revision);
      throw this.conflictFrom(ops, res.responses);
    });
  }

  watch(prefix: string, afterRevision: number, handler: StoreWatchHandler): StoreWatch {
    if (this.closed) {
      queueMicrotask(() => handler.onError(new Error('store: closed')));
      return { cancel() {} };
    }
    const stream = new EtcdWatchStream(this.internals(), prefix, afterRevision, {
      onEvents: (events) => handler.onEvents(events),
      onError: (err) => {
        this.watches.delete(stream);
        handler.onError(err);
      },
    });
    this.watches.add(stream);
    stream.start();
    return {
      cancel: () => {
        this.watches.delete(stream);
        stream.cancel();
      },
    };
  }

  /**
   * Compacts etcd's history up to `revision` (etcd's `compact`): watches that need older
   * revisions fail with `StoreCompactedError`. Normally etcd's own `--auto-compaction-*` does this.
   */
  async compact(revision: number, options: { physical?: boolean } = {}): Promise<void> {
    await this.call('compact', (o) =>
      this.client.kv.compact({ revision, physical: options.physical ?? false }, o),
    );
  }

  /** Current connection state: `unavailable` after a failed call until one succeeds again. */
  connectionState(): EtcdConnectionState {
    return this.state;
  }

  /** Cancels every watch (their handlers get an error) and closes the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const ws = [...this.watches];
    this.watches.clear();
    for (const w of ws) w.close(new Error('store: closed'));
    this.client.close();
    this.reportState('closed');
  }

  // -------------------------------------------------------------------------------------------

  private internals(): EtcdStoreInternals {
    return {
      client: this.client,
      codec: this.codec,
      clock: this.clock,
      rng: this.rng,
      reportState: (s, e) => this.reportState(s, e),
    };
  }

  private reportState(state: EtcdConnectionState, error?: Error): void {
    if (this.state === state || (this.state === 'closed' && state !== 'closed')) return;
    this.state = state;
    try {
      this.onStateChange?.(state, error);
    } catch {
      // A listener's failure must not break the store.
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('store: closed');
  }

  /**
   * Runs one RPC with a per-attempt deadline, retrying transient failures with backoff until the
   * operation's time budget is spent.
   */
  private async call<T>(
    operation: string,
    fn: (options: CallOptions) => Promise<T>,
    opts: { timeoutMs?: number } = {},
  ): Promise<T> {
    const budget = opts.timeoutMs ?? this.requestTimeoutMs;
    const start = this.clock.now();
    for (let attempt = 0; ; attempt++) {
      this.assertOpen();
      const remaining = budget - (this.clock.now() - start);
      const attemptMs = Math.max(1, Math.min(this.attemptTimeoutMs, remaining));
      // gRPC keeps its deadline and reconnect timers unreferenced, so while etcd is down an
      // attempt in flight holds nothing that keeps Node running: a short-lived program (the CLI,
      // a script) would exit silently, with status 0, in the middle of a write. This referenced
      // timer covers the attempt until its deadline has fired.
      const keepAlive = setTimeout(() => {}, attemptMs + ATTEMPT_KEEPALIVE_SLACK_MS);
      try {
        const result = await fn({ deadline: Date.now() + attemptMs });
        this.reportState('ready');
        return result;
      } catch (e) {
        if (this.closed) throw new Error('store: closed');
        if (!isTransientEtcdError(e)) throw e;
        this.reportState('unavailable', e as Error);
        const delay = backoffDelayMs(attempt, this.rng);
        if (this.clock.now() - start + delay >= budget)
          throw new EtcdUnavailableError(this.endpoints, e, operation);
        await sleep(this.clock, delay);
      } finally {
        clearTimeout(keepAlive);
      }
    }
  }

  private buildTxn(ops: readonly StoreOp[]): ITxnRequest {
    const compare: ICompare[] = [];
    const success: IRequestOp[] = [];
    const failure: IRequestOp[] = [];
    for (const op of ops) {
      const key = this.codec.encode(op.key);
      if (op.type === 'create') compare.push({ key, target: 'Create', result: 'Equal', create_revision: 0 });
      else if (op.expectedModRevision !== undefined)
        compare.push({ key, target: 'Mod', result: 'Equal', mod_revision: op.expectedModRevision });
      else compare.push({ key, target: 'Create', result: 'Greater', create_revision: 0 });
      if (op.type === 'delete') success.push({ request_delete_range: { key } });
      else success.push({ request_put: { key, value: encodeValue(op.value) } });
      failure.push({ request_range: { key, keys_only: true } });
    }
    return { compare, success, failure };
  }

  /** Which precondition failed, from the failure branch's reads (all at one revision). */
  private conflictFrom(
    ops: readonly StoreOp[],
    responses: readonly { response_range?: { kvs: { mod_revision: string }[] } }[],
  ): StoreConflictError {
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i] as StoreOp;
      const kv = responses[i]?.response_range?.kvs[0];
      if (op.type === 'create') {
        if (kv) return new StoreConflictError(op.key, 'exists');
      } else if (!kv) {
        return new StoreConflictError(op.key, 'missing');
      } else if (op.expectedModRevision !== undefined && rev(kv.mod_revision) !== op.expectedModRevision) {
        return new StoreConflictError(op.key, 'revision');
      }
    }
    // Unreachable when etcd is consistent; still a conflict, on the first key.
    return new StoreConflictError(ops[0]?.key ?? '', 'revision');
  }

  /**
   * The revision at which `ops` were applied, or undefined when they were not: every put key
   * holds exactly the written bytes, all at one revision (newer than an update's expected one),
   * and every deleted key is gone.
   */
  private async appliedRevision(ops: readonly StoreOp[], o: CallOptions): Promise<number | undefined> {
    const res = await this.client.kv.txn(
      { success: ops.map((op) => ({ request_range: { key: this.codec.encode(op.key) } })) },
      o,
    );
    let at: number | undefined;
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i] as StoreOp;
      const kv = res.responses[i]?.response_range?.kvs[0];
      if (op.type === 'delete') {
        if (kv) return undefined;
        continue;
      }
      if (!kv?.value.equals(encodeValue(op.value))) return undefined;
      const r = rev(kv.mod_revision);
      if (op.type === 'update' && op.expectedModRevision !== undefined && r <= op.expectedModRevision)
        return undefined;
      if (at !== undefined && at !== r) return undefined;
      at = r;
    }
    return at ?? rev(res.header.revision);
  }
}
