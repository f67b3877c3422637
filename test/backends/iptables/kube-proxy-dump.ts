import { expect } from 'vitest';
import type { RoutingSnapshot, ServicePortEntry, SnapshotUpdate } from '../../../src/core/snapshot';
import { sortLikeKubeProxyTests } from './fixtures';

/**
 * kube-proxy's unit tests run with a fake masquerade mark printed as `0x4000`; the real proxier
 * (and this renderer) prints it as Go's `%#08x` does.
 */
export function withRealMark(dump: string): string {
  return dump.replaceAll('0x4000', '0x00004000');
}

/**
 * Asserts that `payload` holds the same rules as kube-proxy's expected dump, compared the way
 * kube-proxy's tests compare them (rules grouped per chain in a canonical chain order, the order
 * within each chain kept).
 */
export function expectSameDump(payload: string, expected: string): void {
  expect(sortLikeKubeProxyTests(payload)).toBe(sortLikeKubeProxyTests(withRealMark(dedent(expected))));
}

/** Removes the common leading indentation and the first empty line of a template literal. */
export function dedent(text: string): string {
  const lines = text.replace(/^\n/, '').split('\n');
  const indent = Math.min(
    ...lines.filter((l) => l.trim() !== '').map((l) => l.length - l.trimStart().length),
  );
  return lines.map((l) => l.slice(indent)).join('\n');
}

/** The update the registry would report between two snapshots (no-op ports dropped). */
export function updateBetween(
  previous: RoutingSnapshot | undefined,
  current: RoutingSnapshot,
): SnapshotUpdate {
  const keys = new Set([...(previous?.ports.keys() ?? []), ...current.ports.keys()]);
  const changes = [];
  const changedServices = new Set<string>();
  for (const key of keys) {
    const p = previous?.ports.get(key);
    const c = current.ports.get(key);
    if (p === c) continue;
    changes.push({ key, ...(p ? { previous: p } : {}), ...(c ? { current: c } : {}) });
    const info = (c ?? p)!.info;
    changedServices.add(`${info.name.namespace}/${info.name.name}`);
  }
  return { previous, current, changes, changedServices };
}

/** A copy of `base` at the next revision with its ports edited. */
export function editPorts(
  base: RoutingSnapshot,
  edit: (ports: Map<string, ServicePortEntry>) => void,
): RoutingSnapshot {
  const ports = new Map(base.ports);
  edit(ports);
  return { ...base, revision: base.revision + 1, ports };
}

/** What differs between the dumps of kube-proxy's fake proxier besides the services' own lines. */
export interface DumpParts {
  readonly filter?: readonly string[];
  readonly natChains?: readonly string[];
  readonly nat?: readonly string[];
  /** KUBE-FIREWALL and its localnet rule (localhost node ports on, IPv4). Default true. */
  readonly localhostFirewall?: boolean;
  /** The KUBE-SERVICES jump(s) to KUBE-NODEPORTS. Default: every local address. */
  readonly nodePortJumps?: readonly string[];
  /** Suffix of the MASQUERADE rule (` --random-fully`). */
  readonly masqueradeSuffix?: string;
  /** The INVALID drop counts its packets with nfacct (a kernel with nfacct support). */
  readonly nfacct?: boolean;
}

const NODE_PORTS_COMMENT =
  '-m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain"';

/** The KUBE-SERVICES jump to KUBE-NODEPORTS with `match` as its destination match. */
export function nodePortJump(match: string): string {
  return `-A KUBE-SERVICES ${NODE_PORTS_COMMENT} ${match} -j KUBE-NODEPORTS`;
}

/**
 * A dump as kube-proxy's tests write it for its fake proxier: the fixed chains and rules of both
 * tables (with the fake mark 0x4000) around the given lines.
 */
export function kubeProxyDump(parts: DumpParts): string {
  const firewall = parts.localhostFirewall ?? true;
  return [
    '*filter',
    ...[
      'KUBE-NODEPORTS',
      'KUBE-SERVICES',
      'KUBE-EXTERNAL-SERVICES',
      ...(firewall ? ['KUBE-FIREWALL'] : []),
      'KUBE-FORWARD',
      'KUBE-PROXY-FIREWALL',
    ].map((c) => `:${c} - [0:0]`),
    ...(parts.filter ?? []),
    ...(firewall
      ? [
          '-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
        ]
      : []),
    `-A KUBE-FORWARD -m conntrack --ctstate INVALID${parts.nfacct ? ' -m nfacct --nfacct-name ct_state_invalid_dropped_pkts' : ''} -j DROP`,
    '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT',
    '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    'COMMIT',
    '*nat',
    ...['KUBE-NODEPORTS', 'KUBE-SERVICES', 'KUBE-MARK-MASQ', 'KUBE-POSTROUTING'].map((c) => `:${c} - [0:0]`),
    ...(parts.natChains ?? []).map((c) => `:${c} - [0:0]`),
    ...(parts.nat ?? []),
    ...(parts.nodePortJumps ?? [nodePortJump('-m addrtype --dst-type LOCAL')]),
    '-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000',
    '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
    '-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000',
    `-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE${parts.masqueradeSuffix ?? ''}`,
    'COMMIT',
    '',
  ].join('\n');
}
