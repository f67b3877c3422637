// Extracts the TypeScript code blocks of the markdown docs and type-checks them against the
// package's source, so a doc that names an export, option or method that does not exist fails.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

/** A fenced ```ts block of a markdown file. */
export interface Snippet {
  /** Markdown file, relative to the repository root. */
  doc: string;
  /** 1-based line of the first code line (the line after the opening fence). */
  line: number;
  code: string;
}

/** Marker that, on the line just before a fence (blank lines allowed), exempts the block. */
export const SKIP_MARKER = '<!-- snippet: skip -->';

const OPENING_FENCE = /^(\s*)(`{3,}|~{3,})\s*(ts|typescript)\b.*$/;
const ANY_OPENING_FENCE = /^(\s*)(`{3,}|~{3,})(.*)$/;

/**
 * Every ```ts / ```typescript block of `text`, except those preceded by {@link SKIP_MARKER}.
 * Fences of other languages are skipped whole, so a ```ts line inside a ```md block is no block.
 */
export function extractSnippets(doc: string, text: string): { snippets: Snippet[]; skipped: number } {
  const lines = text.split(/\r?\n/);
  const snippets: Snippet[] = [];
  let skipped = 0;
  let previous = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const fence = ANY_OPENING_FENCE.exec(line);
    if (!fence) {
      if (line.trim() !== '') previous = line.trim();
      continue;
    }
    const marker = fence[2] ?? '```';
    const isTs = OPENING_FENCE.test(line);
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const candidate = (lines[j] ?? '').trim();
      if (candidate.startsWith(marker) && candidate.replace(/[`~]/g, '') === '') break;
      body.push(lines[j] ?? '');
    }
    if (isTs) {
      if (previous === SKIP_MARKER) skipped++;
      else snippets.push({ doc, line: i + 2, code: body.join('\n') });
    }
    previous = '';
    i = j;
  }
  return { snippets, skipped };
}

/** README.md and docs/*.md (not the generated API reference under docs/api). */
export function docFiles(root: string): string[] {
  const docs = readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => join(root, 'docs', name));
  return [join(root, 'README.md'), ...docs];
}

/** tsup's `entry` option: output name → source file. */
export type EntryMap = Readonly<Record<string, string>>;

/**
 * The package's public import specifiers mapped to source files: each `exports` subpath of
 * package.json points at a built `dist/NAME.js`, and tsup's entries say which source NAME comes
 * from. A subpath the docs use but the package does not export stays unmapped, and fails.
 */
export function subpathSources(root: string, entries: EntryMap): Record<string, string> {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    name: string;
    exports: Record<string, unknown>;
  };
  const out: Record<string, string> = {};
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    const built = JSON.stringify(target).match(/"\.\/dist\/([^"]+)\.js"/)?.[1];
    const source = built === undefined ? undefined : entries[built];
    if (source === undefined) continue;
    out[subpath === '.' ? pkg.name : `${pkg.name}/${subpath.replace(/^\.\//, '')}`] = source;
  }
  return out;
}

/** One type error of a snippet, located in its markdown file. */
export interface SnippetError {
  doc: string;
  line: number;
  message: string;
}

function snippetFileName(root: string, snippet: Snippet, index: number): string {
  const base = snippet.doc.replace(/[^A-Za-z0-9]+/g, '_');
  // Inside the repository so that node_modules (vitest, @types/node) resolve as for real code;
  // the files exist only in memory.
  return join(root, 'test', 'docs', '.snippets', `${base}_${index}_L${snippet.line}.ts`);
}

/**
 * Type-checks all snippets in one TypeScript program (the repository's compiler options, with
 * the package's own imports mapped to `src/` by {@link subpathSources}). Each snippet is its own module; one without import or
 * export gets `export {}` so that top-level `await` is allowed. Unused locals are fine in a doc.
 */
export function typeCheckSnippets(
  root: string,
  subpaths: Readonly<Record<string, string>>,
  snippets: readonly Snippet[],
): SnippetError[] {
  const configPath = join(root, 'tsconfig.json');
  const config = ts.readConfigFile(configPath, (path) => ts.sys.readFile(path));
  if (config.error) throw new Error(ts.flattenDiagnosticMessageText(config.error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root, undefined, configPath);
  const paths: Record<string, string[]> = {};
  for (const [specifier, source] of Object.entries(subpaths)) paths[specifier] = [source];
  const options: ts.CompilerOptions = {
    ...parsed.options,
    baseUrl: root,
    paths,
    noEmit: true,
    noUnusedLocals: false,
    noUnusedParameters: false,
  };

  const virtual = new Map<string, { snippet: Snippet; text: string }>();
  snippets.forEach((snippet, index) => {
    const needsModule = !/^\s*(import|export)\b/m.test(snippet.code);
    virtual.set(snippetFileName(root, snippet, index), {
      snippet,
      // Appended, not prepended: line numbers stay those of the block.
      text: needsModule ? `${snippet.code}\nexport {};\n` : `${snippet.code}\n`,
    });
  });

  const host = ts.createCompilerHost(options);
  const { fileExists, readFile, getSourceFile } = host;
  host.fileExists = (name) => virtual.has(name) || fileExists.call(host, name);
  host.readFile = (name) => virtual.get(name)?.text ?? readFile.call(host, name);
  host.getSourceFile = (name, languageVersion, onError, shouldCreate) => {
    const entry = virtual.get(name);
    if (entry) return ts.createSourceFile(name, entry.text, languageVersion, true);
    return getSourceFile.call(host, name, languageVersion, onError, shouldCreate);
  };

  const program = ts.createProgram({ rootNames: [...virtual.keys()], options, host });
  const errors: SnippetError[] = [];
  for (const [name, { snippet }] of virtual) {
    const file = program.getSourceFile(name);
    if (!file) throw new Error(`snippet ${snippet.doc}:${snippet.line} was not loaded`);
    const diagnostics = [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)];
    for (const d of diagnostics) {
      const at = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : 0;
      errors.push({
        doc: snippet.doc,
        line: snippet.line + at,
        message: ts.flattenDiagnosticMessageText(d.messageText, '\n'),
      });
    }
  }
  return errors;
}

/** Loads and extracts every snippet of the repository's docs. */
export function repositorySnippets(root: string): { snippets: Snippet[]; skipped: number } {
  const all: Snippet[] = [];
  let skipped = 0;
  for (const file of docFiles(root)) {
    const found = extractSnippets(relative(root, file), readFileSync(file, 'utf8'));
    all.push(...found.snippets);
    skipped += found.skipped;
  }
  return { snippets: all, skipped };
}
