/**
 * `svcroute proxy`: kube-proxy's userspace mode for the objects in manifest files. Every NodePort
 * listens on the node IP(s), every ClusterIP port on the bind address (its portal), cluster,
 * external and load-balancer IPs on themselves when they are on this host. Reloads when the
 * files change, or with `--store` follows a persistent registry live; SIGINT/SIGTERM stop it.
 *
 * @module
 */
import { watch } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { isIP } from 'node:net';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { attachBackend } from '../../backends/backend';
import { InprocessProxyBackend, type ListenerInfo } from '../../backends/inprocess';
import type { RoutingSnapshot } from '../../core/snapshot';
import { CliContext, CliError, cliContext, EXIT_USAGE } from '../context';
import {
  addFilenameOptions,
  addStoreOption,
  type FilenameFlags,
  loadRegistry,
  openStoreRegistry,
  readSourceFromFlags,
  type StoreFlags,
} from '../shared';

/**
 * Flags of `svcroute proxy`. With `store` set, the proxy follows that persistent registry live
 * instead of reading `filename`.
 */
export interface ProxyFlags extends FilenameFlags, StoreFlags {
  readonly nodeIp: string[];
  readonly bind: string[];
  readonly nodeName?: string;
  readonly portalPort: 'service' | 'auto';
  readonly watch: boolean;
  readonly metrics?: string;
}

function ipList(value: string, previous: string[] | undefined): string[] {
  const out = [...(previous ?? [])];
  for (const v of value.split(',')) {
    const ip = v.trim();
    if (isIP(ip) === 0) throw new InvalidArgumentError(`${JSON.stringify(ip)} is not an IP address`);
    out.push(ip);
  }
  return out;
}

function hostPort(value: string): { host: string; port: number } {
  const m = /^\[?([^\]]*)\]?:(\d+)$/.exec(value);
  const port = Number(m?.[2]);
  if (!m || isIP(m[1] ?? '') === 0 || port > 65535)
    throw new InvalidArgumentError('must be IP:PORT (e.g. 127.0.0.1:9100)');
  return { host: m[1] as string, port };
}

