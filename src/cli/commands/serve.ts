/**
 * `svcroute serve -f DIR|FILE... [--dns ADDR] [--proxy]`: a local service network for
 * development. The manifests are loaded into one long-lived registry; the cluster DNS server
 * and the userspace proxy follow it, and a change to the files is applied to it as `kubectl
 * apply` would (objects added, changed, and those no longer in the files deleted), so the
 * backends see incremental updates and listeners of unchanged services stay open.
 */

import { type Command, Option } from 'commander';
import { attachBackend, type Backend, type SnapshotSource } from '../../backends/backend';
import { type DnsBackend, serveDns } from '../../backends/dns';
import { InprocessProxyBackend } from '../../backends/inprocess';
import type { RoutingSnapshot } from '../../core/snapshot';
import type { Registry } from '../../registry';
import { type CliContext, CliError, cliContext, EXIT_USAGE } from '../context';
import type { Watching } from '../reload';
import { openServingRegistry } from '../serving-registry';
import {
  addFilenameOptions,
  addServiceRangeOptions,
  addStoreOption,
  type FilenameFlags,
  filenamePaths,
  formatHostPort,
  listenError,
  parseIPFlag,
  parseListenFlag,
  readSourceFromFlags,
  type ServiceRangeFlags,
  type StoreFlags,
} from '../shared';
import { describeListener } from './proxy';

/** The flags of `serve`. */
export interface ServeFlags extends FilenameFlags, ServiceRangeFlags, StoreFlags {
  /** Serve cluster DNS on this `IP:PORT`. */
  readonly dns?: string;
  /** Run the userspace proxy. */
  readonly proxy?: boolean;
  /** Address NodePorts listen on (default 127.0.0.1). */
  readonly nodeIp?: string;
  /** Address cluster IP ports listen on when the cluster IP is not on this host. */
  readonly bind?: string;
  /** Port used on the bind address: the service port, or any free port. */
  readonly portalPort?: 'service' | 'auto';
  /** The node this process stands for (local endpoints for Local traffic policies). */
  readonly nodeName?: string;
  /** Cluster domain. */
  readonly zone?: string;
  /** Reload on file change (default true; `--no-watch` turns it off). */
  readonly watch?: boolean;
}

const DEFAULT_NODE_IP = '127.0.0.1';

/** The cluster domain (kubelet's --cluster-domain as clusters are usually set up). */
const DEFAULT_ZONE = 'cluster.local';

/** Feeds a registry's snapshots to a backend; `caughtUp` waits for the registry and the backend. */
function follow(
  registry: Registry,
  source: SnapshotSource,
  backend: Backend,
  onError: (e: Error) => void,
): { caughtUp(): Promise<void>; stop(): void } {
  const attached = attachBackend(source, backend, { onError });
  return {
    caughtUp: async () => {
      await registry.settled();
      await attached.idle();
    },
    stop: () => attached.detach(),
  };
}

/** Checks a flag value given programmatically with the flag's own parser (a usage error). */
function checkFlag(flag: string, value: string | undefined, parse: (value: string) => unknown): void {
  if (value === undefined) return;
  try {
    parse(value);
  } catch (e) {
    throw new CliError(
      `invalid argument ${JSON.stringify(value)} for "${flag}" flag: ${e instanceof Error ? e.message : String(e)}`,
      EXIT_USAGE,
    );
  }
}

/**
 * Runs `serve` until `signal` aborts: loads the files, starts the requested backends, prints
 * what it serves, reloads on change. Resolves once everything is closed.
 *
 * @throws CliError for usage errors and for files that do not load at start-up.
 */
