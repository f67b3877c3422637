// Benchmarks the iptables backend: full render at 1,000 and 10,000 services × 10 endpoints, a
// partial sync after one endpoint change at 10,000 services, and real `iptables-restore` apply
// times inside a throwaway network namespace (root only). Writes bench/results/iptables.md.
//
// Uses the built package (`npm run build`); SVCROUTE_DIST points elsewhere if needed. With
// SVCROUTE_BASELINE_DIST set to another build, both are also run side by side (compare.mjs);
// SVCROUTE_BASELINE_LABEL names that build in the report.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { compareBuilds, minMedian } from './compare.mjs';
import { ENDPOINTS_PER_SERVICE, endpointChange, endpointsOf, OPTIONS, snapshotOf } from './workload.mjs';

const here = import.meta.dirname;
const dist = resolve(process.env.SVCROUTE_DIST ?? join(here, '../../dist'));
const { renderIptables, IptablesRenderer } = await import(pathToFileURL(join(dist, 'iptables.js')).href);

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function time(fn, runs) {
  const out = [];
  for (let i = 0; i < runs; i++) {
    globalThis.gc?.();
    const t0 = performance.now();
    fn();
    out.push(performance.now() - t0);
  }
  return median(out);
}

const rows = [];
const payloads = {};
for (const count of [1000, 10000]) {
  const snap = snapshotOf(count);
  const runs = count >= 10000 ? 5 : 9;
  const cold = time(() => renderIptables(snap, OPTIONS), runs);
  const warmRenderer = new IptablesRenderer(OPTIONS);
  warmRenderer.render(snap);
  const warm = time(() => warmRenderer.render(snap), runs);
  const out = renderIptables(snap, OPTIONS);
  payloads[count] = out.payload;
  const lines = out.payload.split('\n').length - 1;
  rows.push({ count, cold, warm, lines, bytes: out.payload.length });
  console.log(
    `${count} services: full render ${cold.toFixed(1)} ms cold, ${warm.toFixed(1)} ms warm, ${lines} lines`,
  );
}

// Partial sync: one endpoint of one service changes, at 10,000 services.
const big = snapshotOf(10000);
const renderer = new IptablesRenderer(OPTIONS);
renderer.note({ previous: undefined, current: big, changes: [], changedServices: new Set() });
renderer.render(big);
renderer.applied();
const partialTimes = [];
let partialLines = 0;
let prev = big;
for (let k = 0; k < 21; k++) {
  const { next, update } = endpointChange(prev, k);
  const t0 = performance.now();
  renderer.note(update);
  const out = renderer.render(next);
  partialTimes.push(performance.now() - t0);
  partialLines = out.payload.split('\n').length - 1;
  if (out.full) throw new Error('expected a partial sync');
  renderer.applied();
  prev = next;
}
const partial = median(partialTimes.slice(1));
console.log(
  `partial sync after one endpoint change at 10,000 services: ${partial.toFixed(2)} ms, ${partialLines} lines`,
);

// Real iptables-restore inside a namespace of our own.
let apply = 'skipped (needs root, ip and iptables-restore)';
const canApply =
  process.getuid?.() === 0 &&
  spawnSync('sh', ['-c', 'command -v ip && command -v iptables-restore'], { stdio: 'ignore' }).status === 0;
