// Picks per second of every balancer policy at 10, 100 and 1,000 endpoints, beside a bare
// `array[i++ % n]` baseline measured in the same run, over the BUILT library (run `npx tsup`
// first). Writes bench/results/balancers.md. Bounded: each cell runs ROUNDS timed rounds of at
// least ROUND_MS, so the whole run takes well under a minute.
//
// Usage: node --expose-gc bench/balancers/run.mjs   (SVCROUTE_BENCH_ENTRY=path overrides the entry)
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

const here = import.meta.dirname;
const entry = process.env.SVCROUTE_BENCH_ENTRY
  ? resolve(process.env.SVCROUTE_BENCH_ENTRY)
  : join(here, '..', '..', 'dist', 'index.js');
const lib = await import(pathToFileURL(entry).href);
for (const name of ['RandomBalancer', 'MaglevBalancer', 'SeededRng']) {
  if (typeof lib[name] !== 'function') {
    console.error(
      `${entry} does not export ${name}: build the library (npx tsup) with the balancer exports.`,
    );
    process.exit(1);
  }
}

const SIZES = [10, 100, 1000];
const ROUNDS = 5;
const ROUND_MS = 120;
const BATCH = 50_000;

function endpoints(n) {
  return Array.from({ length: n }, (_, i) => {
    const ip = `127.0.${i >> 8}.${(i & 255) + 1}`;
    return { ip, port: 8080, key: `${ip}:8080`, ready: true, serving: true, terminating: false };
  });
}

// Contexts are preallocated and cycled so the loop itself allocates nothing.
const numberHashes = Array.from({ length: 4096 }, (_, i) => ({ hash: (i * 2654435761) % 2 ** 48 }));
const keyHashes = Array.from({ length: 4096 }, (_, i) => ({ hashKey: `session-${i.toString(36)}` }));

let gcCount = 0;
new PerformanceObserver((list) => {
  gcCount += list.getEntries().length;
}).observe({ entryTypes: ['gc'] });

