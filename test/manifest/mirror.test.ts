import { describe, expect, it } from 'vitest';
import type { EndpointSlice, Endpoints, KubeObject, Service } from '../../src/core/types';
import {
  ENDPOINTSLICE_MIRRORING_CONTROLLER_NAME,
  endpointsToSlices,
  mirrorEndpoints,
  parseManifests,
} from '../../src/manifest';

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

const endpoints: Endpoints = deepFreeze({
  apiVersion: 'v1',
  kind: 'Endpoints',
  metadata: {
    name: 'db',
    namespace: 'prod',
    uid: 'ep-uid',
    labels: { team: 'data' },
    annotations: {
      note: 'kept',
      'endpoints.kubernetes.io/last-change-trigger-time': '2025-01-01T00:00:00Z',
      'kubectl.kubernetes.io/last-applied-configuration': '{}',
    },
  },
  subsets: [
    {
      addresses: [
        {
          ip: '10.0.0.1',
          nodeName: 'n1',
          hostname: 'db-0',
          targetRef: { kind: 'Pod', name: 'db-0', namespace: 'prod' },
        },
        { ip: '010.0.0.2' },
        { ip: 'not-an-ip' },
        { ip: '2001:DB8::1' },
      ],
      notReadyAddresses: [{ ip: '10.0.0.3' }],
      ports: [
        { name: 'sql', port: 5432 },
        { port: 9187, protocol: 'TCP', appProtocol: 'http' },
      ],
    },
  ],
});

describe('endpointsToSlices', () => {
  const slices = endpointsToSlices(endpoints);

  it('makes one slice per address family and port list, not touching its input', () => {
    expect(slices.map((s) => s.addressType)).toEqual(['IPv4', 'IPv6']);
    expect(slices[0]?.endpoints.map((e) => [e.addresses[0], e.conditions?.ready])).toEqual([
      ['10.0.0.1', true],
      ['10.0.0.2', true],
      ['10.0.0.3', false],
    ]);
    expect(slices[1]?.endpoints).toEqual([{ addresses: ['2001:db8::1'], conditions: { ready: true } }]);
  });

  it('copies hostname, nodeName and targetRef, and defaults port name and protocol', () => {
    expect(slices[0]?.endpoints[0]).toEqual({
      addresses: ['10.0.0.1'],
      conditions: { ready: true },
      nodeName: 'n1',
      hostname: 'db-0',
      targetRef: { kind: 'Pod', name: 'db-0', namespace: 'prod' },
    });
    expect(slices[0]?.ports).toEqual([
      { name: 'sql', port: 5432, protocol: 'TCP' },
      { name: '', port: 9187, protocol: 'TCP', appProtocol: 'http' },
    ]);
  });

  it('labels, annotates and owns the slices as the mirroring controller does', () => {
    const s = slices[0] as EndpointSlice;
    expect({ ...s.metadata.labels }).toEqual({
      team: 'data',
      'kubernetes.io/service-name': 'db',
      'endpointslice.kubernetes.io/managed-by': ENDPOINTSLICE_MIRRORING_CONTROLLER_NAME,
    });
    expect({ ...s.metadata.annotations }).toEqual({ note: 'kept' });
    expect(s.metadata.namespace).toBe('prod');
    expect(s.metadata.ownerReferences).toEqual([
      {
        apiVersion: 'v1',
        kind: 'Endpoints',
        name: 'db',
        uid: 'ep-uid',
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(s.metadata.name).toMatch(/^db-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    expect(slices[1]?.metadata.name).not.toBe(s.metadata.name);
    expect(endpointsToSlices(endpoints).map((x) => x.metadata.name)).toEqual(
      slices.map((x) => x.metadata.name),
    );
  });

  it('skips Endpoints marked skip-mirror or used as a leader-election lock', () => {
    const skip = {
      ...endpoints,
      metadata: { ...endpoints.metadata, labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } },
    };
    expect(endpointsToSlices(skip)).toEqual([]);
    const lock = {
      ...endpoints,
      metadata: { ...endpoints.metadata, annotations: { 'control-plane.alpha.kubernetes.io/leader': '{}' } },
    };
    expect(endpointsToSlices(lock)).toEqual([]);
  });

  it('mirrors at most 1000 addresses per subset and lists identical endpoints once', () => {
    const many: Endpoints = {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: 'big' },
      subsets: [
        {
          addresses: Array.from({ length: 1100 }, (_, i) => ({ ip: `10.1.${i >> 8}.${i & 255}` })),
          ports: [{ port: 80 }],
        },
        { addresses: [{ ip: '10.9.9.9' }, { ip: '10.9.9.9' }], ports: [{ port: 81 }] },
      ],
    };
    const out = endpointsToSlices(many);
    expect(out.map((s) => s.endpoints.length)).toEqual([1000, 1]);
  });
});

describe('mirrorEndpoints', () => {
  const svc = (selector?: Record<string, string>): Service => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'db', namespace: 'prod' },
    spec: { ports: [{ port: 5432 }], ...(selector ? { selector } : {}) },
  });

  it('mirrors only Endpoints of a selector-less Service and drops the Endpoints', () => {
    const out = mirrorEndpoints([svc(), endpoints]);
    expect(out.map((o) => o.kind)).toEqual(['Service', 'EndpointSlice', 'EndpointSlice']);
    expect(mirrorEndpoints([svc({ app: 'db' }), endpoints]).map((o) => o.kind)).toEqual(['Service']);
    expect(mirrorEndpoints([endpoints])).toEqual([]);
    expect(mirrorEndpoints([svc({}), endpoints])).toHaveLength(3);
  });

  it('does not mirror twice when the dump already holds mirrored slices', () => {
    const mirrored = endpointsToSlices(endpoints);
    const out = mirrorEndpoints([svc(), endpoints, ...mirrored] as KubeObject[]);
    expect(out.filter((o) => o.kind === 'EndpointSlice')).toHaveLength(2);
  });

  it('is what parseManifests does by default, across the documents of a text', () => {
    const text = `apiVersion: v1
kind: Service
metadata:
  name: ext
spec:
  ports:
  - port: 80
---
apiVersion: v1
kind: Endpoints
metadata:
  name: ext
subsets:
- addresses:
  - ip: 192.0.2.10
  ports:
  - port: 8080
`;
    expect(parseManifests(text, 'ext.yaml').map((o) => o.kind)).toEqual(['Service', 'EndpointSlice']);
    expect(parseManifests(text, 'ext.yaml', { endpoints: 'keep' }).map((o) => o.kind)).toEqual([
      'Service',
      'Endpoints',
    ]);
  });
});
