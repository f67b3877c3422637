// NodePort: port 30080 on the cluster IP, 30001 on every node, 80 in the pods. The node port
// must lie in the API server's --service-node-port-range (default 30000-32767).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Registry } from 'svcroute';
import { renderIptables } from 'svcroute/iptables';
import { readManifests } from './load.mjs';

const [nginx] = readManifests('nginx-nodeport.yaml');

// Default range: accepted.
const registry = new Registry();
const created = await registry.create(nginx);
const port = created.spec.ports[0];
console.log(
  `default range 30000-32767: created, port ${port.port} -> targetPort ${port.targetPort}, nodePort ${port.nodePort}`,
);
assert.equal(port.nodePort, 30001);

// No pod yet: kube-proxy rejects connections to the node port (filter table).
const before = renderIptables(registry.snapshot(), { nodeName: 'node-1', nodeIPs: ['192.0.2.10'] });
const reject = before.filter
  .split('\n')
  .find((l) => l.includes('default/nginx:http has no endpoints') && l.includes('--dport 30001'));
console.log(`  without endpoints: ${reject}`);
assert.match(reject, /-j REJECT$/);

// One nginx pod later: the node port jumps to the service's external chain (nat table).
await registry.create({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'nginx-0', namespace: 'default', labels: { app: 'nginx' } },
  spec: {
    nodeName: 'node-1',
    containers: [{ name: 'nginx', image: 'nginx', ports: [{ containerPort: 80 }] }],
  },
  status: { phase: 'Running', podIP: '127.0.0.52', conditions: [{ type: 'Ready', status: 'True' }] },
});
await registry.settled();
const { nat } = renderIptables(registry.snapshot(), { nodeName: 'node-1', nodeIPs: ['192.0.2.10'] });
const nodePortRule = nat
  .split('\n')
  .find((l) => l.startsWith('-A KUBE-NODEPORTS') && l.includes('default/nginx'));
console.log(`  with pod nginx-0:  ${nodePortRule}`);
assert.match(nodePortRule, /--dport 30001 -j KUBE-EXT-/);

// The same port a second time: refused, as the API server refuses it.
const copy = structuredClone(nginx);
copy.metadata.name = 'nginx-copy';
await assert.rejects(registry.create(copy), (e) => {
  console.log(`a second service asking for 30001:\n  ${e.message.replaceAll('\n', '\n  ')}`);
  return /spec\.ports\[0\]\.nodePort: Invalid value: 30001: provided port is already allocated/.test(
    e.message,
  );
});
await registry.close();

// An API server started with --service-node-port-range=31000-32767: rejected with its message.
const narrow = new Registry({ serviceNodePortRange: '31000-32767' });
await assert.rejects(narrow.create(nginx), (e) => {
  console.log(`range 31000-32767:\n  ${e.message.replaceAll('\n', '\n  ')}`);
  return (
    e.name === 'StatusError' &&
    e.reason === 'Invalid' &&
    e.message.includes(
      'spec.ports[0].nodePort: Invalid value: 30001: provided port is not in the valid range. The range of valid ports is 31000-32767',
    )
  );
});
await narrow.close();

// The same check from the command line.
const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const manifest = fileURLToPath(new URL('./manifests/nginx-nodeport.yaml', import.meta.url));
for (const range of [undefined, '31000-32767']) {
  const args = ['validate', '-f', manifest, ...(range ? ['--service-node-port-range', range] : [])];
  const run = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 10_000 });
  console.log(
    `\n$ svcroute ${args.join(' ').replace(manifest, 'manifests/nginx-nodeport.yaml')}   # exit ${run.status}`,
  );
  console.log(`${run.stdout}${run.stderr}`.trimEnd());
  assert.equal(run.status, range ? 1 : 0);
  if (range)
    assert.match(
      run.stderr,
      /provided port is not in the valid range\. The range of valid ports is 31000-32767/,
    );
}
