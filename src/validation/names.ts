/**
 * Kubernetes' value checkers (apimachinery `pkg/util/validation` and `api/validation`): names,
 * labels, annotations, ports, IPs and CIDRs, and object metadata. Checkers return message lists
 * (empty = valid) worded exactly as the API server words them; `validate*` functions return an
 * {@link ErrorList} with field paths.
 *
 * @module
 */

import { type ErrorList, type FieldPath, fieldErrors } from '../core/errors';
import type { ObjectMeta } from '../core/types';
import {
  inclusiveRangeError,
  isDNS1035Label,
  isDNS1123Label,
  isDNS1123Subdomain,
  isQualifiedName,
  isValidLabelValue,
  maxLenError,
} from '../selector/label-syntax';

export {
  emptyError,
  inclusiveRangeError,
  isDNS1035Label,
  isDNS1123Label,
  isDNS1123Subdomain,
  isQualifiedName,
  isValidLabelValue,
  maxLenError,
  regexError,
} from '../selector/label-syntax';

/** `must be immutable` message of apimachinery (`FieldImmutableErrorMsg`). */
export const FIELD_IMMUTABLE_ERROR_MSG = 'field is immutable';
/** `IsNegativeErrorMsg` of apimachinery. */
export const IS_NEGATIVE_ERROR_MSG = 'must be greater than or equal to 0';
/** Total size limit of an object's annotations (keys + values), apimachinery's `TotalAnnotationSizeLimitB`. */
export const TOTAL_ANNOTATION_SIZE_LIMIT_B = 256 * 1024;

/** `lo <= value <= hi`, else apimachinery's "must be between lo and hi, inclusive". */
export function isInRange(value: number, lo: number, hi: number): string[] {
  return value >= lo && value <= hi ? [] : [inclusiveRangeError(lo, hi)];
}

/** A TCP/UDP/SCTP port number: 1-65535. */
export function isValidPortNum(port: number): string[] {
  return Number.isInteger(port) && port >= 1 && port <= 65535 ? [] : [inclusiveRangeError(1, 65535)];
}

/** An IANA service name (named ports, `targetPort` strings): at most 15 of `[-a-z0-9]`, one letter. */
export function isValidPortName(port: string): string[] {
  const errs: string[] = [];
  if (port.length > 15) errs.push(maxLenError(15));
  if (!/^[-a-z0-9]+$/.test(port))
    errs.push('must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)');
  if (!/[a-z]/.test(port)) errs.push('must contain at least one letter (a-z)');
  if (port.includes('--')) errs.push('must not contain consecutive hyphens');
  if (port.length > 0 && (port.startsWith('-') || port.endsWith('-')))
    errs.push('must not begin or end with a hyphen');
  return errs;
}

// ---------------------------------------------------------------------------------------------
// IP addresses. The API server parses service and endpoint IPs "sloppily" (Go's pre-1.17 rules
// kept by k8s.io/utils/net): IPv4 octets may carry leading zeros (read as decimal), and an
// IPv4-mapped IPv6 address counts as IPv4.

/** A parsed address: 4 or 16 bytes; `v4` true for IPv4 and IPv4-mapped IPv6 (Go's `To4() != nil`). */
export interface SloppyIP {
  readonly bytes: Uint8Array;
  readonly v4: boolean;
}

function parseIPv4Sloppy(s: string): Uint8Array | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i] as string;
    // Go's dtoi: any number of decimal digits (leading zeros included) up to 255
    if (!/^[0-9]+$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

function parseIPv6(s: string): Uint8Array | undefined {
  if (s.length === 0 || s.includes('%')) return undefined;
  let tail: Uint8Array | undefined;
  let text = s;
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    tail = parseIPv4Sloppy(s.slice(lastColon + 1));
    if (!tail) return undefined;
    text = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const dbl = text.indexOf('::');
  if (dbl !== -1 && text.indexOf('::', dbl + 1) !== -1) return undefined;
  const groupsOf = (t: string) => (t === '' ? [] : t.split(':'));
  const head = dbl === -1 ? groupsOf(text) : groupsOf(text.slice(0, dbl));
  const rest = dbl === -1 ? [] : groupsOf(text.slice(dbl + 2));
  const total = head.length + rest.length;
  if (dbl === -1 ? total !== 8 : total > 7) return undefined;
  const words = [...head, ...new Array<string>(8 - total).fill('0'), ...rest];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const w = words[i] as string;
    if (!/^[0-9a-fA-F]{1,4}$/.test(w)) return undefined;
    const n = Number.parseInt(w, 16);
    out[2 * i] = n >> 8;
    out[2 * i + 1] = n & 0xff;
  }
  if (tail) out.set(tail, 12);
  return out;
}

