import { describe, expect, it } from 'vitest';
import { formatFieldError } from '../../src/core/errors';
import type { Service, ServiceSpec } from '../../src/core/types';
import { initServiceIPFamilies } from '../../src/validation';

const svc = (spec: ServiceSpec): Service => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 's', namespace: 'default' },
  spec: { type: 'ClusterIP', selector: { app: 'a' }, ...spec },
});
const fields = (r: ReturnType<typeof initServiceIPFamilies>) => ({
  policy: r.service.spec.ipFamilyPolicy,
  families: r.service.spec.ipFamilies,
  errors: r.errors.map(formatFieldError),
});

describe('initServiceIPFamilies', () => {
  it('single-stack cluster', () => {
    expect(fields(initServiceIPFamilies(svc({}), ['IPv4']))).toEqual({
      policy: 'SingleStack',
      families: ['IPv4'],
      errors: [],
    });
    expect(fields(initServiceIPFamilies(svc({ ipFamilyPolicy: 'PreferDualStack' }), ['IPv4']))).toEqual({
      policy: 'PreferDualStack',
      families: ['IPv4'],
      errors: [],
    });
    expect(
      fields(initServiceIPFamilies(svc({ ipFamilyPolicy: 'RequireDualStack' }), ['IPv4'])).errors,
    ).toEqual([
      'spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is not configured for dual-stack services',
    ]);
    expect(fields(initServiceIPFamilies(svc({ ipFamilies: ['IPv6'] }), ['IPv4'])).errors).toEqual([
      'spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster',
    ]);
    expect(
      fields(initServiceIPFamilies(svc({ clusterIP: 'fd00::1', clusterIPs: ['fd00::1'] }), ['IPv4'])).errors,
    ).toEqual([
      'spec.clusterIPs[0]: Invalid value: []string{"fd00::1"}: IPv6 is not configured on this cluster',
    ]);
  });
  it('dual-stack cluster', () => {
    expect(
      fields(initServiceIPFamilies(svc({ ipFamilyPolicy: 'PreferDualStack' }), ['IPv6', 'IPv4'])),
    ).toEqual({
      policy: 'PreferDualStack',
      families: ['IPv6', 'IPv4'],
      errors: [],
    });
    expect(
      fields(initServiceIPFamilies(svc({ clusterIP: 'fd00::1', clusterIPs: ['fd00::1'] }), ['IPv4', 'IPv6'])),
    ).toEqual({
      policy: 'SingleStack',
      families: ['IPv6'],
      errors: [],
    });
    expect(
      fields(initServiceIPFamilies(svc({ ipFamilies: ['IPv4', 'IPv6'] }), ['IPv4', 'IPv6'])).errors,
    ).toEqual([
      "spec.ipFamilyPolicy: Invalid value: \"SingleStack\": must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified",
    ]);
  });
  it('headless without selector defaults to dual families', () => {
    const r = initServiceIPFamilies(svc({ clusterIP: 'None', clusterIPs: ['None'], selector: {} }), ['IPv4']);
    expect(fields(r)).toEqual({ policy: 'RequireDualStack', families: ['IPv4', 'IPv6'], errors: [] });
  });
  it('update keeps the stored policy and leaves PreferDualStack alone', () => {
    const prev = svc({
      ipFamilyPolicy: 'PreferDualStack',
      ipFamilies: ['IPv4'],
      clusterIP: '10.0.0.1',
      clusterIPs: ['10.0.0.1'],
    });
    const next = svc({ ipFamilies: ['IPv4'], clusterIP: '10.0.0.1', clusterIPs: ['10.0.0.1'] });
    expect(fields(initServiceIPFamilies(next, ['IPv4', 'IPv6'], prev))).toEqual({
      policy: 'PreferDualStack',
      families: ['IPv4', 'IPv6'],
      errors: [],
    });
    expect(fields(initServiceIPFamilies(prev, ['IPv4', 'IPv6'], prev)).families).toEqual(['IPv4']);
  });
  it('ExternalName is untouched; input never mutated', () => {
    const e = svc({ type: 'ExternalName', externalName: 'x.y' });
    expect(initServiceIPFamilies(e, ['IPv4']).service.spec.ipFamilies).toBeUndefined();
    const s = svc({});
    initServiceIPFamilies(s, ['IPv4']);
    expect(s.spec.ipFamilyPolicy).toBeUndefined();
  });
});
