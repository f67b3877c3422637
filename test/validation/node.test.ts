import { describe, expect, it } from 'vitest';
import { formatFieldError } from '../../src/core/errors';
import type { Node } from '../../src/core/types';
import { validateNode, validateObject } from '../../src/validation';

const node = (spec: Node['spec'] & object, name = 'kind-worker'): Node => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name },
  spec,
});
const msgs = (n: Node) => validateNode(n).map(formatFieldError);

describe('validateNode (ValidateNode: metadata and pod CIDRs)', () => {
  it('accepts single- and dual-stack pod CIDRs, and the v1 podCIDR alone', () => {
    expect(msgs(node({ podCIDR: '10.244.1.0/24' }))).toEqual([]);
    expect(msgs(node({ podCIDRs: ['10.244.1.0/24', 'fd00:10:244:1::/64'] }))).toEqual([]);
    expect(validateObject(node({}))).toEqual([]);
  });
  it('golden messages', () => {
    expect(msgs(node({ podCIDR: '10.244.1.0/33' }))).toEqual([
      'spec.podCIDRs[0]: Invalid value: "10.244.1.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
    ]);
    expect(msgs(node({ podCIDRs: ['10.244.1.0/24', '10.244.1.0/24'] }))).toEqual([
      'spec.podCIDRs: Invalid value: []string{"10.244.1.0/24", "10.244.1.0/24"}: may specify no more than one CIDR for each IP family',
      'spec.podCIDRs[1]: Duplicate value: "10.244.1.0/24"',
    ]);
    expect(msgs(node({}, 'Worker_1'))[0]).toMatch(
      /^metadata\.name: Invalid value: "Worker_1": a lowercase RFC 1123 subdomain/,
    );
  });
  it('a namespace is forbidden on a cluster-scoped Node', () => {
    const n = node({});
    n.metadata.namespace = 'default';
    expect(msgs(n)).toEqual(['metadata.namespace: Forbidden: not allowed on this type']);
  });
});
