/**
 * `svcroute proxy`: kube-proxy's userspace mode for the objects in manifest files. Every NodePort
 * listens on the node IP(s), every ClusterIP port on the bind address (its portal), cluster,
 * external and load-balancer IPs on themselves when they are on this host. Reloads when the
 * files change, or with `--store` follows a persistent registry live; SIGINT/SIGTERM stop it.
 *
 * @module
 */
import { createServer, type Server } from 'node:http';
import { type Command, Option } from 'commander';
import { attachBackend } from '../../backends/backend';
import { InprocessProxyBackend, type ListenerInfo } from '../../backends/inprocess';
import { type CliContext, CliError, cliContext, EXIT_USAGE } from '../context';
import type { Watching } from '../reload';
import { openServingRegistry } from '../serving-registry';
import {
  addFilenameOptions,
  addStoreOption,
  collectIPs,
  type FilenameFlags,
  formatHostPort,
  listenAddressOf,
  listenError,
  parseListenFlag,
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

/** Where ClusterIP ports listen without `--bind`: loopback, so that nothing is exposed. */
const DEFAULT_BIND = '127.0.0.1';

/**
 * `listening tcp 127.0.0.1:30080 -> default/web:80`: the listener and the service port it serves,
 * as the event carrying `l` saw it (so a `closed` line names what the listener served, even when
 * the service changed since).
 */
export function describeListener(verb: string, l: ListenerInfo): string {
  return `${verb} ${l.protocol.toLowerCase()} ${formatHostPort(l.address, l.boundPort)} -> ${l.namespace}/${l.service}:${l.servicePort}`;
}

/**
 * Runs the proxy until `signal` aborts. The manifests are loaded into one registry, applied
 * again when they change (see `../reload`), and the proxy follows that registry, so listeners of
 * unchanged services stay open across reloads; with `store` the persistent registry is followed
 * live instead. Exported for tests and embedding; the CLI action wires SIGINT/SIGTERM to the
 * signal.
 *
 * @throws CliError when the files do not load at start (reported), for a usage error, or when the
 *   metrics address cannot be bound.
 */
export async function runProxy(ctx: CliContext, flags: ProxyFlags, signal: AbortSignal): Promise<void> {
  if (flags.nodeIp.length === 0) throw new CliError('--node-ip is required', EXIT_USAGE);
  const metrics = flags.metrics !== undefined ? listenAddressOf('--metrics', flags.metrics) : undefined;
  const serving = await openServingRegistry(ctx, flags);
  const { registry, sync, source } = serving;
  const proxy = new InprocessProxyBackend({
    nodeAddresses: flags.nodeIp,
    portalAddresses: flags.bind,
    portalPort: flags.portalPort,
    ...(flags.nodeName ? { node: { name: flags.nodeName } } : {}),
  });
  let metricsServer: Server | undefined;
  let watching: Watching | undefined;
  let attached: ReturnType<typeof attachBackend> | undefined;
  try {
    await registry.ready();
    await sync?.applyOrFail();
    // Watching starts right after the first load, so that no edit made meanwhile is missed.
    if (sync && flags.watch) watching = sync.watch();
    proxy.on('listening', (l) => ctx.out(describeListener('listening', l)));
    proxy.on('listenerClosed', (l) => ctx.out(describeListener('closed', l)));
    // A listener that stays open while its service port changes number (a NodePort) is
    // announced again: the last line for an address always tells where it leads.
    proxy.on('listenerChanged', (l) => ctx.out(describeListener('listening', l)));
    proxy.on('listenError', (spec, err) =>
      ctx.err(
        `error: cannot listen on ${spec.protocol.toLowerCase()} ${formatHostPort(spec.address, spec.port)} for ${spec.routeKey}: ${err.message}`,
      ),
    );
    const feed = attachBackend(source, proxy, {
      onError: (e) => ctx.err(`error: sync failed: ${e.message}`),
    });
    attached = feed;
    await registry.settled();
    await feed.idle();

    if (metrics) {
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
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ host: metrics.host, port: metrics.port }, () => resolve());
        });
      } catch (e) {
        metricsServer = undefined;
        throw listenError('--metrics', flags.metrics ?? '', e);
      }
      const bound = server.address();
      const port = typeof bound === 'object' && bound ? bound.port : metrics.port;
      ctx.out(`metrics http ${formatHostPort(metrics.host, port)}/metrics`);
    }

    if (!signal.aborted)
      await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
  } finally {
    await watching?.close();
    attached?.detach();
    await attached?.idle();
    if (metricsServer) {
      const server = metricsServer;
      await new Promise<void>((r) => server.close(() => r()));
    }
    await proxy.close();
    await serving.close();
  }
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
    .requiredOption(
      '--node-ip <ips>',
      'node IP(s) NodePorts listen on (repeatable, comma-separated)',
      collectIPs,
    )
    .option(
      '--bind <ips>',
      `address(es) ClusterIP ports listen on when the cluster IP is not on this host (default: ${DEFAULT_BIND})`,
      collectIPs,
    )
    .option('--node-name <name>', 'node name, for Local traffic policies and topology hints')
    .addOption(
      new Option('--portal-port <mode>', 'port on the bind address: the service port or any free port')
        .choices(['service', 'auto'])
        .default('service'),
    )
    .option('--metrics <addr>', 'serve Prometheus metrics on IP:PORT at /metrics', parseListenFlag)
    .option('--no-watch', 'do not reload when the files change')
    .addHelpText(
      'after',
      `
Exactly one of -f and --store is required. Prints one "listening PROTO ADDR:PORT -> ns/svc:port"
line per listener on stdout, and "closed PROTO ADDR:PORT -> ns/svc:port" (what it served) when
one goes away. A listener that stays open while the port of its service changes (a NodePort
after spec.ports[].port changed) gets a new "listening" line with the new port: the last line
for an address is the current one. A targetPort change prints nothing (the listeners stay).
When a file changes it is applied again: "reloaded: …" on stderr; a problem is one
"error: FILE: …" line and the previous state keeps being served. A listener that cannot be
opened (port taken, address not on this host) is one "error: cannot listen on …" line and the
others keep serving. Stops on SIGINT/SIGTERM ("closed …" for each listener).

Exit status: 0 stopped by a signal, 1 the manifests did not load or --metrics could not be
bound, 2 usage error.

Examples:
  svcroute proxy -f manifests/ --node-ip 127.0.0.1
  svcroute proxy -f app.yaml --node-ip 127.0.0.1 --bind 127.0.0.2 --metrics 127.0.0.1:9100`,
    )
    .action(async function (this: Command) {
      const opts = this.opts<Omit<ProxyFlags, 'bind'> & { bind?: string[] }>();
      const { store: _fromEnv, ...fileOpts } = opts;
      // Exactly one source: files (watched) or a store (followed live).
      const source = readSourceFromFlags(this, opts);
      const flags: ProxyFlags = {
        ...(source === 'files' ? fileOpts : opts),
        bind: opts.bind ?? [DEFAULT_BIND],
      };
      const ctx = cliContext(this);
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