export async function runServe(ctx: CliContext, flags: ServeFlags, signal: AbortSignal): Promise<void> {
  if (flags.dns === undefined && !flags.proxy)
    throw new CliError('nothing to serve: give --dns IP:PORT, --proxy, or both', EXIT_USAGE);
  checkFlag('--dns', flags.dns, parseListenFlag);
  checkFlag('--node-ip', flags.nodeIp, parseIPFlag);
  checkFlag('--bind', flags.bind, parseIPFlag);
  const zone = flags.zone ?? DEFAULT_ZONE;
  // With a store, the registry follows it live (a reader: the writers' controllers maintain the
  // slices) and nothing is loaded or watched; every backend follows the registry.
  const serving = await openServingRegistry(ctx, flags);
  // Backends follow the registry through the sync, which hands them each reload at once.
  const { registry, sync, source } = serving;
  const closers: (() => Promise<void>)[] = [() => serving.close()];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
  };
  registry.on('error', (e) => ctx.err(`warning: ${e.message}`));
  let watching: Watching | undefined;
  try {
    await registry.ready();
    const services = () => registry.snapshot().services.size;
    const followers: { caughtUp(): Promise<void> }[] = [];
    if (sync) {
      const first = await sync.applyOrFail();
      // Watching starts right after the first load, so that no edit made meanwhile is missed.
      if (flags.watch ?? true) watching = sync.watch();
      ctx.out(
        `loaded ${first.keys.size} object(s), ${services()} service(s) from ${filenamePaths(flags.filename).join(', ')}`,
      );
    } else ctx.out(`following ${flags.store ?? ''}: ${services()} service(s)`);
    for (const line of describeServices(registry.snapshot(), zone)) ctx.out(`  ${line}`);

    if (flags.dns !== undefined) {
      const listen = flags.dns;
      let dns: DnsBackend;
      try {
        dns = await serveDns(source, { listen, zone, onError: (e) => ctx.err(`dns: ${e.message}`) });
      } catch (e) {
        throw listenError('--dns', listen, e);
      }
      closers.push(() => dns.close());
      const { host, port } = await dns.start();
      ctx.out(`dns: listening udp+tcp ${formatHostPort(host, port)} (zone ${zone})`);
    }
    if (flags.proxy) {
      const proxy = new InprocessProxyBackend({
        nodeAddresses: [flags.nodeIp ?? DEFAULT_NODE_IP],
        portalAddresses: flags.bind !== undefined ? [flags.bind] : [],
        portalPort: flags.portalPort ?? 'service',
        ...(flags.nodeName !== undefined ? { node: { name: flags.nodeName } } : {}),
      });
      proxy.on('listening', (l) => ctx.out(`proxy: ${describeListener('listening', l)}`));
      // A listener that stays open while its service port changes is announced again.
      proxy.on('listenerChanged', (l) => ctx.out(`proxy: ${describeListener('listening', l)}`));
      proxy.on('listenerClosed', (l) => ctx.out(`proxy: ${describeListener('closed', l)}`));
      proxy.on('listenError', (spec, e) =>
        ctx.err(
          `error: proxy: cannot listen on ${spec.protocol.toLowerCase()} ${formatHostPort(spec.address, spec.port)} for ${spec.routeKey}: ${e.message}`,
        ),
      );
      const following = follow(registry, source, proxy, (e) => ctx.err(`proxy: ${e.message}`));
      closers.push(async () => {
        following.stop();
        await proxy.close();
      });
      followers.push(following);
      if (flags.bind === undefined)
        ctx.out(
          `proxy: node ports on ${flags.nodeIp ?? DEFAULT_NODE_IP}; cluster IP ports are not proxied (give --bind IP to listen for them)`,
        );
    }
    for (const f of followers) await f.caughtUp();
    ctx.out('ready');

    if (!signal.aborted)
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    // Stop reloading before the backends go away.
    await watching?.close();
    ctx.out('stopping');
  } finally {
    await watching?.close();
    await closeAll();
  }
}

/**
 * One line per service: its DNS name, what it resolves to, its ports and how many endpoints are
 * ready, e.g. `backend-service.my-ns.svc.cluster.local  10.96.4.7  80/TCP  2/3 endpoints ready`.
 */
