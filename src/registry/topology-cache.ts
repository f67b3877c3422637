/**
 * Topology Aware Routing's "Auto" heuristic, as the EndpointSlice controller's topology cache
 * runs it for services annotated `service.kubernetes.io/topology-mode: Auto` (or the deprecated
 * `service.kubernetes.io/topology-aware-hints: auto`): each zone gets a share of a service's
 * ready endpoints in proportion to the allocatable CPU of its ready nodes, expressed as
 * `hints.forZones` on the endpoints.
 *
 * How the allocation goes:
 * - Nodes count when Ready and not labelled control-plane/master. One counted node without a zone
 *   label or without allocatable CPU, no CPU at all, or fewer than two zones: no ratios, and
 *   every annotated service loses its hints.
 * - With `n` ready endpoints, a zone with CPU ratio `r` wants `r·n` of them and needs at least
 *   `ceil(r·n / 1.2)` (at most 20% overload). Fewer endpoints than zones, or minimums that do
 *   not fit in `n`: hints are removed.
 * - Stored slices whose hints are still valid keep them; every endpoint of a slice being written
 *   starts hinted for its own zone (an endpoint without a zone removes all hints), then endpoints
 *   move from zones with surplus to zones with deficit, the largest first, whole endpoints only.
 * - Unready endpoints are never counted and keep whatever hints they had.
 *
 * Upstream breaks ties (equal surpluses or deficits) and picks receiving zones in Go map order,
 * which is random; here ties go to the zone whose name sorts first, so results are reproducible.
 *
 * @module
 */
import {
  type AddressType,
  ANNOTATION_TOPOLOGY_AWARE_HINTS,
  ANNOTATION_TOPOLOGY_MODE,
  type EndpointSliceEndpoint,
  LABEL_TOPOLOGY_ZONE,
  type Node,
} from '../core/types';
import { milliValue } from './topology-quantity';

/** The largest overload an endpoint should see: 20% (upstream topologycache's overloadThreshold). */
export const TOPOLOGY_OVERLOAD_THRESHOLD = 0.2;

/** Nodes carrying any of these labels (any value) are left out of the capacity count. */
export const TOPOLOGY_EXCLUDED_NODE_LABELS: readonly string[] = [
  'node-role.kubernetes.io/control-plane',
  'node-role.kubernetes.io/master',
];

/** The messages of the controller's topology events (before `, addressType: <type>` is appended). */
export const TOPOLOGY_HINTS_MESSAGES = {
  noZoneSpecified: 'One or more endpoints do not have a zone specified',
  noAllocatedHintsForZones: 'No hints allocated for zones',
  enabled: 'Topology Aware Hints has been enabled',
  disabled: 'Topology Aware Hints has been disabled',
  insufficientNodeInfo:
    'Insufficient Node information: allocatable CPU or zone not specified on one or more nodes',
  nodesReadyInOneZoneOnly: 'Nodes only ready in one zone',
  insufficientNumberOfEndpoints: 'Insufficient number of endpoints',
  minAllocationExceedsOverloadThreshold:
    'Unable to allocate minimum required endpoints to each zone without exceeding overload threshold',
} as const;

/** An event the controller records on the Service when hints are turned on or off. */
export interface TopologyEvent {
  readonly type: 'Normal' | 'Warning';
  readonly reason: 'TopologyAwareHintsEnabled' | 'TopologyAwareHintsDisabled';
  readonly message: string;
}

/** Allocatable CPU share per zone (sums to 1), zones in name order. */
export type ZoneRatios = ReadonlyMap<string, number>;

/** How many endpoints a zone should be hinted: at least `minimum`, at most `maximum`, ideally `desired`. */
export interface ZoneAllocation {
  readonly minimum: number;
  readonly maximum: number;
  readonly desired: number;
}

/** Either per-zone allocations or why there can be none (an event message). */
export type ZoneAllocationResult =
  | { readonly ok: true; readonly allocations: ReadonlyMap<string, ZoneAllocation> }
  | { readonly ok: false; readonly message: string };

/** The slices of one service and address type that hints are computed over. */
export interface ZoneHintSlices {
  /** Endpoints of each slice that is being created or updated anyway (creates first). */
  readonly written: readonly (readonly EndpointSliceEndpoint[])[];
  /** Endpoints of each other slice of the service, as stored. */
  readonly unchanged: readonly (readonly EndpointSliceEndpoint[])[];
}

