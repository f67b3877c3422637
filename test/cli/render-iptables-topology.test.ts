import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from './helpers';

// Rendering only: these addresses are never connected to.
const SERVICE = `apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: default
spec:
  clusterIP: 10.96.0.50
  ports:
  - name: http
    port: 80
    protocol: TCP
    targetPort: 8080
`;

const SLICE = `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-abcde
  namespace: default
  labels:
    kubernetes.io/service-name: web
addressType: IPv4
ports:
- name: http
  port: 8080
  protocol: TCP
endpoints:
- addresses: [10.244.1.10]
  conditions: {ready: true, serving: true, terminating: false}
  nodeName: node-a
  zone: zone-a
  hints:
    forZones: [{name: zone-a}]
- addresses: [10.244.2.20]
  conditions: {ready: true, serving: true, terminating: false}
  nodeName: node-b
  zone: zone-b
  hints:
    forZones: [{name: zone-b}]
`;

function node(name: string, zone: string): string {
  return `apiVersion: v1
kind: Node
metadata:
  name: ${name}
  labels:
    kubernetes.io/hostname: ${name}
    topology.kubernetes.io/zone: ${zone}
`;
}

let dir = '';
const at = (name: string) => join(dir, name);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'svcroute-render-topology-'));
  writeFileSync(at('app.yaml'), `${SERVICE}---\n${SLICE}`);
  writeFileSync(at('nodes.yaml'), `${node('node-a', 'zone-a')}---\n${node('node-b', 'zone-b')}`);
  writeFileSync(at('node-a-unzoned.yaml'), 'apiVersion: v1\nkind: Node\nmetadata:\n  name: node-a\n');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The endpoint addresses the service chain of default/web:http jumps to. */
function endpointsOf(payload: string): string[] {
  const sepComment =
    /^-A KUBE-SVC-\S+ .*-m comment --comment "default\/web:http -> ([\d.]+):\d+".* -j KUBE-SEP-/;
  return payload
    .split('\n')
    .map((line) => sepComment.exec(line)?.[1])
    .filter((ip): ip is string => ip !== undefined)
    .sort();
}

async function render(files: string[], nodeName: string): Promise<string[]> {
  const args = ['render', 'iptables', '--node-name', nodeName];
  for (const f of files) args.push('-f', at(f));
  const r = await cli(args);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return endpointsOf(r.stdout);
}

describe('render iptables: topology hints from the Node named by --node-name', () => {
  it("keeps only the endpoints hinted for the node's zone", async () => {
    expect(await render(['app.yaml', 'nodes.yaml'], 'node-a')).toEqual(['10.244.1.10']);
    expect(await render(['app.yaml', 'nodes.yaml'], 'node-b')).toEqual(['10.244.2.20']);
  });

  it('ignores the hints without the Node object (no zone known)', async () => {
    expect(await render(['app.yaml'], 'node-a')).toEqual(['10.244.1.10', '10.244.2.20']);
  });

  it('ignores the hints when the Node has no zone label', async () => {
    expect(await render(['app.yaml', 'node-a-unzoned.yaml'], 'node-a')).toEqual([
      '10.244.1.10',
      '10.244.2.20',
    ]);
  });

  it('ignores the hints of a zone no endpoint is hinted for', async () => {
    writeFileSync(at('node-c.yaml'), node('node-c', 'zone-c'));
    expect(await render(['app.yaml', 'node-c.yaml'], 'node-c')).toEqual(['10.244.1.10', '10.244.2.20']);
  });
});
