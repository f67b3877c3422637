/**
 * Leader election over the {@link Store} contract, as client-go's `leaderelection` package does it
 * on a `coordination.k8s.io/v1` Lease: one record names the holder; the holder renews it with
 * compare-and-swap writes every retry period; a candidate takes it over only when it is absent,
 * released (no holder), or has not changed for a whole lease duration **by the candidate's own
 * clock** since it last saw it change. Timestamps inside the record are informational only, so
 * clock offsets between hosts do not matter (clock *rates* must roughly agree).
 *
 * The holder stops leading when it has not renewed within the renew deadline, which is shorter
 * than the lease duration: by the clocks' rules it has stepped down before anyone else may take
 * the lease over. Works the same on the memory store and on etcd.
 *
 * @module
 */

import { hostname } from 'node:os';
import EventEmitter from 'eventemitter3';
import { type Clock, systemClock, type TimerHandle } from '../core/clock';
import { mathRng, type Rng } from '../core/random';
import { newUID } from './object-identity';
import { type Store, StoreConflictError, type StoreEntry } from './store';

/** Lease duration of client-go's core clients (kube-controller-manager's `--leader-elect-lease-duration`). */
export const DEFAULT_LEASE_DURATION_MS = 15_000;
/** Renew deadline of client-go's core clients (`--leader-elect-renew-deadline`). */
export const DEFAULT_RENEW_DEADLINE_MS = 10_000;
/** Retry period of client-go's core clients (`--leader-elect-retry-period`). */
export const DEFAULT_RETRY_PERIOD_MS = 2_000;
/** client-go's `JitterFactor`: a candidate waits a random [1, 2.2) retry periods between tries. */
export const LEADER_ELECTION_JITTER_FACTOR = 1.2;
/** Namespace of the lease (kube-controller-manager's `--leader-elect-resource-namespace`). */
export const DEFAULT_LEASE_NAMESPACE = 'kube-system';
/** Name of the lease the registry's controllers elect a leader on. */
export const DEFAULT_LEASE_NAME = 'svcroute-controller-manager';
/** Lease duration written on release (client-go writes 1 s and no holder). */
const RELEASED_LEASE_DURATION_S = 1;

/** `spec` of a `coordination.k8s.io/v1` Lease, as stored. Times are MicroTime (RFC 3339, µs). */
export interface LeaseSpec {
  /** Identity of the holder; empty or absent when released. */
  readonly holderIdentity?: string;
  /** How long candidates wait, from when they last saw the record change, before taking over. */
  readonly leaseDurationSeconds?: number;
  readonly acquireTime?: string;
  readonly renewTime?: string;
  /** How many times the lease changed hands. */
  readonly leaseTransitions?: number;
}

/** The Lease object stored under the election key. */
export interface Lease {
  readonly apiVersion: 'coordination.k8s.io/v1';
  readonly kind: 'Lease';
  readonly metadata: { readonly name: string; readonly namespace: string };
  readonly spec: LeaseSpec;
}

/** Timing of an election; every value in milliseconds. */
export interface LeaderElectionTiming {
  /**
   * How long candidates wait without seeing the record change before taking over. Default 15 s.
   * The Lease carries it in whole seconds, rounded up (candidates honour the stored value).
   */
  readonly leaseDurationMs?: number;
  /** How long the leader keeps trying to renew before it steps down. Default 10 s. */
  readonly renewDeadlineMs?: number;
  /** Time between tries (renewals, and acquisition attempts before jitter). Default 2 s. */
  readonly retryPeriodMs?: number;
}

/** Options of {@link LeaderElector}. */
export interface LeaderElectorOptions extends LeaderElectionTiming {
  readonly store: Store;
  /** The store key of the Lease record. */
  readonly key: string;
  /** This candidate's identity, unique among candidates. Default `<hostname>_<uuid>`. */
  readonly identity?: string;
  /** Name and namespace written into the Lease object's metadata. */
  readonly leaseName?: string;
  readonly leaseNamespace?: string;
  readonly clock?: Clock;
  /** Jitter of the acquisition retries and the default identity's uuid. */
  readonly rng?: Rng;
}

