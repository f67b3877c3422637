/**
 * Where objects live in the {@link Store}: the API server's etcd layout
 * (`/registry/services/specs/<ns>/<name>`, `/registry/minions/<node>` …) under a configurable
 * prefix, plus one reservation key per allocated address or port, written in the same
 * transaction as the object that holds it (as the API server's IPAddress objects are).
 *
 * @module
 */
import type { Kind } from '../core/types';

/** The default key prefix, the API server's. */
export const DEFAULT_KEY_PREFIX = '/registry';

/** Which resource path each kind is stored under (the API server's names). */
const RESOURCE_PATH: Readonly<Record<Kind, string>> = {
  Service: 'services/specs',
  Endpoints: 'services/endpoints',
  Pod: 'pods',
  EndpointSlice: 'endpointslices',
  Node: 'minions',
  Namespace: 'namespaces',
};

/** Kinds that are not namespaced. */
export const CLUSTER_SCOPED_KINDS: ReadonlySet<Kind> = new Set<Kind>(['Node', 'Namespace']);

/** The plural lower-case resource name used in API messages (`services "web" not found`). */
export const RESOURCE_NAME: Readonly<Record<Kind, string>> = {
  Service: 'services',
  Endpoints: 'endpoints',
  Pod: 'pods',
  EndpointSlice: 'endpointslices.discovery.k8s.io',
  Node: 'nodes',
  Namespace: 'namespaces',
};

/** What a reservation key reserves. */
export type ReservationType = 'serviceIP' | 'nodePort' | 'podIP' | 'loadBalancerIP';

const RESERVATION_PATH: Readonly<Record<ReservationType, string>> = {
  serviceIP: 'ipaddresses',
  nodePort: 'servicenodeports',
  podIP: 'podipaddresses',
  loadBalancerIP: 'loadbalancerips',
};

/** The value stored under a reservation key: who holds it. */
export interface Reservation {
  readonly kind: 'Reservation';
  readonly type: ReservationType;
  /** The reserved address or port, as a string. */
  readonly value: string;
  readonly owner: {
    readonly kind: Kind;
    readonly namespace: string;
    readonly name: string;
    readonly uid: string;
  };
}

/** A parsed key. */
export type ParsedKey =
  | { readonly type: 'object'; readonly kind: Kind; readonly namespace: string; readonly name: string }
  | { readonly type: 'reservation'; readonly reservation: ReservationType; readonly value: string };

/** Builds and parses keys under one prefix. */
export class KeyLayout {
  readonly prefix: string;
  private readonly byPath = new Map<string, Kind>();
  private readonly reservationByPath = new Map<string, ReservationType>();

  constructor(prefix: string = DEFAULT_KEY_PREFIX) {
    this.prefix = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
    for (const [kind, path] of Object.entries(RESOURCE_PATH)) this.byPath.set(path, kind as Kind);
    for (const [t, path] of Object.entries(RESERVATION_PATH))
      this.reservationByPath.set(path, t as ReservationType);
  }

  /** Everything this layout owns (the watch prefix). */
  root(): string {
    return `${this.prefix}/`;
  }

  /** Key of one object; `namespace` is ignored for cluster-scoped kinds. */
  objectKey(kind: Kind, namespace: string, name: string): string {
    return CLUSTER_SCOPED_KINDS.has(kind)
      ? `${this.prefix}/${RESOURCE_PATH[kind]}/${name}`
      : `${this.prefix}/${RESOURCE_PATH[kind]}/${namespace}/${name}`;
  }

  /** Prefix of every object of a kind (optionally in one namespace). */
  kindPrefix(kind: Kind, namespace?: string): string {
    return namespace !== undefined && !CLUSTER_SCOPED_KINDS.has(kind)
      ? `${this.prefix}/${RESOURCE_PATH[kind]}/${namespace}/`
      : `${this.prefix}/${RESOURCE_PATH[kind]}/`;
  }

  /** Key reserving one address or port. IPv6 addresses are used in their canonical form. */
  reservationKey(type: ReservationType, value: string | number): string {
    return `${this.prefix}/${RESERVATION_PATH[type]}/${value}`;
  }

  /** Parses a key of this layout; undefined for foreign keys. */
  parse(key: string): ParsedKey | undefined {
    if (!key.startsWith(`${this.prefix}/`)) return undefined;
    const rest = key.slice(this.prefix.length + 1);
    for (const [path, t] of this.reservationByPath) {
      if (rest.startsWith(`${path}/`))
        return { type: 'reservation', reservation: t, value: rest.slice(path.length + 1) };
    }
    // `services/specs` and `services/endpoints` have two segments; try the longest match first.
    const parts = rest.split('/');
    for (const n of [2, 1]) {
      const kind = this.byPath.get(parts.slice(0, n).join('/'));
      if (!kind) continue;
      const tail = parts.slice(n);
      if (CLUSTER_SCOPED_KINDS.has(kind)) {
        if (tail.length === 1 && tail[0]) return { type: 'object', kind, namespace: '', name: tail[0] };
      } else if (tail.length === 2 && tail[0] && tail[1]) {
        return { type: 'object', kind, namespace: tail[0], name: tail[1] };
      }
    }
    return undefined;
  }
}
