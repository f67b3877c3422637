/**
 * `svcroute get services|endpointslices|pods -f FILE...`: load manifests into a registry (cluster
 * IPs and node ports allocated, the endpoints controller run) and print the result as
 * `kubectl get` prints it from an API server. With `--store URL` instead of `-f`, list what a
 * persistent registry holds.
 */

import { type Command, Option } from 'commander';
import type { Kind, KubeObject } from '../../core/types';
import { Selector } from '../../selector';
import { loadRegistry, objectKey } from '../load';
import { printTable, type TableKind } from '../printers';
import { asList, type ListEnvelope, printJSON, printYAML } from '../printers/structured';
import {
  addFilenameOptions,
  addServiceRangeOptions,
  addStoreOption,
  CliError,
  cliContext,
  EXIT_INVALID,
  EXIT_USAGE,
  type FilenameFlags,
  openStoreRegistry,
  readSourceFromFlags,
  type ServiceRangeFlags,
  type StoreFlags,
} from '../shared';

/** Resource names `get` accepts (kubectl's plural, singular and short names) and their kinds. */
export const GET_RESOURCE_ALIASES: Readonly<Record<string, readonly TableKind[]>> = {
  services: ['Service'],
  service: ['Service'],
  svc: ['Service'],
  endpointslices: ['EndpointSlice'],
  endpointslice: ['EndpointSlice'],
  'endpointslices.discovery.k8s.io': ['EndpointSlice'],
  'endpointslice.discovery.k8s.io': ['EndpointSlice'],
  pods: ['Pod'],
  pod: ['Pod'],
  po: ['Pod'],
  // kubectl's "all" category, restricted to what svcroute serves (pods first, as kubectl lists).
  all: ['Pod', 'Service'],
};

const RESOURCE_PLURAL: Record<TableKind, string> = {
  Service: 'services',
  EndpointSlice: 'endpointslices.discovery.k8s.io',
  Pod: 'pods',
};

const RESOURCE_SINGULAR: Record<TableKind, string> = {
  Service: 'service',
  EndpointSlice: 'endpointslice.discovery.k8s.io',
  Pod: 'pod',
};

/** `-o` values `get` supports. */
export const GET_OUTPUT_FORMATS = ['wide', 'yaml', 'json', 'name'] as const;

interface GetFlags extends FilenameFlags, ServiceRangeFlags, StoreFlags {
  readonly namespace: string;
  readonly allNamespaces?: boolean;
  readonly selector?: string;
  readonly output?: (typeof GET_OUTPUT_FORMATS)[number];
}

/** Parses `svc,pods` into kinds, in order, without repeats. */
export function parseResourceTypes(arg: string): TableKind[] {
  const kinds: TableKind[] = [];
  for (const raw of arg.split(',')) {
    const name = raw.trim().toLowerCase();
    const resolved = Object.hasOwn(GET_RESOURCE_ALIASES, name) ? GET_RESOURCE_ALIASES[name] : undefined;
    // kubectl's message, word for word (the help lists what svcroute serves).
    if (!resolved)
      throw new CliError(`the server doesn't have a resource type ${JSON.stringify(raw.trim())}`, EXIT_USAGE);
    for (const k of resolved) if (!kinds.includes(k)) kinds.push(k);
  }
  return kinds;
}

/** What `get` was asked for: kinds to list, or objects by name (in the order given). */
interface GetArguments {
  readonly kinds: readonly TableKind[];
  readonly lookups?: readonly { readonly kind: TableKind; readonly name: string }[];
}

/**
 * Reads `get`'s arguments as kubectl does: `TYPE[,TYPE...] [NAME...]` or `TYPE/NAME...` (the
 * two forms do not mix; names need exactly one type).
 */
