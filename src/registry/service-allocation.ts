/**
 * What the API server's Service REST layer does around storage: IP family fields
 * (`ipFamilies`, `ipFamilyPolicy`, `clusterIPs`), cluster IP and node port allocation on create,
 * carrying allocated values over on update (then the validation module's update strategy, which
 * drops type-dependent values on a type change), and which reservations to take and to release.
 * Pure planning: the registry commits the plan (object and reservation keys together) and
 * retries with fresh candidates when another writer won.
 *
 * @module
 */
import { type ErrorList, FieldPath, fieldErrors, type StatusError } from '../core/errors';
import type { IPFamily, IPFamilyPolicy, Service } from '../core/types';
import {
  AllocationError,
  type ClusterIPRange,
  canonicalIP,
  clusterIPAllocationFieldError,
  clusterIPExhaustedError,
  clusterIPFamilyFieldError,
  ipFamilyOf as familyOf,
  healthCheckNodePortError,
  IP_ALLOCATED_MESSAGE,
  ipNotInRangeMessage,
  isAllocationError,
  type NodePortAllocator,
  nodePortAllocationFieldError,
  nodePortExhaustedError,
  PORT_ALLOCATED_MESSAGE,
  portNotInRangeMessage,
} from '../net';
import { initServiceIPFamilies, prepareServiceUpdate } from '../validation';
import type { ReservationType } from './keys';
import { cloneJSON } from './object-utils';

/**
 * How values already present in objects are treated, for one kind of value: `strict` checks
 * them against the configured range (the API server's behaviour); `as-is` takes them as they
 * are (a dump of a cluster whose ranges are not known). Missing values are allocated from the
 * range in both modes, and duplicates are refused in both.
 */
export type ValueAllocationMode = 'strict' | 'as-is';

/** One {@link ValueAllocationMode} per kind of value. */
export interface AllocationModes {
  /** Cluster IPs (`spec.clusterIP(s)`) and the IP family checks that depend on the service CIDRs. */
  readonly clusterIPs: ValueAllocationMode;
  /** Node ports (`spec.ports[].nodePort`) and the health check node port. */
  readonly nodePorts: ValueAllocationMode;
}

/** One mode for every kind of value (the string form), or one per kind. */
export type AllocationMode = ValueAllocationMode | AllocationModes;

function isValueAllocationMode(m: unknown): m is ValueAllocationMode {
  return m === 'strict' || m === 'as-is';
}

/**
 * The per-kind form of `mode` (the string form applies to every kind), as a new frozen object.
 *
 * @throws TypeError for anything but the documented values (a JavaScript caller's typo must not
 * quietly turn checking off).
 */
export function allocationModes(mode: AllocationMode): AllocationModes {
  if (isValueAllocationMode(mode)) return Object.freeze({ clusterIPs: mode, nodePorts: mode });
  if (
    typeof mode === 'object' &&
    mode !== null &&
    isValueAllocationMode(mode.clusterIPs) &&
    isValueAllocationMode(mode.nodePorts)
  )
    return Object.freeze({ clusterIPs: mode.clusterIPs, nodePorts: mode.nodePorts });
  throw new TypeError(
    `invalid allocationMode ${JSON.stringify(mode)}: expected "strict", "as-is" or { clusterIPs, nodePorts } of those`,
  );
}

/** One reserved value. */
export interface ReservationRef {
  readonly type: ReservationType;
  readonly value: string;
  /** True when the value came from a range's candidate (retry with another on conflict). */
  readonly auto: boolean;
  /** Where to report a conflict on a requested value. */
  readonly field: string;
}

/** Inputs of {@link planServiceAllocation}. */
export interface ServiceAllocationContext {
  readonly mode: AllocationMode;
  /** Service CIDRs, primary family first (one or two). */
  readonly serviceRanges: readonly ClusterIPRange[];
  readonly nodePorts: NodePortAllocator;
  /** Whether a reservation is held, and by whom (`ns/name` of a service), from the registry's cache. */
  holder(type: ReservationType, value: string): string | undefined;
}

/** The result of planning: the object to store and the reservations to add and drop. */
export interface ServiceAllocationPlan {
  readonly service: Service;
  readonly reserve: readonly ReservationRef[];
  readonly release: readonly ReservationRef[];
  readonly errors: ErrorList;
  /** A range ran out (an API InternalError in Kubernetes). */
  readonly internalError?: StatusError;
}

