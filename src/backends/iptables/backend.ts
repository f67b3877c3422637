/**
 * The side-effect half of the iptables backend: follows snapshot updates, renders with
 * {@link IptablesRenderer} and feeds the result to `iptables-restore --noflush` (or
 * `ip6tables-restore`), like kube-proxy's sync loop:
 *
 * - runs only when something changed, at most once per `minSyncIntervalMs` (bursts fold into
 *   one sync), on an injectable {@link Clock};
 * - ensures the jump rules from the built-in chains before each full sync (check, then insert);
 * - is never half-applied: the restore is atomic per table; on failure the previous rules stay,
 *   an `error` event is emitted, the next sync is full and is retried after `retryIntervalMs`;
 * - follows the node's topology labels ({@link IptablesBackend.setNodeLabels}): a change of the
 *   zone label re-renders every service in a full sync, as kube-proxy's does;
 * - {@link IptablesBackend.cleanup} removes the jumps and every chain it owns.
 *
 * @module
 */
import EventEmitter from 'eventemitter3';
import type { Clock, TimerHandle } from '../../core/clock';
import { systemClock } from '../../core/clock';
import type { RoutingSnapshot, SnapshotUpdate } from '../../core/snapshot';
import type { Backend, SnapshotSource } from '../backend';
import { isServiceChainName } from './chain-names';
import {
  BASE_CHAIN_JUMPS,
  baseJumpRuleArgs,
  DEFAULT_MIN_SYNC_PERIOD_MS,
  DEFAULT_SYNC_PERIOD_MS,
  KUBE_EXTERNAL_SERVICES,
  KUBE_FIREWALL,
  KUBE_FORWARD,
  KUBE_MARK_MASQ,
  KUBE_NODEPORTS,
  KUBE_POSTROUTING,
  KUBE_PROXY_FIREWALL,
  KUBE_SERVICES,
} from './constants';
import { kubeProxyChangedServices } from './family-changes';
import type { IpFamily } from './ip';
import { type IptablesRenderOptions, sameLabels, topologyLabelsOf } from './options';
import type { IptablesRules } from './render';
import { IptablesRenderer } from './renderer';
import { type CommandRunner, execRunner } from './runner';

/**
 * Options of {@link IptablesBackend}: renderer options plus how and when to apply. `nodeLabels`
 * are the node's labels at start; {@link IptablesBackend.setNodeLabels} replaces them.
 */
export interface IptablesBackendOptions extends IptablesRenderOptions {
  /** Runs the iptables binaries. Default: `execFile` on the host. */
  readonly runner?: CommandRunner;
  readonly clock?: Clock;
  /** kube-proxy's `--iptables-min-sync-period`. Default 1 s. */
  readonly minSyncIntervalMs?: number;
  /** Delay before retrying after a failed restore (kube-proxy's `--iptables-sync-period`). Default 30 s. */
  readonly retryIntervalMs?: number;
  /** `-w` seconds passed to the binaries to wait for the xtables lock. Default 5. */
  readonly lockWaitSeconds?: number;
}

/** Emitted after every restore attempt. */
export interface IptablesSyncEvent {
  readonly full: boolean;
  readonly rules: IptablesRules;
  readonly durationMs: number;
}

/** Events of {@link IptablesBackend}. */
export interface IptablesBackendEvents {
  /** A sync reached the kernel: every rule of the restore input was applied. */
  synced: (event: IptablesSyncEvent) => void;
  /**
   * A sync failed and the kernel kept its previous rules; a retry is scheduled. Emitted only when
   * a listener exists, so an unhandled failure never throws from the emitter.
   */
  error: (error: Error) => void;
}

/** A restore or ensure step failed; the kernel kept its previous rules. */
export class IptablesApplyError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'IptablesApplyError';
  }
}

const KUBE_NAT_CHAINS = [KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ];
const KUBE_FILTER_CHAINS = [
  KUBE_SERVICES,
  KUBE_EXTERNAL_SERVICES,
  KUBE_FORWARD,
  KUBE_NODEPORTS,
  KUBE_PROXY_FIREWALL,
  KUBE_FIREWALL,
];

