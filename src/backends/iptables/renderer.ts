/**
 * The stateful side of rendering: like kube-proxy, the first sync (and any sync after a failed
 * apply, a changed option set, or an hour without one) is full; later syncs rewrite only the
 * chains of services that changed, flush-and-delete chains no longer used, and leave every
 * other service's chains as the kernel already has them.
 *
 * @module
 */
import type { Clock } from '../../core/clock';
import { systemClock } from '../../core/clock';
import type { RoutingSnapshot, SnapshotUpdate } from '../../core/snapshot';
import { FULL_SYNC_PERIOD_MS } from './constants';
import { type IptablesRenderOptions, type ResolvedOptions, resolveOptions } from './options';
import { type IptablesRules, RenderMemo, renderWith } from './render';

/** Services (`ns/name`) an update touches: those of its port changes and of changed objects. */
export function changedServicesOf(update: SnapshotUpdate): Set<string> {
  const out = new Set<string>(update.changedServices);
  for (const ch of update.changes) {
    const info = (ch.current ?? ch.previous)?.info;
    if (info) out.add(`${info.name.namespace}/${info.name.name}`);
  }
  return out;
}

/**
 * Keeps what kube-proxy keeps between syncs: which per-service chains are in the kernel and
 * whether the next sync must be full. Call {@link IptablesRenderer.render}, apply the payload,
 * then report the result with {@link IptablesRenderer.applied} or {@link IptablesRenderer.failed}.
 */
export class IptablesRenderer {
  private readonly options: ResolvedOptions;
  private readonly clock: Clock;
  private readonly memo = new RenderMemo();
  private needFullSync = true;
  private lastFullSyncAt = Number.NEGATIVE_INFINITY;
  private chainsInKernel: ReadonlyMap<string, readonly string[]> = new Map();
  private pendingChanged = new Set<string>();
  private pending: IptablesRules | undefined;

  constructor(options: IptablesRenderOptions = {}, clock: Clock = systemClock) {
    this.options = resolveOptions(options);
    this.clock = clock;
  }

  /** Per-service nat chains believed present in the kernel after the last successful apply. */
  get serviceChains(): ReadonlySet<string> {
    return new Set([...this.chainsInKernel.values()].flat());
  }

  /** Forces the next render to be a full sync (e.g. after the tables were flushed by someone else). */
  requestFullSync(): void {
    this.needFullSync = true;
  }

  /**
   * Records the changes of `update` for the next render (several updates can be folded into
   * one render when applies are batched).
   */
  note(update: SnapshotUpdate): void {
    if (update.previous === undefined) this.needFullSync = true;
    for (const s of changedServicesOf(update)) this.pendingChanged.add(s);
  }

  /**
   * Renders the rules for `snapshot`: full when required, else partial over the services noted
   * since the last successful apply.
   */
  render(snapshot: RoutingSnapshot): IptablesRules {
    const full = this.needFullSync || this.clock.now() - this.lastFullSyncAt > FULL_SYNC_PERIOD_MS;
    this.pending = renderWith(snapshot, this.options, {
      full,
      changedServices: this.pendingChanged,
      kernelChains: this.chainsInKernel,
      memo: this.memo,
    });
    return this.pending;
  }

  /** The last rendered rules were restored successfully. */
  applied(): void {
    const done = this.pending;
    if (!done) return;
    this.chainsInKernel = done.chainsByPort;
    this.pendingChanged = new Set();
    this.needFullSync = false;
    if (done.full) this.lastFullSyncAt = this.clock.now();
    this.pending = undefined;
  }

  /** The last rendered rules were rejected: the kernel kept its old rules; the next sync is full. */
  failed(): void {
    this.needFullSync = true;
    this.pending = undefined;
  }
}
