/**
 * The pure iptables renderer: a routing snapshot in, the `iptables-restore` input kube-proxy's
 * iptables mode (v1.34) writes for the same state on one node out. It follows kube-proxy's
 * `syncProxyRules` rule for rule; service ports are visited in sorted order (kube-proxy walks a
 * Go map, so its own order varies from sync to sync; any order is equivalent to iptables
 * because each service port only adds rules of its own).
 *
 * @module
 */
import type { RoutingSnapshot, ServicePortEntry } from '../../core/snapshot';
import {
  categorizeEndpoints,
  isExternallyAccessible,
  isExternalPolicyLocal,
  type RoutingNode,
  usesClusterEndpoints,
  usesLocalEndpoints,
} from '../../routing/categorize';
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
  NFACCT_LOCALHOST_NODEPORTS_ACCEPTED,
} from './constants';
import { cidrContains } from './ip';
import { type IptablesRenderOptions, type ResolvedOptions, resolveOptions } from './options';
import { probability } from './probability';
import {
  type ChainNameCache,
  type FamilyEndpoint,
  type FamilyServicePort,
  familyServicePort,
} from './service-view';

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
  /** Per-entry memo shared across renders of one renderer (same options). */
  readonly memo?: RenderMemo;
}

/** Lines of one part of the output; `text()` is the lines each ended by a newline. */
class Lines {
  readonly lines: string[] = [];
  write(line: string): void {
    this.lines.push(line);
  }
  text(): string {
    return this.lines.length === 0 ? '' : `${this.lines.join('\n')}\n`;
  }
}

function chainLine(chain: string): string {
  return `:${chain} - [0:0]`;
}

/** Service ports per joined block: small enough to rebuild cheaply, large enough to cut joins. */
const RENDER_BLOCK_SIZE = 128;

/** The joined lines of one block of service ports, and the renders they were joined from. */
interface RenderedBlock {
  readonly mode: 'all' | 'capture' | 'mixed';
  readonly renders: readonly ServicePortRender[];
  readonly filter: string;
  readonly chains: string;
  readonly nat: string;
}

