/**
 * The registry on a real etcd: several processes writing at once, a watcher process, etcd killed
 * and restarted under load, a client partitioned away while history is compacted. etcd runs on
 * loopback ports with a temporary data directory; every child process is killed in afterAll.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { createSocket } from 'node:dgram';
import dnsPacket from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StatusError } from '../../src/core/errors';
import type { Service } from '../../src/core/types';
import { Registry } from '../../src/registry';
import { StoreConflictError, type StoreEvent } from '../../src/registry/store';
import { EtcdStore, EtcdUnavailableError } from '../../src/stores/etcd';
import { EtcdTestServer, etcdSkipReason, freePort } from '../helpers/etcd-server';
import { type BuiltWorker, buildWorker } from '../stores/fixtures/build-worker';
import { TcpProxy } from '../stores/fixtures/tcp-proxy';

if (etcdSkipReason) console.warn(etcdSkipReason);

interface WorkerHandle {
  readonly child: ChildProcess;
  /** The worker's `ready` message. */
  readonly ready: Promise<Record<string, unknown>>;
  next<T>(type: string): Promise<T>;
}

interface CreateResult {
  created: string[];
  failures: string[];
  retries: number;
  times: number[];
}

interface WatchResult {
  events: { key: string; type: string; modRevision: number; created: boolean }[];
  added: string[];
  errors: string[];
  last: number;
}

const children = new Set<ChildProcess>();

function svc(name: string, port = 80): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'default' },
    spec: { type: 'NodePort', selector: { app: name }, ports: [{ port, protocol: 'TCP' }] },
  };
}

