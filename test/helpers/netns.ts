/**
 * Throwaway network namespaces for tests that apply real iptables rules:
 *
 *   client ns (CLIENT_IP) ── veth ── node ns (NODE_IP | NODE_POD_GATEWAY) ── veth ── backend ns (pod IPs)
 *
 * The node namespace forwards between its two links; nothing is routed to or from the host's
 * network (the namespaces have no link to it). Names carry a random tag, so runs never collide,
 * and {@link NetnsTopology.destroy} removes everything that was made, even half of it.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** Client link address (the client namespace's only address besides loopback). */
export const CLIENT_IP = '192.168.201.2';
/** The node's address on the client link (`--node-ip`). */
export const NODE_IP = '192.168.201.1';
/** The node's address on the pod link, the pods' default gateway. */
export const NODE_POD_GATEWAY = '10.244.0.1';
/** The pod network (`--cluster-cidr`). */
export const POD_CIDR = '10.244.0.0/16';

const COMMAND_TIMEOUT_MS = 10_000;

/** Whether `bin` is on the PATH. */
export function hasCommand(bin: string): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v "$1"', 'sh', bin], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Why namespace tests cannot run here (not root, a binary missing), or undefined. */
export function netnsUnavailableReason(binaries: readonly string[]): string | undefined {
  if (process.getuid?.() !== 0) return 'not running as root';
  for (const bin of ['ip', ...binaries]) if (!hasCommand(bin)) return `${bin} is missing`;
  return undefined;
}

/** Runs a command (10 s at most) and returns its stdout. */
export function sh(file: string, ...args: string[]): string {
  return execFileSync(file, args, { encoding: 'utf8', timeout: COMMAND_TIMEOUT_MS });
}

/** The three namespaces of a topology and how to run commands in them. */
export interface NetnsTopology {
  readonly tag: string;
  readonly client: string;
  readonly node: string;
  readonly backend: string;
  /** Runs a command inside namespace `ns` and returns its stdout. */
  exec(ns: string, file: string, ...args: string[]): string;
  /** Deletes the namespaces (their links, addresses and rules go with them). Never throws. */
  destroy(): void;
}

/**
 * Creates the client, node and backend namespaces and their links; `podIPs` are put on the
 * backend namespace's link (in {@link POD_CIDR}). On failure whatever was made is removed.
 */
export function createTopology(prefix: string, podIPs: readonly string[]): NetnsTopology {
  const tag = randomBytes(3).toString('hex');
  const made: string[] = [];
  const names = {
    client: `${prefix}-client-${tag}`,
    node: `${prefix}-node-${tag}`,
    backend: `${prefix}-backend-${tag}`,
  };
  const exec = (ns: string, file: string, ...args: string[]) => sh('ip', 'netns', 'exec', ns, file, ...args);
  const destroy = () => {
    for (const ns of made.splice(0)) {
      try {
        sh('ip', 'netns', 'del', ns);
      } catch {
        // already gone
      }
    }
  };
  try {
    for (const ns of Object.values(names)) {
      sh('ip', 'netns', 'add', ns);
      made.push(ns);
    }
    // Interface names are at most 15 characters: a two-character role plus the tag.
    const links = [
      { a: names.client, aDev: `c0-${tag}`, b: names.node, bDev: `n0-${tag}` },
      { a: names.backend, aDev: `b0-${tag}`, b: names.node, bDev: `n1-${tag}` },
    ];
    for (const l of links)
      sh('ip', 'link', 'add', l.aDev, 'netns', l.a, 'type', 'veth', 'peer', 'name', l.bDev, 'netns', l.b);
    const addresses: Array<[string, string, readonly string[]]> = [
      [names.client, `c0-${tag}`, [`${CLIENT_IP}/24`]],
      [names.node, `n0-${tag}`, [`${NODE_IP}/24`]],
      [names.node, `n1-${tag}`, [`${NODE_POD_GATEWAY}/24`]],
      [names.backend, `b0-${tag}`, podIPs.map((ip) => `${ip}/24`)],
    ];
    for (const [ns, dev, addrs] of addresses) {
      for (const a of addrs) exec(ns, 'ip', 'addr', 'add', a, 'dev', dev);
      exec(ns, 'ip', 'link', 'set', dev, 'up');
      exec(ns, 'ip', 'link', 'set', 'lo', 'up');
    }
    exec(names.client, 'ip', 'route', 'add', 'default', 'via', NODE_IP);
    exec(names.backend, 'ip', 'route', 'add', 'default', 'via', NODE_POD_GATEWAY);
    exec(names.node, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
  } catch (e) {
    destroy();
    throw e;
  }
  return { tag, ...names, exec, destroy };
}

// One process answering TCP on every pod IP with "<pod ip>|<peer address>"; it exits on its own
// after two minutes should the test fail to kill it.
const POD_SERVER = `
const net = require('node:net');
const ips = process.env.POD_IPS.split(',');
let pending = ips.length;
for (const ip of ips) {
  net.createServer((s) => { s.end(ip + '|' + s.remoteAddress + '\\n'); })
    .listen(Number(process.env.POD_PORT), ip, () => { if (--pending === 0) process.stdout.write('ready\\n'); });
}
setTimeout(() => process.exit(0), 120000).unref();
`;

/** Starts the pods' TCP server in namespace `ns`; resolves once every IP listens (10 s at most). */
export async function startPodServer(
  ns: string,
  podIPs: readonly string[],
  port: number,
): Promise<ChildProcess> {
  const server = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', POD_SERVER], {
    env: { ...process.env, POD_IPS: podIPs.join(','), POD_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('pod server did not start within 10 s')), 10_000);
      server.stdout?.on('data', (d: Buffer) => {
        if (String(d).includes('ready')) {
          clearTimeout(t);
          resolve();
        }
      });
      server.on('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`pod server exited with ${code}`));
      });
    });
  } catch (e) {
    server.kill('SIGKILL');
    throw e;
  }
  return server;
}

// `COUNT` TCP connections, ten at a time, each given 1.5 s; prints the replies (or error codes).
const TCP_CLIENT = `
const net = require('node:net');
const { HOST, PORT, COUNT } = process.env;
const one = () => new Promise((resolve) => {
  const s = net.connect(Number(PORT), HOST);
  const t = setTimeout(() => { s.destroy(); resolve('ETIMEDOUT'); }, 1500);
  let buf = '';
  s.on('data', (d) => { buf += d; });
  s.on('end', () => { clearTimeout(t); resolve(buf.trim()); });
  s.on('error', (e) => { clearTimeout(t); resolve(e.code); });
});
(async () => {
  const out = [];
  for (let i = 0; i < Number(COUNT); i += 10) {
    out.push(...await Promise.all(Array.from({ length: Math.min(10, Number(COUNT) - i) }, one)));
  }
  process.stdout.write(JSON.stringify(out));
})();
`;

/**
 * Opens `count` TCP connections from namespace `ns` to `host:port` and returns what each got:
 * the pod server's `<pod ip>|<peer>` line, or an error code (`ECONNREFUSED`, `ETIMEDOUT`, …).
 */
export function tcpRequests(ns: string, host: string, port: number, count: number): string[] {
  const out = execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e', TCP_CLIENT], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, HOST: host, PORT: String(port), COUNT: String(count) },
  });
  return JSON.parse(out) as string[];
}

/** How many replies each pod gave (error codes count under their own name). */
export function countByPod(replies: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of replies) {
    const pod = r.split('|')[0]!;
    counts.set(pod, (counts.get(pod) ?? 0) + 1);
  }
  return counts;
}
