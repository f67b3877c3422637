// Custom proxy authoring: an HTTP-aware reverse proxy in ~45 lines, built on svcroute's
// ServiceResolver (service lookup, endpoints that follow the registry, traffic policies) and
// a load-aware balancer (least-request). Being HTTP-aware, it routes on the Host header, answers
// 404/503 itself, reports each response to the balancer, and retries an idempotent request on
// another endpoint when the first one fails.
//
// Three replicas on 127.0.0.71-73; the third is slow. Everything stays on loopback.
import assert from 'node:assert/strict';
import http from 'node:http';
import { LeastRequestBalancer, Registry } from 'svcroute';
import { NoEndpointsError, ServiceResolver, UnknownServiceError } from 'svcroute/inprocess';

const REPLICAS = [
  { name: 'web-0', ip: '127.0.0.71', delayMs: 0 },
  { name: 'web-1', ip: '127.0.0.72', delayMs: 0 },
  { name: 'web-2', ip: '127.0.0.73', delayMs: 40 },
];
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

// ---- the proxy ------------------------------------------------------------------------------

/** Creates the proxy: `Host: <service>[.<namespace>]` picks the service. */
function createServiceProxy(resolver) {
  const upstreamAgent = new http.Agent({ keepAlive: true });

  function forward(req, res, host, avoid) {
    let route;
    try {
      route = resolver.resolve(host, { clientIP: req.socket.remoteAddress, avoid });
    } catch (e) {
      const status = e instanceof UnknownServiceError ? 404 : e instanceof NoEndpointsError ? 503 : 400;
      res.writeHead(status, { 'content-type': 'text/plain' }).end(`${e.message}\n`);
      return;
    }
    const upstream = http.request(
      {
        host: route.ip,
        port: route.port,
        method: req.method,
        path: req.url,
        agent: upstreamAgent,
        headers: { ...req.headers, 'x-forwarded-for': req.socket.remoteAddress, 'x-forwarded-host': host },
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, { ...up.headers, 'x-served-by': route.endpoint.key });
        up.pipe(res);
        up.on('end', () => route.done({ ok: (up.statusCode ?? 502) < 500 }));
      },
    );
    upstream.on('error', (err) => {
      route.done({ ok: false });
      if (res.headersSent) return res.destroy(err);
      // Nothing reached the client yet: an idempotent request may go to another endpoint.
      const tried = new Set([...(avoid ?? []), route.endpoint.key]);
      if (IDEMPOTENT.has(req.method) && tried.size < 3) return forward(req, res, host, tried);
      res
        .writeHead(502, { 'content-type': 'text/plain' })
        .end(`upstream ${route.endpoint.key}: ${err.message}\n`);
    });
    req.pipe(upstream);
  }

  return http.createServer((req, res) => forward(req, res, (req.headers.host ?? '').replace(/:\d+$/, '')));
}

// ---- a small cluster to run it against --------------------------------------------------------

function listen(server, host, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => resolve(server.address().port));
  });
}

async function startReplicas() {
  for (let attempt = 0; attempt < 10; attempt++) {
    const servers = REPLICAS.map((r) =>
      http.createServer((_req, res) => setTimeout(() => res.end(r.name), r.delayMs)),
    );
    try {
      const port = await listen(servers[0], REPLICAS[0].ip, 0);
      for (let i = 1; i < servers.length; i++) await listen(servers[i], REPLICAS[i].ip, port);
      return { port, servers };
    } catch {
      for (const s of servers) s.close();
    }
  }
  throw new Error('no port free on every replica address');
}

function request(port, host) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, headers: { host }, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, body: body.trim() }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** `total` requests from `concurrency` clients in a loop; answers counted by body. */
async function load(port, host, total, concurrency) {
  const counts = new Map();
  let sent = 0;
  const worker = async () => {
    while (sent < total) {
      sent++;
      const { status, body } = await request(port, host);
      assert.equal(status, 200, body);
      counts.set(body, (counts.get(body) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return counts;
}

const { port: podPort, servers } = await startReplicas();
const registry = new Registry();
await registry.create({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web', namespace: 'shop' },
  spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
});
for (const r of REPLICAS)
  await registry.create({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: r.name, namespace: 'shop', labels: { app: 'web' } },
    spec: { containers: [{ name: 'web', image: 'web', ports: [{ name: 'http', containerPort: podPort }] }] },
    status: { phase: 'Running', podIP: r.ip, conditions: [{ type: 'Ready', status: 'True' }] },
  });
await registry.settled();

const resolver = new ServiceResolver(registry, {
  namespace: 'default',
  balancer: () => new LeastRequestBalancer(),
});
const proxy = createServiceProxy(resolver);
const proxyPort = await listen(proxy, '127.0.0.1', 0);
console.log(
  `HTTP proxy on 127.0.0.1:${proxyPort}; Host: web.shop -> service shop/web (3 replicas, web-2 slow)\n`,
);

try {
  const counts = await load(proxyPort, 'web.shop', 90, 6);
  for (const r of REPLICAS) console.log(`  ${r.name} (${r.delayMs} ms)  ${counts.get(r.name) ?? 0} requests`);
  const slow = counts.get('web-2') ?? 0;
  assert.ok(
    slow < Math.min(counts.get('web-0') ?? 0, counts.get('web-1') ?? 0),
    'the slow replica should get the fewest',
  );
  console.log('  least-request sends less to the slow replica\n');

  // web-1 crashes (its pod is still listed): GETs are retried on another endpoint.
  servers[1].closeAllConnections();
  await new Promise((r) => servers[1].close(r));
  const after = await load(proxyPort, 'web.shop', 20, 2);
  console.log(
    `  after web-1 crashed: ${[...after].map(([k, v]) => `${k}: ${v}`).join(', ')} (20/20 answered)`,
  );
  assert.ok(!after.has('web-1'));

  const missing = await request(proxyPort, 'nope.shop');
  console.log(`  Host: nope.shop -> ${missing.status} ${missing.body}`);
  assert.equal(missing.status, 404);
} finally {
  resolver.close();
  proxy.closeAllConnections();
  proxy.close();
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
  await registry.close();
}
