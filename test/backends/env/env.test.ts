import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  discoverFromEnv,
  EnvBackend,
  EnvDiscoveryError,
  envVarName,
  expandEnv,
  formatEnv,
  renderEnvForPod,
  renderServiceEnv,
  serviceEnvVars,
} from '../../../src/backends/env';
import type { Pod, Service } from '../../../src/core/types';

function svc(
  namespace: string,
  name: string,
  spec: Service['spec'],
  meta: Partial<Service['metadata']> = {},
): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { namespace, name, ...meta }, spec };
}

const redis = svc('default', 'redis-master', {
  clusterIP: '10.0.0.11',
  ports: [{ port: 6379, protocol: 'TCP' }],
});
const kubernetes = svc('default', 'kubernetes', {
  clusterIP: '10.96.0.1',
  ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 6443 }],
});

function pod(namespace: string, spec: Partial<Pod['spec']> = {}, meta: Partial<Pod['metadata']> = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { namespace, name: 'p', ...meta },
    spec: { containers: [{ name: 'app' }], ...spec },
  };
}

describe('serviceEnvVars', () => {
  it('gives exactly the kubelet variables for redis-master on 10.0.0.11:6379', () => {
    expect(formatEnv(serviceEnvVars(redis))).toBe(
      [
        'REDIS_MASTER_SERVICE_HOST=10.0.0.11',
        'REDIS_MASTER_SERVICE_PORT=6379',
        'REDIS_MASTER_PORT=tcp://10.0.0.11:6379',
        'REDIS_MASTER_PORT_6379_TCP=tcp://10.0.0.11:6379',
        'REDIS_MASTER_PORT_6379_TCP_PROTO=tcp',
        'REDIS_MASTER_PORT_6379_TCP_PORT=6379',
        'REDIS_MASTER_PORT_6379_TCP_ADDR=10.0.0.11',
        '',
      ].join('\n'),
    );
  });

  it('adds _SERVICE_PORT_<NAME> for named ports and link vars for every port, in FromServices order', () => {
    const s = svc('ns', 'my-svc', {
      clusterIP: '10.0.0.5',
      ports: [
        { name: 'http', port: 80 },
        { name: 'dns-udp', port: 53, protocol: 'UDP' },
      ],
    });
    expect(serviceEnvVars(s).map((v) => `${v.name}=${v.value}`)).toEqual([
      'MY_SVC_SERVICE_HOST=10.0.0.5',
      'MY_SVC_SERVICE_PORT=80',
      'MY_SVC_SERVICE_PORT_HTTP=80',
      'MY_SVC_SERVICE_PORT_DNS_UDP=53',
      'MY_SVC_PORT=tcp://10.0.0.5:80',
      'MY_SVC_PORT_80_TCP=tcp://10.0.0.5:80',
      'MY_SVC_PORT_80_TCP_PROTO=tcp',
      'MY_SVC_PORT_80_TCP_PORT=80',
      'MY_SVC_PORT_80_TCP_ADDR=10.0.0.5',
      'MY_SVC_PORT_53_UDP=udp://10.0.0.5:53',
      'MY_SVC_PORT_53_UDP_PROTO=udp',
      'MY_SVC_PORT_53_UDP_PORT=53',
      'MY_SVC_PORT_53_UDP_ADDR=10.0.0.5',
    ]);
  });

  it('brackets IPv6 cluster IPs in URLs only', () => {
    const vars = serviceEnvVars(svc('ns', 'v6', { clusterIP: 'fd00::1', ports: [{ port: 80 }] }));
    expect(vars.find((v) => v.name === 'V6_PORT')?.value).toBe('tcp://[fd00::1]:80');
    expect(vars.find((v) => v.name === 'V6_SERVICE_HOST')?.value).toBe('fd00::1');
    expect(vars.find((v) => v.name === 'V6_PORT_80_TCP_ADDR')?.value).toBe('fd00::1');
  });

  it('skips headless and ExternalName services', () => {
    expect(serviceEnvVars(svc('ns', 'h', { clusterIP: 'None', ports: [{ port: 80 }] }))).toEqual([]);
    expect(serviceEnvVars(svc('ns', 'e', { type: 'ExternalName', externalName: 'example.com' }))).toEqual([]);
  });

  it('transforms names: upper case, - to _', () => {
    expect(envVarName('my-long-svc')).toBe('MY_LONG_SVC');
  });
});

