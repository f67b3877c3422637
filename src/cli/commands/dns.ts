/**
 * `svcroute dns serve`: an authoritative cluster DNS server for the objects in manifest files,
 * reloaded when the files change, or in a persistent registry (`--store`), followed live.
 *
 * @module
 */
import { watch } from 'node:fs';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { attachBackend } from '../../backends/backend';
import { DEFAULT_CLUSTER_ZONE, DEFAULT_TTL_S, DnsBackend, type PodMode } from '../../backends/dns';
import type { RoutingSnapshot } from '../../core/snapshot';
import type { KubeObject, Pod } from '../../core/types';
import { loadManifestFiles } from '../../manifest';
import { Registry } from '../../registry';
import { addStoreOption, openStoreRegistry, readSourceFromFlags, type StoreFlags } from '../shared';

/** Cluster state read from manifests: the snapshot plus the pods (for `--pods verified`). */
export interface ManifestState {
  readonly snapshot: RoutingSnapshot;
  readonly pods: readonly Pod[];
}

/**
 * Loads manifests into a fresh registry (cluster IPs kept as written; endpoint slices derived
 * from pods for selector services) and returns its settled snapshot and pods.
 */
export async function loadManifestState(files: readonly string[]): Promise<ManifestState> {
  const objects: KubeObject[] = await loadManifestFiles(files);
  const registry = new Registry({ allocationMode: 'as-is' });
  try {
    for (const obj of objects) await registry.apply(obj);
    await registry.settled();
    return { snapshot: registry.snapshot(), pods: await registry.list('Pod') };
  } finally {
    await registry.close();
  }
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function parseTtl(value: string): number {
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
    .option('-f, --filename <file>', 'manifest file or directory (repeatable)', collect)
    .requiredOption('--listen <addr>', 'address to listen on, IP:PORT (e.g. 127.0.0.1:5353)')
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
      collect,
      [],
    )
    .option('--no-watch', 'do not reload when the files change');
  addStoreOption(serve);
  serve.action(async (opts: DnsServeOptions & StoreFlags, command: Command) => {
    // Exactly one source; with --store the server follows the registry live (no file watching).
    const { store: _fromEnv, ...fileOpts } = opts;
    const run: DnsServeOptions = readSourceFromFlags(command, opts) === 'files' ? fileOpts : opts;
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      await runDnsServe(run, { stdout: process.stdout, stderr: process.stderr, signal: stop.signal });
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  });
}

/** Options of {@link runDnsServe} (the parsed flags of `dns serve`). */
export interface DnsServeOptions {
  /** Manifests to serve; ignored when {@link store} is set. */
  readonly filename?: readonly string[];
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
  /** Reload when the files change (default true). */
  readonly watch?: boolean;
}

/** Where `dns serve` writes and what stops it. */
export interface DnsServeIO {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  /** Aborting it stops the server (SIGINT/SIGTERM in the CLI). */
  readonly signal: AbortSignal;
}

/**
 * Serves the files' objects until `io.signal` aborts: prints `listening udp+tcp ADDR:PORT` once
 * both sockets are bound, reloads on file change (keeping the previous state when the new
 * files do not load).
 */
export async function runDnsServe(opts: DnsServeOptions, io: DnsServeIO): Promise<void> {
  if (opts.store !== undefined && opts.store.trim() !== '') return runDnsServeFromStore(opts, io);
  const filename = opts.filename ?? [];
  let state = await loadManifestState(filename);
  const backend = new DnsBackend({
    listen: opts.listen,
    zone: opts.zone ?? DEFAULT_CLUSTER_ZONE,
    ttl: opts.ttl ?? DEFAULT_TTL_S,
    pods: opts.pods ?? 'disabled',
    upstreams: opts.upstream ?? [],
    listPods: () => state.pods,
    onError: (err) => io.stderr.write(`dns: ${err.message}\n`),
  });
  backend.load(state.snapshot);
  const { host, port } = await backend.start();
  const shown = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  io.stdout.write(`listening udp+tcp ${shown}\n`);

  let reloading: Promise<void> | undefined;
  let again = false;
  const reload = (): void => {
    if (reloading) {
      again = true;
      return;
    }
    reloading = (async () => {
      do {
        again = false;
        try {
          state = await loadManifestState(filename);
          if (io.signal.aborted) break;
          backend.load(state.snapshot);
          io.stderr.write(`dns: reloaded ${state.snapshot.services.size} services\n`);
        } catch (err) {
          io.stderr.write(
            `dns: reload failed, still serving the previous state: ${(err as Error).message}\n`,
          );
        }
      } while (again);
      reloading = undefined;
    })();
  };
  const watchers = (opts.watch ?? true) ? watchFiles(filename, reload) : [];
  if (!io.signal.aborted) {
    await new Promise<void>((resolve) =>
      io.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
  }
  for (const w of watchers) w.close();
  await reloading;
  await backend.close();
}

/** The DNS backend's options common to both sources. */
function backendOptions(opts: DnsServeOptions, io: DnsServeIO, listPods: () => Iterable<Pod>) {
  return {
    listen: opts.listen,
    zone: opts.zone ?? DEFAULT_CLUSTER_ZONE,
    ttl: opts.ttl ?? DEFAULT_TTL_S,
    pods: opts.pods ?? 'disabled',
    upstreams: opts.upstream ?? [],
    listPods,
    onError: (err: Error) => io.stderr.write(`dns: ${err.message}\n`),
  };
}

async function waitForAbort(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return;
  await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/**
 * Serves a persistent registry live: the registry (no controllers of its own; the writers
 * maintain the slices) follows the store's watch, and every snapshot it publishes is fed to the
 * DNS backend, so objects applied by other processes are answered without a restart.
 */
async function runDnsServeFromStore(opts: DnsServeOptions, io: DnsServeIO): Promise<void> {
  const { registry, close } = await openStoreRegistry(opts, true, { runControllers: false });
  try {
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
    const backend = new DnsBackend(backendOptions(opts, io, () => pods));
    const attached = attachBackend(registry, backend, {
      onError: (err) => io.stderr.write(`dns: ${err.message}\n`),
    });
    try {
      await attached.idle();
      const { host, port } = await backend.start();
      const shown = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
      io.stdout.write(`listening udp+tcp ${shown}\n`);
      await waitForAbort(io.signal);
    } finally {
      attached.detach();
      for (const ev of ['added', 'modified', 'deleted'] as const) registry.off(ev, refreshPods);
      await refreshing.catch(() => {});
      await backend.close();
    }
  } finally {
    await close();
  }
}

/** Watches the given paths; `onChange` is called (debounced) after any change. */
function watchFiles(paths: readonly string[], onChange: () => void): { close(): void }[] {
  let timer: NodeJS.Timeout | undefined;
  const fire = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(onChange, 200);
  };
  const out: { close(): void }[] = [];
  for (const p of paths) {
    if (p === '-') continue;
    try {
      const w = watch(p, { persistent: false }, fire);
      w.on('error', () => {});
      out.push(w);
    } catch {
      // A path that cannot be watched is served as loaded.
    }
  }
  return out;
}