if (canApply) {
  const ns = `svcr-bench-${randomBytes(3).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    const restore = (payload) => {
      const t0 = performance.now();
      execFileSync('ip', ['netns', 'exec', ns, 'iptables-restore', '-w', '5', '--noflush', '--counters'], {
        input: payload,
        timeout: 120_000,
        maxBuffer: 1 << 28,
      });
      return performance.now() - t0;
    };
    // Bounded: with the nf_tables backend a 10,000-service payload (434k lines) takes minutes
    // to restore, so the apply figures use 1,000 services.
    const a1k = restore(payloads[1000]);
    const small = snapshotOf(1000);
    const r2 = new IptablesRenderer(OPTIONS);
    r2.note({ previous: undefined, current: small, changes: [], changedServices: new Set() });
    r2.render(small);
    r2.applied();
    const ports = new Map(small.ports);
    const t = ports.get('ns7/svc7:http');
    ports.set(t.info.key, { info: t.info, endpoints: endpointsOf(7, 1) });
    const next = { ...small, revision: 2, ports };
    r2.note({ previous: small, current: next, changes: [], changedServices: new Set(['ns7/svc7']) });
    const aPartial = restore(r2.render(next).payload);
    apply = { a1k, aPartial };
    console.log(
      `apply: 1,000 services ${a1k.toFixed(0)} ms, partial on top of them ${aPartial.toFixed(0)} ms`,
    );
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
}

let comparison = '';
const baseline = process.env.SVCROUTE_BASELINE_DIST;
if (baseline) {
  const loadBefore = loadavg()[0];
  const results = await compareBuilds(resolve(baseline), dist, 5);
  const row = (label, key) =>
    `| ${label} | ${minMedian(results.get('previous')[key])} | ${minMedian(results.get('current')[key])} |`;
  comparison = `
## Previous and current renderer, side by side

Both builds loaded into one process and run alternately on the same 10,000-service snapshot, five
rounds each (previous: ${process.env.SVCROUTE_BASELINE_LABEL ?? `the build in \`${baseline.split('/').pop()}\``}), so that both see the same machine load (load average ${loadBefore.toFixed(1)} before,
${loadavg()[0].toFixed(1)} after). ms, minimum / median; the payloads are checked identical first.

| Measure, 10,000 services | previous | current |
| --- | --- | --- |
${row('Cold full render (`renderIptables`)', 'cold')}
${row('Warm full render (later full sync of one renderer)', 'warm')}
${row('Partial sync after one endpoint change (note + render)', 'partial')}
`;
  console.log(comparison);
}

const iptablesVersion = (() => {
  try {
    return execFileSync('iptables', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
})();

const md = `# iptables backend benchmark

Node ${process.version}, ${iptablesVersion}, ${cpus().length} CPUs, load average at the end
${loadavg()[0].toFixed(1)} (figures scale with it), ${ENDPOINTS_PER_SERVICE} endpoints per service, one TCP port
each, every tenth service a NodePort. Medians. "Cold" is \`renderIptables\` from scratch (every
chain name hashed, every rule written); "warm" is a later full sync of the same \`IptablesRenderer\`
(every port's rendered rules kept). The machine is shared: figures scale with its load, compare
builds with the side-by-side section rather than across runs.

| Measure | svcroute | Target |
| --- | --- | --- |
${rows
  .map(
    (r) =>
      `| Full render, ${r.count.toLocaleString('en-US')} services (${r.lines.toLocaleString('en-US')} lines, ${(r.bytes / 1e6).toFixed(1)} MB) | ${r.cold.toFixed(1)} ms cold / ${r.warm.toFixed(1)} ms warm | ${r.count === 10000 ? '< 200 ms' : ''} |`,
  )
  .join('\n')}
| Partial sync render after one endpoint change, 10,000 services (${partialLines.toLocaleString('en-US')} lines; median of 20, the first after the full sync took ${partialTimes[0].toFixed(2)} ms) | ${partial.toFixed(2)} ms | < 5 ms |
${
  typeof apply === 'string'
    ? `| iptables-restore apply | ${apply} | |`
    : `| iptables-restore, 1,000 services, fresh namespace | ${apply.a1k.toFixed(0)} ms | |
| iptables-restore, partial payload on top of 1,000 services | ${apply.aPartial.toFixed(0)} ms | |`
}

## kube-proxy's published figures, for scale

| Measure | kube-proxy |
| --- | --- |
| One iptables-restore of a 695,992-line payload (kubernetes#96018) | 12.77 s |
| p50 sync time at 5,000 nodes, before and after partial sync (KEP-3453) | 27 s → 5 s |

Apply times are measured with 1,000 services only: with the nf_tables flavour of iptables a
restore grows much slower than linearly (the 10,000-service payload did not finish within two
minutes here), while kube-proxy's figure above is for the legacy backend.

The partial payload still rewrites every top-level chain (KUBE-SERVICES, KUBE-NODEPORTS, the
filter table) like kube-proxy's, so its size grows with the number of services; its render time
does not: the renderer keeps each service port's rendered rules and the joined text of blocks of
ports between syncs, re-renders only the ports that changed and re-joins only their blocks.
With 100,000 endpoints the renderer is in large-cluster mode, where kube-proxy deletes unused
chains at most once per sync period, so the partial payload measured here carries no \`-X\`
(the replaced endpoint's chain is deleted by a later sync).

A cold render of 10,000 services hashes 110,000 chain names (one SHA-256 each, as kube-proxy
does): on this machine that alone takes a third to a half of the cold render time. The rest is
writing and joining 32 MB of text; a one-off render writes its ports chunk by chunk so that
per-port text dies young instead of being copied by the garbage collector.
${comparison}`;
mkdirSync(join(here, '../results'), { recursive: true });
writeFileSync(join(here, '../results/iptables.md'), md);
console.log('wrote bench/results/iptables.md');
