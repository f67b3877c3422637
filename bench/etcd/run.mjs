// etcd store benchmark: service creates per second and watch delivery latency (p50/p99), with
// the etcd store and with the memory store in the same run, for 1 and 4 writers. Writers on etcd
// are separate processes, each with its own Registry; a watching Registry (in this process)
// records when every service reaches it. Latency is measured from the start of a writer's
// create() call to the watcher's `added` event: commit, watch delivery and cache update.
// The memory store cannot be shared between processes, so its "4 writers" are four concurrent
// loops on one Registry in this process.
//
// Starts its own etcd (loopback ports, temporary data directory, killed at the end). Writes
// bench/results/etcd.md. Bounded: fixed service counts and a wall-clock cap.
//
// Runs against the built library (`npm run build` first; SVCROUTE_DIST overrides the
// directory holding index.js and etcd.js). SCALE=0.2 shrinks the load for a quick try.
import { fork, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const here = import.meta.dirname;
const distDir = process.env.SVCROUTE_DIST ?? join(here, '../../dist');
const { Registry, MemoryStore } = await import(join(distDir, 'index.js'));
const { EtcdStore } = await import(join(distDir, 'etcd.js'));

const SCALE = Number(process.env.SCALE ?? 1);
const SERVICES = Math.max(40, Math.round(1_000 * SCALE));
const CONCURRENCY_PER_WRITER = 8;
const DEADLINE_MS = 5 * 60_000;
const ETCD_BIN = process.env.SVCROUTE_ETCD_BIN ?? '/usr/bin/etcd';
const SENT_AT = 'bench.svcroute.io/sent-at';
const now = () => performance.timeOrigin + performance.now();

function service(name) {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'default', annotations: { [SENT_AT]: String(now()) } },
    spec: { selector: { app: name }, ports: [{ port: 80, protocol: 'TCP' }] },
  };
}

