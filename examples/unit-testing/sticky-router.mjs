// The code under test: a router a program might write on top of svcroute. It applies kube-proxy's
// endpoint rules (readiness, terminating fallback, traffic policy) and ClientIP affinity, and
// picks among the eligible endpoints at random. Time and randomness are injected, so tests can
// pass a FakeClock and a SeededRng and get the same answers on every run.
import { ClientIPAffinity, categorizeEndpoints, mathRng, systemClock } from 'svcroute';

export class StickyRouter {
  /** @param {{ clock?: import('svcroute').Clock, rng?: import('svcroute').Rng, timeoutSeconds?: number, node?: string }} options */
  constructor({ clock = systemClock, rng = mathRng, timeoutSeconds = 10800, node = '' } = {}) {
    this.affinity = new ClientIPAffinity({ clock, timeoutSeconds });
    this.rng = rng;
    this.node = { name: node };
  }

  /** The endpoint for a new connection from `clientIP` to a service port, or undefined. */
  route(clientIP, info, endpoints) {
    const { clusterEndpoints, localEndpoints } = categorizeEndpoints(info, endpoints, this.node);
    const usable = (info.internalPolicyLocal ? localEndpoints : clusterEndpoints) ?? [];
    return this.affinity.route(clientIP, usable, (eligible) =>
      eligible.length === 0 ? undefined : eligible[this.rng.int(eligible.length)],
    );
  }
}
