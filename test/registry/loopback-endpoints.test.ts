import { describe, expect, it } from 'vitest';
import { isStatusError } from '../../src/core/errors';
import type { EndpointSlice } from '../../src/core/types';
import { Registry } from '../../src/registry';

const slice: EndpointSlice = {
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name: 'web-local', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web' } },
  addressType: 'IPv4',
  endpoints: [{ addresses: ['127.0.0.21'] }],
  ports: [{ port: 8080 }],
};

describe('loopback endpoint addresses', () => {
  it('are refused with the API server message by default', async () => {
    const registry = await Registry.open();
    try {
      const err = await registry.create(slice).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isStatusError(err, 'Invalid')).toBe(true);
      expect(String((err as Error).message)).toContain(
        'endpoints[0].addresses[0]: Invalid value: "127.0.0.21": may not be in the loopback range (127.0.0.0/8, ::1/128)',
      );
    } finally {
      await registry.close();
    }
  });

  it('are accepted with allowLoopbackEndpoints, and other checks still apply', async () => {
    const registry = await Registry.open({ allowLoopbackEndpoints: true });
    try {
      await registry.create(slice);
      expect((await registry.get('EndpointSlice', 'default', 'web-local'))?.endpoints[0]?.addresses).toEqual([
        '127.0.0.21',
      ]);
      await expect(
        registry.create({
          ...slice,
          metadata: { ...slice.metadata, name: 'web-bad' },
          endpoints: [{ addresses: ['0.0.0.0'] }],
        }),
      ).rejects.toThrow(/may not be unspecified/);
    } finally {
      await registry.close();
    }
  });
});
