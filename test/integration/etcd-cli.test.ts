/**
 * `svcroute apply` and `svcroute delete` against a real etcd: created / configured / unchanged,
 * deletes by file and by name, and a clear error naming the endpoint when etcd is down; `get`
 * and `explain` reading the same registry with `--store` instead of `-f`.
 */
import { promises as dnsPromises } from 'node:dns';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerApplyCommand } from '../../src/cli/commands/apply';
import { registerDeleteCommand } from '../../src/cli/commands/delete';
import { registerDnsCommand, runDnsServe } from '../../src/cli/commands/dns';
import { registerExplainCommand } from '../../src/cli/commands/explain';
import { registerGetCommand } from '../../src/cli/commands/get';
import { registerProxyCommand, runProxy } from '../../src/cli/commands/proxy';
import { runServe } from '../../src/cli/commands/serve';
import { attachContext, CliContext, CliError } from '../../src/cli/context';
import { Registry } from '../../src/registry';
import { EtcdStore } from '../../src/stores/etcd';
import { EtcdTestServer, etcdSkipReason, freePort } from '../helpers/etcd-server';

if (etcdSkipReason) console.warn(etcdSkipReason);

/** A command context whose stdout and stderr are kept, read through `out()` and `err()`. */
function capture(): { ctx: CliContext; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const ctx = new CliContext({
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    readStdin: async () => '',
    now: () => new Date(),
  });
  return { ctx, out: () => out, err: () => err };
}

/** Asserts that `argv` fails with usage errors both without a source and with `-f` and `--store` together. */
async function expectExactlyOneSource(argv: string[], file: string, store: string): Promise<void> {
  const prev = process.env['SVCROUTE_STORE'];
  delete process.env['SVCROUTE_STORE'];
  try {
    const neither = await run(argv);
    expect(neither).toEqual({
      code: 2,
      out: '',
      err: 'error: must specify -f FILE or --store URL (or set SVCROUTE_STORE)\n',
    });
    const both = await run([...argv, '-f', file, '--store', store]);
    expect(both.code).toBe(2);
    expect(both.out).toBe('');
    expect(both.err).toContain('-f FILE and --store URL cannot be given together');
  } finally {
    if (prev !== undefined) process.env['SVCROUTE_STORE'] = prev;
  }
}

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const { ctx, out, err: stderr } = capture();
  const program = new Command('svcroute').exitOverride();
  attachContext(program, ctx);
  registerApplyCommand(program);
  registerDeleteCommand(program);
  registerGetCommand(program);
  registerExplainCommand(program);
  registerDnsCommand(program);
  registerProxyCommand(program);
  for (const c of program.commands) {
    c.exitOverride();
    for (const sub of c.commands) sub.exitOverride();
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return { code: ctx.exitCode, out: out(), err: stderr() };
  } catch (e) {
    if (e instanceof CliError) {
      return {
        code: e.exitCode,
        out: out(),
        err: e.reported ? stderr() : `${stderr()}error: ${e.message}\n`,
      };
    }
    throw e;
  }
}

const WEB = `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: NodePort
  selector: {app: web}
  ports:
  - port: 80
---
apiVersion: v1
kind: Service
metadata:
  name: api
  namespace: shop
spec:
  selector: {app: api}
  ports:
  - port: 8080
`;

