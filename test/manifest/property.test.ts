import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ManifestError, parseManifests } from '../../src/manifest';

function parsesOrManifestError(text: string, source: string): void {
  try {
    const objects = parseManifests(text, source);
    for (const o of objects) {
      expect(typeof o.kind).toBe('string');
      expect(o.metadata).toBeTypeOf('object');
    }
  } catch (e) {
    if (!(e instanceof ManifestError)) throw e;
    expect(e.message).not.toContain('\n');
  }
}

const KINDS = [
  'Service',
  'Pod',
  'EndpointSlice',
  'Endpoints',
  'Node',
  'Namespace',
  'List',
  'ServiceList',
  'Foo',
];
const VERSIONS = ['v1', 'discovery.k8s.io/v1', 'discovery.k8s.io/v1beta1', 'apps/v1'];

// Objects shaped like manifests, with any JSON value in any field.
const manifestLike = fc.record(
  {
    apiVersion: fc.constantFrom(...VERSIONS),
    kind: fc.constantFrom(...KINDS),
    metadata: fc.oneof(
      fc.record(
        { name: fc.string(), labels: fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer())) },
        { requiredKeys: [] },
      ),
      fc.jsonValue(),
    ),
    spec: fc.oneof(
      fc.record(
        {
          ports: fc.array(
            fc.record(
              { port: fc.jsonValue(), targetPort: fc.jsonValue(), name: fc.jsonValue() },
              { requiredKeys: [] },
            ),
          ),
          selector: fc.jsonValue(),
          clusterIP: fc.jsonValue(),
        },
        { requiredKeys: [] },
      ),
      fc.jsonValue(),
    ),
    items: fc.array(fc.jsonValue(), { maxLength: 3 }),
    endpoints: fc.jsonValue(),
  },
  { requiredKeys: [] },
);

describe('loader robustness (property)', () => {
  it('arbitrary text never crashes the loader', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        parsesOrManifestError(text, 'any.yaml');
        parsesOrManifestError(text, 'any.json');
      }),
      { numRuns: 300 },
    );
  });

  it('YAML-like text built from manifest pieces never crashes the loader', () => {
    const piece = fc.constantFrom(
      'apiVersion: v1\n',
      'kind: Service\n',
      'kind: List\n',
      '---\n',
      'items:\n',
      '- ',
      '  ',
      'metadata:\n',
      '  name: x\n',
      'spec: {ports: [{port: 80}]}\n',
      '&a [*a]\n',
      '{',
      ']',
      ': ',
      '"',
      "'",
      '!!binary aGk=\n',
      '<<: *x\n',
      '\t',
      '%YAML 1.2\n',
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 30 }), (pieces) =>
        parsesOrManifestError(pieces.join(''), 'pieces.yaml'),
      ),
      { numRuns: 300 },
    );
  });

  it('manifest-shaped JSON and YAML documents either load or give a ManifestError', () => {
    fc.assert(
      fc.property(fc.array(manifestLike, { minLength: 1, maxLength: 3 }), (docs) => {
        parsesOrManifestError(docs.map((d) => JSON.stringify(d)).join('\n---\n'), 'docs.yaml');
        parsesOrManifestError(JSON.stringify(docs[0]), 'doc.json');
        parsesOrManifestError(docs.map((d) => stringify(d)).join('---\n'), 'docs.yaml');
      }),
      { numRuns: 300 },
    );
  });

  it('label keys of any spelling round-trip as own data without touching prototypes', () => {
    const key = fc.oneof(
      fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'),
      fc.string({ minLength: 1 }),
    );
    fc.assert(
      fc.property(fc.dictionary(key, fc.string()), (labels) => {
        const text = `{"apiVersion":"v1","kind":"Service","metadata":{"name":"x","labels":${JSON.stringify(labels)}},"spec":{}}`;
        const [svc] = parseManifests(text, 'x.json');
        const got = svc?.metadata.labels as Record<string, string>;
        expect(Object.getPrototypeOf(got)).toBeNull();
        expect(Object.keys(got).sort()).toEqual(Object.keys(labels).sort());
        for (const k of Object.keys(labels)) expect(got[k]).toBe(labels[k]);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { numRuns: 200 },
    );
  });
});
