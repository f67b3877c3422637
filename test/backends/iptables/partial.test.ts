import { describe, expect, it } from 'vitest';
import { renderIptables } from '../../../src/backends/iptables/render';
import { IptablesRenderer } from '../../../src/backends/iptables/renderer';
import type { RoutingSnapshot } from '../../../src/core/snapshot';
import { FakeClock } from '../../../src/testing/fake-clock';
import { IptablesState } from '../../../src/testing/iptables-state';
import { entry, ep, port, snapshot } from './fixtures';
import { NODE, NODE_IP, overallSnapshot, POD_CIDR } from './golden';
import { editPorts, updateBetween } from './kube-proxy-dump';

const OPTIONS = { nodeName: NODE, nodeIPs: [NODE_IP], clusterCIDRs: [POD_CIDR] };

/** Kernel state after a fresh full sync of `snap`. */
function fresh(snap: RoutingSnapshot): string {
  const s = new IptablesState();
  s.restore(renderIptables(snap, OPTIONS).payload, { noflush: true });
  return s.save();
}

describe('IptablesRenderer partial sync', () => {
  it('first sync is full, an endpoint change rewrites only that service and converges', () => {
    const r = new IptablesRenderer(OPTIONS);
    const kernel = new IptablesState();
    const s1 = overallSnapshot();
    r.note(updateBetween(undefined, s1));
    const first = r.render(s1);
    expect(first.full).toBe(true);
    kernel.restore(first.payload, { noflush: true });
    r.applied();

    const s2 = editPorts(s1, (ports) => {
      const e = ports.get('ns1/svc1:p80')!;
      ports.set(e.info.key, entry(e.info, [...e.endpoints, ep('10.180.0.9')]));
    });
    r.note(updateBetween(s1, s2));
    const second = r.render(s2);
    expect(second.full).toBe(false);
    // Only svc1's own chains are written; others (e.g. ns3's) are left alone.
    expect(second.nat).toContain(':KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]');
    expect(second.nat).not.toContain(':KUBE-SVC-X27LE4BHSL4DOUIK');
    expect(second.nat).not.toContain('-A KUBE-SEP-OYPFS5VJICHGATKP');
    // Top-level chains are always rewritten in full.
    expect(second.nat).toContain('"ns3/svc3:p80 cluster IP"');
    kernel.restore(second.payload, { noflush: true });
    r.applied();
    expect(kernel.save()).toBe(fresh(s2));
  });

  it('deletes the chains of removed services and endpoints with -X', () => {
    const r = new IptablesRenderer(OPTIONS);
    const kernel = new IptablesState();
    const s1 = overallSnapshot();
    r.note(updateBetween(undefined, s1));
    kernel.restore(r.render(s1).payload, { noflush: true });
    r.applied();

    const s2 = editPorts(s1, (ports) => {
      ports.delete('ns5/svc5:p80');
      const e = ports.get('ns4/svc4:p80')!;
      ports.set(e.info.key, entry(e.info, [e.endpoints[0]!]));
    });
    r.note(updateBetween(s1, s2));
    const out = r.render(s2);
    expect(out.full).toBe(false);
    expect(out.deletedChains).toEqual([
      'KUBE-EXT-NUKIZ6OKUXPJNT4C',
      'KUBE-FW-NUKIZ6OKUXPJNT4C',
      'KUBE-SEP-C6EBXVWJJZMIWKLZ',
      'KUBE-SEP-I77PXRDZVX7PMWMN',
      'KUBE-SVC-NUKIZ6OKUXPJNT4C',
    ]);
    expect(out.nat).toContain('\n-X KUBE-SVC-NUKIZ6OKUXPJNT4C\n');
    kernel.restore(out.payload, { noflush: true });
    r.applied();
    expect(kernel.save()).toBe(fresh(s2));
  });

  it('a service losing all endpoints flips from nat chains to a filter REJECT', () => {
    const r = new IptablesRenderer(OPTIONS);
    const kernel = new IptablesState();
    const s1 = overallSnapshot();
    r.note(updateBetween(undefined, s1));
    kernel.restore(r.render(s1).payload, { noflush: true });
    r.applied();
    const s2 = editPorts(s1, (ports) => {
      const e = ports.get('ns1/svc1:p80')!;
      ports.set(e.info.key, entry(e.info, []));
    });
    r.note(updateBetween(s1, s2));
    const out = r.render(s2);
    expect(out.filter).toContain('"ns1/svc1:p80 has no endpoints"');
    kernel.restore(out.payload, { noflush: true });
    r.applied();
    expect(kernel.save()).toBe(fresh(s2));
  });

  it('after a failed restore the next sync is full and still deletes stale chains', () => {
    const r = new IptablesRenderer(OPTIONS);
    const kernel = new IptablesState();
    const s1 = overallSnapshot();
    r.note(updateBetween(undefined, s1));
    kernel.restore(r.render(s1).payload, { noflush: true });
    r.applied();

    const s2 = editPorts(s1, (ports) => ports.delete('ns1/svc1:p80'));
    r.note(updateBetween(s1, s2));
    expect(r.render(s2).full).toBe(false);
    r.failed();
    const retry = r.render(s2);
    expect(retry.full).toBe(true);
    expect(retry.deletedChains).toContain('KUBE-SVC-XPGD46QRK7WJZT7O');
    kernel.restore(retry.payload, { noflush: true });
    r.applied();
    expect(kernel.save()).toBe(fresh(s2));
  });

  it('folds several noted updates into one partial render', () => {
    const r = new IptablesRenderer(OPTIONS);
    const kernel = new IptablesState();
    const s1 = snapshot([
      entry(port('a', 'one', { clusterIPs: ['172.30.1.1'] }), [ep('10.1.0.1')]),
      entry(port('b', 'two', { clusterIPs: ['172.30.1.2'] }), [ep('10.1.0.2')]),
    ]);
    r.note(updateBetween(undefined, s1));
    kernel.restore(r.render(s1).payload, { noflush: true });
    r.applied();
    const s2 = editPorts(s1, (p) => p.set('a/one:p80', entry(p.get('a/one:p80')!.info, [ep('10.1.0.3')])));
    const s3 = editPorts(s2, (p) => p.set('b/two:p80', entry(p.get('b/two:p80')!.info, [ep('10.1.0.4')])));
    r.note(updateBetween(s1, s2));
    r.note(updateBetween(s2, s3));
    const out = r.render(s3);
    expect(out.full).toBe(false);
    kernel.restore(out.payload, { noflush: true });
    r.applied();
    expect(kernel.save()).toBe(fresh(s3));
  });
});

