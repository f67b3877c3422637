// Discovery by DNS: a frontend in namespace my-ns looks up `backend-service` (selector
// tier=backend,app=myapp) and `my-service.my-ns` with the resolv.conf kubelet writes for it,
// against svcroute's cluster DNS server on a loopback port.
import assert from 'node:assert/strict';
import { Registry } from 'svcroute';
import { PodResolver, renderResolvConf, serveDns } from 'svcroute/dns';
import { loadInto } from './load.mjs';

const registry = await loadInto(new Registry(), 'my-ns.yaml');
const dns = await serveDns(registry, { listen: '127.0.0.1:0' });
const { host, port } = await dns.start();
const nameserver = `${host}:${port}`;
console.log(`cluster DNS on ${nameserver}\n`);

try {
  const backend = await registry.get('Service', 'my-ns', 'backend-service');
  const mine = await registry.get('Service', 'my-ns', 'my-service');
  const slices = registry.snapshot().ports.get('my-ns/backend-service:http')?.endpoints ?? [];
  console.log('backend-service selects tier=backend,app=myapp:');
  for (const e of slices) console.log(`  ${e.key}  ${e.targetRef?.name}  ready=${e.ready}`);
  assert.deepEqual(
    slices
      .filter((e) => e.ready)
      .map((e) => e.ip)
      .sort(),
    ['127.0.0.61', '127.0.0.62'],
  );

  // The frontend pod's /etc/resolv.conf (dnsPolicy ClusterFirst), and a resolver that follows it.
  // kubelet writes the cluster DNS service's IP (10.96.0.10 by convention); this process asks
  // the loopback server instead, with the same search list and ndots.
  const resolvConf = renderResolvConf({ namespace: 'my-ns', nameservers: ['10.96.0.10'] });
  console.log(`\n/etc/resolv.conf of a pod in my-ns:\n${resolvConf.replace(/^/gm, '  ').trimEnd()}\n`);
  const resolver = new PodResolver({ namespace: 'my-ns', nameservers: [nameserver] });

  for (const [name, want] of [
    ['backend-service', backend.spec.clusterIP],
    ['my-service.my-ns', mine.spec.clusterIP],
    ['my-service.my-ns.svc.cluster.local', mine.spec.clusterIP],
  ]) {
    const { name: answered, records } = await resolver.resolve4(name);
    console.log(`${name.padEnd(36)} -> ${answered}  A ${records.join(', ')}`);
    assert.deepEqual(records, [want]);
  }

  const srv = await resolver.resolveSrv('_http._tcp.backend-service');
  console.log(
    `${'_http._tcp.backend-service'.padEnd(36)} -> SRV ${srv.records.map((r) => `${r.name}:${r.port}`).join(', ')}`,
  );
  assert.equal(srv.records[0]?.port, 80);

  // From another namespace the short name means something else: it is not found.
  const elsewhere = new PodResolver({ namespace: 'default', nameservers: [nameserver] });
  await assert.rejects(elsewhere.resolve4('backend-service'), { code: 'ENOTFOUND' });
  console.log(
    `\nfrom namespace default: backend-service -> not found; backend-service.my-ns -> ${(await elsewhere.resolve4('backend-service.my-ns')).records}`,
  );
} finally {
  await dns.close();
  await registry.close();
}
