/**
 * The rendered pieces of every service port, kept between syncs so that a sync costs what
 * changed rather than what exists: each port's rules (see `service-rules.ts`) are rendered once
 * and reused until its snapshot entry changes, and consecutive ports are grouped in sorted blocks
 * whose joined text is cached, so that assembling KUBE-SERVICES and the filter table for 10,000
 * ports concatenates a few dozen strings.
 *
 * The only global input of a port's rules is the large-cluster mode (more than the threshold of
 * endpoints in total): when it flips every port is rendered again.
 *
 * @module
 */
import type { RoutingSnapshot, ServicePortEntry } from '../../core/snapshot';
import type { RoutingNode } from '../../routing/categorize';
import type { ResolvedOptions } from './options';
import { renderServicePort, type ServicePortRender } from './service-rules';
import { type FamilyServicePort, familyServicePort } from './service-view';

/** Ports per block when blocks are built in bulk; a block splits at twice this. */
const BLOCK_SIZE = 128;
/** A block this small after removals is merged into a neighbour. */
const BLOCK_MERGE_BELOW = 16;

/** One service port of the rendered family, with its rules. */
export interface Piece {
  readonly key: string;
  /** `ns/name`: the unit of partial sync. */
  readonly service: string;
  readonly entry: ServicePortEntry;
  readonly view: FamilyServicePort;
  readonly render: ServicePortRender;
}

interface MutablePiece {
  readonly key: string;
  readonly service: string;
  entry: ServicePortEntry;
  view: FamilyServicePort;
  /** `undefined` while waiting to be rendered in the current sync. */
  render: ServicePortRender | undefined;
  block: Block;
}

/** Joined text of one kind and how many rules it holds. */
export interface JoinedText {
  readonly text: string;
  readonly lines: number;
}

/** What a full sync writes in the nat table for a block's ports. */
export interface FullNatText {
  /** Chain declarations of the ports' own chains. */
  readonly chains: string;
  /** Captures and the ports' own rules, port after port. */
  readonly rules: string;
  readonly lines: number;
}

/** Consecutive service ports (sorted by key) and their joined text, built on first use. */
export class Block {
  /** @internal */
  readonly items: MutablePiece[] = [];
  private filterText: JoinedText | undefined;
  private captureText: JoinedText | undefined;
  private natText: FullNatText | undefined;

  /** The block's ports, in key order. */
  get pieces(): readonly Piece[] {
    return this.items as readonly Piece[];
  }

  /** The ports' filter-table rules (every sync writes them). */
  get filter(): JoinedText {
    this.filterText ??= this.join('filter');
    return this.filterText;
  }

  /** The ports' captures in KUBE-SERVICES / KUBE-NODEPORTS (every sync writes them). */
  get capture(): JoinedText {
    this.captureText ??= this.join('capture');
    return this.captureText;
  }

  /** Everything a full sync writes in the nat table for the block's ports. */
  get fullNat(): FullNatText {
    if (this.natText === undefined) {
      const chains: string[] = [];
      const rules: string[] = [];
      let lines = 0;
      for (const p of this.items) {
        const r = p.render!;
        chains.push(r.chains);
        rules.push(r.capture, r.rules);
        lines += r.lineCounts.nat;
      }
      this.natText = { chains: chains.join(''), rules: rules.join(''), lines };
    }
    return this.natText;
  }

  private join(part: 'filter' | 'capture'): JoinedText {
    const texts: string[] = [];
    let lines = 0;
    for (const p of this.items) {
      const r = p.render!;
      texts.push(r[part]);
      lines += r.lineCounts[part];
    }
    return { text: texts.join(''), lines };
  }

  /** @internal Drops the joined text after a change of the block's ports. */
  invalidate(): void {
    this.filterText = undefined;
    this.captureText = undefined;
    this.natText = undefined;
  }
}

