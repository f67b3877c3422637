/**
 * `svcroute apply -f FILE... --store etcd://HOST:PORT[/prefix]`: create or update each object in
 * a persistent registry and print what happened as `kubectl apply` does
 * (`service/web created|configured|unchanged`).
 */

import type { Command } from 'commander';
import type { Kind } from '../../core/types';
import { applyItems, readManifestItems } from '../load';
import {
  addFilenameOptions,
  addServiceRangeOptions,
  addStoreOption,
  type CliContext,
  CliError,
  cliContext,
  EXIT_INVALID,
  type FilenameFlags,
  openStoreRegistry,
  type ServiceRangeFlags,
  type StoreFlags,
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

/**
 * Applies every object of the manifests; prints one `service/web created|configured|unchanged`
 * line per object on stdout and one `error: FILE: …` line per problem with a refused object on
 * stderr (the others are still applied; exit 1).
 */
export async function runApply(ctx: CliContext, flags: ApplyFlags): Promise<void> {
  const items = await readManifestItems(ctx, flags);
  const { registry, close } = await openStoreRegistry(flags, true);
  let rejected = 0;
  try {
    // applyItems waits for the endpoints controller to write the slices of what was applied.
    ({ rejected } = await applyItems(ctx, registry, items, {
      onApplied: (object, action) =>
        ctx.out(`${KIND_RESOURCE[object.kind]}/${object.metadata.name ?? ''} ${action}`),
    }));
  } finally {
    await close();
  }
  if (rejected > 0) throw new CliError(`${rejected} object(s) rejected`, EXIT_INVALID, true);
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
Prints "service/web created" (configured, unchanged) per object. An object the registry
refuses is one line per problem on stderr, naming the file, the object and the field:
  error: web.yaml: document 0 (line 9): Service "default/web": spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive
The other objects are still applied.

Exit status: 0 all applied, 1 a manifest did not load or an object was refused, 2 usage error.

Examples:
  svcroute apply -f web.yaml --store etcd://127.0.0.1:2379
  SVCROUTE_STORE=etcd://10.0.0.1:2379,10.0.0.2:2379/prod svcroute apply -f manifests/ -R`,
  );
  cmd.action(async (flags: ApplyFlags, command: Command) => {
    await runApply(cliContext(command), flags);
  });
}
