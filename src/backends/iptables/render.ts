/**
 * The pure iptables renderer: a routing snapshot in, the `iptables-restore` input kube-proxy's
 * iptables mode (v1.34) writes for the same state on one node out. It follows kube-proxy's
 * `syncProxyRules` rule for rule; service ports are visited in sorted order (kube-proxy walks a
 * Go map, so its own order varies from sync to sync; any order is equivalent to iptables
 * because each service port only adds rules of its own).
 *
 * @module
 */
import type { RoutingSnapshot } from '../../core/snapshot';
import {
  KUBE_EXTERNAL_SERVICES,
  KUBE_FIREWALL,
  KUBE_FORWARD,
  KUBE_MARK_MASQ,
  KUBE_NODEPORTS,
  KUBE_POSTROUTING,
  KUBE_PROXY_FIREWALL,
  KUBE_SERVICES,
  NFACCT_CT_STATE_INVALID_DROPPED,
} from './constants';
import { cidrContains } from './ip';
import { type IptablesRenderOptions, type ResolvedOptions, resolveOptions } from './options';
import type { Block, Piece, ServicePortPieces } from './pieces';
import { PortChains } from './port-chains';
import { chainLine, Lines, writeServicePort } from './service-rules';
import { familyServicePort } from './service-view';

/** The restore input of one sync, split by table and joined. */
export interface IptablesRules {
  /** `*filter` … `COMMIT\n`. */
  readonly filter: string;
  /** `*nat` … `COMMIT\n`. */
  readonly nat: string;
  /** `filter + nat`: what is fed to `iptables-restore --noflush`. */
  readonly payload: string;
  /** False for a partial sync (only changed services' chains are rewritten). */
  readonly full: boolean;
  /** Every per-service nat chain (KUBE-SVC/SVL/EXT/FW/SEP) the rules use after this sync. */
  readonly serviceChains: ReadonlySet<string>;
  /** The same chains by service port key (each chain belongs to exactly one port). */
  readonly chainsByPort: ReadonlyMap<string, readonly string[]>;
  /** Per-service chains this payload deletes with `-X`. */
  readonly deletedChains: readonly string[];
  /** Whether comments were dropped for more than the large-cluster threshold of endpoints. */
  readonly largeClusterMode: boolean;
  readonly stats: {
    readonly servicePorts: number;
    readonly endpoints: number;
    readonly filterRules: number;
    readonly natRules: number;
  };
}

/** What a sync is asked to do beyond the snapshot itself. */
export interface RenderRequest {
  /** Write every service's chains (true) or only those of `changedServices`. */
  readonly full: boolean;
  /** `ns/name` of services whose chains must be rewritten in a partial sync. */
  readonly changedServices?: ReadonlySet<string>;
  /**
   * Per-service chains believed to exist in the kernel, by service port key (the
   * {@link IptablesRules.chainsByPort} of the last applied sync): those no longer used get `-X`.
   */
  readonly kernelChains?: ReadonlyMap<string, readonly string[]>;
}

/** What one sync writes, given pieces already brought to the snapshot. */
export interface AssemblyPlan {
  /** Write every port's own chains (true) or only those of `changedServices`. */
  readonly full: boolean;
  /** `ns/name` of the services whose chains a partial sync rewrites. */
  readonly changedServices: ReadonlySet<string>;
  /** Per-service chains to flush and delete with `-X`, sorted. */
  readonly deletedChains: readonly string[];
  /** Per-service chains the rules use after this sync, by port key (asked for on demand). */
  readonly chains: () => PortChains;
}

/** Renders a full sync of `snapshot` for the node described by `options`. */
export function renderIptables(
  snapshot: RoutingSnapshot,
  options: IptablesRenderOptions = {},
): IptablesRules {
  return renderWith(snapshot, resolveOptions(options), { full: true });
}

/** Ports per joined chunk of a one-off render: each chunk's text is large enough to be allocated
 * outside the young generation, so the many short per-port strings die young instead of being
 * copied by the garbage collector (which otherwise dominates a cold render). */
const ONE_OFF_CHUNK = 128;

/**
 * Renders `snapshot` from scratch for `req`: the reference every stateful render must equal.
 * Stale chains are looked for over every port of `req.kernelChains`.
 */
