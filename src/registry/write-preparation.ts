/**
 * Turns a write request into what is committed: system metadata (uid, creationTimestamp,
 * generation), the API server's defaulting and validation per kind, and the allocations (cluster
 * IPs, node ports, pod IPs, LoadBalancer ingress) as reservation ops that go into the same
 * transaction as the object. Local allocator candidates taken here are handed back with
 * {@link WritePreparation.release} when the write is not committed.
 *
 * @module
 */
import type { Clock } from '../core/clock';
import { defaultEndpointSlice, defaultPod, defaultService } from '../core/defaults';
import { type ErrorList, invalidError, StatusError } from '../core/errors';
import type { Rng } from '../core/random';
import { namespacedKey } from '../core/snapshot';
import type { Kind, KubeObject, Node, Pod, Service } from '../core/types';
import { canonicalIP, isAllocationError, type LoadBalancerProvider } from '../net';
import {
  validateEndpointSlice,
  validateObject,
  validatePod,
  validateService,
  validateServiceUpdate,
} from '../validation';
import type { KeyLayout, Reservation, ReservationType } from './keys';
import { type LocalAllocators, podIPsOf } from './local-allocators';
import type { CacheEntry, ObjectCache } from './object-cache';
import { newUID, ownerId, rfc3339 } from './object-identity';
import type { ObjectIndexes } from './object-indexes';
import { cloneJSON, jsonEqual } from './object-utils';
import {
  type AllocationMode,
  planServiceAllocation,
  prepareServiceForUpdate,
  type ReservationRef,
  type ServiceAllocationContext,
  type ServiceAllocationPlan,
  unmarkPlan,
  unreservedValues,
} from './service-allocation';
import type { StoreOp } from './store';

/** The registry defaults before validating; the validators need not do it again. */
const ALREADY_DEFAULTED = { applyDefaults: false } as const;

/** A write ready to commit: the object and the reservation ops that go with it. */
export interface Prepared {
  readonly object: KubeObject;
  readonly ops: StoreOp[];
  readonly plan?: ServiceAllocationPlan;
  readonly ctx?: ServiceAllocationContext;
  readonly podReserve?: ReservationRef[];
  readonly podNode?: string | undefined;
}

/** Options of {@link WritePreparation}. */
export interface WritePreparationOptions {
  readonly keys: KeyLayout;
  readonly cache: ObjectCache;
  readonly indexes: ObjectIndexes;
  readonly allocators: LocalAllocators;
  readonly allocationMode: AllocationMode;
  /** See `RegistryOptions.allowLoopbackEndpoints`. */
  readonly allowLoopbackEndpoints: boolean;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly lbProvider: LoadBalancerProvider | undefined;
  /** A LoadBalancer provider failure (the write goes on, the service stays pending). */
  readonly onError: (err: Error) => void;
}

/** Kind-specific preparation of writes. */
export class WritePreparation {
  constructor(private readonly o: WritePreparationOptions) {}

  /**
   * Prepares `obj` (a normalized copy the caller owns) for create (`cur` undefined) or update.
   * `dryRun`: the result is only compared, never committed — no LoadBalancer provider calls.
   * Rejects with a {@link StatusError} (Invalid, InternalError) like the API server.
   */
  async prepare(
    obj: KubeObject,
    cur: CacheEntry | undefined,
    opts: { dryRun?: boolean } = {},
  ): Promise<Prepared> {
    const meta = obj.metadata;
    if (cur) {
      const old = cur.object.metadata;
      meta.uid = old.uid ?? newUID(this.o.rng);
      if (old.creationTimestamp) meta.creationTimestamp = old.creationTimestamp;
      if (old.deletionTimestamp && !meta.deletionTimestamp) meta.deletionTimestamp = old.deletionTimestamp;
      if (old.deletionGracePeriodSeconds !== undefined && meta.deletionGracePeriodSeconds === undefined)
        meta.deletionGracePeriodSeconds = old.deletionGracePeriodSeconds;
      if (old.generateName && !meta.generateName) meta.generateName = old.generateName;
    } else {
      meta.uid ||= newUID(this.o.rng);
      meta.creationTimestamp ||= rfc3339(this.o.clock.wallNow());
    }
    delete meta.resourceVersion;
    switch (obj.kind) {
      case 'Service':
        return this.prepareService(obj, cur, opts);
      case 'Pod':
        return this.preparePod(obj, cur);
      case 'EndpointSlice': {
        const s = defaultEndpointSlice(obj);
        throwIfInvalid(
          s,
          validateEndpointSlice(s, { ...ALREADY_DEFAULTED, allowLoopback: this.o.allowLoopbackEndpoints }),
        );
        return { object: withGeneration(s, cur), ops: [] };
      }
      default:
        throwIfInvalid(obj, validateObject(obj));
        return { object: withGeneration(obj, cur), ops: [] };
    }
  }

