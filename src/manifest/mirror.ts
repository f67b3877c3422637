/**
 * Legacy v1 Endpoints → discovery/v1 EndpointSlices, as the API server's EndpointSlice mirroring
 * controller does it: one slice per distinct (address family, port list), ready addresses with
 * `ready: true` and not-ready ones with `ready: false`, labels copied plus the service-name and
 * managed-by labels, annotations copied except the change-trigger time and the last applied
 * configuration, and the Endpoints as controlling owner.
 */

import type {
  AddressType,
  EndpointSlice,
  EndpointSliceEndpoint,
  EndpointSlicePort,
  Endpoints,
  KubeObject,
  ObjectReference,
  Service,
  StringMap,
} from '../core/types';
import { LABEL_MANAGED_BY, LABEL_SERVICE_NAME } from '../core/types';
import { formatIP, parseIP } from '../net/ip';
import { nullProtoObject, setOwn } from './plain';

/** The managed-by label value of mirrored slices (the mirroring controller's name). */
export const ENDPOINTSLICE_MIRRORING_CONTROLLER_NAME = 'endpointslicemirroring-controller.k8s.io';

/** Endpoints labelled with this set to `"true"` are not mirrored. */
export const LABEL_SKIP_MIRROR = 'endpointslice.kubernetes.io/skip-mirror';

/** Endpoints used as leader-election locks carry this annotation and are not mirrored. */
export const ANNOTATION_LEADER_ELECTION = 'control-plane.alpha.kubernetes.io/leader';

/** Annotations the mirroring controller does not copy to slices. */
const ANNOTATIONS_NOT_MIRRORED: ReadonlySet<string> = new Set([
  'endpoints.kubernetes.io/last-change-trigger-time',
  'kubectl.kubernetes.io/last-applied-configuration',
]);

/** Addresses mirrored per Endpoints subset (the controller's `--mirroring-max-endpoints-per-subset` default). */
export const MIRRORING_MAX_ENDPOINTS_PER_SUBSET = 1000;

// The API server completes a generateName with 5 characters from this alphabet (no vowels, no
// look-alike digits) and truncates the prefix so that the result fits in 63 characters.
const NAME_SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
const NAME_SUFFIX_LENGTH = 5;
const MAX_GENERATED_PREFIX_LENGTH = 63 - NAME_SUFFIX_LENGTH;
const DNS1123_SUBDOMAIN_MAX_LENGTH = 253;

/** True when the mirroring controller would mirror these Endpoints (given a selector-less Service). */
export function shouldMirror(endpoints: Endpoints): boolean {
  const labels = endpoints.metadata.labels;
  const annotations = endpoints.metadata.annotations;
  if (labels && Object.hasOwn(labels, LABEL_SKIP_MIRROR) && labels[LABEL_SKIP_MIRROR] === 'true')
    return false;
  return !(annotations && Object.hasOwn(annotations, ANNOTATION_LEADER_ELECTION));
}

/**
 * The EndpointSlices the mirroring controller makes of `endpoints` (without checking for a
 * Service: see {@link mirrorEndpoints}). Slices get deterministic names in the form the API
 * server gives a `generateName` of `<endpoints name>-`. Invalid IPs are skipped, at most
 * {@link MIRRORING_MAX_ENDPOINTS_PER_SUBSET} addresses per subset are mirrored, and identical
 * endpoints are listed once. Returns `[]` when {@link shouldMirror} is false. `endpoints` is not
 * modified.
 */
