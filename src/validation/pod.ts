/**
 * The parts of Kubernetes' Pod validation that service routing depends on: metadata, container
 * names and ports (named ports are what `targetPort` strings resolve to), hostname/subdomain
 * (DNS records), host-network port rules, and status pod IPs.
 *
 * @module
 */

import { defaultPod } from '../core/defaults';
import { type ErrorList, FieldPath, fieldErrors, formatFieldValue } from '../core/errors';
import type { Container, Pod } from '../core/types';
import {
  invalidEach,
  isDNS1123Label,
  isIPv6String,
  isValidIP,
  isValidPortName,
  isValidPortNum,
  nameIsDNSSubdomain,
  validateObjectMeta,
} from './names';

const PROTOCOLS = ['SCTP', 'TCP', 'UDP'] as const;

/** Options of {@link validatePod}. */
export interface PodValidationOptions {
  /** Apply {@link defaultPod} first, as the API server does on decode (default true). */
  readonly applyDefaults?: boolean;
}

/**
 * Validates a Pod: `metadata` (name a DNS subdomain), `spec.containers` (required; names DNS
 * labels, unique across init and regular containers; ports per `validateContainerPorts`; no
 * two regular-container ports on one host IP/protocol/port),
 * `spec.nodeName` (a DNS subdomain), `spec.hostname`/`spec.subdomain` (DNS labels), host-network
 * `hostPort` = `containerPort`, and
 * `status.podIPs` (valid, at most one per family, no duplicates). Image and resource rules are
 * outside svcroute's scope and not checked.
 */
export function validatePod(input: Pod, opts: PodValidationOptions = {}): ErrorList {
  const pod = opts.applyDefaults === false ? input : defaultPod(input);
  const errs = validateObjectMeta(
    pod.metadata,
    { namespaced: true, nameValidator: nameIsDNSSubdomain },
    FieldPath.root('metadata'),
  );
  const spec = pod.spec ?? { containers: [] };
  const specPath = FieldPath.root('spec');
  // regular containers first, then init containers checked against them (upstream's order)
  const names = new Set<string>();
  if ((spec.containers ?? []).length === 0) errs.push(fieldErrors.required(specPath.child('containers'), ''));
  else {
    errs.push(...validateContainers(spec.containers, specPath.child('containers'), names));
    errs.push(...hostPortConflicts(spec.containers, specPath.child('containers')));
  }
  errs.push(...validateContainers(spec.initContainers ?? [], specPath.child('initContainers'), names));
  if (spec.hostNetwork) {
    (spec.containers ?? []).forEach((c, i) => {
      (c.ports ?? []).forEach((p, j) => {
        if ((p.hostPort ?? 0) !== p.containerPort)
          errs.push(
            fieldErrors.invalid(
              specPath.child('containers').index(i).child('ports').index(j).child('hostPort'),
              p.hostPort ?? 0,
              'must match `containerPort` when `hostNetwork` is true',
            ),
          );
      });
    });
  }
  // (ValidatePodSpec checks the node name just before hostname and subdomain)
  if (spec.nodeName)
    errs.push(
      ...invalidEach(specPath.child('nodeName'), spec.nodeName, nameIsDNSSubdomain(spec.nodeName, false)),
    );
  if (spec.hostname)
    errs.push(...invalidEach(specPath.child('hostname'), spec.hostname, isDNS1123Label(spec.hostname)));
  if (spec.subdomain)
    errs.push(...invalidEach(specPath.child('subdomain'), spec.subdomain, isDNS1123Label(spec.subdomain)));
  errs.push(...validatePodIPs(pod));
  return errs;
}