const specPath = FieldPath.root('spec');

/** True for every type but ExternalName (registry's needsClusterIP). */
export function needsClusterIP(svc: Service): boolean {
  return (svc.spec.type ?? 'ClusterIP') !== 'ExternalName';
}

/** NodePort and LoadBalancer services carry node ports. */
export function needsNodePort(svc: Service): boolean {
  const t = svc.spec.type ?? 'ClusterIP';
  return t === 'NodePort' || t === 'LoadBalancer';
}

/** LoadBalancer services with externalTrafficPolicy Local carry a health check node port. */
export function needsHealthCheckNodePort(svc: Service): boolean {
  return (svc.spec.type ?? 'ClusterIP') === 'LoadBalancer' && svc.spec.externalTrafficPolicy === 'Local';
}

function isHeadless(svc: Service): boolean {
  return svc.spec.clusterIP === 'None' || svc.spec.clusterIPs?.[0] === 'None';
}

/** Reservations a stored service holds. */
export function heldReservations(svc: Service): ReservationRef[] {
  const out: ReservationRef[] = [];
  if (needsClusterIP(svc)) {
    for (const ip of svc.spec.clusterIPs ?? (svc.spec.clusterIP ? [svc.spec.clusterIP] : [])) {
      if (ip && ip !== 'None')
        out.push({ type: 'serviceIP', value: canonicalIP(ip) ?? ip, auto: false, field: 'spec.clusterIPs' });
    }
  }
  const ports = new Set<number>();
  for (const p of svc.spec.ports ?? []) if (p.nodePort) ports.add(p.nodePort);
  if (svc.spec.healthCheckNodePort) ports.add(svc.spec.healthCheckNodePort);
  for (const p of ports) out.push({ type: 'nodePort', value: String(p), auto: false, field: 'spec.ports' });
  return out;
}

function otherFamily(f: IPFamily): IPFamily {
  return f === 'IPv4' ? 'IPv6' : 'IPv4';
}

/**
 * The errors the API server's REST layer answers about a Service's IP family fields before it
 * allocates anything (its `initIPFamilyFields`), in its order and words: inconsistent
 * `clusterIP`/`clusterIPs`/`ipFamilies` (the same checks validation makes), a SingleStack policy
 * with two IPs or families, a requested IP of a family the cluster lacks (on `spec.clusterIPs[i]`),
 * then RequireDualStack on a single-stack cluster and unconfigured `ipFamilies`.
 *
 * Contract: `svc` is defaulted with `clusterIPs` normalized from `clusterIP`; `clusterFamilies`
 * are the configured service CIDRs' families, primary first. When cluster IPs are taken `as-is`
 * (see {@link AllocationModes.clusterIPs}) a requested address is taken as it is, so its family
 * counts as configured too. Empty when the server would go on.
 */
export function ipFamilyStageErrors(
  svc: Service,
  clusterFamilies: readonly IPFamily[],
  mode: AllocationMode,
  prev?: Service,
): ErrorList {
  const known: IPFamily[] = [...clusterFamilies];
  if (allocationModes(mode).clusterIPs === 'as-is') {
    for (const ip of svc.spec.clusterIPs ?? []) {
      const f = ip === 'None' ? undefined : familyOf(ip);
      if (f && !known.includes(f)) known.push(f);
    }
  }
  return initServiceIPFamilies(svc, known, prev).errors;
}

