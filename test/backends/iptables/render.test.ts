import { describe, expect, it } from 'vitest';
import { endpointChainName, serviceChainNames } from '../../../src/backends/iptables/chain-names';
import { masqueradeMarkOf } from '../../../src/backends/iptables/options';
import { probability } from '../../../src/backends/iptables/probability';
import { renderIptables } from '../../../src/backends/iptables/render';
import { entry, ep, port, snapshot, sortLikeKubeProxyTests } from './fixtures';
import { NODE, NODE_IP, OVERALL_EXPECTED, overallSnapshot, POD_CIDR } from './golden';

const BASE = { nodeName: NODE, nodeIPs: [NODE_IP], clusterCIDRs: [POD_CIDR] };

describe('chain names', () => {
  it('hashes service port name + protocol like kube-proxy', () => {
    expect(serviceChainNames('ns1/svc1:p80', 'TCP').cluster).toBe('KUBE-SVC-XPGD46QRK7WJZT7O');
    expect(serviceChainNames('ns5/svc5:p80', 'tcp').firewall).toBe('KUBE-FW-NUKIZ6OKUXPJNT4C');
    expect(serviceChainNames('ns2/svc2:p80', 'tcp').external).toBe('KUBE-EXT-GNZBNJ2PO5MGZ6GT');
    expect(serviceChainNames('ns2/svc2:p80', 'tcp').local).toBe('KUBE-SVL-GNZBNJ2PO5MGZ6GT');
  });
  it('hashes the endpoint into KUBE-SEP- names', () => {
    expect(endpointChainName('ns1/svc1:p80', 'tcp', '10.180.0.1:80')).toBe('KUBE-SEP-SXIVWICOYRO3J4NJ');
    expect(endpointChainName('ns4/svc4:p80', 'tcp', '10.180.0.5:80')).toBe('KUBE-SEP-C6EBXVWJJZMIWKLZ');
  });
});

describe('probability', () => {
  it('prints %0.10f of 1/n', () => {
    expect(probability(1)).toBe('1.0000000000');
    expect(probability(2)).toBe('0.5000000000');
    expect(probability(3)).toBe('0.3333333333');
    expect(probability(6)).toBe('0.1666666667');
    expect(probability(7)).toBe('0.1428571429');
  });
  it('rounds exact ties to even as Go does', () => {
    // 1/2048 = 0.00048828125 exactly.
    expect(probability(2048)).toBe('0.0004882812');
    expect(probability(4096)).toBe('0.0002441406');
  });
});

describe('masquerade mark', () => {
  it('is printed as Go prints %#08x', () => {
    expect(masqueradeMarkOf(14)).toBe('0x00004000');
    expect(masqueradeMarkOf(0)).toBe('0x00000001');
    expect(masqueradeMarkOf(31)).toBe('0x80000000');
    expect(() => masqueradeMarkOf(32)).toThrow(RangeError);
  });
});

