import type { CommandResult, CommandRunner } from '../../../src/backends/iptables/runner';
import type {
  Endpoint,
  RoutingSnapshot,
  ServicePortEntry,
  ServicePortInfo,
} from '../../../src/core/snapshot';
import { makeEndpoint, makeServicePortInfo } from '../../../src/testing/fixtures';
import { IptablesState } from '../../../src/testing/iptables-state';

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

/** Endpoint addresses the service chains in `kernel` jump to, sorted. */
export function routedEndpoints(kernel: IptablesState): string[] {
  return kernel
    .save()
    .split('\n')
    .filter((l) => l.startsWith('-A KUBE-SVC-') && l.includes('-j KUBE-SEP-'))
    .map((l) => /-> ([\d.]+):\d+/.exec(l)?.[1] ?? '?')
    .sort();
}

/** A fake iptables whose restores go into an {@link IptablesState}; every jump already exists. */
export function fakeIptables() {
  const kernel = new IptablesState();
  const restores: string[] = [];
  const ok = (stdout = ''): CommandResult => ({ code: 0, stdout, stderr: '' });
  const runner: CommandRunner = async (file, args, stdin) => {
    if (file.endsWith('-restore')) {
      restores.push(stdin ?? '');
      kernel.restore(stdin ?? '', { noflush: args.includes('--noflush') });
      return ok();
    }
    if (file.endsWith('-save')) return ok(kernel.save());
    if (args.includes('-N')) return { code: 1, stdout: '', stderr: 'Chain already exists.' };
    return ok();
  };
  return { kernel, restores, runner };
}

/**
 * kube-proxy's TestLoadBalancer state: one LoadBalancer service with two ingress IPs, source
 * ranges (one with the surrounding whitespace upstream ignores) and one endpoint.
 */
export function testLoadBalancerSnapshot(): RoutingSnapshot {
  return snapshot([
    entry(
      port('ns1', 'svc1', {
        type: 'LoadBalancer',
        clusterIPs: ['172.30.0.41'],
        nodePort: 3001,
        loadBalancerVIPs: ['1.2.3.4', '5.6.7.8'],
        loadBalancerSourceRanges: ['192.168.0.0/24', ' 203.0.113.0/25'],
      }),
      [ep('10.180.0.1')],
    ),
  ]);
}