describe.skipIf(etcdSkipReason !== undefined)('registry on a real etcd', () => {
  let server: EtcdTestServer;
  let worker: BuiltWorker | undefined;

  beforeAll(async () => {
    server = await EtcdTestServer.start();
    worker = await buildWorker('test/stores/fixtures/registry-worker.ts');
  });

  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await server?.stop();
    await worker?.remove();
  });

  function spawnWorker(config: Record<string, unknown>): WorkerHandle {
    const child = fork((worker as BuiltWorker).file, [], {
      env: { ...process.env, SVCROUTE_WORKER: JSON.stringify(config) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    children.add(child);
    child.on('exit', () => children.delete(child));
    const inbox: { type: string }[] = [];
    const waiting: { type: string; resolve: (m: unknown) => void; reject: (e: Error) => void }[] = [];
    child.on('message', (m) => {
      const msg = m as { type: string };
      const i = waiting.findIndex((w) => w.type === msg.type);
      if (i >= 0) waiting.splice(i, 1)[0]?.resolve(msg);
      else inbox.push(msg);
    });
    child.on('exit', (code) => {
      for (const w of waiting.splice(0))
        w.reject(new Error(`worker ${String(config['id'])} exited with ${code}`));
    });
    const next = <T>(type: string) =>
      new Promise<T>((resolve, reject) => {
        const i = inbox.findIndex((m) => m.type === type);
        if (i >= 0) resolve(inbox.splice(i, 1)[0] as T);
        else if (child.exitCode !== null) reject(new Error(`worker ${String(config['id'])} already exited`));
        else waiting.push({ type, resolve: (m) => resolve(m as T), reject });
      });
    return { child, ready: next<Record<string, unknown>>('ready'), next };
  }

  /** Every event under the prefix after `after`, as an in-process watch replays it from history. */
  async function replay(prefix: string, after: number, until: number): Promise<StoreEvent[]> {
    const store = new EtcdStore({ endpoints: [server.endpoint], prefix });
    const events: StoreEvent[] = [];
    try {
      await new Promise<void>((resolve, reject) => {
        if (until <= after) resolve();
        const w = store.watch('/registry/', after, {
          onEvents: (evs) => {
            events.push(...evs);
            if ((evs[evs.length - 1]?.modRevision ?? 0) >= until) {
              w.cancel();
              resolve();
            }
          },
          onError: reject,
        });
      });
    } finally {
      await store.close();
    }
    return events;
  }

  /** Runs `writers` creator processes and one watcher process on one prefix. */
  async function runLoad(
    prefix: string,
    writers: number,
    perWriter: number,
    during?: () => Promise<void>,
    load: { concurrency?: number; pauseMs?: number } = {},
  ): Promise<{ results: CreateResult[]; watched: WatchResult; start: number }> {
    const probe = new EtcdStore({ endpoints: [server.endpoint], prefix });
    const start = await probe.revision();
    await probe.close();
    const common = {
      endpoints: [server.endpoint],
      prefix,
      clusterIPRange: '10.96.0.0/24',
      nodePortRange: '30000-30299',
    };
    const watcher = spawnWorker({ ...common, mode: 'watch', id: 'watcher', after: start });
    const creators = Array.from({ length: writers }, (_, i) =>
      spawnWorker({ ...common, ...load, mode: 'create', id: `w${i}`, count: perWriter }),
    );
    await Promise.all([watcher.ready, ...creators.map((c) => c.ready)]);
    const done = creators.map((c) => c.next<CreateResult>('done'));
    for (const c of creators) c.child.send({ type: 'go' });
    if (during) await during();
    const results = await Promise.all(done);
    const check = new EtcdStore({ endpoints: [server.endpoint], prefix });
    const { entries } = await check.list('/registry/');
    await check.close();
    const until = Math.max(start, ...entries.map((e) => e.modRevision));
    const watchedP = watcher.next<WatchResult>('events');
    watcher.child.send({ type: 'stop', untilRevision: until });
    return { results, watched: await watchedP, start };
  }

  async function checkRegistry(prefix: string, expected: number): Promise<void> {
    const store = new EtcdStore({ endpoints: [server.endpoint], prefix });
    const registry = await Registry.open({ store, runControllers: false });
    try {
      const services = await registry.list('Service');
      expect(services).toHaveLength(expected);
      const ips = services.map((s) => s.spec.clusterIP);
      const ports = services.map((s) => s.spec.ports?.[0]?.nodePort);
      expect(new Set(ips).size).toBe(expected);
      expect(new Set(ports).size).toBe(expected);
      for (const ip of ips) expect(ip).toMatch(/^10\.96\.0\.\d+$/);
      // One reservation per allocated value, held by the service that carries it.
      const { entries } = await store.list('/registry/ipaddresses/');
      expect(entries).toHaveLength(expected);
      const ports2 = await store.list('/registry/servicenodeports/');
      expect(ports2.entries).toHaveLength(expected);
      for (const e of [...entries, ...ports2.entries]) {
        const r = e.value as { owner: { name: string } };
        const holder = services.find((s) => s.metadata.name === r.owner.name);
        expect(holder).toBeDefined();
      }
    } finally {
      await registry.close();
      await store.close();
    }
  }

  function checkWatched(watched: WatchResult, replayed: StoreEvent[], services: number): void {
    expect(watched.errors).toEqual([]);
    const seen = watched.events.map((e) => `${e.modRevision} ${e.type} ${e.key}`);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(replayed.map((e) => `${e.modRevision} ${e.type} ${e.key}`));
    const revs = watched.events.map((e) => e.modRevision);
    expect(revs).toEqual([...revs].sort((a, b) => a - b));
    expect(watched.added).toHaveLength(services);
    expect(new Set(watched.added).size).toBe(services);
  }

  it('two clients doing compare-and-swap on one key: one wins, one gets a conflict', async () => {
    const a = new EtcdStore({ endpoints: [server.endpoint], prefix: '/cas' });
    const b = new EtcdStore({ endpoints: [server.endpoint], prefix: '/cas' });
    try {
      const r = await a.commit([{ type: 'create', key: '/k', value: 0 }]);
      const [ra, rb] = await Promise.allSettled([
        a.commit([{ type: 'update', key: '/k', value: 'a', expectedModRevision: r }]),
        b.commit([{ type: 'update', key: '/k', value: 'b', expectedModRevision: r }]),
      ]);
      const outcomes = [ra, rb].map((x) => x.status);
      expect(outcomes.sort()).toEqual(['fulfilled', 'rejected']);
      const lost = [ra, rb].find((x) => x.status === 'rejected') as PromiseRejectedResult;
      expect(lost.reason).toBeInstanceOf(StoreConflictError);
      expect((lost.reason as StoreConflictError).reason).toBe('revision');

      // The same through two registries: a stale resourceVersion is a Kubernetes Conflict.
      const ra1 = await Registry.open({ store: a, runControllers: false });
      const rb1 = await Registry.open({ store: b, runControllers: false });
      const created = await ra1.create(svc('web'));
      await until(async () => (await rb1.get('Service', 'default', 'web')) !== undefined);
      await rb1.update({ ...svc('web', 81), metadata: { ...created.metadata } });
      const err = await ra1.update({ ...svc('web', 82), metadata: { ...created.metadata } }).catch((e) => e);
      expect(err).toBeInstanceOf(StatusError);
      expect((err as StatusError).reason).toBe('Conflict');
      expect((err as StatusError).message).toContain('the object has been modified');
      await ra1.close();
      await rb1.close();
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('four processes create services at once: no duplicate IP or port, every event seen once', async () => {
    const { results, watched, start } = await runLoad('/mp', 4, 25);
    for (const r of results) expect(r.failures).toEqual([]);
    expect(results.flatMap((r) => r.created)).toHaveLength(100);
    await checkRegistry('/mp', 100);
    const replayed = await replay('/mp', start, watched.last);
    // Each create is one transaction: the service and its IP and port reservations.
    expect(replayed).toHaveLength(300);
    checkWatched(watched, replayed, 100);
  }, 60_000);

  it('etcd killed and restarted under load: writers retry, the watcher resumes, nothing lost', async () => {
    let killedAt = 0;
    let restartedAt = 0;
    const { results, watched, start } = await runLoad(
      '/restart',
      3,
      30,
      async () => {
        await new Promise((r) => setTimeout(r, 300));
        killedAt = Date.now();
        await server.kill();
        await new Promise((r) => setTimeout(r, 1500));
        await server.restart();
        restartedAt = Date.now();
      },
      { concurrency: 2, pauseMs: 50 },
    );
    const outage = restartedAt - killedAt;
    expect(outage).toBeGreaterThan(1000);
    // The load really spanned the outage: creates finished before the kill and after the restart.
    const times = results.flatMap((r) => r.times);
    expect(times.some((t) => t < killedAt)).toBe(true);
    expect(times.some((t) => t > restartedAt)).toBe(true);
    for (const r of results) expect(r.failures).toEqual([]);
    expect(results.flatMap((r) => r.created)).toHaveLength(90);
    await checkRegistry('/restart', 90);
    const replayed = await replay('/restart', start, watched.last);
    expect(replayed).toHaveLength(270);
    checkWatched(watched, replayed, 90);
  }, 60_000);

  it('a partitioned registry whose history was compacted relists and emits exactly the changes', async () => {
    const proxy = await TcpProxy.start(server.clientPort);
    const direct = new EtcdStore({ endpoints: [server.endpoint], prefix: '/compact' });
    const viaProxy = new EtcdStore({ endpoints: [proxy.endpoint], prefix: '/compact' });
    const writer = await Registry.open({ store: direct, runControllers: false });
    const reader = await Registry.open({ store: viaProxy, runControllers: false });
    try {
      for (const n of ['s1', 's2', 's3']) await writer.create(svc(n));
      const s2 = (await writer.get('Service', 'default', 's2')) as Service;
      await until(async () => (await reader.list('Service')).length === 3);
      const events: string[] = [];
      for (const type of ['added', 'modified', 'deleted'] as const)
        reader.on(type, (e) => {
          if (e.kind === 'Service') events.push(`${type} ${e.object.metadata.name}`);
        });

      proxy.partition();
      await writer.delete('Service', 'default', 's1');
      await writer.update({ ...s2, spec: { ...s2.spec, ports: [{ port: 8080, protocol: 'TCP' }] } });
      await writer.create(svc('s4'));
      await direct.compact(await direct.revision());
      proxy.restore();

      await until(async () => (await reader.list('Service')).length === 3 && events.length >= 3, 15_000);
      await new Promise((r) => setTimeout(r, 200));
      expect(events.sort()).toEqual(['added s4', 'deleted s1', 'modified s2']);
      const names = (await reader.list('Service')).map((s) => s.metadata.name);
      expect(names).toEqual(['s2', 's3', 's4']);
      expect((await reader.get('Service', 'default', 's2'))?.spec.ports?.[0]?.port).toBe(8080);
      // The reader's allocators know s1's values are free and s4's are taken.
      const s5 = await reader.create(svc('s5'));
      const all = await writer.list('Service');
      expect(new Set(all.map((s) => s.spec.clusterIP)).size).toBe(all.length);
      expect(s5.spec.clusterIP).toBeDefined();
    } finally {
      await reader.close();
      await writer.close();
      await viaProxy.close();
      await direct.close();
      await proxy.close();
    }
  }, 30_000);

  it('a commit whose reply was lost is neither applied twice nor reported as a conflict', async () => {
    const proxy = await TcpProxy.start(server.clientPort);
    const store = new EtcdStore({
      endpoints: [proxy.endpoint],
      prefix: '/lost-reply',
      attemptTimeoutMs: 400,
      requestTimeoutMs: 10_000,
    });
    const direct = new EtcdStore({ endpoints: [server.endpoint], prefix: '/lost-reply' });
    try {
      await store.revision();
      proxy.swallowReplies = true;
      const pending = store.commit([
        { type: 'create', key: '/svc', value: { n: 1 } },
        { type: 'create', key: '/reservation', value: { owner: 'svc' } },
      ]);
      // The transaction reaches etcd; only its reply is lost.
      await until(async () => (await direct.get('/svc')) !== undefined, 5_000);
      const applied = (await direct.get('/svc'))?.modRevision;
      setTimeout(() => {
        proxy.partition();
        proxy.swallowReplies = false;
        proxy.restore();
      }, 600);
      expect(await pending).toBe(applied);
      expect((await direct.get('/reservation'))?.modRevision).toBe(applied);
      expect(await direct.revision()).toBe(applied);
    } finally {
      await store.close();
      await direct.close();
      await proxy.close();
    }
  }, 30_000);

  it('DNS and in-process backends in two processes give the same answers after each change', async () => {
    const common = { endpoints: [server.endpoint], prefix: '/backends' };
    const hosts = [
      spawnWorker({ ...common, mode: 'serve', id: 'h1' }),
      spawnWorker({ ...common, mode: 'serve', id: 'h2' }),
    ];
    const ports = (await Promise.all(hosts.map((h) => h.ready))) as { dnsPort: number }[];
    const store = new EtcdStore(common);
    const writer = await Registry.open({ store });
    const resolve = async (h: WorkerHandle, target: string) => {
      const reply = h.next<{ address?: string; error?: string }>('resolved');
      h.child.send({ type: 'resolve', target });
      const r = await reply;
      return r.address ?? r.error ?? '';
    };
    /** Waits (bounded) until both hosts give `dns` and `proxy` answers; returns how long it took. */
    const converge = async (dns: string, proxy: string) => {
      const t0 = Date.now();
      await until(async () => {
        for (const [i, h] of hosts.entries()) {
          if ((await queryA(ports[i]?.dnsPort ?? 0, 'web.default.svc.cluster.local')) !== dns) return false;
          if ((await resolve(h, 'web.default:80')) !== proxy) return false;
        }
        return true;
      }, 5_000);
      return Date.now() - t0;
    };
    try {
      const web = await writer.create<Service>({
        ...svc('web'),
        spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }] },
      });
      await writer.create(readyPod('web-1', '127.0.0.10'));
      await converge(web.spec.clusterIP ?? '', '127.0.0.10:8080');
      await writer.delete('Pod', 'default', 'web-1');
      await writer.create(readyPod('web-2', '127.0.0.11'));
      await converge(web.spec.clusterIP ?? '', '127.0.0.11:8080');
      await writer.delete('Service', 'default', 'web');
      await converge('NXDOMAIN', 'UnknownServiceError');
    } finally {
      for (const h of hosts) h.child.send({ type: 'quit' });
      await writer.close();
      await store.close();
    }
  }, 30_000);

  it('names the endpoint when etcd is down at start, and recovers when it is back', async () => {
    const port = await freePort();
    const err = await EtcdStore.connect({ endpoints: [`127.0.0.1:${port}`], dialTimeoutMs: 800 }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(EtcdUnavailableError);
    expect((err as Error).message).toContain(`http://127.0.0.1:${port}`);

    const states: string[] = [];
    const store = new EtcdStore({
      endpoints: [server.endpoint],
      prefix: '/recover',
      requestTimeoutMs: 600,
      onStateChange: (s) => states.push(s),
    });
    try {
      await store.commit([{ type: 'create', key: '/a', value: 1 }]);
      await server.kill();
      const down = await store.get('/a').catch((e) => e);
      expect(down).toBeInstanceOf(EtcdUnavailableError);
      expect((down as Error).message).toContain(server.endpoint);
      await server.restart();
      await until(async () => (await store.get('/a').catch(() => undefined))?.value === 1, 10_000);
      expect(states).toContain('unavailable');
      expect(states[states.length - 1]).toBe('ready');
    } finally {
      await store.close();
      if (!server.running) await server.restart();
    }
  }, 30_000);
});

function readyPod(name: string, ip: string) {
  return {
    apiVersion: 'v1' as const,
    kind: 'Pod' as const,
    metadata: { name, namespace: 'default', labels: { app: 'web' } },
    spec: { containers: [{ name: 'c', ports: [{ containerPort: 8080 }] }] },
    status: {
      phase: 'Running' as const,
      podIP: ip,
      podIPs: [{ ip }],
      conditions: [{ type: 'Ready', status: 'True' as const }],
    },
  };
}

/** The A record of `name` from the DNS server on 127.0.0.1:`port`, or the rcode when none. */
async function queryA(port: number, name: string): Promise<string> {
  const socket = createSocket('udp4');
  try {
    const query = dnsPacket.encode({
      type: 'query',
      id: Math.floor(Math.random() * 65535),
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ type: 'A', name }],
    });
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('DNS timeout')), 1000);
      socket.once('message', (msg) => {
        clearTimeout(timer);
        resolve(msg);
      });
      socket.send(query, port, '127.0.0.1');
    });
    const packet = dnsPacket.decode(reply) as dnsPacket.Packet & { rcode?: string };
    const a = packet.answers?.find((r) => r.type === 'A');
    return a ? String((a as { data: unknown }).data) : (packet.rcode ?? 'NOERROR');
  } finally {
    socket.close();
  }
}

async function until(cond: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}
