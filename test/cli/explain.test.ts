import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseExplainTarget, registerExplainCommand } from '../../src/cli/commands/explain';
import { COMMAND_REGISTRATIONS } from '../../src/cli/program';
import { cli } from './helpers';

it('explain is one of the program commands', () => {
  expect(COMMAND_REGISTRATIONS).toContain(registerExplainCommand);
});

const pod = (name: string, ip: string, node: string, ready: boolean) => `
apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: shop, labels: {app: web}}
spec:
  nodeName: ${node}
  containers: [{name: web, image: nginx, ports: [{name: http, containerPort: 8080}]}]
status:
  phase: Running
  podIP: ${ip}
  conditions: [{type: Ready, status: "${ready ? 'True' : 'False'}"}]
`;

const CLUSTER = [
  `apiVersion: v1
kind: Node
metadata: {name: node-a, labels: {topology.kubernetes.io/zone: zone-a}}`,
  `apiVersion: v1
kind: Node
metadata: {name: node-b, labels: {topology.kubernetes.io/zone: zone-b}}`,
  `apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  type: NodePort
  externalTrafficPolicy: Local
  sessionAffinity: ClientIP
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http, nodePort: 30080}]`,
  `apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec:
  selector: {app: db}
  ports: [{name: mysql, port: 33306, targetPort: 3306}]`,
  `apiVersion: v1
kind: Service
metadata: {name: peers, namespace: shop}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{port: 80}]`,
  pod('web-1', '127.0.0.21', 'node-a', true),
  pod('web-2', '127.0.0.22', 'node-b', true),
  pod('web-3', '127.0.0.23', 'node-a', false),
].join('\n---\n');

let dir: string;
let file: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'svcroute-explain-'));
  file = join(dir, 'cluster.yaml');
  writeFileSync(file, CLUSTER);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('parseExplainTarget', () => {
  it('reads namespace, name and port', () => {
    expect(parseExplainTarget('my-ns/backend-service:http')).toEqual({
      namespace: 'my-ns',
      name: 'backend-service',
      port: 'http',
    });
    expect(parseExplainTarget('web')).toEqual({ namespace: 'default', name: 'web' });
    expect(parseExplainTarget('web:80', 'shop')).toEqual({ namespace: 'shop', name: 'web', port: '80' });
  });

  it('rejects what is not a service reference', () => {
    for (const bad of ['', 'a/b/c', 'Web', 'ns/', '/web', 'web:', 'web:80:81'])
      expect(() => parseExplainTarget(bad), bad).toThrow(/want \[NAMESPACE\/\]NAME\[:PORT\]/);
  });
});

describe('svcroute explain', () => {
  it('explains internal and node-port traffic with the reason for every excluded endpoint', async () => {
    const r = await cli(['explain', 'shop/web:http', '--node', 'node-a', '-f', file]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [internal, external] = r.stdout.split('\n\n');
    expect(internal).toContain('Service shop/web:http (TCP)');
    expect(internal).toContain('port 80 -> targetPort http -> nodePort 30080');
    expect(internal).toContain('Traffic: internal, routed by node node-a (zone zone-a)');
    expect(internal).toContain('Outcome: forward to 2 of 3 endpoint(s)');
    expect(internal).toMatch(/\+ 127\.0\.0\.21:8080 .* eligible/);
    expect(internal).toMatch(/\+ 127\.0\.0\.22:8080 .* eligible/);
    expect(internal).toMatch(/- 127\.0\.0\.23:8080 .* not ready/);
    expect(internal).toContain('Session affinity: ClientIP, timeout 10800s');
    // The node port uses externalTrafficPolicy Local: only node-a's ready endpoint.
    expect(external).toContain('Traffic: external');
    expect(external).toContain('Policy: externalTrafficPolicy Local');
    expect(external).toContain('Outcome: forward to 1 of 3 endpoint(s)');
    expect(external).toMatch(/- 127\.0\.0\.22:8080 .*not on this node \(on node-b\)/);
  });

  it('drops external traffic on a node without local endpoints', async () => {
    const r = await cli([
      'explain',
      'web',
      '-n',
      'shop',
      '--traffic',
      'external',
      '--node',
      'node-c',
      '-f',
      file,
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('warning: no Node "node-c" in the manifests; assuming it has no zone label\n');
    expect(r.stdout).toContain('Outcome: DROP');
    expect(r.stdout).not.toContain('Traffic: internal');
  });

  it('selects a port by number and reports the client affinity', async () => {
    const r = await cli([
      'explain',
      'shop/web:80',
      '--client-ip',
      '10.1.2.3',
      '--traffic',
      'internal',
      '-f',
      file,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('client 10.1.2.3 has no sticky endpoint');
  });

  it('rejects with no endpoints (port 33306 -> targetPort 3306, no node port)', async () => {
    const r = await cli(['explain', 'shop/db', '-f', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('port 33306 -> targetPort 3306\n');
    expect(r.stdout).toContain('REJECT');
    expect(r.stdout).not.toContain('Traffic: external');
  });

  it('prints JSON with -o json', async () => {
    const r = await cli(['explain', 'shop/web:http', '--traffic', 'internal', '-o', 'json', '-f', file]);
    expect(r.code).toBe(0);
    const parsed = JSON.parse(r.stdout) as { service: string; eligible: { ip: string }[] }[];
    expect(parsed).toHaveLength(1);
    expect(parsed[0]?.service).toBe('shop/web:http');
    expect(parsed[0]?.eligible.map((e) => e.ip).sort()).toEqual(['127.0.0.21', '127.0.0.22']);
  });

  it('names the file when the service is missing, and hints at the namespace', async () => {
    const r = await cli(['explain', 'web', '-f', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `error: service "default/web" not found in ${file} (found shop/web: give the namespace)\n`,
    );
  });

  it('lists the ports when the port does not exist', async () => {
    const r = await cli(['explain', 'shop/web:https', '-f', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error: service shop/web has no port "https" in spec.ports (ports: http 80/TCP)\n');
  });

  it('explains why a headless service has no route', async () => {
    const r = await cli(['explain', 'shop/peers', '-f', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: service shop\/peers is headless \(spec\.clusterIP: None\)/);
    expect(r.stderr.split('\n')).toHaveLength(2);
  });

  it('gives usage errors (exit 2) for a bad target or client IP', async () => {
    expect((await cli(['explain', 'a/b/c', '-f', file])).code).toBe(2);
    const r = await cli(['explain', 'shop/web', '--client-ip', 'nope', '-f', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('error: invalid argument "nope" for "--client-ip" flag: not an IP address\n');
  });

  it('has --help', async () => {
    const r = await cli(['explain', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: svcroute explain [options] <service>');
    expect(r.stdout).toContain('--client-ip <ip>');
    expect(r.stdout).toContain('Exit status');
  });
});
