import { describe, expect, it } from 'vitest';
import { IptablesRenderer } from '../../../src/backends/iptables/renderer';
import type { RoutingSnapshot } from '../../../src/core/snapshot';
import { IptablesState } from '../../../src/testing/iptables-state';
import { entry, ep, port, snapshot } from './fixtures';
import { NODE, NODE_IP, POD_CIDR } from './golden';
import { type DumpParts, editPorts, expectSameDump, kubeProxyDump, updateBetween } from './kube-proxy-dump';

// kube-proxy's fake proxier: local-traffic detector on 10.0.0.0/8, node ports on every local
// address, localhost node ports on; with and without nfacct counters (kube-proxy's fake has had
// both over releases; only the INVALID drop rule differs here, as no service has a node port).
const OPTIONS = { nodeName: NODE, nodeIPs: [NODE_IP], clusterCIDRs: [POD_CIDR] };

const CAPTURE = {
  svc1: '-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O',
  svc2: '-A KUBE-SERVICES -m comment --comment "ns2/svc2:p8080 cluster IP" -m tcp -p tcp -d 172.30.0.42 --dport 8080 -j KUBE-SVC-2VJB64SDSIJUP5T6',
  svc3: '-A KUBE-SERVICES -m comment --comment "ns3/svc3:p80 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 -j KUBE-SVC-X27LE4BHSL4DOUIK',
  svc4: '-A KUBE-SERVICES -m comment --comment "ns4/svc4:p80 cluster IP" -m tcp -p tcp -d 172.30.0.44 --dport 80 -j KUBE-SVC-4SW47YFZTEDKD3PK',
};

const SVC1_CHAINS = {
  chains: ['KUBE-SEP-SNQ3ZNILQDEJNDQO', 'KUBE-SVC-XPGD46QRK7WJZT7O'],
  rules: [
    '-A KUBE-SEP-SNQ3ZNILQDEJNDQO -m comment --comment ns1/svc1:p80 -s 10.0.1.1 -j KUBE-MARK-MASQ',
    '-A KUBE-SEP-SNQ3ZNILQDEJNDQO -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.0.1.1:80',
    '-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ',
    '-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.0.1.1:80" -j KUBE-SEP-SNQ3ZNILQDEJNDQO',
  ],
};
const SVC2_CHAINS = {
  chains: ['KUBE-SEP-UHEGFW77JX3KXTOV', 'KUBE-SVC-2VJB64SDSIJUP5T6'],
  rules: [
    '-A KUBE-SEP-UHEGFW77JX3KXTOV -m comment --comment ns2/svc2:p8080 -s 10.0.2.1 -j KUBE-MARK-MASQ',
    '-A KUBE-SEP-UHEGFW77JX3KXTOV -m comment --comment ns2/svc2:p8080 -m tcp -p tcp -j DNAT --to-destination 10.0.2.1:8080',
    '-A KUBE-SVC-2VJB64SDSIJUP5T6 -m comment --comment "ns2/svc2:p8080 cluster IP" -m tcp -p tcp -d 172.30.0.42 --dport 8080 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ',
    '-A KUBE-SVC-2VJB64SDSIJUP5T6 -m comment --comment "ns2/svc2:p8080 -> 10.0.2.1:8080" -j KUBE-SEP-UHEGFW77JX3KXTOV',
  ],
};
const SVC3_MASQ =
  '-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ';
const SVC3_FIRST = {
  chains: ['KUBE-SEP-BSWRHOQ77KEXZLNL', 'KUBE-SVC-X27LE4BHSL4DOUIK'],
  rules: [
    '-A KUBE-SEP-BSWRHOQ77KEXZLNL -m comment --comment ns3/svc3:p80 -s 10.0.3.1 -j KUBE-MARK-MASQ',
    '-A KUBE-SEP-BSWRHOQ77KEXZLNL -m comment --comment ns3/svc3:p80 -m tcp -p tcp -j DNAT --to-destination 10.0.3.1:80',
    SVC3_MASQ,
    '-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 -> 10.0.3.1:80" -j KUBE-SEP-BSWRHOQ77KEXZLNL',
  ],
};
const SEP_10_0_3_2 = [
  '-A KUBE-SEP-DKCFIS26GWF2WLWC -m comment --comment ns3/svc3:p80 -s 10.0.3.2 -j KUBE-MARK-MASQ',
  '-A KUBE-SEP-DKCFIS26GWF2WLWC -m comment --comment ns3/svc3:p80 -m tcp -p tcp -j DNAT --to-destination 10.0.3.2:80',
];
const SVC3_TWO_ENDPOINTS = {
  chains: ['KUBE-SEP-DKCFIS26GWF2WLWC', 'KUBE-SEP-JVVZVJ7BSEPPRNBS', 'KUBE-SVC-X27LE4BHSL4DOUIK'],
  rules: [
    ...SEP_10_0_3_2,
    '-A KUBE-SEP-JVVZVJ7BSEPPRNBS -m comment --comment ns3/svc3:p80 -s 10.0.3.3 -j KUBE-MARK-MASQ',
    '-A KUBE-SEP-JVVZVJ7BSEPPRNBS -m comment --comment ns3/svc3:p80 -m tcp -p tcp -j DNAT --to-destination 10.0.3.3:80',
    SVC3_MASQ,
    '-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 -> 10.0.3.2:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-DKCFIS26GWF2WLWC',
    '-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 -> 10.0.3.3:80" -j KUBE-SEP-JVVZVJ7BSEPPRNBS',
  ],
};

