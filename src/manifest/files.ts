/**
 * Reading manifests from files, directories (their `.yaml`, `.yml` and `.json` files, as
 * `kubectl -f DIR` does) and standard input (`-`).
 */

import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { KubeObject } from '../core/types';
import { ManifestError } from './errors';
import {
  type ManifestItem,
  type ManifestOptions,
  type ManifestReadResult,
  mirrorItems,
  readManifests,
} from './parse';

/** The path that stands for standard input. */
export const STDIN_PATH = '-';

/** How standard input is named in errors. */
export const STDIN_SOURCE = '<stdin>';

/** File extensions read from directories (kubectl's list). */
export const MANIFEST_EXTENSIONS: readonly string[] = ['.json', '.yaml', '.yml'];

/** Options of {@link loadManifestFiles} and {@link readManifestFiles}. */
export interface ManifestFileOptions extends ManifestOptions {
  /** Descend into subdirectories (kubectl's `-R`). Default false. */
  readonly recursive?: boolean;
  /** Reads standard input for `-`; default reads `process.stdin` to its end. */
  readonly readStdin?: () => Promise<string>;
}

async function readProcessStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin)
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}

function isManifestFile(name: string): boolean {
  return MANIFEST_EXTENSIONS.includes(extname(name).toLowerCase());
}

async function listDirectory(dir: string, recursive: boolean): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: string[] = [];
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (recursive) out.push(...(await listDirectory(p, true)));
    } else if (isManifestFile(e.name)) {
      out.push(p);
    }
  }
  return out;
}

/**
 * Expands `paths` into the files to read, in order: a directory gives its manifest files sorted
 * by name (recursively with `recursive`), `-` stays as is, other paths must exist.
 *
 * @throws ManifestError when a path does not exist or a directory holds no manifest file.
 */
export async function expandManifestPaths(
  paths: readonly string[],
  options: { recursive?: boolean } = {},
): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    if (p === STDIN_PATH) {
      out.push(p);
      continue;
    }
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(p);
    } catch {
      throw new ManifestError(`the path ${JSON.stringify(p)} does not exist`, { source: p });
    }
    if (info.isDirectory()) {
      const files = await listDirectory(p, options.recursive ?? false);
      if (files.length === 0)
        throw new ManifestError(
          `no manifest files in directory (recognized file extensions are ${MANIFEST_EXTENSIONS.join(' ')})`,
          {
            source: p,
          },
        );
      out.push(...files);
    } else {
      out.push(p);
    }
  }
  return out;
}

/**
 * Reads every file named by `paths` (see {@link expandManifestPaths}) and returns all objects
 * that could be read plus one {@link ManifestError} per problem, without throwing for bad
 * content. Endpoints are mirrored across all files together (a Service in one file, its
 * Endpoints in another).
 *
 * @throws ManifestError only when a path does not exist or cannot be read.
 */
export async function readManifestFiles(
  paths: readonly string[],
  options: ManifestFileOptions = {},
): Promise<ManifestReadResult> {
  const files = await expandManifestPaths(paths, options);
  const items: ManifestItem[] = [];
  const errors: ManifestError[] = [];
  let stdinRead = false;
  for (const file of files) {
    let text: string;
    let source = file;
    if (file === STDIN_PATH) {
      source = STDIN_SOURCE;
      // Standard input can be consumed once; a second `-` reads nothing more.
      text = stdinRead ? '' : await (options.readStdin ?? readProcessStdin)();
      stdinRead = true;
    } else {
      try {
        text = await readFile(file, 'utf8');
      } catch (e) {
        throw new ManifestError(`cannot read file: ${e instanceof Error ? e.message : String(e)}`, {
          source: file,
        });
      }
    }
    const result = readManifests(text, source, { ...options, endpoints: 'keep' });
    items.push(...result.items);
    errors.push(...result.errors);
  }
  if ((options.endpoints ?? 'mirror') === 'mirror') return { items: mirrorItems(items), errors };
  return { items, errors };
}

/**
 * Reads `paths` like {@link readManifestFiles} and returns the objects.
 *
 * @throws ManifestError for a missing path or the first malformed document, unserved kind or
 *   mistyped field.
 */
export async function loadManifestFiles(
  paths: readonly string[],
  options: ManifestFileOptions = {},
): Promise<KubeObject[]> {
  const result = await readManifestFiles(paths, options);
  const first = result.errors[0];
  if (first) throw first;
  return result.items.map((i) => i.object);
}