describe('renderIptables', () => {
  it("matches kube-proxy's TestOverallIPTablesRules", () => {
    const out = renderIptables(overallSnapshot(), { ...BASE, nfacct: true });
    const expected = OVERALL_EXPECTED.replaceAll('0x4000', '0x00004000');
    expect(sortLikeKubeProxyTests(out.payload)).toBe(expected);
    expect(out.payload).toBe(out.filter + out.nat);
  });

  it('writes tables and top-level chains in kube-proxy order', () => {
    const out = renderIptables(overallSnapshot(), BASE);
    const lines = out.payload.split('\n');
    expect(lines.slice(0, 7)).toEqual([
      '*filter',
      ':KUBE-SERVICES - [0:0]',
      ':KUBE-EXTERNAL-SERVICES - [0:0]',
      ':KUBE-FORWARD - [0:0]',
      ':KUBE-NODEPORTS - [0:0]',
      ':KUBE-PROXY-FIREWALL - [0:0]',
      ':KUBE-FIREWALL - [0:0]',
    ]);
    const nat = out.nat.split('\n');
    expect(nat.slice(0, 5)).toEqual([
      '*nat',
      ':KUBE-SERVICES - [0:0]',
      ':KUBE-NODEPORTS - [0:0]',
      ':KUBE-POSTROUTING - [0:0]',
      ':KUBE-MARK-MASQ - [0:0]',
    ]);
    const firstRule = nat.findIndex((l) => l.startsWith('-A '));
    expect(nat.slice(firstRule, firstRule + 4)).toEqual([
      '-A KUBE-POSTROUTING -m mark ! --mark 0x00004000/0x00004000 -j RETURN',
      '-A KUBE-POSTROUTING -j MARK --xor-mark 0x00004000',
      '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE',
      '-A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000',
    ]);
    // The node-ports jump is the last KUBE-SERVICES rule, after every service's capture.
    const svcRules = nat.filter((l) => l.startsWith('-A KUBE-SERVICES '));
    expect(svcRules.at(-1)).toContain('-j KUBE-NODEPORTS');
    expect(out.nat.endsWith('COMMIT\n')).toBe(true);
    // Without nfacct there are no nfacct matches at all.
    expect(out.payload).not.toContain('nfacct');
    expect(out.filter).toContain('-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP\n');
  });

  it('honours masquerade bit, --random-fully and masqueradeAll', () => {
    const snap = snapshot([entry(port('ns1', 'svc1', { clusterIPs: ['172.30.0.41'] }), [ep('10.180.0.1')])]);
    const out = renderIptables(snap, { ...BASE, masqueradeBit: 3, randomFully: true, masqueradeAll: true });
    expect(out.nat).toContain('-A KUBE-MARK-MASQ -j MARK --or-mark 0x00000008\n');
    expect(out.nat).toContain('"kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully\n');
    expect(out.nat).toContain(
      '-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-MARK-MASQ\n',
    );
    expect(out.filter).toContain('--mark 0x00000008/0x00000008 -j ACCEPT');
  });

  it('writes no masquerade rule for cluster IPs without a local-traffic detector', () => {
    const snap = snapshot([entry(port('ns1', 'svc1', { clusterIPs: ['172.30.0.41'] }), [ep('10.180.0.1')])]);
    const out = renderIptables(snap, { nodeName: NODE });
    expect(out.nat).not.toMatch(/-A KUBE-SVC-\S+ .*cluster IP.*KUBE-MARK-MASQ/);
  });

  it('drops per-endpoint comments above the large-cluster threshold', () => {
    const eps = Array.from({ length: 4 }, (_, i) => ep(`10.180.0.${i + 1}`));
    const snap = snapshot([entry(port('ns1', 'svc1', { clusterIPs: ['172.30.0.41'] }), eps)]);
    const small = renderIptables(snap, { ...BASE, largeClusterThreshold: 4 });
    expect(small.largeClusterMode).toBe(false);
    const large = renderIptables(snap, { ...BASE, largeClusterThreshold: 3 });
    expect(large.largeClusterMode).toBe(true);
    const sep = endpointChainName('ns1/svc1:p80', 'tcp', '10.180.0.1:80');
    expect(large.nat).toContain(`-A ${sep} -s 10.180.0.1 -j KUBE-MARK-MASQ\n`);
    expect(large.nat).toContain(`-A ${sep} -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80\n`);
    expect(large.nat).toContain(
      `-A KUBE-SVC-XPGD46QRK7WJZT7O -m statistic --mode random --probability 0.2500000000 -j ${sep}\n`,
    );
    // Service-level comments stay.
    expect(large.nat).toContain('--comment "ns1/svc1:p80 cluster IP"');
  });

  it('orders endpoints by ip:port text and chains probabilities 1/n … 1/2', () => {
    const eps = [ep('10.180.0.9'), ep('10.180.0.10'), ep('10.180.0.2')];
    const out = renderIptables(
      snapshot([entry(port('ns1', 'svc1', { clusterIPs: ['172.30.0.41'] }), eps)]),
      BASE,
    );
    const jumps = out.nat
      .split('\n')
      .filter((l) => l.startsWith('-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 ->'));
    expect(jumps.map((l) => /-> (\S+)"/.exec(l)?.[1])).toEqual([
      '10.180.0.10:80',
      '10.180.0.2:80',
      '10.180.0.9:80',
    ]);
    expect(jumps[0]).toContain('--probability 0.3333333333');
    expect(jumps[1]).toContain('--probability 0.5000000000');
    expect(jumps[2]).not.toContain('--probability');
  });

  it('limits node ports to --nodeport-addresses', () => {
    const snap = snapshot([
      entry(port('ns3', 'svc3', { type: 'NodePort', clusterIPs: ['172.30.0.43'], nodePort: 3003 }), [
        ep('10.180.0.3'),
      ]),
    ]);
    const out = renderIptables(snap, {
      ...BASE,
      nodeIPs: [NODE_IP, '192.168.1.2'],
      nodePortAddresses: ['192.168.0.0/24', '2001:db8::/64'],
    });
    expect(out.nat).toContain(
      '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -d 192.168.0.2 -j KUBE-NODEPORTS\n',
    );
    expect(out.nat).not.toContain('--dst-type LOCAL -j KUBE-NODEPORTS');
    expect(out.nat).not.toContain('-d 192.168.1.2 -j KUBE-NODEPORTS');
    // 127.0.0.1 is outside the CIDRs: no localhost node ports, no KUBE-FIREWALL.
    expect(out.filter).not.toContain('KUBE-FIREWALL');
    expect(out.nat).not.toContain('127.0.0.0/8');
  });

  it('serves node ports on 127.0.0.1 when --nodeport-addresses covers loopback', () => {
    const out = renderIptables(snapshot([]), {
      ...BASE,
      nodePortAddresses: ['127.0.0.0/8', '192.168.0.0/24'],
    });
    const tail = out.nat.split('\n').filter((l) => l.endsWith('-j KUBE-NODEPORTS'));
    expect(tail.map((l) => / -d (\S+) /.exec(l)?.[1])).toEqual(['192.168.0.2', '127.0.0.1']);
    expect(out.filter).toContain(':KUBE-FIREWALL - [0:0]');
    const off = renderIptables(snapshot([]), {
      ...BASE,
      localhostNodePorts: false,
      nodePortAddresses: ['127.0.0.0/8', '192.168.0.0/24'],
    });
    expect(off.nat).not.toContain('-d 127.0.0.1 -j KUBE-NODEPORTS');
  });

  it('excludes localhost when localhost node ports are off', () => {
    const snap = snapshot([]);
    const out = renderIptables(snap, { ...BASE, localhostNodePorts: false, nfacct: true });
    expect(out.nat).toContain('-m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS');
    expect(out.filter).not.toContain('KUBE-FIREWALL');
  });

  it('renders IPv6 with bracketed endpoints, ::1 excluded and no localhost node ports', () => {
    const snap = snapshot([
      entry(
        port('ns1', 'svc1', {
          type: 'NodePort',
          clusterIPs: ['172.30.0.41', 'fd00:172:30::41'],
          nodePort: 3001,
          externalIPs: ['192.168.99.11', '2001:DB8::0:11'],
        }),
        [ep('10.180.0.1'), ep('fd00:10:180::1'), ep('fd00:10:180::2')],
      ),
    ]);
    const out = renderIptables(snap, {
      ...BASE,
      nodeIPs: ['2001:db8::1'],
      clusterCIDRs: [POD_CIDR, 'fd00:10::/64'],
      ipFamily: 'IPv6',
      nfacct: true,
    });
    expect(out.nat).toContain('-d fd00:172:30::41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O');
    expect(out.nat).toContain('-d 2001:db8::11 --dport 80 -j KUBE-EXT-XPGD46QRK7WJZT7O');
    expect(out.nat).not.toContain('192.168.99.11');
    expect(out.nat).not.toContain('10.180.0.1');
    expect(out.nat).toContain('-j DNAT --to-destination [fd00:10:180::1]:80');
    expect(out.nat).toContain('! -s fd00:10::/64 -j KUBE-MARK-MASQ');
    expect(out.nat).toContain('-m addrtype --dst-type LOCAL ! -d ::1/128 -j KUBE-NODEPORTS');
    expect(out.payload).not.toContain('127.0.0.0/8');
    expect(out.payload).not.toContain('localhost_nps_accepted_pkts');
    expect(out.filter).not.toContain('KUBE-FIREWALL');
  });

  it('skips service ports without a cluster IP of the family and invalid addresses', () => {
    const snap = snapshot([
      entry(port('ns1', 'v6only', { clusterIPs: ['fd00::1'] }), [ep('fd00:10::1')]),
      entry(
        port('ns1', 'svc1', {
          clusterIPs: ['172.30.0.41'],
          externalIPs: ['not-an-ip', '192.168.099.022'],
          loadBalancerVIPs: ['1.2.3.4 ', 'fd00::9'],
          loadBalancerSourceRanges: ['bogus', '203.0.113.7/25'],
          type: 'LoadBalancer',
        }),
        [ep('10.180.0.1'), ep('999.1.1.1')],
      ),
    ]);
    const out = renderIptables(snap, BASE);
    expect(out.payload).not.toContain('v6only');
    expect(out.nat).toContain('-d 192.168.99.22 --dport 80 -j KUBE-EXT-');
    expect(out.nat).toContain('-d 1.2.3.4 --dport 80 -j KUBE-FW-');
    expect(out.nat).toContain('-s 203.0.113.0/25 -j KUBE-EXT-');
    expect(out.payload).not.toContain('999.1.1.1');
    expect(out.payload).not.toContain('bogus');
    expect(out.stats.endpoints).toBe(1);
  });

  it('lets the node through a source-range firewall that covers its IP', () => {
    const snap = snapshot([
      entry(
        port('ns5', 'svc5', {
          type: 'LoadBalancer',
          clusterIPs: ['172.30.0.45'],
          loadBalancerVIPs: ['5.6.7.8'],
          loadBalancerSourceRanges: ['192.168.0.0/16'],
        }),
        [ep('10.180.0.3')],
      ),
    ]);
    const out = renderIptables(snap, BASE);
    expect(out.nat).toContain(
      '-A KUBE-FW-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 loadbalancer IP" -s 5.6.7.8 -j KUBE-EXT-NUKIZ6OKUXPJNT4C\n',
    );
  });

  it('drops internal traffic with internalTrafficPolicy Local and no local endpoints', () => {
    const snap = snapshot([
      entry(port('ns1', 'svc1', { clusterIPs: ['172.30.0.41'], internalPolicyLocal: true }), [
        ep('10.180.0.1'),
      ]),
    ]);
    const out = renderIptables(snap, BASE);
    expect(out.filter).toContain(
      '-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 has no local endpoints" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j DROP\n',
    );
    expect(out.nat).not.toContain('KUBE-SVC-');
    expect(out.nat).not.toContain('KUBE-SEP-');
  });

  it('routes internalTrafficPolicy Local to the KUBE-SVL- chain of local endpoints', () => {
    const snap = snapshot([
      entry(port('ns1', 'svc1', { clusterIPs: ['172.30.0.41'], internalPolicyLocal: true }), [
        ep('10.180.0.1', 80, { nodeName: NODE }),
        ep('10.180.0.2', 80, { nodeName: 'other' }),
      ]),
    ]);
    const out = renderIptables(snap, BASE);
    expect(out.nat).toContain('--dport 80 -j KUBE-SVL-XPGD46QRK7WJZT7O\n');
    expect(out.nat).toContain(':KUBE-SVL-XPGD46QRK7WJZT7O - [0:0]');
    expect(out.nat).not.toContain(':KUBE-SVC-XPGD46QRK7WJZT7O');
    expect(out.nat).toContain('--to-destination 10.180.0.1:80');
    expect(out.nat).not.toContain('--to-destination 10.180.0.2:80');
  });

  it('accepts a UDP service with the udp match', () => {
    const snap = snapshot([
      entry(
        port('kube-system', 'dns', {
          portName: 'dns',
          protocol: 'UDP',
          port: 53,
          clusterIPs: ['172.30.0.10'],
        }),
        [ep('10.180.0.53', 53)],
      ),
    ]);
    const out = renderIptables(snap, BASE);
    expect(out.nat).toContain(
      '-A KUBE-SERVICES -m comment --comment "kube-system/dns:dns cluster IP" -m udp -p udp -d 172.30.0.10 --dport 53 -j KUBE-SVC-',
    );
    expect(out.nat).toContain('-m udp -p udp -j DNAT --to-destination 10.180.0.53:53');
  });

  it('renders a snapshot without services as the bare skeleton', () => {
    const out = renderIptables(snapshot([]), BASE);
    expect(out.stats.servicePorts).toBe(0);
    expect(out.serviceChains.size).toBe(0);
    expect(out.nat.split('\n').filter((l) => l.startsWith('-A'))).toHaveLength(5);
  });
});
