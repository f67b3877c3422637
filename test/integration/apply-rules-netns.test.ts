/**
 * `svcroute apply-rules`, the built executable, run inside a node network namespace the test
 * creates (see ../helpers/netns): it installs kube-proxy's rules with iptables-restore there,
 * real TCP connections from a client namespace reach the pods of a backend namespace through
 * the cluster IP, `--watch` follows edits with partial syncs, and `--cleanup` leaves no KUBE-
 * chain. Every address lives inside the test's namespaces; nothing is sent from the host.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointChainName, serviceChainNames } from '../../src/backends/iptables/chain-names';
import {
  countByPod,
  createTopology,
  type NetnsTopology,
  NODE_IP,
  NODE_POD_GATEWAY,
  netnsUnavailableReason,
  POD_CIDR,
  startPodServer,
  tcpRequests,
} from '../helpers/netns';

// The built executable, as in ../cli/bin.test.ts: CI builds right before testing; locally a
// build older than the sources would test old code, so the suite is skipped with a message.
const BIN = resolve(process.env['SVCROUTE_CLI'] ?? 'dist/cli.js');
const IN_CI = Boolean(process.env['CI']);

function newestSourceMs(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestSourceMs(p) : statSync(p).mtimeMs);
  }
  return newest;
}

const unavailable =
  netnsUnavailableReason(['iptables', 'iptables-save', 'iptables-restore']) ??
  (existsSync(BIN) && statSync(BIN).mtimeMs >= newestSourceMs('src')
    ? undefined
    : `${BIN} is missing or older than src/ (run "npm run build" first)`);

const WEB_IP = '10.96.0.10';
const API_IP = '10.96.0.20';
const POD_IPS = ['10.244.0.10', '10.244.0.11', '10.244.0.12'] as const;
const [POD_A, POD_B, POD_C] = POD_IPS;
const POD_PORT = 8080;
const NODE_NAME = 'node-a';
const WEB = serviceChainNames('default/web:http', 'TCP');
const API = serviceChainNames('default/api:http', 'TCP');
const SEP_B = endpointChainName('default/web:http', 'TCP', `${POD_B}:${POD_PORT}`);
/** How long to wait for a line of the watching process, or for the rules to change. */
const LINE_TIMEOUT_MS = 15_000;