const svc1 = port('ns1', 'svc1', { clusterIPs: ['172.30.0.41'] });
const svc2 = port('ns2', 'svc2', { clusterIPs: ['172.30.0.42'], portName: 'p8080', port: 8080 });
const svc3 = port('ns3', 'svc3', { clusterIPs: ['172.30.0.43'] });
const svc4 = port('ns4', 'svc4', { clusterIPs: ['172.30.0.44'] });

/** Drives an {@link IptablesRenderer} against a model kernel, as kube-proxy's proxier does. */
class Node {
  readonly renderer: IptablesRenderer;
  readonly kernel = new IptablesState();
  private current: RoutingSnapshot | undefined;

  constructor(nfacct: boolean) {
    this.renderer = new IptablesRenderer({ ...OPTIONS, nfacct });
  }

  /** Syncs to `next`; returns the payload and whether the kernel took it. */
  sync(next: RoutingSnapshot): { payload: string; full: boolean; ok: boolean } {
    if (next !== this.current) this.renderer.note(updateBetween(this.current, next));
    this.current = next;
    const rules = this.renderer.render(next);
    try {
      this.kernel.restore(rules.payload, { noflush: true });
    } catch {
      this.renderer.failed();
      return { payload: rules.payload, full: rules.full, ok: false };
    }
    this.renderer.applied();
    return { payload: rules.payload, full: rules.full, ok: true };
  }
}

