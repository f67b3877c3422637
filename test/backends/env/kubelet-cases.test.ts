/**
 * The inputs and expected outputs of kubelet's own env tests (FromServices and
 * makeEnvironmentVariables), replayed against svcroute's renderer.
 */
import { describe, expect, it } from 'vitest';
import {
  type ConfigMapLike,
  EnvResolutionError,
  envVarName,
  fromServices,
  renderEnvForPod,
  type SecretLike,
  sortPodIPs,
} from '../../../src/backends/env';
import type { Container, Pod, Service } from '../../../src/core/types';

type Pair = [string, string];

function service(
  name: string,
  namespace: string,
  clusterIP: string,
  port: number,
  protocol = 'TCP',
): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace },
    spec: { clusterIP, ports: [{ port, protocol: protocol as 'TCP' }] },
  };
}

/** The service list kubelet's makeEnvironmentVariables test runs against. */
const services: Service[] = [
  service('kubernetes', 'default', '1.2.3.1', 8081),
  service('test', 'test1', '1.2.3.3', 8083),
  service('kubernetes', 'test2', '1.2.3.4', 8084),
  service('test', 'test2', '1.2.3.5', 8085),
  service('test', 'test2', 'None', 8085),
  service('test', 'test2', '', 8085),
  service('not-special', 'default', '1.2.3.8', 8088),
  service('not-special', 'default', 'None', 8088),
  service('not-special', 'default', '', 8088),
];

function linkVars(prefix: string, ip: string, port: number): Pair[] {
  return [
    [`${prefix}_SERVICE_HOST`, ip],
    [`${prefix}_SERVICE_PORT`, String(port)],
    [`${prefix}_PORT`, `tcp://${ip}:${port}`],
    [`${prefix}_PORT_${port}_TCP`, `tcp://${ip}:${port}`],
    [`${prefix}_PORT_${port}_TCP_PROTO`, 'tcp'],
    [`${prefix}_PORT_${port}_TCP_PORT`, String(port)],
    [`${prefix}_PORT_${port}_TCP_ADDR`, ip],
  ];
}
const master = linkVars('KUBERNETES', '1.2.3.1', 8081);

function testPod(namespace: string, enableServiceLinks: boolean, container: Partial<Container>): Pod {
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { namespace, name: 'dapi-test-pod-name', annotations: {} },
    spec: { nodeName: 'node-name', enableServiceLinks, containers: [{ name: 'c', ...container }] },
  };
  (pod.spec as { serviceAccountName?: string }).serviceAccountName = 'special';
  return pod;
}

