/**
 * Keeping a long-lived registry in step with `-f` manifests for the serving commands (`serve`,
 * `proxy`, `dns serve`): the files are applied as `kubectl apply --prune` would (objects added,
 * changed, and those no longer in the files deleted), and applied again when they change. All
 * three report a reload the same way, on stderr:
 *
 * - `reloaded: 1 created, 0 configured, 0 deleted; 3 service(s)` after a good edit;
 * - one `error: FILE: …` line per problem; an object the registry refuses keeps its previous
 *   version (`…, 1 rejected (previous version kept); …`), and files that do not parse change
 *   nothing (`reload failed: still serving the previous state`).
 *
 * @module
 */

import { type FSWatcher, statSync, watch } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { mergeUpdates, type SnapshotSource } from '../backends/backend';
import type { RoutingSnapshot, SnapshotUpdate } from '../core/snapshot';
import { isManifestError } from '../manifest';
import type { Registry } from '../registry';
import { CliContext, CliError } from './context';
import { type ApplySummary, applyItems, readManifestInput } from './load';
import { type FilenameFlags, filenamePaths } from './shared';

/** Quiet period after a file change before reloading, in ms: editors write files in bursts. */
export const RELOAD_DEBOUNCE_MS = 200;

/** Something started by {@link ManifestSync.watch}; `close()` stops it and waits for a reload. */
export interface Watching {
  close(): Promise<void>;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** `reloaded: 1 created, 0 configured, 0 deleted[, 1 rejected (previous version kept)]`. */
export function describeReload(s: ApplySummary): string {
  const rejected = s.rejected > 0 ? `, ${s.rejected} rejected (previous version kept)` : '';
  return `reloaded: ${s.created} created, ${s.configured} configured, ${s.deleted} deleted${rejected}`;
}

/** Options of {@link ManifestSync}. */
export interface ManifestSyncOptions {
  /**
   * The line printed when a reload changes nothing because the files could not be read or
   * parsed. Default `reload failed: still serving the previous state`.
   */
  readonly reloadFailedLine?: string;
}

/**
 * Applies the `-f` manifests to one registry, now and whenever they change. Standard input is
 * read once: a reload (another file changed) reuses what it held.
 *
 * Backends follow {@link source} rather than the registry: it relays the registry's snapshots
 * but holds those of a reload until the reload is over and reported, then delivers them merged
 * into one update. A backend thus never serves half of an edit (a service deleted before its
 * replacement is added), and once `reloaded: …` is printed the next update carries the edit.
 */
export class ManifestSync {
  private owned: ReadonlySet<string> = new Set();
  private readonly loadCtx: CliContext;
  private holding = false;
  private held: SnapshotUpdate | undefined;
  private released: RoutingSnapshot;
  private readonly listeners = new Set<(update: SnapshotUpdate) => void>();
  /** The registry's snapshots, a reload's changes delivered at once after it is reported. */
  readonly source: SnapshotSource;

  private readonly reloadFailedLine: string;

  constructor(
    private readonly ctx: CliContext,
    private readonly flags: FilenameFlags,
    readonly registry: Registry,
    options: ManifestSyncOptions = {},
  ) {
    this.reloadFailedLine = options.reloadFailedLine ?? 'reload failed: still serving the previous state';
    this.released = registry.snapshot();
    registry.on('snapshot', (update) => {
      if (this.holding) this.held = this.held ? mergeUpdates(this.held, update) : update;
      else this.deliver(update);
    });
    this.source = {
      snapshot: () => this.released,
      on: (_event, listener) => this.listeners.add(listener),
      off: (_event, listener) => this.listeners.delete(listener),
    };
    let stdinText: Promise<string> | undefined;
    this.loadCtx = new CliContext({
      stdout: ctx.stdout,
      stderr: ctx.stderr,
      readStdin: () => {
        stdinText ??= ctx.readStdin();
        return stdinText;
      },
      now: ctx.now,
    });
  }

