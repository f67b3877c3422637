// port vs targetPort: clients use the service's port 33306, pods listen on 3306. The service
// is type ClusterIP, so no NodePort is allocated and nothing outside the cluster reaches it.
import assert from 'node:assert/strict';
import { explainInSnapshot, formatExplanation, Registry } from 'svcroute';
import { ServiceResolver } from 'svcroute/inprocess';
import { renderIptables } from 'svcroute/iptables';
import { loadInto } from './load.mjs';

const registry = await loadInto(new Registry(), 'mysql.yaml');
const svc = await registry.get('Service', 'default', 'mysql');
const [port] = svc.spec.ports;
console.log(`service default/mysql: type ${svc.spec.type}, cluster IP ${svc.spec.clusterIP}`);
console.log(`  port ${port.port} -> targetPort ${port.targetPort}; nodePort: ${port.nodePort ?? 'none'}`);
assert.equal(svc.spec.type, 'ClusterIP');
assert.equal(port.nodePort, undefined);

// What kube-proxy does with it on node-1 (the same text as `svcroute explain default/mysql`).
const snapshot = registry.snapshot();
const [internal] = explainInSnapshot(snapshot, 'default/mysql:mysql', {
  node: { name: 'node-1' },
  source: 'internal',
});
console.log(`\n${formatExplanation(internal)}`);
assert.equal(internal.outcome, 'forward');
const [external] = explainInSnapshot(snapshot, 'default/mysql:mysql', {
  node: { name: 'node-1' },
  source: 'external',
});
assert.equal(external.outcome, 'not-exposed');

// An application resolving the service in-process gets the pod address and the target port.
const resolver = new ServiceResolver(registry);
const picked = resolver.resolve('mysql:33306');
console.log(`resolve('mysql:33306') -> ${picked.ip}:${picked.port}`);
assert.equal(`${picked.ip}:${picked.port}`, '127.0.0.51:3306');
picked.done();
resolver.close();

// iptables: --dport 33306 on the cluster IP, DNAT to :3306, and no KUBE-NODEPORTS rule.
const { nat } = renderIptables(snapshot, { nodeName: 'node-1' });
const rules = nat.split('\n').filter((l) => l.includes('default/mysql') && /--dport|DNAT/.test(l));
console.log(`\n${rules.join('\n')}`);
assert.ok(rules.some((l) => l.includes(`-d ${svc.spec.clusterIP}`) && l.includes('--dport 33306')));
assert.ok(rules.some((l) => l.includes('--to-destination 127.0.0.51:3306')));
assert.ok(!nat.split('\n').some((l) => l.startsWith('-A KUBE-NODEPORTS') && l.includes('default/mysql')));

await registry.close();
