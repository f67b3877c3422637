/**
 * `svcroute explain [NS/]SERVICE[:PORT] -f FILE...`: the route a request to a service port takes
 * on one node — port → targetPort → endpoints, the node port, the traffic policy, topology, and
 * for every endpoint whether it is eligible and, when not, why — as kube-proxy decides it. With
 * `--store URL` instead of `-f`, about the state a persistent registry holds.
 */

import { isIP } from 'node:net';
import { type Command, Option } from 'commander';
import type { RoutingSnapshot, ServicePortEntry } from '../../core/snapshot';
import type { Node } from '../../core/types';
import type { Registry } from '../../registry';
import {
  type Explanation,
  explainInSnapshot,
  formatExplanation,
  type RoutingNode,
  type TrafficSource,
} from '../../routing';
import { loadRegistry } from '../load';
import {
  addFilenameOptions,
  addServiceRangeOptions,
  addStoreOption,
  type CliContext,
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

/** What `explain` is asked about: a service, optionally one of its ports. */
export interface ExplainTarget {
  readonly namespace: string;
  readonly name: string;
  /** A port name or number as typed; absent = every port. */
  readonly port?: string;
}

/** `-o` values of `explain`. */
export const EXPLAIN_OUTPUT_FORMATS = ['text', 'json'] as const;

/** `--traffic` values: where the request enters. `auto` = internal, plus external when exposed. */
export const EXPLAIN_TRAFFIC_SOURCES = ['auto', 'internal', 'external'] as const;

interface ExplainFlags extends FilenameFlags, ServiceRangeFlags, StoreFlags {
  readonly namespace?: string;
  readonly clientIp?: string;
  readonly node?: string;
  readonly traffic: (typeof EXPLAIN_TRAFFIC_SOURCES)[number];
  readonly output: (typeof EXPLAIN_OUTPUT_FORMATS)[number];
}

// A DNS-1123 label, the shape of namespace and service names; checked here only to give a
// usage error for a mistyped target before any file is read.
const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Parses `[NS/]NAME[:PORT]`; the namespace defaults to `defaultNamespace`.
 *
 * @throws CliError (usage) when the text is not of that shape.
 */
export function parseExplainTarget(text: string, defaultNamespace = 'default'): ExplainTarget {
  const m = /^(?:([^/:]+)\/)?([^/:]+)(?::([^/:]+))?$/.exec(text.trim());
  const ns = m?.[1] ?? defaultNamespace;
  const name = m?.[2];
  if (!m || name === undefined || !NAME.test(name) || !NAME.test(ns))
    throw new CliError(
      `invalid service ${JSON.stringify(text)}: want [NAMESPACE/]NAME[:PORT], e.g. my-ns/backend-service:http`,
      EXIT_USAGE,
    );
  return m[3] === undefined ? { namespace: ns, name } : { namespace: ns, name, port: m[3] };
}

/** The entries of `target`'s ports, matching a port by name or by number. */
function matchingPorts(snapshot: RoutingSnapshot, target: ExplainTarget): ServicePortEntry[] {
  const out: ServicePortEntry[] = [];
  for (const entry of snapshot.ports.values()) {
    const n = entry.info.name;
    if (n.namespace !== target.namespace || n.name !== target.name) continue;
    if (target.port !== undefined && n.port !== target.port && String(entry.info.port) !== target.port)
      continue;
    out.push(entry);
  }
  return out.sort((a, b) => (a.info.key < b.info.key ? -1 : a.info.key > b.info.key ? 1 : 0));
}

function describePorts(snapshot: RoutingSnapshot, namespace: string, name: string): string {
  const svc = snapshot.services.get(`${namespace}/${name}`);
  return (svc?.spec.ports ?? [])
    .map((p) => `${p.name ? `${p.name} ` : ''}${p.port}/${p.protocol ?? 'TCP'}`)
    .join(', ');
}

/**
 * Why a service has nothing to explain (not found, headless, ExternalName, no such port), as one
 * line naming the service and, where it helps, the field.
 */
function nothingToExplain(snapshot: RoutingSnapshot, target: ExplainTarget, where: string): string {
  const key = `${target.namespace}/${target.name}`;
  const svc = snapshot.services.get(key);
  if (svc === undefined) {
    const elsewhere = [...snapshot.services.keys()].filter((k) => k.endsWith(`/${target.name}`));
    const hint = elsewhere.length > 0 ? ` (found ${elsewhere.join(', ')}: give the namespace)` : '';
    return `service ${JSON.stringify(key)} not found in ${where}${hint}`;
  }
  if (svc.spec.type === 'ExternalName')
    return `service ${key} is an ExternalName service: spec.externalName ${JSON.stringify(svc.spec.externalName ?? '')} is answered by DNS as a CNAME; no proxy routes it`;
  if (svc.spec.clusterIP === 'None')
    return `service ${key} is headless (spec.clusterIP: None): no virtual IP to route; DNS returns the ready endpoints' addresses and clients connect to them directly`;
  if (target.port !== undefined)
    return `service ${key} has no port ${JSON.stringify(target.port)} in spec.ports (ports: ${describePorts(snapshot, target.namespace, target.name) || 'none'})`;
  return `service ${key} has no ports kube-proxy routes (spec.ports is empty)`;
}

/** Stands for "any node" when `--node` is absent; never a valid node name, so nothing is local. */
const UNSPECIFIED_NODE = '(unspecified)';

/** The routing node named by `--node`, with its labels when the manifests hold that Node. */
async function routingNode(
  registry: Registry,
  name: string | undefined,
): Promise<{ node: RoutingNode; known: boolean }> {
  // No node given: a name no endpoint can carry (not a valid node name), so none is local.
  if (name === undefined) return { node: { name: UNSPECIFIED_NODE }, known: true };
  const found: Node | undefined = await registry.get('Node', '', name);
  const labels = found?.metadata.labels;
  return { node: labels ? { name, labels } : { name }, known: found !== undefined };
}

/** The `-f` manifests in a new in-memory registry; any problem fails the command (exit 1). */
async function loadManifestRegistry(
  ctx: CliContext,
  flags: ExplainFlags,
): Promise<{ registry: Registry; close(): Promise<void> }> {
  const { registry } = await loadRegistry(ctx, flags);
  return { registry, close: () => registry.close() };
}

function isExposed(e: Explanation): boolean {
  return e.nodePort !== 0 || e.externalIPs.length > 0 || e.loadBalancerVIPs.length > 0;
}

function toJSON(value: unknown): string {
  // Endpoint hints are Sets; JSON has no such thing.
  return `${JSON.stringify(value, (_k, v: unknown) => (v instanceof Set ? [...v] : v), 2)}\n`;
}

/** Registers `explain`. */
export function registerExplainCommand(program: Command): void {
  const cmd = program
    .command('explain')
    .description(
      'show the route a request to a service port takes on a node: port -> targetPort -> endpoints, and why each endpoint is or is not eligible',
    )
    .argument('<service>', '[NAMESPACE/]NAME[:PORT] (PORT is a port name or number; all ports when absent)')
    .option('-n, --namespace <namespace>', 'namespace of a service given without one', 'default')
    .option(
      '--client-ip <ip>',
      'the client address (reported for ClientIP session affinity and source ranges)',
    )
    .option(
      '--node <name>',
      'the node doing the routing: endpoints on it are local (Local traffic policies), its zone label drives topology hints',
    )
    .addOption(
      new Option(
        '--traffic <source>',
        'where the request enters: internal (cluster IP), external (node port, external IP, load balancer), or auto (internal, plus external when exposed)',
      )
        .choices(EXPLAIN_TRAFFIC_SOURCES)
        .default('auto'),
    )
    .addOption(
      new Option('-o, --output <format>', 'output format').choices(EXPLAIN_OUTPUT_FORMATS).default('text'),
    );
  addFilenameOptions(cmd, 'manifests to load (services, pods, endpoint slices, nodes)', false);
  addServiceRangeOptions(cmd);
  addStoreOption(cmd);
  cmd.addHelpText(
    'after',
    `
The manifests are loaded as "svcroute get" loads them (endpoint slices computed from pods for
services with a selector). The answer follows kube-proxy (v1.34): ready endpoints, or serving
terminating ones when none is ready; internalTrafficPolicy for cluster IP traffic,
externalTrafficPolicy for node ports, external IPs and load balancers; topology hints under
trafficDistribution PreferSameZone / PreferSameNode. Without --node, no endpoint is local.
With --store instead of -f, the state is read from that persistent registry (exactly one of -f
and --store is required).

Exit status: 0 explained (also when the outcome is DROP or REJECT), 1 invalid input
(unreadable manifest, rejected object, service or port not found, nothing to route),
2 usage error.

Examples:
  svcroute explain my-ns/backend-service -f app.yaml
  svcroute explain default/nginx:80 --traffic external --node node-a -f cluster/
  svcroute explain web:http --client-ip 10.1.2.3 --node node-b -f dump.yaml -o json
  svcroute explain default/web --store etcd://127.0.0.1:2379`,
  );
  cmd.action(async (serviceArg: string, flags: ExplainFlags, command: Command) => {
    const ctx = cliContext(command);
    const target = parseExplainTarget(serviceArg, flags.namespace ?? 'default');
    if (flags.clientIp !== undefined && isIP(flags.clientIp) === 0)
      throw new CliError(
        `invalid argument ${JSON.stringify(flags.clientIp)} for "--client-ip" flag: not an IP address`,
        EXIT_USAGE,
      );
    const source = readSourceFromFlags(command, flags);
    const { registry, close } =
      source === 'files'
        ? await loadManifestRegistry(ctx, flags)
        : await openStoreRegistry(flags, true, { runControllers: false });
    try {
      // The snapshot catches up with the store's content in a scheduled flush.
      await registry.settled();
      const snapshot = registry.snapshot();
      const entries = matchingPorts(snapshot, target);
      if (entries.length === 0) {
        const where = source === 'files' ? (flags.filename ?? []).join(', ') : (flags.store ?? '').trim();
        throw new CliError(nothingToExplain(snapshot, target, where), EXIT_INVALID);
      }
      const { node, known } = await routingNode(registry, flags.node);
      if (!known)
        ctx.err(
          `warning: no Node ${JSON.stringify(flags.node)} in the manifests; assuming it has no zone label`,
        );
      const explanations: Explanation[] = [];
      for (const entry of entries) {
        const sources: TrafficSource[] = [];
        if (flags.traffic !== 'external') sources.push('internal');
        if (flags.traffic === 'external') sources.push('external');
        for (const source of sources) {
          const [e] = explainInSnapshot(snapshot, entry.info.key, {
            node,
            source,
            ...(flags.clientIp !== undefined ? { clientIP: flags.clientIp } : {}),
          });
          if (e !== undefined) explanations.push(e);
          if (flags.traffic === 'auto' && e !== undefined && isExposed(e)) {
            const [ext] = explainInSnapshot(snapshot, entry.info.key, {
              node,
              source: 'external',
              ...(flags.clientIp !== undefined ? { clientIP: flags.clientIp } : {}),
            });
            if (ext !== undefined) explanations.push(ext);
          }
        }
      }
      if (flags.output === 'json') {
        ctx.stdout.write(toJSON(explanations));
        return;
      }
      ctx.stdout.write(explanations.map(formatExplanation).join('\n'));
    } finally {
      await close();
    }
  });
}
