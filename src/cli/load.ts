/**
 * The one way `svcroute` commands turn `-f` manifests into state: read files, directories and
 * standard input; report every problem as one line naming the file, the object and the field;
 * apply the objects to a registry in the order an API server needs them; and hand back the
 * registry or its settled snapshot.
 *
 * Every problem line has the shape of a {@link ManifestError}:
 * `error: FILE: document N (line L): Kind "namespace/name": FIELD: TYPE: DETAIL`.
 *
 * @module
 */

import { formatFieldError, isStatusError, type StatusError } from '../core/errors';
import type { RoutingSnapshot } from '../core/snapshot';
import type { Kind, KubeObject, Pod, Service } from '../core/types';
import { ManifestError, type ManifestItem, type ManifestReadResult, readManifestFiles } from '../manifest';
import { Registry, type RegistryOptions } from '../registry';
import { type CliContext, CliError, EXIT_INVALID, EXIT_USAGE } from './context';
import { ManifestTexts } from './locate';
import {
  type FilenameFlags,
  filenamePaths,
  registryOptionsFromFlags,
  type ServiceRangeFlags,
} from './shared';

/**
 * Reads the manifests named by `-f` and returns the objects and the problems found, without
 * reporting them (`validate` reports them its own way). Endpoints are mirrored to
 * EndpointSlices unless `endpoints` is `keep`.
 *
 * @throws CliError (usage) without `-f` paths; ManifestError for a path that does not exist or
 *   cannot be read.
 */
export async function readManifestInput(
  ctx: CliContext,
  flags: FilenameFlags,
  endpoints: 'mirror' | 'keep' = 'mirror',
): Promise<ManifestReadResult> {
  const paths = filenamePaths(flags.filename);
  if (paths.length === 0) throw new CliError('must specify at least one file with -f', EXIT_USAGE);
  return readManifestFiles(paths, {
    recursive: flags.recursive ?? false,
    readStdin: ctx.readStdin,
    endpoints,
    unknownKinds: flags.skipUnknownKinds ? 'skip' : 'error',
  });
}

/**
 * Reads the `-f` manifests and returns their objects; every problem is printed as one
 * `error: …` line and, if there was any, a reported {@link CliError} (exit 1) is thrown.
 */
export async function readManifestItems(ctx: CliContext, flags: FilenameFlags): Promise<ManifestItem[]> {
  const result = await readManifestInput(ctx, flags);
  if (result.errors.length > 0) {
    for (const e of result.errors) ctx.err(`error: ${e.message}`);
    throw new CliError(`${result.errors.length} manifest error(s)`, EXIT_INVALID, true);
  }
  return result.items;
}

function isClusterScoped(kind: Kind): boolean {
  return kind === 'Node' || kind === 'Namespace';
}

/** `Kind/namespace/name` (namespace `default` when absent; empty for cluster-scoped kinds). */
export function objectKey(kind: Kind, namespace: string | undefined, name: string | undefined): string {
  const ns = isClusterScoped(kind) ? '' : namespace || 'default';
  return `${kind}/${ns}/${name ?? ''}`;
}

function itemKey(item: ManifestItem): string {
  const m = item.object.metadata;
  return objectKey(item.object.kind, m.namespace, m.name);
}

function splitKey(key: string): { kind: Kind; namespace: string; name: string } {
  const [kind, namespace, ...rest] = key.split('/');
  return { kind: kind as Kind, namespace: namespace ?? '', name: rest.join('/') };
}

/**
 * `Service "my-ns/web"`, `Node "node-a"`: how problem lines name an object (the kind alone when
 * it has no name, which is then the problem reported).
 */
export function describeObject(object: KubeObject): string {
  const m = object.metadata;
  if (!m.name) return object.kind;
  const name = isClusterScoped(object.kind) ? m.name : `${m.namespace || 'default'}/${m.name}`;
  return `${object.kind} ${JSON.stringify(name)}`;
}

