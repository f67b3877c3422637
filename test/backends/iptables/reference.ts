/**
 * A deliberately plain renderer used as the oracle of the incremental one: every call walks the
 * whole snapshot in sorted order, renders every port from scratch and joins the lines, with no
 * state and no cache (the renderer's algorithm before it kept pieces between syncs).
 */
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
} from '../../../src/backends/iptables/constants';
import { cidrContains } from '../../../src/backends/iptables/ip';
import type { ResolvedOptions } from '../../../src/backends/iptables/options';
import { renderServicePort } from '../../../src/backends/iptables/service-rules';
import { type FamilyServicePort, familyServicePort } from '../../../src/backends/iptables/service-view';
import type { RoutingSnapshot } from '../../../src/core/snapshot';

export interface ReferenceRequest {
  readonly full: boolean;
  readonly changedServices: ReadonlySet<string>;
  /** Per-service chains in the kernel (used or not), by port. */
  readonly kernelChains: ReadonlyMap<string, readonly string[]>;
  /** Delete the kernel's unused chains (default true). */
  readonly cleanup?: boolean;
}

export interface ReferenceRules {
  readonly payload: string;
  readonly deletedChains: readonly string[];
  readonly chainsByPort: ReadonlyMap<string, readonly string[]>;
  readonly largeClusterMode: boolean;
  readonly stats: {
    readonly servicePorts: number;
    readonly endpoints: number;
    readonly filterRules: number;
    readonly natRules: number;
  };
}

function lines(list: readonly string[]): string {
  return list.length === 0 ? '' : `${list.join('\n')}\n`;
}

const chainLine = (c: string): string => `:${c} - [0:0]`;

/** Renders `snapshot` from scratch, writing the own chains of every port (full) or of `changedServices`. */
export function referenceRender(
  snapshot: RoutingSnapshot,
  o: ResolvedOptions,
  req: ReferenceRequest,
): ReferenceRules {
  const mark = o.masqueradeMark;
  const filterChains = [
    KUBE_SERVICES,
    KUBE_EXTERNAL_SERVICES,
    KUBE_FORWARD,
    KUBE_NODEPORTS,
    KUBE_PROXY_FIREWALL,
  ].map(chainLine);
  const natChains = [KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ].map(chainLine);
  const filterRules: string[] = [];
  const natRules = [
    `-A ${KUBE_POSTROUTING} -m mark ! --mark ${mark}/${mark} -j RETURN`,
    `-A ${KUBE_POSTROUTING} -j MARK --xor-mark ${mark}`,
    `-A ${KUBE_POSTROUTING} -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE${o.randomFully ? ' --random-fully' : ''}`,
    `-A ${KUBE_MARK_MASQ} -j MARK --or-mark ${mark}`,
  ];
  if (!o.isIPv6 && o.localhostNodePorts) {
    filterChains.push(chainLine(KUBE_FIREWALL));
    filterRules.push(
      `-A ${KUBE_FIREWALL} -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP`,
    );
  }
  const views: FamilyServicePort[] = [];
  for (const key of [...snapshot.ports.keys()].sort()) {
    const view = familyServicePort(snapshot.ports.get(key)!, o.family);
    if (view) views.push(view);
  }
  const endpoints = views.reduce((n, v) => n + v.endpoints.length, 0);
  const large = endpoints > o.largeClusterThreshold;
  const node = { name: o.nodeName, labels: o.nodeLabels };
  let filterServiceLines = 0;
  let natServiceLines = 0;
  let filterText = '';
  let chainText = '';
  let natText = '';
  const chainsByPort = new Map<string, readonly string[]>();
  for (const view of views) {
    const r = renderServicePort(view, o, large, node);
    const write = req.full || req.changedServices.has(view.service);
    filterText += r.filter;
    filterServiceLines += r.lineCounts.filter;
    natText += r.capture;
    natServiceLines += r.lineCounts.capture;
    if (write) {
      chainText += r.chains;
      natText += r.rules;
      natServiceLines += r.lineCounts.nat - r.lineCounts.capture;
    }
    chainsByPort.set(view.info.key, r.active);
  }
  const deletedChains: string[] = [];
  if (req.cleanup ?? true) {
    for (const [key, old] of req.kernelChains) {
      const now = chainsByPort.get(key) ?? [];
      for (const c of old) if (!now.includes(c)) deletedChains.push(c);
    }
  }
  deletedChains.sort();
  const natTail: string[] = [];
  for (const c of deletedChains) {
    chainText += `${chainLine(c)}\n`;
    natTail.push(`-X ${c}`);
  }
  const comment = `-m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain"`;
  if (o.nodePortMatchAll) {
    let dest = '-m addrtype --dst-type LOCAL';
    if (o.isIPv6) dest += ' ! -d ::1/128';
    else if (!o.localhostNodePorts) dest += ' ! -d 127.0.0.0/8';
    natTail.push(`-A ${KUBE_SERVICES} ${comment} ${dest} -j ${KUBE_NODEPORTS}`);
  } else {
    const seen = new Set<string>();
    for (const ip of o.localAddresses) {
      if (!o.nodePortCidrs.some((c) => cidrContains(c, ip)) || seen.has(ip.text)) continue;
      seen.add(ip.text);
      const loopback = o.isIPv6 ? ip.text === '::1' : ip.bytes[0] === 127;
      if (loopback && (o.isIPv6 || !o.localhostNodePorts)) continue;
      natTail.push(`-A ${KUBE_SERVICES} ${comment} -d ${ip.text} -j ${KUBE_NODEPORTS}`);
    }
  }
  const filterTail: string[] = [];
  if (!o.conntrackTCPLiberal) {
    filterTail.push(
      `-A ${KUBE_FORWARD} -m conntrack --ctstate INVALID${o.nfacct ? ` -m nfacct --nfacct-name ${NFACCT_CT_STATE_INVALID_DROPPED}` : ''} -j DROP`,
    );
  }
  filterTail.push(
    `-A ${KUBE_FORWARD} -m comment --comment "kubernetes forwarding rules" -m mark --mark ${mark}/${mark} -j ACCEPT`,
    `-A ${KUBE_FORWARD} -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
  );
  const filter = `*filter\n${lines(filterChains)}${lines(filterRules)}${filterText}${lines(filterTail)}COMMIT\n`;
  const nat = `*nat\n${lines(natChains)}${chainText}${lines(natRules)}${natText}${lines(natTail)}COMMIT\n`;
  return {
    payload: filter + nat,
    deletedChains,
    chainsByPort,
    largeClusterMode: large,
    stats: {
      servicePorts: views.length,
      endpoints,
      filterRules: filterRules.length + filterServiceLines + filterTail.length,
      natRules: natRules.length + natServiceLines + natTail.length,
    },
  };
}
