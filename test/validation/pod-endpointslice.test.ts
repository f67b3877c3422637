import { describe, expect, it } from 'vitest';
import { formatFieldError } from '../../src/core/errors';
import type { EndpointSlice, KubeObject, Pod } from '../../src/core/types';
import {
  validateEndpointSlice,
  validateEndpointSliceUpdate,
  validateObject,
  validatePod,
} from '../../src/validation';

const pod = (spec: Partial<Pod['spec']>, status?: Pod['status'], name = 'p-1'): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default' },
  spec: { containers: [{ name: 'app', ports: [{ name: 'http', containerPort: 8080 }] }], ...spec },
  ...(status ? { status } : {}),
});

describe('validatePod', () => {
  it('accepts a routable pod', () => {
    expect(
      validatePod(pod({}, { podIP: '10.1.0.5', podIPs: [{ ip: '10.1.0.5' }, { ip: 'fd00::5' }] })),
    ).toEqual([]);
  });
  it('container and port rules', () => {
    const p = pod({
      containers: [
        {
          name: 'App',
          ports: [
            { name: 'http', containerPort: 0 },
            { name: 'http', containerPort: 70000, protocol: 'ICMP' as 'TCP' },
          ],
        },
        { name: 'App' },
      ],
      hostname: 'a.b',
    });
    expect(validatePod(p).map(formatFieldError)).toEqual([
      expect.stringMatching(/^spec\.containers\[0\]\.name: Invalid value: "App": a lowercase RFC 1123 label/),
      'spec.containers[0].ports[0].containerPort: Required value',
      'spec.containers[0].ports[1].name: Duplicate value: "http"',
      'spec.containers[0].ports[1].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive',
      'spec.containers[0].ports[1].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
      expect.stringMatching(/^spec\.containers\[1\]\.name: Invalid value: "App"/),
      'spec.containers[1].name: Duplicate value: "App"',
      'spec.hostname: Invalid value: "a.b": must not contain dots',
    ]);
  });
  it('init container names may not repeat regular container names', () => {
    const p = pod({ initContainers: [{ name: 'app' }] });
    expect(validatePod(p).map(formatFieldError)).toEqual([
      'spec.initContainers[0].name: Duplicate value: "app"',
    ]);
  });
  it('no containers; bad pod IPs', () => {
    expect(
      validatePod(pod({ containers: [] }, { podIPs: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }] })).map(
        formatFieldError,
      ),
    ).toEqual([
      'spec.containers: Required value',
      // the list is a []core.PodIP to Go's %#v
      'status.podIPs: Invalid value: []core.PodIP{core.PodIP{IP:"10.0.0.1"}, core.PodIP{IP:"10.0.0.2"}}: may specify no more than one IP for each IP family',
    ]);
    expect(validatePod(pod({}, { podIPs: [{ ip: 'nope' }] })).map(formatFieldError)).toEqual([
      'status.podIPs[0]: Invalid value: "nope": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
    ]);
  });
  it('a repeated pod IP is a Duplicate of the core.PodIP entry', () => {
    expect(
      validatePod(pod({}, { podIPs: [{ ip: '10.0.0.1' }, { ip: '10.0.0.1' }] })).map(formatFieldError),
    ).toContain('status.podIPs[1]: Duplicate value: core.PodIP{IP:"10.0.0.1"}');
  });
  it('nodeName is a DNS subdomain, checked before hostname (ValidatePodSpec)', () => {
    const out = validatePod(pod({ nodeName: 'Node_1', hostname: 'Web_1' })).map(formatFieldError);
    expect(out).toEqual([
      expect.stringMatching(/^spec\.nodeName: Invalid value: "Node_1": a lowercase RFC 1123 subdomain/),
      expect.stringMatching(/^spec\.hostname: Invalid value: "Web_1": a lowercase RFC 1123 label/),
    ]);
    expect(validatePod(pod({ nodeName: 'kind-worker.example' }))).toEqual([]);
  });
  it('host port conflicts across containers (checkHostPortConflicts)', () => {
    const p = pod({
      containers: [
        { name: 'a', ports: [{ containerPort: 80, hostPort: 8080 }] },
        {
          name: 'b',
          ports: [
            { containerPort: 81, hostPort: 8080 },
            { containerPort: 82, hostPort: 8080, protocol: 'UDP' },
            { containerPort: 83, hostPort: 8080, hostIP: '10.0.0.1' },
          ],
        },
      ],
    });
    expect(validatePod(p).map(formatFieldError)).toEqual([
      'spec.containers[1].ports[0].hostPort: Duplicate value: "/TCP/8080"',
    ]);
  });
  it('host network: hostPort defaults to containerPort, and must match it', () => {
    expect(validatePod(pod({ hostNetwork: true }))).toEqual([]);
    const p = pod({
      hostNetwork: true,
      containers: [{ name: 'a', ports: [{ containerPort: 80, hostPort: 81 }] }],
    });
    expect(validatePod(p).map(formatFieldError)).toEqual([
      'spec.containers[0].ports[0].hostPort: Invalid value: 81: must match `containerPort` when `hostNetwork` is true',
    ]);
  });
});

const slice = (s: Partial<EndpointSlice>): EndpointSlice => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name: 'web-abc12', namespace: 'default' },
  addressType: 'IPv4',
  endpoints: [{ addresses: ['10.1.0.5'], conditions: { ready: true } }],
  ports: [{ name: 'http', port: 8080 }],
  ...s,
});

