/**
 * `svcroute dns serve`: an authoritative cluster DNS server for the objects in manifest files,
 * reloaded when the files change, or in a persistent registry (`--store`), followed live.
 *
 * @module
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { attachBackend } from '../../backends/backend';
import {
  DEFAULT_CLUSTER_ZONE,
  DEFAULT_TTL_S,
  DnsBackend,
  type ForwardTransport,
  type PodMode,
  parseUpstream,
} from '../../backends/dns';
import type { Pod } from '../../core/types';
import { CliContext, cliContext, processContext } from '../context';
import type { Watching } from '../reload';
import { openServingRegistry } from '../serving-registry';
import {
  addFilenameOptions,
  addStoreOption,
  type FilenameFlags,
  formatHostPort,
  listenAddressOf,
  listenError,
  parseListenFlag,
  readSourceFromFlags,
  type StoreFlags,
} from '../shared';

function collectUpstream(value: string, previous: string[] | undefined): string[] {
  try {
    parseUpstream(value);
  } catch (e) {
    throw new InvalidArgumentError(e instanceof Error ? e.message : String(e));
  }
  return [...(previous ?? []), value];
}

/** Commander parser of a DNS TTL in seconds: an integer in [0, 3600]. */
export function parseTtl(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 3600) throw new InvalidArgumentError('must be an integer in [0, 3600]');
  return n;
}

/** Registers `dns serve` (creating the `dns` parent when missing). */
export function registerDnsCommand(program: Command): void {
  const dns =
    program.commands.find((c) => c.name() === 'dns') ??
    program.command('dns').description('cluster DNS server');
  const serve = dns
    .command('serve')
    .description('serve the cluster DNS zone for the objects in the given manifests (UDP and TCP)')
    .requiredOption(
      '--listen <addr>',
      'address to listen on, IP:PORT (e.g. 127.0.0.1:5353; port 0 picks a free one)',
      parseListenFlag,
    )
    .option('--zone <zone>', 'cluster domain', DEFAULT_CLUSTER_ZONE)
    .addOption(new Option('--ttl <seconds>', 'TTL of the records').default(DEFAULT_TTL_S).argParser(parseTtl))
    .addOption(
      new Option('--pods <mode>', 'answer <ip>.<ns>.pod.<zone> names')
        .choices(['disabled', 'insecure', 'verified'])
        .default('disabled'),
    )
    .option(
      '--upstream <addr>',
      'forward names outside the zone to this server, IP[:PORT] (repeatable)',
      collectUpstream,
    )
    .addOption(
      new Option(
        '--forward-transport <mode>',
        "how --upstream is asked: over the client's transport, UDP with a TCP retry when truncated, or TCP only",
      )
        .choices(['client', 'prefer_udp', 'force_tcp'])
        .default('client'),
    )
    .option('--no-watch', 'do not reload when the files change');
  addFilenameOptions(serve, 'manifests to serve', false);
  addStoreOption(serve);
  serve.addHelpText(
    'after',
    `
Exactly one of -f and --store is required. Prints "listening udp+tcp ADDR:PORT" on stdout once
both sockets are bound, then serves until SIGINT/SIGTERM. When a file changes it is applied
again: "reloaded: …" on stderr; a problem is one "error: FILE: …" line and the previous state
keeps being served. With --store the registry is followed live instead.

Exit status: 0 stopped by a signal, 1 the manifests did not load or the address could not be
bound, 2 usage error.

Examples:
  svcroute dns serve -f manifests/ --listen 127.0.0.1:5353
  dig @127.0.0.1 -p 5353 redis-master.default.svc.cluster.local`,
  );
  serve.action(async (opts: DnsServeOptions & StoreFlags, command: Command) => {
    const ctx = cliContext(command);
    // Exactly one source; with --store the server follows the registry live (no file watching).
    const { store: _fromEnv, ...fileOpts } = opts;
    const run: DnsServeOptions = readSourceFromFlags(command, opts) === 'files' ? fileOpts : opts;
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      await runDnsServe(run, {
        stdout: ctx.stdout,
        stderr: ctx.stderr,
        readStdin: ctx.readStdin,
        signal: stop.signal,
      });
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  });
}