/** kubelet's test compares sorted by name: its own order is Go map order. */
function sorted(pairs: readonly Pair[]): Pair[] {
  return [...pairs].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

function render(pod: Pod, extra: { configMaps?: ConfigMapLike[]; secrets?: SecretLike[] } = {}): Pair[] {
  return sorted(renderEnvForPod(pod, services, extra).vars.map((v): Pair => [v.name, v.value]));
}

describe('FromServices (kubelet envvars test)', () => {
  it('renders services in the order given, skipping those without a cluster IP', () => {
    const list: Service[] = [
      { ...service('foo-bar', '', '1.2.3.4', 8080) },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'abc-123' },
        spec: {
          clusterIP: '5.6.7.8',
          ports: [
            { name: 'u-d-p', port: 8081, protocol: 'UDP' },
            { name: 't-c-p', port: 8081, protocol: 'TCP' },
          ],
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'q-u-u-x' },
        spec: {
          clusterIP: '9.8.7.6',
          ports: [
            { port: 8082, protocol: 'TCP' },
            { name: '8083', port: 8083, protocol: 'TCP' },
          ],
        },
      },
      service('svrc-clusterip-none', '', 'None', 8082),
      service('svrc-clusterip-empty', '', '', 8082),
    ];
    expect(fromServices(list).map((v): Pair => [v.name, v.value])).toEqual([
      ...linkVars('FOO_BAR', '1.2.3.4', 8080),
      ['ABC_123_SERVICE_HOST', '5.6.7.8'],
      ['ABC_123_SERVICE_PORT', '8081'],
      ['ABC_123_SERVICE_PORT_U_D_P', '8081'],
      ['ABC_123_SERVICE_PORT_T_C_P', '8081'],
      ['ABC_123_PORT', 'udp://5.6.7.8:8081'],
      ['ABC_123_PORT_8081_UDP', 'udp://5.6.7.8:8081'],
      ['ABC_123_PORT_8081_UDP_PROTO', 'udp'],
      ['ABC_123_PORT_8081_UDP_PORT', '8081'],
      ['ABC_123_PORT_8081_UDP_ADDR', '5.6.7.8'],
      ['ABC_123_PORT_8081_TCP', 'tcp://5.6.7.8:8081'],
      ['ABC_123_PORT_8081_TCP_PROTO', 'tcp'],
      ['ABC_123_PORT_8081_TCP_PORT', '8081'],
      ['ABC_123_PORT_8081_TCP_ADDR', '5.6.7.8'],
      ['Q_U_U_X_SERVICE_HOST', '9.8.7.6'],
      ['Q_U_U_X_SERVICE_PORT', '8082'],
      ['Q_U_U_X_SERVICE_PORT_8083', '8083'],
      ['Q_U_U_X_PORT', 'tcp://9.8.7.6:8082'],
      ['Q_U_U_X_PORT_8082_TCP', 'tcp://9.8.7.6:8082'],
      ['Q_U_U_X_PORT_8082_TCP_PROTO', 'tcp'],
      ['Q_U_U_X_PORT_8082_TCP_PORT', '8082'],
      ['Q_U_U_X_PORT_8082_TCP_ADDR', '9.8.7.6'],
      ['Q_U_U_X_PORT_8083_TCP', 'tcp://9.8.7.6:8083'],
      ['Q_U_U_X_PORT_8083_TCP_PROTO', 'tcp'],
      ['Q_U_U_X_PORT_8083_TCP_PORT', '8083'],
      ['Q_U_U_X_PORT_8083_TCP_ADDR', '9.8.7.6'],
    ]);
  });

  it('SCTP and IPv6: protocol cased per position, address bracketed only inside URLs', () => {
    const vars = fromServices([service('sig', 'ns', 'fd00:10::a', 9999, 'SCTP')]).map(
      (v): Pair => [v.name, v.value],
    );
    expect(vars).toEqual([
      ['SIG_SERVICE_HOST', 'fd00:10::a'],
      ['SIG_SERVICE_PORT', '9999'],
      ['SIG_PORT', 'sctp://[fd00:10::a]:9999'],
      ['SIG_PORT_9999_SCTP', 'sctp://[fd00:10::a]:9999'],
      ['SIG_PORT_9999_SCTP_PROTO', 'sctp'],
      ['SIG_PORT_9999_SCTP_PORT', '9999'],
      ['SIG_PORT_9999_SCTP_ADDR', 'fd00:10::a'],
    ]);
  });

  it('name transform is only upper-casing and - to _ (no dot or leading-digit rewriting)', () => {
    expect(envVarName('abc-123')).toBe('ABC_123');
    expect(envVarName('a.b')).toBe('A.B');
    expect(envVarName('1st')).toBe('1ST');
  });
});

