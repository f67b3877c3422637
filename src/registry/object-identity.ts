/**
 * How the registry names objects and the system fields it stamps on them: cache keys, the owner
 * id of reservations, `apiVersion` per kind, uids and RFC 3339 timestamps.
 *
 * @module
 */
import type { Rng } from '../core/random';
import type { Kind } from '../core/types';
import { CLUSTER_SCOPED_KINDS } from './keys';

/** Every kind the registry stores, in a fixed order (cache maps and relists walk it). */
export const KINDS: readonly Kind[] = ['Service', 'Pod', 'EndpointSlice', 'Endpoints', 'Node', 'Namespace'];

/** The `apiVersion` an object of each kind gets when the input leaves it out. */
export const API_VERSION: Readonly<Record<Kind, string>> = {
  Service: 'v1',
  Pod: 'v1',
  Endpoints: 'v1',
  Node: 'v1',
  Namespace: 'v1',
  EndpointSlice: 'discovery.k8s.io/v1',
};

/** Cache key of an object: `ns/name`, or `name` for cluster-scoped kinds. */
export function objKey(kind: Kind, namespace: string, name: string): string {
  return CLUSTER_SCOPED_KINDS.has(kind) ? name : `${namespace}/${name}`;
}

/** Identifies the holder of reservations across kinds (`Service/ns/name`). */
export function ownerId(kind: Kind, namespace: string, name: string): string {
  return `${kind}/${objKey(kind, namespace, name)}`;
}

/** A timestamp as the API server writes it: RFC 3339, whole seconds, UTC. */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z');
}

/** A random (version 4) UUID drawn from `rng`, so seeded registries are reproducible. */
export function newUID(rng: Rng): string {
  const b: number[] = [];
  for (let i = 0; i < 16; i++) b.push(rng.int(256));
  b[6] = ((b[6] as number) & 0x0f) | 0x40;
  b[8] = ((b[8] as number) & 0x3f) | 0x80;
  const h = b.map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
