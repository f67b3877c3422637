import { promises as dnsPromises } from 'node:dns';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerDnsCommand, runDnsServe } from '../../src/cli/commands/dns';
import { registerRenderDnsZoneCommand } from '../../src/cli/commands/render-dns-zone';
import { registerRenderEnvCommand } from '../../src/cli/commands/render-env';

const MANIFESTS = `
apiVersion: v1
kind: Namespace
metadata: {name: quiet}
---
apiVersion: v1
kind: Service
metadata: {name: redis-master, namespace: default}
spec:
  clusterIP: 10.0.0.11
  ports: [{port: 6379, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: my-service, namespace: my-ns}
spec:
  clusterIP: 10.96.0.20
  ports: [{name: http, port: 80, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: my-ns}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{name: pg, port: 5432, protocol: TCP}]
---
apiVersion: v1
kind: Pod
metadata: {name: db-0, namespace: my-ns, labels: {app: db}}
spec:
  hostname: db-0
  subdomain: db
  containers: [{name: pg, image: postgres}]
status:
  phase: Running
  podIP: 127.0.0.31
  podIPs: [{ip: 127.0.0.31}]
  conditions: [{type: Ready, status: "True"}]
`;

let dir = '';
let file = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'svcroute-dns-'));
  file = join(dir, 'cluster.yaml');
  await writeFile(file, MANIFESTS);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function capture(args: string[]): Promise<{ out: string; err: string }> {
  const program = new Command('svcroute').exitOverride();
  registerDnsCommand(program);
  registerRenderDnsZoneCommand(program);
  registerRenderEnvCommand(program);
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    out += String(s);
    return true;
  });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    err += String(s);
    return true;
  });
  try {
    await program.parseAsync(['node', 'svcroute', ...args]);
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
  return { out, err };
}

describe('svcroute dns serve', () => {
  it('serves the files, prints the listening line, reloads on change and stops on abort', async () => {
    const stop = new AbortController();
    let out = '';
    let err = '';
    const io = {
      stdout: { write: (s: string) => (out += s) },
      stderr: { write: (s: string) => (err += s) },
      signal: stop.signal,
    };
    const running = runDnsServe({ filename: [file], listen: '127.0.0.1:0', pods: 'insecure' }, io);
    await vi.waitFor(() => expect(out).toMatch(/^listening udp\+tcp 127\.0\.0\.1:\d+\n$/), {
      timeout: 10000,
    });
    const port = Number(/:(\d+)\n/.exec(out)?.[1]);
    const r = new dnsPromises.Resolver({ timeout: 1000, tries: 1 });
    r.setServers([`127.0.0.1:${port}`]);
    try {
      expect(await r.resolve4('redis-master.default.svc.cluster.local')).toEqual(['10.0.0.11']);
      expect(await r.resolve4('db.my-ns.svc.cluster.local')).toEqual(['127.0.0.31']);
      expect(await r.resolve4('db-0.db.my-ns.svc.cluster.local')).toEqual(['127.0.0.31']);
      expect(await r.resolve4('1-2-3-4.my-ns.pod.cluster.local')).toEqual(['1.2.3.4']);
      // A namespace that exists only as a Namespace object: NODATA, not NXDOMAIN.
      await expect(r.resolve4('quiet.svc.cluster.local')).rejects.toMatchObject({ code: 'ENODATA' });
      await expect(r.resolve4('x.unknown.svc.cluster.local')).rejects.toMatchObject({ code: 'ENOTFOUND' });

      await writeFile(
        file,
        `${MANIFESTS}---\napiVersion: v1\nkind: Service\nmetadata: {name: late, namespace: default}\nspec:\n  clusterIP: 10.0.0.99\n  ports: [{port: 80}]\n`,
      );
      await vi.waitFor(
        async () => expect(await r.resolve4('late.default.svc.cluster.local')).toEqual(['10.0.0.99']),
        {
          timeout: 10000,
          interval: 200,
        },
      );
      expect(err).toMatch(/reloaded/);
    } finally {
      stop.abort();
      await running;
      await writeFile(file, MANIFESTS);
    }
  });
});

describe('svcroute render', () => {
  it('render env prints the kubelet variables of the seed example', async () => {
    const { out } = await capture(['render', 'env', '-f', file, '--namespace', 'default']);
    expect(out).toBe(
      [
        'REDIS_MASTER_SERVICE_HOST=10.0.0.11',
        'REDIS_MASTER_SERVICE_PORT=6379',
        'REDIS_MASTER_PORT=tcp://10.0.0.11:6379',
        'REDIS_MASTER_PORT_6379_TCP=tcp://10.0.0.11:6379',
        'REDIS_MASTER_PORT_6379_TCP_PROTO=tcp',
        'REDIS_MASTER_PORT_6379_TCP_PORT=6379',
        'REDIS_MASTER_PORT_6379_TCP_ADDR=10.0.0.11',
        '',
      ].join('\n'),
    );
    const none = await capture(['render', 'env', '-f', file, '--namespace', 'default', '--no-service-links']);
    expect(none.out).toBe('');
    const mine = await capture(['render', 'env', '-f', file, '--namespace', 'my-ns']);
    expect(mine.out).toMatch(/^MY_SERVICE_SERVICE_HOST=10\.96\.0\.20$/m);
    expect(mine.out).not.toMatch(/DB_SERVICE_HOST/);
  });

  it('render dns-zone prints a zone file', async () => {
    const { out } = await capture(['render', 'dns-zone', '-f', file]);
    expect(out).toMatch(/^\$ORIGIN cluster\.local\.$/m);
    expect(out).toMatch(/^redis-master\.default\.svc\.cluster\.local\.\t5\tIN\tA\t10\.0\.0\.11$/m);
    expect(out).toMatch(
      /^_pg\._tcp\.db\.my-ns\.svc\.cluster\.local\.\t5\tIN\tSRV\t0 100 5432 db-0\.db\.my-ns\.svc\.cluster\.local\.$/m,
    );
  });
});