/** Picks per second of `batch` (BATCH picks per call) over one timed slice of ROUND_MS. */
function timeSlice(batch) {
  let n = 0;
  const t0 = performance.now();
  let t1 = t0;
  while (t1 - t0 < ROUND_MS) {
    batch();
    n += BATCH;
    t1 = performance.now();
  }
  return (n / (t1 - t0)) * 1000;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Runs `batch` for ROUNDS slices; returns the median picks/s and the GCs seen meanwhile. */
async function measure(batch) {
  for (let w = 0; w < 5; w++) batch(); // warm up the JIT
  globalThis.gc?.();
  await new Promise((r) => setImmediate(r));
  const gcBefore = gcCount;
  const rates = [];
  for (let r = 0; r < ROUNDS; r++) rates.push(timeSlice(batch));
  await new Promise((r) => setImmediate(r));
  return { rate: median(rates), gcs: gcCount - gcBefore };
}

// Each policy gets a freshly compiled loop (new Function), so V8's type feedback at the
// `picker.pick` call site is its own: a shared loop would turn megamorphic after a few policies
// and penalise whichever ran later.
const state = { sink: 0 };
function pickLoop(picker, contexts, withDone) {
  const body = `
    const m = contexts ? contexts.length - 1 : 0;
    let j = 0;
    return () => {
      let sink = state.sink;
      for (let i = 0; i < ${BATCH}; i++) {
        const r = ${contexts ? 'picker.pick(contexts[j++ & m])' : 'picker.pick()'};
        if (r.kind === 'endpoint') {
          sink = (sink + r.endpoint.port) | 0;
          ${withDone ? 'r.done?.({ ok: true, latencyMs: 1 });' : ''}
        }
      }
      state.sink = sink;
    };`;
  return new Function('picker', 'contexts', 'state', body)(picker, contexts, state);
}

const policies = [
  { name: 'random', make: (d) => new lib.RandomBalancer({}, d) },
  { name: 'random (SeededRng)', make: (d) => new lib.RandomBalancer({}, d), seeded: true },
  { name: 'round_robin', make: (d) => new lib.RoundRobinBalancer({}, d) },
  { name: 'weighted_round_robin', make: (d) => new lib.WeightedRoundRobinBalancer({}, d) },
  { name: 'least_request (P2C, with done)', make: (d) => new lib.LeastRequestBalancer({}, d), done: true },
  { name: 'peak_ewma (with done)', make: (d) => new lib.PeakEwmaBalancer({}, d), done: true },
  { name: 'ring_hash (number hash)', make: (d) => new lib.RingHashBalancer({}, d), ctx: numberHashes },
  { name: 'maglev (number hash)', make: (d) => new lib.MaglevBalancer({}, d), ctx: numberHashes },
  { name: 'maglev (string key, xxHash64)', make: (d) => new lib.MaglevBalancer({}, d), ctx: keyHashes },
  {
    name: 'session_affinity(round_robin), no client IP',
    make: (d) => new lib.SessionAffinityBalancer(new lib.RoundRobinBalancer({}, d), {}, {}),
  },
  {
    name: 'outlier_detection(round_robin), with done',
    make: (d) => new lib.OutlierDetectionBalancer(new lib.RoundRobinBalancer({}, d), {}, {}),
    done: true,
  },
];

const started = performance.now();
const baseline = {};

const rows = [];
for (const n of SIZES) {
  const arr = endpoints(n);
  const bare = new Function(
    'arr',
    'n',
    'state',
    `let i = 0;
    return () => {
      let sink = state.sink;
      for (let k = 0; k < ${BATCH}; k++) sink = (sink + arr[i++ % n].port) | 0;
      state.sink = sink;
    };`,
  );

  baseline[n] = await measure(bare(arr, n, state));
}
for (const p of policies) {
  const row = { name: p.name, cells: {} };
  for (const n of SIZES) {
    // Default injectables (Math.random, the system clock), as in production, unless the row says otherwise.
    const b = p.make(p.seeded ? { rng: new lib.SeededRng(n) } : {});
    b.update(endpoints(n));
    row.cells[n] = await measure(pickLoop(b.picker, p.ctx, p.done === true));
    b.close();
  }
  rows.push(row);
  console.log(
    `${p.name.padEnd(46)} ${SIZES.map((n) => `${(row.cells[n].rate / 1e6).toFixed(1).padStart(6)}M/s`).join(' ')}`,
  );
}
const elapsedS = (performance.now() - started) / 1000;

const fmt = (r) => (r >= 1e6 ? `${(r / 1e6).toFixed(1)} M` : `${(r / 1e3).toFixed(0)} k`);
// Slowdown = the bare loop's median rate over the policy's median rate at the same n. (A ratio of
// neighbouring slices was tried; the bare loop's own speed shifts after some policies run, which
// made those ratios contradict the absolute columns.)
const ratio = (cell, n) => `${(baseline[n].rate / cell.rate).toFixed(2)}x`;
const cpu = os.cpus()[0]?.model?.trim() ?? 'unknown CPU';
const lines = [
  '# Balancer pick throughput',
  '',
  `Generated by \`bench/balancers/run.mjs\` on ${new Date().toISOString().slice(0, 10)} in ${elapsedS.toFixed(1)} s.`,
  '',
  `Machine: ${cpu}, ${os.cpus().length} logical CPUs, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}.`,
  '',
  'Picks per second (median of ' +
    `${ROUNDS} slices of at least ${ROUND_MS} ms), and the slowdown against a bare \`array[i++ % n]\` ` +
    'loop at the same n in the same run (bare median rate / policy median rate; lower is better, ' +
    '1.00x means as fast as the bare loop). ' +
    '"GCs" counts garbage collections observed while the cell ran, including the one forced before ' +
    'it (so the bare loop shows the floor, 1): a policy at or near the floor allocates nothing per ' +
    'pick, while per-pick allocation (the `done` closures of least-request, peak-EWMA and outlier ' +
    'detection) shows up as several more.',
  '',
  `| policy | ${SIZES.map((n) => `n=${n}`).join(' | ')} | ${SIZES.map((n) => `vs bare, n=${n}`).join(' | ')} | GCs (n=${SIZES.join('/')}) |`,
  `|---|${SIZES.map(() => '---:').join('|')}|${SIZES.map(() => '---:').join('|')}|---:|`,
  `| bare \`array[i++ % n]\` | ${SIZES.map((n) => fmt(baseline[n].rate)).join(' | ')} | ${SIZES.map(() => '1.00x').join(' | ')} | ${SIZES.map((n) => baseline[n].gcs).join('/')} |`,
  ...rows.map(
    (r) =>
      `| ${r.name} | ${SIZES.map((n) => fmt(r.cells[n].rate)).join(' | ')} | ${SIZES.map((n) => ratio(r.cells[n], n)).join(' | ')} | ${SIZES.map((n) => r.cells[n].gcs).join('/')} |`,
  ),
  '',
  'Targets: random and round-robin within 3x of the bare loop; Maglev O(1) (flat across n); no',
  'allocation per pick for random, round-robin and Maglev (their results are frozen objects shared',
  'per picker). Policies with a `done()` hook allocate one small closure per pick by design.',
  '',
];
const out = join(here, '..', 'results', 'balancers.md');
writeFileSync(out, lines.join('\n'));
console.log(`\nwrote ${out} (${elapsedS.toFixed(1)} s; checksum ${state.sink})`);
