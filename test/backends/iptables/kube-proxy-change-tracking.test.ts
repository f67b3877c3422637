import { afterEach, describe, expect, it } from 'vitest';
import { IptablesBackend, type IptablesSyncEvent } from '../../../src/backends/iptables/backend';
import type { CommandRunner } from '../../../src/backends/iptables/runner';
import type { SnapshotUpdate } from '../../../src/core/snapshot';
import type { EndpointSlice, Service } from '../../../src/core/types';
import { Registry } from '../../../src/registry';
import { NODE, NODE_IP, POD_CIDR } from './golden';

// kube-proxy rewrites a service's own chains in a partial sync only when its change trackers
// report the service changed: the family's service-port map of the Service differs
// (labels/annotations are not part of it), or an EndpointSlice of the family's address type
// changed (a dual-stack node runs one proxier per family and hands each only its slices).

/** A runner standing in for the iptables binaries: every command succeeds. */
const accepting: CommandRunner = async () => ({ code: 0, stdout: '', stderr: '' });

const SVC: Service = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'svc1', namespace: 'ns1' },
  spec: {
    type: 'ClusterIP',
    clusterIP: '172.30.0.41',
    clusterIPs: ['172.30.0.41', 'fd00:172:30::41'],
    ipFamilies: ['IPv4', 'IPv6'],
    ipFamilyPolicy: 'RequireDualStack',
    ports: [{ name: 'p80', port: 80, protocol: 'TCP', targetPort: 80 }],
  },
};

function slice(family: 'IPv4' | 'IPv6', addresses: string[]): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `svc1-${family.toLowerCase()}`,
      namespace: 'ns1',
      labels: { 'kubernetes.io/service-name': 'svc1' },
    },
    addressType: family,
    endpoints: addresses.map((a) => ({ addresses: [a], conditions: { ready: true } })),
    ports: [{ name: 'p80', port: 80, protocol: 'TCP' }],
  };
}

/** A registry and one backend per family, each fed the registry's updates as they come. */
async function setup() {
  const registry = new Registry({ allocationMode: 'as-is' });
  await registry.ready();
  const backends = {
    IPv4: new IptablesBackend({
      nodeName: NODE,
      nodeIPs: [NODE_IP],
      clusterCIDRs: [POD_CIDR],
      runner: accepting,
      minSyncIntervalMs: 0,
    }),
    IPv6: new IptablesBackend({
      nodeName: NODE,
      nodeIPs: ['fd00::2'],
      clusterCIDRs: ['fd00:10::/64'],
      ipFamily: 'IPv6',
      runner: accepting,
      minSyncIntervalMs: 0,
    }),
  };
  const payloads = { IPv4: [] as string[], IPv6: [] as string[] };
  for (const f of ['IPv4', 'IPv6'] as const) {
    backends[f].on('synced', (e: IptablesSyncEvent) => payloads[f].push(e.rules.payload));
  }
  const updates: SnapshotUpdate[] = [];
  registry.on('snapshot', (u: SnapshotUpdate) => updates.push(u));
  /** Runs `change`, then lets both backends sync every update it caused; returns their payloads. */
  const step = async (change: () => Promise<unknown>) => {
    await change();
    await registry.settled();
    const batch = updates.splice(0);
    expect(batch.length).toBeGreaterThan(0);
    await Promise.all(batch.flatMap((u) => [backends.IPv4.sync(u), backends.IPv6.sync(u)]));
    return { IPv4: payloads.IPv4.at(-1)!, IPv6: payloads.IPv6.at(-1)! };
  };
  const close = async () => {
    await backends.IPv4.close();
    await backends.IPv6.close();
    await registry.close();
  };
  return { registry, backends, step, close };
}

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

const V4_SVC_CHAIN = ':KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]';

describe("partial syncs follow kube-proxy's change tracking", () => {
  it("an IPv6 endpoint change rewrites the service's chains only in the IPv6 rules", async () => {
    const t = await setup();
    cleanup = t.close;
    await t.step(async () => {
      await t.registry.create(SVC);
      await t.registry.create(slice('IPv4', ['10.180.0.1']));
      await t.registry.create(slice('IPv6', ['fd00:10::1']));
    });
    const out = await t.step(() => t.registry.apply(slice('IPv6', ['fd00:10::1', 'fd00:10::2'])));
    expect(out.IPv6).toContain('-j DNAT --to-destination [fd00:10::2]:80');
    // The IPv4 proxier never saw a change: only the top-level chains are written.
    expect(out.IPv4).not.toContain(V4_SVC_CHAIN);
    expect(out.IPv4).not.toContain('KUBE-SEP-');
    expect(out.IPv4).toContain('"ns1/svc1:p80 cluster IP"');

    const back = await t.step(() => t.registry.apply(slice('IPv4', ['10.180.0.1', '10.180.0.2'])));
    expect(back.IPv4).toContain(V4_SVC_CHAIN);
    expect(back.IPv6).not.toContain('KUBE-SEP-');
  });

  it('a label or annotation change of the Service rewrites none of its chains', async () => {
    const t = await setup();
    cleanup = t.close;
    await t.step(async () => {
      await t.registry.create(SVC);
      await t.registry.create(slice('IPv4', ['10.180.0.1']));
    });
    const out = await t.step(async () => {
      const current = (await t.registry.get('Service', 'ns1', 'svc1'))!;
      await t.registry.update({
        ...current,
        metadata: { ...current.metadata, labels: { team: 'a' }, annotations: { note: 'x' } },
      });
    });
    expect(out.IPv4).not.toContain(V4_SVC_CHAIN);
    expect(out.IPv4).not.toContain('KUBE-SEP-');
    expect(out.IPv4).toContain('"ns1/svc1:p80 cluster IP"');
  });
});
