// Registry benchmark: loads 10,000 services and 100,000 pods (10 per service) into a Registry with
// the endpoints controller running, then measures how long one pod label change (moving a pod
// from one service to another) takes to reach the routing snapshot. Writes
// bench/results/registry.md. Bounded: fixed object counts, a fixed number of samples and a
// wall-clock cap; it stops by itself.
//
// Runs against the built library (`npm run build` first). SCALE=0.1 shrinks the load for a quick try.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

const here = import.meta.dirname;
// SVCROUTE_DIST names another build directory (as in every bench), e.g. a copy kept away from rebuilds.
const lib = await import(
  pathToFileURL(join(resolve(process.env.SVCROUTE_DIST ?? join(here, '../../dist')), 'index.js')).href
);
const { Registry, SeededRng } = lib;

const SCALE = Number(process.env.SCALE ?? 1);
const SERVICES = Math.round(10_000 * SCALE);
const PODS_PER_SERVICE = 10;
const PODS = SERVICES * PODS_PER_SERVICE;
const SAMPLES = 1_000;
const WARMUP = 100;
const BATCH = 500;
const DEADLINE_MS = 15 * 60_000;
const started = performance.now();

function checkDeadline() {
  if (performance.now() - started > DEADLINE_MS) throw new Error('benchmark exceeded its time budget');
}

function podIP(i) {
  return `10.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
}

function heapMB() {
  globalThis.gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

const heapBefore = heapMB();
const registry = await Registry.open({ rng: new SeededRng(1) });

const t0 = performance.now();
for (let b = 0; b < SERVICES; b += BATCH) {
  const batch = [];
  for (let i = b; i < Math.min(SERVICES, b + BATCH); i++) {
    batch.push(
      registry.create({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: `svc-${i}`, namespace: `ns-${i % 50}` },
        spec: { selector: { app: `app-${i}` }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
      }),
    );
  }
  await Promise.all(batch);
  checkDeadline();
}
const tServices = performance.now();
for (let b = 0; b < PODS; b += BATCH) {
  const batch = [];
  for (let i = b; i < Math.min(PODS, b + BATCH); i++) {
    const s = i % SERVICES;
    batch.push(
      registry.create({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `pod-${i}`, namespace: `ns-${s % 50}`, labels: { app: `app-${s}`, tier: 'web' } },
        spec: {
          nodeName: `node-${i % 200}`,
          containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 8080 }] }],
        },
        status: { phase: 'Running', podIP: podIP(i), conditions: [{ type: 'Ready', status: 'True' }] },
      }),
    );
  }
  await Promise.all(batch);
  checkDeadline();
}
await registry.settled();
const tLoaded = performance.now();
const snap = registry.snapshot();
let endpoints = 0;
for (const e of snap.ports.values()) endpoints += e.endpoints.length;
if (snap.ports.size !== SERVICES || endpoints !== PODS)
  throw new Error(`unexpected snapshot: ${snap.ports.size} ports, ${endpoints} endpoints`);
const heapLoaded = heapMB();

// One pod label change at a time: move a pod to the next service in its namespace and wait for
// the snapshot update that shows it there.
const rng = new SeededRng(2);
const latencies = [];
for (let n = 0; n < WARMUP + SAMPLES; n++) {
  const i = rng.int(PODS);
  const ns = `ns-${(i % SERVICES) % 50}`;
  const pod = await registry.get('Pod', ns, `pod-${i}`);
  const from = Number(pod.metadata.labels.app.slice(4));
  const to = (from + 50) % SERVICES;
  const target = `${ns}/svc-${to}:http`;
  const t = performance.now();
  const seen = new Promise((resolve) => {
    const onSnap = (u) => {
      if (u.changes.some((c) => c.key === target)) {
        registry.off('snapshot', onSnap);
        resolve(performance.now() - t);
      }
    };
    registry.on('snapshot', onSnap);
  });
  await registry.update({
    ...pod,
    metadata: { ...pod.metadata, labels: { ...pod.metadata.labels, app: `app-${to}` } },
  });
  const ms = await seen;
  if (n >= WARMUP) latencies.push(ms);
  checkDeadline();
}
await registry.settled();
await registry.close();

latencies.sort((a, b) => a - b);
const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
const rows = [
  ['services', SERVICES.toLocaleString('en-US')],
  ['pods', PODS.toLocaleString('en-US')],
  ['load services', `${((tServices - t0) / 1000).toFixed(2)} s`],
  ['load pods + controller settle', `${((tLoaded - tServices) / 1000).toFixed(2)} s`],
  ['load total', `${((tLoaded - t0) / 1000).toFixed(2)} s`],
  ['pod label change → snapshot, median', `${q(0.5).toFixed(3)} ms`],
  ['pod label change → snapshot, p99', `${q(0.99).toFixed(3)} ms`],
  ['samples', String(latencies.length)],
  ['heap used after load', `${(heapLoaded - heapBefore).toFixed(0)} MB`],
];
const cpus = os.cpus();
const md = [
  '# Registry benchmark',
  '',
  `${SERVICES.toLocaleString('en-US')} services (one port, named targetPort), ${PODS.toLocaleString('en-US')} pods (${PODS_PER_SERVICE} per service), memory store, endpoints controller on. A sample moves one pod to another service by changing its label and waits for the snapshot update naming the new service port.`,
  '',
  '| metric | value |',
  '|---|---|',
  ...rows.map(([k, v]) => `| ${k} | ${v} |`),
  '',
  `Machine: ${cpus[0]?.model ?? 'unknown CPU'} × ${cpus.length}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.type()} ${os.release()} ${os.arch()}, Node ${process.version}.`,
  '',
].join('\n');
console.log(md);
const out = join(here, '../results');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, SCALE === 1 ? 'registry.md' : `registry-scale-${SCALE}.md`), md);
