import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatFieldError } from '../../src/core/errors';
import type { Service } from '../../src/core/types';
import { parseManifests } from '../../src/manifest';
import { validateObject, validateServiceStatusUpdate } from '../../src/validation';

// What `kubectl get svc,endpoints,endpointslices,pods -n store -o yaml` prints: a List of mixed
// kinds with managedFields, finalizers, `creationTimestamp: null`, status blocks, and a
// selector-less Service with hand-made legacy Endpoints.
const DUMP = readFileSync('test/fixtures/manifests/kubectl-dump.yaml', 'utf8');

describe('a kubectl get -o yaml dump', () => {
  it('loads every item; the selector-less Endpoints are mirrored to a slice', () => {
    const objects = parseManifests(DUMP, 'kubectl-dump.yaml');
    expect(objects.map((o) => `${o.kind}/${o.metadata.name ?? ''}`)).toEqual([
      'Service/shop',
      'Service/legacy-db',
      expect.stringMatching(/^EndpointSlice\/legacy-db-[a-z0-9]{5}$/),
      'EndpointSlice/shop-7xk2p',
      'Pod/shop-5d8f7c9b6-x2k4q',
    ]);
    const legacy = objects[1] as Service;
    // `creationTimestamp: null` is Go's zero time: the field is absent, not an error
    expect(legacy.metadata.creationTimestamp).toBeUndefined();
  });

  it('is valid as the API server sees it, Endpoints included', () => {
    for (const mode of ['mirror', 'keep'] as const) {
      const objects = parseManifests(DUMP, 'kubectl-dump.yaml', { endpoints: mode });
      for (const o of objects)
        expect([o.kind, validateObject(o).map(formatFieldError)]).toEqual([o.kind, []]);
    }
  });

  it('its LoadBalancer status passes the status validation', () => {
    const shop = parseManifests(DUMP, 'kubectl-dump.yaml')[0] as Service;
    expect(validateServiceStatusUpdate(shop, shop)).toEqual([]);
  });
});
