// Test data: a service port and its endpoints, in the snapshot shapes svcroute's routing uses.

/** A ClusterIP service port `default/web:http`, overridable field by field. */
export function servicePort(overrides = {}) {
  return {
    name: { namespace: 'default', name: 'web', port: 'http', protocol: 'TCP' },
    key: 'default/web:http',
    type: 'ClusterIP',
    clusterIPs: ['10.96.0.20'],
    port: 80,
    protocol: 'TCP',
    targetPort: 8080,
    nodePort: 0,
    sessionAffinity: { type: 'None' },
    externalIPs: [],
    loadBalancerVIPs: [],
    loadBalancerSourceRanges: [],
    externalPolicyLocal: false,
    internalPolicyLocal: false,
    healthCheckNodePort: 0,
    ...overrides,
  };
}

/** An endpoint on 127.0.0.x:8080; ready unless told otherwise. */
export function endpoint(
  host,
  { ready = true, serving = ready, terminating = false, nodeName = 'node-a' } = {},
) {
  const ip = `127.0.0.${host}`;
  return { ip, port: 8080, key: `${ip}:8080`, ready, serving, terminating, nodeName };
}
