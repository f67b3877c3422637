/**
 * EtcdStore over client TLS (with client certificates) and with etcd user authentication,
 * against a real etcd. Certificates are made with openssl for the test and removed afterwards.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoreEvent } from '../../src/registry/store';
import { EtcdStore, EtcdUnavailableError } from '../../src/stores/etcd';
import { EtcdTestServer, etcdSkipReason } from '../helpers/etcd-server';

const OPENSSL = '/usr/bin/openssl';
const skip =
  etcdSkipReason ?? (existsSync(OPENSSL) ? undefined : `etcd TLS tests skipped: ${OPENSSL} not found`);
if (skip) console.warn(skip);

function openssl(cwd: string, ...args: string[]): void {
  execFileSync(OPENSSL, args, { cwd, stdio: 'ignore' });
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, in `dir`. */
async function makeCertificates(dir: string): Promise<void> {
  openssl(
    dir,
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '1',
    '-subj',
    '/CN=svcroute-test-ca',
  );
  for (const [name, ext] of [
    ['server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n'],
    ['client', 'extendedKeyUsage=clientAuth\n'],
  ] as const) {
    await writeFile(join(dir, `${name}.ext`), ext);
    openssl(
      dir,
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=svcroute-${name}`,
    );
    openssl(
      dir,
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
    );
  }
}

async function roundTrip(store: EtcdStore): Promise<void> {
  const events: StoreEvent[] = [];
  const w = store.watch('/', await store.revision(), {
    onEvents: (e) => events.push(...e),
    onError: () => {},
  });
  const rev = await store.commit([{ type: 'create', key: '/k', value: { ok: true } }]);
  expect((await store.get('/k'))?.value).toEqual({ ok: true });
  const deadline = Date.now() + 5000;
  while (events.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(events.map((e) => e.modRevision)).toEqual([rev]);
  w.cancel();
}

describe.skipIf(skip !== undefined)('EtcdStore security options', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'svcroute-etcd-tls-'));
    await makeCertificates(dir);
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('talks TLS with a client certificate, and refuses clearly without one', async () => {
    const server = await EtcdTestServer.start({
      tls: {
        certFile: join(dir, 'server.crt'),
        keyFile: join(dir, 'server.key'),
        clientCAFile: join(dir, 'ca.crt'),
      },
    });
    const ca = await readFile(join(dir, 'ca.crt'));
    const store = new EtcdStore({
      endpoints: [server.endpoint],
      prefix: '/tls',
      tls: {
        ca,
        cert: await readFile(join(dir, 'client.crt')),
        key: await readFile(join(dir, 'client.key')),
      },
    });
    try {
      expect(server.endpoint).toMatch(/^https:/);
      await roundTrip(store);
      const err = await EtcdStore.connect({
        endpoints: [server.endpoint],
        tls: { ca },
        dialTimeoutMs: 1500,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EtcdUnavailableError);
      expect((err as Error).message).toContain(server.endpoint);
    } finally {
      await store.close();
      await server.stop();
    }
  }, 30_000);

  it('authenticates with etcd users, and reports a wrong password', async () => {
    const server = await EtcdTestServer.start();
    try {
      const admin = new Etcd3({ hosts: server.endpoint });
      await admin.user('root').create('s3cret');
      await admin.role('root').create();
      await admin.user('root').addRole('root');
      await admin.auth.authEnable();
      admin.close();
      const store = new EtcdStore({
        endpoints: [server.endpoint],
        prefix: '/auth',
        auth: { username: 'root', password: 's3cret' },
      });
      await roundTrip(store);
      await store.close();
      const wrong = await EtcdStore.connect({
        endpoints: [server.endpoint],
        auth: { username: 'root', password: 'nope' },
        dialTimeoutMs: 1500,
      }).catch((e: unknown) => e);
      expect((wrong as Error).message).toContain('authentication failed');
    } finally {
      await server.stop();
    }
  }, 30_000);
});