describe('makeEnvironmentVariables (kubelet pods test)', () => {
  const declaredTestVars: Pair[] = linkVars('TEST', '1.2.3.3', 8083);

  it('container variables equal to service ones are not duplicated (api server = Y, kubelet = Y)', () => {
    const pod = testPod('test1', false, {
      env: [['FOO', 'BAR'] as Pair, ...declaredTestVars].map(([name, value]) => ({ name, value })),
    });
    expect(render(pod)).toEqual(sorted([['FOO', 'BAR'], ...declaredTestVars, ...master]));
  });

  it('service links off: the master service only', () => {
    const pod = testPod('test1', false, { env: [{ name: 'FOO', value: 'BAZ' }] });
    expect(render(pod)).toEqual(sorted([['FOO', 'BAZ'], ...master]));
  });

  it('service links on: same-namespace services and the master service', () => {
    const pod = testPod('test1', true, { env: [{ name: 'FOO', value: 'BAZ' }] });
    expect(render(pod)).toEqual(sorted([['FOO', 'BAZ'], ...declaredTestVars, ...master]));
  });

  it('master service name in the pod namespace: ignored without links, wins with links', () => {
    const env = [{ name: 'FOO', value: 'ZAP' }];
    expect(render(testPod('test2', false, { env }))).toEqual(sorted([['FOO', 'ZAP'], ...master]));
    expect(render(testPod('test2', true, { env }))).toEqual(
      sorted([
        ['FOO', 'ZAP'],
        ...linkVars('TEST', '1.2.3.5', 8085),
        ...linkVars('KUBERNETES', '1.2.3.4', 8084),
      ]),
    );
  });

  it('pod in the master namespace', () => {
    expect(render(testPod('default', false, {}))).toEqual(sorted(master));
    expect(render(testPod('default', true, {}))).toEqual(
      sorted([...linkVars('NOT_SPECIAL', '1.2.3.8', 8088), ...master]),
    );
  });

  it('downward API fields, pod IPs ordered by the node family, one per family', () => {
    const fieldRef = (name: string, fieldPath: string) => ({
      name,
      valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath } },
    });
    const container = {
      env: [
        fieldRef('POD_NAME', 'metadata.name'),
        fieldRef('POD_NAMESPACE', 'metadata.namespace'),
        fieldRef('POD_NODE_NAME', 'spec.nodeName'),
        fieldRef('POD_SERVICE_ACCOUNT_NAME', 'spec.serviceAccountName'),
        fieldRef('POD_IP', 'status.podIP'),
        fieldRef('POD_IPS', 'status.podIPs'),
        fieldRef('HOST_IP', 'status.hostIP'),
        fieldRef('HOST_IPS', 'status.hostIPs'),
      ],
    };
    const hostIPs = [{ ip: '127.0.0.1' }, { ip: '::1' }];
    for (const podIPs of [
      ['1.2.3.4', 'fd00::6'],
      ['fd00::6', '1.2.3.4'],
      ['1.2.3.4', '192.168.1.1.', 'fd00::6'],
    ]) {
      const pod: Pod = {
        ...testPod('downward-api', false, container),
        status: {
          podIP: podIPs[0] ?? '',
          podIPs: podIPs.map((ip) => ({ ip })),
          hostIP: '127.0.0.1',
          hostIPs,
        },
      };
      const vars = renderEnvForPod(pod, []).vars.map((v): Pair => [v.name, v.value]);
      expect(vars).toEqual([
        ['POD_NAME', 'dapi-test-pod-name'],
        ['POD_NAMESPACE', 'downward-api'],
        ['POD_NODE_NAME', 'node-name'],
        ['POD_SERVICE_ACCOUNT_NAME', 'special'],
        ['POD_IP', '1.2.3.4'],
        ['POD_IPS', '1.2.3.4,fd00::6'],
        ['HOST_IP', '127.0.0.1'],
        ['HOST_IPS', '127.0.0.1,::1'],
      ]);
    }
  });

  it('sortPodIPs puts the node family first', () => {
    expect(sortPodIPs(['1.2.3.4', 'fd00::6'], 'fd00::1')).toEqual(['fd00::6', '1.2.3.4']);
    expect(sortPodIPs(['fd00::6', 'fd00::7'], undefined)).toEqual(['fd00::6']);
    expect(sortPodIPs([], '10.0.0.1')).toEqual([]);
  });

  const expansionEnv = [
    { name: 'TEST_LITERAL', value: 'test-test-test' },
    { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
    { name: 'OUT_OF_ORDER_TEST', value: '$(OUT_OF_ORDER_TARGET)' },
    { name: 'OUT_OF_ORDER_TARGET', value: 'FOO' },
    { name: 'EMPTY_VAR' },
    { name: 'EMPTY_TEST', value: 'foo-$(EMPTY_VAR)' },
    { name: 'POD_NAME_TEST2', value: 'test2-$(POD_NAME)' },
    { name: 'POD_NAME_TEST3', value: '$(POD_NAME_TEST2)-3' },
    { name: 'LITERAL_TEST', value: 'literal-$(TEST_LITERAL)' },
    { name: 'TEST_UNDEFINED', value: '$(UNDEFINED_VAR)' },
  ];
  const expandedOwn: Pair[] = [
    ['TEST_LITERAL', 'test-test-test'],
    ['POD_NAME', 'dapi-test-pod-name'],
    ['POD_NAME_TEST2', 'test2-dapi-test-pod-name'],
    ['POD_NAME_TEST3', 'test2-dapi-test-pod-name-3'],
    ['LITERAL_TEST', 'literal-test-test-test'],
    ['OUT_OF_ORDER_TEST', '$(OUT_OF_ORDER_TARGET)'],
    ['OUT_OF_ORDER_TARGET', 'FOO'],
    ['TEST_UNDEFINED', '$(UNDEFINED_VAR)'],
    ['EMPTY_VAR', ''],
    ['EMPTY_TEST', 'foo-'],
  ];

  it('expansion: earlier variables only, undefined references kept, empty values expand to nothing', () => {
    expect(render(testPod('test1', false, { env: expansionEnv }))).toEqual(
      sorted([...expandedOwn, ...master]),
    );
  });

  it('expansion may reference service variables', () => {
    const env = [
      ...expansionEnv,
      { name: 'SERVICE_VAR_TEST', value: '$(TEST_SERVICE_HOST):$(TEST_SERVICE_PORT)' },
    ];
    expect(render(testPod('test1', true, { env }))).toEqual(
      sorted([...expandedOwn, ['SERVICE_VAR_TEST', '1.2.3.3:8083'], ...declaredTestVars, ...master]),
    );
  });

  const configMap: ConfigMapLike = {
    metadata: { namespace: 'test1', name: 'test-config-map' },
    data: { REPLACE_ME: 'FROM_CONFIG_MAP', DUPE_TEST: 'CONFIG_MAP' },
  };
  const fromSources = (ref: 'configMapRef' | 'secretRef', name: string, prefix: string) => ({
    envFrom: [{ [ref]: { name } }, { prefix, [ref]: { name } }],
    env: [
      { name: 'TEST_LITERAL', value: 'test-test-test' },
      { name: 'EXPANSION_TEST', value: '$(REPLACE_ME)' },
      { name: 'DUPE_TEST', value: 'ENV_VAR' },
    ],
  });

  it('envFrom ConfigMap: prefixes, env overrides envFrom, expansion sees envFrom values', () => {
    for (const prefix of ['p_', '1_']) {
      const pod = testPod('test1', false, fromSources('configMapRef', 'test-config-map', prefix));
      expect(render(pod, { configMaps: [configMap] })).toEqual(
        sorted([
          ['TEST_LITERAL', 'test-test-test'],
          ['REPLACE_ME', 'FROM_CONFIG_MAP'],
          ['EXPANSION_TEST', 'FROM_CONFIG_MAP'],
          ['DUPE_TEST', 'ENV_VAR'],
          [`${prefix}REPLACE_ME`, 'FROM_CONFIG_MAP'],
          [`${prefix}DUPE_TEST`, 'CONFIG_MAP'],
          ...master,
        ]),
      );
    }
  });

  it('envFrom Secret: base64 data decoded, same rules as ConfigMaps', () => {
    const secret: SecretLike = {
      metadata: { namespace: 'test1', name: 'test-secret' },
      data: {
        REPLACE_ME: Buffer.from('FROM_SECRET').toString('base64'),
        DUPE_TEST: Buffer.from('SECRET').toString('base64'),
      },
    };
    const pod = testPod('test1', true, fromSources('secretRef', 'test-secret', 'p_'));
    expect(render(pod, { secrets: [secret] })).toEqual(
      sorted([
        ['TEST_LITERAL', 'test-test-test'],
        ['REPLACE_ME', 'FROM_SECRET'],
        ['EXPANSION_TEST', 'FROM_SECRET'],
        ['DUPE_TEST', 'ENV_VAR'],
        ['p_REPLACE_ME', 'FROM_SECRET'],
        ['p_DUPE_TEST', 'SECRET'],
        ...declaredTestVars,
        ...master,
      ]),
    );
  });

  it('envFrom keys are taken as they are (no name validation in kubelet)', () => {
    const pod = testPod('test', false, {
      envFrom: [{ prefix: 'p_', secretRef: { name: 'test-secret' } }],
    } as never);
    const secret: SecretLike = { metadata: { name: 'test-secret' }, stringData: { '1234.name': 'abc' } };
    expect(render(pod, { secrets: [secret] })).toEqual(sorted([['p_1234.name', 'abc'], ...master]));
  });

  it('missing optional sources and keys are left out; missing required ones fail the container', () => {
    const keyRef = (ref: 'configMapKeyRef' | 'secretKeyRef', name: string, optional: boolean) =>
      testPod('test', false, {
        env: [{ name: 'POD_NAME', valueFrom: { [ref]: { name, key: 'key', optional } } }],
      });
    const cm: ConfigMapLike = { metadata: { name: 'test-config-map' }, data: { a: 'b' } };
    const secret: SecretLike = { metadata: { name: 'test-secret' }, data: { a: 'Yg==' } };
    expect(render(keyRef('configMapKeyRef', 'missing-config-map', true), { configMaps: [cm] })).toEqual(
      sorted(master),
    );
    expect(render(keyRef('configMapKeyRef', 'test-config-map', true), { configMaps: [cm] })).toEqual(
      sorted(master),
    );
    expect(render(keyRef('secretKeyRef', 'missing-secret', true), { secrets: [secret] })).toEqual(
      sorted(master),
    );
    expect(render(keyRef('secretKeyRef', 'test-secret', true), { secrets: [secret] })).toEqual(
      sorted(master),
    );
    expect(() => render(keyRef('configMapKeyRef', 'test-config-map', false), { configMaps: [cm] })).toThrow(
      "couldn't find key key in ConfigMap test/test-config-map",
    );
    expect(() => render(keyRef('secretKeyRef', 'missing-secret', false), { secrets: [secret] })).toThrow(
      EnvResolutionError,
    );
    const envFromMissing = (optional: boolean) =>
      testPod('test1', false, {
        envFrom: [{ configMapRef: { name: 'test-config-map', optional } }],
      } as never);
    expect(() => render(envFromMissing(false), { configMaps: [] })).toThrow(
      'configmap "test-config-map" not found',
    );
    expect(render(envFromMissing(true), { configMaps: [] })).toEqual(sorted(master));
  });

  it('without ConfigMaps/Secrets given, references render empty or add nothing, with a warning', () => {
    const pod = testPod('test1', false, {
      envFrom: [{ configMapRef: { name: 'cm' } }],
      env: [{ name: 'K', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }],
    } as never);
    const r = renderEnvForPod(pod, services);
    expect(r.vars[0]).toEqual({ name: 'K', value: '' });
    expect(r.warnings).toHaveLength(2);
  });

  it('other namespaces’ ConfigMaps are not visible', () => {
    const pod = testPod('test1', false, {
      envFrom: [{ configMapRef: { name: 'test-config-map' } }],
    } as never);
    expect(() =>
      render(pod, {
        configMaps: [{ ...configMap, metadata: { namespace: 'other', name: 'test-config-map' } }],
      }),
    ).toThrow(EnvResolutionError);
  });

  it('renders init and ephemeral containers by name', () => {
    const pod = testPod('test1', false, {});
    pod.spec.initContainers = [{ name: 'init', env: [{ name: 'X', value: '1' }] }];
    expect(renderEnvForPod(pod, [], { container: 'init' }).vars).toEqual([{ name: 'X', value: '1' }]);
    expect(() => renderEnvForPod(pod, [], { container: 'nope' })).toThrow(/no container named "nope"/);
  });
});

