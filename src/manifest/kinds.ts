/**
 * Which `apiVersion`/`kind` pairs svcroute serves, the List kinds that wrap them, and the
 * messages for everything else (worded as kubectl words a failed REST mapping).
 */

import type { Kind } from '../core/types';

/** The group/version each served kind lives in (the versions a v1.34 API server serves). */
export const SERVED_KINDS: Readonly<Record<Kind, string>> = {
  Service: 'v1',
  Pod: 'v1',
  Endpoints: 'v1',
  Node: 'v1',
  Namespace: 'v1',
  EndpointSlice: 'discovery.k8s.io/v1',
};

/** Kinds that are cluster-scoped (no namespace). */
export const CLUSTER_SCOPED_KINDS: ReadonlySet<string> = new Set(['Node', 'Namespace']);

/** The generic List kind (`kubectl get -o yaml` prints it for several objects). */
export const GENERIC_LIST_KIND = 'List';

// Versions that once served a kind and were removed, so the error can say what to use instead.
const REMOVED_VERSIONS: Readonly<Record<string, string>> = {
  'discovery.k8s.io/v1beta1 EndpointSlice': 'discovery.k8s.io/v1beta1 is not served since Kubernetes v1.25',
  'discovery.k8s.io/v1alpha1 EndpointSlice': 'discovery.k8s.io/v1alpha1 is not served since Kubernetes v1.21',
};

/** True when `kind` is served in `apiVersion`. */
export function isServedKind(apiVersion: string, kind: string): kind is Kind {
  return Object.hasOwn(SERVED_KINDS, kind) && SERVED_KINDS[kind as Kind] === apiVersion;
}

/**
 * The item kind of a List kind served in `apiVersion`: `ServiceList` → `Service`, `List` →
 * `undefined` (items carry their own kind). Returns `null` when `kind` is not a served List.
 */
export function listItemKind(apiVersion: string, kind: string): Kind | undefined | null {
  if (kind === GENERIC_LIST_KIND) return apiVersion === 'v1' ? undefined : null;
  if (!kind.endsWith('List')) return null;
  const item = kind.slice(0, -'List'.length);
  return isServedKind(apiVersion, item) ? item : null;
}

/** The message for a kind svcroute does not serve, with a hint when a version was removed. */
export function unservedKindMessage(apiVersion: string, kind: string): string {
  const base = `no matches for kind ${JSON.stringify(kind)} in version ${JSON.stringify(apiVersion)}`;
  const removed = REMOVED_VERSIONS[`${apiVersion} ${kind}`];
  if (removed) return `${base}: ${removed}; use ${SERVED_KINDS[kind as Kind]}`;
  if (Object.hasOwn(SERVED_KINDS, kind)) return `${base}: ${kind} is served in ${SERVED_KINDS[kind as Kind]}`;
  return `${base}: svcroute reads v1 Service, Pod, Endpoints, Node, Namespace and discovery.k8s.io/v1 EndpointSlice`;
}
