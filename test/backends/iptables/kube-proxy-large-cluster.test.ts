import { describe, expect, it } from 'vitest';
import { LARGE_CLUSTER_ENDPOINTS_THRESHOLD } from '../../../src/backends/iptables/constants';
import { IptablesRenderer } from '../../../src/backends/iptables/renderer';
import type { RoutingSnapshot } from '../../../src/core/snapshot';
import { FakeClock } from '../../../src/testing/fake-clock';
import { IptablesState } from '../../../src/testing/iptables-state';
import { entry, ep, port, snapshot } from './fixtures';
import { NODE, NODE_IP, POD_CIDR } from './golden';
import { editPorts, updateBetween } from './kube-proxy-dump';

const SYNC_PERIOD_MS = 30_000;
const OPTIONS = {
  nodeName: NODE,
  nodeIPs: [NODE_IP],
  clusterCIDRs: [POD_CIDR],
  masqueradeAll: true,
  syncPeriodMs: SYNC_PERIOD_MS,
};

/** The DNAT rules of endpoint chains in `payload`: how many, how many commented, and the one for `ip`. */
function endpointRules(payload: string, ip: string) {
  const dnat = payload.split('\n').filter((l) => l.startsWith('-A KUBE-SEP-') && l.includes('-j DNAT'));
  return {
    count: dnat.length,
    commented: dnat.filter((l) => l.includes('--comment')).length,
    matching: dnat.find((l) => l.includes(ip)) ?? '',
  };
}

describe("kube-proxy's TestSyncProxyRulesLargeClusterMode", () => {
  it('drops comments past the threshold without a full resync and delays chain deletion', () => {
    const half = LARGE_CLUSTER_ENDPOINTS_THRESHOLD / 2 - 1;
    const spread = (prefix: string, p: number) =>
      Array.from({ length: half }, (_, i) => ep(`${prefix}.${i % 256}.${Math.floor(i / 256)}`, p));
    const svc1 = port('ns1', 'svc1', { clusterIPs: ['172.30.0.41'] });
    const svc2 = port('ns2', 'svc2', { clusterIPs: ['172.30.0.42'], portName: 'p8080', port: 8080 });
    const svc3 = port('ns3', 'svc3', { clusterIPs: ['172.30.0.43'], portName: 'p8081', port: 8081 });
    const svc4 = port('ns4', 'svc4', { clusterIPs: ['172.30.0.44'], portName: 'p8082', port: 8082 });

    const clock = new FakeClock();
    const renderer = new IptablesRenderer(OPTIONS, clock);
    const kernel = new IptablesState();
    let current: RoutingSnapshot | undefined;
    const sync = (next: RoutingSnapshot) => {
      if (next !== current) renderer.note(updateBetween(current, next));
      current = next;
      const out = renderer.render(next);
      kernel.restore(out.payload, { noflush: true });
      renderer.applied();
      return out;
    };

    const s1 = snapshot([entry(svc1, spread('10.0', 80)), entry(svc2, spread('10.1', 8080)), entry(svc3)]);
    let out = sync(s1);
    let seen = endpointRules(out.payload, '10.0.0.0');
    expect(seen.matching).toBe(
      '-A KUBE-SEP-DKGQUZGBKLTPAR56 -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.0.0.0:80',
    );
    expect(seen.count).toBe(2 * half);
    expect(seen.commented).toBe(seen.count);

    // Three more endpoints cross the threshold: only svc3 is written, without comments.
    const s2 = editPorts(s1, (p) =>
      p.set(
        svc3.key,
        entry(
          svc3,
          ['203.0.113.4', '203.0.113.8', '203.0.113.12'].map((ip) => ep(ip, 8081)),
        ),
      ),
    );
    out = sync(s2);
    expect(out.full).toBe(false);
    seen = endpointRules(out.payload, '203.0.113.4');
    expect(seen.matching).toBe(
      '-A KUBE-SEP-RUVVH7YV3PHQBDOS -m tcp -p tcp -j DNAT --to-destination 203.0.113.4:8081',
    );
    expect(seen).toMatchObject({ count: 3, commented: 0 });

    // A forced full resync rewrites the older services without comments too.
    renderer.requestFullSync();
    out = sync(s2);
    seen = endpointRules(out.payload, '10.0.0.0');
    expect(seen.matching).toBe(
      '-A KUBE-SEP-DKGQUZGBKLTPAR56 -m tcp -p tcp -j DNAT --to-destination 10.0.0.0:80',
    );
    expect(seen).toMatchObject({ count: 2 * half + 3, commented: 0 });

    const s3 = editPorts(s2, (p) => p.set(svc4.key, entry(svc4, [ep('10.4.0.1', 8082)])));
    out = sync(s3);
    seen = endpointRules(out.payload, '10.4.0.1');
    expect(seen.matching).toBe(
      '-A KUBE-SEP-SU5STNODRYEWJAUF -m tcp -p tcp -j DNAT --to-destination 10.4.0.1:8082',
    );
    expect(seen.count).toBe(1);

    // Deleting a service within the sync period leaves its chains in place.
    const s4 = editPorts(s3, (p) => p.delete(svc4.key));
    out = sync(s4);
    expect(endpointRules(out.payload, '10.4.0.1')).toMatchObject({ count: 0, matching: '' });
    expect(out.payload).not.toContain('-X ');

    // A sync a whole period later deletes them.
    clock.advance(SYNC_PERIOD_MS + 1);
    out = sync(s4);
    expect(endpointRules(out.payload, '10.4.0.1')).toMatchObject({ count: 0, matching: '' });
    expect(out.payload).toContain('-X KUBE-SVC-EBDQOQU5SJFXRIL3\n');
    expect(out.payload).toContain('-X KUBE-SEP-SU5STNODRYEWJAUF\n');
    expect(kernel.hasChain('nat', 'KUBE-SVC-EBDQOQU5SJFXRIL3')).toBe(false);

    renderer.requestFullSync();
    out = sync(s4);
    expect(endpointRules(out.payload, '10.0.0.0').count).toBe(2 * half + 3);
  });
});
