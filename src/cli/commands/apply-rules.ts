/**
 * `svcroute apply-rules`: installs kube-proxy's iptables rules for the given manifests on this
 * machine (`iptables-restore --noflush`), once or following file changes; `--cleanup` removes
 * them.
 *
 * With `--watch` the manifests live in one registry kept in step with the files (see
 * `../reload`), and the {@link IptablesBackend} follows that registry's snapshot updates: the
 * first apply is a full sync, an edit rewrites only the chains of the services it changed (a
 * partial sync, as kube-proxy's), and a failed restore is followed by a full one. The Node named
 * by `--node-name`, when the files hold it, is followed as kube-proxy follows its own Node: its
 * zone label drives topology hints, and a change of that label re-renders everything (a full
 * sync).
 *
 * @module
 */
import type { Command } from 'commander';
import { type AttachedBackend, attachBackend } from '../../backends/backend';
import { IptablesBackend, type IptablesSyncEvent } from '../../backends/iptables/backend';
import type { CommandRunner } from '../../backends/iptables/runner';
import type { KubeObject } from '../../core/types';
import { type ObjectEvent, Registry } from '../../registry';
import { type CliContext, CliError, cliContext, EXIT_USAGE } from '../context';
import { ManifestSync, type Watching } from '../reload';
import { registryOptionsFromFlags } from '../shared';
import {
  addIptablesOptions,
  findNode,
  type IptablesCliOptions,
  iptablesOptionsFrom,
  nodeNameFrom,
} from './render-iptables';

/** Parsed flags of `svcroute apply-rules`. */
export interface ApplyRulesOptions extends IptablesCliOptions {
  readonly cleanup?: boolean;
  readonly watch?: boolean;
}

/** Side effects of {@link runApplyRules} that can be replaced (tests, embedding). */
export interface ApplyRulesIO {
  /** Runs the iptables binaries (default: on this host). */
  readonly runner?: CommandRunner;
}

/** Printed when an edit or a restore changed nothing in the kernel. */
const RULES_KEPT_LINE = 'reload failed: keeping the rules in place';

/** `applied partial sync: 3 service ports, 41 rules in 12 ms`. */
export function describeIptablesSync(e: IptablesSyncEvent): string {
  const rules = e.rules.stats.natRules + e.rules.stats.filterRules;
  return (
    `applied ${e.full ? 'full' : 'partial'} sync: ${e.rules.stats.servicePorts} service ports, ` +
    `${rules} rules in ${e.durationMs.toFixed(0)} ms`
  );
}

function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ').trim();
}

/**
 * Keeps `backend` told of the labels of the Node named `nodeName` in `registry`: now, and on
 * every later add, change or delete of it. Returns a function that stops following.
 *
 * A label change reaches the kernel in a sync of its own, possibly before the rest of the same
 * edit: kube-proxy too watches its Node apart from Services and EndpointSlices. A deleted Node
 * leaves the node without labels (kube-proxy itself exits then).
 */
async function followNodeLabels(
  registry: Registry,
  nodeName: string,
  backend: IptablesBackend,
): Promise<() => void> {
  const isOurs = (o: KubeObject): boolean => o.kind === 'Node' && o.metadata.name === nodeName;
  const onChange = (e: ObjectEvent): void => {
    if (isOurs(e.object)) backend.setNodeLabels(e.object.metadata.labels);
  };
  const onDelete = (e: ObjectEvent): void => {
    if (isOurs(e.object)) backend.setNodeLabels(undefined);
  };
  registry.on('added', onChange);
  registry.on('modified', onChange);
  registry.on('deleted', onDelete);
  backend.setNodeLabels((await findNode(registry, nodeName))?.metadata.labels);
  return () => {
    registry.off('added', onChange);
    registry.off('modified', onChange);
    registry.off('deleted', onDelete);
  };
}

/** How the first restore went: the command's exit status depends on it, later ones do not. */
class FirstSync {
  private outcome: 'pending' | 'applied' | Error = 'pending';

  get pending(): boolean {
    return this.outcome === 'pending';
  }

  applied(): void {
    if (this.outcome === 'pending') this.outcome = 'applied';
  }

  failed(e: Error): void {
    if (this.outcome === 'pending') this.outcome = e;
  }

  /** @throws the error of the first restore, if it failed. */
  check(): void {
    if (this.outcome instanceof Error) throw this.outcome;
  }
}

/**
 * Runs `apply-rules`: with `cleanup`, removes the rules; otherwise loads the manifests (any
 * problem is reported and fatal before the machine is touched), applies them with a full sync
 * and, with `watch`, follows the files until `signal` aborts. Every restore is reported on
 * stderr ({@link describeIptablesSync}); a bad edit or a failed restore during `watch` is
 * reported and leaves the rules in place.
 *
 * @throws CliError when the manifests do not load (reported, exit 1); the restore's error when
 *   the first apply fails.
 */
