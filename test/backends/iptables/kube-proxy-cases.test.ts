import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { serviceChainNames } from '../../../src/backends/iptables/chain-names';
import { renderIptables } from '../../../src/backends/iptables/render';
import { iptablesOptionsFrom, snapshotFromFiles } from '../../../src/cli/commands/render-iptables';
import { type TracePacket, tracePacket } from '../../../src/testing/iptables-tracer';
import { entry, ep, port, snapshot, testLoadBalancerSnapshot } from './fixtures';
import { NODE, NODE_IP, POD_CIDR } from './golden';

const OPTIONS = { nodeName: NODE, nodeIPs: [NODE_IP], clusterCIDRs: [POD_CIDR] };
// kube-proxy's test addresses: an allowed and a blocked external client, and the node.
const EXTERNAL_CLIENT = '203.0.113.2';
const EXTERNAL_CLIENT_BLOCKED = '203.0.113.130';
const LOCAL = { localAddresses: [NODE_IP] };

const dir = mkdtempSync(join(tmpdir(), 'svcroute-ipt-cases-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function only(payload: string, packet: Omit<TracePacket, 'protocol'>) {
  const outcomes = tracePacket(payload, { protocol: 'tcp', ...packet }, LOCAL);
  expect(outcomes).toHaveLength(1);
  return outcomes[0]!;
}

describe("kube-proxy's TestLoadBalancer", () => {
  const snap = testLoadBalancerSnapshot();
  const payload = renderIptables(snap, OPTIONS).payload;
  const EP = '10.180.0.1:80';

  it.each([
    ['pod to cluster IP', '10.0.0.2', '172.30.0.41', 80, EP, false],
    ['external to nodePort', EXTERNAL_CLIENT, NODE_IP, 3001, EP, true],
    ['nodePort bypasses LoadBalancerSourceRanges', EXTERNAL_CLIENT_BLOCKED, NODE_IP, 3001, EP, true],
    ['accepted external to LB1', EXTERNAL_CLIENT, '1.2.3.4', 80, EP, true],
    ['accepted external to LB2', EXTERNAL_CLIENT, '5.6.7.8', 80, EP, true],
    ['blocked external to LB1', EXTERNAL_CLIENT_BLOCKED, '1.2.3.4', 80, 'DROP', false],
    ['pod to LB2 (blocked by source ranges)', '10.0.0.2', '5.6.7.8', 80, 'DROP', false],
    ['node to LB1 (allowed by source ranges)', NODE_IP, '1.2.3.4', 80, EP, true],
    ['same node to LB2, SNATted to LB2 (implicitly allowed)', '5.6.7.8', '5.6.7.8', 80, EP, true],
  ] as const)('%s', (_name, source, destination, p, want, masq) => {
    const o = only(payload, { source, destination, port: p });
    if (want === 'DROP') {
      expect(o.verdict).toBe('DROP');
    } else {
      expect(o).toMatchObject({ verdict: 'ACCEPT', dnat: want, masquerade: masq });
    }
  });
});

describe('loadBalancerSourceRanges edge cases', () => {
  it('a zero-masked range means "allow any": no firewall chain at all', () => {
    const { firewall, external } = serviceChainNames('ns1/svc1:p80', 'tcp');
    const snap = snapshot([
      entry(
        port('ns1', 'svc1', {
          type: 'LoadBalancer',
          clusterIPs: ['172.30.0.41'],
          loadBalancerVIPs: ['1.2.3.4'],
          loadBalancerSourceRanges: ['10.0.0.0/8', '0.0.0.0/0'],
        }),
        [ep('10.180.0.1')],
      ),
    ]);
    const out = renderIptables(snap, OPTIONS);
    expect(out.payload).not.toContain(firewall);
    expect(out.nat).toContain(
      `-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 loadbalancer IP" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j ${external}\n`,
    );
    expect(
      only(out.payload, { source: EXTERNAL_CLIENT_BLOCKED, destination: '1.2.3.4', port: 80 }),
    ).toMatchObject({
      verdict: 'ACCEPT',
      dnat: '10.180.0.1:80',
    });
  });

  it("a zero range of the other family does not lift this family's firewall", () => {
    const snap = snapshot([
      entry(
        port('ns1', 'svc1', {
          type: 'LoadBalancer',
          clusterIPs: ['172.30.0.41'],
          loadBalancerVIPs: ['1.2.3.4'],
          loadBalancerSourceRanges: ['10.0.0.0/8', '::/0'],
        }),
        [ep('10.180.0.1')],
      ),
    ]);
    expect(renderIptables(snap, OPTIONS).nat).toContain(':KUBE-FW-');
  });
});

describe('--nodeport-addresses and localhost node ports', () => {
  const snap = snapshot([
    entry(port('ns1', 'svc1', { type: 'NodePort', clusterIPs: ['172.30.0.41'], nodePort: 3001 }), [
      ep('10.180.0.1'),
    ]),
  ]);

  it('a loopback host range other than 127.0.0.1 still keeps localhost node ports on', () => {
    // kube-proxy counts a range as holding loopback when its address is a loopback one.
    const out = renderIptables(snap, { ...OPTIONS, nodePortAddresses: ['127.0.0.5/32', '192.168.0.0/24'] });
    expect(out.filter).toContain(':KUBE-FIREWALL - [0:0]\n');
    expect(out.nat).toContain(
      '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -d 192.168.0.2 -j KUBE-NODEPORTS\n',
    );
    expect(out.nat).not.toContain('-d 127.0.0.1 -j KUBE-NODEPORTS');
  });

  it('a range without loopback turns localhost node ports off', () => {
    const out = renderIptables(snap, { ...OPTIONS, nodePortAddresses: ['192.168.0.0/24'] });
    expect(out.filter).not.toContain('KUBE-FIREWALL');
  });
});

const MANIFESTS = `apiVersion: v1
kind: Service
metadata: {name: svc1, namespace: ns1}
spec:
  type: NodePort
  clusterIP: 172.30.0.41
  clusterIPs: [172.30.0.41]
  externalIPs: [192.168.99.11]
  ports:
  - {name: p80, port: 80, protocol: TCP, targetPort: 80, nodePort: 30001}
  - {name: p81, port: 81, protocol: UDP, targetPort: 81, nodePort: 30002}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: svc1-abc
  namespace: ns1
  labels: {kubernetes.io/service-name: svc1}
addressType: IPv4
endpoints:
- addresses: [10.180.0.1]
  conditions: {ready: null}
- addresses: [10.180.0.2]
  conditions: {}
  nodeName: ${NODE}
ports:
- {name: p80, port: 80, protocol: TCP}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: svc1-def
  namespace: ns1
  labels: {kubernetes.io/service-name: svc1}
addressType: IPv4
endpoints:
- addresses: [10.180.0.3]
ports:
- {name: p81, port: 81, protocol: UDP}
`;

describe('manifests to rules (the CLI path)', () => {
  it('treats ready: null as ready, merges slices per port and captures external IPs', async () => {
    const file = join(dir, 'svc1.yaml');
    writeFileSync(file, MANIFESTS);
    const snap = await snapshotFromFiles([file]);
    const opts = iptablesOptionsFrom({
      filename: [file],
      nodeName: NODE,
      nodeIp: [NODE_IP],
      clusterCidr: POD_CIDR,
      masqueradeBit: 14,
      localhostNodeports: true,
      nodePortAddresses: [],
    });
    const out = renderIptables(snap, opts);
    // Chain names and endpoint chains as in kube-proxy's TestOverallIPTablesRules for ns1/svc1:p80.
    expect(out.nat).toContain(
      '-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-SXIVWICOYRO3J4NJ\n' +
        '-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.2:80" -j ',
    );
    expect(out.nat).toContain(
      '-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 external IP" -m tcp -p tcp -d 192.168.99.11 --dport 80 -j KUBE-EXT-XPGD46QRK7WJZT7O\n',
    );
    expect(out.nat).toContain('-m udp -p udp -j DNAT --to-destination 10.180.0.3:81\n');
    expect(out.payload.startsWith('*filter\n:KUBE-SERVICES - [0:0]\n')).toBe(true);
    expect(out.payload.endsWith('-j KUBE-NODEPORTS\nCOMMIT\n')).toBe(true);
    const udp = tracePacket(
      out.payload,
      { source: '10.0.0.2', protocol: 'udp', destination: '172.30.0.41', port: 81 },
      LOCAL,
    );
    expect(udp.map((o) => o.dnat)).toEqual(['10.180.0.3:81']);
  });
});
