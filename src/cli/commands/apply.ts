/**
 * `svcroute apply -f FILE... --store etcd://HOST:PORT[/prefix]`: create or update each object in
 * a persistent registry and print what happened as `kubectl apply` does
 * (`service/web created|configured|unchanged`). Also home of the `--store` flag helpers that
 * `delete` shares.
 */

import { type Command, Option } from 'commander';
import { isStatusError } from '../../core/errors';
import { mathRng } from '../../core/random';
import type { Kind } from '../../core/types';
import { MemoryStore, Registry, type RegistryOptions, type Store } from '../../registry';
import { EtcdStore, isEtcdUrl, parseEtcdUrl } from '../../stores/etcd';
import {
  addFilenameOptions,
  addServiceRangeOptions,
  type CliContext,
  CliError,
  cliContext,
  describeApplyError,
  EXIT_INVALID,
  EXIT_USAGE,
  type FilenameFlags,
  readManifestFlags,
  registryOptionsFromFlags,
  type ServiceRangeFlags,
  sortForCreation,
} from '../shared';

/** Environment variable that supplies `--store` when the flag is absent. */
export const STORE_ENV = 'SVCROUTE_STORE';
/** How long the CLI waits for etcd to answer before giving up (it is interactive). */
export const CLI_ETCD_DIAL_TIMEOUT_MS = 5_000;

/** Values of the flag {@link addStoreOption} adds. */
export interface StoreFlags {
  readonly store?: string;
}

/** kubectl's resource names in `TYPE/NAME` output and `TYPE "NAME" deleted` messages. */
export const KIND_RESOURCE: Readonly<Record<Kind, string>> = {
  Service: 'service',
  Pod: 'pod',
  EndpointSlice: 'endpointslice.discovery.k8s.io',
  Endpoints: 'endpoints',
  Node: 'node',
  Namespace: 'namespace',
};

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
    throw new CliError(`invalid argument for "--store" flag: ${(e as Error).message}`, EXIT_USAGE);
  }
  try {
    return await EtcdStore.connect({
      endpoints: parsed.endpoints,
      prefix: parsed.prefix,
      dialTimeoutMs: CLI_ETCD_DIAL_TIMEOUT_MS,
      requestTimeoutMs: CLI_ETCD_DIAL_TIMEOUT_MS * 2,
    });
  } catch (e) {
    throw new CliError((e as Error).message, EXIT_INVALID);
  }
}

/** A registry on the `--store` store; `close()` closes both. */
export interface StoreRegistry {
  readonly registry: Registry;
  close(): Promise<void>;
}

/**
 * Opens a {@link Registry} on the store `--store` names, with the range flags' options. On a
 * shared store allocation draws real randomness (a fixed seed would make every run race for the
 * same candidates).
 */
export async function openStoreRegistry(
  flags: StoreFlags & ServiceRangeFlags,
  required: boolean,
): Promise<StoreRegistry> {
  const store = await openStoreFromFlags(flags, required);
  const options: RegistryOptions = {
    ...registryOptionsFromFlags(flags),
    ...(store ? { store, rng: mathRng } : {}),
  };
  let registry: Registry;
  try {
    registry = await Registry.open(options);
  } catch (e) {
    await store?.close();
    throw new CliError((e as Error).message, EXIT_INVALID);
  }
  return {
    registry,
    close: async () => {
      await registry.close();
      await store?.close();
    },
  };
}

interface ApplyFlags extends FilenameFlags, ServiceRangeFlags, StoreFlags {}

/** Applies every object of the manifests; prints one line per object. */
export async function runApply(ctx: CliContext, flags: ApplyFlags): Promise<void> {
  const read = await readManifestFlags(ctx, flags);
  if (read.errors.length > 0) {
    for (const e of read.errors) ctx.err(`error: ${e.message}`);
    throw new CliError(`${read.errors.length} manifest error(s)`, EXIT_INVALID, true);
  }
  const { registry, close } = await openStoreRegistry(flags, true);
  let failures = 0;
  try {
    for (const item of sortForCreation(read.items)) {
      try {
        const { object, action } = await registry.apply(item.object);
        ctx.out(`${KIND_RESOURCE[object.kind]}/${object.metadata.name ?? ''} ${action}`);
      } catch (e) {
        if (!isStatusError(e)) throw e;
        ctx.err(describeApplyError(e, item));
        failures++;
      }
    }
    // Let the endpoints controller write the slices of what was applied before leaving.
    await registry.settled();
  } finally {
    await close();
  }
  if (failures > 0) throw new CliError(`${failures} object(s) rejected`, EXIT_INVALID, true);
}

/** Registers `svcroute apply`. */
export function registerApplyCommand(program: Command): void {
  const cmd = program
    .command('apply')
    .description('create or update objects from manifests in a persistent registry (kubectl apply)');
  addFilenameOptions(cmd, 'manifests to apply');
  addServiceRangeOptions(cmd);
  addStoreOption(cmd);
  cmd.addHelpText(
    'after',
    `
Examples:
  svcroute apply -f web.yaml --store etcd://127.0.0.1:2379
  SVCROUTE_STORE=etcd://10.0.0.1:2379,10.0.0.2:2379/prod svcroute apply -f manifests/ -R`,
  );
  cmd.action(async (flags: ApplyFlags, command: Command) => {
    await runApply(cliContext(command), flags);
  });
}