function parseGetArguments(resource: string, names: readonly string[]): GetArguments {
  if (resource.includes('/')) {
    const lookups = [resource, ...names].map((arg) => {
      const slash = arg.indexOf('/');
      const name = arg.slice(slash + 1);
      if (slash <= 0 || name === '' || name.includes('/'))
        throw new CliError(
          'arguments in resource/name form must have a single resource and name',
          EXIT_USAGE,
        );
      const kinds = parseResourceTypes(arg.slice(0, slash));
      const [kind] = kinds;
      if (kind === undefined || kinds.length > 1)
        throw new CliError('you must specify only one resource', EXIT_USAGE);
      return { kind, name };
    });
    return { kinds: [...new Set(lookups.map((l) => l.kind))], lookups };
  }
  const kinds = parseResourceTypes(resource);
  if (names.length === 0) return { kinds };
  if (names.some((n) => n.includes('/')))
    throw new CliError(
      "there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'svcroute get resource/<resource_name>' instead of 'svcroute get resource resource/<resource_name>')",
      EXIT_USAGE,
    );
  const [kind] = kinds;
  if (kind === undefined || kinds.length > 1)
    throw new CliError('you must specify only one resource', EXIT_USAGE);
  return { kinds, lookups: names.map((name) => ({ kind, name })) };
}

/**
 * The object as it is shown: `creationTimestamp` only when its manifest had one (the registry
 * stamps everything it creates, but a manifest's object has no real age); structured output
 * shows `null` for it, as kubectl does for an object without one. `timestamped` is `all` for a
 * persistent registry, where the stamp is the object's real creation time.
 */
function presented(o: KubeObject, timestamped: ReadonlySet<string> | 'all', structured: boolean): KubeObject {
  const copy = structuredClone(o) as KubeObject;
  if (timestamped !== 'all' && !timestamped.has(objectKey(o.kind, o.metadata.namespace, o.metadata.name))) {
    if (structured) (copy.metadata as Record<string, unknown>)['creationTimestamp'] = null;
    else delete copy.metadata.creationTimestamp;
  }
  return copy;
}

/**
 * kubectl hides `metadata.managedFields` in `-o json|yaml` unless `--show-managed-fields` is
 * given; svcroute has no such flag and always hides them.
 */
function withoutManagedFields<T extends KubeObject | ListEnvelope>(value: T): T {
  const strip = (o: KubeObject): KubeObject => {
    const meta = o.metadata as Record<string, unknown> | undefined;
    if (meta === undefined || !Object.hasOwn(meta, 'managedFields')) return o;
    const { managedFields: _hidden, ...metadata } = meta;
    return { ...o, metadata } as KubeObject;
  };
  if (value.kind === 'List') {
    const list = value as ListEnvelope;
    return { ...list, items: list.items.map((i) => strip(i as KubeObject)) } as T;
  }
  return strip(value as KubeObject) as T;
}

