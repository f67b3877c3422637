/**
 * The stateful side of rendering: like kube-proxy, the first sync (and any sync after a failed
 * apply or an hour without one) is full; later syncs rewrite only the chains of services that
 * changed, flush-and-delete chains no longer used, and leave every other service's chains as the
 * kernel already has them. The top-level chains are rewritten whole every time, as kube-proxy
 * does, but from per-port pieces kept between syncs (see `pieces.ts`), so that a sync costs in
 * proportion to what changed.
 *
 * @module
 */
import type { Clock } from '../../core/clock';
import { systemClock } from '../../core/clock';
import type { RoutingSnapshot, SnapshotUpdate } from '../../core/snapshot';
import { isServiceChainName } from './chain-names';
import { FULL_SYNC_PERIOD_MS } from './constants';
import { type IptablesRenderOptions, type ResolvedOptions, resolveOptions } from './options';
import { ServicePortPieces } from './pieces';
import { PortChains } from './port-chains';
import { assembleRules, chainsOfPieces, type IptablesRules, staleChains } from './render';

/** Services (`ns/name`) an update touches: those of its port changes and of changed objects. */
export function changedServicesOf(update: SnapshotUpdate): Set<string> {
  const out = new Set<string>(update.changedServices);
  for (const ch of update.changes) {
    const info = (ch.current ?? ch.previous)?.info;
    if (info) out.add(`${info.name.namespace}/${info.name.name}`);
  }
  return out;
}

/** Port of a chain found in the kernel but not made by this renderer. */
const UNKNOWN_PORT = '';

/** A rendered sync waiting to be reported applied or failed. */
interface PendingSync {
  readonly rules: IptablesRules;
  /** Chains in the kernel once applied. */
  readonly chains: PortChains;
  /** Port keys of `chains` for every service (full sync) or for the changed ones (partial). */
  readonly portsByService: ReadonlyMap<string, ReadonlySet<string>>;
  /** Notes up to this generation are covered by the sync. */
  readonly generation: number;
  /** Unused chains left in the kernel once applied (large-cluster mode), by chain, with their port. */
  readonly leftover: ReadonlyMap<string, string>;
}

/**
 * Keeps what kube-proxy keeps between syncs: which per-service chains are in the kernel and
 * whether the next sync must be full, plus the rendered pieces of every service port. Call
 * {@link IptablesRenderer.note} with each snapshot update, {@link IptablesRenderer.render},
 * apply the payload, then report the result with {@link IptablesRenderer.applied} or
 * {@link IptablesRenderer.failed}.
 *
 * A render costs in proportion to the changes noted since the last render when the noted updates
 * chain (each `previous` is the `current` before it) from the last rendered snapshot to the one
 * being rendered; otherwise every port is compared by identity of its (immutable) entry, which
 * still re-renders only the ports that changed.
 */
export class IptablesRenderer {
  private readonly options: ResolvedOptions;
  private readonly clock: Clock;
  private readonly pieces: ServicePortPieces;
  private needFullSync = true;
  private lastFullSyncAt = Number.NEGATIVE_INFINITY;
  /** Per-service chains in the kernel after the last successful apply. */
  private kernel = PortChains.EMPTY;
  /** Port keys of `kernel` by `ns/name`. */
  private kernelPorts = new Map<string, ReadonlySet<string>>();
  /**
   * Chains no longer used but still in the kernel, with the port they belonged to: in
   * large-cluster mode kube-proxy deletes them only once per sync period.
   */
  private leftover: ReadonlyMap<string, string> = new Map();
  private lastCleanupAt = Number.NEGATIVE_INFINITY;
  /** Services noted since their chains were last applied, with the generation of the last note. */
  private readonly pendingChanged = new Map<string, number>();
  private generation = 0;
  /** The snapshot the pieces were last synced to. */
  private synced: RoutingSnapshot | undefined;
  /** The newest snapshot noted since then. */
  private noted: RoutingSnapshot | undefined;
  /** Whether the updates noted since the last render chain on from `synced`. */
  private notesChain = true;
  private readonly notedPorts = new Set<string>();
  private readonly notedServices = new Set<string>();
  private pending: PendingSync | undefined;

  constructor(options: IptablesRenderOptions = {}, clock: Clock = systemClock) {
    this.options = resolveOptions(options);
    this.clock = clock;
    this.pieces = new ServicePortPieces(this.options);
  }

  /**
   * Per-service nat chains believed present in the kernel after the last successful apply: those
   * the rules use, and in large-cluster mode those left unused until the next clean-up.
   */
  get serviceChains(): ReadonlySet<string> {
    const out = new Set<string>(this.leftover.keys());
    for (const [, chains] of this.kernel.entries()) for (const c of chains) out.add(c);
    return out;
  }

  /** Whether the next {@link IptablesRenderer.render} will be a full sync. */
  get nextSyncIsFull(): boolean {
    return this.needFullSync || this.clock.now() - this.lastFullSyncAt > FULL_SYNC_PERIOD_MS;
  }

  /**
   * Tells the renderer which nat chains the kernel has (e.g. from `iptables-save -t nat`), as
   * kube-proxy learns them: per-service chains it does not know of (left by an earlier run) are
   * deleted by the next clean-up unless the rules use them again. Other chains are ignored.
   */
  adoptKernelChains(chains: Iterable<string>): void {
    const known = this.serviceChains;
    const leftover = new Map(this.leftover);
    for (const c of chains) {
      if (isServiceChainName(c) && !known.has(c)) leftover.set(c, UNKNOWN_PORT);
    }
    this.leftover = leftover;
  }

  /** Forces the next render to be a full sync (e.g. after the tables were flushed by someone else). */
  requestFullSync(): void {
    this.needFullSync = true;
  }

