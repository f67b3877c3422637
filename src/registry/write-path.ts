/**
 * The registry's write path: create, update, apply and delete as transactions on the store. Each
 * write is prepared ({@link WritePreparation}), committed with compare-and-swap on the object and
 * its reservation keys, and resolves once the registry's own cache shows it. A write that lost a
 * race for an automatically chosen value is prepared again with fresh candidates; every other
 * failure gives back what the attempt took.
 *
 * @module
 */
import type { Clock } from '../core/clock';
import {
  alreadyExistsError,
  conflictError,
  fieldErrors,
  invalidError,
  notFoundError,
  OBJECT_MODIFIED,
  StatusError,
} from '../core/errors';
import type { Rng } from '../core/random';
import type { Kind, KubeObject, ObjectOfKind, Pod, Service } from '../core/types';
import {
  AllocationError,
  clusterIPAllocationFieldError,
  IP_ALLOCATED_MESSAGE,
  type LoadBalancerProvider,
  PORT_ALLOCATED_MESSAGE,
} from '../net';
import { generateName } from './endpoints-controller';
import { CLUSTER_SCOPED_KINDS, type KeyLayout, RESOURCE_NAME } from './keys';
import type { ObjectCache } from './object-cache';
import { API_VERSION, KINDS, ownerId, rfc3339 } from './object-identity';
import { cloneJSON, jsonEqual } from './object-utils';
import { type Store, StoreConflictError, type StoreOp } from './store';
import type { Prepared, WritePreparation } from './write-preparation';

/** How often a write retries with new candidates after losing a reservation race. */
const MAX_ALLOCATION_ATTEMPTS = 16;

/** Options of {@link WritePath.delete}; see the registry's `DeleteOptions`. */
export interface DeleteRequest {
  readonly gracePeriodSeconds?: number;
  readonly resourceVersion?: string;
}

/** Options of {@link WritePath}. */
export interface WritePathOptions {
  readonly store: Store;
  readonly keys: KeyLayout;
  readonly cache: ObjectCache;
  readonly preparation: WritePreparation;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly lbProvider: LoadBalancerProvider | undefined;
  readonly isClosed: () => boolean;
  /** Failures of background work started by a write (a graceful pod deletion's final delete). */
  readonly onError: (err: Error) => void;
}

/** Create, update, apply and delete over the store. */
export class WritePath {
  private readonly graceTimers = new Set<ReturnType<Clock['setTimeout']>>();

  constructor(private readonly o: WritePathOptions) {}

  /** Cancels pending graceful deletions. */
  close(): void {
    for (const t of this.graceTimers) this.o.clock.clearTimeout(t);
    this.graceTimers.clear();
  }

  /** See `Registry.create`. */
  async create<T extends KubeObject>(input: T): Promise<T> {
    const { cache, keys, store, preparation } = this.o;
    const obj = normalizeInput(input);
    const kind = obj.kind;
    const ns = namespaceOf(obj);
    if (!obj.metadata.name && obj.metadata.generateName)
      obj.metadata.name = generateName(obj.metadata.generateName, this.o.rng);
    const name = obj.metadata.name ?? '';
    if (!name)
      throw invalidError(kind, '', [
        { kind: 'Required', field: 'metadata.name', value: '', detail: 'name or generateName is required' },
      ]);
    const resource = RESOURCE_NAME[kind];
    for (let attempt = 0; ; attempt++) {
      // The API server allocates and validates before storage reports an existing name, so a
      // re-create that requests a taken cluster IP, or is invalid, says so first. For an existing
      // name the preparation is comparison-only (nothing kept, no LoadBalancer asked).
      const exists = cache.get(kind, ns, name) !== undefined;
      const prepared = await preparation.prepare(obj, undefined, { dryRun: exists });
      if (exists) {
        preparation.release(prepared);
        throw alreadyExistsError(resource, name, kind);
      }
      const ops: StoreOp[] = [
        { type: 'create', key: keys.objectKey(kind, ns, name), value: toStored(prepared.object) },
        ...prepared.ops,
      ];
      try {
        const rev = await store.commit(ops);
        await cache.waitForRevision(rev);
        return cache.get(kind, ns, name)?.object as T;
      } catch (e) {
        let retry: boolean;
        try {
          retry = this.onCommitError(e, prepared, attempt, resource, name, kind);
        } catch (refusal) {
          await this.abandonCreate(prepared, refusal);
          throw refusal;
        }
        if (!retry) {
          await this.abandonCreate(prepared, e);
          throw e;
        }
      }
    }
  }