/** Options of {@link LeaderElector.close}. */
export interface LeaderElectorCloseOptions {
  /** Give the lease up so another candidate can take it at once (default true). */
  readonly release?: boolean;
  /**
   * Awaited before the release, after `stoppedLeading` was emitted: finish the work the lease
   * guards, so that the next leader never overlaps it.
   */
  readonly beforeRelease?: () => Promise<void>;
}

/** Events of a {@link LeaderElector}. */
export interface LeaderElectorEvents {
  /** This candidate holds the lease: start the guarded work. */
  startedLeading: () => void;
  /** This candidate no longer leads (renewal failed, someone else holds the lease, or closed): stop at once. */
  stoppedLeading: () => void;
  /** A holder other than the last one reported was observed (this candidate included). */
  newLeader: (identity: string) => void;
  /** A store call failed for another reason than a lost compare-and-swap; the election goes on. */
  error: (err: Error) => void;
}

interface Observed {
  readonly spec: LeaseSpec;
  readonly modRevision: number;
  /** Local clock time when this revision was first seen (or written by us). */
  readonly at: number;
}

/**
 * One candidate of a leader election on a Lease record in a {@link Store}. Call
 * {@link LeaderElector.start}; listen to `startedLeading` / `stoppedLeading`; call
 * {@link LeaderElector.close} to stop (it releases the lease by default).
 *
 * Guarantee, given clocks that run at the same rate: a leader stops leading (emits
 * `stoppedLeading`) no later than `renewDeadlineMs` after it started its last successful renewal,
 * while any other candidate waits at least `leaseDurationMs` after it saw that renewal, so two
 * candidates never lead at the same time. Every write is compare-and-swap on the record's
 * revision, so two candidates never both win one round.
 *
 * @throws RangeError from the constructor when the timing is inconsistent (client-go's checks).
 */
export class LeaderElector extends EventEmitter<LeaderElectorEvents> {
  readonly identity: string;
  readonly key: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly rng: Rng;
  private readonly leaseName: string;
  private readonly leaseNamespace: string;
  private observed: Observed | undefined;
  private leading = false;
  private running = false;
  private closed = false;
  private closing: Promise<void> | undefined;
  private reportedLeader = '';
  private attempt: Promise<void> | undefined;
  private retryTimer: TimerHandle | undefined;
  private deadlineTimer: TimerHandle | undefined;

  constructor(options: LeaderElectorOptions) {
    super();
    this.leaseDurationMs = options.leaseDurationMs ?? DEFAULT_LEASE_DURATION_MS;
    this.renewDeadlineMs = options.renewDeadlineMs ?? DEFAULT_RENEW_DEADLINE_MS;
    this.retryPeriodMs = options.retryPeriodMs ?? DEFAULT_RETRY_PERIOD_MS;
    validateTiming(this.leaseDurationMs, this.renewDeadlineMs, this.retryPeriodMs);
    this.store = options.store;
    this.key = options.key;
    this.clock = options.clock ?? systemClock;
    this.rng = options.rng ?? mathRng;
    this.identity = options.identity ?? defaultIdentity(this.rng);
    if (this.identity === '') throw new RangeError('leader election: identity is empty');
    this.leaseName = options.leaseName ?? DEFAULT_LEASE_NAME;
    this.leaseNamespace = options.leaseNamespace ?? DEFAULT_LEASE_NAMESPACE;
  }

  /** Starts campaigning: a first try now, then one every retry period. Idempotent. */
  start(): void {
    if (this.running || this.closed) return;
    this.running = true;
    this.tick();
  }

  /** True while this candidate leads (between `startedLeading` and `stoppedLeading`). */
  isLeader(): boolean {
    return this.leading;
  }

  /** The holder named by the record last observed, or undefined when none (absent or released). */
  leader(): string | undefined {
    return this.observed?.spec.holderIdentity || undefined;
  }

  /** The Lease spec last observed (read or written by this candidate). */
  observedLease(): LeaseSpec | undefined {
    return this.observed?.spec;
  }

