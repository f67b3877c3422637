/**
 * What the pieces of the etcd store share: the client, the key layout, time and randomness, and
 * the connection-state reporter.
 *
 * @module
 */
import type { Etcd3 } from 'etcd3';
import type { Clock } from '../../core/clock';
import type { Rng } from '../../core/random';
import type { KeyCodec } from './codec';

/** Connection state of an etcd store, as reported to its `onStateChange`. */
export type EtcdConnectionState = 'ready' | 'unavailable' | 'closed';

/** What the watch streams need from their store. */
export interface EtcdStoreInternals {
  readonly client: Etcd3;
  readonly codec: KeyCodec;
  readonly clock: Clock;
  readonly rng: Rng;
  reportState(state: EtcdConnectionState, error?: Error): void;
}
