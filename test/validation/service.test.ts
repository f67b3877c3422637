import { describe, expect, it } from 'vitest';
import { formatFieldError } from '../../src/core/errors';
import type { Service, ServiceSpec } from '../../src/core/types';
import {
  prepareServiceUpdate,
  validateService,
  validateServiceStatusUpdate,
  validateServiceUpdate,
} from '../../src/validation';

function svc(spec: ServiceSpec, name = 'web', extra: Partial<Service['metadata']> = {}): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default', ...extra }, spec };
}
const msgs = (s: Service, opts = {}) => validateService(s, opts).map(formatFieldError);
const basic: ServiceSpec = { selector: { app: 'web' }, ports: [{ port: 80 }] };

describe('validateService: valid services', () => {
  const ok: [string, ServiceSpec][] = [
    ['ClusterIP', basic],
    ['headless without ports', { clusterIP: 'None', selector: { app: 'x' } }],
    ['NodePort', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }],
    [
      'LoadBalancer',
      {
        type: 'LoadBalancer',
        ports: [{ port: 443, name: 'https' }],
        loadBalancerSourceRanges: ['10.0.0.0/8 '],
      },
    ],
    ['ExternalName', { type: 'ExternalName', externalName: 'db.example.com.' }],
    ['ClientIP affinity defaulted', { ...basic, sessionAffinity: 'ClientIP' }],
    [
      'dual-stack',
      {
        ...basic,
        clusterIP: '10.0.0.10',
        clusterIPs: ['10.0.0.10', 'fd00::10'],
        ipFamilies: ['IPv4', 'IPv6'],
        ipFamilyPolicy: 'RequireDualStack',
      },
    ],
    [
      'named targetPort',
      {
        ports: [
          { port: 80, targetPort: 'http', name: 'a' },
          { port: 81, name: 'b', protocol: 'UDP' },
        ],
      },
    ],
    [
      'same port, two protocols',
      {
        ports: [
          { port: 53, name: 'dns', protocol: 'UDP' },
          { port: 53, name: 'dns-tcp' },
        ],
      },
    ],
    ['trafficDistribution', { ...basic, trafficDistribution: 'PreferSameNode' }],
    [
      'LB local without healthCheckNodePort yet',
      { type: 'LoadBalancer', externalTrafficPolicy: 'Local', ports: [{ port: 80 }] },
    ],
  ];
  for (const [name, spec] of ok) it(name, () => expect(msgs(svc(spec))).toEqual([]));
});