/** Parses an IP like the API server does (sloppy IPv4); undefined when invalid. */
export function parseIPSloppy(value: string): SloppyIP | undefined {
  if (value.includes(':')) {
    const b = parseIPv6(value);
    if (!b) return undefined;
    const mapped = b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
    return { bytes: b, v4: mapped };
  }
  const b = parseIPv4Sloppy(value);
  return b ? { bytes: b, v4: true } : undefined;
}

/** True for an IPv6 address that is not IPv4-mapped (k8s.io/utils/net `IsIPv6String`). */
export function isIPv6String(value: string): boolean {
  const ip = parseIPSloppy(value);
  return ip !== undefined && !ip.v4;
}

/** Any IPv4 or IPv6 address, as Service and endpoint IP fields accept it. */
export function isValidIP(value: string): string[] {
  return parseIPSloppy(value) ? [] : ['must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'];
}

/** An IPv4 address (IPv4-mapped IPv6 included, as upstream). */
export function isValidIPv4Address(value: string): string[] {
  const ip = parseIPSloppy(value);
  return ip?.v4 ? [] : ['must be a valid IPv4 address'];
}

/** An IPv6 address that is not IPv4-mapped. */
export function isValidIPv6Address(value: string): string[] {
  const ip = parseIPSloppy(value);
  return ip && !ip.v4 ? [] : ['must be a valid IPv6 address'];
}

// Leading zeros in an IPv4 octet (alone or embedded in IPv6): what Go's netip rejects.
function hasLeadingZeroOctet(value: string): boolean {
  const v4 = value.slice(value.lastIndexOf(':') + 1);
  return v4.includes('.') && v4.split('.').some((o) => o.length > 1 && o.startsWith('0'));
}

/**
 * An IP in a field that predates strict validation (`clusterIPs`, `externalIPs`, pod IPs,
 * endpoint addresses): sloppy parsing, plus, with `strict` (the StrictIPCIDRValidation feature
 * gate, off by default in Kubernetes 1.34), no leading zeros and no IPv4-mapped IPv6.
 */
export function isValidIPForLegacyField(value: string, strict = false): string[] {
  const ip = parseIPSloppy(value);
  if (!ip) return isValidIP(value);
  if (!strict) return [];
  const errs: string[] = [];
  if (hasLeadingZeroOctet(value)) errs.push('must not have leading 0s');
  if (ip.v4 && ip.bytes.length === 16) errs.push('must not be an IPv4-mapped IPv6 address');
  return errs;
}

/** An IP under current rules for new fields: strict, and in canonical form. */
export function isValidIPStrict(value: string): string[] {
  const errs = isValidIPForLegacyField(value, true);
  if (errs.length) return errs;
  const canonical = canonicalIPString(parseIPSloppy(value) as SloppyIP);
  return canonical === value ? [] : [`must be in canonical form (${JSON.stringify(canonical)})`];
}

/** Parses `ip/prefix` sloppily; undefined when invalid. */
export function parseCIDRSloppy(value: string): { ip: SloppyIP; prefix: number } | undefined {
  const slash = value.indexOf('/');
  if (slash === -1) return undefined;
  const ip = parseIPSloppy(value.slice(0, slash));
  const lenText = value.slice(slash + 1);
  // the prefix length is read with Go's dtoi too: `/024` and `/0024` are 24
  if (!ip || !/^[0-9]+$/.test(lenText)) return undefined;
  const prefix = Number(lenText);
  if (prefix > ip.bytes.length * 8) return undefined;
  return { ip, prefix };
}