describe('visibility', () => {
  const other = svc('other', 'web', { clusterIP: '10.0.0.9', ports: [{ port: 80 }] });
  const mine = svc('mine', 'api', { clusterIP: '10.0.0.8', ports: [{ port: 8080 }] });

  it('sees same-namespace services and the master kubernetes service', () => {
    const names = renderServiceEnv([redis, kubernetes, other, mine], { namespace: 'mine' }).vars.map(
      (v) => v.name,
    );
    expect(names).toContain('API_SERVICE_HOST');
    expect(names).toContain('KUBERNETES_SERVICE_HOST');
    expect(names).not.toContain('WEB_SERVICE_HOST');
    expect(names).not.toContain('REDIS_MASTER_SERVICE_HOST');
  });

  it('enableServiceLinks false keeps only the master service', () => {
    const r = renderServiceEnv([redis, kubernetes, mine], { namespace: 'mine', enableServiceLinks: false });
    expect(r.vars.map((v) => v.name).filter((n) => n.endsWith('_SERVICE_HOST'))).toEqual([
      'KUBERNETES_SERVICE_HOST',
    ]);
    const inDefault = renderServiceEnv([redis, kubernetes], {
      namespace: 'default',
      enableServiceLinks: false,
    });
    expect(inDefault.vars.map((v) => v.name).filter((n) => n.endsWith('_SERVICE_HOST'))).toEqual([
      'KUBERNETES_SERVICE_HOST',
    ]);
  });

  it('a same-namespace kubernetes service overrides the master one', () => {
    const own = svc('mine', 'kubernetes', { clusterIP: '10.0.0.77', ports: [{ port: 443 }] });
    for (const order of [
      [kubernetes, own],
      [own, kubernetes],
    ]) {
      const r = renderServiceEnv(order, { namespace: 'mine' });
      expect(r.vars.find((v) => v.name === 'KUBERNETES_SERVICE_HOST')?.value).toBe('10.0.0.77');
    }
    const noLinks = renderServiceEnv([kubernetes, own], { namespace: 'mine', enableServiceLinks: false });
    expect(noLinks.vars.find((v) => v.name === 'KUBERNETES_SERVICE_HOST')?.value).toBe('10.96.0.1');
  });

  it('honours a custom master namespace', () => {
    const r = renderServiceEnv([kubernetes], { namespace: 'x', masterNamespace: 'kube-system' });
    expect(r.vars).toEqual([]);
  });

  it('warns when the environment grows past thousands of services', () => {
    const many = Array.from({ length: 1000 }, (_, i) =>
      svc('big', `s-${i}`, { clusterIP: `10.1.${i >> 8}.${i & 255}`, ports: [{ port: 80 }] }),
    );
    const r = renderServiceEnv(many, { namespace: 'big' });
    expect(r.serviceCount).toBe(1000);
    expect(r.warnings[0]).toMatch(/92615/);
    expect(renderServiceEnv([redis], { namespace: 'default' }).warnings).toEqual([]);
  });
});

