// Two backends behind one service, reached three ways: resolve() (no hop), fetch() through the
// svcroute dispatcher, and the userspace proxy. Prints how requests spread over the two pods.
//
//   npm run build && node examples/two-backends/main.mjs
//
// Everything listens on loopback: the pods on 127.0.0.81 and 127.0.0.82, the proxy on 127.0.0.1.
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { Registry } from 'svcroute';
import { InprocessProxyBackend, ServiceResolver } from 'svcroute/inprocess';
import { ServiceDispatcher } from 'svcroute/inprocess/fetch';
import { fetch } from 'undici';

const ROUNDS = 12;

/** A "pod": an HTTP server answering with its name. */
async function startPod(name, ip) {
  const server = createServer((req, res) => {
    req.resume();
    res.end(name);
  });
  await new Promise((resolve) => server.listen({ host: ip, port: 0 }, resolve));
  return { name, ip, port: server.address().port, server };
}

function podManifest(pod) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: pod.name, namespace: 'demo', labels: { app: 'backend' } },
    spec: { containers: [{ name: 'app', ports: [{ name: 'http', containerPort: pod.port }] }] },
    status: {
      phase: 'Running',
      podIP: pod.ip,
      podIPs: [{ ip: pod.ip }],
      conditions: [{ type: 'Ready', status: 'True' }],
    },
  };
}

/** One HTTP/1.1 request on a new connection; resolves with the body. */
function getOnce(host, port) {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (d) => {
      data += d;
    });
    socket.on('end', () => resolve(data.slice(data.indexOf('\r\n\r\n') + 4)));
    socket.on('error', reject);
    socket.write('GET / HTTP/1.1\r\nHost: backend.demo\r\nConnection: close\r\n\r\n');
  });
}

function tally(names) {
  const counts = {};
  for (const n of names) counts[n] = (counts[n] ?? 0) + 1;
  return Object.entries(counts)
    .sort()
    .map(([n, c]) => `${n}=${c}`)
    .join(' ');
}

function report(label, names) {
  console.log(`${`${label}:`.padEnd(36)} ${tally(names)}`);
}

const pods = [await startPod('pod-a', '127.0.0.81'), await startPod('pod-b', '127.0.0.82')];
const registry = new Registry();
await registry.ready();
await registry.apply({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'backend', namespace: 'demo' },
  spec: { selector: { app: 'backend' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
});
for (const pod of pods) await registry.apply(podManifest(pod));
await registry.settled();
const service = await registry.get('Service', 'demo', 'backend');
console.log(`service demo/backend: cluster IP ${service.spec.clusterIP}, port 80 -> pods' "http" port`);
for (const pod of pods) console.log(`  ${pod.name} at ${pod.ip}:${pod.port}`);

// 1. resolve(): pick an endpoint in-process and connect to it yourself.
const resolver = new ServiceResolver(registry);
const picked = [];
for (let i = 0; i < ROUNDS; i++) {
  const r = resolver.resolve('backend.demo:http');
  picked.push(pods.find((p) => p.ip === r.ip).name);
  r.done();
}
report(`resolve('backend.demo:http') x${ROUNDS}`, picked);

// 2. fetch() with the svcroute dispatcher: per-request balancing, pooled connections per pod.
const dispatcher = new ServiceDispatcher(resolver);
const fetched = [];
for (let i = 0; i < ROUNDS; i++) {
  const res = await fetch('http://backend.demo/', { dispatcher });
  fetched.push(await res.text());
}
report(`fetch('http://backend.demo/') x${ROUNDS}`, fetched);

// 3. The userspace proxy: the service's portal on 127.0.0.1, one new connection per request.
const proxy = new InprocessProxyBackend({ portalAddresses: ['127.0.0.1'], portalPort: 'auto' });
await proxy.attach(registry);
const [listener] = proxy.openListeners();
console.log(`proxy listening on ${listener.address}:${listener.boundPort} -> demo/backend:80`);
const proxied = [];
for (let i = 0; i < ROUNDS; i++) proxied.push(await getOnce('127.0.0.1', listener.boundPort));
report(`proxy, new connection each x${ROUNDS}`, proxied);

// Scale down to one pod: the next requests all go to the other one.
await registry.delete('Pod', 'demo', 'pod-a');
await registry.settled();
await proxy.idle();
const after = [];
for (let i = 0; i < 4; i++) after.push(await getOnce('127.0.0.1', listener.boundPort));
report('after deleting pod-a, proxy x4', after);

console.log('\nproxy metrics (Prometheus text, excerpt):');
for (const line of proxy.prometheus().split('\n'))
  if (line.startsWith('svcroute_proxy_endpoint_connections_total')) console.log(`  ${line}`);

await dispatcher.close();
resolver.close();
await proxy.close();
await registry.close();
for (const pod of pods) pod.server.close();
