import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from './helpers';

const MANIFESTS = `apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIP: 10.96.0.50
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-local
  namespace: default
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
endpoints:
- addresses: [127.0.0.21]
- addresses: [127.0.0.22]
ports: [{port: 8080, protocol: TCP}]
`;

describe('EndpointSlices with loopback addresses (local backends)', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'svcroute-lb-')), 'web.yaml');
  writeFileSync(file, MANIFESTS);

  it('are served by the commands that build a local service network', async () => {
    const r = await cli(['get', 'endpointslices', '-f', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('127.0.0.21,127.0.0.22');
    const rules = await cli(['render', 'iptables', '-f', file, '--node-name', 'n1']);
    expect(rules.code).toBe(0);
    expect(rules.stdout).toContain('--to-destination 127.0.0.21:8080');
  });

  it('are still reported by validate, as the API server would', async () => {
    const r = await cli(['validate', '-f', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('may not be in the loopback range (127.0.0.0/8, ::1/128)');
  });
});