describe('validateService: golden messages', () => {
  const cases: [string, ServiceSpec, string[]][] = [
    // targetPort defaults to port, so it is reported too (as upstream does)
    [
      'port 0',
      { ports: [{ port: 0 }] },
      [
        'spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive',
        'spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive',
      ],
    ],
    [
      'port too big',
      { ports: [{ port: 65536, targetPort: 80 }] },
      ['spec.ports[0].port: Invalid value: 65536: must be between 1 and 65535, inclusive'],
    ],
    ['no ports', { selector: { a: 'b' } }, ['spec.ports: Required value']],
    // apimachinery's IsValidPortName spells it "alpha-numeric" (unlike the DNS label messages)
    [
      'targetPort name with uppercase and underscore',
      { ports: [{ port: 80, targetPort: 'Foo_bar' }] },
      [
        'spec.ports[0].targetPort: Invalid value: "Foo_bar": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
      ],
    ],
    [
      'names required with several ports',
      { ports: [{ port: 80 }, { port: 81 }] },
      ['spec.ports[0].name: Required value', 'spec.ports[1].name: Required value'],
    ],
    [
      'duplicate names',
      {
        ports: [
          { port: 80, name: 'p' },
          { port: 81, name: 'p' },
        ],
      },
      ['spec.ports[1].name: Duplicate value: "p"'],
    ],
    [
      'bad port name',
      { ports: [{ port: 80, name: 'Http' }] },
      [
        "spec.ports[0].name: Invalid value: \"Http\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
      ],
    ],
    [
      'bad protocol',
      { ports: [{ port: 80, protocol: 'HTTP' as 'TCP' }] },
      ['spec.ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"'],
    ],
    [
      'targetPort name',
      { ports: [{ port: 80, targetPort: '8080' }] },
      ['spec.ports[0].targetPort: Invalid value: "8080": must contain at least one letter (a-z)'],
    ],
    [
      'targetPort number',
      { ports: [{ port: 80, targetPort: 70000 }] },
      ['spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive'],
    ],
    [
      'duplicate port+protocol',
      {
        ports: [
          { port: 80, name: 'a' },
          { port: 80, name: 'b', targetPort: 8080 },
        ],
      },
      [
        'spec.ports[1]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}',
      ],
    ],
    [
      'bad type',
      { ...basic, type: 'Foo' as 'ClusterIP' },
      [
        'spec.type: Unsupported value: "Foo": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
      ],
    ],
    [
      'nodePort on ClusterIP',
      { ports: [{ port: 80, nodePort: 30000 }] },
      ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"],
    ],
    [
      'duplicate nodePort',
      {
        type: 'NodePort',
        ports: [
          { port: 80, name: 'a', nodePort: 30000 },
          { port: 81, name: 'b', nodePort: 30000 },
        ],
      },
      ['spec.ports[1].nodePort: Duplicate value: 30000'],
    ],
    ['ExternalName without name', { type: 'ExternalName' }, ['spec.externalName: Required value']],
    [
      'ExternalName bad name and clusterIP',
      { type: 'ExternalName', externalName: 'Foo_bar', clusterIP: '10.0.0.1' },
      [
        'spec.clusterIPs: Forbidden: may not be set for ExternalName services',
        "spec.externalName: Invalid value: \"Foo_bar\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
      ],
    ],
    [
      'headless NodePort',
      { type: 'NodePort', clusterIP: 'None', ports: [{ port: 80 }] },
      ['spec.clusterIPs[0]: Invalid value: "None": may not be set to \'None\' for NodePort services'],
    ],
    [
      'affinity timeout 0',
      { ...basic, sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 0 } } },
      [
        'spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 0: must be greater than 0 and less than 86400',
      ],
    ],
    [
      'affinity timeout too big',
      {
        ...basic,
        sessionAffinity: 'ClientIP',
        sessionAffinityConfig: { clientIP: { timeoutSeconds: 86401 } },
      },
      [
        'spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 86401: must be greater than 0 and less than 86400',
      ],
    ],
    [
      'bad affinity',
      { ...basic, sessionAffinity: 'Sticky' as 'None' },
      ['spec.sessionAffinity: Unsupported value: "Sticky": supported values: "ClientIP", "None"'],
    ],
    [
      'bad clusterIP',
      { ...basic, clusterIP: '10.0.0.300' },
      [
        'spec.clusterIPs[0]: Invalid value: "10.0.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
      ],
    ],
    [
      'clusterIPs mismatch',
      { ...basic, clusterIP: '10.0.0.1', clusterIPs: ['10.0.0.2'] },
      ['spec.clusterIPs: Invalid value: []string{"10.0.0.2"}: first value must match `clusterIP`'],
    ],
    [
      'clusterIPs without clusterIP',
      { ...basic, clusterIPs: ['10.0.0.2'] },
      [
        'spec.clusterIPs: Invalid value: []string{"10.0.0.2"}: must be empty when `clusterIP` is not specified',
      ],
    ],
    [
      'two IPv4 clusterIPs',
      { ...basic, clusterIP: '10.0.0.1', clusterIPs: ['10.0.0.1', '10.0.0.2'] },
      [
        'spec.clusterIPs: Invalid value: []string{"10.0.0.1", "10.0.0.2"}: may specify no more than one IP for each IP family',
      ],
    ],
    [
      'family mismatch',
      { ...basic, clusterIP: 'fd00::1', ipFamilies: ['IPv4'] },
      [
        'spec.clusterIPs[0]: Invalid value: "fd00::1": expected an IPv4 value as indicated by `ipFamilies[0]`',
      ],
    ],
    [
      'bad family and policy',
      { ...basic, ipFamilies: ['IPv5' as 'IPv4', 'IPv5' as 'IPv4'], ipFamilyPolicy: 'Dual' as 'SingleStack' },
      [
        'spec.ipFamilies[0]: Unsupported value: "IPv5": supported values: "IPv4", "IPv6"',
        'spec.ipFamilies[1]: Unsupported value: "IPv5": supported values: "IPv4", "IPv6"',
        'spec.ipFamilies[1]: Duplicate value: "IPv5"',
        'spec.ipFamilyPolicy: Unsupported value: "Dual": supported values: "PreferDualStack", "RequireDualStack", "SingleStack"',
      ],
    ],
    [
      'external IPs',
      { ...basic, externalIPs: ['1.2.3.4', 'x', '127.0.0.1'] },
      [
        'spec.externalIPs[1]: Invalid value: "x": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
        'spec.externalIPs[2]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)',
      ],
    ],
    [
      'source ranges on ClusterIP',
      { ...basic, loadBalancerSourceRanges: ['10.0.0.0/33'] },
      [
        "spec.LoadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'",
        'spec.LoadBalancerSourceRanges[0]: Invalid value: "10.0.0.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
      ],
    ],
    [
      'allocateLoadBalancerNodePorts on ClusterIP',
      { ...basic, allocateLoadBalancerNodePorts: false },
      ["spec.allocateLoadBalancerNodePorts: Forbidden: may only be used when `type` is 'LoadBalancer'"],
    ],
    [
      'externalTrafficPolicy on ClusterIP',
      { ...basic, externalTrafficPolicy: 'Local' },
      [
        'spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services',
      ],
    ],
    [
      'bad externalTrafficPolicy',
      { type: 'NodePort', ports: [{ port: 80 }], externalTrafficPolicy: 'Global' as 'Local' },
      ['spec.externalTrafficPolicy: Unsupported value: "Global": supported values: "Cluster", "Local"'],
    ],
    [
      'healthCheckNodePort on Cluster policy',
      { type: 'LoadBalancer', ports: [{ port: 80 }], healthCheckNodePort: 31000 },
      [
        "spec.healthCheckNodePort: Invalid value: 31000: may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
      ],
    ],
    [
      'bad internalTrafficPolicy',
      { ...basic, internalTrafficPolicy: 'Node' as 'Local' },
      ['spec.internalTrafficPolicy: Unsupported value: "Node": supported values: "Cluster", "Local"'],
    ],
    [
      'bad trafficDistribution',
      { ...basic, trafficDistribution: 'Nearest' },
      [
        'spec.trafficDistribution: Unsupported value: "Nearest": supported values: "PreferClose", "PreferSameZone", "PreferSameNode"',
      ],
    ],
    [
      'loadBalancerClass on ClusterIP',
      { ...basic, loadBalancerClass: 'x/y' },
      ["spec.loadBalancerClass: Forbidden: may only be used when `type` is 'LoadBalancer'"],
    ],
    [
      'bad selector',
      { ports: [{ port: 80 }], selector: { 'a b': 'c' } },
      [
        expect.stringMatching(
          /^spec\.selector: Invalid value: "a b": name part must consist/,
        ) as unknown as string,
      ],
    ],
  ];
  for (const [name, spec, want] of cases) it(name, () => expect(msgs(svc(spec))).toEqual(want));

  it('metadata: Service names are DNS-1035 labels', () => {
    expect(msgs(svc(basic, '1web'))).toEqual([
      "metadata.name: Invalid value: \"1web\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
    ]);
  });

  it('reports every error at once, in upstream order', () => {
    expect(
      msgs(
        svc(
          {
            ports: [
              { port: 0, protocol: 'X' as 'TCP' },
              { port: 0, protocol: 'X' as 'TCP' },
            ],
            sessionAffinity: 'ClientIP',
            sessionAffinityConfig: { clientIP: { timeoutSeconds: -1 } },
          },
          '',
        ),
      ),
    ).toEqual([
      'metadata.name: Required value: name or generateName is required',
      'spec.ports[0].name: Required value',
      'spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive',
      'spec.ports[0].protocol: Unsupported value: "X": supported values: "SCTP", "TCP", "UDP"',
      'spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive',
      'spec.ports[1].name: Required value',
      'spec.ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive',
      'spec.ports[1].protocol: Unsupported value: "X": supported values: "SCTP", "TCP", "UDP"',
      'spec.ports[1].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive',
      'spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: -1: must be greater than 0 and less than 86400',
      'spec.ports[1]: Duplicate value: core.ServicePort{Name:"", Protocol:"X", AppProtocol:(*string)(nil), Port:0, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}',
    ]);
  });

  it('without defaulting, the defaulted fields are required (as the server sees an undefaulted object)', () => {
    expect(msgs(svc({ ports: [{ port: 80, targetPort: 80 }] }), { applyDefaults: false })).toEqual([
      'spec.ports[0].protocol: Required value',
      'spec.sessionAffinity: Required value',
      'spec.type: Required value',
    ]);
    expect(msgs(svc({ type: 'LoadBalancer', ports: [{ port: 80 }] }), { applyDefaults: false })).toEqual([
      'spec.ports[0].protocol: Required value',
      'spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive',
      'spec.sessionAffinity: Required value',
      'allocateLoadBalancerNodePorts: Required value',
      'spec.externalTrafficPolicy: Required value',
      'spec.internalTrafficPolicy: Required value',
    ]);
  });

  it('after allocation, LoadBalancer+Local requires healthCheckNodePort', () => {
    const s = svc({
      type: 'LoadBalancer',
      externalTrafficPolicy: 'Local',
      ports: [{ port: 80, nodePort: 30001 }],
    });
    expect(msgs(s, { allocated: true })).toEqual(['spec.healthCheckNodePort: Required value']);
    expect(msgs(s)).toEqual([]);
  });

  it('does not mutate its input', () => {
    const s = svc({ ports: [{ port: 80 }] });
    const copy = structuredClone(s);
    validateService(s);
    expect(s).toEqual(copy);
  });
});

