// The code under test of sticky-router.mjs, for a CommonJS code base: `require('svcroute')` loads
// svcroute's CJS build.
const { ClientIPAffinity, categorizeEndpoints, mathRng, systemClock } = require('svcroute');

class StickyRouter {
  constructor({ clock = systemClock, rng = mathRng, timeoutSeconds = 10800, node = '' } = {}) {
    this.affinity = new ClientIPAffinity({ clock, timeoutSeconds });
    this.rng = rng;
    this.node = { name: node };
  }

  route(clientIP, info, endpoints) {
    const { clusterEndpoints, localEndpoints } = categorizeEndpoints(info, endpoints, this.node);
    const usable = (info.internalPolicyLocal ? localEndpoints : clusterEndpoints) ?? [];
    return this.affinity.route(clientIP, usable, (eligible) =>
      eligible.length === 0 ? undefined : eligible[this.rng.int(eligible.length)],
    );
  }
}

module.exports = { StickyRouter };