function validateContainers(
  containers: readonly Container[],
  path: FieldPath,
  names: Set<string>,
): ErrorList {
  const errs: ErrorList = [];
  containers.forEach((c, i) => {
    const idx = path.index(i);
    const namePath = idx.child('name');
    if (!c.name) errs.push(fieldErrors.required(namePath, ''));
    else errs.push(...invalidEach(namePath, c.name, isDNS1123Label(c.name)));
    if (c.name && names.has(c.name)) errs.push(fieldErrors.duplicate(namePath, c.name));
    else if (c.name) names.add(c.name);
    errs.push(...validateContainerPorts(c, idx.child('ports')));
  });
  return errs;
}

function validateContainerPorts(c: Container, path: FieldPath): ErrorList {
  const errs: ErrorList = [];
  const names = new Set<string>();
  (c.ports ?? []).forEach((p, i) => {
    const idx = path.index(i);
    if (p.name) {
      const msgs = isValidPortName(p.name);
      if (msgs.length) errs.push(...invalidEach(idx.child('name'), p.name, msgs));
      else if (names.has(p.name)) errs.push(fieldErrors.duplicate(idx.child('name'), p.name));
      else names.add(p.name);
    }
    if (!p.containerPort) errs.push(fieldErrors.required(idx.child('containerPort'), ''));
    else
      errs.push(...invalidEach(idx.child('containerPort'), p.containerPort, isValidPortNum(p.containerPort)));
    if (p.hostPort) errs.push(...invalidEach(idx.child('hostPort'), p.hostPort, isValidPortNum(p.hostPort)));
    if (!p.protocol) errs.push(fieldErrors.required(idx.child('protocol'), ''));
    else if (!(PROTOCOLS as readonly string[]).includes(p.protocol))
      errs.push(fieldErrors.notSupported(idx.child('protocol'), p.protocol, PROTOCOLS));
  });
  return errs;
}

/**
 * Two ports of the pod's containers may not claim the same host port for the same host IP and
 * protocol (`checkHostPortConflicts`); the duplicate is reported as `hostIP/protocol/port`.
 */
function hostPortConflicts(containers: readonly Container[], path: FieldPath): ErrorList {
  const errs: ErrorList = [];
  const seen = new Set<string>();
  containers.forEach((c, i) => {
    (c.ports ?? []).forEach((p, j) => {
      if (!p.hostPort) return;
      const key = `${p.hostIP ?? ''}/${p.protocol ?? ''}/${p.hostPort}`;
      if (seen.has(key))
        errs.push(fieldErrors.duplicate(path.index(i).child('ports').index(j).child('hostPort'), key));
      else seen.add(key);
    });
  });
  return errs;
}

/** Go's %#v of a core.PodIP value, as upstream prints the entries it reports. */
class GoPodIP {
  constructor(private readonly ip: string) {}
  toString(): string {
    return `core.PodIP{IP:${formatFieldValue(this.ip)}}`;
  }
}
class GoPodIPs {
  constructor(private readonly ips: readonly string[]) {}
  toString(): string {
    return `[]core.PodIP{${this.ips.map((ip) => String(new GoPodIP(ip))).join(', ')}}`;
  }
}

function validatePodIPs(pod: Pod): ErrorList {
  const errs: ErrorList = [];
  const ips = pod.status?.podIPs ?? [];
  const path = FieldPath.root('status', 'podIPs');
  let bad = false;
  ips.forEach((p, i) => {
    const msgs = isValidIP(p.ip);
    if (msgs.length) bad = true;
    errs.push(...invalidEach(path.index(i), p.ip, msgs));
  });
  if (ips.length > 1 && !bad) {
    const list = ips.map((p) => p.ip);
    const v6 = list.map(isIPv6String);
    if (!(v6.includes(true) && v6.includes(false)) || ips.length > 2)
      errs.push(
        fieldErrors.invalid(path, new GoPodIPs(list), 'may specify no more than one IP for each IP family'),
      );
    const seen = new Set<string>();
    ips.forEach((p, i) => {
      if (seen.has(p.ip)) errs.push(fieldErrors.duplicate(path.index(i), new GoPodIP(p.ip)));
      seen.add(p.ip);
    });
  }
  return errs;
}
