import { describe, expect, it } from 'vitest';
import { IptablesBackend, type IptablesSyncEvent } from '../../../src/backends/iptables/backend';
import type { CommandRunner } from '../../../src/backends/iptables/runner';
import type { RoutingSnapshot, SnapshotUpdate } from '../../../src/core/snapshot';
import { LABEL_TOPOLOGY_ZONE } from '../../../src/core/types';
import type { IptablesState } from '../../../src/testing/iptables-state';
import { entry, ep, fakeIptables, port, routedEndpoints, snapshot } from './fixtures';
import { ManualClock } from './manual-clock';

function sepChains(kernel: IptablesState): string[] {
  return kernel
    .save()
    .split('\n')
    .filter((l) => l.startsWith(':KUBE-SEP-'))
    .sort();
}

const zoned: RoutingSnapshot = snapshot([
  entry(port('ns1', 'svc1', { clusterIPs: ['172.30.0.41'] }), [
    ep('10.180.0.1', 80, { zone: 'zone-a', zoneHints: new Set(['zone-a']) }),
    ep('10.180.0.2', 80, { zone: 'zone-b', zoneHints: new Set(['zone-b']) }),
  ]),
]);

function initial(current: RoutingSnapshot): SnapshotUpdate {
  return { previous: undefined, current, changes: [], changedServices: new Set(['ns1/svc1']) };
}

async function started(labels?: Record<string, string>) {
  const clock = new ManualClock();
  const fake = fakeIptables();
  const backend = new IptablesBackend({
    runner: fake.runner,
    clock,
    nodeName: 'node-a',
    minSyncIntervalMs: 1000,
    ...(labels ? { nodeLabels: labels } : {}),
  });
  const events: IptablesSyncEvent[] = [];
  backend.on('synced', (e) => events.push(e));
  const first = backend.sync(initial(zoned));
  await clock.advance(0);
  await first;
  return { clock, fake, backend, events };
}

describe('IptablesBackend.setNodeLabels', () => {
  it('renders for the zone of the nodeLabels option from the start', async () => {
    const { fake } = await started({ [LABEL_TOPOLOGY_ZONE]: 'zone-a' });
    expect(routedEndpoints(fake.kernel)).toEqual(['10.180.0.1']);
  });

  it('re-renders every service in a full sync when the zone changes, deleting unused chains', async () => {
    const { clock, fake, backend, events } = await started({ [LABEL_TOPOLOGY_ZONE]: 'zone-a' });
    const before = sepChains(fake.kernel);
    expect(backend.setNodeLabels({ [LABEL_TOPOLOGY_ZONE]: 'zone-b' })).toBe(true);
    // Scheduled like any sync: not before the minimum interval.
    await clock.advance(999);
    expect(events).toHaveLength(1);
    await clock.advance(1);
    expect(events).toHaveLength(2);
    expect(events[1]!.full).toBe(true);
    expect(routedEndpoints(fake.kernel)).toEqual(['10.180.0.2']);
    const after = sepChains(fake.kernel);
    expect(after).toHaveLength(1);
    expect(before).toHaveLength(1);
    expect(after).not.toEqual(before);
  });

  it('follows the hints no more once the zone label is gone', async () => {
    const { clock, fake, backend, events } = await started({ [LABEL_TOPOLOGY_ZONE]: 'zone-a' });
    expect(backend.setNodeLabels({ 'kubernetes.io/hostname': 'node-a' })).toBe(true);
    await clock.advance(1000);
    expect(events.at(-1)?.full).toBe(true);
    expect(routedEndpoints(fake.kernel)).toEqual(['10.180.0.1', '10.180.0.2']);
    expect(backend.setNodeLabels({ [LABEL_TOPOLOGY_ZONE]: 'zone-b' })).toBe(true);
    await clock.advance(1000);
    expect(routedEndpoints(fake.kernel)).toEqual(['10.180.0.2']);
    expect(backend.setNodeLabels(undefined)).toBe(true);
    await clock.advance(1000);
    expect(routedEndpoints(fake.kernel)).toEqual(['10.180.0.1', '10.180.0.2']);
  });

  it('does nothing when only labels other than the zone change', async () => {
    const { clock, fake, backend } = await started({ [LABEL_TOPOLOGY_ZONE]: 'zone-a' });
    const restores = fake.restores.length;
    expect(
      backend.setNodeLabels({ [LABEL_TOPOLOGY_ZONE]: 'zone-a', 'node-role.kubernetes.io/worker': '' }),
    ).toBe(false);
    await clock.advance(5000);
    expect(fake.restores).toHaveLength(restores);
  });

  it('applies labels given before the first snapshot to the first sync, without an extra one', async () => {
    const clock = new ManualClock();
    const fake = fakeIptables();
    const backend = new IptablesBackend({ runner: fake.runner, clock, nodeName: 'node-a' });
    expect(backend.setNodeLabels({ [LABEL_TOPOLOGY_ZONE]: 'zone-b' })).toBe(true);
    await clock.advance(5000);
    expect(fake.restores).toHaveLength(0);
    const first = backend.sync(initial(zoned));
    await clock.advance(0);
    await first;
    expect(fake.restores).toHaveLength(1);
    expect(routedEndpoints(fake.kernel)).toEqual(['10.180.0.2']);
  });

  it('follows a change made while a sync is in flight with another full sync', async () => {
    const clock = new ManualClock();
    const fake = fakeIptables();
    let release: (() => void) | undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const runner: CommandRunner = async (file, args, stdin) => {
      if (file.endsWith('-restore')) await gate;
      return fake.runner(file, args, stdin);
    };
    const backend = new IptablesBackend({
      runner,
      clock,
      nodeName: 'node-a',
      nodeLabels: { [LABEL_TOPOLOGY_ZONE]: 'zone-a' },
      minSyncIntervalMs: 0,
    });
    const events: IptablesSyncEvent[] = [];
    backend.on('synced', (e) => events.push(e));
    const first = backend.sync(initial(zoned));
    await clock.advance(0);
    expect(backend.setNodeLabels({ [LABEL_TOPOLOGY_ZONE]: 'zone-b' })).toBe(true);
    release?.();
    await first;
    // The second sync (ensure step, listing, restore) takes more ticks than one advance flushes.
    for (let i = 0; i < 20 && events.length < 2; i++) await clock.advance(0);
    expect(events.map((e) => e.full)).toEqual([true, true]);
    expect(routedEndpoints(fake.kernel)).toEqual(['10.180.0.2']);
    // The zone-a endpoint's chain, made by the sync in flight, is gone too.
    expect(sepChains(fake.kernel)).toHaveLength(1);
  });
});
