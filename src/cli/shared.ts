/**
 * Flags every `svcroute` command shares: `-f/--filename`, the API server's range flags,
 * `--store`, and the parsers of address flags. Loading manifests is `./load`'s job.
 */

import { isIP } from 'node:net';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { parseListenAddress } from '../backends/dns';
import { mathRng, SeededRng } from '../core/random';
import { ClusterIPAllocator, parsePortRange } from '../net';
import {
  DEFAULT_SERVICE_NODE_PORT_RANGE,
  MemoryStore,
  Registry,
  type RegistryOptions,
  type Store,
} from '../registry';
import { EtcdStore, isEtcdUrl, parseEtcdUrl } from '../stores/etcd';
import { isValidCIDR } from '../validation/names';
import { CliError, EXIT_INVALID, EXIT_USAGE } from './context';

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

// The CLI allocates from a fixed seed so that the same manifests always print the same
// addresses and ports (the API server picks at random).
const CLI_RNG_SEED = 0x5eed;

/**
 * Registry options for the range flags. Each flag makes its own kind of value `strict` (checked
 * against the range given, as the API server started with that flag would): cluster IPs with
 * `--service-cluster-ip-range`, node ports (health check node ports too) with
 * `--service-node-port-range`. A kind whose flag is absent is taken as it is (`as-is`, a dump of
 * a live cluster whose ranges are not known), and its missing values are allocated from the
 * default range.
 *
 * @throws CliError (usage) for a malformed CIDR or port range.
 */
export function registryOptionsFromFlags(flags: ServiceRangeFlags): RegistryOptions {
  const options: { -readonly [K in keyof RegistryOptions]: RegistryOptions[K] } = {
    rng: new SeededRng(CLI_RNG_SEED),
    allocationMode: {
      clusterIPs: flags.serviceClusterIpRange !== undefined ? 'strict' : 'as-is',
      nodePorts: flags.serviceNodePortRange !== undefined ? 'strict' : 'as-is',
    },
    // Local processes are the backends of a development service network (`validate` still
    // reports loopback endpoints as the API server does).
    allowLoopbackEndpoints: true,
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
  }
  return options;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Commander parser of an IP address flag (a usage error otherwise). */
export function parseIPFlag(value: string): string {
  const ip = value.trim();
  if (isIP(ip) === 0) throw new InvalidArgumentError('not an IP address');
  return ip;
}

/** Commander parser of a repeatable flag taking IP addresses, comma-separated or one each time. */
export function collectIPs(value: string, previous: readonly string[] | undefined): string[] {
  const out = [...(previous ?? [])];
  const items = value.split(',').map((v) => v.trim());
  for (const ip of items) {
    if (isIP(ip) === 0)
      throw new InvalidArgumentError(
        items.length > 1 ? `${JSON.stringify(ip)} is not an IP address` : 'not an IP address',
      );
    out.push(ip);
  }
  return out;
}

/** Commander parser of a comma-separated CIDR list flag (`10.244.0.0/16,fd00::/64`). */
export function parseCIDRList(value: string): string[] {
  const cidrs = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const cidr of cidrs) {
    const problems = isValidCIDR(cidr);
    if (problems.length > 0)
      throw new InvalidArgumentError(
        cidrs.length > 1 ? `${JSON.stringify(cidr)}: ${problems.join('; ')}` : problems.join('; '),
      );
  }
  return cidrs;
}

/**
 * Commander parser of an `IP:PORT` listen address (`127.0.0.1:5353`, `[::1]:5353`; port 0 picks
 * a free one). Returns the text as given, checked.
 */
export function parseListenFlag(value: string): string {
  try {
    parseListenAddress(value.trim());
  } catch {
    throw new InvalidArgumentError('want IP:PORT (e.g. 127.0.0.1:5353)');
  }
  return value.trim();
}

/**
 * The host and port of an `IP:PORT` flag value given programmatically (the CLI has checked it
 * with {@link parseListenFlag} already).
 *
 * @throws CliError (usage) for a malformed value.
 */
export function listenAddressOf(flag: string, value: string): { host: string; port: number } {
  try {
    return parseListenAddress(value.trim());
  } catch {
    throw new CliError(
      `invalid argument ${JSON.stringify(value)} for "${flag}" flag: want IP:PORT (e.g. 127.0.0.1:5353)`,
      EXIT_USAGE,
    );
  }
}

/** `IP:PORT`, bracketing an IPv6 address. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The error for a server socket that could not be opened (port in use, address not on this
 * host): one line naming the flag and the address, exit 1.
 */
export function listenError(flag: string, address: string, e: unknown): CliError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const why =
    code === 'EADDRINUSE'
      ? 'address already in use'
      : code === 'EADDRNOTAVAIL'
        ? 'address not available on this host'
        : code === 'EACCES'
          ? 'permission denied'
          : messageOf(e);
  return new CliError(`cannot listen on ${address} (${flag}): ${why}`, EXIT_INVALID);
}