/** Options of {@link runDnsServe} (the parsed flags of `dns serve`). */
export interface DnsServeOptions extends FilenameFlags {
  /**
   * `--store` URL (`etcd://HOST:PORT[/prefix]`): serve that persistent registry live instead of
   * files, following every change another process applies.
   */
  readonly store?: string;
  readonly listen: string;
  readonly zone?: string;
  readonly ttl?: number;
  readonly pods?: PodMode;
  readonly upstream?: readonly string[];
  /** How upstreams are asked (CoreDNS `forward`'s default, `prefer_udp` or `force_tcp`). */
  readonly forwardTransport?: ForwardTransport;
  /** Reload when the files change (default true). */
  readonly watch?: boolean;
}

/** Where `dns serve` writes and what stops it. */
export interface DnsServeIO {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  /** All of standard input, for `-f -`; default the process's. */
  readonly readStdin?: () => Promise<string>;
  /** Aborting it stops the server (SIGINT/SIGTERM in the CLI). */
  readonly signal: AbortSignal;
}

async function waitForAbort(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return;
  await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

function contextOf(io: DnsServeIO): CliContext {
  return new CliContext({
    stdout: io.stdout,
    stderr: io.stderr,
    readStdin: io.readStdin ?? processContext().readStdin,
    now: () => new Date(),
  });
}

/**
 * Serves the files' objects (or, with `store`, a persistent registry followed live) until
 * `io.signal` aborts: prints `listening udp+tcp ADDR:PORT` once both sockets are bound. Files
 * are loaded into one registry and applied again when they change (see `../reload`): a bad edit
 * is reported one line per problem and the previous state keeps being served.
 *
 * @throws CliError when the files do not load at start (reported) or the address cannot be bound.
 */
export async function runDnsServe(opts: DnsServeOptions, io: DnsServeIO): Promise<void> {
  const ctx = contextOf(io);
  listenAddressOf('--listen', opts.listen);
  const serving = await openServingRegistry(ctx, opts);
  const { registry, sync } = serving;
  let watching: Watching | undefined;
  try {
    await registry.ready();
    await sync?.applyOrFail();
    // Watching starts right after the first load, so that no edit made meanwhile is missed.
    if (sync && (opts.watch ?? true)) watching = sync.watch();
    // `--pods verified` needs the pods synchronously: keep a copy refreshed on every pod event.
    let pods: readonly Pod[] = await registry.list('Pod');
    let refreshing = Promise.resolve();
    const refreshPods = (event: { kind: string }) => {
      if (event.kind !== 'Pod') return;
      refreshing = refreshing.then(async () => {
        pods = await registry.list('Pod');
      });
    };
    for (const ev of ['added', 'modified', 'deleted'] as const) registry.on(ev, refreshPods);
    const backend = new DnsBackend({
      listen: opts.listen,
      zone: opts.zone ?? DEFAULT_CLUSTER_ZONE,
      ttl: opts.ttl ?? DEFAULT_TTL_S,
      pods: opts.pods ?? 'disabled',
      upstreams: opts.upstream ?? [],
      ...(opts.forwardTransport ? { forwardTransport: opts.forwardTransport } : {}),
      listPods: () => pods,
      onError: (err: Error) => ctx.err(`dns: ${err.message}`),
    });
    const feed = attachBackend(serving.source, backend, {
      onError: (err) => ctx.err(`dns: ${err.message}`),
    });
    try {
      await registry.settled();
      await feed.idle();
      let bound: { host: string; port: number };
      try {
        bound = await backend.start();
      } catch (e) {
        throw listenError('--listen', opts.listen, e);
      }
      ctx.out(`listening udp+tcp ${formatHostPort(bound.host, bound.port)}`);
      await waitForAbort(io.signal);
    } finally {
      await watching?.close();
      watching = undefined;
      feed.detach();
      for (const ev of ['added', 'modified', 'deleted'] as const) registry.off(ev, refreshPods);
      await refreshing.catch(() => {});
      await backend.close();
    }
  } finally {
    await watching?.close();
    await serving.close();
  }
}
