/**
 * The allocator repair pass (the API server's cluster IP and node port repair loops): finds
 * reservation keys that no object holds and releases them once they have looked leaked for
 * several passes, and gives every service's cluster IPs and node ports a reservation when one is
 * missing. It works through the {@link Store} interface only, so it runs on any store.
 *
 * Reservations are written in the same transaction as their object, so leaks do not come from
 * normal operation; they come from objects removed or restored behind the registry's back
 * (`etcdctl del`, a partial restore) or from data written by other tools.
 *
 * @module
 */
import { type Clock, systemClock, type TimerHandle } from '../../core/clock';
import type { Kind, KubeObject, Pod, Service } from '../../core/types';
import { canonicalIP } from '../../net';
import { KeyLayout, type Reservation } from '../../registry/keys';
import { heldReservations } from '../../registry/service-allocation';
import { type Store, StoreConflictError, type StoreEntry } from '../../registry/store';

/** Kubernetes' repair loop interval (the API server's `IPRepairInterval`, 3 minutes). */
export const DEFAULT_REPAIR_INTERVAL_MS = 3 * 60_000;
/**
 * How many consecutive passes must see a reservation leaked before it is released (Kubernetes'
 * `numRepairsBeforeLeakCleanup`), so that a write in flight is never mistaken for a leak.
 */
export const NUM_REPAIRS_BEFORE_LEAK_CLEANUP = 3;

/** Options of {@link AllocationRepair}. */
export interface AllocationRepairOptions {
  readonly store: Store;
  /** The registry's key prefix (default `/registry`). */
  readonly keyPrefix?: string;
  /** Time between passes of {@link AllocationRepair.start} (default 3 minutes). */
  readonly intervalMs?: number;
  /** Passes a leak must survive before release (default 3). */
  readonly passesBeforeCleanup?: number;
  readonly clock?: Clock;
  /** Receives each pass's report (and failed passes' errors). */
  readonly onReport?: (report: RepairReport) => void;
  /**
   * Receives the error of a pass that failed as a whole (store unreachable, conflict); the
   * schedule continues and the next pass retries. Without it such errors are dropped.
   */
  readonly onError?: (error: Error) => void;
}

/** A reservation held by more than one object. */
export interface DuplicateAllocation {
  readonly key: string;
  /** `Kind/namespace/name` of the holder recorded in the key. */
  readonly holder: string;
  /** `Kind/namespace/name` of another object that carries the same value. */
  readonly other: string;
}

/** What one pass found and did. */
export interface RepairReport {
  /** Store revision the pass looked at. */
  readonly revision: number;
  /** Reservation keys deleted because no object held them. */
  readonly released: string[];
  /** Reservation keys seen leaked but still within their grace passes. */
  readonly leaking: string[];
  /** Reservation keys created for values that objects carried without one. */
  readonly created: string[];
  /** Values carried by an object while reserved by another (needs a human). */
  readonly duplicates: DuplicateAllocation[];
}

function isReservation(v: unknown): v is Reservation {
  const r = v as Reservation | undefined;
  return (
    typeof r === 'object' &&
    r !== null &&
    r.kind === 'Reservation' &&
    typeof r.value === 'string' &&
    typeof r.owner === 'object'
  );
}

function podIPs(pod: Pod): string[] {
  const list = pod.status?.podIPs?.map((p) => p.ip) ?? [];
  const ips = list.length ? list : pod.status?.podIP ? [pod.status.podIP] : [];
  return ips.map((ip) => canonicalIP(ip) ?? ip);
}

function objectName(kind: Kind, namespace: string, name: string): string {
  return namespace ? `${kind}/${namespace}/${name}` : `${kind}/${name}`;
}

/**
 * The repair loop. {@link runOnce} is one pass; {@link start} runs one now and then one every
 * interval. Releases are compare-and-swap on the reservation's revision, so a reservation that
 * changed since the pass read it is left alone.
 */
export class AllocationRepair {
  private readonly store: Store;
  private readonly keys: KeyLayout;
  private readonly intervalMs: number;
  private readonly passes: number;
  private readonly clock: Clock;
  private readonly onReport: AllocationRepairOptions['onReport'];
  private readonly onError: AllocationRepairOptions['onError'];
  /** Leak sightings per reservation key, valid for one modRevision of the key. */
  private readonly leaks = new Map<string, { modRevision: number; count: number }>();
  private timer: TimerHandle | undefined;
  private running: Promise<RepairReport> | undefined;
  private stopped = true;

  constructor(options: AllocationRepairOptions) {
    this.store = options.store;
    this.keys = new KeyLayout(options.keyPrefix);
    this.intervalMs = options.intervalMs ?? DEFAULT_REPAIR_INTERVAL_MS;
    this.passes = Math.max(1, options.passesBeforeCleanup ?? NUM_REPAIRS_BEFORE_LEAK_CLEANUP);
    this.clock = options.clock ?? systemClock;
    this.onReport = options.onReport;
    this.onError = options.onError;
  }