/** Applies kube-proxy's rules for the snapshots it is given. */
export class IptablesBackend extends EventEmitter<IptablesBackendEvents> implements Backend {
  readonly name = 'iptables';
  /** Replaced when the node's topology labels change (they shape every service's rules). */
  private renderer: IptablesRenderer;
  private readonly renderOptions: IptablesRenderOptions;
  private topologyLabels: Readonly<Record<string, string>>;
  private readonly run: CommandRunner;
  private readonly clock: Clock;
  private readonly minIntervalMs: number;
  private readonly retryMs: number;
  private readonly wait: string[];
  private readonly binaries: { readonly iptables: string; readonly save: string; readonly restore: string };
  private readonly family: IpFamily;
  private latest: RoutingSnapshot | undefined;
  private dirty = false;
  private lastAttemptAt = Number.NEGATIVE_INFINITY;
  private timer: TimerHandle | undefined;
  private running: Promise<void> | undefined;
  private closed = false;
  private detach: (() => void) | undefined;
  private waiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];

  constructor(options: IptablesBackendOptions = {}) {
    super();
    this.clock = options.clock ?? systemClock;
    this.renderOptions = options;
    this.topologyLabels = topologyLabelsOf(options.nodeLabels);
    this.renderer = new IptablesRenderer(options, this.clock);
    this.run = options.runner ?? execRunner();
    this.minIntervalMs = options.minSyncIntervalMs ?? DEFAULT_MIN_SYNC_PERIOD_MS;
    this.retryMs = options.retryIntervalMs ?? DEFAULT_SYNC_PERIOD_MS;
    this.wait = ['-w', String(options.lockWaitSeconds ?? 5)];
    const v6 = options.ipFamily === 'IPv6';
    this.family = v6 ? 'IPv6' : 'IPv4';
    this.binaries = {
      iptables: v6 ? 'ip6tables' : 'iptables',
      save: v6 ? 'ip6tables-save' : 'iptables-save',
      restore: v6 ? 'ip6tables-restore' : 'iptables-restore',
    };
  }

  /** Follows `source`: syncs its current snapshot, then every update. Returns a detach function. */
  follow(source: SnapshotSource): () => void {
    const onUpdate = (u: SnapshotUpdate): void => {
      void this.sync(u).catch(() => {});
    };
    source.on('snapshot', onUpdate);
    void this.sync({
      previous: undefined,
      current: source.snapshot(),
      changes: [],
      changedServices: new Set(),
    }).catch(() => {});
    this.detach = () => source.off('snapshot', onUpdate);
    return this.detach;
  }

  /**
   * Queues `update` and resolves once a restore covering it has succeeded; rejects with the
   * error of a failed restore (the backend keeps retrying on its own).
   */
  sync(update: SnapshotUpdate): Promise<void> {
    if (this.closed) return Promise.reject(new Error('iptables backend is closed'));
    // Only the services kube-proxy's change trackers would report get their chains rewritten.
    this.renderer.note(update, kubeProxyChangedServices(update, this.family));
    this.latest = update.current;
    this.dirty = true;
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.schedule(this.minIntervalMs);
    return done;
  }

  /**
   * Tells the backend the current labels of its node (`undefined` or `{}` when the Node object is
   * gone). As kube-proxy's, only the zone label counts (see `TOPOLOGY_LABEL_KEYS`): when it
   * changed, every service is rendered again for the new zone and the next sync is full (the
   * chains the kernel holds are carried over, so those no longer used are deleted); otherwise
   * nothing happens. The sync is scheduled like any other (at most once per
   * `minSyncIntervalMs`), and only once a snapshot has been given.
   *
   * @returns whether the labels changed (a full sync follows).
   */
  setNodeLabels(labels: Readonly<Record<string, string>> | undefined): boolean {
    const next = topologyLabelsOf(labels);
    if (sameLabels(next, this.topologyLabels)) return false;
    this.topologyLabels = next;
    const previous = this.renderer;
    // Every piece of every service depends on the zone: a fresh renderer renders them all anew,
    // and starts with a full sync, as kube-proxy's proxier after OnTopologyChange.
    this.renderer = new IptablesRenderer({ ...this.renderOptions, nodeLabels: next }, this.clock);
    this.renderer.adoptKernelChains(previous.serviceChains);
    if (this.latest !== undefined && !this.closed) {
      this.dirty = true;
      this.schedule(this.minIntervalMs);
    }
    return true;
  }

  /** Runs a sync now regardless of the minimum interval (e.g. after an external flush). */
  async flush(full = false): Promise<void> {
    if (full) this.renderer.requestFullSync();
    if (this.latest === undefined) return;
    this.dirty = true;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.runOnce();
  }

  private schedule(intervalMs: number): void {
    if (this.timer || this.running || this.closed) return;
    const delay = Math.max(0, this.lastAttemptAt + intervalMs - this.clock.now());
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      void this.runOnce();
    }, delay);
  }

  private runOnce(): Promise<void> {
    if (this.running) return this.running;
    this.running = this.doSync().finally(() => {
      this.running = undefined;
      if (this.dirty && !this.closed) this.schedule(this.minIntervalMs);
    });
    return this.running;
  }

  private async doSync(): Promise<void> {
    const snapshot = this.latest;
    if (!snapshot || !this.dirty) return;
    this.dirty = false;
    const waiters = this.waiters;
    this.waiters = [];
    this.lastAttemptAt = this.clock.now();
    const started = this.clock.now();
    let rules: IptablesRules | undefined;
    // setNodeLabels may replace the renderer while this sync awaits the kernel.
    const renderer = this.renderer;
    try {
      if (renderer.nextSyncIsFull) await this.adoptKernelChains(renderer);
      rules = renderer.render(snapshot);
      if (rules.full) await this.ensureBaseJumps();
      const res = await this.run(
        this.binaries.restore,
        [...this.wait, '--noflush', '--counters'],
        rules.payload,
      );
      if (res.code !== 0) {
        throw new IptablesApplyError(
          `${this.binaries.restore} failed (exit ${res.code}): ${res.stderr.trim()}`,
          res.stderr,
        );
      }
      renderer.applied();
      // Chains this sync created must be known to a renderer that replaced it meanwhile.
      if (renderer !== this.renderer) this.renderer.adoptKernelChains(renderer.serviceChains);
      this.emit('synced', { full: rules.full, rules, durationMs: this.clock.now() - started });
      for (const w of waiters) w.resolve();
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      renderer.failed();
      this.dirty = true;
      if (this.listenerCount('error') > 0) this.emit('error', err);
      for (const w of waiters) w.reject(err);
      if (!this.closed && !this.timer) {
        const delay = this.retryMs;
        this.timer = this.clock.setTimeout(() => {
          this.timer = undefined;
          void this.runOnce();
        }, delay);
      }
    }
  }

  /**
   * Lists the nat table's chains, as kube-proxy does before deleting unused ones, so that a full
   * sync also deletes per-service chains an earlier run left behind. Only before full syncs: the
   * renderer knows every chain it made since. A failed listing is not an error (kube-proxy then
   * only skips the deletion).
   */
  private async adoptKernelChains(renderer: IptablesRenderer): Promise<void> {
    const saved = await this.run(this.binaries.save, ['-t', 'nat']);
    if (saved.code !== 0) return;
    const chains: string[] = [];
    for (const line of saved.stdout.split('\n')) {
      if (line.startsWith(':')) chains.push(line.slice(1).split(' ')[0]!);
    }
    renderer.adoptKernelChains(chains);
  }

  /** kube-proxy's EnsureChain + EnsureRule(Prepend) for every base-chain jump. */
  private async ensureBaseJumps(): Promise<void> {
    const ipt = this.binaries.iptables;
    for (const j of BASE_CHAIN_JUMPS) {
      const created = await this.run(ipt, [...this.wait, '-t', j.table, '-N', j.to]);
      if (created.code !== 0 && !/exists/i.test(created.stderr)) {
        throw new IptablesApplyError(
          `cannot create chain ${j.table}/${j.to}: ${created.stderr.trim()}`,
          created.stderr,
        );
      }
      const args = baseJumpRuleArgs(j);
      const check = await this.run(ipt, [...this.wait, '-t', j.table, '-C', j.from, ...args]);
      if (check.code === 0) continue;
      const ins = await this.run(ipt, [...this.wait, '-t', j.table, '-I', j.from, ...args]);
      if (ins.code !== 0) {
        throw new IptablesApplyError(
          `cannot insert jump ${j.from} -> ${j.to}: ${ins.stderr.trim()}`,
          ins.stderr,
        );
      }
    }
  }

  /**
   * Removes everything the backend installs: the base-chain jumps, then (one atomic restore per
   * table) every KUBE- chain kube-proxy's iptables mode owns, including per-service chains
   * found by `iptables-save`. Safe to call when nothing is installed.
   */
  async cleanup(): Promise<void> {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    const ipt = this.binaries.iptables;
    const errors: string[] = [];
    for (const j of BASE_CHAIN_JUMPS) {
      const args = baseJumpRuleArgs(j);
      // Delete every copy (a crashed earlier run may have left duplicates).
      for (let i = 0; i < 16; i++) {
        const res = await this.run(ipt, [...this.wait, '-t', j.table, '-D', j.from, ...args]);
        if (res.code !== 0) break;
      }
    }
    for (const [table, fixed] of [
      ['nat', KUBE_NAT_CHAINS],
      ['filter', KUBE_FILTER_CHAINS],
    ] as const) {
      const saved = await this.run(this.binaries.save, ['-t', table]);
      if (saved.code !== 0) {
        errors.push(`${this.binaries.save} -t ${table}: ${saved.stderr.trim()}`);
        continue;
      }
      const existing = new Set(
        saved.stdout
          .split('\n')
          .filter((l) => l.startsWith(':'))
          .map((l) => l.slice(1).split(' ')[0]!),
      );
      const chains = [...existing].filter((c) => fixed.includes(c) || isServiceChainName(c)).sort();
      if (chains.length === 0) continue;
      const payload = [
        `*${table}`,
        ...chains.map((c) => `:${c} - [0:0]`),
        ...chains.map((c) => `-X ${c}`),
        'COMMIT',
        '',
      ].join('\n');
      const res = await this.run(this.binaries.restore, [...this.wait, '--noflush'], payload);
      if (res.code !== 0) errors.push(`${this.binaries.restore} (${table}): ${res.stderr.trim()}`);
    }
    this.renderer.requestFullSync();
    if (errors.length > 0)
      throw new IptablesApplyError(`cleanup incomplete: ${errors.join('; ')}`, errors.join('\n'));
  }

  /** Stops syncing (rules stay installed; call {@link IptablesBackend.cleanup} to remove them). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.detach?.();
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    const err = new Error('iptables backend closed before the sync ran');
    for (const w of this.waiters.splice(0)) w.reject(err);
  }
}
