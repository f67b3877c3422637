/**
 * Errors of the etcd store that are not part of the generic {@link Store} contract.
 *
 * @module
 */

/**
 * etcd could not be reached (connection refused, no leader, timeouts) for longer than the
 * store's request timeout. The message names the endpoints and the last underlying error.
 * Operations after etcd comes back work again without reopening the store.
 */
export class EtcdUnavailableError extends Error {
  constructor(
    /** The endpoints the store tried. */
    readonly endpoints: readonly string[],
    /** What the last attempt failed with. */
    override readonly cause: unknown,
    /** What the store was doing (`commit`, `list`, `connect`…). */
    readonly operation: string,
  ) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`etcd store: ${operation}: etcd at ${endpoints.join(', ')} is unavailable: ${why}`);
    this.name = 'EtcdUnavailableError';
  }
}

/** Tells whether a value is an {@link EtcdUnavailableError} (also across bundle copies). */
export function isEtcdUnavailableError(e: unknown): e is EtcdUnavailableError {
  return e instanceof Error && e.name === 'EtcdUnavailableError';
}
