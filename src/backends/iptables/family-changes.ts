/**
 * Which services an update changes as one IP family's kube-proxy sees them. kube-proxy's partial
 * sync rewrites the chains of exactly the services its change trackers report: the family's
 * service-port map of the Service changed (its labels, annotations and the other family's
 * addresses are not part of that map), or an EndpointSlice of the family's address type changed
 * in what kube-proxy keeps of it (a dual-stack node runs one proxier per family and hands each
 * only the slices of its family). A snapshot update names every service whose object or slices
 * changed at all, which is more than that.
 *
 * @module
 */
import {
  type RoutingSnapshot,
  type ServicePortEntry,
  type SnapshotUpdate,
  servicePortKey,
} from '../../core/snapshot';
import { canonicalIp, type IpFamily, parseCidr } from './ip';

/**
 * `ns/name` of the services whose family view `update` changes, as kube-proxy's trackers report
 * them. Each service the update names (by a port change or in `changedServices`) is compared
 * port by port between `update.previous` and `update.current`, so an update that names a
 * service without listing its port changes is still judged right. Without a previous snapshot
 * every named service counts as changed.
 */
export function kubeProxyChangedServices(update: SnapshotUpdate, family: IpFamily): Set<string> {
  const keysByService = new Map<string, Set<string>>();
  const keysOf = (service: string): Set<string> => {
    let keys = keysByService.get(service);
    if (!keys) {
      keys = new Set();
      keysByService.set(service, keys);
    }
    return keys;
  };
  for (const ch of update.changes) {
    const info = (ch.current ?? ch.previous)?.info;
    if (info) keysOf(`${info.name.namespace}/${info.name.name}`).add(ch.key);
  }
  for (const service of update.changedServices) keysOf(service);
  const previous = update.previous;
  if (previous === undefined) return new Set(keysByService.keys());
  const out = new Set<string>();
  for (const [service, keys] of keysByService) {
    for (const key of portKeysOf(previous, service)) keys.add(key);
    for (const key of portKeysOf(update.current, service)) keys.add(key);
    for (const key of keys) {
      const before = previous.ports.get(key);
      const after = update.current.ports.get(key);
      if (before === after) continue;
      if ((before && familyFingerprint(before, family)) !== (after && familyFingerprint(after, family))) {
        out.add(service);
        break;
      }
    }
  }
  return out;
}

/**
 * Port keys of `service` in `snapshot`: from its Service object when the snapshot has Service
 * objects (every routable port derives from one), else by scanning the ports.
 */
function portKeysOf(snapshot: RoutingSnapshot, service: string): string[] {
  if (snapshot.services.size > 0) {
    const svc = snapshot.services.get(service);
    if (!svc) return [];
    const [namespace = '', name = ''] = service.split('/');
    return (svc.spec.ports ?? []).map((p) => servicePortKey({ namespace, name, port: p.name ?? '' }));
  }
  const prefix = `${service}:`;
  const keys: string[] = [];
  for (const key of snapshot.ports.keys()) if (key === service || key.startsWith(prefix)) keys.push(key);
  return keys;
}

function sortedHints(hints: ReadonlySet<string> | undefined): string[] | null {
  return hints === undefined ? null : [...hints].sort();
}

/**
 * Everything kube-proxy keeps of one service port for `family` (its service-port info and its
 * endpoints' info), as text; `undefined` when the port has no cluster IP of that family (the
 * family's proxier does not track it). Every input of the port's rules is part of it, so equal
 * fingerprints always render the same rules.
 */
function familyFingerprint(entry: ServicePortEntry, family: IpFamily): string | undefined {
  const { info } = entry;
  let clusterIP: string | undefined;
  for (const ip of info.clusterIPs) {
    clusterIP = canonicalIp(ip, family);
    if (clusterIP !== undefined) break;
  }
  if (clusterIP === undefined) return undefined;
  const addresses = (list: readonly string[]) =>
    list.map((ip) => canonicalIp(ip.trim(), family)).filter((ip) => ip !== undefined);
  const ranges = info.loadBalancerSourceRanges.flatMap((r) => {
    const cidr = parseCidr(r.trim());
    return cidr !== undefined && cidr.family === family ? [cidr.text] : [];
  });
  // kube-proxy only keeps a health-check node port for a LoadBalancer with Local external policy.
  const healthCheck = info.type === 'LoadBalancer' && info.externalPolicyLocal ? info.healthCheckNodePort : 0;
  // What kube-proxy's endpoint cache keeps of each endpoint of the family, by `ip:port`.
  const endpoints: { readonly text: string; readonly state: unknown[] }[] = [];
  for (const ep of entry.endpoints) {
    const ip = canonicalIp(ep.ip, family);
    if (ip === undefined || ep.port <= 0) continue;
    endpoints.push({
      text: family === 'IPv6' ? `[${ip}]:${ep.port}` : `${ip}:${ep.port}`,
      state: [
        ep.ready,
        ep.serving,
        ep.terminating,
        ep.nodeName ?? null,
        ep.zone ?? null,
        sortedHints(ep.zoneHints),
        sortedHints(ep.nodeHints),
      ],
    });
  }
  endpoints.sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
  return JSON.stringify([
    clusterIP,
    info.protocol,
    info.port,
    info.nodePort,
    healthCheck,
    info.sessionAffinity.type === 'ClientIP' ? info.sessionAffinity.timeoutSeconds : null,
    info.externalPolicyLocal,
    info.internalPolicyLocal,
    info.topologyMode ?? null,
    info.trafficDistribution ?? null,
    addresses(info.externalIPs),
    addresses(info.loadBalancerVIPs),
    ranges,
    endpoints.map((e) => [e.text, ...e.state]),
  ]);
}
