/**
 * Allocation errors with the API server's own texts, and the helpers that turn them into the field
 * errors and status errors the registry returns.
 *
 * @module
 */
import { type FieldError, FieldPath, fieldErrors, StatusError } from '../core/errors';

/**
 * Why an allocation failed:
 * - `allocated`: the requested value is taken;
 * - `not-in-range`: the requested value is outside the range;
 * - `full`: no free value is left (dynamic allocation);
 * - `family-not-configured`: no range of the address's IP family exists.
 */
export type AllocationErrorKind = 'allocated' | 'not-in-range' | 'full' | 'family-not-configured';

/** Kubernetes' `ErrAllocated` for cluster IPs. */
export const IP_ALLOCATED_MESSAGE = 'provided IP is already allocated';
/** Kubernetes' `ErrAllocated` for node ports. */
export const PORT_ALLOCATED_MESSAGE = 'provided port is already allocated';
/** Kubernetes' `ErrFull` (same text for addresses and ports). */
export const RANGE_FULL_MESSAGE = 'range is full';

/**
 * A requested cluster IP that no configured service CIDR can hold (outside every CIDR, or its
 * network or IPv4 broadcast address). Since Kubernetes 1.33 the API server routes a requested address
 * to the ServiceCIDR containing it and, when there is none, answers with this text
 * (`ErrMismatchedNetwork`), without naming the range.
 */
export const IP_NOT_IN_RANGE_MESSAGE = 'the provided network does not match the current range';

/**
 * The message for a requested cluster IP outside the valid range: {@link IP_NOT_IN_RANGE_MESSAGE}.
 * The range is accepted for call sites written against the older wording, which named it; Kubernetes
 * 1.33+ does not print it.
 */
export function ipNotInRangeMessage(_validRange?: string): string {
  return IP_NOT_IN_RANGE_MESSAGE;
}

/**
 * The text of the older bitmap allocator (Kubernetes 1.30-1.32, `ErrNotInRange`):
 * `the provided IP (10.0.0.0) is not in the valid range. The range of valid IPs is 10.0.0.0/24`.
 * Not used by the allocators here; kept for callers that must reproduce those versions.
 */
export function bitmapIPNotInRangeMessage(ip: string, validRange: string): string {
  return `the provided IP (${ip}) is not in the valid range. The range of valid IPs is ${validRange}`;
}

/** `provided port is not in the valid range. The range of valid ports is 30000-32767` */
export function portNotInRangeMessage(validPorts: string): string {
  return `provided port is not in the valid range. The range of valid ports is ${validPorts}`;
}

/** `IPv6 is not configured on this cluster` */
export function familyNotConfiguredMessage(family: string): string {
  return `${family} is not configured on this cluster`;
}

/** An allocator refused a request; `message` is Kubernetes' text for the {@link kind}. */
export class AllocationError extends Error {
  constructor(
    readonly kind: AllocationErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'AllocationError';
  }
}

/** True when `e` is an {@link AllocationError} (optionally of one kind). */
export function isAllocationError(e: unknown, kind?: AllocationErrorKind): e is AllocationError {
  return e instanceof AllocationError && (kind === undefined || e.kind === kind);
}

const INTERNAL_ERROR_PREFIX = 'Internal error occurred: ';

/**
 * The field error the API server returns when a requested cluster IP cannot be allocated:
 * `spec.clusterIPs: Invalid value: []string{"10.0.0.1"}: failed to allocate IP 10.0.0.1: provided IP is
 * already allocated` (or `…: the provided network does not match the current range`). The value is the whole `spec.clusterIPs` list (as upstream), `ip` the one that
 * failed.
 */
export function clusterIPAllocationFieldError(
  clusterIPs: readonly string[],
  ip: string,
  err: AllocationError,
): FieldError {
  return fieldErrors.invalid(
    FieldPath.root('spec', 'clusterIPs'),
    [...clusterIPs],
    `failed to allocate IP ${ip}: ${err.message}`,
  );
}

/**
 * The field error for a requested node port that cannot be allocated:
 * `spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated`.
 */
export function nodePortAllocationFieldError(
  portIndex: number,
  nodePort: number,
  err: AllocationError,
): FieldError {
  return fieldErrors.invalid(
    FieldPath.root('spec', 'ports').index(portIndex).child('nodePort'),
    nodePort,
    err.message,
  );
}

/**
 * The field error for a cluster IP of a family the cluster has no range for:
 * `spec.clusterIPs[1]: Invalid value: []string{"10.0.0.1", "fd00::1"}: IPv6 is not configured on this
 * cluster`.
 */
export function clusterIPFamilyFieldError(
  clusterIPs: readonly string[],
  index: number,
  family: string,
): FieldError {
  return fieldErrors.invalid(
    FieldPath.root('spec', 'clusterIPs').index(index),
    [...clusterIPs],
    familyNotConfiguredMessage(family),
  );
}

function internalError(detail: string): StatusError {
  return new StatusError('InternalError', `${INTERNAL_ERROR_PREFIX}${detail}`);
}

/**
 * Dynamic cluster IP allocation failed (the range is full): the API server answers with an internal
 * error, `Internal error occurred: failed to allocate a serviceIP: range is full`.
 */
export function clusterIPExhaustedError(err: AllocationError): StatusError {
  return internalError(`failed to allocate a serviceIP: ${err.message}`);
}

/** `Internal error occurred: failed to allocate a nodePort: range is full`. */
export function nodePortExhaustedError(err: AllocationError): StatusError {
  return internalError(`failed to allocate a nodePort: ${err.message}`);
}

/**
 * Health check node port failures are internal errors upstream too. With `requested` set:
 * `failed to allocate requested HealthCheck NodePort 30500: provided port is already allocated`;
 * without: `failed to allocate a HealthCheck NodePort 0: range is full` (upstream prints the zero).
 */
export function healthCheckNodePortError(err: AllocationError, requested?: number): StatusError {
  return requested
    ? internalError(`failed to allocate requested HealthCheck NodePort ${requested}: ${err.message}`)
    : internalError(`failed to allocate a HealthCheck NodePort 0: ${err.message}`);
}