/** A CIDR such as `10.0.0.0/8` or `2001:db8::/64` (host bits may be set, as upstream). */
export function isValidCIDR(value: string): string[] {
  return parseCIDRSloppy(value) ? [] : ['must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)'];
}

/**
 * A CIDR in a legacy field (`loadBalancerSourceRanges`, pod CIDRs): sloppy parsing, plus, with
 * `strict` (StrictIPCIDRValidation), no leading zeros, no IPv4-mapped address, no host bits.
 */
export function isValidCIDRForLegacyField(value: string, strict = false): string[] {
  const c = parseCIDRSloppy(value);
  if (!c) return isValidCIDR(value);
  if (!strict) return [];
  const lenText = value.slice(value.indexOf('/') + 1);
  if (
    hasLeadingZeroOctet(value.slice(0, value.indexOf('/'))) ||
    (lenText.length > 1 && lenText.startsWith('0'))
  )
    return ['must not have leading 0s in IP or prefix length'];
  if (c.ip.v4 && c.ip.bytes.length === 16) return ['must not have an IPv4-mapped IPv6 address'];
  const b = c.ip.bytes;
  for (let bit = c.prefix; bit < b.length * 8; bit++) {
    if (((b[bit >> 3] as number) >> (7 - (bit & 7))) & 1)
      return ['must not have bits set beyond the prefix length'];
  }
  return [];
}

/**
 * Non-canonical IP forms the API server warns about (it accepts them): leading zeros, IPv4-mapped
 * IPv6, or IPv6 not in RFC 5952 form. Empty when canonical or invalid.
 */
export function ipCanonicalWarnings(value: string): string[] {
  const ip = parseIPSloppy(value);
  if (!ip) return [];
  const canonical = canonicalIPString(ip);
  if (canonical === value) return [];
  if (ip.v4 && (value.includes(':') || canonical !== value))
    return [
      `non-standard IP address ${JSON.stringify(value)} will be considered invalid in a future Kubernetes release: use ${JSON.stringify(canonical)}`,
    ];
  return [
    `IPv6 address ${JSON.stringify(value)} should be in RFC 5952 canonical format (${JSON.stringify(canonical)})`,
  ];
}

/** Prints an address canonically (dotted quad for IPv4 / IPv4-mapped, RFC 5952 for IPv6). */
export function canonicalIPString(ip: SloppyIP): string {
  const b = ip.bytes;
  if (ip.v4) return Array.from(b.length === 4 ? b : b.slice(12)).join('.');
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((b[i] as number) << 8) | (b[i + 1] as number));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/**
 * An IP usable as an external or endpoint address: not unspecified, loopback or link-local
 * (apimachinery's `ValidateNonSpecialIP`).
 */
export function validateNonSpecialIP(value: string, path: FieldPath | string): ErrorList {
  const ip = parseIPSloppy(value);
  if (!ip) return [fieldErrors.invalid(path, value, 'must be a valid IP address')];
  const errs: ErrorList = [];
  const b = ip.v4 ? (ip.bytes.length === 4 ? ip.bytes : ip.bytes.slice(12)) : ip.bytes;
  const allZero = b.every((x) => x === 0);
  const loopback = ip.v4 ? b[0] === 127 : b.slice(0, 15).every((x) => x === 0) && b[15] === 1;
  const linkLocalUnicast = ip.v4
    ? b[0] === 169 && b[1] === 254
    : b[0] === 0xfe && ((b[1] as number) & 0xc0) === 0x80;
  const linkLocalMulticast = ip.v4
    ? b[0] === 224 && b[1] === 0 && b[2] === 0
    : b[0] === 0xff && ((b[1] as number) & 0x0f) === 0x02;
  if (allZero) errs.push(fieldErrors.invalid(path, value, `may not be unspecified (${value})`));
  if (loopback)
    errs.push(fieldErrors.invalid(path, value, 'may not be in the loopback range (127.0.0.0/8, ::1/128)'));
  if (linkLocalUnicast)
    errs.push(
      fieldErrors.invalid(path, value, 'may not be in the link-local range (169.254.0.0/16, fe80::/10)'),
    );
  if (linkLocalMulticast)
    errs.push(
      fieldErrors.invalid(
        path,
        value,
        'may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)',
      ),
    );
  return errs;
}