function show(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** `listening tcp 127.0.0.1:30080 -> default/web:80`. */
export function describeListener(
  verb: string,
  l: ListenerInfo,
  snapshot: RoutingSnapshot | undefined,
): string {
  const info = snapshot?.ports.get(l.routeKey)?.info;
  const target = info ? `${info.name.namespace}/${info.name.name}:${info.port}` : l.routeKey;
  return `${verb} ${l.protocol.toLowerCase()} ${show(l.address, l.boundPort)} -> ${target}`;
}

function contextOf(cmd: Command): CliContext {
  try {
    return cliContext(cmd);
  } catch {
    return new CliContext({
      stdout: process.stdout,
      stderr: process.stderr,
      readStdin: async () => {
        const chunks: Buffer[] = [];
        for await (const c of process.stdin) chunks.push(c as Buffer);
        return Buffer.concat(chunks).toString('utf8');
      },
      now: () => new Date(),
    });
  }
}

/** Loads the manifests and returns the routing snapshot (the registry is not kept). */
async function loadSnapshot(ctx: CliContext, flags: ProxyFlags): Promise<RoutingSnapshot> {
  const { registry } = await loadRegistry(ctx, flags);
  try {
    return registry.snapshot();
  } finally {
    await registry.close();
  }
}

/**
 * Runs the proxy until `signal` aborts. Exported for tests and embedding; the CLI action wires
 * SIGINT/SIGTERM to the signal.
 */
export async function runProxy(ctx: CliContext, flags: ProxyFlags, signal: AbortSignal): Promise<void> {
  if (flags.nodeIp.length === 0) throw new CliError('--node-ip is required', EXIT_USAGE);
  const fromStore = flags.store !== undefined && flags.store.trim() !== '';
  // A reader of a shared store runs no controllers: the writers maintain the slices.
  const live = fromStore ? await openStoreRegistry(flags, true, { runControllers: false }) : undefined;
  let snapshot = live ? live.registry.snapshot() : await loadSnapshot(ctx, flags);
  const proxy = new InprocessProxyBackend({
    nodeAddresses: flags.nodeIp,
    portalAddresses: flags.bind,
    portalPort: flags.portalPort,
    ...(flags.nodeName ? { node: { name: flags.nodeName } } : {}),
  });
  proxy.on('listening', (l) => ctx.out(describeListener('listening', l, snapshot)));
  proxy.on('listenerClosed', (l) => ctx.out(describeListener('closed', l, snapshot)));
  proxy.on('listenError', (spec, err) =>
    ctx.err(
      `error: cannot listen on ${spec.protocol.toLowerCase()} ${show(spec.address, spec.port)} for ${spec.routeKey}: ${err.message}`,
    ),
  );
  // Each load is a fresh registry, so the update carries no change list: `previous: undefined`
  // makes the backend reconcile the whole snapshot.
  const apply = (next: RoutingSnapshot) =>
    proxy.sync({ previous: undefined, current: next, changes: [], changedServices: new Set() });
  let attached: ReturnType<typeof attachBackend> | undefined;
  if (live) {
    // Registered before the backend's feed, so listener lines name the snapshot being applied.
    live.registry.on('snapshot', (u) => {
      snapshot = u.current;
    });
    attached = attachBackend(live.registry, proxy, {
      onError: (e) => ctx.err(`error: sync failed: ${e.message}`),
    });
    await attached.idle();
  } else await apply(snapshot);

  let metricsServer: Server | undefined;
  if (flags.metrics) {
    const { host, port } = hostPort(flags.metrics);
    const server = createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      res
        .writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' })
        .end(proxy.prometheus());
    });
    metricsServer = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port }, () => resolve());
    });
    ctx.out(`metrics http ${show(host, port)}/metrics`);
  }

  let reloading = Promise.resolve();
  const reload = () => {
    reloading = reloading.then(async () => {
      if (signal.aborted) return;
      try {
        const next = await loadSnapshot(ctx, flags);
        snapshot = next;
        await apply(next);
        ctx.err(`reloaded ${next.ports.size} service port(s)`);
      } catch (e) {
        ctx.err(
          `error: reload failed, keeping the previous state: ${e instanceof Error ? e.message : String(e)}`,
        );
      }
    });
  };
  const watchers: { close(): void }[] = [];
  if (flags.watch && !live) {
    let timer: NodeJS.Timeout | undefined;
    for (const path of flags.filename ?? []) {
      if (path === '-') continue;
      try {
        const w = watch(path, { persistent: false, recursive: false }, () => {
          if (timer) clearTimeout(timer);
          timer = setTimeout(reload, 200);
        });
        w.on('error', () => {});
        watchers.push(w);
      } catch {
        // A path that cannot be watched is served as loaded.
      }
    }
  }
  if (!signal.aborted)
    await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
  for (const w of watchers) w.close();
  await reloading;
  attached?.detach();
  await attached?.idle();
  metricsServer?.close();
  await proxy.close();
  await live?.close();
}

/** Registers `svcroute proxy`. */
export function registerProxyCommand(program: Command): void {
  const cmd = program
    .command('proxy')
    .description(
      'userspace proxy for the services in the manifests: NodePorts on the node IP, ClusterIP ports on the bind address',
    );
  addFilenameOptions(cmd, 'manifests (services, endpoint slices, pods)', false);
  addStoreOption(cmd)
    .requiredOption('--node-ip <ips>', 'node IP(s) NodePorts listen on (repeatable, comma-separated)', ipList)
    .option(
      '--bind <ips>',
      'address(es) ClusterIP ports listen on when the cluster IP is not on this host',
      ipList,
    )
    .option('--node-name <name>', 'node name, for Local traffic policies and topology hints')
    .addOption(
      new Option('--portal-port <mode>', 'port on the bind address: the service port or any free port')
        .choices(['service', 'auto'])
        .default('service'),
    )
    .option('--metrics <addr>', 'serve Prometheus metrics on IP:PORT at /metrics')
    .option('--no-watch', 'do not reload when the files change')
    .action(async function (this: Command) {
      const opts = this.opts<Omit<ProxyFlags, 'bind'> & { bind?: string[] }>();
      const { store: _fromEnv, ...fileOpts } = opts;
      // Exactly one source: files (watched) or a store (followed live).
      const source = readSourceFromFlags(this, opts);
      const flags: ProxyFlags = {
        ...(source === 'files' ? fileOpts : opts),
        bind: opts.bind ?? ['127.0.0.1'],
      };
      const ctx = contextOf(this);
      const abort = new AbortController();
      const stop = () => abort.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        await runProxy(ctx, flags, abort.signal);
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });
}
