// Test data shared by the vitest (ESM) and Jest (CJS) tests: a service port and its endpoints,
// built with svcroute/testing's fixtures. Written as CommonJS with `exports.name =` so that
// `require()` and an ESM `import { … }` both see the named exports.
const { makeEndpoint, makeServicePortInfo } = require('svcroute/testing');

/** A ClusterIP service port `default/web:http` (10.96.0.20:80 → 8080), overridable field by field. */
exports.servicePort = function servicePort(overrides = {}) {
  return makeServicePortInfo({
    portName: 'http',
    clusterIPs: ['10.96.0.20'],
    targetPort: 8080,
    ...overrides,
  });
};

/** An endpoint on 127.0.0.x:8080 on node-a; ready unless told otherwise. */
exports.endpoint = function endpoint(
  host,
  { ready = true, serving = ready, terminating = false, nodeName = 'node-a' } = {},
) {
  return makeEndpoint(`127.0.0.${host}`, 8080, { ready, serving, terminating, nodeName });
};