  /**
   * Stops campaigning: emits `stoppedLeading` at once if leading, waits for a try in flight, then
   * (unless `release: false`) gives the lease up by writing it without holder, with
   * compare-and-swap, so that a candidate may take it at once. Waits at most `renewDeadlineMs`
   * for `beforeRelease` and the release; a release that cannot be written leaves the lease to
   * expire. Never rejects. Idempotent.
   */
  close(options: LeaderElectorCloseOptions = {}): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.clearTimer('retry');
    this.clearTimer('deadline');
    if (this.leading) this.stepDown();
    const release = options.release ?? true;
    const work = async () => {
      await this.attempt;
      if (!release || this.observed?.spec.holderIdentity !== this.identity) return;
      if (options.beforeRelease) await options.beforeRelease().catch(() => {});
      await this.release();
    };
    this.closing = this.bounded(work(), this.renewDeadlineMs);
    return this.closing;
  }

  // -------------------------------------------------------------------------------------------

  private tick(): void {
    this.retryTimer = undefined;
    if (this.closed || this.attempt) return;
    this.attempt = this.runAttempt();
  }

  private async runAttempt(): Promise<void> {
    const startedAt = this.clock.now();
    let ok = false;
    try {
      ok = await this.tryAcquireOrRenew();
    } catch (e) {
      if (!(e instanceof StoreConflictError)) this.emit('error', e as Error);
    }
    this.attempt = undefined;
    if (this.closed) return;
    // A success that arrives after the deadline cannot be trusted: others may be counting from it.
    const deadline = startedAt + this.renewDeadlineMs;
    const now = this.clock.now();
    this.reportTransition();
    if (ok && now < deadline) {
      this.armDeadline(deadline - now);
      if (!this.leading) {
        this.leading = true;
        this.emit('startedLeading');
      }
    } else if (this.leading && this.leader() !== undefined && this.leader() !== this.identity) {
      // Someone else holds the lease: no point in waiting for the deadline.
      this.stepDown();
    }
    if (this.closed) return;
    const wait = this.leading
      ? this.retryPeriodMs
      : this.retryPeriodMs * (1 + this.rng.next() * LEADER_ELECTION_JITTER_FACTOR);
    this.retryTimer = this.clock.setTimeout(() => this.tick(), wait);
  }

  /** One round, as client-go's tryAcquireOrRenew: true when this candidate holds the lease now. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const desired = (base: LeaseSpec | undefined): LeaseSpec => {
      const now = microTime(this.clock.wallNow());
      const mine = base?.holderIdentity === this.identity;
      return {
        holderIdentity: this.identity,
        leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
        acquireTime: mine ? (base?.acquireTime ?? now) : now,
        renewTime: now,
        leaseTransitions: (base?.leaseTransitions ?? 0) + (base === undefined || mine ? 0 : 1),
      };
    };
    // Fast path: the leader renews against the revision it wrote last.
    const seen = this.observed;
    if (this.leading && seen && seen.spec.holderIdentity === this.identity && this.valid(seen)) {
      const spec = desired(seen.spec);
      try {
        const rev = await this.store.commit([
          { type: 'update', key: this.key, value: this.lease(spec), expectedModRevision: seen.modRevision },
        ]);
        this.observe(spec, rev);
        return true;
      } catch (e) {
        if (!(e instanceof StoreConflictError)) throw e;
        // Someone wrote the record: read it and decide below.
      }
    }
    const entry = await this.store.get(this.key);
    if (entry === undefined) {
      const spec = desired(undefined);
      const rev = await this.store.commit([{ type: 'create', key: this.key, value: this.lease(spec) }]);
      this.observe(spec, rev);
      return true;
    }
    this.observeEntry(entry);
    const current = this.observed as Observed;
    const holder = current.spec.holderIdentity ?? '';
    if (holder !== '' && holder !== this.identity && this.valid(current)) return false;
    const spec = desired(current.spec);
    const rev = await this.store.commit([
      { type: 'update', key: this.key, value: this.lease(spec), expectedModRevision: entry.modRevision },
    ]);
    this.observe(spec, rev);
    return true;
  }

  /** Writes the record without holder, so that candidates need not wait for it to expire. */
  private async release(): Promise<void> {
    const seen = this.observed;
    if (!seen || seen.spec.holderIdentity !== this.identity) return;
    const now = microTime(this.clock.wallNow());
    const spec: LeaseSpec = {
      holderIdentity: '',
      leaseDurationSeconds: RELEASED_LEASE_DURATION_S,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: seen.spec.leaseTransitions ?? 0,
    };
    try {
      const rev = await this.store.commit([
        { type: 'update', key: this.key, value: this.lease(spec), expectedModRevision: seen.modRevision },
      ]);
      this.observe(spec, rev);
    } catch (e) {
      // A conflict means someone else has written the lease since: it is not ours to release.
      if (!(e instanceof StoreConflictError)) this.emit('error', e as Error);
    }
  }

  /** Whether the observed record is still within its lease duration by this candidate's clock. */
  private valid(o: Observed): boolean {
    const durationMs = (o.spec.leaseDurationSeconds ?? 0) * 1000;
    return o.at + durationMs > this.clock.now();
  }

  private observeEntry(entry: StoreEntry): void {
    // A change is a new revision: even a rewrite of identical content renews the lease.
    if (this.observed?.modRevision === entry.modRevision) return;
    this.observe(parseLeaseSpec(entry.value), entry.modRevision);
  }

  private observe(spec: LeaseSpec, modRevision: number): void {
    this.observed = { spec, modRevision, at: this.clock.now() };
  }

  private reportTransition(): void {
    const holder = this.observed?.spec.holderIdentity ?? '';
    if (holder === this.reportedLeader) return;
    this.reportedLeader = holder;
    if (holder !== '') this.emit('newLeader', holder);
  }

  private stepDown(): void {
    this.leading = false;
    this.clearTimer('deadline');
    this.emit('stoppedLeading');
  }

  private armDeadline(ms: number): void {
    this.clearTimer('deadline');
    this.deadlineTimer = this.clock.setTimeout(() => {
      this.deadlineTimer = undefined;
      if (this.leading) this.stepDown();
    }, ms);
  }

  private clearTimer(which: 'retry' | 'deadline'): void {
    const t = which === 'retry' ? this.retryTimer : this.deadlineTimer;
    if (t !== undefined) this.clock.clearTimeout(t);
    if (which === 'retry') this.retryTimer = undefined;
    else this.deadlineTimer = undefined;
  }

  private lease(spec: LeaseSpec): Lease {
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: this.leaseName, namespace: this.leaseNamespace },
      spec,
    };
  }

  /** Resolves when `p` settles or after `ms` on the clock, whichever comes first; never rejects. */
  private bounded(p: Promise<void>, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = this.clock.setTimeout(resolve, ms);
      p.catch(() => {}).then(() => {
        this.clock.clearTimeout(timer);
        resolve();
      });
    });
  }
}

