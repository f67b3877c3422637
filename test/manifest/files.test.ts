import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expandManifestPaths, loadManifestFiles, ManifestError, readManifestFiles } from '../../src/manifest';

const svc = (name: string) =>
  `apiVersion: v1\nkind: Service\nmetadata:\n  name: ${name}\nspec:\n  ports:\n  - port: 80\n`;

describe('manifest files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'svcroute-manifest-'));
    await writeFile(join(dir, 'b.yaml'), svc('b'));
    await writeFile(join(dir, 'a.yml'), svc('a'));
    await writeFile(
      join(dir, 'c.json'),
      JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'c' }, spec: {} }),
    );
    await writeFile(join(dir, 'notes.txt'), 'not a manifest');
    await mkdir(join(dir, 'sub'));
    await writeFile(join(dir, 'sub', 'd.yaml'), svc('d'));
    await mkdir(join(dir, 'empty'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('expands a directory to its manifest files in name order, recursively on request', async () => {
    expect((await expandManifestPaths([dir])).map((p) => p.slice(dir.length + 1))).toEqual([
      'a.yml',
      'b.yaml',
      'c.json',
    ]);
    expect(
      (await expandManifestPaths([dir], { recursive: true })).map((p) => p.slice(dir.length + 1)),
    ).toEqual(['a.yml', 'b.yaml', 'c.json', join('sub', 'd.yaml')]);
  });

  it('loads files and standard input (`-`, read once)', async () => {
    const objects = await loadManifestFiles([join(dir, 'b.yaml'), '-', '-'], {
      readStdin: async () => svc('from-stdin'),
    });
    expect(objects.map((o) => o.metadata.name)).toEqual(['b', 'from-stdin']);
  });

  it('names missing paths and empty directories', async () => {
    await expect(loadManifestFiles([join(dir, 'nope.yaml')])).rejects.toThrow(ManifestError);
    await expect(loadManifestFiles([join(dir, 'nope.yaml')])).rejects.toThrow(
      /the path ".*nope\.yaml" does not exist/,
    );
    await expect(loadManifestFiles([join(dir, 'empty')])).rejects.toThrow(/no manifest files in directory/);
  });

  it('collects errors per file with their source', async () => {
    await writeFile(join(dir, 'sub', 'bad.yaml'), 'apiVersion: v1\nkind: Service\nmetadata: []\n');
    const r = await readManifestFiles([join(dir, 'sub')]);
    expect(r.items.map((i) => i.object.metadata.name)).toEqual(['d']);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]?.source).toBe(join(dir, 'sub', 'bad.yaml'));
    expect(r.errors[0]?.message).toContain('metadata: expected object, got array');
  });
});
