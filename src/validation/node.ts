/**
 * The parts of Kubernetes' Node validation (`ValidateNode`) that pod networking depends on:
 * metadata and the pod CIDRs a node hands its pods' addresses out of.
 *
 * @module
 */

import { type ErrorList, FieldPath, fieldErrors } from '../core/errors';
import type { Node } from '../core/types';
import { invalidEach, isValidCIDR, nameIsDNSSubdomain, parseCIDRSloppy, validateObjectMeta } from './names';

/**
 * Validates a Node: metadata (name a DNS subdomain, no namespace), then `spec.podCIDRs` (the
 * v1 `podCIDR` stands in when the list is absent, as conversion does): each a CIDR, at most
 * one per IP family, no duplicates. When a CIDR does not parse, only that is reported (the
 * server adds an internal "failed to check with dual stack" error there, not reproduced).
 */
export function validateNode(node: Node): ErrorList {
  const errs = validateObjectMeta(
    node.metadata,
    { namespaced: false, nameValidator: nameIsDNSSubdomain },
    FieldPath.root('metadata'),
  );
  const spec = node.spec ?? {};
  const cidrs = spec.podCIDRs?.length ? spec.podCIDRs : spec.podCIDR ? [spec.podCIDR] : [];
  const path = FieldPath.root('spec', 'podCIDRs');
  let parsed = true;
  cidrs.forEach((c, i) => {
    const msgs = isValidCIDR(c);
    if (msgs.length) parsed = false;
    errs.push(...invalidEach(path.index(i), c, msgs));
  });
  if (cidrs.length > 1 && parsed) {
    const v6 = cidrs.map((c) => !parseCIDRSloppy(c)?.ip.v4);
    if (!(v6.includes(true) && v6.includes(false)) || cidrs.length > 2)
      errs.push(
        fieldErrors.invalid(path, [...cidrs], 'may specify no more than one CIDR for each IP family'),
      );
    const seen = new Set<string>();
    cidrs.forEach((c, i) => {
      if (seen.has(c)) errs.push(fieldErrors.duplicate(path.index(i), c));
      seen.add(c);
    });
  }
  return errs;
}
