/**
 * EtcdStore behaviour beyond the Store contract, against a real etcd: paged lists, prefixes,
 * foreign values, watch resumption across a dropped connection, and etcd re-created empty.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreCompactedError, type StoreEvent } from '../../src/registry/store';
import { EtcdHistoryLostError, EtcdStore, EtcdUnavailableError } from '../../src/stores/etcd';
import { FakeClock } from '../../src/testing/fake-clock';
import { EtcdTestServer, etcdSkipReason, freePort } from '../helpers/etcd-server';
import { TcpProxy } from './fixtures/tcp-proxy';

if (etcdSkipReason) console.warn(etcdSkipReason);

async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.skipIf(etcdSkipReason !== undefined)('EtcdStore specifics', () => {
  let server: EtcdTestServer;
  beforeAll(async () => {
    server = await EtcdTestServer.start();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('lists more keys than one page, in key order, at one revision', async () => {
    const store = new EtcdStore({ endpoints: [server.endpoint], prefix: '/paged' });
    try {
      for (let batch = 0; batch < 12; batch++)
        await store.commit(
          Array.from({ length: 100 }, (_, i) => ({
            type: 'create' as const,
            key: `/k/${String(batch * 100 + i).padStart(5, '0')}`,
            value: batch * 100 + i,
          })),
        );
      const rev = await store.revision();
      const { entries, revision } = await store.list('/k/');
      expect(revision).toBe(rev);
      expect(entries).toHaveLength(1200);
      expect(entries.map((e) => e.value)).toEqual(Array.from({ length: 1200 }, (_, i) => i));
    } finally {
      await store.close();
    }
  });

  it('keeps registries under different prefixes apart, and reads foreign values as text', async () => {
    const a = new EtcdStore({ endpoints: [server.endpoint], prefix: '/tenant-a' });
    const b = new EtcdStore({ endpoints: [server.endpoint], prefix: '/tenant-b/' });
    const raw = new EtcdStore({ endpoints: [server.endpoint] });
    try {
      await a.commit([{ type: 'create', key: '/registry/x', value: 'a' }]);
      await b.commit([{ type: 'create', key: '/registry/x', value: 'b' }]);
      expect((await a.list('/registry/')).entries.map((e) => e.value)).toEqual(['a']);
      expect((await b.get('/registry/x'))?.value).toBe('b');
      expect((await raw.get('/tenant-a/registry/x'))?.value).toBe('a');
      // Something else wrote a non-JSON value: it is handed out as its text, not an exception.
      const { Etcd3 } = await import('etcd3');
      const client = new Etcd3({ hosts: server.endpoint });
      await client.put('/tenant-a/registry/y').value('not json');
      client.close();
      expect((await a.get('/registry/y'))?.value).toBe('not json');
    } finally {
      await a.close();
      await b.close();
      await raw.close();
    }
  });

  it('resumes a watch after the connection drops, without loss or repeats', async () => {
    const proxy = await TcpProxy.start(server.clientPort);
    const states: string[] = [];
    const watched = new EtcdStore({
      endpoints: [proxy.endpoint],
      prefix: '/resume',
      onStateChange: (s) => states.push(s),
    });
    const writer = new EtcdStore({ endpoints: [server.endpoint], prefix: '/resume' });
    const events: StoreEvent[] = [];
    const errors: Error[] = [];
    try {
      const start = await writer.revision();
      const w = watched.watch('/', start, {
        onEvents: (e) => events.push(...e),
        onError: (e) => errors.push(e),
      });
      for (let i = 0; i < 10; i++) await writer.commit([{ type: 'create', key: `/k${i}`, value: i }]);
      await until(() => events.length === 10);
      proxy.partition();
      for (let i = 10; i < 30; i++) await writer.commit([{ type: 'create', key: `/k${i}`, value: i }]);
      await new Promise((r) => setTimeout(r, 300));
      proxy.restore();
      await until(() => events.length >= 30, 15_000);
      await new Promise((r) => setTimeout(r, 200));
      expect(errors).toEqual([]);
      expect(events.map((e) => e.value)).toEqual(Array.from({ length: 30 }, (_, i) => i));
      expect(states).toContain('unavailable');
      expect(states[states.length - 1]).toBe('ready');
      w.cancel();
    } finally {
      await watched.close();
      await writer.close();
      await proxy.close();
    }
  }, 30_000);

  it('reports etcd re-created empty as lost history, so that watchers relist', async () => {
    const store = new EtcdStore({ endpoints: [server.endpoint], prefix: '/wiped' });
    const errors: Error[] = [];
    try {
      for (let i = 0; i < 5; i++) await store.commit([{ type: 'create', key: `/k${i}`, value: i }]);
      store.watch('/', await store.revision(), { onEvents: () => {}, onError: (e) => errors.push(e) });
      await server.wipe();
      await until(() => errors.length > 0, 15_000);
      expect(errors[0]).toBeInstanceOf(EtcdHistoryLostError);
      expect(errors[0]).toBeInstanceOf(StoreCompactedError);
      expect((await store.list('/')).entries).toEqual([]);
    } finally {
      await store.close();
    }
  }, 30_000);
});

describe('EtcdStore retry budget', () => {
  it('retries on the injected clock and gives up after requestTimeoutMs, naming the endpoint', async () => {
    const port = await freePort();
    const clock = new FakeClock();
    const states: string[] = [];
    const store = new EtcdStore({
      endpoints: [`127.0.0.1:${port}`],
      requestTimeoutMs: 60_000,
      clock,
      onStateChange: (s) => states.push(s),
    });
    try {
      let outcome: unknown;
      const pending = store.get('/x').then(
        () => {
          outcome = 'resolved';
        },
        (e: unknown) => {
          outcome = e;
        },
      );
      // A minute of backoff passes on the fake clock in far less real time.
      const realStart = Date.now();
      while (outcome === undefined && Date.now() - realStart < 20_000) {
        await new Promise((r) => setTimeout(r, 5));
        clock.advance(500);
      }
      await pending;
      expect(outcome).toBeInstanceOf(EtcdUnavailableError);
      expect((outcome as Error).message).toContain(`etcd store: get: etcd at http://127.0.0.1:${port}`);
      expect(clock.now()).toBeGreaterThanOrEqual(58_000);
      expect(states).toEqual(['unavailable']);
    } finally {
      await store.close();
    }
  }, 30_000);
});