/** Fills `ipFamilyPolicy`, `ipFamilies` and `clusterIPs` as the REST layer does before allocating. */
function initIPFamilyFields(
  svc: Service,
  ctx: ServiceAllocationContext,
  errors: ErrorList,
  prev: Service | undefined,
): void {
  const spec = svc.spec;
  // Nothing to do for ExternalName: validation, which runs after allocation, refuses IP fields on it.
  if (!needsClusterIP(svc)) return;
  // clusterIP and clusterIPs[0] are two views of one value.
  if (spec.clusterIP && !spec.clusterIPs?.length) spec.clusterIPs = [spec.clusterIP];
  const clusterFamilies = ctx.serviceRanges.map((r) => r.family);
  const strict = allocationModes(ctx.mode).clusterIPs === 'strict';
  const primary: IPFamily = clusterFamilies[0] ?? 'IPv4';
  const serverErrors = ipFamilyStageErrors(svc, clusterFamilies, ctx.mode, prev);
  if (serverErrors.length) {
    errors.push(...serverErrors);
    return;
  }
  const dualStackCluster = clusterFamilies.length > 1;
  if (isHeadless(svc)) {
    spec.clusterIP = 'None';
    spec.clusterIPs = ['None'];
    if (!spec.selector || Object.keys(spec.selector).length === 0) {
      // Headless without selector: the user is assumed to want every family (upstream special case).
      spec.ipFamilyPolicy ??= 'RequireDualStack';
      if (!spec.ipFamilies?.length) spec.ipFamilies = [primary];
      if (spec.ipFamilies.length < 2 && spec.ipFamilyPolicy !== 'SingleStack')
        spec.ipFamilies = [spec.ipFamilies[0] as IPFamily, otherFamily(spec.ipFamilies[0] as IPFamily)];
      return;
    }
  }
  spec.ipFamilyPolicy ??= 'SingleStack';
  const families: IPFamily[] = [...(spec.ipFamilies ?? [])];
  if (!isHeadless(svc)) {
    (spec.clusterIPs ?? []).forEach((ip, i) => {
      const f = familyOf(ip);
      if (f && i >= families.length) families.push(f);
    });
  }
  if (families.length === 0) families.push(primary);
  const policy: IPFamilyPolicy = spec.ipFamilyPolicy;
  if (policy === 'RequireDualStack' && !dualStackCluster && strict) {
    errors.push(
      fieldErrors.invalid(
        specPath.child('ipFamilyPolicy'),
        policy,
        'this cluster is not configured for dual-stack services',
      ),
    );
  }
  if (
    policy !== 'SingleStack' &&
    families.length < 2 &&
    (dualStackCluster || policy === 'RequireDualStack')
  ) {
    if (dualStackCluster) families.push(otherFamily(families[0] as IPFamily));
  }
  if (strict) {
    families.forEach((f, i) => {
      if (!clusterFamilies.includes(f))
        errors.push(
          fieldErrors.invalid(specPath.child('ipFamilies').index(i), f, 'not configured on this cluster'),
        );
    });
  }
  spec.ipFamilies = families;
}

/**
 * Plans the allocations of `input` (a defaulted service; on update one already through
 * {@link prepareServiceForUpdate}) the way the API server's REST layer allocates before it
 * validates: IP family fields first, then cluster IPs, then node ports and the health check node
 * port. Like the server it stops at the first failure, so a service that is both unallocatable
 * and invalid is refused with the allocation error (validation runs on the planned object).
 *
 * On update (`prev` is the stored version) only what the server allocates on update is
 * checked: every cluster IP after a change from ExternalName, the secondary IP of a dual-stack
 * upgrade, node ports not held before (each port without one gets its own), and a health check
 * node port when the service starts to need one. A changed cluster IP or health check port is
 * left to validation ("may not change once set", "field is immutable").
 *
 * `owner` is the service's `ns/name`. Candidates come from the ranges and are marked there right
 * away; the caller gives them back with {@link unmarkPlan} when the write does not go through
 * (errors here, validation, or a commit lost for another reason than them).
 */
