import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliContext } from '../../src/cli/context';
import { describeRejection, loadState, sortForCreation } from '../../src/cli/load';
import { fieldPathKeys, ManifestText } from '../../src/cli/locate';
import { ManifestSync } from '../../src/cli/reload';
import { conflictError, invalidError } from '../../src/core/errors';
import type { SnapshotUpdate } from '../../src/core/snapshot';
import type { KubeObject } from '../../src/core/types';
import { Registry } from '../../src/registry';

function capture(stdin = '') {
  const out = { stdout: '', stderr: '' };
  const ctx = new CliContext({
    stdout: { write: (s: string) => (out.stdout += s) },
    stderr: { write: (s: string) => (out.stderr += s) },
    readStdin: async () => stdin,
    now: () => new Date(),
  });
  return { ctx, out };
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'svcroute-load-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('fieldPathKeys', () => {
  it('splits API field paths into keys, map keys kept whole', () => {
    expect(fieldPathKeys('spec.ports[0].port')).toEqual(['spec', 'ports', 0, 'port']);
    expect(fieldPathKeys('metadata.labels[app.kubernetes.io/name]')).toEqual([
      'metadata',
      'labels',
      'app.kubernetes.io/name',
    ]);
    expect(fieldPathKeys('items[3].items[0]')).toEqual(['items', 3, 'items', 0]);
    expect(fieldPathKeys('')).toEqual([]);
  });

  it('round-trips any path built from names and indexes', () => {
    const segment = fc.oneof(fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9]{0,8}$/), fc.nat({ max: 999 }));
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z][a-zA-Z]{0,8}$/),
        fc.array(segment, { maxLength: 6 }),
        (head, rest) => {
          const path = head + rest.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('');
          expect(fieldPathKeys(path)).toEqual([head, ...rest]);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('ManifestText', () => {
  const text = 'a: 1\n---\nkind: Service\nspec:\n  ports:\n  - port: 0\n    name: x\n';
  it('finds the line of a field, or of its deepest existing parent', () => {
    const t = new ManifestText(text);
    expect(t.lineOf(1, ['spec', 'ports', 0, 'port'])).toBe(6);
    expect(t.lineOf(1, ['spec', 'ports', 0, 'name'])).toBe(7);
    expect(t.lineOf(1, ['spec', 'ports', 0, 'targetPort'])).toBe(6);
    // A missing field points at its parent's value: the block under `spec:` starts on line 5.
    expect(t.lineOf(1, ['spec', 'selector'])).toBe(5);
    expect(t.lineOf(0, ['a'])).toBe(1);
    expect(t.lineOf(5, ['a'])).toBeUndefined();
  });
});

describe('describeRejection', () => {
  const item = {
    object: {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'shop' },
      spec: {},
    } as KubeObject,
    location: { source: 'svc.yaml', documentIndex: 2, line: 30 },
  };
  it('gives one line per field error, and the message of other refusals', async () => {
    const invalid = invalidError('Service', 'web', [
      { kind: 'Required', field: 'spec.ports', value: undefined, detail: '' },
      { kind: 'Invalid', field: 'spec.type', value: 'X', detail: 'nope' },
    ]);
    expect(await describeRejection(invalid, item)).toEqual([
      'error: svc.yaml: document 2 (line 30): Service "shop/web": spec.ports: Required value',
      'error: svc.yaml: document 2 (line 30): Service "shop/web": spec.type: Invalid value: "X": nope',
    ]);
    expect(await describeRejection(conflictError('services', 'web', 'try again'), item)).toEqual([
      expect.stringMatching(
        /^error: svc\.yaml: document 2 \(line 30\): Service "shop\/web": Operation cannot be fulfilled on services "web"/,
      ),
    ]);
  });
});

describe('sortForCreation', () => {
  it('creates namespaces, slices, then services asking for addresses, other services, pods', () => {
    const o = (kind: string, name: string, spec: object = {}) => ({
      object: { apiVersion: 'v1', kind, metadata: { name }, spec } as unknown as KubeObject,
    });
    const sorted = sortForCreation([
      o('Pod', 'p'),
      o('Service', 'any'),
      o('Service', 'fixed', { clusterIP: '10.96.0.5' }),
      o('EndpointSlice', 's'),
      o('Service', 'kubernetes'),
      o('Namespace', 'n'),
    ]).map((i) => i.object.metadata.name);
    expect(sorted).toEqual(['n', 's', 'kubernetes', 'fixed', 'any', 'p']);
  });
});

describe('loadState', () => {
  it('allocates missing addresses the same way on every run', async () => {
    const f = join(dir, 'alloc.yaml');
    writeFileSync(f, 'apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec:\n  ports: [{port: 80}]\n');
    const ip = async () =>
      (await loadState(capture().ctx, { filename: [f] })).snapshot.services.get('default/a')?.spec.clusterIP;
    const first = await ip();
    expect(first).toMatch(/^10\./);
    expect(await ip()).toBe(first);
  });
});

describe('ManifestSync', () => {
  const svc = (name: string, ip: string) =>
    `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}}\nspec:\n  clusterIP: ${ip}\n  ports: [{port: 80}]\n`;

  it('hands backends a reload as one update, after it is reported', async () => {
    const f = join(dir, 'sync.yaml');
    writeFileSync(f, svc('old', '10.96.0.31'));
    const { ctx, out } = capture();
    const registry = new Registry({ allocationMode: 'as-is' });
    const sync = new ManifestSync(ctx, { filename: [f] }, registry);
    try {
      await registry.ready();
      await sync.applyOrFail();
      const seen: { update: SnapshotUpdate; reported: boolean }[] = [];
      sync.source.on('snapshot', (update) =>
        seen.push({ update, reported: out.stderr.includes('reloaded:') }),
      );
      const watching = sync.watch();
      try {
        writeFileSync(f, svc('new', '10.96.0.32'));
        const deadline = Date.now() + 5_000;
        while (seen.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      } finally {
        await watching.close();
      }
      expect(out.stderr).toBe('reloaded: 1 created, 0 configured, 1 deleted; 1 service(s)\n');
      expect(seen).toHaveLength(1);
      const [{ update, reported }] = seen as [(typeof seen)[number]];
      expect(reported).toBe(true);
      expect([...update.changedServices].sort()).toEqual(['default/new', 'default/old']);
      expect([...update.current.services.keys()]).toEqual(['default/new']);
      expect(sync.source.snapshot()).toBe(update.current);
    } finally {
      await registry.close();
    }
  });
});
