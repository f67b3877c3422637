/**
 * Kubernetes' EndpointSlice validation (discovery/v1 `ValidateEndpointSlice`). Upstream does
 * not require the `kubernetes.io/service-name` label, so neither does this.
 *
 * @module
 */

import { defaultEndpointSlice } from '../core/defaults';
import { type ErrorList, FieldPath, fieldErrors } from '../core/errors';
import type { EndpointSlice } from '../core/types';
import {
  FIELD_IMMUTABLE_ERROR_MSG,
  invalidEach,
  isDNS1123Label,
  isDNS1123Subdomain,
  isQualifiedName,
  isValidIPv4Address,
  isValidIPv6Address,
  isValidLabelValue,
  nameIsDNSSubdomain,
  validateNonSpecialIP,
  validateObjectMeta,
} from './names';

/** Most endpoints one EndpointSlice may hold (discovery/v1 validation; the controller packs 100). */
export const ENDPOINTSLICE_MAX_ENDPOINTS = 1000;
/** Maximum addresses of one endpoint. */
export const ENDPOINTSLICE_MAX_ADDRESSES = 100;
/** Maximum ports of one slice. */
export const ENDPOINTSLICE_MAX_PORTS = 20000;
/** Maximum zone hints of one endpoint. */
export const ENDPOINTSLICE_MAX_ZONE_HINTS = 8;
/** Maximum node hints of one endpoint. */
export const ENDPOINTSLICE_MAX_NODE_HINTS = 8;

const ADDRESS_TYPES = ['FQDN', 'IPv4', 'IPv6'] as const;
const PROTOCOLS = ['SCTP', 'TCP', 'UDP'] as const;

/** Options of {@link validateEndpointSlice}. */
export interface EndpointSliceValidationOptions {
  /** Apply {@link defaultEndpointSlice} first (default true). */
  readonly applyDefaults?: boolean;
  /**
   * Accept loopback endpoint addresses (127.0.0.0/8, ::1), which Kubernetes rejects. For
   * svcroute's in-process mode, where local processes are the backends. Default false.
   */
  readonly allowLoopback?: boolean;
}

/** A fully qualified domain name (apimachinery `IsFullyQualifiedDomainName`). */
export function validateFullyQualifiedDomainName(name: string, path: FieldPath): ErrorList {
  if (name.length === 0) return [fieldErrors.required(path, '')];
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  const sub = isDNS1123Subdomain(n);
  if (sub.length) return [fieldErrors.invalid(path, n, sub.join(','))];
  const labels = n.split('.');
  if (labels.length < 2)
    return [fieldErrors.invalid(path, n, 'should be a domain with at least two segments separated by dots')];
  for (const l of labels) {
    const e = isDNS1123Label(l);
    if (e.length) return [fieldErrors.invalid(path, l, e.join(','))];
  }
  return [];
}

/**
 * Validates an EndpointSlice: metadata (name a DNS subdomain), `addressType`, endpoints
 * (at least one address each, addresses of the slice's type and not special, nodeName,
 * hostname, zone hints) and ports (names DNS labels and unique, protocol, appProtocol).
 */