export function describeServices(snapshot: RoutingSnapshot, zone: string): string[] {
  const rows: string[][] = [];
  for (const key of [...snapshot.services.keys()].sort()) {
    const svc = snapshot.services.get(key);
    if (svc === undefined) continue;
    const [ns, name] = key.split('/');
    const address =
      svc.spec.type === 'ExternalName'
        ? `CNAME ${svc.spec.externalName ?? ''}`
        : svc.spec.clusterIP === 'None'
          ? 'headless'
          : (svc.spec.clusterIPs ?? [svc.spec.clusterIP ?? '']).join(',');
    const ports = (svc.spec.ports ?? [])
      .map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol ?? 'TCP'}`)
      .join(',');
    const endpoints = new Map<string, boolean>();
    for (const slice of snapshot.endpointSlices.get(key) ?? [])
      for (const ep of slice.endpoints ?? [])
        for (const ip of ep.addresses)
          endpoints.set(ip, endpoints.get(ip) === true || ep.conditions?.ready !== false);
    const ready = [...endpoints.values()].filter(Boolean).length;
    rows.push([
      `${name}.${ns}.svc.${zone}`,
      address,
      ports || '<none>',
      `${ready}/${endpoints.size} endpoints ready`,
    ]);
  }
  const widths = rows.reduce<number[]>((w, r) => r.map((c, i) => Math.max(w[i] ?? 0, c.length)), []);
  return rows.map((r) => r.map((c, i) => (i < r.length - 1 ? c.padEnd(widths[i] ?? 0) : c)).join('  '));
}

/** Registers `serve`. */
export function registerServeCommand(program: Command): void {
  const cmd = program
    .command('serve')
    .description(
      'serve cluster DNS and the userspace proxy for the objects in manifests, reloading when they change',
    )
    .option(
      '--dns <addr>',
      'serve cluster DNS (UDP and TCP) on IP:PORT, e.g. 127.0.0.1:5353',
      parseListenFlag,
    )
    .option('--proxy', 'run the userspace proxy: NodePorts on --node-ip, cluster IP ports on --bind', false)
    .option('--node-ip <ip>', `address NodePorts listen on (default ${DEFAULT_NODE_IP})`, parseIPFlag)
    .option(
      '--bind <ip>',
      'address cluster IP ports listen on (none by default: cluster IPs are virtual)',
      parseIPFlag,
    )
    .addOption(
      new Option('--portal-port <mode>', 'port on the --bind address: the service port, or any free port')
        .choices(['service', 'auto'])
        .default('service'),
    )
    .option('--node-name <name>', 'node name this process stands for, for Local traffic policies')
    .option('--zone <domain>', 'cluster domain of the DNS zone', DEFAULT_ZONE)
    .option('--no-watch', 'do not reload when the files change');
  addFilenameOptions(cmd, 'manifests to serve', false);
  addServiceRangeOptions(cmd);
  addStoreOption(cmd);
  cmd.addHelpText(
    'after',
    `
With --store etcd://HOST:PORT[/prefix] instead of -f, serves that persistent registry and
follows it live: objects applied by other processes are answered and proxied without a
restart (exactly one of -f and --store is required).

Prints one line per thing served ("dns: listening udp+tcp ADDR", "proxy: listening tcp
ADDR:PORT -> ns/svc:port"), then "ready". When a file changes, its objects are applied
again and objects removed from the files are deleted: DNS answers and proxy listeners follow,
and "reloaded: …" goes to stderr. A problem is one "error: FILE: …" line: an object the
registry rejects keeps its previous version, files that do not parse change nothing. Stops on
SIGINT/SIGTERM.

DNS answers with cluster IPs, as in a cluster; unless those addresses exist on this host, reach
the services through the proxy's node ports or the --bind address.

A proxy listener that cannot be opened (port taken, address not on this host) is reported on
stderr and the others keep serving.

Exit status: 0 stopped by a signal, 1 the manifests did not load at start or the DNS address
could not be bound, 2 usage error.

Examples:
  svcroute serve -f examples/seed/manifests/ --dns 127.0.0.1:5353 --proxy
  svcroute serve -f app.yaml --proxy --node-ip 127.0.0.1 --bind 127.0.0.1 --portal-port auto
  dig @127.0.0.1 -p 5353 backend-service.my-ns.svc.cluster.local`,
  );
  cmd.action(async (opts: ServeFlags, command: Command) => {
    const ctx = cliContext(command);
    // Exactly one source: files (watched) or a store (followed live).
    const { store: _fromEnv, ...fileFlags } = opts;
    const flags: ServeFlags = readSourceFromFlags(command, opts) === 'files' ? fileFlags : opts;
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      await runServe(ctx, flags, stop.signal);
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  });
}
