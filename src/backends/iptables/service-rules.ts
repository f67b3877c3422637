/**
 * The rules of one service port, kube-proxy's per-service loop body: what it adds to the
 * top-level chains (KUBE-SERVICES, KUBE-NODEPORTS, KUBE-EXTERNAL-SERVICES, KUBE-PROXY-FIREWALL)
 * and its own chains (KUBE-SVC/SVL/EXT/FW/SEP). Depends on nothing but the port, the options
 * and the large-cluster mode, so a renderer can keep it until one of those changes.
 *
 * @module
 */
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
  KUBE_MARK_MASQ,
  KUBE_NODEPORTS,
  KUBE_PROXY_FIREWALL,
  KUBE_SERVICES,
  NFACCT_LOCALHOST_NODEPORTS_ACCEPTED,
} from './constants';
import { cidrContains } from './ip';
import type { ResolvedOptions } from './options';
import { probability } from './probability';
import type { FamilyEndpoint, FamilyServicePort } from './service-view';

/** Lines of one part of the output; `text()` is the lines each ended by a newline. */
export class Lines {
  readonly lines: string[] = [];
  write(line: string): void {
    this.lines.push(line);
  }
  /** Number of lines written. */
  get length(): number {
    return this.lines.length;
  }
  text(): string {
    return this.lines.length === 0 ? '' : `${this.lines.join('\n')}\n`;
  }
}

/** `:CHAIN - [0:0]`, the declaration (and flush) of a chain in restore input. */
export function chainLine(chain: string): string {
  return `:${chain} - [0:0]`;
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

/**
 * Where {@link writeServicePort} writes each kind of line. Two kinds may share one `Lines`
 * (captures are all written before the port's own rules, so sharing keeps kube-proxy's order).
 */
export interface ServicePortSink {
  readonly filter: Lines;
  readonly capture: Lines;
  readonly chains: Lines;
  readonly rules: Lines;
}

/** Renders one service port (kube-proxy's per-service loop body) into text of its own. */
export function renderServicePort(
  svc: FamilyServicePort,
  o: ResolvedOptions,
  largeClusterMode: boolean,
  node: RoutingNode,
): ServicePortRender {
  const sink = { filter: new Lines(), capture: new Lines(), chains: new Lines(), rules: new Lines() };
  const active = writeServicePort(svc, o, largeClusterMode, node, sink);
  const { filter, capture, chains, rules } = sink;
  return {
    endpoints: svc.endpoints.length,
    filter: filter.text(),
    capture: capture.text(),
    chains: chains.text(),
    rules: rules.text(),
    active,
    lineCounts: {
      filter: filter.length,
      capture: capture.length,
      nat: capture.length + rules.length,
      natChains: chains.length,
    },
  };
}

/**
 * Writes the lines of one service port (kube-proxy's per-service loop body) into `sink`; returns
 * the port's own chains (KUBE-SVC/SVL/EXT/FW/SEP) that the lines use.
 */
export function writeServicePort(
  svc: FamilyServicePort,
  o: ResolvedOptions,
  largeClusterMode: boolean,
  node: RoutingNode,
  sink: ServicePortSink,
): string[] {
  const { filter, capture, chains, rules } = sink;
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

  return active;
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