export function endpointsToSlices(endpoints: Endpoints): EndpointSlice[] {
  if (!shouldMirror(endpoints)) return [];
  const groups = new Map<
    string,
    { addressType: AddressType; ports: EndpointSlicePort[]; endpoints: Map<string, EndpointSliceEndpoint> }
  >();

  for (const subset of endpoints.subsets ?? []) {
    const ports = (subset.ports ?? []).map(mirrorPort);
    const portsKey = JSON.stringify(ports);
    let added = 0;
    const addresses = [
      ...(subset.addresses ?? []).map((a) => ({ a, ready: true })),
      ...(subset.notReadyAddresses ?? []).map((a) => ({ a, ready: false })),
    ];
    for (const { a, ready } of addresses) {
      if (added >= MIRRORING_MAX_ENDPOINTS_PER_SUBSET) break;
      const mirrored = mirrorAddress(a, ready);
      if (!mirrored) continue;
      added++;
      const key = `${mirrored.addressType}/${portsKey}`;
      let group = groups.get(key);
      if (!group) {
        group = { addressType: mirrored.addressType, ports, endpoints: new Map() };
        groups.set(key, group);
      }
      const endpointKey = JSON.stringify(mirrored.endpoint);
      if (!group.endpoints.has(endpointKey) && group.endpoints.size < MIRRORING_MAX_ENDPOINTS_PER_SUBSET)
        group.endpoints.set(endpointKey, mirrored.endpoint);
    }
  }

  const slices: EndpointSlice[] = [];
  let n = 0;
  for (const group of groups.values()) {
    slices.push(newSlice(endpoints, group.addressType, group.ports, [...group.endpoints.values()], n++));
  }
  return slices;
}

type EndpointsAddress = NonNullable<NonNullable<Endpoints['subsets']>[number]['addresses']>[number];

function mirrorPort(
  p: NonNullable<NonNullable<Endpoints['subsets']>[number]['ports']>[number],
): EndpointSlicePort {
  // Name and protocol are always set (possibly to ""/the defaulted TCP), as the controller
  // copies pointers to the Endpoints port's fields.
  const port: EndpointSlicePort = { name: p.name ?? '', port: p.port, protocol: p.protocol ?? 'TCP' };
  if (p.appProtocol !== undefined) port.appProtocol = p.appProtocol;
  return port;
}

function mirrorAddress(
  a: EndpointsAddress,
  ready: boolean,
): { addressType: AddressType; endpoint: EndpointSliceEndpoint } | undefined {
  const ip = typeof a.ip === 'string' ? parseIP(a.ip) : undefined;
  if (!ip) return undefined;
  let addressType: AddressType = ip.family;
  let address = formatIP(ip.family, ip.value);
  // An IPv4-mapped IPv6 address is an IPv4 address to Go's net.IP.
  if (ip.family === 'IPv6' && ip.value >> 32n === 0xffffn) {
    addressType = 'IPv4';
    address = formatIP('IPv4', ip.value & 0xffffffffn);
  }
  const endpoint: EndpointSliceEndpoint = { addresses: [address], conditions: { ready } };
  if (a.targetRef) endpoint.targetRef = { ...a.targetRef } as ObjectReference;
  if (a.nodeName !== undefined) endpoint.nodeName = a.nodeName;
  if (a.hostname !== undefined && a.hostname !== '') endpoint.hostname = a.hostname;
  return { addressType, endpoint };
}

function copyMap(from: StringMap | undefined, skip: (key: string) => boolean): StringMap {
  const out = nullProtoObject<StringMap>();
  if (from) for (const [k, v] of Object.entries(from)) if (!skip(k)) setOwn(out, k, v);
  return out;
}