describe('renderEnvForPod', () => {
  it('applies the snapshot rule by creation time', () => {
    const early = svc(
      'ns',
      'early',
      { clusterIP: '10.0.0.1', ports: [{ port: 1 }] },
      { creationTimestamp: '2024-01-01T00:00:00Z' },
    );
    const late = svc(
      'ns',
      'late',
      { clusterIP: '10.0.0.2', ports: [{ port: 2 }] },
      { creationTimestamp: '2024-01-03T00:00:00Z' },
    );
    const p = pod('ns', {}, { creationTimestamp: '2024-01-02T00:00:00Z' });
    const names = renderEnvForPod(p, [early, late]).vars.map((v) => v.name);
    expect(names).toContain('EARLY_SERVICE_HOST');
    expect(names).not.toContain('LATE_SERVICE_HOST');
    expect(
      renderEnvForPod(p, [early, late], { createdAt: '2024-01-04T00:00:00Z' }).vars.map((v) => v.name),
    ).toContain('LATE_SERVICE_HOST');
  });

  it('applies the snapshot rule by revision', () => {
    const a = svc('ns', 'a', { clusterIP: '10.0.0.1', ports: [{ port: 1 }] }, { resourceVersion: '5' });
    const b = svc('ns', 'b', { clusterIP: '10.0.0.2', ports: [{ port: 2 }] }, { resourceVersion: '9' });
    const names = renderEnvForPod(pod('ns'), [a, b], { atRevision: 7 }).vars.map((v) => v.name);
    expect(names).toContain('A_SERVICE_HOST');
    expect(names).not.toContain('B_SERVICE_HOST');
  });

  it('container variables win and may reference service variables', () => {
    const p = pod('default', {
      containers: [
        {
          name: 'app',
          env: [
            { name: 'REDIS_MASTER_SERVICE_HOST', value: 'override' },
            {
              name: 'URL',
              value: 'redis://$(REDIS_MASTER_SERVICE_HOST):$(REDIS_MASTER_SERVICE_PORT)/$(NOPE)$$',
            },
          ],
        },
      ],
    });
    const vars = renderEnvForPod(p, [redis]).vars;
    expect(vars[0]).toEqual({ name: 'REDIS_MASTER_SERVICE_HOST', value: 'override' });
    expect(vars[1]).toEqual({ name: 'URL', value: 'redis://override:6379/$(NOPE)$' });
    expect(vars.filter((v) => v.name === 'REDIS_MASTER_SERVICE_HOST')).toHaveLength(1);
    expect(vars.map((v) => v.name)).toContain('REDIS_MASTER_PORT');
  });

  it('resolves every fieldRef kubelet allows in env (labels/annotations subscripts, service account, host IPs)', () => {
    const fieldRef = (name: string, fieldPath: string) => ({ name, valueFrom: { fieldRef: { fieldPath } } });
    const p: Pod = {
      ...pod(
        'ns',
        {
          containers: [
            {
              name: 'app',
              env: [
                fieldRef('TIER', "metadata.labels['tier']"),
                fieldRef('OWNER', "metadata.annotations['example.com/owner']"),
                fieldRef('MISSING', "metadata.labels['nope']"),
                fieldRef('SA', 'spec.serviceAccountName'),
                fieldRef('HOSTS', 'status.hostIPs'),
              ],
            },
          ],
        },
        { labels: { tier: 'web' }, annotations: { 'example.com/owner': 'team-a' } },
      ),
      status: { hostIP: '192.0.2.1', hostIPs: [{ ip: '192.0.2.1' }, { ip: '2001:db8::1' }] },
    };
    (p.spec as { serviceAccountName?: string }).serviceAccountName = 'builder';
    const r = renderEnvForPod(p, []);
    expect(r.vars).toEqual([
      { name: 'TIER', value: 'web' },
      { name: 'OWNER', value: 'team-a' },
      { name: 'MISSING', value: '' },
      { name: 'SA', value: 'builder' },
      { name: 'HOSTS', value: '192.0.2.1,2001:db8::1' },
    ]);
    expect(r.warnings).toEqual([]);
  });

  it('enableServiceLinks false on the pod', () => {
    const vars = renderEnvForPod(pod('default', { enableServiceLinks: false }), [redis, kubernetes]).vars;
    expect(vars.map((v) => v.name).filter((n) => n.endsWith('_SERVICE_HOST'))).toEqual([
      'KUBERNETES_SERVICE_HOST',
    ]);
  });
});

describe('expandEnv', () => {
  it('follows kubelet expansion rules', () => {
    const lookup = (n: string) => ({ A: 'x', B: 'y' })[n];
    expect(expandEnv('$(A)-$(B)', lookup)).toBe('x-y');
    expect(expandEnv('$$(A)', lookup)).toBe('$(A)');
    expect(expandEnv('$(C)', lookup)).toBe('$(C)');
    expect(expandEnv('$(A', lookup)).toBe('$(A');
    expect(expandEnv('a$b$', lookup)).toBe('a$b$');
  });
});

