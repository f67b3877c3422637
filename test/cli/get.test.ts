import { describe, expect, it } from 'vitest';
import { cli, FIXTURES } from './helpers';

const DUMP = `${FIXTURES}/kubectl/cluster-dump.yaml`;
const EDGE = `${FIXTURES}/manifests/edge.yaml`;
const APP = `${FIXTURES}/manifests/app.yaml`;
const EDGES = `${FIXTURES}/kubectl/printer-edges.yaml`;

// Slice names come from generateName (random suffix upstream, seeded here): mask them.
const maskSlices = (s: string) =>
  s.replace(/\b(web|redis|api|api-headless)-[bcdfghjklmnpqrstvwxz2456789]{5}\b/g, '$1-xxxxx');

describe('svcroute get (tables)', () => {
  it('prints services of a kubectl dump as kubectl does', async () => {
    const r = await cli(['get', 'svc', '-A', '-f', DUMP]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(
      [
        'NAMESPACE   NAME         TYPE        CLUSTER-IP     EXTERNAL-IP   PORT(S)          AGE',
        'default     kubernetes   ClusterIP   10.96.0.1      <none>        443/TCP          26h',
        'shop        redis        NodePort    10.96.77.7     <none>        6379:30379/TCP   24h',
        'shop        web          ClusterIP   10.96.140.12   <none>        80/TCP           24h',
        '',
      ].join('\n'),
    );
  });

  it('prints wide services with SELECTOR, only the requested namespace', async () => {
    const r = await cli(['get', 'services', '-n', 'shop', '-o', 'wide', '-f', DUMP]);
    expect(r.stdout).toBe(
      [
        'NAME    TYPE        CLUSTER-IP     EXTERNAL-IP   PORT(S)          AGE   SELECTOR',
        'redis   NodePort    10.96.77.7     <none>        6379:30379/TCP   24h   app=redis',
        'web     ClusterIP   10.96.140.12   <none>        80/TCP           24h   app=web',
        '',
      ].join('\n'),
    );
  });

  it('computes endpoint slices from the pods (named targetPort resolved)', async () => {
    const r = await cli(['get', 'endpointslices', '-n', 'shop', '-f', DUMP]);
    expect(r.code).toBe(0);
    const lines = maskSlices(r.stdout).trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME +ADDRESSTYPE +PORTS +ENDPOINTS +AGE$/);
    expect(lines.slice(1).map((l) => l.split(/ {3,}/).slice(0, 4))).toEqual([
      ['redis-xxxxx', 'IPv4', '6379', '10.244.1.9'],
      ['web-xxxxx', 'IPv4', '8080', '10.244.1.5,10.244.2.7'],
    ]);
  });

  it('prints pods with READY, STATUS, RESTARTS and the wide columns', async () => {
    const r = await cli(['get', 'po', '-n', 'shop', '-o', 'wide', '-f', DUMP]);
    expect(r.stdout).toBe(
      [
        'NAME                  READY   STATUS              RESTARTS      AGE   IP           NODE     NOMINATED NODE   READINESS GATES',
        'redis-0               0/1     ContainerCreating   0             24h   10.244.1.9   node-a   <none>           <none>',
        'web-7d9f8b6c5-k8m2p   1/1     Running             2 (24h ago)   24h   10.244.2.7   node-b   <none>           <none>',
        'web-7d9f8b6c5-x2x4q   1/1     Running             0             24h   10.244.1.5   node-a   <none>           <none>',
        '',
      ].join('\n'),
    );
  });

  it('shows <pending>, ExternalName, None, UDP ports, allocated node ports and "+ N more..."', async () => {
    const r = await cli(['get', 'svc,endpointslice', '-n', 'edge', '-f', EDGE]);
    expect(r.code).toBe(0);
    const [svcTable, sliceTable] = maskSlices(r.stdout).split('\n\n');
    const rows = (svcTable ?? '')
      .trimEnd()
      .split('\n')
      .slice(1)
      .map((l) => l.split(/ {3,}/));
    expect(rows[0]?.slice(0, 4)).toEqual([
      'service/api',
      'LoadBalancer',
      expect.stringMatching(/^10\.(9[6-9]|10[0-9]|11[01])\./),
      '<pending>',
    ]);
    expect(rows[0]?.[4]).toMatch(/^80:3\d{4}\/TCP,9090:3\d{4}\/UDP$/);
    expect(rows[1]?.slice(0, 5)).toEqual(['service/api-headless', 'ClusterIP', 'None', '<none>', '8080/TCP']);
    expect(rows[2]?.slice(0, 5)).toEqual([
      'service/docs',
      'ExternalName',
      '<none>',
      'docs.example.com',
      '<none>',
    ]);
    for (const row of rows) expect(row[5]).toBe('<unknown>');
    expect(sliceTable).toContain('127.0.0.11,127.0.0.12,127.0.0.13 + 2 more...');
    expect(sliceTable).toMatch(/^NAME {3,}ADDRESSTYPE/);
    expect(sliceTable).toContain('endpointslice.discovery.k8s.io/api-xxxxx');
  });

  it('filters with a label selector and rejects a bad one with exit 1', async () => {
    const r = await cli([
      'get',
      'pods',
      '-n',
      'edge',
      '-l',
      'app=api,tier in (front)',
      '-o',
      'name',
      '-f',
      EDGE,
    ]);
    expect(r).toEqual({ code: 0, stdout: 'pod/api-1\npod/api-3\npod/api-5\n', stderr: '' });
    const bad = await cli(['get', 'pods', '-l', 'tier in (front', '-f', EDGE]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/^error: .+\n$/);
  });

  it('says "No resources found" on stderr like kubectl', async () => {
    expect(await cli(['get', 'svc', '-f', EDGE])).toEqual({
      code: 0,
      stdout: '',
      stderr: 'No resources found in default namespace.\n',
    });
    expect(await cli(['get', 'pods', '-n', 'kube-system', '-f', EDGE])).toMatchObject({
      stderr: 'No resources found in kube-system namespace.\n',
    });
    expect(await cli(['get', 'pods', '-A', '-l', 'app=none', '-f', EDGE])).toMatchObject({
      stderr: 'No resources found\n',
    });
  });

  it('gets objects by name and reports missing ones', async () => {
    const r = await cli(['get', 'svc', 'web', 'nope', '-n', 'shop', '-o', 'name', '-f', DUMP]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('service/web\n');
    expect(r.stderr).toBe('Error from server (NotFound): services "nope" not found\n');
  });
});

describe('svcroute get -o json|yaml', () => {
  it('prints a kind: List with 4-space indentation and sorted keys', async () => {
    const r = await cli(['get', 'svc', '-n', 'shop', '-o', 'json', '-f', DUMP]);
    expect(r.code).toBe(0);
    expect(
      r.stdout.startsWith(
        '{\n    "apiVersion": "v1",\n    "items": [\n        {\n            "apiVersion": "v1",\n',
      ),
    ).toBe(true);
    expect(
      r.stdout.endsWith(
        '    ],\n    "kind": "List",\n    "metadata": {\n        "resourceVersion": ""\n    }\n}\n',
      ),
    ).toBe(true);
    const list = JSON.parse(r.stdout);
    expect(list.items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual(['redis', 'web']);
    // kubectl hides managedFields unless --show-managed-fields; the dump has them.
    expect(list.items[1].metadata.managedFields).toBeUndefined();
    expect(list.items[1].metadata.annotations).toHaveProperty([
      'kubectl.kubernetes.io/last-applied-configuration',
    ]);
    expect(list.items[1].metadata.creationTimestamp).toBe('2025-03-01T09:30:00Z');
  });

  it('prints an empty List when nothing matches', async () => {
    const r = await cli(['get', 'svc', '-o', 'json', '-f', EDGE]);
    expect(r).toEqual({
      code: 0,
      stdout:
        '{\n    "apiVersion": "v1",\n    "items": [],\n    "kind": "List",\n    "metadata": {\n        "resourceVersion": ""\n    }\n}\n',
      stderr: '',
    });
  });

  it('prints YAML like kubectl, with allocated values and creationTimestamp: null for manifests without one', async () => {
    const r = await cli(['get', 'svc', '-o', 'yaml', '-f', APP]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^apiVersion: v1\nitems:\n- apiVersion: v1\n {2}kind: Service\n {2}metadata:\n {4}creationTimestamp: null\n/,
    );
    expect(r.stdout).toContain('\n    clusterIPs:\n    - 10.');
    expect(r.stdout).toMatch(/\n {6}nodePort: 3\d{4}\n/);
    expect(r.stdout.endsWith('kind: List\nmetadata:\n  resourceVersion: ""\n')).toBe(true);
  });

  it('prints a single object asked for by name without the List', async () => {
    const r = await cli(['get', 'svc', 'web', '-n', 'shop', '-o', 'json', '-f', DUMP]);
    const o = JSON.parse(r.stdout);
    expect(o.kind).toBe('Service');
    expect(o.metadata.name).toBe('web');
  });

  it('allocates the same values on every run', async () => {
    const a = await cli(['get', 'svc', '-n', 'edge', '-o', 'json', '-f', EDGE]);
    const b = await cli(['get', 'svc', '-n', 'edge', '-o', 'json', '-f', EDGE]);
    expect(a.stdout).toBe(b.stdout);
  });
});

describe('svcroute get: allocation ranges', () => {
  it('takes values of a dump as they are without range flags', async () => {
    const r = await cli(['get', 'svc', '-f', `${FIXTURES}/manifests/nginx-nodeport.yaml`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('30080:30001/TCP');
  });

  it('checks every value against the ranges given, with the API server messages', async () => {
    const r = await cli(['get', 'svc', '-A', '-f', DUMP, '--service-cluster-ip-range', '10.100.0.0/16']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    // The allocator's wording is its own module's concern; here: one line per refused service,
    // naming the file, the document, the object and the field.
    expect(r.stderr).toMatch(
      /^error: \S+dump\S*\.yaml: document 0, items\[\d+\] \(line \d+\): Service "default\/kubernetes": spec\.clusterIPs: Invalid value: \[\]string\{"10\.96\.0\.1"\}: failed to allocate IP 10\.96\.0\.1: /m,
    );
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    for (const line of lines)
      expect(line).toMatch(/^error: .+: Service "[\w-]+\/[\w-]+": spec\.clusterIPs: /);
    const ports = await cli([
      'get',
      'svc',
      '-f',
      `${FIXTURES}/manifests/nginx-nodeport.yaml`,
      '--service-node-port-range',
      '31000-31010',
    ]);
    expect(ports.code).toBe(1);
    expect(ports.stderr).toBe(
      `error: ${FIXTURES}/manifests/nginx-nodeport.yaml: document 0 (line 16): Service "default/nginx": spec.ports[0].nodePort: Invalid value: 30001: provided port is not in the valid range. The range of valid ports is 31000-31010\n`,
    );
  });

  it('allocates missing values inside the ranges given', async () => {
    const r = await cli([
      'get',
      'svc',
      '-n',
      'edge',
      '-o',
      'json',
      '-f',
      EDGE,
      '--service-cluster-ip-range',
      '10.200.0.0/24',
      '--service-node-port-range',
      '31000-31010',
    ]);
    expect(r.code).toBe(0);
    const list = JSON.parse(r.stdout);
    const api = list.items.find((i: { metadata: { name: string } }) => i.metadata.name === 'api');
    expect(api.spec.clusterIP).toMatch(/^10\.200\.0\.\d+$/);
    for (const p of api.spec.ports) expect(p.nodePort).toBeGreaterThanOrEqual(31000);
  });
});

describe('svcroute get: legacy Endpoints', () => {
  it('lists the slices the mirroring controller would make for a selector-less service', async () => {
    const text = `apiVersion: v1
kind: Service
metadata:
  name: external-db
spec:
  ports:
  - name: sql
    port: 5432
---
apiVersion: v1
kind: Endpoints
metadata:
  name: external-db
subsets:
- addresses:
  - ip: 192.0.2.21
  - ip: 192.0.2.22
  notReadyAddresses:
  - ip: 192.0.2.23
  ports:
  - name: sql
    port: 5432
`;
    const r = await cli(['get', 'endpointslices', '-o', 'json', '-f', '-'], { stdin: text });
    expect(r.code).toBe(0);
    const [slice] = JSON.parse(r.stdout).items;
    expect(slice.metadata.name).toMatch(/^external-db-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    expect(slice.metadata.labels).toEqual({
      'endpointslice.kubernetes.io/managed-by': 'endpointslicemirroring-controller.k8s.io',
      'kubernetes.io/service-name': 'external-db',
    });
    expect(
      slice.endpoints.map((e: { addresses: string[]; conditions: { ready: boolean } }) => [
        e.addresses[0],
        e.conditions.ready,
      ]),
    ).toEqual([
      ['192.0.2.21', true],
      ['192.0.2.22', true],
      ['192.0.2.23', false],
    ]);
    expect(slice.ports).toEqual([{ name: 'sql', port: 5432, protocol: 'TCP' }]);
  });
});

describe('svcroute get: kinds svcroute does not serve', () => {
  const text = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  ports:
  - port: 80
`;

  it('fails on them by default, naming file and document', async () => {
    const r = await cli(['get', 'svc', '-o', 'name', '-f', '-'], { stdin: text });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'error: <stdin>: document 0 (line 1): Deployment "web": no matches for kind "Deployment" in version "apps/v1": svcroute reads v1 Service, Pod, Endpoints, Node, Namespace and discovery.k8s.io/v1 EndpointSlice\n',
    );
  });

  it('leaves them out with --skip-unknown-kinds', async () => {
    const r = await cli(['get', 'svc', '-o', 'name', '--skip-unknown-kinds', '-f', '-'], { stdin: text });
    expect(r).toEqual({ code: 0, stdout: 'service/web\n', stderr: '' });
  });
});

describe('svcroute get: kubectl printer details', () => {
  it('lists in storage key order, truncates load balancer names and joins external IPs', async () => {
    // "shop-dev/…" sorts before "shop/…": '-' comes before '/'.
    const r = await cli(['get', 'svc', '-A', '-f', EDGES]);
    expect(r).toEqual({
      code: 0,
      stdout: [
        'NAMESPACE   NAME      TYPE           CLUSTER-IP    EXTERNAL-IP                   PORT(S)        AGE',
        'shop-dev    catalog   LoadBalancer   10.96.20.21   catalog-dev.l...,192.0.2.10   80:30080/TCP   2y52d',
        'shop        catalog   ClusterIP      10.96.20.20   <none>                        80/TCP         105s',
        '',
      ].join('\n'),
      stderr: '',
    });
    const wide = await cli(['get', 'svc', '-A', '-o', 'wide', '-f', EDGES]);
    expect(wide.stdout.split('\n')[1]).toBe(
      'shop-dev    catalog   LoadBalancer   10.96.20.21   catalog-dev.lb.example.com,192.0.2.10   80:30080/TCP   2y52d   app=catalog',
    );
  });

  it('prefixes names with the kind only when objects of several kinds are printed', async () => {
    const onlyServices = await cli(['get', 'svc,pods', '-n', 'shop-dev', '-f', EDGES]);
    expect(onlyServices.stdout.split('\n')[1]).toMatch(/^catalog {3}LoadBalancer/);
    const both = await cli(['get', 'svc,endpointslices', '-n', 'shop', '-f', EDGES]);
    const [services, slices] = both.stdout.split('\n\n');
    expect(services?.split('\n')[1]).toMatch(/^service\/catalog {3}ClusterIP/);
    expect(slices).toMatch(
      /^NAME {3,}ADDRESSTYPE {3}PORTS {3}ENDPOINTS {3,}AGE\nendpointslice\.discovery\.k8s\.io\/catalog-/,
    );
  });

  it('cuts a cell at a line break and shows podIP when podIPs disagrees', async () => {
    const r = await cli(['get', 'po', '-n', 'shop', '-o', 'wide', '-f', EDGES]);
    expect(r.stdout).toBe(
      [
        'NAME        READY   STATUS   RESTARTS   AGE   IP            NODE     NOMINATED NODE   READINESS GATES',
        'catalog-0   0/1     Bad...   0          90m   10.244.1.30   node-a   <none>           <none>',
        '',
      ].join('\n'),
    );
  });

  it('prints YAML as go-yaml does: folded long strings, quoted indicators', async () => {
    const r = await cli(['get', 'svc', 'catalog', '-n', 'shop', '-o', 'yaml', '-f', EDGES]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^apiVersion: v1\nkind: Service\nmetadata:\n {2}annotations:\n {4}example\.com\/description: Internal catalogue API used by the storefront and the\n {6}nightly export jobs; owned by the catalogue team\n {4}example\.com\/owner: '\*'\n {2}creationTimestamp: "2025-03-02T09:58:15Z"\n/,
    );
  });

  it('prints only the error when the one object asked for is missing', async () => {
    for (const output of ['json', 'yaml', 'name']) {
      expect(await cli(['get', 'svc', 'nope', '-n', 'shop', '-o', output, '-f', EDGES])).toEqual({
        code: 1,
        stdout: '',
        stderr: 'Error from server (NotFound): services "nope" not found\n',
      });
    }
    // With several names the List of those found is printed before the error.
    const some = await cli(['get', 'svc', 'catalog', 'nope', '-n', 'shop', '-o', 'json', '-f', EDGES]);
    expect(some.code).toBe(1);
    expect(JSON.parse(some.stdout).items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual(
      ['catalog'],
    );
  });

  it('refuses the combinations kubectl refuses, with its words', async () => {
    const cases: [string[], string][] = [
      [['get', 'svc,pods', 'catalog'], 'error: you must specify only one resource\n'],
      [
        ['get', 'svc', 'catalog', '-l', 'app=catalog'],
        'error: name cannot be provided when a selector is specified\n',
      ],
      [
        ['get', 'svc', 'catalog', '-A'],
        'error: a resource cannot be retrieved by name across all namespaces\n',
      ],
      [['get', 'deployments'], 'error: the server doesn\'t have a resource type "deployments"\n'],
    ];
    for (const [args, stderr] of cases) {
      const r = await cli([...args, '-f', EDGES]);
      expect(r.code).not.toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(stderr);
    }
  });

  it('keeps the order of the kinds and of the names asked for', async () => {
    const kinds = await cli(['get', 'po,svc', '-n', 'shop', '-o', 'name', '-f', EDGES]);
    expect(kinds.stdout).toBe('pod/catalog-0\nservice/catalog\n');
    const names = await cli(['get', 'svc', 'web', 'redis', '-n', 'shop', '-o', 'name', '-f', DUMP]);
    expect(names.stdout).toBe('service/web\nservice/redis\n');
  });

  it('takes TYPE/NAME arguments, printing in the order given', async () => {
    const named = await cli(['get', 'svc/catalog', 'po/catalog-0', '-n', 'shop', '-o', 'name', '-f', EDGES]);
    expect(named).toEqual({ code: 0, stdout: 'service/catalog\npod/catalog-0\n', stderr: '' });
    const table = await cli(['get', 'svc/catalog', 'po/catalog-0', '-n', 'shop', '-f', EDGES]);
    const [services, pods] = table.stdout.split('\n\n');
    expect(services?.split('\n')[1]).toMatch(/^service\/catalog {3}ClusterIP/);
    expect(pods?.split('\n')[1]).toMatch(/^pod\/catalog-0 {3}0\/1/);
    const one = await cli(['get', 'svc/catalog', '-n', 'shop', '-o', 'json', '-f', EDGES]);
    expect(JSON.parse(one.stdout).kind).toBe('Service');
    const mixed = await cli(['get', 'svc', 'po/catalog-0', '-n', 'shop', '-f', EDGES]);
    expect(mixed.stderr).toMatch(
      /^error: there is no need to specify a resource type as a separate argument/,
    );
  });
});