  /** Runs passes now and every interval until {@link stop}. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.tick();
  }

  /**
   * Cancels the next scheduled pass; a pass already running completes and still reports.
   * Idempotent; {@link start} resumes.
   */
  stop(): void {
    this.stopped = true;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One pass (passes never overlap: a call during a pass gets that pass's report). */
  runOnce(): Promise<RepairReport> {
    if (!this.running) {
      this.running = this.pass().finally(() => {
        this.running = undefined;
      });
    }
    return this.running;
  }

  private tick(): void {
    this.runOnce().then(
      (report) => this.onReport?.(report),
      (e: unknown) => this.onError?.(e as Error),
    );
    if (!this.stopped)
      this.timer = this.clock.setTimeout(() => {
        this.timer = undefined;
        if (!this.stopped) this.tick();
      }, this.intervalMs);
  }

  private async pass(): Promise<RepairReport> {
    const { entries, revision } = await this.store.list(this.keys.root());
    const objects = new Map<string, StoreEntry>();
    const reservations: { entry: StoreEntry; value: Reservation }[] = [];
    for (const e of entries) {
      const parsed = this.keys.parse(e.key);
      if (parsed?.type === 'object') objects.set(e.key, e);
      else if (parsed?.type === 'reservation' && isReservation(e.value))
        reservations.push({ entry: e, value: e.value });
    }
    const report: RepairReport = { revision, released: [], leaking: [], created: [], duplicates: [] };

    // Leaks: a reservation whose owner is gone, was re-created (other uid), or no longer carries it.
    const live = new Set<string>();
    for (const { entry, value } of reservations) {
      live.add(entry.key);
      if (this.held(value, objects)) {
        this.leaks.delete(entry.key);
        continue;
      }
      const seen = this.leaks.get(entry.key);
      const count = seen && seen.modRevision === entry.modRevision ? seen.count + 1 : 1;
      if (count < this.passes) {
        this.leaks.set(entry.key, { modRevision: entry.modRevision, count });
        report.leaking.push(entry.key);
        continue;
      }
      this.leaks.delete(entry.key);
      try {
        await this.store.commit([{ type: 'delete', key: entry.key, expectedModRevision: entry.modRevision }]);
        report.released.push(entry.key);
      } catch (e) {
        if (!(e instanceof StoreConflictError)) throw e;
      }
    }
    for (const k of [...this.leaks.keys()]) if (!live.has(k)) this.leaks.delete(k);

    // Missing reservations: every value a service carries must be reserved, by that service.
    const byKey = new Map(reservations.map((r) => [r.entry.key, r.value]));
    for (const entry of objects.values()) {
      const parsed = this.keys.parse(entry.key);
      if (parsed?.type !== 'object' || parsed.kind !== 'Service') continue;
      const svc = entry.value as Service;
      const owner = {
        kind: 'Service' as const,
        namespace: parsed.namespace,
        name: parsed.name,
        uid: svc.metadata?.uid ?? '',
      };
      for (const ref of heldReservations(svc)) {
        const key = this.keys.reservationKey(ref.type, ref.value);
        const held = byKey.get(key);
        if (held) {
          const o = held.owner;
          if (o.kind !== 'Service' || o.namespace !== owner.namespace || o.name !== owner.name)
            report.duplicates.push({
              key,
              holder: objectName(o.kind, o.namespace, o.name),
              other: objectName('Service', owner.namespace, owner.name),
            });
          continue;
        }
        const value: Reservation = { kind: 'Reservation', type: ref.type, value: ref.value, owner };
        try {
          await this.store.commit([{ type: 'create', key, value }]);
          report.created.push(key);
          byKey.set(key, value);
        } catch (e) {
          if (!(e instanceof StoreConflictError)) throw e;
        }
      }
    }
    return report;
  }

  /** Whether the reservation's owner exists (same uid) and still carries the reserved value. */
  private held(r: Reservation, objects: ReadonlyMap<string, StoreEntry>): boolean {
    const o = r.owner;
    const entry = objects.get(this.keys.objectKey(o.kind, o.namespace, o.name));
    if (!entry) return false;
    const obj = entry.value as KubeObject;
    const uid = obj.metadata?.uid;
    if (o.uid && uid && o.uid !== uid) return false;
    if (o.kind === 'Service' && (r.type === 'serviceIP' || r.type === 'nodePort'))
      return heldReservations(obj as Service).some((h) => h.type === r.type && h.value === r.value);
    if (o.kind === 'Pod' && r.type === 'podIP') return podIPs(obj as Pod).includes(r.value);
    return true;
  }
}