describe.skipIf(etcdSkipReason !== undefined)('svcroute apply / delete with --store etcd://', () => {
  let server: EtcdTestServer;
  let dir: string;

  beforeAll(async () => {
    server = await EtcdTestServer.start();
    dir = await mkdtemp(join(tmpdir(), 'svcroute-cli-'));
  });
  afterAll(async () => {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('applies, re-applies and deletes, as kubectl prints it', async () => {
    const file = join(dir, 'web.yaml');
    await writeFile(file, WEB);
    const store = server.url('/cli');
    expect(await run(['apply', '-f', file, '--store', store])).toEqual({
      code: 0,
      out: 'service/web created\nservice/api created\n',
      err: '',
    });
    expect((await run(['apply', '-f', file, '--store', store])).out).toBe(
      'service/web unchanged\nservice/api unchanged\n',
    );
    await writeFile(file, WEB.replace('port: 8080', 'port: 9090'));
    expect((await run(['apply', '-f', file, '--store', store])).out).toBe(
      'service/web unchanged\nservice/api configured\n',
    );

    // Another process sees what the CLI wrote, allocated values included.
    const etcd = new EtcdStore({ endpoints: [server.endpoint], prefix: '/cli' });
    const registry = await Registry.open({ store: etcd, runControllers: false });
    const web = await registry.get('Service', 'default', 'web');
    expect(web?.spec.clusterIP).toMatch(/^10\.(9[6-9]|1[01]\d)\./);
    expect(web?.spec.ports?.[0]?.nodePort).toBeGreaterThanOrEqual(30000);
    expect((await registry.get('Service', 'shop', 'api'))?.spec.ports?.[0]?.port).toBe(9090);
    await registry.close();

    expect(await run(['delete', 'svc', 'api', '-n', 'shop', '--store', store])).toEqual({
      code: 0,
      out: 'service "api" deleted\n',
      err: '',
    });
    const again = await run(['delete', '-f', file, '--store', store]);
    expect(again.code).toBe(1);
    expect(again.out).toBe('service "web" deleted\n');
    expect(again.err).toBe(
      `Error from server (NotFound): error when deleting ${JSON.stringify(file)}: services "api" not found\n`,
    );
    expect((await run(['delete', 'svc', 'web', '--ignore-not-found', '--store', store])).code).toBe(0);
    // Every reservation went with its service.
    expect((await etcd.list('/registry/')).entries).toEqual([]);
    await etcd.close();
  }, 30_000);

  it('get and explain read the registry that apply wrote', async () => {
    const file = join(dir, 'read.yaml');
    await writeFile(
      file,
      `${WEB}---
apiVersion: v1
kind: Pod
metadata:
  name: web-1
  labels: {app: web}
spec:
  nodeName: node-a
  containers: [{name: c, image: i}]
status:
  phase: Running
  podIP: 127.0.0.11
  conditions: [{type: Ready, status: "True"}]
`,
    );
    const store = server.url('/read');
    expect((await run(['apply', '-f', file, '--store', store])).code).toBe(0);

    // What apply allocated, read back independently, is what get prints.
    const etcd = new EtcdStore({ endpoints: [server.endpoint], prefix: '/read' });
    const registry = await Registry.open({ store: etcd, runControllers: false });
    const web = await registry.get('Service', 'default', 'web');
    await registry.close();
    await etcd.close();
    const ip = web?.spec.clusterIP ?? '';
    const nodePort = web?.spec.ports?.[0]?.nodePort ?? 0;
    expect(ip).toMatch(/^10\./);

    const got = await run(['get', 'svc', '--store', store]);
    expect(got.err).toBe('');
    expect(got.code).toBe(0);
    const lines = got.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE$/);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(
      new RegExp(`^web\\s+NodePort\\s+${ip.replaceAll('.', '\\.')}\\s+<none>\\s+80:${nodePort}/TCP\\s+\\S+$`),
    );

    const all = await run(['get', 'svc', '-A', '-o', 'name', '--store', store]);
    expect(all).toEqual({ code: 0, out: 'service/web\nservice/api\n', err: '' });

    // The slice the writer's endpoints controller stored is what explain routes to.
    const explained = await run(['explain', 'default/web', '--traffic', 'internal', '--store', store]);
    expect(explained.err).toBe('');
    expect(explained.code).toBe(0);
    expect(explained.out).toContain(ip);
    expect(explained.out).toContain('127.0.0.11');
    const json = await run(['explain', 'default/web', '-o', 'json', '--store', store]);
    expect(json.code).toBe(0);
    expect(JSON.stringify(JSON.parse(json.out))).toContain('127.0.0.11');

    const missing = await run(['explain', 'default/nope', '--store', store]);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain(`service "default/nope" not found in ${store}`);
  }, 30_000);

  it('get and explain need exactly one of -f and --store', async () => {
    const file = join(dir, 'both.yaml');
    await writeFile(file, WEB);
    const store = server.url('/both');
    await expectExactlyOneSource(['get', 'svc'], file, store);
    await expectExactlyOneSource(['explain', 'default/web'], file, store);
    // A store set only in the environment yields to an explicit -f, and serves when -f is absent.
    process.env['SVCROUTE_STORE'] = store;
    try {
      const files = await run(['get', 'svc', '-A', '-o', 'name', '-f', file]);
      expect(files).toEqual({ code: 0, out: 'service/web\nservice/api\n', err: '' });
      const fromEnv = await run(['get', 'svc', '-A', '-o', 'name']);
      expect(fromEnv).toEqual({ code: 0, out: '', err: '' });
    } finally {
      delete process.env['SVCROUTE_STORE'];
    }
    // Nothing was written to the store as a side effect.
    const etcd = new EtcdStore({ endpoints: [server.endpoint], prefix: '/both' });
    expect((await etcd.list('/registry/')).entries).toEqual([]);
    await etcd.close();
  }, 30_000);

  it('fails clearly without a store, with a bad URL, and when etcd is down', async () => {
    const file = join(dir, 'one.yaml');
    await writeFile(file, WEB);
    const none = await run(['apply', '-f', file]);
    expect(none.code).toBe(2);
    expect(none.err).toContain('--store etcd://HOST:PORT');
    const bad = await run(['apply', '-f', file, '--store', 'redis://x']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('"redis://x"');
    const port = await freePort();
    const down = await run(['delete', 'svc', 'web', '--store', `etcd://127.0.0.1:${port}`]);
    expect(down.code).toBe(1);
    expect(down.err).toContain(`etcd at http://127.0.0.1:${port} is unavailable`);
  }, 30_000);
  it('dns serve --store answers what is applied to etcd, live', async () => {
    const file = join(dir, 'dns-live.yaml');
    await writeFile(
      file,
      `apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  clusterIP: 10.0.0.50\n  selector: {app: web}\n  ports: [{port: 80}]\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: web-0, labels: {app: web}}\nspec: {containers: [{name: c, image: x}]}\nstatus: {podIP: 127.0.0.5, podIPs: [{ip: 127.0.0.5}], phase: Running, conditions: [{type: Ready, status: "True"}]}\n`,
    );
    const store = server.url('/dns');
    expect((await run(['apply', '-f', file, '--store', store])).code).toBe(0);

    const stop = new AbortController();
    let out = '';
    let err = '';
    const io = {
      stdout: { write: (s: string) => (out += s) },
      stderr: { write: (s: string) => (err += s) },
      signal: stop.signal,
    };
    const running = runDnsServe({ store, listen: '127.0.0.1:0' }, io);
    try {
      await vi.waitFor(() => expect(out).toMatch(/^listening udp\+tcp 127\.0\.0\.1:\d+\n$/), {
        timeout: 10000,
      });
      const port = Number(/:(\d+)\n/.exec(out)?.[1]);
      const r = new dnsPromises.Resolver({ timeout: 1000, tries: 1 });
      r.setServers([`127.0.0.1:${port}`]);
      expect(await r.resolve4('web.default.svc.cluster.local')).toEqual(['10.0.0.50']);
      await expect(r.resolve4('late.default.svc.cluster.local')).rejects.toMatchObject({ code: 'ENOTFOUND' });

      // Another process applies a service: the running server answers it without a restart.
      const late = join(dir, 'dns-late.yaml');
      await writeFile(
        late,
        'apiVersion: v1\nkind: Service\nmetadata: {name: late}\nspec:\n  clusterIP: 10.0.0.51\n  ports: [{port: 80}]\n',
      );
      expect((await run(['apply', '-f', late, '--store', store])).code).toBe(0);
      await vi.waitFor(
        async () => expect(await r.resolve4('late.default.svc.cluster.local')).toEqual(['10.0.0.51']),
        { timeout: 5000, interval: 100 },
      );
      // And a deletion stops being answered.
      expect((await run(['delete', 'svc', 'late', '--store', store])).code).toBe(0);
      await vi.waitFor(
        async () =>
          await expect(r.resolve4('late.default.svc.cluster.local')).rejects.toMatchObject({
            code: 'ENOTFOUND',
          }),
        { timeout: 5000, interval: 100 },
      );
      expect(err).toBe('');
    } finally {
      stop.abort();
      await running;
    }
  });

  it('dns serve needs exactly one of -f and --store', async () => {
    const file = join(dir, 'dns-both.yaml');
    await writeFile(file, WEB);
    await expectExactlyOneSource(['dns', 'serve', '--listen', '127.0.0.1:0'], file, server.url('/dns-both'));
  });
  it('proxy --store opens listeners for services applied to etcd, live', async () => {
    const store = server.url('/proxy');
    const file = join(dir, 'proxy-web.yaml');
    await writeFile(
      file,
      'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports: [{port: 80}]\n',
    );
    expect((await run(['apply', '-f', file, '--store', store])).code).toBe(0);
    const { ctx, out, err } = capture();
    const stop = new AbortController();
    const running = runProxy(
      ctx,
      { store, nodeIp: ['127.0.0.1'], bind: ['127.0.0.1'], portalPort: 'auto', watch: true },
      stop.signal,
    );
    try {
      await vi.waitFor(() => expect(out()).toMatch(/^listening tcp 127\.0\.0\.1:\d+ -> default\/web:80$/m), {
        timeout: 10000,
      });
      expect(out()).not.toContain('default/late');
      const late = join(dir, 'proxy-late.yaml');
      await writeFile(
        late,
        'apiVersion: v1\nkind: Service\nmetadata: {name: late}\nspec:\n  ports: [{port: 81}]\n',
      );
      expect((await run(['apply', '-f', late, '--store', store])).code).toBe(0);
      await vi.waitFor(() => expect(out()).toMatch(/^listening tcp 127\.0\.0\.1:\d+ -> default\/late:81$/m), {
        timeout: 5000,
        interval: 100,
      });
      expect(err()).toBe('');
    } finally {
      stop.abort();
      await running;
    }
  });

  it('proxy needs exactly one of -f and --store', async () => {
    const file = join(dir, 'proxy-both.yaml');
    await writeFile(file, WEB);
    await expectExactlyOneSource(['proxy', '--node-ip', '127.0.0.1'], file, server.url('/proxy-both'));
  });
  it('serve --store answers DNS for services applied to etcd, live', async () => {
    const store = server.url('/serve');
    const file = join(dir, 'serve-web.yaml');
    await writeFile(
      file,
      'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  clusterIP: 10.0.0.60\n  ports: [{port: 80}]\n',
    );
    expect((await run(['apply', '-f', file, '--store', store])).code).toBe(0);
    const { ctx, out, err } = capture();
    const stop = new AbortController();
    const running = runServe(ctx, { store, dns: '127.0.0.1:0' }, stop.signal);
    try {
      await vi.waitFor(() => expect(out()).toMatch(/^ready$/m), { timeout: 10000 });
      expect(out()).toContain(`following ${store}: 1 service(s)`);
      const port = Number(/^dns: listening udp\+tcp 127\.0\.0\.1:(\d+)/m.exec(out())?.[1]);
      const r = new dnsPromises.Resolver({ timeout: 1000, tries: 1 });
      r.setServers([`127.0.0.1:${port}`]);
      expect(await r.resolve4('web.default.svc.cluster.local')).toEqual(['10.0.0.60']);
      const late = join(dir, 'serve-late.yaml');
      await writeFile(
        late,
        'apiVersion: v1\nkind: Service\nmetadata: {name: late}\nspec:\n  clusterIP: 10.0.0.61\n  ports: [{port: 80}]\n',
      );
      expect((await run(['apply', '-f', late, '--store', store])).code).toBe(0);
      await vi.waitFor(
        async () => expect(await r.resolve4('late.default.svc.cluster.local')).toEqual(['10.0.0.61']),
        { timeout: 5000, interval: 100 },
      );
      expect(err()).toBe('');
    } finally {
      stop.abort();
      await running;
    }
  });
});