describe('name collisions between services', () => {
  it('one variable per name; the service sorting last gives the value', () => {
    const a: Service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { namespace: 'ns', name: 'a' },
      spec: { clusterIP: '10.0.0.1', ports: [{ name: 'b-service-host', port: 1 }] },
    };
    const b = service('a-service-port-b', 'ns', '10.0.0.2', 2);
    for (const order of [
      [a, b],
      [b, a],
    ]) {
      const vars = renderEnvForPod(testPod('ns', true, {}), order).vars.filter(
        (v) => v.name === 'A_SERVICE_PORT_B_SERVICE_HOST',
      );
      expect(vars).toEqual([{ name: 'A_SERVICE_PORT_B_SERVICE_HOST', value: '10.0.0.2' }]);
    }
  });
});

describe('dual-stack services', () => {
  it('use the primary cluster IP only (spec.clusterIP, else the first of spec.clusterIPs)', () => {
    const dual: Service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { namespace: 'ns', name: 'dual' },
      spec: { clusterIP: 'fd00::10', clusterIPs: ['fd00::10', '10.0.0.10'], ports: [{ port: 80 }] },
    };
    const host = (s: Service) => fromServices([s]).find((v) => v.name === 'DUAL_SERVICE_HOST')?.value;
    expect(host(dual)).toBe('fd00::10');
    const { clusterIP: _omit, ...spec } = dual.spec;
    expect(host({ ...dual, spec: { ...spec, clusterIPs: ['10.0.0.10', 'fd00::10'] } })).toBe('10.0.0.10');
  });
});
