// Keeps the docs true: every ```ts block of README.md and docs/*.md must type-check against the
// current source, so a renamed export, option or method breaks this test instead of a reader.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  type EntryMap,
  extractSnippets,
  repositorySnippets,
  SKIP_MARKER,
  type SnippetError,
  subpathSources,
  typeCheckSnippets,
} from './snippets';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** tsup's entries (the library's, not the CLI's, which has no import specifier). */
async function buildEntries(): Promise<EntryMap> {
  const { default: config } = await import('../../tsup.config');
  const entries: Record<string, string> = {};
  const configs = typeof config === 'function' ? await config({}) : config;
  for (const c of Array.isArray(configs) ? configs : [configs]) {
    if (c.entry && !Array.isArray(c.entry)) Object.assign(entries, c.entry);
  }
  return entries;
}
const SUBPATHS = subpathSources(ROOT, await buildEntries());

describe('snippet extraction', () => {
  it('takes ts and typescript fences, with the line of their first code line', () => {
    const text = ['# t', '```ts', 'const a = 1;', '```', '', '```typescript', 'let b;', '```'].join('\n');
    expect(extractSnippets('x.md', text).snippets).toEqual([
      { doc: 'x.md', line: 3, code: 'const a = 1;' },
      { doc: 'x.md', line: 7, code: 'let b;' },
    ]);
  });

  it('ignores other languages, fences nested in them, and blocks marked to skip', () => {
    const text = [
      '```sh',
      'npm test',
      '```',
      '````md',
      '```ts',
      'nested();',
      '```',
      '````',
      SKIP_MARKER,
      '',
      '```ts',
      'partial(',
      '```',
    ].join('\n');
    expect(extractSnippets('x.md', text)).toEqual({ snippets: [], skipped: 1 });
  });
});

describe('doc snippets type-check against src', () => {
  it('maps every public subpath of package.json to its source', () => {
    expect(SUBPATHS).toMatchObject({
      svcroute: 'src/index.ts',
      'svcroute/testing': 'src/testing/index.ts',
      'svcroute/dns': 'src/backends/dns/index.ts',
      'svcroute/inprocess': 'src/backends/inprocess/index.ts',
    });
  });

  it('rejects a snippet that names an export that does not exist', () => {
    const errors = typeCheckSnippets(ROOT, SUBPATHS, [
      {
        doc: 'probe.md',
        line: 10,
        code: "import { Registry, NoSuchExport } from 'svcroute';\nvoid Registry;",
      },
    ]);
    expect(errors.map((e) => `${e.doc}:${e.line}`)).toEqual(['probe.md:10']);
    expect(errors[0]?.message).toContain('NoSuchExport');
  });
});

// One program for all blocks (a single type-check is what keeps this fast); one test per file so a
// failure names the doc to fix.
const { snippets, skipped } = repositorySnippets(ROOT);
const docs = [...new Set(snippets.map((s) => s.doc))];
let errors: SnippetError[] | undefined;
function errorsOf(doc: string): string[] {
  errors ??= typeCheckSnippets(ROOT, SUBPATHS, snippets);
  return errors.filter((e) => e.doc === doc).map((e) => `${e.doc}:${e.line}: ${e.message}`);
}

describe('every ts block of README.md and docs/*.md compiles', () => {
  it('finds the blocks, and few are skipped', () => {
    expect(docs).toContain('README.md');
    expect(snippets.length).toBeGreaterThan(10);
    expect(skipped).toBeLessThan(snippets.length / 3);
  });

  it.each(docs)('%s', (doc) => {
    expect(errorsOf(doc)).toEqual([]);
  });
});