/** Result of a hint computation; inputs are never modified. */
export interface ZoneHintOutcome {
  /** The endpoints to write for each `written` slice, in input order. */
  readonly written: EndpointSliceEndpoint[][];
  /** Per `unchanged` slice, in input order: the endpoints to write now, or undefined to leave it as stored. */
  readonly unchanged: (EndpointSliceEndpoint[] | undefined)[];
  /** Endpoints hinted per zone when hints are set; undefined when they were removed. */
  readonly hintsByZone: ReadonlyMap<string, number> | undefined;
  /** Why hints were removed (the event message without the address type); undefined when set. */
  readonly disabledMessage: string | undefined;
}

// 1 / (1 + 0.2): the smallest share of its desired endpoints a zone may get.
const MINIMUM_SHARE = 1 / (1 + TOPOLOGY_OVERLOAD_THRESHOLD);

/**
 * Whether a service asks for the Auto heuristic. The deprecated `topology-aware-hints` key wins
 * whenever it is present (whatever its value); the value must be `Auto` or `auto`.
 */
export function topologyHintsEnabled(annotations: Readonly<Record<string, string>> | undefined): boolean {
  if (!annotations) return false;
  const value = Object.hasOwn(annotations, ANNOTATION_TOPOLOGY_AWARE_HINTS)
    ? annotations[ANNOTATION_TOPOLOGY_AWARE_HINTS]
    : annotations[ANNOTATION_TOPOLOGY_MODE];
  return value === 'Auto' || value === 'auto';
}

/** True when the node's first `Ready` condition is `True` (no condition: not ready). */
export function isNodeReady(node: Node): boolean {
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  return ready?.status === 'True';
}

/** The node's `status.allocatable.cpu` in millicores (0 when absent). */
export function nodeAllocatableMilliCPU(node: Node): number {
  return milliValue(node.status?.allocatable?.cpu);
}

function hasExcludedLabel(node: Node): boolean {
  const labels = node.metadata.labels;
  return labels !== undefined && TOPOLOGY_EXCLUDED_NODE_LABELS.some((l) => Object.hasOwn(labels, l));
}

/**
 * Each zone's share of the allocatable CPU of the ready, non-control-plane nodes; undefined when
 * the node information is insufficient (a counted node lacks a zone or CPU, no CPU in total, or
 * fewer than two zones).
 */
export function zoneCPURatios(nodes: Iterable<Node>): ZoneRatios | undefined {
  const cpuByZone = new Map<string, number>();
  let total = 0;
  for (const node of nodes) {
    if (hasExcludedLabel(node) || !isNodeReady(node)) continue;
    const zone = node.metadata.labels?.[LABEL_TOPOLOGY_ZONE];
    const cpu = nodeAllocatableMilliCPU(node);
    if (!zone || cpu === 0) return undefined;
    total += cpu;
    cpuByZone.set(zone, (cpuByZone.get(zone) ?? 0) + cpu);
  }
  if (total === 0 || cpuByZone.size < 2) return undefined;
  const ratios = new Map<string, number>();
  for (const zone of [...cpuByZone.keys()].sort()) ratios.set(zone, (cpuByZone.get(zone) as number) / total);
  return ratios;
}

/** Per-zone minimum, maximum and desired endpoint counts for `readyEndpoints`, or why there are none. */
export function zoneAllocations(
  ratios: ZoneRatios | undefined,
  readyEndpoints: number,
): ZoneAllocationResult {
  if (ratios === undefined) return { ok: false, message: TOPOLOGY_HINTS_MESSAGES.insufficientNodeInfo };
  if (ratios.size < 2) return { ok: false, message: TOPOLOGY_HINTS_MESSAGES.nodesReadyInOneZoneOnly };
  const counts = `(${readyEndpoints} endpoints, ${ratios.size} zones)`;
  if (ratios.size > readyEndpoints)
    return { ok: false, message: `${TOPOLOGY_HINTS_MESSAGES.insufficientNumberOfEndpoints} ${counts}` };
  const partial = new Map<string, { minimum: number; desired: number }>();
  let minTotal = 0;
  for (const [zone, ratio] of ratios) {
    const desired = ratio * readyEndpoints;
    const minimum = Math.ceil(desired * MINIMUM_SHARE);
    partial.set(zone, { minimum, desired: Math.max(desired, minimum) });
    minTotal += minimum;
  }
  if (minTotal > readyEndpoints)
    return {
      ok: false,
      message: `${TOPOLOGY_HINTS_MESSAGES.minAllocationExceedsOverloadThreshold} ${counts}`,
    };
  const allocations = new Map<string, ZoneAllocation>();
  for (const [zone, a] of partial)
    allocations.set(zone, { ...a, maximum: a.minimum + readyEndpoints - minTotal });
  return { ok: true, allocations };
}

