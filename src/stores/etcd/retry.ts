/**
 * Which etcd failures are worth retrying, and the backoff between attempts.
 *
 * @module
 */
import { GRPCDeadlineExceededError, GRPCUnavailableError, isRecoverableError } from 'etcd3';
import { type Clock, systemClock } from '../../core/clock';
import type { Rng } from '../../core/random';

/** First retry delay after a failed call or a broken watch stream. */
export const INITIAL_BACKOFF_MS = 100;
/** Longest delay between attempts while etcd stays unreachable. */
export const MAX_BACKOFF_MS = 2_000;

/**
 * etcd server errors that mean "try again" (the Go client's retry set): no leader during an
 * election, a leader change mid-request, a request timeout inside the raft loop, too many
 * requests, or a member that is not started yet.
 */
const TRANSIENT_SERVER_MESSAGES = [
  'etcdserver: leader changed',
  'etcdserver: no leader',
  'etcdserver: request timed out',
  'etcdserver: too many requests',
  'etcdserver: server stopped',
  'etcdserver: not capable',
  'etcdserver: request timed out, possibly due to connection lost',
];

/** True when a failed call may succeed if repeated (connection or election trouble). */
export function isTransientEtcdError(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  if (isRecoverableError(e)) return true;
  if (e instanceof GRPCDeadlineExceededError || e instanceof GRPCUnavailableError) return true;
  const msg = e.message;
  return TRANSIENT_SERVER_MESSAGES.some((m) => msg.includes(m)) || /ECONNREFUSED|ECONNRESET/.test(msg);
}

/** Exponential backoff with full jitter, capped: attempt 0 waits up to 100 ms, then 200 ms… 2 s. */
export function backoffDelayMs(attempt: number, rng: Rng): number {
  const cap = Math.min(MAX_BACKOFF_MS, INITIAL_BACKOFF_MS * 2 ** Math.min(attempt, 16));
  return Math.max(INITIAL_BACKOFF_MS / 2, Math.floor(rng.next() * cap));
}

/**
 * Resolves after `ms` on the given clock. On the real clock the timer is kept referenced: a call
 * that is waiting to retry must keep a short-lived program (the CLI) alive until it settles.
 */
export function sleep(clock: Clock, ms: number): Promise<void> {
  if (clock === systemClock) return new Promise((resolve) => setTimeout(resolve, ms));
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}