/**
 * One line per problem with an object the registry refused, each naming the file (document and
 * line), the object and, for validation and allocation errors, the field:
 * `error: app.yaml: document 1 (line 9): Service "my-ns/web": spec.ports[0].port: Invalid value: 0: …`.
 * The line is the field's when `texts` can find it in the manifest, else the object's.
 */
export async function describeRejection(
  e: StatusError,
  item: ManifestItem,
  texts?: ManifestTexts,
): Promise<string[]> {
  const object = describeObject(item.object);
  const { source, documentIndex, itemPath } = item.location;
  const line = (reason: string, at: number | undefined) => {
    const location = at === undefined ? item.location : { ...item.location, line: at };
    return `error: ${new ManifestError(reason, { ...location, object }).message}`;
  };
  if (e.reason !== 'Invalid' || e.causes.length === 0) return [line(e.message, undefined)];
  const out: string[] = [];
  for (const cause of e.causes) {
    const at = await texts?.lineOf(source, documentIndex, itemPath, cause.field);
    out.push(line(formatFieldError(cause), at));
  }
  return out;
}

// Creation order: containers before contents; EndpointSlices before their Services, so that the
// endpoints controller finds (and keeps the names of) the slices a dump already holds; Services
// that ask for specific addresses or ports before those that take any (so a random pick cannot
// take an address asked for later).
const KIND_ORDER: Readonly<Record<Kind, number>> = {
  Namespace: 0,
  Node: 1,
  EndpointSlice: 2,
  Endpoints: 2,
  Service: 3,
  Pod: 4,
};

function requestsValues(svc: Service): boolean {
  const ip = svc.spec.clusterIP ?? svc.spec.clusterIPs?.[0];
  if (ip !== undefined && ip !== '' && ip !== 'None') return true;
  return (svc.spec.ports ?? []).some((p) => p.nodePort !== undefined && p.nodePort !== 0);
}

function isDefaultKubernetesService(o: KubeObject): boolean {
  return (
    o.kind === 'Service' &&
    o.metadata.name === 'kubernetes' &&
    (o.metadata.namespace ?? 'default') === 'default'
  );
}

function creationRank(o: KubeObject): number {
  let rank = KIND_ORDER[o.kind] * 10;
  if (o.kind === 'Service' && !isDefaultKubernetesService(o)) rank += requestsValues(o) ? 1 : 2;
  return rank;
}

/**
 * `items` in the order to create them: namespaces and nodes, EndpointSlices, then the
 * `kubernetes` Service, Services asking for specific addresses or ports, other Services, Pods;
 * stable within each group.
 */
export function sortForCreation<T extends { readonly object: KubeObject }>(items: readonly T[]): T[] {
  return items
    .map((item, i) => ({ item, i }))
    .sort((a, b) => creationRank(a.item.object) - creationRank(b.item.object) || a.i - b.i)
    .map((x) => x.item);
}

/** What applying manifests did to a registry. */
export interface ApplySummary {
  /** Objects new to the registry. */
  created: number;
  /** Objects that existed and changed. */
  configured: number;
  /** Objects of the previous load no longer in the files, deleted. */
  deleted: number;
  /** Objects the registry refused (each reported); their previous version, if any, is kept. */
  rejected: number;
  /** {@link objectKey}s of every object the manifests hold (rejected ones included). */
  keys: Set<string>;
}

/** Options of {@link applyItems}. */
export interface ApplyItemsOptions {
  /**
   * Keys of a previous apply: those the items no longer hold are deleted, as `kubectl apply
   * --prune` would (dependents first).
   */
  readonly prune?: ReadonlySet<string>;
  /** Called after each object is applied (`apply` prints `service/web created`). */
  readonly onApplied?: (object: KubeObject, action: 'created' | 'configured' | 'unchanged') => void;
}

