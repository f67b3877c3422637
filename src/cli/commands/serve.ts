/**
 * `svcroute serve -f DIR|FILE... [--dns ADDR] [--proxy]`: a local service network for
 * development. The manifests are loaded into one long-lived registry; the cluster DNS server
 * and the userspace proxy follow it, and a change to the files is applied to it as `kubectl
 * apply` would (objects added, changed, and those no longer in the files deleted), so the
 * backends see incremental updates and listeners of unchanged services stay open.
 */

import { type FSWatcher, watch } from 'node:fs';
import { isIP } from 'node:net';
import { type Command, Option } from 'commander';
import { attachBackend, type Backend } from '../../backends/backend';
import { type DnsBackend, serveDns } from '../../backends/dns';
import { InprocessProxyBackend } from '../../backends/inprocess';
import { formatFieldError, isStatusError, type StatusError } from '../../core/errors';
import type { RoutingSnapshot } from '../../core/snapshot';
import type { Kind } from '../../core/types';
import type { ManifestItem } from '../../manifest';
import { Registry } from '../../registry';
import { CliContext } from '../context';
import {
  addFilenameOptions,
  addServiceRangeOptions,
  addStoreOption,
  CliError,
  cliContext,
  describeLocation,
  EXIT_USAGE,
  type FilenameFlags,
  filenamePaths,
  objectKey,
  openStoreRegistry,
  readManifestFlags,
  readSourceFromFlags,
  registryOptionsFromFlags,
  type ServiceRangeFlags,
  type StoreFlags,
  sortForCreation,
} from '../shared';
import { describeListener } from './proxy';

/** Quiet period after a file change before reloading, in ms: editors write files in bursts. */
export const SERVE_RELOAD_DEBOUNCE_MS = 200;

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

type Key = string;

function itemKey(item: ManifestItem): Key {
  const m = item.object.metadata;
  return objectKey(item.object.kind, m.namespace, m.name);
}

function splitKey(key: Key): { kind: Kind; namespace: string; name: string } {
  const [kind, namespace, ...rest] = key.split('/');
  return { kind: kind as Kind, namespace: namespace ?? '', name: rest.join('/') };
}