describe('discoverFromEnv', () => {
  it('round-trips the rendered variables of the seed example', () => {
    const env = Object.fromEntries(serviceEnvVars(redis).map((v) => [v.name, v.value]));
    const d = discoverFromEnv(env).get('redis-master');
    expect(d).toMatchObject({ host: '10.0.0.11', port: 6379, protocol: 'TCP' });
    expect(d?.allPorts).toEqual([{ port: 6379, protocol: 'TCP', name: '' }]);
  });

  it('types named ports and protocols', () => {
    const s = svc('ns', 'my-svc', {
      clusterIP: 'fd00::5',
      ports: [
        { name: 'dns-udp', port: 53, protocol: 'UDP' },
        { name: 'http', port: 80 },
      ],
    });
    const found = discoverFromEnv(Object.fromEntries(serviceEnvVars(s).map((v) => [v.name, v.value])));
    const d = found.get('my-svc')!;
    expect(d.protocol).toBe('UDP');
    expect(d.ports.get('dns-udp')).toEqual({ port: 53, protocol: 'UDP', name: 'dns-udp' });
    expect(d.ports.get('http')).toEqual({ port: 80, protocol: 'TCP', name: 'http' });
    expect(found.names()).toEqual(['MY_SVC']);
  });

  it('reports malformed values clearly without hiding other services', () => {
    const env = {
      ...Object.fromEntries(serviceEnvVars(redis).map((v) => [v.name, v.value])),
      BAD_SERVICE_HOST: '10.0.0.3',
      BAD_SERVICE_PORT: 'http',
      WORSE_SERVICE_HOST: 'not-an-ip',
    };
    const d = discoverFromEnv(env);
    expect(d.get('redis-master')?.port).toBe(6379);
    expect(() => d.get('bad')).toThrow(EnvDiscoveryError);
    expect(() => d.get('bad')).toThrow('BAD_SERVICE_PORT="http": not a port number (1-65535)');
    expect(() => d.get('worse')).toThrow('WORSE_SERVICE_HOST="not-an-ip": not an IP address');
    expect(d.errors).toHaveLength(2);
    expect(d.get('absent')).toBeUndefined();
  });

  it('rejects inconsistent link variables', () => {
    const env = Object.fromEntries(serviceEnvVars(redis).map((v) => [v.name, v.value]));
    env.REDIS_MASTER_PORT = 'tcp://10.0.0.12:6379';
    expect(() => discoverFromEnv(env).get('redis-master')).toThrow(/host differs/);
  });

  it('round-trips any valid service (property)', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z]([a-z0-9-]{0,10}[a-z0-9])?$/),
        fc.ipV4(),
        fc.uniqueArray(
          fc.record({
            port: fc.integer({ min: 1, max: 65535 }),
            protocol: fc.constantFrom('TCP', 'UDP', 'SCTP'),
          }),
          {
            minLength: 1,
            maxLength: 4,
            selector: (p) => p.port,
          },
        ),
        (name, ip, ports) => {
          const s = svc('ns', name, {
            clusterIP: ip,
            ports: ports.map((p, i) => ({ ...p, protocol: p.protocol as 'TCP', name: `p${i}` })),
          });
          const d = discoverFromEnv(Object.fromEntries(serviceEnvVars(s).map((v) => [v.name, v.value]))).get(
            name,
          )!;
          expect(d.host).toBe(ip);
          expect(d.port).toBe(ports[0]!.port);
          expect(d.protocol).toBe(ports[0]!.protocol);
          ports.forEach((p, i) => {
            expect(d.ports.get(`p${i}`)).toEqual({ port: p.port, protocol: p.protocol, name: `p${i}` });
          });
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('EnvBackend', () => {
  it('renders from the latest snapshot', async () => {
    const b = new EnvBackend();
    expect(b.render({ namespace: 'default' }).vars).toEqual([]);
    const current = {
      revision: 3,
      ports: new Map(),
      services: new Map([['default/redis-master', redis]]),
      endpointSlices: new Map(),
      namespaces: new Set(['default']),
    };
    b.sync({ previous: undefined, current, changes: [], changedServices: new Set() });
    expect(b.revision()).toBe(3);
    expect(b.render({ namespace: 'default' }).vars).toHaveLength(7);
    await b.close();
  });
});

describe('discoverFromEnv with prefix-sharing services', () => {
  it('variables of `<svc>-service-port-<x>` are not taken for named ports of `<svc>`', () => {
    const a = svc('ns', 'a', { clusterIP: '10.0.0.1', ports: [{ name: 'web', port: 80 }] });
    const b = svc('ns', 'a-service-port-x', { clusterIP: '10.0.0.2', ports: [{ port: 8080 }] });
    const env = Object.fromEntries(
      renderServiceEnv([a, b], { namespace: 'ns' }).vars.map((v) => [v.name, v.value]),
    );
    const found = discoverFromEnv(env);
    expect(found.errors).toEqual([]);
    expect([...(found.get('a')?.ports.keys() ?? [])]).toEqual(['web']);
    expect(found.get('a-service-port-x')?.port).toBe(8080);
  });
});