export function renderWith(snapshot: RoutingSnapshot, o: ResolvedOptions, req: RenderRequest): IptablesRules {
  const keys = [...snapshot.ports.keys()].sort();
  // The large-cluster mode must be known before the first port is written. The raw endpoint
  // count almost always decides it (only endpoints of another family or without a port are not
  // counted); when the exact count, known at the end, disagrees, the ports are written again.
  let raw = 0;
  for (const entry of snapshot.ports.values()) raw += entry.endpoints.length;
  let pass = renderPorts(snapshot, keys, o, req, raw > o.largeClusterThreshold);
  if (pass.largeClusterMode !== pass.endpoints > o.largeClusterThreshold) {
    pass = renderPorts(snapshot, keys, o, req, !pass.largeClusterMode);
  }
  const { body, endpoints, servicePorts, largeClusterMode, active } = pass;
  const deletedChains: string[] = [];
  if (req.kernelChains !== undefined && active !== undefined) {
    for (const [key, old] of req.kernelChains) deletedChains.push(...staleChains(old, active.get(key)));
    deletedChains.sort();
  }
  let chains: PortChains | undefined;
  return finishRules(o, body, {
    full: req.full,
    deletedChains,
    largeClusterMode,
    servicePorts,
    endpoints,
    // Rendered again when asked for: a one-off render rarely needs it and keeping every chain
    // name alive through the render costs more than that.
    chains: () => {
      chains ??= activeChains(snapshot, o, largeClusterMode);
      return chains;
    },
  });
}

/** One pass of a one-off render over every port, in `largeClusterMode`. */
interface OneOffPass {
  readonly body: ServiceText;
  readonly largeClusterMode: boolean;
  /** Endpoints of the rendered family: the exact large-cluster measure. */
  readonly endpoints: number;
  readonly servicePorts: number;
  /** Chains by port, kept only when stale chains are to be looked for. */
  readonly active: Map<string, readonly string[]> | undefined;
}

/**
 * Writes every port of `snapshot` chunk by chunk: each port's view and rules are built, written
 * and dropped in turn, so that nothing but the joined output outlives a chunk of ports.
 */
function renderPorts(
  snapshot: RoutingSnapshot,
  keys: readonly string[],
  o: ResolvedOptions,
  req: RenderRequest,
  largeClusterMode: boolean,
): OneOffPass {
  const node = { name: o.nodeName, labels: o.nodeLabels };
  const changed = req.changedServices;
  const active =
    req.kernelChains !== undefined && req.kernelChains.size > 0
      ? new Map<string, readonly string[]>()
      : undefined;
  const body = emptyServiceText();
  let endpoints = 0;
  let servicePorts = 0;
  // Unchanged ports of a partial sync write their own rules nowhere.
  const discard = new Lines();
  for (let start = 0; start < keys.length; start += ONE_OFF_CHUNK) {
    const end = Math.min(keys.length, start + ONE_OFF_CHUNK);
    // One set of lines per chunk, shared by its ports: each line is copied once into the
    // chunk's text, with no per-port text in between.
    const filter = new Lines();
    const chains = new Lines();
    const nat = new Lines();
    const written = { filter, capture: nat, chains, rules: nat };
    const captureOnly = { filter, capture: nat, chains: discard, rules: discard };
    for (let i = start; i < end; i++) {
      const view = familyServicePort(snapshot.ports.get(keys[i]!)!, o.family);
      if (view === undefined) continue;
      servicePorts++;
      endpoints += view.endpoints.length;
      const write = req.full || (changed?.has(view.service) ?? false);
      const chainsOfPort = writeServicePort(view, o, largeClusterMode, node, write ? written : captureOnly);
      active?.set(view.info.key, chainsOfPort);
      discard.lines.length = 0;
    }
    body.filter.push(filter.text());
    body.natChains.push(chains.text());
    body.natRules.push(nat.text());
    body.filterLines += filter.length;
    body.natLines += nat.length;
  }
  return { body, largeClusterMode, endpoints, servicePorts, active };
}

/** The per-service chains every port of `snapshot` uses. */
function activeChains(snapshot: RoutingSnapshot, o: ResolvedOptions, largeClusterMode: boolean): PortChains {
  const node = { name: o.nodeName, labels: o.nodeLabels };
  const out: [string, readonly string[]][] = [];
  for (const entry of snapshot.ports.values()) {
    const view = familyServicePort(entry, o.family);
    if (view === undefined) continue;
    const discard = new Lines();
    const sink = { filter: discard, capture: discard, chains: discard, rules: discard };
    out.push([view.info.key, writeServicePort(view, o, largeClusterMode, node, sink)]);
  }
  return PortChains.of(out);
}

