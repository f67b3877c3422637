import { readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../../src');

/** Package imports (not relative, not `node:`) reachable at run time from `entry`. */
function runtimePackages(entry: string): Set<string> {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const importRe = /^\s*(import|export)\s+(type\s+)?[^'";]*?from\s+['"]([^'"]+)['"]/gm;
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(importRe)) {
      const spec = m[3] as string;
      // `import type` and `export type` vanish from the emitted code.
      if (m[2] !== undefined) continue;
      if (spec.startsWith('.')) {
        const base = resolve(dirname(file), spec);
        const target = [`${base}.ts`, join(base, 'index.ts')].find((c) => {
          try {
            return statSync(c).isFile();
          } catch {
            return false;
          }
        });
        if (target !== undefined) visit(target);
      } else if (!spec.startsWith('node:')) {
        packages.add(spec);
      }
    }
  };
  visit(entry);
  return packages;
}

describe('in-process entries', () => {
  it('keeps undici off the resolver and proxy entry', () => {
    expect(runtimePackages(join(SRC, 'backends/inprocess/index.ts'))).not.toContain('undici');
  });

  it('loads undici only through the fetch entry', () => {
    expect(runtimePackages(join(SRC, 'backends/inprocess/fetch.ts'))).toContain('undici');
  });
});