  /**
   * A create that will not be retried gives back the load balancer its preparation asked for
   * (the allocators' candidates are already back). Not when the name turned out to exist: that
   * load balancer is the stored service's.
   */
  private async abandonCreate(prepared: Prepared, cause: unknown): Promise<void> {
    const { lbProvider } = this.o;
    const svc = prepared.object as Service;
    if (!lbProvider || svc.kind !== 'Service' || svc.spec.type !== 'LoadBalancer') return;
    if (!(lbProvider.handles?.(svc) ?? true)) return;
    if (svc.status?.loadBalancer?.ingress === undefined) return;
    if (cause instanceof StatusError && cause.reason === 'AlreadyExists') return;
    try {
      await lbProvider.release(svc);
    } catch (err) {
      this.o.onError(err as Error);
    }
  }

  /** See `Registry.update`. */
  async update<T extends KubeObject>(input: T): Promise<T> {
    const { cache, keys, store, preparation } = this.o;
    const obj = normalizeInput(input);
    const kind = obj.kind;
    const ns = namespaceOf(obj);
    const name = obj.metadata.name ?? '';
    const resource = RESOURCE_NAME[kind];
    for (let attempt = 0; ; attempt++) {
      const cur = cache.get(kind, ns, name);
      if (!cur) throw notFoundError(resource, name, kind);
      const rv = input.metadata.resourceVersion;
      if (rv !== undefined && rv !== '' && rv !== String(cur.modRevision))
        throw conflictError(resource, name, OBJECT_MODIFIED, kind);
      const prepared = await preparation.prepare(obj, cur);
      const ops: StoreOp[] = [
        {
          type: 'update',
          key: keys.objectKey(kind, ns, name),
          value: toStored(prepared.object),
          expectedModRevision: cur.modRevision,
        },
        ...prepared.ops,
      ];
      try {
        const rev = await store.commit(ops);
        await cache.waitForRevision(rev);
        return cache.get(kind, ns, name)?.object as T;
      } catch (e) {
        if (e instanceof StoreConflictError && e.key === keys.objectKey(kind, ns, name)) {
          preparation.release(prepared);
          if (rv !== undefined && rv !== '') throw conflictError(resource, name, OBJECT_MODIFIED, kind);
          if (attempt < MAX_ALLOCATION_ATTEMPTS) {
            await cache.waitForRevision(cache.revision + 1).catch(() => {});
            continue;
          }
          throw conflictError(resource, name, OBJECT_MODIFIED, kind);
        }
        const retry = this.onCommitError(e, prepared, attempt, resource, name, kind);
        if (!retry) throw e;
      }
    }
  }

  /** See `Registry.apply`. */
  async apply<T extends KubeObject>(
    input: T,
  ): Promise<{ object: T; action: 'created' | 'configured' | 'unchanged' }> {
    const obj = normalizeInput(input);
    const ns = namespaceOf(obj);
    const name = obj.metadata.name ?? '';
    const cur = name ? this.o.cache.get(obj.kind, ns, name) : undefined;
    if (!cur) return { object: await this.create(input), action: 'created' };
    const prepared = await this.o.preparation.prepare(obj, cur, { dryRun: true });
    this.o.preparation.release(prepared);
    if (sameContent(prepared.object, cur.object)) return { object: cur.object as T, action: 'unchanged' };
    const { resourceVersion: _rv, ...meta } = obj.metadata;
    return { object: await this.update({ ...obj, metadata: meta } as T), action: 'configured' };
  }

  /** See `Registry.delete`. */
  async delete<K extends Kind>(
    kind: K,
    namespace: string,
    name: string,
    options: DeleteRequest = {},
  ): Promise<ObjectOfKind<K>> {
    const { cache, keys, store, clock, lbProvider } = this.o;
    const ns = CLUSTER_SCOPED_KINDS.has(kind) ? '' : namespace || 'default';
    const resource = RESOURCE_NAME[kind];
    for (let attempt = 0; ; attempt++) {
      const cur = cache.get(kind, ns, name);
      if (!cur) throw notFoundError(resource, name, kind);
      if (options.resourceVersion && options.resourceVersion !== String(cur.modRevision))
        throw conflictError(resource, name, OBJECT_MODIFIED, kind);
      const grace = options.gracePeriodSeconds ?? 0;
      if (kind === 'Pod' && grace > 0) {
        const pod = cur.object as Pod;
        if (pod.metadata.deletionTimestamp) return pod as ObjectOfKind<K>;
        const at = new Date(clock.wallNow().getTime() + grace * 1000);
        const next = cloneJSON(pod);
        next.metadata.deletionTimestamp = rfc3339(at);
        next.metadata.deletionGracePeriodSeconds = grace;
        try {
          const rev = await store.commit([
            {
              type: 'update',
              key: keys.objectKey(kind, ns, name),
              value: toStored(next),
              expectedModRevision: cur.modRevision,
            },
          ]);
          await cache.waitForRevision(rev);
        } catch (e) {
          if (e instanceof StoreConflictError && attempt < MAX_ALLOCATION_ATTEMPTS) continue;
          throw e;
        }
        const timer = clock.setTimeout(() => {
          this.graceTimers.delete(timer);
          if (this.o.isClosed()) return;
          this.delete('Pod', ns, name).catch((err: unknown) => {
            if (!(err instanceof StatusError && err.reason === 'NotFound')) this.o.onError(err as Error);
          });
        }, grace * 1000);
        this.graceTimers.add(timer);
        return cache.get(kind, ns, name)?.object as ObjectOfKind<K>;
      }
      const ops: StoreOp[] = [
        { type: 'delete', key: keys.objectKey(kind, ns, name), expectedModRevision: cur.modRevision },
      ];
      // The object and every reservation it holds go in one transaction: nothing leaks.
      for (const key of cache.reservationsOf(ownerId(kind, ns, name))) ops.push({ type: 'delete', key });
      if (kind === 'Service' && lbProvider && (cur.object as Service).spec.type === 'LoadBalancer')
        await lbProvider.release(cur.object as Service);
      try {
        const rev = await store.commit(ops);
        await cache.waitForRevision(rev);
        return cur.object as ObjectOfKind<K>;
      } catch (e) {
        if (e instanceof StoreConflictError && attempt < MAX_ALLOCATION_ATTEMPTS) {
          await cache.waitForRevision(cache.revision + 1).catch(() => {});
          continue;
        }
        throw e;
      }
    }
  }