// ---------------------------------------------------------------------------------------------
// Field-level helpers

/** Each message of `msgs` as an Invalid error at `path` with `value`. */
export function invalidEach(path: FieldPath | string, value: unknown, msgs: readonly string[]): ErrorList {
  return msgs.map((m) => fieldErrors.invalid(path, value, m));
}

/** `value >= 0`, else "must be greater than or equal to 0". */
export function validateNonnegativeField(value: number, path: FieldPath | string): ErrorList {
  return value < 0 ? [fieldErrors.invalid(path, value, IS_NEGATIVE_ERROR_MSG)] : [];
}

/** Label keys as qualified names (meta/v1 `ValidateLabelName`). */
export function validateLabelName(name: string, path: FieldPath | string): ErrorList {
  return invalidEach(path, name, isQualifiedName(name));
}

/** A label map: keys qualified names, values label values; errors at `path` itself, as upstream. */
export function validateLabels(
  labels: Readonly<Record<string, string>> | undefined,
  path: FieldPath | string,
): ErrorList {
  const errs: ErrorList = [];
  if (!labels) return errs;
  for (const [k, v] of Object.entries(labels)) {
    errs.push(...validateLabelName(k, path));
    errs.push(...invalidEach(path, v, isValidLabelValue(String(v))));
  }
  return errs;
}

/** Annotations: keys are qualified names (case-insensitive); total size at most 256 KiB. */
export function validateAnnotations(
  annotations: Readonly<Record<string, string>> | undefined,
  path: FieldPath | string,
): ErrorList {
  const errs: ErrorList = [];
  if (!annotations) return errs;
  let total = 0;
  const enc = new TextEncoder();
  for (const [k, v] of Object.entries(annotations)) {
    errs.push(...invalidEach(path, k, isQualifiedName(k.toLowerCase())));
    total += enc.encode(k).length + enc.encode(String(v)).length;
  }
  if (total > TOTAL_ANNOTATION_SIZE_LIMIT_B)
    errs.push(fieldErrors.tooLong(path, '', TOTAL_ANNOTATION_SIZE_LIMIT_B));
  return errs;
}

/** A name validator: `prefix` true when checking a `generateName` (a trailing dash is fine). */
export type NameValidator = (name: string, prefix: boolean) => string[];

// A generateName gets a random suffix appended, so a trailing dash is not an error there.
function maskTrailingDash(name: string): string {
  return name.length > 1 && name.endsWith('-') ? `${name.slice(0, -2)}a` : name;
}

/** Names that must be DNS subdomains (Pods, Endpoints, EndpointSlices, Nodes…). */
export const nameIsDNSSubdomain: NameValidator = (name, prefix) =>
  isDNS1123Subdomain(prefix ? maskTrailingDash(name) : name);
/** Names that must be DNS labels (Namespaces). */
export const nameIsDNSLabel: NameValidator = (name, prefix) =>
  isDNS1123Label(prefix ? maskTrailingDash(name) : name);
/** Names that must be RFC 1035 labels (Services). */
export const nameIsDNS1035Label: NameValidator = (name, prefix) =>
  isDNS1035Label(prefix ? maskTrailingDash(name) : name);

/** Options of {@link validateObjectMeta}. */
export interface ObjectMetaOptions {
  /** Whether the kind lives in a namespace (then `namespace` is required). */
  readonly namespaced: boolean;
  /** How names of this kind are checked. */
  readonly nameValidator: NameValidator;
  /**
   * Treat a missing namespace as `default`, as kubectl does before sending (default true). Set
   * false to require it as the API server does for a request without one.
   */
  readonly defaultNamespace?: boolean;
}

/**
 * Object metadata on create (apimachinery `ValidateObjectMeta`): generateName/name via the kind's
 * name rule, namespace (a DNS label, or forbidden for cluster-scoped kinds), generation,
 * labels, annotations, finalizers. (Owner references and managed fields are not checked.)
 */
