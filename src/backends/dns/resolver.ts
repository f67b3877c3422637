/**
 * The authoritative lookup logic of the cluster zone, a pure function of the cluster state: it
 * answers a (name, type) question the way the CoreDNS kubernetes plugin does (Kubernetes DNS
 * specification 1.1.0). The server turns these answers into precomputed wire responses.
 */
import { isIP } from 'node:net';
import { namespacedKey } from '../../core/snapshot';
import type { EndpointSlice, Pod, Service } from '../../core/types';
import {
  DEFAULT_CLUSTER_ZONE,
  DEFAULT_TTL_S,
  DNS_SCHEMA_VERSION,
  MAX_CNAME_CHAIN,
  RCode,
  RRType,
  SCHEMA_VERSION_TTL_S,
  SOA_EXPIRE_S,
  SOA_MAX_TTL_S,
  SOA_REFRESH_S,
  SOA_RETRY_S,
} from './constants';
import {
  addressFromReverse,
  canonicalIP,
  endpointHostname,
  isInZone,
  normalizeName,
  podLabelToIP,
  stripLeadingZerosIPv4,
} from './names';
import type { DnsAnswer, DnsRecord, SoaRecord } from './records';

/** How `<ip>.<ns>.pod.<zone>` names are answered (the CoreDNS `pods` option). */
export type PodMode = 'disabled' | 'insecure' | 'verified';

/**
 * The cluster state the resolver reads. A {@link index!RoutingSnapshot} satisfies it; so does a plain
 * object built from manifests.
 */
export interface DnsSourceState {
  /** Every service by `ns/name`, headless and ExternalName included. */
  readonly services: ReadonlyMap<string, Service>;
  /** EndpointSlices per owning service (`ns/name`). */
  readonly endpointSlices: ReadonlyMap<string, readonly EndpointSlice[]>;
  /** Namespaces that exist; names under any other namespace are NXDOMAIN. */
  readonly namespaces: ReadonlySet<string>;
}

/** Options of {@link DnsResolver}. */
export interface DnsResolverOptions {
  /** Cluster domain (default `cluster.local`). */
  readonly zone?: string;
  /** TTL of synthesised records (default 5). */
  readonly ttl?: number;
  /** Pod record mode (default `disabled`, as CoreDNS). */
  readonly pods?: PodMode;
  /** Pods, read for `pods verified` (the registry's `list('Pod')`). */
  readonly listPods?: () => Iterable<Pod>;
  /** Answer PTR queries under in-addr.arpa and ip6.arpa (default true, as the default Corefile). */
  readonly reverseZones?: boolean;
  /**
   * The server's own addresses: an endpoint holding one of them makes its service the zone's
   * name server (`NS` / `ns.dns.<zone>`); otherwise `ns.dns.<zone>` points at these IPs.
   */
  readonly localIPs?: readonly string[];
  /** SOA serial source; defaults to the time of the last state change, in seconds. */
  readonly serial?: () => number;
}

/** One ready endpoint address of a service, with the ports of its slice. */
interface EndpointAddress {
  readonly ip: string;
  readonly hostname: string;
  readonly ports: readonly { readonly name: string; readonly protocol: string; readonly port: number }[];
}

/** What a service contributes to the zone, derived once per change of the service. */
interface ServiceEntry {
  readonly key: string;
  readonly name: string;
  readonly namespace: string;
  readonly kind: 'clusterIP' | 'headless' | 'externalName';
  readonly clusterIPs: readonly string[];
  readonly externalName: string;
  readonly ports: readonly { readonly name: string; readonly protocol: string; readonly port: number }[];
  readonly endpoints: readonly EndpointAddress[];
}

/** A CoreDNS `msg.Service`: one target of a lookup before it becomes records. */
interface Target {
  readonly host: string;
  readonly port: number;
  /** Owner name this target is known by (the SRV target). */
  readonly key: string;
  readonly cname: boolean;
}

type Lookup = { readonly targets: readonly Target[]; readonly nx: boolean; readonly serviceKey?: string };

