/**
 * Parsing of what callers hand to the resolver: a service name in any of the forms cluster DNS
 * answers (`name`, `name.ns`, `name.ns.svc`, `name.ns.svc.<zone>`), an `IP:port` (cluster IP,
 * external IP or load-balancer VIP), or a node port.
 *
 * @module
 */
import { isIP } from 'node:net';
import type { Protocol } from '../../core/types';

/** Cluster domain kubelet and CoreDNS use unless configured otherwise (`--cluster-domain`). */
export const DEFAULT_CLUSTER_ZONE = 'cluster.local';
/** Namespace of a bare service name, as a pod in `default` would search it. */
export const DEFAULT_NAMESPACE = 'default';

/** A service addressed by name; `port` is a port number, a port name, or absent. */
export interface NameTarget {
  readonly kind: 'name';
  readonly name: string;
  readonly namespace: string;
  readonly port?: number | string;
}

/** A service addressed by one of its IPs (cluster, external or load-balancer). */
export interface AddressTarget {
  readonly kind: 'address';
  readonly ip: string;
  readonly port?: number;
}

/** A service addressed by its node port. */
export interface NodePortTarget {
  readonly kind: 'nodePort';
  readonly nodePort: number;
}

/** A parsed target. */
export type ParsedTarget = NameTarget | AddressTarget | NodePortTarget;

/** What {@link parseTarget} accepts: a string, or `{ nodePort }`. */
export type TargetInput = string | { readonly nodePort: number };

/** Options of {@link parseTarget}. */
export interface ParseTargetOptions {
  /** Namespace of a bare `name`; default {@link DEFAULT_NAMESPACE}. */
  readonly namespace?: string;
  /** Cluster domain; default {@link DEFAULT_CLUSTER_ZONE}. */
  readonly zone?: string;
}

/** Why a target string is not a service reference at all (as opposed to an unknown one). */
export class TargetSyntaxError extends Error {
  constructor(
    readonly target: string,
    detail: string,
  ) {
    super(`invalid target ${JSON.stringify(target)}: ${detail}`);
    this.name = 'TargetSyntaxError';
  }
}

function parsePortText(text: string, target: string): number | string {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n < 1 || n > 65535) throw new TargetSyntaxError(target, `port ${text} is out of range 1-65535`);
    return n;
  }
  if (text === '') throw new TargetSyntaxError(target, 'empty port');
  return text.toLowerCase();
}

/**
 * Parses a target. Name targets are lower-cased and may end with a dot; a name with more labels
 * than `name.ns.svc` must end in the cluster zone, otherwise it is not a service name and a
 * {@link TargetSyntaxError} is thrown (callers such as the fetch dispatcher then let the name
 * go to ordinary DNS).
 */
export function parseTarget(input: TargetInput, options: ParseTargetOptions = {}): ParsedTarget {
  if (typeof input !== 'string') {
    const n = input.nodePort;
    if (!Number.isInteger(n) || n < 1 || n > 65535)
      throw new TargetSyntaxError(String(n), 'node port must be an integer in 1-65535');
    return { kind: 'nodePort', nodePort: n };
  }
  const target = input.trim();
  if (target === '') throw new TargetSyntaxError(input, 'empty target');
  let host = target;
  let portText: string | undefined;
  if (target.startsWith('[')) {
    const close = target.indexOf(']');
    if (close < 0) throw new TargetSyntaxError(input, 'missing "]" after an IPv6 address');
    host = target.slice(1, close);
    const rest = target.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) throw new TargetSyntaxError(input, 'expected ":port" after "]"');
      portText = rest.slice(1);
    }
  } else if (isIP(target) === 6) {
    host = target;
  } else {
    const colon = target.lastIndexOf(':');
    if (colon >= 0) {
      host = target.slice(0, colon);
      portText = target.slice(colon + 1);
    }
  }
  const port = portText === undefined ? undefined : parsePortText(portText, input);
  if (isIP(host) !== 0) {
    if (typeof port === 'string') throw new TargetSyntaxError(input, 'an IP target needs a numeric port');
    return port === undefined ? { kind: 'address', ip: host } : { kind: 'address', ip: host, port };
  }
  const labels = host.toLowerCase().replace(/\.$/, '').split('.');
  if (labels.some((l) => l === '')) throw new TargetSyntaxError(input, 'empty DNS label');
  const zone = (options.zone ?? DEFAULT_CLUSTER_ZONE).toLowerCase().replace(/\.$/, '');
  const [name, ns, svc, ...rest] = labels as [string, ...string[]];
  if (labels.length >= 3 && svc !== 'svc')
    throw new TargetSyntaxError(input, 'not a service name (expected NAME.NAMESPACE.svc)');
  if (rest.length > 0 && rest.join('.') !== zone)
    throw new TargetSyntaxError(input, `not in the cluster zone ${JSON.stringify(zone)}`);
  const namespace = ns ?? options.namespace ?? DEFAULT_NAMESPACE;
  return port === undefined ? { kind: 'name', name, namespace } : { kind: 'name', name, namespace, port };
}

/** How a port number or name is written in messages (`80`, `"http"`). */
export function describePort(port: number | string, protocol?: Protocol): string {
  const p = typeof port === 'number' ? String(port) : JSON.stringify(port);
  return protocol ? `${p}/${protocol}` : p;
}