export function planServiceAllocation(
  ctx: ServiceAllocationContext,
  input: Service,
  prev: Service | undefined,
  owner: string,
  options: { readonly firstAddress?: boolean } = {},
): ServiceAllocationPlan {
  const svc = cloneJSON(input);
  const spec = svc.spec;
  const errors: ErrorList = [];
  const reserve: ReservationRef[] = [];
  let internalError: StatusError | undefined;
  const failed = () => errors.length > 0 || internalError !== undefined;
  const modes = allocationModes(ctx.mode);

  initIPFamilyFields(svc, ctx, errors, prev);
  if (errors.length) return { service: svc, reserve: [], release: [], errors };

  const held = new Set(prev ? heldReservations(prev).map((r) => `${r.type}/${r.value}`) : []);
  // On create any holder counts, even a service of the same name (a re-create is refused with
  // "already allocated" before "already exists", as by the server); on update the service's own
  // reservations are its to keep.
  const taken = (type: ReservationType, value: string): boolean => {
    const h = ctx.holder(type, value);
    return h !== undefined && (prev === undefined || h !== owner);
  };
  const rangeFor = (f: IPFamily) => ctx.serviceRanges.find((r) => r.family === f);

  // Cluster IPs, one per family. On update the addresses the stored service already had are
  // not allocated again; only those past them are (none for a service that was headless).
  if (needsClusterIP(svc) && !isHeadless(svc)) {
    const families = spec.ipFamilies ?? [];
    const requestedIPs = [...(spec.clusterIPs ?? [])];
    const ips: string[] = [];
    const firstNew =
      !prev || !needsClusterIP(prev)
        ? 0
        : isHeadless(prev)
          ? families.length
          : (prev.spec.clusterIPs?.length ?? 0);
    for (let i = 0; i < families.length && !failed(); i++) {
      const family = families[i] as IPFamily;
      const requested = requestedIPs[i];
      const path = specPath.child('clusterIPs').index(i);
      const range = rangeFor(family);
      if (requested) {
        const ip = canonicalIP(requested);
        if (!ip) {
          errors.push(fieldErrors.invalid(path, requested, 'must be a valid IP address'));
          break;
        }
        if (i < firstNew && !held.has(`serviceIP/${ip}`)) {
          // A changed address of an existing service: validation refuses it; nothing to book.
          ips.push(requested);
          continue;
        }
        if (modes.clusterIPs === 'strict') {
          if (!range) {
            errors.push(clusterIPFamilyFieldError(requestedIPs, i, family));
            break;
          }
          if (!range.contains(ip)) {
            const err = new AllocationError('not-in-range', ipNotInRangeMessage(range.cidr.toString()));
            errors.push(clusterIPAllocationFieldError(requestedIPs, requested, err));
            break;
          }
        }
        if (!held.has(`serviceIP/${ip}`)) {
          if (taken('serviceIP', ip)) {
            const err = new AllocationError('allocated', IP_ALLOCATED_MESSAGE);
            errors.push(clusterIPAllocationFieldError(requestedIPs, requested, err));
            break;
          }
          reserve.push({ type: 'serviceIP', value: ip, auto: false, field: String(path) });
        }
        ips.push(ip);
        continue;
      }
      if (!range) {
        internalError = clusterIPExhaustedError(
          new AllocationError('family-not-configured', `${family} is not configured on this cluster`),
        );
        break;
      }
      let ip: string | undefined;
      if (options.firstAddress && i === 0) {
        const first = range.firstAddress();
        if (!range.has(first) && !taken('serviceIP', first)) {
          range.markAllocated(first);
          ip = first;
        }
      }
      if (ip === undefined) {
        try {
          ip = range.allocateNext();
        } catch (e) {
          if (!isAllocationError(e)) throw e;
          internalError = clusterIPExhaustedError(e);
          break;
        }
      }
      reserve.push({ type: 'serviceIP', value: ip, auto: true, field: String(path) });
      ips.push(ip);
    }
    if (!failed() && ips.length === families.length) {
      spec.clusterIPs = ips;
      spec.clusterIP = ips[0] as string;
    }
  }

  // Node port → the service port number holding it (`hc` for the health check port).
  const wantPorts = new Map<number, number | 'hc'>();
  const requestedPorts = new Set<number>(
    [...(spec.ports ?? []).map((p) => p.nodePort ?? 0), spec.healthCheckNodePort ?? 0].filter((p) => p > 0),
  );
  if (needsNodePort(svc) && !failed()) {
    const autoAllocate =
      (spec.type ?? 'ClusterIP') === 'NodePort' || spec.allocateLoadBalancerNodePorts !== false;
    if (prev) updateNodePorts(autoAllocate);
    else initNodePorts(autoAllocate);
  }
  if (needsHealthCheckNodePort(svc) && !failed() && !(prev && needsHealthCheckNodePort(prev))) {
    const requested = spec.healthCheckNodePort;
    if (requested) {
      const err = checkRequestedPort(requested, 'spec.healthCheckNodePort', 'hc');
      if (err) internalError = healthCheckNodePortError(err, requested);
    } else {
      const port = allocatePort('spec.healthCheckNodePort', 'hc', healthCheckNodePortError);
      if (port !== undefined) spec.healthCheckNodePort = port;
    }
  }

  /** Create: ports sharing a `port` number share one node port (upstream initNodePorts). */
  function initNodePorts(autoAllocate: boolean): void {
    const byServicePort = new Map<number, number>();
    const ports = spec.ports ?? [];
    for (let i = 0; i < ports.length && !failed(); i++) {
      const p = ports[i] as NonNullable<typeof spec.ports>[number];
      if (!p.nodePort && !autoAllocate) continue;
      const already = byServicePort.get(p.port);
      if (already !== undefined && (!p.nodePort || p.nodePort === already)) {
        p.nodePort = already;
        continue;
      }
      // A later port with the same number may carry the requested value (upstream findRequestedNodePort).
      const requested =
        p.nodePort ||
        (already === undefined ? (ports.find((q) => q.port === p.port && q.nodePort)?.nodePort ?? 0) : 0);
      if (requested) {
        const err = checkRequestedPort(requested, `spec.ports[${i}].nodePort`, p.port);
        if (err) {
          errors.push(nodePortAllocationFieldError(i, requested, err));
          break;
        }
        p.nodePort = requested;
        if (already === undefined) byServicePort.set(p.port, requested);
        continue;
      }
      const port = allocatePort(`spec.ports[${i}].nodePort`, p.port, nodePortExhaustedError);
      if (port === undefined) break;
      p.nodePort = port;
      byServicePort.set(p.port, port);
    }
  }

  /**
   * Update: node ports the stored service held are kept as they are; new requested ones are
   * checked; every port left without one gets its own (upstream updateNodePorts).
   */
  function updateNodePorts(autoAllocate: boolean): void {
    const ports = spec.ports ?? [];
    for (let i = 0; i < ports.length && !failed(); i++) {
      const p = ports[i] as NonNullable<typeof spec.ports>[number];
      if (!p.nodePort && !autoAllocate) continue;
      if (p.nodePort) {
        if (held.has(`nodePort/${p.nodePort}`) || wantPorts.has(p.nodePort)) continue;
        const err = checkRequestedPort(p.nodePort, `spec.ports[${i}].nodePort`, p.port);
        if (err) {
          errors.push(nodePortAllocationFieldError(i, p.nodePort, err));
          break;
        }
        continue;
      }
      const port = allocatePort(`spec.ports[${i}].nodePort`, p.port, nodePortExhaustedError);
      if (port === undefined) break;
      p.nodePort = port;
    }
  }

  /** Takes the next free node port; on exhaustion records the server's error and returns undefined. */
  function allocatePort(
    field: string,
    holder: number | 'hc',
    exhausted: (e: AllocationError) => StatusError,
  ): number | undefined {
    // A candidate this service requests itself (booked or still to come) would put one
    // reservation key twice in the transaction: draw again, and give the skipped ones back.
    const skipped: number[] = [];
    let port: number | undefined;
    try {
      for (;;) {
        const candidate = ctx.nodePorts.allocateNext();
        if (!requestedPorts.has(candidate) && !wantPorts.has(candidate)) {
          port = candidate;
          break;
        }
        skipped.push(candidate);
      }
    } catch (e) {
      if (!isAllocationError(e)) throw e;
      internalError = exhausted(e);
    } finally {
      for (const p of skipped) ctx.nodePorts.release(p);
    }
    if (port === undefined) return undefined;
    wantPorts.set(port, holder);
    reserve.push({ type: 'nodePort', value: String(port), auto: true, field });
    return port;
  }

  /** Checks and books a requested node port; returns the allocation error, if any. */
  function checkRequestedPort(
    port: number,
    path: string,
    holder: number | 'hc',
  ): AllocationError | undefined {
    // One node port serves every service port with the same number; anything else is a clash.
    const prior = wantPorts.get(port);
    if (prior !== undefined)
      return prior === holder && holder !== 'hc'
        ? undefined
        : new AllocationError('allocated', PORT_ALLOCATED_MESSAGE);
    if (modes.nodePorts === 'strict' && !ctx.nodePorts.contains(port))
      return new AllocationError('not-in-range', portNotInRangeMessage(ctx.nodePorts.rangeString()));
    if (held.has(`nodePort/${port}`)) {
      wantPorts.set(port, holder);
      return undefined;
    }
    if (taken('nodePort', String(port))) return new AllocationError('allocated', PORT_ALLOCATED_MESSAGE);
    wantPorts.set(port, holder);
    reserve.push({ type: 'nodePort', value: String(port), auto: false, field: path });
    return undefined;
  }

  const now = new Set(heldReservations(svc).map((r) => `${r.type}/${r.value}`));
  const release = prev ? heldReservations(prev).filter((r) => !now.has(`${r.type}/${r.value}`)) : [];
  return internalError !== undefined
    ? { service: svc, reserve, release, errors, internalError }
    : { service: svc, reserve, release, errors };
}