/** The service ports' share of one sync's output, in output order. */
interface ServiceText {
  readonly filter: string[];
  readonly natChains: string[];
  readonly natRules: string[];
  filterLines: number;
  natLines: number;
}

function emptyServiceText(): ServiceText {
  return { filter: [], natChains: [], natRules: [], filterLines: 0, natLines: 0 };
}

/** What {@link finishRules} reports beside the text. */
interface SyncFacts {
  readonly full: boolean;
  readonly deletedChains: readonly string[];
  readonly largeClusterMode: boolean;
  readonly servicePorts: number;
  readonly endpoints: number;
  readonly chains: () => PortChains;
}

/** The per-service chains of every piece, by port key. */
export function chainsOfPieces(pieces: ServicePortPieces): PortChains {
  const entries: [string, readonly string[]][] = [];
  for (const p of pieces.allPieces()) entries.push([p.key, p.render.active]);
  return PortChains.of(entries);
}

/** Chains of `old` that `current` no longer uses (a chain only ever belongs to one port). */
export function staleChains(old: readonly string[], current: readonly string[] | undefined): string[] {
  if (old === current) return [];
  if (current === undefined || current.length === 0) return [...old];
  return old.filter((c) => !current.includes(c));
}

/** Writes the restore input of one sync from `pieces` (already synced to the snapshot). */
export function assembleRules(
  pieces: ServicePortPieces,
  o: ResolvedOptions,
  plan: AssemblyPlan,
): IptablesRules {
  const body = emptyServiceText();
  const filterParts = body.filter;
  const natChainParts = body.natChains;
  const natRuleParts = body.natRules;
  let filterServiceLines = 0;
  let natServiceLines = 0;
  const blocks = pieces.blocks;
  for (const block of blocks) {
    const f = block.filter;
    filterParts.push(f.text);
    filterServiceLines += f.lines;
  }
  if (plan.full) {
    for (const block of blocks) {
      const n = block.fullNat;
      natChainParts.push(n.chains);
      natRuleParts.push(n.rules);
      natServiceLines += n.lines;
    }
  } else {
    // Ports whose own chains are rewritten, grouped by block; every other port only has its
    // captures written, which the blocks keep joined.
    const written = new Map<Block, Set<Piece>>();
    const sorted: Piece[] = [];
    for (const service of plan.changedServices) {
      for (const key of pieces.portsOf(service) ?? []) {
        const p = pieces.piece(key);
        if (p === undefined) continue;
        sorted.push(p);
        const block = pieces.blockOf(p);
        let set = written.get(block);
        if (!set) {
          set = new Set();
          written.set(block, set);
        }
        set.add(p);
      }
    }
    sorted.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (const p of sorted) natChainParts.push(p.render.chains);
    for (const block of blocks) {
      const set = written.get(block);
      if (set === undefined) {
        const c = block.capture;
        natRuleParts.push(c.text);
        natServiceLines += c.lines;
        continue;
      }
      for (const p of block.pieces) {
        const r = p.render;
        natRuleParts.push(r.capture);
        natServiceLines += r.lineCounts.capture;
        if (set.has(p)) {
          natRuleParts.push(r.rules);
          natServiceLines += r.lineCounts.nat - r.lineCounts.capture;
        }
      }
    }
  }

  body.filterLines = filterServiceLines;
  body.natLines = natServiceLines;
  return finishRules(o, body, {
    full: plan.full,
    deletedChains: plan.deletedChains,
    largeClusterMode: pieces.largeClusterMode,
    servicePorts: pieces.size,
    endpoints: pieces.totalEndpoints,
    chains: plan.chains,
  });
}

