/**
 * `svcroute apply -f FILE... --store etcd://HOST:PORT[/prefix]`: create or update each object in
 * a persistent registry and print what happened as `kubectl apply` does
 * (`service/web created|configured|unchanged`).
 */

import type { Command } from 'commander';
import { isStatusError } from '../../core/errors';
import type { Kind } from '../../core/types';
import {
  addFilenameOptions,
  addServiceRangeOptions,
  addStoreOption,
  type CliContext,
  CliError,
  cliContext,
  describeApplyError,
  EXIT_INVALID,
  type FilenameFlags,
  openStoreRegistry,
  readManifestFlags,
  type ServiceRangeFlags,
  type StoreFlags,
  sortForCreation,
} from '../shared';

/** kubectl's resource names in `TYPE/NAME` output and `TYPE "NAME" deleted` messages. */
export const KIND_RESOURCE: Readonly<Record<Kind, string>> = {
  Service: 'service',
  Pod: 'pod',
  EndpointSlice: 'endpointslice.discovery.k8s.io',
  Endpoints: 'endpoints',
  Node: 'node',
  Namespace: 'namespace',
};

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
