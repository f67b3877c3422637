import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type ApplyRulesOptions, runApplyRules } from '../../../src/cli/commands/apply-rules';
import { captureContext } from '../../cli/helpers';
import { fakeIptables, routedEndpoints } from './fixtures';

// Rendering into a fake kernel only: these addresses are never connected to.
const APP = `apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIP: 10.96.0.50
  ports: [{name: http, port: 80, protocol: TCP, targetPort: 8080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-abcde
  namespace: default
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints:
- addresses: [10.244.1.10]
  conditions: {ready: true, serving: true, terminating: false}
  zone: zone-a
  hints: {forZones: [{name: zone-a}]}
- addresses: [10.244.2.20]
  conditions: {ready: true, serving: true, terminating: false}
  zone: zone-b
  hints: {forZones: [{name: zone-b}]}
`;

function nodeManifest(labels: Record<string, string>): string {
  const lines = Object.entries(labels).map(([k, v]) => `    ${k}: ${v}`);
  return `apiVersion: v1\nkind: Node\nmetadata:\n  name: node-a\n  labels:\n${lines.join('\n')}\n`;
}

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('apply-rules follows the zone label of the Node named by --node-name', () => {
  it('renders for its zone, and re-renders everything in a full sync when the label changes', async () => {
    dir = mkdtempSync(join(tmpdir(), 'svcroute-apply-node-'));
    const nodeFile = join(dir, 'node.yaml');
    writeFileSync(join(dir, 'app.yaml'), APP);
    writeFileSync(nodeFile, nodeManifest({ 'topology.kubernetes.io/zone': 'zone-a' }));
    const { ctx, stderr } = captureContext();
    const { kernel, runner } = fakeIptables();
    const opts: ApplyRulesOptions = {
      filename: [join(dir, 'app.yaml'), nodeFile],
      nodeName: 'node-a',
      nodeIp: [],
      masqueradeBit: 14,
      localhostNodeports: true,
      nodePortAddresses: [],
      watch: true,
    };
    const stop = new AbortController();
    const run = runApplyRules(ctx, opts, stop.signal, { runner });
    try {
      const syncs = () => stderr().match(/applied (full|partial) sync/g) ?? [];
      await until('the first sync', () => syncs().length >= 1);
      expect(routedEndpoints(kernel)).toEqual(['10.244.1.10']);

      // A label other than the zone changes nothing in the kernel.
      writeFileSync(
        nodeFile,
        nodeManifest({ 'topology.kubernetes.io/zone': 'zone-a', 'example.com/rack': 'r1' }),
      );
      await until('the reload', () => stderr().includes('reloaded: 0 created, 1 configured'));
      await new Promise((r) => setTimeout(r, 100));
      expect(syncs()).toHaveLength(1);

      writeFileSync(nodeFile, nodeManifest({ 'topology.kubernetes.io/zone': 'zone-b' }));
      await until('the sync after the zone change', () => syncs().length >= 2);
      expect(syncs()[1]).toBe('applied full sync');
      expect(routedEndpoints(kernel)).toEqual(['10.244.2.20']);
    } finally {
      stop.abort();
      await run;
    }
    expect(stderr()).not.toContain('error');
  });
});