/** Address records of a name, and the out-of-zone CNAME target they end in, if any. */
interface AddressLookup {
  readonly records: DnsRecord[];
  readonly nx: boolean;
  readonly serviceKey?: string;
  readonly chase?: string;
}

const NO_TARGETS: Lookup = { targets: [], nx: false };
const NX: Lookup = { targets: [], nx: true };
const SENTINEL_PORT = -1;

/**
 * Answers questions for the cluster zone (and the reverse zones). Build it once, then call
 * {@link DnsResolver.update} with each new state and the services that changed: only those are
 * re-derived.
 */
export class DnsResolver {
  readonly zone: string;
  readonly ttl: number;
  readonly pods: PodMode;
  private readonly listPods: (() => Iterable<Pod>) | undefined;
  private readonly reverseZones: boolean;
  private readonly localIPs: readonly string[];
  private readonly serialSource: (() => number) | undefined;
  private readonly entries = new Map<string, ServiceEntry>();
  /**
   * Ready endpoints of EndpointSlices whose service does not exist, by `ns/name` of that
   * service: CoreDNS indexes every slice by IP, so their PTR records still answer.
   */
  private readonly orphans = new Map<string, readonly EndpointAddress[]>();
  /** `name.namespace` (lowercase) → entry, the lookup key of `<svc>.<ns>.svc.<zone>`. */
  private readonly byDnsKey = new Map<string, ServiceEntry>();
  private namespaces: ReadonlySet<string> = new Set();
  private lowerNamespaces = new Set<string>();
  private lastChangeS = Math.floor(Date.now() / 1000);

  constructor(options: DnsResolverOptions = {}) {
    this.zone = normalizeName(options.zone ?? DEFAULT_CLUSTER_ZONE);
    this.ttl = options.ttl ?? DEFAULT_TTL_S;
    this.pods = options.pods ?? 'disabled';
    this.listPods = options.listPods;
    this.reverseZones = options.reverseZones ?? true;
    this.localIPs = (options.localIPs ?? []).map(canonicalIP);
    this.serialSource = options.serial;
  }

  /**
   * Brings the resolver to `state`. With `changed` (service keys), only those services are
   * re-derived; without it everything is.
   */
  update(state: DnsSourceState, changed?: Iterable<string>): void {
    const keys = changed
      ? new Set(changed)
      : new Set([
          ...this.entries.keys(),
          ...this.orphans.keys(),
          ...state.services.keys(),
          ...state.endpointSlices.keys(),
        ]);
    for (const key of keys) {
      const old = this.entries.get(key);
      if (old) {
        this.entries.delete(key);
        this.byDnsKey.delete(`${old.name}.${old.namespace}`.toLowerCase());
      }
      this.orphans.delete(key);
      const svc = state.services.get(key);
      if (!svc) {
        const endpoints = deriveEndpoints(state.endpointSlices.get(key) ?? []);
        if (endpoints.length > 0) this.orphans.set(key, endpoints);
        continue;
      }
      const entry = deriveEntry(key, svc, state.endpointSlices.get(key) ?? []);
      this.entries.set(key, entry);
      this.byDnsKey.set(`${entry.name}.${entry.namespace}`.toLowerCase(), entry);
    }
    this.namespaces = state.namespaces;
    this.lowerNamespaces = new Set([...state.namespaces].map((n) => n.toLowerCase()));
    this.lastChangeS = Math.max(this.lastChangeS + 1, Math.floor(Date.now() / 1000));
  }

  /** Namespaces currently known to exist. */
  knownNamespaces(): ReadonlySet<string> {
    return this.namespaces;
  }

  /** Every service entry (for zone-file rendering). */
  serviceKeys(): string[] {
    return [...this.entries.keys()].sort();
  }

  /** Names the service answers for: the service name, `_port._proto` names and endpoint names. */
  namesOf(key: string): string[] {
    const e = this.entries.get(key);
    if (!e) return [];
    const base = `${e.name}.${e.namespace}.svc.${this.zone}`.toLowerCase();
    const names = [base];
    for (const p of e.kind === 'headless' ? uniquePorts(e.endpoints) : e.ports) {
      if (p.name) names.push(`_${p.name}._${p.protocol}.${base}`.toLowerCase());
    }
    if (e.kind !== 'externalName') {
      for (const ep of e.endpoints) names.push(`${ep.hostname}.${base}`.toLowerCase());
    }
    return [...new Set(names)];
  }

