import { describe, expect, it } from 'vitest';
import type { EndpointSlice, Pod, Service } from '../../src/core/types';
import { ManifestError, parseManifests, readManifests } from '../../src/manifest';

const svc = (name: string, extra = '') => `apiVersion: v1
kind: Service
metadata:
  name: ${name}
spec:
  ports:
  - port: 80${extra}
`;

function catchManifestError(fn: () => unknown): ManifestError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ManifestError);
    return e as ManifestError;
  }
  throw new Error('expected a ManifestError');
}

describe('parseManifests', () => {
  it('reads a single YAML object', () => {
    const [o] = parseManifests(svc('web'), 'svc.yaml') as Service[];
    expect(o?.kind).toBe('Service');
    expect(o?.metadata.name).toBe('web');
    expect(o?.spec.ports?.[0]?.port).toBe(80);
  });

  it('reads multi-document YAML and skips empty documents', () => {
    const text = `---\n${svc('a')}---\n---\n# only a comment\n---\n${svc('b')}...\n`;
    expect(parseManifests(text, 'x.yaml').map((o) => o.metadata.name)).toEqual(['a', 'b']);
  });

  it('reads JSON', () => {
    const text = JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p' },
      spec: { containers: [] },
    });
    const [pod] = parseManifests(text, 'pod.json') as Pod[];
    expect(pod?.metadata.name).toBe('p');
  });

  it('unwraps kind: List, typed lists without item kinds, and nested Lists', () => {
    const text = JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        { apiVersion: 'v1', kind: 'Service', metadata: { name: 'a' }, spec: {} },
        { apiVersion: 'v1', kind: 'ServiceList', items: [{ metadata: { name: 'b' }, spec: {} }] },
        {
          apiVersion: 'v1',
          kind: 'List',
          items: [
            {
              apiVersion: 'discovery.k8s.io/v1',
              kind: 'EndpointSliceList',
              items: [{ metadata: { name: 'c' }, addressType: 'IPv4', endpoints: [] }],
            },
          ],
        },
      ],
      metadata: { resourceVersion: '' },
    });
    const objects = parseManifests(text, 'list.json');
    expect(objects.map((o) => `${o.apiVersion} ${o.kind} ${o.metadata.name}`)).toEqual([
      'v1 Service a',
      'v1 Service b',
      'discovery.k8s.io/v1 EndpointSlice c',
    ]);
  });

  it('names the field, the expected and the actual JSON type', () => {
    const e = catchManifestError(() =>
      parseManifests(svc('web').replace('port: 80', 'port: abc'), 'svc.yaml'),
    );
    expect(e.field).toBe('spec.ports[0].port');
    expect(e.reason).toBe('expected integer, got string "abc"');
    expect(e.message).toBe(
      'svc.yaml: document 0 (line 7): Service "web": spec.ports[0].port: expected integer, got string "abc"',
    );
    expect(e.line).toBe(7);
  });

  it('checks map values, booleans, int-or-string and RFC 3339 times', () => {
    const cases: [string, string, string][] = [
      ['metadata:\n  name: x\n  labels:\n    a: [1]\n', 'metadata.labels[a]', 'expected string, got array'],
      [
        'metadata:\n  name: x\nspec:\n  publishNotReadyAddresses: "yes"\n',
        'spec.publishNotReadyAddresses',
        'expected boolean, got string "yes"',
      ],
      [
        'metadata:\n  name: x\nspec:\n  ports:\n  - port: 80\n    targetPort: true\n',
        'spec.ports[0].targetPort',
        'expected integer or string, got boolean true',
      ],
      [
        'metadata:\n  name: x\n  creationTimestamp: yesterday\n',
        'metadata.creationTimestamp',
        'expected RFC 3339 time string, got string "yesterday"',
      ],
      [
        'metadata:\n  name: x\nspec:\n  ports:\n  - port: 1.5\n',
        'spec.ports[0].port',
        'expected integer, got number 1.5',
      ],
      ['metadata:\n  name: x\nspec: []\n', 'spec', 'expected object, got array'],
    ];
    for (const [body, field, reason] of cases) {
      const e = catchManifestError(() => parseManifests(`apiVersion: v1\nkind: Service\n${body}`, 's.yaml'));
      expect([e.field, e.reason]).toEqual([field, reason]);
    }
  });

  it('rejects a recursive anchor with an error instead of recursing forever', () => {
    for (const body of [': &a [*a]\n', 'metadata: &m\n  name: x\n  self: *m\n']) {
      const e = catchManifestError(() =>
        parseManifests(`apiVersion: v1\nkind: Service\n${body}`, 'loop.yaml'),
      );
      expect(e.message).toBe(
        'loop.yaml: document 0: invalid YAML: an alias refers to a node that contains it (recursive anchor)',
      );
    }
    // The same node used twice, not inside itself, is fine.
    const [o] = parseManifests(
      'apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n  labels: &l {app: web}\nspec:\n  selector: *l\n  ports:\n  - port: 80\n',
      'shared.yaml',
    );
    expect((o as Service).spec.selector).toEqual({ app: 'web' });
  });

  it('resolves scalars as go-yaml does: YAML 1.1 booleans, dates and "." stay strings', () => {
    const e = catchManifestError(() =>
      parseManifests(
        'apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n  labels:\n    enabled: on\n',
        'x.yaml',
      ),
    );
    expect(e.reason).toBe('expected string, got boolean true');
    const [o] = parseManifests(
      'apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n  annotations:\n    date: 2024-01-02\n    dot: .\n  creationTimestamp: 2024-01-02T03:04:05Z\n',
      'x.yaml',
    );
    expect(o?.metadata.annotations).toEqual({ date: '2024-01-02', dot: '.' });
    expect(o?.metadata.creationTimestamp).toBe('2024-01-02T03:04:05Z');
  });

  it('rejects unknown kinds and unserved versions with the document index and line', () => {
    const text = `${svc('a')}---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n`;
    const e = catchManifestError(() => parseManifests(text, 'all.yaml'));
    expect(e.documentIndex).toBe(1);
    expect(e.line).toBe(9);
    expect(e.message).toBe(
      'all.yaml: document 1 (line 9): Deployment "d": no matches for kind "Deployment" in version "apps/v1": svcroute reads v1 Service, Pod, Endpoints, Node, Namespace and discovery.k8s.io/v1 EndpointSlice',
    );
    const beta = catchManifestError(() =>
      parseManifests(
        'apiVersion: discovery.k8s.io/v1beta1\nkind: EndpointSlice\nmetadata:\n  name: s\n',
        'es.yaml',
      ),
    );
    expect(beta.reason).toContain(
      'no matches for kind "EndpointSlice" in version "discovery.k8s.io/v1beta1"',
    );
    expect(beta.reason).toContain('not served since Kubernetes v1.25; use discovery.k8s.io/v1');
    expect(parseManifests(text, 'all.yaml', { unknownKinds: 'skip' }).map((o) => o.kind)).toEqual([
      'Service',
    ]);
  });

  it('reports missing kind or apiVersion as the API machinery words it', () => {
    expect(catchManifestError(() => parseManifests('apiVersion: v1\nmetadata: {}\n', 'a.yaml')).reason).toBe(
      "Object 'Kind' is missing",
    );
    expect(catchManifestError(() => parseManifests('kind: Service\n', 'a.yaml')).reason).toBe(
      "Object 'apiVersion' is missing",
    );
    expect(catchManifestError(() => parseManifests('- a\n- b\n', 'a.yaml')).reason).toBe(
      'expected a Kubernetes object, got array',
    );
  });

  it('reports malformed YAML and JSON with the line', () => {
    const y = catchManifestError(() => parseManifests(`${svc('a')}---\nfoo: [\n`, 'bad.yaml'));
    expect(y.documentIndex).toBe(1);
    expect(y.line).toBeGreaterThanOrEqual(9);
    expect(y.message).toMatch(/^bad\.yaml: document 1 \(line \d+\): invalid YAML: /);
    const j = catchManifestError(() => parseManifests('{"apiVersion": "v1",\n "kind": }', 'bad.json'));
    expect(j.message).toMatch(/^bad\.json: document 0.*invalid JSON: /);
    expect(j.message).not.toContain('\n');
  });

  it('names List items in errors', () => {
    const text = `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata:
    name: ok
- apiVersion: v1
  kind: Service
  metadata:
    name: bad
  spec:
    ports:
    - port: "80"
`;
    const e = catchManifestError(() => parseManifests(text, 'list.yaml'));
    expect(e.itemPath).toBe('items[1]');
    expect(e.message).toBe(
      'list.yaml: document 0, items[1] (line 14): Service "bad": spec.ports[0].port: expected integer, got string "80"',
    );
  });

  it('readManifests returns what it could read and every error, in document order', () => {
    const text = `${svc('a')}---\nkind: Nope\napiVersion: v1\n---\n${svc('b', '\n    nodePort: x')}---\n${svc('c')}`;
    const r = readManifests(text, 'm.yaml');
    expect(r.items.map((i) => i.object.metadata.name)).toEqual(['a', 'c']);
    expect(r.items.map((i) => i.location.documentIndex)).toEqual([0, 3]);
    expect(r.errors.map((e) => e.documentIndex)).toEqual([1, 2]);
  });

  it('keeps unknown fields (managedFields, status noise) and fills a default namespace when asked', () => {
    const text = `apiVersion: v1
kind: Pod
metadata:
  name: p
  managedFields:
  - manager: kubectl
    fieldsV1:
      f:metadata:
        .: {}
spec:
  containers: []
  dnsPolicy: ClusterFirst
status:
  qosClass: BestEffort
`;
    const [pod] = parseManifests(text, 'p.yaml', { defaultNamespace: 'default' });
    expect(pod?.metadata.namespace).toBe('default');
    expect((pod as unknown as { spec: { dnsPolicy: string } }).spec.dnsPolicy).toBe('ClusterFirst');
    expect(pod?.metadata).toMatchObject({
      managedFields: [{ manager: 'kubectl', fieldsV1: { 'f:metadata': { '.': {} } } }],
    });
    const [node] = parseManifests('apiVersion: v1\nkind: Node\nmetadata:\n  name: node-1\n', 'n.yaml', {
      defaultNamespace: 'default',
    });
    expect(node?.metadata.namespace).toBeUndefined();
  });

  it('drops null fields and gives EndpointSlices an endpoints list', () => {
    const [s] = parseManifests(
      'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: s\n  labels: null\naddressType: IPv4\nendpoints: null\n',
      's.yaml',
    ) as EndpointSlice[];
    expect(s?.endpoints).toEqual([]);
    expect(s?.metadata.labels).toBeUndefined();
  });
});

