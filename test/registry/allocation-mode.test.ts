import { describe, expect, it } from 'vitest';
import { formatFieldError, isStatusError } from '../../src/core/errors';
import { SeededRng } from '../../src/core/random';
import type { Service, ServiceSpec } from '../../src/core/types';
import { Registry, type RegistryOptions } from '../../src/registry';
import { allocationModes } from '../../src/registry/service-allocation';
import { FakeClock } from '../../src/testing/fake-clock';
import { svc } from './helpers';

type Outcome = { created: Service } | { reason: string; message: string; causes: string[] };

/** Creates `specs` in order in a fresh registry; the outcome of the last one. */
async function createLast(opts: RegistryOptions, ...specs: ServiceSpec[]): Promise<Outcome> {
  const r = await Registry.open({ rng: new SeededRng(1), clock: new FakeClock(), ...opts });
  try {
    let created: Service | undefined;
    for (const [i, spec] of specs.entries()) created = await r.create(svc(`s${i}`, spec));
    return { created: created as Service };
  } catch (e) {
    if (!isStatusError(e)) throw e;
    return { reason: e.reason, message: e.message, causes: e.causes.map(formatFieldError) };
  } finally {
    await r.close();
  }
}

const PORTS = { serviceNodePortRange: '30000-30100' };
const NODE_PORTS_ONLY = { allocationMode: { clusterIPs: 'as-is', nodePorts: 'strict' } } as const;
const CLUSTER_IPS_ONLY = { allocationMode: { clusterIPs: 'strict', nodePorts: 'as-is' } } as const;

/** A NodePort service as a dump of a cluster with other ranges holds it. */
function dumped(clusterIP: string, nodePort: number): ServiceSpec {
  return { type: 'NodePort', clusterIP, ports: [{ port: 80, nodePort }] };
}

describe('allocationMode per kind of value', () => {
  it('nodePorts strict, clusterIPs as-is: only the node port is checked', async () => {
    const refused = await createLast({ ...PORTS, ...NODE_PORTS_ONLY }, dumped('172.20.0.10', 30500));
    expect(refused).toEqual({
      reason: 'Invalid',
      message: expect.any(String),
      causes: [
        'spec.ports[0].nodePort: Invalid value: 30500: provided port is not in the valid range. The range of valid ports is 30000-30100',
      ],
    });
    const ok = await createLast({ ...PORTS, ...NODE_PORTS_ONLY }, dumped('172.20.0.10', 30050));
    expect(ok).toHaveProperty('created.spec.clusterIPs', ['172.20.0.10']);
    expect(ok).toHaveProperty('created.spec.ports', [expect.objectContaining({ nodePort: 30050 })]);
  });

  it('clusterIPs strict, nodePorts as-is: only the cluster IP is checked', async () => {
    const refused = await createLast(CLUSTER_IPS_ONLY, dumped('172.20.0.10', 30500));
    expect(refused).toHaveProperty('causes', [
      'spec.clusterIPs: Invalid value: []string{"172.20.0.10"}: failed to allocate IP 172.20.0.10: the provided network does not match the current range',
    ]);
    const ok = await createLast({ ...PORTS, ...CLUSTER_IPS_ONLY }, dumped('10.96.0.10', 30500));
    expect(ok).toHaveProperty('created.spec.clusterIPs', ['10.96.0.10']);
    expect(ok).toHaveProperty('created.spec.ports', [expect.objectContaining({ nodePort: 30500 })]);
  });

  it('the IP family checks follow clusterIPs', async () => {
    const v6: ServiceSpec = { type: 'ClusterIP', clusterIP: 'fd00::10', ports: [{ port: 80 }] };
    expect(await createLast(NODE_PORTS_ONLY, v6)).toHaveProperty('created.spec.ipFamilies', ['IPv6']);
    expect(await createLast(CLUSTER_IPS_ONLY, v6)).toHaveProperty('causes', [
      'spec.clusterIPs[0]: Invalid value: []string{"fd00::10"}: IPv6 is not configured on this cluster',
    ]);
  });

  it('the health check node port follows nodePorts', async () => {
    const lb: ServiceSpec = {
      type: 'LoadBalancer',
      externalTrafficPolicy: 'Local',
      healthCheckNodePort: 30500,
      ports: [{ port: 80, nodePort: 30050 }],
    };
    expect(await createLast({ ...PORTS, ...NODE_PORTS_ONLY }, lb)).toEqual({
      reason: 'InternalError',
      message:
        'Internal error occurred: failed to allocate requested HealthCheck NodePort 30500: provided port is not in the valid range. The range of valid ports is 30000-30100',
      causes: [],
    });
    expect(await createLast({ ...PORTS, ...CLUSTER_IPS_ONLY }, lb)).toHaveProperty(
      'created.spec.healthCheckNodePort',
      30500,
    );
  });

  it('missing values are still allocated from the ranges, and duplicates refused, in as-is', async () => {
    const fresh = await createLast(
      { ...PORTS, ...NODE_PORTS_ONLY },
      { type: 'NodePort', ports: [{ port: 80 }] },
    );
    expect(fresh).toHaveProperty(
      'created.spec.clusterIP',
      expect.stringMatching(/^10\.(9[6-9]|10\d|11[01])\./),
    );
    expect(fresh).toHaveProperty('created.spec.ports', [
      expect.objectContaining({ nodePort: expect.toSatisfy((p: number) => p >= 30000 && p <= 30100) }),
    ]);
    const twice = await createLast(
      NODE_PORTS_ONLY,
      dumped('172.20.0.10', 30050),
      dumped('172.20.0.10', 30051),
    );
    expect(twice).toHaveProperty('causes', [
      'spec.clusterIPs: Invalid value: []string{"172.20.0.10"}: failed to allocate IP 172.20.0.10: provided IP is already allocated',
    ]);
  });

  it('the string form means the same mode for both kinds', async () => {
    expect(allocationModes('as-is')).toEqual({ clusterIPs: 'as-is', nodePorts: 'as-is' });
    expect(allocationModes('strict')).toEqual({ clusterIPs: 'strict', nodePorts: 'strict' });
    const strict = await createLast({ ...PORTS, allocationMode: 'strict' }, dumped('10.96.0.10', 30500));
    const both = await createLast(
      { ...PORTS, allocationMode: { clusterIPs: 'strict', nodePorts: 'strict' } },
      dumped('10.96.0.10', 30500),
    );
    expect(both).toEqual(strict);
    expect(strict).toHaveProperty('causes', [
      expect.stringContaining('spec.ports[0].nodePort: Invalid value: 30500'),
    ]);
  });

  it('keeps a copy of the object form and refuses unknown modes', async () => {
    const mode = { clusterIPs: 'as-is' as const, nodePorts: 'strict' as const };
    const r = new Registry({ allocationMode: mode });
    try {
      expect(r.allocationMode).toEqual(mode);
      expect(r.allocationMode).not.toBe(mode);
      expect(Object.isFrozen(r.allocationMode)).toBe(true);
    } finally {
      await r.close();
    }
    expect(() => new Registry({ allocationMode: 'lenient' as never })).toThrow(TypeError);
    expect(() => new Registry({ allocationMode: { clusterIPs: 'strict' } as never })).toThrow(
      /invalid allocationMode/,
    );
  });
});
