/**
 * Kubernetes' Service validation (`ValidateService`, `ValidateServiceUpdate`), with its field
 * paths, messages and order, all errors at once.
 *
 * @module
 */

import { defaultService, MAX_CLIENT_IP_AFFINITY_TIMEOUT_S } from '../core/defaults';
import { type ErrorList, FieldPath, fieldErrors, formatFieldValue } from '../core/errors';
import type { Service, ServicePort, ServiceSpec, ServiceStatus } from '../core/types';
import {
  FIELD_IMMUTABLE_ERROR_MSG,
  invalidEach,
  isDNS1123Label,
  isDNS1123Subdomain,
  isIPv6String,
  isQualifiedName,
  isValidCIDRForLegacyField,
  isValidIPForLegacyField,
  isValidPortName,
  isValidPortNum,
  nameIsDNS1035Label,
  parseIPSloppy,
  validateLabels,
  validateNonSpecialIP,
  validateObjectMeta,
  validateObjectMetaUpdate,
} from './names';
import {
  externallyAccessible,
  needsHealthCheckNodePort,
  prepareServiceCreate,
  prepareServiceUpdate,
} from './service-strategy';

/** Options of {@link validateService}. */
export interface ServiceValidationOptions {
  /** Apply {@link defaultService} first, as the API server defaults on decode (default true). */
  readonly applyDefaults?: boolean;
  /**
   * The object went through allocation (clusterIPs, nodePorts, healthCheckNodePort filled in),
   * as it has when the API server validates it. Default false: a manifest as written, so values
   * the server would allocate (a missing `healthCheckNodePort`) are not required.
   */
  readonly allocated?: boolean;
  /**
   * Apply the StrictIPCIDRValidation rules to `clusterIPs`, `externalIPs` and
   * `loadBalancerSourceRanges` (no leading zeros, no IPv4-mapped IPv6, no CIDR host bits).
   * Default false, as the feature gate is off by default in Kubernetes 1.34.
   */
  readonly strictIPs?: boolean;
}

/** Supported values, sorted as upstream's `sets.List` prints them. */
const SESSION_AFFINITIES = ['ClientIP', 'None'] as const;
const SERVICE_TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'] as const;
const PROTOCOLS = ['SCTP', 'TCP', 'UDP'] as const;
const TRAFFIC_POLICIES = ['Cluster', 'Local'] as const;
const IP_FAMILIES = ['IPv4', 'IPv6'] as const;
const IP_FAMILY_POLICIES = ['PreferDualStack', 'RequireDualStack', 'SingleStack'] as const;
/** `spec.trafficDistribution` values accepted by Kubernetes 1.34 (PreferSameZone/Node are on by default). */
export const TRAFFIC_DISTRIBUTIONS = ['PreferClose', 'PreferSameZone', 'PreferSameNode'] as const;

/** Annotation carrying LoadBalancer source ranges (legacy form of the field). */
export const ANNOTATION_LOAD_BALANCER_SOURCE_RANGES =
  'service.beta.kubernetes.io/load-balancer-source-ranges';
const ANNOTATION_TOPOLOGY_MODE = 'service.kubernetes.io/topology-mode';
const ANNOTATION_TOPOLOGY_AWARE_HINTS = 'service.kubernetes.io/topology-aware-hints';