  /**
   * Every IP with a PTR answer (canonical form, unsorted, each once): cluster IPs of ClusterIP
   * services and the ready endpoint IPs of every EndpointSlice, its service existing or not.
   * Empty when reverse zones are off.
   */
  reverseAddresses(): string[] {
    if (!this.reverseZones) return [];
    const out = new Set<string>();
    for (const e of this.entries.values()) {
      if (e.kind === 'clusterIP') for (const ip of e.clusterIPs) out.add(ip);
      for (const ep of e.endpoints) out.add(ep.ip);
    }
    for (const endpoints of this.orphans.values()) for (const ep of endpoints) out.add(ep.ip);
    return [...out];
  }

  /** The zone's SOA record (owner = the cluster zone). */
  soa(zone: string = this.zone): SoaRecord {
    return {
      type: 'SOA',
      name: zone,
      ttl: Math.min(this.ttl, SOA_MAX_TTL_S),
      mname: `ns.dns.${zone}`,
      rname: `hostmaster.${zone}`,
      serial: (this.serialSource ? this.serialSource() : this.lastChangeS) >>> 0,
      refresh: SOA_REFRESH_S,
      retry: SOA_RETRY_S,
      expire: SOA_EXPIRE_S,
      minimum: this.ttl,
    };
  }

  /**
   * Answers one question. `name` may have any case and a trailing dot; `type` is the numeric
   * RR type. Class is assumed IN (the server refuses others).
   */
  resolve(name: string, type: number): DnsAnswer {
    const qname = normalizeName(name);
    if (isInZone(qname, this.zone)) return this.answerZone(qname, type, this.zone);
    if (this.reverseZones) {
      for (const rz of ['in-addr.arpa', 'ip6.arpa']) {
        if (isInZone(qname, rz)) return this.answerReverse(qname, type, rz);
      }
    }
    return {
      rcode: RCode.REFUSED,
      authoritative: false,
      answers: [],
      authority: [],
      additional: [],
      scope: 'outside',
      cacheable: true,
    };
  }

  private answerZone(qname: string, type: number, zone: string): DnsAnswer {
    let records: DnsRecord[] = [];
    let extra: DnsRecord[] = [];
    let nx = false;
    let serviceKey: string | undefined;
    let chase: string | undefined;
    const cacheable = !(this.pods === 'verified' && isPodName(qname, zone));
    switch (type) {
      case RRType.A:
      case RRType.AAAA: {
        const r = this.addresses(qname, type, zone, 0);
        records = r.records;
        nx = r.nx;
        serviceKey = r.serviceKey;
        chase = r.chase;
        break;
      }
      case RRType.TXT: {
        if (qname === `dns-version.${zone}`) {
          records = [{ type: 'TXT', name: qname, ttl: SCHEMA_VERSION_TTL_S, text: [DNS_SCHEMA_VERSION] }];
        }
        // CoreDNS answers every other TXT question in the zone with NODATA.
        break;
      }
      case RRType.CNAME: {
        const l = this.services(qname, type, zone);
        nx = l.nx;
        serviceKey = l.serviceKey;
        const first = l.targets[0];
        if (first?.cname) records = [{ type: 'CNAME', name: qname, ttl: this.ttl, target: first.host }];
        break;
      }
      case RRType.SRV: {
        const l = this.services(qname, type, zone);
        nx = l.nx;
        serviceKey = l.serviceKey;
        const srv = this.srv(qname, l.targets);
        records = srv.records;
        extra = srv.extra;
        break;
      }
      case RRType.SOA:
        // CoreDNS's handler answers SOA only at the apex and skips the lookup elsewhere, so any
        // other name (existing or not) gets NODATA with the SOA in the authority section.
        if (qname === zone) records = [this.soa(zone)];
        break;
      case RRType.NS:
        if (qname === zone) {
          const ns = this.nameServers(zone);
          const seen = new Set<string>();
          for (const a of ns) {
            extra.push(a);
            if (seen.has(a.name)) continue;
            seen.add(a.name);
            records.push({ type: 'NS', name: qname, ttl: this.ttl, target: a.name });
          }
          break;
        }
        nx = this.addresses(qname, RRType.A, zone, 0).nx;
        break;
      case RRType.PTR:
      case RRType.MX: {
        const l = this.services(qname, type, zone);
        nx = l.nx;
        serviceKey = l.serviceKey;
        break;
      }
      default: {
        // A fake A lookup tells NODATA from NXDOMAIN, as CoreDNS does.
        const l = this.addresses(qname, RRType.A, zone, 0);
        nx = l.nx;
        serviceKey = l.serviceKey;
      }
    }
    const answer = this.finish(zone, records, extra, nx, cacheable, serviceKey, 'zone');
    return chase === undefined || answer.answers.length === 0
      ? answer
      : { ...answer, chase: { name: chase, type } };
  }

