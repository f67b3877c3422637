import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { EndpointSlice, Pod, Service } from '../../src/core/types';
import { parseManifests } from '../../src/manifest';

const DUMP = 'test/fixtures/kubectl/cluster-dump.yaml';

describe('a `kubectl get svc,endpointslices,pods -A -o yaml` dump', () => {
  const objects = parseManifests(readFileSync(DUMP, 'utf8'), DUMP);

  it('loads every item in order', () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`)).toEqual([
      'Service/default/kubernetes',
      'Service/shop/web',
      'Service/shop/redis',
      'EndpointSlice/shop/web-hk7tq',
      'Pod/shop/web-7d9f8b6c5-x2x4q',
      'Pod/shop/web-7d9f8b6c5-k8m2p',
      'Pod/shop/redis-0',
    ]);
  });

  it('keeps the fields routing reads, typed', () => {
    const web = objects[1] as Service;
    expect(web.spec).toMatchObject({
      clusterIP: '10.96.140.12',
      clusterIPs: ['10.96.140.12'],
      ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 'http' }],
    });
    expect({ ...web.spec.selector }).toEqual({ app: 'web' });
    const slice = objects[3] as EndpointSlice;
    expect(slice.endpoints.map((e) => [e.addresses[0], e.conditions?.ready, e.nodeName, e.zone])).toEqual([
      ['10.244.1.5', true, 'node-a', 'zone-a'],
      ['10.244.2.7', true, 'node-b', 'zone-b'],
    ]);
    const pod = objects[4] as Pod;
    expect(pod.status?.podIPs).toEqual([{ ip: '10.244.1.5' }]);
    expect(pod.spec.containers[0]?.ports).toEqual([{ containerPort: 8080, name: 'http', protocol: 'TCP' }]);
  });

  it('carries the noise through untouched (managedFields, last-applied, status details)', () => {
    const web = objects[1] as Service & { metadata: { managedFields: unknown[] } };
    expect(web.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration']).toMatch(
      /^\{"apiVersion":"v1".*\}\n$/,
    );
    expect(web.metadata.managedFields[0]).toMatchObject({
      manager: 'kubectl-client-side-apply',
      fieldsV1: { 'f:spec': { 'f:ports': { '.': {}, 'k:{"port":80,"protocol":"TCP"}': { 'f:port': {} } } } },
    });
    const pod = objects[4] as Pod & {
      status: { containerStatuses: { restartCount: number }[]; qosClass: string };
    };
    expect(pod.status.qosClass).toBe('BestEffort');
    expect(pod.status.containerStatuses[0]?.restartCount).toBe(0);
  });
});
