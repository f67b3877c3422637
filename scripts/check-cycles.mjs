// Fails when src/ has an import cycle: the dependency direction in docs/architecture.md only holds
// while the graph stays acyclic. Reads relative imports with a regex (no TypeScript needed).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..', 'src');
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.ts')) files.push(p);
  }
})(root);

const importRe = /^\s*(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]/gm;
function resolveImport(from, spec) {
  const base = resolve(dirname(from), spec.replace(/\.js$/, ''));
  for (const c of [`${base}.ts`, join(base, 'index.ts')]) {
    try {
      if (statSync(c).isFile()) return c;
    } catch {}
  }
  return undefined;
}
const graph = new Map();
for (const f of files) {
  const src = readFileSync(f, 'utf8');
  const deps = [];
  for (const m of src.matchAll(importRe)) {
    // type-only imports vanish at runtime, but a type cycle still couples modules: count both
    const target = resolveImport(f, m[1]);
    if (target) deps.push(target);
  }
  graph.set(f, deps);
}
const state = new Map();
const stack = [];
const cycles = [];
function visit(n) {
  state.set(n, 1);
  stack.push(n);
  for (const d of graph.get(n) ?? []) {
    if (state.get(d) === 1) cycles.push([...stack.slice(stack.indexOf(d)), d]);
    else if (!state.has(d)) visit(d);
  }
  stack.pop();
  state.set(n, 2);
}
for (const f of files) if (!state.has(f)) visit(f);
if (cycles.length) {
  for (const c of cycles) console.error(`import cycle: ${c.map((p) => relative(root, p)).join(' -> ')}`);
  process.exit(1);
}
console.log(`check-cycles: ${files.length} modules, no import cycles`);
