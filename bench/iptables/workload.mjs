// The benchmark workload shared by run.mjs and compare.mjs: N services of one TCP port each,
// 10 endpoints per service on another node, every tenth service a NodePort.

export const ENDPOINTS_PER_SERVICE = 10;
export const OPTIONS = { nodeName: 'node-a', nodeIPs: ['192.168.0.2'], clusterCIDRs: ['10.0.0.0/8'] };

function endpoint(ip, port) {
  return {
    ip,
    port,
    key: `${ip}:${port}`,
    ready: true,
    serving: true,
    terminating: false,
    nodeName: 'node-b',
  };
}

function servicePort(i, endpoints) {
  const name = { namespace: `ns${i % 100}`, name: `svc${i}`, port: 'http', protocol: 'TCP' };
  const info = {
    name,
    key: `${name.namespace}/${name.name}:http`,
    type: i % 10 === 0 ? 'NodePort' : 'ClusterIP',
    clusterIPs: [`172.${16 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`],
    port: 80,
    protocol: 'TCP',
    targetPort: 8080,
    nodePort: i % 10 === 0 ? 30000 + (i % 2000) : 0,
    sessionAffinity: { type: 'None' },
    externalIPs: [],
    loadBalancerVIPs: [],
    loadBalancerSourceRanges: [],
    externalPolicyLocal: false,
    internalPolicyLocal: false,
    healthCheckNodePort: 0,
  };
  return { info, endpoints };
}

/** The endpoints of service `i`; `shift` moves them to other addresses (an endpoint change). */
export function endpointsOf(i, shift = 0) {
  const out = [];
  for (let e = 0; e < ENDPOINTS_PER_SERVICE; e++) {
    const n = i * ENDPOINTS_PER_SERVICE + e + shift;
    out.push(endpoint(`10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`, 8080));
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** A routing snapshot of `count` services. */
export function snapshotOf(count) {
  const ports = new Map();
  for (let i = 0; i < count; i++) {
    const p = servicePort(i, endpointsOf(i));
    ports.set(p.info.key, p);
  }
  return { revision: 1, ports, services: new Map(), endpointSlices: new Map(), namespaces: new Set() };
}

/**
 * The `k`-th one-endpoint change after `prev`: service 42's endpoints move to other addresses.
 * Returns the next snapshot and the update naming that change, as the registry would send it.
 */
export function endpointChange(prev, k) {
  const ports = new Map(prev.ports);
  const target = ports.get('ns42/svc42:http');
  const changed = { info: target.info, endpoints: endpointsOf(42, k + 1) };
  ports.set(target.info.key, changed);
  const next = { ...prev, revision: prev.revision + 1, ports };
  const update = {
    previous: prev,
    current: next,
    changes: [{ key: target.info.key, previous: target, current: changed }],
    changedServices: new Set(['ns42/svc42']),
  };
  return { next, update };
}
