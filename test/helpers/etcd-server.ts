/**
 * Starts and stops a real, throwaway etcd for tests: loopback-only client and peer ports, a
 * temporary data directory removed afterwards, and a process that is always killed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where Debian's etcd-server installs the binary (overridable with SVCROUTE_ETCD_BIN). */
export const ETCD_BINARY = process.env['SVCROUTE_ETCD_BIN'] ?? '/usr/bin/etcd';

/** Why etcd tests are skipped on this machine, or undefined when etcd is available. */
export const etcdSkipReason: string | undefined = existsSync(ETCD_BINARY)
  ? undefined
  : `etcd tests skipped: ${ETCD_BINARY} not found (install Debian's etcd-server)`;

/** How often {@link EtcdTestServer.start} tries new ports before giving up. */
const START_ATTEMPTS = 3;
/** How long to wait for a fresh etcd to answer. */
const START_TIMEOUT_MS = 20_000;

/** A free TCP port on 127.0.0.1 (bound then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Client TLS of a test etcd (PEM file paths). */
export interface EtcdTestTLS {
  readonly certFile: string;
  readonly keyFile: string;
  /** CA that client certificates must chain to; with it, etcd requires client certificates. */
  readonly clientCAFile?: string;
}

/** Options of {@link EtcdTestServer.start}. */
export interface EtcdTestServerOptions {
  /** Serve clients over TLS (health checks then go to a plain-HTTP metrics port). */
  readonly tls?: EtcdTestTLS;
}

/** A running test etcd. */
export class EtcdTestServer {
  private proc: ChildProcess | undefined;
  private log = '';

  private constructor(
    readonly clientPort: number,
    readonly peerPort: number,
    readonly dataDir: string,
    private readonly metricsPort: number,
    private readonly tls: EtcdTestTLS | undefined,
  ) {}

  /** `http://127.0.0.1:<port>` (`https://` with TLS). */
  get endpoint(): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.clientPort}`;
  }

  /** `etcd://127.0.0.1:<port>` plus an optional path. */
  url(prefix = ''): string {
    return `etcd://127.0.0.1:${this.clientPort}${prefix}`;
  }

  /** Starts etcd on free loopback ports with a new temporary data directory. */
  static async start(options: EtcdTestServerOptions = {}): Promise<EtcdTestServer> {
    // A free port can be taken by a parallel test between probing and etcd's bind: try again.
    for (let attempt = 1; ; attempt++) {
      const dataDir = await mkdtemp(join(tmpdir(), 'svcroute-etcd-'));
      const server = new EtcdTestServer(
        await freePort(),
        await freePort(),
        dataDir,
        await freePort(),
        options.tls,
      );
      try {
        await server.spawn();
        return server;
      } catch (e) {
        await server.stop();
        if (attempt >= START_ATTEMPTS) throw e;
      }
    }
  }

  /** True while the process runs. */
  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Kills etcd hard (SIGKILL), keeping the data directory. */
  async kill(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
  }

  /** Starts etcd again on the same ports and data directory (after {@link kill}). */
  async restart(): Promise<void> {
    await this.kill();
    await this.spawn();
  }

  /** Kills etcd, empties its data directory and starts a brand-new etcd on the same ports. */
  async wipe(): Promise<void> {
    await this.kill();
    await rm(this.dataDir, { recursive: true, force: true });
    await mkdir(this.dataDir, { recursive: true, mode: 0o700 });
    await this.spawn();
  }

  /** Kills etcd and removes its data directory. Safe to call more than once. */
  async stop(): Promise<void> {
    await this.kill();
    await rm(this.dataDir, { recursive: true, force: true });
  }

  /** Output of the current process so far (for failure messages). */
  output(): string {
    return this.log;
  }

  private async spawn(): Promise<void> {
    const client = this.endpoint;
    const tls = this.tls
      ? [
          '--cert-file',
          this.tls.certFile,
          '--key-file',
          this.tls.keyFile,
          ...(this.tls.clientCAFile
            ? ['--client-cert-auth', '--trusted-ca-file', this.tls.clientCAFile]
            : []),
        ]
      : [];
    const peer = `http://127.0.0.1:${this.peerPort}`;
    this.log = '';
    const proc = spawn(
      ETCD_BINARY,
      [
        '--name',
        'default',
        '--data-dir',
        this.dataDir,
        '--listen-client-urls',
        client,
        '--advertise-client-urls',
        client,
        '--listen-peer-urls',
        peer,
        '--initial-advertise-peer-urls',
        peer,
        '--initial-cluster',
        `default=${peer}`,
        '--listen-metrics-urls',
        `http://127.0.0.1:${this.metricsPort}`,
        ...tls,
        '--log-level',
        'warn',
        '--logger',
        'zap',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.proc = proc;
    const keep = (b: Buffer) => {
      this.log = (this.log + b.toString()).slice(-8000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (!this.running) throw new Error(`etcd exited during start-up:\n${this.log}`);
      if (await this.healthy()) return;
      if (Date.now() > deadline) throw new Error(`etcd did not become healthy in time:\n${this.log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private async healthy(): Promise<boolean> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.metricsPort}/health`, {
        signal: AbortSignal.timeout(1000),
      });
      const body = (await res.json()) as { health?: string };
      return body.health === 'true';
    } catch {
      return false;
    }
  }
}