/** Polls `ok` every 100 ms until it holds, for {@link LINE_TIMEOUT_MS} at most. */
async function until(what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + LINE_TIMEOUT_MS;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function service(name: string, clusterIP: string): string {
  return `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: default
spec:
  clusterIP: ${clusterIP}
  ports:
  - name: http
    port: 80
    protocol: TCP
    targetPort: ${POD_PORT}
`;
}

function slice(service: string, ips: readonly string[]): string {
  return `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${service}-1
  namespace: default
  labels:
    kubernetes.io/service-name: ${service}
addressType: IPv4
endpoints:
${ips.map((ip) => `- addresses: [${ip}]\n  conditions: {ready: true}\n  nodeName: node-b\n`).join('')}ports:
- name: http
  port: ${POD_PORT}
  protocol: TCP
`;
}

/** The node's rules, as the kernel holds them. */
function saved(net: NetnsTopology, table?: 'nat' | 'filter'): string {
  return net.exec(net.node, 'iptables-save', ...(table ? ['-t', table] : []));
}

/** The `-A CHAIN …` lines of one chain. */
function rulesOf(nat: string, chain: string): string[] {
  return nat.split('\n').filter((l) => l.startsWith(`-A ${chain} `));
}

/** The `ip netns exec NODE node BIN apply-rules …` argument list. */
function applyRulesArgs(net: NetnsTopology, dir: string, ...extra: string[]): string[] {
  return [
    'netns',
    'exec',
    net.node,
    process.execPath,
    BIN,
    'apply-rules',
    '-f',
    dir,
    '--node-name',
    NODE_NAME,
    '--node-ip',
    NODE_IP,
    '--cluster-cidr',
    POD_CIDR,
    ...extra,
  ];
}

function applyRules(net: NetnsTopology, dir: string, ...extra: string[]) {
  return spawnSync('ip', applyRulesArgs(net, dir, ...extra), { encoding: 'utf8', timeout: 30_000 });
}

/** A long-running `apply-rules --watch` and its stderr. */
class Watcher {
  err = '';
  private exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly proc: ChildProcess) {
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (d: string) => {
      this.err += d;
    });
    this.exit = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  count(re: RegExp): number {
    return this.err.split('\n').filter((l) => re.test(l)).length;
  }

  /** Waits (bounded) until stderr holds `count` lines matching `re`. */
  async waitFor(re: RegExp, count = 1): Promise<void> {
    const deadline = Date.now() + LINE_TIMEOUT_MS;
    while (this.count(re) < count) {
      if (!this.running) throw new Error(`apply-rules exited before ${re} (x${count}); stderr:\n${this.err}`);
      if (Date.now() > deadline)
        throw new Error(`no ${re} (x${count}) within ${LINE_TIMEOUT_MS} ms; stderr:\n${this.err}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Sends `signal` and waits (at most 10 s) for the exit. */
  async stop(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.proc.kill(signal);
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new Error(`apply-rules did not exit within 10 s of ${signal}`)),
        10_000,
      ).unref(),
    );
    return Promise.race([this.exit, timeout]);
  }
}

function describeUnavailable(reason: string): void {
  if (IN_CI) {
    // CI installs iptables and runs as root: there a missing piece is a failure, never a skip.
    describe('apply-rules in network namespaces', () => {
      it('can run', () => {
        throw new Error(`cannot run: ${reason}`);
      });
    });
    return;
  }
  console.warn(`apply-rules netns integration test skipped: ${reason}`);
  describe('apply-rules in network namespaces', () => {
    it.skip(`skipped: ${reason}`, () => {});
  });
}

if (unavailable) describeUnavailable(unavailable);
else
  describe('apply-rules in network namespaces', () => {
    let net: NetnsTopology | undefined;
    let pods: ChildProcess | undefined;
    let watcher: Watcher | undefined;
    let root = '';
    let dir = '';

    /** Replaces a manifest at once (rename), so that a reload never reads half a file. */
    const writeManifest = (name: string, text: string) => {
      const tmp = join(root, `${name}.tmp`);
      writeFileSync(tmp, text);
      renameSync(tmp, join(dir, name));
    };
    const requests = (host: string, count: number) => tcpRequests(net!.client, host, 80, count);

    beforeAll(async () => {
      root = mkdtempSync(join(tmpdir(), 'svcroute-apply-rules-'));
      dir = join(root, 'manifests');
      mkdirSync(dir);
      net = createTopology('svcr-ar', POD_IPS);
      pods = await startPodServer(net.backend, POD_IPS, POD_PORT);
    }, 30_000);

    afterAll(() => {
      if (watcher?.running) watcher.proc.kill('SIGKILL');
      pods?.kill('SIGKILL');
      net?.destroy();
      if (root) rmSync(root, { recursive: true, force: true });
    });

    it('exits 1 on a manifest that does not load and changes no rule', () => {
      const bad = join(root, 'bad');
      mkdirSync(bad);
      writeFileSync(join(bad, 'web.yaml'), `${service('web', WEB_IP)}  selector: [oops\n`);
      const r = applyRules(net!, bad);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^error: .*web\.yaml/m);
      expect(saved(net!)).not.toContain('KUBE-');
    });

    it('applies the rules once: the service chains exist and both endpoints answer', () => {
      writeManifest('web.yaml', `${service('web', WEB_IP)}---\n${slice('web', [POD_A, POD_B])}`);
      const r = applyRules(net!, dir);
      expect(r.stderr).toMatch(/^applied full sync: 1 service ports, \d+ rules in \d+ ms\n$/);
      expect(r.status).toBe(0);

      const nat = saved(net!, 'nat');
      expect(nat).toMatch(/^:KUBE-SERVICES /m);
      expect(nat).toMatch(new RegExp(`^:${WEB.cluster} `, 'm'));
      expect(rulesOf(nat, 'PREROUTING')).toContainEqual(expect.stringContaining('-j KUBE-SERVICES'));
      expect(rulesOf(nat, 'KUBE-SERVICES')).toContainEqual(
        expect.stringMatching(new RegExp(`-d ${WEB_IP}/32 .*--dport 80 -j ${WEB.cluster}$`)),
      );
      expect(rulesOf(nat, WEB.cluster).filter((l) => l.includes('-j KUBE-SEP-'))).toHaveLength(2);

      const replies = requests(WEB_IP, 40);
      const counts = countByPod(replies);
      expect([...counts.keys()].sort()).toEqual([POD_A, POD_B]);
      // Each endpoint is picked with probability 1/2: fewer than 5 of 40 is a ~1e-7 event.
      for (const pod of [POD_A, POD_B]) expect(counts.get(pod)!).toBeGreaterThanOrEqual(5);
      // The client is outside --cluster-cidr: the pods see the node's address.
      expect(new Set(replies.map((r) => r.split('|')[1]))).toEqual(new Set([NODE_POD_GATEWAY]));
    }, 60_000);

    it('follows edits with partial syncs under --watch and stops on SIGTERM with 0', async () => {
      watcher = new Watcher(
        spawn('ip', applyRulesArgs(net!, dir, '--watch'), { stdio: ['ignore', 'ignore', 'pipe'] }),
      );
      await watcher.waitFor(/^applied full sync: 1 service ports, \d+ rules in \d+ ms$/);
      expect(new Set(requests(WEB_IP, 20).map((r) => r.split('|')[0]))).toEqual(new Set([POD_A, POD_B]));

      // One endpoint leaves web, and a new service arrives: only their chains are rewritten.
      writeManifest('web.yaml', `${service('web', WEB_IP)}---\n${slice('web', [POD_A])}`);
      writeManifest('api.yaml', `${service('api', API_IP)}---\n${slice('api', [POD_C])}`);
      await watcher.waitFor(/^applied partial sync: \d+ service ports, \d+ rules in \d+ ms$/);
      // Both files may land in one reload or two: wait until the kernel holds both changes.
      let nat = '';
      await until('the rules to hold both edits', () => {
        nat = saved(net!, 'nat');
        return nat.includes(`:${API.cluster} `) && !nat.includes(SEP_B);
      });
      expect(watcher.count(/^reloaded: /)).toBeGreaterThanOrEqual(1);
      // Edits never cost a full sync.
      expect(watcher.count(/^applied full sync/)).toBe(1);
      expect(rulesOf(nat, WEB.cluster).filter((l) => l.includes('-j KUBE-SEP-'))).toEqual([
        expect.stringContaining(endpointChainName('default/web:http', 'TCP', `${POD_A}:${POD_PORT}`)),
      ]);
      expect(rulesOf(nat, 'KUBE-SERVICES')).toContainEqual(
        expect.stringMatching(new RegExp(`-d ${API_IP}/32 .*--dport 80 -j ${API.cluster}$`)),
      );
      expect(countByPod(requests(WEB_IP, 20))).toEqual(new Map([[POD_A, 20]]));
      expect(countByPod(requests(API_IP, 10))).toEqual(new Map([[POD_C, 10]]));

      // A file that does not parse changes no rule.
      const applied = watcher.count(/^applied /);
      writeManifest('api.yaml', 'apiVersion: v1\nkind: Service\nmetadata: [oops\n');
      await watcher.waitFor(/^reload failed: keeping the rules in place$/);
      expect(watcher.err).toMatch(/^error: .*api\.yaml/m);
      expect(watcher.count(/^applied /)).toBe(applied);
      expect(countByPod(requests(API_IP, 5))).toEqual(new Map([[POD_C, 5]]));

      const exit = await watcher.stop('SIGTERM');
      expect(exit).toEqual({ code: 0, signal: null });
      // Stopping leaves the rules in place (as kube-proxy does); --cleanup removes them.
      expect(saved(net!, 'nat')).toMatch(new RegExp(`^:${API.cluster} `, 'm'));
    }, 90_000);

    it('--cleanup removes every KUBE- chain and jump from the node', () => {
      const r = applyRules(net!, dir, '--cleanup');
      expect(r.stderr).toBe('removed the iptables rules\n');
      expect(r.status).toBe(0);
      expect(saved(net!)).not.toContain('KUBE-');
      // Nothing translates the cluster IP any more: no pod answers.
      expect(requests(WEB_IP, 1)[0]).not.toContain('|');
    }, 30_000);
  });