/** A value printed with a fixed Go-syntax text (what `%#v` shows for a Go struct). */
class GoLiteral {
  constructor(private readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const has = (list: readonly string[], v: unknown) => typeof v === 'string' && list.includes(v);
const isHeadless = (s: ServiceSpec) => s.clusterIPs?.length === 1 && s.clusterIPs[0] === 'None';
const own = (m: Readonly<Record<string, string>> | undefined, k: string) =>
  m !== undefined && Object.hasOwn(m, k) ? m[k] : undefined;

/**
 * Validates a Service as the API server does on create. By default the object is defaulted and
 * normalized (`clusterIP` → `clusterIPs`) first, as the server does before validating.
 */
export function validateService(svc: Service, opts: ServiceValidationOptions = {}): ErrorList {
  const prepared = prepareServiceCreate(opts.applyDefaults === false ? svc : defaultService(svc));
  return validateServiceObject(prepared, opts);
}

/**
 * Validates an update: metadata immutability, the clusterIPs/ipFamilies upgrade-downgrade
 * rules ("may not change once set"), loadBalancerClass and healthCheckNodePort immutability,
 * then everything {@link validateService} checks. `next` is prepared as the server's update
 * strategy does (type-dependent fields the user left unchanged are dropped on a type change).
 */
export function validateServiceUpdate(
  next: Service,
  prev: Service,
  opts: ServiceValidationOptions = {},
): ErrorList {
  const d = (s: Service) => (opts.applyDefaults === false ? s : defaultService(s));
  const oldSvc = d(prev);
  const svc = prepareServiceUpdate(d(next), oldSvc);
  const errs = validateObjectMetaUpdate(
    svc.metadata ?? {},
    oldSvc.metadata ?? {},
    FieldPath.root('metadata'),
  );
  errs.push(...upgradeDowngradeClusterIPs(oldSvc.spec ?? {}, svc.spec ?? {}));
  errs.push(...upgradeDowngradeIPFamilies(oldSvc.spec ?? {}, svc.spec ?? {}));
  errs.push(...loadBalancerClass(oldSvc.spec ?? {}, svc.spec ?? {}));
  const o = oldSvc.spec ?? {};
  const n = svc.spec ?? {};
  if (
    needsHealthCheckNodePort(o) &&
    needsHealthCheckNodePort(n) &&
    o.healthCheckNodePort !== n.healthCheckNodePort
  ) {
    errs.push(
      fieldErrors.forbidden(FieldPath.root('spec', 'healthCheckNodePort'), FIELD_IMMUTABLE_ERROR_MSG),
    );
  }
  errs.push(...validateServiceObject(svc, opts));
  return errs;
}

/** `status.loadBalancer.ingress[].ipMode` values, sorted as upstream lists them. */
const LOAD_BALANCER_IP_MODES = ['Proxy', 'VIP'] as const;

/**
 * Validates a status write (`ValidateServiceStatusUpdate`): metadata immutability, then the
 * load-balancer status against the (stored) spec. Status is never validated on create or
 * spec update, because the API server resets it there.
 */
export function validateServiceStatusUpdate(next: Service, prev: Service): ErrorList {
  const errs = validateObjectMetaUpdate(next.metadata ?? {}, prev.metadata ?? {}, FieldPath.root('metadata'));
  errs.push(
    ...validateLoadBalancerStatus(
      next.status ?? {},
      next.spec ?? {},
      FieldPath.root('status', 'loadBalancer'),
    ),
  );
  return errs;
}

/**
 * `status.loadBalancer` (`ValidateLoadBalancerStatus`, Kubernetes 1.34 gates): ingress only on
 * LoadBalancer services; each entry's `ip` valid, `ipMode` required with an `ip` and forbidden
 * without one, `hostname` a DNS subdomain that is not an IP address.
 */
export function validateLoadBalancerStatus(
  status: ServiceStatus,
  spec: ServiceSpec,
  path: FieldPath = FieldPath.root('status', 'loadBalancer'),
): ErrorList {
  const errs: ErrorList = [];
  const ingress = status.loadBalancer?.ingress ?? [];
  const ingPath = path.child('ingress');
  if (spec.type !== 'LoadBalancer' && ingress.length > 0) {
    return [fieldErrors.forbidden(ingPath, "may only be used when `spec.type` is 'LoadBalancer'")];
  }
  ingress.forEach((ing, i) => {
    const p = ingPath.index(i);
    const ip = ing.ip ?? '';
    if (ip.length > 0) errs.push(...invalidEach(p.child('ip'), ip, isValidIPForLegacyField(ip)));
    if (ing.ipMode === undefined || ing.ipMode === null) {
      if (ip.length > 0)
        errs.push(fieldErrors.required(p.child('ipMode'), 'must be specified when `ip` is set'));
    } else if (ip.length === 0) {
      errs.push(fieldErrors.forbidden(p.child('ipMode'), 'may not be specified when `ip` is not set'));
    } else if (!has(LOAD_BALANCER_IP_MODES, ing.ipMode)) {
      errs.push(fieldErrors.notSupported(p.child('ipMode'), ing.ipMode, LOAD_BALANCER_IP_MODES));
    }
    const host = ing.hostname ?? '';
    if (host.length > 0) {
      errs.push(...invalidEach(p.child('hostname'), host, isDNS1123Subdomain(host)));
      if (parseIPSloppy(host))
        errs.push(fieldErrors.invalid(p.child('hostname'), host, 'must be a DNS name, not an IP address'));
    }
  });
  return errs;
}

function validateServiceObject(svc: Service, opts: ServiceValidationOptions): ErrorList {
  const metaPath = FieldPath.root('metadata');
  const errs = validateObjectMeta(
    svc.metadata,
    { namespaced: true, nameValidator: nameIsDNS1035Label },
    metaPath,
  );
  const ann = svc.metadata?.annotations;
  const mode = own(ann, ANNOTATION_TOPOLOGY_MODE);
  const hints = own(ann, ANNOTATION_TOPOLOGY_AWARE_HINTS);
  if (mode !== undefined && hints !== undefined && mode !== hints) {
    errs.push(
      fieldErrors.invalid(
        metaPath.child('annotations').key(ANNOTATION_TOPOLOGY_MODE),
        mode,
        `must match annotations[${ANNOTATION_TOPOLOGY_AWARE_HINTS}] when both are specified`,
      ),
    );
  }

  const spec = svc.spec ?? {};
  const specPath = FieldPath.root('spec');
  const ports = spec.ports ?? [];
  const headless = isHeadless(spec);
  if (ports.length === 0 && !headless && spec.type !== 'ExternalName')
    errs.push(fieldErrors.required(specPath.child('ports'), ''));

  switch (spec.type) {
    case 'LoadBalancer':
    case 'NodePort':
      if (headless)
        errs.push(
          fieldErrors.invalid(
            specPath.child('clusterIPs').index(0),
            spec.clusterIPs?.[0],
            `may not be set to 'None' for ${spec.type} services`,
          ),
        );
      break;
    case 'ExternalName': {
      if ((spec.clusterIPs?.length ?? 0) > 0)
        errs.push(
          fieldErrors.forbidden(specPath.child('clusterIPs'), 'may not be set for ExternalName services'),
        );
      if ((spec.ipFamilies?.length ?? 0) > 0)
        errs.push(
          fieldErrors.forbidden(specPath.child('ipFamilies'), 'may not be set for ExternalName services'),
        );
      if (spec.ipFamilyPolicy !== undefined)
        errs.push(
          fieldErrors.forbidden(specPath.child('ipFamilyPolicy'), 'may not be set for ExternalName services'),
        );
      // a trailing dot marks the CNAME target as fully qualified
      const cname = (spec.externalName ?? '').replace(/\.$/, '');
      if (cname.length > 0)
        errs.push(...invalidEach(specPath.child('externalName'), cname, isDNS1123Subdomain(cname)));
      else errs.push(fieldErrors.required(specPath.child('externalName'), ''));
      break;
    }
  }

  const names = new Set<string>();
  ports.forEach((p, i) => {
    errs.push(...validateServicePort(p, ports.length > 1, names, specPath.child('ports').index(i)));
  });

  if (spec.selector) errs.push(...validateLabels(spec.selector, specPath.child('selector')));

  if (!spec.sessionAffinity) errs.push(fieldErrors.required(specPath.child('sessionAffinity'), ''));
  else if (!has(SESSION_AFFINITIES, spec.sessionAffinity))
    errs.push(
      fieldErrors.notSupported(specPath.child('sessionAffinity'), spec.sessionAffinity, SESSION_AFFINITIES),
    );

  if (spec.sessionAffinity === 'ClientIP') {
    errs.push(...clientIPAffinityConfig(spec, specPath.child('sessionAffinityConfig')));
  } else if (spec.sessionAffinity === 'None' && spec.sessionAffinityConfig !== undefined) {
    errs.push(
      fieldErrors.forbidden(
        specPath.child('sessionAffinityConfig'),
        'must not be set when session affinity is None',
      ),
    );
  }

  errs.push(...validateClusterIPsRelatedFields(spec, opts.strictIPs));

  (spec.externalIPs ?? []).forEach((ip, i) => {
    const p = specPath.child('externalIPs').index(i);
    const msgs = isValidIPForLegacyField(ip, opts.strictIPs);
    if (msgs.length) errs.push(...invalidEach(p, ip, msgs));
    else errs.push(...validateNonSpecialIP(ip, p));
  });

  if (!spec.type) errs.push(fieldErrors.required(specPath.child('type'), ''));
  else if (!has(SERVICE_TYPES, spec.type))
    errs.push(fieldErrors.notSupported(specPath.child('type'), spec.type, SERVICE_TYPES));

  if (spec.type === 'ClusterIP') {
    ports.forEach((p, i) => {
      if (p.nodePort)
        errs.push(
          fieldErrors.forbidden(
            specPath.child('ports').index(i).child('nodePort'),
            "may not be used when `type` is 'ClusterIP'",
          ),
        );
    });
  }

  const nodePorts = new Set<string>();
  ports.forEach((p, i) => {
    if (!p.nodePort) return;
    const key = `${p.protocol ?? ''}/${p.nodePort}`;
    if (nodePorts.has(key))
      errs.push(fieldErrors.duplicate(specPath.child('ports').index(i).child('nodePort'), p.nodePort));
    nodePorts.add(key);
  });

  const seen = new Set<string>();
  ports.forEach((p, i) => {
    const key = `${p.protocol ?? ''}/${p.port}`;
    if (seen.has(key))
      errs.push(fieldErrors.duplicate(specPath.child('ports').index(i), goServicePortKey(p)));
    seen.add(key);
  });

  const ranges = spec.loadBalancerSourceRanges ?? [];
  const rangesAnnotation = own(ann, ANNOTATION_LOAD_BALANCER_SOURCE_RANGES);
  if (ranges.length > 0) {
    // upstream spells this path with a capital L
    const p = specPath.child('LoadBalancerSourceRanges');
    if (spec.type !== 'LoadBalancer')
      errs.push(fieldErrors.forbidden(p, "may only be used when `type` is 'LoadBalancer'"));
    ranges.forEach((r, i) => {
      const v = r.trim();
      errs.push(...invalidEach(p.index(i), v, isValidCIDRForLegacyField(v, opts.strictIPs)));
    });
  } else if (rangesAnnotation !== undefined) {
    const p = FieldPath.root('metadata', 'annotations').key(ANNOTATION_LOAD_BALANCER_SOURCE_RANGES);
    if (spec.type !== 'LoadBalancer')
      errs.push(fieldErrors.forbidden(p, "may only be used when `type` is 'LoadBalancer'"));
    const v = rangesAnnotation.trim();
    if (v !== '') {
      for (const c of v.split(',')) {
        const cidr = c.trim();
        errs.push(...invalidEach(p, cidr, isValidCIDRForLegacyField(cidr, opts.strictIPs)));
      }
    }
  }

  if (spec.allocateLoadBalancerNodePorts !== undefined && spec.type !== 'LoadBalancer') {
    errs.push(
      fieldErrors.forbidden(
        specPath.child('allocateLoadBalancerNodePorts'),
        "may only be used when `type` is 'LoadBalancer'",
      ),
    );
  }
  if (spec.type === 'LoadBalancer' && spec.allocateLoadBalancerNodePorts === undefined) {
    // upstream reports this one without the `spec.` prefix
    errs.push(fieldErrors.required(FieldPath.root('allocateLoadBalancerNodePorts'), ''));
  }

  errs.push(...loadBalancerClass(undefined, spec));
  errs.push(...externalTrafficPolicy(spec, opts));
  errs.push(...internalTrafficPolicy(spec));
  if (spec.trafficDistribution !== undefined && !has(TRAFFIC_DISTRIBUTIONS, spec.trafficDistribution)) {
    errs.push(
      fieldErrors.notSupported(
        specPath.child('trafficDistribution'),
        spec.trafficDistribution,
        TRAFFIC_DISTRIBUTIONS,
      ),
    );
  }
  return errs;
}

// Go's %#v of a slice: the element type is printed, and an absent list is a nil slice
// (`[]string(nil)`), unlike an empty one (`[]string{}`).
function goSlice(type: string, list: readonly string[] | undefined): GoLiteral {
  if (list === undefined) return new GoLiteral(`[]${type}(nil)`);
  return new GoLiteral(`[]${type}{${list.map((v) => formatFieldValue(String(v))).join(', ')}}`);
}
const goIPFamilies = (list: readonly string[] | undefined) => goSlice('core.IPFamily', list);
const goStrings = (list: readonly string[] | undefined) => goSlice('string', list);

// What Go's %#v prints for the ServicePort key upstream reports as a duplicate.
function goServicePortKey(p: ServicePort): GoLiteral {
  return new GoLiteral(
    `core.ServicePort{Name:"", Protocol:${JSON.stringify(p.protocol ?? '')}, AppProtocol:(*string)(nil), Port:${p.port}, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}`,
  );
}

function validateServicePort(
  sp: ServicePort,
  requireName: boolean,
  names: Set<string>,
  path: FieldPath,
): ErrorList {
  const errs: ErrorList = [];
  const name = sp.name ?? '';
  if (requireName && name.length === 0) {
    errs.push(fieldErrors.required(path.child('name'), ''));
  } else if (name.length !== 0) {
    errs.push(...invalidEach(path.child('name'), name, isDNS1123Label(name)));
    if (names.has(name)) errs.push(fieldErrors.duplicate(path.child('name'), name));
    else names.add(name);
  }
  errs.push(...invalidEach(path.child('port'), sp.port ?? 0, isValidPortNum(sp.port ?? 0)));
  if (!sp.protocol) errs.push(fieldErrors.required(path.child('protocol'), ''));
  else if (!has(PROTOCOLS, sp.protocol))
    errs.push(fieldErrors.notSupported(path.child('protocol'), sp.protocol, PROTOCOLS));
  errs.push(...validatePortNumOrName(sp.targetPort ?? 0, path.child('targetPort')));
  if (sp.appProtocol !== undefined)
    errs.push(...invalidEach(path.child('appProtocol'), sp.appProtocol, isQualifiedName(sp.appProtocol)));
  return errs;
}

/** A port given as a number (1-65535) or an IANA service name (`ValidatePortNumOrName`). */
export function validatePortNumOrName(port: number | string, path: FieldPath | string): ErrorList {
  if (typeof port === 'number') return invalidEach(path, port, isValidPortNum(port));
  return invalidEach(path, port, isValidPortName(port));
}

function clientIPAffinityConfig(spec: ServiceSpec, path: FieldPath): ErrorList {
  const detail = 'when session affinity type is ClientIP';
  const cfg = spec.sessionAffinityConfig;
  if (!cfg) return [fieldErrors.required(path, detail)];
  if (!cfg.clientIP) return [fieldErrors.required(path.child('clientIP'), detail)];
  const t = cfg.clientIP.timeoutSeconds;
  const tp = path.child('clientIP', 'timeoutSeconds');
  if (t === undefined) return [fieldErrors.required(tp, detail)];
  if (t <= 0 || t > MAX_CLIENT_IP_AFFINITY_TIMEOUT_S) {
    return [
      fieldErrors.invalid(tp, t, `must be greater than 0 and less than ${MAX_CLIENT_IP_AFFINITY_TIMEOUT_S}`),
    ];
  }
  return [];
}

/** `spec.clusterIP`/`clusterIPs`/`ipFamilies`/`ipFamilyPolicy` consistency (`ValidateServiceClusterIPsRelatedFields`). */
export function validateClusterIPsRelatedFields(spec: ServiceSpec, strictIPs = false): ErrorList {
  if (spec.type === 'ExternalName') return [];
  const errs: ErrorList = [];
  const specPath = FieldPath.root('spec');
  const ipsPath = specPath.child('clusterIPs');
  const famPath = specPath.child('ipFamilies');
  const ips = spec.clusterIPs ?? [];
  let hasInvalidIPs = false;
  if (spec.clusterIP) {
    if (ips.length === 0) errs.push(fieldErrors.required(ipsPath, ''));
    else if (ips[0] !== spec.clusterIP)
      errs.push(fieldErrors.invalid(ipsPath, ips, 'first value must match `clusterIP`'));
  } else if (ips.length !== 0) {
    errs.push(fieldErrors.invalid(ipsPath, ips, 'must be empty when `clusterIP` is not specified'));
  }
  const seen = new Set<string>();
  (spec.ipFamilies ?? []).forEach((f, i) => {
    if (!has(IP_FAMILIES, f)) errs.push(fieldErrors.notSupported(famPath.index(i), f, IP_FAMILIES));
    if (seen.has(f)) errs.push(fieldErrors.duplicate(famPath.index(i), f));
    seen.add(f);
  });
  if (spec.ipFamilyPolicy !== undefined && !has(IP_FAMILY_POLICIES, spec.ipFamilyPolicy)) {
    errs.push(
      fieldErrors.notSupported(specPath.child('ipFamilyPolicy'), spec.ipFamilyPolicy, IP_FAMILY_POLICIES),
    );
  }
  ips.forEach((ip, i) => {
    if (i === 0 && ip === 'None') {
      if (ips.length > 1) {
        hasInvalidIPs = true;
        errs.push(fieldErrors.invalid(ipsPath, ips, "'None' must be the first and only value"));
      }
      return;
    }
    const msgs = isValidIPForLegacyField(ip, strictIPs);
    if (msgs.length) hasInvalidIPs = true;
    errs.push(...invalidEach(ipsPath.index(i), ip, msgs));
  });
  if (ips.length > 2) errs.push(fieldErrors.invalid(ipsPath, ips, 'may only hold up to 2 values'));
  if (hasInvalidIPs) return errs;
  if (ips.length > 1) {
    const v6 = ips.map(isIPv6String);
    const dual = v6.includes(true) && v6.includes(false) && ips.every((ip) => parseIPSloppy(ip));
    if (!dual)
      errs.push(fieldErrors.invalid(ipsPath, ips, 'may specify no more than one IP for each IP family'));
  }
  const fams = spec.ipFamilies ?? [];
  if (!isHeadless(spec) && ips.length > 0 && fams.length > 0) {
    for (let i = 0; i < ips.length && i < fams.length; i++) {
      const ip = ips[i] as string;
      if (fams[i] === 'IPv4' && isIPv6String(ip))
        errs.push(
          fieldErrors.invalid(
            ipsPath.index(i),
            ip,
            `expected an IPv4 value as indicated by \`ipFamilies[${i}]\``,
          ),
        );
      if (fams[i] === 'IPv6' && !isIPv6String(ip))
        errs.push(
          fieldErrors.invalid(
            ipsPath.index(i),
            ip,
            `expected an IPv6 value as indicated by \`ipFamilies[${i}]\``,
          ),
        );
    }
  }
  return errs;
}

function externalTrafficPolicy(spec: ServiceSpec, opts: ServiceValidationOptions): ErrorList {
  const errs: ErrorList = [];
  const specPath = FieldPath.root('spec');
  if (!externallyAccessible(spec)) {
    if (spec.externalTrafficPolicy)
      errs.push(
        fieldErrors.invalid(
          specPath.child('externalTrafficPolicy'),
          spec.externalTrafficPolicy,
          'may only be set for externally-accessible services',
        ),
      );
  } else if (!spec.externalTrafficPolicy) {
    errs.push(fieldErrors.required(specPath.child('externalTrafficPolicy'), ''));
  } else if (!has(TRAFFIC_POLICIES, spec.externalTrafficPolicy)) {
    errs.push(
      fieldErrors.notSupported(
        specPath.child('externalTrafficPolicy'),
        spec.externalTrafficPolicy,
        TRAFFIC_POLICIES,
      ),
    );
  }
  const hc = spec.healthCheckNodePort ?? 0;
  if (!needsHealthCheckNodePort(spec)) {
    if (hc !== 0)
      errs.push(
        fieldErrors.invalid(
          specPath.child('healthCheckNodePort'),
          hc,
          "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
        ),
      );
  } else if (hc === 0) {
    if (opts.allocated) errs.push(fieldErrors.required(specPath.child('healthCheckNodePort'), ''));
  } else {
    errs.push(...invalidEach(specPath.child('healthCheckNodePort'), hc, isValidPortNum(hc)));
  }
  return errs;
}

function internalTrafficPolicy(spec: ServiceSpec): ErrorList {
  const p = FieldPath.root('spec', 'internalTrafficPolicy');
  if (spec.internalTrafficPolicy === undefined) {
    // only required for these types: older stored objects of other types lack it
    return spec.type === 'NodePort' || spec.type === 'LoadBalancer' || spec.type === 'ClusterIP'
      ? [fieldErrors.required(p, '')]
      : [];
  }
  return has(TRAFFIC_POLICIES, spec.internalTrafficPolicy)
    ? []
    : [fieldErrors.notSupported(p, spec.internalTrafficPolicy, TRAFFIC_POLICIES)];
}

function loadBalancerClass(old: ServiceSpec | undefined, spec: ServiceSpec): ErrorList {
  const errs: ErrorList = [];
  const p = FieldPath.root('spec', 'loadBalancerClass');
  if (
    old &&
    old.type === 'LoadBalancer' &&
    spec.type === 'LoadBalancer' &&
    old.loadBalancerClass !== spec.loadBalancerClass
  ) {
    errs.push(fieldErrors.invalid(p, spec.loadBalancerClass ?? null, 'may not change once set'));
  }
  if (old) return errs;
  if (spec.type === 'LoadBalancer') {
    if (spec.loadBalancerClass !== undefined)
      errs.push(...invalidEach(p, spec.loadBalancerClass, isQualifiedName(spec.loadBalancerClass)));
  } else if (spec.loadBalancerClass !== undefined) {
    errs.push(fieldErrors.forbidden(p, "may only be used when `type` is 'LoadBalancer'"));
  }
  return errs;
}

function upgradeDowngradeClusterIPs(o: ServiceSpec, n: ServiceSpec): ErrorList {
  const errs: ErrorList = [];
  if (n.type === 'ExternalName' || o.type === 'ExternalName') return errs;
  if (isHeadless(o) && isHeadless(n)) return errs;
  const oldIPs = o.clusterIPs ?? [];
  const newIPs = n.clusterIPs ?? [];
  const printed = goStrings(n.clusterIPs);
  const p = FieldPath.root('spec', 'clusterIPs');
  if (oldIPs.length === newIPs.length) {
    oldIPs.forEach((ip, i) => {
      if (ip !== newIPs[i]) errs.push(fieldErrors.invalid(p.index(i), printed, 'may not change once set'));
    });
  } else if (oldIPs.length > newIPs.length) {
    if (newIPs.length === 0)
      errs.push(fieldErrors.invalid(p.index(0), printed, 'primary clusterIP can not be unset'));
    if (oldIPs.length > 0 && newIPs.length > 0 && newIPs[0] !== oldIPs[0])
      errs.push(fieldErrors.invalid(p.index(0), printed, 'may not change once set'));
    if (newIPs.length === 1 && n.ipFamilyPolicy !== 'SingleStack')
      errs.push(
        fieldErrors.invalid(
          FieldPath.root('spec', 'ipFamilyPolicy'),
          n.ipFamilyPolicy ?? null,
          "must be set to 'SingleStack' when releasing the secondary clusterIP",
        ),
      );
  } else if (oldIPs.length > 0 && newIPs[0] !== oldIPs[0]) {
    errs.push(fieldErrors.invalid(p.index(0), printed, 'may not change once set'));
  }
  return errs;
}

function upgradeDowngradeIPFamilies(o: ServiceSpec, n: ServiceSpec): ErrorList {
  const errs: ErrorList = [];
  if (n.type === 'ExternalName' || o.type === 'ExternalName') return errs;
  if (isHeadless(o) !== isHeadless(n) || isHeadless(n)) return errs;
  const oldF = o.ipFamilies ?? [];
  const newF = n.ipFamilies ?? [];
  const p = FieldPath.root('spec', 'ipFamilies').index(0);
  if (oldF.length === newF.length) {
    oldF.forEach((f, i) => {
      if (f !== newF[i])
        errs.push(fieldErrors.invalid(p, goIPFamilies(n.ipFamilies), 'may not change once set'));
    });
  } else if (oldF.length > newF.length) {
    if ((n.clusterIPs?.length ?? 0) === 0)
      errs.push(fieldErrors.invalid(p, goIPFamilies(n.ipFamilies), 'primary ipFamily can not be unset'));
    if (newF.length > 0 && newF[0] !== oldF[0])
      errs.push(fieldErrors.invalid(p, goStrings(n.clusterIPs), 'may not change once set'));
    if (newF.length === 1 && n.ipFamilyPolicy !== 'SingleStack')
      errs.push(
        fieldErrors.invalid(
          FieldPath.root('spec', 'ipFamilyPolicy'),
          n.ipFamilyPolicy ?? null,
          "must be set to 'SingleStack' when releasing the secondary ipFamily",
        ),
      );
  } else if (oldF.length > 0 && newF.length > 0 && newF[0] !== oldF[0]) {
    errs.push(fieldErrors.invalid(p, goStrings(n.clusterIPs), 'may not change once set'));
  }
  return errs;
}
