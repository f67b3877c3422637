/**
 * Leader election of the registry's controllers on a real etcd: two (then three) registries on
 * separate etcd clients share one registry; exactly one reconciles EndpointSlices at a time, so
 * every service gets exactly one slice (no duplicates from two controllers racing), slices follow
 * pod changes, and when the leader stops (released lease) or dies (lease left to expire) another
 * registry takes over and keeps slices current. etcd runs on a loopback port with a temporary
 * data directory; every wait is bounded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SeededRng } from '../../src/core/random';
import type { EndpointSlice, Pod, Service } from '../../src/core/types';
import { type ObjectEvent, Registry, type RegistryLeaderElection } from '../../src/registry';
import { EtcdStore } from '../../src/stores/etcd';
import { EtcdTestServer, etcdSkipReason } from '../helpers/etcd-server';

if (etcdSkipReason) console.warn(etcdSkipReason);

/** Short timings so that handovers take seconds, in client-go's proportions (15 / 10 / 2). */
const ELECTION: RegistryLeaderElection = {
  leaseDurationMs: 3_000,
  renewDeadlineMs: 2_000,
  retryPeriodMs: 400,
};
const PREFIX = '/leader';
const SERVICES = ['alpha', 'beta', 'gamma'];

function service(name: string): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'default' },
    spec: { selector: { app: name }, ports: [{ port: 80, protocol: 'TCP' }] },
  };
}

function pod(name: string, app: string, ip: string): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels: { app } },
    spec: { containers: [{ name: 'c', ports: [{ containerPort: 80 }] }] },
    status: {
      phase: 'Running',
      podIP: ip,
      podIPs: [{ ip }],
      conditions: [{ type: 'Ready', status: 'True' }],
    },
  };
}

async function waitFor(
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Member {
  readonly name: string;
  readonly store: EtcdStore;
  readonly registry: Registry;
}

describe.skipIf(etcdSkipReason !== undefined)('controllers under leader election on a real etcd', () => {
  let server: EtcdTestServer;
  const members: Member[] = [];
  /** Every EndpointSlice name ever seen per service, by any member. */
  const slicesEver = new Map<string, Set<string>>();

  beforeAll(async () => {
    server = await EtcdTestServer.start();
  });

  afterAll(async () => {
    for (const m of members) {
      await m.registry.close().catch(() => {});
      await m.store.close().catch(() => {});
    }
    await server?.stop();
  });

  async function join(name: string, seed: number): Promise<Member> {
    const store = new EtcdStore({ endpoints: [server.endpoint], prefix: PREFIX, requestTimeoutMs: 5_000 });
    const registry = await Registry.open({
      store,
      rng: new SeededRng(seed),
      leaderElection: { ...ELECTION, identity: name },
    });
    registry.on('error', () => {});
    registry.on('added', (e: ObjectEvent) => {
      if (e.kind !== 'EndpointSlice') return;
      const s = e.object as EndpointSlice;
      const svc = s.metadata.labels?.['kubernetes.io/service-name'] ?? '';
      let set = slicesEver.get(svc);
      if (!set) {
        set = new Set();
        slicesEver.set(svc, set);
      }
      set.add(s.metadata.name ?? '');
    });
    const m = { name, store, registry };
    members.push(m);
    return m;
  }

  const leaders = () => members.filter((m) => m.registry.leaderElector?.isLeader());

  /** True when `observer` sees exactly one slice per service holding exactly `want[svc]`. */
  async function slicesAre(observer: Registry, want: Record<string, string[]>): Promise<boolean> {
    for (const [svc, ips] of Object.entries(want)) {
      const slices = await observer.list('EndpointSlice', {
        labelSelector: `kubernetes.io/service-name=${svc}`,
      });
      if (slices.length !== 1) return false;
      const got = slices.flatMap((s) => s.endpoints.flatMap((e) => e.addresses)).sort();
      if (JSON.stringify(got) !== JSON.stringify([...ips].sort())) return false;
    }
    return true;
  }

  it('one leader; one slice per service; hand-over on stop and on death keeps slices current', async () => {
    const a = await join('a', 1);
    const b = await join('b', 2);
    await waitFor('a leader', () => leaders().length === 1, 10_000);
    const first = leaders()[0] as Member;
    const other = first === a ? b : a;

    // Both registries write at once, pods before and after their service; only the leader's
    // controller writes slices.
    const want: Record<string, string[]> = {};
    const writes: Promise<unknown>[] = [];
    SERVICES.forEach((svc, i) => {
      want[svc] = [];
      for (let p = 1; p <= 3; p++) {
        const ip = `127.0.${i + 1}.${p}`;
        want[svc]?.push(ip);
        writes.push((p % 2 === 0 ? a : b).registry.create(pod(`${svc}-${p}`, svc, ip)));
        if (p === 1) writes.push((i % 2 === 0 ? a : b).registry.create(service(svc)));
      }
    });
    await Promise.all(writes);
    await waitFor(
      'slices on both registries',
      async () => (await slicesAre(a.registry, want)) && slicesAre(b.registry, want),
    );
    expect(leaders()).toEqual([first]);

    // Slices follow pod changes.
    await other.registry.delete('Pod', 'default', 'alpha-1');
    await other.registry.create(pod('alpha-4', 'alpha', '127.0.1.4'));
    want['alpha'] = ['127.0.1.2', '127.0.1.3', '127.0.1.4'];
    await waitFor('slices after pod changes', () => slicesAre(other.registry, want));

    // The leader stops: it releases the lease and the other takes over without waiting for expiry.
    const stoppedAt = Date.now();
    await first.registry.close();
    await waitFor('the other to lead', () => other.registry.leaderElector?.isLeader() === true, 10_000);
    expect(Date.now() - stoppedAt).toBeLessThan(ELECTION.leaseDurationMs as number);
    await other.registry.create(pod('beta-4', 'beta', '127.0.2.4'));
    await other.registry.delete('Pod', 'default', 'beta-1');
    want['beta'] = ['127.0.2.2', '127.0.2.3', '127.0.2.4'];
    await waitFor('slices kept current by the new leader', () => slicesAre(other.registry, want));

    // A third registry joins; then the leader dies (its etcd client goes away, the lease stays).
    const c = await join('c', 3);
    await waitFor('c to load the slices', () => slicesAre(c.registry, want));
    expect(c.registry.leaderElector?.isLeader()).toBe(false);
    await other.store.close();
    await waitFor(
      'c to lead after the lease expired',
      () => c.registry.leaderElector?.isLeader() === true,
      15_000,
    );
    await waitFor(
      'the dead leader to have stepped down',
      () => other.registry.leaderElector?.isLeader() === false,
      5_000,
    );
    await c.registry.delete('Pod', 'default', 'gamma-2');
    await c.registry.create(pod('gamma-9', 'gamma', '127.0.3.9'));
    want['gamma'] = ['127.0.3.1', '127.0.3.3', '127.0.3.9'];
    await waitFor('slices kept current after the hand-over', () => slicesAre(c.registry, want));

    // Never a second slice for a service: no two controllers raced.
    for (const svc of SERVICES) expect(slicesEver.get(svc)?.size, svc).toBe(1);
  });
});