  /**
   * Records the changes of `update` for the next render (several updates can be folded into
   * one render when applies are batched). `rewrite` names the services whose own chains the next
   * partial sync must write; by default every service the update names. Passing
   * `kubeProxyChangedServices(update, family)` writes exactly what kube-proxy writes (it ignores,
   * for instance, a Service's label changes and the other family's endpoints). A service left
   * out must render the same rules as before, or the kernel keeps stale ones.
   */
  note(update: SnapshotUpdate, rewrite?: Iterable<string>): void {
    if (update.previous === undefined) this.needFullSync = true;
    if (update.previous !== (this.noted ?? this.synced)) this.notesChain = false;
    this.noted = update.current;
    this.generation++;
    for (const ch of update.changes) this.notedPorts.add(ch.key);
    const services = changedServicesOf(update);
    for (const s of services) this.notedServices.add(s);
    for (const s of rewrite ?? services) this.pendingChanged.set(s, this.generation);
  }

  /**
   * Renders the rules for `snapshot`: full when required, else partial over the services noted
   * since the last successful apply.
   */
  render(snapshot: RoutingSnapshot): IptablesRules {
    this.syncPieces(snapshot);
    const now = this.clock.now();
    const full = this.nextSyncIsFull;
    const pieces = this.pieces;
    /** Chains this sync stops using, with their port. */
    const unused = new Map<string, string>();
    let chains: PortChains;
    const portsByService = new Map<string, ReadonlySet<string>>();
    if (full) {
      pieces.indexServices();
      chains = chainsOfPieces(pieces);
      for (const [key, old] of this.kernel.entries()) {
        for (const c of staleChains(old, chains.get(key))) unused.set(c, key);
      }
      for (const p of pieces.allPieces()) {
        let keys = portsByService.get(p.service) as Set<string> | undefined;
        if (!keys) {
          keys = new Set();
          portsByService.set(p.service, keys);
        }
        keys.add(p.key);
      }
    } else {
      // Only a changed service's ports can have gained or lost chains since the last apply.
      const changes = new Map<string, readonly string[] | undefined>();
      for (const service of this.pendingChanged.keys()) {
        const present = new Set<string>();
        for (const key of this.kernelPorts.get(service) ?? []) changes.set(key, undefined);
        for (const key of pieces.portsOf(service) ?? []) {
          const active = pieces.piece(key)?.render.active;
          changes.set(key, active);
          if (active !== undefined) present.add(key);
        }
        portsByService.set(service, present);
      }
      for (const [key, active] of changes) {
        const old = this.kernel.get(key);
        if (old !== undefined) for (const c of staleChains(old, active)) unused.set(c, key);
      }
      chains = this.kernel.with(changes);
    }
    // kube-proxy deletes unused chains on every sync, except in large-cluster mode where it
    // does so at most once per sync period (its iptables-save of a large table is slow).
    const cleanup = !pieces.largeClusterMode || now - this.lastCleanupAt > this.options.syncPeriodMs;
    const deletedChains: string[] = [];
    const leftover = new Map<string, string>();
    let everyActive: Set<string> | undefined;
    for (const [chain, key] of this.leftover) {
      // A chain can come back into use (the same endpoint again) before it was deleted; the
      // port of an adopted chain is unknown, so all of them are looked at (rare: after a restart).
      if (key === UNKNOWN_PORT) {
        if (!everyActive) {
          everyActive = new Set();
          for (const [, list] of chains.entries()) for (const c of list) everyActive.add(c);
        }
        if (!everyActive.has(chain)) unused.set(chain, key);
      } else if (!chains.get(key)?.includes(chain)) {
        unused.set(chain, key);
      }
    }
    if (cleanup) {
      deletedChains.push(...unused.keys());
      this.lastCleanupAt = now;
    } else {
      for (const [chain, key] of unused) leftover.set(chain, key);
    }
    deletedChains.sort();
    const rules = assembleRules(pieces, this.options, {
      full,
      changedServices: new Set(this.pendingChanged.keys()),
      deletedChains,
      chains: () => chains,
    });
    this.pending = { rules, chains, portsByService, generation: this.generation, leftover };
    return rules;
  }

  /** Brings the pieces to `snapshot`, from the noted changes when they lead to it. */
  private syncPieces(snapshot: RoutingSnapshot): void {
    let candidates: Set<string> | undefined;
    if (this.synced !== undefined && this.notesChain && (this.noted ?? this.synced) === snapshot) {
      candidates = this.notedPorts;
      for (const s of this.notedServices) for (const key of this.pieces.portsOf(s) ?? []) candidates.add(key);
    }
    this.pieces.sync(snapshot, candidates);
    this.synced = snapshot;
    this.noted = undefined;
    this.notesChain = true;
    this.notedPorts.clear();
    this.notedServices.clear();
  }

  /** The last rendered rules were restored successfully. */
  applied(): void {
    const done = this.pending;
    if (!done) return;
    this.pending = undefined;
    this.kernel = done.chains;
    this.leftover = done.leftover;
    if (done.rules.full) {
      this.kernelPorts = new Map(done.portsByService);
      this.lastFullSyncAt = this.clock.now();
    } else {
      for (const [service, keys] of done.portsByService) {
        if (keys.size === 0) this.kernelPorts.delete(service);
        else this.kernelPorts.set(service, keys);
      }
    }
    // Services noted after the render are still to be written by the next sync.
    for (const [service, generation] of this.pendingChanged) {
      if (generation <= done.generation) this.pendingChanged.delete(service);
    }
    this.needFullSync = false;
  }

  /** The last rendered rules were rejected: the kernel kept its old rules; the next sync is full. */
  failed(): void {
    this.needFullSync = true;
    this.pending = undefined;
  }
}