/** The zone with the largest positive value (first by name on ties), or undefined. */
function largest(values: ReadonlyMap<string, number>): [string, number] | undefined {
  let best: [string, number] | undefined;
  for (const zone of [...values.keys()].sort()) {
    const v = values.get(zone) as number;
    if (v > (best?.[1] ?? 0)) best = [zone, v];
  }
  return best;
}

/**
 * How many whole endpoints each zone should give away and receive, given the allocations and the
 * hints allocated so far: repeatedly the zone with the largest surplus gives one to the zone with
 * the largest deficit, until one side runs out, both are below one endpoint, or either is below
 * half an endpoint (so a zone keeps its own endpoints when moving one would barely help).
 */
export function givingAndReceivingZones(
  allocations: ReadonlyMap<string, Pick<ZoneAllocation, 'desired'>>,
  allocatedByZone: ReadonlyMap<string, number>,
): { giving: Map<string, number>; receiving: Map<string, number> } {
  const surplus = new Map<string, number>();
  const deficit = new Map<string, number>();
  for (const [zone, a] of allocations) {
    const allocated = allocatedByZone.get(zone) ?? 0;
    if (allocated > a.desired) surplus.set(zone, allocated - a.desired);
    else if (allocated < a.desired) deficit.set(zone, a.desired - allocated);
  }
  const giving = new Map<string, number>();
  const receiving = new Map<string, number>();
  for (;;) {
    const give = largest(surplus);
    const take = largest(deficit);
    if (!give || !take) break;
    const [from, toGive] = give;
    const [to, toTake] = take;
    if ((toGive < 1 && toTake < 1) || toGive < 0.5 || toTake < 0.5) break;
    giving.set(from, (giving.get(from) ?? 0) + 1);
    surplus.set(from, toGive - 1);
    receiving.set(to, (receiving.get(to) ?? 0) + 1);
    deficit.set(to, toTake - 1);
  }
  return { giving: sortedByZone(giving), receiving: sortedByZone(receiving) };
}