  /** Gives back local candidates of a prepared write that will not be committed (except `keep`, a key). */
  release(p: Prepared, keep?: string): void {
    const { keys } = this.o;
    if (p.plan && p.ctx) {
      const k = p.plan.reserve.find((r) => keys.reservationKey(r.type, r.value) === keep);
      unmarkPlan(p.ctx, p.plan, k);
    }
    if (p.podReserve && p.podNode) {
      for (const r of p.podReserve)
        if (keys.reservationKey(r.type, r.value) !== keep) this.o.allocators.releasePodIP(p.podNode, r.value);
    }
  }

  private allocationContext(): ServiceAllocationContext {
    return this.o.allocators.serviceContext(this.o.allocationMode, (type, value) => {
      const r = this.o.cache.reservation(this.o.keys.reservationKey(type, value));
      return r ? namespacedKey(r.value.owner.namespace, r.value.owner.name) : undefined;
    });
  }

  private reservationCreate(type: ReservationType, value: string, owner: Reservation['owner']): StoreOp {
    const r: Reservation = { kind: 'Reservation', type, value, owner };
    return { type: 'create', key: this.o.keys.reservationKey(type, value), value: r };
  }

  private async prepareService(
    input: Service,
    cur: CacheEntry | undefined,
    opts: { dryRun?: boolean },
  ): Promise<Prepared> {
    const { lbProvider } = this.o;
    const prev = cur?.object as Service | undefined;
    let svc = defaultService(input);
    const ns = svc.metadata.namespace ?? 'default';
    const name = svc.metadata.name ?? '';
    if (prev) {
      // Status is the controllers' business: an update starts from the stored status (the
      // strategy's PrepareForUpdate), which the strategy then empties for a service that stops
      // being a LoadBalancer. Allocated values the client left out are carried over before the
      // strategy runs, so an update without clusterIP is not mistaken for unsetting it.
      if (prev.status) svc.status = cloneJSON(prev.status);
      else delete svc.status;
      svc = prepareServiceForUpdate(svc, prev);
    }
    // The API server allocates before it validates (BeginCreate/BeginUpdate run before the
    // strategy's Validate), and stops at the first allocation failure: a service that is both
    // unallocatable and invalid gets the allocation error. Validation then sees the allocated
    // object, as the server's does.
    const ctx = this.allocationContext();
    const plan = planServiceAllocation(ctx, svc, prev, namespacedKey(ns, name), {
      firstAddress: !prev && ns === 'default' && name === 'kubernetes',
    });
    try {
      if (plan.errors.length) throw invalidError('Service', name, plan.errors);
      if (plan.internalError) throw plan.internalError;
      throwIfInvalid(
        plan.service,
        prev
          ? validateServiceUpdate(plan.service, prev, ALREADY_DEFAULTED)
          : validateService(plan.service, ALREADY_DEFAULTED),
      );
      const unreserved = unreservedValues(plan.service, prev, plan);
      if (unreserved.length)
        throw new StatusError(
          'InternalError',
          `Internal error occurred: ${unreserved.map((r) => `${r.field}=${r.value}`).join(', ')} would be stored without a reservation`,
          'Service',
          name,
        );
    } catch (e) {
      // Nothing taken for a write that does not go through stays taken.
      unmarkPlan(ctx, plan);
      throw e;
    }
    const out = plan.service;
    if (!opts.dryRun && lbProvider) {
      const wasLB = prev?.spec.type === 'LoadBalancer';
      const isLB = out.spec.type === 'LoadBalancer';
      if (isLB && (lbProvider.handles?.(out) ?? true)) {
        try {
          const ingress = await lbProvider.ensure(out);
          out.status = { ...(out.status ?? {}), loadBalancer: ingress.length ? { ingress } : {} };
        } catch (e) {
          this.o.onError(e as Error);
        }
      } else if (wasLB && !isLB) {
        await lbProvider.release(prev as Service);
      }
    }
    const owner = { kind: 'Service' as const, namespace: ns, name, uid: out.metadata.uid ?? '' };
    const ops: StoreOp[] = [];
    for (const r of plan.reserve) ops.push(this.reservationCreate(r.type, r.value, owner));
    for (const r of plan.release) {
      const key = this.o.keys.reservationKey(r.type, r.value);
      const held = this.o.cache.reservation(key);
      if (
        held &&
        held.value.owner.namespace === ns &&
        held.value.owner.name === name &&
        held.value.owner.kind === 'Service'
      )
        ops.push({ type: 'delete', key, expectedModRevision: held.modRevision });
    }
    return { object: withGeneration(out, cur), ops, plan, ctx };
  }

