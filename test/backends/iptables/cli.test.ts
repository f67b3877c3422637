import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { registerRenderIptablesCommand } from '../../../src/cli/commands/render-iptables';
import { tracePacket } from '../../../src/testing/iptables-tracer';

const dir = mkdtempSync(join(tmpdir(), 'svcroute-ipt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MANIFEST = `apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  type: NodePort
  clusterIP: 10.96.0.50
  clusterIPs: [10.96.0.50]
  selector:
    app: web
  ports:
  - name: http
    port: 80
    targetPort: 8080
    nodePort: 30080
    protocol: TCP
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-abc
  namespace: shop
  labels:
    kubernetes.io/service-name: web
addressType: IPv4
ports:
- name: http
  port: 8080
  protocol: TCP
endpoints:
- addresses: [10.244.1.5]
  conditions: {ready: true}
  nodeName: node-a
- addresses: [10.244.2.7]
  conditions: {ready: true}
  nodeName: node-b
`;

async function run(args: string[]): Promise<string> {
  const file = join(dir, 'web.yaml');
  writeFileSync(file, MANIFEST);
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    const program = new Command().exitOverride();
    registerRenderIptablesCommand(program);
    await program.parseAsync(['render', 'iptables', '-f', file, ...args], { from: 'user' });
  } finally {
    spy.mockRestore();
  }
  return out;
}

describe('svcroute render iptables', () => {
  it('prints the full-sync payload for the manifests', async () => {
    const out = await run([
      '--node-name',
      'node-a',
      '--node-ip',
      '192.168.0.2',
      '--cluster-cidr',
      '10.244.0.0/16',
    ]);
    expect(out.startsWith('*filter\n')).toBe(true);
    expect(out).toContain('"shop/web:http cluster IP" -m tcp -p tcp -d 10.96.0.50 --dport 80 -j KUBE-SVC-');
    expect(out).toContain(
      '-A KUBE-NODEPORTS -m comment --comment shop/web:http -m tcp -p tcp --dport 30080 -j KUBE-EXT-',
    );
    expect(out).toContain('! -s 10.244.0.0/16 -j KUBE-MARK-MASQ');
    const outcomes = tracePacket(
      out,
      { source: '203.0.113.9', protocol: 'tcp', destination: '192.168.0.2', port: 30080 },
      { localAddresses: ['192.168.0.2'] },
    );
    expect(outcomes.map((o) => o.dnat).sort()).toEqual(['10.244.1.5:8080', '10.244.2.7:8080']);
  });

  it('passes the kube-proxy flags through', async () => {
    const out = await run([
      '--node-name',
      'node-a',
      '--masquerade-bit',
      '15',
      '--random-fully',
      '--nfacct',
      '--localhost-nodeports',
      'false',
      '--masquerade-all',
    ]);
    expect(out).toContain('--or-mark 0x00008000');
    expect(out).toContain('-j MASQUERADE --random-fully');
    expect(out).toContain('ct_state_invalid_dropped_pkts');
    expect(out).not.toContain('localhost_nps_accepted_pkts');
    expect(out).toContain('--dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS');
  });

  it('rejects a bad masquerade bit', async () => {
    await expect(run(['--masquerade-bit', '40'])).rejects.toThrow();
  });
});
