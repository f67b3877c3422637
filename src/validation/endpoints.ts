/**
 * Kubernetes' validation of legacy v1 Endpoints (`ValidateEndpoints`): metadata, then every
 * subset's addresses and ports, with the API server's paths and messages.
 *
 * @module
 */

import { type ErrorList, FieldPath, fieldErrors } from '../core/errors';
import type { Endpoints } from '../core/types';
import {
  invalidEach,
  isDNS1123Label,
  isQualifiedName,
  isValidIPForLegacyField,
  isValidPortNum,
  nameIsDNSSubdomain,
  validateNonSpecialIP,
  validateObjectMeta,
} from './names';

const PROTOCOLS = ['SCTP', 'TCP', 'UDP'] as const;

type Subset = NonNullable<Endpoints['subsets']>[number];
type Address = NonNullable<Subset['addresses']>[number];
type Port = NonNullable<Subset['ports']>[number];

/**
 * Validates an Endpoints object as the API server does on create, after its defaulting (a
 * port without `protocol` is TCP): each subset needs an address (ready or not); addresses are
 * valid, non-special IPs with DNS-label hostnames and valid node names; with more than one
 * port every port needs a name; port numbers, protocols and appProtocols are checked.
 */
export function validateEndpoints(ep: Endpoints): ErrorList {
  const errs = validateObjectMeta(
    ep.metadata,
    { namespaced: true, nameValidator: nameIsDNSSubdomain },
    FieldPath.root('metadata'),
  );
  const subsetsPath = FieldPath.root('subsets');
  (ep.subsets ?? []).forEach((ss, i) => {
    const idx = subsetsPath.index(i);
    const ready = ss.addresses ?? [];
    const notReady = ss.notReadyAddresses ?? [];
    if (ready.length === 0 && notReady.length === 0)
      errs.push(fieldErrors.required(idx, 'must specify `addresses` or `notReadyAddresses`'));
    ready.forEach((a, j) => {
      errs.push(...validateEndpointAddress(a, idx.child('addresses').index(j)));
    });
    notReady.forEach((a, j) => {
      errs.push(...validateEndpointAddress(a, idx.child('notReadyAddresses').index(j)));
    });
    const ports = ss.ports ?? [];
    ports.forEach((p, j) => {
      errs.push(...validateEndpointPort(p, ports.length > 1, idx.child('ports').index(j)));
    });
  });
  return errs;
}

function validateEndpointAddress(a: Address, path: FieldPath): ErrorList {
  const ipPath = path.child('ip');
  const ip = a.ip ?? '';
  const errs = invalidEach(ipPath, ip, isValidIPForLegacyField(ip));
  if (a.hostname) errs.push(...invalidEach(path.child('hostname'), a.hostname, isDNS1123Label(a.hostname)));
  if (a.nodeName !== undefined)
    errs.push(...invalidEach(path.child('nodeName'), a.nodeName, nameIsDNSSubdomain(a.nodeName, false)));
  // the special-range check runs even after a parse failure, which it reports once more
  errs.push(...validateNonSpecialIP(ip, ipPath));
  return errs;
}

function validateEndpointPort(p: Port, requireName: boolean, path: FieldPath): ErrorList {
  const errs: ErrorList = [];
  const name = p.name ?? '';
  if (requireName && name.length === 0) errs.push(fieldErrors.required(path.child('name'), ''));
  else if (name.length > 0) errs.push(...invalidEach(path.child('name'), name, isDNS1123Label(name)));
  errs.push(...invalidEach(path.child('port'), p.port ?? 0, isValidPortNum(p.port ?? 0)));
  // v1 defaulting gives an absent protocol TCP before validation
  const protocol = p.protocol ?? 'TCP';
  if (!protocol) errs.push(fieldErrors.required(path.child('protocol'), ''));
  else if (!(PROTOCOLS as readonly string[]).includes(protocol))
    errs.push(fieldErrors.notSupported(path.child('protocol'), protocol, PROTOCOLS));
  if (p.appProtocol !== undefined)
    errs.push(...invalidEach(path.child('appProtocol'), p.appProtocol, isQualifiedName(p.appProtocol)));
  return errs;
}
