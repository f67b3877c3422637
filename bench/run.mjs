// Runs every benchmark under bench/<area>/run.mjs in turn (or only those named on the command
// line: `npm run bench -- registry balancers`). Each writes its markdown table to bench/results/.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const here = import.meta.dirname;
const wanted = process.argv.slice(2);
const areas = readdirSync(here, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(here, d.name, 'run.mjs')))
  .map((d) => d.name)
  .filter((name) => wanted.length === 0 || wanted.includes(name))
  .sort();

let failed = 0;
for (const area of areas) {
  console.log(`\n=== bench/${area}`);
  const r = spawnSync(process.execPath, ['--expose-gc', join(here, area, 'run.mjs')], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.error(`bench/${area} failed (exit ${r.status ?? r.signal})`);
  }
}
console.log(`\n${areas.length - failed} benchmark(s) ran, ${failed} failed; results in bench/results/`);
process.exitCode = failed ? 1 : 0;