export function validateEndpointSlice(
  input: EndpointSlice,
  opts: EndpointSliceValidationOptions = {},
): ErrorList {
  const slice = opts.applyDefaults === false ? input : defaultEndpointSlice(input);
  const errs = validateObjectMeta(
    slice.metadata,
    { namespaced: true, nameValidator: nameIsDNSSubdomain },
    FieldPath.root('metadata'),
  );
  const typePath = FieldPath.root('addressType');
  if (!slice.addressType) errs.push(fieldErrors.required(typePath, ''));
  else if (!(ADDRESS_TYPES as readonly string[]).includes(slice.addressType))
    errs.push(fieldErrors.notSupported(typePath, slice.addressType, ADDRESS_TYPES));

  const endpoints = slice.endpoints ?? [];
  const epPath = FieldPath.root('endpoints');
  if (endpoints.length > ENDPOINTSLICE_MAX_ENDPOINTS) {
    errs.push(fieldErrors.tooMany(epPath, endpoints.length, ENDPOINTSLICE_MAX_ENDPOINTS));
  } else {
    endpoints.forEach((ep, i) => {
      const idx = epPath.index(i);
      const addrPath = idx.child('addresses');
      const addrs = ep.addresses ?? [];
      if (addrs.length === 0) errs.push(fieldErrors.required(addrPath, 'must contain at least 1 address'));
      else if (addrs.length > ENDPOINTSLICE_MAX_ADDRESSES)
        errs.push(fieldErrors.tooMany(addrPath, addrs.length, ENDPOINTSLICE_MAX_ADDRESSES));
      addrs.forEach((a, j) => {
        const p = addrPath.index(j);
        if (slice.addressType === 'IPv4' || slice.addressType === 'IPv6') {
          const check = slice.addressType === 'IPv4' ? isValidIPv4Address : isValidIPv6Address;
          errs.push(...invalidEach(p, a, check(a)));
          const special = validateNonSpecialIP(a, p);
          errs.push(
            ...(opts.allowLoopback ? special.filter((e) => !e.detail.includes('loopback')) : special),
          );
        } else if (slice.addressType === 'FQDN') {
          errs.push(...validateFullyQualifiedDomainName(a, p));
        }
      });
      if (ep.nodeName !== undefined)
        errs.push(...invalidEach(idx.child('nodeName'), ep.nodeName, nameIsDNSSubdomain(ep.nodeName, false)));
      if (ep.hostname !== undefined)
        errs.push(...invalidEach(idx.child('hostname'), ep.hostname, isDNS1123Label(ep.hostname)));
      if (ep.hints) {
        const fz = idx.child('hints', 'forZones');
        const zones = ep.hints.forZones ?? [];
        // upstream's validateHints returns at once on too many zones: node hints go unchecked
        const tooManyZones = zones.length > ENDPOINTSLICE_MAX_ZONE_HINTS;
        if (tooManyZones) {
          errs.push(fieldErrors.tooMany(fz, zones.length, ENDPOINTSLICE_MAX_ZONE_HINTS));
        } else {
          const seen = new Set<string>();
          zones.forEach((z, k) => {
            const zp = fz.index(k).child('name');
            if (seen.has(z.name)) errs.push(fieldErrors.duplicate(zp, z.name));
            else seen.add(z.name);
            errs.push(...invalidEach(zp, z.name, isValidLabelValue(z.name)));
          });
        }
        const fn = idx.child('hints', 'forNodes');
        const nodes = ep.hints.forNodes ?? [];
        if (!tooManyZones && nodes.length > ENDPOINTSLICE_MAX_NODE_HINTS) {
          errs.push(fieldErrors.tooMany(fn, nodes.length, ENDPOINTSLICE_MAX_NODE_HINTS));
        } else if (!tooManyZones) {
          const seen = new Set<string>();
          nodes.forEach((n, k) => {
            const np = fn.index(k).child('name');
            if (seen.has(n.name)) errs.push(fieldErrors.duplicate(np, n.name));
            else seen.add(n.name);
            errs.push(...invalidEach(np, n.name, nameIsDNSSubdomain(n.name, false)));
          });
        }
      }
    });
  }

  const ports = slice.ports ?? [];
  const portsPath = FieldPath.root('ports');
  if (ports.length > ENDPOINTSLICE_MAX_PORTS) {
    errs.push(fieldErrors.tooMany(portsPath, ports.length, ENDPOINTSLICE_MAX_PORTS));
    return errs;
  }
  const names = new Set<string>();
  ports.forEach((p, i) => {
    const idx = portsPath.index(i);
    const name = p.name ?? '';
    if (name.length > 0) errs.push(...invalidEach(idx.child('name'), name, isDNS1123Label(name)));
    if (names.has(name)) errs.push(fieldErrors.duplicate(idx.child('name'), name));
    else names.add(name);
    if (p.protocol === undefined) errs.push(fieldErrors.required(idx.child('protocol'), ''));
    else if (!(PROTOCOLS as readonly string[]).includes(p.protocol))
      errs.push(fieldErrors.notSupported(idx.child('protocol'), p.protocol, PROTOCOLS));
    if (p.appProtocol !== undefined)
      errs.push(...invalidEach(idx.child('appProtocol'), p.appProtocol, isQualifiedName(p.appProtocol)));
  });
  return errs;
}

/**
 * Validates an EndpointSlice update (`ValidateEndpointSliceUpdate`): everything
 * {@link validateEndpointSlice} checks, then `addressType`, which may not change.
 */
export function validateEndpointSliceUpdate(
  next: EndpointSlice,
  prev: EndpointSlice,
  opts: EndpointSliceValidationOptions = {},
): ErrorList {
  const errs = validateEndpointSlice(next, opts);
  if ((next.addressType ?? '') !== (prev.addressType ?? ''))
    errs.push(
      fieldErrors.invalid(FieldPath.root('addressType'), next.addressType ?? '', FIELD_IMMUTABLE_ERROR_MSG),
    );
  return errs;
}
