/**
 * How the API server fills in a Service's `ipFamilyPolicy` and `ipFamilies` while allocating
 * (its REST layer's `initIPFamilyFields`), as a pure function with the server's messages.
 *
 * @module
 */

import { type ErrorList, FieldPath, fieldErrors } from '../core/errors';
import type { IPFamily, Service, ServiceSpec } from '../core/types';
import { isIPv6String } from './names';
import { validateClusterIPsRelatedFields } from './service';

/** Result of {@link initServiceIPFamilies}. */
export interface ServiceIPFamilyInit {
  /** A new Service with `ipFamilyPolicy` / `ipFamilies` (and possibly trimmed clusterIPs) set. */
  readonly service: Service;
  /** Problems the server reports at this stage (its `Invalid` status); empty on success. */
  readonly errors: ErrorList;
}

const assignsIP = (s: ServiceSpec) =>
  s.type === 'ClusterIP' || s.type === 'NodePort' || s.type === 'LoadBalancer';
const sameList = (a: readonly unknown[] | undefined, b: readonly unknown[] | undefined) =>
  (a?.length ?? 0) === (b?.length ?? 0) && (a ?? []).every((x, i) => x === b?.[i]);
const familyOf = (ip: string): IPFamily => (isIPv6String(ip) ? 'IPv6' : 'IPv4');
const other = (f: IPFamily): IPFamily => (f === 'IPv4' ? 'IPv6' : 'IPv4');

/**
 * Infers the IP family fields of a (defaulted) Service.
 *
 * Contract: `clusterFamilies` lists the families of the configured service CIDRs, primary
 * first (one entry, or two for a dual-stack cluster); `prev` is the stored object on update.
 * Returns a new object, never mutates. ExternalName services are returned unchanged. Rules, in
 * the server's order: an absent policy is taken from `prev`, else `RequireDualStack` for a
 * headless selector-less service, else `SingleStack`; a PreferDualStack update that changes no
 * IPs or families is left alone; families are inferred from given `clusterIPs`; headless
 * selector-less services get both families unless SingleStack; otherwise the requested
 * families must be configured, missing ones default to the cluster's primary, and non-SingleStack
 * services get the second family when the cluster has two. Errors use the server's messages
 * ("this cluster is not configured for dual-stack services", "not configured on this cluster",
 * …) and paths.
 */
export function initServiceIPFamilies(
  input: Service,
  clusterFamilies: readonly IPFamily[],
  prev?: Service,
): ServiceIPFamilyInit {
  const service = structuredClone(input);
  if (!service.spec) service.spec = {};
  const s = service.spec;
  const o = prev?.spec;
  if (s.type === 'ExternalName') return { service, errors: [] };

  if (
    o &&
    s.ipFamilyPolicy !== undefined &&
    o.type === s.type &&
    assignsIP(s) &&
    s.ipFamilyPolicy === 'PreferDualStack' &&
    (o.ipFamilyPolicy === undefined || o.ipFamilyPolicy === 'PreferDualStack') &&
    sameList(o.clusterIPs, s.clusterIPs) &&
    sameList(o.ipFamilies, s.ipFamilies)
  ) {
    return { service, errors: [] };
  }

  const headlessSelectorless = s.clusterIP === 'None' && Object.keys(s.selector ?? {}).length === 0;
  if (s.ipFamilyPolicy === undefined) {
    if (o?.ipFamilyPolicy !== undefined) s.ipFamilyPolicy = o.ipFamilyPolicy;
    else s.ipFamilyPolicy = headlessSelectorless ? 'RequireDualStack' : 'SingleStack';
  }
  const pre = validateClusterIPsRelatedFields(s);
  if (pre.length) return { service, errors: pre };

  const errors: ErrorList = [];
  const policyPath = FieldPath.root('spec', 'ipFamilyPolicy');
  if (o) {
    if (s.ipFamilyPolicy === 'SingleStack') {
      if (sameList(o.clusterIPs, s.clusterIPs) && (s.clusterIPs?.length ?? 0) > 1)
        s.clusterIPs = (s.clusterIPs ?? []).slice(0, 1);
      if (sameList(o.ipFamilies, s.ipFamilies) && (s.ipFamilies?.length ?? 0) > 1)
        s.ipFamilies = (s.ipFamilies ?? []).slice(0, 1);
    } else {
      const n = s.clusterIPs?.length ?? 0;
      if (n > 0 && n < (o.clusterIPs?.length ?? 0))
        errors.push(
          fieldErrors.invalid(
            policyPath,
            s.ipFamilyPolicy,
            "must be 'SingleStack' to release the secondary cluster IP",
          ),
        );
      const f = s.ipFamilies?.length ?? 0;
      if (f > 0 && f < (o.ipFamilies?.length ?? 0))
        errors.push(
          fieldErrors.invalid(
            policyPath,
            s.ipFamilyPolicy,
            "must be 'SingleStack' to release the secondary IP family",
          ),
        );
    }
  }
  if (s.ipFamilyPolicy === 'SingleStack') {
    if ((s.clusterIPs?.length ?? 0) === 2)
      errors.push(
        fieldErrors.invalid(
          policyPath,
          s.ipFamilyPolicy,
          "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified",
        ),
      );
    if ((s.ipFamilies?.length ?? 0) === 2)
      errors.push(
        fieldErrors.invalid(
          policyPath,
          s.ipFamilyPolicy,
          "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified",
        ),
      );
  }
  const families = [...(s.ipFamilies ?? [])];
  const ips = s.clusterIPs ?? [];
  for (let i = 0; i < ips.length; i++) {
    const ip = ips[i] as string;
    if (ip === 'None') break;
    if (i >= families.length) {
      const fam = familyOf(ip);
      if (!clusterFamilies.includes(fam))
        errors.push(
          fieldErrors.invalid(
            FieldPath.root('spec', 'clusterIPs').index(i),
            ips,
            `${fam} is not configured on this cluster`,
          ),
        );
      else families.push(fam);
    }
  }
  if (errors.length) return { service, errors };

  const primary = clusterFamilies[0] ?? 'IPv4';
  if (headlessSelectorless) {
    if (families.length === 0) families.push(primary);
    if (families.length < 2 && s.ipFamilyPolicy !== 'SingleStack')
      families.push(other(families[0] as IPFamily));
    s.ipFamilies = families;
    return { service, errors };
  }
  if (s.ipFamilyPolicy === 'RequireDualStack' && clusterFamilies.length < 2)
    errors.push(
      fieldErrors.invalid(
        policyPath,
        s.ipFamilyPolicy,
        'this cluster is not configured for dual-stack services',
      ),
    );
  families.forEach((f, i) => {
    if (!clusterFamilies.includes(f))
      errors.push(
        fieldErrors.invalid(
          FieldPath.root('spec', 'ipFamilies').index(i),
          f,
          'not configured on this cluster',
        ),
      );
  });
  if (errors.length) return { service, errors };
  if (families.length === 0) families.push(primary);
  if (s.ipFamilyPolicy !== 'SingleStack' && families.length === 1 && clusterFamilies.length === 2)
    families.push(other(families[0] as IPFamily));
  s.ipFamilies = families;
  return { service, errors };
}