describe('validateServiceUpdate', () => {
  const old = svc({ ...basic, clusterIP: '10.0.0.10', clusterIPs: ['10.0.0.10'] });
  it('clusterIP may not change (edited in a full object: clusterIPs follows clusterIP)', () => {
    const next = svc({ ...basic, clusterIP: '10.0.0.11', clusterIPs: ['10.0.0.10'] });
    expect(validateServiceUpdate(next, old).map(formatFieldError)).toEqual([
      'spec.clusterIPs[0]: Invalid value: []string{"10.0.0.11"}: may not change once set',
    ]);
  });
  it('clusterIP changed by a client that omits clusterIPs', () => {
    const next = svc({ ...basic, clusterIP: '10.0.0.11' });
    expect(validateServiceUpdate(next, old).map(formatFieldError)).toEqual([
      // the omitted list is a nil slice to Go's %#v
      'spec.clusterIPs[0]: Invalid value: []string(nil): primary clusterIP can not be unset',
      'spec.clusterIPs: Required value',
    ]);
  });
  it('an update that omits clusterIPs keeps them', () => {
    expect(validateServiceUpdate(svc({ ...basic, clusterIP: '10.0.0.10' }), old)).toEqual([]);
  });
  it('type change to ExternalName drops the unchanged cluster IPs', () => {
    const next = svc({
      type: 'ExternalName',
      externalName: 'x.example.com',
      clusterIP: '10.0.0.10',
      clusterIPs: ['10.0.0.10'],
    });
    expect(validateServiceUpdate(next, old)).toEqual([]);
  });
  it('releasing the secondary IP requires SingleStack', () => {
    const dual = svc({
      ...basic,
      clusterIP: '10.0.0.10',
      clusterIPs: ['10.0.0.10', 'fd00::a'],
      ipFamilies: ['IPv4', 'IPv6'],
      ipFamilyPolicy: 'PreferDualStack',
    });
    const next = svc({
      ...basic,
      clusterIP: '10.0.0.10',
      clusterIPs: ['10.0.0.10'],
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'PreferDualStack',
    });
    expect(validateServiceUpdate(next, dual).map(formatFieldError)).toEqual([
      'spec.ipFamilyPolicy: Invalid value: "PreferDualStack": must be set to \'SingleStack\' when releasing the secondary clusterIP',
      'spec.ipFamilyPolicy: Invalid value: "PreferDualStack": must be set to \'SingleStack\' when releasing the secondary ipFamily',
    ]);
  });
  it('ipFamilies may not change once set', () => {
    const a = svc({ ...basic, clusterIP: '10.0.0.10', clusterIPs: ['10.0.0.10'], ipFamilies: ['IPv4'] });
    const b = svc({ ...basic, clusterIP: '10.0.0.10', clusterIPs: ['10.0.0.10'], ipFamilies: ['IPv6'] });
    expect(validateServiceUpdate(b, a).map(formatFieldError)).toEqual([
      'spec.ipFamilies[0]: Invalid value: []core.IPFamily{"IPv6"}: may not change once set',
      'spec.clusterIPs[0]: Invalid value: "10.0.0.10": expected an IPv6 value as indicated by `ipFamilies[0]`',
    ]);
  });
  it('an explicitly emptied clusterIPs list prints as an empty Go slice', () => {
    const next = svc({ ...basic, clusterIP: '10.0.0.11', clusterIPs: [] });
    expect(validateServiceUpdate(next, old).map(formatFieldError)[0]).toBe(
      'spec.clusterIPs[0]: Invalid value: []string{}: primary clusterIP can not be unset',
    );
  });
  it('dropping ipFamilies prints them typed, as []core.IPFamily (ValidateServiceUpdate)', () => {
    const dual = svc({
      ...basic,
      clusterIP: '10.0.0.10',
      clusterIPs: ['10.0.0.10', 'fd00::a'],
      ipFamilies: ['IPv4', 'IPv6'],
      ipFamilyPolicy: 'RequireDualStack',
    });
    const next = svc({ ...basic, ipFamilies: ['IPv6'], ipFamilyPolicy: 'SingleStack' });
    const out = validateServiceUpdate(next, dual).map(formatFieldError);
    expect(out).toContain(
      'spec.ipFamilies[0]: Invalid value: []core.IPFamily{"IPv6"}: primary ipFamily can not be unset',
    );
    expect(out).toContain('spec.ipFamilies[0]: Invalid value: []string(nil): may not change once set');
  });
  it('metadata name is immutable; healthCheckNodePort too', () => {
    const a = svc({
      type: 'LoadBalancer',
      externalTrafficPolicy: 'Local',
      healthCheckNodePort: 31000,
      ports: [{ port: 80 }],
    });
    const b = svc(
      {
        type: 'LoadBalancer',
        externalTrafficPolicy: 'Local',
        healthCheckNodePort: 31001,
        ports: [{ port: 80 }],
      },
      'other',
    );
    expect(validateServiceUpdate(b, a).map(formatFieldError)).toEqual([
      'metadata.name: Invalid value: "other": field is immutable',
      'spec.healthCheckNodePort: Forbidden: field is immutable',
    ]);
  });
});