function sortedByZone(m: ReadonlyMap<string, number>): Map<string, number> {
  return new Map([...m].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
}

/**
 * Re-hints endpoints of giving zones for receiving zones, in slice and endpoint order, consuming
 * `giving` and `receiving`. Returns the change in hinted endpoints per zone.
 */
export function redistributeHints(
  slices: EndpointSliceEndpoint[][],
  giving: Map<string, number>,
  receiving: Map<string, number>,
): Map<string, number> {
  const changes = new Map<string, number>();
  for (const endpoints of slices) {
    for (let i = 0; i < endpoints.length; i++) {
      const ep = endpoints[i] as EndpointSliceEndpoint;
      if (!isEndpointReady(ep)) continue;
      if (giving.size === 0 || receiving.size === 0) return changes;
      const from = ep.zone;
      if (!from) continue;
      const toGive = giving.get(from);
      if (toGive === undefined || toGive <= 0) continue;
      for (const [to, toTake] of receiving) {
        if (toTake <= 0) continue;
        endpoints[i] = withZoneHint(ep, to);
        if (toGive === 1) giving.delete(from);
        else giving.set(from, toGive - 1);
        if (toTake === 1) receiving.delete(to);
        else receiving.set(to, toTake - 1);
        changes.set(to, (changes.get(to) ?? 0) + 1);
        changes.set(from, (changes.get(from) ?? 0) - 1);
        break;
      }
    }
  }
  return changes;
}

/**
 * Zone hints a stored slice contributes, or undefined when the slice must be rewritten: a ready
 * endpoint without zone hints, a hint for a zone without an allocation, or more hints for a zone
 * than its maximum allows with what is already allocated.
 */
export function storedHintsByZone(
  endpoints: readonly EndpointSliceEndpoint[],
  allocatedByZone: ReadonlyMap<string, number>,
  allocations: ReadonlyMap<string, Pick<ZoneAllocation, 'maximum'>>,
): Map<string, number> | undefined {
  const hints = new Map<string, number>();
  for (const ep of endpoints) {
    if (!isEndpointReady(ep)) continue;
    const zones = ep.hints?.forZones ?? [];
    if (zones.length === 0) return undefined;
    for (const { name } of zones) {
      if (!allocations.has(name)) return undefined;
      hints.set(name, (hints.get(name) ?? 0) + 1);
    }
  }
  for (const [zone, n] of hints) {
    const a = allocations.get(zone);
    if (!a || n + (allocatedByZone.get(zone) ?? 0) > a.maximum) return undefined;
  }
  return hints;
}

/**
 * Removes every hint: from all written slices, and from stored slices that have any (those are
 * then written too).
 */
export function removeZoneHints(slices: ZoneHintSlices, disabledMessage?: string): ZoneHintOutcome {
  return {
    written: slices.written.map((eps) => eps.map(withoutHints)),
    unchanged: slices.unchanged.map((eps) =>
      eps.some((ep) => ep.hints !== undefined) ? eps.map(withoutHints) : undefined,
    ),
    hintsByZone: undefined,
    disabledMessage,
  };
}

/**
 * Computes zone hints for one service and address type (upstream's `AddHints`), or removes them
 * all when no sound allocation exists. Pure: returns new endpoint arrays.
 */
export function allocateZoneHints(ratios: ZoneRatios | undefined, slices: ZoneHintSlices): ZoneHintOutcome {
  let ready = 0;
  for (const eps of [...slices.written, ...slices.unchanged])
    for (const ep of eps) if (isEndpointReady(ep)) ready++;
  const result = zoneAllocations(ratios, ready);
  if (!result.ok) return removeZoneHints(slices, result.message);
  const { allocations } = result;

  // Stored slices keep their hints while those still fit; the others are rewritten.
  const allocated = new Map<string, number>();
  const work = slices.written.map((eps) => [...eps]);
  const unchanged: (EndpointSliceEndpoint[] | undefined)[] = [];
  const moved: number[] = [];
  slices.unchanged.forEach((eps, i) => {
    const hints = storedHintsByZone(eps, allocated, allocations);
    unchanged.push(undefined);
    if (hints) for (const [zone, n] of hints) allocated.set(zone, (allocated.get(zone) ?? 0) + n);
    else {
      moved.push(i);
      work.push([...eps]);
    }
  });

  // Every ready endpoint being written starts with a hint for its own zone.
  for (const eps of work) {
    for (let i = 0; i < eps.length; i++) {
      const ep = eps[i] as EndpointSliceEndpoint;
      if (!isEndpointReady(ep)) continue;
      if (!ep.zone) return removeZoneHints(slices, TOPOLOGY_HINTS_MESSAGES.noZoneSpecified);
      allocated.set(ep.zone, (allocated.get(ep.zone) ?? 0) + 1);
      eps[i] = withZoneHint(ep, ep.zone);
    }
  }

  const { giving, receiving } = givingAndReceivingZones(allocations, allocated);
  for (const [zone, diff] of redistributeHints(work, giving, receiving))
    allocated.set(zone, (allocated.get(zone) ?? 0) + diff);
  if (allocated.size === 0) return removeZoneHints(slices, TOPOLOGY_HINTS_MESSAGES.noAllocatedHintsForZones);

  const written = work.slice(0, slices.written.length);
  moved.forEach((index, k) => {
    unchanged[index] = work[slices.written.length + k] as EndpointSliceEndpoint[];
  });
  return { written, unchanged, hintsByZone: allocated, disabledMessage: undefined };
}

/**
 * Whether a service's hints leave some zone below its minimum under `ratios` (always, when
 * `ratios` is undefined and hints are set): such services need a new allocation after nodes change.
 */
export function serviceOverloaded(
  hintsByZone: ReadonlyMap<string, number>,
  ratios: ZoneRatios | undefined,
): boolean {
  if (hintsByZone.size === 0) return false;
  if (ratios === undefined || ratios.size === 0) return true;
  let total = 0;
  for (const n of hintsByZone.values()) total += n;
  for (const [zone, ratio] of ratios) {
    const have = hintsByZone.get(zone);
    if (have === undefined) return true;
    if (have < Math.ceil(total * ratio * MINIMUM_SHARE)) return true;
  }
  return false;
}

/** Upstream's event message suffix. */
export function withAddressType(message: string, addressType: AddressType): string {
  return `${message}, addressType: ${addressType}`;
}

/**
 * The controller's memory for the Auto heuristic: zone ratios from the last node update, and the
 * hints each service currently holds per address type (to find services that a node change
 * overloads, and to know when hints are turned on or off).
 */
export class TopologyCache {
  private ratios: ZoneRatios | undefined;
  private readonly hintsByService = new Map<string, Map<AddressType, ReadonlyMap<string, number>>>();
  private readonly populated = new Set<string>();

  /** Recomputes zone ratios from the cluster's nodes (all of them; filtering happens here). */
  setNodes(nodes: Iterable<Node>): void {
    this.ratios = zoneCPURatios(nodes);
  }

  /** The current zone ratios; undefined while node information is insufficient. */
  zoneRatios(): ZoneRatios | undefined {
    return this.ratios;
  }

  /**
   * Computes hints for a service's slices of one address type and records the outcome; returns it
   * with the events the controller would record (hints turned on, or why they were removed).
   */
  addHints(
    serviceKey: string,
    addressType: AddressType,
    slices: ZoneHintSlices,
  ): { outcome: ZoneHintOutcome; events: TopologyEvent[] } {
    const outcome = allocateZoneHints(this.ratios, slices);
    if (outcome.hintsByZone === undefined) {
      this.removeHints(serviceKey, addressType);
      const message = withAddressType(
        outcome.disabledMessage ?? TOPOLOGY_HINTS_MESSAGES.disabled,
        addressType,
      );
      return { outcome, events: [{ type: 'Warning', reason: 'TopologyAwareHintsDisabled', message }] };
    }
    const wasPopulated = this.populated.has(serviceKey);
    let byType = this.hintsByService.get(serviceKey);
    if (!byType) {
      byType = new Map();
      this.hintsByService.set(serviceKey, byType);
    }
    byType.set(addressType, outcome.hintsByZone);
    this.populated.add(serviceKey);
    const events: TopologyEvent[] = wasPopulated
      ? []
      : [
          {
            type: 'Normal',
            reason: 'TopologyAwareHintsEnabled',
            message: withAddressType(TOPOLOGY_HINTS_MESSAGES.enabled, addressType),
          },
        ];
    return { outcome, events };
  }

  /**
   * Forgets a service's hints of one address type (the annotation went, or hints were removed).
   * Returns the "disabled" event when the service had hints before.
   */
  removeHints(serviceKey: string, addressType: AddressType): TopologyEvent | undefined {
    const had = this.populated.has(serviceKey);
    const byType = this.hintsByService.get(serviceKey);
    byType?.delete(addressType);
    if (byType?.size === 0) this.hintsByService.delete(serviceKey);
    this.populated.delete(serviceKey);
    return had
      ? {
          type: 'Warning',
          reason: 'TopologyAwareHintsDisabled',
          message: withAddressType(TOPOLOGY_HINTS_MESSAGES.disabled, addressType),
        }
      : undefined;
  }

  /** Forgets everything about a deleted service. */
  forgetService(serviceKey: string): void {
    this.hintsByService.delete(serviceKey);
    this.populated.delete(serviceKey);
  }

  /** True when the service's hints were set by this cache and not removed since. */
  hasPopulatedHints(serviceKey: string): boolean {
    return this.populated.has(serviceKey);
  }

  /** Hints per zone the service holds for an address type, if any. */
  hintsOf(serviceKey: string, addressType: AddressType): ReadonlyMap<string, number> | undefined {
    return this.hintsByService.get(serviceKey)?.get(addressType);
  }

  /** Services whose hints leave some zone below its minimum under the current ratios. */
  overloadedServices(): string[] {
    const out: string[] = [];
    for (const [key, byType] of this.hintsByService)
      for (const hints of byType.values())
        if (serviceOverloaded(hints, this.ratios)) {
          out.push(key);
          break;
        }
    return out;
  }
}

/** Ready for hints: the `ready` condition explicitly true (an absent one does not count). */
function isEndpointReady(ep: EndpointSliceEndpoint): boolean {
  return ep.conditions?.ready === true;
}

function withZoneHint(ep: EndpointSliceEndpoint, zone: string): EndpointSliceEndpoint {
  return { ...ep, hints: { forZones: [{ name: zone }] } };
}

function withoutHints(ep: EndpointSliceEndpoint): EndpointSliceEndpoint {
  if (ep.hints === undefined) return ep;
  const copy = { ...ep };
  delete copy.hints;
  return copy;
}
