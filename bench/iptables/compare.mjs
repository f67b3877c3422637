// Compares two builds of the iptables renderer in one process, alternating between them so that
// both see the same machine load: cold full render (fresh renderer, every chain name hashed),
// warm full render (a later full sync of the same renderer) and the partial sync after one
// endpoint change, at 10,000 services × 10 endpoints.
//
//   node --expose-gc bench/iptables/compare.mjs OLD_DIST NEW_DIST [rounds]
//
// Prints minimum and median per build and measure (ms). run.mjs uses compareBuilds() to add the
// comparison to bench/results/iptables.md when SVCROUTE_BASELINE_DIST is set.
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { endpointChange, OPTIONS, snapshotOf } from './workload.mjs';

const SERVICES = 10_000;

function timed(fn) {
  globalThis.gc?.();
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

/** Median of 20 partial syncs, each after one endpoint of one service changed. */
function partial(lib, snap) {
  const renderer = new lib.IptablesRenderer(OPTIONS);
  renderer.note({ previous: undefined, current: snap, changes: [], changedServices: new Set() });
  renderer.render(snap);
  renderer.applied();
  let prev = snap;
  const times = [];
  for (let k = 0; k < 21; k++) {
    const { next, update } = endpointChange(prev, k);
    globalThis.gc?.();
    const t0 = performance.now();
    renderer.note(update);
    const out = renderer.render(next);
    times.push(performance.now() - t0);
    if (out.full) throw new Error('expected a partial sync');
    renderer.applied();
    prev = next;
  }
  return median(times.slice(1));
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * Runs both builds alternately, `rounds` times each; returns per build the cold, warm and
 * partial timings (ms).
 */
export async function compareBuilds(oldDir, newDir, rounds = 5) {
  const builds = [
    ['previous', await import(pathToFileURL(resolve(oldDir, 'iptables.js')).href)],
    ['current', await import(pathToFileURL(resolve(newDir, 'iptables.js')).href)],
  ];
  const snap = snapshotOf(SERVICES);
  // Same output from both builds, or the comparison means nothing.
  const payloads = builds.map(([, lib]) => lib.renderIptables(snap, OPTIONS).payload);
  if (payloads[0] !== payloads[1]) throw new Error('the two builds render different payloads');
  const results = new Map(builds.map(([name]) => [name, { cold: [], warm: [], partial: [] }]));
  for (let r = 0; r < rounds; r++) {
    for (const [name, lib] of builds) {
      const res = results.get(name);
      res.cold.push(timed(() => lib.renderIptables(snap, OPTIONS)));
      const renderer = new lib.IptablesRenderer(OPTIONS);
      renderer.render(snap);
      res.warm.push(timed(() => renderer.render(snap)));
      res.partial.push(partial(lib, snap));
    }
  }
  return results;
}

/** `min / median` of `xs`, one decimal. */
export function minMedian(xs) {
  return `${Math.min(...xs).toFixed(1)} / ${median(xs).toFixed(1)}`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [oldDir, newDir, roundsArg] = process.argv.slice(2);
  if (!oldDir || !newDir) {
    console.error('usage: compare.mjs OLD_DIST NEW_DIST [rounds]');
    process.exit(2);
  }
  const results = await compareBuilds(oldDir, newDir, Number(roundsArg ?? 5));
  for (const [name, res] of results) {
    console.log(
      `${name}: cold ${minMedian(res.cold)}, warm ${minMedian(res.warm)}, partial ${minMedian(res.partial)} (min / median ms)`,
    );
  }
}