/**
 * Applies `items` to `registry` in creation order. A refused object is reported, one line per
 * problem ({@link describeRejection}), and counted; the others are still applied. Resolves once
 * the registry has settled (the endpoints controller has run).
 */
export async function applyItems(
  ctx: CliContext,
  registry: Registry,
  items: readonly ManifestItem[],
  options: ApplyItemsOptions = {},
): Promise<ApplySummary> {
  const summary: ApplySummary = { created: 0, configured: 0, deleted: 0, rejected: 0, keys: new Set() };
  const texts = new ManifestTexts(ctx.readStdin);
  for (const item of sortForCreation(items)) {
    summary.keys.add(itemKey(item));
    try {
      const { object, action } = await registry.apply(item.object);
      if (action === 'created') summary.created++;
      else if (action === 'configured') summary.configured++;
      options.onApplied?.(object, action);
    } catch (e) {
      if (!isStatusError(e)) throw e;
      for (const line of await describeRejection(e, item, texts)) ctx.err(line);
      summary.rejected++;
    }
  }
  // Dependents first (pods before services, services before namespaces), the reverse of creation.
  const gone = [...(options.prune ?? [])].filter((k) => !summary.keys.has(k)).reverse();
  for (const key of gone) {
    const { kind, namespace, name } = splitKey(key);
    try {
      await registry.delete(kind, namespace, name);
      summary.deleted++;
    } catch (e) {
      if (!isStatusError(e, 'NotFound')) throw e;
    }
  }
  await registry.settled();
  return summary;
}

/** Manifests loaded into a new registry. Close the registry when done. */
export interface LoadedRegistry {
  readonly registry: Registry;
  /** The objects as read from the manifests, with their locations. */
  readonly items: readonly ManifestItem[];
  /** {@link objectKey}s of the objects whose manifest carried a `creationTimestamp`. */
  readonly timestamped: ReadonlySet<string>;
}

/**
 * Reads the `-f` manifests and applies every object to a new {@link Registry} (the range flags'
 * allocation, the endpoints controller run), then waits until it has settled. Every problem is
 * printed as one line; any problem ends in a reported {@link CliError} with exit code 1.
 *
 * @throws CliError (usage) for malformed range flags, before any file is read.
 */
export async function loadRegistry(
  ctx: CliContext,
  flags: FilenameFlags & ServiceRangeFlags,
  extra: RegistryOptions = {},
): Promise<LoadedRegistry> {
  const options = { ...registryOptionsFromFlags(flags), ...extra };
  const items = await readManifestItems(ctx, flags);
  const registry = new Registry(options);
  try {
    await registry.ready();
    const { rejected } = await applyItems(ctx, registry, items);
    if (rejected > 0) throw new CliError(`${rejected} object(s) rejected`, EXIT_INVALID, true);
  } catch (e) {
    await registry.close();
    throw e;
  }
  const timestamped = new Set<string>();
  for (const { object } of items)
    if (object.metadata.creationTimestamp)
      timestamped.add(objectKey(object.kind, object.metadata.namespace, object.metadata.name));
  return { registry, items, timestamped };
}

/** The state manifests describe, once loaded: what renderers need. */
export interface LoadedState {
  readonly snapshot: RoutingSnapshot;
  /** The pods, as the registry holds them (for `--pods verified` DNS answers). */
  readonly pods: readonly Pod[];
}

/**
 * {@link loadRegistry}, then the settled snapshot and the pods; the registry is closed. Cluster
 * IPs and node ports present in the objects are kept; missing ones are allocated
 * deterministically.
 */
export async function loadState(
  ctx: CliContext,
  flags: FilenameFlags & ServiceRangeFlags,
): Promise<LoadedState> {
  const { registry } = await loadRegistry(ctx, flags);
  try {
    return { snapshot: registry.snapshot(), pods: await registry.list('Pod') };
  } finally {
    await registry.close();
  }
}