/** client-go's checks of an election's timing (NewLeaderElector), with its messages. */
function validateTiming(leaseDurationMs: number, renewDeadlineMs: number, retryPeriodMs: number): void {
  const positive = (v: number) => Number.isFinite(v) && v > 0;
  if (!positive(leaseDurationMs)) throw new RangeError('leaseDuration must be greater than zero');
  if (!positive(renewDeadlineMs)) throw new RangeError('renewDeadline must be greater than zero');
  if (!positive(retryPeriodMs)) throw new RangeError('retryPeriod must be greater than zero');
  if (leaseDurationMs <= renewDeadlineMs)
    throw new RangeError('leaseDuration must be greater than renewDeadline');
  if (renewDeadlineMs <= LEADER_ELECTION_JITTER_FACTOR * retryPeriodMs)
    throw new RangeError('renewDeadline must be greater than retryPeriod*JitterFactor');
}

/** kube-controller-manager's identity: host name, underscore, a fresh uuid. */
function defaultIdentity(rng: Rng): string {
  return `${hostname()}_${newUID(rng)}`;
}

/** A `metav1.MicroTime`: RFC 3339 with six fractional digits, UTC. */
function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** The spec of a stored Lease; anything unreadable counts as released (holder none, expired). */
function parseLeaseSpec(value: unknown): LeaseSpec {
  const spec = (value as { spec?: unknown } | undefined)?.spec;
  if (typeof spec !== 'object' || spec === null) return {};
  const s = spec as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const out: { -readonly [K in keyof LeaseSpec]: LeaseSpec[K] } = {};
  const holder = str(s['holderIdentity']);
  if (holder !== undefined) out.holderIdentity = holder;
  const duration = num(s['leaseDurationSeconds']);
  if (duration !== undefined) out.leaseDurationSeconds = duration;
  const acquire = str(s['acquireTime']);
  if (acquire !== undefined) out.acquireTime = acquire;
  const renew = str(s['renewTime']);
  if (renew !== undefined) out.renewTime = renew;
  const transitions = num(s['leaseTransitions']);
  if (transitions !== undefined) out.leaseTransitions = transitions;
  return out;
}