  private async preparePod(input: Pod, cur: CacheEntry | undefined): Promise<Prepared> {
    const { cache, indexes, allocators } = this.o;
    const prev = cur?.object as Pod | undefined;
    const pod = defaultPod(input);
    const ns = pod.metadata.namespace ?? 'default';
    const name = pod.metadata.name ?? '';
    // The pod IP belongs to the kubelet (status): an update that leaves it out keeps it.
    if (prev && !podIPsOf(pod).length && podIPsOf(prev).length) {
      pod.status = { ...(pod.status ?? {}), podIP: prev.status?.podIP as string };
      if (prev.status?.podIPs) pod.status.podIPs = prev.status.podIPs.map((p) => ({ ip: p.ip }));
    }
    throwIfInvalid(pod, validatePod(pod, ALREADY_DEFAULTED));
    const ops: StoreOp[] = [];
    const reserve: ReservationRef[] = [];
    const owner = { kind: 'Pod' as const, namespace: ns, name, uid: pod.metadata.uid ?? '' };
    const node = pod.spec.nodeName;
    if (!podIPsOf(pod).length && node && !pod.spec.hostNetwork) {
      const alloc = allocators.podAllocator(node, {
        node: (n) => cache.get('Node', '', n)?.object as Node | undefined,
        podsOn: function* (n) {
          const pods = cache.kind('Pod');
          for (const key of indexes.podsOnNode(n)) {
            const p = pods.get(key)?.object as Pod | undefined;
            if (p) yield p;
          }
        },
      });
      if (alloc) {
        let ips: string[];
        try {
          ips = alloc.allocate();
        } catch (e) {
          if (isAllocationError(e))
            throw new StatusError('InternalError', `Internal error occurred: ${e.message}`, 'Pod', name);
          throw e;
        }
        pod.status = { ...(pod.status ?? {}), podIP: ips[0] as string, podIPs: ips.map((ip) => ({ ip })) };
        for (const ip of ips) {
          reserve.push({ type: 'podIP', value: ip, auto: true, field: 'status.podIPs' });
          ops.push(this.reservationCreate('podIP', ip, owner));
        }
      }
    }
    // Release pod IP reservations the pod no longer uses.
    const now = new Set(podIPsOf(pod).map((ip) => canonicalIP(ip) ?? ip));
    for (const key of cache.reservationsOf(ownerId('Pod', ns, name))) {
      const r = cache.reservation(key);
      if (r && !now.has(r.value.value)) ops.push({ type: 'delete', key, expectedModRevision: r.modRevision });
    }
    return { object: withGeneration(pod, cur), ops, podReserve: reserve, podNode: node };
  }
}

/** Sets `metadata.generation`: 1 on create, +1 when the spec (or a slice's endpoints/ports) changed. */
function withGeneration<T extends KubeObject>(obj: T, cur: CacheEntry | undefined): T {
  const prev = cur?.object;
  const spec = (o: KubeObject) => (o as { spec?: unknown }).spec ?? (o as { endpoints?: unknown }).endpoints;
  obj.metadata.generation = !prev
    ? 1
    : (prev.metadata.generation ?? 1) +
      (jsonEqual(spec(obj), spec(prev)) &&
      jsonEqual((obj as { ports?: unknown }).ports, (prev as { ports?: unknown }).ports)
        ? 0
        : 1);
  return obj;
}

function throwIfInvalid(obj: KubeObject, errors: ErrorList): void {
  if (errors.length) throw invalidError(obj.kind as Kind, obj.metadata.name ?? '', errors);
}
