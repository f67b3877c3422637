/**
 * Helpers every `svcroute` command shares: the `-f/--filename` and range flags, reading
 * manifests (files, directories, `-` for stdin), and loading them into a {@link Registry} the
 * way `kubectl apply` would fill an API server.
 */

import { type Command, Option } from 'commander';
import { isStatusError, type StatusError } from '../core/errors';
import { mathRng, SeededRng } from '../core/random';
import type { Kind, KubeObject, Service } from '../core/types';
import {
  type ManifestItem,
  type ManifestLocation,
  type ManifestReadResult,
  readManifestFiles,
} from '../manifest';
import { ClusterIPAllocator, parsePortRange } from '../net';
import {
  DEFAULT_SERVICE_NODE_PORT_RANGE,
  MemoryStore,
  Registry,
  type RegistryOptions,
  type Store,
} from '../registry';
import { EtcdStore, isEtcdUrl, parseEtcdUrl } from '../stores/etcd';
import { type CliContext, CliError, EXIT_INVALID, EXIT_USAGE } from './context';

export { type CliContext, CliError, cliContext, EXIT_INVALID, EXIT_OK, EXIT_USAGE } from './context';

/** Values of the flags {@link addFilenameOptions} adds. */
export interface FilenameFlags {
  readonly filename?: readonly string[];
  readonly recursive?: boolean;
  /** Leave out objects of kinds svcroute does not serve instead of failing (`--skip-unknown-kinds`). */
  readonly skipUnknownKinds?: boolean;
}

/** Values of the flags {@link addServiceRangeOptions} adds. */
export interface ServiceRangeFlags {
  readonly serviceClusterIpRange?: string;
  readonly serviceNodePortRange?: string;
}

/**
 * Adds `-f, --filename <paths...>` (files, directories, `-` for stdin; repeatable, comma lists
 * allowed as in kubectl) and `-R, --recursive`. `-f` is mandatory unless `mandatory` is false
 * (commands that can read a `--store` instead check with {@link readSourceFromFlags}).
 */
export function addFilenameOptions(
  cmd: Command,
  description = 'manifests to read',
  mandatory = true,
): Command {
  return cmd
    .addOption(
      new Option(
        '-f, --filename <paths...>',
        `${description}: files, directories (their .yaml, .yml, .json files) or - for stdin`,
      ).makeOptionMandatory(mandatory),
    )
    .option('-R, --recursive', 'read directories given with -f recursively', false)
    .option(
      '--skip-unknown-kinds',
      'leave out objects of kinds svcroute does not serve (Deployments, ConfigMaps…) instead of failing',
      false,
    );
}

/** Adds `--service-cluster-ip-range` and `--service-node-port-range` (the API server's flags). */
export function addServiceRangeOptions(cmd: Command): Command {
  return cmd
    .option(
      '--service-cluster-ip-range <cidrs>',
      'service CIDR, or two comma-separated for dual-stack; when set, every clusterIP is checked against it',
    )
    .option(
      '--service-node-port-range <min-max>',
      `node port range (default ${DEFAULT_SERVICE_NODE_PORT_RANGE}); when set, every nodePort is checked against it`,
    );
}

/** Environment variable that supplies `--store` when the flag is absent. */
export const STORE_ENV = 'SVCROUTE_STORE';
/** How long the CLI waits for etcd to answer before giving up (it is interactive). */
export const CLI_ETCD_DIAL_TIMEOUT_MS = 5_000;

/** Values of the flag {@link addStoreOption} adds. */
export interface StoreFlags {
  readonly store?: string;
}

/** Adds `--store <url>` (`etcd://HOST:PORT[/prefix]`, `etcds://…` for TLS, or `memory`). */
export function addStoreOption(cmd: Command): Command {
  return cmd.addOption(
    new Option(
      '--store <url>',
      'the registry to work on: etcd://HOST:PORT[,HOST:PORT...][/prefix] (etcds:// for TLS) or memory',
    ).env(STORE_ENV),
  );
}

/**
 * Where a reading command (`get`, `explain`) takes its objects from: the `-f` manifests or the
 * `--store` registry, exactly one of them. A store that comes only from {@link STORE_ENV} yields
 * to an explicit `-f`, so an exported variable does not break reading files.
 *
 * @throws CliError (usage) when neither or both are given on the command line.
 */