function newSlice(
  endpoints: Endpoints,
  addressType: AddressType,
  ports: EndpointSlicePort[],
  sliceEndpoints: EndpointSliceEndpoint[],
  ordinal: number,
): EndpointSlice {
  const name = endpoints.metadata.name ?? '';
  const namespace = endpoints.metadata.namespace;
  const labels = copyMap(endpoints.metadata.labels, () => false);
  setOwn(labels, LABEL_SERVICE_NAME, name);
  setOwn(labels, LABEL_MANAGED_BY, ENDPOINTSLICE_MIRRORING_CONTROLLER_NAME);
  const annotations = copyMap(endpoints.metadata.annotations, (k) => ANNOTATIONS_NOT_MIRRORED.has(k));

  const slice: EndpointSlice = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: generatedName(slicePrefix(name), `${namespace ?? ''}/${name}/${ordinal}`),
      ...(namespace !== undefined ? { namespace } : {}),
      labels,
      ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
      ownerReferences: [
        {
          apiVersion: 'v1',
          kind: 'Endpoints',
          name,
          uid: endpoints.metadata.uid ?? '',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    addressType,
    endpoints: sliceEndpoints,
    ports: ports.map((p) => ({ ...p })),
  };
  return slice;
}

function slicePrefix(endpointsName: string): string {
  // The dash is dropped when `<name>-` would no longer be a valid object name.
  const withDash = `${endpointsName}-`;
  return withDash.length > DNS1123_SUBDOMAIN_MAX_LENGTH ? endpointsName : withDash;
}

/**
 * `prefix` completed the way the API server completes a `generateName`, but with a suffix derived
 * from `seed` (FNV-1a) instead of randomness, so that loading the same manifests twice yields the
 * same names.
 */
export function generatedName(prefix: string, seed: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < seed.length; i++) {
    hash ^= seed.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  // 27^5 < 2^32: five base-27 digits of one 32-bit hash.
  let suffix = '';
  for (let i = 0; i < NAME_SUFFIX_LENGTH; i++) {
    suffix += NAME_SUFFIX_ALPHABET[hash % NAME_SUFFIX_ALPHABET.length];
    hash = Math.floor(hash / NAME_SUFFIX_ALPHABET.length);
  }
  return prefix.slice(0, MAX_GENERATED_PREFIX_LENGTH) + suffix;
}

function namespaceOf(o: KubeObject): string {
  const ns = o.metadata.namespace;
  return ns === undefined || ns === '' ? 'default' : ns;
}

function hasSelector(svc: Service): boolean {
  // An empty selector map does not survive the API server's storage round trip: it reads back
  // as no selector, which is what the mirroring controller then sees.
  return svc.spec.selector !== undefined && Object.keys(svc.spec.selector).length > 0;
}

/**
 * Replaces every legacy Endpoints object in `objects` by the slices the mirroring controller
 * would make of it, keeping the order. As upstream, Endpoints are mirrored only when a Service
 * of the same namespace and name is among `objects` and has no selector (services with a
 * selector get their slices from the endpoints controller), and not when `objects` already holds
 * slices mirrored from them (a dump of a live cluster carries both). Other Endpoints are dropped.
 * `onSlice` is told which Endpoints each new slice came from. Input objects are not modified.
 */
export function mirrorEndpoints(
  objects: readonly KubeObject[],
  onSlice?: (slice: EndpointSlice, from: Endpoints) => void,
): KubeObject[] {
  const services = new Map<string, Service>();
  const alreadyMirrored = new Set<string>();
  for (const o of objects) {
    const key = `${namespaceOf(o)}/${o.metadata.name ?? ''}`;
    if (o.kind === 'Service') services.set(key, o);
    if (o.kind === 'EndpointSlice') {
      const labels = o.metadata.labels;
      if (
        labels &&
        Object.hasOwn(labels, LABEL_MANAGED_BY) &&
        labels[LABEL_MANAGED_BY] === ENDPOINTSLICE_MIRRORING_CONTROLLER_NAME &&
        Object.hasOwn(labels, LABEL_SERVICE_NAME)
      )
        alreadyMirrored.add(`${namespaceOf(o)}/${labels[LABEL_SERVICE_NAME]}`);
    }
  }
  const out: KubeObject[] = [];
  for (const o of objects) {
    if (o.kind !== 'Endpoints') {
      out.push(o);
      continue;
    }
    const key = `${namespaceOf(o)}/${o.metadata.name ?? ''}`;
    const svc = services.get(key);
    if (!svc || hasSelector(svc) || alreadyMirrored.has(key)) continue;
    for (const slice of endpointsToSlices(o)) {
      onSlice?.(slice, o);
      out.push(slice);
    }
  }
  return out;
}
