/**
 * `svcroute delete -f FILE...` and `svcroute delete TYPE NAME... [-n NS]` on a persistent
 * registry (`--store`), printing `service "web" deleted` as kubectl does.
 */

import type { Command } from 'commander';
import { isStatusError } from '../../core/errors';
import type { Kind } from '../../core/types';
import type { Registry } from '../../registry';
import { readManifestItems } from '../load';
import {
  addStoreOption,
  type CliContext,
  CliError,
  cliContext,
  EXIT_INVALID,
  EXIT_USAGE,
  type FilenameFlags,
  filenamePaths,
  openStoreRegistry,
  type StoreFlags,
} from '../shared';
import { KIND_RESOURCE } from './apply';

/** Resource names `delete TYPE` accepts (kubectl's plural, singular and short names). */
export const DELETE_RESOURCE_ALIASES: Readonly<Record<string, Kind>> = {
  services: 'Service',
  service: 'Service',
  svc: 'Service',
  pods: 'Pod',
  pod: 'Pod',
  po: 'Pod',
  endpointslices: 'EndpointSlice',
  endpointslice: 'EndpointSlice',
  'endpointslices.discovery.k8s.io': 'EndpointSlice',
  'endpointslice.discovery.k8s.io': 'EndpointSlice',
  endpoints: 'Endpoints',
  ep: 'Endpoints',
  nodes: 'Node',
  node: 'Node',
  no: 'Node',
  namespaces: 'Namespace',
  namespace: 'Namespace',
  ns: 'Namespace',
};

interface DeleteFlags extends Partial<FilenameFlags>, StoreFlags {
  readonly namespace: string;
  readonly ignoreNotFound?: boolean;
}

interface Target {
  readonly kind: Kind;
  readonly namespace: string;
  readonly name: string;
  /** Where the object was named (`svc.yaml`), for kubectl's "error when deleting" wording. */
  readonly source?: string;
}

function parseKind(raw: string): Kind {
  const kind = DELETE_RESOURCE_ALIASES[raw.trim().toLowerCase()];
  if (!kind || !Object.hasOwn(DELETE_RESOURCE_ALIASES, raw.trim().toLowerCase()))
    throw new CliError(`the server doesn't have a resource type ${JSON.stringify(raw.trim())}`, EXIT_USAGE);
  return kind;
}

async function targetsOf(ctx: CliContext, args: readonly string[], flags: DeleteFlags): Promise<Target[]> {
  const files = filenamePaths(flags.filename);
  if (files.length > 0) {
    if (args.length > 0)
      throw new CliError(
        'when paths are specified with -f, resource names cannot be given as arguments',
        EXIT_USAGE,
      );
    const items = await readManifestItems(ctx, { filename: files, recursive: flags.recursive ?? false });
    return items.map(({ object, location }) => ({
      kind: object.kind,
      namespace: object.metadata.namespace || flags.namespace,
      name: object.metadata.name ?? '',
      // kubectl names the file only: `error when deleting "web.yaml"`.
      source: location.source,
    }));
  }
  const [type, ...names] = args;
  if (!type) throw new CliError('you must provide one or more resources by argument or filename', EXIT_USAGE);
  // kubectl also accepts TYPE/NAME arguments.
  if (type.includes('/')) {
    return args.map((a) => {
      const [t = '', n = ''] = a.split('/', 2);
      return { kind: parseKind(t), namespace: flags.namespace, name: n };
    });
  }
  const kind = parseKind(type);
  if (names.length === 0)
    throw new CliError(`resource(s) were provided, but no name was specified`, EXIT_USAGE);
  return names.map((name) => ({ kind, namespace: flags.namespace, name }));
}

async function deleteOne(
  ctx: CliContext,
  registry: Registry,
  t: Target,
  flags: DeleteFlags,
): Promise<boolean> {
  try {
    await registry.delete(t.kind, t.namespace, t.name);
    ctx.out(`${KIND_RESOURCE[t.kind]} ${JSON.stringify(t.name)} deleted`);
    return true;
  } catch (e) {
    if (!isStatusError(e)) throw e;
    if (e.reason === 'NotFound' && flags.ignoreNotFound) return true;
    ctx.err(
      t.source
        ? `Error from server (${e.reason}): error when deleting ${JSON.stringify(t.source)}: ${e.message}`
        : `Error from server (${e.reason}): ${e.message}`,
    );
    return false;
  }
}

/** Deletes what the arguments or manifests name; every object is tried, failures counted. */
export async function runDelete(ctx: CliContext, args: readonly string[], flags: DeleteFlags): Promise<void> {
  const targets = await targetsOf(ctx, args, flags);
  const { registry, close } = await openStoreRegistry(flags, true);
  let failures = 0;
  try {
    for (const t of targets) if (!(await deleteOne(ctx, registry, t, flags))) failures++;
    // The endpoints controller removes the slices of deleted services before we leave.
    await registry.settled();
  } finally {
    await close();
  }
  if (failures > 0) throw new CliError(`${failures} object(s) not deleted`, EXIT_INVALID, true);
}

/** Registers `svcroute delete`. */
export function registerDeleteCommand(program: Command): void {
  const cmd = program
    .command('delete')
    .description('delete objects named by manifests or by type and name from a persistent registry')
    .argument('[resources...]', 'TYPE NAME... or TYPE/NAME...')
    .option(
      '-f, --filename <paths...>',
      'manifests naming the objects to delete (files, directories, - for stdin)',
    )
    .option('-R, --recursive', 'read directories given with -f recursively', false)
    .option('-n, --namespace <namespace>', 'namespace of objects named as arguments', 'default')
    .option('--ignore-not-found', 'treat "not found" as a successful delete', false);
  addStoreOption(cmd);
  cmd.addHelpText(
    'after',
    `
Prints 'service "web" deleted' per object; an object that cannot be deleted is one
'Error from server (NotFound): …' line on stderr and the others are still deleted.

Exit status: 0 all deleted, 1 a manifest did not load or an object was not deleted, 2 usage
error.

Examples:
  svcroute delete -f web.yaml --store etcd://127.0.0.1:2379
  svcroute delete svc web api -n shop --store etcd://127.0.0.1:2379/prod`,
  );
  cmd.action(async (resources: string[], flags: DeleteFlags, command: Command) => {
    await runDelete(cliContext(command), resources, flags);
  });
}
