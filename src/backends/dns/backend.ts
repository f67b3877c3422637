/** The DNS backend: a {@link DnsServer} kept in step with registry snapshots. */
import type { SnapshotUpdate } from '../../core/snapshot';
import type { Backend, SnapshotSource } from '../backend';
import { DnsResolver, type DnsResolverOptions, type DnsSourceState } from './resolver';
import { DnsServer, type DnsServerAddress, type DnsServerOptions, parseListenAddress } from './server';

/** Options of {@link DnsBackend}: the resolver's and the server's together. */
export type DnsBackendOptions = DnsResolverOptions & DnsServerOptions;

/**
 * Serves the cluster zone for whatever snapshots it is fed. Each sync re-derives only the
 * services the update names (`changedServices`) and drops the precomputed responses.
 */
export class DnsBackend implements Backend {
  readonly name = 'dns';
  readonly resolver: DnsResolver;
  readonly server: DnsServer;
  private started: Promise<DnsServerAddress> | undefined;

  constructor(options: DnsBackendOptions) {
    const listen = parseListenAddress(options.listen);
    // An unspecified listen address names no particular interface: no glue then.
    const own = listen.host === '0.0.0.0' || listen.host === '::' ? [] : [listen.host];
    this.resolver = new DnsResolver({ ...options, localIPs: options.localIPs ?? own });
    this.server = new DnsServer(this.resolver, options);
  }

  /** Binds the sockets (idempotent). */
  start(): Promise<DnsServerAddress> {
    this.started ??= this.server.start();
    return this.started;
  }

  /** Applies a snapshot update; the first one (no `previous`) loads everything. */
  sync(update: SnapshotUpdate): void {
    this.load(update.current, update.previous ? update.changedServices : undefined);
  }

  /** Loads a whole state (or only `changed` services of it) without a registry. */
  load(state: DnsSourceState, changed?: Iterable<string>): void {
    this.resolver.update(state, changed);
    this.server.invalidate();
  }

  async close(): Promise<void> {
    await this.server.close();
  }
}

/**
 * Starts a DNS backend that follows `source` live: loads its current snapshot, then every
 * `snapshot` event. The returned backend's `close()` also detaches it.
 */
export async function serveDns(source: SnapshotSource, options: DnsBackendOptions): Promise<DnsBackend> {
  const backend = new DnsBackend(options);
  backend.load(source.snapshot());
  await backend.start();
  const listener = (update: SnapshotUpdate) => backend.sync(update);
  source.on('snapshot', listener);
  const close = backend.close.bind(backend);
  backend.close = async () => {
    source.off('snapshot', listener);
    await close();
  };
  return backend;
}
