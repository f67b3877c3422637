import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderIptables } from '../../../src/backends/iptables/render';
import { snapshotFromFiles } from '../../../src/cli/commands/render-iptables';
import { tracePacket } from '../../../src/testing/iptables-tracer';
import { NODE, NODE_IP, POD_CIDR } from './golden';

const OPTIONS = { nodeName: NODE, nodeIPs: [NODE_IP], clusterCIDRs: [POD_CIDR] };
const dir = mkdtempSync(join(tmpdir(), 'svcroute-ipt-ipmode-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** ns1/svc1 (LoadBalancer, port p80, node port 3001) with one endpoint and the given ingress. */
function manifests(ingress: string, extraSpec = ''): string {
  return `apiVersion: v1
kind: Service
metadata: {name: svc1, namespace: ns1}
spec:
  type: LoadBalancer
  clusterIP: 172.30.0.41
  clusterIPs: [172.30.0.41]
${extraSpec}  ports:
  - {name: p80, port: 80, protocol: TCP, targetPort: 80, nodePort: 3001}
status:
  loadBalancer:
    ingress: ${ingress}
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
ports:
- {name: p80, port: 80, protocol: TCP}
`;
}

async function render(name: string, text: string) {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, text);
  return renderIptables(await snapshotFromFiles([file]), OPTIONS);
}

const LB_CAPTURE =
  '-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 loadbalancer IP" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j KUBE-EXT-XPGD46QRK7WJZT7O\n';

describe("kube-proxy's TestLoadBalancerIngressRouteTypeProxy (LoadBalancerIPMode is GA)", () => {
  it.each([
    ['ipMode VIP', '[{ip: 1.2.3.4, ipMode: VIP}]', true],
    ['no ipMode', '[{ip: 1.2.3.4}]', true],
    ['ipMode Proxy', '[{ip: 1.2.3.4, ipMode: Proxy}]', false],
  ])('%s', async (name, ingress, captured) => {
    const out = await render(name.replaceAll(' ', '-'), manifests(ingress));
    expect(out.nat.includes(LB_CAPTURE)).toBe(captured);
    const outcomes = tracePacket(
      out.payload,
      { source: '203.0.113.2', protocol: 'tcp', destination: '1.2.3.4', port: 80 },
      { localAddresses: [NODE_IP] },
    );
    expect(outcomes.map((o) => o.dnat)).toEqual([captured ? '10.180.0.1:80' : undefined]);
  });

  it('a Proxy-mode ingress IP gets neither firewall nor "no local endpoints" rules', async () => {
    const out = await render(
      'proxy-local-ranges',
      manifests(
        '[{ip: 1.2.3.4, ipMode: Proxy}, {ip: 5.6.7.8, ipMode: VIP}]',
        '  externalTrafficPolicy: Local\n  healthCheckNodePort: 30000\n  loadBalancerSourceRanges: [203.0.113.0/25]\n',
      ),
    );
    expect(out.payload).not.toContain('-d 1.2.3.4');
    expect(out.filter).toContain(
      '-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns1/svc1:p80 has no local endpoints" -m tcp -p tcp -d 5.6.7.8 --dport 80 -j DROP\n',
    );
    expect(out.filter).toContain(
      '-A KUBE-PROXY-FIREWALL -m comment --comment "ns1/svc1:p80 traffic not accepted by KUBE-FW-XPGD46QRK7WJZT7O" -m tcp -p tcp -d 5.6.7.8 --dport 80 -j DROP\n',
    );
  });
});