describe('validateServiceStatusUpdate (ValidateLoadBalancerStatus)', () => {
  const lb = svc({ type: 'LoadBalancer', ports: [{ port: 80 }] });
  const withIngress = (s: Service, ingress: object[]): Service =>
    ({ ...s, status: { loadBalancer: { ingress } } }) as Service;
  it('ingress is forbidden unless the type is LoadBalancer', () => {
    const c = svc(basic);
    expect(
      validateServiceStatusUpdate(withIngress(c, [{ ip: '192.0.2.1', ipMode: 'VIP' }]), c).map(
        formatFieldError,
      ),
    ).toEqual([
      "status.loadBalancer.ingress: Forbidden: may only be used when `spec.type` is 'LoadBalancer'",
    ]);
  });
  it('checks ip, ipMode and hostname per entry', () => {
    const next = withIngress(lb, [
      { ip: '192.0.2.300', ipMode: 'VIP' },
      { ip: '192.0.2.1' },
      { hostname: 'lb.example.com', ipMode: 'VIP' },
      { ip: '192.0.2.2', ipMode: 'Tunnel' },
      { hostname: '192.0.2.3' },
    ]);
    expect(validateServiceStatusUpdate(next, lb).map(formatFieldError)).toEqual([
      'status.loadBalancer.ingress[0].ip: Invalid value: "192.0.2.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
      'status.loadBalancer.ingress[1].ipMode: Required value: must be specified when `ip` is set',
      'status.loadBalancer.ingress[2].ipMode: Forbidden: may not be specified when `ip` is not set',
      'status.loadBalancer.ingress[3].ipMode: Unsupported value: "Tunnel": supported values: "Proxy", "VIP"',
      'status.loadBalancer.ingress[4].hostname: Invalid value: "192.0.2.3": must be a DNS name, not an IP address',
    ]);
  });
  it('a well-formed status passes', () => {
    expect(validateServiceStatusUpdate(withIngress(lb, [{ ip: '192.0.2.1', ipMode: 'Proxy' }]), lb)).toEqual(
      [],
    );
  });
});