/** Registers `get`. */
export function registerGetCommand(program: Command): void {
  const cmd = program
    .command('get')
    .description('load manifests into a registry and list services, endpointslices or pods as kubectl does')
    .argument(
      '<resource>',
      'services (svc), endpointslices, pods (po), all; comma-separated for several; or TYPE/NAME',
    )
    .argument('[names...]', 'only these objects (or more TYPE/NAME)')
    .option('-n, --namespace <namespace>', 'namespace to list', 'default')
    .option('-A, --all-namespaces', 'list across all namespaces (adds a NAMESPACE column)', false)
    .option('-l, --selector <selector>', "label selector, e.g. 'app=web,tier in (front,back),!canary'")
    .addOption(new Option('-o, --output <format>', 'output format').choices(GET_OUTPUT_FORMATS));
  addFilenameOptions(cmd, 'manifests to load', false);
  addServiceRangeOptions(cmd);
  addStoreOption(cmd);
  cmd.addHelpText(
    'after',
    `
Cluster IPs and node ports missing from the manifests are allocated (deterministically) from
10.96.0.0/12 and 30000-32767; values present are taken as they are, as in a dump of a live
cluster. With --service-cluster-ip-range or --service-node-port-range, every value is checked
against the ranges with the API server's messages. EndpointSlices of services with a selector
are computed from the pods, as the endpoints controller does; legacy Endpoints of services
without one are mirrored. With --store instead of -f, the objects are read from that persistent
registry as they are stored (exactly one of -f and --store is required). Output follows kubectl:
-o json|yaml leave out metadata.managedFields, and YAML is written as go-yaml writes it.

Exit status: 0 listed (also when nothing matched), 1 invalid input (unreadable manifest,
rejected object, bad selector, object not found), 2 usage error.

Examples:
  svcroute get svc -f manifests/
  svcroute get endpointslices -A -f dump.yaml -o wide
  svcroute get pods -l app=web -f pods.yaml -o json
  svcroute get svc web -f app.yaml --service-node-port-range 30000-30100
  svcroute get svc/web pod/web-0 -n shop -f dump.yaml
  svcroute get svc -A --store etcd://127.0.0.1:2379`,
  );
  cmd.action(async (resource: string, names: string[], flags: GetFlags, command: Command) => {
    const ctx = cliContext(command);
    const { kinds, lookups } = parseGetArguments(resource, names);
    const source = readSourceFromFlags(command, flags);
    // kubectl's wording for the same mistakes.
    if (lookups && flags.selector !== undefined)
      throw new CliError('name cannot be provided when a selector is specified', EXIT_USAGE);
    if (lookups && flags.allNamespaces)
      throw new CliError('a resource cannot be retrieved by name across all namespaces', EXIT_USAGE);
    let selector: Selector | undefined;
    if (flags.selector !== undefined) {
      try {
        selector = Selector.parse(flags.selector);
      } catch (e) {
        throw new CliError(e instanceof Error ? e.message : String(e), EXIT_INVALID);
      }
    }

    // A reader runs no controllers: the writers' endpoints controller maintains the slices.
    const { registry, timestamped, close } =
      source === 'files'
        ? await loadRegistry(ctx, flags).then((l) => ({ ...l, close: () => l.registry.close() }))
        : await openStoreRegistry(flags, true, { runControllers: false }).then((s) => ({
            ...s,
            timestamped: 'all' as const,
          }));
    try {
      const namespace = flags.allNamespaces ? undefined : flags.namespace;
      const structured = flags.output === 'json' || flags.output === 'yaml';
      // Runs of objects of one kind, in the order they are printed (one table per run).
      const found: { kind: TableKind; objects: KubeObject[] }[] = [];
      if (lookups) {
        // Objects asked for by name come in the order asked.
        for (const { kind, name } of lookups) {
          const o = await registry.get(kind as Kind, flags.namespace, name);
          if (!o) {
            ctx.err(
              `Error from server (NotFound): ${RESOURCE_PLURAL[kind]} ${JSON.stringify(name)} not found`,
            );
            ctx.fail(EXIT_INVALID);
            continue;
          }
          const shown = presented(o as KubeObject, timestamped, structured);
          const run = found[found.length - 1];
          if (run?.kind === kind) run.objects.push(shown);
          else found.push({ kind, objects: [shown] });
        }
      } else {
        for (const kind of kinds) {
          // In the API server's list order (storage key), as the registry lists.
          const objects: KubeObject[] = await registry.list(kind as Kind, {
            ...(namespace !== undefined ? { namespace } : {}),
            ...(selector ? { labelSelector: selector } : {}),
          });
          found.push({ kind, objects: objects.map((o) => presented(o, timestamped, structured)) });
        }
      }
      const all = found.flatMap((f) => f.objects);
      // kubectl's "single item implied": one object asked for by name. It prints bare; when it
      // is missing, only the error is printed.
      const singleItemImplied = lookups?.length === 1;

      if (structured) {
        if (singleItemImplied && all.length === 0) return;
        const value = singleItemImplied && all[0] ? all[0] : asList(all);
        const shown = withoutManagedFields(value);
        ctx.stdout.write(flags.output === 'json' ? printJSON(shown) : printYAML(shown));
        return;
      }
      if (flags.output === 'name') {
        for (const f of found)
          for (const o of f.objects) ctx.out(`${RESOURCE_SINGULAR[f.kind]}/${o.metadata.name ?? ''}`);
        return;
      }
      if (all.length === 0) {
        if (!lookups)
          ctx.err(
            namespace === undefined ? 'No resources found' : `No resources found in ${namespace} namespace.`,
          );
        return;
      }
      const now = ctx.now();
      const groups = found.filter((f) => f.objects.length > 0);
      // kubectl prefixes names with the kind only when the objects found are of several kinds.
      const withKind = new Set(groups.map((g) => g.kind)).size > 1;
      const tables = groups.map((f) =>
        printTable(f.kind, f.objects, {
          now,
          wide: flags.output === 'wide',
          withNamespace: namespace === undefined,
          withKind,
        }),
      );
      ctx.stdout.write(tables.join('\n'));
    } finally {
      await close();
    }
  });
}