export function validateObjectMeta(
  meta: ObjectMeta | undefined,
  opts: ObjectMetaOptions,
  path: FieldPath,
): ErrorList {
  const m = meta ?? {};
  const errs: ErrorList = [];
  if (m.generateName)
    errs.push(
      ...invalidEach(path.child('generateName'), m.generateName, opts.nameValidator(m.generateName, true)),
    );
  // With only a generateName the server generates the name (prefix + 5 characters from its
  // safe alphabet) before validating, so the prefix check above is all that can fail.
  if (!m.name) {
    if (!m.generateName)
      errs.push(fieldErrors.required(path.child('name'), 'name or generateName is required'));
  } else errs.push(...invalidEach(path.child('name'), m.name, opts.nameValidator(m.name, false)));
  const ns = m.namespace ?? (opts.namespaced && opts.defaultNamespace !== false ? 'default' : '');
  if (opts.namespaced) {
    if (!ns) errs.push(fieldErrors.required(path.child('namespace'), ''));
    else errs.push(...invalidEach(path.child('namespace'), ns, nameIsDNSLabel(ns, false)));
  } else if (ns) {
    errs.push(fieldErrors.forbidden(path.child('namespace'), 'not allowed on this type'));
  }
  if (m.generation !== undefined)
    errs.push(...validateNonnegativeField(m.generation, path.child('generation')));
  errs.push(...validateLabels(m.labels, path.child('labels')));
  errs.push(...validateAnnotations(m.annotations, path.child('annotations')));
  errs.push(...validateFinalizers(m.finalizers, path.child('finalizers')));
  return errs;
}

/** The finalizer that orphans dependents (metav1 `FinalizerOrphanDependents`). */
export const FINALIZER_ORPHAN_DEPENDENTS = 'orphan';
/** The finalizer of foreground deletion (metav1 `FinalizerDeleteDependents`). */
export const FINALIZER_DELETE_DEPENDENTS = 'foregroundDeletion';

/**
 * `metadata.finalizers` (apimachinery `ValidateFinalizers`): each a qualified name, and not
 * both `orphan` and `foregroundDeletion`.
 */
export function validateFinalizers(finalizers: readonly string[] | undefined, path: FieldPath): ErrorList {
  const list = finalizers ?? [];
  const errs: ErrorList = [];
  for (const f of list) errs.push(...invalidEach(path, f, isQualifiedName(f)));
  if (list.includes(FINALIZER_ORPHAN_DEPENDENTS) && list.includes(FINALIZER_DELETE_DEPENDENTS))
    errs.push(
      fieldErrors.invalid(
        path,
        [...list],
        `finalizer ${FINALIZER_ORPHAN_DEPENDENTS} and ${FINALIZER_DELETE_DEPENDENTS} cannot be both set`,
      ),
    );
  return errs;
}

/**
 * Metadata on update (apimachinery `ValidateObjectMetaUpdate`, the parts svcroute stores):
 * name, namespace, uid and creationTimestamp may not change; labels/annotations revalidated.
 */
export function validateObjectMetaUpdate(next: ObjectMeta, prev: ObjectMeta, path: FieldPath): ErrorList {
  const errs: ErrorList = [];
  const immut = (field: string, a: unknown, b: unknown) => {
    if (a !== b) errs.push(fieldErrors.invalid(path.child(field), a, FIELD_IMMUTABLE_ERROR_MSG));
  };
  immut('name', next.name ?? '', prev.name ?? '');
  immut('namespace', next.namespace ?? 'default', prev.namespace ?? 'default');
  if (prev.uid !== undefined && next.uid !== undefined) immut('uid', next.uid, prev.uid);
  if (prev.creationTimestamp !== undefined && next.creationTimestamp !== undefined)
    immut('creationTimestamp', next.creationTimestamp, prev.creationTimestamp);
  // (no generation check here: upstream only forbids decrementing it, and svcroute's registry
  // owns that field)
  errs.push(...validateLabels(next.labels, path.child('labels')));
  errs.push(...validateAnnotations(next.annotations, path.child('annotations')));
  return errs;
}