  private finish(
    zone: string,
    records: DnsRecord[],
    extra: DnsRecord[],
    nx: boolean,
    cacheable: boolean,
    serviceKey: string | undefined,
    scope: DnsAnswer['scope'],
  ): DnsAnswer {
    const base = serviceKey === undefined ? { cacheable } : { cacheable, serviceKey };
    if (nx) {
      return {
        ...base,
        rcode: RCode.NXDOMAIN,
        authoritative: true,
        answers: [],
        authority: [this.soa(zone)],
        additional: [],
        scope,
      };
    }
    if (records.length === 0) {
      return {
        ...base,
        rcode: RCode.NOERROR,
        authoritative: true,
        answers: [],
        authority: [this.soa(zone)],
        additional: [],
        scope: 'zone',
      };
    }
    return {
      ...base,
      rcode: RCode.NOERROR,
      authoritative: true,
      answers: records,
      authority: [],
      additional: extra,
      scope: 'zone',
    };
  }

  private answerReverse(qname: string, type: number, zone: string): DnsAnswer {
    const ip = addressFromReverse(qname);
    if (type !== RRType.PTR || !ip) {
      // SOA: only the apex has one; below it CoreDNS answers NODATA (no lookup, so no NXDOMAIN).
      if (type === RRType.SOA)
        return this.finish(zone, qname === zone ? [this.soa(zone)] : [], [], false, true, undefined, 'zone');
      return this.finish(zone, [], [], true, true, undefined, 'fallthrough');
    }
    const targets = this.reverseTargets(ip);
    if (targets.length === 0) return this.finish(zone, [], [], true, true, undefined, 'fallthrough');
    const records: DnsRecord[] = targets.map((target) => ({
      type: 'PTR',
      name: qname,
      ttl: this.ttl,
      target,
    }));
    return this.finish(zone, records, [], false, true, undefined, 'zone');
  }

  /** PTR targets of an IP: the first service owning it as a cluster IP, else every endpoint with it. */
  private reverseTargets(ip: string): string[] {
    const want = canonicalIP(ip);
    for (const e of this.sortedEntries()) {
      if (e.kind === 'clusterIP' && e.clusterIPs.includes(want))
        return [`${e.name}.${e.namespace}.svc.${this.zone}`];
    }
    const out = new Set<string>();
    for (const e of this.sortedEntries()) {
      for (const ep of e.endpoints) {
        if (ep.ip === want) out.add(`${ep.hostname}.${e.name}.${e.namespace}.svc.${this.zone}`.toLowerCase());
      }
    }
    for (const key of [...this.orphans.keys()].sort()) {
      const slash = key.indexOf('/');
      const owner = `${key.slice(slash + 1)}.${key.slice(0, slash)}.svc.${this.zone}`;
      for (const ep of this.orphans.get(key) ?? []) {
        if (ep.ip === want) out.add(`${ep.hostname}.${owner}`.toLowerCase());
      }
    }
    return [...out];
  }

