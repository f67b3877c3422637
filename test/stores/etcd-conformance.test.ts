import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdStore } from '../../src/stores/etcd';
import { storeConformance } from '../../src/testing/store-conformance';
import { EtcdTestServer, etcdSkipReason } from '../helpers/etcd-server';

if (etcdSkipReason) console.warn(etcdSkipReason);

describe.skipIf(etcdSkipReason !== undefined)('EtcdStore against a real etcd', () => {
  let server: EtcdTestServer | undefined;
  beforeAll(async () => {
    server = await EtcdTestServer.start();
  });
  afterAll(async () => {
    await server?.stop();
  });

  storeConformance(
    'EtcdStore',
    async () => {
      const store = new EtcdStore({ endpoints: [(server as EtcdTestServer).endpoint], prefix: '/conf' });
      return { store, compact: (revision: number) => store.compact(revision), close: () => store.close() };
    },
    { describe, it, expect },
  );
});
