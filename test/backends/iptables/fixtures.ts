import type {
  Endpoint,
  RoutingSnapshot,
  ServicePortEntry,
  ServicePortInfo,
} from '../../../src/core/snapshot';
import { makeEndpoint, makeServicePortInfo } from '../../../src/testing/fixtures';

/** Service-port fixture: `ns/name:port` defaults to TCP port 80 named p80 (target port 80), ClusterIP type. */
export function port(
  namespace: string,
  name: string,
  overrides: Partial<Omit<ServicePortInfo, 'name' | 'key'>> & { portName?: string } = {},
): ServicePortInfo {
  const { portName = 'p80', ...rest } = overrides;
  return makeServicePortInfo({ namespace, service: name, portName, targetPort: 80, ...rest });
}

/** Ready, serving endpoint fixture (serving stays true unless given, whatever `ready` is). */
export function ep(ip: string, port = 80, extra: Partial<Endpoint> = {}): Endpoint {
  return makeEndpoint(ip, port, { serving: true, ...extra });
}

export function entry(info: ServicePortInfo, endpoints: Endpoint[] = []): ServicePortEntry {
  return { info, endpoints };
}

export function snapshot(entries: ServicePortEntry[], revision = 1): RoutingSnapshot {
  return {
    revision,
    ports: new Map(entries.map((e) => [e.info.key, e])),
    services: new Map(),
    endpointSlices: new Map(),
    namespaces: new Set(entries.map((e) => e.info.name.namespace)),
  };
}

/**
 * kube-proxy's test normalisation (`assertIPTablesRulesEqual`): per table, KUBE-NODEPORTS and
 * KUBE-SERVICES first then the other chains by name; rules grouped by chain in that order,
 * keeping their order within a chain.
 */
export function sortLikeKubeProxyTests(payload: string): string {
  const out: string[] = [];
  const blocks = payload.split('COMMIT\n').filter((b) => b.trim() !== '');
  for (const block of blocks) {
    const lines = block.split('\n').filter((l) => l !== '');
    const head = lines[0]!;
    const chains = lines.filter((l) => l.startsWith(':')).map((l) => l.slice(1).split(' ')[0]!);
    const rank = (c: string): string =>
      c === 'KUBE-NODEPORTS' ? '0' : c === 'KUBE-SERVICES' ? '1' : `2${c}`;
    const order = [...new Set(chains)].sort((a, b) => (rank(a) < rank(b) ? -1 : rank(a) > rank(b) ? 1 : 0));
    out.push(head);
    for (const c of order) out.push(`:${c} - [0:0]`);
    const rules = lines.filter((l) => l.startsWith('-'));
    for (const c of order) out.push(...rules.filter((r) => r.split(' ')[1] === c && r.startsWith('-A ')));
    out.push(...rules.filter((r) => r.startsWith('-X ')));
    out.push('COMMIT');
  }
  return `${out.join('\n')}\n`;
}
