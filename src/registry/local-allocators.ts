/**
 * The registry's local view of what is allocated: the service CIDRs, the node port range and one
 * pod IP allocator per node. The store's reservation keys are the truth; these allocators only
 * pick candidates quickly and are kept in step with every reservation the cache sees, whoever
 * wrote it.
 *
 * @module
 */
import type { Rng } from '../core/random';
import type { Node, Pod } from '../core/types';
import { ClusterIPRange, NodePortAllocator, PodIPAllocator } from '../net';
import type { Reservation } from './keys';
import { jsonEqual } from './object-utils';
import type { AllocationMode, ServiceAllocationContext } from './service-allocation';

/** Options of {@link LocalAllocators}. */
export interface LocalAllocatorsOptions {
  readonly serviceClusterIPRanges: readonly string[];
  readonly serviceNodePortRange: string;
  readonly nodePodCIDRs: Readonly<Record<string, string | readonly string[]>>;
  readonly rng: Rng;
  /** Reports a node whose pod CIDRs cannot be used (the node's pods then keep their given IPs only). */
  readonly onError: (err: Error) => void;
}

/** Where a node's pods live: the node object and the pods bound to it. */
export interface NodeLookup {
  node(name: string): Node | undefined;
  podsOn(name: string): Iterable<Pod>;
}

/** The pod's IPs from its status (`podIPs`, else `podIP`). */
export function podIPsOf(pod: Pod): string[] {
  const l = pod.status?.podIPs?.map((p) => p.ip).filter((x) => x) ?? [];
  if (l.length) return l;
  return pod.status?.podIP ? [pod.status.podIP] : [];
}

/** Cluster IP ranges, node ports and per-node pod IPAM. */
export class LocalAllocators {
  readonly serviceRanges: ClusterIPRange[];
  readonly nodePorts: NodePortAllocator;
  private readonly nodePodCIDRs: ReadonlyMap<string, readonly string[]>;
  /** Per node: its allocator, or null when its CIDRs are unusable (not retried until the node changes). */
  private readonly podIPAM = new Map<string, PodIPAllocator | null>();
  private readonly onError: (err: Error) => void;

  constructor(options: LocalAllocatorsOptions) {
    this.serviceRanges = options.serviceClusterIPRanges.map(
      (c) => new ClusterIPRange(c, { rng: options.rng }),
    );
    this.nodePorts = new NodePortAllocator(options.serviceNodePortRange, { rng: options.rng });
    const m = new Map<string, readonly string[]>();
    for (const [node, c] of Object.entries(options.nodePodCIDRs))
      m.set(node, typeof c === 'string' ? [c] : c);
    this.nodePodCIDRs = m;
    this.onError = options.onError;
  }

  /** The context {@link planServiceAllocation} works in. */
  serviceContext(mode: AllocationMode, holder: ServiceAllocationContext['holder']): ServiceAllocationContext {
    return { mode, serviceRanges: this.serviceRanges, nodePorts: this.nodePorts, holder };
  }

  /** Keeps the allocators in step with a reservation that appeared (`taken`) or went. */
  mark(r: Reservation, taken: boolean): void {
    if (r.type === 'nodePort') {
      const port = Number(r.value);
      if (!this.nodePorts.contains(port)) return;
      if (taken) this.nodePorts.markAllocated(port);
      else this.nodePorts.release(port);
    } else if (r.type === 'serviceIP') {
      for (const range of this.serviceRanges) {
        if (!range.contains(r.value)) continue;
        if (taken) range.markAllocated(r.value);
        else range.release(r.value);
      }
    } else if (r.type === 'podIP') {
      for (const alloc of this.podIPAM.values()) {
        if (!alloc) continue;
        if (taken) alloc.markAllocated(r.value);
        else alloc.release(r.value);
      }
    }
  }

  /** A node's spec changed (or it came or went): its pod CIDRs are read again on next use. */
  nodeChanged(name: string, prev: Node | undefined, next: Node | undefined): void {
    if (!jsonEqual(next?.spec, prev?.spec)) this.podIPAM.delete(name);
  }

  /**
   * The pod IP allocator of a node, built on first use from the Node's `spec.podCIDR(s)` or the
   * configured per-node CIDRs, with the IPs its pods already hold marked. Undefined when the
   * node has no usable pod CIDR.
   */
  podAllocator(node: string, lookup: NodeLookup): PodIPAllocator | undefined {
    const cached = this.podIPAM.get(node);
    if (cached !== undefined) return cached ?? undefined;
    const nodeObj = lookup.node(node);
    const cidrs = nodeObj ? PodIPAllocator.podCIDRsOf(nodeObj) : [];
    const list = cidrs.length ? cidrs : (this.nodePodCIDRs.get(node) ?? []);
    if (list.length === 0) return undefined;
    let alloc: PodIPAllocator | null;
    try {
      alloc = new PodIPAllocator(list);
    } catch (e) {
      this.onError(e as Error);
      alloc = null;
    }
    this.podIPAM.set(node, alloc);
    if (alloc) for (const pod of lookup.podsOn(node)) for (const ip of podIPsOf(pod)) alloc.markAllocated(ip);
    return alloc ?? undefined;
  }

  /** Gives back a pod IP candidate that will not be committed. */
  releasePodIP(node: string, ip: string): void {
    this.podIPAM.get(node)?.release(ip);
  }
}