/** Creates `names` on `registry`, `concurrency` at a time. */
async function createAll(registry, names, concurrency) {
  const queue = [...names];
  const loop = async () => {
    for (let n = queue.shift(); n !== undefined; n = queue.shift()) await registry.create(service(n));
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
}

// ---------------------------------------------------------------------------------------------
// Writer process: `run.mjs --writer` with BENCH_WRITER={endpoint, prefix, id, count}.
if (process.argv.includes('--writer')) {
  const cfg = JSON.parse(process.env.BENCH_WRITER);
  const store = new EtcdStore({ endpoints: [cfg.endpoint], prefix: cfg.prefix });
  const registry = await Registry.open({ store, runControllers: false });
  process.send({ type: 'ready' });
  await new Promise((resolve) => process.once('message', resolve));
  const names = Array.from({ length: cfg.count }, (_, i) => `${cfg.id}-${i}`);
  const t0 = now();
  await createAll(registry, names, CONCURRENCY_PER_WRITER);
  const t1 = now();
  await new Promise((resolve) => process.send({ type: 'done', t0, t1 }, resolve));
  await registry.close();
  await store.close();
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
const started = performance.now();
const cleanups = [];
const cleanup = () => {
  for (const c of cleanups.splice(0).reverse()) {
    try {
      c();
    } catch {}
  }
};
process.on('exit', cleanup);
const watchdog = setTimeout(() => {
  console.error('benchmark exceeded its time budget');
  cleanup();
  process.exit(1);
}, DEADLINE_MS);
watchdog.unref();

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function startEtcd() {
  if (!existsSync(ETCD_BIN)) throw new Error(`${ETCD_BIN} not found (install etcd-server)`);
  const dataDir = mkdtempSync(join(os.tmpdir(), 'svcroute-bench-etcd-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const client = `http://127.0.0.1:${await freePort()}`;
  const peer = `http://127.0.0.1:${await freePort()}`;
  const proc = spawn(
    ETCD_BIN,
    [
      '--name',
      'default',
      '--data-dir',
      dataDir,
      '--listen-client-urls',
      client,
      '--advertise-client-urls',
      client,
      '--listen-peer-urls',
      peer,
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster',
      `default=${peer}`,
      '--log-level',
      'error',
      '--logger',
      'zap',
    ],
    { stdio: 'ignore' },
  );
  cleanups.push(() => proc.kill('SIGKILL'));
  for (let i = 0; i < 200; i++) {
    try {
      const res = await fetch(`${client}/health`);
      if ((await res.json()).health === 'true') return client;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('etcd did not start');
}

function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** A watching registry that records each service's delivery latency. */
async function watcher(store, expected) {
  const registry = await Registry.open({ store, runControllers: false });
  const latencies = [];
  let resolve;
  const all = new Promise((r) => {
    resolve = r;
  });
  registry.on('added', (e) => {
    if (e.kind !== 'Service') return;
    const sent = Number(e.object.metadata.annotations?.[SENT_AT]);
    latencies.push(now() - sent);
    if (latencies.length >= expected) resolve();
  });
  return { registry, latencies, all };
}

async function runMemory(writers) {
  const store = new MemoryStore();
  const w = await watcher(store, SERVICES);
  const registry = await Registry.open({ store, runControllers: false });
  const per = Math.floor(SERVICES / writers);
  const t0 = now();
  await Promise.all(
    Array.from({ length: writers }, (_, i) =>
      createAll(
        registry,
        Array.from({ length: per }, (_, j) => `m${i}-${j}`),
        CONCURRENCY_PER_WRITER,
      ),
    ),
  );
  const t1 = now();
  await w.all;
  await w.registry.close();
  await registry.close();
  await store.close();
  return { creates: per * writers, seconds: (t1 - t0) / 1000, latencies: w.latencies };
}

async function runEtcd(endpoint, writers) {
  const prefix = `/bench-${writers}-${Date.now()}`;
  const per = Math.floor(SERVICES / writers);
  const store = new EtcdStore({ endpoints: [endpoint], prefix });
  const w = await watcher(store, per * writers);
  const children = Array.from({ length: writers }, (_, i) => {
    const child = fork(join(here, 'run.mjs'), ['--writer'], {
      env: { ...process.env, BENCH_WRITER: JSON.stringify({ endpoint, prefix, id: `w${i}`, count: per }) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    cleanups.push(() => child.kill('SIGKILL'));
    return child;
  });
  const next = (child, type) =>
    new Promise((resolve, reject) => {
      child.on('message', (m) => m.type === type && resolve(m));
      child.on('exit', (code) => code !== 0 && reject(new Error(`writer exited with ${code}`)));
    });
  await Promise.all(children.map((c) => next(c, 'ready')));
  const done = children.map((c) => next(c, 'done'));
  for (const c of children) c.send({ type: 'go' });
  const results = await Promise.all(done);
  const t0 = Math.min(...results.map((r) => r.t0));
  const t1 = Math.max(...results.map((r) => r.t1));
  await w.all;
  await w.registry.close();
  await store.close();
  return { creates: per * writers, seconds: (t1 - t0) / 1000, latencies: w.latencies };
}

const endpoint = await startEtcd();
const rows = [];
for (const [label, fn] of [
  ['memory, 1 writer', () => runMemory(1)],
  ['memory, 4 writer loops (one process)', () => runMemory(4)],
  ['etcd, 1 writer process', () => runEtcd(endpoint, 1)],
  ['etcd, 4 writer processes', () => runEtcd(endpoint, 4)],
]) {
  const r = await fn();
  const sorted = [...r.latencies].sort((a, b) => a - b);
  const row = {
    label,
    creates: r.creates,
    perSecond: r.creates / r.seconds,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
  };
  rows.push(row);
  console.log(
    `${label}: ${row.creates} creates in ${r.seconds.toFixed(2)} s = ${row.perSecond.toFixed(0)}/s; ` +
      `delivery p50 ${row.p50.toFixed(2)} ms, p99 ${row.p99.toFixed(2)} ms`,
  );
}
cleanup();

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const md = `# etcd store benchmark

Service creates per second and watch delivery latency, memory store vs etcd store, measured by
\`bench/etcd/run.mjs\` (${SERVICES} ClusterIP services per row, ${CONCURRENCY_PER_WRITER} concurrent
creates per writer; each create is one transaction holding the service and its cluster IP
reservation). Latency runs from the start of the writer's \`create()\` to the \`added\` event of
a separate watching Registry: commit, watch delivery and cache update. etcd runs on loopback
with its data directory in the system temporary directory (fsync included). Numbers from a
shared machine: compare rows of one run, not runs.

Machine: ${cpu}, ${os.cpus().length} cores, Node ${process.version}, ${os.platform()} ${os.release()}.

| store, writers | creates | creates/s | delivery p50 (ms) | delivery p99 (ms) |
| --- | ---: | ---: | ---: | ---: |
${rows
  .map(
    (r) =>
      `| ${r.label} | ${r.creates} | ${r.perSecond.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} |`,
  )
  .join('\n')}

The memory store cannot be shared between processes: its 4-writer row is four concurrent loops
on one Registry. With etcd, every writer process keeps its own cache fed by its own watch; a lost
allocation race (two processes picking the same cluster IP) costs one retry and shows in the
create rate, never as a duplicate. When the machine has fewer cores than processes (writers,
watcher, etcd), the multi-process rows measure CPU contention as much as the store.
`;
mkdirSync(join(here, '../results'), { recursive: true });
writeFileSync(join(here, '../results/etcd.md'), md);
console.log(`wrote bench/results/etcd.md in ${((performance.now() - started) / 1000).toFixed(1)} s`);
process.exit(0);
