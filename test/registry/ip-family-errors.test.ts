import { describe, expect, it } from 'vitest';
import { formatFieldError, isStatusError } from '../../src/core/errors';
import { SeededRng } from '../../src/core/random';
import type { ServiceSpec } from '../../src/core/types';
import { Registry } from '../../src/registry';
import { FakeClock } from '../../src/testing/fake-clock';
import { svc } from './helpers';

type Options = ConstructorParameters<typeof Registry>[0];

/** The field errors the API server's allocation step answers a create with (empty when created). */
async function createErrors(spec: ServiceSpec, opts: Options = {}): Promise<string[]> {
  const r = await Registry.open({ rng: new SeededRng(1), clock: new FakeClock(), ...opts });
  try {
    await r.create(svc('web', spec));
    return [];
  } catch (e) {
    if (!isStatusError(e)) throw e;
    return e.causes.map(formatFieldError);
  } finally {
    await r.close();
  }
}

const V4 = { serviceClusterIPRanges: ['10.96.0.0/12'] };
const DUAL = { serviceClusterIPRanges: ['10.96.0.0/12', 'fd00::/108'] };
const ASIS = { allocationMode: 'as-is' as const };
const port = { ports: [{ port: 80 }] };

// The REST layer's initIPFamilyFields, which runs before validation and allocation.
describe('create: IP family errors as the API server words them', () => {
  const cases: [string, ServiceSpec, Options, string[]][] = [
    [
      'SingleStack with two cluster IPs (dual-stack cluster)',
      {
        ...port,
        ipFamilyPolicy: 'SingleStack',
        clusterIP: '10.96.0.10',
        clusterIPs: ['10.96.0.10', 'fd00::10'],
      },
      DUAL,
      [
        "spec.ipFamilyPolicy: Invalid value: \"SingleStack\": must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified",
      ],
    ],
    [
      'SingleStack with two families',
      { ...port, ipFamilyPolicy: 'SingleStack', ipFamilies: ['IPv4', 'IPv6'] },
      DUAL,
      [
        "spec.ipFamilyPolicy: Invalid value: \"SingleStack\": must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified",
      ],
    ],
    [
      'an IPv6 clusterIP on an IPv4-only cluster names the clusterIPs entry',
      { ...port, clusterIP: 'fd00::5' },
      V4,
      ['spec.clusterIPs[0]: Invalid value: []string{"fd00::5"}: IPv6 is not configured on this cluster'],
    ],
    [
      'both at once (single-stack cluster)',
      {
        ...port,
        ipFamilyPolicy: 'SingleStack',
        clusterIP: '10.96.0.10',
        clusterIPs: ['10.96.0.10', 'fd00::10'],
      },
      V4,
      [
        "spec.ipFamilyPolicy: Invalid value: \"SingleStack\": must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified",
        'spec.clusterIPs[1]: Invalid value: []string{"10.96.0.10", "fd00::10"}: IPv6 is not configured on this cluster',
      ],
    ],
    [
      'as-is mode: an unconfigured family without an address to take',
      { ...port, ipFamilies: ['IPv6'] },
      ASIS,
      ['spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster'],
    ],
    [
      'as-is mode: SingleStack with two cluster IPs is still refused',
      {
        ...port,
        ipFamilyPolicy: 'SingleStack',
        clusterIP: '10.96.0.10',
        clusterIPs: ['10.96.0.10', 'fd00::10'],
      },
      ASIS,
      [
        "spec.ipFamilyPolicy: Invalid value: \"SingleStack\": must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified",
      ],
    ],
    [
      'as-is mode: a dual-stack dump is taken as it is',
      {
        ...port,
        ipFamilyPolicy: 'RequireDualStack',
        ipFamilies: ['IPv4', 'IPv6'],
        clusterIP: '10.96.0.10',
        clusterIPs: ['10.96.0.10', 'fd00::10'],
      },
      ASIS,
      [],
    ],
  ];
  for (const [name, spec, opts, want] of cases)
    it(name, async () => expect(await createErrors(spec, opts)).toEqual(want));
});