  /** Decides whether a failed commit is retried (a lost race for an automatically chosen value). */
  private onCommitError(
    e: unknown,
    prepared: Prepared,
    attempt: number,
    resource: string,
    name: string,
    kind: Kind,
  ): boolean {
    const { keys, preparation } = this.o;
    if (!(e instanceof StoreConflictError)) {
      preparation.release(prepared);
      return false;
    }
    const parsed = keys.parse(e.key);
    if (parsed?.type === 'object') {
      preparation.release(prepared);
      if (e.reason === 'exists') throw alreadyExistsError(resource, name, kind);
      throw conflictError(resource, name, OBJECT_MODIFIED, kind);
    }
    const refs = [...(prepared.plan?.reserve ?? []), ...(prepared.podReserve ?? [])];
    const ref = refs.find((r) => keys.reservationKey(r.type, r.value) === e.key);
    // Keep the lost candidate marked (another writer holds it) and try again with a fresh one.
    preparation.release(prepared, e.key);
    if (ref?.auto && attempt < MAX_ALLOCATION_ATTEMPTS) return true;
    if (ref && !ref.auto) {
      // Another writer took a requested value between our check and our commit.
      const svc = prepared.object as Service;
      const fe =
        ref.type === 'serviceIP'
          ? clusterIPAllocationFieldError(
              svc.spec.clusterIPs ?? [ref.value],
              ref.value,
              new AllocationError('allocated', IP_ALLOCATED_MESSAGE),
            )
          : fieldErrors.invalid(ref.field, Number(ref.value), PORT_ALLOCATED_MESSAGE);
      throw invalidError(kind, name, [fe]);
    }
    if (attempt < MAX_ALLOCATION_ATTEMPTS) return true;
    return false;
  }
}

/** A private copy of the input with kind checked, `apiVersion` and namespace filled in. */
function normalizeInput<T extends KubeObject>(input: T): T {
  if (!input || typeof input !== 'object' || !KINDS.includes(input.kind))
    throw new StatusError(
      'BadRequest',
      `unsupported object kind ${JSON.stringify((input as { kind?: unknown })?.kind)}`,
    );
  const obj: T = cloneJSON(input);
  const kind: Kind = (input as KubeObject).kind;
  obj.apiVersion = (obj.apiVersion || API_VERSION[kind]) as T['apiVersion'];
  obj.metadata = obj.metadata ?? {};
  if (CLUSTER_SCOPED_KINDS.has(obj.kind)) delete obj.metadata.namespace;
  else obj.metadata.namespace = obj.metadata.namespace || 'default';
  return obj;
}

function namespaceOf(obj: KubeObject): string {
  return CLUSTER_SCOPED_KINDS.has(obj.kind) ? '' : (obj.metadata.namespace ?? 'default');
}

/** The stored form: without resourceVersion (the store's revision is the truth). `obj` is ours. */
function toStored(obj: KubeObject): unknown {
  if (obj.metadata.resourceVersion === undefined) return obj;
  const { resourceVersion: _rv, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

/** Equal but for the fields a write always changes (what makes an apply `unchanged`). */
function sameContent(a: KubeObject, b: KubeObject): boolean {
  const strip = (o: KubeObject) => {
    const { resourceVersion: _r, generation: _g, ...meta } = o.metadata;
    return { ...o, metadata: meta };
  };
  return jsonEqual(strip(a), strip(b));
}
