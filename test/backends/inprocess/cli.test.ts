import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { registerProxyCommand, runProxy } from '../../../src/cli/commands/proxy';
import { CliContext } from '../../../src/cli/context';
import { closeServer, httpGet, nameServer, waitFor } from './helpers';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function manifests(backendPort: number, withSecond: boolean): string {
  const docs = [
    `apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: ${backendPort}, nodePort: 31880}]`,
    `apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: default, labels: {app: web}}
spec: {containers: [{name: c}]}
status: {phase: Running, podIP: 127.0.0.71, podIPs: [{ip: 127.0.0.71}], conditions: [{type: Ready, status: "True"}]}`,
  ];
  if (withSecond)
    docs.push(`apiVersion: v1
kind: Service
metadata: {name: api, namespace: default}
spec:
  selector: {app: web}
  ports: [{port: 8080, targetPort: ${backendPort}}]`);
  return `${docs.join('\n---\n')}\n`;
}

/**
 * Starts `svcroute proxy -f file --watch` binding `bind`, with stdout split into lines; stops on
 * cleanup. `settle` waits for a condition and names what was printed when it times out.
 */
function startProxy(file: string, bind: string) {
  const out: string[] = [];
  const err: string[] = [];
  const ctx = new CliContext({
    stdout: { write: (t: string) => out.push(...t.trimEnd().split('\n')) },
    stderr: { write: (t: string) => err.push(t) },
    readStdin: async () => '',
    now: () => new Date(),
  });
  const abort = new AbortController();
  const running = runProxy(
    ctx,
    { filename: [file], nodeIp: ['127.0.0.1'], bind: [bind], portalPort: 'service', watch: true },
    abort.signal,
  );
  const stop = () => {
    abort.abort();
    return running;
  };
  cleanups.push(stop);
  const settle = (cond: () => boolean, timeoutMs = 5000) =>
    waitFor(cond, timeoutMs).catch((e) => {
      throw new Error(`${e.message}: out=${JSON.stringify(out)} err=${JSON.stringify(err)}`);
    });
  return { out, err, stop, settle };
}

describe('svcroute proxy', () => {
  it('prints one line per listener, proxies, reloads on change and stops on abort', async () => {
    const backend = await nameServer('127.0.0.71', 'web-1');
    cleanups.push(() => closeServer(backend.server));
    const dir = mkdtempSync(join(tmpdir(), 'svcroute-proxy-'));
    const file = join(dir, 'objects.yaml');
    writeFileSync(file, manifests(backend.port, false));
    const { out, err, stop, settle } = startProxy(file, '127.0.0.72');
    await settle(() => out.length >= 2);
    expect(out.sort()).toEqual([
      'listening tcp 127.0.0.1:31880 -> default/web:80',
      'listening tcp 127.0.0.72:80 -> default/web:80',
    ]);
    expect(await httpGet('127.0.0.1', 31880)).toBe('web-1');
    expect(await httpGet('127.0.0.72', 80)).toBe('web-1');
    writeFileSync(file, manifests(backend.port, true));
    await settle(() => out.includes('listening tcp 127.0.0.72:8080 -> default/api:8080'));
    expect(await httpGet('127.0.0.72', 8080)).toBe('web-1');
    await stop();
    await expect(httpGet('127.0.0.1', 31880)).rejects.toThrow(/ECONNREFUSED/);
    expect(err.filter((e) => e.startsWith('error'))).toEqual([]);
  });

  it('names what a closed listener served and announces an open listener whose port changed', async () => {
    const first = await nameServer('127.0.0.73', 'first');
    const second = await nameServer('127.0.0.73', 'second');
    cleanups.push(
      () => closeServer(first.server),
      () => closeServer(second.server),
    );
    const dir = mkdtempSync(join(tmpdir(), 'svcroute-proxy-'));
    const file = join(dir, 'objects.yaml');
    const objects = (port: number, targetPort: number) => `apiVersion: v1
kind: Service
metadata: {name: shop, namespace: default}
spec:
  type: NodePort
  selector: {app: shop}
  ports: [{name: http, port: ${port}, targetPort: ${targetPort}, nodePort: 31881}]
---
apiVersion: v1
kind: Pod
metadata: {name: shop-1, namespace: default, labels: {app: shop}}
spec: {containers: [{name: c}]}
status: {phase: Running, podIP: 127.0.0.73, podIPs: [{ip: 127.0.0.73}], conditions: [{type: Ready, status: "True"}]}
`;
    writeFileSync(file, objects(80, first.port));
    const { out, err, stop, settle } = startProxy(file, '127.0.0.74');
    await settle(() => out.length >= 2);
    expect(await httpGet('127.0.0.1', 31881)).toBe('first');

    // targetPort only: the same listeners keep serving, now the new backend port; nothing printed.
    const before = out.length;
    writeFileSync(file, objects(80, second.port));
    await settle(() => err.some((e) => e.startsWith('reloaded')));
    let body = '';
    for (let i = 0; i < 200 && body !== 'second'; i++) {
      body = await httpGet('127.0.0.1', 31881);
      if (body !== 'second') await new Promise((r) => setTimeout(r, 25));
    }
    expect(body).toBe('second');
    expect(out.slice(before)).toEqual([]);

    // port 80 -> 81: the portal moves (closed names port 80), the NodePort stays and is announced again.
    writeFileSync(file, objects(81, second.port));
    await settle(() => out.length >= before + 3);
    expect(out.slice(before).sort()).toEqual([
      'closed tcp 127.0.0.74:80 -> default/shop:80',
      'listening tcp 127.0.0.1:31881 -> default/shop:81',
      'listening tcp 127.0.0.74:81 -> default/shop:81',
    ]);
    expect(await httpGet('127.0.0.74', 81)).toBe('second');
    await expect(httpGet('127.0.0.74', 80)).rejects.toThrow(/ECONNREFUSED/);

    await stop();
    // Shutdown closes what is open, each line naming the port it served last.
    expect(out.slice(before + 3).sort()).toEqual([
      'closed tcp 127.0.0.1:31881 -> default/shop:81',
      'closed tcp 127.0.0.74:81 -> default/shop:81',
    ]);
    expect(err.filter((e) => e.startsWith('error'))).toEqual([]);
  });

  it('registers the command with its flags', () => {
    const program = new Command();
    registerProxyCommand(program);
    const cmd = program.commands.find((c) => c.name() === 'proxy');
    expect(cmd?.options.map((o) => o.long)).toEqual(
      expect.arrayContaining(['--filename', '--node-ip', '--bind', '--portal-port', '--no-watch']),
    );
  });
});