/** Wraps the service ports' text in the fixed chains and rules of both tables. */
function finishRules(o: ResolvedOptions, body: ServiceText, facts: SyncFacts): IptablesRules {
  const mark = o.masqueradeMark;
  const filterHead = new Lines();
  const natHead = new Lines();
  for (const c of [
    KUBE_SERVICES,
    KUBE_EXTERNAL_SERVICES,
    KUBE_FORWARD,
    KUBE_NODEPORTS,
    KUBE_PROXY_FIREWALL,
  ]) {
    filterHead.write(chainLine(c));
  }
  if (!o.isIPv6 && o.localhostNodePorts) filterHead.write(chainLine(KUBE_FIREWALL));
  for (const c of [KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ]) {
    natHead.write(chainLine(c));
  }
  const filterRules = new Lines();
  if (!o.isIPv6 && o.localhostNodePorts) {
    filterRules.write(
      `-A ${KUBE_FIREWALL} -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP`,
    );
  }
  const natRules = new Lines();
  natRules.write(`-A ${KUBE_POSTROUTING} -m mark ! --mark ${mark}/${mark} -j RETURN`);
  natRules.write(`-A ${KUBE_POSTROUTING} -j MARK --xor-mark ${mark}`);
  natRules.write(
    `-A ${KUBE_POSTROUTING} -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE` +
      (o.randomFully ? ' --random-fully' : ''),
  );
  natRules.write(`-A ${KUBE_MARK_MASQ} -j MARK --or-mark ${mark}`);

  const natTail = new Lines();
  const natChainParts = body.natChains;
  for (const chain of facts.deletedChains) {
    natChainParts.push(`${chainLine(chain)}\n`);
    natTail.write(`-X ${chain}`);
  }

  const nodePortsComment = `-m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain"`;
  if (o.nodePortMatchAll) {
    let dest = '-m addrtype --dst-type LOCAL';
    if (o.isIPv6) dest += ' ! -d ::1/128';
    else if (!o.localhostNodePorts) dest += ' ! -d 127.0.0.0/8';
    natTail.write(`-A ${KUBE_SERVICES} ${nodePortsComment} ${dest} -j ${KUBE_NODEPORTS}`);
  } else {
    const seen = new Set<string>();
    const ips = o.localAddresses
      .filter((ip) => o.nodePortCidrs.some((c) => cidrContains(c, ip)))
      .filter((ip) => !seen.has(ip.text) && seen.add(ip.text));
    for (const ip of ips) {
      const loopback = o.isIPv6 ? ip.text === '::1' : ip.bytes[0] === 127;
      // kube-proxy logs and skips loopback here unless localhost node ports are on (never on IPv6).
      if (loopback && (o.isIPv6 || !o.localhostNodePorts)) continue;
      natTail.write(`-A ${KUBE_SERVICES} ${nodePortsComment} -d ${ip.text} -j ${KUBE_NODEPORTS}`);
    }
  }

  const filterTail = new Lines();
  if (!o.conntrackTCPLiberal) {
    filterTail.write(
      `-A ${KUBE_FORWARD} -m conntrack --ctstate INVALID` +
        (o.nfacct ? ` -m nfacct --nfacct-name ${NFACCT_CT_STATE_INVALID_DROPPED}` : '') +
        ' -j DROP',
    );
  }
  filterTail.write(
    `-A ${KUBE_FORWARD} -m comment --comment "kubernetes forwarding rules" -m mark --mark ${mark}/${mark} -j ACCEPT`,
  );
  filterTail.write(
    `-A ${KUBE_FORWARD} -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
  );

  const filter = `*filter\n${filterHead.text()}${filterRules.text()}${body.filter.join('')}${filterTail.text()}COMMIT\n`;
  const nat = `*nat\n${natHead.text()}${natChainParts.join('')}${natRules.text()}${body.natRules.join('')}${natTail.text()}COMMIT\n`;
  const chainsOf = facts.chains;
  let chainsByPort: ReadonlyMap<string, readonly string[]> | undefined;
  let serviceChains: Set<string> | undefined;
  return {
    filter,
    nat,
    payload: filter + nat,
    full: facts.full,
    // Both built on demand: either costs more than a whole partial sync at 10,000 services.
    get chainsByPort(): ReadonlyMap<string, readonly string[]> {
      chainsByPort ??= chainsOf().toMap();
      return chainsByPort;
    },
    get serviceChains(): ReadonlySet<string> {
      if (!serviceChains) {
        serviceChains = new Set();
        for (const [, list] of chainsOf().entries()) for (const c of list) serviceChains.add(c);
      }
      return serviceChains;
    },
    deletedChains: facts.deletedChains,
    largeClusterMode: facts.largeClusterMode,
    stats: {
      servicePorts: facts.servicePorts,
      endpoints: facts.endpoints,
      filterRules: filterRules.length + body.filterLines + filterTail.length,
      natRules: natRules.length + body.natLines + natTail.length,
    },
  };
}