/**
 * Values `service` would hold that are neither held by `prev` nor reserved by `plan`: empty
 * for every plan whose object passed validation. A non-empty answer means a value would be
 * stored without its reservation, which the registry refuses rather than risk a duplicate.
 */
export function unreservedValues(
  service: Service,
  prev: Service | undefined,
  plan: ServiceAllocationPlan,
): ReservationRef[] {
  const covered = new Set([
    ...(prev ? heldReservations(prev) : []).map((r) => `${r.type}/${r.value}`),
    ...plan.reserve.map((r) => `${r.type}/${r.value}`),
  ]);
  return heldReservations(service).filter((r) => !covered.has(`${r.type}/${r.value}`));
}

/** Gives back candidates a plan marked, after its commit failed for a reason other than them. */
export function unmarkPlan(
  ctx: ServiceAllocationContext,
  plan: ServiceAllocationPlan,
  keep?: ReservationRef,
): void {
  for (const r of plan.reserve) {
    if (!r.auto || r === keep) continue;
    if (r.type === 'nodePort') ctx.nodePorts.release(Number(r.value));
    else for (const range of ctx.serviceRanges) range.release(r.value);
  }
}

/**
 * The update-time fix-ups before allocation and validation: carry over allocated values the
 * client omitted (the REST layer's patchAllocatedValues), then the update strategy
 * ({@link prepareServiceUpdate}: `clusterIP`/`clusterIPs` kept in step, type-dependent values the
 * user left unchanged dropped on a type change, load-balancer status emptied when the service
 * stops being a LoadBalancer). The strategy is the validation module's own, so the object the
 * registry validates is the object it stores, and what it drops is released with the write.
 *
 * The API server runs the strategy after allocating; running it first is equivalent, because
 * allocation only fills fields the new type uses and the strategy only drops fields it does not.
 * Returns a new object; `next.status` is taken as given (the caller starts an update from the
 * stored status, as the strategy's PrepareForUpdate does).
 */