describe("prepareServiceUpdate (the update strategy's dropTypeDependentFields)", () => {
  const nodePortSvc = svc({
    type: 'NodePort',
    clusterIP: '10.0.0.10',
    clusterIPs: ['10.0.0.10'],
    ports: [
      { name: 'a', port: 80, nodePort: 30080 },
      { name: 'b', port: 81, nodePort: 30081 },
    ],
  });
  it('NodePort → ClusterIP drops node ports when none is new, even with the port list edited', () => {
    const next = svc({
      type: 'ClusterIP',
      clusterIP: '10.0.0.10',
      clusterIPs: ['10.0.0.10'],
      ports: [{ name: 'b', port: 81, nodePort: 30081 }],
    });
    expect(prepareServiceUpdate(next, nodePortSvc).spec.ports).toEqual([{ name: 'b', port: 81 }]);
    expect(validateServiceUpdate(next, nodePortSvc)).toEqual([]);
  });
  it('a node port that is new is kept, so validation reports it', () => {
    const next = svc({
      type: 'ClusterIP',
      clusterIP: '10.0.0.10',
      clusterIPs: ['10.0.0.10'],
      ports: [{ name: 'a', port: 80, nodePort: 30999 }],
    });
    expect(validateServiceUpdate(next, nodePortSvc).map(formatFieldError)).toEqual([
      "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
    ]);
  });
  it('turning allocateLoadBalancerNodePorts off keeps the node ports a LoadBalancer has', () => {
    const lb = svc({
      type: 'LoadBalancer',
      ports: [{ port: 80, nodePort: 30080 }],
      allocateLoadBalancerNodePorts: true,
    });
    const next = svc({
      type: 'LoadBalancer',
      ports: [{ port: 80, nodePort: 30080 }],
      allocateLoadBalancerNodePorts: false,
    });
    expect(prepareServiceUpdate(next, lb).spec.ports).toEqual([{ port: 80, nodePort: 30080 }]);
  });
  it('leaving LoadBalancer empties the load-balancer status', () => {
    const lb = {
      ...svc({ type: 'LoadBalancer', ports: [{ port: 80 }] }),
      status: { loadBalancer: { ingress: [{ ip: '192.0.2.1' }] } },
    } as Service;
    const next = { ...lb, spec: { type: 'ClusterIP', ports: [{ port: 80 }] } } as Service;
    expect(prepareServiceUpdate(next, lb).status).toEqual({ loadBalancer: {} });
  });
  it('a service that is not a LoadBalancer never keeps load-balancer status, whatever it was before', () => {
    const np = {
      ...svc({ type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }),
      status: { loadBalancer: { ingress: [{ ip: '192.0.2.1' }] } },
    } as Service;
    const next = { ...np, spec: { type: 'ClusterIP', ports: [{ port: 80 }] } } as Service;
    expect(prepareServiceUpdate(next, np).status).toEqual({ loadBalancer: {} });
    const stays = { ...np, spec: { ...np.spec } } as Service;
    expect(prepareServiceUpdate(stays, np).status).toEqual({ loadBalancer: {} });
    const lb = { ...np, spec: { ...np.spec, type: 'LoadBalancer' } } as Service;
    expect(prepareServiceUpdate(lb, lb).status).toEqual(np.status);
  });
});