describe('IptablesRenderer in large-cluster mode', () => {
  it('deletes unused chains at most once per sync period, as kube-proxy does', () => {
    const options = { ...OPTIONS, largeClusterThreshold: 2 };
    const clock = new FakeClock();
    const r = new IptablesRenderer(options, clock);
    const kernel = new IptablesState();
    const info = port('a', 'web', { clusterIPs: ['172.30.1.1'] });
    const other = port('b', 'db', { clusterIPs: ['172.30.1.2'] });
    const three = [ep('10.1.0.1'), ep('10.1.0.2'), ep('10.1.0.3')];
    const s1 = snapshot([entry(info, three), entry(other, [ep('10.2.0.1')])]);
    const sync = (prev: RoutingSnapshot | undefined, next: RoutingSnapshot) => {
      r.note(updateBetween(prev, next));
      const out = r.render(next);
      kernel.restore(out.payload, { noflush: true });
      r.applied();
      return out;
    };
    expect(sync(undefined, s1).largeClusterMode).toBe(true);

    // One endpoint goes: its chain is left in the kernel, unreferenced.
    clock.advance(1000);
    const s2 = editPorts(s1, (p) => p.set(info.key, entry(info, three.slice(0, 2))));
    const out2 = sync(s1, s2);
    expect(out2.deletedChains).toEqual([]);
    expect(out2.nat).not.toContain('-X ');
    const stale = [...kernel.save().matchAll(/^:(KUBE-SEP-\w+)/gm)]
      .map((m) => m[1]!)
      .filter((c) => !out2.serviceChains.has(c));
    expect(stale).toHaveLength(1);
    // Still known to be in the kernel (so that cleanup() would remove it).
    expect(r.serviceChains.has(stale[0]!)).toBe(true);

    // It comes back before the clean-up: the chain is in use again and must not be deleted.
    clock.advance(1000);
    const s3 = editPorts(s2, (p) => p.set(info.key, entry(info, three)));
    expect(sync(s2, s3).deletedChains).toEqual([]);
    // The next clean-up (a sync period later, on an unrelated change) has nothing to delete.
    clock.advance(30_000);
    const s3b = editPorts(s3, (p) => p.set(other.key, entry(other, [ep('10.2.0.1')])));
    expect(sync(s3, s3b).deletedChains).toEqual([]);
    // And goes again.
    clock.advance(1000);
    const s4 = editPorts(s3b, (p) => p.set(info.key, entry(info, three.slice(0, 2))));
    expect(sync(s3b, s4).deletedChains).toEqual([]);

    // A sync period after the last clean-up, an unrelated change's sync deletes it.
    clock.advance(30_000);
    const s5 = editPorts(s4, (p) => p.set(other.key, entry(other, [ep('10.2.0.1'), ep('10.2.0.2')])));
    const out5 = sync(s4, s5);
    expect(out5.deletedChains).toEqual(stale);
    expect(out5.nat).toContain(`\n-X ${stale[0]}\n`);
    // Within the period again: a replaced endpoint's chain stays until the next clean-up, which
    // a sync with nothing changed performs too; the kernel then holds what a fresh sync leaves.
    clock.advance(1000);
    const s6 = editPorts(s5, (p) => p.set(other.key, entry(other, [ep('10.2.0.1'), ep('10.2.0.3')])));
    expect(sync(s5, s6).deletedChains).toEqual([]);
    clock.advance(30_001);
    const out7 = r.render(s6);
    expect(out7.full).toBe(false);
    expect(out7.deletedChains).toHaveLength(1);
    kernel.restore(out7.payload, { noflush: true });
    r.applied();
    const fresh6 = new IptablesState();
    fresh6.restore(renderIptables(s6, options).payload, { noflush: true });
    expect(kernel.save()).toBe(fresh6.save());
  });
});