export function prepareServiceForUpdate(next: Service, prev: Service): Service {
  const svc = cloneJSON(next);
  patchAllocatedValues(svc, prev);
  return prepareServiceUpdate(svc, prev);
}

/** Carries allocated values the client left out (the REST layer's patchAllocatedValues). */
function patchAllocatedValues(svc: Service, prev: Service): void {
  const spec = svc.spec;
  if (needsClusterIP(prev) && needsClusterIP(svc)) {
    if (!spec.clusterIP && prev.spec.clusterIP) spec.clusterIP = prev.spec.clusterIP;
    if (!spec.clusterIPs?.length && prev.spec.clusterIPs?.length) spec.clusterIPs = [...prev.spec.clusterIPs];
    if (!spec.ipFamilies?.length && prev.spec.ipFamilies?.length && spec.clusterIPs?.length)
      spec.ipFamilies = [...prev.spec.ipFamilies];
    if (!spec.ipFamilyPolicy && prev.spec.ipFamilyPolicy && spec.clusterIPs?.length)
      spec.ipFamilyPolicy = prev.spec.ipFamilyPolicy;
  }
  if (needsNodePort(prev) && needsNodePort(svc)) {
    const used = (s: Service) => new Set((s.spec.ports ?? []).map((p) => p.nodePort ?? 0).filter((n) => n));
    const oldUsed = used(prev);
    const newUsed = used(svc);
    const byName = new Map<string, number>();
    for (const p of prev.spec.ports ?? []) byName.set(p.name ?? '', p.nodePort ?? 0);
    for (const p of spec.ports ?? []) {
      if (p.nodePort) continue;
      const old = byName.get(p.name ?? '') ?? 0;
      if (old && !(oldUsed.has(old) && newUsed.has(old))) {
        p.nodePort = old;
        newUsed.add(old);
      }
    }
  }
  if (needsHealthCheckNodePort(prev) && needsHealthCheckNodePort(svc) && !spec.healthCheckNodePort)
    if (prev.spec.healthCheckNodePort) spec.healthCheckNodePort = prev.spec.healthCheckNodePort;
}
