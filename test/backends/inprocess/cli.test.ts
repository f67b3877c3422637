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

describe('svcroute proxy', () => {
  it('prints one line per listener, proxies, reloads on change and stops on abort', async () => {
    const backend = await nameServer('127.0.0.71', 'web-1');
    cleanups.push(() => closeServer(backend.server));
    const dir = mkdtempSync(join(tmpdir(), 'svcroute-proxy-'));
    const file = join(dir, 'objects.yaml');
    writeFileSync(file, manifests(backend.port, false));
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
      { filename: [file], nodeIp: ['127.0.0.1'], bind: ['127.0.0.72'], portalPort: 'service', watch: true },
      abort.signal,
    );
    cleanups.push(() => {
      abort.abort();
      return running;
    });
    await waitFor(() => out.length >= 2).catch((e) => {
      throw new Error(`${e.message}: out=${JSON.stringify(out)} err=${JSON.stringify(err)}`);
    });
    expect(out.sort()).toEqual([
      'listening tcp 127.0.0.1:31880 -> default/web:80',
      'listening tcp 127.0.0.72:80 -> default/web:80',
    ]);
    expect(await httpGet('127.0.0.1', 31880)).toBe('web-1');
    expect(await httpGet('127.0.0.72', 80)).toBe('web-1');
    writeFileSync(file, manifests(backend.port, true));
    await waitFor(() => out.includes('listening tcp 127.0.0.72:8080 -> default/api:8080'), 5000).catch(
      (e) => {
        throw new Error(`${e.message}: out=${JSON.stringify(out)} err=${JSON.stringify(err)}`);
      },
    );
    expect(await httpGet('127.0.0.72', 8080)).toBe('web-1');
    abort.abort();
    await running;
    await expect(httpGet('127.0.0.1', 31880)).rejects.toThrow(/ECONNREFUSED/);
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