describe('IptablesRenderer.adoptKernelChains', () => {
  it('deletes unknown per-service chains at the next clean-up, never ones the rules use', () => {
    const clock = new FakeClock();
    const options = { ...OPTIONS, largeClusterThreshold: 0 }; // large-cluster mode: clean-ups are rationed
    const r = new IptablesRenderer(options, clock);
    const s1 = overallSnapshot();
    r.note(updateBetween(undefined, s1));
    r.adoptKernelChains([
      'KUBE-SVC-AAAAAAAAAAAAAAAA',
      'KUBE-SVC-XPGD46QRK7WJZT7O',
      'KUBE-SERVICES',
      'MY-CHAIN',
    ]);
    const first = r.render(s1);
    expect(first.deletedChains).toEqual(['KUBE-SVC-AAAAAAAAAAAAAAAA']);
    r.applied();

    clock.advance(1000);
    r.adoptKernelChains(['KUBE-SEP-CCCCCCCCCCCCCCCC']);
    r.requestFullSync();
    expect(r.render(s1).deletedChains).toEqual([]);
    r.applied();
    expect(r.serviceChains.has('KUBE-SEP-CCCCCCCCCCCCCCCC')).toBe(true);

    clock.advance(30_000);
    const later = r.render(s1);
    expect(later.full).toBe(false);
    expect(later.deletedChains).toEqual(['KUBE-SEP-CCCCCCCCCCCCCCCC']);
    r.applied();
    expect(r.serviceChains.has('KUBE-SEP-CCCCCCCCCCCCCCCC')).toBe(false);
  });
});

describe('IptablesState', () => {
  it('rejects a table that deletes a chain still referenced, leaving it unchanged', () => {
    const s = new IptablesState();
    s.restore('*nat\n:A - [0:0]\n:B - [0:0]\n-A A -j B\nCOMMIT\n', { noflush: true });
    const before = s.save();
    expect(() => s.restore('*nat\n:B - [0:0]\n-X B\nCOMMIT\n', { noflush: true })).toThrow(/missing chain B/);
    expect(s.save()).toBe(before);
  });
});
