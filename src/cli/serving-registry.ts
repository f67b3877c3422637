/**
 * The registry a serving command (`serve`, `proxy`, `dns serve`) follows: a reader of the store
 * `--store` names, or an in-memory one kept in step with the `-f` files.
 *
 * @module
 */
import type { SnapshotSource } from '../backends/backend';
import { Registry } from '../registry/registry';
import type { CliContext } from './context';
import { ManifestSync } from './reload';
import {
  type FilenameFlags,
  openStoreRegistry,
  registryOptionsFromFlags,
  type ServiceRangeFlags,
  type StoreFlags,
} from './shared';

/** A serving command's registry and where its backends take snapshots from. */
export interface ServingRegistry {
  readonly registry: Registry;
  /** Keeps the registry in step with the files; absent when following a store. */
  readonly sync: ManifestSync | undefined;
  /** What backends follow: the sync (each reload handed over at once) or the registry itself. */
  readonly source: SnapshotSource;
  close(): Promise<void>;
}

/**
 * Opens the registry for `flags`. With `--store` the process is a reader: it runs no controllers
 * (the writers maintain the slices) and loads or watches no files.
 */
export async function openServingRegistry(
  ctx: CliContext,
  flags: FilenameFlags & StoreFlags & ServiceRangeFlags,
): Promise<ServingRegistry> {
  if (flags.store !== undefined && flags.store.trim() !== '') {
    const live = await openStoreRegistry(flags, true, { runControllers: false });
    return { registry: live.registry, sync: undefined, source: live.registry, close: live.close };
  }
  const registry = new Registry(registryOptionsFromFlags(flags));
  const sync = new ManifestSync(ctx, flags, registry);
  return { registry, sync, source: sync.source, close: () => registry.close() };
}
