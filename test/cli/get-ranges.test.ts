import { describe, expect, it } from 'vitest';
import { cli } from './helpers';

/** `kubectl get svc -o yaml` of a cluster whose service CIDR and node port range are not the defaults. */
function dump(nodePort: number): string {
  return `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata:
    name: gateway
    namespace: default
  spec:
    type: NodePort
    clusterIP: 172.20.0.10
    clusterIPs:
    - 172.20.0.10
    ports:
    - port: 80
      nodePort: ${nodePort}
`;
}

const get = (flags: string[], nodePort = 30500) =>
  cli(['get', 'svc', '-f', '-', ...flags], { stdin: dump(nodePort) });

describe('svcroute get: each range flag checks its own values', () => {
  it('--service-node-port-range alone checks node ports and keeps the cluster IPs as they are', async () => {
    const r = await get(['--service-node-port-range', '30000-30100']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      'error: <stdin>: document 0, items[0] (line 16): Service "default/gateway": spec.ports[0].nodePort: Invalid value: 30500: provided port is not in the valid range. The range of valid ports is 30000-30100\n',
    );
    const inRange = await get(['--service-node-port-range', '30000-30999']);
    expect(inRange.code).toBe(0);
    expect(inRange.stdout).toContain('172.20.0.10');
  });

  it('--service-cluster-ip-range alone checks cluster IPs and keeps the node ports as they are', async () => {
    const r = await get(['--service-cluster-ip-range', '172.20.0.0/16']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^gateway\s+NodePort\s+172\.20\.0\.10\s+<none>\s+80:30500\/TCP\s/m);
    // Outside the default 30000-32767 too: only the node port flag brings a range to check against.
    const custom = await get(['--service-cluster-ip-range', '172.20.0.0/16'], 40500);
    expect(custom.stderr).toBe('');
    expect(custom.stdout).toContain('80:40500/TCP');
  });

  it('--service-cluster-ip-range refuses a cluster IP outside it', async () => {
    const r = await get(['--service-cluster-ip-range', '10.0.0.0/24']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      'error: <stdin>: document 0, items[0] (line 13): Service "default/gateway": spec.clusterIPs: Invalid value: []string{"172.20.0.10"}: failed to allocate IP 172.20.0.10: the provided network does not match the current range\n',
    );
  });

  it('both flags check both', async () => {
    const r = await get([
      '--service-cluster-ip-range',
      '172.20.0.0/16',
      '--service-node-port-range',
      '30000-30100',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'spec.ports[0].nodePort: Invalid value: 30500: provided port is not in the valid range',
    );
    const ok = await get([
      '--service-cluster-ip-range',
      '172.20.0.0/16',
      '--service-node-port-range',
      '30000-30999',
    ]);
    expect(ok.code).toBe(0);
  });

  it('validate applies the flags the same way', async () => {
    const r = await cli(['validate', '-f', '-', '--service-node-port-range', '30000-30999'], {
      stdin: dump(30500),
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('service/gateway valid\n');
    expect(r.code).toBe(0);
  });
});