export function readSourceFromFlags(cmd: Command, flags: FilenameFlags & StoreFlags): 'files' | 'store' {
  const hasFiles = flags.filename !== undefined;
  const hasStore = flags.store !== undefined && flags.store.trim() !== '';
  if (hasFiles && hasStore) {
    if (cmd.getOptionValueSource('store') === 'env') return 'files';
    throw new CliError(
      '-f FILE and --store URL cannot be given together: read either files or a registry',
      EXIT_USAGE,
    );
  }
  if (hasFiles) return 'files';
  if (hasStore) return 'store';
  throw new CliError(`must specify -f FILE or --store URL (or set ${STORE_ENV})`, EXIT_USAGE);
}

/**
 * Opens the store `--store` names: an etcd store (checked to answer, so that a down etcd is an
 * immediate, clear error naming the endpoint) or, for `memory`, an empty in-memory one.
 *
 * @throws CliError (usage) for a malformed URL or when `required` and the flag is absent.
 */
export async function openStoreFromFlags(flags: StoreFlags, required: boolean): Promise<Store | undefined> {
  const url = flags.store?.trim();
  if (!url) {
    if (required)
      throw new CliError(
        `a persistent registry is required: pass --store etcd://HOST:PORT[/prefix] or set ${STORE_ENV}`,
        EXIT_USAGE,
      );
    return undefined;
  }
  if (url === 'memory') return new MemoryStore();
  if (!isEtcdUrl(url))
    throw new CliError(
      `invalid argument ${JSON.stringify(url)} for "--store" flag: want etcd://HOST:PORT[/prefix] or memory`,
      EXIT_USAGE,
    );
  let parsed: ReturnType<typeof parseEtcdUrl>;
  try {
    parsed = parseEtcdUrl(url);
  } catch (e) {
    throw new CliError(`invalid argument for "--store" flag: ${messageOf(e)}`, EXIT_USAGE);
  }
  try {
    return await EtcdStore.connect({
      endpoints: parsed.endpoints,
      prefix: parsed.prefix,
      dialTimeoutMs: CLI_ETCD_DIAL_TIMEOUT_MS,
      requestTimeoutMs: CLI_ETCD_DIAL_TIMEOUT_MS * 2,
    });
  } catch (e) {
    throw new CliError(messageOf(e), EXIT_INVALID);
  }
}

/** A registry on the `--store` store; `close()` closes both. */
export interface StoreRegistry {
  readonly registry: Registry;
  close(): Promise<void>;
}

/**
 * Opens a {@link Registry} on the store `--store` names, with the range flags' options and
 * `extra` (a reader passes `runControllers: false`: the writers' controllers maintain the
 * slices), and waits until its cache holds the store's content. On a shared store allocation
 * draws real randomness (a fixed seed would make every run race for the same candidates).
 */
export async function openStoreRegistry(
  flags: StoreFlags & ServiceRangeFlags,
  required: boolean,
  extra: RegistryOptions = {},
): Promise<StoreRegistry> {
  const store = await openStoreFromFlags(flags, required);
  const options: RegistryOptions = {
    ...registryOptionsFromFlags(flags),
    ...(store ? { store, rng: mathRng } : {}),
    ...extra,
  };
  let registry: Registry;
  try {
    registry = await Registry.open(options);
  } catch (e) {
    await store?.close();
    throw new CliError(messageOf(e), EXIT_INVALID);
  }
  return {
    registry,
    close: async () => {
      await registry.close();
      await store?.close();
    },
  };
}