  /**
   * Reads the files and applies them, deleting what an earlier apply created and the files no
   * longer hold. Every problem is printed as one line. Resolves to undefined, with nothing
   * changed, when the files do not parse.
   */
  async apply(): Promise<ApplySummary | undefined> {
    const read = await readManifestInput(this.loadCtx, this.flags);
    if (read.errors.length > 0) {
      for (const e of read.errors) this.ctx.err(`error: ${e.message}`);
      return undefined;
    }
    const summary = await applyItems(this.loadCtx, this.registry, read.items, { prune: this.owned });
    this.owned = summary.keys;
    return summary;
  }

  /**
   * The first {@link apply}: any problem is fatal (a reported {@link CliError}, exit 1), so that
   * a server never starts on half of what it was given.
   */
  async applyOrFail(): Promise<ApplySummary> {
    const first = await this.apply();
    if (first === undefined) throw new CliError('the manifests did not load', 1, true);
    if (first.rejected > 0) throw new CliError(`${first.rejected} object(s) rejected`, 1, true);
    return first;
  }

  private deliver(update: SnapshotUpdate): void {
    this.released = update.current;
    for (const listener of [...this.listeners]) listener(update);
  }

  /**
   * Applies the files again after each change (debounced, one reload at a time, a change during
   * a reload reloads once more) and reports it (see the module).
   */
  watch(): Watching {
    let reloading: Promise<void> | undefined;
    let again = false;
    let closed = false;
    const reload = (): void => {
      if (closed) return;
      if (reloading) {
        again = true;
        return;
      }
      reloading = (async () => {
        do {
          again = false;
          await this.reloadOnce();
        } while (again && !closed);
        reloading = undefined;
      })();
    };
    const watchers = watchPaths(filenamePaths(this.flags.filename), this.flags.recursive ?? false, reload);
    return {
      close: async () => {
        closed = true;
        watchers.close();
        await reloading;
      },
    };
  }

  private async reloadOnce(): Promise<void> {
    this.holding = true;
    try {
      const s = await this.apply();
      if (s === undefined) this.ctx.err(this.reloadFailedLine);
      else this.ctx.err(`${describeReload(s)}; ${this.registry.snapshot().services.size} service(s)`);
    } catch (e) {
      // A path that vanished or cannot be read: one line, the state stays as it was.
      if (!(e instanceof CliError && e.reported))
        this.ctx.err(`error: ${isManifestError(e) ? e.message : `reload failed: ${messageOf(e)}`}`);
      this.ctx.err(this.reloadFailedLine);
    } finally {
      this.holding = false;
      const held = this.held;
      this.held = undefined;
      if (held) this.deliver(held);
    }
  }
}

/**
 * Watches the given files and directories and calls `onChange` once things are quiet again.
 * A file is watched through its directory, so that an editor replacing it (write to a temporary
 * file, then rename) is seen too; `-` (standard input) is not watched.
 */
export function watchPaths(
  paths: readonly string[],
  recursive: boolean,
  onChange: () => void,
): { close(): void } {
  let timer: NodeJS.Timeout | undefined;
  const fire = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(onChange, RELOAD_DEBOUNCE_MS);
  };
  const watchers: FSWatcher[] = [];
  const add = (path: string, options: { recursive: boolean }, accept: (name: string | null) => boolean) => {
    try {
      const w = watch(path, { persistent: false, ...options }, (_event, name) => {
        if (accept(name === null ? null : String(name))) fire();
      });
      w.on('error', () => {});
      watchers.push(w);
    } catch {
      // A path that cannot be watched is still served as loaded.
    }
  };
  const seen = new Set<string>();
  for (const p of paths) {
    if (p === '-') continue;
    const abs = resolve(p);
    if (seen.has(abs)) continue;
    seen.add(abs);
    if (isDirectory(abs)) add(abs, { recursive }, () => true);
    else {
      const file = basename(abs);
      add(dirname(abs), { recursive: false }, (name) => name === null || name === file);
    }
  }
  return {
    close: () => {
      if (timer) clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