export function runApplyRules(
  ctx: CliContext,
  opts: ApplyRulesOptions,
  signal: AbortSignal,
  io: ApplyRulesIO = {},
): Promise<void> {
  return keepingAlive(() => applyRules(ctx, opts, signal, io));
}

async function applyRules(
  ctx: CliContext,
  opts: ApplyRulesOptions,
  signal: AbortSignal,
  io: ApplyRulesIO,
): Promise<void> {
  const backend = new IptablesBackend({
    ...iptablesOptionsFrom(opts),
    ...(io.runner ? { runner: io.runner } : {}),
    // The reload is already debounced; an edit should reach the kernel without further delay.
    minSyncIntervalMs: 0,
  });
  if (!opts.cleanup && (opts.filename ?? []).length === 0)
    throw new CliError("required option '-f, --filename <paths...>' not specified", EXIT_USAGE);
  if (opts.cleanup) {
    try {
      await backend.cleanup();
      ctx.err('removed the iptables rules');
    } finally {
      await backend.close();
    }
    return;
  }
  const registry = new Registry(registryOptionsFromFlags({}));
  const sync = new ManifestSync(ctx, opts, registry, { reloadFailedLine: RULES_KEPT_LINE });
  const first = new FirstSync();
  let watching: Watching | undefined;
  let feed: AttachedBackend | undefined;
  let unfollowNode: (() => void) | undefined;
  try {
    await registry.ready();
    // Manifests are loaded before anything touches the machine: a bad file changes no rule.
    await sync.applyOrFail();
    // Before the first sync, so that it already renders for the node's zone.
    unfollowNode = await followNodeLabels(registry, nodeNameFrom(opts), backend);
    // Watching starts right after the first load, so that no edit made meanwhile is missed.
    if (opts.watch) watching = sync.watch();
    backend.on('synced', (e) => {
      first.applied();
      ctx.err(describeIptablesSync(e));
    });
    // Every failed attempt (retries included) is reported here; the kernel kept its rules.
    backend.on('error', (e) => {
      if (first.pending) {
        first.failed(e);
        return;
      }
      ctx.err(`error: ${oneLine(e.message)}`);
      ctx.err(RULES_KEPT_LINE);
    });
    feed = attachBackend(sync.source, backend);
    await feed.idle();
    first.check();
    if (!opts.watch) return;
    await waitForAbort(signal);
  } finally {
    await watching?.close();
    unfollowNode?.();
    feed?.detach();
    await feed?.idle();
    await backend.close();
    await registry.close();
  }
}

async function waitForAbort(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return;
  await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/**
 * Runs `work` with Node.js kept alive: the backend waits on unreferenced timers, and signal
 * listeners and unreferenced file watchers do not count either, so without a referenced handle
 * the process would end in the middle of an apply.
 */
async function keepingAlive<T>(work: () => Promise<T>): Promise<T> {
  const keepAlive = setInterval(() => {}, 2 ** 30);
  try {
    return await work();
  } finally {
    clearInterval(keepAlive);
  }
}

/** Registers `apply-rules`. */
export function registerApplyRulesCommand(program: Command): void {
  addIptablesOptions(
    program.command('apply-rules').description("apply kube-proxy's iptables rules for the objects"),
    // --cleanup reads no files.
    false,
  )
    .option('--cleanup', 'remove every rule and chain the rules use instead of applying')
    .option('--watch', 'keep running and re-apply when the files change')
    .addHelpText(
      'after',
      `
Needs root and iptables-restore. The first apply is a full sync of the rules the manifests
give. With --watch, a change to the files is applied as "kubectl apply --prune" would (objects
no longer in the files are deleted) and only the chains of the services it changed are
rewritten (a partial sync). The Node named by --node-name, when the files hold it, gives the
zone for topology hints; a change of its zone label re-renders everything (a full sync). A bad
edit is reported one line per problem: files that do not parse change no rule, and an object
the registry refuses keeps its previous version. Each restore prints "applied full|partial
sync: …". Stops on SIGINT/SIGTERM.

Exit status: 0 applied (or stopped by a signal), 1 the manifests did not load or
iptables-restore failed, 2 usage error.

Examples:
  svcroute apply-rules -f manifests/ --node-name node-a --node-ip 192.168.0.2
  svcroute apply-rules -f manifests/ --watch --node-name node-a --cluster-cidr 10.244.0.0/16
  svcroute apply-rules --cleanup`,
    )
    .action(async (opts: ApplyRulesOptions, command: Command) => {
      const ctx = cliContext(command);
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      // A one-shot apply keeps the default signal handling (it is short and may be killed).
      if (opts.watch) {
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
      }
      try {
        await runApplyRules(ctx, opts, stop.signal);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