  private sortedEntries(): ServiceEntry[] {
    return [...this.entries.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** A/AAAA records for a name, following in-zone CNAMEs (CoreDNS `plugin.A`). */
  private addresses(qname: string, type: number, zone: string, depth: number): AddressLookup {
    const l = this.services(qname, type, zone);
    const records: DnsRecord[] = [];
    let chase: string | undefined;
    const seen = new Set<string>();
    const family = type === RRType.A ? 4 : 6;
    for (const t of l.targets) {
      if (t.cname) {
        if (t.host === qname || depth >= MAX_CNAME_CHAIN) continue;
        const cname: DnsRecord = { type: 'CNAME', name: qname, ttl: this.ttl, target: t.host };
        if (isInZone(t.host, zone)) {
          const next = this.addresses(t.host, type, zone, depth + 1);
          if (!next.nx && next.records.length > 0) {
            records.push(cname, ...next.records);
            chase ??= next.chase;
          }
          continue;
        }
        // An out-of-zone target: CoreDNS resolves it through its upstream and appends what it
        // gets; the server does that when it has upstreams (see DnsAnswer.chase).
        records.push(cname);
        chase ??= t.host;
        continue;
      }
      if (isIP(t.host) !== family || seen.has(t.host)) continue;
      seen.add(t.host);
      records.push({ type: family === 4 ? 'A' : 'AAAA', name: qname, ttl: this.ttl, address: t.host });
    }
    return {
      records,
      nx: l.nx,
      ...(l.serviceKey === undefined ? {} : { serviceKey: l.serviceKey }),
      ...(chase === undefined ? {} : { chase }),
    };
  }

  /** SRV records with CoreDNS's weights (100 split evenly per priority) and additional addresses. */
  private srv(qname: string, all: readonly Target[]): { records: DnsRecord[]; extra: DnsRecord[] } {
    const targets = all.filter((t) => !t.cname);
    const records: DnsRecord[] = [];
    const extra: DnsRecord[] = [];
    if (targets.length === 0) return { records, extra };
    const weight = Math.max(1, Math.floor(100 / targets.length));
    const seenSrv = new Set<string>();
    const seenAddr = new Set<string>();
    for (const t of targets) {
      if (t.port === SENTINEL_PORT) continue;
      const srvKey = `${t.key}|${t.port}`;
      if (!seenSrv.has(srvKey)) {
        seenSrv.add(srvKey);
        records.push({
          type: 'SRV',
          name: qname,
          ttl: this.ttl,
          priority: 0,
          weight,
          port: t.port,
          target: t.key,
        });
      }
      const addrKey = `${t.key}|${t.host}`;
      if (!seenAddr.has(addrKey)) {
        seenAddr.add(addrKey);
        extra.push({ type: isIP(t.host) === 6 ? 'AAAA' : 'A', name: t.key, ttl: this.ttl, address: t.host });
      }
    }
    return { records, extra };
  }

  /** CoreDNS `Services()`: the targets behind a name, or NXDOMAIN. */
  private services(qname: string, type: number, zone: string): Lookup {
    if (qname === `ns.dns.${zone}`) {
      const want = type === RRType.A ? 'A' : type === RRType.AAAA ? 'AAAA' : '';
      return {
        targets: this.nameServers(zone)
          .filter((a) => a.type === want)
          .map((a) => ({ host: a.address, port: 0, key: qname, cname: false })),
        nx: false,
      };
    }
    const base = qname === zone ? '' : qname.slice(0, -zone.length - 1);
    if (base === '' || base === 'svc' || base === 'pod') return NO_TARGETS;
    const segs = base.split('.');
    const podOrSvc = segs.pop();
    if (podOrSvc !== 'svc' && podOrSvc !== 'pod') return NX;
    const namespace = segs.pop() ?? '';
    if (!this.lowerNamespaces.has(namespace)) return NX;
    const service = segs.pop() ?? '';
    let endpoint = '';
    let port = '';
    let protocol = '';
    if (segs.length === 1) endpoint = segs[0] ?? '';
    else if (segs.length === 2) {
      port = stripUnderscore(segs[0] ?? '');
      protocol = stripUnderscore(segs[1] ?? '');
    } else if (segs.length > 2) return NX;
    if (podOrSvc === 'pod') return this.findPod(service, namespace, zone);
    if (service === '') return NO_TARGETS;
    return this.findService(service, namespace, endpoint, port, protocol, zone);
  }

  private findPod(podLabel: string, namespace: string, zone: string): Lookup {
    if (this.pods === 'disabled') return NX;
    if (podLabel === '') return NO_TARGETS;
    const ip = podLabelToIP(podLabel);
    if (!ip) return NX;
    const key = `${podLabel}.${namespace}.pod.${zone}`;
    if (this.pods === 'insecure') return { targets: [{ host: ip, port: 0, key, cname: false }], nx: false };
    const targets: Target[] = [];
    for (const pod of this.listPods?.() ?? []) {
      const podIP = stripLeadingZerosIPv4(pod.status?.podIP ?? '');
      // Terminating pods are ignored, as CoreDNS's pod watch drops them.
      if (!podIP || pod.metadata.deletionTimestamp) continue;
      if (
        canonicalIP(podIP) === canonicalIP(ip) &&
        (pod.metadata.namespace ?? '').toLowerCase() === namespace
      ) {
        targets.push({ host: podIP, port: 0, key, cname: false });
      }
    }
    return targets.length ? { targets, nx: false } : NX;
  }

  private findService(
    service: string,
    namespace: string,
    endpoint: string,
    port: string,
    protocol: string,
    zone: string,
  ): Lookup {
    const e = this.byDnsKey.get(`${service}.${namespace}`);
    if (!e) return NX;
    const svcName = `${e.name}.${e.namespace}.svc.${zone}`.toLowerCase();
    const targets: Target[] = [];
    if (e.kind === 'externalName') {
      if (endpoint !== '' || e.externalName === '' || isIP(e.externalName))
        return { ...NX, serviceKey: e.key };
      return {
        targets: [{ host: e.externalName, port: 0, key: svcName, cname: true }],
        nx: false,
        serviceKey: e.key,
      };
    }
    if (e.kind === 'headless' || endpoint !== '') {
      for (const ep of e.endpoints) {
        if (endpoint !== '' && endpoint !== ep.hostname.toLowerCase()) continue;
        for (const p of ep.ports) {
          if (!matchPortAndProtocol(port, p.name, protocol, p.protocol)) continue;
          targets.push({
            host: ep.ip,
            port: p.port,
            key: `${ep.hostname}.${svcName}`.toLowerCase(),
            cname: false,
          });
        }
      }
      return { targets, nx: targets.length === 0, serviceKey: e.key };
    }
    let matched = false;
    for (const p of e.ports) {
      if (!matchPortAndProtocol(port, p.name, protocol, p.protocol)) continue;
      matched = true;
      for (const ip of e.clusterIPs) targets.push({ host: ip, port: p.port, key: svcName, cname: false });
    }
    return { targets, nx: !matched, serviceKey: e.key };
  }

  /**
   * The name server addresses (CoreDNS `nsAddrs`): services whose ready endpoints hold one of
   * the server's IPs, else `ns.dns.<zone>` → the server's IPs.
   */
  private nameServers(zone: string): { type: 'A' | 'AAAA'; name: string; ttl: number; address: string }[] {
    const out: { type: 'A' | 'AAAA'; name: string; ttl: number; address: string }[] = [];
    const add = (name: string, ip: string) =>
      out.push({ type: isIP(ip) === 6 ? 'AAAA' : 'A', name: name.toLowerCase(), ttl: this.ttl, address: ip });
    for (const local of this.localIPs) {
      for (const e of this.sortedEntries()) {
        if (!e.endpoints.some((ep) => ep.ip === local)) continue;
        const svcName = `${e.name}.${e.namespace}.svc.${zone}`;
        if (e.kind === 'headless') for (const ep of e.endpoints) add(`${ep.hostname}.${svcName}`, ep.ip);
        else if (e.clusterIPs[0]) add(svcName, e.clusterIPs[0]);
      }
    }
    if (out.length === 0) for (const ip of this.localIPs) add(`ns.dns.${zone}`, ip);
    return out;
  }
}

function isPodName(qname: string, zone: string): boolean {
  return qname.endsWith(`.pod.${zone}`);
}

function stripUnderscore(s: string): string {
  return s.startsWith('_') ? s.slice(1) : s;
}

/** CoreDNS `matchPortAndProtocol`: an empty requested port or protocol matches anything. */
function matchPortAndProtocol(wantPort: string, port: string, wantProto: string, proto: string): boolean {
  return (
    (wantPort === '' || wantPort === port.toLowerCase()) &&
    (wantProto === '' || wantProto === proto.toLowerCase())
  );
}

function uniquePorts(endpoints: readonly EndpointAddress[]): EndpointAddress['ports'] {
  const seen = new Map<string, EndpointAddress['ports'][number]>();
  for (const ep of endpoints) for (const p of ep.ports) seen.set(`${p.name}/${p.protocol}/${p.port}`, p);
  return [...seen.values()];
}

/** Derives a service's DNS view from the Service and its EndpointSlices. */
function deriveEntry(key: string, svc: Service, slices: readonly EndpointSlice[]): ServiceEntry {
  const name = svc.metadata.name ?? '';
  const namespace = svc.metadata.namespace ?? 'default';
  const spec = svc.spec ?? {};
  const clusterIP = spec.clusterIP ?? '';
  // CoreDNS reads `clusterIPs` when set (else `clusterIP`) and calls the service headless when
  // the first of them is `None`.
  const declaredIPs = spec.clusterIPs && spec.clusterIPs.length > 0 ? spec.clusterIPs : [clusterIP];
  const kind: ServiceEntry['kind'] =
    spec.type === 'ExternalName' ? 'externalName' : declaredIPs[0] === 'None' ? 'headless' : 'clusterIP';
  const clusterIPs =
    kind === 'clusterIP'
      ? declaredIPs
          .map(stripLeadingZerosIPv4)
          .filter((ip) => isIP(ip) !== 0)
          .map(canonicalIP)
      : [];
  // A service without ports still has its address records: CoreDNS's object conversion gives it
  // one sentinel port (-1) that matches only unqualified names and never becomes an SRV record.
  const ports =
    spec.ports && spec.ports.length > 0
      ? spec.ports.map((p) => ({ name: p.name ?? '', protocol: p.protocol ?? 'TCP', port: p.port }))
      : [{ name: '', protocol: '', port: SENTINEL_PORT }];
  return {
    key: key || namespacedKey(namespace, name),
    name,
    namespace,
    kind,
    clusterIPs,
    externalName: normalizeName(spec.externalName ?? ''),
    ports,
    endpoints: deriveEndpoints(slices),
  };
}

/** The ready endpoint addresses of a service's slices, each with its slice's ports. */
function deriveEndpoints(slices: readonly EndpointSlice[]): EndpointAddress[] {
  const endpoints: EndpointAddress[] = [];
  for (const slice of slices) {
    if (slice.addressType === 'FQDN') continue;
    const slicePorts =
      slice.ports && slice.ports.length > 0
        ? slice.ports.map((p) => ({
            name: p.name ?? '',
            protocol: p.protocol ?? 'TCP',
            port: p.port ?? SENTINEL_PORT,
          }))
        : [{ name: '', protocol: '', port: SENTINEL_PORT }];
    for (const ep of slice.endpoints ?? []) {
      // Only ready endpoints are published; the endpoints controller already marks not-ready
      // pods ready when the service sets publishNotReadyAddresses.
      if (ep.conditions?.ready === false) continue;
      for (const address of ep.addresses ?? []) {
        const stripped = stripLeadingZerosIPv4(address);
        if (isIP(stripped) === 0) continue;
        const ip = canonicalIP(stripped);
        endpoints.push({ ip, hostname: endpointHostname(ip, ep.hostname), ports: slicePorts });
      }
    }
  }
  return endpoints;
}