function byKey(a: { readonly key: string }, b: { readonly key: string }): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/** Index of the first item of `items` whose key is not below `key`. */
function lowerBound(items: readonly { readonly key: string }[], key: string): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (items[mid]!.key < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function serviceOf(entry: ServicePortEntry): string {
  return `${entry.info.name.namespace}/${entry.info.name.name}`;
}

/** The rendered service ports of one family and node, following successive snapshots. */
export class ServicePortPieces {
  /** Every port of the last synced snapshot, with or without a view of this family. */
  private readonly entries = new Map<string, ServicePortEntry>();
  /** Port keys by `ns/name`, for every entry; built on first use (a one-off render never needs it). */
  private byService: Map<string, Set<string>> | undefined;
  private readonly pieces = new Map<string, MutablePiece>();
  private readonly blockList: Block[] = [];
  private readonly node: RoutingNode;
  private unrendered: MutablePiece[] = [];
  private endpointCount = 0;
  private large = false;

  constructor(private readonly options: ResolvedOptions) {
    this.node = { name: options.nodeName, labels: options.nodeLabels };
  }

  /** Blocks of ports in key order. */
  get blocks(): readonly Block[] {
    return this.blockList;
  }

  /** Service ports with a view of the rendered family. */
  get size(): number {
    return this.pieces.size;
  }

  /** Endpoints of the rendered family, summed over every port: the large-cluster measure. */
  get totalEndpoints(): number {
    return this.endpointCount;
  }

  /** Whether comments are dropped (more than the large-cluster threshold of endpoints). */
  get largeClusterMode(): boolean {
    return this.large;
  }

  /** The piece of one port, if it has a view of the rendered family. */
  piece(key: string): Piece | undefined {
    return this.pieces.get(key) as Piece | undefined;
  }

  /** The block holding `piece` (a piece of this store). */
  blockOf(piece: Piece): Block {
    return (piece as MutablePiece).block;
  }

  /** Every piece, in no particular order. */
  allPieces(): IterableIterator<Piece> {
    return this.pieces.values() as IterableIterator<Piece>;
  }

  /** Keys of the ports of service `ns/name` in the last synced snapshot. */
  portsOf(service: string): ReadonlySet<string> | undefined {
    this.indexServices();
    return this.byService!.get(service);
  }

  /**
   * Builds the index behind {@link portsOf} now (a long-lived renderer does so during a full
   * sync, so that the first partial sync after it costs no more than the others).
   */
  indexServices(): void {
    if (this.byService !== undefined) return;
    this.byService = new Map();
    for (const [key, entry] of this.entries) this.addToService(key, entry);
  }

  /**
   * Brings the pieces to `snapshot`. `candidates` are the port keys that may have changed since
   * the last sync (snapshot entries are immutable, so an unchanged port keeps its entry object);
   * without them, or when they cannot explain the snapshot's port count, every port is compared.
   */
  sync(snapshot: RoutingSnapshot, candidates?: Iterable<string>): void {
    const ports = snapshot.ports;
    let complete = candidates === undefined;
    if (candidates !== undefined) {
      for (const key of candidates) this.syncPort(key, ports.get(key));
      if (this.entries.size !== ports.size) complete = true;
    }
    if (complete) {
      if (this.entries.size === 0) {
        this.build(ports);
      } else {
        for (const [key, entry] of ports) if (this.entries.get(key) !== entry) this.syncPort(key, entry);
        if (this.entries.size !== ports.size) {
          for (const key of [...this.entries.keys()]) if (!ports.has(key)) this.syncPort(key, undefined);
        }
      }
    }
    this.renderPending();
  }

  /** First sync: every port at once, in sorted blocks of {@link BLOCK_SIZE}. */
  private build(ports: ReadonlyMap<string, ServicePortEntry>): void {
    const created: MutablePiece[] = [];
    let block = new Block();
    for (const [key, entry] of ports) {
      this.index(key, entry);
      const view = familyServicePort(entry, this.options.family);
      if (view === undefined) continue;
      const piece: MutablePiece = { key, service: view.service, entry, view, render: undefined, block };
      created.push(piece);
      this.pieces.set(key, piece);
      this.endpointCount += view.endpoints.length;
    }
    created.sort(byKey);
    for (const piece of created) {
      if (block.items.length === BLOCK_SIZE) {
        this.blockList.push(block);
        block = new Block();
      }
      piece.block = block;
      block.items.push(piece);
    }
    if (block.items.length > 0) this.blockList.push(block);
    this.unrendered = created;
  }

  private index(key: string, entry: ServicePortEntry): void {
    this.entries.set(key, entry);
    if (this.byService !== undefined) this.addToService(key, entry);
  }

  private addToService(key: string, entry: ServicePortEntry): void {
    const service = serviceOf(entry);
    let keys = this.byService!.get(service);
    if (!keys) {
      keys = new Set();
      this.byService!.set(service, keys);
    }
    keys.add(key);
  }

  private unindex(key: string, entry: ServicePortEntry): void {
    this.entries.delete(key);
    if (this.byService === undefined) return;
    const service = serviceOf(entry);
    const keys = this.byService.get(service);
    keys?.delete(key);
    if (keys?.size === 0) this.byService.delete(service);
  }

  /** Takes `entry` (or the port's removal) into the pieces; rendering waits for the mode. */
  private syncPort(key: string, entry: ServicePortEntry | undefined): void {
    const known = this.entries.get(key);
    if (known === entry) return;
    if (known !== undefined) this.unindex(key, known);
    if (entry !== undefined) this.index(key, entry);
    const piece = this.pieces.get(key);
    const view = entry === undefined ? undefined : familyServicePort(entry, this.options.family, piece?.view);
    if (piece !== undefined) this.endpointCount -= piece.view.endpoints.length;
    if (view === undefined) {
      if (piece !== undefined) this.remove(piece);
      return;
    }
    this.endpointCount += view.endpoints.length;
    if (piece !== undefined) {
      piece.entry = entry!;
      piece.view = view;
      if (piece.render !== undefined) this.unrendered.push(piece);
      piece.render = undefined;
      piece.block.invalidate();
      return;
    }
    this.insert({ key, service: view.service, entry: entry!, view, render: undefined, block: new Block() });
  }

  private insert(piece: MutablePiece): void {
    this.pieces.set(piece.key, piece);
    this.unrendered.push(piece);
    const blocks = this.blockList;
    if (blocks.length === 0) blocks.push(new Block());
    // The last block whose first key is not above the new key (or the first block).
    let lo = 0;
    let hi = blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (blocks[mid]!.items[0]!.key <= piece.key) lo = mid;
      else hi = mid - 1;
    }
    const block = blocks[lo]!;
    block.items.splice(lowerBound(block.items, piece.key), 0, piece);
    piece.block = block;
    block.invalidate();
    if (block.items.length >= 2 * BLOCK_SIZE) {
      const tail = new Block();
      tail.items.push(...block.items.splice(BLOCK_SIZE));
      for (const p of tail.items) p.block = tail;
      blocks.splice(lo + 1, 0, tail);
    }
  }

  private remove(piece: MutablePiece): void {
    this.pieces.delete(piece.key);
    const block = piece.block;
    block.items.splice(lowerBound(block.items, piece.key), 1);
    block.invalidate();
    if (block.items.length >= BLOCK_MERGE_BELOW) return;
    const blocks = this.blockList;
    const at = blocks.indexOf(block);
    // Keeps blocks from dwindling into many tiny ones after many removals.
    const before = blocks[at - 1];
    const after = blocks[at + 1];
    if (block.items.length > 0 && before === undefined && after === undefined) return;
    blocks.splice(at, 1);
    if (before !== undefined) before.items.push(...block.items);
    else after?.items.unshift(...block.items);
    const into = before ?? after;
    if (into === undefined) return;
    for (const p of block.items) p.block = into;
    into.invalidate();
  }

  /** Renders the ports waiting for it, or every port when the large-cluster mode flipped. */
  private renderPending(): void {
    const large = this.endpointCount > this.options.largeClusterThreshold;
    let pending = this.unrendered;
    this.unrendered = [];
    if (large !== this.large) {
      this.large = large;
      pending = [...this.pieces.values()];
      for (const block of this.blockList) block.invalidate();
    }
    for (const piece of pending) {
      // A piece may have been queued and then removed in the same sync.
      if (this.pieces.get(piece.key) !== piece) continue;
      piece.render = renderServicePort(piece.view, this.options, large, this.node);
    }
  }
}