describe('validateEndpointSlice', () => {
  it('accepts a slice without the service-name label (upstream does not require it)', () => {
    expect(validateEndpointSlice(slice({}))).toEqual([]);
  });
  it('golden messages', () => {
    const s = slice({
      addressType: 'IPv4',
      endpoints: [
        { addresses: [] },
        {
          addresses: ['fd00::1', '127.0.0.1'],
          hostname: 'A',
          nodeName: 'Node_1',
          hints: { forZones: [{ name: 'a' }, { name: 'a' }] },
        },
      ],
      ports: [
        { name: 'Http', protocol: 'TCP' },
        { name: 'Http', protocol: 'ICMP' as 'TCP' },
        { appProtocol: 'a/b/c' },
      ],
    });
    expect(validateEndpointSlice(s).map(formatFieldError)).toEqual([
      'endpoints[0].addresses: Required value: must contain at least 1 address',
      'endpoints[1].addresses[0]: Invalid value: "fd00::1": must be a valid IPv4 address',
      'endpoints[1].addresses[1]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)',
      expect.stringMatching(
        /^endpoints\[1\]\.nodeName: Invalid value: "Node_1": a lowercase RFC 1123 subdomain/,
      ),
      expect.stringMatching(/^endpoints\[1\]\.hostname: Invalid value: "A": a lowercase RFC 1123 label/),
      'endpoints[1].hints.forZones[1].name: Duplicate value: "a"',
      expect.stringMatching(/^ports\[0\]\.name: Invalid value: "Http"/),
      expect.stringMatching(/^ports\[1\]\.name: Invalid value: "Http"/),
      'ports[1].name: Duplicate value: "Http"',
      'ports[1].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
      expect.stringMatching(/^ports\[2\]\.appProtocol: Invalid value: "a\/b\/c": a qualified name/),
    ]);
  });
  it('node hints', () => {
    const s = slice({
      endpoints: [
        { addresses: ['10.0.0.1'], hints: { forNodes: [{ name: 'n1' }, { name: 'n1' }, { name: 'N_2' }] } },
      ],
    });
    expect(validateEndpointSlice(s).map(formatFieldError)).toEqual([
      'endpoints[0].hints.forNodes[1].name: Duplicate value: "n1"',
      expect.stringMatching(
        /^endpoints\[0\]\.hints\.forNodes\[2\]\.name: Invalid value: "N_2": a lowercase RFC 1123 subdomain/,
      ),
    ]);
  });
  it('too many zone hints stop the hint checks there (validateHints returns early)', () => {
    const zones = Array.from({ length: 9 }, (_, i) => ({ name: `z${i}` }));
    const s = slice({
      endpoints: [{ addresses: ['10.0.0.1'], hints: { forZones: zones, forNodes: [{ name: 'N_2' }] } }],
    });
    expect(validateEndpointSlice(s).map(formatFieldError)).toEqual([
      'endpoints[0].hints.forZones: Too many: 9: must have at most 8 items',
    ]);
  });
  it('allowLoopback admits 127.0.0.x for local backends', () => {
    expect(
      validateEndpointSlice(slice({ endpoints: [{ addresses: ['127.0.0.2'] }] }), { allowLoopback: true }),
    ).toEqual([]);
  });
  it('address type and FQDN rules', () => {
    expect(validateEndpointSlice(slice({ addressType: 'IPv7' as 'IPv4' })).map(formatFieldError)).toEqual([
      'addressType: Unsupported value: "IPv7": supported values: "FQDN", "IPv4", "IPv6"',
    ]);
    expect(
      validateEndpointSlice(
        slice({ addressType: 'FQDN', endpoints: [{ addresses: ['example.com.', 'single'] }] }),
      ).map(formatFieldError),
    ).toEqual([
      'endpoints[0].addresses[1]: Invalid value: "single": should be a domain with at least two segments separated by dots',
    ]);
  });
  it('too many endpoints', () => {
    const eps = Array.from({ length: 1001 }, () => ({ addresses: ['10.0.0.1'] }));
    expect(validateEndpointSlice(slice({ endpoints: eps })).map(formatFieldError)).toEqual([
      'endpoints: Too many: 1001: must have at most 1000 items',
    ]);
  });
});

describe('validateObject', () => {
  it('dispatches by kind', () => {
    const objs: KubeObject[] = [
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'Bad' }, spec: { ports: [{ port: 80 }] } },
      pod({ containers: [] }),
      slice({ addressType: 'FQDN', endpoints: [] }),
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a.b' } },
      { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1' } },
    ];
    expect(objs.map((o) => validateObject(o).length)).toEqual([1, 1, 0, 1, 0]);
  });
});

describe('validateEndpointSliceUpdate', () => {
  it('addressType is immutable (ValidateEndpointSliceUpdate)', () => {
    const prev = slice({});
    expect(validateEndpointSliceUpdate(slice({ endpoints: [] }), prev)).toEqual([]);
    expect(
      validateEndpointSliceUpdate(slice({ addressType: 'IPv6', endpoints: [] }), prev).map(formatFieldError),
    ).toEqual(['addressType: Invalid value: "IPv6": field is immutable']);
  });
});
