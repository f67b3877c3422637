/**
 * Typed failures of service resolution. Each names what was asked for and what exists, so the
 * message alone tells a user how to fix the call.
 *
 * @module
 */

/** Why a target could not be resolved to an endpoint. */
export type ResolveErrorCode = 'UnknownService' | 'UnknownPort' | 'NoEndpoints';

/** Base class of every resolution failure; switch on {@link ResolveError.code}. */
export class ResolveError extends Error {
  /** The target as the caller wrote it. */
  readonly target: string;
  readonly code: ResolveErrorCode;
  constructor(code: ResolveErrorCode, target: string, message: string) {
    super(message);
    this.name = 'ResolveError';
    this.code = code;
    this.target = target;
  }
}

/** No service matches the target (name, cluster IP, external IP or node port). */
export class UnknownServiceError extends ResolveError {
  constructor(target: string, detail: string) {
    super('UnknownService', target, `cannot resolve ${JSON.stringify(target)}: ${detail}`);
    this.name = 'UnknownServiceError';
  }
}

/** The service exists but has no port matching the target's port. */
export class UnknownPortError extends ResolveError {
  /** `ns/name` of the service. */
  readonly service: string;
  constructor(target: string, service: string, wanted: string, available: readonly string[]) {
    super(
      'UnknownPort',
      target,
      `cannot resolve ${JSON.stringify(target)}: service ${service} has no port ${wanted}` +
        (available.length > 0 ? ` (it has ${available.join(', ')})` : ' (it has no routable ports)'),
    );
    this.name = 'UnknownPortError';
    this.service = service;
  }
}

/**
 * The service port exists but has nowhere to send traffic: no ready (or serving-terminating)
 * endpoint, or, with a Local traffic policy, none on this node. kube-proxy rejects such
 * connections (ICMP unreachable / TCP reset); callers get this error instead.
 */
export class NoEndpointsError extends ResolveError {
  /** `ns/name:port` of the service port. */
  readonly servicePort: string;
  constructor(target: string, servicePort: string, reason: string) {
    super('NoEndpoints', target, `cannot resolve ${JSON.stringify(target)}: ${servicePort} ${reason}`);
    this.name = 'NoEndpointsError';
    this.servicePort = servicePort;
  }
}