function sameRenders(a: readonly ServicePortRender[], b: readonly ServicePortRender[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

interface MemoEntry {
  readonly view: FamilyServicePort | undefined;
  render?: ServicePortRender;
  renderLarge?: boolean;
}

/**
 * What a renderer remembers between syncs so that unchanged service ports cost a map lookup:
 * their family view and rendered lines, keyed by the (immutable) snapshot entry, and the sorted
 * port keys. Valid for one set of options only.
 */
export class RenderMemo {
  readonly entries = new WeakMap<ServicePortEntry, MemoEntry>();
  readonly chainNames: ChainNameCache = new Map();
  /** Joined output of consecutive runs of service ports, by block index (see {@link renderWith}). */
  readonly blocks: RenderedBlock[] = [];
  sortedFor: ReadonlyMap<string, ServicePortEntry> | undefined;
  sorted: string[] = [];

  /** Sorted keys of `ports`, re-sorted only when the key set changed. */
  keys(ports: ReadonlyMap<string, ServicePortEntry>): readonly string[] {
    if (this.sortedFor === ports) return this.sorted;
    let same = this.sortedFor !== undefined && this.sorted.length === ports.size;
    if (same) {
      for (const k of this.sorted) {
        if (!ports.has(k)) {
          same = false;
          break;
        }
      }
    }
    if (!same) this.sorted = [...ports.keys()].sort();
    this.sortedFor = ports;
    return this.sorted;
  }
}

/** Renders a full sync of `snapshot` for the node described by `options`. */
export function renderIptables(
  snapshot: RoutingSnapshot,
  options: IptablesRenderOptions = {},
): IptablesRules {
  return renderWith(snapshot, resolveOptions(options), { full: true });
}

/** The renderer proper, shared by {@link renderIptables} and the stateful {@link IptablesRenderer}. */
export function renderWith(snapshot: RoutingSnapshot, o: ResolvedOptions, req: RenderRequest): IptablesRules {
  const filterChains = new Lines();
  const filterRules = new Lines();
  const natChains = new Lines();
  const natRules = new Lines();
  const mark = o.masqueradeMark;

  for (const c of [
    KUBE_SERVICES,
    KUBE_EXTERNAL_SERVICES,
    KUBE_FORWARD,
    KUBE_NODEPORTS,
    KUBE_PROXY_FIREWALL,
  ]) {
    filterChains.write(chainLine(c));
  }
  for (const c of [KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ]) {
    natChains.write(chainLine(c));
  }
  natRules.write(`-A ${KUBE_POSTROUTING} -m mark ! --mark ${mark}/${mark} -j RETURN`);
  natRules.write(`-A ${KUBE_POSTROUTING} -j MARK --xor-mark ${mark}`);
  natRules.write(
    `-A ${KUBE_POSTROUTING} -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE` +
      (o.randomFully ? ' --random-fully' : ''),
  );
  natRules.write(`-A ${KUBE_MARK_MASQ} -j MARK --or-mark ${mark}`);

  if (!o.isIPv6 && o.localhostNodePorts) {
    filterChains.write(chainLine(KUBE_FIREWALL));
    filterRules.write(
      `-A ${KUBE_FIREWALL} -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP`,
    );
  }

  const memo = req.memo;
  const views: MemoEntry[] = [];
  const keys = memo ? memo.keys(snapshot.ports) : [...snapshot.ports.keys()].sort();
  let totalEndpoints = 0;
  for (const key of keys) {
    const entry = snapshot.ports.get(key)!;
    let m = memo?.entries.get(entry);
    if (!m) {
      m = { view: familyServicePort(entry, o.family, memo?.chainNames) };
      memo?.entries.set(entry, m);
    }
    if (!m.view) continue;
    views.push(m);
    totalEndpoints += m.view.endpoints.length;
  }
  const largeClusterMode = totalEndpoints > o.largeClusterThreshold;
  const chainsByPort = new Map<string, readonly string[]>();
  const deletedChains: string[] = [];
  const kernel = req.kernelChains;
  const node: RoutingNode = { name: o.nodeName, labels: o.nodeLabels };

  const filterParts: string[] = [];
  const natChainParts: string[] = [];
  const natRuleParts: string[] = [];
  let filterServiceLines = 0;
  let natServiceLines = 0;
  const blockCache = memo?.blocks;
  for (let start = 0, block = 0; start < views.length; start += RENDER_BLOCK_SIZE, block++) {
    const end = Math.min(views.length, start + RENDER_BLOCK_SIZE);
    const renders: ServicePortRender[] = [];
    let writing = 0;
    for (let i = start; i < end; i++) {
      const view = views[i]!;
      const svc = view.view!;
      if (view.render === undefined || view.renderLarge !== largeClusterMode) {
        view.render = renderServicePort(svc, o, largeClusterMode, node);
        view.renderLarge = largeClusterMode;
      }
      const r = view.render;
      renders.push(r);
      const writeChains = req.full || (req.changedServices?.has(svc.service) ?? false);
      if (writeChains) writing++;
      filterServiceLines += r.lineCounts.filter;
      natServiceLines += writeChains ? r.lineCounts.nat : r.lineCounts.capture;
      chainsByPort.set(svc.info.key, r.active);
      const old = kernel?.get(svc.info.key);
      // Chain names embed the port name, so a chain can only move out of use within its own port.
      if (old !== undefined && old !== r.active) {
        for (const c of old) if (!r.active.includes(c)) deletedChains.push(c);
      }
    }
    // A block whose services all write their chains (full sync) or none does (partial sync, the
    // common case) is joined once and reused while the same renders fill it: a partial sync then
    // concatenates a few dozen strings instead of one per service.
    const mode = writing === renders.length ? 'all' : writing === 0 ? 'capture' : undefined;
    const cached = blockCache?.[block];
    if (mode !== undefined && cached?.mode === mode && sameRenders(cached.renders, renders)) {
      if (cached.filter !== '') filterParts.push(cached.filter);
      if (cached.chains !== '') natChainParts.push(cached.chains);
      natRuleParts.push(cached.nat);
      continue;
    }
    const filter: string[] = [];
    const chains: string[] = [];
    const nat: string[] = [];
    for (let i = 0; i < renders.length; i++) {
      const r = renders[i]!;
      if (r.filter !== '') filter.push(r.filter);
      nat.push(r.capture);
      if (
        mode === 'all' ||
        (mode === undefined && req.changedServices?.has(views[start + i]!.view!.service))
      ) {
        chains.push(r.chains);
        nat.push(r.rules);
      }
    }
    const entry: RenderedBlock = {
      mode: mode ?? 'mixed',
      renders,
      filter: filter.join(''),
      chains: chains.join(''),
      nat: nat.join(''),
    };
    if (blockCache && mode !== undefined) blockCache[block] = entry;
    if (entry.filter !== '') filterParts.push(entry.filter);
    if (entry.chains !== '') natChainParts.push(entry.chains);
    natRuleParts.push(entry.nat);
  }
  if (blockCache && blockCache.length > Math.ceil(views.length / RENDER_BLOCK_SIZE)) {
    blockCache.length = Math.ceil(views.length / RENDER_BLOCK_SIZE);
  }
  if (kernel) {
    for (const [key, old] of kernel) if (!chainsByPort.has(key)) deletedChains.push(...old);
  }

  const natTail = new Lines();
  deletedChains.sort();
  for (const chain of deletedChains) {
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

  const filter = `*filter\n${filterChains.text()}${filterRules.text()}${filterParts.join('')}${filterTail.text()}COMMIT\n`;
  const nat = `*nat\n${natChains.text()}${natChainParts.join('')}${natRules.text()}${natRuleParts.join('')}${natTail.text()}COMMIT\n`;
  let serviceChains: Set<string> | undefined;
  return {
    filter,
    nat,
    payload: filter + nat,
    full: req.full,
    // Built on demand: a set of every chain costs more than a whole partial sync at 10k services.
    get serviceChains(): ReadonlySet<string> {
      if (!serviceChains) {
        serviceChains = new Set();
        for (const list of chainsByPort.values()) for (const c of list) serviceChains.add(c);
      }
      return serviceChains;
    },
    chainsByPort,
    deletedChains,
    largeClusterMode,
    stats: {
      servicePorts: views.length,
      endpoints: totalEndpoints,
      filterRules: filterRules.lines.length + filterServiceLines + filterTail.lines.length,
      natRules: natRules.lines.length + natServiceLines + natTail.lines.length,
    },
  };
}

/** The lines one service port contributes, split by where kube-proxy writes them. */
export interface ServicePortRender {
  readonly endpoints: number;
  /** filter-table rules (rejects, drops, health-check accepts). */
  readonly filter: string;
  /** nat captures in KUBE-SERVICES / KUBE-NODEPORTS: always written. */
  readonly capture: string;
  /** Chain lines of the service's own chains: skipped in partial syncs when unchanged. */
  readonly chains: string;
  /** Rules of the service's own chains: skipped in partial syncs when unchanged. */
  readonly rules: string;
  readonly active: readonly string[];
  readonly lineCounts: {
    readonly filter: number;
    /** Lines of `capture` alone (what a partial sync still writes for an unchanged service). */
    readonly capture: number;
    readonly nat: number;
    readonly natChains: number;
  };
}

/** Renders one service port (kube-proxy's per-service loop body). */
export function renderServicePort(
  svc: FamilyServicePort,
  o: ResolvedOptions,
  largeClusterMode: boolean,
  node: RoutingNode,
): ServicePortRender {
  const filter = new Lines();
  const capture = new Lines();
  const chains = new Lines();
  const rules = new Lines();
  const active: string[] = [];
  const info = svc.info;
  const name = svc.name;
  const proto = `-m ${svc.protocol} -p ${svc.protocol}`;
  const nodePort = info.nodePort;
  const { clusterEndpoints, localEndpoints, allReachableEndpoints, hasAnyEndpoints } = categorizeEndpoints(
    info,
    svc.endpoints.map((e) => e.endpoint),
    node,
  );
  const hasEndpoints = hasAnyEndpoints;
  const externallyAccessible = isExternallyAccessible(info);
  const externalPolicyLocal = isExternalPolicyLocal(info);
  const internalPolicyLocal = info.internalPolicyLocal;
  const clusterChain = svc.chains.cluster;
  const localChain = svc.chains.local;
  const usesClusterChain = (clusterEndpoints?.length ?? 0) > 0 && usesClusterEndpoints(info);
  const usesLocalChain = (localEndpoints?.length ?? 0) > 0 && usesLocalEndpoints(info);

  let internalChain = clusterChain;
  let hasInternal = hasEndpoints;
  if (internalPolicyLocal) {
    internalChain = localChain;
    if ((localEndpoints?.length ?? 0) === 0) hasInternal = false;
  }
  let externalPolicyChain = clusterChain;
  let hasExternal = hasEndpoints;
  if (externalPolicyLocal) {
    externalPolicyChain = localChain;
    if ((localEndpoints?.length ?? 0) === 0) hasExternal = false;
  }
  const extChain = svc.chains.external;
  const usesExtChain = hasEndpoints && externallyAccessible;
  const fwChain = svc.chains.firewall;
  const usesFwChain = hasEndpoints && svc.loadBalancerVIPs.length > 0 && svc.sourceRanges.length > 0;
  const lbChain = usesFwChain ? fwChain : extChain;

  let internalFilterTarget = '';
  let internalFilterComment = '';
  let externalFilterTarget = '';
  let externalFilterComment = '';
  if (!hasEndpoints) {
    internalFilterTarget = 'REJECT';
    internalFilterComment = `"${name} has no endpoints"`;
    externalFilterTarget = 'REJECT';
    externalFilterComment = internalFilterComment;
  } else {
    if (!hasInternal) {
      internalFilterTarget = 'DROP';
      internalFilterComment = `"${name} has no local endpoints"`;
    }
    if (!hasExternal) {
      externalFilterTarget = 'DROP';
      externalFilterComment = `"${name} has no local endpoints"`;
    }
  }

  const clusterIPMatch = `${proto} -d ${svc.clusterIP} --dport ${info.port}`;
  if (hasInternal) {
    capture.write(
      `-A ${KUBE_SERVICES} -m comment --comment "${name} cluster IP" ${clusterIPMatch} -j ${internalChain}`,
    );
  } else {
    filter.write(
      `-A ${KUBE_SERVICES} -m comment --comment ${internalFilterComment} ${clusterIPMatch} -j ${internalFilterTarget}`,
    );
  }

  for (const ip of svc.externalIPs) {
    const match = `${proto} -d ${ip} --dport ${info.port}`;
    if (hasEndpoints) {
      capture.write(`-A ${KUBE_SERVICES} -m comment --comment "${name} external IP" ${match} -j ${extChain}`);
    }
    if (!hasExternal) {
      filter.write(
        `-A ${KUBE_EXTERNAL_SERVICES} -m comment --comment ${externalFilterComment} ${match} -j ${externalFilterTarget}`,
      );
    }
  }

  for (const ip of svc.loadBalancerVIPs) {
    const match = `${proto} -d ${ip} --dport ${info.port}`;
    if (hasEndpoints) {
      capture.write(
        `-A ${KUBE_SERVICES} -m comment --comment "${name} loadbalancer IP" ${match} -j ${lbChain}`,
      );
    }
    if (usesFwChain) {
      filter.write(
        `-A ${KUBE_PROXY_FIREWALL} -m comment --comment "${name} traffic not accepted by ${fwChain}" ${match} -j DROP`,
      );
    }
  }
  if (!hasExternal) {
    for (const ip of svc.loadBalancerVIPs) {
      filter.write(
        `-A ${KUBE_EXTERNAL_SERVICES} -m comment --comment ${externalFilterComment} ${proto} -d ${ip} --dport ${info.port} -j ${externalFilterTarget}`,
      );
    }
  }

  if (nodePort !== 0) {
    if (hasEndpoints) {
      if (o.localhostNodePorts && o.nfacct) {
        capture.write(
          `-A ${KUBE_NODEPORTS} -m comment --comment ${name} ${proto} -d 127.0.0.0/8 --dport ${nodePort} -m nfacct --nfacct-name ${NFACCT_LOCALHOST_NODEPORTS_ACCEPTED} -j ${extChain}`,
        );
      }
      capture.write(
        `-A ${KUBE_NODEPORTS} -m comment --comment ${name} ${proto} --dport ${nodePort} -j ${extChain}`,
      );
    }
    if (!hasExternal) {
      filter.write(
        `-A ${KUBE_EXTERNAL_SERVICES} -m comment --comment ${externalFilterComment} -m addrtype --dst-type LOCAL ${proto} --dport ${nodePort} -j ${externalFilterTarget}`,
      );
    }
  }

  // kube-proxy only keeps a health-check node port for LoadBalancer services with
  // externalTrafficPolicy Local (apiservice.NeedsHealthCheck), whatever the spec says.
  if (info.healthCheckNodePort !== 0 && info.type === 'LoadBalancer' && info.externalPolicyLocal) {
    filter.write(
      `-A ${KUBE_NODEPORTS} -m comment --comment "${name} health check node port" -m tcp -p tcp --dport ${info.healthCheckNodePort} -j ACCEPT`,
    );
  }

  if (hasInternal) {
    if (o.masqueradeAll) {
      rules.write(
        `-A ${internalChain} -m comment --comment "${name} cluster IP" ${clusterIPMatch} -j ${KUBE_MARK_MASQ}`,
      );
    } else if (o.localCidr !== undefined) {
      rules.write(
        `-A ${internalChain} -m comment --comment "${name} cluster IP" ${clusterIPMatch} ! -s ${o.localCidr} -j ${KUBE_MARK_MASQ}`,
      );
    }
  }

  if (usesExtChain) {
    chains.write(chainLine(extChain));
    active.push(extChain);
    if (!externalPolicyLocal) {
      rules.write(
        `-A ${extChain} -m comment --comment "masquerade traffic for ${name} external destinations" -j ${KUBE_MARK_MASQ}`,
      );
    } else {
      if (o.localCidr !== undefined) {
        rules.write(
          `-A ${extChain} -m comment --comment "pod traffic for ${name} external destinations" -s ${o.localCidr} -j ${clusterChain}`,
        );
      }
      rules.write(
        `-A ${extChain} -m comment --comment "masquerade LOCAL traffic for ${name} external destinations" -m addrtype --src-type LOCAL -j ${KUBE_MARK_MASQ}`,
      );
      rules.write(
        `-A ${extChain} -m comment --comment "route LOCAL traffic for ${name} external destinations" -m addrtype --src-type LOCAL -j ${clusterChain}`,
      );
    }
    if (hasExternal) rules.write(`-A ${extChain} -j ${externalPolicyChain}`);
  }

  if (usesFwChain) {
    chains.write(chainLine(fwChain));
    active.push(fwChain);
    const prefix = `-A ${fwChain} -m comment --comment "${name} loadbalancer IP"`;
    let allowFromNode = false;
    for (const cidr of svc.sourceRanges) {
      rules.write(`${prefix} -s ${cidr.text} -j ${extChain}`);
      if (o.nodeIP && cidrContains(cidr, o.nodeIP)) allowFromNode = true;
    }
    if (allowFromNode) {
      for (const ip of svc.loadBalancerVIPs) rules.write(`${prefix} -s ${ip} -j ${extChain}`);
    }
    rules.write(
      `-A ${fwChain} -m comment --comment "other traffic to ${name} will be dropped by KUBE-PROXY-FIREWALL"`,
    );
  }

  const toFamily = svc.familyOf;

  if (usesClusterChain) {
    chains.write(chainLine(clusterChain));
    active.push(clusterChain);
    writeServiceToEndpointRules(rules, svc, clusterChain, toFamily(clusterEndpoints), largeClusterMode);
  }
  if (usesLocalChain) {
    chains.write(chainLine(localChain));
    active.push(localChain);
    writeServiceToEndpointRules(rules, svc, localChain, toFamily(localEndpoints), largeClusterMode);
  }

  const affinity = info.sessionAffinity.type === 'ClientIP';
  for (const ep of toFamily(allReachableEndpoints)) {
    chains.write(chainLine(ep.chain));
    active.push(ep.chain);
    const head = largeClusterMode ? `-A ${ep.chain}` : `-A ${ep.chain} -m comment --comment ${name}`;
    rules.write(`${head} -s ${ep.ip} -j ${KUBE_MARK_MASQ}`);
    const recent = affinity ? ` -m recent --name ${ep.chain} --set` : '';
    rules.write(`${head}${recent} ${proto} -j DNAT --to-destination ${ep.text}`);
  }

  return {
    endpoints: svc.endpoints.length,
    filter: filter.text(),
    capture: capture.text(),
    chains: chains.text(),
    rules: rules.text(),
    active,
    lineCounts: {
      filter: filter.lines.length,
      capture: capture.lines.length,
      nat: capture.lines.length + rules.lines.length,
      natChains: chains.lines.length,
    },
  };
}

function writeServiceToEndpointRules(
  rules: Lines,
  svc: FamilyServicePort,
  chain: string,
  endpoints: readonly FamilyEndpoint[],
  largeClusterMode: boolean,
): void {
  const head = (ep: FamilyEndpoint): string =>
    largeClusterMode ? `-A ${chain}` : `-A ${chain} -m comment --comment "${svc.name} -> ${ep.text}"`;
  const affinity = svc.info.sessionAffinity;
  if (affinity.type === 'ClientIP') {
    for (const ep of endpoints) {
      rules.write(
        `${head(ep)} -m recent --name ${ep.chain} --rcheck --seconds ${affinity.timeoutSeconds} --reap -j ${ep.chain}`,
      );
    }
  }
  const n = endpoints.length;
  endpoints.forEach((ep, i) => {
    const stat = i < n - 1 ? ` -m statistic --mode random --probability ${probability(n - i)}` : '';
    rules.write(`${head(ep)}${stat} -j ${ep.chain}`);
  });
}
