import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatFieldError } from '../../src/core/errors';
import type { Service } from '../../src/core/types';
import { ManifestError, parseManifests } from '../../src/manifest';
import { validateObject, validateService, validateServiceUpdate } from '../../src/validation';

// Service-shaped documents whose fields take awkward but well-typed values: whatever the loader
// accepts must be validated without an exception, and the same input gives the same errors.
const str = fc.oneof(
  fc.constantFrom(
    '',
    'None',
    '10.0.0.1',
    'fd00::1',
    '::ffff:10.0.0.1',
    '010.0.0.1',
    'a b',
    'web',
    '-x',
    'Local',
  ),
  fc.string({ maxLength: 12 }),
);
const port = fc.record(
  {
    name: str,
    protocol: fc.constantFrom('TCP', 'UDP', 'SCTP', 'ICMP', ''),
    port: fc.integer({ min: -2, max: 70000 }),
    targetPort: fc.oneof(fc.integer({ min: -1, max: 70000 }), str),
    nodePort: fc.integer({ min: 0, max: 40000 }),
    appProtocol: str,
  },
  { requiredKeys: ['port'] },
);
const spec = fc.record(
  {
    type: fc.constantFrom('ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName', 'Foo', ''),
    ports: fc.array(port, { maxLength: 3 }),
    selector: fc.dictionary(str, str, { maxKeys: 2 }),
    clusterIP: str,
    clusterIPs: fc.array(str, { maxLength: 3 }),
    ipFamilies: fc.array(fc.constantFrom('IPv4', 'IPv6', 'IPv5'), { maxLength: 3 }),
    ipFamilyPolicy: fc.constantFrom('SingleStack', 'PreferDualStack', 'RequireDualStack', 'Dual'),
    externalName: str,
    externalIPs: fc.array(str, { maxLength: 2 }),
    sessionAffinity: fc.constantFrom('None', 'ClientIP', 'Sticky'),
    sessionAffinityConfig: fc.record({
      clientIP: fc.record({ timeoutSeconds: fc.integer({ min: -1, max: 90000 }) }, { requiredKeys: [] }),
    }),
    externalTrafficPolicy: fc.constantFrom('Cluster', 'Local', 'Global'),
    internalTrafficPolicy: fc.constantFrom('Cluster', 'Local', 'Global'),
    healthCheckNodePort: fc.integer({ min: -1, max: 70000 }),
    loadBalancerSourceRanges: fc.array(str, { maxLength: 2 }),
    loadBalancerClass: str,
    allocateLoadBalancerNodePorts: fc.boolean(),
    trafficDistribution: fc.constantFrom('PreferClose', 'PreferSameZone', 'PreferSameNode', 'Nearby'),
  },
  { requiredKeys: [] },
);
const service = fc.record({
  apiVersion: fc.constant('v1'),
  kind: fc.constant('Service'),
  metadata: fc.record(
    { name: str, namespace: str, labels: fc.dictionary(str, str, { maxKeys: 2 }) },
    {
      requiredKeys: [],
    },
  ),
  spec,
});

function load(doc: unknown): Service | undefined {
  try {
    return parseManifests(JSON.stringify(doc), 'prop.json')[0] as Service | undefined;
  } catch (e) {
    if (e instanceof ManifestError) return undefined;
    throw e;
  }
}

describe('validation never throws on what the loader accepts', () => {
  it('validateObject / validateService are total and deterministic', () => {
    let validated = 0;
    fc.assert(
      fc.property(service, (doc) => {
        const svc = load(doc);
        if (!svc) return;
        validated++;
        const a = validateObject(svc).map(formatFieldError);
        const b = validateService(svc).map(formatFieldError);
        expect(a).toEqual(b);
        for (const line of a) expect(line).toMatch(/^[A-Za-z]*[.[\]A-Za-z0-9/_-]*: /);
      }),
      { numRuns: 300 },
    );
    // the generator is meant to reach validation, not to be stopped by the loader
    expect(validated).toBeGreaterThan(100);
  });

  it('validateServiceUpdate is total for any pair of loaded services', () => {
    fc.assert(
      fc.property(service, service, (x, y) => {
        const next = load(x);
        const prev = load(y);
        if (!next || !prev) return;
        expect(Array.isArray(validateServiceUpdate(next, prev))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});