describe.each([false, true])("kube-proxy's TestSyncProxyRulesRepeated (nfacct %s)", (withNfacct) => {
  it('writes, after each change, exactly the payload kube-proxy writes', () => {
    const node = new Node(withNfacct);
    // One of kube-proxy's expected dumps for this test (default node-port jump, localhost firewall).
    const dump = (parts: DumpParts) => kubeProxyDump({ ...parts, nfacct: withNfacct });
    const s1 = snapshot([entry(svc1, [ep('10.0.1.1')]), entry(svc2, [ep('10.0.2.1', 8080)])]);
    let out = node.sync(s1);
    expect(out.full).toBe(true);
    expectSameDump(
      out.payload,
      dump({
        natChains: [...SVC1_CHAINS.chains, ...SVC2_CHAINS.chains],
        nat: [CAPTURE.svc1, CAPTURE.svc2, ...SVC1_CHAINS.rules, ...SVC2_CHAINS.rules],
      }),
    );

    // A new service with endpoints: only its own chains are written.
    const s2 = editPorts(s1, (p) => p.set(svc3.key, entry(svc3, [ep('10.0.3.1')])));
    out = node.sync(s2);
    expect(out.full).toBe(false);
    expectSameDump(
      out.payload,
      dump({
        natChains: SVC3_FIRST.chains,
        nat: [CAPTURE.svc1, CAPTURE.svc2, CAPTURE.svc3, ...SVC3_FIRST.rules],
      }),
    );

    // Deleting a service deletes its chains and touches no other service's.
    const s3 = editPorts(s2, (p) => p.delete(svc2.key));
    out = node.sync(s3);
    expectSameDump(
      out.payload,
      dump({
        natChains: SVC2_CHAINS.chains,
        nat: [CAPTURE.svc1, CAPTURE.svc3, '-X KUBE-SEP-UHEGFW77JX3KXTOV', '-X KUBE-SVC-2VJB64SDSIJUP5T6'],
      }),
    );

    // A service without endpoints only adds a REJECT; its endpoints then bring its chains.
    const s4 = editPorts(s3, (p) => p.set(svc4.key, entry(svc4)));
    out = node.sync(s4);
    expectSameDump(
      out.payload,
      dump({
        filter: [
          '-A KUBE-SERVICES -m comment --comment "ns4/svc4:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.44 --dport 80 -j REJECT',
        ],
        nat: [CAPTURE.svc1, CAPTURE.svc3],
      }),
    );
    const s5 = editPorts(s4, (p) => p.set(svc4.key, entry(svc4, [ep('10.0.4.1')])));
    out = node.sync(s5);
    expectSameDump(
      out.payload,
      dump({
        natChains: ['KUBE-SEP-AYCN5HPXMIRJNJXU', 'KUBE-SVC-4SW47YFZTEDKD3PK'],
        nat: [
          CAPTURE.svc1,
          CAPTURE.svc3,
          CAPTURE.svc4,
          '-A KUBE-SEP-AYCN5HPXMIRJNJXU -m comment --comment ns4/svc4:p80 -s 10.0.4.1 -j KUBE-MARK-MASQ',
          '-A KUBE-SEP-AYCN5HPXMIRJNJXU -m comment --comment ns4/svc4:p80 -m tcp -p tcp -j DNAT --to-destination 10.0.4.1:80',
          '-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 cluster IP" -m tcp -p tcp -d 172.30.0.44 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ',
          '-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 -> 10.0.4.1:80" -j KUBE-SEP-AYCN5HPXMIRJNJXU',
        ],
      }),
    );

    // An endpoint changing its address rewrites the service's chains and deletes the old SEP.
    const s6 = editPorts(s5, (p) => p.set(svc3.key, entry(svc3, [ep('10.0.3.2')])));
    out = node.sync(s6);
    expectSameDump(
      out.payload,
      dump({
        natChains: ['KUBE-SEP-BSWRHOQ77KEXZLNL', 'KUBE-SEP-DKCFIS26GWF2WLWC', 'KUBE-SVC-X27LE4BHSL4DOUIK'],
        nat: [
          CAPTURE.svc1,
          CAPTURE.svc3,
          CAPTURE.svc4,
          ...SEP_10_0_3_2,
          SVC3_MASQ,
          '-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 -> 10.0.3.2:80" -j KUBE-SEP-DKCFIS26GWF2WLWC',
          '-X KUBE-SEP-BSWRHOQ77KEXZLNL',
        ],
      }),
    );

    // A second endpoint: the service's chains again, now with the probability split.
    const s7 = editPorts(s6, (p) => p.set(svc3.key, entry(svc3, [ep('10.0.3.2'), ep('10.0.3.3')])));
    out = node.sync(s7);
    expectSameDump(
      out.payload,
      dump({
        natChains: SVC3_TWO_ENDPOINTS.chains,
        nat: [CAPTURE.svc1, CAPTURE.svc3, CAPTURE.svc4, ...SVC3_TWO_ENDPOINTS.rules],
      }),
    );

    // Nothing changed: no per-service chain is written.
    out = node.sync(s7);
    expect(out.full).toBe(false);
    expectSameDump(out.payload, dump({ nat: [CAPTURE.svc1, CAPTURE.svc3, CAPTURE.svc4] }));

    // A foreign rule makes svc3's chain jump to svc4's endpoint: deleting svc4 in a partial
    // sync cannot delete that chain, the restore fails and the next sync is a full one that
    // rewrites svc3 as well.
    node.kernel.restore('*nat\n-A KUBE-SVC-X27LE4BHSL4DOUIK -j KUBE-SEP-AYCN5HPXMIRJNJXU\nCOMMIT\n', {
      noflush: true,
    });
    const s8 = editPorts(s7, (p) => p.delete(svc4.key));
    out = node.sync(s8);
    expect(out.ok).toBe(false);
    expect(out.full).toBe(false);
    expect(node.kernel.hasChain('nat', 'KUBE-SEP-AYCN5HPXMIRJNJXU')).toBe(true);
    expect(node.renderer.nextSyncIsFull).toBe(true);

    out = node.sync(s8);
    expect(out).toMatchObject({ ok: true, full: true });
    expectSameDump(
      out.payload,
      dump({
        natChains: [
          'KUBE-SEP-AYCN5HPXMIRJNJXU',
          ...SVC3_TWO_ENDPOINTS.chains,
          ...SVC1_CHAINS.chains,
          'KUBE-SVC-4SW47YFZTEDKD3PK',
        ],
        nat: [
          CAPTURE.svc1,
          CAPTURE.svc3,
          ...SVC3_TWO_ENDPOINTS.rules,
          ...SVC1_CHAINS.rules,
          '-X KUBE-SEP-AYCN5HPXMIRJNJXU',
          '-X KUBE-SVC-4SW47YFZTEDKD3PK',
        ],
      }),
    );
    expect(node.kernel.hasChain('nat', 'KUBE-SVC-4SW47YFZTEDKD3PK')).toBe(false);
  });
});