/** Feeds a registry's snapshots to a backend; `caughtUp` waits for the registry and the backend. */
function follow(
  registry: Registry,
  backend: Backend,
  onError: (e: Error) => void,
): { caughtUp(): Promise<void>; stop(): void } {
  const attached = attachBackend(registry, backend, { onError });
  return {
    caughtUp: async () => {
      await registry.settled();
      await attached.idle();
    },
    stop: () => attached.detach(),
  };
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** What one load of the files did to the registry. */
export interface ApplySummary {
  /** Objects new to the registry. */
  created: number;
  /** Objects that existed and changed. */
  configured: number;
  /** Objects of the previous load no longer in the files, deleted. */
  deleted: number;
  /** Objects the registry refused (each reported); their previous version, if any, is kept. */
  rejected: number;
  /** `Kind/namespace/name` of every object the files now hold (rejected ones included). */
  keys: Set<string>;
}

/**
 * One line per problem with an object the registry refused, each naming the file (and document),
 * the object and, for validation errors, the field:
 * `error: app.yaml (document 2): Service my-ns/web: spec.ports[0].port: Invalid value: …`.
 */
export function describeRejection(e: StatusError, item: ManifestItem): string[] {
  const o = item.object;
  const ns = o.kind === 'Node' || o.kind === 'Namespace' ? '' : `${o.metadata.namespace || 'default'}/`;
  const where = `error: ${describeLocation(item.location)}: ${o.kind} ${ns}${o.metadata.name ?? ''}`;
  if (e.reason === 'Invalid' && e.causes.length > 0)
    return e.causes.map((c) => `${where}: ${formatFieldError(c)}`);
  return [`${where}: ${e.message}`];
}

/**
 * Applies the files' objects to `registry` and deletes objects a previous load created that
 * the files no longer hold. Rejected objects are reported ({@link describeRejection}) and
 * skipped; unreadable manifests are reported and nothing is applied (undefined is returned).
 */
export async function applyManifestFiles(
  ctx: CliContext,
  flags: ServeFlags,
  registry: Registry,
  previous: ReadonlySet<Key>,
): Promise<ApplySummary | undefined> {
  const result = await readManifestFlags(ctx, flags);
  if (result.errors.length > 0) {
    for (const e of result.errors) ctx.err(`error: ${e.message}`);
    return undefined;
  }
  const summary: ApplySummary = { created: 0, configured: 0, deleted: 0, rejected: 0, keys: new Set() };
  for (const item of sortForCreation(result.items)) {
    summary.keys.add(itemKey(item));
    try {
      const { action } = await registry.apply(item.object);
      if (action === 'created') summary.created++;
      else if (action === 'configured') summary.configured++;
    } catch (e) {
      if (!isStatusError(e)) throw e;
      for (const line of describeRejection(e, item)) ctx.err(line);
      summary.rejected++;
    }
  }
  // Dependents first (pods before services, services before namespaces), the reverse of creation.
  const gone = [...previous].filter((k) => !summary.keys.has(k)).reverse();
  for (const key of gone) {
    const { kind, namespace, name } = splitKey(key);
    try {
      await registry.delete(kind, namespace, name);
      summary.deleted++;
    } catch (e) {
      if (!(isStatusError(e) && e.reason === 'NotFound')) throw e;
    }
  }
  await registry.settled();
  return summary;
}

function checkAddress(flag: string, value: string | undefined): void {
  if (value !== undefined && isIP(value) === 0)
    throw new CliError(
      `invalid argument ${JSON.stringify(value)} for "${flag}" flag: not an IP address`,
      EXIT_USAGE,
    );
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
  checkAddress('--node-ip', flags.nodeIp);
  checkAddress('--bind', flags.bind);
  // With a store, the registry follows it live (a reader: the writers' controllers maintain the
  // slices) and nothing is loaded or watched; every backend follows the registry.
  const live =
    flags.store !== undefined && flags.store.trim() !== ''
      ? await openStoreRegistry(flags, true, { runControllers: false })
      : undefined;
  const registry = live ? live.registry : new Registry(registryOptionsFromFlags(flags));
  // Standard input can be read once; a reload (another file changed) reuses what it held.
  let stdinText: Promise<string> | undefined;
  const loadCtx = new CliContext({
    stdout: ctx.stdout,
    stderr: ctx.stderr,
    readStdin: () => {
      stdinText ??= ctx.readStdin();
      return stdinText;
    },
    now: ctx.now,
  });
  const closers: (() => Promise<void>)[] = [() => (live ? live.close() : registry.close())];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
  };
  registry.on('error', (e) => ctx.err(`warning: ${e.message}`));
  const files = filenamePaths(flags.filename);
  try {
    await registry.ready();
    const services = () => registry.snapshot().services.size;
    let owned = new Set<string>();
    if (live) ctx.out(`following ${flags.store ?? ''}: ${services()} service(s)`);
    else {
      const first = await applyManifestFiles(loadCtx, flags, registry, new Set());
      if (first === undefined) throw new CliError('the manifests did not load', 1, true);
      if (first.rejected > 0) throw new CliError(`${first.rejected} object(s) rejected`, 1, true);
      owned = first.keys;
      ctx.out(`loaded ${first.keys.size} object(s), ${services()} service(s) from ${files.join(', ')}`);
    }
    for (const line of describeServices(registry.snapshot(), flags.zone ?? 'cluster.local'))
      ctx.out(`  ${line}`);

    const followers: { caughtUp(): Promise<void> }[] = [];
    if (flags.dns !== undefined) {
      let dns: DnsBackend;
      try {
        dns = await serveDns(registry, {
          listen: flags.dns,
          ...(flags.zone !== undefined ? { zone: flags.zone } : {}),
          onError: (e) => ctx.err(`dns: ${e.message}`),
        });
      } catch (e) {
        throw new CliError(
          `--dns ${flags.dns}: ${asError(e).message}`,
          isListenSyntaxError(e) ? EXIT_USAGE : 1,
        );
      }
      closers.push(() => dns.close());
      const { host, port } = await dns.start();
      ctx.out(`dns: listening udp+tcp ${hostPort(host, port)} (zone ${flags.zone ?? 'cluster.local'})`);
    }
    if (flags.proxy) {
      const proxy = new InprocessProxyBackend({
        nodeAddresses: [flags.nodeIp ?? DEFAULT_NODE_IP],
        portalAddresses: flags.bind !== undefined ? [flags.bind] : [],
        portalPort: flags.portalPort ?? 'service',
        ...(flags.nodeName !== undefined ? { node: { name: flags.nodeName } } : {}),
      });
      proxy.on('listening', (l) =>
        ctx.out(`proxy: ${describeListener('listening', l, registry.snapshot())}`),
      );
      proxy.on('listenerClosed', (l) =>
        ctx.out(`proxy: ${describeListener('closed', l, registry.snapshot())}`),
      );
      proxy.on('listenError', (spec, e) =>
        ctx.err(
          `proxy: cannot listen on ${spec.protocol} ${hostPort(spec.address, spec.port)} for ${spec.routeKey}: ${e.message}`,
        ),
      );
      const following = follow(registry, proxy, (e) => ctx.err(`proxy: ${e.message}`));
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

    let reloading: Promise<void> | undefined;
    let again = false;
    const reload = () => {
      if (reloading) {
        again = true;
        return;
      }
      reloading = (async () => {
        do {
          again = false;
          try {
            const s = await applyManifestFiles(loadCtx, flags, registry, owned);
            if (s === undefined) {
              ctx.err('reload failed: still serving the previous state');
              continue;
            }
            owned = s.keys;
            for (const f of followers) await f.caughtUp();
            ctx.out(
              `reloaded: ${s.created} created, ${s.configured} configured, ${s.deleted} deleted${s.rejected ? `, ${s.rejected} rejected (previous version kept)` : ''}; ${services()} service(s)`,
            );
          } catch (e) {
            ctx.err(`reload failed: ${asError(e).message}`);
          }
        } while (again && !signal.aborted);
        reloading = undefined;
      })();
    };
    const watchers =
      (flags.watch ?? true) && !live ? watchPaths(files, flags.recursive ?? false, reload) : [];
    if (!signal.aborted)
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    for (const w of watchers) w.close();
    await reloading;
    ctx.out('stopping');
  } finally {
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

function isListenSyntaxError(e: unknown): boolean {
  return e instanceof Error && e.message.startsWith('invalid listen address');
}

/** Watches files and directories; calls `onChange` once things are quiet again. */
function watchPaths(paths: readonly string[], recursive: boolean, onChange: () => void): FSWatcher[] {
  let timer: NodeJS.Timeout | undefined;
  const fire = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(onChange, SERVE_RELOAD_DEBOUNCE_MS);
  };
  const out: FSWatcher[] = [];
  for (const p of paths) {
    if (p === '-') continue;
    try {
      const w = watch(p, { persistent: false, recursive }, fire);
      w.on('error', () => {});
      out.push(w);
    } catch {
      // A path that cannot be watched is still served as loaded.
    }
  }
  return out;
}

/** Registers `serve`. */
export function registerServeCommand(program: Command): void {
  const cmd = program
    .command('serve')
    .description(
      'serve cluster DNS and the userspace proxy for the objects in manifests, reloading when they change',
    )
    .option('--dns <addr>', 'serve cluster DNS (UDP and TCP) on IP:PORT, e.g. 127.0.0.1:5353')
    .option('--proxy', 'run the userspace proxy: NodePorts on --node-ip, cluster IP ports on --bind', false)
    .option('--node-ip <ip>', `address NodePorts listen on (default ${DEFAULT_NODE_IP})`)
    .option('--bind <ip>', 'address cluster IP ports listen on (none by default: cluster IPs are virtual)')
    .addOption(
      new Option('--portal-port <mode>', 'port on the --bind address: the service port, or any free port')
        .choices(['service', 'auto'])
        .default('service'),
    )
    .option('--node-name <name>', 'node name this process stands for, for Local traffic policies')
    .option('--zone <domain>', 'cluster domain of the DNS zone', 'cluster.local')
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
again and objects removed from the files are deleted: DNS answers and proxy listeners follow.
An object the registry rejects on reload keeps its previous version. Stops on SIGINT/SIGTERM.

DNS answers with cluster IPs, as in a cluster; unless those addresses exist on this host, reach
the services through the proxy's node ports or the --bind address.

A proxy listener that cannot be opened (port taken, address not on this host) is reported on
stderr and the others keep serving.

Exit status: 0 stopped by a signal, 1 the manifests did not load at start or the DNS server
could not listen, 2 usage error.

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
