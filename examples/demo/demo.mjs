#!/usr/bin/env node
// svcroute in one process: two replicas behind a Service, found by DNS and by environment
// variables, reached through the userspace proxy (spread, ClientIP affinity, a replica dying,
// a NodePort), and the iptables rules kube-proxy would write for the same state.
//
// Everything listens on loopback: the replicas on 127.0.0.11 and 127.0.0.12 (the pod IPs), the
// DNS server and the proxy on 127.0.0.1. The cluster IP (from 10.96.0.0/12) is only ever
// printed and rendered, never connected to: on this host the proxy's portal stands in for it.
//
// Run with `npm run demo` (builds first). Exit code 0 only when every step passed.

import http from 'node:http';
import { attachBackend, Registry, SeededRng } from 'svcroute';
import { PodResolver, serveDns } from 'svcroute/dns';
import { discoverFromEnv, renderEnvForPod } from 'svcroute/env';
import { InprocessProxyBackend } from 'svcroute/inprocess';
import { renderIptables } from 'svcroute/iptables';

const NAMESPACE = 'guestbook';
const SERVICE = 'redis-replica';
const NODE = 'node-1';
const NODE_IP = '127.0.0.1';
const REPLICA_IPS = ['127.0.0.11', '127.0.0.12'];
/** The whole demo must finish well within this; a hang is a failure, not a stuck terminal. */
const DEMO_DEADLINE_MS = 30_000;
const REQUEST_TIMEOUT_MS = 3_000;

// ---------------------------------------------------------------------------------------------
// Terminal output

const color = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code) => (s) => (color ? `\x1b[${code}m${s}\x1b[0m` : String(s));
const bold = paint('1');
const dim = paint('2');
const green = paint('32');
const red = paint('31');
const cyan = paint('36');
const yellow = paint('33');

const say = (line = '') => process.stdout.write(`${line}\n`);
const detail = (line) => say(`    ${line}`);

const results = [];
let stepNo = 0;
const TOTAL_STEPS = 10;

/** Runs one step: its title, its output, then a verdict line. A throw fails the step. */
async function step(title, fn) {
  stepNo++;
  say('');
  say(bold(`${cyan(`[${stepNo}/${TOTAL_STEPS}]`)} ${title}`));
  const started = Date.now();
  try {
    const verdict = await fn();
    const ms = Date.now() - started;
    if (verdict?.skipped) {
      say(`  ${yellow('skipped')}: ${verdict.skipped}`);
      results.push({ title, status: 'skipped' });
    } else {
      say(`  ${green('✓')} ${verdict ?? 'ok'} ${dim(`(${ms} ms)`)}`);
      results.push({ title, status: 'passed' });
    }
  } catch (err) {
    say(`  ${red('✗')} ${err instanceof Error ? err.message : String(err)}`);
    results.push({ title, status: 'failed' });
  }
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

// ---------------------------------------------------------------------------------------------
// The replicas: tiny HTTP servers that answer with their pod name

function startReplica(name, ip, port) {
  const server = http.createServer((_req, res) => {
    res.setHeader('connection', 'close');
    res.end(`${name}\n`);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: ip, port, exclusive: true }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** Both replicas on one port number (the Service's targetPort is one number for every pod). */
async function startReplicas(names) {
  for (let attempt = 0; attempt < 10; attempt++) {
    const first = await startReplica(names[0], REPLICA_IPS[0], 0);
    const port = first.address().port;
    try {
      const second = await startReplica(names[1], REPLICA_IPS[1], port);
      return { port, servers: [first, second] };
    } catch {
      first.close();
    }
  }
  throw new Error('could not find a port free on both replica addresses');
}

function stopServer(server) {
  server.closeAllConnections?.();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** GET http://host:port/ over a fresh connection (so each request is balanced on its own). */
function get(host, port, localAddress) {
  return new Promise((resolve, reject) => {
    const req = http.get(
      {
        host,
        port,
        path: '/',
        agent: false,
        timeout: REQUEST_TIMEOUT_MS,
        ...(localAddress ? { localAddress } : {}),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () =>
          res.statusCode === 200 ? resolve(body.trim()) : reject(new Error(`HTTP ${res.statusCode}`)),
        );
      },
    );
    req.on('timeout', () =>
      req.destroy(new Error(`no answer from ${host}:${port} in ${REQUEST_TIMEOUT_MS} ms`)),
    );
    req.on('error', reject);
  });
}

/** Sends `n` requests one after the other; returns answers per pod name and the failures. */
async function sendRequests(n, host, port, { localAddress, between } = {}) {
  const counts = new Map();
  const failures = [];
  for (let i = 0; i < n; i++) {
    await between?.(i);
    try {
      const who = await get(host, port, localAddress);
      counts.set(who, (counts.get(who) ?? 0) + 1);
    } catch (err) {
      failures.push(err.message);
    }
  }
  return { counts, failures };
}

function formatCounts(counts) {
  return [...counts]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([who, n]) => `${who}: ${n}`)
    .join(', ');
}

function bar(n, total, width = 20) {
  const filled = Math.round((n / total) * width);
  return `${'█'.repeat(filled)}${dim('·'.repeat(width - filled))}`;
}

// ---------------------------------------------------------------------------------------------
// Cluster objects

function namespace(name) {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name } };
}

function replicaPod(name, ip, port) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NAMESPACE, labels: { app: 'redis', role: 'replica', tier: 'backend' } },
    spec: {
      nodeName: NODE,
      containers: [{ name: 'replica', image: 'redis', ports: [{ name: 'redis', containerPort: port }] }],
    },
    status: {
      phase: 'Running',
      podIP: ip,
      podIPs: [{ ip }],
      conditions: [{ type: 'Ready', status: 'True' }],
    },
  };
}