describe('prototype safety', () => {
  it('keeps __proto__ and constructor keys as plain data, polluting nothing', () => {
    const yaml = `apiVersion: v1
kind: Service
metadata:
  name: x
  labels:
    __proto__: polluted
    constructor: "c"
    toString: "t"
spec:
  selector:
    __proto__: polluted
  __proto__:
    polluted: true
`;
    const json = JSON.stringify({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'x', labels: JSON.parse('{"__proto__":"polluted","constructor":"c"}') },
      spec: JSON.parse('{"__proto__":{"polluted":true},"selector":{"__proto__":"polluted"}}'),
    }).replace('"labels":{}', '"labels":{"__proto__":"polluted","constructor":"c"}');
    for (const [text, source] of [
      [yaml, 'x.yaml'],
      [json, 'x.json'],
    ] as const) {
      const [svc] = parseManifests(text, source) as Service[];
      const labels = svc?.metadata.labels as Record<string, string>;
      expect(Object.getPrototypeOf(labels)).toBeNull();
      expect(Object.hasOwn(labels, '__proto__')).toBe(true);
      expect(Object.getOwnPropertyDescriptor(labels, '__proto__')?.value).toBe('polluted');
      expect(labels['constructor']).toBe('c');
      expect(Object.getPrototypeOf(svc?.spec)).toBe(Object.prototype);
      expect(Object.hasOwn(svc?.spec as object, '__proto__')).toBe(true);
      expect(Object.getPrototypeOf(svc?.spec.selector)).toBeNull();
      expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
      expect(Object.prototype).not.toHaveProperty('polluted');
    }
  });
});

describe('JSON streams', () => {
  it('reads consecutive JSON objects as documents, as kubectl does', () => {
    const a = JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'a{"' }, spec: {} });
    const b = JSON.stringify(
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'b' }, spec: { ports: [{ port: 'x' }] } },
      null,
      2,
    );
    const r = readManifests(`${a}\n${b}\n`, 'stream.json');
    expect(r.items.map((i) => i.object.metadata.name)).toEqual(['a{"']);
    expect(r.errors.map((e) => [e.documentIndex, e.field])).toEqual([[1, 'spec.ports[0].port']]);
  });
});

describe('byte order mark', () => {
  it('is ignored in YAML and JSON', () => {
    expect(
      parseManifests(
        `\uFEFF${JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } })}`,
        'ns.json',
      ),
    ).toHaveLength(1);
    expect(
      parseManifests('\uFEFFapiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n', 'ns.yaml'),
    ).toHaveLength(1);
  });
});