/** The paths of `-f` values, with kubectl's comma-separated form split. */
export function filenamePaths(values: readonly string[] | undefined): string[] {
  return (values ?? [])
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

/**
 * Reads the manifests named by `-f` and returns the objects and the problems found. Endpoints
 * are mirrored to EndpointSlices unless `endpoints` is `keep`. A missing path throws a
 * `ManifestError`.
 */
export async function readManifestFlags(
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

// The CLI allocates from a fixed seed so that the same manifests always print the same
// addresses and ports (the API server picks at random).
const CLI_RNG_SEED = 0x5eed;

/**
 * Registry options for the range flags: without either flag, values present in the objects are
 * taken as they are (`as-is`, a dump of a live cluster) and missing ones allocated from the
 * defaults; with one, every value is checked (`strict`).
 *
 * @throws CliError (usage) for a malformed CIDR or port range.
 */
export function registryOptionsFromFlags(flags: ServiceRangeFlags): RegistryOptions {
  const options: { -readonly [K in keyof RegistryOptions]: RegistryOptions[K] } = {
    rng: new SeededRng(CLI_RNG_SEED),
    allocationMode: 'as-is',
  };
  if (flags.serviceClusterIpRange !== undefined) {
    const cidrs = flags.serviceClusterIpRange.split(',').map((s) => s.trim());
    try {
      new ClusterIPAllocator(cidrs);
    } catch (e) {
      throw new CliError(
        `invalid argument ${JSON.stringify(flags.serviceClusterIpRange)} for "--service-cluster-ip-range" flag: ${messageOf(e)}`,
        EXIT_USAGE,
      );
    }
    options.serviceClusterIPRanges = cidrs;
    options.allocationMode = 'strict';
  }
  if (flags.serviceNodePortRange !== undefined) {
    try {
      const range = parsePortRange(flags.serviceNodePortRange);
      if (range.size === 0) throw new Error('empty port range');
    } catch (e) {
      throw new CliError(
        `invalid argument ${JSON.stringify(flags.serviceNodePortRange)} for "--service-node-port-range" flag: ${messageOf(e)}`,
        EXIT_USAGE,
      );
    }
    options.serviceNodePortRange = flags.serviceNodePortRange.trim();
    options.allocationMode = 'strict';
  }
  return options;
}

/** `Kind/namespace/name` (namespace `default` when absent; empty for cluster-scoped kinds). */
export function objectKey(kind: Kind, namespace: string | undefined, name: string | undefined): string {
  const ns = kind === 'Node' || kind === 'Namespace' ? '' : namespace || 'default';
  return `${kind}/${ns}/${name ?? ''}`;
}

/** Manifests loaded into a registry. Close the registry when done. */
export interface LoadedRegistry {
  readonly registry: Registry;
  /** The objects as read from the manifests, with their locations. */
  readonly items: readonly ManifestItem[];
  /** {@link objectKey}s of the objects whose manifest carried a `creationTimestamp`. */
  readonly timestamped: ReadonlySet<string>;
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
  if (o.kind === 'Service') {
    if (isDefaultKubernetesService(o)) rank += 0;
    else rank += requestsValues(o) ? 1 : 2;
  }
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

/**
 * Reads `-f` manifests and applies every object to a new {@link Registry} (allocating cluster
 * IPs and node ports, running the endpoints controller), then waits until it is settled.
 * Manifest problems and rejected objects are printed to stderr, one error each, and end in a
 * {@link CliError} with exit code 1.
 */
export async function loadRegistry(
  ctx: CliContext,
  flags: FilenameFlags & ServiceRangeFlags,
  extra: RegistryOptions = {},
): Promise<LoadedRegistry> {
  const options = { ...registryOptionsFromFlags(flags), ...extra };
  const result = await readManifestFlags(ctx, flags);
  if (result.errors.length > 0) {
    for (const e of result.errors) ctx.err(`error: ${e.message}`);
    throw new CliError(`${result.errors.length} manifest error(s)`, EXIT_INVALID, true);
  }
  const registry = new Registry(options);
  try {
    await registry.ready();
    let failures = 0;
    for (const item of sortForCreation(result.items)) {
      try {
        await registry.apply(item.object);
      } catch (e) {
        if (!isStatusError(e)) throw e;
        ctx.err(describeApplyError(e, item));
        failures++;
      }
    }
    if (failures > 0) throw new CliError(`${failures} object(s) rejected`, EXIT_INVALID, true);
    await registry.settled();
  } catch (e) {
    await registry.close();
    throw e;
  }
  const timestamped = new Set<string>();
  for (const { object } of result.items)
    if (object.metadata.creationTimestamp)
      timestamped.add(objectKey(object.kind, object.metadata.namespace, object.metadata.name));
  return { registry, items: result.items, timestamped };
}

/** Where an object came from, for messages: `svc.yaml` or `svc.yaml (document 2)`. */
export function describeLocation(location: ManifestLocation): string {
  return location.documentIndex !== undefined && location.documentIndex > 0
    ? `${location.source} (document ${location.documentIndex}${location.itemPath ? `, ${location.itemPath}` : ''})`
    : location.itemPath
      ? `${location.source} (${location.itemPath})`
      : location.source;
}

/**
 * kubectl's wording for an object the API server refused: an Invalid error as its own
 * `The Service "web" is invalid: …` text, anything else as
 * `Error from server (AlreadyExists): error when creating "svc.yaml": …`.
 */
export function describeApplyError(e: StatusError, item: ManifestItem): string {
  if (e.reason === 'Invalid') return e.message;
  return `Error from server (${e.reason}): error when creating ${JSON.stringify(describeLocation(item.location))}: ${e.message}`;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