function replicaService() {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: SERVICE, namespace: NAMESPACE, labels: { app: 'redis', role: 'replica' } },
    spec: {
      type: 'NodePort',
      selector: { app: 'redis', role: 'replica', tier: 'backend' },
      ports: [{ name: 'redis', port: 6379, targetPort: 'redis' }],
    },
  };
}

function frontendPod() {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'frontend-0', namespace: NAMESPACE, labels: { app: 'guestbook', tier: 'frontend' } },
    spec: {
      nodeName: NODE,
      containers: [
        { name: 'php-redis', image: 'guestbook', env: [{ name: 'GET_HOSTS_FROM', value: 'env' }] },
      ],
    },
  };
}

/** Feeds every registry snapshot to a backend and lets the demo wait until it has caught up. */
function follow(registry, backend) {
  const attached = attachBackend(registry, backend);
  return {
    caughtUp: async () => {
      await registry.settled();
      await attached.idle();
    },
    stop: () => attached.detach(),
  };
}

// ---------------------------------------------------------------------------------------------
// The demo

async function main() {
  const cleanups = [];
  const state = {};
  say(bold('svcroute demo') + dim(' · Kubernetes Service routing inside one Node.js process, loopback only'));

  await step('Start two replicas of the backend (the pods)', async () => {
    const names = ['redis-replica-0', 'redis-replica-1'];
    const { port, servers } = await startReplicas(names);
    cleanups.push(() => Promise.all(servers.map(stopServer)));
    state.replicas = names.map((name, i) => ({ name, ip: REPLICA_IPS[i], server: servers[i] }));
    state.targetPort = port;
    for (const r of state.replicas) detail(`${r.name.padEnd(16)} pod IP ${r.ip}, container port ${port}`);
    for (const r of state.replicas) check((await get(r.ip, port)) === r.name, `${r.name} does not answer`);
    return 'both replicas answer with their pod name';
  });

  await step('Register the pods and a Service selecting them', async () => {
    // A seeded RNG makes the allocated cluster IP and node port the same on every run.
    const registry = new Registry({ rng: new SeededRng(2026) });
    cleanups.push(() => registry.close());
    state.registry = registry;
    await registry.create(namespace(NAMESPACE));
    for (const r of state.replicas) await registry.create(replicaPod(r.name, r.ip, state.targetPort));
    const svc = await registry.create(replicaService());
    await registry.settled();
    state.clusterIP = svc.spec.clusterIP;
    state.nodePort = svc.spec.ports[0].nodePort;
    detail(`Service ${NAMESPACE}/${SERVICE}  type NodePort  selector app=redis,role=replica,tier=backend`);
    detail(`  cluster IP ${state.clusterIP} (allocated from 10.96.0.0/12; virtual, never dialed here)`);
    detail(
      `  port 6379 -> targetPort "redis" (= ${state.targetPort} in each pod), nodePort ${state.nodePort}`,
    );
    const entry = registry.snapshot().ports.get(`${NAMESPACE}/${SERVICE}:redis`);
    check(entry !== undefined, 'the snapshot has no entry for the service port');
    const ready = entry.endpoints.filter((e) => e.ready).map((e) => e.key);
    detail(`  endpoints (built by the endpoints controller): ${ready.join(', ')}`);
    check(ready.length === 2, `expected 2 ready endpoints, got ${ready.length}`);
    return 'EndpointSlice holds both pods, ready';
  });

  await step('Start the cluster DNS server; the frontend resolves the service by name', async () => {
    const dns = await serveDns(state.registry, { listen: '127.0.0.1:0' });
    cleanups.push(() => dns.close());
    const { host, port } = await dns.start();
    detail(`DNS server on udp+tcp ${host}:${port}, zone cluster.local`);
    // A resolver configured like a pod in the namespace: search list and ndots 5.
    const resolver = new PodResolver({ namespace: NAMESPACE, nameservers: [`${host}:${port}`] });
    detail(`pod search list: ${resolver.search.join(' ')}`);
    const a = await resolver.resolve4(SERVICE);
    detail(`A    ${SERVICE}  ->  ${a.name}  ${a.records.join(', ')}`);
    check(a.records.length === 1 && a.records[0] === state.clusterIP, `expected ${state.clusterIP}`);
    const srv = await resolver.resolveSrv(`_redis._tcp.${SERVICE}`);
    const s = srv.records[0];
    detail(`SRV  _redis._tcp.${SERVICE}  ->  ${s?.name}:${s?.port}`);
    check(s?.port === 6379, 'SRV record does not carry port 6379');
    return `"${SERVICE}" resolves to the cluster IP, with its named port in SRV`;
  });

  await step('Render the environment of a new frontend pod, then parse it back', async () => {
    const pod = await state.registry.create(frontendPod());
    const services = await state.registry.list('Service', { namespace: NAMESPACE });
    const { vars } = renderEnvForPod(pod, services);
    const prefix = SERVICE.toUpperCase().replaceAll('-', '_');
    for (const v of vars.filter((x) => x.name.startsWith(prefix) || x.name === 'GET_HOSTS_FROM'))
      detail(`${v.name}=${v.value}`);
    const discovered = discoverFromEnv(Object.fromEntries(vars.map((v) => [v.name, v.value]))).get(SERVICE);
    check(discovered !== undefined, `no ${prefix}_* variables found`);
    detail(
      `discoverFromEnv(env).get('${SERVICE}') -> ${discovered.host}:${discovered.port}/${discovered.protocol}`,
    );
    check(discovered.host === state.clusterIP && discovered.port === 6379, 'parsed address differs');
    return 'the frontend finds the same cluster IP and port in its environment';
  });

  await step('Start the userspace proxy (kube-proxy userspace mode, in-process)', async () => {
    const proxy = new InprocessProxyBackend({
      node: { name: NODE },
      portalAddresses: [NODE_IP],
      portalPort: 'auto',
      nodeAddresses: [NODE_IP],
      bindLocalServiceIPs: false,
    });
    proxy.on('retry', (_key, ep, err) =>
      detail(dim(`proxy: ${ep.key} refused (${err.message}); retrying elsewhere`)),
    );
    state.proxy = proxy;
    const following = follow(state.registry, proxy);
    cleanups.push(async () => {
      following.stop();
      await proxy.close();
    });
    state.following = following;
    await following.caughtUp();
    for (const l of proxy.openListeners())
      detail(`listening ${l.protocol} ${l.address}:${l.boundPort} -> ${l.routeKey} (${l.kind})`);
    const portal = proxy.openListeners().find((l) => l.kind === 'portal');
    const nodePort = proxy.openListeners().find((l) => l.kind === 'nodePort');
    check(portal !== undefined, 'no portal listener for the cluster IP');
    check(nodePort !== undefined, 'no NodePort listener');
    state.portal = { host: portal.address, port: portal.boundPort };
    state.nodePortListener = { host: nodePort.address, port: nodePort.boundPort };
    detail(dim(`${state.clusterIP}:6379 stands for ${portal.address}:${portal.boundPort} on this host`));
    return `${proxy.openListeners().length} listeners open`;
  });

  await step('Send 20 requests to the service: spread across the replicas', async () => {
    const n = 20;
    const { counts, failures } = await sendRequests(n, state.portal.host, state.portal.port);
    for (const r of state.replicas) {
      const c = counts.get(r.name) ?? 0;
      detail(`${r.name.padEnd(16)} ${bar(c, n)} ${c}`);
    }
    check(failures.length === 0, `${failures.length} request(s) failed: ${failures[0]}`);
    check(
      state.replicas.every((r) => (counts.get(r.name) ?? 0) > 0),
      `not every replica served: ${formatCounts(counts)}`,
    );
    return `round-robin: ${formatCounts(counts)}`;
  });

  await step('Turn on sessionAffinity: ClientIP, each client sticks to one replica', async () => {
    const current = await state.registry.get('Service', NAMESPACE, SERVICE);
    const next = structuredClone(current);
    next.spec.sessionAffinity = 'ClientIP';
    await state.registry.update(next);
    await state.following.caughtUp();
    const clients = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
    const stuck = [];
    for (const client of clients) {
      const { counts, failures } = await sendRequests(8, state.portal.host, state.portal.port, {
        localAddress: client,
      });
      check(failures.length === 0, `client ${client}: ${failures[0]}`);
      detail(`client ${client.padEnd(10)} ${formatCounts(counts)}`);
      check(counts.size === 1, `client ${client} reached ${counts.size} replicas`);
      stuck.push(...counts.keys());
    }
    // Back to None, so the next steps show plain balancing again.
    const again = structuredClone(await state.registry.get('Service', NAMESPACE, SERVICE));
    again.spec.sessionAffinity = 'None';
    delete again.spec.sessionAffinityConfig;
    await state.registry.update(again);
    await state.following.caughtUp();
    return `every client kept its replica (affinity timeout 10800 s, the API server default)`;
  });

  await step(`Reach the service on its NodePort (${NODE_IP} is the node IP)`, async () => {
    const { counts, failures } = await sendRequests(
      4,
      state.nodePortListener.host,
      state.nodePortListener.port,
    );
    detail(
      `GET http://${state.nodePortListener.host}:${state.nodePortListener.port}/ x4 -> ${formatCounts(counts)}`,
    );
    check(failures.length === 0, `${failures.length} request(s) failed: ${failures[0]}`);
    return `nodePort ${state.nodePort} forwards to the same endpoints`;
  });

  await step('The iptables rules kube-proxy would write for this state (excerpt)', async () => {
    const rules = renderIptables(state.registry.snapshot(), { nodeName: NODE, nodeIPs: [NODE_IP] });
    const chains = rules.chainsByPort.get(`${NAMESPACE}/${SERVICE}:redis`) ?? [];
    const svcChain = chains.find((c) => c.startsWith('KUBE-SVC-'));
    check(svcChain !== undefined, 'no KUBE-SVC chain rendered for the service');
    const sepChains = chains.filter((c) => c.startsWith('KUBE-SEP-'));
    const excerpt = rules.nat
      .split('\n')
      .filter(
        (l) =>
          (l.startsWith('-A KUBE-SERVICES') && l.includes(svcChain)) ||
          (l.startsWith('-A KUBE-NODEPORTS') && l.includes(`${NAMESPACE}/${SERVICE}`)) ||
          (l.startsWith(`-A ${svcChain} `) && l.includes('KUBE-SEP-')) ||
          sepChains.some((c) => l.startsWith(`-A ${c} `) && l.includes('DNAT')),
      );
    for (const line of excerpt) detail(dim(line));
    check(
      excerpt.some((l) => l.includes('--probability 0.5000000000')),
      'expected a 1-in-2 probability rule in the KUBE-SVC chain',
    );
    return `${rules.stats.natRules} nat rules in all; ${svcChain} splits 50/50 over ${sepChains.length} KUBE-SEP chains`;
  });

  await step('A replica dies under load: no request fails', async () => {
    const victim = state.replicas[1];
    const n = 30;
    const crashAt = 10;
    const deleteAt = 16;
    const { counts, failures } = await sendRequests(n, state.portal.host, state.portal.port, {
      between: async (i) => {
        // The process crashes first: its port refuses connections and the proxy retries them on
        // the other endpoint. Then the pod is deleted and the endpoint leaves the rotation.
        if (i === crashAt) {
          detail(`before request ${i + 1}: ${victim.name} crashes (its server closes)`);
          await stopServer(victim.server);
        }
        if (i === deleteAt) {
          await state.registry.delete('Pod', NAMESPACE, victim.name);
          await state.following.caughtUp();
          detail(`before request ${i + 1}: pod ${victim.name} deleted, its endpoint leaves the rotation`);
        }
      },
    });
    detail(`${n} requests -> ${formatCounts(counts)}`);
    const stats = state.proxy.metrics.get(`${NAMESPACE}/${SERVICE}:redis`);
    if (stats)
      detail(
        `proxy counters for this port since start: ${stats.total} connections, ${stats.retries} connects retried, ${stats.errors} failed`,
      );
    check(failures.length === 0, `${failures.length} of ${n} requests failed: ${failures[0]}`);
    return `${n}/${n} requests answered while ${victim.name} went away`;
  });

  say('');
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  const failed = results.filter((r) => r.status === 'failed');
  const skipped = results.filter((r) => r.status === 'skipped');
  const passed = results.length - failed.length - skipped.length;
  const summary = `${passed}/${results.length} steps passed${skipped.length ? `, ${skipped.length} skipped` : ''}`;
  say(
    failed.length === 0
      ? bold(green(summary))
      : bold(red(`${summary}; failed: ${failed.map((f) => f.title).join('; ')}`)),
  );
  if (failed.length === 0) {
    say('');
    say(dim('Next: the same machinery over your own manifests —'));
    say(dim('  node dist/cli.js serve -f examples/seed/manifests/ --dns 127.0.0.1:5353 --proxy'));
    say(dim('  node dist/cli.js explain my-ns/backend-service -f examples/seed/manifests/my-ns.yaml'));
    say(dim('More examples: docs/examples.md'));
  }
  return failed.length === 0 ? 0 : 1;
}

const deadline = setTimeout(() => {
  say(red(`\ndemo did not finish within ${DEMO_DEADLINE_MS / 1000} s`));
  process.exit(1);
}, DEMO_DEADLINE_MS);
deadline.unref();

main().then(
  (code) => {
    process.exitCode = code;
    // Sockets that linger after cleanup must not keep the demo alive.
    setTimeout(() => process.exit(code), 1_000).unref();
  },
  (err) => {
    say(red(`demo crashed: ${err?.stack ?? err}`));
    process.exit(1);
  },
);
